//! The waitlist after sell-out (issue 18): joining, a fan's entries, leaving, the admin list.
//! The rule of the release step is written down in docs/WAITLIST.md.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::availability::Availability;
use crate::{
    clients::holds::Holds,
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
        let done = waitlist::cancel(self.db, id, user).await?;
        if !done {
            return Err(ErrorCode::WAITLIST_ENTRY_NOT_FOUND.into());
        }
        metrics::counter!("ticketing_waitlist_left_total").increment(1);
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
