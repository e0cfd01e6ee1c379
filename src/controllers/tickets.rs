//! `/api/tickets` and the public side of check-in: a fan's e-tickets, their QR codes, and what
//! scanners download to work offline (issue 17).

use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{AppJson, AppPath, AppQuery, AuthUser, StaffUser};
use crate::{
    domain::{qr, time::serialize_kst, user::Role},
    error::{AppError, AppResult, ErrorBody, FieldProblem},
    services::tickets::{PublicKey, Revocation, TicketRow},
    state::AppState,
};

const TAG: &str = "tickets";

/// Tickets a page of `GET /api/tickets/my` holds at most.
const MY_TICKETS_PAGE: i64 = 100;
/// Revocations one answer holds at most.
const REVOKED_PAGE: i64 = 1000;

/// An e-ticket: one seat of a confirmed reservation.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketResponse {
    pub id: i64,
    pub reservation_id: i64,
    pub concert_id: i64,
    pub concert_title: String,
    #[serde(serialize_with = "serialize_kst")]
    #[schema(value_type = String)]
    pub concert_date: DateTime<Utc>,
    pub venue: String,
    pub seat_id: i64,
    pub section: String,
    pub row: String,
    pub number: String,
    pub grade: String,
    /// `VALID`, `REVOKED` (cancelled, refunded or its seat removed) or `USED` (checked in).
    #[schema(example = "VALID")]
    pub status: String,
    /// What the QR code carries: a signed v1 secret, base64url without padding (140
    /// characters). Verify it with the concert's keys (`GET /api/concert/{id}/checkin/keys`).
    pub secret: String,
    /// The key that signed the secret.
    pub key_id: String,
    #[serde(serialize_with = "serialize_kst")]
    #[schema(value_type = String)]
    pub issued_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::domain::time::serialize_kst_opt")]
    #[schema(value_type = Option<String>)]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<TicketRow> for TicketResponse {
    fn from(t: TicketRow) -> Self {
        TicketResponse {
            id: t.id,
            reservation_id: t.reservation_id,
            concert_id: t.concert_id,
            concert_title: t.concert_title,
            concert_date: t.concert_date,
            venue: t.venue,
            seat_id: t.seat_id,
            section: t.section,
            row: t.row,
            number: t.number,
            grade: t.grade,
            status: t.status,
            secret: t.secret,
            key_id: t.key_id,
            issued_at: t.issued_at,
            revoked_at: t.revoked_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MyTicketsQuery {
    /// Only tickets with a smaller id (the last id of the previous page).
    #[param(minimum = 1)]
    pub before: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TicketPath {
    /// Ticket id.
    pub id: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ConcertPath {
    /// Concert id.
    pub id: i64,
}

/// The caller's tickets, newest first.
#[utoipa::path(get, path = "/api/tickets/my", tag = TAG, params(MyTicketsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Up to 100 tickets; ask again with `before` = the last id for more", body = Vec<TicketResponse>),
        (status = 400, description = "`before` is not a positive integer", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn list_my_tickets(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppQuery(query): AppQuery<MyTicketsQuery>,
) -> AppResult<AppJson<Vec<TicketResponse>>> {
    if query.before.is_some_and(|b| b < 1) {
        return Err(AppError::field("before", FieldProblem::Positive));
    }
    let tickets = state.tickets.mine(user.user_id, query.before, MY_TICKETS_PAGE).await?;
    Ok(AppJson(tickets.into_iter().map(Into::into).collect()))
}

/// One ticket (its owner or an admin; 404 for anyone else).
#[utoipa::path(get, path = "/api/tickets/{id}", tag = TAG, params(TicketPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The ticket", body = TicketResponse),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "`TICKET_NOT_FOUND`: no such ticket, or not the caller's", body = ErrorBody),
    ))]
pub async fn get_ticket(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppPath(TicketPath { id }): AppPath<TicketPath>,
) -> AppResult<AppJson<TicketResponse>> {
    let ticket = state.tickets.get(id, user.user_id, user.role == Role::Admin).await?;
    Ok(AppJson(ticket.into()))
}

/// A ticket's QR code, as SVG (its owner or an admin).
#[utoipa::path(get, path = "/api/tickets/{id}/qr.svg", tag = TAG, params(TicketPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The QR code of the ticket's secret", content_type = "image/svg+xml", body = String),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "`TICKET_NOT_FOUND`: no such ticket, or not the caller's", body = ErrorBody),
    ))]
