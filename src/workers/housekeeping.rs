//! Housekeeping: every `HOUSEKEEPING_INTERVAL_SECS`, old rows are purged by their retention
//! settings (see `services::housekeeping` for what each kind is kept for).

use tokio_util::sync::CancellationToken;

use crate::{
    error::AppResult,
    services::housekeeping::{Housekeeping, Purged},
    state::AppState,
};

/// The rules of this instance's settings.
fn service(state: &AppState) -> Housekeeping {
    let s = &state.settings;
    Housekeeping::new(state.db.clone(), s.retention, s.idempotency_ttl)
}

/// One round; returns what was deleted.
pub async fn execute_once(state: &AppState) -> AppResult<Purged> {
    service(state).purge().await
}

pub async fn run(state: AppState, shutdown: CancellationToken) {
    let interval = state.settings.retention.interval;
    let housekeeping = service(&state);
    let step = move || {
        let housekeeping = housekeeping.clone();
        async move {
            let p = housekeeping.purge().await?;
            if p.total() > 0 {
                tracing::info!(
                    refresh_tokens = p.refresh_tokens,
                    webhook_events = p.webhook_events,
                    outbox = p.outbox,
                    email_deliveries = p.email_deliveries,
                    idempotency_keys = p.idempotency_keys,
                    "purged old rows"
                );
            }
            AppResult::Ok(())
        }
    };
    // The first round one interval after start: instances started together do not purge
    // together, and nothing here is urgent.
    tokio::select! {
        _ = shutdown.cancelled() => return,
        _ = tokio::time::sleep(interval) => {}
    }
    super::schedule::repeat("housekeeping", shutdown, interval, step).await;
}
