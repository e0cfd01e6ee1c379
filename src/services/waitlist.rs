//! The waitlist after sell-out (issue 18): joining, a fan's entries, leaving, the admin list.
//! The rule of the release step is written down in docs/WAITLIST.md.

use std::sync::Arc;

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{
    availability::Availability,
    waitlist_stream::{self, WaitlistOfferEvent},
};
use crate::{
    clients::holds::{Holds, JoinOutcome, WaitingEntry, WaitlistEvent},
    domain::{
        concert::{ConcertStatus, NotOnSale, sale_closed, sale_window_open},
        seat::SeatStatus,
    },
    error::{AppResult, ErrorCode},
    repositories::waitlist,
};

pub use crate::repositories::waitlist::Entry;

/// The waitlist's operations.
pub struct Waitlist<'a> {
    pub db: &'a PgPool,
    pub holds: &'a Holds,
    pub availability: &'a Arc<Availability>,
    pub max_seats_per_user: u32,
    pub offer_ttl: Duration,
}

impl Waitlist<'_> {
    /// Joins the concert's waitlist for `quantity` seats (of `grade`, if given). Refused while
    /// matching seats are available, outside the sale window, for a second active entry, and
    /// over what the per-user limit leaves after the fan's holds and purchases.
    pub async fn join(
        &self,
        concert: i64,
        user: i64,
        quantity: u32,
        grade: Option<&str>,
    ) -> AppResult<Entry> {
        if quantity == 0 || quantity > self.max_seats_per_user {
            return Err(ErrorCode::BAD_REQUEST.into());
        }
        let snapshot = self.availability.snapshot(concert).await?;
        let catalog = self
            .availability
            .catalogs()
            .current(concert)
            .await?
            .ok_or(ErrorCode::CONCERT_NOT_FOUND)?;
        let c = &catalog.concert;
        if matches!(c.status, ConcertStatus::Cancelled | ConcertStatus::Completed) {
            return Err(NotOnSale::Status.code().into());
        }
        let now = Utc::now();
        if sale_closed(c.close_time, now) {
            return Err(NotOnSale::Closed.code().into());
        }
        if !sale_window_open(c.open_time, c.close_time, now) {
            return Err(NotOnSale::NotOpenYet.code().into());
        }
        if let Some(grade) = grade
            && !catalog.seats.iter().any(|s| s.seat.grade == grade)
        {
            return Err(ErrorCode::SEAT_NOT_FOUND.into());
        }
        if catalog.layout_version() != snapshot.layout {
            return Err(ErrorCode::SEAT_LOCK_RETRY_NEEDED.into());
        }
        let available = catalog
            .seats
            .iter()
            .enumerate()
            .filter(|(i, s)| {
                snapshot.state(*i) == SeatStatus::Available
                    && grade.is_none_or(|g| s.seat.grade == g)
            })
            .count();
        if available as u64 >= u64::from(quantity) {
            return Err(ErrorCode::SEATS_AVAILABLE.into());
        }
        let mine = self.holds.user_seat_count(concert, user).await?;
        if mine + u64::from(quantity) > u64::from(self.max_seats_per_user) {
            return Err(ErrorCode::SEAT_LIMIT_EXCEEDED.into());
        }
        let (id, created_at) =
            waitlist::insert(self.db, concert, user, quantity as i32, grade).await?;
        // The step in Redis decides atomically whether the entry may wait: seats may have come
        // free since the check above, and none may stay AVAILABLE while it waits.
        let mirrored = WaitingEntry {
            id,
            user,
            quantity,
            grade: grade.map(str::to_owned),
            created_us: created_at.timestamp_micros(),
        };
        let outcome = self
            .holds
            .waitlist_join(
                concert,
                &mirrored,
                self.offer_ttl.as_millis() as i64,
                self.max_seats_per_user,
            )
            .await;
        match outcome {
            Ok(JoinOutcome::Waiting) => {}
            Ok(JoinOutcome::SeatsAvailable) => {
                waitlist::delete(self.db, id).await?;
                return Err(ErrorCode::SEATS_AVAILABLE.into());
            }
            Err(e) => {
                waitlist::delete(self.db, id).await?;
                return Err(e);
            }
        }
        metrics::counter!("ticketing_waitlist_joined_total").increment(1);
        self.publish_waiting().await?;
        let position = self.position(concert, created_at, id).await?;
        Ok(Entry {
            id,
            concert_id: concert,
            user_id: user,
            quantity: quantity as i32,
            grade: grade.map(str::to_owned),
            status: "WAITING".into(),
            position,
            offer_expires_at: None,
            offered_seat_ids: Vec::new(),
            created_at,
        })
    }

    async fn position(&self, concert: i64, created_at: DateTime<Utc>, id: i64) -> AppResult<i64> {
        let n = waitlist::position(self.db, concert, created_at, id).await?;
        Ok(n)
    }

    /// The fan's entries, newest first, with their places.
    pub async fn mine(&self, user: i64) -> AppResult<Vec<Entry>> {
        Ok(waitlist::of_user(self.db, user).await?)
    }

    /// A concert's active entries in order of service, for admins.
    pub async fn of_concert(&self, concert: i64) -> AppResult<Vec<Entry>> {
        Ok(waitlist::of_concert(self.db, concert).await?)
    }

    /// Leaves the waitlist: the fan's active entry becomes `CANCELLED`.
    pub async fn cancel(&self, user: i64, id: i64) -> AppResult<()> {
        let Some(ended) = waitlist::cancel(self.db, id, user).await? else {
            return Err(ErrorCode::WAITLIST_ENTRY_NOT_FOUND.into());
        };
        metrics::counter!("ticketing_waitlist_left_total").increment(1);
        // The fan's other tabs and devices.
        waitlist_stream::notify_status(self.holds, user, id, ended.concert_id, "CANCELLED").await;
        // Its kept or offered seats go to the next entries, through the step.
        let entry = WaitingEntry {
            id,
            user,
            quantity: ended.quantity as u32,
            grade: ended.grade,
            created_us: ended.created_at.timestamp_micros(),
        };
        self.holds.waitlist_leave(ended.concert_id, &entry).await?;
        record_outcomes(self.db, self.holds, ended.concert_id).await?;
        self.publish_waiting().await
    }

    /// `ticketing_waitlist_waiting`: entries waiting, all concerts, read from the database so
    /// every instance reports the same number.
    async fn publish_waiting(&self) -> AppResult<()> {
        let n = waitlist::waiting(self.db).await?;
        metrics::gauge!("ticketing_waitlist_waiting").set(n as f64);
        Ok(())
    }
}

