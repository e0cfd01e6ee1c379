use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, postgres::PgListener};
use uuid::Uuid;

/// Queues a message in the same transaction as the change that owes it.
pub async fn insert(
    conn: &mut PgConnection,
    kind: &str,
    payload: serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into outbox (message_id, kind, payload) values ($1, $2, $3)",
        Uuid::new_v4(),
        kind,
        payload,
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub id: i64,
    pub message_id: Uuid,
    pub kind: String,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub attempts: i32,
}

/// Locks up to `limit` unpublished rows that are due; others' locked rows are skipped, so
/// several relays can run side by side.
pub async fn claim_batch(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<OutboxRow>> {
    sqlx::query_as!(
        OutboxRow,
        "select id, message_id, kind, payload, created_at, attempts from outbox
         where published_at is null and next_attempt_at <= now()
         order by id limit $1 for update skip locked",
        limit,
    )
    .fetch_all(conn)
    .await
}

pub async fn mark_published(conn: &mut PgConnection, ids: &[i64]) -> sqlx::Result<()> {
    sqlx::query!("update outbox set published_at = now() where id = any($1)", ids)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records a failed publish and when to try again.
pub async fn mark_failed(
    conn: &mut PgConnection,
    id: i64,
    error: &str,
    retry_in_ms: i64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update outbox set attempts = attempts + 1, last_error = $2,
                next_attempt_at = now() + make_interval(secs => $3::float8 / 1000)
         where id = $1",
        id,
        error,
        retry_in_ms as f64,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// How far the relay is behind.
#[derive(Debug, Clone, Copy)]
pub struct Lag {
    /// Unpublished rows.
    pub pending: i64,
    /// Age of the oldest, in seconds.
    pub age: f64,
}

pub async fn lag(conn: &mut PgConnection) -> sqlx::Result<Lag> {
    sqlx::query_as!(
        Lag,
        r#"select count(*) as "pending!",
                  coalesce(extract(epoch from now() - min(created_at)), 0)::float8 as "age!"
           from outbox where published_at is null"#
    )
    .fetch_one(conn)
    .await
}

/// Notifications of committed outbox rows (`NOTIFY outbox`, sent by a trigger).
pub struct Listener(PgListener);

impl Listener {
    /// Waits for the next notification; an error when the connection was lost.
    pub async fn recv(&mut self) -> sqlx::Result<()> {
        self.0.recv().await.map(drop)
    }
}

pub async fn listen(db: &PgPool) -> sqlx::Result<Listener> {
    let mut listener = PgListener::connect_with(db).await?;
    listener.listen("outbox").await?;
    Ok(Listener(listener))
}

pub async fn was_sent(conn: &mut PgConnection, message_id: Uuid) -> sqlx::Result<bool> {
    let sent = sqlx::query_scalar!(
        r#"select exists(select 1 from email_deliveries where message_id = $1) as "sent!""#,
        message_id
    )
    .fetch_one(conn)
    .await?;
    Ok(sent)
}

/// Claims a message for sending for `lease_ms`, unless another consumer's claim on it is still
/// running; true when this caller holds the claim now.
pub async fn claim_send(
    conn: &mut PgConnection,
    message_id: Uuid,
    lease_ms: i64,
) -> sqlx::Result<bool> {
    let claimed = sqlx::query_scalar!(
        r#"insert into email_claims (message_id, claimed_until)
           values ($1, now() + $2::float8 * interval '1 millisecond')
           on conflict (message_id) do update set claimed_until = excluded.claimed_until
           where email_claims.claimed_until < now()
           returning true as "claimed!""#,
        message_id,
        lease_ms as f64,
    )
    .fetch_optional(conn)
    .await?;
    Ok(claimed.is_some())
}

/// Ends a claim (the message was sent and recorded, or its send failed).
pub async fn release_claim(conn: &mut PgConnection, message_id: Uuid) -> sqlx::Result<()> {
    sqlx::query!("delete from email_claims where message_id = $1", message_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn record_sent(
    conn: &mut PgConnection,
    message_id: Uuid,
    kind: &str,
    recipient: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into email_deliveries (message_id, kind, recipient) values ($1, $2, $3) on conflict do nothing",
        message_id,
        kind,
        recipient,
    )
    .execute(conn)
    .await?;
    Ok(())
}
