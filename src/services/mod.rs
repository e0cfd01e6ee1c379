//! Business rules. Services own transactions and know nothing of HTTP.

pub mod availability;
pub mod catalog;
pub mod challenges;
pub mod checkin;
pub mod concerts;
pub mod cooldown;
pub mod emails;
pub mod health;
pub mod holds;
pub mod housekeeping;
pub mod idempotency;
pub mod outbox;
pub mod passwords;
pub mod payments;
pub mod queue;
pub mod reservations;
pub mod seat_stream;
pub mod seats;
pub mod stream_caps;
pub mod stream_tickets;
pub mod tickets;
pub mod tokens;
pub mod users;
pub mod waitlist;
pub mod waitlist_stream;
