//! `/api/seat`: seats of a concert, the seat map, and admin changes.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    cache::{REVALIDATE, conditional},
    extract::{AdminUser, AppJson, AppPath, AppQuery, AuthUser, ClientIp},
};
use crate::{
    domain::{
        check::Check,
        money::Money,
        page::{Page, PageParams},
        seat::{self, SeatDraft, SeatLayout, SeatView},
        time::serialize_kst,
    },
    error::{AppError, AppResult, ErrorBody, ErrorCode, FieldProblem},
    services::holds::HeldSeat,
    state::AppState,
};

const TAG: &str = "seat";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatCreateRequest {
    #[schema(required = true, value_type = i64, example = 1)]
    #[serde(default, deserialize_with = "super::extract::integer::option")]
    pub concert_id: Option<i64>,
    #[schema(required = true, value_type = String, max_length = 20, example = "A")]
    pub section: Option<String>,
    #[schema(required = true, value_type = String, max_length = 20, example = "1")]
    pub row: Option<String>,
    #[schema(required = true, value_type = String, max_length = 20, example = "15")]
    pub number: Option<String>,
    #[schema(required = true, value_type = String, max_length = 20, example = "VIP")]
    pub grade: Option<String>,
    /// Greater than 0, at most two decimal places.
    #[schema(required = true, value_type = Money)]
    pub price: Option<Money>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatUpdateRequest {
    #[schema(required = true, value_type = String, max_length = 20, example = "A")]
    pub section: Option<String>,
    #[schema(required = true, value_type = String, max_length = 20, example = "1")]
    pub row: Option<String>,
    #[schema(required = true, value_type = String, max_length = 20, example = "15")]
    pub number: Option<String>,
    #[schema(required = true, value_type = String, max_length = 20, example = "VIP")]
    pub grade: Option<String>,
    #[schema(required = true, value_type = Money)]
    pub price: Option<Money>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SeatPath {
    /// Seat id.
    pub id: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ConcertSeatsPath {
    /// Concert id.
    #[serde(rename = "concertId")]
    #[param(rename = "concertId")]
    pub concert_id: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GradeQuery {
    /// Seat grade, e.g. `VIP`.
    #[param(required = true, value_type = String)]
    pub grade: Option<String>,
}

/// Checks the five seat fields; errors are named `<prefix><field>`.
fn check_seat(
    check: &mut Check,
    prefix: &str,
    section: Option<String>,
    row: Option<String>,
    number: Option<String>,
    grade: Option<String>,
    price: Option<Money>,
) -> Option<SeatDraft> {
    let (min, max) = seat::LABEL_LEN;
    let section = check.name(&format!("{prefix}section"), section, min, max);
    let row = check.name(&format!("{prefix}row"), row, min, max);
    let number = check.name(&format!("{prefix}number"), number, min, max);
    let grade = check.name(&format!("{prefix}grade"), grade, min, max);
    let price = check.required(&format!("{prefix}price"), price);
    let price = match price {
        Some(p) if !p.is_positive() => {
            check.fail(format!("{prefix}price"), FieldProblem::Positive);
            None
        }
        other => other,
    };
    Some(SeatDraft { section: section?, row: row?, number: number?, grade: grade?, price: price? })
}

/// Create seats in one batch (admin): all or none. Up to 5,000 per request.
#[utoipa::path(post, path = "/api/seat/batch", tag = TAG, request_body = Vec<SeatCreateRequest>,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created, in natural order", body = Vec<SeatView>),
        (status = 400, description = "Invalid items; each failing field is named `[index].field`", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "`CONCERT_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`SEAT_ALREADY_EXISTS`: a seat repeats one of the concert's", body = ErrorBody),
        (status = 422, description = "`INVALID_CONCERT_ID` (items name different concerts) or `DUPLICATE_SEAT_IN_REQUEST`", body = ErrorBody),
    ))]
pub async fn create_seats(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppJson(items): AppJson<Vec<SeatCreateRequest>>,
) -> AppResult<(StatusCode, AppJson<Vec<SeatView>>)> {
    if items.is_empty() {
        return Err(AppError::field("body", FieldProblem::NotEmpty));
    }
    if items.len() > seat::MAX_BATCH {
        return Err(AppError::field("body", FieldProblem::TooMany { max: seat::MAX_BATCH }));
    }
    let mut check = Check::new();
    let mut drafts = Vec::with_capacity(items.len());
    let mut concert_ids = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let prefix = format!("[{i}].");
        concert_ids.push(check.required(&format!("{prefix}concertId"), item.concert_id));
        drafts.push(check_seat(
            &mut check,
            &prefix,
            item.section,
            item.row,
            item.number,
            item.grade,
            item.price,
        ));
    }
    check.finish()?;
    let concert_id = concert_ids[0].unwrap_or_default();
    if concert_ids.iter().any(|id| *id != Some(concert_id)) {
        return Err(ErrorCode::INVALID_CONCERT_ID.into());
    }
    let drafts: Vec<SeatDraft> = drafts.into_iter().flatten().collect();
    Ok((StatusCode::CREATED, AppJson(state.seats.create_batch(concert_id, drafts).await?)))
}

