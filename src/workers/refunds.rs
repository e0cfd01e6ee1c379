//! The refund worker: every `REFUNDED` payment the provider has not confirmed yet is asked for
//! again until it is (cancellations and late payments), so no refund is lost.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::{error::AppResult, services::payments::REFUND_BATCH, state::AppState};

const INTERVAL: Duration = Duration::from_secs(5);

pub async fn execute_once(state: &AppState) -> AppResult<usize> {
    state.payments.request_refunds(REFUND_BATCH).await
}

pub async fn run(state: AppState, shutdown: CancellationToken) {
    let step = move || {
        let state = state.clone();
        async move { execute_once(&state).await.map(drop) }
    };
    super::schedule::repeat("refunds", shutdown, INTERVAL, step).await;
}
