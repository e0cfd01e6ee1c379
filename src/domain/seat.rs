//! Seats: position (section, row, number), grade and price, and their status on the map.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::money::Money;

/// Lengths of the seat's text fields.
pub const LABEL_LEN: (usize, usize) = (1, 20);

/// The largest seat batch one request may create.
pub const MAX_BATCH: usize = 5_000;

/// A seat as an admin defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatDraft {
    pub section: String,
    pub row: String,
    pub number: String,
    pub grade: String,
    pub price: Money,
}

impl SeatDraft {
    /// Two drafts name the same seat when section, row and number match (case and all).
    pub fn position(&self) -> (&str, &str, &str) {
        (&self.section, &self.row, &self.number)
    }
}

/// What a fan sees for a seat on the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SeatStatus {
    /// Free to hold.
    Available,
    /// Held by a fan for a few minutes.
    Held,
    /// In a reservation being paid.
    Reserved,
    /// Paid.
    Sold,
}