/// A page of a concert's seats, in natural order.
#[utoipa::path(get, path = "/api/seat/concert/{concertId}", tag = TAG, params(ConcertSeatsPath, PageParams),
    responses(
        (status = 200, description = "A page of seats", body = Page<SeatView>),
        (status = 400, description = "Bad parameter", body = ErrorBody),
        (status = 404, description = "`CONCERT_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn list_seats(
    State(state): State<AppState>,
    AppPath(ConcertSeatsPath { concert_id }): AppPath<ConcertSeatsPath>,
    AppQuery(page): AppQuery<PageParams>,
) -> AppResult<AppJson<Page<SeatView>>> {
    Ok(AppJson(state.seats.page(concert_id, page.request()?).await?))
}

/// Every seat of a concert with its status, in natural order (2 before 10): the seat map.
/// Kept for compatibility: the layout plus the availability (or its stream) carry the same
/// facts in a fraction of the bytes. Rendered once per availability version and shared, with a
/// strong `ETag`; `If-None-Match` gets 304.
#[utoipa::path(get, path = "/api/seat/concert/{concertId}/seat-map", tag = TAG,
    params(ConcertSeatsPath, ("If-None-Match" = Option<String>, Header, description = "A seat map's `ETag`: 304 while it is current")),
    responses(
        (status = 200, description = "All seats", body = Vec<SeatView>,
            headers(("ETag" = String, description = "The availability version and layout, quoted"))),
        (status = 304, description = "Not modified: the `If-None-Match` seat map is current",
            headers(("ETag" = String, description = "The availability version and layout, quoted"))),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 404, description = "`CONCERT_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn get_seat_map(
    State(state): State<AppState>,
    AppPath(ConcertSeatsPath { concert_id }): AppPath<ConcertSeatsPath>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let map = state.seats.map(concert_id, None).await?;
    Ok(conditional(&map, &headers, REVALIDATE))
}

/// A concert's seats of one grade, in natural order, with their status.
#[utoipa::path(get, path = "/api/seat/concert/{concertId}/seats", tag = TAG, params(ConcertSeatsPath, GradeQuery),
    responses(
        (status = 200, description = "Seats of the grade", body = Vec<SeatView>,
            headers(("ETag" = String, description = "The availability version, layout and grade, quoted"))),
        (status = 400, description = "Missing or bad parameter", body = ErrorBody),
        (status = 404, description = "`CONCERT_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn list_seats_by_grade(
    State(state): State<AppState>,
    AppPath(ConcertSeatsPath { concert_id }): AppPath<ConcertSeatsPath>,
    AppQuery(query): AppQuery<GradeQuery>,
) -> AppResult<Response> {
    let mut check = Check::new();
    let grade = check.text("grade", query.grade, seat::LABEL_LEN.0, seat::LABEL_LEN.1);
    let grade = check.build(|| grade)?;
    let seats = state.seats.map(concert_id, Some(&grade)).await?;
    Ok(conditional(&seats, &HeaderMap::new(), REVALIDATE))
}

/// How long browsers and CDNs may use a layout without asking again; then they revalidate with
/// `If-None-Match` (a 304 costs nothing).
const LAYOUT_CACHE: &str = "public, max-age=60, stale-while-revalidate=600";

/// The seat layout: every seat's id, section, row, number, grade and price, by column, in
/// natural order. Changes only when an admin edits the concert's seats or prices; `version` is
/// also the strong `ETag`, and `If-None-Match` with it answers 304.
#[utoipa::path(get, path = "/api/seat/concert/{concertId}/layout", tag = TAG,
    params(ConcertSeatsPath, ("If-None-Match" = Option<String>, Header, description = "A layout's `ETag`: 304 when it is still current")),
    responses(
        (status = 200, description = "The layout", body = SeatLayout,
            headers(("ETag" = String, description = "The layout's version, quoted"),
                    ("Cache-Control" = String, description = "`public, max-age=60, stale-while-revalidate=600`"))),
        (status = 304, description = "Not modified: the `If-None-Match` layout is current",
            headers(("ETag" = String, description = "The layout's version, quoted"))),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 404, description = "`CONCERT_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn get_seat_layout(
    State(state): State<AppState>,
    AppPath(ConcertSeatsPath { concert_id }): AppPath<ConcertSeatsPath>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let layout = state.seats.layout(concert_id).await?;
    Ok(conditional(&layout, &headers, LAYOUT_CACHE))
}

/// One seat.
#[utoipa::path(get, path = "/api/seat/{id}", tag = TAG, params(SeatPath),
    responses(
        (status = 200, description = "The seat", body = SeatView),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 404, description = "`SEAT_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn get_seat(
    State(state): State<AppState>,
    AppPath(SeatPath { id }): AppPath<SeatPath>,
) -> AppResult<AppJson<SeatView>> {
    Ok(AppJson(state.seats.get(id).await?))
}

/// Change a seat (admin); a reserved or sold seat cannot be changed.
#[utoipa::path(put, path = "/api/seat/{id}", tag = TAG, params(SeatPath), request_body = SeatUpdateRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Updated", body = SeatView),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "`SEAT_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`SEAT_ALREADY_EXISTS`: the new position is taken", body = ErrorBody),
        (status = 422, description = "`CANNOT_DELETE_RESERVED_SEAT`", body = ErrorBody),
    ))]
