//! The email consumer: reads `notification.email.queue` with a bounded prefetch, sends each
//! message with lettre, records its message id, then acknowledges. A message already recorded
//! (a redelivery) is acknowledged without sending. A failed send goes to the retry queue with a
//! growing delay; after `EMAIL_MAX_ATTEMPTS` it goes to the dead-letter queue. Reconnects when
//! the broker comes back.

use std::sync::Arc;

use futures::StreamExt;
use lapin::{
    Channel, Connection,
    message::Delivery,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions,
        BasicQosOptions, ConfirmSelectOptions,
    },
    types::{AMQPValue, FieldTable, ShortString},
};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    clients::{amqp::Topology, mailer::Mailer},
    repositories::outbox,
    services::emails,
    state::AppState,
};

const PREFETCH: u16 = 16;

pub async fn run(state: AppState, mailer: Arc<Mailer>, shutdown: CancellationToken) {
    loop {
        let conn = tokio::select! {
            _ = shutdown.cancelled() => return,
            c = state.broker.next_connection() => match c { Some(c) => c, None => return },
        };
        match consume(&state, &mailer, &conn, &shutdown).await {
            Ok(()) => return,
            Err(e) => {
                metrics::counter!("amqp_errors_total", "op" => "consume").increment(1);
                tracing::warn!(error = %e, "email consumer stopped; waiting for the broker");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                }
            }
        }
    }
}

async fn consume(
    state: &AppState,
    mailer: &Arc<Mailer>,
    conn: &Connection,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let topology = state.broker.topology();
    let channel = conn.create_channel().await?;
    channel.basic_qos(PREFETCH, BasicQosOptions::default()).await?;
    let publisher = conn.create_channel().await?;
    publisher.confirm_select(ConfirmSelectOptions::default()).await?;
    let mut consumer = channel
        .basic_consume(
            ShortString::from(topology.queue.as_str()),
            ShortString::from(format!("ticketing-{}", Uuid::new_v4().simple())),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    tracing::info!("email consumer started");
    loop {
        let next = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            n = consumer.next() => n,
        };
        let delivery = match next {
            Some(Ok(d)) => d,
            Some(Err(e)) => return Err(e.into()),
            None => anyhow::bail!("the consumer was cancelled"),
        };
        let (state, mailer, publisher, topology) =
            (state.clone(), mailer.clone(), publisher.clone(), topology.clone());
        tokio::spawn(async move {
            if let Err(e) = handle(&state, &mailer, &publisher, &topology, delivery).await {
                // Unacknowledged: the broker redelivers it when the channel closes.
                tracing::warn!(error = %e, "email message not settled");
            }
        });
    }
}

/// One delivery, settled exactly once.
pub async fn handle(
    state: &AppState,
    mailer: &Mailer,
    publisher: &Channel,
    topology: &Topology,
    delivery: Delivery,
) -> anyhow::Result<()> {
    let message: Option<(Uuid, String, Value)> =
        serde_json::from_slice::<Value>(&delivery.data).ok().and_then(|v| {
            let id = v["messageId"].as_str()?.parse().ok()?;
            Some((id, v["kind"].as_str()?.to_owned(), v["payload"].clone()))
        });
    let Some((message_id, kind, payload)) = message else {
        // Unreadable: straight to the dead-letter queue (the queue's dead-letter exchange).
        delivery.acker.nack(BasicNackOptions { requeue: false, ..Default::default() }).await?;
        metrics::counter!("ticketing_emails_dead_lettered_total").increment(1);
        return Ok(());
    };
    let mut conn = state.db.acquire().await?;
    if outbox::was_sent(&mut conn, message_id).await? {
        metrics::counter!("ticketing_emails_duplicates_total").increment(1);
        delivery.acker.ack(BasicAckOptions::default()).await?;
        return Ok(());
    }
    let rendered = emails::render(&mut conn, &kind, &payload).await;
    drop(conn);
    let result = match rendered {
        Ok(Some(email)) => mailer.send(&email).await.map(|()| Some(email)),
        Ok(None) => Ok(None),
        Err(e) => Err(e),
    };
    match result {
        Ok(Some(email)) => {
            outbox::record_sent(
                &mut *state.db.acquire().await?,
                message_id,
                &kind,
                &email.to_address,
            )
            .await?;
            delivery.acker.ack(BasicAckOptions::default()).await?;
            metrics::counter!("ticketing_emails_sent_total", "kind" => kind).increment(1);
        }
        Ok(None) => {
            tracing::info!(%kind, "email not needed any more (its subject was deleted)");
            delivery.acker.ack(BasicAckOptions::default()).await?;
        }
        Err(e) => {
            retry_or_bury(state, publisher, topology, delivery, &kind, &e.to_string()).await?
        }
    }
    Ok(())
}

async fn retry_or_bury(
    state: &AppState,
    publisher: &Channel,
    topology: &Topology,
    delivery: Delivery,
    kind: &str,
    error: &str,
) -> anyhow::Result<()> {
    let attempt = attempt_of(&delivery) + 1;
    let max = state.settings.email_max_attempts;
    let mut headers = delivery.properties.headers().clone().unwrap_or_default();
    headers.insert(ShortString::from("x-attempt"), AMQPValue::LongLongInt(attempt));
    headers.insert(ShortString::from("x-last-error"), AMQPValue::LongString(error.into()));
    let mut properties = delivery.properties.clone().with_headers(headers);
    let (exchange, routing_key) = if attempt >= i64::from(max) {
        metrics::counter!("ticketing_emails_dead_lettered_total").increment(1);
        tracing::error!(%kind, attempt, %error, "email failed every attempt; dead-lettered");
        (topology.dead_exchange.as_str(), topology.dead_routing_key.to_owned())
    } else {
        metrics::counter!("ticketing_emails_failed_total", "kind" => kind.to_owned()).increment(1);
        let delay = state.settings.email_retry_base.as_millis() as i64
            * (1i64 << (attempt - 1).clamp(0, 10));
        tracing::warn!(%kind, attempt, delay_ms = delay, %error, "email failed; retrying later");
        properties = properties.with_expiration(ShortString::from(delay.to_string()));
        ("", topology.retry_queue.clone())
    };
    publisher
        .basic_publish(
            ShortString::from(exchange),
            ShortString::from(routing_key),
            BasicPublishOptions::default(),
            &delivery.data,
            properties.with_delivery_mode(2),
        )
        .await?
        .await?;
    delivery.acker.ack(BasicAckOptions::default()).await?;
    Ok(())
}

fn attempt_of(delivery: &Delivery) -> i64 {
    delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get(&ShortString::from("x-attempt")).cloned())
        .and_then(|v| match v {
            AMQPValue::LongLongInt(n) => Some(n),
            AMQPValue::LongInt(n) => Some(i64::from(n)),
            AMQPValue::ShortInt(n) => Some(i64::from(n)),
            _ => None,
        })
        .unwrap_or(0)
}
