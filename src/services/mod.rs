//! Business rules. Services own transactions and know nothing of HTTP.

pub mod concerts;
pub mod passwords;
pub mod seats;
pub mod tokens;
pub mod users;