pub async fn update_seat(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(SeatPath { id }): AppPath<SeatPath>,
    AppJson(req): AppJson<SeatUpdateRequest>,
) -> AppResult<AppJson<SeatView>> {
    let mut check = Check::new();
    let draft = check_seat(&mut check, "", req.section, req.row, req.number, req.grade, req.price);
    let draft = check.build(|| draft)?;
    Ok(AppJson(state.seats.update(id, draft).await?))
}

/// Delete a seat (admin; soft delete); a reserved or sold seat cannot be deleted.
#[utoipa::path(delete, path = "/api/seat/{id}", tag = TAG, params(SeatPath),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "`SEAT_NOT_FOUND`", body = ErrorBody),
        (status = 422, description = "`CANNOT_DELETE_RESERVED_SEAT`", body = ErrorBody),
    ))]
pub async fn delete_seat(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(SeatPath { id }): AppPath<SeatPath>,
) -> AppResult<StatusCode> {
    state.seats.delete(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A held seat: the seat as every answer shows it, and when the hold ends.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatSelectResponse {
    #[serde(flatten)]
    pub seat: SeatView,
    /// When the hold ends unless the seat is checked out.
    #[serde(serialize_with = "serialize_kst")]
    pub expires_at: DateTime<Utc>,
}

impl From<HeldSeat> for SeatSelectResponse {
    fn from(h: HeldSeat) -> Self {
        SeatSelectResponse { seat: h.view, expires_at: h.expires_at }
    }
}

/// Several seats held at once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MultiSelectResponse {
    pub seats: Vec<SeatSelectResponse>,
    /// When the earliest of the holds ends.
    #[serde(serialize_with = "serialize_kst")]
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MultiSelectRequest {
    /// The seats to hold, all of one concert; all are held or none.
    #[schema(required = true, value_type = Vec<i64>, example = json!([101, 102]))]
    #[serde(default, deserialize_with = "super::extract::integer::option_vec")]
    pub seat_ids: Option<Vec<i64>>,
}

/// Hold one seat for a few minutes (`HOLD_TTL_SECS`); holding it again reports the time left.
#[utoipa::path(post, path = "/api/seat/{id}/select", tag = TAG, params(SeatPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Held", body = SeatSelectResponse),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "`QUEUE_NOT_ADMITTED`: the concert has a waiting room and the caller is not admitted (yet)", body = ErrorBody),
        (status = 404, description = "`SEAT_NOT_FOUND` or `CONCERT_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`SEAT_ALREADY_LOCKED` (another fan holds it), `IS_ALREADY_RESERVATION` (reserved or sold), `SEAT_LOCK_RETRY_NEEDED`", body = ErrorBody),
        (status = 422, description = "`RESERVATION_NOT_OPEN_YET`, `SALE_CLOSED`, `INVALID_CONCERT_STATUS`, `SEAT_LIMIT_EXCEEDED`", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED`: too many hold attempts from this account (`HOLD_RATE_PER_USER`) or address (`HOLD_RATE_PER_IP`); `CHECKOUT_COOLDOWN`: the account let too many checkouts end unpaid and is paused", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn select_seat(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ClientIp(client): ClientIp,
    AppPath(SeatPath { id }): AppPath<SeatPath>,
) -> AppResult<AppJson<SeatSelectResponse>> {
    let mut held = state.seat_holds.select(user.user_id, client, &[id]).await?;
    Ok(AppJson(held.remove(0).into()))
}

/// Hold several seats of one concert: all of them or none.
#[utoipa::path(post, path = "/api/seat/select", tag = TAG, request_body = MultiSelectRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: the same key with the same body gets the stored answer for 24 h; with another body, 422 `IDEMPOTENCY_KEY_REUSED`")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "All held", body = MultiSelectResponse),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "`QUEUE_NOT_ADMITTED`: the concert has a waiting room and the caller is not admitted (yet)", body = ErrorBody),
        (status = 404, description = "`SEAT_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`SEAT_ALREADY_LOCKED` or `IS_ALREADY_RESERVATION` (nothing was held)", body = ErrorBody),
        (status = 422, description = "`INVALID_CONCERT_ID` (seats of several concerts), `DUPLICATE_SEAT_IN_REQUEST`, `SEAT_LIMIT_EXCEEDED`, sale closed", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED`: too many hold attempts from this account (`HOLD_RATE_PER_USER`) or address (`HOLD_RATE_PER_IP`); `CHECKOUT_COOLDOWN`: the account let too many checkouts end unpaid and is paused", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn select_seats(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ClientIp(client): ClientIp,
    AppJson(req): AppJson<MultiSelectRequest>,
) -> AppResult<AppJson<MultiSelectResponse>> {
    let seat_ids = check_seat_ids(req.seat_ids, state.settings.max_seats_per_user as usize)?;
    let held = state.seat_holds.select(user.user_id, client, &seat_ids).await?;
    let seats: Vec<SeatSelectResponse> = held.into_iter().map(Into::into).collect();
    let expires_at = seats.iter().map(|s| s.expires_at).min().unwrap_or_default();
    Ok(AppJson(MultiSelectResponse { seats, expires_at }))
}

/// Seat ids of a request: 1..=max, no repeats.
pub fn check_seat_ids(ids: Option<Vec<i64>>, max: usize) -> AppResult<Vec<i64>> {
    let ids = ids.ok_or_else(|| AppError::field("seatIds", FieldProblem::Required))?;
    if ids.is_empty() {
        return Err(AppError::field("seatIds", FieldProblem::NotEmpty));
    }
    if ids.len() > max {
        return Err(AppError::field("seatIds", FieldProblem::TooMany { max }));
    }
    let mut seen = std::collections::HashSet::new();
    if !ids.iter().all(|id| seen.insert(*id)) {
        return Err(ErrorCode::DUPLICATE_SEAT_IN_REQUEST.into());
    }
    Ok(ids)
}

/// Release one's hold on a seat.
#[utoipa::path(delete, path = "/api/seat/{id}/select", tag = TAG, params(SeatPath),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Released"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "`SEAT_NOT_SELECTED`: the caller does not hold it; `SEAT_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`IS_ALREADY_RESERVATION`: the seat is in a reservation", body = ErrorBody),
    ))]
pub async fn release_seat(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppPath(SeatPath { id }): AppPath<SeatPath>,
) -> AppResult<StatusCode> {
    state.seat_holds.release(user.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
