//! `Idempotency-Key`: the same key with the same request gets the stored answer; with another
//! request, 422; a concurrent duplicate waits for the first answer. Keys are per user and last
//! `IDEMPOTENCY_TTL_SECS` (a day); a user has at most `IDEMPOTENCY_MAX_KEYS_PER_USER` live keys,
//! and a new key beyond that is refused (429) rather than an old one evicted: evicting would
//! silently turn the retry of an old request into a second execution. Only successful answers
//! are stored: after an error the client may retry.

use std::time::Duration;

use sqlx::PgPool;

use crate::{
    error::{AppResult, ErrorCode},
    repositories::idempotency as repo,
};

/// How long a duplicate waits for the first request's answer.
const WAIT: Duration = Duration::from_secs(15);

/// A key claimed this long ago and still unanswered was left by a request that died with its
/// instance: 5 s beyond the longest a request can run (`router::REQUEST_TIMEOUT`, 30 s), the
/// key is free again for the client's retry. (It was a minute: in the chaos benchmark a fan
/// whose checkout went down with a SIGKILLed instance could not retry it for that long.)
pub const ABANDONED_AFTER: Duration = Duration::from_secs(35);

/// What a request under a key should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// This request does the work (and then calls `finish`).
    Owner,
    /// A finished request's answer: its status and body.
    Replay { status: u16, body: Vec<u8> },
}

/// A request under an `Idempotency-Key`: who sent it, the key, and a hash of the request.
#[derive(Debug, Clone, Copy)]
pub struct KeyedRequest<'a> {
    pub user: i64,
    pub key: &'a str,
    pub hash: &'a [u8],
}

/// The store of idempotency keys.
#[derive(Clone)]
pub struct Idempotency {
    db: PgPool,
    ttl: Duration,
    max_keys_per_user: u32,
}

impl Idempotency {
    pub fn new(db: PgPool, ttl: Duration, max_keys_per_user: u32) -> Self {
        Idempotency { db, ttl, max_keys_per_user }
    }

    /// Claims the key for this request, or finds the answer to replay; waits for a
    /// concurrent duplicate to finish (up to 15 s, then 409 `IDEMPOTENCY_KEY_IN_USE`). A new
    /// key past the user's cap is 429 `IDEMPOTENCY_KEY_LIMIT`; known keys still replay.
    pub async fn begin(&self, req: KeyedRequest<'_>) -> AppResult<Begin> {
        let KeyedRequest { user, key, hash } = req;
        {
            let mut conn = self.db.acquire().await?;
            // An interval of thousands of years overflows in the database.
            let ttl = self.ttl.as_secs_f64().min(100.0 * 365.0 * 86_400.0);
            let abandoned = ABANDONED_AFTER.as_secs_f64();
            repo::forget_stale(&mut conn, user, key, ttl, abandoned).await?;
            // Concurrent new keys of one user may pass together: the cap can be exceeded by the
            // user's requests in flight, never more.
            if repo::find(&mut conn, user, key).await?.is_none()
                && repo::count_live(&mut conn, user, ttl).await?
                    >= i64::from(self.max_keys_per_user)
            {
                return Err(ErrorCode::IDEMPOTENCY_KEY_LIMIT.into());
            }
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            // A connection per round, never held while waiting: the first request needs the pool.
            {
                let mut conn = self.db.acquire().await?;
                if repo::claim(&mut conn, user, key, hash).await? {
                    return Ok(Begin::Owner);
                }
                match repo::find(&mut conn, user, key).await? {
                    // The first request failed and let go of the key: try to take it.
                    None => continue,
                    Some(row) if row.request_hash != hash => {
                        return Err(ErrorCode::IDEMPOTENCY_KEY_REUSED.into());
                    }
                    Some(repo::KeyRow { response_status: Some(status), response_body, .. }) => {
                        let body = response_body.unwrap_or_default();
                        return Ok(Begin::Replay { status: status as u16, body });
                    }
                    Some(_) => {}
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ErrorCode::IDEMPOTENCY_KEY_IN_USE.into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stores the owner's successful answer under the key.
    pub async fn save(&self, user: i64, key: &str, status: u16, body: &[u8]) -> AppResult<()> {
        let mut conn = self.db.acquire().await?;
        repo::save_response(&mut conn, user, key, status as i16, body).await?;
        Ok(())
    }

    /// Lets go of the key after a failed answer, so the client may retry with it.
    pub async fn release(&self, user: i64, key: &str) -> AppResult<()> {
        repo::release(&mut *self.db.acquire().await?, user, key).await?;
        Ok(())
    }
}
