//! The payment webhook: signed, applied once, late and contradictory events handled.

use std::{sync::Arc, time::Duration};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{error_body, event, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_success_confirms_the_reservation_and_sells_the_seats() {
    let app = spawn_app().await;
    let (_, concert, seats) = app.concert_on_sale(3).await;
    let fan = app.signup().await;
    let started = app.start_checkout(&fan.token, &seats[..2]).await;
    let res = app.webhook(&event(&started.transaction, "SUCCESS", started.amount)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["outcome"], "CONFIRMED");
    assert_eq!(body["reservationStatus"], "CONFIRMED");
    assert_eq!(body["paymentStatus"], "SUCCESS");

    assert_eq!(
        app.reservation_status(started.reservation).await,
        ("CONFIRMED".into(), "SUCCESS".into())
    );
    let (paid, ticket): (Option<chrono::DateTime<chrono::Utc>>, Option<String>) = sqlx::query_as(
        "select p.paid_at, r.ticket_code from payments p join reservation r on r.id = p.reservation_id where r.id = $1",
    )
    .bind(started.reservation)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert!(paid.is_some() && ticket.is_some_and(|t| t.starts_with("TK-")));
    assert_eq!(app.outbox_count("booking_confirmed").await, 1, "the confirmation email is owed");

    let statuses = app.seat_statuses(concert).await;
    assert_eq!((statuses[&seats[0]].as_str(), statuses[&seats[1]].as_str()), ("SOLD", "SOLD"));
    let other = app.signup().await;
    error_body(
        app.hold(&other.token, seats[0]).await,
        StatusCode::CONFLICT,
        "IS_ALREADY_RESERVATION",
    )
    .await;
    // The fan sees it.
    let payment: Value = app
        .get(&format!("/api/payment/{}", started.transaction), Some(&fan.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(payment["status"], "SUCCESS");
    assert_eq!(payment["reservationStatus"], "CONFIRMED");
    assert!(payment["paidAt"].is_string());
}

#[tokio::test]
async fn a_failure_fails_the_reservation_and_frees_the_seats() {
    let app = spawn_app().await;
    let (_, concert, seats) = app.concert_on_sale(1).await;
    let (fan, other) = (app.signup().await, app.signup().await);
    let started = app.start_checkout(&fan.token, &seats).await;
    let res = app.webhook(&event(&started.transaction, "FAILED", started.amount)).await;
    assert_eq!(res.json::<Value>().await.unwrap()["outcome"], "FAILED");
    assert_eq!(
        app.reservation_status(started.reservation).await,
        ("FAILED".into(), "FAILED".into())
    );
    assert_eq!(app.outbox_count("payment_failed").await, 1);
    assert_eq!(app.seat_statuses(concert).await[&seats[0]], "AVAILABLE");
    assert_eq!(app.hold(&other.token, seats[0]).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_missing_stale_or_tampered_signatures_are_401() {
    let app = spawn_app().await;
    let (_, _, seats) = app.concert_on_sale(1).await;
    let fan = app.signup().await;
    let started = app.start_checkout(&fan.token, &seats).await;
    let body = event(&started.transaction, "SUCCESS", started.amount);
    let now = chrono::Utc::now().timestamp();

    error_body(
        app.webhook_signed(&body, "not-the-secret", now).await,
        StatusCode::UNAUTHORIZED,
        "INVALID_SIGNATURE",
    )
    .await;
    // Replayed from ten minutes ago.
    let secret = ticketing::config::dev_defaults::PAYMENT_WEBHOOK_SECRETS;
    error_body(
        app.webhook_signed(&body, secret, now - 600).await,
        StatusCode::UNAUTHORIZED,
        "INVALID_SIGNATURE",
    )
    .await;
    // Signed, then the amount changed on the way.
    let raw = body.to_string();
    let signature = ticketing::domain::signature::sign(secret.as_bytes(), now, raw.as_bytes());
    let tampered = raw.replace(&started.amount.to_string(), "1");
    let res = app
        .client
        .post(app.url("/api/payment/webhook"))
        .header("content-type", "application/json")
        .header("x-payment-signature", signature)
        .body(tampered)
        .send()
        .await
        .unwrap();
    error_body(res, StatusCode::UNAUTHORIZED, "INVALID_SIGNATURE").await;
    let res = app.post("/api/payment/webhook", None, body.clone()).await;
    error_body(res, StatusCode::UNAUTHORIZED, "INVALID_SIGNATURE").await;

    assert_eq!(
        app.reservation_status(started.reservation).await,
        ("IN_PROGRESS".into(), "IN_PROGRESS".into())
    );
    let events: i64 =
        sqlx::query_scalar("select count(*) from webhook_events").fetch_one(&app.db).await.unwrap();
    assert_eq!(events, 0, "nothing unsigned is recorded");
}

#[tokio::test]
async fn every_secret_of_a_rotation_is_accepted() {
    let app = spawn_app_with(&[("PAYMENT_WEBHOOK_SECRETS", "whsec_old, whsec_new")]).await;
    let (_, _, seats) = app.concert_on_sale(2).await;
    let fan = app.signup().await;
    let now = chrono::Utc::now().timestamp();
    let first = app.start_checkout(&fan.token, &seats[..1]).await;
    let res = app
        .webhook_signed(&event(&first.transaction, "SUCCESS", first.amount), "whsec_old", now)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let second = app.start_checkout(&fan.token, &seats[1..]).await;
    let res = app
        .webhook_signed(&event(&second.transaction, "SUCCESS", second.amount), "whsec_new", now)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let dev = ticketing::config::dev_defaults::PAYMENT_WEBHOOK_SECRETS;
    let res =
        app.webhook_signed(&event(&second.transaction, "SUCCESS", second.amount), dev, now).await;
    error_body(res, StatusCode::UNAUTHORIZED, "INVALID_SIGNATURE").await;
}

#[tokio::test]
async fn an_unknown_transaction_is_404_and_a_malformed_body_400() {
    let app = spawn_app().await;
    let res = app.webhook(&event("tx_doesnotexist", "SUCCESS", 1000)).await;
    error_body(res, StatusCode::NOT_FOUND, "PAYMENT_NOT_FOUND").await;
    let res = app.webhook(&json!({"eventId": "e", "status": "MAYBE"})).await;
    error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
}

#[tokio::test]
async fn an_amount_or_currency_mismatch_flags_the_payment_and_never_confirms() {
    let app = spawn_app().await;
    let (_, _, seats) = app.concert_on_sale(1).await;
    let fan = app.signup().await;
    let started = app.start_checkout(&fan.token, &seats).await;
    let cheap = event(&started.transaction, "SUCCESS", started.amount - 1);
    error_body(app.webhook(&cheap).await, StatusCode::UNPROCESSABLE_ENTITY, "AMOUNT_MISMATCH")
        .await;
    // The same event again: the same answer.
    error_body(app.webhook(&cheap).await, StatusCode::UNPROCESSABLE_ENTITY, "AMOUNT_MISMATCH")
        .await;
    let mut dollars = event(&started.transaction, "SUCCESS", started.amount);
    dollars["currency"] = json!("USD");
    error_body(app.webhook(&dollars).await, StatusCode::UNPROCESSABLE_ENTITY, "AMOUNT_MISMATCH")
        .await;

    assert_eq!(
        app.reservation_status(started.reservation).await,
        ("IN_PROGRESS".into(), "IN_PROGRESS".into())
    );
    let flagged: Option<String> =
        sqlx::query_scalar("select flagged_reason from payments where transaction_id = $1")
            .bind(&started.transaction)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(flagged.is_some_and(|r| r.contains("USD")), "flagged with the reason");
    assert_eq!(app.outbox_count("booking_confirmed").await, 0);
    // The right event still confirms afterwards.
    let res = app.webhook(&event(&started.transaction, "SUCCESS", started.amount)).await;
    assert_eq!(res.json::<Value>().await.unwrap()["outcome"], "CONFIRMED");
}

#[tokio::test]
async fn a_redelivery_returns_the_first_answer_and_changes_nothing() {
    let app = spawn_app().await;
    let (_, _, seats) = app.concert_on_sale(1).await;
    let fan = app.signup().await;
    let started = app.start_checkout(&fan.token, &seats).await;
    let success = event(&started.transaction, "SUCCESS", started.amount);
    let first: Value = app.webhook(&success).await.json().await.unwrap();
    let res = app.webhook(&success).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap(), first);
    let events: i64 =
        sqlx::query_scalar("select count(*) from webhook_events").fetch_one(&app.db).await.unwrap();
    assert_eq!(events, 1);
    assert_eq!(app.outbox_count("booking_confirmed").await, 1);
}

#[tokio::test]
async fn a_hundred_concurrent_deliveries_confirm_once() {
    let app = Arc::new(spawn_app().await);
    let (_, _, seats) = app.concert_on_sale(1).await;
    let fan = app.signup().await;
    let started = app.start_checkout(&fan.token, &seats).await;
    let success = event(&started.transaction, "SUCCESS", started.amount);
    let deliveries = (0..100).map(|_| {
        let (app, success) = (app.clone(), success.clone());
        tokio::spawn(async move {
            let res = app.webhook(&success).await;
            (res.status(), res.json::<Value>().await.unwrap())
        })
    });
    let results: Vec<(StatusCode, Value)> =
        futures::future::join_all(deliveries).await.into_iter().map(Result::unwrap).collect();
    assert!(results.iter().all(|(s, _)| *s == StatusCode::OK), "100 × 200");
    assert!(results.iter().all(|(_, b)| b["outcome"] == "CONFIRMED"), "the same answer for all");
    assert_eq!(app.outbox_count("booking_confirmed").await, 1, "one confirmation email");
    let events: i64 =
        sqlx::query_scalar("select count(*) from webhook_events").fetch_one(&app.db).await.unwrap();
    assert_eq!(events, 1);
    let confirmed: i64 =
        sqlx::query_scalar("select count(*) from reservation where status = 'CONFIRMED'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(confirmed, 1);
}

#[tokio::test]
async fn a_success_after_expiry_is_refunded_never_confirmed() {
    let app =
        spawn_app_with(&[("RESERVATION_TTL_SECS", "1"), ("EXPIRY_SWEEP_INTERVAL_MS", "3600000")])
            .await;
    let (_, concert, seats) = app.concert_on_sale(2).await;
    let fan = app.signup().await;
    // One expired by the sweeper, one whose time is up but not yet swept.
    let swept = app.start_checkout(&fan.token, &seats[..1]).await;
    let unswept = app.start_checkout(&fan.token, &seats[1..]).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    sqlx::query("update reservation set expire_time = now() + interval '1 hour' where id = $1")
        .bind(unswept.reservation)
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(ticketing::workers::expiry::execute_once(&app.state).await.unwrap(), 1);
    sqlx::query("update reservation set expire_time = now() - interval '1 second' where id = $1")
        .bind(unswept.reservation)
        .execute(&app.db)
        .await
        .unwrap();

    for started in [&swept, &unswept] {
        let res = app.webhook(&event(&started.transaction, "SUCCESS", started.amount)).await;
        assert_eq!(res.status(), StatusCode::OK);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["outcome"], "LATE_REFUNDED");
        assert_eq!(
            app.reservation_status(started.reservation).await,
            ("EXPIRED".into(), "REFUNDED".into())
        );
        // Visible to the fan.
        let payment: Value = app
            .get(&format!("/api/payment/{}", started.transaction), Some(&fan.token))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(payment["status"], "REFUNDED");
        assert_eq!(payment["refundAmount"], started.amount);
    }
    assert_eq!(app.outbox_count("late_payment_refunded").await, 2);
    assert_eq!(app.outbox_count("booking_confirmed").await, 0);
    let statuses = app.seat_statuses(concert).await;
    assert_eq!(
        (statuses[&seats[0]].as_str(), statuses[&seats[1]].as_str()),
        ("AVAILABLE", "AVAILABLE")
    );

    // The refund is requested from the provider until it confirms. Another runner (the task
    // started by the webhook, or the worker) may hold the rows for a moment: skip-locked
    // rounds leave them to it, so wait for the confirmations.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        ticketing::workers::refunds::execute_once(&app.state).await.unwrap();
        let pending: i64 = sqlx::query_scalar(
            "select count(*) from payments where status = 'REFUNDED' and refund_confirmed_at is null",
        )
        .fetch_one(&app.db)
        .await
        .unwrap();
        if pending == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{pending} refunds still unconfirmed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refunded = app.state.simulator.as_ref().unwrap().refunds();
    assert!(refunded.contains(&swept.transaction) && refunded.contains(&unswept.transaction));
}

#[tokio::test]
async fn contradictory_events_after_settlement_are_recorded_and_change_nothing() {
    let app = spawn_app().await;
    let (_, _, seats) = app.concert_on_sale(2).await;
    let fan = app.signup().await;
    let paid = app.start_checkout(&fan.token, &seats[..1]).await;
    app.webhook(&event(&paid.transaction, "SUCCESS", paid.amount)).await;
    for status in ["FAILED", "SUCCESS"] {
        let res = app.webhook(&event(&paid.transaction, status, paid.amount)).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.json::<Value>().await.unwrap()["outcome"], "IGNORED");
    }
    assert_eq!(
        app.reservation_status(paid.reservation).await,
        ("CONFIRMED".into(), "SUCCESS".into())
    );
    assert_eq!(app.outbox_count("booking_confirmed").await, 1);
    let events: i64 =
        sqlx::query_scalar("select count(*) from webhook_events where transaction_id = $1")
            .bind(&paid.transaction)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(events, 3, "every event is recorded");

    // A failed reservation is never revived: money arriving later is refunded.
    let failed = app.start_checkout(&fan.token, &seats[1..]).await;
    app.webhook(&event(&failed.transaction, "FAILED", failed.amount)).await;
    let res = app.webhook(&event(&failed.transaction, "SUCCESS", failed.amount)).await;
    assert_eq!(res.json::<Value>().await.unwrap()["outcome"], "LATE_REFUNDED");
    assert_eq!(
        app.reservation_status(failed.reservation).await,
        ("FAILED".into(), "REFUNDED".into())
    );
}

#[tokio::test]
async fn payment_status_is_for_its_owner_and_admins() {
    let app = spawn_app().await;
    let (admin, _, seats) = app.concert_on_sale(1).await;
    let (fan, other) = (app.signup().await, app.signup().await);
    let started = app.start_checkout(&fan.token, &seats).await;
    let path = format!("/api/payment/{}", started.transaction);
    let mine: Value = app.get(&path, Some(&fan.token)).await.json().await.unwrap();
    assert_eq!(mine["status"], "IN_PROGRESS");
    assert_eq!(mine["amount"], started.amount);
    assert_eq!(mine["method"], "CREDIT_CARD");
    assert!(
        mine["checkoutUrl"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/simulator/pg/checkout/{}", started.transaction))
    );
    error_body(
        app.get(&path, Some(&other.token)).await,
        StatusCode::NOT_FOUND,
        "PAYMENT_NOT_FOUND",
    )
    .await;
    assert_eq!(app.get(&path, Some(&admin)).await.status(), StatusCode::OK);
    error_body(app.get(&path, None).await, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
}

#[tokio::test]
async fn a_hostile_webhook_is_refused_before_it_costs_anything() {
    let app = spawn_app().await;
    let send = |body: String, signature: String| {
        app.client
            .post(app.url("/api/payment/webhook"))
            .header("content-type", "application/json")
            .header("x-payment-signature", signature)
            .body(body)
            .send()
    };
    let now = chrono::Utc::now().timestamp();
    // Thousands of candidates: refused as malformed, before one MAC of the body is computed.
    let flood = format!("t={now}{}", format!(",v1={}", "ab".repeat(32)).repeat(3_000));
    let res = send(event("tx_unknown", "SUCCESS", 1).to_string(), flood).await.unwrap();
    error_body(res, StatusCode::UNAUTHORIZED, "INVALID_SIGNATURE").await;
    // A body far beyond any event: 413, without reading it all.
    let huge = format!(r#"{{"eventId": "{}"}}"#, "x".repeat(1_900_000));
    let res = send(huge, format!("t={now},v1=00")).await.unwrap();
    error_body(res, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE").await;
    // A timestamp at the end of i64 is stale, not an overflow.
    let res = send("{}".into(), format!("t={},v1=00", i64::MIN)).await.unwrap();
    error_body(res, StatusCode::UNAUTHORIZED, "INVALID_SIGNATURE").await;
    // A genuine event still goes through.
    let (_, _, seats) = app.concert_on_sale(1).await;
    let fan = app.signup().await;
    let started = app.start_checkout(&fan.token, &seats).await;
    let res = app.webhook(&event(&started.transaction, "SUCCESS", started.amount)).await;
    assert_eq!(res.status(), StatusCode::OK);
}