pub async fn get_ticket_qr(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppPath(TicketPath { id }): AppPath<TicketPath>,
) -> AppResult<Response> {
    let ticket = state.tickets.get(id, user.user_id, user.role == Role::Admin).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            // The secret is the ticket: no shared cache may keep it.
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        qr::svg(&ticket.secret, 320),
    )
        .into_response())
}

/// A key that verifies a concert's ticket secrets.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerificationKey {
    /// The first 8 bytes of SHA-256 of the public key, in hex.
    pub key_id: String,
    #[schema(example = "Ed25519")]
    pub algorithm: &'static str,
    /// The raw 32-byte Ed25519 public key, base64url without padding.
    pub public_key: String,
    #[serde(serialize_with = "serialize_kst")]
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
    /// Set once the key signs no new tickets; its old secrets still verify.
    #[serde(serialize_with = "crate::domain::time::serialize_kst_opt")]
    #[schema(value_type = Option<String>)]
    pub retired_at: Option<DateTime<Utc>>,
}

/// The keys of one concert.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerificationKeys {
    pub concert_id: i64,
    /// Empty until the concert's first ticket is issued.
    pub keys: Vec<VerificationKey>,
}

impl From<PublicKey> for VerificationKey {
    fn from(k: PublicKey) -> Self {
        VerificationKey {
            key_id: k.key_id,
            algorithm: "Ed25519",
            public_key: URL_SAFE_NO_PAD.encode(&k.public_key),
            created_at: k.created_at,
            retired_at: k.retired_at,
        }
    }
}

/// The public keys that verify a concert's ticket secrets offline (anyone may fetch them).
#[utoipa::path(get, path = "/api/concert/{id}/checkin/keys", tag = TAG, params(ConcertPath),
    responses(
        (status = 200, description = "The concert's verification keys", body = VerificationKeys),
        (status = 404, description = "`CONCERT_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn get_checkin_keys(
    State(state): State<AppState>,
    AppPath(ConcertPath { id }): AppPath<ConcertPath>,
) -> AppResult<AppJson<VerificationKeys>> {
    let keys = state.tickets.keys(id).await?;
    Ok(AppJson(VerificationKeys {
        concert_id: id,
        keys: keys.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RevokedQuery {
    /// Only revocations after this sequence number (the `next` of the previous answer; 0 or
    /// absent for all).
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    pub since: Option<u64>,
}

/// A revoked secret.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevokedSecret {
    pub seq: i64,
    pub ticket_id: i64,
    pub secret: String,
    #[serde(serialize_with = "serialize_kst")]
    #[schema(value_type = String)]
    pub revoked_at: DateTime<Utc>,
}

/// Revoked secrets, in order.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevokedSecrets {
    pub revoked: Vec<RevokedSecret>,
    /// Ask again with `since` = this.
    pub next: i64,
    /// More follow right away.
    pub more: bool,
}

impl From<Revocation> for RevokedSecret {
    fn from(r: Revocation) -> Self {
        RevokedSecret {
            seq: r.seq,
            ticket_id: r.ticket_id,
            secret: r.secret,
            revoked_at: r.revoked_at,
        }
    }
}

/// The concert's revoked secrets since a sequence number, for scanners working offline (staff
/// or admins).
#[utoipa::path(get, path = "/api/concert/{id}/checkin/revoked", tag = TAG, params(ConcertPath, RevokedQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Up to 1000 revocations after `since`", body = RevokedSecrets),
        (status = 400, description = "`since` is not a non-negative integer", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not staff or an admin", body = ErrorBody),
        (status = 404, description = "`CONCERT_NOT_FOUND`", body = ErrorBody),
    ))]
pub async fn get_checkin_revoked(
    State(state): State<AppState>,
    _staff: StaffUser,
    AppPath(ConcertPath { id }): AppPath<ConcertPath>,
    AppQuery(query): AppQuery<RevokedQuery>,
) -> AppResult<AppJson<RevokedSecrets>> {
    let since = i64::try_from(query.since.unwrap_or(0))
        .map_err(|_| AppError::field("since", FieldProblem::Range { min: 0, max: i64::MAX }))?;
    let page = state.tickets.revoked(id, since, REVOKED_PAGE).await?;
    Ok(AppJson(RevokedSecrets {
        revoked: page.revoked.into_iter().map(Into::into).collect(),
        next: page.next,
        more: page.more,
    }))
}
