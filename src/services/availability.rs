//! Seat availability: every seat's state, 2 bits a seat in layout order, read from Redis at a
//! version that moves with every change (never from the database per request), and loading a
//! concert's states into Redis from the database when they are not there.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
};

use base64::Engine as _;
use sqlx::PgPool;

use super::catalog::{Catalogs, ConcertCatalog, LoadLocks, Rendered};
use crate::{
    clients::holds::{
        AvailabilityData, AvailabilityRead, ConcertLoad, ConcertState, Holds, OwnedSeats,
        ReservedSeat, SeatPlace, WaitingEntry,
    },
    domain::{
        availability::{self, SeatAvailability},
        seat::SeatStatus,
    },
    error::{AppResult, ErrorCode},
    repositories::{concerts, reservations, waitlist},
};

/// A concert's seat states at one availability version, with its answers rendered on first use
/// and shared by every request at that version.
pub struct Snapshot {
    pub concert: i64,
    pub version: u64,
    /// The layout the states follow (the layout's `version`).
    pub layout: String,
    pub count: usize,
    /// 2 bits a seat (`domain::availability`).
    pub states: Vec<u8>,
    json: OnceLock<Arc<Rendered>>,
    frame: OnceLock<bytes::Bytes>,
    map: OnceLock<Arc<Rendered>>,
}

impl Snapshot {
    pub fn new(concert: i64, data: AvailabilityData) -> Snapshot {
        let AvailabilityData { version, layout, count, states } = data;
        Snapshot {
            concert,
            version,
            layout,
            count,
            states,
            json: OnceLock::new(),
            frame: OnceLock::new(),
            map: OnceLock::new(),
        }
    }

    /// The same snapshot moved on to `version` with new states.
    pub fn advanced(&self, version: u64, states: Vec<u8>) -> Snapshot {
        Snapshot::new(
            self.concert,
            AvailabilityData { version, layout: self.layout.clone(), count: self.count, states },
        )
    }

    pub fn state(&self, index: usize) -> SeatStatus {
        availability::state_at(&self.states, index)
    }

    /// The availability answer, with its strong `ETag`.
    pub fn json(&self) -> Arc<Rendered> {
        self.json
            .get_or_init(|| {
                let body = SeatAvailability {
                    concert_id: self.concert,
                    version: self.version,
                    layout_version: self.layout.clone(),
                    count: self.count,
                    encoding: availability::ENCODING.to_owned(),
                    states: base64::engine::general_purpose::STANDARD.encode(&self.states),
                };
                Arc::new(Rendered {
                    etag: format!("\"a{}-{}\"", self.version, self.layout),
                    body: serde_json::to_vec(&body).unwrap_or_default().into(),
                })
            })
            .clone()
    }

    /// The availability as one SSE frame (`event: snapshot`, `id` the version), rendered once
    /// and shared by every stream that starts from it.
    pub fn frame(&self) -> bytes::Bytes {
        self.frame
            .get_or_init(|| {
                let json = self.json();
                let mut frame = Vec::with_capacity(json.body.len() + 48);
                frame.extend_from_slice(
                    format!("event: snapshot\nid: {}\ndata: ", self.version).as_bytes(),
                );
                frame.extend_from_slice(&json.body);
                frame.extend_from_slice(b"\n\n");
                frame.into()
            })
            .clone()
    }

    /// The original seat map (every `SeatResponse` in layout order) at this version.
    fn map(&self, catalog: &ConcertCatalog) -> Arc<Rendered> {
        self.map
            .get_or_init(|| {
                Arc::new(Rendered {
                    etag: format!("\"m{}-{}\"", self.version, self.layout),
                    body: self.render_map(catalog, None).into(),
                })
            })
            .clone()
    }

    fn render_map(&self, catalog: &ConcertCatalog, grade: Option<&str>) -> Vec<u8> {
        let mut out = Vec::with_capacity(catalog.seats.len() * 300 + 2);
        out.push(b'[');
        let mut first = true;
        for (i, seat) in catalog.seats.iter().enumerate() {
            if grade.is_some_and(|g| seat.seat.grade != g) {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            seat.write_json(&mut out, self.state(i));
        }
        out.push(b']');
        out
    }
}

/// Availability reads and loads, with the latest snapshot of each concert kept per instance.
pub struct Availability {
    db: PgPool,
    holds: Holds,
    catalogs: Arc<Catalogs>,
    latest: Mutex<HashMap<i64, Arc<Snapshot>>>,
    /// One load per concert at a time per instance: a crowd at a cold concert waits for one.
    loading: LoadLocks,
    /// Seat-state loads from the database (see `state_loads`).
    state_loads: AtomicU64,
}

impl Availability {
    pub fn new(db: PgPool, holds: Holds, catalogs: Arc<Catalogs>) -> Self {
        Availability {
            db,
            holds,
            catalogs,
            latest: Mutex::default(),
            loading: LoadLocks::default(),
            state_loads: AtomicU64::new(0),
        }
    }

