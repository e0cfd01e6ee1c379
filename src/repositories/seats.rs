use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::domain::{page::PageRequest, seat::SeatDraft};

/// A seat with its concert's title and its reservation state.
#[derive(Debug, Clone)]
pub struct SeatRow {
    pub id: i64,
    pub concert_id: i64,
    pub concert_title: String,
    pub section: String,
    pub row: String,
    pub number: String,
    pub grade: String,
    pub price: Decimal,
    /// Status of the active reservation holding the seat (`IN_PROGRESS`/`CONFIRMED`), if any.
    pub reservation_status: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

// Every read joins the seat's active reservation (at most one, by the schema) and orders
// seats naturally through `seat_position_uk`.

pub async fn insert_batch(
    conn: &mut PgConnection,
    concert_id: i64,
    drafts: &[SeatDraft],
) -> sqlx::Result<Vec<SeatRow>> {
    let sections: Vec<&str> = drafts.iter().map(|d| d.section.as_str()).collect();
    let rows: Vec<&str> = drafts.iter().map(|d| d.row.as_str()).collect();
    let numbers: Vec<&str> = drafts.iter().map(|d| d.number.as_str()).collect();
    let grades: Vec<&str> = drafts.iter().map(|d| d.grade.as_str()).collect();
    let prices: Vec<Decimal> = drafts.iter().map(|d| d.price.decimal()).collect();
    sqlx::query_as!(
        SeatRow,
        r#"with inserted as (
               insert into seat (concert_id, section, "row", number, grade, price)
               select $1, * from unnest($2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[], $6::numeric[])
               returning *
           )
           select s.id, s.concert_id, c.title as concert_title, s.section, s."row" as row, s.number,
                  s.grade, s.price, null::text as reservation_status, s.created_at, s.updated_at
           from inserted s join concert c on c.id = s.concert_id
           order by s.id"#,
        concert_id,
        &sections as &[&str],
        &rows as &[&str],
        &numbers as &[&str],
        &grades as &[&str],
        &prices,
    )
    .fetch_all(conn)
    .await
}

pub async fn find(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<SeatRow>> {
    sqlx::query_as!(
        SeatRow,
        r#"select s.id, s.concert_id, c.title as concert_title, s.section, s."row" as row, s.number,
                  s.grade, s.price, r.status as "reservation_status?", s.created_at, s.updated_at
           from seat s
           join concert c on c.id = s.concert_id and c.deleted_at is null
           left join reservation_seat rs on rs.seat_id = s.id and rs.active
           left join reservation r on r.id = rs.reservation_id
           where s.id = $1 and s.deleted_at is null"#,
        id,
    )
    .fetch_optional(conn)
    .await
}

/// Locks a live seat's row; `None` when there is no such seat, else (reserved?, concert).
pub async fn lock(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<(bool, i64)>> {
    let row = sqlx::query!(
        r#"select exists(select 1 from reservation_seat rs where rs.seat_id = s.id and rs.active) as "reserved!",
                  s.concert_id
           from seat s join concert c on c.id = s.concert_id and c.deleted_at is null
           where s.id = $1 and s.deleted_at is null
           for update of s"#,
        id,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.reserved, r.concert_id)))
}

pub async fn list_page(
    conn: &mut PgConnection,
    concert_id: i64,
    page: PageRequest,
) -> sqlx::Result<(Vec<SeatRow>, i64)> {
    let rows = sqlx::query_as!(
        SeatRow,
        r#"select s.id, s.concert_id, c.title as concert_title, s.section, s."row" as row, s.number,
                  s.grade, s.price, r.status as "reservation_status?", s.created_at, s.updated_at
           from seat s
           join concert c on c.id = s.concert_id
           left join reservation_seat rs on rs.seat_id = s.id and rs.active
           left join reservation r on r.id = rs.reservation_id
           where s.concert_id = $1 and s.deleted_at is null
           order by s.section collate natural_sort, s."row" collate natural_sort, s.number collate natural_sort
           limit $2 offset $3"#,
        concert_id,
        page.limit(),
        page.offset(),
    )
    .fetch_all(&mut *conn)
    .await?;
    let total = sqlx::query_scalar!(
        r#"select count(*) as "count!" from seat where concert_id = $1 and deleted_at is null"#,
        concert_id,
    )
    .fetch_one(conn)
    .await?;
    Ok((rows, total))
}

/// Every seat of the concert (optionally of one grade), in natural order: one query.
pub async fn list_all(
    conn: &mut PgConnection,
    concert_id: i64,
    grade: Option<&str>,
) -> sqlx::Result<Vec<SeatRow>> {
    sqlx::query_as!(
        SeatRow,
        r#"select s.id, s.concert_id, c.title as concert_title, s.section, s."row" as row, s.number,
                  s.grade, s.price, r.status as "reservation_status?", s.created_at, s.updated_at
           from seat s
           join concert c on c.id = s.concert_id
           left join reservation_seat rs on rs.seat_id = s.id and rs.active
           left join reservation r on r.id = rs.reservation_id
           where s.concert_id = $1 and s.deleted_at is null
             and ($2::text is null or s.grade = $2)
           order by s.section collate natural_sort, s."row" collate natural_sort, s.number collate natural_sort"#,
        concert_id,
        grade,
    )
    .fetch_all(conn)
    .await
}

pub async fn update(conn: &mut PgConnection, id: i64, draft: &SeatDraft) -> sqlx::Result<()> {
    sqlx::query!(
        r#"update seat set section = $2, "row" = $3, number = $4, grade = $5, price = $6, updated_at = now()
           where id = $1 and deleted_at is null"#,
        id,
        draft.section,
        draft.row,
        draft.number,
        draft.grade,
        draft.price.decimal(),
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn soft_delete(conn: &mut PgConnection, id: i64) -> sqlx::Result<()> {
    sqlx::query!("update seat set deleted_at = now(), updated_at = now() where id = $1", id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The concert of each existing seat (deleted ones included: a seat never changes concert).
pub async fn concerts_of(conn: &mut PgConnection, ids: &[i64]) -> sqlx::Result<Vec<(i64, i64)>> {
    let rows = sqlx::query!("select id, concert_id from seat where id = any($1)", ids)
        .fetch_all(conn)
        .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.concert_id)).collect())
}

pub async fn live_ids(conn: &mut PgConnection, concert: i64) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar!("select id from seat where concert_id = $1 and deleted_at is null", concert)
        .fetch_all(conn)
        .await
}

/// A seat's fixed facts, for the in-memory catalogue.
#[derive(Debug, Clone)]
pub struct SeatStatic {
    pub id: i64,
    pub section: String,
    pub row: String,
    pub number: String,
    pub grade: String,
    pub price: Decimal,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Every live seat of the concert in natural order, without reservation state.
pub async fn list_static(conn: &mut PgConnection, concert: i64) -> sqlx::Result<Vec<SeatStatic>> {
    sqlx::query_as!(
        SeatStatic,
        r#"select id, section, "row" as row, number, grade, price, created_at, updated_at
           from seat where concert_id = $1 and deleted_at is null
           order by section collate natural_sort, "row" collate natural_sort, number collate natural_sort"#,
        concert,
    )
    .fetch_all(conn)
    .await
}

/// Locks live seats for checkout; returns (id, concert, price).
pub async fn lock_for_checkout(
    conn: &mut PgConnection,
    ids: &[i64],
) -> sqlx::Result<Vec<(i64, i64, Decimal)>> {
    let rows = sqlx::query!(
        "select id, concert_id, price from seat where id = any($1) and deleted_at is null order by id for update",
        ids,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.concert_id, r.price)).collect())
}
