//! Reservations and payments: their states and what moves them.

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
    format!("tx_{}", crate::services::tokens::hex(&bytes))
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

    #[test]
    fn active_states() {
        assert!(ReservationStatus::InProgress.is_active());
        assert!(ReservationStatus::Confirmed.is_active());
        assert!(!ReservationStatus::Expired.is_active());
        assert_eq!("CANCELED".parse::<ReservationStatus>(), Ok(ReservationStatus::Canceled));
    }
}
