//! `tickets`, `concert_signing_keys` and `ticket_revocations` (issue 17).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// A concert's signing key as stored: the seed is sealed.
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub key_id: String,
    pub public_key: Vec<u8>,
    pub sealed_seed: Vec<u8>,
}

/// The concert's active signing key, locked for the rest of the transaction so that two
/// confirmations of one concert create at most one.
pub async fn active_key(conn: &mut PgConnection, concert: i64) -> sqlx::Result<Option<StoredKey>> {
    sqlx::query_as!(
        StoredKey,
        "select key_id, public_key, sealed_seed from concert_signing_keys
         where concert_id = $1 and retired_at is null",
        concert
    )
    .fetch_optional(conn)
    .await
}

/// Stores a new active key unless another transaction stored one first (then nothing changes
/// and `false` is returned: read the winner with [`active_key`]).
pub async fn insert_key(
    conn: &mut PgConnection,
    concert: i64,
    key: &StoredKey,
) -> sqlx::Result<bool> {
    let inserted = sqlx::query!(
        "insert into concert_signing_keys (concert_id, key_id, public_key, sealed_seed)
         values ($1, $2, $3, $4)
         on conflict (concert_id) where retired_at is null do nothing",
        concert,
        key.key_id,
        key.public_key,
        key.sealed_seed,
    )
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// A published verification key.
#[derive(Debug, Clone)]
pub struct PublicKey {
    pub key_id: String,
    pub public_key: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
}

/// Every key the concert's secrets may be signed with, oldest first.
pub async fn public_keys(conn: &mut PgConnection, concert: i64) -> sqlx::Result<Vec<PublicKey>> {
    sqlx::query_as!(
        PublicKey,
        "select key_id, public_key, created_at, retired_at from concert_signing_keys
         where concert_id = $1 order by id",
        concert
    )
    .fetch_all(conn)
    .await
}

/// `n` ticket ids, taken before the rows are written because each secret signs its own id.
pub async fn next_ids(conn: &mut PgConnection, n: i64) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar!(
        r#"select nextval(pg_get_serial_sequence('tickets', 'id')) as "id!"
           from generate_series(1, $1::bigint)"#,
        n
    )
    .fetch_all(conn)
    .await
}

/// A ticket to write.
#[derive(Debug, Clone)]
pub struct NewTicket {
    pub id: i64,
    pub seat_id: i64,
    pub secret: String,
}

