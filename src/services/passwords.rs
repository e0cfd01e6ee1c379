//! Argon2id password hashing, off the async executor (a hash costs tens of milliseconds and
//! about 19 MiB), a bounded number at a time.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use argon2::{
    Argon2,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash},
};
use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult, ErrorCode};

/// Memory one Argon2 computation takes with the default parameters (m = 19,456 KiB).
pub const MIB_PER_HASH: u32 = 19;

/// Hashes and checks passwords with at most `permits` computations at once, so memory stays
/// near `permits × 19 MiB` whatever arrives. A caller that gets no slot within the queue
/// timeout is answered 503 with `Retry-After` instead of waiting without end.
#[derive(Clone)]
pub struct Hasher(Arc<HasherInner>);

struct HasherInner {
    slots: Arc<Semaphore>,
    permits: usize,
    queue_timeout: Duration,
    in_flight: AtomicUsize,
    high_water: AtomicUsize,
    computed: AtomicU64,
    refused: AtomicU64,
}

/// What a [`Hasher`] has done since it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HasherStats {
    pub permits: usize,
    /// The most computations that ran at once.
    pub high_water: usize,
    /// Hashes and checks computed.
    pub computed: u64,
    /// Callers refused for want of a slot.
    pub refused: u64,
}

impl Hasher {
    pub fn new(permits: usize, queue_timeout: Duration) -> Hasher {
        let permits = permits.max(1);
        Hasher(Arc::new(HasherInner {
            slots: Arc::new(Semaphore::new(permits)),
            permits,
            queue_timeout,
            in_flight: AtomicUsize::new(0),
            high_water: AtomicUsize::new(0),
            computed: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }))
    }

    /// An Argon2id hash of `password`.
    pub async fn hash(&self, password: String) -> AppResult<String> {
        self.run(move || hash_now(&password)).await?.map_err(AppError::Unexpected)
    }

    /// True when `password` matches `hash`; without a hash, checks against a dummy one so that
    /// an unknown account costs what a known one does, and never matches.
    pub async fn verify(&self, password: String, hash: Option<String>) -> AppResult<bool> {
        self.run(move || match hash {
            Some(hash) => verify_now(&password, &hash),
            None => {
                verify_now(&password, dummy_hash());
                false
            }
        })
        .await
    }

    pub fn stats(&self) -> HasherStats {
        let inner = &self.0;
        HasherStats {
            permits: inner.permits,
            high_water: inner.high_water.load(Ordering::SeqCst),
            computed: inner.computed.load(Ordering::SeqCst),
            refused: inner.refused.load(Ordering::SeqCst),
        }
    }

    /// Runs `work` on the blocking pool once a slot is free. The slot moves into the blocking
    /// task: a caller that goes away does not free it before the computation ends.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> AppResult<T> {
        let inner = self.0.clone();
        let permit =
            match tokio::time::timeout(inner.queue_timeout, inner.slots.clone().acquire_owned())
                .await
            {
                Ok(Ok(permit)) => permit,
                Ok(Err(closed)) => return Err(AppError::Unexpected(closed.into())),
                Err(_elapsed) => {
                    inner.refused.fetch_add(1, Ordering::SeqCst);
                    metrics::counter!("ticketing_password_hashes_refused_total").increment(1);
                    return Err(AppError::Throttled {
                        code: ErrorCode::SERVICE_UNAVAILABLE,
                        retry_after_secs: 1,
                    });
                }
            };
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let now = inner.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            let high = inner.high_water.fetch_max(now, Ordering::SeqCst).max(now);
            metrics::gauge!("ticketing_password_hashes_in_flight").increment(1.0);
            metrics::gauge!("ticketing_password_hashes_in_flight_max").set(high as f64);
            let out = work();
            inner.computed.fetch_add(1, Ordering::SeqCst);
            inner.in_flight.fetch_sub(1, Ordering::SeqCst);
            metrics::gauge!("ticketing_password_hashes_in_flight").decrement(1.0);
            out
        });
        task.await.map_err(|e| AppError::Unexpected(e.into()))
    }
}

fn hash_now(password: &str) -> anyhow::Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
}

/// A malformed stored hash never matches.
fn verify_now(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else { return false };
    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
}

/// One hash outside any [`Hasher`] (the bootstrap admin, once at start-up).
pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_now(&password)).await?
}

/// A valid hash of a random password: verifying against it costs what a real check costs,
/// so a login for an unknown email takes as long as one with a wrong password. Made on first
/// use, on the blocking pool.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut secret = [0u8; 16];
        rand::fill(&mut secret);
        Argon2::default().hash_password(&secret).map(|h| h.to_string()).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify() {
        let hasher = Hasher::new(2, Duration::from_secs(5));
        let h = hasher.hash("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(hasher.verify("correct horse".into(), Some(h.clone())).await.unwrap());
        assert!(!hasher.verify("wrong horse".into(), Some(h)).await.unwrap());
        assert!(!hasher.verify("x".into(), Some("not a hash".into())).await.unwrap());
        assert!(!hasher.verify("x".into(), None).await.unwrap());
        assert_eq!(hasher.stats().computed, 5);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_permits_run_at_once_and_the_rest_wait_or_get_busy() {
        let hasher = Hasher::new(1, Duration::from_millis(1));
        let calls = (0..8).map(|_| hasher.hash("correct horse".into()));
        let results = futures::future::join_all(calls).await;
        let busy = results
            .iter()
            .filter(|r| {
                matches!(r, Err(AppError::Throttled { code: ErrorCode::SERVICE_UNAVAILABLE, .. }))
            })
            .count();
        let stats = hasher.stats();
        assert_eq!(stats.high_water, 1, "{stats:?}");
        assert!(busy >= 1, "a 1 ms queue cannot hold 8 hashes of one slot: {stats:?}");
        assert_eq!(stats.refused as usize, busy);
        assert_eq!(stats.computed as usize + busy, 8);
    }
}
