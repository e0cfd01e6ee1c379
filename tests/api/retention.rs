//! Retention: the housekeeping worker purges what is past its retention, keeps the rest, in
//! batches; a user's live `Idempotency-Key`s are capped.

use reqwest::StatusCode;
use serde_json::json;
use ticketing::services::housekeeping::{Housekeeping, Purged};
use uuid::Uuid;

use crate::helpers::{TestApp, error_body, spawn_app, spawn_app_with};

/// Inserts one row of each kind, `age` old (an SQL interval), marked with `tag`.
async fn insert_rows(app: &TestApp, user: i64, tag: &str, age: &str) {
    let q = |sql: String| sqlx::query(sqlx::AssertSqlSafe(sql));
    q(format!(
        "insert into refresh_tokens (user_id, family_id, token_hash, expires_at, created_at)
         values ($1, gen_random_uuid(), $2, now() - interval '{age}', now() - interval '{age}' - interval '14 days')"
    ))
    .bind(user)
    .bind(tag.as_bytes())
    .execute(&app.db)
    .await
    .unwrap();
    q(format!(
        "insert into webhook_events (event_id, transaction_id, status, outcome, response, payload, received_at)
         values ($1, 'tx', 'SUCCESS', 'CONFIRMED', '{{}}', '{{}}', now() - interval '{age}')"
    ))
    .bind(tag)
    .execute(&app.db)
    .await
    .unwrap();
    q(format!(
        "insert into outbox (message_id, kind, payload, created_at, published_at)
         values (gen_random_uuid(), $1, '{{}}', now() - interval '{age}', now() - interval '{age}')"
    ))
    .bind(tag)
    .execute(&app.db)
    .await
    .unwrap();
    q(format!(
        "insert into email_deliveries (message_id, kind, recipient, sent_at)
         values (gen_random_uuid(), $1, 'someone@example.com', now() - interval '{age}')"
    ))
    .bind(tag)
    .execute(&app.db)
    .await
    .unwrap();
    q(format!(
        "insert into idempotency_keys (user_id, idempotency_key, request_hash, response_status, created_at)
         values ($1, $2, '\\x00', 200, now() - interval '{age}')"
    ))
    .bind(user)
    .bind(tag)
    .execute(&app.db)
    .await
    .unwrap();
}

/// Which of the tags still have a row in each table, in table order.
async fn surviving(app: &TestApp, tags: &[&str]) -> Vec<(&'static str, Vec<String>)> {
    let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
    let mut out = Vec::new();
    for (table, column) in [
        ("refresh_tokens", "token_hash"),
        ("webhook_events", "event_id"),
        ("outbox", "kind"),
        ("email_deliveries", "kind"),
        ("idempotency_keys", "idempotency_key"),
    ] {
        // Refresh tokens carry the tag as their hash (the real ones are not text).
        let sql = if column == "token_hash" {
            "select convert_from(token_hash, 'UTF8') from refresh_tokens
             where token_hash = any(select convert_to(t, 'UTF8') from unnest($1::text[]) t)"
                .to_owned()
        } else {
            format!("select {column}::text from {table} where {column} = any($1)")
        };
        let mut found: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(&tags)
            .fetch_all(&app.db)
            .await
            .unwrap();
        found.sort();
        out.push((table, found));
    }
    out
}

#[tokio::test]
async fn housekeeping_purges_rows_past_their_retention_and_keeps_the_rest() {
    let app = spawn_app().await;
    let fan = app.signup().await;
    let user = app.user_id(&fan.email).await;
    // Defaults: refresh tokens 7 days after expiry, webhook events 30 days, published outbox
    // rows 7 days, email deliveries 30 days, idempotency keys 1 day.
    insert_rows(&app, user, "old", "40 days").await;
    insert_rows(&app, user, "recent", "20 hours").await;
    // An outbox row never published is kept whatever its age (the relay is told to wait).
    sqlx::query(
        "insert into outbox (message_id, kind, payload, created_at, next_attempt_at)
         values (gen_random_uuid(), 'unsent', '{}', now() - interval '400 days', now() + interval '1 day')",
    )
    .execute(&app.db)
    .await
    .unwrap();
    // A refresh token that expired 2 days ago is within its 7 days; one 8 days ago is not.
    for (tag, age) in [("expired-2d", "2 days"), ("expired-8d", "8 days")] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "insert into refresh_tokens (user_id, family_id, token_hash, expires_at)
             values ($1, gen_random_uuid(), $2, now() - interval '{age}')"
        )))
        .bind(user)
        .bind(tag.as_bytes())
        .execute(&app.db)
        .await
        .unwrap();
    }

    let purged = ticketing::workers::housekeeping::execute_once(&app.state).await.unwrap();
    assert_eq!(
        purged,
        Purged {
            refresh_tokens: 2,
            webhook_events: 1,
            outbox: 1,
            email_deliveries: 1,
            idempotency_keys: 1
        }
    );
    let all = ["old", "recent", "unsent", "expired-2d", "expired-8d"];
    assert_eq!(
        surviving(&app, &all).await,
        [
            ("refresh_tokens", vec!["expired-2d".to_owned(), "recent".to_owned()]),
            ("webhook_events", vec!["recent".to_owned()]),
            ("outbox", vec!["recent".to_owned(), "unsent".to_owned()]),
            ("email_deliveries", vec!["recent".to_owned()]),
            ("idempotency_keys", vec!["recent".to_owned()]),
        ]
    );
    // The fan's own live refresh token survived: it still refreshes.
    let res = app.post("/api/user/refresh", None, json!({"refreshToken": fan.refresh_token})).await;
    assert_eq!(res.status(), StatusCode::OK);
    // A second round finds nothing more.
    let again = ticketing::workers::housekeeping::execute_once(&app.state).await.unwrap();
    assert_eq!(again.total(), 0);
}

