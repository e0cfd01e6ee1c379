//! The sale-opening warmer: `SALE_WARM_AHEAD_SECS` before a concert's sale opens, its catalogue
//! and seat states are loaded into Redis (the load the first hold would trigger), so the first
//! burst of holds finds them there. Every instance runs it; the load checks Redis first under
//! the instance's per-concert load lock, so a concert already loaded (by this instance or
//! another) costs one Redis read and no database query.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::{error::AppResult, state::AppState};

/// One round: warms every concert whose sale opens within the window; returns how many it
/// looked at.
pub async fn execute_once(state: &AppState) -> AppResult<u64> {
    let ahead = state.settings.sale_warm_ahead;
    if ahead.is_zero() {
        return Ok(0);
    }
    let opening = state.concerts.opening_within(ahead).await?;
    for &concert in &opening {
        if let Err(e) = state.availability.load_if_missing(concert).await {
            tracing::warn!(error = %e, concert.id = concert, "could not warm seat states");
        }
    }
    Ok(opening.len() as u64)
}

pub async fn run(state: AppState, shutdown: CancellationToken) {
    let ahead = state.settings.sale_warm_ahead;
    if ahead.is_zero() {
        return;
    }
    // A few rounds inside the window, and not more often than every second.
    let period = (ahead / 4).clamp(Duration::from_secs(1), Duration::from_secs(15));
    let step = move || {
        let state = state.clone();
        async move { execute_once(&state).await.map(drop) }
    };
    super::schedule::repeat("sale-warm", shutdown, period, step).await;
}
