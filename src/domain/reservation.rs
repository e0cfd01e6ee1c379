//! Reservations and payments: their states and what moves them.

use crate::error::{AppResult, ErrorCode};

crate::text_enum! {
    /// Where a reservation stands. `IN_PROGRESS` and `CONFIRMED` are active (they own their seats).
    pub enum ReservationStatus {
        InProgress = "IN_PROGRESS",
        Confirmed = "CONFIRMED",
        Failed = "FAILED",
        Canceled = "CANCELED",
        Expired = "EXPIRED",
    }
}

crate::text_enum! {
    /// Where a payment stands.
    pub enum PaymentStatus {
        InProgress = "IN_PROGRESS",
        Success = "SUCCESS",
        Failed = "FAILED",
        Canceled = "CANCELED",
        Refunded = "REFUNDED",
    }
}

crate::text_enum! {
    /// How the fan pays.
    pub enum PaymentMethod {
        CreditCard = "CREDIT_CARD",
        BankTransfer = "BANK_TRANSFER",
    }
}

crate::text_enum! {
    /// What the payment provider reports.
    pub enum WebhookStatus {
        Success = "SUCCESS",
        Failed = "FAILED",
    }
}

crate::text_enum! {
    /// What a provider event does to a payment.
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

/// A provider event's effect: its outcome and the states it leaves behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub outcome: WebhookOutcome,
    pub reservation: ReservationStatus,
    pub payment: PaymentStatus,
}

/// Where a payment and its reservation stand when an event arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentState {
    pub payment: PaymentStatus,
    pub reservation: ReservationStatus,
    /// The reservation's time to pay is over.
    pub expired: bool,
    /// The event's amount and currency are what is owed.
    pub amount_matches: bool,
}

/// The payment state machine: what a provider event does. Money that arrives for a
/// reservation that can no longer be confirmed is refunded; nothing ever revives a reservation.
pub fn on_webhook(state: PaymentState, reported: WebhookStatus) -> Transition {
    use PaymentStatus as P;
    use ReservationStatus as R;
    use WebhookOutcome as O;
    let to = |outcome, reservation, payment| Transition { outcome, reservation, payment };
    if !state.amount_matches {
        return to(O::AmountMismatch, state.reservation, state.payment);
    }
    match (reported, state.payment, state.reservation) {
        (WebhookStatus::Success, P::InProgress, R::InProgress) if !state.expired => {
            to(O::Confirmed, R::Confirmed, P::Success)
        }
        (WebhookStatus::Success, P::InProgress, _) => to(O::LateRefunded, R::Expired, P::Refunded),
        // Money taken after the provider itself said it failed, or after expiry: give it back.
        (WebhookStatus::Success, P::Failed, r) => to(O::LateRefunded, r, P::Refunded),
        (WebhookStatus::Failed, P::InProgress, R::InProgress) => {
            to(O::Failed, R::Failed, P::Failed)
        }
        (_, payment, reservation) => to(O::Ignored, reservation, payment),
    }
}

impl ReservationStatus {
    /// Only a confirmed reservation can be canceled (and only once).
    pub fn check_cancelable(self) -> AppResult<()> {
        match self {
            ReservationStatus::Confirmed => Ok(()),
            ReservationStatus::Canceled => Err(ErrorCode::RESERVATION_ALREADY_PROCESSED.into()),
            _ => Err(ErrorCode::RESERVATION_NOT_CONFIRMED.into()),
        }
    }
}

/// A reservation with what its views show: buyer, concert, payment.
#[derive(Debug, Clone)]
pub struct Reservation {
    pub id: i64,
    pub user_id: i64,
    pub user_email: String,
    pub concert_id: i64,
    pub concert_title: String,
    pub concert_date: chrono::DateTime<chrono::Utc>,
    pub status: ReservationStatus,
    pub reservation_time: chrono::DateTime<chrono::Utc>,
    pub expire_time: chrono::DateTime<chrono::Utc>,
    pub cancel_reason: Option<String>,
    pub total_amount: Option<rust_decimal::Decimal>,
    pub payment_status: Option<PaymentStatus>,
    pub transaction_id: Option<String>,
}

