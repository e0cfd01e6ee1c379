use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::domain::{
    page::{Page, PageRequest},
    reservation::{PaymentMethod, PaymentStatus, Reservation, ReservationSeat, ReservationStatus},
};

/// A seat owned by an active reservation.
#[derive(Debug, Clone)]
pub struct ActiveSeatRow {
    pub seat_id: i64,
    pub status: ReservationStatus,
    pub user_id: i64,
    pub reservation_id: i64,
    pub expire_time: DateTime<Utc>,
}

/// A reservation that just ended, with what is needed to free its seats.
#[derive(Debug, Clone)]
pub struct EndedReservation {
    pub id: i64,
    pub user_id: i64,
    pub concert_id: i64,
}

/// Every seat of the concert that an active reservation owns.
pub async fn active_seats(
    conn: &mut PgConnection,
    concert: i64,
) -> sqlx::Result<Vec<ActiveSeatRow>> {
    sqlx::query_as!(
        ActiveSeatRow,
        r#"select rs.seat_id, r.status as "status: ReservationStatus", r.user_id,
                  r.id as reservation_id, r.expire_time
           from reservation r join reservation_seat rs on rs.reservation_id = r.id and rs.active
           where r.concert_id = $1"#,
        concert,
    )
    .fetch_all(conn)
    .await
}

/// Seats the user owns in the concert through active reservations.
pub async fn count_active_seats(
    conn: &mut PgConnection,
    user: i64,
    concert: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"select count(*) as "count!" from reservation r
           join reservation_seat rs on rs.reservation_id = r.id and rs.active
           where r.user_id = $1 and r.concert_id = $2"#,
        user,
        concert,
    )
    .fetch_one(conn)
    .await
}

pub async fn insert(
    conn: &mut PgConnection,
    user: i64,
    concert: i64,
    expire_time: DateTime<Utc>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "insert into reservation (user_id, concert_id, expire_time) values ($1, $2, $3) returning id",
        user,
        concert,
        expire_time,
    )
    .fetch_one(conn)
    .await
}

