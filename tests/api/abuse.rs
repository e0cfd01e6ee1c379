//! Abuse controls on the hold path: the cool-down of accounts whose checkouts keep ending
//! unpaid, and the hold velocity limits per account and per client address.

use std::{sync::Arc, time::Duration};

use reqwest::{Response, StatusCode};
use tokio::sync::Barrier;

use crate::helpers::{TestApp, error_body, event, spawn_app_with};

/// Runs the expiry step until the reservation has expired (its time is up after
/// `RESERVATION_TTL_SECS`; no sleep decides the outcome).
async fn expire(app: &TestApp, reservation: i64) {
    for _ in 0..200 {
        ticketing::workers::expiry::execute_once(&app.state).await.unwrap();
        if app.reservation_status(reservation).await.0 == "EXPIRED" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("reservation {reservation} never expired");
}

/// The `Retry-After` of a response, in seconds.
fn retry_after(res: &Response) -> u64 {
    res.headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds")
}

/// Checks a 429 with its `Retry-After` in `1..=max` seconds and its code.
async fn refused(res: Response, code: &str, max: u64) {
    let wait = retry_after(&res);
    assert!((1..=max).contains(&wait), "Retry-After {wait} not in 1..={max}");
    error_body(res, StatusCode::TOO_MANY_REQUESTS, code).await;
}

#[tokio::test]
async fn an_account_whose_checkouts_keep_expiring_unpaid_may_not_hold_or_check_out_while_others_may()
 {
    let app = spawn_app_with(&[
        ("RESERVATION_TTL_SECS", "1"),
        ("EXPIRY_SWEEP_INTERVAL_MS", "3600000"),
        ("CHECKOUT_COOLDOWN_AFTER", "3"),
        ("CHECKOUT_COOLDOWN_SECS", "600"),
    ])
    .await;
    let (_, _, seats) = app.concert_on_sale(6).await;
    let (scalper, fan) = (app.signup().await, app.signup().await);

    // Two checkouts left to expire: not yet a pattern.
    for seat in &seats[..2] {
        let started = app.start_checkout(&scalper.token, &[*seat]).await;
        expire(&app, started.reservation).await;
    }
    let third = app.start_checkout(&scalper.token, &[seats[2]]).await;
    assert_eq!(app.hold(&scalper.token, seats[3]).await.status(), StatusCode::OK);
    // The third: from now on the account is paused.
    expire(&app, third.reservation).await;

    refused(app.hold(&scalper.token, seats[4]).await, "CHECKOUT_COOLDOWN", 600).await;
    refused(app.hold_many(&scalper.token, &[seats[4], seats[5]]).await, "CHECKOUT_COOLDOWN", 600)
        .await;
    // A seat held before the pause cannot be checked out either.
    refused(app.checkout(&scalper.token, &[seats[3]]).await, "CHECKOUT_COOLDOWN", 600).await;
    let english = app
        .client
        .post(app.url(&format!("/api/seat/{}/select", seats[4])))
        .bearer_auth(&scalper.token)
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    let body = error_body(english, StatusCode::TOO_MANY_REQUESTS, "CHECKOUT_COOLDOWN").await;
    assert!(body["message"].as_str().unwrap().contains("expired unpaid"), "{body}");

    // Another account is not affected.
    app.start_checkout(&fan.token, &[seats[4]]).await;
}

#[tokio::test]
async fn the_cool_down_ends_after_its_time() {
    let app = spawn_app_with(&[
        ("RESERVATION_TTL_SECS", "1"),
        ("EXPIRY_SWEEP_INTERVAL_MS", "3600000"),
        ("CHECKOUT_COOLDOWN_AFTER", "1"),
        ("CHECKOUT_COOLDOWN_SECS", "3"),
        // The polling below is not what is tested.
        ("HOLD_RATE_PER_USER", "0"),
    ])
    .await;
    let (_, _, seats) = app.concert_on_sale(2).await;
    let fan = app.signup().await;
    let started = app.start_checkout(&fan.token, &[seats[0]]).await;
    expire(&app, started.reservation).await;
    refused(app.hold(&fan.token, seats[1]).await, "CHECKOUT_COOLDOWN", 3).await;

    let mut status = StatusCode::TOO_MANY_REQUESTS;
    for _ in 0..60 {
        let res = app.hold(&fan.token, seats[1]).await;
        status = res.status();
        if status != StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        error_body(res, StatusCode::TOO_MANY_REQUESTS, "CHECKOUT_COOLDOWN").await;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(status, StatusCode::OK, "holds are allowed again once the cool-down is over");
    assert_eq!(app.checkout(&fan.token, &[seats[1]]).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_payment_declined_at_once_does_not_count_but_one_declined_late_does() {
    let app =
        spawn_app_with(&[("CHECKOUT_COOLDOWN_AFTER", "1"), ("CHECKOUT_COOLDOWN_SECS", "600")])
            .await;
    let (_, _, seats) = app.concert_on_sale(4).await;
    let (quick, late) = (app.signup().await, app.signup().await);

    // The card bounced right away: the seats came back at once, the fan may try again.
    let started = app.start_checkout(&quick.token, &[seats[0]]).await;
    let res = app.webhook(&event(&started.transaction, "FAILED", started.amount)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.reservation_status(started.reservation).await.0, "FAILED");
    assert_eq!(app.hold(&quick.token, seats[1]).await.status(), StatusCode::OK);

    // Declined at the end of the time to pay: the seats were locked as long as by an expiry.
    let started = app.start_checkout(&late.token, &[seats[2]]).await;
    sqlx::query(
        "update reservation set reservation_time = reservation_time - interval '1 hour' where id = $1",
    )
    .bind(started.reservation)
    .execute(&app.db)
    .await
    .unwrap();
    let res = app.webhook(&event(&started.transaction, "FAILED", started.amount)).await;
    assert_eq!(res.status(), StatusCode::OK);
    refused(app.hold(&late.token, seats[3]).await, "CHECKOUT_COOLDOWN", 600).await;
}

#[tokio::test]
async fn money_that_came_after_expiry_and_was_refunded_does_not_count() {
    let app = spawn_app_with(&[
        ("RESERVATION_TTL_SECS", "1"),
        ("EXPIRY_SWEEP_INTERVAL_MS", "3600000"),
        ("CHECKOUT_COOLDOWN_AFTER", "2"),
        ("CHECKOUT_COOLDOWN_SECS", "600"),
    ])
    .await;
    let (_, _, seats) = app.concert_on_sale(3).await;
    let fan = app.signup().await;
    let slow = app.start_checkout(&fan.token, &[seats[0]]).await;
    expire(&app, slow.reservation).await;
    // The fan did pay, too late: refunded, and not an unpaid checkout after all.
    let res = app.webhook(&event(&slow.transaction, "SUCCESS", slow.amount)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.reservation_status(slow.reservation).await.1, "REFUNDED");

    let unpaid = app.start_checkout(&fan.token, &[seats[1]]).await;
    expire(&app, unpaid.reservation).await;
    assert_eq!(app.hold(&fan.token, seats[2]).await.status(), StatusCode::OK, "one unpaid end");
}

/// Sends `n` hold attempts at once (alternately single and batch, on alternate seats) as the
/// given fans, in turn; returns the responses.
async fn burst(app: &Arc<TestApp>, fans: &[String], seats: &[i64], n: usize) -> Vec<Response> {
    let barrier = Arc::new(Barrier::new(n));
    let tasks = (0..n).map(|i| {
        let (app, barrier) = (app.clone(), barrier.clone());
        let token = fans[i % fans.len()].clone();
        let seat = seats[i % seats.len()];
        tokio::spawn(async move {
            barrier.wait().await;
            if i % 2 == 0 {
                app.hold(&token, seat).await
            } else {
                app.hold_many(&token, &[seat]).await
            }
        })
    });
    futures::future::join_all(tasks).await.into_iter().map(Result::unwrap).collect()
}

#[tokio::test]
async fn an_account_gets_exactly_its_hold_attempts_per_window_under_concurrency() {
    let app =
        spawn_app_with(&[("HOLD_RATE_PER_USER", "5"), ("HOLD_RATE_WINDOW_SECS", "600")]).await;
    let (_, _, seats) = app.concert_on_sale(3).await;
    let (fan, other) = (app.signup().await, app.signup().await);
    assert_eq!(app.hold(&other.token, seats[1]).await.status(), StatusCode::OK);
    let app = Arc::new(app);

    // The fan's own seat (200) and the other's (409), 24 attempts at once.
    let results = burst(&app, std::slice::from_ref(&fan.token), &seats[..2], 24).await;
    let allowed = results
        .iter()
        .filter(|r| matches!(r.status(), StatusCode::OK | StatusCode::CONFLICT))
        .count();
    assert_eq!(allowed, 5, "exactly HOLD_RATE_PER_USER attempts get through");
    for res in results.into_iter().filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS) {
        refused(res, "RATE_LIMITED", 600).await;
    }
    // Still refused after the burst; another account from the same address is not.
    refused(app.hold(&fan.token, seats[2]).await, "RATE_LIMITED", 600).await;
    assert_eq!(app.hold(&other.token, seats[2]).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_client_address_gets_exactly_its_hold_attempts_per_window_whatever_the_accounts() {
    let app = spawn_app_with(&[
        ("HOLD_RATE_PER_IP", "5"),
        ("HOLD_RATE_PER_USER", "30"),
        ("HOLD_RATE_WINDOW_SECS", "600"),
    ])
    .await;
    let (_, _, seats) = app.concert_on_sale(12).await;
    let fans: Vec<String> = app.bulk_users(13).await.into_iter().map(|(_, t)| t).collect();
    let app = Arc::new(app);

    // Twelve accounts, one attempt each, all from 127.0.0.1.
    let results = burst(&app, &fans[..12], &seats, 12).await;
    let allowed = results
        .iter()
        .filter(|r| matches!(r.status(), StatusCode::OK | StatusCode::CONFLICT))
        .count();
    assert_eq!(allowed, 5, "exactly HOLD_RATE_PER_IP attempts get through");
    for res in results.into_iter().filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS) {
        refused(res, "RATE_LIMITED", 600).await;
    }
    // A fresh account from the same address is refused too.
    refused(app.hold(&fans[12], seats[0]).await, "RATE_LIMITED", 600).await;

    // The counters expire with their window.
    let mut conn = app.state.redis.conn().await.unwrap();
    let keys: Vec<String> = deadpool_redis::redis::cmd("KEYS")
        .arg(format!("{}concert:*rate*", app.redis_prefix))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(keys.len() >= 2, "{keys:?}");
    for key in keys {
        let ttl: i64 =
            deadpool_redis::redis::cmd("PTTL").arg(&key).query_async(&mut conn).await.unwrap();
        assert!(ttl > 0 && ttl <= 600_000, "{key} has TTL {ttl}");
    }
}
