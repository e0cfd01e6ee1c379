//! `/api/queue`: the waiting room — join, status, live stream (SSE) and its tickets, leave.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode, header::CACHE_CONTROL},
    response::{
        IntoResponse,
        sse::{Event, KeepAlive, Sse},
    },
};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    challenges::ChallengeProof,
    extract::{
        AdminUser, AppJson, AppPath, AppQuery, AuthUser, Language, authenticate, bearer_token,
    },
};
use crate::{
    domain::{check::Check, queue::Joined, time::serialize_kst},
    error::{AppResult, ErrorBody, ErrorCode, Lang},
    services::queue::{JoinResult, Place},
    state::AppState,
};

const TAG: &str = "queue";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueRequest {
    #[schema(required = true, value_type = i64, example = 1)]
    #[serde(default, deserialize_with = "super::extract::integer::option")]
    pub concert_id: Option<i64>,
}

/// The original's `QueueRegisterResponse`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueRegisterResponse {
    pub concert_id: i64,
    pub user_id: i64,
    /// 1-based place in line; 0 when admitted or when the concert has no waiting room.
    pub position: u64,
    /// True when this call put the user in line (false when already in it, admitted, or no queue).
    pub register: bool,
    pub message: String,
    /// People in line.
    pub total_queue: u64,
    /// Seconds to admission at the measured rate; null until a rate is measured.
    pub estimated_wait_time: Option<u64>,
}

/// One user's place: the body of `status` and of every stream event.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueStatusResponse {
    pub concert_id: i64,
    pub user_id: i64,
    /// 1-based place in line; 0 once admitted.
    pub position: u64,
    pub total_queue: u64,
    /// Seconds to admission at the measured admission rate (null until measured; 0 when admitted).
    pub estimated_wait_time: Option<u64>,
    /// True exactly while the user is admitted (may hold seats and check out).
    pub can_enter: bool,
    #[serde(serialize_with = "serialize_kst")]
    pub timestamp: DateTime<Utc>,
    /// When the admission began (ms since the epoch), once admitted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admitted_at: Option<i64>,
}

fn status_body(concert: i64, user: i64, p: Place) -> QueueStatusResponse {
    QueueStatusResponse {
        concert_id: concert,
        user_id: user,
        position: p.position,
        total_queue: p.total,
        estimated_wait_time: p.estimated_wait_secs,
        can_enter: p.admitted,
        timestamp: Utc::now(),
        admitted_at: p.admitted_at_ms,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct QueuePath {
    /// Concert id.
    #[serde(rename = "concertId")]
    #[param(rename = "concertId")]
    pub concert_id: i64,
}

/// Join a concert's waiting room (idempotent: again → the current place, `register: false`).
/// When the concert's `challengeDifficulty` is above 0, a fan not yet in line sends a solved
/// challenge (`POST /api/challenge` with purpose `QUEUE`) in `X-Challenge`.
#[utoipa::path(post, path = "/api/queue", tag = TAG, request_body = QueueRequest,
    params(ChallengeProof),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "In line, admitted, or no waiting room (see `register` and `message`)", body = QueueRegisterResponse),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "`CHALLENGE_INVALID` or `CHALLENGE_EXPIRED`: the bot check's answer was refused; get a new challenge", body = ErrorBody),
        (status = 404, description = "`CONCERT_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`CHALLENGE_ALREADY_USED`", body = ErrorBody),
        (status = 422, description = "`SALE_CLOSED`", body = ErrorBody),
        (status = 428, description = "`CHALLENGE_REQUIRED`: the concert asks for a bot check and `X-Challenge` is missing", body = ErrorBody),
    ))]
