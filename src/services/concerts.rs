//! The concert catalogue.

use std::sync::Arc;

use sqlx::PgPool;

use super::availability::Availability;
use crate::{
    domain::{
        concert::{Concert, ConcertDraft, Schedule},
        money::Money,
        page::{Page, PageRequest},
        seat::SeatDraft,
    },
    error::{AppResult, ErrorCode},
    repositories::{
        concerts,
        locks::{self, Chore},
        seats,
    },
};

/// The concert catalogue.
#[derive(Clone)]
pub struct Concerts {
    db: PgPool,
    availability: Arc<Availability>,
}

impl Concerts {
    pub fn new(db: PgPool, availability: Arc<Availability>) -> Self {
        Concerts { db, availability }
    }

    /// Live concerts whose sale opens within `ahead` from now (the sale-opening warmer's list).
    pub async fn opening_within(&self, ahead: std::time::Duration) -> AppResult<Vec<i64>> {
        let mut conn = self.db.acquire().await?;
        Ok(concerts::opening_within(&mut conn, ahead.as_secs_f64()).await?)
    }

    #[tracing::instrument(skip_all)]
    pub async fn create(&self, draft: ConcertDraft) -> AppResult<Concert> {
        let mut conn = self.db.acquire().await?;
        let concert = concerts::insert(&mut conn, &draft).await?;
        // Someone may have asked for this id just before: it is no longer a miss here.
        self.availability.catalogs().forget_missing(concert.id);
        Ok(concert)
    }

    pub async fn list(
        &self,
        title: Option<&str>,
        venue: Option<&str>,
        page: PageRequest,
    ) -> AppResult<Page<Concert>> {
        let mut conn = self.db.acquire().await?;
        Ok(concerts::list(&mut conn, title, venue, page).await?)
    }

    pub async fn get(&self, id: i64) -> AppResult<Concert> {
        let mut conn = self.db.acquire().await?;
        concerts::find(&mut conn, id).await?.ok_or_else(|| ErrorCode::CONCERT_NOT_FOUND.into())
    }

    #[tracing::instrument(skip_all, fields(concert.id = id))]
    pub async fn update(&self, id: i64, draft: ConcertDraft) -> AppResult<Concert> {
        let mut conn = self.db.acquire().await?;
        let row =
            concerts::update(&mut conn, id, &draft).await?.ok_or(ErrorCode::CONCERT_NOT_FOUND)?;
        // Holds read the sale window and status from Redis: reload them.
        self.availability.edited(id).await?;
        Ok(row)
    }

    /// Soft-deletes the concert and its seats, unless someone holds a live reservation for it.
    #[tracing::instrument(skip_all, fields(concert.id = id))]
    pub async fn delete(&self, id: i64) -> AppResult<()> {
        let mut tx = self.db.begin().await?;
        if !concerts::lock(&mut tx, id).await? {
            return Err(ErrorCode::CONCERT_NOT_FOUND.into());
        }
        if concerts::has_active_reservations(&mut tx, id).await? {
            return Err(ErrorCode::CANNOT_DELETE_RESERVATION_OPEN_CONCERT.into());
        }
        concerts::soft_delete(&mut tx, id).await?;
        tx.commit().await?;
        // Live seat maps of the concert end.
        self.availability.edited(id).await?;
        Ok(())
    }
}

/// Dev only: two demo concerts on sale (one behind the waiting room), 500 seats each, when
/// the catalogue is empty.
pub async fn seed_demo(db: &PgPool) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    locks::lock_for_transaction(&mut tx, Chore::SeedDemoData).await?;
    if concerts::count_all(&mut tx).await? > 0 {
        return Ok(());
    }
    let now = chrono::Utc::now();
    for (title, queue) in
        [("ConcertMania Live 2026", false), ("ConcertMania Stadium (대기열)", true)]
    {
        let draft = ConcertDraft {
            title: title.into(),
            venue: "올림픽공원 체조경기장".into(),
            schedule: Schedule::new(
                now - chrono::Duration::hours(1),
                now + chrono::Duration::days(30),
                now + chrono::Duration::days(31),
            )?,
            status: None,
            queue_enabled: Some(queue),
            challenge_difficulty: None,
        };
        let concert = concerts::insert(&mut tx, &draft).await?;
        let mut seats = Vec::with_capacity(500);
        for (s, section) in ["A", "B", "C", "D", "E"].iter().enumerate() {
            for row in 1..=10 {
                for number in 1..=10 {
                    let (grade, price) = if s == 0 {
                        ("VIP", 154_000)
                    } else if s < 3 {
                        ("R", 132_000)
                    } else {
                        ("S", 99_000)
                    };
                    seats.push(SeatDraft {
                        section: (*section).into(),
                        row: row.to_string(),
                        number: number.to_string(),
                        grade: grade.into(),
                        price: Money::from(rust_decimal::Decimal::from(price)),
                    });
                }
            }
        }
        seats::insert_batch(&mut tx, concert.id, &seats).await?;
    }
    tx.commit().await?;
    tracing::info!("demo concerts created");
    Ok(())
}
