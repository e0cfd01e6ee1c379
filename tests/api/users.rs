use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN_EMAIL, ADMIN_PASSWORD, error_body, failing_fields, spawn_app, spawn_app_with,
};

#[tokio::test]
async fn signup_returns_tokens_in_the_original_shape() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/api/user/signup",
            None,
            json!({"username": "홍길동", "email": "Hong@Example.com", "password": "password123"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["type"], "Bearer");
    assert_eq!(body["email"], "hong@example.com", "emails are stored lower-cased");
    assert_eq!(body["username"], "홍길동");
    assert_eq!(body["role"], "USER");
    assert_eq!(body["expiresIn"], 900);
    assert!(body["refreshToken"].as_str().unwrap().len() >= 32);
    let token = body["token"].as_str().unwrap();
    let me: Value = app.get("/api/user/me", Some(token)).await.json().await.unwrap();
    assert_eq!(me["username"], "홍길동");
    assert_eq!(me["role"], "USER");

    let hash: String =
        sqlx::query_scalar("select password_hash from users where email = 'hong@example.com'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(hash.starts_with("$argon2id$"), "passwords are hashed with Argon2id");
}

#[tokio::test]
async fn access_token_carries_user_id_role_iat_and_exp() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let payload = user.token.split('.').nth(1).unwrap();
    let decoded = base64_url_decode(payload);
    let claims: Value = serde_json::from_slice(&decoded).unwrap();
    let id: i64 = sqlx::query_scalar("select id from users where email = $1")
        .bind(&user.email)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(claims["sub"], id.to_string());
    assert_eq!(claims["role"], "USER");
    let (iat, exp) = (claims["iat"].as_i64().unwrap(), claims["exp"].as_i64().unwrap());
    assert_eq!(exp - iat, 900);
}

fn base64_url_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c).unwrap() as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    out
}

#[tokio::test]
async fn signup_refuses_a_taken_email_or_username_with_409() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let res = app
        .post("/api/user/signup", None, json!({"username": "someone_else", "email": user.email.to_uppercase(), "password": "password123"}))
        .await;
    error_body(res, StatusCode::CONFLICT, "EXIST_USER_EMAIL").await;
    let res = app
        .post("/api/user/signup", None, json!({"username": user.username, "email": "other@example.com", "password": "password123"}))
        .await;
    error_body(res, StatusCode::CONFLICT, "EXIST_USER_USERNAME").await;
}

#[tokio::test]
async fn signup_lists_every_invalid_field() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/api/user/signup",
            None,
            json!({"username": "x", "email": "not-an-email", "password": "short"}),
        )
        .await;
    let body = error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    assert_eq!(failing_fields(&body), ["username", "email", "password"]);
    let res = app.post("/api/user/signup", None, json!({})).await;
    let body = error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    assert_eq!(failing_fields(&body), ["username", "email", "password"]);
    let res = app
        .post(
            "/api/user/signup",
            None,
            json!({"username": "a".repeat(21), "email": "a@b.c", "password": "p".repeat(101)}),
        )
        .await;
    let body = error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    assert_eq!(failing_fields(&body), ["username", "password"]);
}

#[tokio::test]
async fn login_with_right_and_wrong_credentials() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let res = app.login(&user.email, &user.password).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["username"], user.username.as_str());
    assert!(body["token"].is_string() && body["refreshToken"].is_string());

    error_body(
        app.login(&user.email, "wrong-password").await,
        StatusCode::UNAUTHORIZED,
        "INVALID_CREDENTIALS",
    )
    .await;
    error_body(
        app.login("nobody@example.com", "password123").await,
        StatusCode::UNAUTHORIZED,
        "INVALID_CREDENTIALS",
    )
    .await;
}