pub async fn join_queue(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Language(lang): Language,
    proof: ChallengeProof,
    AppJson(req): AppJson<QueueRequest>,
) -> AppResult<AppJson<QueueRegisterResponse>> {
    let mut check = Check::new();
    let concert_id = check.required("concertId", req.concert_id);
    let concert_id = check.build(|| concert_id)?;
    let joined = state.waiting_room.join(concert_id, user.user_id, proof.as_deref()).await?;
    let ko = lang == Lang::Ko;
    let (position, register, total, wait, message) = match joined {
        JoinResult::NoQueue => (
            0,
            false,
            0,
            Some(0),
            if ko {
                "대기열 없이 바로 예매할 수 있습니다. 좌석을 선택해주세요.".to_owned()
            } else {
                "Seats are available without waiting: pick your seats.".to_owned()
            },
        ),
        JoinResult::Joined { joined: Joined::Active { total }, .. } => (
            0,
            false,
            total,
            Some(0),
            if ko {
                "입장 순서가 되었습니다. 좌석을 선택해주세요.".to_owned()
            } else {
                "It is your turn: pick your seats.".to_owned()
            },
        ),
        JoinResult::Joined {
            joined: Joined::Waiting { position, total },
            estimated_wait_secs: wait,
        } => (
            position,
            false,
            total,
            wait,
            if ko {
                format!("이미 대기열에 등록되어 있습니다. 현재 순번: {position}")
            } else {
                format!("You are already in line, at position {position}.")
            },
        ),
        JoinResult::Joined {
            joined: Joined::New { position, total },
            estimated_wait_secs: wait,
        } => (
            position,
            true,
            total,
            wait,
            if ko {
                format!("대기열에 등록되었습니다. 현재 순번: {position}")
            } else {
                format!("You are in line, at position {position}.")
            },
        ),
    };
    Ok(AppJson(QueueRegisterResponse {
        concert_id,
        user_id: user.user_id,
        position,
        register,
        message,
        total_queue: total,
        estimated_wait_time: wait,
    }))
}

/// The caller's place in line (the same data as one stream event).
#[utoipa::path(get, path = "/api/queue/{concertId}/status", tag = TAG, params(QueuePath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's place (a concert without a waiting room: position 0, `canEnter` true)", body = QueueStatusResponse),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "`QUEUE_NOT_JOINED`", body = ErrorBody),
    ))]
pub async fn get_queue_status(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppPath(QueuePath { concert_id }): AppPath<QueuePath>,
) -> AppResult<AppJson<QueueStatusResponse>> {
    let place = state.waiting_room.place(concert_id, user.user_id).await?;
    Ok(AppJson(status_body(concert_id, user.user_id, place)))
}

/// A concert's waiting room in numbers, for organisers.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueStatsResponse {
    pub concert_id: i64,
    /// Fans in line.
    pub waiting: u64,
    /// Fans admitted right now (may hold seats and check out).
    pub admitted: u64,
    /// Fans admitted since the line opened.
    pub admitted_total: u64,
    /// Admissions per second over the last 30 s, as this instance measured them (null until
    /// measured).
    pub admissions_per_second: Option<f64>,
}

/// The concert's line in numbers (admin): waiting, admitted now and so far, and the rate.
#[utoipa::path(get, path = "/api/queue/{concertId}/stats", tag = TAG, params(QueuePath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The line in numbers (zeros for a concert without a waiting room)", body = QueueStatsResponse),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "`CONCERT_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn get_queue_stats(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(QueuePath { concert_id }): AppPath<QueuePath>,
) -> AppResult<AppJson<QueueStatsResponse>> {
    let (stats, rate) = state.waiting_room.stats(concert_id).await?;
    Ok(AppJson(QueueStatsResponse {
        concert_id,
        waiting: stats.waiting,
        admitted: stats.active,
        admitted_total: stats.admitted_total,
        admissions_per_second: rate,
    }))
}

/// Leave the line (or give up an admission).
#[utoipa::path(delete, path = "/api/queue/{concertId}", tag = TAG, params(QueuePath),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Left"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "`QUEUE_NOT_JOINED`", body = ErrorBody),
    ))]
pub async fn leave_queue(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppPath(QueuePath { concert_id }): AppPath<QueuePath>,
) -> AppResult<StatusCode> {
    state.waiting_room.leave(concert_id, user.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A stream ticket: what `EventSource` puts in the stream's URL instead of the access token.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StreamTicketResponse {
    /// Opens the stream it was issued for (this concert's waiting room, or the user's
    /// waitlist), for this user only (`?ticket=`); good for `expiresIn` seconds and may be used again within them (the browser reconnects with the same URL).
    /// It is not an access token.
    pub ticket: String,
    /// Seconds the ticket is good for.
    pub expires_in: u64,
}

/// A short-lived ticket for the caller's stream of this concert (`EventSource` cannot send
/// an `Authorization` header, and URLs end up in proxy logs). Ask for a new one whenever the
/// app opens the stream itself; only for a fan in line, admitted, or at a concert without a
/// waiting room.
#[utoipa::path(post, path = "/api/queue/{concertId}/stream-ticket", tag = TAG, params(QueuePath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The ticket", body = StreamTicketResponse,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "`QUEUE_NOT_JOINED`", body = ErrorBody),
    ))]