/// Records in Postgres what the step decided in Redis for the concert (offers, expired and
/// purchased offers, entries that no longer fit the per-user limit): each outcome once, then
/// forgotten in Redis. Every instance may run it at once: each update changes a row only from
/// the state it expects, so the offer email goes into the outbox once.
pub async fn record_outcomes(db: &PgPool, holds: &Holds, concert: i64) -> AppResult<()> {
    let events = holds.waitlist_events(concert).await?;
    if events.is_empty() {
        return Ok(());
    }
    for (entry, raw, event) in events {
        match &event {
            WaitlistEvent::Offered { expires_ms, released_ms, seats } => {
                let expires =
                    DateTime::<Utc>::from_timestamp_millis(*expires_ms).unwrap_or_else(Utc::now);
                if let Some(user) = waitlist::record_offer(db, entry, expires, seats).await? {
                    metrics::counter!("ticketing_waitlist_offers_total").increment(1);
                    let waited = (Utc::now().timestamp_millis() - released_ms).max(0);
                    metrics::histogram!("ticketing_waitlist_release_to_offer_seconds")
                        .record(waited as f64 / 1000.0);
                    // Recorded once, so the fan's streams hear of it once.
                    let offer = WaitlistOfferEvent {
                        entry_id: entry,
                        concert_id: concert,
                        seat_ids: seats.clone(),
                        expires_at: expires,
                    };
                    waitlist_stream::notify_offer(holds, user, &offer).await;
                }
            }
            WaitlistEvent::Expired => {
                if let Some(user) = waitlist::record_end(db, entry, "EXPIRED").await? {
                    metrics::counter!("ticketing_waitlist_offers_expired_total").increment(1);
                    waitlist_stream::notify_status(holds, user, entry, concert, "EXPIRED").await;
                }
            }
            WaitlistEvent::Purchased => {
                if let Some(user) = waitlist::record_end(db, entry, "PURCHASED").await? {
                    metrics::counter!("ticketing_waitlist_offers_accepted_total").increment(1);
                    waitlist_stream::notify_status(holds, user, entry, concert, "PURCHASED").await;
                }
            }
            WaitlistEvent::Cancelled => {
                if let Some(user) = waitlist::record_end(db, entry, "CANCELLED").await? {
                    waitlist_stream::notify_status(holds, user, entry, concert, "CANCELLED").await;
                }
            }
        }
        holds.waitlist_forget_event(concert, entry, &raw).await?;
    }
    let n = waitlist::waiting(db).await?;
    metrics::gauge!("ticketing_waitlist_waiting").set(n as f64);
    Ok(())
}

/// `record_outcomes`, for the release paths: a failure is logged (the sweeper records the
/// outcomes on its next run).
pub async fn record_outcomes_soon(db: &PgPool, holds: &Holds, concert: i64) {
    if let Err(e) = record_outcomes(db, holds, concert).await {
        tracing::warn!(error = %e, concert.id = concert, "could not record waitlist outcomes yet");
    }
}

/// The fan paid: an `OFFERED` entry of theirs for the concert becomes `PURCHASED`.
pub async fn purchased(db: &PgPool, holds: &Holds, user: i64, concert: i64) -> AppResult<()> {
    let entries = waitlist::mark_purchased(db, user, concert).await?;
    if !entries.is_empty() {
        metrics::counter!("ticketing_waitlist_offers_accepted_total")
            .increment(entries.len() as u64);
    }
    for entry in entries {
        waitlist_stream::notify_status(holds, user, entry, concert, "PURCHASED").await;
    }
    Ok(())
}
