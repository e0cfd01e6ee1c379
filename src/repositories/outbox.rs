use chrono::{DateTime, Utc};
use sqlx::{Connection, PgConnection, PgPool, postgres::PgListener};
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

/// Locks on the messages being sent right now, one each, so that two copies of one message
/// (published twice) are never sent at once by two consumers. Session advisory locks, all
/// held on one connection of their own: Postgres ends them with that connection, so a consumer
/// whose process dies mid-send leaves no lock behind, and a copy redelivered elsewhere goes
/// ahead at once. (The two-key form, which never meets the one-key locks of `locks`.) A
/// session may take its own lock again, so the locks this instance holds are also kept here.
pub struct SendLocks {
    db: PgPool,
    conn: tokio::sync::Mutex<Option<PgConnection>>,
    held: std::sync::Mutex<std::collections::HashSet<i32>>,
}

/// "tick" in ASCII: the class of the message locks.
const SEND_LOCK_CLASS: i32 = 0x7469_636B;

fn send_lock_key(message_id: Uuid) -> i32 {
    let b = message_id.as_bytes();
    i32::from_le_bytes([
        b[0] ^ b[4] ^ b[8],
        b[1] ^ b[5] ^ b[9],
        b[2] ^ b[6] ^ b[10],
        b[3] ^ b[7] ^ b[11] ^ b[12] ^ b[15],
    ])
}

impl SendLocks {
    pub fn new(db: PgPool) -> SendLocks {
        SendLocks { db, conn: tokio::sync::Mutex::new(None), held: Default::default() }
    }

    /// Takes the message's lock unless someone holds it; true when taken.
    pub async fn try_lock(&self, message_id: Uuid) -> sqlx::Result<bool> {
        let key = send_lock_key(message_id);
        let mut guard = self.conn.lock().await;
        if self.held.lock().expect("lock").contains(&key) {
            return Ok(false);
        }
        if guard.is_none() {
            let options = self.db.connect_options();
            *guard = Some(PgConnection::connect_with(&options).await?);
        }
        let conn = guard.as_mut().expect("connected above");
        let locked = sqlx::query_scalar!(
            r#"select pg_try_advisory_lock($1, $2) as "locked!""#,
            SEND_LOCK_CLASS,
            key,
        )
        .fetch_one(conn)
        .await;
        match locked {
            Ok(true) => {
                self.held.lock().expect("lock").insert(key);
            }
            Ok(false) => {}
            // A broken connection has lost its locks anyway: start again on a new one.
            Err(_) => *guard = None,
        }
        locked
    }

    /// Gives the message's lock back (a lost connection already did).
    pub async fn unlock(&self, message_id: Uuid) -> sqlx::Result<()> {
        let mut guard = self.conn.lock().await;
        self.held.lock().expect("lock").remove(&send_lock_key(message_id));
        let Some(conn) = guard.as_mut() else { return Ok(()) };
        let unlocked = sqlx::query_scalar!(
            r#"select pg_advisory_unlock($1, $2) as "unlocked!""#,
            SEND_LOCK_CLASS,
            send_lock_key(message_id),
        )
        .fetch_one(conn)
        .await;
        if unlocked.is_err() {
            *guard = None;
        }
        unlocked.map(drop)
    }
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
