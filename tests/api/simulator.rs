//! The payment-provider simulator drives the whole flow over real HTTP.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{Router, body::Bytes, http::HeaderMap, routing::post};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_with};

/// The path of an absolute URL.
fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    &rest[rest.find('/').unwrap_or(rest.len())..]
}

#[tokio::test]
async fn select_checkout_approve_confirms_with_no_hand_made_webhook() {
    let app = spawn_app().await;
    let (_, concert, seats) = app.concert_on_sale(2).await;
    let fan = app.signup().await;
    assert_eq!(app.hold_many(&fan.token, &seats).await.status(), StatusCode::OK);
    let checkout: Value = app.checkout(&fan.token, &seats).await.json().await.unwrap();
    assert_eq!(checkout["pgRequestSuccess"], true);
    let page_path = path_of(checkout["checkoutUrl"].as_str().unwrap()).to_owned();

    let page = app.get(&page_path, None).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains(checkout["transactionId"].as_str().unwrap()) && html.contains("Approve"));
    let back = format!(r#"href="/checkout/{}""#, checkout["transactionId"].as_str().unwrap());
    assert!(html.contains(&back), "the page leads back to the shop's checkout page");

    let res = app.request(reqwest::Method::POST, &format!("{page_path}/approve"), None, None).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let reservation = checkout["reservationId"].as_i64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.reservation_status(reservation).await.0 != "CONFIRMED" {
        assert!(Instant::now() < deadline, "confirmed through the simulator's webhook");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.reservation_status(reservation).await.1, "SUCCESS");
    assert_eq!(app.seat_statuses(concert).await[&seats[0]], "SOLD");
}

#[tokio::test]
async fn decline_fails_the_reservation() {
    let app = spawn_app().await;
    let (_, concert, seats) = app.concert_on_sale(1).await;
    let fan = app.signup().await;
    let started = app.start_checkout(&fan.token, &seats).await;
    let path = format!("/simulator/pg/checkout/{}/decline", started.transaction);
    assert_eq!(
        app.request(reqwest::Method::POST, &path, None, None).await.status(),
        StatusCode::ACCEPTED
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.reservation_status(started.reservation).await.0 != "FAILED" {
        assert!(Instant::now() < deadline, "failed through the simulator's webhook");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.seat_statuses(concert).await[&seats[0]], "AVAILABLE");
}

#[tokio::test]
async fn the_simulator_retries_with_backoff_until_the_service_answers_2xx() {
    // A stand-in for the service's webhook that refuses twice, then accepts.
    let seen: Arc<Mutex<Vec<(Instant, String, Bytes)>>> = Arc::default();
    let recorder = seen.clone();
    let hook = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let recorder = recorder.clone();
            async move {
                let signature = headers["x-payment-signature"].to_str().unwrap().to_owned();
                let mut seen = recorder.lock().unwrap();
                seen.push((Instant::now(), signature, body));
                if seen.len() < 3 { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, hook).await.unwrap() });

    let app = spawn_app_with(&[("PAYMENT_SIMULATOR_WEBHOOK_URL", &url)]).await;
    let (_, _, seats) = app.concert_on_sale(1).await;
    let fan = app.signup().await;
    let started = app.start_checkout(&fan.token, &seats).await;
    let path = format!("/simulator/pg/checkout/{}/approve", started.transaction);
    app.request(reqwest::Method::POST, &path, None, None).await;

    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.lock().unwrap().len() < 3 {
        assert!(Instant::now() < deadline, "three attempts");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3, "no attempt after the first 2xx");
    let secret = ticketing::config::dev_defaults::PAYMENT_WEBHOOK_SECRETS.as_bytes();
    let now = chrono::Utc::now().timestamp();
    for (_, signature, body) in seen.iter() {
        ticketing::domain::signature::verify(Some(signature), body, &[secret], now)
            .expect("each attempt is signed");
        let event: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(event["transactionId"], started.transaction.as_str());
        assert_eq!(event["status"], "SUCCESS");
        assert_eq!(event["amount"], started.amount);
    }
    let first: Value = serde_json::from_slice(&seen[0].2).unwrap();
    let last: Value = serde_json::from_slice(&seen[2].2).unwrap();
    assert_eq!(first["eventId"], last["eventId"], "a retry is the same event");
    let gaps: Vec<Duration> = seen.windows(2).map(|w| w[1].0 - w[0].0).collect();
    assert!(gaps[1] > gaps[0], "the wait grows: {gaps:?}");
}

#[tokio::test]
async fn without_the_simulator_there_is_no_checkout_page() {
    let app = spawn_app_with(&[("PAYMENT_SIMULATOR", "off")]).await;
    let (_, _, seats) = app.concert_on_sale(1).await;
    let fan = app.signup().await;
    app.hold(&fan.token, seats[0]).await;
    let checkout: Value = app.checkout(&fan.token, &seats).await.json().await.unwrap();
    assert_eq!(checkout["pgRequestSuccess"], false, "no provider configured");
    assert!(checkout["checkoutUrl"].is_null());
    assert_eq!(app.get("/simulator/pg/refunds", None).await.status(), StatusCode::NOT_FOUND);
}
