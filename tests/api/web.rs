//! The browser app served by the binary from `WEB_DIR`: files, the `index.html` fallback for
//! client routes, cache headers, and the server's own paths left as they were.

use std::path::PathBuf;

use reqwest::{Method, Response, StatusCode, header};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

const INDEX: &str = "<!doctype html><html lang=\"ko\"><title>Ticketing</title><div id=\"root\"></div><script type=\"module\" src=\"/assets/app-abc123.js\"></script></html>";
const BUNDLE: &str = "document.getElementById('root').textContent = 'hello';";

/// A built app in a temporary directory, removed again on drop.
struct WebDir(PathBuf);

impl WebDir {
    fn new() -> WebDir {
        let dir = std::env::temp_dir().join(format!("ticketing-web-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(dir.join("assets")).unwrap();
        std::fs::write(dir.join("index.html"), INDEX).unwrap();
        std::fs::write(dir.join("assets/app-abc123.js"), BUNDLE).unwrap();
        WebDir(dir)
    }
}

impl Drop for WebDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn spawn_app_serving(web: &WebDir) -> TestApp {
    spawn_app_with(&[("WEB_DIR", web.0.to_str().unwrap())]).await
}

fn header_of(res: &Response, name: header::HeaderName) -> &str {
    res.headers().get(&name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

async fn assert_index_html(res: Response) {
    assert_eq!(res.status(), StatusCode::OK);
    assert!(header_of(&res, header::CONTENT_TYPE).starts_with("text/html"));
    assert_eq!(header_of(&res, header::CACHE_CONTROL), "no-cache");
    assert_eq!(res.text().await.unwrap(), INDEX);
}

async fn assert_json_404(res: Response) {
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(header_of(&res, header::CONTENT_TYPE).starts_with("application/json"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], 404);
    assert_eq!(body["code"], "NOT_FOUND");
}

#[tokio::test]
async fn the_root_and_client_routes_serve_index_html_revalidated_on_every_load() {
    let web = WebDir::new();
    let app = spawn_app_serving(&web).await;

    assert_index_html(app.get("/", None).await).await;
    assert_index_html(app.get("/index.html", None).await).await;
    for client_route in ["/concerts", "/concerts/5", "/admin/reservations", "/apiary"] {
        assert_index_html(app.get(client_route, None).await).await;
    }

    let head = app.request(Method::HEAD, "/", None, None).await;
    assert_eq!(head.status(), StatusCode::OK);
    assert!(header_of(&head, header::CONTENT_TYPE).starts_with("text/html"));
    assert_eq!(header_of(&head, header::CACHE_CONTROL), "no-cache");
    assert!(head.text().await.unwrap().is_empty());
    let head = app.request(Method::HEAD, "/concerts/5", None, None).await;
    assert_eq!(head.status(), StatusCode::OK);

    // Only reads fall back to the page.
    assert_json_404(app.request(Method::POST, "/concerts/5", None, None).await).await;
}

#[tokio::test]
async fn hashed_assets_are_cached_for_a_year_with_their_content_type() {
    let web = WebDir::new();
    let app = spawn_app_serving(&web).await;

    let res = app.get("/assets/app-abc123.js", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(header_of(&res, header::CONTENT_TYPE).starts_with("text/javascript"));
    assert_eq!(header_of(&res, header::CACHE_CONTROL), "public, max-age=31536000, immutable");
    assert_eq!(res.text().await.unwrap(), BUNDLE);

    // A bundle that is not there (an old page asking for a replaced one) is a 404, not HTML.
    let missing = app.get("/assets/app-old999.js", None).await;
    assert!(header_of(&missing, header::CACHE_CONTROL).is_empty());
    assert_json_404(missing).await;
}

#[tokio::test]
async fn the_server_paths_answer_as_before_when_the_app_is_served() {
    let web = WebDir::new();
    let app = spawn_app_serving(&web).await;

    for path in ["/api/nope", "/api", "/actuator/nope", "/health/nope", "/v3/nope", "/simulator/x"]
    {
        assert_json_404(app.get(path, None).await).await;
    }
    assert_eq!(app.get("/api/concert", None).await.status(), StatusCode::OK);
    assert_eq!(app.get("/health/live", None).await.status(), StatusCode::OK);
    assert_eq!(app.get("/actuator/prometheus", None).await.status(), StatusCode::OK);
    assert_eq!(app.get("/metrics", None).await.status(), StatusCode::OK);

    let docs = app.get("/v3/api-docs", None).await;
    assert_eq!(docs.status(), StatusCode::OK);
    assert_eq!(docs.json::<Value>().await.unwrap()["info"]["title"], "Ticketing API");

    let swagger = app.get("/swagger-ui.html", None).await;
    assert_eq!(swagger.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(header_of(&swagger, header::LOCATION), "/swagger-ui/");
    let page = app.get("/swagger-ui/", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("swagger"), "Swagger UI, not the app");

    // A route's wrong method is still a 405, not the page.
    let wrong = app.request(Method::PATCH, "/api/concert", None, None).await;
    assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn without_a_built_app_the_root_is_a_404_and_the_api_works() {
    let app = spawn_app().await;

    assert_json_404(app.get("/", None).await).await;
    assert_json_404(app.get("/concerts/5", None).await).await;
    assert_eq!(app.get("/api/concert", None).await.status(), StatusCode::OK);
    assert_eq!(app.get("/v3/api-docs", None).await.status(), StatusCode::OK);
}
