//! `Idempotency-Key` on checkout, multi-seat hold and cancellation.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_body, spawn_app};

async fn post_with_key(
    app: &TestApp,
    path: &str,
    token: &str,
    key: &str,
    body: &Value,
) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_same_key_and_body_get_the_stored_answer() {
    let app = spawn_app().await;
    let (_, _, seats) = app.concert_on_sale(1).await;
    let fan = app.signup().await;
    app.hold(&fan.token, seats[0]).await;
    let body = json!({"seatIds": seats, "paymentMethod": "CREDIT_CARD"});
    let first = post_with_key(&app, "/api/payment", &fan.token, "order-1", &body).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.unwrap();
    let again = post_with_key(&app, "/api/payment", &fan.token, "order-1", &body).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    assert_eq!(count(&app, "reservation").await, 1);

    // The same key with another body is refused.
    let other = json!({"seatIds": seats, "paymentMethod": "BANK_TRANSFER"});
    error_body(
        post_with_key(&app, "/api/payment", &fan.token, "order-1", &other).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "IDEMPOTENCY_KEY_REUSED",
    )
    .await;
    // Keys belong to their user.
    let stranger = app.signup().await;
    error_body(
        post_with_key(&app, "/api/payment", &stranger.token, "order-1", &body).await,
        StatusCode::NOT_FOUND,
        "SEAT_NOT_SELECTED",
    )
    .await;
}

