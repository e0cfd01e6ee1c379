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
};

/// A waitlist entry and its place among the concert's waiting entries.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: i64,
    pub concert_id: i64,
    pub user_id: i64,
    pub quantity: i32,
    pub grade: Option<String>,
    pub status: String,
    /// 1-based place among the concert's `WAITING` entries (0 when not waiting).
    pub position: i64,
    pub offer_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

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
        let row = sqlx::query!(
            r#"insert into waitlist_entries (concert_id, user_id, quantity, grade)
               values ($1, $2, $3, $4)
               returning id, created_at"#,
            concert,
            user,
            quantity as i32,
            grade,
        )
        .fetch_one(self.db)
        .await?;
        metrics::counter!("ticketing_waitlist_joined_total").increment(1);
        self.publish_waiting().await?;
        let position = self.position(concert, row.created_at, row.id).await?;
        Ok(Entry {
            id: row.id,
            concert_id: concert,
            user_id: user,
            quantity: quantity as i32,
            grade: grade.map(str::to_owned),
            status: "WAITING".into(),
            position,
            offer_expires_at: None,
            created_at: row.created_at,
        })
    }

    async fn position(&self, concert: i64, created_at: DateTime<Utc>, id: i64) -> AppResult<i64> {
        let n = sqlx::query_scalar!(
            r#"select count(*) as "n!" from waitlist_entries
               where concert_id = $1 and status = 'WAITING' and (created_at, id) <= ($2, $3)"#,
            concert,
            created_at,
            id,
        )
        .fetch_one(self.db)
        .await?;
        Ok(n)
    }

    /// The fan's entries, newest first, with their places.
    pub async fn mine(&self, user: i64) -> AppResult<Vec<Entry>> {
        let rows = sqlx::query!(
            r#"select e.id, e.concert_id, e.user_id, e.quantity, e.grade, e.status,
                      e.offer_expires_at, e.created_at,
                      case when e.status = 'WAITING' then
                          (select count(*) from waitlist_entries w
                           where w.concert_id = e.concert_id and w.status = 'WAITING'
                             and (w.created_at, w.id) <= (e.created_at, e.id))
                      else 0 end as "position!"
               from waitlist_entries e where e.user_id = $1 order by e.id desc limit 100"#,
            user,
        )
        .fetch_all(self.db)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| Entry {
                id: r.id,
                concert_id: r.concert_id,
                user_id: r.user_id,
                quantity: r.quantity,
                grade: r.grade,
                status: r.status,
                position: r.position,
                offer_expires_at: r.offer_expires_at,
                created_at: r.created_at,
            })
            .collect())
    }

    /// A concert's active entries in order of service, for admins.
    pub async fn of_concert(&self, concert: i64) -> AppResult<Vec<Entry>> {
        let rows = sqlx::query!(
            r#"select id, concert_id, user_id, quantity, grade, status, offer_expires_at,
                      created_at,
                      row_number() over (order by created_at, id) as "position!"
               from waitlist_entries
               where concert_id = $1 and status in ('WAITING', 'OFFERED')
               order by created_at, id limit 1000"#,
            concert,
        )
        .fetch_all(self.db)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| Entry {
                id: r.id,
                concert_id: r.concert_id,
                user_id: r.user_id,
                quantity: r.quantity,
                grade: r.grade,
                status: r.status,
                position: r.position,
                offer_expires_at: r.offer_expires_at,
                created_at: r.created_at,
            })
            .collect())
    }

    /// Leaves the waitlist: the fan's active entry becomes `CANCELLED`.
    pub async fn cancel(&self, user: i64, id: i64) -> AppResult<()> {
        let done = sqlx::query!(
            r#"update waitlist_entries set status = 'CANCELLED', updated_at = now()
               where id = $1 and user_id = $2 and status in ('WAITING', 'OFFERED')
               returning status"#,
            id,
            user,
        )
        .fetch_optional(self.db)
        .await?;
        if done.is_none() {
            return Err(ErrorCode::WAITLIST_ENTRY_NOT_FOUND.into());
        }
        metrics::counter!("ticketing_waitlist_left_total").increment(1);
        self.publish_waiting().await
    }

    /// `ticketing_waitlist_waiting`: entries waiting, all concerts, read from the database so
    /// every instance reports the same number.
    async fn publish_waiting(&self) -> AppResult<()> {
        let n = sqlx::query_scalar!(
            r#"select count(*) as "n!" from waitlist_entries where status = 'WAITING'"#
        )
        .fetch_one(self.db)
        .await?;
        metrics::gauge!("ticketing_waitlist_waiting").set(n as f64);
        Ok(())
    }
}
