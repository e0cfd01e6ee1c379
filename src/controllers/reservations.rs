//! `/api/reservations`: a fan's reservations, cancellation, and the admin lists.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{AdminUser, AppJson, AppPath, AppQuery, AuthUser, Language};
use crate::{
    domain::{
        check::Check,
        money::Money,
        page::{Page, PageParams},
        reservation::{PaymentStatus, ReservationStatus},
        time::serialize_kst,
        user::Role,
    },
    error::{AppResult, ErrorBody, Lang},
    services::reservations::ReservationView,
    state::AppState,
};

const TAG: &str = "reservation";

/// A reservation as the original's `ReservationResponse`, plus its payment.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReservationResponse {
    pub reservation_id: i64,
    pub user_email: String,
    pub concert_id: i64,
    pub concert_title: String,
    #[serde(serialize_with = "serialize_kst")]
    pub concert_date: DateTime<Utc>,
    pub status: ReservationStatus,
    #[serde(serialize_with = "serialize_kst")]
    pub reservation_time: DateTime<Utc>,
    #[serde(serialize_with = "serialize_kst")]
    pub expire_time: DateTime<Utc>,
    pub seats: Vec<SeatInfo>,
    pub total_amount: Option<Money>,
    pub payment_status: Option<PaymentStatus>,
    pub transaction_id: Option<String>,
    pub cancel_reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatInfo {
    pub seat_id: i64,
    pub section: String,
    pub row: String,
    pub number: String,
    pub grade: String,
    pub price: Money,
}

impl From<ReservationView> for ReservationResponse {
    fn from(v: ReservationView) -> Self {
        let r = v.reservation;
        ReservationResponse {
            reservation_id: r.id,
            user_email: r.user_email,
            concert_id: r.concert_id,
            concert_title: r.concert_title,
            concert_date: r.concert_date,
            status: r.status,
            reservation_time: r.reservation_time,
            expire_time: r.expire_time,
            seats: v
                .seats
                .into_iter()
                .map(|s| SeatInfo {
                    seat_id: s.seat_id,
                    section: s.section,
                    row: s.row,
                    number: s.number,
                    grade: s.grade,
                    price: s.price.into(),
                })
                .collect(),
            total_amount: r.total_amount.map(Money::from),
            payment_status: r.payment_status,
            transaction_id: r.transaction_id,
            cancel_reason: r.cancel_reason,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ReservationPath {
    /// Reservation id.
    #[serde(rename = "reservationId")]
    #[param(rename = "reservationId")]
    pub reservation_id: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ConcertPath {
    /// Concert id.
    #[serde(rename = "concertId")]
    #[param(rename = "concertId")]
    pub concert_id: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancelRequest {
    #[schema(required = true, value_type = i64)]
    #[serde(default, deserialize_with = "super::extract::integer::option")]
    pub reservation_id: Option<i64>,
    /// Why (up to 500 characters).
    #[schema(max_length = 500, example = "일정 변경")]
    pub cancel_reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancelResponse {
    pub reservation_id: i64,
    pub status: ReservationStatus,
    pub refund_amount: Money,
    pub success: bool,
    pub message: String,
}

/// The signed-in fan's reservations, newest first.
#[utoipa::path(get, path = "/api/reservations/my", tag = TAG, params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of reservations", body = Page<ReservationResponse>),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn list_my_reservations(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppQuery(page): AppQuery<PageParams>,
) -> AppResult<AppJson<Page<ReservationResponse>>> {
    let page = state.reservations.page(Some(user.user_id), None, page.request()?).await?;
    Ok(AppJson(page.map(Into::into)))
}

/// One reservation (its owner or an admin; 404 for anyone else).
#[utoipa::path(get, path = "/api/reservations/{reservationId}", tag = TAG, params(ReservationPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The reservation", body = ReservationResponse),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND`: no such reservation, or not the caller's", body = ErrorBody),
    ))]
pub async fn get_reservation(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppPath(ReservationPath { reservation_id }): AppPath<ReservationPath>,
) -> AppResult<AppJson<ReservationResponse>> {
    let view =
        state.reservations.get(reservation_id, user.user_id, user.role == Role::Admin).await?;
    Ok(AppJson(view.into()))
}

/// Cancel one's confirmed reservation (up to two hours before the show) and get a refund.
#[utoipa::path(post, path = "/api/reservations/cancel", tag = TAG, request_body = CancelRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: the same key with the same body gets the stored answer for 24 h; with another body, 422 `IDEMPOTENCY_KEY_REUSED`")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Canceled and refunded", body = CancelResponse),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND`: no such reservation of the caller", body = ErrorBody),
        (status = 409, description = "`RESERVATION_ALREADY_PROCESSED`: already canceled", body = ErrorBody),
        (status = 422, description = "`RESERVATION_NOT_CONFIRMED` or `CANCELLATION_DEADLINE_PASSED`", body = ErrorBody),
    ))]
pub async fn cancel_reservation(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Language(lang): Language,
    AppJson(req): AppJson<CancelRequest>,
) -> AppResult<AppJson<CancelResponse>> {
    let mut check = Check::new();
    let id = check.required("reservationId", req.reservation_id);
    let reason = match req.cancel_reason {
        Some(r) => check.text("cancelReason", Some(r), 0, 500),
        None => Some(String::new()),
    };
    let (id, reason) = check.build(|| Some((id?, reason?)))?;
    let refund = state.reservations.cancel(user.user_id, id, &reason).await?;
    Ok(AppJson(CancelResponse {
        reservation_id: id,
        status: ReservationStatus::Canceled,
        refund_amount: refund.into(),
        success: true,
        message: match lang {
            Lang::Ko => "예약이 취소되었습니다. 결제 금액은 환불됩니다.".into(),
            Lang::En => "The reservation was canceled and the payment will be refunded.".into(),
        },
    }))
}

/// Every reservation, newest first (admin).
#[utoipa::path(get, path = "/api/reservations/admin/all", tag = TAG, params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of reservations", body = Page<ReservationResponse>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
pub async fn list_all_reservations(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppQuery(page): AppQuery<PageParams>,
) -> AppResult<AppJson<Page<ReservationResponse>>> {
    let page = state.reservations.page(None, None, page.request()?).await?;
    Ok(AppJson(page.map(Into::into)))
}

/// A concert's reservations, newest first (admin).
#[utoipa::path(get, path = "/api/reservations/admin/concert/{concertId}", tag = TAG, params(ConcertPath, PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of reservations", body = Page<ReservationResponse>),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    ))]
pub async fn list_concert_reservations(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppPath(ConcertPath { concert_id }): AppPath<ConcertPath>,
    AppQuery(page): AppQuery<PageParams>,
) -> AppResult<AppJson<Page<ReservationResponse>>> {
    let page = state.reservations.page(None, Some(concert_id), page.request()?).await?;
    Ok(AppJson(page.map(Into::into)))
}
