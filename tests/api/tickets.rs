//! E-tickets (issue 17): issued with the confirmation, verifiable offline with the concert's
//! public key alone, revoked by cancellation, re-issued with a fresh secret when a seat sells
//! again, and mailed as inline QR codes.

use std::collections::HashSet;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::VerifyingKey;
use reqwest::StatusCode;
use serde_json::{Value, json};
use ticketing::domain::{sealed, ticket_secret};

use crate::{
    helpers::{TestApp, error_body, event, spawn_app, spawn_app_with},
    mail::SmtpSink,
};

/// Buys `seats` as `token` through checkout and a SUCCESS webhook; returns the reservation.
async fn buy(app: &TestApp, token: &str, seats: &[i64]) -> i64 {
    let started = app.start_checkout(token, seats).await;
    let res = app.webhook(&event(&started.transaction, "SUCCESS", started.amount)).await;
    assert_eq!(res.status(), StatusCode::OK);
    started.reservation
}

async fn my_tickets(app: &TestApp, token: &str) -> Vec<Value> {
    let res = app.get("/api/tickets/my", Some(token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json::<Value>().await.unwrap().as_array().unwrap().clone()
}

/// The concert's public keys, fetched without signing in, as a scanner would.
async fn public_keys(app: &TestApp, concert: i64) -> Vec<(String, VerifyingKey)> {
    let res = app.get(&format!("/api/concert/{concert}/checkin/keys"), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["concertId"], concert);
    body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            assert_eq!(k["algorithm"], "Ed25519");
            let bytes = URL_SAFE_NO_PAD.decode(k["publicKey"].as_str().unwrap()).unwrap();
            let key = VerifyingKey::from_bytes(&bytes.try_into().unwrap()).unwrap();
            assert_eq!(ticket_secret::key_id(&key), k["keyId"].as_str().unwrap());
            (k["keyId"].as_str().unwrap().to_owned(), key)
        })
        .collect()
}