#[tokio::test]
async fn concurrent_duplicates_share_the_first_answer() {
    let app = Arc::new(spawn_app().await);
    let (_, _, seats) = app.concert_on_sale(2).await;
    let fan = app.signup().await;
    app.hold_many(&fan.token, &seats).await;
    let body = json!({"seatIds": seats, "paymentMethod": "CREDIT_CARD"});
    let tasks = (0..10).map(|_| {
        let (app, token, body) = (app.clone(), fan.token.clone(), body.clone());
        tokio::spawn(async move {
            let res = post_with_key(&app, "/api/payment", &token, "same-click", &body).await;
            (res.status(), res.json::<Value>().await.unwrap())
        })
    });
    let results: Vec<(StatusCode, Value)> =
        futures::future::join_all(tasks).await.into_iter().map(Result::unwrap).collect();
    assert!(results.iter().all(|(s, _)| *s == StatusCode::OK), "{results:?}");
    let ids: std::collections::HashSet<i64> =
        results.iter().map(|(_, b)| b["reservationId"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 1, "one reservation for all");
    assert_eq!(count(&app, "reservation").await, 1);
}

#[tokio::test]
async fn an_error_is_not_stored_so_the_key_can_be_retried() {
    let app = spawn_app().await;
    let (_, _, seats) = app.concert_on_sale(1).await;
    let fan = app.signup().await;
    let body = json!({"seatIds": seats, "paymentMethod": "CREDIT_CARD"});
    error_body(
        post_with_key(&app, "/api/payment", &fan.token, "k", &body).await,
        StatusCode::NOT_FOUND,
        "SEAT_NOT_SELECTED",
    )
    .await;
    app.hold(&fan.token, seats[0]).await;
    assert_eq!(
        post_with_key(&app, "/api/payment", &fan.token, "k", &body).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_repeated_hold_or_cancel_with_a_key_is_answered_once() {
    let app = spawn_app().await;
    let (_, concert, seats) = app.concert_on_sale(2).await;
    let fan = app.signup().await;
    let hold = json!({"seatIds": [seats[0]]});
    let first: Value = post_with_key(&app, "/api/seat/select", &fan.token, "hold-1", &hold)
        .await
        .json()
        .await
        .unwrap();
    app.delete(&format!("/api/seat/{}/select", seats[0]), Some(&fan.token)).await;
    let again = post_with_key(&app, "/api/seat/select", &fan.token, "hold-1", &hold).await;
    assert_eq!(again.json::<Value>().await.unwrap(), first, "the stored answer");
    assert_eq!(
        app.seat_statuses(concert).await[&seats[0]],
        "AVAILABLE",
        "and nothing was done again"
    );

    let started = app.start_checkout(&fan.token, &seats[1..]).await;
    app.confirm_reservation(started.reservation).await;
    let cancel = json!({"reservationId": started.reservation, "cancelReason": "x"});
    let first: Value =
        post_with_key(&app, "/api/reservations/cancel", &fan.token, "cancel-1", &cancel)
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(first["status"], "CANCELED");
    let again =
        post_with_key(&app, "/api/reservations/cancel", &fan.token, "cancel-1", &cancel).await;
    assert_eq!(again.status(), StatusCode::OK, "not RESERVATION_ALREADY_PROCESSED");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
}

#[tokio::test]
async fn keys_expire_after_a_day_and_must_be_sane() {
    let app = spawn_app().await;
    let (_, _, seats) = app.concert_on_sale(2).await;
    let fan = app.signup().await;
    let hold = json!({"seatIds": [seats[0]]});
    assert_eq!(
        post_with_key(&app, "/api/seat/select", &fan.token, "old", &hold).await.status(),
        StatusCode::OK
    );
    sqlx::query("update idempotency_keys set created_at = now() - interval '25 hours'")
        .execute(&app.db)
        .await
        .unwrap();
    let other = json!({"seatIds": [seats[1]]});
    assert_eq!(
        post_with_key(&app, "/api/seat/select", &fan.token, "old", &other).await.status(),
        StatusCode::OK,
        "an expired key is new again"
    );
    sqlx::query("update idempotency_keys set created_at = now() - interval '25 hours'")
        .execute(&app.db)
        .await
        .unwrap();
    let purged = ticketing::workers::housekeeping::execute_once(&app.state).await.unwrap();
    assert_eq!(purged.idempotency_keys, 1);

    let long = "k".repeat(256);
    error_body(
        post_with_key(&app, "/api/seat/select", &fan.token, &long, &hold).await,
        StatusCode::BAD_REQUEST,
        "BAD_REQUEST",
    )
    .await;
}

#[tokio::test]
async fn a_hold_without_a_key_stores_nothing_and_one_with_a_key_replays() {
    let app = spawn_app().await;
    let (_, concert, seats) = app.concert_on_sale(2).await;
    let fan = app.signup().await;

    let res = app.hold_many(&fan.token, &[seats[0]]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("idempotent-replayed").is_none());
    assert_eq!(count(&app, "idempotency_keys").await, 0, "no key, no stored answer");

    // With a key the token is checked once, by the layer, and the handler acts for that fan.
    let body = json!({"seatIds": [seats[1]]});
    let first = post_with_key(&app, "/api/seat/select", &fan.token, "hold-a", &body).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    assert_eq!(count(&app, "idempotency_keys").await, 1);
    assert_eq!(app.seat_statuses(concert).await[&seats[1]], "HELD");
    let again = post_with_key(&app, "/api/seat/select", &fan.token, "hold-a", &body).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);

    // A bad token with a key is still 401, and stores nothing.
    let bad = post_with_key(&app, "/api/seat/select", "not-a-token", "hold-b", &body).await;
    error_body(bad, StatusCode::UNAUTHORIZED, "INVALID_TOKEN").await;
    assert_eq!(count(&app, "idempotency_keys").await, 1);
}

/// A key whose request died with its instance (claimed, never answered) is free for the
/// client's retry soon after the longest a request can run, not a minute later.
#[tokio::test]
async fn a_key_left_by_a_request_that_died_is_free_again_after_the_request_timeout() {
    let app = spawn_app().await;
    let (_, _, seats) = app.concert_on_sale(1).await;
    let fan = app.signup().await;
    let user = app.user_id(&fan.email).await;
    app.hold(&fan.token, seats[0]).await;
    let abandoned = ticketing::services::idempotency::ABANDONED_AFTER;
    let timeout = ticketing::router::REQUEST_TIMEOUT;
    assert!(abandoned > timeout && abandoned <= timeout + std::time::Duration::from_secs(5));
    // The claim of a checkout whose instance was killed just after the request timeout ago.
    let age = (abandoned + std::time::Duration::from_secs(1)).as_secs_f64();
    sqlx::query(
        "insert into idempotency_keys (user_id, idempotency_key, request_hash, created_at)
         values ($1, 'died', '\\x00', now() - make_interval(secs => $2))",
    )
    .bind(user)
    .bind(age)
    .execute(&app.db)
    .await
    .unwrap();
    let body = json!({"seatIds": seats, "paymentMethod": "CREDIT_CARD"});
    let res = post_with_key(&app, "/api/payment", &fan.token, "died", &body).await;
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
}
