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
    /// The seats of the entry's latest offer (empty before one).
    pub offered_seat_ids: Vec<i64>,
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
                      e.offer_expires_at, e.offered_seat_ids, e.created_at,
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
                      offered_seat_ids, created_at,
                      row_number() over (order by created_at, id) as "position!"
               from waitlist_entries
               where concert_id = $1 and status in ('WAITING', 'OFFERED')
               order by created_at, id limit 1000"#,
        concert,
    )
    .fetch_all(db)
    .await
}

/// What the step needs of an entry that ended (to take it out of Redis).
#[derive(Debug, Clone)]
pub struct Ended {
    pub concert_id: i64,
    pub quantity: i32,
    pub grade: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The fan's active entry `id` becomes `CANCELLED`; `None` when there is none.
pub async fn cancel(db: &PgPool, id: i64, user: i64) -> sqlx::Result<Option<Ended>> {
    sqlx::query_as!(
        Ended,
        r#"update waitlist_entries set status = 'CANCELLED', updated_at = now()
               where id = $1 and user_id = $2 and status in ('WAITING', 'OFFERED')
               returning concert_id, quantity, grade, created_at"#,
        id,
        user,
    )
    .fetch_optional(db)
    .await
}

/// The step offered the entry seats: it becomes `OFFERED` and the offer email goes into the
/// outbox, in one transaction, once (only a `WAITING` entry changes). Returns the entry's fan;
/// `None` when it no longer waits.
pub async fn record_offer(
    db: &PgPool,
    id: i64,
    expires_at: DateTime<Utc>,
    seats: &[i64],
) -> sqlx::Result<Option<i64>> {
    let mut tx = db.begin().await?;
    let done = sqlx::query_scalar!(
        r#"update waitlist_entries
               set status = 'OFFERED', offered_at = now(), offer_expires_at = $2,
                   offered_seat_ids = $3, updated_at = now()
               where id = $1 and status = 'WAITING'
               returning user_id"#,
        id,
        expires_at,
        seats,
    )
    .fetch_optional(&mut *tx)
    .await?;
    if done.is_some() {
        super::outbox::insert(
            &mut tx,
            "waitlist_offer",
            serde_json::json!({"entryId": id, "seatIds": seats}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(done)
}

/// An active entry ends with `status` (`EXPIRED`, `PURCHASED`, `CANCELLED`). Returns the
/// entry's fan; `None` when it had already ended.
pub async fn record_end(db: &PgPool, id: i64, status: &str) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!(
        r#"update waitlist_entries set status = $2, updated_at = now()
               where id = $1 and status in ('WAITING', 'OFFERED')
               returning user_id"#,
        id,
        status,
    )
    .fetch_optional(db)
    .await
}

/// The fan paid for seats of the concert: an `OFFERED` entry becomes `PURCHASED`. Returns
/// the entries that did.
pub async fn mark_purchased(db: &PgPool, user: i64, concert: i64) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar!(
        r#"update waitlist_entries set status = 'PURCHASED', updated_at = now()
               where user_id = $1 and concert_id = $2 and status = 'OFFERED'
               returning id"#,
        user,
        concert,
    )
    .fetch_all(db)
    .await
}

/// What the offer email says.
#[derive(Debug, Clone)]
pub struct OfferFacts {
    pub username: String,
    pub email: String,
    pub concert_id: i64,
    pub concert_title: String,
    pub offer_expires_at: Option<DateTime<Utc>>,
}

pub async fn offer_facts(
    conn: &mut sqlx::PgConnection,
    id: i64,
) -> sqlx::Result<Option<OfferFacts>> {
    sqlx::query_as!(
        OfferFacts,
        r#"select u.username, u.email, c.id as concert_id, c.title as concert_title,
                      e.offer_expires_at
               from waitlist_entries e join users u on u.id = e.user_id
                    join concert c on c.id = e.concert_id
               where e.id = $1"#,
        id,
    )
    .fetch_optional(conn)
    .await
}

/// The offered seats as the email names them.
pub async fn seat_labels(conn: &mut sqlx::PgConnection, ids: &[i64]) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        r#"select section || '구역 ' || "row" || '열 ' || number || '번 (' || grade || ')' as "label!"
               from seat where id = any($1) order by section, "row", number"#,
        ids,
    )
    .fetch_all(conn)
    .await
}

/// Removes an entry the step refused (seats were available after all).
pub async fn delete(db: &PgPool, id: i64) -> sqlx::Result<()> {
    sqlx::query!("delete from waitlist_entries where id = $1", id).execute(db).await?;
    Ok(())
}

/// An active entry as a load mirrors it into Redis.
#[derive(Debug, Clone)]
pub struct Active {
    pub id: i64,
    pub user_id: i64,
    pub quantity: i32,
    pub grade: Option<String>,
    pub status: String,
    pub offer_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The concert's active entries (a load puts them back into Redis, e.g. after a flush).
pub async fn active_of(conn: &mut sqlx::PgConnection, concert: i64) -> sqlx::Result<Vec<Active>> {
    sqlx::query_as!(
        Active,
        r#"select id, user_id, quantity, grade, status, offer_expires_at, created_at
               from waitlist_entries
               where concert_id = $1 and status in ('WAITING', 'OFFERED')
               order by created_at, id"#,
        concert,
    )
    .fetch_all(conn)
    .await
}

/// Entries waiting, all concerts.
pub async fn waiting(db: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar!(r#"select count(*) as "n!" from waitlist_entries where status = 'WAITING'"#)
        .fetch_one(db)
        .await
}
