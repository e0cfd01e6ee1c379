//! The outbox relay: publishes committed outbox rows to RabbitMQ with publisher confirms and
//! marks them published. While the broker is away the rows simply wait; nothing is lost.

use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;

use crate::{
    clients::amqp::{Broker, OutgoingEmail},
    domain::backoff,
    error::AppResult,
    repositories::outbox::{self, Listener},
};

/// Rows published per transaction.
const BATCH: i64 = 200;
/// A row that failed to publish waits 1 s, then 2 s, 4 s … up to a minute.
const RETRY_BASE: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(60);

/// Relays the outbox to the broker.
#[derive(Clone)]
pub struct Relay {
    db: PgPool,
    broker: Broker,
}

impl Relay {
    pub fn new(db: PgPool, broker: Broker) -> Self {
        Relay { db, broker }
    }

    /// Publishes what is due, batch by batch; returns how many were confirmed.
    pub async fn relay_due(&self) -> AppResult<usize> {
        let mut total = 0;
        loop {
            let n = self.relay_batch().await?;
            total += n;
            if n < BATCH as usize {
                break;
            }
        }
        self.report_lag().await;
        Ok(total)
    }

    async fn relay_batch(&self) -> AppResult<usize> {
        if !self.broker.is_connected() {
            return Ok(0);
        }
        let mut tx = self.db.begin().await?;
        let rows = outbox::claim_batch(&mut tx, BATCH).await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let messages: Vec<OutgoingEmail> = rows
            .iter()
            .map(|row| OutgoingEmail {
                message_id: row.message_id,
                body: json!({
                    "messageId": row.message_id,
                    "kind": row.kind,
                    "payload": row.payload,
                    "createdAt": row.created_at,
                })
                .to_string()
                .into_bytes(),
            })
            .collect();
        let start = std::time::Instant::now();
        let Some(results) = self.broker.publish_emails(&messages).await else { return Ok(0) };
        let results = results?;
        let mut published = Vec::new();
        for (row, outcome) in rows.iter().zip(results) {
            match outcome {
                Ok(()) => published.push(row.id),
                Err(error) => {
                    metrics::counter!("amqp_errors_total", "op" => "publish").increment(1);
                    let failures = row.attempts.max(0) as u32;
                    let retry = backoff::exponential(RETRY_BASE, failures, RETRY_MAX);
                    outbox::mark_failed(&mut tx, row.id, &error, retry.as_millis() as i64).await?;
                    tracing::warn!(outbox.id = row.id, %error, "publish failed; will retry");
                }
            }
        }
        metrics::histogram!("amqp_publish_duration_seconds").record(start.elapsed().as_secs_f64());
        outbox::mark_published(&mut tx, &published).await?;
        tx.commit().await?;
        metrics::counter!("ticketing_outbox_published_total").increment(published.len() as u64);
        Ok(published.len())
    }

    async fn report_lag(&self) {
        if let Ok(mut conn) = self.db.acquire().await
            && let Ok(lag) = outbox::lag(&mut conn).await
        {
            metrics::gauge!("ticketing_outbox_pending").set(lag.pending as f64);
            metrics::gauge!("ticketing_outbox_lag_seconds").set(lag.age);
        }
    }

    /// Notifications of newly committed rows; `None` when the database cannot listen now.
    pub async fn listen(&self) -> Option<Listener> {
        outbox::listen(&self.db).await.ok()
    }
}
