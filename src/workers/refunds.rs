//! The refund worker: every `REFUNDED` payment the provider has not confirmed yet is asked for
//! again until it is (cancellations and late payments), so no refund is lost.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::{error::AppResult, services::payments, state::AppState};

const BATCH: i64 = 50;
const INTERVAL: Duration = Duration::from_secs(5);

pub async fn execute_once(state: &AppState) -> AppResult<usize> {
    payments::request_refunds(state, BATCH).await
}

pub async fn run(state: AppState, shutdown: CancellationToken) {
    loop {
        if let Err(e) = execute_once(&state).await {
            tracing::warn!(error = %e, "refund round failed; retrying");
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(INTERVAL) => {}
        }
    }
}