#[tokio::test]
async fn retention_settings_decide_what_is_old() {
    let app = spawn_app_with(&[
        ("RETENTION_WEBHOOK_EVENTS_DAYS", "1"),
        ("RETENTION_EMAIL_DELIVERIES_DAYS", "1"),
        ("RETENTION_OUTBOX_SENT_SECS", "3600"),
        ("RETENTION_REFRESH_TOKENS_SECS", "3600"),
        ("IDEMPOTENCY_TTL_SECS", "3600"),
    ])
    .await;
    let fan = app.signup().await;
    let user = app.user_id(&fan.email).await;
    insert_rows(&app, user, "two-days", "2 days").await;
    insert_rows(&app, user, "two-hours", "2 hours").await;
    let purged = ticketing::workers::housekeeping::execute_once(&app.state).await.unwrap();
    // Two days is past every setting; two hours only past the hour-long ones.
    assert_eq!(
        purged,
        Purged {
            refresh_tokens: 2,
            webhook_events: 1,
            outbox: 2,
            email_deliveries: 1,
            idempotency_keys: 2
        }
    );
}

#[tokio::test]
async fn a_backlog_is_purged_in_batches() {
    let app = spawn_app().await;
    for _ in 0..7 {
        sqlx::query(
            "insert into email_deliveries (message_id, kind, recipient, sent_at)
             values ($1, 'welcome', 'x@example.com', now() - interval '90 days')",
        )
        .bind(Uuid::new_v4())
        .execute(&app.db)
        .await
        .unwrap();
    }
    let s = &app.state.settings;
    let small = Housekeeping::new(app.db.clone(), s.retention, s.idempotency_ttl).with_batch(3);
    assert_eq!(small.purge().await.unwrap().email_deliveries, 7, "three batches: 3, 3, 1");
    let left: i64 = sqlx::query_scalar("select count(*) from email_deliveries where kind = 'welcome' and sent_at < now() - interval '1 day'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

async fn hold_with_key(app: &TestApp, token: &str, key: &str, seat: i64) -> reqwest::Response {
    app.client
        .post(app.url("/api/seat/select"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(&json!({"seatIds": [seat]}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_new_idempotency_key_past_the_per_user_cap_is_refused_with_429() {
    let app = spawn_app_with(&[("IDEMPOTENCY_MAX_KEYS_PER_USER", "2")]).await;
    let (_, _, seats) = app.concert_on_sale(4).await;
    let (fan, other) = (app.signup().await, app.signup().await);
    assert_eq!(hold_with_key(&app, &fan.token, "k1", seats[0]).await.status(), StatusCode::OK);
    assert_eq!(hold_with_key(&app, &fan.token, "k2", seats[1]).await.status(), StatusCode::OK);
    let refused = hold_with_key(&app, &fan.token, "k3", seats[2]).await;
    let body = error_body(refused, StatusCode::TOO_MANY_REQUESTS, "IDEMPOTENCY_KEY_LIMIT").await;
    assert!(body["message"].as_str().unwrap().contains("Idempotency-Key"), "{body}");
    let held: i64 = sqlx::query_scalar("select count(*) from idempotency_keys")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(held, 2, "the refused key was not stored");
    // A known key still replays at the cap, and other users have their own.
    let replay = hold_with_key(&app, &fan.token, "k1", seats[0]).await;
    assert_eq!(replay.status(), StatusCode::OK);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(hold_with_key(&app, &other.token, "k3", seats[3]).await.status(), StatusCode::OK);
    // Without a key the request is not limited by this cap.
    let plain =
        app.post("/api/seat/select", Some(&fan.token), json!({"seatIds": [seats[2]]})).await;
    assert_eq!(plain.status(), StatusCode::OK);
    // Once keys expire they stop counting.
    sqlx::query("update idempotency_keys set created_at = now() - interval '25 hours'")
        .execute(&app.db)
        .await
        .unwrap();
    let res = app.delete(&format!("/api/seat/{}/select", seats[2]), Some(&fan.token)).await;
    assert!(res.status().is_success(), "released: {}", res.status());
    assert_eq!(hold_with_key(&app, &fan.token, "k3", seats[2]).await.status(), StatusCode::OK);
}
