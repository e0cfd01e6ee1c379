//! The availability sweeper: Redis drops an expired hold's key silently, so something must
//! notice and publish the seat as AVAILABLE again. Every instance sweeps; the script is atomic,
//! so a seat is published once whoever sweeps first.

use tokio_util::sync::CancellationToken;

use crate::{error::AppResult, state::AppState};

/// One sweep of every loaded concert; returns how many seats came free.
pub async fn execute_once(state: &AppState) -> AppResult<u64> {
    let mut freed = 0;
    for concert in state.holds.live_concerts().await? {
        let swept = state.holds.sweep(concert).await?;
        freed += swept.freed;
        // What the waitlist step decided (offers, expired offers) goes into Postgres.
        crate::services::waitlist::record_outcomes_soon(&state.db, &state.holds, concert).await;
        if !swept.loaded && swept.pending == 0 {
            state.holds.forget(concert).await?;
        }
    }
    if freed > 0 {
        metrics::counter!("ticketing_holds_expired_total").increment(freed);
    }
    Ok(freed)
}

pub async fn run(state: AppState, shutdown: CancellationToken) {
    let period = state.settings.availability_sweep;
    let step = move || {
        let state = state.clone();
        async move { execute_once(&state).await.map(drop) }
    };
    super::schedule::repeat("availability", shutdown, period, step).await;
}
