//! The browser app (`web/`, built into `WEB_DIR`): its files at `/`, the hashed bundles under
//! `/assets/` cached for good, and `index.html` for every other page path, so that a client
//! route (`/concerts/5`) loads the app. The server's own paths never fall back to it.

use std::path::Path;

use axum::{
    Router,
    extract::Request,
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

/// Path prefixes (whole segments) that belong to the server: an unknown one is the JSON 404 of
/// the API, never the app.
const SERVER_PATHS: &[&str] = &[
    "/api",
    "/actuator",
    "/health",
    "/metrics",
    "/swagger-ui",
    "/swagger-ui.html",
    "/v3",
    "/simulator",
];

/// Vite names every file under `assets/` by its content hash: a changed file is a new URL.
const HASHED: &str = "/assets/";
const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
/// `index.html` names the current bundles, so browsers revalidate it on every load.
const NO_CACHE: HeaderValue = HeaderValue::from_static("no-cache");

/// Serves the app from `dir` behind `router`'s routes when `dir` holds an `index.html`;
/// otherwise warns once and serves nothing more (unknown paths stay 404).
pub fn serve(router: Router, dir: &Path) -> Router {
    let index = dir.join("index.html");
    if !index.is_file() {
        tracing::warn!(
            web_dir = %dir.display(),
            "WEB_DIR has no index.html: serving the API only (build the app with `npm run build` in web/)"
        );
        return router.fallback(|| async { StatusCode::NOT_FOUND });
    }
    tracing::info!(web_dir = %dir.display(), "serving the browser app at /");
    let files = AppFiles {
        assets: ServeDir::new(dir),
        pages: ServeDir::new(dir).fallback(ServeFile::new(index)),
    };
    router.fallback(move |req: Request| files.clone().answer(req))
}

#[derive(Clone)]
struct AppFiles {
    /// Hashed bundles: a missing one is a 404, not the page (a stale page asking for an old
    /// bundle must fail loudly, not get HTML as JavaScript).
    assets: ServeDir,
    /// Everything else, with `index.html` for what is not a file.
    pages: ServeDir<ServeFile>,
}

impl AppFiles {
    async fn answer(self, req: Request) -> Response {
        let path = req.uri().path();
        if !matches!(*req.method(), Method::GET | Method::HEAD) || is_server_path(path) {
            return StatusCode::NOT_FOUND.into_response();
        }
        let hashed = path.starts_with(HASHED);
        let mut response = if hashed {
            self.assets.oneshot(req).await.into_response()
        } else {
            self.pages.oneshot(req).await.into_response()
        };
        let status = response.status();
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            let policy = if hashed { IMMUTABLE } else { NO_CACHE };
            response.headers_mut().insert(header::CACHE_CONTROL, policy);
        }
        response
    }
}

fn is_server_path(path: &str) -> bool {
    SERVER_PATHS.iter().any(|prefix| {
        path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_paths_are_whole_segments() {
        for path in ["/api", "/api/nope", "/v3/api-docs", "/swagger-ui.html", "/swagger-ui/x"] {
            assert!(is_server_path(path), "{path}");
        }
        for path in ["/", "/apiary", "/concerts/5", "/healthy", "/admin/reservations"] {
            assert!(!is_server_path(path), "{path}");
        }
    }
}
