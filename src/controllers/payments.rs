//! `/api/payment`: checkout.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    extract::{AppJson, AuthUser},
    seats::check_seat_ids,
};
use crate::{
    domain::{
        money::Money,
        reservation::{PaymentMethod, ReservationStatus},
        time::serialize_kst,
    },
    error::{AppError, AppResult, ErrorBody, FieldProblem},
    services::reservations::{self as service, Checkout},
    state::AppState,
};

const TAG: &str = "payment";

/// Checkout of held seats: `seatId` (one seat, as the original) or `seatIds`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequest {
    /// One held seat.
    #[schema(example = 101)]
    pub seat_id: Option<i64>,
    /// Several held seats of one concert.
    #[schema(example = json!([101, 102]))]
    pub seat_ids: Option<Vec<i64>>,
    #[schema(required = true, value_type = PaymentMethod)]
    pub payment_method: Option<PaymentMethod>,
    /// What the client expects to pay; refused with `AMOUNT_MISMATCH` if it differs from the
    /// seats' prices. The server computes the amount either way.
    #[schema(value_type = Option<Money>)]
    pub amount: Option<Money>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentResponse {
    pub reservation_id: i64,
    /// `IN_PROGRESS` until the payment provider reports the outcome.
    pub status: ReservationStatus,
    pub amount: Money,
    /// Unguessable id of the payment, which the provider's webhook names.
    pub transaction_id: String,
    /// The payment was registered and awaits the provider.
    pub pg_request_success: bool,
    /// When the unpaid reservation expires and its seats come back.
    #[serde(serialize_with = "serialize_kst")]
    pub expires_at: DateTime<Utc>,
}

/// Check out held seats: one reservation (`IN_PROGRESS`) and its payment, in one transaction.
#[utoipa::path(post, path = "/api/payment", tag = TAG, request_body = PaymentRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Reservation created; pay before `expiresAt`", body = PaymentResponse),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "`SEAT_NOT_SELECTED` (the caller does not hold every seat) or `SEAT_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`RESERVATION_ALREADY_PROCESSED` (these seats are already being checked out) or `IS_ALREADY_RESERVATION`", body = ErrorBody),
        (status = 422, description = "`AMOUNT_MISMATCH`, `SEAT_LIMIT_EXCEEDED`, `DUPLICATE_SEAT_IN_REQUEST`, sale not open or closed", body = ErrorBody),
    ))]
pub async fn create_payment(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppJson(req): AppJson<PaymentRequest>,
) -> AppResult<AppJson<PaymentResponse>> {
    let max = state.settings.max_seats_per_user as usize;
    let seat_ids = match (req.seat_id, req.seat_ids) {
        (Some(id), None) => vec![id],
        (None, ids @ Some(_)) => check_seat_ids(ids, max)?,
        (None, None) => return Err(AppError::field("seatIds", FieldProblem::Required)),
        (Some(_), Some(_)) => {
            return Err(AppError::field(
                "seatId",
                FieldProblem::Invalid("give seatId or seatIds, not both".into()),
            ));
        }
    };
    let method = req
        .payment_method
        .ok_or_else(|| AppError::field("paymentMethod", FieldProblem::Required))?;
    if req.amount.is_some_and(|a| !a.is_positive()) {
        return Err(AppError::field("amount", FieldProblem::Positive));
    }
    let started =
        service::checkout(&state, user.user_id, Checkout { seat_ids, method, amount: req.amount })
            .await?;
    Ok(AppJson(PaymentResponse {
        reservation_id: started.reservation_id,
        status: ReservationStatus::InProgress,
        amount: started.amount.into(),
        transaction_id: started.transaction_id,
        pg_request_success: true,
        expires_at: started.expires_at,
    }))
}
