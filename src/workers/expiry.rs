//! The expiry sweeper: unpaid reservations past their `expire_time` become `EXPIRED` (payment
//! `FAILED`) and their seats come back, without any request having to arrive.

use tokio_util::sync::CancellationToken;

use crate::{error::AppResult, state::AppState};

/// Reservations expired per transaction.
pub const BATCH: i64 = 200;

/// One sweep: expires everything due, batch by batch; returns how many.
pub async fn execute_once(state: &AppState) -> AppResult<usize> {
    let mut total = 0;
    loop {
        let n = state.reservations.expire_due(BATCH).await?;
        total += n;
        if n < BATCH as usize {
            return Ok(total);
        }
    }
}

pub async fn run(state: AppState, shutdown: CancellationToken) {
    let period = state.settings.expiry_sweep_interval;
    let step = move || {
        let state = state.clone();
        async move {
            let swept = execute_once(&state).await.map(drop);
            metrics::gauge!("ticketing_expiry_sweeper_last_run_timestamp_seconds")
                .set(chrono::Utc::now().timestamp() as f64);
            swept
        }
    };
    super::schedule::repeat("expiry", shutdown, period, step).await;
}
