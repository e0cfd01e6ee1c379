//! Payment outcomes from the provider: signed webhooks applied exactly once, refunds that are
//! never lost, and the payment view.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgPool;
use utoipa::ToSchema;

use super::{cooldown::Cooldowns, tickets::Tickets, waitlist};
use crate::{
    clients::{
        gateway::{PaymentGateway, Simulator},
        holds::{Holds, ReservationEnd},
        queue::Queue,
    },
    domain::{
        money::Money,
        reservation::{
            self, Payment, PaymentState, PaymentStatus, ReservationStatus, WebhookOutcome,
            WebhookStatus,
        },
    },
    error::{AppResult, ErrorCode},
    repositories::{
        outbox,
        payments::{self as repo, LockedPayment},
        reservations,
    },
};

/// Refunds asked of the provider per round.
pub const REFUND_BATCH: i64 = 50;

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

/// What the provider simulator was asked to deliver.
#[derive(Debug, Clone)]
pub struct SimulatedDelivery {
    pub event_id: String,
    pub transaction_id: String,
}

/// Payments: provider events, refunds, the payment view, and the simulator's side.
#[derive(Clone)]
pub struct Payments {
    db: PgPool,
    holds: Holds,
    queue: Queue,
    gateway: Arc<dyn PaymentGateway>,
    simulator: Option<Arc<Simulator>>,
    cooldowns: Cooldowns,
    tickets: Tickets,
}

impl Payments {
    pub fn new(
        db: PgPool,
        holds: Holds,
        queue: Queue,
        gateway: Arc<dyn PaymentGateway>,
        simulator: Option<Arc<Simulator>>,
        cooldowns: Cooldowns,
        tickets: Tickets,
    ) -> Self {
        Payments { db, holds, queue, gateway, simulator, cooldowns, tickets }
    }

