//! `/api/concert`: the catalogue of concerts.

use axum::{extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{AdminUser, AppJson, AppPath, AppQuery};
use crate::{
    domain::{
        challenge,
        check::Check,
        concert::{self, Concert, ConcertDraft, ConcertStatus, Schedule},
        page::{Page, PageParams},
        time::{InputTimestamp, serialize_kst},
    },
    error::{AppError, AppResult, ErrorBody, FieldProblem},
    state::AppState,
};

const TAG: &str = "concert";

/// A concert as an admin creates or replaces it. Sales run from `openTime` to `closeTime`,
/// which must come before `concertDate`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConcertRequest {
    #[schema(required = true, value_type = String, max_length = 200, example = "아이유 콘서트 2026")]
    pub title: Option<String>,
    #[schema(required = true, value_type = String, max_length = 200, example = "올림픽공원 체조경기장")]
    pub venue: Option<String>,
    #[schema(required = true, value_type = InputTimestamp, example = "2026-12-25T19:00:00")]
    pub concert_date: Option<InputTimestamp>,
    #[schema(required = true, value_type = InputTimestamp, example = "2026-12-01T10:00:00")]
    pub open_time: Option<InputTimestamp>,
    #[schema(required = true, value_type = InputTimestamp, example = "2026-12-24T23:59:59")]
    pub close_time: Option<InputTimestamp>,
    /// Whether the waiting room gates the sale (default false; on update, unchanged when absent).
    pub queue_enabled: Option<bool>,
    /// Bot check for joining the waiting room: leading zero bits of the proof of work (0 = off,
    /// each bit doubles a browser's work; see `POST /api/challenge`). Default 0; on update,
    /// unchanged when absent.
    #[schema(minimum = 0, maximum = 28, example = 0)]
    #[serde(default, deserialize_with = "super::extract::integer::option")]
    pub challenge_difficulty: Option<i64>,
    /// Only on update; unchanged when absent.
    pub status: Option<ConcertStatus>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConcertResponse {
    pub id: i64,
    pub title: String,
    #[serde(serialize_with = "serialize_kst")]
    pub concert_date: DateTime<Utc>,
    pub venue: String,
    #[serde(serialize_with = "serialize_kst")]
    pub open_time: DateTime<Utc>,
    #[serde(serialize_with = "serialize_kst")]
    pub close_time: DateTime<Utc>,
    pub status: ConcertStatus,
    pub queue_enabled: bool,
    /// Proof-of-work difficulty for joining the waiting room (0 = no bot check).
    pub challenge_difficulty: i32,
    #[serde(serialize_with = "serialize_kst")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "serialize_kst")]
    pub updated_at: DateTime<Utc>,
}

impl From<Concert> for ConcertResponse {
    fn from(c: Concert) -> Self {
        ConcertResponse {
            id: c.id,
            title: c.title,
            concert_date: c.concert_date,
            venue: c.venue,
            open_time: c.open_time,
            close_time: c.close_time,
            status: c.status,
            queue_enabled: c.queue_enabled,
            challenge_difficulty: c.challenge_difficulty,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// Filters of the concert list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConcertFilter {
    /// Part of the title (case-insensitive).
    pub title: Option<String>,
    /// Part of the venue (case-insensitive).
    pub venue: Option<String>,
    /// Zero-based page number.
    #[param(minimum = 0, maximum = 2147483647)]
    pub page: Option<u32>,
    /// Items per page, at least 1; values above 100 are read as 100 (default 20).
    #[param(minimum = 1, maximum = 2147483647)]
    pub size: Option<u32>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ConcertPath {
    /// Concert id.
    pub id: i64,
}

fn parse_request(req: ConcertRequest, is_update: bool) -> AppResult<ConcertDraft> {
    let mut check = Check::new();
    let title = check.name("title", req.title, concert::TITLE_LEN.0, concert::TITLE_LEN.1);
    let venue = check.name("venue", req.venue, concert::VENUE_LEN.0, concert::VENUE_LEN.1);
    let concert_date = check.required("concertDate", req.concert_date);
    let open_time = check.required("openTime", req.open_time);
    let close_time = check.required("closeTime", req.close_time);
    let max = challenge::MAX_DIFFICULTY;
    let challenge_difficulty = match req.challenge_difficulty {
        Some(d) if !(0..=i64::from(max)).contains(&d) => {
            check.fail("challengeDifficulty", FieldProblem::Range { min: 0, max: i64::from(max) });
            None
        }
        d => d.map(|d| d as u8),
    };
    if !is_update && req.status.is_some() {
        check.fail("status", FieldProblem::Invalid("is set by the system on creation".into()));
    }
    let (title, venue, concert_date, open_time, close_time) =
        check.build(|| Some((title?, venue?, concert_date?, open_time?, close_time?)))?;
    Ok(ConcertDraft {
        title,
        venue,
        schedule: Schedule::new(open_time.0, close_time.0, concert_date.0)?,
        status: req.status,
        queue_enabled: req.queue_enabled,
        challenge_difficulty,
    })
}

/// Create a concert (admin).
#[utoipa::path(post, path = "/api/concert", tag = TAG, request_body = ConcertRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = ConcertResponse),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 422, description = "`CLOSE_TIME_AFTER_OPEN_TIME` or `CONCERT_DATE_AFTER_CLOSE_TIME`", body = ErrorBody),
    ))]
pub async fn create_concert(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppJson(req): AppJson<ConcertRequest>,
) -> AppResult<(StatusCode, AppJson<ConcertResponse>)> {
    let draft = parse_request(req, false)?;
    let concert = state.concerts.create(draft).await?;
    Ok((StatusCode::CREATED, AppJson(concert.into())))
}

/// List concerts by date, optionally filtered by title and venue.
#[utoipa::path(get, path = "/api/concert", tag = TAG, params(ConcertFilter),
    responses(
        (status = 200, description = "A page of concerts", body = Page<ConcertResponse>),
        (status = 400, description = "Bad query parameter", body = ErrorBody),
    ))]
