//! An in-process copy of each concert's seats, validated by the concert's catalogue version in
//! Redis (admin edits change it), so hot paths — the seat map, hold responses — read memory
//! instead of the database. Each instance keeps its own; a version change makes every instance
//! reload on next use.
//!
//! An id that is not in the database leaves nothing in Redis: the catalogue version is created
//! only for a concert the database has. Loads lock per concert, and a miss is remembered for
//! `MISS_TTL` (in a bounded map), so a crowd (or a bot) asking for an unknown concert costs one
//! query, not one each.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, OnceLock, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use sqlx::PgPool;

use crate::{
    clients::holds::Holds,
    domain::{
        concert::Concert,
        seat::{self, Seat, SeatLayout, SeatStatus, SeatView},
    },
    error::{AppResult, ErrorCode},
    repositories::{concerts, seats},
};

/// How many concerts' seats one instance keeps in memory.
const MAX_CONCERTS: usize = 32;
/// How long an instance remembers that a concert is not in the database. Another instance that
/// creates the concert meanwhile is seen here at most this late (this instance's own creations
/// clear the entry at once).
pub const MISS_TTL: Duration = Duration::from_secs(5);
/// How many misses one instance remembers; past it, expired ones go first, then everything.
const MAX_MISSES: usize = 4096;

/// A concert and its live seats in natural order, as of one catalogue version.
pub struct ConcertCatalog {
    pub version: String,
    pub concert: Concert,
    pub seats: Vec<CatalogSeat>,
    index: HashMap<i64, usize>,
    layout: OnceLock<Arc<Rendered>>,
}

/// A JSON answer rendered once and shared by every request, with its strong `ETag`.
pub struct Rendered {
    /// The quoted entity tag, e.g. `"3f2a…"`.
    pub etag: String,
    pub body: bytes::Bytes,
}

/// A seat and the JSON of its fixed fields (its `SeatView` without the state).
pub struct CatalogSeat {
    pub seat: Seat,
    json_head: Box<str>,
}

impl ConcertCatalog {
    pub fn seat(&self, id: i64) -> Option<&CatalogSeat> {
        self.index.get(&id).map(|&i| &self.seats[i])
    }

    /// The layout's version (its contents' digest), which the seat states in Redis follow.
    pub fn layout_version(&self) -> String {
        self.layout().etag.trim_matches('"').to_owned()
    }

    /// The concert's seat layout, rendered on first use for this catalogue version.
    pub fn layout(&self) -> Arc<Rendered> {
        self.layout
            .get_or_init(|| {
                let layout = SeatLayout::new(self.concert.id, self.seats.iter().map(|s| &s.seat));
                let etag = format!("\"{}\"", layout.version);
                let body = serde_json::to_vec(&layout).unwrap_or_default().into();
                Arc::new(Rendered { etag, body })
            })
            .clone()
    }
}

impl CatalogSeat {
    /// Appends the seat's `SeatView` JSON with the given state.
    pub fn write_json(&self, out: &mut Vec<u8>, status: SeatStatus) {
        out.extend_from_slice(self.json_head.as_bytes());
        out.extend_from_slice(seat::json_tail(status).as_bytes());
    }
}

/// How many keys the load locks may hold before unused ones are swept.
const MAX_IDLE_LOCKS: usize = 1024;

/// One lock per key, held only while someone uses it: loads of one concert wait for each
/// other, loads of different concerts do not. The map holds only keys in use.
#[derive(Default)]
pub struct LoadLocks {
    locks: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
}

/// Holds one key's lock; the key leaves the map with its last user.
pub struct LoadGuard<'a> {
    locks: &'a LoadLocks,
    key: i64,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl LoadLocks {
    pub async fn lock(&self, key: i64) -> LoadGuard<'_> {
        let lock = {
            let mut locks = self.locks.lock().expect("lock");
            // A waiter cancelled after the holder left leaves its key behind: swept here.
            if locks.len() >= MAX_IDLE_LOCKS {
                locks.retain(|_, l| Arc::strong_count(l) > 1);
            }
            locks.entry(key).or_default().clone()
        };
        let guard = lock.lock_owned().await;
        LoadGuard { locks: self, key, guard: Some(guard) }
    }

    /// Keys locked or waited for right now.
    pub fn len(&self) -> usize {
        self.locks.lock().expect("lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for LoadGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut locks = self.locks.locks.lock().expect("lock");
        // Only the map's own reference left: nobody holds or waits for this key.
        if locks.get(&self.key).is_some_and(|l| Arc::strong_count(l) == 1) {
            locks.remove(&self.key);
        }
    }
}

/// Concerts recently found missing from the database, each for `MISS_TTL`.
struct Misses {
    until: Mutex<HashMap<i64, Instant>>,
}

