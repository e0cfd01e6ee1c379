//! Retention: the tables that would otherwise grow forever are trimmed, each by its own
//! setting. Deletes go in batches of a few thousand rows, each a statement of its own, so a large
//! backlog never holds locks for long; a round stops after [`MAX_BATCHES`] batches per table and
//! the next round goes on.
//!
//! What each kept row is still good for, and so how long to keep it:
//! - refresh tokens: after expiry a token is refused anyway, but while its row exists a reused
//!   one still revokes its whole family (theft detection);
//! - webhook events: a redelivery of a known event is answered from its record. After the purge
//!   a redelivery no longer finds it, and the payment's state machine (final states never change)
//!   answers it as ignored: no double confirmation, only a different answer;
//! - published outbox rows: nothing reads them once published (kept for investigation);
//!   unpublished rows are never deleted;
//! - email deliveries: the consumer's record that a message id was sent, so that a redelivered
//!   message is not sent twice. Redeliveries come within minutes (retry queue, a consumer dying
//!   before its ack); the default 30 days is far beyond that;
//! - idempotency keys: a key is only replayed within `IDEMPOTENCY_TTL_SECS`.

use std::time::Duration;

use sqlx::{PgConnection, PgPool};

use crate::{config::Retention, error::AppResult, repositories::housekeeping as repo};

/// Rows one statement deletes at most.
pub const BATCH: i64 = 5000;
/// Batches per table in one round.
pub const MAX_BATCHES: u32 = 200;
/// Longest retention passed to the database (an interval of a few thousand years overflows).
const MAX_KEEP: Duration = Duration::from_secs(100 * 365 * 86_400);

/// The tables the housekeeping trims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    RefreshTokens,
    WebhookEvents,
    Outbox,
    EmailDeliveries,
    IdempotencyKeys,
}

impl Table {
    pub const ALL: [Table; 5] = [
        Table::RefreshTokens,
        Table::WebhookEvents,
        Table::Outbox,
        Table::EmailDeliveries,
        Table::IdempotencyKeys,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::RefreshTokens => "refresh_tokens",
            Table::WebhookEvents => "webhook_events",
            Table::Outbox => "outbox",
            Table::EmailDeliveries => "email_deliveries",
            Table::IdempotencyKeys => "idempotency_keys",
        }
    }
}

/// Rows deleted in one round, by table.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub refresh_tokens: u64,
    pub webhook_events: u64,
    pub outbox: u64,
    pub email_deliveries: u64,
    pub idempotency_keys: u64,
}

impl Purged {
    pub fn total(&self) -> u64 {
        self.refresh_tokens
            + self.webhook_events
            + self.outbox
            + self.email_deliveries
            + self.idempotency_keys
    }

    fn slot(&mut self, table: Table) -> &mut u64 {
        match table {
            Table::RefreshTokens => &mut self.refresh_tokens,
            Table::WebhookEvents => &mut self.webhook_events,
            Table::Outbox => &mut self.outbox,
            Table::EmailDeliveries => &mut self.email_deliveries,
            Table::IdempotencyKeys => &mut self.idempotency_keys,
        }
    }
}

/// The retention rules and the database they apply to.
#[derive(Clone)]
pub struct Housekeeping {
    db: PgPool,
    retention: Retention,
    idempotency_ttl: Duration,
    batch: i64,
}

impl Housekeeping {
    pub fn new(db: PgPool, retention: Retention, idempotency_ttl: Duration) -> Self {
        Housekeeping { db, retention, idempotency_ttl, batch: BATCH }
    }

    /// The same rules with another batch size (tests show the batching with a small one).
    pub fn with_batch(self, batch: i64) -> Self {
        Housekeeping { batch: batch.max(1), ..self }
    }

    fn keep(&self, table: Table) -> Duration {
        match table {
            Table::RefreshTokens => self.retention.refresh_tokens,
            Table::WebhookEvents => self.retention.webhook_events,
            Table::Outbox => self.retention.outbox_sent,
            Table::EmailDeliveries => self.retention.email_deliveries,
            Table::IdempotencyKeys => self.idempotency_ttl,
        }
    }

    /// One round: every table trimmed to its retention (up to [`MAX_BATCHES`] batches each).
    #[tracing::instrument(skip_all)]
    pub async fn purge(&self) -> AppResult<Purged> {
        let mut conn = self.db.acquire().await?;
        let mut purged = Purged::default();
        for table in Table::ALL {
            let keep = self.keep(table).min(MAX_KEEP).as_secs_f64();
            let mut deleted = 0;
            for _ in 0..MAX_BATCHES {
                let n = delete_batch(&mut conn, table, keep, self.batch).await?;
                deleted += n;
                if n < self.batch as u64 {
                    break;
                }
            }
            metrics::counter!("ticketing_housekeeping_purged_total", "table" => table.name())
                .increment(deleted);
            *purged.slot(table) = deleted;
        }
        Ok(purged)
    }
}

async fn delete_batch(
    conn: &mut PgConnection,
    table: Table,
    keep_secs: f64,
    batch: i64,
) -> AppResult<u64> {
    Ok(match table {
        Table::RefreshTokens => repo::purge_refresh_tokens(conn, keep_secs, batch).await?,
        Table::WebhookEvents => repo::purge_webhook_events(conn, keep_secs, batch).await?,
        Table::Outbox => repo::purge_sent_outbox(conn, keep_secs, batch).await?,
        Table::EmailDeliveries => repo::purge_email_deliveries(conn, keep_secs, batch).await?,
        Table::IdempotencyKeys => repo::purge_idempotency_keys(conn, keep_secs, batch).await?,
    })
}