pub async fn list_concerts(
    State(state): State<AppState>,
    AppQuery(filter): AppQuery<ConcertFilter>,
) -> AppResult<AppJson<Page<ConcertResponse>>> {
    for (field, text) in [("title", &filter.title), ("venue", &filter.venue)] {
        if text.as_deref().is_some_and(|t| t.contains('\0')) {
            return Err(AppError::field(field, FieldProblem::Unstorable));
        }
    }
    let title = filter.title.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let venue = filter.venue.as_deref().map(str::trim).filter(|v| !v.is_empty());
    let page = state
        .concerts
        .list(title, venue, PageParams { page: filter.page, size: filter.size }.request()?)
        .await?;
    Ok(AppJson(page.map(Into::into)))
}

/// One concert.
#[utoipa::path(get, path = "/api/concert/{id}", tag = TAG, params(ConcertPath),
    responses(
        (status = 200, description = "The concert", body = ConcertResponse),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 404, description = "`CONCERT_NOT_FOUND` (missing or deleted)", body = ErrorBody),
    ))]
pub async fn get_concert(
    State(state): State<AppState>,
    AppPath(ConcertPath { id }): AppPath<ConcertPath>,
) -> AppResult<AppJson<ConcertResponse>> {
    Ok(AppJson(state.concerts.get(id).await?.into()))
}

/// Replace a concert's details (admin); same rules as creation.
#[utoipa::path(put, path = "/api/concert/{id}", tag = TAG, params(ConcertPath), request_body = ConcertRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Updated", body = ConcertResponse),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "`CONCERT_NOT_FOUND`", body = ErrorBody),
        (status = 422, description = "`CLOSE_TIME_AFTER_OPEN_TIME` or `CONCERT_DATE_AFTER_CLOSE_TIME`", body = ErrorBody),
    ))]
pub async fn update_concert(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(ConcertPath { id }): AppPath<ConcertPath>,
    AppJson(req): AppJson<ConcertRequest>,
) -> AppResult<AppJson<ConcertResponse>> {
    let draft = parse_request(req, true)?;
    Ok(AppJson(state.concerts.update(id, draft).await?.into()))
}

/// Delete a concert and its seats (admin; soft delete).
#[utoipa::path(delete, path = "/api/concert/{id}", tag = TAG, params(ConcertPath),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "`CONCERT_NOT_FOUND`", body = ErrorBody),
        (status = 422, description = "`CANNOT_DELETE_RESERVATION_OPEN_CONCERT`: it has active reservations", body = ErrorBody),
    ))]
pub async fn delete_concert(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(ConcertPath { id }): AppPath<ConcertPath>,
) -> AppResult<StatusCode> {
    state.concerts.delete(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
