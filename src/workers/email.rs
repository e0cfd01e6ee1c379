//! The email consumer: reads `notification.email.queue` with a bounded prefetch and hands each
//! message to the email service, which settles it exactly once. Reconnects when the broker
//! comes back.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::{clients::amqp::EmailConsumer, state::AppState};

const PREFETCH: u16 = 16;
/// The pause before consuming again after the consumer failed.
const PAUSE: Duration = Duration::from_millis(500);

pub async fn run(state: AppState, shutdown: CancellationToken) {
    let stop = shutdown.clone();
    let step = move || {
        let (state, shutdown) = (state.clone(), stop.clone());
        async move {
            let consumer = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                c = state.broker.consume_emails(PREFETCH) => c,
            };
            let Some(consumer) = consumer else { return Ok(()) };
            let result = consume(&state, consumer?, &shutdown).await;
            if result.is_err() {
                metrics::counter!("amqp_errors_total", "op" => "consume").increment(1);
            }
            result
        }
    };
    let pause = || tokio::time::sleep(PAUSE);
    super::repeat_with("email", shutdown, step, pause).await;
}

async fn consume(
    state: &AppState,
    mut consumer: EmailConsumer,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    tracing::info!("email consumer started");
    loop {
        let delivery = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            d = consumer.next() => d?,
        };
        let emails = state.emails.clone();
        tokio::spawn(async move {
            if let Err(e) = emails.handle(delivery).await {
                // Unacknowledged: the broker redelivers it when the channel closes.
                tracing::warn!(error = format!("{e:#}"), "email message not settled");
            }
        });
    }
}
