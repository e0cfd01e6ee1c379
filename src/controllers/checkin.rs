//! `/api/concert/{id}/checkin-lists` and `/api/checkin`: door check-in (issue 17). Admins
//! manage the lists; staff (and admins) scan, read the lists and their counts, and undo.

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{AdminUser, AppJson, AppPath, StaffUser};
use crate::{
    domain::{
        check::Check,
        checkin::{ListRules, Refusal, ScanType},
        seat,
        time::{InputTimestamp, serialize_kst},
    },
    error::{AppResult, ErrorBody, FieldProblem},
    services::checkin::{ListRow, ListStatus, NewList, Redeem, RedeemAnswer, ScanTicket},
    state::AppState,
};

const TAG: &str = "checkin";

/// A list's name: 1 to 100 characters.
pub const NAME_LEN: (usize, usize) = (1, 100);
/// Grades one list may name.
pub const MAX_GRADES: usize = 50;
/// A nonce: 1 to 64 characters.
pub const NONCE_LEN: (usize, usize) = (1, 64);
/// Longest secret read (a v1 secret is 140 characters; anything else answers `invalid`).
pub const SECRET_MAX: usize = 500;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateCheckinListRequest {
    #[schema(required = true, value_type = String, example = "정문")]
    pub name: Option<String>,
    /// Seat grades admitted (absent or null: every grade).
    #[schema(example = json!(["VIP", "R"]))]
    pub grades: Option<Vec<String>>,
    /// Let a ticket in any number of times.
    #[schema(required = true, value_type = bool)]
    pub allow_multiple_entries: Option<bool>,
    /// Let a ticket back in after an exit.
    #[schema(required = true, value_type = bool)]
    pub allow_entry_after_exit: Option<bool>,
}

/// A check-in list: the doors one set of scanners works.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckinList {
    pub id: i64,
    pub concert_id: i64,
    pub name: String,
    /// Seat grades admitted; null admits every grade.
    pub grades: Option<Vec<String>>,
    pub allow_multiple_entries: bool,
    pub allow_entry_after_exit: bool,
    #[serde(serialize_with = "serialize_kst")]
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
}

impl From<ListRow> for CheckinList {
    fn from(l: ListRow) -> Self {
        CheckinList {
            id: l.id,
            concert_id: l.concert_id,
            name: l.name,
            grades: l.grades,
            allow_multiple_entries: l.allow_multiple_entries,
            allow_entry_after_exit: l.allow_entry_after_exit,
            created_at: l.created_at,
        }
    }
}

/// A list's live counts.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckinListStatus {
    /// Tickets valid for the list: not revoked, of its concert and grades.
    pub tickets: i64,
    /// Tickets with at least one entry (not undone).
    pub checked_in: i64,
    /// Tickets inside now: their latest scan (not undone) is an entry.
    pub inside: i64,
}

impl From<ListStatus> for CheckinListStatus {
    fn from(s: ListStatus) -> Self {
        CheckinListStatus { tickets: s.tickets, checked_in: s.checked_in, inside: s.inside }
    }
}

/// A scan's direction.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckinType {
    Entry,
    Exit,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedeemRequest {
    /// The scanned secret (what the ticket's QR code carries).
    #[schema(required = true, value_type = String)]
    pub secret: Option<String>,
    #[schema(required = true, value_type = i64, example = 1)]
    #[serde(default, deserialize_with = "super::extract::integer::option")]
    pub list_id: Option<i64>,
    #[schema(required = true, value_type = CheckinType)]
    #[serde(rename = "type")]
    pub scan_type: Option<CheckinType>,
    /// The scanner's id for this scan (e.g. a UUID): a repeat gets the first answer again.
    #[schema(required = true, value_type = String, example = "0b9c6f0e-3f0e-4d3e-9d55-2f1c1d0c7a11")]
    pub nonce: Option<String>,
    /// When the ticket was scanned (offline scans; now when absent).
    #[schema(value_type = Option<InputTimestamp>)]
    pub scanned_at: Option<InputTimestamp>,
    /// Record the scan even where it would be refused, flagging the conflict (uploads of
    /// offline scans the scanner already let through). An invalid secret is never recorded.
    pub force: Option<bool>,
}

/// Why a scan was refused, or what a forced upload conflicts with.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    Invalid,
    Revoked,
    Canceled,
    AlreadyRedeemed,
    WrongConcert,
    WrongList,
    InvalidTime,
    NotInside,
}

impl From<Refusal> for RefusalReason {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Invalid => RefusalReason::Invalid,
            Refusal::Revoked => RefusalReason::Revoked,
            Refusal::Canceled => RefusalReason::Canceled,
            Refusal::AlreadyRedeemed => RefusalReason::AlreadyRedeemed,
            Refusal::WrongConcert => RefusalReason::WrongConcert,
            Refusal::WrongList => RefusalReason::WrongList,
            Refusal::InvalidTime => RefusalReason::InvalidTime,
            Refusal::NotInside => RefusalReason::NotInside,
        }
    }
}

