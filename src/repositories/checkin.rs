//! `checkin_lists`, `checkins`, `checkin_presence` and `checkin_nonces` (issue 17).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// A check-in list.
#[derive(Debug, Clone)]
pub struct ListRow {
    pub id: i64,
    pub concert_id: i64,
    pub name: String,
    pub grades: Option<Vec<String>>,
    pub allow_multiple_entries: bool,
    pub allow_entry_after_exit: bool,
    pub created_at: DateTime<Utc>,
}

/// A list to create.
#[derive(Debug, Clone)]
pub struct NewList<'a> {
    pub concert_id: i64,
    pub name: &'a str,
    pub grades: Option<&'a [String]>,
    pub allow_multiple_entries: bool,
    pub allow_entry_after_exit: bool,
    pub created_by: i64,
}

pub async fn insert_list(conn: &mut PgConnection, list: &NewList<'_>) -> sqlx::Result<ListRow> {
    sqlx::query_as!(
        ListRow,
        "insert into checkin_lists
             (concert_id, name, grades, allow_multiple_entries, allow_entry_after_exit, created_by)
         values ($1, $2, $3, $4, $5, $6)
         returning id, concert_id, name, grades, allow_multiple_entries, allow_entry_after_exit,
                   created_at",
        list.concert_id,
        list.name,
        list.grades as Option<&[String]>,
        list.allow_multiple_entries,
        list.allow_entry_after_exit,
        list.created_by,
    )
    .fetch_one(conn)
    .await
}

/// The concert's lists (not deleted), oldest first.
pub async fn lists_of_concert(conn: &mut PgConnection, concert: i64) -> sqlx::Result<Vec<ListRow>> {
    sqlx::query_as!(
        ListRow,
        "select id, concert_id, name, grades, allow_multiple_entries, allow_entry_after_exit,
                created_at
         from checkin_lists where concert_id = $1 and deleted_at is null order by id",
        concert
    )
    .fetch_all(conn)
    .await
}

