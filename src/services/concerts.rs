//! The concert catalogue.

use sqlx::PgPool;

use crate::{
    domain::{
        concert::ConcertDraft,
        page::{Page, PageRequest},
    },
    error::{AppResult, ErrorCode},
    repositories::concerts::{self, ConcertRow},
    state::AppState,
};

#[tracing::instrument(skip_all)]
pub async fn create(db: &PgPool, draft: ConcertDraft) -> AppResult<ConcertRow> {
    let mut conn = db.acquire().await?;
    Ok(concerts::insert(&mut conn, &draft).await?)
}

pub async fn list(
    db: &PgPool,
    title: Option<&str>,
    venue: Option<&str>,
    page: PageRequest,
) -> AppResult<Page<ConcertRow>> {
    let mut conn = db.acquire().await?;
    let (rows, total) = concerts::list(&mut conn, title, venue, page).await?;
    Ok(Page::new(rows, total, page))
}

pub async fn get(db: &PgPool, id: i64) -> AppResult<ConcertRow> {
    let mut conn = db.acquire().await?;
    concerts::find(&mut conn, id).await?.ok_or_else(|| ErrorCode::CONCERT_NOT_FOUND.into())
}

#[tracing::instrument(skip_all, fields(concert.id = id))]
pub async fn update(state: &AppState, id: i64, draft: ConcertDraft) -> AppResult<ConcertRow> {
    let mut conn = state.db.acquire().await?;
    let row = concerts::update(&mut conn, id, &draft).await?.ok_or(ErrorCode::CONCERT_NOT_FOUND)?;
    // Holds read the sale window and status from Redis: reload them.
    state.holds.invalidate(id).await?;
    Ok(row)
}

/// Soft-deletes the concert and its seats, unless someone holds a live reservation for it.
#[tracing::instrument(skip_all, fields(concert.id = id))]
pub async fn delete(state: &AppState, id: i64) -> AppResult<()> {
    let mut tx = state.db.begin().await?;
    if !concerts::lock(&mut tx, id).await? {
        return Err(ErrorCode::CONCERT_NOT_FOUND.into());
    }
    if concerts::has_active_reservations(&mut tx, id).await? {
        return Err(ErrorCode::CANNOT_DELETE_RESERVATION_OPEN_CONCERT.into());
    }
    concerts::soft_delete(&mut tx, id).await?;
    tx.commit().await?;
    state.holds.invalidate(id).await?;
    Ok(())
}