/// The scanned ticket, as staff see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScannedTicket {
    pub id: i64,
    pub concert_id: i64,
    pub seat_id: i64,
    pub section: String,
    pub row: String,
    pub number: String,
    pub grade: String,
    /// `VALID`, `REVOKED` or `USED`, after this scan.
    #[schema(example = "USED")]
    pub status: String,
}

impl From<ScanTicket> for ScannedTicket {
    fn from(t: ScanTicket) -> Self {
        ScannedTicket {
            id: t.id,
            concert_id: t.concert_id,
            seat_id: t.seat_id,
            section: t.section,
            row: t.row,
            number: t.number,
            grade: t.grade,
            status: t.status,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub enum OkStatus {
    #[serde(rename = "ok")]
    Ok,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub enum ErrorStatus {
    #[serde(rename = "error")]
    Error,
}

/// A recorded scan.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedeemOk {
    pub status: OkStatus,
    /// The check-in (undo it with `DELETE /api/checkin/{checkinId}`).
    pub checkin_id: i64,
    pub ticket: ScannedTicket,
    pub forced: bool,
    /// A forced upload that would have been refused: why (the scan is recorded and flagged).
    pub conflict: Option<RefusalReason>,
}

/// A refused scan.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedeemRefused {
    pub status: ErrorStatus,
    pub reason: RefusalReason,
    /// The ticket (every reason but `invalid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<ScannedTicket>,
    /// `already_redeemed`: when the ticket entered.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::domain::time::serialize_kst_opt"
    )]
    #[schema(value_type = Option<String>)]
    pub redeemed_at: Option<DateTime<Utc>>,
    /// `already_redeemed`: the list it entered on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redeemed_list_id: Option<i64>,
}

/// What a 404 of a redeem carries: `{status: "error", reason: "invalid"}` for a secret that
/// is not ours, the usual error body (`CHECKIN_LIST_NOT_FOUND`) for an unknown list.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
#[serde(untagged)]
pub enum RedeemNotFound {
    Invalid(RedeemRefused),
    List(ErrorBody),
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ConcertPath {
    /// Concert id.
    pub id: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ListPath {
    /// Check-in list id.
    #[serde(rename = "listId")]
    #[param(rename = "listId")]
    pub list_id: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CheckinPath {
    /// Check-in id.
    #[serde(rename = "checkinId")]
    #[param(rename = "checkinId")]
    pub checkin_id: i64,
}

/// Create a check-in list for a concert (admin).
#[utoipa::path(post, path = "/api/concert/{id}/checkin-lists", tag = TAG, params(ConcertPath),
    request_body = CreateCheckinListRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = CheckinList),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "`CONCERT_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn create_checkin_list(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    AppPath(ConcertPath { id }): AppPath<ConcertPath>,
    AppJson(req): AppJson<CreateCheckinListRequest>,
) -> AppResult<(StatusCode, AppJson<CheckinList>)> {
    let mut check = Check::new();
    let name = check.name("name", req.name, NAME_LEN.0, NAME_LEN.1);
    let grades = match req.grades {
        None => Some(None),
        Some(grades) if grades.is_empty() => {
            check.fail("grades", FieldProblem::NotEmpty);
            None
        }
        Some(grades) if grades.len() > MAX_GRADES => {
            check.fail("grades", FieldProblem::TooMany { max: MAX_GRADES });
            None
        }
        Some(grades) => {
            let mut kept: Vec<String> = Vec::with_capacity(grades.len());
            for (i, g) in grades.into_iter().enumerate() {
                let (min, max) = seat::LABEL_LEN;
                if let Some(g) = check.name(&format!("grades[{i}]"), Some(g), min, max)
                    && !kept.contains(&g)
                {
                    kept.push(g);
                }
            }
            Some(Some(kept))
        }
    };
    let multiple = check.required("allowMultipleEntries", req.allow_multiple_entries);
    let after_exit = check.required("allowEntryAfterExit", req.allow_entry_after_exit);
    let list = check.build(|| {
        Some(NewList {
            concert_id: id,
            name: name?,
            grades: grades?,
            rules: ListRules {
                allow_multiple_entries: multiple?,
                allow_entry_after_exit: after_exit?,
            },
        })
    })?;
    let row = state.checkin.create_list(admin.user_id, list).await?;
    Ok((StatusCode::CREATED, AppJson(row.into())))
}

/// A concert's check-in lists (staff or admin).
#[utoipa::path(get, path = "/api/concert/{id}/checkin-lists", tag = TAG, params(ConcertPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The lists, oldest first", body = Vec<CheckinList>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff or an admin", body = ErrorBody),
        (status = 404, description = "`CONCERT_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn list_checkin_lists(
    State(state): State<AppState>,
    _staff: StaffUser,
    AppPath(ConcertPath { id }): AppPath<ConcertPath>,
) -> AppResult<AppJson<Vec<CheckinList>>> {
    let lists = state.checkin.lists(id).await?;
    Ok(AppJson(lists.into_iter().map(Into::into).collect()))
}

/// One check-in list (staff or admin).
#[utoipa::path(get, path = "/api/checkin/lists/{listId}", tag = TAG, params(ListPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The list", body = CheckinList),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff or an admin", body = ErrorBody),
        (status = 404, description = "`CHECKIN_LIST_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn get_checkin_list(
    State(state): State<AppState>,
    _staff: StaffUser,
    AppPath(ListPath { list_id }): AppPath<ListPath>,
) -> AppResult<AppJson<CheckinList>> {
    Ok(AppJson(state.checkin.list(list_id).await?.into()))
}

/// Delete a check-in list (admin); its scans are kept.
#[utoipa::path(delete, path = "/api/checkin/lists/{listId}", tag = TAG, params(ListPath),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "`CHECKIN_LIST_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn delete_checkin_list(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    AppPath(ListPath { list_id }): AppPath<ListPath>,
) -> AppResult<StatusCode> {
    state.checkin.delete_list(admin.user_id, list_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A list's live counts (staff or admin).
#[utoipa::path(get, path = "/api/checkin/lists/{listId}/status", tag = TAG, params(ListPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Tickets, checked in, inside now", body = CheckinListStatus),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff or an admin", body = ErrorBody),
        (status = 404, description = "`CHECKIN_LIST_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn get_checkin_list_status(
    State(state): State<AppState>,
    _staff: StaffUser,
    AppPath(ListPath { list_id }): AppPath<ListPath>,
) -> AppResult<AppJson<CheckinListStatus>> {
    Ok(AppJson(state.checkin.status(list_id).await?.into()))
}

/// Redeem a scanned ticket on a list (staff or admin): exactly once per list, whatever the
/// number of scanners; a repeated nonce gets the first answer.
#[utoipa::path(post, path = "/api/checkin/redeem", tag = TAG,
    request_body = RedeemRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "`ok`: the scan is recorded (a forced upload that would have been refused carries its `conflict`)", body = RedeemOk),
        (status = 200, description = "`error`: a known ticket, refused: `revoked`, `canceled`, `already_redeemed` (with `redeemedAt` and `redeemedListId`), `wrong_concert`, `wrong_list`, `invalid_time`, `not_inside` (an exit of a ticket not inside)", body = RedeemRefused),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff or an admin", body = ErrorBody),
        (status = 404, description = "`{status: \"error\", reason: \"invalid\"}`: not a ticket secret of ours (bad signature, unknown ticket); or `CHECKIN_LIST_NOT_FOUND` in the usual error body", body = RedeemNotFound),
        (status = 422, description = "`CHECKIN_NONCE_REUSED`: the nonce was used on this list for another secret or type", body = ErrorBody),
    ))]
