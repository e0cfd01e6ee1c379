//! Seats of a concert: batch creation, reads in natural order with live status, admin changes.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use sqlx::{PgConnection, PgPool};

use super::{
    availability::Availability,
    catalog::{Catalogs, Rendered},
};
use crate::{
    clients::holds::Holds,
    domain::{
        page::{Page, PageRequest},
        seat::{SeatDraft, SeatView},
    },
    error::{AppResult, ErrorCode},
    repositories::{
        concerts,
        seats::{self, SeatFilter},
    },
};

/// The seat catalogue and the seat map.
#[derive(Clone)]
pub struct Seats {
    db: PgPool,
    holds: Holds,
    catalogs: Arc<Catalogs>,
    availability: Arc<Availability>,
}

impl Seats {
    pub fn new(
        db: PgPool,
        holds: Holds,
        catalogs: Arc<Catalogs>,
        availability: Arc<Availability>,
    ) -> Self {
        Seats { db, holds, catalogs, availability }
    }

    /// Creates every seat of the batch, or none. All items name one concert; no seat repeats,
    /// within the request or against the concert's live seats. Answers in the order given.
    #[tracing::instrument(skip_all, fields(concert.id = concert_id, seats = drafts.len()))]
    pub async fn create_batch(
        &self,
        concert_id: i64,
        drafts: Vec<SeatDraft>,
    ) -> AppResult<Vec<SeatView>> {
        let mut positions = HashSet::with_capacity(drafts.len());
        if !drafts.iter().all(|d| positions.insert(d.position())) {
            return Err(ErrorCode::DUPLICATE_SEAT_IN_REQUEST.into());
        }
        let mut tx = self.db.begin().await?;
        // Locking the concert keeps it from being deleted while its seats are added.
        if !concerts::lock(&mut tx, concert_id).await? {
            return Err(ErrorCode::CONCERT_NOT_FOUND.into());
        }
        // A repeat of an existing seat violates `seat_position_uk` → SEAT_ALREADY_EXISTS.
        let ids = seats::insert_batch(&mut tx, concert_id, &drafts).await?;
        let filter = SeatFilter { ids: Some(&ids), ..Default::default() };
        let mut created: HashMap<i64, SeatView> = seats::with_state(&mut tx, filter)
            .await?
            .iter()
            .map(|s| (s.seat.id, SeatView::from_state(s, false)))
            .collect();
        tx.commit().await?;
        self.availability.edited(concert_id).await?;
        Ok(ids.iter().filter_map(|id| created.remove(id)).collect())
    }

    /// A page of the concert's seats in natural order, with their live status.
    pub async fn page(&self, concert_id: i64, page: PageRequest) -> AppResult<Page<SeatView>> {
        let mut conn = self.db.acquire().await?;
        require_concert(&mut conn, concert_id).await?;
        let page = seats::page(&mut conn, concert_id, page).await?;
        drop(conn);
        let held: HashSet<i64> = self.holds.held_seats(concert_id).await?.into_iter().collect();
        Ok(page.map(|s| {
            let is_held = held.contains(&s.seat.id);
            SeatView::from_state(&s, is_held)
        }))
    }

    /// One live seat with its live status.
    pub async fn get(&self, id: i64) -> AppResult<SeatView> {
        let seat = self.find(id).await?;
        let held = self.holds.holder(seat.seat.concert_id, id).await?.is_some();
        Ok(SeatView::from_state(&seat, held))
    }

    async fn find(&self, id: i64) -> AppResult<crate::domain::seat::SeatWithState> {
        let filter = SeatFilter { ids: Some(&[id]), ..Default::default() };
        let mut found = seats::with_state(&mut *self.db.acquire().await?, filter).await?;
        found.pop().ok_or_else(|| ErrorCode::SEAT_NOT_FOUND.into())
    }

    /// Changes a seat that nobody has reserved.
    #[tracing::instrument(skip_all, fields(seat.id = id))]
    pub async fn update(&self, id: i64, draft: SeatDraft) -> AppResult<SeatView> {
        let mut tx = self.db.begin().await?;
        let concert = lock_unreserved(&mut tx, id).await?;
        seats::update(&mut tx, id, &draft).await?;
        tx.commit().await?;
        self.availability.edited(concert).await?;
        self.get(id).await
    }

    /// Soft-deletes a seat that nobody has reserved.
    #[tracing::instrument(skip_all, fields(seat.id = id))]
    pub async fn delete(&self, id: i64) -> AppResult<()> {
        let mut tx = self.db.begin().await?;
        let concert = lock_unreserved(&mut tx, id).await?;
        seats::soft_delete(&mut tx, id).await?;
        tx.commit().await?;
        self.availability.edited(concert).await?;
        Ok(())
    }

    /// The concert's seat layout (static facts by column), rendered once per catalogue version.
    pub async fn layout(&self, concert: i64) -> AppResult<Arc<Rendered>> {
        let catalog = self.catalogs.current(concert).await?.ok_or(ErrorCode::CONCERT_NOT_FOUND)?;
        Ok(catalog.layout())
    }

    /// The seat map (of one grade, if given): every seat's `SeatView` in natural order, from
    /// the in-memory catalogue and the current availability, rendered once per version.
    pub async fn map(&self, concert: i64, grade: Option<&str>) -> AppResult<Arc<Rendered>> {
        self.availability.seat_map(concert, grade).await
    }
}

/// Locks a live seat nobody has reserved; returns its concert.
async fn lock_unreserved(conn: &mut PgConnection, id: i64) -> AppResult<i64> {
    match seats::lock(conn, id).await? {
        None => Err(ErrorCode::SEAT_NOT_FOUND.into()),
        Some(seat) if seat.reserved => Err(ErrorCode::CANNOT_DELETE_RESERVED_SEAT.into()),
        Some(seat) => Ok(seat.concert_id),
    }
}

async fn require_concert(conn: &mut PgConnection, concert_id: i64) -> AppResult<()> {
    concerts::find(conn, concert_id).await?.ok_or(ErrorCode::CONCERT_NOT_FOUND)?;
    Ok(())
}