impl Misses {
    fn contains(&self, concert: i64) -> bool {
        let mut until = self.until.lock().expect("lock");
        match until.get(&concert) {
            Some(t) if *t > Instant::now() => true,
            Some(_) => {
                until.remove(&concert);
                false
            }
            None => false,
        }
    }

    fn insert(&self, concert: i64) {
        let now = Instant::now();
        let mut until = self.until.lock().expect("lock");
        if until.len() >= MAX_MISSES {
            until.retain(|_, t| *t > now);
            if until.len() >= MAX_MISSES {
                until.clear();
            }
        }
        until.insert(concert, now + MISS_TTL);
    }

    fn remove(&self, concert: i64) {
        self.until.lock().expect("lock").remove(&concert);
    }
}

/// The per-instance cache.
pub struct Catalogs {
    db: PgPool,
    holds: Holds,
    concerts: RwLock<HashMap<i64, Arc<ConcertCatalog>>>,
    seat_concert: RwLock<HashMap<i64, i64>>,
    loading: LoadLocks,
    misses: Misses,
    lookups: AtomicU64,
    /// Database queries for the concert of seats not in `seat_concert`.
    seat_lookups: AtomicU64,
    order: Mutex<Vec<i64>>,
}

impl Catalogs {
    pub fn new(db: PgPool, holds: Holds) -> Self {
        Catalogs {
            db,
            holds,
            concerts: RwLock::default(),
            seat_concert: RwLock::default(),
            loading: LoadLocks::default(),
            misses: Misses { until: Mutex::default() },
            lookups: AtomicU64::new(0),
            seat_lookups: AtomicU64::new(0),
            order: Mutex::default(),
        }
    }

    /// The concert's catalogue as of its current version in Redis; `None` when the concert
    /// does not exist or is deleted. Writes nothing to Redis for a concert the database does
    /// not have.
    pub async fn current(&self, concert: i64) -> AppResult<Option<Arc<ConcertCatalog>>> {
        if self.is_missing(concert) {
            return Ok(None);
        }
        if let Some(version) = self.holds.version(concert).await? {
            return self.get(concert, &version).await;
        }
        // No version yet (a concert never read, or a Redis flush): one only for a real concert.
        {
            let _guard = self.loading.lock(concert).await;
            if self.is_missing(concert) {
                return Ok(None);
            }
            if self.holds.version(concert).await?.is_none() {
                self.count_lookup();
                let found = concerts::find(&mut *self.db.acquire().await?, concert).await?;
                if found.is_none() {
                    self.remember_missing(concert);
                    return Ok(None);
                }
            }
        }
        let version = self.holds.create_version(concert).await?;
        self.get(concert, &version).await
    }

    /// The concert's catalogue at `version`, loading it when this instance has an older one.
    /// `None` when the concert does not exist or is deleted.
    pub async fn get(&self, concert: i64, version: &str) -> AppResult<Option<Arc<ConcertCatalog>>> {
        if let Some(c) = self.cached(concert, version) {
            return Ok(Some(c));
        }
        // One load per concert at a time: a crowd arriving at a cold instance waits for one
        // query.
        let _guard = self.loading.lock(concert).await;
        if let Some(c) = self.cached(concert, version) {
            return Ok(Some(c));
        }
        if self.is_missing(concert) {
            return Ok(None);
        }
        self.count_lookup();
        let mut conn = self.db.acquire().await?;
        let Some(row) = concerts::find(&mut conn, concert).await? else {
            self.concerts.write().expect("lock").remove(&concert);
            self.remember_missing(concert);
            return Ok(None);
        };
        let filter = seats::SeatFilter { concert: Some(concert), ..Default::default() };
        let seats =
            seats::with_state(&mut conn, filter).await?.into_iter().map(|s| s.seat).collect();
        let catalog = Arc::new(build(version.to_owned(), row, seats));
        {
            let mut map = self.seat_concert.write().expect("lock");
            for s in &catalog.seats {
                map.insert(s.seat.id, concert);
            }
        }
        let mut order = self.order.lock().expect("lock");
        let mut concerts = self.concerts.write().expect("lock");
        if concerts.insert(concert, catalog.clone()).is_none() {
            order.push(concert);
            while order.len() > MAX_CONCERTS {
                let evicted = order.remove(0);
                concerts.remove(&evicted);
            }
        }
        Ok(Some(catalog))
    }

    /// Whether the concert was found missing from the database less than `MISS_TTL` ago.
    pub fn is_missing(&self, concert: i64) -> bool {
        self.misses.contains(concert)
    }

    /// Remembers (for `MISS_TTL`) that the database has no such live concert.
    pub fn remember_missing(&self, concert: i64) {
        self.misses.insert(concert);
    }