/// A list that is not deleted.
pub async fn find_list(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<ListRow>> {
    sqlx::query_as!(
        ListRow,
        "select id, concert_id, name, grades, allow_multiple_entries, allow_entry_after_exit,
                created_at
         from checkin_lists where id = $1 and deleted_at is null",
        id
    )
    .fetch_optional(conn)
    .await
}

/// Marks a list deleted; `false` when there was none to delete.
pub async fn delete_list(conn: &mut PgConnection, id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "update checkin_lists set deleted_at = now() where id = $1 and deleted_at is null",
        id
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Claims a nonce on a list for this transaction. `false`: it was claimed before (a concurrent
/// claim is waited for), and [`stored_nonce`] has its answer.
pub async fn claim_nonce(
    conn: &mut PgConnection,
    list: i64,
    nonce: &str,
    staff: i64,
    secret: &str,
    scan_type: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "insert into checkin_nonces (list_id, nonce, staff_id, secret, type)
         values ($1, $2, $3, $4, $5)
         on conflict (list_id, nonce) do nothing",
        list,
        nonce,
        staff,
        secret,
        scan_type,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A nonce's first request and answer.
#[derive(Debug, Clone)]
pub struct StoredNonce {
    pub secret: String,
    pub scan_type: String,
    pub outcome: Option<String>,
    pub checkin_id: Option<i64>,
    pub ticket_id: Option<i64>,
    pub redeemed_at: Option<DateTime<Utc>>,
}

pub async fn stored_nonce(
    conn: &mut PgConnection,
    list: i64,
    nonce: &str,
) -> sqlx::Result<Option<StoredNonce>> {
    sqlx::query_as!(
        StoredNonce,
        r#"select secret, type as scan_type, outcome, checkin_id, ticket_id, redeemed_at
           from checkin_nonces where list_id = $1 and nonce = $2"#,
        list,
        nonce,
    )
    .fetch_optional(conn)
    .await
}

/// Records the answer a claimed nonce got.
pub async fn settle_nonce(
    conn: &mut PgConnection,
    list: i64,
    nonce: &str,
    outcome: &str,
    checkin: Option<i64>,
    ticket: Option<i64>,
    redeemed_at: Option<DateTime<Utc>>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update checkin_nonces set outcome = $3, checkin_id = $4, ticket_id = $5, redeemed_at = $6
         where list_id = $1 and nonce = $2",
        list,
        nonce,
        outcome,
        checkin,
        ticket,
        redeemed_at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A ticket as a scan sees it.
#[derive(Debug, Clone)]
pub struct ScanTicket {
    pub id: i64,
    pub concert_id: i64,
    pub seat_id: i64,
    pub section: String,
    pub row: String,
    pub number: String,
    pub grade: String,
    /// `VALID`, `REVOKED` or `USED`.
    pub status: String,
    pub secret: String,
    pub revoked: bool,
    pub booking_confirmed: bool,
    pub concert_cancelled: bool,
    pub concert_date: DateTime<Utc>,
}

pub async fn ticket_for_scan(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<ScanTicket>> {
    sqlx::query_as!(
        ScanTicket,
        r#"select t.id, t.concert_id, t.seat_id, s.section, s."row" as row, s.number, s.grade,
                  case when t.status = 'REVOKED' then 'REVOKED'
                       when exists (select 1 from checkins k where k.ticket_id = t.id
                                    and k.type = 'entry' and k.undone_at is null) then 'USED'
                       else 'VALID' end as "status!",
                  t.secret, t.status = 'REVOKED' as "revoked!",
                  r.status = 'CONFIRMED' as "booking_confirmed!",
                  c.status = 'CANCELLED' as "concert_cancelled!", c.concert_date
           from tickets t join seat s on s.id = t.seat_id join concert c on c.id = t.concert_id
                join reservation r on r.id = t.reservation_id
           where t.id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await
}

/// Locks the ticket's presence on the list for the rest of the transaction (creating it at
/// the first scan): every scan and undo of one ticket on one list takes this lock first.
pub async fn lock_presence(
    conn: &mut PgConnection,
    list: i64,
    ticket: i64,
) -> sqlx::Result<(i32, bool)> {
    sqlx::query!(
        "insert into checkin_presence (list_id, ticket_id) values ($1, $2)
         on conflict (list_id, ticket_id) do nothing",
        list,
        ticket
    )
    .execute(&mut *conn)
    .await?;
    let row = sqlx::query!(
        "select entries, inside from checkin_presence where list_id = $1 and ticket_id = $2
         for update",
        list,
        ticket
    )
    .fetch_one(conn)
    .await?;
    Ok((row.entries, row.inside))
}

/// Recomputes the ticket's presence on the list from its scans not undone (the latest by scan
/// time decides whether it is inside).
pub async fn refresh_presence(conn: &mut PgConnection, list: i64, ticket: i64) -> sqlx::Result<()> {
    sqlx::query!(
        "update checkin_presence p set
             entries = (select count(*) from checkins k where k.list_id = p.list_id
                        and k.ticket_id = p.ticket_id and k.type = 'entry' and k.undone_at is null),
             inside = coalesce((select k.type = 'entry' from checkins k where k.list_id = p.list_id
                                and k.ticket_id = p.ticket_id and k.undone_at is null
                                order by k.scanned_at desc, k.id desc limit 1), false)
         where p.list_id = $1 and p.ticket_id = $2",
        list,
        ticket
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// When the ticket last entered on the list (not undone).
pub async fn last_entry(
    conn: &mut PgConnection,
    list: i64,
    ticket: i64,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar!(
        "select max(scanned_at) from checkins
         where list_id = $1 and ticket_id = $2 and type = 'entry' and undone_at is null",
        list,
        ticket
    )
    .fetch_one(conn)
    .await
}

/// A scan to record.
#[derive(Debug, Clone)]
pub struct NewCheckin<'a> {
    pub list_id: i64,
    pub ticket_id: i64,
    pub scan_type: &'a str,
    pub single_entry: bool,
    pub scanned_at: DateTime<Utc>,
    pub staff_id: i64,
    pub forced: bool,
    pub conflict: Option<&'a str>,
}

/// Records a scan; `None` when the list's one entry of the ticket exists already (the unique
/// index `checkins_single_entry_uk` said so).
pub async fn insert_checkin(
    conn: &mut PgConnection,
    c: &NewCheckin<'_>,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!(
        "insert into checkins
             (list_id, ticket_id, type, single_entry, scanned_at, staff_id, forced, conflict)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (list_id, ticket_id)
             where type = 'entry' and single_entry and conflict is null and undone_at is null
             do nothing
         returning id",
        c.list_id,
        c.ticket_id,
        c.scan_type,
        c.single_entry,
        c.scanned_at,
        c.staff_id,
        c.forced,
        c.conflict,
    )
    .fetch_optional(conn)
    .await
}

/// A recorded scan.
#[derive(Debug, Clone)]
pub struct CheckinRow {
    pub id: i64,
    pub list_id: i64,
    pub ticket_id: i64,
    pub scan_type: String,
    pub forced: bool,
    pub conflict: Option<String>,
    pub undone_at: Option<DateTime<Utc>>,
}

pub async fn find_checkin(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<CheckinRow>> {
    sqlx::query_as!(
        CheckinRow,
        r#"select id, list_id, ticket_id, type as scan_type, forced, conflict, undone_at
           from checkins where id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await
}

/// Undoes a scan; `false` when it was undone already.
pub async fn undo_checkin(conn: &mut PgConnection, id: i64, by: i64) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "update checkins set undone_at = now(), undone_by = $2 where id = $1 and undone_at is null",
        id,
        by
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A list's live counts.
#[derive(Debug, Clone, Copy)]
pub struct ListStatus {
    /// Tickets valid for the list: not revoked, of its concert, of one of its grades.
    pub tickets: i64,
    /// Tickets with at least one entry not undone.
    pub checked_in: i64,
    /// Tickets whose latest scan not undone is an entry.
    pub inside: i64,
}

pub async fn list_status(conn: &mut PgConnection, list: i64) -> sqlx::Result<ListStatus> {
    sqlx::query_as!(
        ListStatus,
        r#"select
             (select count(*) from tickets t join seat s on s.id = t.seat_id
              where t.concert_id = l.concert_id and t.status <> 'REVOKED'
                and (l.grades is null or s.grade = any (l.grades))) as "tickets!",
             (select count(*) from checkin_presence p where p.list_id = l.id and p.entries > 0)
                 as "checked_in!",
             (select count(*) from checkin_presence p where p.list_id = l.id and p.inside)
                 as "inside!"
           from checkin_lists l where l.id = $1"#,
        list
    )
    .fetch_one(conn)
    .await
}

/// Tickets inside on the list now.
pub async fn inside_count(conn: &mut PgConnection, list: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"select count(*) as "n!" from checkin_presence where list_id = $1 and inside"#,
        list
    )
    .fetch_one(conn)
    .await
}
