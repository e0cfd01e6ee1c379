//! Waiting-room admission: every `QUEUE_TICK_MS`, for each concert with a line whose sale is
//! open, one instance (whoever takes the tick in Redis) moves up to `QUEUE_ADMIT_PER_TICK`
//! users from the line to the admitted set while fewer than `QUEUE_MAX_ACTIVE` are admitted.

use tokio_util::sync::CancellationToken;

use crate::{error::AppResult, state::AppState};

/// One tick over every concert; returns how many users this instance admitted.
pub async fn execute_once(state: &AppState) -> AppResult<u64> {
    state.waiting_room.admit_round().await
}

pub async fn run(state: AppState, shutdown: CancellationToken) {
    let period = state.settings.queue_tick;
    let step = move || {
        let state = state.clone();
        async move { execute_once(&state).await.map(drop) }
    };
    super::schedule::repeat("admission", shutdown, period, step).await;
}
