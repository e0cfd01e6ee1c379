//! `Idempotency-Key` for requests that must not happen twice (checkout, multi-seat hold,
//! cancellation): the same key with the same request gets the stored answer; with another
//! request, 422; a concurrent duplicate waits for the first answer. Keys last 24 hours.
//! Only successful answers are stored: after an error the client may retry with the same key.

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

use super::extract::authenticate;
use crate::{
    error::{AppError, AppResult, ErrorCode, FieldProblem},
    services::idempotency::{Begin, KeyedRequest},
    state::AppState,
};

const MAX_KEY_LEN: usize = 255;
const MAX_BODY: usize = 1024 * 1024;

pub async fn idempotent(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(raw) = req.headers().get("idempotency-key") else { return next.run(req).await };
    // Keys are per user; without a valid token the handler answers 401 (before anything else).
    let Ok(user) = authenticate(&state, req.headers()) else { return next.run(req).await };
    let key = match raw.to_str().map(str::trim) {
        Ok(k) if !k.is_empty() && k.len() <= MAX_KEY_LEN => k.to_owned(),
        _ => {
            let problem = FieldProblem::Length { min: 1, max: MAX_KEY_LEN };
            return AppError::field("Idempotency-Key", problem).into_response();
        }
    };

    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return AppError::Rejected(ErrorCode::PAYLOAD_TOO_LARGE).into_response();
    };
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str());
    hasher.update(b" ");
    hasher.update(parts.uri.path());
    hasher.update(b"\n");
    hasher.update(&bytes);
    let hash = hasher.finalize().to_vec();

    let keyed = KeyedRequest { user: user.user_id, key: &key, hash: &hash };
    match state.idempotency.begin(keyed).await {
        Err(e) => e.into_response(),
        Ok(Begin::Replay { status, body }) => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = axum::http::StatusCode::from_u16(status).unwrap_or_default();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
            response
        }
        Ok(Begin::Owner) => {
            let mut parts = parts;
            // The handler's `AuthUser` takes the principal verified here: one token check.
            parts.extensions.insert(user);
            let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
            match finish(&state, user.user_id, &key, response).await {
                Ok(response) => response,
                Err(e) => e.into_response(),
            }
        }
    }
}

/// Stores a successful answer under the key; otherwise lets go of the key.
async fn finish(state: &AppState, user: i64, key: &str, response: Response) -> AppResult<Response> {
    if !response.status().is_success() {
        state.idempotency.release(user, key).await?;
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.map_err(|e| anyhow::anyhow!(e))?;
    state.idempotency.save(user, key, parts.status.as_u16(), &bytes).await?;
    Ok(Response::from_parts(parts, Body::from(bytes)))
}
