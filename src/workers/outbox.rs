//! The outbox relay: publishes committed outbox rows to RabbitMQ with publisher confirms and
//! marks them published. Wakes on `LISTEN outbox` as soon as a row commits, and also polls.
//! While the broker is away the rows simply wait; nothing is lost.

use std::time::Duration;

use lapin::{
    BasicProperties,
    options::{BasicPublishOptions, ConfirmSelectOptions},
    types::{AMQPValue, FieldTable, ShortString},
};
use serde_json::json;
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use crate::{error::AppResult, repositories::outbox, state::AppState};

const BATCH: i64 = 200;
const POLL: Duration = Duration::from_secs(1);

/// Publishes what is due, batch by batch; returns how many were confirmed.
pub async fn execute_once(state: &AppState) -> AppResult<usize> {
    let mut total = 0;
    loop {
        let n = relay_batch(state).await?;
        total += n;
        if n < BATCH as usize {
            break;
        }
    }
    report_lag(state).await;
    Ok(total)
}

async fn relay_batch(state: &AppState) -> AppResult<usize> {
    let Some(conn) = state.broker.connection() else { return Ok(0) };
    let mut tx = state.db.begin().await?;
    let rows = outbox::claim_batch(&mut tx, BATCH).await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let topology = state.broker.topology();
    let channel = match conn.create_channel().await {
        Ok(c) => c,
        Err(e) => return Err(anyhow::anyhow!("opening a channel: {e}").into()),
    };
    channel.confirm_select(ConfirmSelectOptions::default()).await.map_err(anyhow::Error::from)?;
    let mut pending = Vec::with_capacity(rows.len());
    for row in &rows {
        let body = json!({
            "messageId": row.message_id,
            "kind": row.kind,
            "payload": row.payload,
            "createdAt": row.created_at,
        })
        .to_string();
        let mut headers = FieldTable::default();
        headers.insert(ShortString::from("x-attempt"), AMQPValue::LongLongInt(0));
        let properties = BasicProperties::default()
            .with_message_id(ShortString::from(row.message_id.to_string()))
            .with_content_type(ShortString::from("application/json"))
            .with_delivery_mode(2)
            .with_headers(headers);
        let confirm = channel
            .basic_publish(
                ShortString::from(topology.exchange.as_str()),
                ShortString::from(topology.routing_key),
                BasicPublishOptions::default(),
                body.as_bytes(),
                properties,
            )
            .await;
        pending.push((row, confirm));
    }
    let mut published = Vec::new();
    let start = std::time::Instant::now();
    for (row, confirm) in pending {
        let outcome = match confirm {
            Ok(confirm) => confirm.await.map_err(|e| e.to_string()).and_then(|c| {
                if c.is_ack() { Ok(()) } else { Err("the broker refused the message".to_owned()) }
            }),
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(()) => published.push(row.id),
            Err(error) => {
                metrics::counter!("amqp_errors_total", "op" => "publish").increment(1);
                let retry_ms = (1_000i64 << row.attempts.clamp(0, 6)).min(60_000);
                outbox::mark_failed(&mut tx, row.id, &error, retry_ms).await?;
                tracing::warn!(outbox.id = row.id, %error, "publish failed; will retry");
            }
        }
    }
    metrics::histogram!("amqp_publish_duration_seconds").record(start.elapsed().as_secs_f64());
    outbox::mark_published(&mut tx, &published).await?;
    tx.commit().await?;
    let _ = channel.close(200, "done".into()).await;
    metrics::counter!("ticketing_outbox_published_total").increment(published.len() as u64);
    Ok(published.len())
}

async fn report_lag(state: &AppState) {
    if let Ok(mut conn) = state.db.acquire().await
        && let Ok((pending, age)) = outbox::lag(&mut conn).await
    {
        metrics::gauge!("ticketing_outbox_pending").set(pending as f64);
        metrics::gauge!("ticketing_outbox_lag_seconds").set(age);
    }
}

pub async fn run(state: AppState, shutdown: CancellationToken) {
    let mut listener = listen(&state).await;
    loop {
        if let Err(e) = execute_once(&state).await {
            tracing::warn!(error = %e, "outbox relay round failed; retrying");
        }
        let notified = async {
            match listener.as_mut() {
                Some(l) => l.recv().await.is_ok(),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            ok = notified => {
                if !ok {
                    listener = listen(&state).await;
                }
            }
            _ = tokio::time::sleep(POLL) => {
                if listener.is_none() {
                    listener = listen(&state).await;
                }
            }
        }
    }
}

async fn listen(state: &AppState) -> Option<PgListener> {
    let mut listener = PgListener::connect_with(&state.db).await.ok()?;
    listener.listen("outbox").await.ok()?;
    Some(listener)
}