#[tokio::test]
async fn bootstrap_admin_can_sign_in_as_admin() {
    let app = spawn_app().await;
    let body: Value = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.json().await.unwrap();
    assert_eq!(body["role"], "ADMIN");
    let admins: i64 = sqlx::query_scalar("select count(*) from users where role = 'ADMIN'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(admins, 1);
}

#[tokio::test]
async fn repeated_wrong_passwords_delay_that_address_with_retry_after() {
    let app = spawn_app_with(&[("LOGIN_MAX_FAILURES", "3")]).await;
    let user = app.signup().await;
    for _ in 0..3 {
        error_body(
            app.login(&user.email, "wrong-password").await,
            StatusCode::UNAUTHORIZED,
            "INVALID_CREDENTIALS",
        )
        .await;
    }
    // Delayed now: even the right password waits a second from this address (never a
    // lock-out; see client_limits.rs for the doubling and for other addresses).
    let res = app.login(&user.email, &user.password).await;
    let retry_after: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert_eq!(retry_after, 1);
    error_body(res, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
    // Another account is not affected.
    let other = app.signup().await;
    assert_eq!(app.login(&other.email, &other.password).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_successful_login_resets_the_failure_count() {
    let app = spawn_app_with(&[("LOGIN_MAX_FAILURES", "3")]).await;
    let user = app.signup().await;
    for _ in 0..2 {
        app.login(&user.email, "wrong-password").await;
    }
    assert_eq!(app.login(&user.email, &user.password).await.status(), StatusCode::OK);
    for _ in 0..2 {
        app.login(&user.email, "wrong-password").await;
    }
    assert_eq!(app.login(&user.email, &user.password).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn too_many_attempts_from_one_address_are_limited() {
    let app = spawn_app_with(&[("LOGIN_MAX_ATTEMPTS_PER_IP", "5")]).await;
    for i in 0..5 {
        let res = app.login(&format!("nobody{i}@example.com"), "password123").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = app.login("nobody@example.com", "password123").await;
    assert!(res.headers().contains_key("retry-after"));
    error_body(res, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
}

#[tokio::test]
async fn refresh_rotates_the_token_pair() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let res =
        app.post("/api/user/refresh", None, json!({"refreshToken": user.refresh_token})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let new_refresh = body["refreshToken"].as_str().unwrap();
    assert_ne!(new_refresh, user.refresh_token);
    let token = body["token"].as_str().unwrap();
    assert_eq!(app.get("/api/user/me", Some(token)).await.status(), StatusCode::OK);
    // The new refresh token works once more.
    let res = app.post("/api/user/refresh", None, json!({"refreshToken": new_refresh})).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn reusing_an_old_refresh_token_revokes_its_whole_family() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let first: Value = app
        .post("/api/user/refresh", None, json!({"refreshToken": user.refresh_token}))
        .await
        .json()
        .await
        .unwrap();
    let current = first["refreshToken"].as_str().unwrap().to_owned();

    // The original token is replayed (stolen): refused, and the family is revoked.
    let res =
        app.post("/api/user/refresh", None, json!({"refreshToken": user.refresh_token})).await;
    error_body(res, StatusCode::UNAUTHORIZED, "REFRESH_TOKEN_REUSED").await;
    let res = app.post("/api/user/refresh", None, json!({"refreshToken": current})).await;
    error_body(res, StatusCode::UNAUTHORIZED, "INVALID_REFRESH_TOKEN").await;

    // Another session of the same user is a different family and keeps working.
    let other: Value = app.login(&user.email, &user.password).await.json().await.unwrap();
    let res =
        app.post("/api/user/refresh", None, json!({"refreshToken": other["refreshToken"]})).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_or_blank_refresh_tokens_are_refused() {
    let app = spawn_app().await;
    let res = app.post("/api/user/refresh", None, json!({"refreshToken": "deadbeef"})).await;
    error_body(res, StatusCode::UNAUTHORIZED, "INVALID_REFRESH_TOKEN").await;
    let res = app.post("/api/user/refresh", None, json!({"refreshToken": ""})).await;
    let body = error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    assert_eq!(failing_fields(&body), ["refreshToken"]);
}

#[tokio::test]
async fn logout_revokes_the_refresh_token() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let res = app
        .post("/api/user/logout", Some(&user.token), json!({"refreshToken": user.refresh_token}))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res =
        app.post("/api/user/refresh", None, json!({"refreshToken": user.refresh_token})).await;
    error_body(res, StatusCode::UNAUTHORIZED, "INVALID_REFRESH_TOKEN").await;
}

#[tokio::test]
async fn logout_without_a_body_ends_every_session() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let second: Value = app.login(&user.email, &user.password).await.json().await.unwrap();
    let res =
        app.client.post(app.url("/api/user/logout")).bearer_auth(&user.token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    for token in [json!(user.refresh_token), second["refreshToken"].clone()] {
        let res = app.post("/api/user/refresh", None, json!({"refreshToken": token})).await;
        error_body(res, StatusCode::UNAUTHORIZED, "INVALID_REFRESH_TOKEN").await;
    }
}

#[tokio::test]
async fn a_user_cannot_revoke_someone_elses_refresh_token() {
    let app = spawn_app().await;
    let alice = app.signup().await;
    let bob = app.signup().await;
    let res = app
        .post("/api/user/logout", Some(&bob.token), json!({"refreshToken": alice.refresh_token}))
        .await;
    error_body(res, StatusCode::UNAUTHORIZED, "INVALID_REFRESH_TOKEN").await;
    let res =
        app.post("/api/user/refresh", None, json!({"refreshToken": alice.refresh_token})).await;
    assert_eq!(res.status(), StatusCode::OK, "alice's session survives");
}

#[tokio::test]
async fn tokens_signed_with_another_key_or_malformed_are_refused() {
    let app = spawn_app().await;
    let user = app.signup().await;
    let mut forged = user.token.clone();
    forged.replace_range(forged.len() - 4.., "AAAA");
    for token in [forged.as_str(), "not-a-jwt", ""] {
        let res = app.get("/api/user/me", Some(token)).await;
        error_body(res, StatusCode::UNAUTHORIZED, "INVALID_TOKEN").await;
    }
    let res = app
        .client
        .get(app.url("/api/user/me"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    error_body(res, StatusCode::UNAUTHORIZED, "INVALID_TOKEN").await;
}

#[tokio::test]
async fn an_expired_access_token_is_refused() {
    let app = spawn_app().await;
    let settings =
        ticketing::config::Settings::from_lookup(|k| (k == "APP_PROFILE").then(|| "dev".into()))
            .unwrap();
    // Same dev secret as the app, but a lifetime that ended long ago (past the 5 s leeway).
    let tokens = ticketing::services::tokens::Tokens::new(
        &settings.jwt_secret,
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(1),
    );
    let valid = tokens
        .issue_access(ticketing::services::tokens::Principal {
            user_id: 1,
            role: ticketing::domain::user::Role::Admin,
        })
        .unwrap();
    assert_eq!(
        app.get("/api/user/me", Some(&valid)).await.status(),
        StatusCode::OK,
        "control: a fresh token works"
    );
    let expired = expired_token(&settings);
    error_body(
        app.get("/api/user/me", Some(&expired)).await,
        StatusCode::UNAUTHORIZED,
        "INVALID_TOKEN",
    )
    .await;
}

fn expired_token(settings: &ticketing::config::Settings) -> String {
    use secrecy::ExposeSecret;
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": "1", "role": "ADMIN", "iat": now - 3600, "exp": now - 60});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(settings.jwt_secret.expose_secret().as_bytes()),
    )
    .unwrap()
}
