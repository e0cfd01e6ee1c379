//! `Idempotency-Key` for requests that must not happen twice (checkout, multi-seat hold,
//! cancellation): the same key with the same request gets the stored answer; with another
//! request, 422; a concurrent duplicate waits for the first answer. Keys last 24 hours.
//! Only successful answers are stored: after an error the client may retry with the same key.

use std::time::Duration;

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

use crate::{
    error::{AppError, AppResult, ErrorCode, FieldProblem},
    repositories::idempotency as repo,
    state::AppState,
};

const MAX_KEY_LEN: usize = 255;
const MAX_BODY: usize = 1024 * 1024;
/// How long a duplicate waits for the first request's answer.
const WAIT: Duration = Duration::from_secs(15);

enum Begin {
    /// This request does the work.
    Owner,
    /// A finished request's answer.
    Replay(u16, Vec<u8>),
}

pub async fn idempotent(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(raw) = req.headers().get("idempotency-key") else { return next.run(req).await };
    let key = match raw.to_str().map(str::trim) {
        Ok(k) if !k.is_empty() && k.len() <= MAX_KEY_LEN => k.to_owned(),
        _ => {
            let problem = FieldProblem::Length { min: 1, max: MAX_KEY_LEN };
            return AppError::field("Idempotency-Key", problem).into_response();
        }
    };
    // Keys are per user; without a valid token the handler answers 401 anyway.
    let user = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| state.tokens.verify(t.trim()));
    let Some(user) = user else { return next.run(req).await };

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

    match begin(&state, user.user_id, &key, &hash).await {
        Err(e) => e.into_response(),
        Ok(Begin::Replay(status, body)) => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = axum::http::StatusCode::from_u16(status).unwrap_or_default();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
            response
        }
        Ok(Begin::Owner) => {
            let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
            match finish(&state, user.user_id, &key, response).await {
                Ok(response) => response,
                Err(e) => e.into_response(),
            }
        }
    }
}

async fn begin(state: &AppState, user: i64, key: &str, hash: &[u8]) -> AppResult<Begin> {
    repo::forget_stale(&mut *state.db.acquire().await?, user, key).await?;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        // A connection per round, never held while waiting: the first request needs the pool.
        {
            let mut conn = state.db.acquire().await?;
            if repo::claim(&mut conn, user, key, hash).await? {
                return Ok(Begin::Owner);
            }
            match repo::find(&mut conn, user, key).await? {
                // The first request failed and let go of the key: try to take it.
                None => continue,
                Some(row) if row.request_hash != hash => {
                    return Err(ErrorCode::IDEMPOTENCY_KEY_REUSED.into());
                }
                Some(repo::KeyRow { response_status: Some(status), response_body, .. }) => {
                    return Ok(Begin::Replay(status as u16, response_body.unwrap_or_default()));
                }
                Some(_) => {}
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ErrorCode::IDEMPOTENCY_KEY_IN_USE.into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Stores a successful answer under the key; otherwise lets go of the key.
async fn finish(state: &AppState, user: i64, key: &str, response: Response) -> AppResult<Response> {
    let mut conn = state.db.acquire().await?;
    if !response.status().is_success() {
        repo::release(&mut conn, user, key).await?;
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.map_err(|e| anyhow::anyhow!(e))?;
    repo::save_response(&mut conn, user, key, parts.status.as_u16() as i16, &bytes).await?;
    Ok(Response::from_parts(parts, Body::from(bytes)))
}
