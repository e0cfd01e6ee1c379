//! Background workers. Each exposes `execute_once` (tests call it directly) and a `run` loop
//! that stops with the shutdown token; every one is safe to run in several instances at once.

pub mod admission;
pub mod availability;
pub mod cooldowns;
pub mod email;
pub mod expiry;
pub mod housekeeping;
pub mod outbox;
pub mod refunds;
pub mod schedule;
pub mod warm;

use tokio_util::sync::CancellationToken;

use crate::state::AppState;

/// Starts every worker on the runtime.
pub fn spawn_all(state: &AppState, shutdown: &CancellationToken) {
    tokio::spawn(outbox::run(state.clone(), shutdown.clone()));
    tokio::spawn(email::run(state.clone(), shutdown.clone()));
    tokio::spawn(admission::run(state.clone(), shutdown.clone()));
    tokio::spawn(availability::run(state.clone(), shutdown.clone()));
    tokio::spawn(cooldowns::run(state.clone(), shutdown.clone()));
    tokio::spawn(expiry::run(state.clone(), shutdown.clone()));
    tokio::spawn(refunds::run(state.clone(), shutdown.clone()));
    tokio::spawn(housekeeping::run(state.clone(), shutdown.clone()));
    tokio::spawn(warm::run(state.clone(), shutdown.clone()));
}