    /// Forgets a remembered miss (the concert was just created here).
    pub fn forget_missing(&self, concert: i64) {
        self.misses.remove(concert);
    }

    /// Counts one look-up of a concert in the database (see `lookups`).
    pub fn count_lookup(&self) {
        self.lookups.fetch_add(1, Ordering::Relaxed);
    }

    /// How many times this instance looked a concert up in the database to load it.
    pub fn lookups(&self) -> u64 {
        self.lookups.load(Ordering::Relaxed)
    }

    /// Concerts being loaded (or waited for) right now: zero when idle, whatever ids were asked.
    /// How many times the concert of a seat was looked up in the database (a seat this
    /// instance has not seen in a catalogue).
    pub fn seat_lookups(&self) -> u64 {
        self.seat_lookups.load(Ordering::Relaxed)
    }

    pub fn loads_in_flight(&self) -> usize {
        self.loading.len()
    }

    fn cached(&self, concert: i64, version: &str) -> Option<Arc<ConcertCatalog>> {
        self.concerts.read().expect("lock").get(&concert).filter(|c| c.version == version).cloned()
    }

    /// The one concert all the given seats belong to. A seat never moves to another concert,
    /// so this is remembered for good; unknown seats are looked up once.
    pub async fn concert_of(&self, seats: &[i64]) -> AppResult<i64> {
        let mut missing = Vec::new();
        let mut found = None;
        {
            let map = self.seat_concert.read().expect("lock");
            for seat in seats {
                match map.get(seat) {
                    Some(&c) if found.is_none_or(|f| f == c) => found = Some(c),
                    Some(_) => return Err(ErrorCode::INVALID_CONCERT_ID.into()),
                    None => missing.push(*seat),
                }
            }
        }
        if !missing.is_empty() {
            self.seat_lookups.fetch_add(1, Ordering::Relaxed);
            let rows = seats::concerts_of(&mut *self.db.acquire().await?, &missing).await?;
            if rows.len() != missing.len() {
                return Err(ErrorCode::SEAT_NOT_FOUND.into());
            }
            let mut map = self.seat_concert.write().expect("lock");
            for seats::SeatConcert { seat_id, concert_id: concert } in rows {
                map.insert(seat_id, concert);
                if found.is_some_and(|f| f != concert) {
                    return Err(ErrorCode::INVALID_CONCERT_ID.into());
                }
                found = Some(concert);
            }
        }
        found.ok_or_else(|| ErrorCode::SEAT_NOT_FOUND.into())
    }
}

fn build(version: String, concert: Concert, seats: Vec<Seat>) -> ConcertCatalog {
    let mut index = HashMap::with_capacity(seats.len());
    let seats: Vec<CatalogSeat> = seats
        .into_iter()
        .enumerate()
        .map(|(i, seat)| {
            index.insert(seat.id, i);
            let json_head = SeatView::new(&seat, &concert.title, SeatStatus::Available).json_head();
            CatalogSeat { seat, json_head: json_head.into_boxed_str() }
        })
        .collect();
    ConcertCatalog { version, concert, seats, index, layout: OnceLock::new() }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn load_locks_are_per_key_and_leave_with_their_last_user() {
        let locks = LoadLocks::default();
        let one = locks.lock(1).await;
        // Another key is not held up by the first.
        let two = tokio::time::timeout(Duration::from_secs(5), locks.lock(2)).await.unwrap();
        assert_eq!(locks.len(), 2);
        // The same key waits for its holder.
        assert!(tokio::time::timeout(Duration::from_millis(50), locks.lock(1)).await.is_err());
        drop(two);
        drop(one);
        assert!(locks.is_empty(), "no key outlives its users, cancelled waiters included");
    }

    #[tokio::test]
    async fn keys_left_by_cancelled_waiters_are_swept() {
        let locks = LoadLocks::default();
        for key in 0..MAX_IDLE_LOCKS as i64 {
            let held = locks.lock(key).await;
            // A waiter cancelled after the holder left (its clone outlives the guard).
            let waiter = locks.locks.lock().unwrap().get(&key).cloned();
            drop(held);
            drop(waiter);
        }
        assert_eq!(locks.len(), MAX_IDLE_LOCKS);
        drop(locks.lock(-1).await);
        assert!(locks.is_empty());
    }

    #[test]
    fn misses_are_bounded() {
        let misses = Misses { until: Mutex::default() };
        for concert in 0..(MAX_MISSES as i64 + 10) {
            misses.insert(concert);
        }
        assert!(misses.until.lock().unwrap().len() <= MAX_MISSES);
        assert!(misses.contains(MAX_MISSES as i64 + 9));
        misses.remove(MAX_MISSES as i64 + 9);
        assert!(!misses.contains(MAX_MISSES as i64 + 9));
    }
}
