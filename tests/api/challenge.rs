//! Bot checks: a proof-of-work challenge before joining a concert's waiting room (per concert)
//! and before signup (`SIGNUP_CHALLENGE_DIFFICULTY`). The tests solve challenges in Rust at a
//! low difficulty, as a browser would at a higher one.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use ticketing::{
    config::dev_defaults,
    domain::challenge::{self, Challenge, ChallengeKey, ChallengePurpose, Requirement},
};
use uuid::Uuid;

use crate::helpers::{
    TestApp, concert_body, error_body, failing_fields, spawn_app, spawn_app_with,
};

/// Low enough for a debug build to solve in a moment, high enough that a random answer fails.
const DIFFICULTY: u8 = 8;

/// A concert on sale behind the waiting room, with the given bot-check difficulty.
async fn guarded_concert(app: &TestApp, admin: &str, difficulty: u8) -> i64 {
    let mut body = concert_body("guarded");
    body["queueEnabled"] = json!(true);
    body["challengeDifficulty"] = json!(difficulty);
    let res = app.post("/api/concert", Some(admin), body).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let concert: Value = res.json().await.unwrap();
    assert_eq!(concert["challengeDifficulty"], difficulty);
    concert["id"].as_i64().unwrap()
}

async fn issue(app: &TestApp, body: Value) -> Value {
    let res = app.post("/api/challenge", None, body).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

/// A solved challenge, as the `X-Challenge` header carries it.
async fn solved(app: &TestApp, body: Value) -> String {
    let issued = issue(app, body).await;
    let text = issued["challenge"].as_str().unwrap();
    let difficulty = issued["difficulty"].as_u64().unwrap() as u8;
    format!("{text};{}", challenge::solve(text, difficulty))
}

async fn join(app: &TestApp, token: &str, concert: i64, proof: Option<&str>) -> Response {
    let mut req = app
        .client
        .request(Method::POST, app.url("/api/queue"))
        .bearer_auth(token)
        .json(&json!({"concertId": concert}));
    if let Some(proof) = proof {
        req = req.header("X-Challenge", proof);
    }
    req.send().await.unwrap()
}

async fn signup(app: &TestApp, proof: Option<&str>) -> Response {
    let name = format!("fan{}", &Uuid::new_v4().simple().to_string()[..12]);
    let body = json!({"username": name, "email": format!("{name}@example.com"), "password": "password123"});
    let mut req = app.client.post(app.url("/api/user/signup")).json(&body);
    if let Some(proof) = proof {
        req = req.header("X-Challenge", proof);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn joining_a_guarded_waiting_room_needs_a_solved_challenge_that_is_spent_once() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let concert = guarded_concert(&app, &admin, DIFFICULTY).await;
    let (fan, other) = (app.signup().await, app.signup().await);

    let res = join(&app, &fan.token, concert, None).await;
    error_body(res, StatusCode::PRECONDITION_REQUIRED, "CHALLENGE_REQUIRED").await;

    let issued = issue(&app, json!({"purpose": "QUEUE", "concertId": concert})).await;
    assert_eq!(issued["algorithm"], "sha256");
    assert_eq!(issued["difficulty"], DIFFICULTY);
    assert!(issued["expiresAt"].as_str().is_some_and(|t| t.ends_with("+09:00")), "{issued}");

    let proof = solved(&app, json!({"purpose": "QUEUE", "concertId": concert})).await;
    let res = join(&app, &fan.token, concert, Some(&proof)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!((body["register"].clone(), body["position"].clone()), (json!(true), json!(1)));

    // Already in line: asking again needs no new work.
    let again: Value = join(&app, &fan.token, concert, None).await.json().await.unwrap();
    assert_eq!((again["register"].clone(), again["position"].clone()), (json!(false), json!(1)));

    // The same answer does not let a second account in.
    let res = join(&app, &other.token, concert, Some(&proof)).await;
    error_body(res, StatusCode::CONFLICT, "CHALLENGE_ALREADY_USED").await;
    let res = app.get(&format!("/api/queue/{concert}/status"), Some(&other.token)).await;
    error_body(res, StatusCode::NOT_FOUND, "QUEUE_NOT_JOINED").await;

    // The spent challenge is remembered only until it expires.
    let mut conn = app.state.redis.conn().await.unwrap();
    let keys: Vec<String> = deadpool_redis::redis::cmd("KEYS")
        .arg(app.state.redis.key("challenge:spent:*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let ttl: i64 =
        deadpool_redis::redis::cmd("PTTL").arg(&keys[0]).query_async(&mut conn).await.unwrap();
    assert!(ttl > 0 && ttl <= 120_000, "spent challenge kept for {ttl} ms");
}

#[tokio::test]
async fn answers_for_another_concert_or_purpose_or_unsolved_or_forged_are_refused() {
    let app = spawn_app_with(&[("SIGNUP_CHALLENGE_DIFFICULTY", "4")]).await;
    let admin = app.admin_token().await;
    let concert = guarded_concert(&app, &admin, DIFFICULTY).await;
    let elsewhere = guarded_concert(&app, &admin, DIFFICULTY).await;
    let fan = app.signup_with_challenge().await;

    let for_elsewhere = solved(&app, json!({"purpose": "QUEUE", "concertId": elsewhere})).await;
    let for_signup = solved(&app, json!({"purpose": "SIGNUP"})).await;
    let issued = issue(&app, json!({"purpose": "QUEUE", "concertId": concert})).await;
    let text = issued["challenge"].as_str().unwrap();
    let unsolved = (0..)
        .map(|n: u32| n.to_string())
        .find(|s| !challenge::solves(text, s, DIFFICULTY))
        .unwrap();
    let solution = challenge::solve(text, DIFFICULTY);
    // The same challenge claiming an easier difficulty (the fourth field) than was signed.
    let mut fields: Vec<&str> = text.split('.').collect();
    fields[3] = "0";
    let forged = format!("{};{solution}", fields.join("."));
    for proof in [
        for_elsewhere.as_str(),
        &for_signup,
        &format!("{text};{unsolved}"),
        &forged,
        "not a challenge",
        &format!("{text};"),
    ] {
        let res = join(&app, &fan.token, concert, Some(proof)).await;
        error_body(res, StatusCode::FORBIDDEN, "CHALLENGE_INVALID").await;
    }
    // None of those put the fan in line, and the real answer still works.
    let res = join(&app, &fan.token, concert, Some(&format!("{text};{solution}"))).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_expired_challenge_is_refused_as_expired() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let concert = guarded_concert(&app, &admin, DIFFICULTY).await;
    let fan = app.signup().await;
    // Signed with the app's own key (derived from the development JWT secret), expired a
    // second ago: only the expiry is wrong with it.
    let key = ChallengeKey::derive(dev_defaults::JWT_SECRET.as_bytes());
    let needed =
        Requirement { purpose: ChallengePurpose::Queue, concert: Some(concert), difficulty: 8 };
    let text = Challenge::new(needed, chrono::Utc::now().timestamp() - 1).sign(&key);
    let proof = format!("{text};{}", challenge::solve(&text, 8));
    let res = join(&app, &fan.token, concert, Some(&proof)).await;
    error_body(res, StatusCode::FORBIDDEN, "CHALLENGE_EXPIRED").await;

    // The same, still valid, passes: the key and the work were right.
    let text = Challenge::new(needed, chrono::Utc::now().timestamp() + 60).sign(&key);
    let proof = format!("{text};{}", challenge::solve(&text, 8));
    assert_eq!(join(&app, &fan.token, concert, Some(&proof)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_challenge_easier_than_the_concert_now_asks_is_refused() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let concert = guarded_concert(&app, &admin, 4).await;
    let fan = app.signup().await;
    let easy = solved(&app, json!({"purpose": "QUEUE", "concertId": concert})).await;
    let mut body = concert_body("guarded");
    body["challengeDifficulty"] = json!(DIFFICULTY);
    let res = app.put(&format!("/api/concert/{concert}"), Some(&admin), body).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = join(&app, &fan.token, concert, Some(&easy)).await;
    error_body(res, StatusCode::FORBIDDEN, "CHALLENGE_INVALID").await;
}

#[tokio::test]
async fn signup_with_the_setting_on_needs_a_solved_challenge_that_is_spent_once() {
    let app = spawn_app_with(&[("SIGNUP_CHALLENGE_DIFFICULTY", "8")]).await;
    let admin = app.admin_token().await;
    let concert = guarded_concert(&app, &admin, 4).await;

    error_body(signup(&app, None).await, StatusCode::PRECONDITION_REQUIRED, "CHALLENGE_REQUIRED")
        .await;
    let issued = issue(&app, json!({"purpose": "SIGNUP"})).await;
    assert_eq!(issued["difficulty"], 8);

    let for_queue = solved(&app, json!({"purpose": "QUEUE", "concertId": concert})).await;
    let res = signup(&app, Some(&for_queue)).await;
    error_body(res, StatusCode::FORBIDDEN, "CHALLENGE_INVALID").await;

    let proof = solved(&app, json!({"purpose": "SIGNUP"})).await;
    assert_eq!(signup(&app, Some(&proof)).await.status(), StatusCode::CREATED);
    let res = signup(&app, Some(&proof)).await;
    error_body(res, StatusCode::CONFLICT, "CHALLENGE_ALREADY_USED").await;
}

#[tokio::test]
async fn with_the_checks_off_signup_and_joining_are_unchanged_and_the_header_is_ignored() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let concert = guarded_concert(&app, &admin, 0).await;
    assert_eq!(signup(&app, None).await.status(), StatusCode::CREATED);
    assert_eq!(signup(&app, Some("junk")).await.status(), StatusCode::CREATED);
    let fan = app.signup().await;
    let res = join(&app, &fan.token, concert, Some("junk")).await;
    assert_eq!(res.status(), StatusCode::OK);
    // Ignored, but still held to its documented shape (at most 200 characters).
    let long = "0".repeat(201);
    let res = join(&app, &fan.token, concert, Some(&long)).await;
    let body = error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    assert_eq!(failing_fields(&body), ["X-Challenge"]);
    let body =
        error_body(signup(&app, Some(&long)).await, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    assert_eq!(failing_fields(&body), ["X-Challenge"]);
    // The challenge says so: nothing to solve.
    assert_eq!(issue(&app, json!({"purpose": "SIGNUP"})).await["difficulty"], 0);
    let issued = issue(&app, json!({"purpose": "QUEUE", "concertId": concert})).await;
    assert_eq!(issued["difficulty"], 0);
}

#[tokio::test]
async fn a_queue_challenge_names_an_existing_concert() {
    let app = spawn_app().await;
    // The document cannot make concertId required for QUEUE only: a rule, hence 422.
    let res = app.post("/api/challenge", None, json!({"purpose": "QUEUE"})).await;
    let body =
        error_body(res, StatusCode::UNPROCESSABLE_ENTITY, "CHALLENGE_CONCERT_REQUIRED").await;
    assert_eq!(failing_fields(&body), ["concertId"]);
    let res = app.post("/api/challenge", None, json!({"purpose": "LOGIN"})).await;
    let body = error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    assert_eq!(failing_fields(&body), ["purpose"]);
    let res =
        app.post("/api/challenge", None, json!({"purpose": "QUEUE", "concertId": 987654})).await;
    error_body(res, StatusCode::NOT_FOUND, "CONCERT_NOT_FOUND").await;
}

#[tokio::test]
async fn admins_set_the_difficulty_within_its_bounds_and_concerts_show_it() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let mut body = concert_body("guarded");
    body["challengeDifficulty"] = json!(challenge::MAX_DIFFICULTY + 1);
    let res = app.post("/api/concert", Some(&admin), body.clone()).await;
    let error = error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    assert_eq!(failing_fields(&error), ["challengeDifficulty"]);
    body["challengeDifficulty"] = json!(-1);
    let res = app.post("/api/concert", Some(&admin), body.clone()).await;
    error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;

    // Absent: 0 on creation, unchanged on update.
    let created = app.create_concert(&admin).await;
    assert_eq!(created["challengeDifficulty"], 0);
    let id = created["id"].as_i64().unwrap();
    body["challengeDifficulty"] = json!(18);
    let res = app.put(&format!("/api/concert/{id}"), Some(&admin), body).await;
    assert_eq!(res.json::<Value>().await.unwrap()["challengeDifficulty"], 18);
    let res = app.put(&format!("/api/concert/{id}"), Some(&admin), concert_body("again")).await;
    assert_eq!(res.json::<Value>().await.unwrap()["challengeDifficulty"], 18);
    let shown: Value = app.get(&format!("/api/concert/{id}"), None).await.json().await.unwrap();
    assert_eq!(shown["challengeDifficulty"], 18);
}

impl TestApp {
    /// Signs up through the bot check (the app's `SIGNUP_CHALLENGE_DIFFICULTY` is on).
    async fn signup_with_challenge(&self) -> crate::helpers::TestUser {
        let proof = solved(self, json!({"purpose": "SIGNUP"})).await;
        let res = signup(self, Some(&proof)).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let json: Value = res.json().await.unwrap();
        crate::helpers::TestUser {
            username: json["username"].as_str().unwrap().to_owned(),
            email: json["email"].as_str().unwrap().to_owned(),
            password: "password123".into(),
            token: json["token"].as_str().unwrap().to_owned(),
            refresh_token: json["refreshToken"].as_str().unwrap().to_owned(),
        }
    }
}

#[tokio::test]
async fn browsers_on_another_origin_may_send_the_answer_header() {
    let app = spawn_app().await;
    let res = app
        .client
        .request(Method::OPTIONS, app.url("/api/queue"))
        .header("Origin", "https://tickets.example")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "authorization,content-type,x-challenge")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let allowed = res.headers()["access-control-allow-headers"].to_str().unwrap().to_lowercase();
    assert!(allowed.contains("x-challenge"), "{allowed}");
}
