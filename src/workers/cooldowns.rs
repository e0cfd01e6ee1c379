//! Reads the checkout cool-down registry into this instance's copy every `COOLDOWN_REFRESH`,
//! so holds and checkouts check a cool-down without a round trip to Redis (the registry is one
//! key of its own: on a Redis Cluster the per-concert scripts cannot read it).

use tokio_util::sync::CancellationToken;

use crate::{error::AppResult, services::cooldown::COOLDOWN_REFRESH, state::AppState};

/// One read of the registry; returns how many accounts are cooled down.
pub async fn execute_once(state: &AppState) -> AppResult<usize> {
    state.holds.refresh_cooldowns().await
}

pub async fn run(state: AppState, shutdown: CancellationToken) {
    let step = move || {
        let state = state.clone();
        async move { execute_once(&state).await.map(drop) }
    };
    super::schedule::repeat("cooldowns", shutdown, COOLDOWN_REFRESH, step).await;
}
