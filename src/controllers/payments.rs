//! `/api/payment`: checkout.

use axum::{body::Bytes, extract::State, http::HeaderMap};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    extract::{AppJson, AppPath, AuthUser, parse_json},
    seats::check_seat_ids,
};
use crate::{
    domain::{
        check::Check,
        money::Money,
        reservation::{PaymentMethod, PaymentStatus, ReservationStatus, WebhookStatus},
        signature,
        time::{InputTimestamp, serialize_kst, serialize_kst_opt},
        user::Role,
    },
    error::{AppError, AppResult, ErrorBody, ErrorCode, FieldProblem},
    services::{
        payments::{WebhookEvent, WebhookResult},
        reservations::Checkout,
    },
    state::AppState,
};

const TAG: &str = "payment";

/// Checkout of held seats: `seatId` (one seat, as the original) or `seatIds`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequest {
    /// One held seat.
    #[schema(example = 101)]
    #[serde(default, deserialize_with = "super::extract::integer::option")]
    pub seat_id: Option<i64>,
    /// Several held seats of one concert.
    #[schema(example = json!([101, 102]))]
    #[serde(default, deserialize_with = "super::extract::integer::option_vec")]
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
    /// The payment provider accepted the payment; the fan completes it at `checkoutUrl`.
    pub pg_request_success: bool,
    /// Where the fan pays (the provider's page).
    pub checkout_url: Option<String>,
    /// When the unpaid reservation expires and its seats come back.
    #[serde(serialize_with = "serialize_kst")]
    pub expires_at: DateTime<Utc>,
}

/// Check out held seats: one reservation (`IN_PROGRESS`) and its payment, in one transaction.
#[utoipa::path(post, path = "/api/payment", tag = TAG, request_body = PaymentRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: the same key with the same body gets the stored answer for 24 h; with another body, 422 `IDEMPOTENCY_KEY_REUSED`")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Reservation created; pay before `expiresAt`", body = PaymentResponse),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "`QUEUE_NOT_ADMITTED`: the concert has a waiting room and the caller is not admitted (yet)", body = ErrorBody),
        (status = 404, description = "`SEAT_NOT_SELECTED` (the caller does not hold every seat) or `SEAT_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`RESERVATION_ALREADY_PROCESSED` (these seats are already being checked out) or `IS_ALREADY_RESERVATION`", body = ErrorBody),
        (status = 422, description = "`AMOUNT_MISMATCH`, `SEAT_LIMIT_EXCEEDED`, `DUPLICATE_SEAT_IN_REQUEST`, sale not open or closed", body = ErrorBody),
        (status = 429, description = "`CHECKOUT_COOLDOWN`: the account let too many checkouts end unpaid and is paused", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until the cool-down ends"))),
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
    let checkout = Checkout { seat_ids, method, amount: req.amount };
    let started = state.reservations.checkout(user.user_id, checkout).await?;
    Ok(AppJson(PaymentResponse {
        reservation_id: started.reservation_id,
        status: ReservationStatus::InProgress,
        amount: started.amount.into(),
        transaction_id: started.transaction_id,
        pg_request_success: started.checkout_url.is_some(),
        checkout_url: started.checkout_url,
        expires_at: started.expires_at,
    }))
}

/// The provider's webhook body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookRequest {
    #[schema(required = true, value_type = String, example = "evt_01")]
    pub event_id: Option<String>,
    #[schema(required = true, value_type = String)]
    pub transaction_id: Option<String>,
    #[schema(required = true, value_type = WebhookStatus)]
    pub status: Option<WebhookStatus>,
    #[schema(required = true, value_type = Money)]
    pub amount: Option<Money>,
    #[schema(required = true, value_type = String, example = "KRW")]
    pub currency: Option<String>,
    #[schema(value_type = Option<InputTimestamp>)]
    pub occurred_at: Option<InputTimestamp>,
}

