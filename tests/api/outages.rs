//! Postgres going away mid-sale (issue 20): clear 503s with `Retry-After`, never a 500,
//! nothing half-applied, readiness DOWN and then UP, and recovery without a restart.
//!
//! The outage is a test-owned TCP proxy in front of the shared Postgres (switched off, it
//! drops every connection and refuses new ones), and `pg_terminate_backend`, which is what
//! the server itself sends its clients when it shuts down (SQLSTATE 57P01). The shared server
//! is never stopped.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::{
    helpers::{event, spawn_app, spawn_app_with, wait_until},
    mail::TcpProxy,
};

/// A 503 in the documented shape, with `Retry-After`.
async fn assert_unavailable(res: reqwest::Response, what: &str) {
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{what}");
    let retry_after = res.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    let retry_after: u64 = retry_after.expect("Retry-After").parse().expect("seconds");
    assert!((1..=30).contains(&retry_after), "{what}: Retry-After {retry_after}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], 503, "{what}: {body}");
    assert_eq!(body["code"], "SERVICE_UNAVAILABLE", "{what}: {body}");
}

#[tokio::test]
async fn while_postgres_is_unreachable_answers_are_503_with_retry_after_and_it_recovers_alone() {
    let postgres = TcpProxy::postgres().await;
    let url = format!("postgres://postgres@127.0.0.1:{}/{{db_name}}", postgres.port);
    let app = spawn_app_with(&[("DATABASE_URL", &url)]).await;
    let (_, concert, seats) = app.concert_on_sale(3).await;
    let fan = app.signup().await;
    assert_eq!(app.hold(&fan.token, seats[0]).await.status(), StatusCode::OK);
    let before = app.start_checkout(&fan.token, &seats[1..2]).await;
    let mut direct = sqlx::PgConnection::connect(&app.database_url()).await.unwrap();

    postgres.set_up(false);
    wait_until("readiness reports the database DOWN", || async {
        app.get("/health/ready", None).await.status() == StatusCode::SERVICE_UNAVAILABLE
    })
    .await;

    // Every kind of request that needs the database, at once.
    let checkout = app.checkout(&fan.token, &seats[..1]);
    let paid = event(&before.transaction, "SUCCESS", before.amount);
    let confirm = app.webhook(&paid);
    let signup = app.post(
        "/api/user/signup",
        None,
        json!({"email": "late@example.com", "username": "late", "password": "password-123"}),
    );
    let mine = app.get("/api/reservations/my", Some(&fan.token));
    let concert_page = app.get("/api/concert?size=5", None);
    let (checkout, confirm, signup, mine, concert_page) =
        tokio::join!(checkout, confirm, signup, mine, concert_page);
    assert_unavailable(checkout, "checkout").await;
    assert_unavailable(confirm, "the payment webhook (the provider retries it)").await;
    assert_unavailable(signup, "signup").await;
    assert_unavailable(mine, "a fan's reservations").await;
    assert_unavailable(concert_page, "the concert list").await;

    // Nothing was half-applied: the reservation still waits for its payment, the refused
    // checkout wrote nothing, and the hold is still the fan's.
    let (status, payment): (String, String) = sqlx::query_as(
        "select r.status, p.status from reservation r join payments p on p.reservation_id = r.id where r.id = $1",
    )
    .bind(before.reservation)
    .fetch_one(&mut direct)
    .await
    .unwrap();
    assert_eq!((status.as_str(), payment.as_str()), ("IN_PROGRESS", "IN_PROGRESS"));
    let reservations: i64 =
        sqlx::query_scalar("select count(*) from reservation where concert_id = $1")
            .bind(concert)
            .fetch_one(&mut direct)
            .await
            .unwrap();
    assert_eq!(reservations, 1, "the refused checkout left no reservation");

    postgres.set_up(true);
    wait_until("readiness reports the database UP again", || async {
        app.get("/health/ready", None).await.status() == StatusCode::OK
    })
    .await;
    // The same requests now succeed, with no restart.
    let res = app.webhook(&event(&before.transaction, "SUCCESS", before.amount)).await;
    assert_eq!(res.status(), StatusCode::OK, "the provider's retry confirms");
    assert_eq!(app.reservation_status(before.reservation).await.0, "CONFIRMED");
    let res = app.checkout(&fan.token, &seats[..1]).await;
    assert_eq!(res.status(), StatusCode::OK, "the held seat checks out");
    let tickets: Value = app.get("/api/tickets/my", Some(&fan.token)).await.json().await.unwrap();
    assert_eq!(tickets.as_array().unwrap().len(), 1);
}

/// What a Postgres shutdown or failover does to open connections: the server ends them
/// (SQLSTATE 57P01). Requests caught by it are 503, never 500, and the pool heals.
#[tokio::test]
async fn connections_the_server_terminates_give_503_never_500_and_the_pool_heals() {
    let app = spawn_app().await;
    let (_, _, seats) = app.concert_on_sale(1).await;
    let fan = app.signup().await;
    app.start_checkout(&fan.token, &seats).await;
    let mut maintenance = app.maintenance().await;
    let db_name = app.db_name.clone();

    let load = async {
        let mut statuses = Vec::new();
        for _ in 0..40 {
            let batch = futures::future::join_all((0..8).map(|_| async {
                let res = app.get("/api/reservations/my", Some(&fan.token)).await;
                let status = res.status();
                (status, res.headers().contains_key("retry-after"))
            }))
            .await;
            statuses.extend(batch);
        }
        statuses
    };
    let kill = async {
        for _ in 0..20 {
            sqlx::query(
                "select pg_terminate_backend(pid) from pg_stat_activity
                 where datname = $1 and pid <> pg_backend_pid()",
            )
            .bind(&db_name)
            .execute(&mut maintenance)
            .await
            .unwrap();
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    };
    let (statuses, ()) = tokio::join!(load, kill);
    for (status, retry_after) in &statuses {
        assert!(
            *status == StatusCode::OK || *status == StatusCode::SERVICE_UNAVAILABLE,
            "only 200 or 503 while connections are cut: {status}"
        );
        if *status == StatusCode::SERVICE_UNAVAILABLE {
            assert!(retry_after, "a 503 says when to retry");
        }
    }
    wait_until("the pool serves again", || async {
        app.get("/api/reservations/my", Some(&fan.token)).await.status() == StatusCode::OK
    })
    .await;
    assert_eq!(app.get("/health/ready", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn while_redis_is_unreachable_holds_are_503_with_retry_after_and_come_back_by_themselves() {
    let redis = TcpProxy::redis().await;
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let app = spawn_app_with(&[("REDIS_URL", &url)]).await;
    let (_, _, seats) = app.concert_on_sale(2).await;
    let fan = app.signup().await;
    assert_eq!(app.hold(&fan.token, seats[0]).await.status(), StatusCode::OK);

    redis.set_up(false);
    wait_until("readiness reports Redis DOWN", || async {
        app.get("/health/ready", None).await.status() == StatusCode::SERVICE_UNAVAILABLE
    })
    .await;
    assert_unavailable(app.hold(&fan.token, seats[1]).await, "a hold").await;

    redis.set_up(true);
    wait_until("readiness reports Redis UP again", || async {
        app.get("/health/ready", None).await.status() == StatusCode::OK
    })
    .await;
    assert_eq!(app.hold(&fan.token, seats[1]).await.status(), StatusCode::OK);
    let other = app.signup().await;
    let res = app.hold(&other.token, seats[0]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT, "the first hold survived the outage");
}

/// 200 ms more on every round trip to Redis and to Postgres: a small sale is slower, and
/// nothing else changes.
#[tokio::test]
async fn with_200_ms_to_redis_and_postgres_a_small_sale_is_slower_but_sells_every_seat_once() {
    let redis = TcpProxy::redis().await;
    let postgres = TcpProxy::postgres().await;
    let app = spawn_app_with(&[
        ("REDIS_URL", &format!("redis://127.0.0.1:{}", redis.port)),
        ("DATABASE_URL", &format!("postgres://postgres@127.0.0.1:{}/{{db_name}}", postgres.port)),
    ])
    .await;
    let (_, concert, seats) = app.concert_on_sale(6).await;
    let mut fans = Vec::new();
    for _ in 0..8 {
        fans.push(app.signup().await);
    }
    redis.set_delay(Duration::from_millis(200));
    postgres.set_delay(Duration::from_millis(200));

    let started = std::time::Instant::now();
    let app = &app;
    let seats = &seats;
    // Eight fans for six seats: each tries seats in its own order until one holds.
    let outcomes = futures::future::join_all(fans.iter().enumerate().map(|(i, fan)| async move {
        for k in 0..seats.len() {
            let seat = seats[(i + k) % seats.len()];
            let res = app.hold(&fan.token, seat).await;
            match res.status() {
                StatusCode::OK => {
                    let res = app.checkout(&fan.token, &[seat]).await;
                    assert_eq!(res.status(), StatusCode::OK, "checkout under delay");
                    let body: Value = res.json().await.unwrap();
                    let paid = event(
                        body["transactionId"].as_str().unwrap(),
                        "SUCCESS",
                        body["amount"].as_i64().unwrap(),
                    );
                    let res = app.webhook(&paid).await;
                    assert_eq!(res.status(), StatusCode::OK, "webhook under delay");
                    return Some(seat);
                }
                StatusCode::CONFLICT => continue,
                other => panic!("a hold under delay answered {other}"),
            }
        }
        None
    }))
    .await;
    assert!(started.elapsed() >= Duration::from_millis(400), "the delay was in the path");
    let mut sold: Vec<i64> = outcomes.iter().flatten().copied().collect();
    sold.sort_unstable();
    let mut all = seats.clone();
    all.sort_unstable();
    assert_eq!(sold, all, "every seat sold, each to one fan");
    assert_eq!(outcomes.iter().filter(|o| o.is_none()).count(), 2, "two fans found none");

    redis.set_delay(Duration::ZERO);
    postgres.set_delay(Duration::ZERO);
    let mut direct = sqlx::PgConnection::connect(&app.database_url()).await.unwrap();
    let (confirmed, tickets): (i64, i64) = sqlx::query_as(
        "select (select count(*) from reservation where concert_id = $1 and status = 'CONFIRMED'),
                (select count(*) from tickets where concert_id = $1 and status = 'VALID')",
    )
    .bind(concert)
    .fetch_one(&mut direct)
    .await
    .unwrap();
    assert_eq!((confirmed, tickets), (6, 6));
    let statuses = app.seat_statuses(concert).await;
    assert!(statuses.values().all(|s| s == "SOLD"), "{statuses:?}");
}
