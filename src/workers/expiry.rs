//! The expiry sweeper: unpaid reservations past their `expire_time` become `EXPIRED` (payment
//! `FAILED`) and their seats come back, without any request having to arrive.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::{error::AppResult, services::reservations, state::AppState};

/// Reservations expired per transaction.
pub const BATCH: i64 = 200;

/// One sweep: expires everything due, batch by batch; returns how many.
pub async fn execute_once(state: &AppState) -> AppResult<usize> {
    let mut total = 0;
    loop {
        let n = reservations::expire_due(state, BATCH).await?;
        total += n;
        if n < BATCH as usize {
            return Ok(total);
        }
    }
}

pub async fn run(state: AppState, shutdown: CancellationToken) {
    let interval = state.settings.expiry_sweep_interval;
    loop {
        if let Err(e) = execute_once(&state).await {
            tracing::warn!(error = %e, "expiry sweep failed; retrying");
        }
        metrics::gauge!("ticketing_expiry_sweeper_last_run_timestamp_seconds")
            .set(chrono::Utc::now().timestamp() as f64);
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(interval.max(Duration::from_millis(50))) => {}
        }
    }
}
