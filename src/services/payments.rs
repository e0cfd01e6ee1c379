//! Payment outcomes from the provider: signed webhooks applied exactly once, refunds that are
//! never lost, and the payment view.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::{
    clients::holds::ReservationEnd,
    domain::{
        money::Money,
        reservation::{PaymentStatus, ReservationStatus},
    },
    error::{AppResult, ErrorCode},
    repositories::{
        payments::{self as repo, LockedPayment, PaymentView},
        reservations,
    },
    state::AppState,
};

crate::text_enum! {
    /// What the provider reports.
    pub enum WebhookStatus {
        Success = "SUCCESS",
        Failed = "FAILED",
    }
}

/// A parsed webhook event.
#[derive(Debug, Clone)]
pub struct WebhookEvent {
    pub event_id: String,
    pub transaction_id: String,
    pub status: WebhookStatus,
    pub amount: Money,
    pub currency: String,
    pub occurred_at: Option<DateTime<Utc>>,
    /// The body as received, kept with the event.
    pub payload: Value,
}

crate::text_enum! {
    /// What a delivery did.
    pub enum WebhookOutcome {
        /// The reservation is confirmed and the seats sold.
        Confirmed = "CONFIRMED",
        /// The reservation failed and its seats are free again.
        Failed = "FAILED",
        /// Money arrived too late (the reservation had expired or failed): refunded.
        LateRefunded = "LATE_REFUNDED",
        /// The amount or currency differs from what is owed: flagged, never confirmed.
        AmountMismatch = "AMOUNT_MISMATCH",
        /// The payment was already settled; the event is recorded and changes nothing.
        Ignored = "IGNORED",
    }
}

/// The answer to a delivery (stored, and replayed for a redelivery of the same event).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookResult {
    pub received: bool,
    pub event_id: String,
    pub transaction_id: String,
    pub outcome: WebhookOutcome,
    pub reservation_id: i64,
    pub reservation_status: ReservationStatus,
    pub payment_status: PaymentStatus,
}

/// Applies one delivery in one transaction, with the payment row locked: a redelivery of an
/// event returns its stored result and changes nothing; a late or contradictory event is
/// recorded and never confirms.
#[tracing::instrument(skip_all, fields(event.id = %event.event_id, transaction.id = %event.transaction_id))]
pub async fn apply_webhook(state: &AppState, event: WebhookEvent) -> AppResult<WebhookResult> {
    let mut tx = state.db.begin().await?;
    let Some(payment) = repo::lock_by_transaction(&mut tx, &event.transaction_id).await? else {
        metrics::counter!("ticketing_webhooks_total", "outcome" => "UNKNOWN_TRANSACTION")
            .increment(1);
        return Err(ErrorCode::PAYMENT_NOT_FOUND.into());
    };
    if let Some(stored) = repo::find_event(&mut tx, &event.event_id).await? {
        metrics::counter!("ticketing_webhooks_total", "outcome" => "REDELIVERED").increment(1);
        return replay(stored);
    }

    let (outcome, reservation_status, payment_status) = decide(&payment, &event);
    match outcome {
        WebhookOutcome::Confirmed => {
            repo::confirm(&mut tx, &payment, &ticket_code()).await?;
            owe_email(&mut tx, "booking_confirmed", &payment).await?;
        }
        WebhookOutcome::Failed => {
            repo::fail(&mut tx, &payment).await?;
            owe_email(&mut tx, "payment_failed", &payment).await?;
        }
        WebhookOutcome::LateRefunded => {
            repo::refund_late(&mut tx, &payment).await?;
            owe_email(&mut tx, "late_payment_refunded", &payment).await?;
        }
        WebhookOutcome::AmountMismatch => {
            let reason = format!(
                "webhook {} reported {} {}, owed {} {}",
                event.event_id,
                event.amount,
                event.currency,
                Money::from(payment.amount),
                payment.currency
            );
            repo::flag(&mut tx, payment.id, &reason).await?;
            tracing::warn!(%reason, "payment flagged");
        }
        WebhookOutcome::Ignored => {}
    }
    let result = WebhookResult {
        received: true,
        event_id: event.event_id.clone(),
        transaction_id: event.transaction_id.clone(),
        outcome,
        reservation_id: payment.reservation_id,
        reservation_status,
        payment_status,
    };
    repo::insert_event(
        &mut tx,
        &event.event_id,
        &event.transaction_id,
        event.status.as_str(),
        event.amount.decimal(),
        &event.currency,
        event.occurred_at,
        outcome.as_str(),
        &serde_json::to_value(&result).map_err(anyhow::Error::from)?,
        &event.payload,
    )
    .await?;
    tx.commit().await?;
    metrics::counter!("ticketing_webhooks_total", "outcome" => outcome.as_str()).increment(1);
    after_commit(state, &payment, outcome).await;
    if outcome == WebhookOutcome::AmountMismatch {
        return Err(ErrorCode::AMOUNT_MISMATCH.into());
    }
    Ok(result)
}

fn replay(stored: repo::StoredEvent) -> AppResult<WebhookResult> {
    if stored.outcome == WebhookOutcome::AmountMismatch.as_str() {
        return Err(ErrorCode::AMOUNT_MISMATCH.into());
    }
    Ok(serde_json::from_value(stored.response).map_err(anyhow::Error::from)?)
}

