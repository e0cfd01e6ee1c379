use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::domain::{
    page::{Page, PageRequest},
    reservation::ReservationStatus,
    seat::{Seat, SeatDraft, SeatWithState},
};

/// Which live seats to read with their state.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeatFilter<'a> {
    pub concert: Option<i64>,
    pub ids: Option<&'a [i64]>,
    pub page: Option<PageRequest>,
}

struct SeatStateRow {
    id: i64,
    concert_id: i64,
    concert_title: String,
    section: String,
    row: String,
    number: String,
    grade: String,
    price: Decimal,
    reservation_status: Option<ReservationStatus>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<SeatStateRow> for SeatWithState {
    fn from(r: SeatStateRow) -> Self {
        SeatWithState {
            seat: Seat {
                id: r.id,
                concert_id: r.concert_id,
                section: r.section,
                row: r.row,
                number: r.number,
                grade: r.grade,
                price: r.price.into(),
                created_at: r.created_at,
                updated_at: r.updated_at,
            },
            concert_title: r.concert_title,
            reservation: r.reservation_status,
        }
    }
}

/// Live seats of live concerts with the status of the active reservation that owns each (at
/// most one, by the schema), in natural order: the one query for "a seat and its state".
pub async fn with_state(
    conn: &mut PgConnection,
    filter: SeatFilter<'_>,
) -> sqlx::Result<Vec<SeatWithState>> {
    let (limit, offset) = filter.page.map_or((None, None), |p| (Some(p.limit()), Some(p.offset())));
    let rows = sqlx::query_as!(
        SeatStateRow,
        r#"select s.id, s.concert_id, c.title as concert_title, s.section, s."row" as row, s.number,
                  s.grade, s.price, r.status as "reservation_status?: ReservationStatus",
                  s.created_at, s.updated_at
           from seat s
           join concert c on c.id = s.concert_id and c.deleted_at is null
           left join reservation_seat rs on rs.seat_id = s.id and rs.active
           left join reservation r on r.id = rs.reservation_id
           where s.deleted_at is null
             and ($1::bigint is null or s.concert_id = $1)
             and ($2::bigint[] is null or s.id = any($2))
           order by s.concert_id, s.section collate natural_sort, s."row" collate natural_sort,
                    s.number collate natural_sort
           limit $3 offset $4"#,
        filter.concert,
        filter.ids,
        limit,
        offset,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Creates the seats; returns their ids in the order given.
pub async fn insert_batch(
    conn: &mut PgConnection,
    concert_id: i64,
    drafts: &[SeatDraft],
) -> sqlx::Result<Vec<i64>> {
    let sections: Vec<&str> = drafts.iter().map(|d| d.section.as_str()).collect();
    let rows: Vec<&str> = drafts.iter().map(|d| d.row.as_str()).collect();
    let numbers: Vec<&str> = drafts.iter().map(|d| d.number.as_str()).collect();
    let grades: Vec<&str> = drafts.iter().map(|d| d.grade.as_str()).collect();
    let prices: Vec<Decimal> = drafts.iter().map(|d| d.price.decimal()).collect();
    sqlx::query_scalar!(
        r#"insert into seat (concert_id, section, "row", number, grade, price)
           select $1, * from unnest($2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[], $6::numeric[])
           returning id"#,
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

/// A locked seat: whether an active reservation owns it, and its concert.
#[derive(Debug, Clone, Copy)]
pub struct LockedSeat {
    pub reserved: bool,
    pub concert_id: i64,
}

/// Locks a live seat's row; `None` when there is no such seat.
pub async fn lock(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<LockedSeat>> {
    sqlx::query_as!(
        LockedSeat,
        r#"select exists(select 1 from reservation_seat rs where rs.seat_id = s.id and rs.active) as "reserved!",
                  s.concert_id
           from seat s join concert c on c.id = s.concert_id and c.deleted_at is null
           where s.id = $1 and s.deleted_at is null
           for update of s"#,
        id,
    )
    .fetch_optional(conn)
    .await
}

/// A page of the concert's live seats with their state, in natural order.
pub async fn page(
    conn: &mut PgConnection,
    concert_id: i64,
    page: PageRequest,
) -> sqlx::Result<Page<SeatWithState>> {
    let filter = SeatFilter { concert: Some(concert_id), page: Some(page), ..Default::default() };
    let rows = with_state(&mut *conn, filter).await?;
    let total = sqlx::query_scalar!(
        r#"select count(*) as "count!" from seat where concert_id = $1 and deleted_at is null"#,
        concert_id,
    )
    .fetch_one(conn)
    .await?;
    Ok(Page::new(rows, total, page))
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

/// A seat and the concert it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct SeatConcert {
    pub seat_id: i64,
    pub concert_id: i64,
}

/// The concert of each existing seat (deleted ones included: a seat never changes concert).
pub async fn concerts_of(conn: &mut PgConnection, ids: &[i64]) -> sqlx::Result<Vec<SeatConcert>> {
    sqlx::query_as!(
        SeatConcert,
        "select id as seat_id, concert_id from seat where id = any($1)",
        ids
    )
    .fetch_all(conn)
    .await
}

/// A seat locked for checkout.
#[derive(Debug, Clone, Copy)]
pub struct CheckoutSeat {
    pub id: i64,
    pub concert_id: i64,
    pub price: Decimal,
}

/// Locks live seats for checkout.
pub async fn lock_for_checkout(
    conn: &mut PgConnection,
    ids: &[i64],
) -> sqlx::Result<Vec<CheckoutSeat>> {
    sqlx::query_as!(
        CheckoutSeat,
        "select id, concert_id, price from seat where id = any($1) and deleted_at is null order by id for update",
        ids,
    )
    .fetch_all(conn)
    .await
}
