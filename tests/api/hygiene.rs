//! Redis hygiene: requests naming unknown, huge or deleted ids leave nothing behind that could
//! pile up (Redis runs with `noeviction`, so a full Redis refuses every write). Every key has a
//! TTL or belongs to a concert, seat or user the database has; concurrent misses for one
//! unknown concert cost a bounded number of database look-ups.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use deadpool_redis::redis;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use ticketing::services::catalog::MISS_TTL;

use crate::helpers::{TestApp, concert_body, error_body, spawn_app, wait_until};

/// Ids no row has: the probe, the largest id, and ids the database never hands out.
const UNKNOWN: [i64; 4] = [987_654_321, i64::MAX, 0, -1];

fn seat_body(concert: i64) -> Value {
    json!({"concertId": concert, "section": "Z", "row": "9", "number": "9", "grade": "R", "price": 50000})
}

/// Sends a request and checks that it was refused or answered, never a server fault.
async fn probe(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) {
    let res: Response = app.request(method.clone(), path, token, body).await;
    assert!(!res.status().is_server_error(), "{method} {path}: {}", res.status());
}

/// Every route that names a concert, anonymously, as a fan and as the admin.
async fn probe_concert(app: &TestApp, concert: i64, fan: &str, admin: &str) {
    for token in [None, Some(fan), Some(admin)] {
        for path in [
            format!("/api/concert/{concert}"),
            format!("/api/seat/concert/{concert}"),
            format!("/api/seat/concert/{concert}/seat-map"),
            format!("/api/seat/concert/{concert}/seats?grade=R"),
            format!("/api/seat/concert/{concert}/layout"),
            format!("/api/seat/concert/{concert}/availability"),
            format!("/api/queue/{concert}/status"),
            format!("/api/queue/{concert}/stats"),
            format!("/api/reservations/admin/concert/{concert}"),
        ] {
            probe(app, Method::GET, &path, token, None).await;
        }
        let queue = json!({"concertId": concert});
        probe(app, Method::POST, "/api/queue", token, Some(queue)).await;
        probe(app, Method::DELETE, &format!("/api/queue/{concert}"), token, None).await;
        let ticket = format!("/api/queue/{concert}/stream-ticket");
        probe(app, Method::POST, &ticket, token, None).await;
        let challenge = json!({"purpose": "QUEUE", "concertId": concert});
        probe(app, Method::POST, "/api/challenge", token, Some(challenge)).await;
        let body = concert_body("probe");
        probe(app, Method::PUT, &format!("/api/concert/{concert}"), token, Some(body)).await;
        let batch = json!([seat_body(concert)]);
        probe(app, Method::POST, "/api/seat/batch", token, Some(batch)).await;
        probe(app, Method::DELETE, &format!("/api/concert/{concert}"), token, None).await;
    }
    // The streams answer at once when the concert is unknown; a bounded wait either way.
    for path in [
        format!("/api/seat/concert/{concert}/availability/stream"),
        format!("/api/queue/{concert}/stream?ticket={fan}"),
    ] {
        let res = app.client.get(app.url(&path)).timeout(Duration::from_secs(3)).send().await;
        if let Ok(res) = res {
            assert!(!res.status().is_server_error(), "GET {path}: {}", res.status());
        }
    }
}

/// Every route that names a seat, a reservation or a payment.
async fn probe_seat(app: &TestApp, seat: i64, live_seat: i64, fan: &str, admin: &str) {
    for token in [None, Some(fan), Some(admin)] {
        let path = format!("/api/seat/{seat}");
        probe(app, Method::GET, &path, token, None).await;
        probe(app, Method::PUT, &path, token, Some(seat_body(1))).await;
        probe(app, Method::DELETE, &path, token, None).await;
        probe(app, Method::POST, &format!("{path}/select"), token, None).await;
        probe(app, Method::DELETE, &format!("{path}/select"), token, None).await;
        for ids in [json!([seat]), json!([live_seat, seat])] {
            probe(app, Method::POST, "/api/seat/select", token, Some(json!({"seatIds": ids})))
                .await;
            let pay = json!({"seatIds": ids, "paymentMethod": "CREDIT_CARD"});
            probe(app, Method::POST, "/api/payment", token, Some(pay)).await;
        }
        probe(app, Method::GET, &format!("/api/reservations/{seat}"), token, None).await;
        let cancel = json!({"reservationId": seat, "cancelReason": "probe"});
        probe(app, Method::POST, "/api/reservations/cancel", token, Some(cancel)).await;
        probe(app, Method::GET, &format!("/api/payment/{seat}"), token, None).await;
    }
}

