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
        .env(
            "TICKET_KEY_ENCRYPTION_KEY",
            "3f1c9a7e5b2d4806f1e3c5a7b9d0e2f41a3c5e7f9b1d3f5a7c9e1b3d5f7a9c0e",
        )
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

#[test]
fn a_missing_app_profile_refuses_to_start_and_names_it() {
    let out = Command::new(BIN)
        .env_clear()
        .env("HTTP_ADDR", "127.0.0.1:0")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "no silent fallback to dev");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("APP_PROFILE: must be set"), "{err}");
}

#[test]
fn prod_refuses_log_mail_short_webhook_secrets_and_guest_amqp() {
    let prod = [
        ("APP_PROFILE", "prod"),
        ("JWT_SECRET", "a-production-secret-of-sufficient-length-42"),
        (
            "TICKET_KEY_ENCRYPTION_KEY",
            "3f1c9a7e5b2d4806f1e3c5a7b9d0e2f41a3c5e7f9b1d3f5a7c9e1b3d5f7a9c0e",
        ),
        ("PAYMENT_WEBHOOK_SECRETS", "whsec_live_0123456789abcdef0123456789"),
        ("ADMIN_EMAIL", "ops@example.com"),
        ("ADMIN_PASSWORD", "ops-admin-password"),
        ("SMTP_URL", "smtp://127.0.0.1:2525"),
        ("AMQP_URL", "amqp://ticketing:mq-password-42@127.0.0.1:5672/%2f"),
    ];
    for (name, bad) in [
        ("SMTP_URL", "log"),
        ("PAYMENT_WEBHOOK_SECRETS", "whsec_live_0123456789abcdef0123"),
        ("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
    ] {
        assert_eq!(bad.len() == 31, name == "PAYMENT_WEBHOOK_SECRETS", "31 bytes: {bad}");
        let out = Command::new(BIN)
            .env_clear()
            .envs(prod.iter().copied().filter(|(k, _)| *k != name))
            .env(name, bad)
            .current_dir(std::env::temp_dir())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}={bad} is refused");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(&format!("configuration error: {name}")), "{name}: {err}");
    }
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
        .env("APP_PROFILE", "dev")
        .env("HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", format!("{}/{db_name}", pg_base()))
        .env("REDIS_KEY_PREFIX", format!("cli:{db_name}:"))
        // Queues of its own: the shared broker may hold un-prefixed queues of other settings.
        .env("AMQP_PREFIX", format!("cli.{db_name}."))
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
    let health = Command::new(BIN)
        .arg("healthcheck")
        .env("HTTP_ADDR", format!("127.0.0.1:{port}"))
        .status()
        .unwrap();
    assert!(health.success(), "`ticketing healthcheck` sees the live service");
    let nobody = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let health = Command::new(BIN)
        .arg("healthcheck")
        .env("HTTP_ADDR", format!("127.0.0.1:{nobody}"))
        .status()
        .unwrap();
    assert!(!health.success(), "and fails where nothing listens");

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
    crate::helpers::delete_amqp_topology(&format!("cli.{db_name}.")).await;
}

#[tokio::test]
async fn prod_logs_are_json_lines_with_request_ids_and_no_secrets() {
    let db_name = format!("ticketing_cli_{}", uuid::Uuid::new_v4().simple());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let webhook_secret = "whsec_prod_test_secret_0123456789abcdef";
    let amqp_password = "mq-password-never-logged";
    let mut child = Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("APP_PROFILE", "prod")
        .env("JWT_SECRET", "a-production-secret-of-sufficient-length-42")
        .env(
            "TICKET_KEY_ENCRYPTION_KEY",
            "3f1c9a7e5b2d4806f1e3c5a7b9d0e2f41a3c5e7f9b1d3f5a7c9e1b3d5f7a9c0e",
        )
        .env("PAYMENT_WEBHOOK_SECRETS", webhook_secret)
        .env("ADMIN_EMAIL", "ops@example.com")
        .env("ADMIN_PASSWORD", "ops-admin-password")
        .env("SMTP_URL", "smtp://127.0.0.1:2525")
        .env("AMQP_URL", format!("amqp://ticketing:{amqp_password}@127.0.0.1:5672/%2f"))
        .env("HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", format!("{}/{db_name}", pg_base()))
        .env("REDIS_KEY_PREFIX", format!("cli:{db_name}:"))
        .env("AMQP_PREFIX", format!("cli.{db_name}."))
        .env("RUST_LOG", "info")
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    while client.get(format!("{base}/health/live")).send().await.is_err() {
        assert!(start.elapsed() < Duration::from_secs(30), "the service came up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let password = "Sup3r-secret-pw";
    let email = "log.watcher@example.com";
    let signup: serde_json::Value = client
        .post(format!("{base}/api/user/signup"))
        .json(&serde_json::json!({"username": "logwatcher", "email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = signup["token"].as_str().unwrap().to_owned();
    client
        .get(format!("{base}/api/user/me"))
        .bearer_auth(&token)
        .header("x-request-id", "req-log-check")
        .send()
        .await
        .unwrap();
    client
        .post(format!("{base}/api/user/login"))
        .json(&serde_json::json!({"email": email, "password": "wrong-password"}))
        .send()
        .await
        .unwrap();
    let body = r#"{"eventId":"e1","transactionId":"tx_none","status":"SUCCESS","amount":1,"currency":"KRW"}"#;
    let signature = ticketing::domain::signature::sign(
        webhook_secret.as_bytes(),
        chrono::Utc::now().timestamp(),
        body.as_bytes(),
    );
    client
        .post(format!("{base}/api/payment/webhook"))
        .header("content-type", "application/json")
        .header("x-payment-signature", &signature)
        .body(body)
        .send()
        .await
        .unwrap();

    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let log = tokio::task::spawn_blocking(move || {
        let mut log = String::new();
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            log.push_str(&line.unwrap());
            log.push('\n');
        }
        child.wait().unwrap();
        log
    })
    .await
    .unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.len() > 5, "{log}");
    for line in &lines {
        for field in ["timestamp", "level", "target"] {
            assert!(line.get(field).is_some(), "{field} in {line}");
        }
    }
    let me = lines
        .iter()
        .find(|l| l["span"]["request_id"] == "req-log-check")
        .expect("a line of the /me request");
    assert_eq!(me["span"]["route"], "/api/user/me");
    assert!(me["span"]["user.id"].is_number(), "the user id is known: {me}");
    for secret in [
        password,
        token.as_str(),
        email,
        signature.as_str(),
        "ops-admin-password",
        "a-production-secret-of-sufficient-length-42",
        webhook_secret,
        amqp_password,
    ] {
        assert!(!log.contains(secret), "the log leaks `{secret}`");
    }

    let mut conn = PgConnection::connect(&format!("{}/postgres", pg_base())).await.unwrap();
    conn.execute(sqlx::AssertSqlSafe(format!(
        r#"drop database if exists "{db_name}" with (force)"#
    )))
    .await
    .unwrap();
}
