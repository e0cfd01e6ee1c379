//! SQL only: free functions taking a connection (or a transaction), one module per feature.

pub mod concerts;
pub mod health;
pub mod idempotency;
pub mod locks;
pub mod outbox;
pub mod payments;
pub mod refresh_tokens;
pub mod reservations;
pub mod seats;
pub mod users;