#[tokio::test]
async fn a_confirmed_booking_has_one_ticket_per_seat_that_verifies_offline_with_the_public_key() {
    let app = spawn_app().await;
    let (admin, concert, seats) = app.concert_on_sale(3).await;
    let fan = app.signup().await;
    let reservation = buy(&app, &fan.token, &seats[..2]).await;

    let tickets = my_tickets(&app, &fan.token).await;
    assert_eq!(tickets.len(), 2, "one ticket per seat: {tickets:#?}");
    let keys = public_keys(&app, concert).await;
    assert_eq!(keys.len(), 1, "one signing key for the concert");
    let (key_id, key) = &keys[0];
    let mut secrets = HashSet::new();
    for t in &tickets {
        assert_eq!(t["status"], "VALID");
        assert_eq!(t["reservationId"], reservation);
        assert_eq!(t["concertId"], concert);
        assert_eq!(t["keyId"], key_id.as_str());
        let secret = t["secret"].as_str().unwrap();
        assert_eq!(secret.len(), 140);
        assert!(secrets.insert(secret.to_owned()), "secrets differ");
        // Offline: the public key alone says who the ticket is for.
        let claims = ticket_secret::verify(secret, key).expect("signed by the concert's key");
        assert_eq!(claims.ticket_id, t["id"].as_i64().unwrap());
        assert_eq!(claims.concert_id, concert);
        assert_eq!(claims.seat_id, t["seatId"].as_i64().unwrap());
        assert!(seats[..2].contains(&claims.seat_id));
        // A changed character fails verification.
        let mut forged = secret.as_bytes().to_vec();
        forged[20] = if forged[20] == b'A' { b'B' } else { b'A' };
        assert!(ticket_secret::verify(std::str::from_utf8(&forged).unwrap(), key).is_err());
    }

    // The owner and admins see a ticket; anyone else is told it does not exist.
    let id = tickets[0]["id"].as_i64().unwrap();
    let path = format!("/api/tickets/{id}");
    let own: Value = app.get(&path, Some(&fan.token)).await.json().await.unwrap();
    assert_eq!(own["secret"], tickets[0]["secret"]);
    assert_eq!(own["section"], tickets[0]["section"]);
    assert_eq!(app.get(&path, Some(&admin)).await.status(), StatusCode::OK);
    let other = app.signup().await;
    error_body(app.get(&path, Some(&other.token)).await, StatusCode::NOT_FOUND, "TICKET_NOT_FOUND")
        .await;
    assert!(my_tickets(&app, &other.token).await.is_empty());
    error_body(
        app.get("/api/tickets/987654321", Some(&fan.token)).await,
        StatusCode::NOT_FOUND,
        "TICKET_NOT_FOUND",
    )
    .await;

    // The QR code, as SVG, never cached by anyone but the fan's browser.
    let res = app.get(&format!("/api/tickets/{id}/qr.svg"), Some(&fan.token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
    assert_eq!(res.headers()["cache-control"], "private, no-store");
    let svg = res.text().await.unwrap();
    assert!(svg.contains("<svg") && svg.contains("#000000"), "{svg}");
    let res = app.get(&format!("/api/tickets/{id}/qr.svg"), Some(&other.token)).await;
    error_body(res, StatusCode::NOT_FOUND, "TICKET_NOT_FOUND").await;

    // Paging: `before` the newest id leaves the older one.
    let newest = tickets[0]["id"].as_i64().unwrap();
    let older: Value = app
        .get(&format!("/api/tickets/my?before={newest}"), Some(&fan.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(older.as_array().unwrap().len(), 1);
    assert_eq!(older[0]["id"], tickets[1]["id"]);
    for bad in ["abc", "0", "-3"] {
        let res = app.get(&format!("/api/tickets/my?before={bad}"), Some(&fan.token)).await;
        let body = error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
        assert_eq!(body["fields"][0]["field"], "before");
    }
}

#[tokio::test]
async fn the_signing_key_is_stored_sealed_and_opens_only_with_the_configured_key() {
    let app = spawn_app().await;
    let (_, concert, seats) = app.concert_on_sale(1).await;
    let fan = app.signup().await;
    buy(&app, &fan.token, &seats).await;
    let (key_id, public, sealed_seed): (String, Vec<u8>, Vec<u8>) = sqlx::query_as(
        "select key_id, public_key, sealed_seed from concert_signing_keys where concert_id = $1",
    )
    .bind(concert)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(sealed_seed.len(), 12 + 32 + 16, "nonce, sealed seed, tag");
    let kek: [u8; 32] = hex::decode(ticketing::config::dev_defaults::TICKET_KEY_ENCRYPTION_KEY)
        .unwrap()
        .try_into()
        .unwrap();
    let context = format!("ticketing concert signing key {key_id}");
    let seed = sealed::open(&kek, context.as_bytes(), &sealed_seed).expect("opens with the KEK");
    let key = ed25519_dalek::SigningKey::from_bytes(&seed.try_into().unwrap());
    assert_eq!(key.verifying_key().as_bytes().as_slice(), public.as_slice());
    assert!(sealed::open(&[9u8; 32], context.as_bytes(), &sealed_seed).is_none());
    assert!(!sealed_seed.windows(32).any(|w| w == key.as_bytes()), "never stored in clear");
}

#[tokio::test]
async fn concurrent_first_confirmations_of_a_concert_share_one_key() {
    let app = spawn_app().await;
    let (_, concert, seats) = app.concert_on_sale(12).await;
    let mut fans = Vec::new();
    for _ in &seats {
        fans.push(app.signup().await);
    }
    let mut started = Vec::new();
    for (fan, seat) in fans.iter().zip(&seats) {
        started.push(app.start_checkout(&fan.token, &[*seat]).await);
    }
    let app = &app;
    let answers = futures::future::join_all(started.iter().map(|s| {
        let body = event(&s.transaction, "SUCCESS", s.amount);
        async move { app.webhook(&body).await.status() }
    }))
    .await;
    assert!(answers.iter().all(|s| *s == StatusCode::OK), "{answers:?}");
    let keys = public_keys(app, concert).await;
    assert_eq!(keys.len(), 1, "one key, whichever confirmation came first");
    for fan in &fans {
        let tickets = my_tickets(app, &fan.token).await;
        assert_eq!(tickets.len(), 1);
        ticket_secret::verify(tickets[0]["secret"].as_str().unwrap(), &keys[0].1).unwrap();
    }
}

#[tokio::test]
async fn a_cancelled_booking_revokes_its_tickets_and_a_seat_sold_again_gets_a_fresh_secret() {
    let app = spawn_app().await;
    let (admin, concert, seats) = app.concert_on_sale(2).await;
    let fan = app.signup().await;
    let reservation = buy(&app, &fan.token, &seats).await;
    let before = my_tickets(&app, &fan.token).await;
    assert_eq!(before.len(), 2);

    let revoked_path = format!("/api/concert/{concert}/checkin/revoked");
    let empty: Value = app.get(&revoked_path, Some(&admin)).await.json().await.unwrap();
    assert_eq!(empty, json!({"revoked": [], "next": 0, "more": false}));

    let res = app
        .post(
            "/api/reservations/cancel",
            Some(&fan.token),
            json!({"reservationId": reservation, "cancelReason": "일정 변경"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    let after = my_tickets(&app, &fan.token).await;
    assert!(after.iter().all(|t| t["status"] == "REVOKED"), "{after:#?}");
    assert!(after.iter().all(|t| t["revokedAt"].is_string()));

    // Scanners learn of both, in order, and then of nothing new.
    let page: Value = app.get(&revoked_path, Some(&admin)).await.json().await.unwrap();
    let listed: HashSet<&str> =
        page["revoked"].as_array().unwrap().iter().map(|r| r["secret"].as_str().unwrap()).collect();
    let issued: HashSet<&str> = before.iter().map(|t| t["secret"].as_str().unwrap()).collect();
    assert_eq!(listed, issued);
    assert_eq!(page["more"], false);
    let next = page["next"].as_i64().unwrap();
    assert!(next > 0);
    let later: Value =
        app.get(&format!("{revoked_path}?since={next}"), Some(&admin)).await.json().await.unwrap();
    assert_eq!(later["revoked"], json!([]));
    assert_eq!(later["next"], next);
    let res = app.get(&format!("{revoked_path}?since=-1"), Some(&admin)).await;
    error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;

    // The seat sells again: a new ticket, a new secret; the old one stays revoked.
    let buyer = app.signup().await;
    buy(&app, &buyer.token, &seats[..1]).await;
    let fresh = my_tickets(&app, &buyer.token).await;
    assert_eq!(fresh.len(), 1);
    assert_eq!(fresh[0]["status"], "VALID");
    assert_eq!(fresh[0]["seatId"], seats[0]);
    let old = before.iter().find(|t| t["seatId"] == seats[0]).unwrap();
    assert_ne!(fresh[0]["secret"], old["secret"]);
    assert_ne!(fresh[0]["id"], old["id"]);
    let keys = public_keys(&app, concert).await;
    ticket_secret::verify(fresh[0]["secret"].as_str().unwrap(), &keys[0].1).unwrap();
    let page: Value =
        app.get(&format!("{revoked_path}?since={next}"), Some(&admin)).await.json().await.unwrap();
    assert_eq!(page["revoked"], json!([]), "the fresh ticket is not revoked");
    let unknown = app.get("/api/concert/987654321/checkin/revoked", Some(&admin)).await;
    error_body(unknown, StatusCode::NOT_FOUND, "CONCERT_NOT_FOUND").await;
    let unknown = app.get("/api/concert/987654321/checkin/keys", None).await;
    error_body(unknown, StatusCode::NOT_FOUND, "CONCERT_NOT_FOUND").await;
}

#[tokio::test]
async fn the_confirmation_email_carries_each_tickets_qr_code_inline_and_its_code_in_text() {
    let sink = SmtpSink::start().await;
    let app = spawn_app_with(&[("SMTP_URL", &sink.url())]).await;
    let (_, _, seats) = app.concert_on_sale(2).await;
    let fan = app.signup().await;
    buy(&app, &fan.token, &seats).await;
    let tickets = my_tickets(&app, &fan.token).await;
    let found =
        sink.wait_for(1, |m| m.contains("Subject: [ConcertMania] 예매가 확정되었습니다")).await;
    let message = &found[0];
    assert!(message.contains("multipart/related"), "{message}");
    for t in &tickets {
        let id = t["id"].as_i64().unwrap();
        assert!(message.contains(&format!("Content-ID: <ticket-{id}>")), "{message}");
        assert!(message.contains(&format!("cid:ticket-{id}")), "the HTML shows it");
        assert!(message.contains(t["secret"].as_str().unwrap()), "the code in text");
    }
    assert_eq!(message.matches("Content-Type: image/png").count(), 2, "{message}");
}
