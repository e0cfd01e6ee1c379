//! `/api/concert/{id}/waitlist` and `/api/waitlist`: the waitlist after sell-out (issue 18),
//! and the fan's live waitlist events (SSE).

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
    availability::{NO_PROXY_BUFFERING, ending_hint, reconnect_delay},
    extract::{AdminUser, AppJson, AppPath, AppQuery, AuthUser, authenticate, bearer_token},
    queue::StreamTicketResponse,
};
use crate::{
    domain::{check::Check, seat, time::serialize_kst},
    error::{AppResult, ErrorBody, ErrorCode, FieldProblem},
    services::{
        waitlist::{Entry, Waitlist},
        waitlist_stream::{self, Next, WaitlistOfferEvent, WaitlistStreamEvent},
    },
    state::AppState,
};

const TAG: &str = "waitlist";

fn waitlist(state: &AppState) -> Waitlist<'_> {
    Waitlist {
        db: &state.db,
        holds: &state.holds,
        availability: &state.availability,
        max_seats_per_user: state.settings.max_seats_per_user,
        offer_ttl: state.settings.waitlist_offer_ttl,
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JoinWaitlistRequest {
    /// Seats wanted, `1..=MAX_SEATS_PER_USER` (less what the fan already holds or owns).
    #[schema(required = true, value_type = i64, example = 2)]
    #[serde(default, deserialize_with = "super::extract::integer::option")]
    pub quantity: Option<i64>,
    /// Only seats of this grade (any grade when absent).
    #[schema(example = "VIP")]
    pub grade: Option<String>,
}

/// A waitlist entry.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WaitlistEntryResponse {
    pub id: i64,
    pub concert_id: i64,
    /// Place among the concert's waiting entries, from 1 (0 once no longer waiting).
    pub position: i64,
    pub quantity: i32,
    pub grade: Option<String>,
    /// `WAITING`, `OFFERED`, `PURCHASED`, `EXPIRED` or `CANCELLED`.
    pub status: String,
    /// When an offer's hold ends (an `OFFERED` entry only).
    #[serde(serialize_with = "crate::domain::time::serialize_kst_opt")]
    #[schema(value_type = Option<String>)]
    pub offer_expires_at: Option<DateTime<Utc>>,
    /// The seats of the offer, held in the fan's name until `offerExpiresAt`: checked out
    /// with `POST /api/payment` (empty before an offer).
    pub offered_seat_ids: Vec<i64>,
    #[serde(serialize_with = "serialize_kst")]
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
}

/// An admin's view of an entry: the fan too.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminWaitlistEntryResponse {
    pub user_id: i64,
    #[serde(flatten)]
    pub entry: WaitlistEntryResponse,
}

impl From<Entry> for WaitlistEntryResponse {
    fn from(e: Entry) -> Self {
        WaitlistEntryResponse {
            id: e.id,
            concert_id: e.concert_id,
            position: e.position,
            quantity: e.quantity,
            grade: e.grade,
            status: e.status,
            offer_expires_at: e.offer_expires_at,
            offered_seat_ids: e.offered_seat_ids,
            created_at: e.created_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ConcertPath {
    /// Concert id.
    pub id: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EntryPath {
    /// Waitlist entry id.
    pub id: i64,
}

/// Join a sold-out concert's waitlist.
#[utoipa::path(post, path = "/api/concert/{id}/waitlist", tag = TAG, params(ConcertPath),
    request_body = JoinWaitlistRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "On the waitlist", body = WaitlistEntryResponse),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "`CONCERT_NOT_FOUND`, or `SEAT_NOT_FOUND`: no seat of that grade", body = ErrorBody),
        (status = 409, description = "`SEATS_AVAILABLE`: matching seats can be held now; `ALREADY_ON_WAITLIST`; `SEAT_LOCK_RETRY_NEEDED`", body = ErrorBody),
        (status = 422, description = "`SEAT_LIMIT_EXCEEDED`: the fan's holds and purchases leave less; `SALE_CLOSED`, `RESERVATION_NOT_OPEN_YET`, `INVALID_CONCERT_STATUS`", body = ErrorBody),
    ))]
