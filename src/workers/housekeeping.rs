//! Housekeeping: idempotency keys are forgotten after 24 hours.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::{error::AppResult, state::AppState};

const INTERVAL: Duration = Duration::from_secs(600);

pub async fn execute_once(state: &AppState) -> AppResult<u64> {
    state.idempotency.purge_expired().await
}

pub async fn run(state: AppState, shutdown: CancellationToken) {
    let step = move || {
        let state = state.clone();
        async move {
            let n = execute_once(&state).await?;
            if n > 0 {
                tracing::info!(count = n, "forgot expired idempotency keys");
            }
            AppResult::Ok(())
        }
    };
    super::schedule::repeat("housekeeping", shutdown, INTERVAL, step).await;
}