/// What an event does to a payment in its current state (and the states that result).
fn decide(
    p: &LockedPayment,
    e: &WebhookEvent,
) -> (WebhookOutcome, ReservationStatus, PaymentStatus) {
    use PaymentStatus as P;
    use ReservationStatus as R;
    use WebhookOutcome as O;
    if e.amount.decimal() != p.amount || !e.currency.eq_ignore_ascii_case(&p.currency) {
        return (O::AmountMismatch, p.reservation_status, p.status);
    }
    match (e.status, p.status, p.reservation_status) {
        (WebhookStatus::Success, P::InProgress, R::InProgress) if p.expire_time > Utc::now() => {
            (O::Confirmed, R::Confirmed, P::Success)
        }
        (WebhookStatus::Success, P::InProgress, _) => (O::LateRefunded, R::Expired, P::Refunded),
        // Money taken after the provider itself said it failed, or after expiry: give it back.
        (WebhookStatus::Success, P::Failed, r) => (O::LateRefunded, r, P::Refunded),
        (WebhookStatus::Failed, P::InProgress, R::InProgress) => (O::Failed, R::Failed, P::Failed),
        (_, status, r) => (O::Ignored, r, status),
    }
}

async fn owe_email(conn: &mut sqlx::PgConnection, kind: &str, p: &LockedPayment) -> AppResult<()> {
    crate::repositories::outbox::insert(
        conn,
        kind,
        json!({"reservationId": p.reservation_id, "userId": p.user_id, "transactionId": p.transaction_id}),
    )
    .await?;
    Ok(())
}

/// Redis and the provider, once the database has decided.
async fn after_commit(state: &AppState, p: &LockedPayment, outcome: WebhookOutcome) {
    let end = match outcome {
        WebhookOutcome::Confirmed => Some(ReservationEnd::Confirmed),
        WebhookOutcome::Failed => Some(ReservationEnd::Expired),
        WebhookOutcome::LateRefunded if p.reservation_status == ReservationStatus::InProgress => {
            Some(ReservationEnd::Expired)
        }
        _ => None,
    };
    if let Some(end) = end {
        let result = async {
            let mut conn = state.db.acquire().await?;
            let seats: Vec<i64> = reservations::seat_ids(&mut conn, &[p.reservation_id])
                .await?
                .into_iter()
                .map(|(_, seat)| seat)
                .collect();
            state
                .holds
                .end_reservation(p.concert_id, p.user_id, p.reservation_id, &seats, end)
                .await
        };
        if let Err(e) = result.await {
            // The seats' keys lapse by themselves; the database already decided.
            tracing::warn!(error = %e, "could not update seats in Redis");
        }
    }
    if matches!(outcome, WebhookOutcome::Confirmed | WebhookOutcome::Failed)
        && let Err(e) = state.queue.finish(p.concert_id, p.user_id).await
    {
        // The admission lapses by itself after QUEUE_ACTIVE_TTL_SECS.
        tracing::warn!(error = %e, "could not end the queue admission");
    }
    match outcome {
        WebhookOutcome::Confirmed => {
            metrics::counter!("ticketing_payments_total", "status" => "SUCCESS").increment(1);
            metrics::counter!("ticketing_reservations_total", "status" => "CONFIRMED").increment(1);
        }
        WebhookOutcome::Failed => {
            metrics::counter!("ticketing_payments_total", "status" => "FAILED").increment(1);
            metrics::counter!("ticketing_reservations_total", "status" => "FAILED").increment(1);
        }
        WebhookOutcome::LateRefunded => {
            metrics::counter!("ticketing_payments_total", "status" => "REFUNDED").increment(1);
            // Ask the provider now rather than at the worker's next round.
            let state = state.clone();
            tokio::spawn(async move {
                if let Err(e) = crate::workers::refunds::execute_once(&state).await {
                    tracing::warn!(error = %e, "refund request failed; the worker retries");
                }
            });
        }
        _ => {}
    }
}

/// `TK-` and 12 characters without look-alikes.
fn ticket_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 12];
    rand::fill(&mut bytes);
    let code: String =
        bytes.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect();
    format!("TK-{}-{}-{}", &code[..4], &code[4..8], &code[8..])
}

/// A payment, for its owner or an admin (404 for anyone else).
pub async fn view(
    state: &AppState,
    transaction_id: &str,
    viewer: i64,
    is_admin: bool,
) -> AppResult<PaymentView> {
    repo::find_view(&mut *state.db.acquire().await?, transaction_id)
        .await?
        .filter(|p| is_admin || p.user_id == viewer)
        .ok_or_else(|| ErrorCode::PAYMENT_NOT_FOUND.into())
}

/// Asks the provider for every pending refund; returns how many it confirmed.
pub async fn request_refunds(state: &AppState, batch: i64) -> AppResult<usize> {
    let mut tx = state.db.begin().await?;
    let pending = repo::pending_refunds(&mut tx, batch).await?;
    let mut confirmed = 0;
    for (id, transaction_id, amount) in pending {
        match state.gateway.refund(&transaction_id, amount).await {
            Ok(()) => {
                repo::confirm_refund(&mut tx, id).await?;
                confirmed += 1;
            }
            Err(e) => {
                tracing::warn!(error = %e, transaction.id = %transaction_id, "refund not accepted yet")
            }
        }
    }
    tx.commit().await?;
    Ok(confirmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_codes_are_readable_and_random() {
        let a = ticket_code();
        assert_eq!(a.len(), 17);
        assert!(a.starts_with("TK-"));
        assert_ne!(a, ticket_code());
    }
}