pub async fn join_waitlist(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppPath(ConcertPath { id }): AppPath<ConcertPath>,
    AppJson(req): AppJson<JoinWaitlistRequest>,
) -> AppResult<(StatusCode, AppJson<WaitlistEntryResponse>)> {
    let max = i64::from(state.settings.max_seats_per_user);
    let mut check = Check::new();
    let quantity = check.required("quantity", req.quantity);
    if let Some(q) = quantity
        && !(1..=max).contains(&q)
    {
        check.fail("quantity", FieldProblem::Range { min: 1, max });
    }
    let grade = match req.grade {
        Some(g) => check.text("grade", Some(g), seat::LABEL_LEN.0, seat::LABEL_LEN.1),
        None => None,
    };
    let quantity = check.build(|| quantity)?;
    let entry = waitlist(&state).join(id, user.user_id, quantity as u32, grade.as_deref()).await?;
    Ok((StatusCode::CREATED, AppJson(entry.into())))
}

/// The caller's waitlist entries, newest first.
#[utoipa::path(get, path = "/api/waitlist/my", tag = TAG,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's entries (up to 100)", body = Vec<WaitlistEntryResponse>),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn list_my_waitlist(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> AppResult<AppJson<Vec<WaitlistEntryResponse>>> {
    let entries = waitlist(&state).mine(user.user_id).await?;
    Ok(AppJson(entries.into_iter().map(Into::into).collect()))
}

/// Leave the waitlist (an offer not yet paid is given up too).
#[utoipa::path(delete, path = "/api/waitlist/{id}", tag = TAG, params(EntryPath),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Left"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "`WAITLIST_ENTRY_NOT_FOUND`: no active entry of the caller's with this id", body = ErrorBody),
    ))]
