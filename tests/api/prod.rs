//! The prod profile's exposure: metrics on their own listener (`METRICS_ADDR`) and nowhere
//! else, the API docs switched off (`API_DOCS`).

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{error_body, spawn_app, spawn_app_with};

/// What prod requires, valid; the broker is not reachable with these credentials (the service
/// starts without it).
const PROD: &[(&str, &str)] = &[
    ("APP_PROFILE", "prod"),
    ("JWT_SECRET", "a-production-secret-of-sufficient-length-42"),
    (
        "TICKET_KEY_ENCRYPTION_KEY",
        "3f1c9a7e5b2d4806f1e3c5a7b9d0e2f41a3c5e7f9b1d3f5a7c9e1b3d5f7a9c0e",
    ),
    ("PAYMENT_WEBHOOK_SECRETS", "whsec_test_0123456789abcdef0123456789"),
    ("ADMIN_EMAIL", "ops@example.com"),
    ("ADMIN_PASSWORD", "ops-admin-password"),
    ("SMTP_URL", "smtp://127.0.0.1:2525"),
    ("AMQP_URL", "amqp://ticketing:not-a-real-password@127.0.0.1:5672/%2f"),
];

async fn get(url: &str) -> reqwest::Response {
    reqwest::Client::builder().no_proxy().build().unwrap().get(url).send().await.unwrap()
}

#[tokio::test]
async fn with_metrics_addr_metrics_are_served_there_and_not_on_the_main_port() {
    let app = spawn_app_with(&[("METRICS_ADDR", "127.0.0.1:0")]).await;
    app.get("/api/concert", None).await;
    let metrics = app.metrics_address.clone().expect("a metrics listener");
    for path in ["/metrics", "/actuator/prometheus"] {
        let res = get(&format!("{metrics}{path}")).await;
        assert_eq!(res.status(), StatusCode::OK, "{path} on METRICS_ADDR");
        let text = res.text().await.unwrap();
        assert!(text.contains(r#"route="/api/concert""#), "{path}: the app's metrics");
        error_body(app.get(path, None).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    }
    // The metrics listener serves nothing else.
    assert_eq!(get(&format!("{metrics}/api/concert")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(get(&format!("{metrics}/v3/api-docs")).await.status(), StatusCode::NOT_FOUND);
    // And the public document does not promise them.
    let doc: Value = app.get("/v3/api-docs", None).await.json().await.unwrap();
    assert!(doc["paths"]["/actuator/prometheus"].is_null(), "not in the document");
}

#[tokio::test]
async fn with_api_docs_off_the_document_and_swagger_ui_answer_404() {
    let app = spawn_app_with(&[("API_DOCS", "off")]).await;
    for path in ["/v3/api-docs", "/swagger-ui", "/swagger-ui/", "/swagger-ui.html"] {
        error_body(app.get(path, None).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    }
    assert_eq!(app.get("/api/concert", None).await.status(), StatusCode::OK, "the API still is");
    // Dev serves them by default.
    let dev = spawn_app().await;
    assert_eq!(dev.get("/v3/api-docs", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn prod_serves_neither_metrics_nor_docs_on_the_public_port() {
    let app = spawn_app_with(PROD).await;
    assert!(app.state.settings.is_prod());
    assert_eq!(app.get("/health/live", None).await.status(), StatusCode::OK);
    for path in
        ["/metrics", "/actuator/prometheus", "/v3/api-docs", "/swagger-ui/", "/swagger-ui.html"]
    {
        error_body(app.get(path, None).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    }
    assert!(app.metrics_address.is_none());

    // With METRICS_ADDR, prod serves them there; API_DOCS=on turns the docs back on.
    let mut vars = PROD.to_vec();
    vars.extend([("METRICS_ADDR", "127.0.0.1:0"), ("API_DOCS", "on")]);
    let app = spawn_app_with(&vars).await;
    let metrics = app.metrics_address.clone().expect("a metrics listener");
    assert_eq!(get(&format!("{metrics}/metrics")).await.status(), StatusCode::OK);
    error_body(app.get("/metrics", None).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert_eq!(app.get("/v3/api-docs", None).await.status(), StatusCode::OK);
}
