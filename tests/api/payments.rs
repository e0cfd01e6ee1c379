//! Checkout: `POST /api/payment`.

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{error_body, failing_fields, spawn_app};

#[tokio::test]
async fn checkout_turns_held_seats_into_one_reservation_and_payment() {
    let app = spawn_app().await;
    let (_, concert, seats) = app.concert_on_sale(3).await;
    let fan = app.signup().await;
    app.hold_many(&fan.token, &seats[..2]).await;
    let res = app.checkout(&fan.token, &seats[..2]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "IN_PROGRESS");
    assert_eq!(body["amount"], 100000, "the sum of the seats' prices");
    assert_eq!(body["pgRequestSuccess"], true);
    let tx = body["transactionId"].as_str().unwrap();
    assert!(tx.starts_with("tx_") && tx.len() == 35, "unguessable: {tx}");
    let expires = DateTime::parse_from_rfc3339(body["expiresAt"].as_str().unwrap()).unwrap();
    let ttl = (expires.with_timezone(&Utc) - Utc::now()).num_seconds();
    assert!((590..=600).contains(&ttl), "RESERVATION_TTL_SECS: {ttl}");

    let id = body["reservationId"].as_i64().unwrap();
    let (status, user): (String, i64) =
        sqlx::query_as("select status, user_id from reservation where id = $1")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(status, "IN_PROGRESS");
    assert_eq!(user, app.user_id(&fan.email).await);
    let seat_rows: Vec<i64> = sqlx::query_scalar("select seat_id from reservation_seat where reservation_id = $1 and active order by seat_id")
        .bind(id)
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(seat_rows, seats[..2]);
    let (pay_status, amount, method): (String, rust_decimal::Decimal, String) =
        sqlx::query_as("select status, amount, method from payments where transaction_id = $1")
            .bind(tx)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(
        (pay_status.as_str(), amount, method.as_str()),
        ("IN_PROGRESS", rust_decimal::Decimal::from(100000), "CREDIT_CARD")
    );

    let statuses = app.seat_statuses(concert).await;
    assert_eq!(statuses[&seats[0]], "RESERVED");
    assert_eq!(statuses[&seats[1]], "RESERVED");
    assert_eq!(statuses[&seats[2]], "AVAILABLE");
    // The seats stay taken in Redis for the reservation: nobody else can hold them.
    let other = app.signup().await;
    error_body(
        app.hold(&other.token, seats[0]).await,
        StatusCode::CONFLICT,
        "IS_ALREADY_RESERVATION",
    )
    .await;
    // And the holder cannot release or re-checkout them.
    error_body(
        app.delete(&format!("/api/seat/{}/select", seats[0]), Some(&fan.token)).await,
        StatusCode::CONFLICT,
        "IS_ALREADY_RESERVATION",
    )
    .await;
    error_body(
        app.checkout(&fan.token, &seats[..2]).await,
        StatusCode::CONFLICT,
        "RESERVATION_ALREADY_PROCESSED",
    )
    .await;
}