pub async fn leave_waitlist(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppPath(EntryPath { id }): AppPath<EntryPath>,
) -> AppResult<StatusCode> {
    waitlist(&state).cancel(user.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A concert's active waitlist entries in order of service (admins).
#[utoipa::path(get, path = "/api/concert/{id}/waitlist", tag = TAG, params(ConcertPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Waiting and offered entries in order (up to 1000)", body = Vec<AdminWaitlistEntryResponse>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
pub async fn list_concert_waitlist(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(ConcertPath { id }): AppPath<ConcertPath>,
) -> AppResult<AppJson<Vec<AdminWaitlistEntryResponse>>> {
    let entries = waitlist(&state).of_concert(id).await?;
    Ok(AppJson(
        entries
            .into_iter()
            .map(|e| AdminWaitlistEntryResponse { user_id: e.user_id, entry: e.into() })
            .collect(),
    ))
}

/// A short-lived ticket for the caller's waitlist stream (`EventSource` cannot send an
/// `Authorization` header, and URLs end up in proxy logs). Ask for a new one whenever the app
/// opens the stream itself.
#[utoipa::path(post, path = "/api/waitlist/my/stream-ticket", tag = TAG,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The ticket: opens the caller's waitlist stream only (`?ticket=`)", body = StreamTicketResponse,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn create_waitlist_stream_ticket(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> AppResult<impl IntoResponse> {
    let (ticket, ttl) = state.waitlist_feeds.issue_ticket(user.user_id)?;
    let body = StreamTicketResponse { ticket, expires_in: ttl.as_secs() };
    Ok(([(CACHE_CONTROL, "no-store")], AppJson(body)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WaitlistStreamQuery {
    /// A stream ticket from `POST /api/waitlist/my/stream-ticket`, for `EventSource` (an access
    /// token is not accepted here).
    pub ticket: Option<String>,
}

/// A comment line after this long without an event keeps proxies from closing the stream.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// The caller's live waitlist events (Server-Sent Events), whichever instance makes the offer:
/// first an `offer` for each entry of theirs that is `OFFERED` now, then `offer`
/// (`WaitlistOfferEvent`: entry, concert, seats held in the fan's name, expiry) when seats are
/// offered to them, and `status` (`WaitlistStatusEvent`: `EXPIRED`, `PURCHASED` or
/// `CANCELLED`) when an entry ends. Events carry no id: a reconnect starts again with the
/// current offers. Heartbeat comments every 15 s. Auth by `Authorization: Bearer` or, for
/// `EventSource`, a stream ticket in `?ticket=` (never the access token). Capped per user
/// (`QUEUE_STREAM_MAX_PER_USER`, 429) and per instance (`QUEUE_STREAM_MAX`, 503), counted
/// apart from the waiting-room streams.
#[utoipa::path(get, path = "/api/waitlist/my/events", tag = TAG,
    params(WaitlistStreamQuery),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "An event stream of `offer` and `status` events", content_type = "text/event-stream", body = WaitlistStreamEvent),
        (status = 401, description = "`UNAUTHORIZED` (no bearer token, no ticket), `INVALID_TOKEN`, or `INVALID_STREAM_TICKET` (forged, expired, or not a waitlist ticket)", body = ErrorBody),
        (status = 429, description = "`TOO_MANY_STREAMS`: this user has too many waitlist streams open here", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`STREAM_CAPACITY_REACHED`: this instance has as many waitlist streams as it takes; or `SERVICE_UNAVAILABLE`: a dependency is down", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn stream_my_waitlist(
    State(state): State<AppState>,
    AppQuery(WaitlistStreamQuery { ticket }): AppQuery<WaitlistStreamQuery>,
    headers: HeaderMap,
) -> AppResult<impl IntoResponse> {
    let user = match (bearer_token(&headers), ticket) {
        (Some(_), _) => authenticate(&state, &headers)?.user_id,
        (None, Some(ticket)) => {
            let user = state
                .waitlist_feeds
                .redeem_ticket(&ticket)
                .ok_or(ErrorCode::INVALID_STREAM_TICKET)?;
            tracing::Span::current().record("user.id", user);
            user
        }
        (None, None) => return Err(ErrorCode::UNAUTHORIZED.into()),
    };
    let listener = state.waitlist_feeds.listen(user).await?;
    // Listening first: an offer recorded from now on arrives as a notice, one recorded before
    // is among the entries (at worst both, and the app shows the same offer twice over).
    let offers: Vec<Event> = waitlist(&state)
        .mine(user)
        .await?
        .into_iter()
        .filter(|e| e.status == "OFFERED")
        .filter_map(|e| {
            let offer = WaitlistOfferEvent {
                entry_id: e.id,
                concert_id: e.concert_id,
                seat_ids: e.offered_seat_ids,
                expires_at: e.offer_expires_at?,
            };
            let data = serde_json::to_string(&offer).ok()?;
            Some(Event::default().event(waitlist_stream::OFFER).data(data))
        })
        .collect();
    let shutdown = state.waitlist_feeds.shutdown();
    // The comment goes out at once, so the client knows the stream is open.
    let first = std::iter::once(Event::default().comment("open")).chain(offers);
    let rest = futures::stream::unfold(listener, |mut listener| async move {
        match listener.next().await {
            Next::Notice(n) => Some((Event::default().event(&n.kind).data(&n.data), listener)),
            Next::End => None,
        }
    });
    // A shutdown ends the stream with a `retry:` hint (see `availability::ending_hint`).
    let hint = ending_hint(shutdown.clone(), || {
        Event::default().comment("server shutting down; reconnect").retry(reconnect_delay())
    });
    let stream = futures::stream::iter(first)
        .chain(rest)
        .take_until(shutdown.cancelled_owned())
        .chain(hint)
        .map(Ok::<_, Infallible>);
    let sse = Sse::new(stream).keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat"));
    let (name, value) = NO_PROXY_BUFFERING;
    Ok(([(name, value)], sse))
}
