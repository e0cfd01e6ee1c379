use sqlx::PgConnection;

use crate::domain::{
    concert::{Concert, ConcertDraft, ConcertStatus},
    page::{Page, PageRequest},
};

/// A concert whether or not it is deleted (the hold cache loads deleted ones too).
#[derive(Debug, Clone)]
pub struct StoredConcert {
    pub concert: Concert,
    pub deleted: bool,
}

pub async fn insert(conn: &mut PgConnection, draft: &ConcertDraft) -> sqlx::Result<Concert> {
    sqlx::query_as!(
        Concert,
        r#"insert into concert (title, venue, concert_date, open_time, close_time, status, queue_enabled,
                              challenge_difficulty)
           values ($1, $2, $3, $4, $5, $6, $7, $8)
           returning id, title, venue, concert_date, open_time, close_time,
                     status as "status: ConcertStatus", queue_enabled, challenge_difficulty, created_at, updated_at"#,
        draft.title,
        draft.venue,
        draft.schedule.concert_date,
        draft.schedule.open_time,
        draft.schedule.close_time,
        draft.status.unwrap_or(ConcertStatus::Scheduled).as_str(),
        draft.queue_enabled.unwrap_or(false),
        draft.challenge_difficulty.map_or(0, i32::from),
    )
    .fetch_one(conn)
    .await
}

pub async fn find(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Concert>> {
    sqlx::query_as!(
        Concert,
        r#"select id, title, venue, concert_date, open_time, close_time,
                  status as "status: ConcertStatus", queue_enabled, challenge_difficulty, created_at, updated_at
           from concert where id = $1 and deleted_at is null"#,
        id,
    )
    .fetch_optional(conn)
    .await
}

/// Locks the concert row against concurrent updates and deletion.
pub async fn lock(conn: &mut PgConnection, id: i64) -> sqlx::Result<bool> {
    let found = sqlx::query_scalar!(
        "select id from concert where id = $1 and deleted_at is null for update",
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// Concerts whose title and venue contain the given texts (case-insensitive), by date.
pub async fn list(
    conn: &mut PgConnection,
    title: Option<&str>,
    venue: Option<&str>,
    page: PageRequest,
) -> sqlx::Result<Page<Concert>> {
    let title = title.map(like_pattern);
    let venue = venue.map(like_pattern);
    let rows = sqlx::query_as!(
        Concert,
        r#"select id, title, venue, concert_date, open_time, close_time,
                  status as "status: ConcertStatus", queue_enabled, challenge_difficulty, created_at, updated_at
           from concert
           where deleted_at is null
             and ($1::text is null or title ilike $1)
             and ($2::text is null or venue ilike $2)
           order by concert_date, id
           limit $3 offset $4"#,
        title,
        venue,
        page.limit(),
        page.offset(),
    )
    .fetch_all(&mut *conn)
    .await?;
    let total = sqlx::query_scalar!(
        r#"select count(*) as "count!" from concert
           where deleted_at is null
             and ($1::text is null or title ilike $1)
             and ($2::text is null or venue ilike $2)"#,
        title,
        venue,
    )
    .fetch_one(conn)
    .await?;
    Ok(Page::new(rows, total, page))
}

pub async fn update(
    conn: &mut PgConnection,
    id: i64,
    draft: &ConcertDraft,
) -> sqlx::Result<Option<Concert>> {
    sqlx::query_as!(
        Concert,
        r#"update concert
           set title = $2, venue = $3, concert_date = $4, open_time = $5, close_time = $6,
               status = coalesce($7, status), queue_enabled = coalesce($8, queue_enabled),
               challenge_difficulty = coalesce($9, challenge_difficulty), updated_at = now()
           where id = $1 and deleted_at is null
           returning id, title, venue, concert_date, open_time, close_time,
                     status as "status: ConcertStatus", queue_enabled, challenge_difficulty, created_at, updated_at"#,
        id,
        draft.title,
        draft.venue,
        draft.schedule.concert_date,
        draft.schedule.open_time,
        draft.schedule.close_time,
        draft.status.map(ConcertStatus::as_str),
        draft.queue_enabled,
        draft.challenge_difficulty.map(i32::from),
    )
    .fetch_optional(conn)
    .await
}

pub async fn has_active_reservations(conn: &mut PgConnection, id: i64) -> sqlx::Result<bool> {
    let exists = sqlx::query_scalar!(
        r#"select exists(
               select 1 from reservation
               where concert_id = $1 and status in ('IN_PROGRESS', 'CONFIRMED')
           ) as "exists!""#,
        id,
    )
    .fetch_one(conn)
    .await?;
    Ok(exists)
}

/// Soft-deletes the concert and its seats.
pub async fn soft_delete(conn: &mut PgConnection, id: i64) -> sqlx::Result<()> {
    sqlx::query!(
        "update seat set deleted_at = now() where concert_id = $1 and deleted_at is null",
        id
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!("update concert set deleted_at = now(), updated_at = now() where id = $1", id)
        .execute(conn)
        .await?;
    Ok(())
}

/// `%text%` with the LIKE wildcards of the text escaped.
fn like_pattern(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// A concert whether or not it is deleted, with its deletion flag (for the hold cache).
pub async fn find_any(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<StoredConcert>> {
    let row = sqlx::query!(
        r#"select id, title, venue, concert_date, open_time, close_time,
                  status as "status: ConcertStatus", queue_enabled, challenge_difficulty, created_at, updated_at,
                  deleted_at is not null as "deleted!"
           from concert where id = $1"#,
        id,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| StoredConcert {
        concert: Concert {
            id: r.id,
            title: r.title,
            venue: r.venue,
            concert_date: r.concert_date,
            open_time: r.open_time,
            close_time: r.close_time,
            status: r.status,
            queue_enabled: r.queue_enabled,
            challenge_difficulty: r.challenge_difficulty,
            created_at: r.created_at,
            updated_at: r.updated_at,
        },
        deleted: r.deleted,
    }))
}

/// Locks the concert against changes during a checkout; `None` when missing or deleted.
pub async fn lock_shared(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Concert>> {
    sqlx::query_as!(
        Concert,
        r#"select id, title, venue, concert_date, open_time, close_time,
                  status as "status: ConcertStatus", queue_enabled, challenge_difficulty, created_at, updated_at
           from concert where id = $1 and deleted_at is null for share"#,
        id,
    )
    .fetch_optional(conn)
    .await
}

/// Concerts ever created, deleted ones included.
pub async fn count_all(conn: &mut PgConnection) -> sqlx::Result<i64> {
    sqlx::query_scalar!(r#"select count(*) as "count!" from concert"#).fetch_one(conn).await
}

/// Live concerts whose sale opens within the next `ahead_secs` seconds (the sale-opening
/// warmer's list).
pub async fn opening_within(conn: &mut PgConnection, ahead_secs: f64) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar::<_, i64>(
        "select id from concert
          where deleted_at is null and close_time > now()
            and open_time > now() and open_time <= now() + make_interval(secs => $1)",
    )
    .bind(ahead_secs)
    .fetch_all(conn)
    .await
}
