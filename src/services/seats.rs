//! Seats of a concert: batch creation, reads in natural order, admin changes.

use std::collections::HashSet;

use sqlx::PgPool;

use crate::{
    domain::{
        page::{Page, PageRequest},
        seat::SeatDraft,
    },
    error::{AppResult, ErrorCode},
    repositories::{
        concerts,
        seats::{self, SeatRow},
    },
};

/// Creates every seat of the batch, or none. All items name one concert; no seat repeats,
/// within the request or against the concert's live seats.
#[tracing::instrument(skip_all, fields(concert.id = concert_id, seats = drafts.len()))]
pub async fn create_batch(
    db: &PgPool,
    concert_id: i64,
    drafts: Vec<SeatDraft>,
) -> AppResult<Vec<SeatRow>> {
    let mut positions = HashSet::with_capacity(drafts.len());
    if !drafts.iter().all(|d| positions.insert(d.position())) {
        return Err(ErrorCode::DUPLICATE_SEAT_IN_REQUEST.into());
    }
    let mut tx = db.begin().await?;
    // Locking the concert keeps it from being deleted while its seats are added.
    if !concerts::lock(&mut tx, concert_id).await? {
        return Err(ErrorCode::CONCERT_NOT_FOUND.into());
    }
    // A repeat of an existing seat violates `seat_position_uk` → SEAT_ALREADY_EXISTS.
    let rows = seats::insert_batch(&mut tx, concert_id, &drafts).await?;
    tx.commit().await?;
    Ok(rows)
}

pub async fn page(db: &PgPool, concert_id: i64, page: PageRequest) -> AppResult<Page<SeatRow>> {
    let mut conn = db.acquire().await?;
    require_concert(&mut conn, concert_id).await?;
    let (rows, total) = seats::list_page(&mut conn, concert_id, page).await?;
    Ok(Page::new(rows, total, page))
}

/// Every seat of the concert (of one grade, if given), in natural order.
pub async fn all(db: &PgPool, concert_id: i64, grade: Option<&str>) -> AppResult<Vec<SeatRow>> {
    let mut conn = db.acquire().await?;
    require_concert(&mut conn, concert_id).await?;
    Ok(seats::list_all(&mut conn, concert_id, grade).await?)
}

pub async fn get(db: &PgPool, id: i64) -> AppResult<SeatRow> {
    let mut conn = db.acquire().await?;
    seats::find(&mut conn, id).await?.ok_or_else(|| ErrorCode::SEAT_NOT_FOUND.into())
}

/// Changes a seat that nobody has reserved.
#[tracing::instrument(skip_all, fields(seat.id = id))]
pub async fn update(db: &PgPool, id: i64, draft: SeatDraft) -> AppResult<SeatRow> {
    let mut tx = db.begin().await?;
    match seats::lock(&mut tx, id).await? {
        None => return Err(ErrorCode::SEAT_NOT_FOUND.into()),
        Some(true) => return Err(ErrorCode::CANNOT_DELETE_RESERVED_SEAT.into()),
        Some(false) => {}
    }
    seats::update(&mut tx, id, &draft).await?;
    let row = seats::find(&mut tx, id).await?.ok_or(ErrorCode::SEAT_NOT_FOUND)?;
    tx.commit().await?;
    Ok(row)
}

/// Soft-deletes a seat that nobody has reserved.
#[tracing::instrument(skip_all, fields(seat.id = id))]
pub async fn delete(db: &PgPool, id: i64) -> AppResult<()> {
    let mut tx = db.begin().await?;
    match seats::lock(&mut tx, id).await? {
        None => return Err(ErrorCode::SEAT_NOT_FOUND.into()),
        Some(true) => return Err(ErrorCode::CANNOT_DELETE_RESERVED_SEAT.into()),
        Some(false) => {}
    }
    seats::soft_delete(&mut tx, id).await?;
    tx.commit().await?;
    Ok(())
}

async fn require_concert(conn: &mut sqlx::PgConnection, concert_id: i64) -> AppResult<()> {
    concerts::find(conn, concert_id).await?.ok_or(ErrorCode::CONCERT_NOT_FOUND)?;
    Ok(())
}
