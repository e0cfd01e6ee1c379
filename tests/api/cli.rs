//! The binary itself: help, configuration errors, database creation, graceful shutdown.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use sqlx::{Connection, Executor, PgConnection};

const BIN: &str = env!("CARGO_BIN_EXE_ticketing");

#[test]
fn help_explains_the_service_and_its_settings() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for name in [
        "DATABASE_URL",
        "REDIS_URL",
        "AMQP_URL",
        "JWT_SECRET",
        "HOLD_TTL_SECS",
        "CORS_ORIGINS",
        "/swagger-ui.html",
    ] {
        assert!(text.contains(name), "--help mentions {name}");
    }
    let out = Command::new(BIN).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn prod_refuses_to_start_and_names_the_missing_variable() {
    let out = Command::new(BIN)
        .env_clear()
        .env("APP_PROFILE", "prod")
        .env("JWT_SECRET", "a-production-secret-of-sufficient-length-42")
        .env("PAYMENT_WEBHOOK_SECRETS", "whsec_live_1")
        .env("ADMIN_EMAIL", "ops@example.com")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("ADMIN_PASSWORD"), "{err}");

    let out = Command::new(BIN)
        .env_clear()
        .env("APP_PROFILE", "prod")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("JWT_SECRET"));
}

fn pg_base() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

#[tokio::test]
async fn creates_its_database_and_stops_gracefully_on_sigterm() {
    let db_name = format!("ticketing_cli_{}", uuid::Uuid::new_v4().simple());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(BIN)
        .env("HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", format!("{}/{db_name}", pg_base()))
        .env("REDIS_KEY_PREFIX", format!("cli:{db_name}:"))
        .env("RUST_LOG", "info")
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("http://127.0.0.1:{port}/health/live");
    let start = Instant::now();
    while client.get(&url).send().await.is_err() {
        assert!(start.elapsed() < Duration::from_secs(30), "the service came up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut conn = PgConnection::connect(&format!("{}/postgres", pg_base())).await.unwrap();
    let exists: bool =
        sqlx::query_scalar("select exists(select 1 from pg_database where datname = $1)")
            .bind(&db_name)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(exists, "the database was created");

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let mut log = String::new();
                for line in BufReader::new(child.stdout.take().unwrap()).lines() {
                    log.push_str(&line.unwrap());
                    log.push('\n');
                }
                return (status, log);
            }
            assert!(Instant::now() < deadline, "the service stopped within 20 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .unwrap();
    assert!(exit.0.success(), "clean exit after SIGTERM: {:?}", exit.0);
    assert!(exit.1.contains("draining") && exit.1.contains("stopped"), "{}", exit.1);

    conn.execute(sqlx::AssertSqlSafe(format!(
        r#"drop database if exists "{db_name}" with (force)"#
    )))
    .await
    .unwrap();
}
