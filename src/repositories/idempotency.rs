use sqlx::PgConnection;

/// A stored key's state.
pub struct KeyRow {
    pub request_hash: Vec<u8>,
    pub response_status: Option<i16>,
    pub response_body: Option<Vec<u8>>,
}

/// Forgets the key if it is older than `ttl_secs`, or a claim left by a request that never
/// finished (unanswered for `abandoned_secs`).
pub async fn forget_stale(
    conn: &mut PgConnection,
    user: i64,
    key: &str,
    ttl_secs: f64,
    abandoned_secs: f64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "delete from idempotency_keys
         where user_id = $1 and idempotency_key = $2
           and (created_at < now() - make_interval(secs => $3)
                or (response_status is null and created_at < now() - make_interval(secs => $4)))",
        user,
        key,
        ttl_secs,
        abandoned_secs,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The user's keys younger than `ttl_secs`.
pub async fn count_live(conn: &mut PgConnection, user: i64, ttl_secs: f64) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"select count(*) as "n!" from idempotency_keys
           where user_id = $1 and created_at >= now() - make_interval(secs => $2)"#,
        user,
        ttl_secs,
    )
    .fetch_one(conn)
    .await
}

/// Claims the key for a request; false when someone already has it.
pub async fn claim(
    conn: &mut PgConnection,
    user: i64,
    key: &str,
    hash: &[u8],
) -> sqlx::Result<bool> {
    let inserted = sqlx::query!(
        "insert into idempotency_keys (user_id, idempotency_key, request_hash) values ($1, $2, $3)
         on conflict do nothing",
        user,
        key,
        hash,
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

pub async fn find(conn: &mut PgConnection, user: i64, key: &str) -> sqlx::Result<Option<KeyRow>> {
    sqlx::query_as!(
        KeyRow,
        "select request_hash, response_status, response_body from idempotency_keys
         where user_id = $1 and idempotency_key = $2",
        user,
        key,
    )
    .fetch_optional(conn)
    .await
}

pub async fn save_response(
    conn: &mut PgConnection,
    user: i64,
    key: &str,
    status: i16,
    body: &[u8],
) -> sqlx::Result<()> {
    sqlx::query!(
        "update idempotency_keys set response_status = $3, response_body = $4
         where user_id = $1 and idempotency_key = $2",
        user,
        key,
        status,
        body,
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn release(conn: &mut PgConnection, user: i64, key: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "delete from idempotency_keys where user_id = $1 and idempotency_key = $2",
        user,
        key
    )
    .execute(conn)
    .await?;
    Ok(())
}
