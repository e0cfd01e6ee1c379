//! An in-process copy of each concert's seats, validated by the concert's catalogue version in
//! Redis (admin edits change it), so hot paths — the seat map, hold responses — read memory
//! instead of the database. Each instance keeps its own; a version change makes every instance
//! reload on next use.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock, RwLock},
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

/// The per-instance cache.
pub struct Catalogs {
    db: PgPool,
    holds: Holds,
    concerts: RwLock<HashMap<i64, Arc<ConcertCatalog>>>,
    seat_concert: RwLock<HashMap<i64, i64>>,
    loading: tokio::sync::Mutex<()>,
    order: Mutex<Vec<i64>>,
}

impl Catalogs {
    pub fn new(db: PgPool, holds: Holds) -> Self {
        Catalogs {
            db,
            holds,
            concerts: RwLock::default(),
            seat_concert: RwLock::default(),
            loading: tokio::sync::Mutex::default(),
            order: Mutex::default(),
        }
    }

    /// The concert's catalogue as of its current version in Redis; `None` when the concert
    /// does not exist or is deleted.
    pub async fn current(&self, concert: i64) -> AppResult<Option<Arc<ConcertCatalog>>> {
        let version = self.holds.version(concert).await?;
        self.get(concert, &version).await
    }

    /// The concert's catalogue at `version`, loading it when this instance has an older one.
    /// `None` when the concert does not exist or is deleted.
    pub async fn get(&self, concert: i64, version: &str) -> AppResult<Option<Arc<ConcertCatalog>>> {
        if let Some(c) = self.cached(concert, version) {
            return Ok(Some(c));
        }
        // One load at a time: a crowd arriving at a cold instance waits for one query.
        let _guard = self.loading.lock().await;
        if let Some(c) = self.cached(concert, version) {
            return Ok(Some(c));
        }
        let mut conn = self.db.acquire().await?;
        let Some(row) = concerts::find(&mut conn, concert).await? else {
            self.concerts.write().expect("lock").remove(&concert);
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
