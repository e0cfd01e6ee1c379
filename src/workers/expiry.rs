//! The expiry sweeper: unpaid reservations past their `expire_time` become `EXPIRED` (payment
//! `FAILED`) and their seats come back, without any request having to arrive.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Mutex;
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

/// Confirmed reservations whose time to pay ran out since `*after`: their seats are marked sold
/// in Redis again (see `Reservations::reconfirm_expiring`); `*after` moves on when it worked.
pub async fn reconfirm_once(state: &AppState, after: &mut DateTime<Utc>) -> AppResult<usize> {
    let until = Utc::now();
    let n = state.reservations.reconfirm_expiring(*after, until).await?;
    *after = until;
    Ok(n)
}

pub async fn run(state: AppState, shutdown: CancellationToken) {
    let period = state.settings.expiry_sweep_interval;
    // From start-up on, and the minute before it (a crash just before a restart).
    let after = Arc::new(Mutex::new(Utc::now() - chrono::Duration::minutes(1)));
    let step = move || {
        let (state, after) = (state.clone(), after.clone());
        async move {
            let mut after = after.lock().await;
            if let Err(e) = reconfirm_once(&state, &mut after).await {
                tracing::warn!(error = %e, "could not mark confirmed seats sold again; next round");
            }
            let swept = execute_once(&state).await.map(drop);
            metrics::gauge!("ticketing_expiry_sweeper_last_run_timestamp_seconds")
                .set(chrono::Utc::now().timestamp() as f64);
            swept
        }
    };
    super::schedule::repeat("expiry", shutdown, period, step).await;
}