    /// How many times this instance read a concert's seat states from the database to load
    /// them into Redis (each is also one of `Catalogs::lookups`).
    pub fn state_loads(&self) -> u64 {
        self.state_loads.load(Ordering::Relaxed)
    }

    /// The in-memory catalogues this availability reads with.
    pub fn catalogs(&self) -> &Arc<Catalogs> {
        &self.catalogs
    }

    /// The concert's current availability: one Redis call, which returns the states only when
    /// they moved past the snapshot this instance has.
    pub async fn snapshot(&self, concert: i64) -> AppResult<Arc<Snapshot>> {
        for _ in 0..3 {
            let known = self.latest.lock().expect("lock").get(&concert).cloned();
            match self.holds.availability(concert, known.as_ref().map(|s| s.version)).await? {
                AvailabilityRead::Unchanged(_) if known.is_some() => {
                    return Ok(known.expect("checked"));
                }
                AvailabilityRead::Current(data) => {
                    let snapshot = Arc::new(Snapshot::new(concert, data));
                    let mut latest = self.latest.lock().expect("lock");
                    let keep = latest.get(&concert).is_none_or(|s| s.version < snapshot.version);
                    if keep {
                        latest.insert(concert, snapshot.clone());
                    }
                    return Ok(snapshot);
                }
                AvailabilityRead::Miss => self.load_if_missing(concert).await?,
                AvailabilityRead::Deleted => return Err(ErrorCode::CONCERT_NOT_FOUND.into()),
                AvailabilityRead::Unchanged(_) => {
                    self.latest.lock().expect("lock").remove(&concert);
                }
            }
        }
        Err(ErrorCode::SEAT_LOCK_RETRY_NEEDED.into())
    }

    /// The original seat map (of one grade, if given) from the current availability and the
    /// in-memory catalogue: no database call. The whole map is rendered once per version.
    pub async fn seat_map(&self, concert: i64, grade: Option<&str>) -> AppResult<Arc<Rendered>> {
        for _ in 0..3 {
            let snapshot = self.snapshot(concert).await?;
            let catalog =
                self.catalogs.current(concert).await?.ok_or(ErrorCode::CONCERT_NOT_FOUND)?;
            // An admin edit between the two reads: read both again.
            if catalog.layout_version() != snapshot.layout {
                continue;
            }
            return Ok(match grade {
                None => snapshot.map(&catalog),
                // The grade in hex: any text is a valid header value then.
                Some(grade) => Arc::new(Rendered {
                    etag: format!(
                        "\"m{}-{}-{}\"",
                        snapshot.version,
                        snapshot.layout,
                        hex::encode(grade)
                    ),
                    body: snapshot.render_map(&catalog, Some(grade)).into(),
                }),
            });
        }
        Err(ErrorCode::SEAT_LOCK_RETRY_NEEDED.into())
    }

    /// After an admin edit (seats, prices, sale window, deletion): a new catalogue version, and
    /// the states loaded again at once, so live seat maps learn of a new layout (or of the
    /// concert's end) now rather than on the next hold.
    pub async fn edited(&self, concert: i64) -> AppResult<()> {
        self.holds.invalidate(concert).await?;
        // Whatever misses say: a deletion just made the concert one, and its tombstone must
        // still be written.
        let _guard = self.loading.lock(concert).await;
        if let Err(e) = self.load_unless_loaded(concert).await {
            // The next read loads them.
            tracing::warn!(error = %e, concert.id = concert, "could not reload seat states");
        }
        // Seats an admin added went through the waitlist step in the load; the availability
        // sweeper records its offers in Postgres.
        Ok(())
    }

    /// Loads the concert's states into Redis unless another request just did. A concert the
    /// database does not have is remembered briefly (`catalog::MISS_TTL`): asking again costs
    /// no query, and concurrent askers wait for the first one's answer.
    pub async fn load_if_missing(&self, concert: i64) -> AppResult<()> {
        if self.catalogs.is_missing(concert) {
            return Err(ErrorCode::CONCERT_NOT_FOUND.into());
        }
        let _guard = self.loading.lock(concert).await;
        if self.catalogs.is_missing(concert) {
            return Err(ErrorCode::CONCERT_NOT_FOUND.into());
        }
        self.load_unless_loaded(concert).await
    }

