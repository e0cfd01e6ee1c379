//! The email consumer: reads `notification.email.queue` with a bounded prefetch; the email
//! service settles each message exactly once. Reconnects when the broker comes back.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::state::AppState;

/// The pause before consuming again after the consumer failed.
const PAUSE: Duration = Duration::from_millis(500);

pub async fn run(state: AppState, shutdown: CancellationToken) {
    let stop = shutdown.clone();
    let step = move || {
        let (state, shutdown) = (state.clone(), stop.clone());
        async move { state.emails.consume(&shutdown).await }
    };
    let pause = || tokio::time::sleep(PAUSE);
    super::schedule::repeat_with("email", shutdown, step, pause).await;
}
