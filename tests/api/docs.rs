use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::spawn_app;

/// Every endpoint of SPEC §6.2 that exists so far, plus health and metrics.
const ENDPOINTS: &[(&str, &str)] = &[
    ("post", "/api/user/signup"),
    ("post", "/api/user/login"),
    ("post", "/api/user/refresh"),
    ("post", "/api/user/logout"),
    ("get", "/api/user/me"),
    ("post", "/api/concert"),
    ("get", "/api/concert"),
    ("get", "/api/concert/{id}"),
    ("put", "/api/concert/{id}"),
    ("delete", "/api/concert/{id}"),
    ("post", "/api/seat/batch"),
    ("get", "/api/seat/concert/{concertId}"),
    ("get", "/api/seat/concert/{concertId}/seat-map"),
    ("get", "/api/seat/concert/{concertId}/layout"),
    ("get", "/api/seat/concert/{concertId}/seats"),
    ("get", "/api/seat/{id}"),
    ("put", "/api/seat/{id}"),
    ("delete", "/api/seat/{id}"),
    ("post", "/api/seat/{id}/select"),
    ("delete", "/api/seat/{id}/select"),
    ("post", "/api/seat/select"),
    ("post", "/api/payment"),
    ("post", "/api/payment/webhook"),
    ("get", "/api/payment/{transactionId}"),
    ("post", "/api/queue"),
    ("get", "/api/queue/{concertId}/status"),
    ("get", "/api/queue/{concertId}/stream"),
    ("post", "/api/queue/{concertId}/stream-ticket"),
    ("get", "/api/waitlist/my/events"),
    ("post", "/api/waitlist/my/stream-ticket"),
    ("delete", "/api/queue/{concertId}"),
    ("get", "/api/reservations/my"),
    ("get", "/api/reservations/{reservationId}"),
    ("post", "/api/reservations/cancel"),
    ("get", "/api/reservations/admin/all"),
    ("get", "/api/reservations/admin/concert/{concertId}"),
    ("get", "/actuator/health"),
    ("get", "/health/live"),
    ("get", "/health/ready"),
    ("get", "/actuator/prometheus"),
];

#[tokio::test]
async fn openapi_documents_every_endpoint_with_errors_and_bearer_auth() {
    let app = spawn_app().await;
    let res = app.get("/v3/api-docs", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for (method, path) in ENDPOINTS {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is documented");
        assert!(
            op["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path} responses"
        );
        assert!(
            op["summary"].is_string() || op["description"].is_string(),
            "{method} {path} says what it does"
        );
    }
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    // Endpoints that need a token say so; error responses use the shared body.
    assert!(doc["paths"]["/api/concert"]["post"]["security"].is_array());
    let conflict = &doc["paths"]["/api/user/signup"]["post"]["responses"]["409"];
    assert_eq!(
        conflict["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorBody"
    );
    // Every error code is listed.
    let codes =
        doc["components"]["schemas"]["ErrorCode"]["enum"].as_array().expect("ErrorCode enum");
    for code in ticketing::error::ErrorCode::ALL {
        assert!(codes.iter().any(|c| c == code.as_str()), "{code:?} is documented");
    }
    assert_eq!(codes.len(), ticketing::error::ErrorCode::ALL.len());
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary() {
    let app = spawn_app().await;
    let res = app.get("/swagger-ui.html", None).await;
    assert!(res.status().is_redirection());
    assert_eq!(res.headers()["location"], "/swagger-ui/");
    let res = app.get("/swagger-ui/", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("swagger-ui"));
    let init = app.get("/swagger-ui/swagger-initializer.js", None).await;
    assert_eq!(init.status(), StatusCode::OK);
    assert!(init.text().await.unwrap().contains("/v3/api-docs"), "the UI loads our document");
    let bundle = app.get("/swagger-ui/swagger-ui-bundle.js", None).await;
    assert_eq!(bundle.status(), StatusCode::OK);
    assert!(bundle.bytes().await.unwrap().len() > 100_000, "the UI's code is embedded");
}

/// The contract lives in `docs/openapi.json`: a change to the served document must show up
/// there, in review. `UPDATE_OPENAPI=1 cargo test --test api docs::` rewrites the file.
#[tokio::test]
async fn the_served_document_is_the_committed_one() {
    let app = spawn_app().await;
    let served: Value = app.get("/v3/api-docs", None).await.json().await.unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        let text = serde_json::to_string_pretty(&served).unwrap() + "\n";
        std::fs::write(&path, text).unwrap();
    }
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("docs/openapi.json")).unwrap();
    let mut differences = Vec::new();
    json_differences("", &served, &committed, &mut differences);
    assert!(
        differences.is_empty(),
        "the served OpenAPI document differs from docs/openapi.json at {differences:?}; if the \
         change is meant, run `UPDATE_OPENAPI=1 cargo test --test api docs::` and commit the file"
    );
}

/// The JSON pointers where two documents differ (at most 20).
fn json_differences(at: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    if out.len() >= 20 || a == b {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let (l, r) =
                    (x.get(key).unwrap_or(&Value::Null), y.get(key).unwrap_or(&Value::Null));
                json_differences(&format!("{at}/{key}"), l, r, out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (l, r)) in x.iter().zip(y).enumerate() {
                json_differences(&format!("{at}/{i}"), l, r, out);
            }
        }
        _ => out.push(format!("{at}: served {a}, committed {b}")),
    }
}