    /// `load` unless the states are in Redis; the caller holds the concert's load lock.
    async fn load_unless_loaded(&self, concert: i64) -> AppResult<()> {
        if !matches!(self.holds.availability(concert, None).await?, AvailabilityRead::Miss) {
            return Ok(());
        }
        self.load(concert, false).await
    }

    /// Loads the concert's states again after the database refused what Redis allowed: the
    /// database's sold and reserved seats replace holds Redis kept by mistake.
    pub async fn repair(&self, concert: i64) -> AppResult<()> {
        let _guard = self.loading.lock(concert).await;
        tracing::warn!(concert.id = concert, "Redis disagreed with the database; reloading");
        self.load(concert, true).await
    }

    /// Loads the concert's sale window, seats and seat states from the database into Redis.
    /// Nothing is written for a concert the database does not have; a deleted one leaves a
    /// tombstone that expires (`holds::GONE_TTL_MS`).
    #[tracing::instrument(skip(self))]
    async fn load(&self, concert: i64, force: bool) -> AppResult<()> {
        for _ in 0..3 {
            let mut conn = self.db.acquire().await?;
            self.catalogs.count_lookup();
            self.state_loads.fetch_add(1, Ordering::Relaxed);
            let Some(stored) = concerts::find_any(&mut conn, concert).await? else {
                self.catalogs.remember_missing(concert);
                return Err(ErrorCode::CONCERT_NOT_FOUND.into());
            };
            if !stored.deleted {
                // Just seen in the database: whatever an older look-up said.
                self.catalogs.forget_missing(concert);
            }
            let active = reservations::active_seats(&mut conn, concert).await?;
            let entries = waitlist::active_of(&mut conn, concert).await?;
            drop(conn);
            let mut waiting = Vec::new();
            let mut offered = Vec::new();
            for e in entries {
                let mirrored = WaitingEntry {
                    id: e.id,
                    user: e.user_id,
                    quantity: e.quantity as u32,
                    grade: e.grade,
                    created_us: e.created_at.timestamp_micros(),
                };
                match e.offer_expires_at {
                    Some(t) if e.status == "OFFERED" => {
                        offered.push((mirrored, t.timestamp_millis()))
                    }
                    _ if e.status == "WAITING" => waiting.push(mirrored),
                    _ => {}
                }
            }
            let version = self.holds.create_version(concert).await?;
            let catalog = match stored.deleted {
                true => None,
                false => Some(
                    self.catalogs
                        .get(concert, &version)
                        .await?
                        .ok_or(ErrorCode::CONCERT_NOT_FOUND)?,
                ),
            };
            let live: Vec<i64> =
                catalog.iter().flat_map(|c| c.seats.iter().map(|s| s.seat.id)).collect();
            let layout = catalog.as_ref().map(|c| c.layout_version()).unwrap_or_default();
            let places: Vec<SeatPlace> = catalog
                .iter()
                .flat_map(|c| {
                    c.seats.iter().map(|s| SeatPlace {
                        seat: s.seat.id,
                        grade: s.seat.grade.clone(),
                        row: format!("{}\u{1f}{}", s.seat.section, s.seat.row),
                    })
                })
                .collect();
            let mut sold = Vec::new();
            let mut reserved = Vec::new();
            let mut owned: HashMap<i64, i64> = HashMap::new();
            for seat in active {
                match SeatStatus::of_reservation(seat.status) {
                    SeatStatus::Sold => {
                        sold.push(seat.seat_id);
                        *owned.entry(seat.user_id).or_default() += 1;
                    }
                    _ => reserved.push(ReservedSeat {
                        seat: seat.seat_id,
                        user: seat.user_id,
                        reservation: seat.reservation_id,
                        expires_ms: seat.expire_time.timestamp_millis(),
                    }),
                }
            }
            let owned: Vec<OwnedSeats> =
                owned.into_iter().map(|(user, count)| OwnedSeats { user, count }).collect();
            let c = &stored.concert;
            let load = ConcertLoad {
                state: ConcertState {
                    open_ms: c.open_time.timestamp_millis(),
                    close_ms: c.close_time.timestamp_millis(),
                    status: c.status.as_str().to_owned(),
                    deleted: stored.deleted,
                    queue_enabled: c.queue_enabled,
                },
                layout: &layout,
                live_seats: &live,
                sold: &sold,
                reserved: &reserved,
                owned: &owned,
                force,
                places: &places,
                waiting: &waiting,
                offered: &offered,
            };
            if self.holds.warm(concert, &version, &load).await? {
                tracing::info!(
                    seats = live.len(),
                    sold = sold.len(),
                    "concert state loaded into Redis"
                );
                return Ok(());
            }
        }
        Err(ErrorCode::SEAT_LOCK_RETRY_NEEDED.into())
    }
}
