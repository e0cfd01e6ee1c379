//! The database itself: created when missing, so a fresh server needs no set-up.

use anyhow::Context;
use sqlx::{ConnectOptions, Connection, PgConnection, postgres::PgConnectOptions};

/// Creates the database `options` names, unless it exists (another instance may create it at
/// the same moment; that is fine).
pub async fn create_if_missing(options: &PgConnectOptions) -> anyhow::Result<()> {
    let name = options.get_database().unwrap_or("postgres").to_owned();
    let mut maintenance: PgConnection = options
        .clone()
        .database("postgres")
        .connect()
        .await
        .context("connecting to Postgres (database `postgres`)")?;
    let exists: bool =
        sqlx::query_scalar("select exists(select 1 from pg_database where datname = $1)")
            .bind(&name)
            .fetch_one(&mut maintenance)
            .await?;
    if !exists {
        let statement = format!(r#"create database "{}""#, name.replace('"', "\"\""));
        match sqlx::query(sqlx::AssertSqlSafe(statement)).execute(&mut maintenance).await {
            Ok(_) => tracing::info!(database = %name, "created database"),
            // Another instance created it first.
            Err(e) if e.as_database_error().and_then(|d| d.code()).as_deref() == Some("42P04") => {}
            Err(e) => return Err(e).context("creating the database"),
        }
    }
    maintenance.close().await?;
    Ok(())
}
