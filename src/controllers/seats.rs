//! `/api/seat`: seats of a concert, the seat map, and admin changes.

use axum::{extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{AdminUser, AppJson, AppPath, AppQuery};
use crate::{
    domain::{
        check::Check,
        money::Money,
        page::{Page, PageParams},
        seat::{self, SeatDraft, SeatStatus},
        time::serialize_kst,
    },
    error::{AppError, AppResult, ErrorBody, ErrorCode, FieldProblem},
    repositories::seats::SeatRow,
    services::seats as service,
    state::AppState,
};

const TAG: &str = "seat";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatCreateRequest {
    #[schema(required = true, value_type = i64, example = 1)]
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

/// A seat as the original's `SeatResponse`, plus its live `status`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatResponse {
    pub id: i64,
    pub concert_id: i64,
    pub concert_title: String,
    pub section: String,
    pub row: String,
    pub number: String,
    pub grade: String,
    pub price: Money,
    /// True unless the seat is AVAILABLE.
    pub reserved: bool,
    pub status: SeatStatus,
    #[serde(serialize_with = "serialize_kst")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "serialize_kst")]
    pub updated_at: DateTime<Utc>,
}

impl From<SeatRow> for SeatResponse {
    fn from(s: SeatRow) -> Self {
        let status = match s.reservation_status.as_deref() {
            Some("CONFIRMED") => SeatStatus::Sold,
            Some(_) => SeatStatus::Reserved,
            None => SeatStatus::Available,
        };
        SeatResponse {
            id: s.id,
            concert_id: s.concert_id,
            concert_title: s.concert_title,
            section: s.section,
            row: s.row,
            number: s.number,
            grade: s.grade,
            price: s.price.into(),
            reserved: status != SeatStatus::Available,
            status,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
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
    let section = check.text(&format!("{prefix}section"), section, min, max);
    let row = check.text(&format!("{prefix}row"), row, min, max);
    let number = check.text(&format!("{prefix}number"), number, min, max);
    let grade = check.text(&format!("{prefix}grade"), grade, min, max);
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
        (status = 201, description = "Created, in natural order", body = Vec<SeatResponse>),
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
) -> AppResult<(StatusCode, AppJson<Vec<SeatResponse>>)> {
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
    let rows = service::create_batch(&state.db, concert_id, drafts).await?;
    Ok((StatusCode::CREATED, AppJson(rows.into_iter().map(Into::into).collect())))
}

/// A page of a concert's seats, in natural order.
#[utoipa::path(get, path = "/api/seat/concert/{concertId}", tag = TAG, params(ConcertSeatsPath, PageParams),
    responses(
        (status = 200, description = "A page of seats", body = Page<SeatResponse>),
        (status = 400, description = "Bad parameter", body = ErrorBody),
        (status = 404, description = "`CONCERT_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn list_seats(
    State(state): State<AppState>,
    AppPath(ConcertSeatsPath { concert_id }): AppPath<ConcertSeatsPath>,
    AppQuery(page): AppQuery<PageParams>,
) -> AppResult<AppJson<Page<SeatResponse>>> {
    let page = service::page(&state.db, concert_id, page.request()).await?;
    Ok(AppJson(page.map(Into::into)))
}

/// Every seat of a concert with its status, in natural order (2 before 10): the seat map.
#[utoipa::path(get, path = "/api/seat/concert/{concertId}/seat-map", tag = TAG, params(ConcertSeatsPath),
    responses(
        (status = 200, description = "All seats", body = Vec<SeatResponse>),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 404, description = "`CONCERT_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn get_seat_map(
    State(state): State<AppState>,
    AppPath(ConcertSeatsPath { concert_id }): AppPath<ConcertSeatsPath>,
) -> AppResult<AppJson<Vec<SeatResponse>>> {
    let rows = service::all(&state.db, concert_id, None).await?;
    Ok(AppJson(rows.into_iter().map(Into::into).collect()))
}

/// A concert's seats of one grade, in natural order.
#[utoipa::path(get, path = "/api/seat/concert/{concertId}/seats", tag = TAG, params(ConcertSeatsPath, GradeQuery),
    responses(
        (status = 200, description = "Seats of the grade", body = Vec<SeatResponse>),
        (status = 400, description = "Missing or bad parameter", body = ErrorBody),
        (status = 404, description = "`CONCERT_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn list_seats_by_grade(
    State(state): State<AppState>,
    AppPath(ConcertSeatsPath { concert_id }): AppPath<ConcertSeatsPath>,
    AppQuery(query): AppQuery<GradeQuery>,
) -> AppResult<AppJson<Vec<SeatResponse>>> {
    let mut check = Check::new();
    let grade = check.text("grade", query.grade, seat::LABEL_LEN.0, seat::LABEL_LEN.1);
    let grade = check.build(|| grade)?;
    let rows = service::all(&state.db, concert_id, Some(&grade)).await?;
    Ok(AppJson(rows.into_iter().map(Into::into).collect()))
}

/// One seat.
#[utoipa::path(get, path = "/api/seat/{id}", tag = TAG, params(SeatPath),
    responses(
        (status = 200, description = "The seat", body = SeatResponse),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 404, description = "`SEAT_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn get_seat(
    State(state): State<AppState>,
    AppPath(SeatPath { id }): AppPath<SeatPath>,
) -> AppResult<AppJson<SeatResponse>> {
    Ok(AppJson(service::get(&state.db, id).await?.into()))
}

/// Change a seat (admin); a reserved or sold seat cannot be changed.
#[utoipa::path(put, path = "/api/seat/{id}", tag = TAG, params(SeatPath), request_body = SeatUpdateRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Updated", body = SeatResponse),
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
) -> AppResult<AppJson<SeatResponse>> {
    let mut check = Check::new();
    let draft = check_seat(&mut check, "", req.section, req.row, req.number, req.grade, req.price);
    let draft = check.build(|| draft)?;
    Ok(AppJson(service::update(&state.db, id, draft).await?.into()))
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
    service::delete(&state.db, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
