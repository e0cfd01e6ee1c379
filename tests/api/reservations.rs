//! Reservations: views, cancellation, expiry.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_body, spawn_app, spawn_app_with};

/// Holds and checks out the seats; returns the reservation id.
async fn reserve(app: &TestApp, token: &str, seats: &[i64]) -> i64 {
    assert_eq!(app.hold_many(token, seats).await.status(), StatusCode::OK);
    let res = app.checkout(token, seats).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json::<Value>().await.unwrap()["reservationId"].as_i64().unwrap()
}

#[tokio::test]
async fn fans_see_their_own_reservations_newest_first() {
    let app = spawn_app().await;
    let (admin, concert, seats) = app.concert_on_sale(4).await;
    let (alice, bob) = (app.signup().await, app.signup().await);
    let first = reserve(&app, &alice.token, &seats[..2]).await;
    let second = reserve(&app, &alice.token, &seats[2..3]).await;
    let bobs = reserve(&app, &bob.token, &seats[3..]).await;

    let page: Value =
        app.get("/api/reservations/my", Some(&alice.token)).await.json().await.unwrap();
    let ids: Vec<i64> = page["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reservationId"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [second, first]);
    assert_eq!(page["totalElements"], 2);
    let r = &page["content"][1];
    assert_eq!(r["status"], "IN_PROGRESS");
    assert_eq!(r["userEmail"], alice.email.as_str());
    assert_eq!(r["concertTitle"], "테스트 콘서트");
    assert_eq!(r["totalAmount"], 100000);
    assert_eq!(r["paymentStatus"], "IN_PROGRESS");
    assert_eq!(r["seats"].as_array().unwrap().len(), 2);
    assert_eq!(r["seats"][0]["number"], "1");
    assert!(r["expireTime"].is_string() && r["reservationTime"].is_string());

    let one = app.get(&format!("/api/reservations/{first}"), Some(&alice.token)).await;
    assert_eq!(one.status(), StatusCode::OK);
    error_body(
        app.get(&format!("/api/reservations/{first}"), Some(&bob.token)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    error_body(
        app.get("/api/reservations/987654", Some(&bob.token)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_eq!(
        app.get(&format!("/api/reservations/{first}"), Some(&admin)).await.status(),
        StatusCode::OK
    );

    let all: Value =
        app.get("/api/reservations/admin/all", Some(&admin)).await.json().await.unwrap();
    assert_eq!(all["totalElements"], 3);
    let by_concert: Value = app
        .get(&format!("/api/reservations/admin/concert/{concert}?size=1"), Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_concert["totalElements"], 3);
    assert_eq!(by_concert["content"][0]["reservationId"], bobs);
    error_body(
        app.get("/api/reservations/admin/all", Some(&alice.token)).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
}

#[tokio::test]
async fn a_confirmed_reservation_is_canceled_and_refunded_and_its_seats_come_back() {
    let app = spawn_app().await;
    let (_, concert, seats) = app.concert_on_sale(2).await;
    let (alice, bob) = (app.signup().await, app.signup().await);
    let id = reserve(&app, &alice.token, &seats).await;
    app.confirm_reservation(id).await;
    assert_eq!(app.seat_statuses(concert).await[&seats[0]], "SOLD");
    error_body(
        app.hold(&bob.token, seats[0]).await,
        StatusCode::CONFLICT,
        "IS_ALREADY_RESERVATION",
    )
    .await;

    let res = app
        .post(
            "/api/reservations/cancel",
            Some(&alice.token),
            json!({"reservationId": id, "cancelReason": "일정 변경"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["reservationId"], id);
    assert_eq!(body["status"], "CANCELED");
    assert_eq!(body["refundAmount"], 100000);
    assert_eq!(body["success"], true);
    assert!(body["message"].as_str().unwrap().contains("취소"));

    let (status, reason): (String, String) =
        sqlx::query_as("select status, cancel_reason from reservation where id = $1")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((status.as_str(), reason.as_str()), ("CANCELED", "일정 변경"));
    let (pay_status, refund): (String, rust_decimal::Decimal) =
        sqlx::query_as("select status, refund_amount from payments where reservation_id = $1")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((pay_status.as_str(), refund), ("REFUNDED", rust_decimal::Decimal::from(100000)));
    let audit: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where entity = 'reservation' and entity_id = $1",
    )
    .bind(id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(audit, 1);

    assert_eq!(app.seat_statuses(concert).await[&seats[0]], "AVAILABLE");
    assert_eq!(
        app.hold(&bob.token, seats[0]).await.status(),
        StatusCode::OK,
        "the seat can be sold again"
    );
    // Canceling twice is refused, and so is canceling someone else's.
    let again = app
        .post("/api/reservations/cancel", Some(&alice.token), json!({"reservationId": id}))
        .await;
    error_body(again, StatusCode::CONFLICT, "RESERVATION_ALREADY_PROCESSED").await;
    let theirs =
        app.post("/api/reservations/cancel", Some(&bob.token), json!({"reservationId": id})).await;
    error_body(theirs, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

#[tokio::test]
async fn only_confirmed_reservations_can_be_canceled_and_not_close_to_the_show() {
    let app = spawn_app().await;
    let (_, _, seats) = app.concert_on_sale(1).await;
    let fan = app.signup().await;
    let id = reserve(&app, &fan.token, &seats).await;
    let res =
        app.post("/api/reservations/cancel", Some(&fan.token), json!({"reservationId": id})).await;
    error_body(res, StatusCode::UNPROCESSABLE_ENTITY, "RESERVATION_NOT_CONFIRMED").await;

    let admin = app.admin_token().await;
    let now = chrono::Utc::now();
    let soon = json!({
        "title": "soon", "venue": "v",
        "openTime": (now - chrono::Duration::days(1)).to_rfc3339(),
        "closeTime": (now + chrono::Duration::minutes(30)).to_rfc3339(),
        "concertDate": (now + chrono::Duration::minutes(90)).to_rfc3339(),
    });
    let concert = app.post("/api/concert", Some(&admin), soon).await.json::<Value>().await.unwrap()
        ["id"]
        .as_i64()
        .unwrap();
    let seat = app.create_seats(&admin, concert, 1).await[0]["id"].as_i64().unwrap();
    let id = reserve(&app, &fan.token, &[seat]).await;
    app.confirm_reservation(id).await;
    let res =
        app.post("/api/reservations/cancel", Some(&fan.token), json!({"reservationId": id})).await;
    error_body(res, StatusCode::UNPROCESSABLE_ENTITY, "CANCELLATION_DEADLINE_PASSED").await;
    let res =
        app.post("/api/reservations/cancel", Some(&fan.token), json!({"cancelReason": "x"})).await;
    error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
}

#[tokio::test]
async fn an_unpaid_reservation_expires_and_its_seats_go_to_someone_else() {
    let app =
        spawn_app_with(&[("RESERVATION_TTL_SECS", "1"), ("EXPIRY_SWEEP_INTERVAL_MS", "3600000")])
            .await;
    let (_, concert, seats) = app.concert_on_sale(1).await;
    let (alice, bob) = (app.signup().await, app.signup().await);
    let id = reserve(&app, &alice.token, &seats).await;
    error_body(
        app.hold(&bob.token, seats[0]).await,
        StatusCode::CONFLICT,
        "IS_ALREADY_RESERVATION",
    )
    .await;

    tokio::time::sleep(Duration::from_millis(1200)).await;
    let expired = ticketing::workers::expiry::execute_once(&app.state).await.unwrap();
    assert_eq!(expired, 1);
    let (status, pay): (String, String) = sqlx::query_as(
        "select r.status, p.status from reservation r join payments p on p.reservation_id = r.id where r.id = $1",
    )
    .bind(id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((status.as_str(), pay.as_str()), ("EXPIRED", "FAILED"));
    let outbox: i64 =
        sqlx::query_scalar("select count(*) from outbox where kind = 'reservation_expired'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(outbox, 1, "the expiry email is owed");
    assert_eq!(app.seat_statuses(concert).await[&seats[0]], "AVAILABLE");

    // Bob buys it; Alice's late attempt fails cleanly.
    reserve(&app, &bob.token, &seats).await;
    error_body(
        app.checkout(&alice.token, &seats).await,
        StatusCode::NOT_FOUND,
        "SEAT_NOT_SELECTED",
    )
    .await;
    error_body(
        app.hold(&alice.token, seats[0]).await,
        StatusCode::CONFLICT,
        "IS_ALREADY_RESERVATION",
    )
    .await;
    assert_eq!(
        ticketing::workers::expiry::execute_once(&app.state).await.unwrap(),
        0,
        "nothing else is due"
    );
}

#[tokio::test]
async fn the_background_sweeper_expires_without_any_request() {
    let app =
        spawn_app_with(&[("RESERVATION_TTL_SECS", "1"), ("EXPIRY_SWEEP_INTERVAL_MS", "200")]).await;
    let (_, _, seats) = app.concert_on_sale(1).await;
    let fan = app.signup().await;
    let id = reserve(&app, &fan.token, &seats).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status: String = sqlx::query_scalar("select status from reservation where id = $1")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .unwrap();
        if status == "EXPIRED" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "expired by the sweeper within 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn sweepers_running_side_by_side_expire_each_reservation_once() {
    let app = spawn_app_with(&[
        ("RESERVATION_TTL_SECS", "1"),
        ("EXPIRY_SWEEP_INTERVAL_MS", "3600000"),
        ("MAX_SEATS_PER_USER", "4"),
    ])
    .await;
    let (_, _, seats) = app.concert_on_sale(40).await;
    let fans = app.bulk_users(10).await;
    for (i, (_, token)) in fans.iter().enumerate() {
        reserve(&app, token, &seats[i * 4..i * 4 + 4]).await;
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let sweeps = (0..4).map(|_| ticketing::workers::expiry::execute_once(&app.state));
    let counts: Vec<usize> =
        futures::future::join_all(sweeps).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(counts.iter().sum::<usize>(), 10, "{counts:?}");
    let outbox: i64 =
        sqlx::query_scalar("select count(*) from outbox where kind = 'reservation_expired'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(outbox, 10);
}