/// The payment provider reports an outcome. Signed: `X-Payment-Signature: t=<unix seconds>,
/// v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` (see docs/PAYMENTS.md). Each event applies
/// once; a redelivery gets the first answer.
#[utoipa::path(post, path = "/api/payment/webhook", tag = TAG, request_body = WebhookRequest,
    params(("X-Payment-Signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256>")),
    responses(
        (status = 200, description = "Applied (or recorded without effect, see `outcome`)", body = WebhookResult),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "`INVALID_SIGNATURE`: missing, wrong, or older than 300 s", body = ErrorBody),
        (status = 404, description = "`PAYMENT_NOT_FOUND`: unknown transaction", body = ErrorBody),
        (status = 422, description = "`AMOUNT_MISMATCH`: amount or currency differs from what is owed; the payment is flagged", body = ErrorBody),
    ))]
pub async fn receive_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<AppJson<WebhookResult>> {
    let secrets: Vec<&[u8]> = state
        .settings
        .payment_webhook_secrets
        .iter()
        .map(|s| s.expose_secret().as_bytes())
        .collect();
    let header = headers.get("x-payment-signature").and_then(|v| v.to_str().ok());
    if let Err(why) = signature::verify(header, &body, &secrets, Utc::now().timestamp()) {
        tracing::warn!(reason = ?why, "webhook signature refused");
        metrics::counter!("ticketing_webhooks_total", "outcome" => "INVALID_SIGNATURE")
            .increment(1);
        return Err(ErrorCode::INVALID_SIGNATURE.into());
    }
    let req: WebhookRequest = parse_json(&body)?;
    let payload: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let mut check = Check::new();
    let event_id = check.text("eventId", req.event_id, 1, 100);
    let transaction_id = check.text("transactionId", req.transaction_id, 1, 64);
    let status = check.required("status", req.status);
    let amount = check.required("amount", req.amount);
    let currency = check.text("currency", req.currency, 3, 3);
    let event = check.build(|| {
        Some(WebhookEvent {
            event_id: event_id?,
            transaction_id: transaction_id?,
            status: status?,
            amount: amount?,
            currency: currency?,
            occurred_at: req.occurred_at.map(|t| t.0),
            payload,
        })
    })?;
    Ok(AppJson(state.payments.apply_webhook(event).await?))
}

/// A payment as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentStatusResponse {
    pub transaction_id: String,
    pub reservation_id: i64,
    pub status: PaymentStatus,
    pub reservation_status: ReservationStatus,
    pub method: PaymentMethod,
    pub amount: Money,
    pub currency: String,
    pub checkout_url: Option<String>,
    #[serde(serialize_with = "serialize_kst_opt")]
    #[schema(value_type = Option<String>)]
    pub paid_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "serialize_kst_opt")]
    #[schema(value_type = Option<String>)]
    pub refunded_at: Option<DateTime<Utc>>,
    pub refund_amount: Option<Money>,
    /// True once the provider confirmed the refund.
    pub refund_confirmed: bool,
    /// Why a webhook could not be applied (amount or currency mismatch), if one could not.
    pub flagged_reason: Option<String>,
    #[serde(serialize_with = "serialize_kst")]
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TransactionPath {
    /// The payment's transaction id.
    #[serde(rename = "transactionId")]
    #[param(rename = "transactionId")]
    pub transaction_id: String,
}

/// A payment's status (its owner or an admin).
#[utoipa::path(get, path = "/api/payment/{transactionId}", tag = TAG, params(TransactionPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The payment", body = PaymentStatusResponse),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "`PAYMENT_NOT_FOUND`: no such payment of the caller", body = ErrorBody),
    ))]
pub async fn get_payment(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppPath(TransactionPath { transaction_id }): AppPath<TransactionPath>,
) -> AppResult<AppJson<PaymentStatusResponse>> {
    let is_admin = user.role == Role::Admin;
    let p = state.payments.view(&transaction_id, user.user_id, is_admin).await?;
    Ok(AppJson(PaymentStatusResponse {
        transaction_id: p.transaction_id,
        reservation_id: p.reservation_id,
        status: p.status,
        reservation_status: p.reservation_status,
        method: p.method,
        amount: p.amount.into(),
        currency: p.currency,
        checkout_url: p.checkout_url,
        paid_at: p.paid_at,
        refunded_at: p.refunded_at,
        refund_amount: p.refund_amount.map(Money::from),
        refund_confirmed: p.refund_confirmed_at.is_some(),
        flagged_reason: p.flagged_reason,
        created_at: p.created_at,
    }))
}
