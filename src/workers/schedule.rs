//! The one worker loop: a step, a wait, until shutdown; failures logged with their cause chain.

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The one worker loop for periodic work: runs `step` every `period` (measured from the start
/// of the last round; a late round does not bunch up the next ones) until shutdown, logging
/// failures with their cause chain.
pub async fn repeat<F, Fut, E>(
    name: &'static str,
    shutdown: CancellationToken,
    period: Duration,
    step: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>>,
    anyhow::Error: From<E>,
{
    let period = period.max(Duration::from_millis(10));
    let mut next = Instant::now();
    let wait = move || {
        next = (next + period).max(Instant::now());
        tokio::time::sleep_until(next)
    };
    repeat_with(name, shutdown, step, wait).await;
}

/// The worker loop itself: runs `step`, logs a failure with its cause chain, then waits with
/// `wait` (or stops at shutdown), again and again.
pub async fn repeat_with<F, Fut, E, W, WFut>(
    name: &'static str,
    shutdown: CancellationToken,
    mut step: F,
    mut wait: W,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>>,
    anyhow::Error: From<E>,
    W: FnMut() -> WFut,
    WFut: Future<Output = ()>,
{
    loop {
        if let Err(e) = step().await {
            let e = anyhow::Error::from(e);
            tracing::warn!(
                worker = name,
                error = format!("{e:#}"),
                "worker round failed; retrying"
            );
        }
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            _ = wait() => {}
        }
    }
}