/// Writes a reservation's tickets.
pub async fn insert_tickets(
    conn: &mut PgConnection,
    reservation: i64,
    concert: i64,
    user: i64,
    key_id: &str,
    tickets: &[NewTicket],
) -> sqlx::Result<()> {
    let ids: Vec<i64> = tickets.iter().map(|t| t.id).collect();
    let seats: Vec<i64> = tickets.iter().map(|t| t.seat_id).collect();
    let secrets: Vec<String> = tickets.iter().map(|t| t.secret.clone()).collect();
    sqlx::query!(
        "insert into tickets (id, reservation_id, concert_id, seat_id, user_id, key_id, secret)
         overriding system value
         select id, $4, $5, seat, $6, $7, secret
         from unnest($1::bigint[], $2::bigint[], $3::text[]) as t(id, seat, secret)",
        &ids,
        &seats,
        &secrets,
        reservation,
        concert,
        user,
        key_id,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A ticket as its owner, an admin or staff see it.
#[derive(Debug, Clone)]
pub struct TicketRow {
    pub id: i64,
    pub reservation_id: i64,
    pub user_id: i64,
    pub concert_id: i64,
    pub concert_title: String,
    pub concert_date: DateTime<Utc>,
    pub venue: String,
    pub seat_id: i64,
    pub section: String,
    pub row: String,
    pub number: String,
    pub grade: String,
    /// `VALID`, `REVOKED` or `USED`.
    pub status: String,
    pub key_id: String,
    pub secret: String,
    pub issued_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The user's tickets, newest first, a page at a time (`before`: the last id of the previous
/// page).
pub async fn of_user(
    conn: &mut PgConnection,
    user: i64,
    before: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<TicketRow>> {
    sqlx::query_as!(
        TicketRow,
        r#"select t.id, t.reservation_id, t.user_id, t.concert_id, c.title as concert_title,
                  c.concert_date, c.venue, t.seat_id, s.section, s."row" as row, s.number, s.grade,
                  case when t.status = 'REVOKED' then 'REVOKED'
                       when exists (select 1 from checkins k where k.ticket_id = t.id
                                    and k.type = 'entry' and k.undone_at is null) then 'USED'
                       else 'VALID' end as "status!",
                  t.key_id, t.secret, t.issued_at, t.revoked_at
           from tickets t join concert c on c.id = t.concert_id join seat s on s.id = t.seat_id
           where t.user_id = $1 and ($2::bigint is null or t.id < $2)
           order by t.id desc limit $3"#,
        user,
        before,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// One ticket.
pub async fn find(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<TicketRow>> {
    sqlx::query_as!(
        TicketRow,
        r#"select t.id, t.reservation_id, t.user_id, t.concert_id, c.title as concert_title,
                  c.concert_date, c.venue, t.seat_id, s.section, s."row" as row, s.number, s.grade,
                  case when t.status = 'REVOKED' then 'REVOKED'
                       when exists (select 1 from checkins k where k.ticket_id = t.id
                                    and k.type = 'entry' and k.undone_at is null) then 'USED'
                       else 'VALID' end as "status!",
                  t.key_id, t.secret, t.issued_at, t.revoked_at
           from tickets t join concert c on c.id = t.concert_id join seat s on s.id = t.seat_id
           where t.id = $1"#,
        id,
    )
    .fetch_optional(conn)
    .await
}

/// The tickets of some reservations (for their confirmation emails), in seat order.
pub async fn of_reservation(
    conn: &mut PgConnection,
    reservation: i64,
) -> sqlx::Result<Vec<TicketRow>> {
    sqlx::query_as!(
        TicketRow,
        r#"select t.id, t.reservation_id, t.user_id, t.concert_id, c.title as concert_title,
                  c.concert_date, c.venue, t.seat_id, s.section, s."row" as row, s.number, s.grade,
                  case when t.status = 'REVOKED' then 'REVOKED'
                       when exists (select 1 from checkins k where k.ticket_id = t.id
                                    and k.type = 'entry' and k.undone_at is null) then 'USED'
                       else 'VALID' end as "status!",
                  t.key_id, t.secret, t.issued_at, t.revoked_at
           from tickets t join concert c on c.id = t.concert_id join seat s on s.id = t.seat_id
           where t.reservation_id = $1
           order by s.section collate natural_sort, s."row" collate natural_sort,
                    s.number collate natural_sort"#,
        reservation,
    )
    .fetch_all(conn)
    .await
}

/// A revoked secret, as scanners fetch them.
#[derive(Debug, Clone)]
pub struct Revocation {
    pub seq: i64,
    pub ticket_id: i64,
    pub secret: String,
    pub revoked_at: DateTime<Utc>,
}

/// The concert's revocations after `since`, in order, at most `limit`.
pub async fn revocations(
    conn: &mut PgConnection,
    concert: i64,
    since: i64,
    limit: i64,
) -> sqlx::Result<Vec<Revocation>> {
    sqlx::query_as!(
        Revocation,
        "select seq, ticket_id, secret, revoked_at from ticket_revocations
         where concert_id = $1 and seq > $2 order by seq limit $3",
        concert,
        since,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// Whether the concert exists (not deleted).
pub async fn concert_exists(conn: &mut PgConnection, concert: i64) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"select exists(select 1 from concert where id = $1 and deleted_at is null) as "e!""#,
        concert
    )
    .fetch_one(conn)
    .await
}