/// The app's keys (its prefix stripped) with their remaining time in ms (-1: none).
async fn keys(app: &TestApp) -> Vec<(String, i64)> {
    let mut conn = app.state.redis.conn().await.unwrap();
    let mut cursor = 0u64;
    let mut found = Vec::new();
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{}*", app.redis_prefix))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .unwrap();
        found.extend(batch);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    let mut out = Vec::new();
    for key in found {
        let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await.unwrap();
        if ttl != -2 {
            out.push((key[app.redis_prefix.len()..].to_owned(), ttl));
        }
    }
    out
}

async fn ids(app: &TestApp, sql: &'static str) -> HashSet<i64> {
    sqlx::query_scalar(sql).fetch_all(&app.db).await.unwrap().into_iter().collect()
}

/// Every key names no unknown id, and has a TTL unless it belongs to live rows.
async fn assert_redis_is_clean(app: &TestApp) {
    let concerts = ids(app, "select id from concert where deleted_at is null").await;
    let seats = ids(app, "select id from seat where deleted_at is null").await;
    let users = ids(app, "select id from users").await;
    let keys = keys(app).await;
    let expiring: HashSet<&str> =
        keys.iter().filter(|(_, ttl)| *ttl >= 0).map(|(k, _)| k.as_str()).collect();
    let mut conn = app.state.redis.conn().await.unwrap();
    let live = |id: &str| id.parse().is_ok_and(|id: i64| concerts.contains(&id));
    let mut problems = Vec::new();
    for (key, ttl) in &keys {
        // `{id}` is a hash tag (one slot per concert): the id is what counts here.
        let parts: Vec<&str> = key.split(':').map(|p| p.trim_matches(['{', '}'])).collect();
        if parts.iter().any(|p| p.parse().is_ok_and(|n: i64| UNKNOWN.contains(&n))) {
            problems.push(format!("{key} names an unknown id"));
        }
        if *ttl >= 0 {
            continue;
        }
        let bounded = match parts.as_slice() {
            ["concert", c, "user", u, _] => {
                live(c) && u.parse().is_ok_and(|u: i64| users.contains(&u))
            }
            ["concert", c, _] | ["queue", c, _] => live(c),
            ["seat", c, s] => live(c) && s.parse().is_ok_and(|s: i64| seats.contains(&s)),
            // Sets of concerts: each member live, or a deleted one whose tombstone expires.
            ["avail", "live"] | ["queues"] => {
                let members: Vec<String> = redis::cmd("SMEMBERS")
                    .arg(app.state.redis.key(key))
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                members.iter().all(|m| {
                    live(m)
                        || (*key == "avail:live"
                            && expiring.contains(&*format!("concert:{{{m}}}:info")))
                })
            }
            _ => false,
        };
        if !bounded {
            problems.push(format!("{key} has no TTL and no live row behind it"));
        }
    }
    assert!(problems.is_empty(), "Redis keys that could pile up: {problems:#?}");
}

