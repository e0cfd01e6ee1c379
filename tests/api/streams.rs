//! Waiting-room streams under hostile traffic (issue 15, item 6): caps per user and per
//! instance, and short-lived stream tickets instead of the access token in the URL.

use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, concert_body, error_body, spawn_app_with};

/// A concert on sale with the waiting room on.
async fn queued_concert(app: &TestApp, admin: &str) -> i64 {
    let mut body = concert_body("streams");
    body["queueEnabled"] = json!(true);
    let res = app.post("/api/concert", Some(admin), body).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

async fn join(app: &TestApp, token: &str, concert: i64) {
    let res = app.post("/api/queue", Some(token), json!({"concertId": concert})).await;
    assert_eq!(res.status(), StatusCode::OK);
}

fn ticket_path(concert: i64) -> String {
    format!("/api/queue/{concert}/stream-ticket")
}

/// A stream ticket for the fan and the concert.
async fn ticket(app: &TestApp, token: &str, concert: i64) -> String {
    let res = app.post(&ticket_path(concert), Some(token), json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json::<Value>().await.unwrap()["ticket"].as_str().unwrap().to_owned()
}

/// `GET …/stream` as `EventSource` sends it: no headers, the query as given.
async fn open(app: &TestApp, concert: i64, query: &str) -> Response {
    app.get(&format!("/api/queue/{concert}/stream{query}"), None).await
}

/// `GET …/stream` with the access token in the `Authorization` header.
async fn open_with_header(app: &TestApp, concert: i64, token: &str) -> Response {
    app.get(&format!("/api/queue/{concert}/stream"), Some(token)).await
}

/// The first event of an open stream: its name and data.
async fn first_event(res: Response) -> (String, Value) {
    assert_eq!(res.status(), StatusCode::OK);
    let mut bytes = res.bytes_stream();
    let mut buffer = String::new();
    loop {
        let chunk = tokio::time::timeout(Duration::from_secs(10), bytes.next())
            .await
            .expect("an event within 10 s")
            .expect("the stream is open")
            .unwrap();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(end) = buffer.find("\n\n") {
            let block = &buffer[..end];
            let field = |name: &str| {
                block.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_owned())
            };
            if let (Some(name), Some(data)) = (field("event:"), field("data:")) {
                return (name, serde_json::from_str(&data).unwrap());
            }
            buffer.drain(..end + 2);
        }
    }
}

#[tokio::test]
async fn a_fan_gets_at_most_the_per_user_cap_of_streams_and_a_closed_one_frees_a_place() {
    // Nobody is admitted, so every stream stays open.
    let app =
        spawn_app_with(&[("QUEUE_STREAM_MAX_PER_USER", "2"), ("QUEUE_MAX_ACTIVE", "0")]).await;
    let admin = app.admin_token().await;
    let concert = queued_concert(&app, &admin).await;
    let fans = app.bulk_users(2).await;
    let (fan, other) = (&fans[0].1, &fans[1].1);
    join(&app, fan, concert).await;
    join(&app, other, concert).await;

    let first = open_with_header(&app, concert, fan).await;
    assert_eq!(first.status(), StatusCode::OK);
    let t = ticket(&app, fan, concert).await;
    let second = open(&app, concert, &format!("?ticket={t}")).await;
    assert_eq!(second.status(), StatusCode::OK);

    // The cap counts the fan's streams whatever proves who the fan is.
    for res in [
        open_with_header(&app, concert, fan).await,
        open(&app, concert, &format!("?ticket={t}")).await,
    ] {
        let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(retry > 0);
        error_body(res, StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_STREAMS").await;
    }
    // Another fan is not affected.
    let others = open_with_header(&app, concert, other).await;
    assert_eq!(others.status(), StatusCode::OK);

    // A closed stream frees its place.
    drop(first);
    let reopened = answer_when(
        "a place to free up",
        async || open_with_header(&app, concert, fan).await,
        |res| res.status() == StatusCode::OK,
    )
    .await;
    let (name, data) = first_event(reopened).await;
    assert_eq!(name, "queue-update");
    assert_eq!(data["userId"], fans[0].0);
    drop(second);
}

#[tokio::test]
async fn past_the_instance_cap_a_stream_gets_503_with_retry_after() {
    let app = spawn_app_with(&[("QUEUE_STREAM_MAX", "1"), ("QUEUE_MAX_ACTIVE", "0")]).await;
    let admin = app.admin_token().await;
    let concert = queued_concert(&app, &admin).await;
    let fans = app.bulk_users(2).await;
    for (_, token) in &fans {
        join(&app, token, concert).await;
    }
    let only = open_with_header(&app, concert, &fans[0].1).await;
    assert_eq!(only.status(), StatusCode::OK);
    let res = open_with_header(&app, concert, &fans[1].1).await;
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0);
    error_body(res, StatusCode::SERVICE_UNAVAILABLE, "STREAM_CAPACITY_REACHED").await;
}

#[tokio::test]
async fn a_ticket_opens_the_stream_of_its_own_fan_and_concert_only() {
    let app = spawn_app_with(&[("QUEUE_MAX_ACTIVE", "0")]).await;
    let admin = app.admin_token().await;
    let (a, b) = (queued_concert(&app, &admin).await, queued_concert(&app, &admin).await);
    let fans = app.bulk_users(2).await;
    let ((x, x_token), (y, y_token)) = (&fans[0], &fans[1]);
    for (_, token) in &fans {
        join(&app, token, a).await;
    }
    join(&app, x_token, b).await;

    // Only for a signed-in fan who could open the stream.
    let res = app.post(&ticket_path(a), None, json!({})).await;
    error_body(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    let res = app.post(&ticket_path(b), Some(y_token), json!({})).await;
    error_body(res, StatusCode::NOT_FOUND, "QUEUE_NOT_JOINED").await;

    let res = app.post(&ticket_path(a), Some(x_token), json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["expiresIn"], 60);
    let x_ticket = body["ticket"].as_str().unwrap().to_owned();

    // Each ticket's stream is its own fan's place.
    let (name, data) = first_event(open(&app, a, &format!("?ticket={x_ticket}")).await).await;
    assert_eq!(
        (name.as_str(), &data["userId"], &data["position"]),
        ("queue-update", &json!(x), &json!(1))
    );
    let y_ticket = ticket(&app, y_token, a).await;
    let (_, data) = first_event(open(&app, a, &format!("?ticket={y_ticket}")).await).await;
    assert_eq!((&data["userId"], &data["position"]), (&json!(y), &json!(2)));

    // Good for one concert: not for another the fan is also waiting for.
    let res = open(&app, b, &format!("?ticket={x_ticket}")).await;
    error_body(res, StatusCode::UNAUTHORIZED, "INVALID_STREAM_TICKET").await;
    // Forged: another user's id in the claims, or a broken signature.
    let mut forged = x_ticket.clone();
    forged.pop();
    let res = open(&app, a, &format!("?ticket={forged}")).await;
    error_body(res, StatusCode::UNAUTHORIZED, "INVALID_STREAM_TICKET").await;
    let res = open(&app, a, &format!("?ticket={}", with_user(&x_ticket, *y))).await;
    error_body(res, StatusCode::UNAUTHORIZED, "INVALID_STREAM_TICKET").await;

    // An access token is not a ticket.
    let res = open(&app, a, &format!("?ticket={x_token}")).await;
    error_body(res, StatusCode::UNAUTHORIZED, "INVALID_STREAM_TICKET").await;
}

/// The ticket with another user in its claims (the signature no longer fits them).
fn with_user(ticket: &str, user: i64) -> String {
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = ticket.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&engine.decode(parts[1]).unwrap()).unwrap();
    assert!(claims["sub"].is_string(), "{claims}");
    claims["sub"] = json!(user.to_string());
    format!("{}.{}.{}", parts[0], engine.encode(claims.to_string()), parts[2])
}

/// Repeats `request` (up to 15 s) until its answer satisfies `done`; returns that answer.
async fn answer_when(
    what: &str,
    request: impl AsyncFn() -> Response,
    done: impl Fn(&Response) -> bool,
) -> Response {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let res = request().await;
        if done(&res) {
            return res;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_access_token_in_the_stream_url_is_no_longer_accepted() {
    let app = spawn_app_with(&[("QUEUE_MAX_ACTIVE", "0")]).await;
    let admin = app.admin_token().await;
    let concert = queued_concert(&app, &admin).await;
    let (_, token) = app.bulk_users(1).await.remove(0);
    join(&app, &token, concert).await;
    let res = open(&app, concert, &format!("?token={token}")).await;
    error_body(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    // The header still is.
    assert_eq!(open_with_header(&app, concert, &token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_ticket_is_not_a_bearer_token_anywhere() {
    let app = spawn_app_with(&[("QUEUE_MAX_ACTIVE", "0")]).await;
    let admin = app.admin_token().await;
    let concert = queued_concert(&app, &admin).await;
    let (_, token) = app.bulk_users(1).await.remove(0);
    join(&app, &token, concert).await;
    let t = ticket(&app, &token, concert).await;
    for path in [
        "/api/user/me".to_owned(),
        format!("/api/queue/{concert}/status"),
        format!("/api/queue/{concert}/stream"),
        "/api/reservations/my".to_owned(),
    ] {
        error_body(app.get(&path, Some(&t)).await, StatusCode::UNAUTHORIZED, "INVALID_TOKEN").await;
    }
    // Nor can a ticket get another ticket.
    let res = app.post(&ticket_path(concert), Some(&t), json!({})).await;
    error_body(res, StatusCode::UNAUTHORIZED, "INVALID_TOKEN").await;
}

#[tokio::test]
async fn an_expired_ticket_is_refused_and_a_new_one_works() {
    let app = spawn_app_with(&[
        ("QUEUE_STREAM_TICKET_TTL_SECS", "1"),
        ("QUEUE_MAX_ACTIVE", "0"),
        // Streams opened while polling close on their own time; they must not hit the cap.
        ("QUEUE_STREAM_MAX_PER_USER", "1000"),
    ])
    .await;
    let admin = app.admin_token().await;
    let concert = queued_concert(&app, &admin).await;
    let (_, token) = app.bulk_users(1).await.remove(0);
    join(&app, &token, concert).await;
    let res = app.post(&ticket_path(concert), Some(&token), json!({})).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["expiresIn"], 1);
    let old = body["ticket"].as_str().unwrap().to_owned();
    let query = format!("?ticket={old}");
    let refused = answer_when(
        "the ticket to expire",
        async || open(&app, concert, &query).await,
        |res| res.status() != StatusCode::OK,
    )
    .await;
    error_body(refused, StatusCode::UNAUTHORIZED, "INVALID_STREAM_TICKET").await;
    let fresh = ticket(&app, &token, concert).await;
    assert_eq!(open(&app, concert, &format!("?ticket={fresh}")).await.status(), StatusCode::OK);
}
