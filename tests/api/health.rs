use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn readiness_reports_every_dependency_up() {
    let app = spawn_app().await;
    for path in ["/health/ready", "/actuator/health"] {
        let res = app.get(path, None).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["status"], "UP");
        for dep in ["db", "redis", "rabbitmq"] {
            assert_eq!(body["components"][dep]["status"], "UP", "{path} {dep}: {body}");
        }
    }
}

#[tokio::test]
async fn readiness_is_down_when_redis_is_unreachable() {
    let app = crate::helpers::spawn_app_with(&[("REDIS_URL", "redis://127.0.0.1:1")]).await;
    let res = app.get("/health/ready", None).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "DOWN");
    assert_eq!(body["components"]["redis"]["status"], "DOWN");
    assert_eq!(body["components"]["db"]["status"], "UP");
    // Liveness does not depend on anything.
    assert_eq!(app.get("/health/live", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn request_id_is_generated_or_echoed() {
    let app = spawn_app().await;
    let res = app.get("/health/live", None).await;
    let generated = res.headers().get("x-request-id").expect("x-request-id").to_str().unwrap();
    assert_eq!(generated.len(), 36, "a UUID");
    let res = app
        .client
        .get(app.url("/api/concert/999"))
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-me-123");
}

#[tokio::test]
async fn generated_request_ids_differ_and_a_hold_echoes_the_clients_own() {
    let app = spawn_app().await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..20 {
        let res = app.get("/health/live", None).await;
        let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_eq!(id.len(), 36, "the UUID layout: {id}");
        assert!(seen.insert(id), "request ids are unique");
    }
    let (_, _, seats) = app.concert_on_sale(1).await;
    let fan = app.signup().await;
    let res = app
        .client
        .post(app.url(&format!("/api/seat/{}/select", seats[0])))
        .bearer_auth(&fan.token)
        .header("x-request-id", "hold-trace-7")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-request-id"], "hold-trace-7");
}

#[tokio::test]
async fn cors_preflight_allows_the_spa() {
    let app = spawn_app().await;
    let res = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/seat/1/select"))
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization,content-type")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn cors_allows_only_listed_origins_when_configured() {
    let app =
        crate::helpers::spawn_app_with(&[("CORS_ORIGINS", "https://tickets.example.com")]).await;
    let allowed = app
        .client
        .get(app.url("/api/concert"))
        .header("origin", "https://tickets.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://tickets.example.com");
    let other = app
        .client
        .get(app.url("/api/concert"))
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn metrics_are_exported_in_prometheus_format() {
    let app = spawn_app().await;
    app.get("/api/concert", None).await;
    for path in ["/actuator/prometheus", "/metrics"] {
        let res = app.get(path, None).await;
        assert_eq!(res.status(), StatusCode::OK);
        let text = res.text().await.unwrap();
        assert!(text.contains("http_server_requests_total"), "{path}");
        assert!(text.contains(r#"route="/api/concert""#), "{path}: route template label");
    }
}
