//! Retention: each statement deletes at most `batch` rows older than its cut-off, so a large
//! backlog is worked off in short statements that never hold many locks for long. Rows another
//! instance is deleting at the same moment are skipped, not waited for.

use sqlx::PgConnection;

/// Refresh tokens that expired more than `keep_secs` ago; returns how many were deleted.
pub async fn purge_refresh_tokens(
    conn: &mut PgConnection,
    keep_secs: f64,
    batch: i64,
) -> sqlx::Result<u64> {
    Ok(sqlx::query!(
        "delete from refresh_tokens where id in (
             select id from refresh_tokens
             where expires_at < now() - make_interval(secs => $1)
             limit $2 for update skip locked)",
        keep_secs,
        batch,
    )
    .execute(conn)
    .await?
    .rows_affected())
}

/// Payment webhook events received more than `keep_secs` ago.
pub async fn purge_webhook_events(
    conn: &mut PgConnection,
    keep_secs: f64,
    batch: i64,
) -> sqlx::Result<u64> {
    Ok(sqlx::query!(
        "delete from webhook_events where id in (
             select id from webhook_events
             where received_at < now() - make_interval(secs => $1)
             limit $2 for update skip locked)",
        keep_secs,
        batch,
    )
    .execute(conn)
    .await?
    .rows_affected())
}

/// Outbox rows published more than `keep_secs` ago; unpublished rows are never touched.
pub async fn purge_sent_outbox(
    conn: &mut PgConnection,
    keep_secs: f64,
    batch: i64,
) -> sqlx::Result<u64> {
    Ok(sqlx::query!(
        "delete from outbox where id in (
             select id from outbox
             where published_at is not null
               and published_at < now() - make_interval(secs => $1)
             limit $2 for update skip locked)",
        keep_secs,
        batch,
    )
    .execute(conn)
    .await?
    .rows_affected())
}

/// Records of emails sent more than `keep_secs` ago.
pub async fn purge_email_deliveries(
    conn: &mut PgConnection,
    keep_secs: f64,
    batch: i64,
) -> sqlx::Result<u64> {
    Ok(sqlx::query!(
        "delete from email_deliveries where message_id in (
             select message_id from email_deliveries
             where sent_at < now() - make_interval(secs => $1)
             limit $2 for update skip locked)",
        keep_secs,
        batch,
    )
    .execute(conn)
    .await?
    .rows_affected())
}

/// Idempotency keys created more than `keep_secs` ago.
pub async fn purge_idempotency_keys(
    conn: &mut PgConnection,
    keep_secs: f64,
    batch: i64,
) -> sqlx::Result<u64> {
    Ok(sqlx::query!(
        "delete from idempotency_keys where (user_id, idempotency_key) in (
             select user_id, idempotency_key from idempotency_keys
             where created_at < now() - make_interval(secs => $1)
             limit $2 for update skip locked)",
        keep_secs,
        batch,
    )
    .execute(conn)
    .await?
    .rows_affected())
}
