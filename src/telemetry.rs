//! Logs (readable in dev, one JSON object per line in prod), request spans with the request
//! id, and the Prometheus recorder.

use std::{sync::OnceLock, time::Instant};

use axum::{
    extract::{MatchedPath, Request},
    middleware::Next,
    response::Response,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing::Span;
use tracing_subscriber::{EnvFilter, layer::SubscriberExt, util::SubscriberInitExt};

use crate::config::Profile;

/// Installs the global log subscriber; `RUST_LOG` filters (default `info`).
pub fn init_subscriber(profile: Profile) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match profile {
        Profile::Prod => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
        Profile::Dev => registry.with(tracing_subscriber::fmt::layer().compact()).try_init(),
    };
    // A second call (tests) keeps the first subscriber.
    let _ = result;
}

/// The process-wide Prometheus recorder (installed once, shared by every `Application` of a
/// process, which only tests have).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("_seconds".into()),
                    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0],
                )
                .expect("valid buckets")
                .install_recorder()
                .expect("no other metrics recorder is installed")
        })
        .clone()
}

/// The span every log line of a request carries.
pub fn request_span(req: &Request) -> Span {
    let request_id =
        req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |m| m.as_str());
    tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %req.method(),
        route = %route,
        user.id = tracing::field::Empty,
    )
}

/// Counts requests and their latency by route template, method and status.
pub async fn track_http(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = req.method().to_string();
    let response = next.run(req).await;
    let labels =
        [("route", route), ("method", method), ("status", response.status().as_u16().to_string())];
    metrics::counter!("http_server_requests_total", &labels).increment(1);
    metrics::histogram!("http_server_request_duration_seconds", &labels)
        .record(start.elapsed().as_secs_f64());
    response
}