/// A seat of a reservation.
#[derive(Debug, Clone)]
pub struct ReservationSeat {
    pub reservation_id: i64,
    pub seat_id: i64,
    pub section: String,
    pub row: String,
    pub number: String,
    pub grade: String,
    pub price: rust_decimal::Decimal,
}

/// A payment as its owner sees it.
#[derive(Debug, Clone)]
pub struct Payment {
    pub transaction_id: String,
    pub reservation_id: i64,
    pub user_id: i64,
    pub status: PaymentStatus,
    pub method: PaymentMethod,
    pub amount: rust_decimal::Decimal,
    pub currency: String,
    pub checkout_url: Option<String>,
    pub paid_at: Option<chrono::DateTime<chrono::Utc>>,
    pub refunded_at: Option<chrono::DateTime<chrono::Utc>>,
    pub refund_amount: Option<rust_decimal::Decimal>,
    pub refund_confirmed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub flagged_reason: Option<String>,
    pub reservation_status: ReservationStatus,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A confirmed reservation can be canceled until this long before the show.
pub const CANCEL_DEADLINE: chrono::TimeDelta = chrono::TimeDelta::hours(2);

impl ReservationStatus {
    pub fn is_active(self) -> bool {
        matches!(self, ReservationStatus::InProgress | ReservationStatus::Confirmed)
    }
}

/// An unguessable payment transaction id (128 random bits).
pub fn new_transaction_id() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    format!("tx_{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_ids_are_random_and_long() {
        let a = new_transaction_id();
        assert_eq!(a.len(), 35);
        assert_ne!(a, new_transaction_id());
    }

    fn state(payment: PaymentStatus, reservation: ReservationStatus) -> PaymentState {
        PaymentState { payment, reservation, expired: false, amount_matches: true }
    }

    #[test]
    fn payment_events_move_states_once_and_never_revive() {
        use PaymentStatus as P;
        use ReservationStatus as R;
        use WebhookOutcome as O;
        use WebhookStatus::{Failed, Success};
        let t = |s, e| {
            let t = on_webhook(s, e);
            (t.outcome, t.reservation, t.payment)
        };
        let open = state(P::InProgress, R::InProgress);
        assert_eq!(t(open, Success), (O::Confirmed, R::Confirmed, P::Success));
        assert_eq!(t(open, Failed), (O::Failed, R::Failed, P::Failed));
        let late = PaymentState { expired: true, ..open };
        assert_eq!(t(late, Success), (O::LateRefunded, R::Expired, P::Refunded));
        assert_eq!(
            t(state(P::Failed, R::Failed), Success),
            (O::LateRefunded, R::Failed, P::Refunded)
        );
        assert_eq!(
            t(state(P::Success, R::Confirmed), Success),
            (O::Ignored, R::Confirmed, P::Success)
        );
        assert_eq!(
            t(state(P::Success, R::Confirmed), Failed),
            (O::Ignored, R::Confirmed, P::Success)
        );
        let wrong = PaymentState { amount_matches: false, ..open };
        assert_eq!(t(wrong, Success), (O::AmountMismatch, R::InProgress, P::InProgress));
    }

    #[test]
    fn only_confirmed_reservations_can_be_canceled() {
        assert!(ReservationStatus::Confirmed.check_cancelable().is_ok());
        assert!(ReservationStatus::Canceled.check_cancelable().is_err());
        assert!(ReservationStatus::InProgress.check_cancelable().is_err());
    }

    #[test]
    fn active_states() {
        assert!(ReservationStatus::InProgress.is_active());
        assert!(ReservationStatus::Confirmed.is_active());
        assert!(!ReservationStatus::Expired.is_active());
        assert_eq!("CANCELED".parse::<ReservationStatus>(), Ok(ReservationStatus::Canceled));
    }
}
