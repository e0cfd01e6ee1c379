//! Waiting-room admission: every `QUEUE_TICK_MS`, for each concert with a line whose sale is
//! open, one instance (whoever takes the tick in Redis) moves up to `QUEUE_ADMIT_PER_TICK`
//! users from the line to the admitted set while fewer than `QUEUE_MAX_ACTIVE` are admitted.
//! Every instance runs this; the script makes it safe.

use tokio_util::sync::CancellationToken;

use crate::{error::AppResult, state::AppState};

/// One tick over every concert; returns how many users this instance admitted.
pub async fn execute_once(state: &AppState) -> AppResult<u64> {
    let s = &state.settings;
    let mut total = 0;
    for concert in state.queue.concerts().await? {
        let version = state.holds.version(concert).await?;
        let on_sale = state.catalogs.get(&state.db, concert, &version).await?.is_some_and(|c| {
            let now = chrono::Utc::now();
            c.concert.open_time <= now && now < c.concert.close_time
        });
        if on_sale
            && let Some((admitted, dropped)) = state
                .queue
                .admit(
                    concert,
                    s.queue_tick.as_millis() as u64,
                    s.queue_admit_per_tick,
                    s.queue_max_active,
                    s.queue_active_ttl.as_millis() as u64,
                    s.queue_presence_grace.as_millis() as u64,
                )
                .await?
        {
            total += admitted;
            if admitted > 0 {
                state.queue_hub.nudge(concert);
            }
            let label = concert.to_string();
            metrics::counter!("ticketing_queue_admissions_total", "concert" => label.clone())
                .increment(admitted);
            metrics::counter!("ticketing_queue_dropped_total", "concert" => label)
                .increment(dropped);
        }
        let (waiting, active, admitted_total) = state.queue.stats(concert).await?;
        state.queue_hub.record_admitted(concert, admitted_total);
        let label = concert.to_string();
        metrics::gauge!("ticketing_queue_waiting", "concert" => label.clone()).set(waiting as f64);
        metrics::gauge!("ticketing_queue_active", "concert" => label).set(active as f64);
    }
    Ok(total)
}

pub async fn run(state: AppState, shutdown: CancellationToken) {
    let mut interval = tokio::time::interval(state.settings.queue_tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = interval.tick() => {}
        }
        if let Err(e) = execute_once(&state).await {
            tracing::warn!(error = %e, "admission tick failed");
        }
    }
}