pub async fn create_stream_ticket(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppPath(QueuePath { concert_id }): AppPath<QueuePath>,
) -> AppResult<impl IntoResponse> {
    let (ticket, ttl) = state.waiting_room.issue_stream_ticket(concert_id, user.user_id).await?;
    let body = StreamTicketResponse { ticket, expires_in: ttl.as_secs() };
    Ok(([(CACHE_CONTROL, "no-store")], AppJson(body)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// A stream ticket from `POST /api/queue/{concertId}/stream-ticket`, for `EventSource`
    /// (an access token is not accepted here).
    pub ticket: Option<String>,
}

/// Live place in line (Server-Sent Events): `queue-update` when the place changes (at most once
/// per tick), then `queue-complete` when admitted, after which the stream ends; `queue-left` if
/// the user left or lost the place. Heartbeat comments every 15 s. Auth by `Authorization:
/// Bearer` or, for `EventSource`, a stream ticket in `?ticket=` (never the access token).
/// Capped per user (`QUEUE_STREAM_MAX_PER_USER`, 429) and per instance (`QUEUE_STREAM_MAX`,
/// 503).
#[utoipa::path(get, path = "/api/queue/{concertId}/stream", tag = TAG,
    params(QueuePath, StreamQuery),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "An event stream of `QueueStatusResponse` data", content_type = "text/event-stream", body = QueueStatusResponse),
        (status = 401, description = "`UNAUTHORIZED` (no bearer token, no ticket), `INVALID_TOKEN`, or `INVALID_STREAM_TICKET` (forged, expired, or for another concert)", body = ErrorBody),
        (status = 404, description = "`QUEUE_NOT_JOINED`", body = ErrorBody),
        (status = 429, description = "`TOO_MANY_STREAMS`: this user has too many streams open here", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`STREAM_CAPACITY_REACHED`: this instance has as many streams as it takes; or `SERVICE_UNAVAILABLE`: a dependency is down", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn stream_queue(
    State(state): State<AppState>,
    AppPath(QueuePath { concert_id }): AppPath<QueuePath>,
    AppQuery(StreamQuery { ticket }): AppQuery<StreamQuery>,
    headers: HeaderMap,
) -> AppResult<impl IntoResponse> {
    let user = match (bearer_token(&headers), ticket) {
        (Some(_), _) => authenticate(&state, &headers)?.user_id,
        (None, Some(ticket)) => {
            let user = state
                .waiting_room
                .redeem_stream_ticket(&ticket, concert_id)
                .ok_or(ErrorCode::INVALID_STREAM_TICKET)?;
            tracing::Span::current().record("user.id", user);
            user
        }
        (None, None) => return Err(ErrorCode::UNAUTHORIZED.into()),
    };
    let (first, watch) = state.waiting_room.open_stream(concert_id, user).await?;
    let shutdown = state.waiting_room.shutdown();

    let initial = event_for(concert_id, user, first);
    let done = first.admitted;
    let updates = futures::stream::unfold(
        (watch, Some((first.position, first.total)), done),
        move |(mut watch, mut last, done)| async move {
            if done {
                return None;
            }
            loop {
                watch.rx.changed().await.ok()?;
                let view = watch.rx.borrow_and_update().clone();
                match view.place(user) {
                    None => {
                        let left = Event::default().event("queue-left").data(format!(
                            r#"{{"concertId":{concert_id},"userId":{user},"canEnter":false}}"#
                        ));
                        return Some((left, (watch, last, true)));
                    }
                    Some(p) if p.admitted => {
                        return Some((event_for(concert_id, user, p), (watch, last, true)));
                    }
                    Some(p) if last != Some((p.position, p.total)) => {
                        last = Some((p.position, p.total));
                        return Some((event_for(concert_id, user, p), (watch, last, false)));
                    }
                    Some(_) => {}
                }
            }
        },
    );
    // A shutdown ends the stream with a `retry:` hint (see `availability::ending_hint`).
    let hint = super::availability::ending_hint(shutdown.clone(), || {
        Event::default()
            .comment("server shutting down; reconnect")
            .retry(super::availability::reconnect_delay())
    });
    let stream = futures::stream::once(async move { initial })
        .chain(updates)
        .take_until(shutdown.cancelled_owned())
        .chain(hint)
        .map(Ok::<_, Infallible>);
    let sse = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)).text("heartbeat"));
    let (name, value) = super::availability::NO_PROXY_BUFFERING;
    Ok(([(name, value)], sse))
}

fn event_for(concert: i64, user: i64, place: Place) -> Event {
    let name = if place.admitted { "queue-complete" } else { "queue-update" };
    let body = status_body(concert, user, place);
    Event::default().event(name).data(serde_json::to_string(&body).unwrap_or_default())
}
