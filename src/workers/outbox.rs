//! The outbox relay's loop: publishes what is due, then waits for `LISTEN outbox` (a row just
//! committed) or the next poll, whichever comes first.

use std::{sync::Arc, time::Duration};

use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::{error::AppResult, state::AppState};

const POLL: Duration = Duration::from_secs(1);

/// Publishes what is due; returns how many the broker confirmed.
pub async fn execute_once(state: &AppState) -> AppResult<usize> {
    state.relay.relay_due().await
}

pub async fn run(state: AppState, shutdown: CancellationToken) {
    let listener = Arc::new(Mutex::new(state.relay.listen().await));
    let relay = state.relay.clone();
    let wait = move || {
        let (listener, relay) = (listener.clone(), relay.clone());
        async move {
            let mut listener = listener.lock().await;
            let notified = async {
                match listener.as_mut() {
                    Some(l) => l.recv().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            let renew = tokio::select! {
                ok = notified => !ok,
                _ = tokio::time::sleep(POLL) => listener.is_none(),
            };
            if renew {
                *listener = relay.listen().await;
            }
        }
    };
    let step = move || {
        let state = state.clone();
        async move { execute_once(&state).await.map(drop) }
    };
    super::schedule::repeat_with("outbox", shutdown, step, wait).await;
}