#[tokio::test]
async fn the_original_single_seat_body_works() {
    let app = spawn_app().await;
    let (_, _, seats) = app.concert_on_sale(1).await;
    let fan = app.signup().await;
    app.hold(&fan.token, seats[0]).await;
    let res = app
        .post(
            "/api/payment",
            Some(&fan.token),
            json!({"seatId": seats[0], "paymentMethod": "BANK_TRANSFER", "amount": 50000}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["amount"], 50000);
}

#[tokio::test]
async fn checkout_requires_holding_every_seat() {
    let app = spawn_app().await;
    let (_, _, seats) = app.concert_on_sale(2).await;
    let (alice, bob) = (app.signup().await, app.signup().await);
    error_body(
        app.checkout(&alice.token, &seats[..1]).await,
        StatusCode::NOT_FOUND,
        "SEAT_NOT_SELECTED",
    )
    .await;
    app.hold(&alice.token, seats[0]).await;
    app.hold(&bob.token, seats[1]).await;
    error_body(
        app.checkout(&alice.token, &seats).await,
        StatusCode::NOT_FOUND,
        "SEAT_NOT_SELECTED",
    )
    .await;
    error_body(
        app.checkout(&bob.token, &seats[..1]).await,
        StatusCode::NOT_FOUND,
        "SEAT_NOT_SELECTED",
    )
    .await;
    // Alice still holds her seat after the failed attempt and can buy it.
    assert_eq!(app.checkout(&alice.token, &seats[..1]).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_client_amount_that_differs_is_refused_and_the_holds_survive() {
    let app = spawn_app().await;
    let (_, concert, seats) = app.concert_on_sale(1).await;
    let fan = app.signup().await;
    app.hold(&fan.token, seats[0]).await;
    let res = app
        .post(
            "/api/payment",
            Some(&fan.token),
            json!({"seatIds": seats, "paymentMethod": "CREDIT_CARD", "amount": 100}),
        )
        .await;
    error_body(res, StatusCode::UNPROCESSABLE_ENTITY, "AMOUNT_MISMATCH").await;
    let count: i64 =
        sqlx::query_scalar("select count(*) from reservation").fetch_one(&app.db).await.unwrap();
    assert_eq!(count, 0, "nothing was created");
    assert_eq!(app.seat_statuses(concert).await[&seats[0]], "HELD", "the hold is given back");
    assert_eq!(app.checkout(&fan.token, &seats).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn checkout_validates_its_body() {
    let app = spawn_app().await;
    let fan = app.signup().await;
    let cases = [
        (json!({"paymentMethod": "CREDIT_CARD"}), "seatIds"),
        (json!({"seatId": 1, "seatIds": [1], "paymentMethod": "CREDIT_CARD"}), "seatId"),
        (json!({"seatId": 1}), "paymentMethod"),
        (json!({"seatId": 1, "paymentMethod": "BITCOIN"}), "paymentMethod"),
        (json!({"seatId": 1, "paymentMethod": "CREDIT_CARD", "amount": -5}), "amount"),
        (json!({"seatIds": [], "paymentMethod": "CREDIT_CARD"}), "seatIds"),
    ];
    for (body, field) in cases {
        let res = app.post("/api/payment", Some(&fan.token), body.clone()).await;
        let err = error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
        assert_eq!(failing_fields(&err), [field], "{body}");
    }
}

#[tokio::test]
async fn duplicate_concurrent_checkouts_create_one_reservation() {
    let app = spawn_app().await;
    let (_, _, seats) = app.concert_on_sale(2).await;
    let fan = app.signup().await;
    app.hold_many(&fan.token, &seats).await;
    let attempts = (0..20).map(|_| app.checkout(&fan.token, &seats));
    let responses = futures::future::join_all(attempts).await;
    let ok = responses.iter().filter(|r| r.status() == StatusCode::OK).count();
    let conflicts = responses.iter().filter(|r| r.status() == StatusCode::CONFLICT).count();
    assert_eq!((ok, conflicts), (1, 19));
    let count: i64 =
        sqlx::query_scalar("select count(*) from reservation").fetch_one(&app.db).await.unwrap();
    assert_eq!(count, 1);
    let payments: i64 =
        sqlx::query_scalar("select count(*) from payments").fetch_one(&app.db).await.unwrap();
    assert_eq!(payments, 1);
}

#[tokio::test]
async fn checkout_rechecks_the_sale_and_the_limit_in_the_database() {
    let app = crate::helpers::spawn_app_with(&[("MAX_SEATS_PER_USER", "2")]).await;
    let (admin, concert, seats) = app.concert_on_sale(3).await;
    let fan = app.signup().await;
    app.hold_many(&fan.token, &seats[..2]).await;
    // Close the sale behind the hold's back: checkout refuses.
    let now = Utc::now();
    let closed = json!({
        "title": "closed", "venue": "v",
        "openTime": (now - chrono::Duration::days(2)).to_rfc3339(),
        "closeTime": (now - chrono::Duration::seconds(1)).to_rfc3339(),
        "concertDate": (now + chrono::Duration::days(1)).to_rfc3339(),
    });
    app.put(&format!("/api/concert/{concert}"), Some(&admin), closed).await;
    error_body(
        app.checkout(&fan.token, &seats[..2]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "SALE_CLOSED",
    )
    .await;
}
