//! Seats of a concert: batch creation, reads in natural order, admin changes.

use std::collections::{HashMap, HashSet};

use sqlx::PgPool;

use crate::{
    domain::{
        page::{Page, PageRequest},
        seat::SeatDraft,
    },
    domain::{reservation::ReservationStatus, seat::SeatStatus},
    error::{AppResult, ErrorCode},
    repositories::{
        concerts, reservations,
        seats::{self, SeatRow},
    },
    state::AppState,
};

/// Creates every seat of the batch, or none. All items name one concert; no seat repeats,
/// within the request or against the concert's live seats.
#[tracing::instrument(skip_all, fields(concert.id = concert_id, seats = drafts.len()))]
pub async fn create_batch(
    state: &AppState,
    concert_id: i64,
    drafts: Vec<SeatDraft>,
) -> AppResult<Vec<SeatRow>> {
    let mut positions = HashSet::with_capacity(drafts.len());
    if !drafts.iter().all(|d| positions.insert(d.position())) {
        return Err(ErrorCode::DUPLICATE_SEAT_IN_REQUEST.into());
    }
    let mut tx = state.db.begin().await?;
    // Locking the concert keeps it from being deleted while its seats are added.
    if !concerts::lock(&mut tx, concert_id).await? {
        return Err(ErrorCode::CONCERT_NOT_FOUND.into());
    }
    // A repeat of an existing seat violates `seat_position_uk` → SEAT_ALREADY_EXISTS.
    let rows = seats::insert_batch(&mut tx, concert_id, &drafts).await?;
    tx.commit().await?;
    state.holds.invalidate(concert_id).await?;
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
pub async fn update(state: &AppState, id: i64, draft: SeatDraft) -> AppResult<SeatRow> {
    let mut tx = state.db.begin().await?;
    let concert = lock_unreserved(&mut tx, id).await?;
    seats::update(&mut tx, id, &draft).await?;
    let row = seats::find(&mut tx, id).await?.ok_or(ErrorCode::SEAT_NOT_FOUND)?;
    tx.commit().await?;
    state.holds.invalidate(concert).await?;
    Ok(row)
}

/// Soft-deletes a seat that nobody has reserved.
#[tracing::instrument(skip_all, fields(seat.id = id))]
pub async fn delete(state: &AppState, id: i64) -> AppResult<()> {
    let mut tx = state.db.begin().await?;
    let concert = lock_unreserved(&mut tx, id).await?;
    seats::soft_delete(&mut tx, id).await?;
    tx.commit().await?;
    state.holds.invalidate(concert).await?;
    Ok(())
}

/// Locks a live seat nobody has reserved; returns its concert.
async fn lock_unreserved(conn: &mut sqlx::PgConnection, id: i64) -> AppResult<i64> {
    match seats::lock(conn, id).await? {
        None => Err(ErrorCode::SEAT_NOT_FOUND.into()),
        Some((true, _)) => Err(ErrorCode::CANNOT_DELETE_RESERVED_SEAT.into()),
        Some((false, concert)) => Ok(concert),
    }
}

async fn require_concert(conn: &mut sqlx::PgConnection, concert_id: i64) -> AppResult<()> {
    concerts::find(conn, concert_id).await?.ok_or(ErrorCode::CONCERT_NOT_FOUND)?;
    Ok(())
}

/// The seat map (of one grade, if given) as JSON: every seat in natural order with its live
/// status. Fixed fields come from the in-memory catalogue; states from one database query
/// (reservations) and one Redis call (holds).
pub async fn map_json(state: &AppState, concert: i64, grade: Option<&str>) -> AppResult<Vec<u8>> {
    let version = state.holds.version(concert).await?;
    let catalog = state
        .catalogs
        .get(&state.db, concert, &version)
        .await?
        .ok_or(ErrorCode::CONCERT_NOT_FOUND)?;
    let db = async {
        let mut conn = state.db.acquire().await?;
        Ok::<_, crate::error::AppError>(reservations::active_seats(&mut conn, concert).await?)
    };
    let (active, held) = tokio::join!(db, state.holds.held_seats(concert));
    let mut states: HashMap<i64, SeatStatus> =
        held?.into_iter().map(|seat| (seat, SeatStatus::Held)).collect();
    for seat in active? {
        let status = match seat.status {
            ReservationStatus::Confirmed => SeatStatus::Sold,
            _ => SeatStatus::Reserved,
        };
        states.insert(seat.seat_id, status);
    }
    let mut out = Vec::with_capacity(catalog.seats.len() * 300 + 2);
    out.push(b'[');
    let mut first = true;
    for seat in catalog.seats.iter().filter(|s| grade.is_none_or(|g| s.seat.grade == g)) {
        if !first {
            out.push(b',');
        }
        first = false;
        seat.write_json(
            &mut out,
            states.get(&seat.seat.id).copied().unwrap_or(SeatStatus::Available),
        );
    }
    out.push(b']');
    Ok(out)
}

/// Seat ids of the concert held right now.
pub async fn held(state: &AppState, concert: i64) -> AppResult<HashSet<i64>> {
    Ok(state.holds.held_seats(concert).await?.into_iter().collect())
}