/// Attaches the seats; a seat another active reservation owns violates
/// `reservation_seat_active_uk`.
pub async fn insert_seats(
    conn: &mut PgConnection,
    reservation: i64,
    seats: &[i64],
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into reservation_seat (reservation_id, seat_id) select $1, * from unnest($2::bigint[])",
        reservation,
        seats,
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn insert_payment(
    conn: &mut PgConnection,
    reservation: i64,
    method: PaymentMethod,
    amount: Decimal,
    transaction_id: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into payments (reservation_id, method, amount, transaction_id) values ($1, $2, $3, $4)",
        reservation,
        method.as_str(),
        amount,
        transaction_id,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves up to `limit` unpaid reservations past their expiry to `EXPIRED` (their payments to
/// `FAILED`); rows another sweeper holds are skipped, so sweepers can run side by side.
/// Confirmed reservations whose time to pay ran out in `(after, until]`: the sweeper tells
/// Redis again that their seats are sold, in case the confirming instance died before it did.
pub async fn confirmed_expiring(
    conn: &mut PgConnection,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
) -> sqlx::Result<Vec<EndedReservation>> {
    sqlx::query_as!(
        EndedReservation,
        "select id, user_id, concert_id from reservation
         where status = 'CONFIRMED' and expire_time > $1 and expire_time <= $2",
        after,
        until,
    )
    .fetch_all(conn)
    .await
}

pub async fn expire_due(
    conn: &mut PgConnection,
    limit: i64,
) -> sqlx::Result<Vec<EndedReservation>> {
    let ended = sqlx::query_as!(
        EndedReservation,
        r#"with due as (
               select id from reservation
               where status = 'IN_PROGRESS' and expire_time <= now()
               order by expire_time
               limit $1
               for update skip locked
           )
           update reservation r set status = 'EXPIRED', updated_at = now()
           from due where r.id = due.id
           returning r.id, r.user_id, r.concert_id"#,
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<i64> = ended.iter().map(|r| r.id).collect();
    if !ids.is_empty() {
        sqlx::query!(
            "update payments set status = 'FAILED', updated_at = now()
             where reservation_id = any($1) and status = 'IN_PROGRESS'",
            &ids,
        )
        .execute(conn)
        .await?;
    }
    Ok(ended)
}

/// Of `users`, those with at least `at_least` checkouts that ended unpaid within the last
/// `window_secs`: expired with the payment failed (money that came late was refunded, and
/// does not count), or declined in the second half of the time to pay.
pub async fn users_with_unpaid_ends(
    conn: &mut PgConnection,
    users: &[i64],
    window_secs: f64,
    at_least: i64,
) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar!(
        r#"select r.user_id from reservation r
           join payments p on p.reservation_id = r.id
           where r.user_id = any($1)
             and r.updated_at > now() - make_interval(secs => $2)
             and p.status = 'FAILED'
             and (r.status = 'EXPIRED'
                  or (r.status = 'FAILED'
                      and r.updated_at >= r.reservation_time + (r.expire_time - r.reservation_time) / 2))
           group by r.user_id
           having count(*) >= $3"#,
        users,
        window_secs,
        at_least,
    )
    .fetch_all(conn)
    .await
}

/// A seat of a reservation.
#[derive(Debug, Clone, Copy)]
pub struct ReservedSeat {
    pub reservation_id: i64,
    pub seat_id: i64,
}

/// Seat ids of the given reservations.
pub async fn seat_ids(
    conn: &mut PgConnection,
    reservations: &[i64],
) -> sqlx::Result<Vec<ReservedSeat>> {
    sqlx::query_as!(
        ReservedSeat,
        "select reservation_id, seat_id from reservation_seat where reservation_id = any($1) order by id",
        reservations,
    )
    .fetch_all(conn)
    .await
}

/// A page of reservations, newest first; filtered by user and/or concert when given.
pub async fn page(
    conn: &mut PgConnection,
    user: Option<i64>,
    concert: Option<i64>,
    page: PageRequest,
) -> sqlx::Result<Page<Reservation>> {
    let rows = sqlx::query_as!(
        Reservation,
        r#"select r.id, r.user_id, u.email as user_email, r.concert_id, c.title as concert_title,
                  c.concert_date, r.status as "status: ReservationStatus", r.reservation_time,
                  r.expire_time, r.cancel_reason, p.amount as "total_amount?",
                  p.status as "payment_status?: PaymentStatus", p.transaction_id as "transaction_id?"
           from reservation r
           join users u on u.id = r.user_id
           join concert c on c.id = r.concert_id
           left join payments p on p.reservation_id = r.id
           where ($1::bigint is null or r.user_id = $1) and ($2::bigint is null or r.concert_id = $2)
           order by r.id desc
           limit $3 offset $4"#,
        user,
        concert,
        page.limit(),
        page.offset(),
    )
    .fetch_all(&mut *conn)
    .await?;
    let total = sqlx::query_scalar!(
        r#"select count(*) as "count!" from reservation r
           where ($1::bigint is null or r.user_id = $1) and ($2::bigint is null or r.concert_id = $2)"#,
        user,
        concert,
    )
    .fetch_one(conn)
    .await?;
    Ok(Page::new(rows, total, page))
}

pub async fn find(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Reservation>> {
    sqlx::query_as!(
        Reservation,
        r#"select r.id, r.user_id, u.email as user_email, r.concert_id, c.title as concert_title,
                  c.concert_date, r.status as "status: ReservationStatus", r.reservation_time,
                  r.expire_time, r.cancel_reason, p.amount as "total_amount?",
                  p.status as "payment_status?: PaymentStatus", p.transaction_id as "transaction_id?"
           from reservation r
           join users u on u.id = r.user_id
           join concert c on c.id = r.concert_id
           left join payments p on p.reservation_id = r.id
           where r.id = $1"#,
        id,
    )
    .fetch_optional(conn)
    .await
}

/// The seats of several reservations in one query.
pub async fn seats_of(
    conn: &mut PgConnection,
    reservations: &[i64],
) -> sqlx::Result<Vec<ReservationSeat>> {
    sqlx::query_as!(
        ReservationSeat,
        r#"select rs.reservation_id, s.id as seat_id, s.section, s."row" as row, s.number, s.grade, s.price
           from reservation_seat rs join seat s on s.id = rs.seat_id
           where rs.reservation_id = any($1)
           order by rs.reservation_id, s.section collate natural_sort, s."row" collate natural_sort, s.number collate natural_sort"#,
        reservations,
    )
    .fetch_all(conn)
    .await
}

/// A reservation locked for cancellation, with its concert's date.
#[derive(Debug, Clone, Copy)]
pub struct CancelTarget {
    pub user_id: i64,
    pub concert_id: i64,
    pub status: ReservationStatus,
    pub concert_date: DateTime<Utc>,
}

/// Locks a reservation with its concert's date, for cancellation.
pub async fn lock_for_cancel(
    conn: &mut PgConnection,
    id: i64,
) -> sqlx::Result<Option<CancelTarget>> {
    sqlx::query_as!(
        CancelTarget,
        r#"select r.user_id, r.concert_id, r.status as "status: ReservationStatus", c.concert_date
           from reservation r join concert c on c.id = r.concert_id
           where r.id = $1 for update of r"#,
        id,
    )
    .fetch_optional(conn)
    .await
}

/// Cancels a confirmed reservation and refunds its payment; returns the refund.
pub async fn cancel(conn: &mut PgConnection, id: i64, reason: &str) -> sqlx::Result<Decimal> {
    sqlx::query!(
        "update reservation set status = 'CANCELED', canceled_at = now(), cancel_reason = $2, updated_at = now()
         where id = $1",
        id,
        reason,
    )
    .execute(&mut *conn)
    .await?;
    let refund = sqlx::query_scalar!(
        "update payments set status = 'REFUNDED', refunded_at = now(), refund_amount = amount, updated_at = now()
         where reservation_id = $1 and status = 'SUCCESS'
         returning amount",
        id,
    )
    .fetch_optional(conn)
    .await?;
    Ok(refund.unwrap_or_default())
}

pub async fn audit(
    conn: &mut PgConnection,
    actor: i64,
    action: &str,
    entity: &str,
    entity_id: i64,
    detail: serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into audit_log (actor_id, action, entity, entity_id, detail) values ($1, $2, $3, $4, $5)",
        actor,
        action,
        entity,
        entity_id,
        detail,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// What an email about a reservation says.
#[derive(Debug, Clone)]
pub struct MailFacts {
    pub username: String,
    pub email: String,
    pub concert_title: String,
    pub venue: String,
    pub concert_date: DateTime<Utc>,
    pub ticket_code: Option<String>,
    pub amount: Option<Decimal>,
    pub refund_amount: Option<Decimal>,
    pub transaction_id: Option<String>,
}

pub async fn mail_facts(
    conn: &mut PgConnection,
    reservation: i64,
) -> sqlx::Result<Option<MailFacts>> {
    sqlx::query_as!(
        MailFacts,
        r#"select u.username, u.email, c.title as concert_title, c.venue, c.concert_date, r.ticket_code,
                  p.amount as "amount?", p.refund_amount as "refund_amount?", p.transaction_id as "transaction_id?"
           from reservation r
           join users u on u.id = r.user_id
           join concert c on c.id = r.concert_id
           left join payments p on p.reservation_id = r.id
           where r.id = $1"#,
        reservation,
    )
    .fetch_optional(conn)
    .await
}
