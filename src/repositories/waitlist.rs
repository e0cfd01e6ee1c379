//! `waitlist_entries`: fans waiting for seats of a sold-out concert (issue 18).

use chrono::{DateTime, Utc};
use sqlx::PgPool;

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

/// Adds a `WAITING` entry; returns its id and creation time.
pub async fn insert(
    db: &PgPool,
    concert: i64,
    user: i64,
    quantity: i32,
    grade: Option<&str>,
) -> sqlx::Result<(i64, DateTime<Utc>)> {
    let row = sqlx::query!(
        r#"insert into waitlist_entries (concert_id, user_id, quantity, grade)
               values ($1, $2, $3, $4)
               returning id, created_at"#,
        concert,
        user,
        quantity,
        grade,
    )
    .fetch_one(db)
    .await?;
    Ok((row.id, row.created_at))
}

/// The 1-based place of the entry (`created_at`, `id`) among the concert's waiting entries.
pub async fn position(
    db: &PgPool,
    concert: i64,
    created_at: DateTime<Utc>,
    id: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"select count(*) as "n!" from waitlist_entries
               where concert_id = $1 and status = 'WAITING' and (created_at, id) <= ($2, $3)"#,
        concert,
        created_at,
        id,
    )
    .fetch_one(db)
    .await
}

/// A fan's entries, newest first, with their places.
pub async fn of_user(db: &PgPool, user: i64) -> sqlx::Result<Vec<Entry>> {
    sqlx::query_as!(
        Entry,
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
    .fetch_all(db)
    .await
}

/// A concert's active entries in order of service.
pub async fn of_concert(db: &PgPool, concert: i64) -> sqlx::Result<Vec<Entry>> {
    sqlx::query_as!(
        Entry,
        r#"select id, concert_id, user_id, quantity, grade, status, offer_expires_at,
                      created_at,
                      row_number() over (order by created_at, id) as "position!"
               from waitlist_entries
               where concert_id = $1 and status in ('WAITING', 'OFFERED')
               order by created_at, id limit 1000"#,
        concert,
    )
    .fetch_all(db)
    .await
}

/// The fan's active entry `id` becomes `CANCELLED`; false when there is none.
pub async fn cancel(db: &PgPool, id: i64, user: i64) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        r#"update waitlist_entries set status = 'CANCELLED', updated_at = now()
               where id = $1 and user_id = $2 and status in ('WAITING', 'OFFERED')
               returning status"#,
        id,
        user,
    )
    .fetch_optional(db)
    .await?;
    Ok(done.is_some())
}

/// Entries waiting, all concerts.
pub async fn waiting(db: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar!(r#"select count(*) as "n!" from waitlist_entries where status = 'WAITING'"#)
        .fetch_one(db)
        .await
}
