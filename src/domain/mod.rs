//! Domain types: parsed at the edge, valid inside. No I/O here.

pub mod availability;
pub mod backoff;
pub mod challenge;
pub mod check;
pub mod checkin;
pub mod client_addr;
pub mod concert;
pub mod money;
pub mod page;
pub mod qr;
pub mod queue;
pub mod reservation;
pub mod sealed;
pub mod seat;
pub mod signature;
pub mod text_enum;
pub mod ticket_secret;
pub mod time;
pub mod user;
