//! Housekeeping: idempotency keys are forgotten after 24 hours.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::{error::AppResult, repositories::idempotency, state::AppState};

const INTERVAL: Duration = Duration::from_secs(600);

pub async fn execute_once(state: &AppState) -> AppResult<u64> {
    Ok(idempotency::purge_expired(&mut *state.db.acquire().await?).await?)
}

pub async fn run(state: AppState, shutdown: CancellationToken) {
    loop {
        match execute_once(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(count = n, "forgot expired idempotency keys"),
            Err(e) => tracing::warn!(error = %e, "housekeeping failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(INTERVAL) => {}
        }
    }
}