    /// Applies one delivery in one transaction, with the payment row locked: a redelivery of an
    /// event returns its stored result and changes nothing; a late or contradictory event is
    /// recorded and never confirms.
    #[tracing::instrument(skip_all, fields(event.id = %event.event_id, transaction.id = %event.transaction_id))]
    pub async fn apply_webhook(&self, event: WebhookEvent) -> AppResult<WebhookResult> {
        let mut tx = self.db.begin().await?;
        let Some(payment) = repo::lock_by_transaction(&mut tx, &event.transaction_id).await? else {
            metrics::counter!("ticketing_webhooks_total", "outcome" => "UNKNOWN_TRANSACTION")
                .increment(1);
            return Err(ErrorCode::PAYMENT_NOT_FOUND.into());
        };
        if let Some(stored) = repo::find_event(&mut tx, &event.event_id).await? {
            metrics::counter!("ticketing_webhooks_total", "outcome" => "REDELIVERED").increment(1);
            return replay(stored);
        }

        let transition = reservation::on_webhook(
            PaymentState {
                payment: payment.status,
                reservation: payment.reservation_status,
                expired: payment.expire_time <= Utc::now(),
                amount_matches: event.amount.decimal() == payment.amount
                    && event.currency.eq_ignore_ascii_case(&payment.currency),
            },
            event.status,
        );
        let outcome = transition.outcome;
        match outcome {
            WebhookOutcome::Confirmed => {
                repo::confirm(&mut tx, &payment, &ticket_code()).await?;
                self.tickets
                    .issue(&mut tx, payment.reservation_id, payment.concert_id, payment.user_id)
                    .await?;
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
            reservation_status: transition.reservation,
            payment_status: transition.payment,
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
        // Read now, on the connection in hand: after the commit, Redis must hear about the
        // seats, and a pool with no connection to spare then would leave them shown RESERVED
        // (free to hold once their keys lapse, and refused at checkout).
        let ends = matches!(
            outcome,
            WebhookOutcome::Confirmed | WebhookOutcome::Failed | WebhookOutcome::LateRefunded
        );
        let seats: Vec<i64> = if ends {
            reservations::seat_ids(&mut tx, &[payment.reservation_id])
                .await?
                .into_iter()
                .map(|s| s.seat_id)
                .collect()
        } else {
            Vec::new()
        };
        tx.commit().await?;
        metrics::counter!("ticketing_webhooks_total", "outcome" => outcome.as_str()).increment(1);
        self.after_commit(&payment, outcome, &seats).await;
        if outcome == WebhookOutcome::AmountMismatch {
            return Err(ErrorCode::AMOUNT_MISMATCH.into());
        }
        Ok(result)
    }
}

fn replay(stored: repo::StoredEvent) -> AppResult<WebhookResult> {
    if stored.outcome == WebhookOutcome::AmountMismatch.as_str() {
        return Err(ErrorCode::AMOUNT_MISMATCH.into());
    }
    Ok(serde_json::from_value(stored.response).map_err(anyhow::Error::from)?)
}

async fn owe_email(conn: &mut sqlx::PgConnection, kind: &str, p: &LockedPayment) -> AppResult<()> {
    outbox::insert(
        conn,
        kind,
        json!({"reservationId": p.reservation_id, "userId": p.user_id, "transactionId": p.transaction_id}),
    )
    .await?;
    Ok(())
}

impl Payments {
    /// Redis and the provider, once the database has decided.
    async fn after_commit(&self, p: &LockedPayment, outcome: WebhookOutcome, seats: &[i64]) {
        let end = match outcome {
            WebhookOutcome::Confirmed => Some(ReservationEnd::Confirmed),
            WebhookOutcome::Failed => Some(ReservationEnd::Expired),
            WebhookOutcome::LateRefunded
                if p.reservation_status == ReservationStatus::InProgress =>
            {
                Some(ReservationEnd::Expired)
            }
            _ => None,
        };
        if let Some(end) = end {
            let result = self
                .holds
                .end_reservation(p.concert_id, p.user_id, p.reservation_id, seats, end)
                .await;
            if let Err(e) = result {
                // The seats' keys lapse by themselves; the database already decided.
                tracing::warn!(error = %e, "could not update seats in Redis");
            }
            if end == ReservationEnd::Confirmed {
                // Payment success on a waitlist offer: the entry is PURCHASED.
                if let Err(e) =
                    waitlist::purchased(&self.db, &self.holds, p.user_id, p.concert_id).await
                {
                    tracing::warn!(error = %e, "could not mark the waitlist entry purchased");
                }
            } else {
                waitlist::record_outcomes_soon(&self.db, &self.holds, p.concert_id).await;
            }
        }
        if outcome == WebhookOutcome::Failed {
            // A decline late in the time to pay counts towards the checkout cool-down.
            self.cooldowns.after_unpaid(&[p.user_id]).await;
        }
        if matches!(outcome, WebhookOutcome::Confirmed | WebhookOutcome::Failed)
            && let Err(e) = self.queue.finish(p.concert_id, p.user_id).await
        {
            // The admission lapses by itself after QUEUE_ACTIVE_TTL_SECS.
            tracing::warn!(error = %e, "could not end the queue admission");
        }
        match outcome {
            WebhookOutcome::Confirmed => {
                metrics::counter!("ticketing_payments_total", "status" => "SUCCESS").increment(1);
                metrics::counter!("ticketing_reservations_total", "status" => "CONFIRMED")
                    .increment(1);
            }
            WebhookOutcome::Failed => {
                metrics::counter!("ticketing_payments_total", "status" => "FAILED").increment(1);
                metrics::counter!("ticketing_reservations_total", "status" => "FAILED")
                    .increment(1);
            }
            WebhookOutcome::LateRefunded => {
                metrics::counter!("ticketing_payments_total", "status" => "REFUNDED").increment(1);
                // Ask the provider now rather than at the worker's next round.
                let this = self.clone();
                tokio::spawn(async move {
                    if let Err(e) = this.request_refunds(REFUND_BATCH).await {
                        tracing::warn!(error = %e, "refund request failed; the worker retries");
                    }
                });
            }
            _ => {}
        }
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

impl Payments {
    /// A payment, for its owner or an admin (404 for anyone else).
    pub async fn view(
        &self,
        transaction_id: &str,
        viewer: i64,
        is_admin: bool,
    ) -> AppResult<Payment> {
        self.find(transaction_id)
            .await?
            .filter(|p| is_admin || p.user_id == viewer)
            .ok_or_else(|| ErrorCode::PAYMENT_NOT_FOUND.into())
    }

    async fn find(&self, transaction_id: &str) -> AppResult<Option<Payment>> {
        if transaction_id.contains('\0') {
            return Ok(None); // never stored, so not a payment of ours
        }
        Ok(repo::find_view(&mut *self.db.acquire().await?, transaction_id).await?)
    }

    /// Asks the provider for every pending refund; returns how many it confirmed.
    pub async fn request_refunds(&self, batch: i64) -> AppResult<usize> {
        let mut tx = self.db.begin().await?;
        let pending = repo::pending_refunds(&mut tx, batch).await?;
        let mut confirmed = 0;
        for refund in pending {
            match self.gateway.refund(&refund.transaction_id, refund.amount).await {
                Ok(()) => {
                    repo::confirm_refund(&mut tx, refund.id).await?;
                    confirmed += 1;
                }
                Err(e) => {
                    tracing::warn!(error = %e, transaction.id = %refund.transaction_id, "refund not accepted yet")
                }
            }
        }
        tx.commit().await?;
        Ok(confirmed)
    }

    fn simulator(&self) -> AppResult<&Arc<Simulator>> {
        self.simulator.as_ref().ok_or_else(|| ErrorCode::NOT_FOUND.into())
    }

    /// The payment as the provider simulator's checkout page shows it (dev and tests).
    pub async fn simulator_payment(&self, transaction_id: &str) -> AppResult<Payment> {
        self.simulator()?;
        self.find(transaction_id).await?.ok_or_else(|| ErrorCode::PAYMENT_NOT_FOUND.into())
    }

    /// The simulator approves or declines the payment and delivers the signed webhook.
    pub async fn simulate_outcome(
        &self,
        transaction_id: &str,
        succeeded: bool,
    ) -> AppResult<SimulatedDelivery> {
        let simulator = self.simulator()?;
        let p = self.find(transaction_id).await?.ok_or(ErrorCode::PAYMENT_NOT_FOUND)?;
        let event_id =
            simulator.deliver(&p.transaction_id, succeeded, Money::from(p.amount), &p.currency);
        Ok(SimulatedDelivery { event_id, transaction_id: p.transaction_id })
    }

    /// Transactions the simulator has refunded.
    pub fn simulated_refunds(&self) -> AppResult<Vec<String>> {
        Ok(self.simulator()?.refunds())
    }
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
