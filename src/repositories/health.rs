//! The database's side of readiness.

use sqlx::PgPool;

/// One round trip to Postgres.
pub async fn ping(db: &PgPool) -> sqlx::Result<()> {
    sqlx::query!("select 1 as one").fetch_one(db).await?;
    Ok(())
}