pub async fn redeem_checkin(
    State(state): State<AppState>,
    StaffUser(staff): StaffUser,
    AppJson(req): AppJson<RedeemRequest>,
) -> AppResult<Response> {
    let mut check = Check::new();
    let secret = check.text("secret", req.secret, 1, SECRET_MAX);
    let list_id = check.required("listId", req.list_id);
    let scan = check.required("type", req.scan_type).map(|t| match t {
        CheckinType::Entry => ScanType::Entry,
        CheckinType::Exit => ScanType::Exit,
    });
    let nonce = check.text("nonce", req.nonce, NONCE_LEN.0, NONCE_LEN.1);
    let redeem = check.build(|| {
        Some(Redeem {
            secret: secret?,
            list_id: list_id?,
            scan: scan?,
            nonce: nonce?,
            scanned_at: req.scanned_at.map(|t| t.0),
            force: req.force.unwrap_or(false),
        })
    })?;
    let response = match state.checkin.redeem(staff.user_id, redeem).await? {
        RedeemAnswer::Ok { checkin_id, ticket, forced, conflict } => (
            StatusCode::CREATED,
            AppJson(RedeemOk {
                status: OkStatus::Ok,
                checkin_id,
                ticket: ticket.into(),
                forced,
                conflict: conflict.map(Into::into),
            }),
        )
            .into_response(),
        RedeemAnswer::Refused { reason, ticket, redeemed_at, redeemed_list_id } => {
            let status =
                if reason == Refusal::Invalid { StatusCode::NOT_FOUND } else { StatusCode::OK };
            (
                status,
                AppJson(RedeemRefused {
                    status: ErrorStatus::Error,
                    reason: reason.into(),
                    ticket: ticket.map(Into::into),
                    redeemed_at,
                    redeemed_list_id,
                }),
            )
                .into_response()
        }
    };
    Ok(response)
}

/// Undo a check-in (staff or admin); who and when are recorded.
#[utoipa::path(delete, path = "/api/checkin/{checkinId}", tag = TAG, params(CheckinPath),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Undone"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff or an admin", body = ErrorBody),
        (status = 404, description = "`CHECKIN_NOT_FOUND`: no such check-in, or undone already", body = ErrorBody),
    ))]
pub async fn undo_checkin(
    State(state): State<AppState>,
    StaffUser(staff): StaffUser,
    AppPath(CheckinPath { checkin_id }): AppPath<CheckinPath>,
) -> AppResult<StatusCode> {
    state.checkin.undo(staff.user_id, checkin_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
