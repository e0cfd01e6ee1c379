//! Per-client limits (issue 15): login paced per (account, client address) with a doubling
//! delay instead of a lock-out, counted atomically; signup throttled per address; the client
//! address taken from `X-Forwarded-For` only behind a trusted proxy.

use std::net::IpAddr;

use reqwest::{Method, Response, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, error_body, spawn_app_with};

/// A client whose connections come from `ip`: every 127.0.0.0/8 address is this machine, so
/// the app sees a different socket peer per address.
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn login_from(
    app: &TestApp,
    client: &reqwest::Client,
    email: &str,
    password: &str,
) -> Response {
    client
        .post(app.url("/api/user/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

/// A login sent with `X-Forwarded-For: forwarded`, from 127.0.0.1.
async fn login_forwarded(app: &TestApp, forwarded: &str, email: &str) -> Response {
    app.client
        .post(app.url("/api/user/login"))
        .header("x-forwarded-for", forwarded)
        .json(&json!({"email": email, "password": "password123"}))
        .send()
        .await
        .unwrap()
}

fn retry_after(res: &Response) -> u64 {
    res.headers()["retry-after"].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn wrong_passwords_from_one_address_do_not_stop_the_owner_at_another() {
    let app = spawn_app_with(&[]).await;
    let owner = app.signup().await;
    let attacker = client_from("127.0.0.2");
    let mut refused = 0;
    for _ in 0..10 {
        let res = login_from(&app, &attacker, &owner.email, "wrong-password").await;
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
            assert!(retry_after(&res) <= 60, "a delay of seconds, not a lock-out");
        } else {
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        }
    }
    assert_eq!(refused, 5, "five free attempts, then the attacker's address waits");

    let res = login_from(&app, &client_from("127.0.0.3"), &owner.email, &owner.password).await;
    assert_eq!(res.status(), StatusCode::OK, "the owner signs in from another address");
}

#[tokio::test]
async fn past_the_free_attempts_each_one_waits_a_doubling_delay() {
    let app = spawn_app_with(&[("LOGIN_MAX_FAILURES", "2")]).await;
    let user = app.signup().await;
    for _ in 0..2 {
        let res = app.login(&user.email, "wrong-password").await;
        error_body(res, StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS").await;
    }
    let mut delays = Vec::new();
    for _ in 0..2 {
        // Even the right password waits: the password is not looked at while a delay runs.
        let res = app.login(&user.email, &user.password).await;
        let wait = retry_after(&res);
        delays.push(wait);
        assert!(wait <= 2, "a delay of seconds, not a lock-out: {wait}");
        error_body(res, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
        tokio::time::sleep(std::time::Duration::from_millis(wait * 1000 + 50)).await;
        if delays.len() < 2 {
            let res = app.login(&user.email, "wrong-password").await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "admitted once the delay ran out");
        }
    }
    assert_eq!(delays, [1, 2], "the delay doubles");
    // The owner waited it out: signed in, and the count starts again.
    assert_eq!(app.login(&user.email, &user.password).await.status(), StatusCode::OK);
    assert_eq!(app.login(&user.email, "wrong-password").await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_logins_cannot_slip_past_the_free_attempts() {
    let app =
        spawn_app_with(&[("LOGIN_MAX_FAILURES", "5"), ("LOGIN_MAX_ATTEMPTS_PER_IP", "1000")]).await;
    let user = app.signup().await;
    let computed_before = app.state.users.hasher().stats().computed;
    let attempts = (0..50).map(|_| app.login(&user.email, "wrong-password"));
    let answers = futures::future::join_all(attempts).await;
    let mut unauthorized = 0;
    for res in &answers {
        match res.status() {
            StatusCode::UNAUTHORIZED => unauthorized += 1,
            StatusCode::TOO_MANY_REQUESTS => assert!(retry_after(res) >= 1),
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(unauthorized, 5, "exactly the free attempts reached the password check");
    let verified = app.state.users.hasher().stats().computed - computed_before;
    assert_eq!(verified, 5, "password checks computed");
}

#[tokio::test]
async fn many_addresses_against_one_account_meet_a_short_account_wide_delay_a_known_address_does_not()
 {
    // The owner's first sign-in from home, from an address not yet known, counts as well.
    let app = spawn_app_with(&[
        ("LOGIN_ACCOUNT_MAX_FAILURES", "4"),
        ("LOGIN_ACCOUNT_DELAY_MAX_SECS", "5"),
    ])
    .await;
    let owner = app.signup().await;
    let home = client_from("127.0.0.9");
    assert_eq!(
        login_from(&app, &home, &owner.email, &owner.password).await.status(),
        StatusCode::OK
    );

    for ip in ["127.0.0.2", "127.0.0.3", "127.0.0.4"] {
        let res = login_from(&app, &client_from(ip), &owner.email, "wrong-password").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{ip}");
    }
    // A fourth address, with its own free attempts untouched, meets the account-wide delay.
    let res = login_from(&app, &client_from("127.0.0.5"), &owner.email, "wrong-password").await;
    let wait = retry_after(&res);
    assert!((1..=5).contains(&wait), "seconds, capped: {wait}");
    error_body(res, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
    // The owner's address signed in before: no account-wide delay for it.
    assert_eq!(
        login_from(&app, &home, &owner.email, &owner.password).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
    let limits = [("LOGIN_MAX_ATTEMPTS_PER_IP", "2")];
    let proxied = spawn_app_with(&[limits[0], ("TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    for _ in 0..2 {
        let res = login_forwarded(&proxied, "203.0.113.1", "nobody@example.com").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = login_forwarded(&proxied, "203.0.113.1", "nobody@example.com").await;
    error_body(res, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
    // Another fan behind the same proxy has a bucket of its own; the right-most address is the
    // one the proxy saw, whatever the client wrote to the left of it.
    let res = login_forwarded(&proxied, "198.51.100.1, 203.0.113.2", "nobody@example.com").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = login_forwarded(&proxied, "203.0.113.2", "nobody@example.com").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = login_forwarded(&proxied, "6.6.6.6, 203.0.113.2", "nobody@example.com").await;
    error_body(res, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
    // A peer that is not a trusted proxy is the client, whatever it forwards.
    let untrusted = client_from("127.0.0.2");
    for forwarded in ["192.0.2.1", "192.0.2.2"] {
        let res = untrusted
            .post(proxied.url("/api/user/login"))
            .header("x-forwarded-for", forwarded)
            .json(&json!({"email": "nobody@example.com", "password": "password123"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = login_from(&proxied, &untrusted, "nobody@example.com", "password123").await;
    error_body(res, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;

    // Without TRUSTED_PROXIES the header is ignored: every forwarded address is one peer.
    let direct = spawn_app_with(&limits).await;
    for forwarded in ["203.0.113.1", "203.0.113.2"] {
        let res = login_forwarded(&direct, forwarded, "nobody@example.com").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = login_forwarded(&direct, "203.0.113.3", "nobody@example.com").await;
    error_body(res, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
}

#[tokio::test]
async fn seat_map_streams_are_capped_per_forwarded_client() {
    let app =
        spawn_app_with(&[("TRUSTED_PROXIES", "127.0.0.1/32"), ("SEAT_STREAM_MAX_PER_CLIENT", "1")])
            .await;
    let (_, concert, _) = app.concert_on_sale(1).await;
    let path = format!("/api/seat/concert/{concert}/availability/stream");
    let a = app.request_with(Method::GET, &path, &[("x-forwarded-for", "203.0.113.1")]).await;
    assert_eq!(a.status(), StatusCode::OK);
    let b = app.request_with(Method::GET, &path, &[("x-forwarded-for", "203.0.113.2")]).await;
    assert_eq!(b.status(), StatusCode::OK, "another fan behind the proxy");
    let again = app.request_with(Method::GET, &path, &[("x-forwarded-for", "203.0.113.1")]).await;
    error_body(again, StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_STREAMS").await;
    drop((a, b));
}

fn signup_body(tag: &str) -> serde_json::Value {
    let n = &uuid::Uuid::new_v4().simple().to_string()[..10];
    json!({"username": format!("{tag}{n}"), "email": format!("{tag}{n}@example.com"), "password": "password123"})
}

#[tokio::test]
async fn signups_are_throttled_per_client_address() {
    let app = spawn_app_with(&[("SIGNUP_MAX_PER_IP", "2"), ("SIGNUP_IP_WINDOW_SECS", "600")]).await;
    let bot = client_from("127.0.0.2");
    for _ in 0..2 {
        let res =
            bot.post(app.url("/api/user/signup")).json(&signup_body("bot")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let res = bot.post(app.url("/api/user/signup")).json(&signup_body("bot")).send().await.unwrap();
    let wait = retry_after(&res);
    assert!((1..=600).contains(&wait), "{wait}");
    error_body(res, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;

    let fan = client_from("127.0.0.3");
    let res = fan.post(app.url("/api/user/signup")).json(&signup_body("fan")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED, "another address signs up");
}

#[tokio::test]
async fn a_taken_email_or_username_is_refused_before_any_hashing() {
    let app = spawn_app_with(&[]).await;
    let user = app.signup().await;
    let hashed = app.state.users.hasher().stats().computed;
    let res = app
        .post(
            "/api/user/signup",
            None,
            json!({"username": "someone_new", "email": user.email, "password": "password123"}),
        )
        .await;
    error_body(res, StatusCode::CONFLICT, "EXIST_USER_EMAIL").await;
    let res = app
        .post("/api/user/signup", None, json!({"username": user.username, "email": "new@example.com", "password": "password123"}))
        .await;
    error_body(res, StatusCode::CONFLICT, "EXIST_USER_USERNAME").await;
    assert_eq!(app.state.users.hasher().stats().computed, hashed, "no hash for a duplicate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_saturated_hasher_answers_503_with_retry_after_to_signup_and_login() {
    // One slot and no queue: whoever finds the slot taken is told to come back.
    let app = spawn_app_with(&[
        ("PASSWORD_HASH_CONCURRENCY", "1"),
        ("PASSWORD_HASH_QUEUE_TIMEOUT_MS", "0"),
        ("LOGIN_MAX_FAILURES", "100"),
    ])
    .await;
    let user = app.signup().await;
    let signups = (0..10).map(|_| app.post("/api/user/signup", None, signup_body("fan")));
    let logins = (0..10).map(|_| app.login(&user.email, &user.password));
    let (signups, logins) = futures::future::join(
        futures::future::join_all(signups),
        futures::future::join_all(logins),
    )
    .await;
    for (what, answers, ok) in
        [("signup", signups, StatusCode::CREATED), ("login", logins, StatusCode::OK)]
    {
        let mut busy = 0;
        for res in answers {
            if res.status() == ok {
                continue;
            }
            assert_eq!(retry_after(&res), 1, "{what}");
            error_body(res, StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE").await;
            busy += 1;
        }
        assert!(busy > 0, "{what}: some found the only slot taken");
    }
    assert_eq!(app.state.users.hasher().stats().high_water, 1);
}