#[tokio::test]
async fn hostile_ids_leave_no_redis_key_without_a_ttl_or_a_live_row() {
    let app = spawn_app().await;
    let (admin, concert, seats) = app.concert_on_sale(3).await;
    let fan = app.signup().await;
    // Real data in Redis: a held seat, a loaded seat map.
    assert_eq!(app.hold(&fan.token, seats[0]).await.status(), StatusCode::OK);
    assert_eq!(app.get(&format!("/api/seat/concert/{concert}/seat-map"), None).await.status(), 200);

    // A concert that was loaded and held in (by someone other than the prober), then deleted.
    let doomed = app.create_concert(&admin).await["id"].as_i64().unwrap();
    let doomed_seat = app.create_seats(&admin, doomed, 2).await[0]["id"].as_i64().unwrap();
    let other = app.signup().await;
    assert_eq!(app.hold(&other.token, doomed_seat).await.status(), StatusCode::OK);
    let res = app.delete(&format!("/api/concert/{doomed}"), Some(&admin)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    // A concert with a waiting room the fan joined, then deleted.
    let mut body = concert_body("queued");
    body["queueEnabled"] = json!(true);
    let queued = app.post("/api/concert", Some(&admin), body).await.json::<Value>().await.unwrap()
        ["id"]
        .as_i64()
        .unwrap();
    let res = app.post("/api/queue", Some(&fan.token), json!({"concertId": queued})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.delete(&format!("/api/concert/{queued}"), Some(&admin)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    // A deleted seat of the live concert.
    let res = app.delete(&format!("/api/seat/{}", seats[2]), Some(&admin)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    for id in UNKNOWN.into_iter().chain([doomed, queued]) {
        probe_concert(&app, id, &fan.token, &admin).await;
    }
    for id in UNKNOWN.into_iter().chain([doomed_seat, seats[2]]) {
        probe_seat(&app, id, seats[1], &fan.token, &admin).await;
    }
    let login = json!({"email": "nobody@example.com", "password": "wrong-password"});
    probe(&app, Method::POST, "/api/user/login", None, Some(login)).await;
    // The workers' rounds run over what is in Redis.
    ticketing::workers::admission::execute_once(&app.state).await.unwrap();
    ticketing::workers::availability::execute_once(&app.state).await.unwrap();

    assert_redis_is_clean(&app).await;
    // The deleted concert still answers "gone" from its tombstone.
    let res = app.get(&format!("/api/seat/concert/{doomed}/availability"), None).await;
    error_body(res, StatusCode::NOT_FOUND, "CONCERT_NOT_FOUND").await;
}

#[tokio::test]
async fn concurrent_misses_for_an_unknown_concert_cost_a_bounded_number_of_lookups() {
    let app = spawn_app().await;
    let catalogs = app.state.availability.catalogs().clone();
    let before = catalogs.lookups();
    let started = Instant::now();
    let routes = ["layout", "seat-map", "availability", "seats?grade=R"];
    let paths: Vec<String> =
        (0..80).map(|i| format!("/api/seat/concert/{}/{}", UNKNOWN[0], routes[i % 4])).collect();
    let answers = futures::future::join_all(paths.iter().map(|p| app.get(p, None))).await;
    for res in answers {
        error_body(res, StatusCode::NOT_FOUND, "CONCERT_NOT_FOUND").await;
    }
    let lookups = catalogs.lookups() - before;
    // One look-up per loader (the catalogue, the seat states) per remembered miss.
    let windows = started.elapsed().as_secs() / MISS_TTL.as_secs() + 1;
    assert!((1..=2 * windows).contains(&lookups), "{lookups} database look-ups for 80 requests");
    assert_eq!(catalogs.loads_in_flight(), 0, "no per-concert lock outlives its load");
}

#[tokio::test]
async fn a_miss_is_remembered_briefly_then_the_database_is_asked_again() {
    let app = spawn_app().await;
    let catalogs = app.state.availability.catalogs().clone();
    let id = 700_000_001_i64;
    let layout = format!("/api/seat/concert/{id}/layout");
    error_body(app.get(&layout, None).await, StatusCode::NOT_FOUND, "CONCERT_NOT_FOUND").await;

    // The concert appears behind this instance's back (as when another instance creates it).
    sqlx::query(
        "insert into concert (id, title, venue, concert_date, open_time, close_time)
         overriding system value
         values ($1, 'late', 'hall', now() + interval '2 days', now() - interval '1 hour',
                 now() + interval '1 day')",
    )
    .bind(id)
    .execute(&app.db)
    .await
    .unwrap();
    let lookups = catalogs.lookups();
    error_body(app.get(&layout, None).await, StatusCode::NOT_FOUND, "CONCERT_NOT_FOUND").await;
    assert_eq!(catalogs.lookups(), lookups, "a remembered miss costs no query");

    wait_until("the miss to be forgotten", || async {
        app.get(&layout, None).await.status() == StatusCode::OK
    })
    .await;
}

#[tokio::test]
async fn a_concert_created_here_is_found_at_once_even_right_after_a_miss() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    sqlx::query("select setval(pg_get_serial_sequence('concert', 'id'), 5000)")
        .execute(&app.db)
        .await
        .unwrap();
    let layout = "/api/seat/concert/5001/layout";
    error_body(app.get(layout, None).await, StatusCode::NOT_FOUND, "CONCERT_NOT_FOUND").await;

    let created = app.create_concert(&admin).await;
    assert_eq!(created["id"], 5001);
    assert_eq!(app.get(layout, None).await.status(), StatusCode::OK);
}

/// Text that reads differently from what is stored: a right-to-left override, a bell.
const HIDDEN: [&str; 2] = ["\u{202E}evil", "a\u{0007}b"];

/// Every byte but ASCII letters and digits percent-encoded, for a query parameter.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A 400 in the validation shape that names exactly `field`.
async fn refused(res: Response, field: &str, what: &str) {
    let body = error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
    assert_eq!(crate::helpers::failing_fields(&body), [field], "{what}: {body}");
}

#[tokio::test]
async fn names_and_titles_refuse_control_and_bidi_characters_and_keep_korean_and_emoji() {
    let app = spawn_app().await;
    let (admin, concert, seats) = app.concert_on_sale(1).await;
    let seat = |section: &str, row: &str, number: &str, grade: &str| {
        json!({"concertId": concert, "section": section, "row": row, "number": number,
               "grade": grade, "price": 50000})
    };
    for bad in HIDDEN {
        let what = format!("{bad:?}");
        let signup =
            json!({"username": bad, "email": "hidden@example.com", "password": "password123"});
        refused(app.post("/api/user/signup", None, signup).await, "username", &what).await;
        for field in ["title", "venue"] {
            let mut body = concert_body("정상 제목");
            body[field] = json!(bad);
            let res = app.post("/api/concert", Some(&admin), body.clone()).await;
            refused(res, field, &what).await;
            let res = app.put(&format!("/api/concert/{concert}"), Some(&admin), body).await;
            refused(res, field, &what).await;
        }
        for field in ["section", "row", "number", "grade"] {
            let mut item = seat("B", "1", "1", "R");
            item[field] = json!(bad);
            let res = app.post("/api/seat/batch", Some(&admin), json!([item.clone()])).await;
            refused(res, &format!("[0].{field}"), &what).await;
            let res = app.put(&format!("/api/seat/{}", seats[0]), Some(&admin), item).await;
            refused(res, field, &what).await;
        }
    }

    // Korean, emoji and right-to-left letters are ordinary text.
    let signup =
        json!({"username": "팬🎵홍길동", "email": "fan@example.com", "password": "password123"});
    let res = app.post("/api/user/signup", None, signup).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let mut body = concert_body("아이유 콘서트 🎤");
    body["venue"] = json!("올림픽공원 🏟️ אולם");
    let res = app.post("/api/concert", Some(&admin), body.clone()).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.json::<Value>().await.unwrap()["title"], "아이유 콘서트 🎤");
    let res = app.put(&format!("/api/concert/{concert}"), Some(&admin), body).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res =
        app.post("/api/seat/batch", Some(&admin), json!([seat("가", "🎫", "１", "VIP석")])).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app
        .put(&format!("/api/seat/{}", seats[0]), Some(&admin), seat("나", "2", "3", "R석"))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let path = format!("/api/seat/concert/{concert}/seats?grade={}", encode("VIP석"));
    let res = app.get(&path, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap().as_array().unwrap().len(), 1);
}
