//! Answers rendered once and shared, sent with their `ETag`; `If-None-Match` gets 304.

use axum::{
    http::{
        HeaderMap, StatusCode,
        header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH},
    },
    response::{IntoResponse, Response},
};

use crate::services::catalog::Rendered;

/// Answers change with every hold: caches must ask every time (a 304 costs nothing).
pub const REVALIDATE: &str = "no-cache";

/// A rendered JSON answer with its `ETag`, or 304 when `If-None-Match` names it.
pub fn conditional(rendered: &Rendered, headers: &HeaderMap, cache_control: &str) -> Response {
    let fresh = headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag == rendered.etag || tag.strip_prefix("W/") == Some(&rendered.etag)
        });
    let cache = [(ETAG, rendered.etag.clone()), (CACHE_CONTROL, cache_control.to_owned())];
    if fresh {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    let json = [(CONTENT_TYPE, "application/json".to_owned())];
    (cache, json, rendered.body.clone()).into_response()
}
