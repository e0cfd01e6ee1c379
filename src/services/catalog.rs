//! An in-process copy of each concert's seats, validated by the concert's catalogue version in
//! Redis (admin edits change it), so hot paths — the seat map, hold responses — read memory
//! instead of the database. Each instance keeps its own; a version change makes every instance
//! reload on next use.

use std::{
    collections::HashMap,
    fmt::Write,
    sync::{Arc, Mutex, RwLock},
};

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::{
    domain::{money::Money, seat::SeatStatus, time::kst},
    error::{AppResult, ErrorCode},
    repositories::{
        concerts::{self, ConcertRow},
        seats::{self, SeatStatic},
    },
};

/// How many concerts' seats one instance keeps in memory.
const MAX_CONCERTS: usize = 32;

/// A concert and its live seats in natural order, as of one catalogue version.
pub struct ConcertCatalog {
    pub version: String,
    pub concert: ConcertRow,
    pub seats: Vec<CatalogSeat>,
    index: HashMap<i64, usize>,
}

/// A seat and the JSON of its fixed fields (everything of `SeatResponse` but the state).
pub struct CatalogSeat {
    pub seat: SeatStatic,
    json_head: Box<str>,
}

impl ConcertCatalog {
    pub fn seat(&self, id: i64) -> Option<&CatalogSeat> {
        self.index.get(&id).map(|&i| &self.seats[i])
    }
}

impl CatalogSeat {
    /// Appends the seat's `SeatResponse` JSON with the given state.
    pub fn write_json(&self, out: &mut Vec<u8>, status: SeatStatus) {
        out.extend_from_slice(self.json_head.as_bytes());
        out.extend_from_slice(match status {
            SeatStatus::Available => br#","reserved":false,"status":"AVAILABLE"}"#,
            SeatStatus::Held => br#","reserved":true,"status":"HELD"}"#,
            SeatStatus::Reserved => br#","reserved":true,"status":"RESERVED"}"#,
            SeatStatus::Sold => br#","reserved":true,"status":"SOLD"}"#,
        });
    }
}

/// The per-instance cache.
#[derive(Default)]
pub struct Catalogs {
    concerts: RwLock<HashMap<i64, Arc<ConcertCatalog>>>,
    seat_concert: RwLock<HashMap<i64, i64>>,
    loading: tokio::sync::Mutex<()>,
    order: Mutex<Vec<i64>>,
}

impl Catalogs {
    /// The concert's catalogue at `version`, loading it when this instance has an older one.
    /// `None` when the concert does not exist or is deleted.
    pub async fn get(
        &self,
        db: &PgPool,
        concert: i64,
        version: &str,
    ) -> AppResult<Option<Arc<ConcertCatalog>>> {
        if let Some(c) = self.cached(concert, version) {
            return Ok(Some(c));
        }
        // One load at a time: a crowd arriving at a cold instance waits for one query.
        let _guard = self.loading.lock().await;
        if let Some(c) = self.cached(concert, version) {
            return Ok(Some(c));
        }
        let mut conn = db.acquire().await?;
        let Some(row) = concerts::find(&mut conn, concert).await? else {
            self.concerts.write().expect("lock").remove(&concert);
            return Ok(None);
        };
        let seats = seats::list_static(&mut conn, concert).await?;
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
    pub async fn concert_of(&self, db: &PgPool, seats: &[i64]) -> AppResult<i64> {
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
            let rows = seats::concerts_of(&mut *db.acquire().await?, &missing).await?;
            if rows.len() != missing.len() {
                return Err(ErrorCode::SEAT_NOT_FOUND.into());
            }
            let mut map = self.seat_concert.write().expect("lock");
            for (seat, concert) in rows {
                map.insert(seat, concert);
                if found.is_some_and(|f| f != concert) {
                    return Err(ErrorCode::INVALID_CONCERT_ID.into());
                }
                found = Some(concert);
            }
        }
        found.ok_or_else(|| ErrorCode::SEAT_NOT_FOUND.into())
    }
}

fn build(version: String, concert: ConcertRow, seats: Vec<SeatStatic>) -> ConcertCatalog {
    let title = serde_json::to_string(&concert.title).unwrap_or_default();
    let mut index = HashMap::with_capacity(seats.len());
    let seats: Vec<CatalogSeat> = seats
        .into_iter()
        .enumerate()
        .map(|(i, seat)| {
            index.insert(seat.id, i);
            let json_head = json_head(&concert, &title, &seat);
            CatalogSeat { seat, json_head: json_head.into_boxed_str() }
        })
        .collect();
    ConcertCatalog { version, concert, seats, index }
}

/// `{"id":…,"concertId":…,…,"updatedAt":"…"` — a `SeatResponse` without its closing state.
fn json_head(concert: &ConcertRow, title_json: &str, s: &SeatStatic) -> String {
    let text = |v: &str| serde_json::to_string(v).unwrap_or_default();
    let price = serde_json::to_string(&Money::from(s.price)).unwrap_or_default();
    let mut out = String::with_capacity(256);
    let _ = write!(
        out,
        r#"{{"id":{},"concertId":{},"concertTitle":{},"section":{},"row":{},"number":{},"grade":{},"price":{},"createdAt":"{}","updatedAt":"{}""#,
        s.id,
        concert.id,
        title_json,
        text(&s.section),
        text(&s.row),
        text(&s.number),
        text(&s.grade),
        price,
        timestamp(s.created_at),
        timestamp(s.updated_at),
    );
    out
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.with_timezone(&kst()).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}
