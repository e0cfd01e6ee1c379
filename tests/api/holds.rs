use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{concert_body, error_body, failing_fields, spawn_app, spawn_app_with};

fn expires_at(body: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(body["expiresAt"].as_str().unwrap()).unwrap().with_timezone(&Utc)
}

#[tokio::test]
async fn select_holds_a_seat_for_the_hold_ttl_and_the_map_shows_it() {
    let app = spawn_app().await;
    let (_, concert, seats) = app.concert_on_sale(3).await;
    let fan = app.signup().await;
    let res = app.hold(&fan.token, seats[1]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["id"], seats[1]);
    assert_eq!(body["concertId"], concert);
    assert_eq!(body["concertTitle"], "테스트 콘서트");
    assert_eq!(body["number"], "2");
    assert_eq!(body["price"], 50000);
    assert_eq!(body["status"], "HELD");
    let ttl = (expires_at(&body) - Utc::now()).num_seconds();
    assert!((590..=600).contains(&ttl), "held for HOLD_TTL_SECS: {ttl}");

    let statuses = app.seat_statuses(concert).await;
    assert_eq!(statuses[&seats[0]], "AVAILABLE");
    assert_eq!(statuses[&seats[1]], "HELD");
    let one: Value = app.get(&format!("/api/seat/{}", seats[1]), None).await.json().await.unwrap();
    assert_eq!(one["status"], "HELD");
    assert_eq!(one["reserved"], true);
    let page: Value =
        app.get(&format!("/api/seat/concert/{concert}"), None).await.json().await.unwrap();
    assert_eq!(page["content"][1]["status"], "HELD");
}

#[tokio::test]
async fn selecting_ones_own_seat_again_is_idempotent_and_reports_the_time_left() {
    let app = spawn_app().await;
    let (_, _, seats) = app.concert_on_sale(1).await;
    let fan = app.signup().await;
    let first: Value = app.hold(&fan.token, seats[0]).await.json().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let res = app.hold(&fan.token, seats[0]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let again: Value = res.json().await.unwrap();
    let drift = (expires_at(&again) - expires_at(&first)).num_milliseconds().abs();
    assert!(drift < 50, "the hold is not extended: {drift} ms");
}

#[tokio::test]
async fn select_returns_409_when_seat_is_held_by_another_user() {
    let app = spawn_app().await;
    let (_, _, seats) = app.concert_on_sale(1).await;
    let (alice, bob) = (app.signup().await, app.signup().await);
    assert_eq!(app.hold(&alice.token, seats[0]).await.status(), StatusCode::OK);
    error_body(app.hold(&bob.token, seats[0]).await, StatusCode::CONFLICT, "SEAT_ALREADY_LOCKED")
        .await;
}

#[tokio::test]
async fn release_frees_only_ones_own_hold() {
    let app = spawn_app().await;
    let (_, concert, seats) = app.concert_on_sale(1).await;
    let (alice, bob) = (app.signup().await, app.signup().await);
    app.hold(&alice.token, seats[0]).await;
    let path = format!("/api/seat/{}/select", seats[0]);
    error_body(
        app.delete(&path, Some(&bob.token)).await,
        StatusCode::NOT_FOUND,
        "SEAT_NOT_SELECTED",
    )
    .await;
    assert_eq!(
        app.seat_statuses(concert).await[&seats[0]],
        "HELD",
        "bob could not release alice's hold"
    );
    assert_eq!(app.delete(&path, Some(&alice.token)).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.seat_statuses(concert).await[&seats[0]], "AVAILABLE");
    error_body(
        app.delete(&path, Some(&alice.token)).await,
        StatusCode::NOT_FOUND,
        "SEAT_NOT_SELECTED",
    )
    .await;
    assert_eq!(app.hold(&bob.token, seats[0]).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn multi_select_is_all_or_nothing() {
    let app = spawn_app().await;
    let (_, concert, seats) = app.concert_on_sale(3).await;
    let (alice, bob) = (app.signup().await, app.signup().await);
    app.hold(&bob.token, seats[1]).await;
    error_body(
        app.hold_many(&alice.token, &seats).await,
        StatusCode::CONFLICT,
        "SEAT_ALREADY_LOCKED",
    )
    .await;
    let statuses = app.seat_statuses(concert).await;
    assert_eq!(statuses[&seats[0]], "AVAILABLE", "nothing was held");
    assert_eq!(statuses[&seats[2]], "AVAILABLE", "nothing was held");

    let res = app.hold_many(&alice.token, &[seats[0], seats[2]]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["seats"].as_array().unwrap().len(), 2);
    assert_eq!(body["seats"][1]["id"], seats[2]);
    assert!(body["expiresAt"].is_string());
}

#[tokio::test]
async fn multi_select_validates_its_list() {
    let app = spawn_app().await;
    let (admin, _, seats) = app.concert_on_sale(2).await;
    let fan = app.signup().await;
    let res = app.post("/api/seat/select", Some(&fan.token), json!({})).await;
    assert_eq!(
        failing_fields(&error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await),
        ["seatIds"]
    );
    let res = app.hold_many(&fan.token, &[]).await;
    assert_eq!(
        failing_fields(&error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await),
        ["seatIds"]
    );
    let res = app.hold_many(&fan.token, &[seats[0], seats[0]]).await;
    error_body(res, StatusCode::UNPROCESSABLE_ENTITY, "DUPLICATE_SEAT_IN_REQUEST").await;
    let res = app.hold_many(&fan.token, &[1, 2, 3, 4, 5]).await;
    assert_eq!(
        failing_fields(&error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await),
        ["seatIds"]
    );
    let other = app.create_concert(&admin).await["id"].as_i64().unwrap();
    let other_seat = app.create_seats(&admin, other, 1).await[0]["id"].as_i64().unwrap();
    let res = app.hold_many(&fan.token, &[seats[0], other_seat]).await;
    error_body(res, StatusCode::UNPROCESSABLE_ENTITY, "INVALID_CONCERT_ID").await;
    error_body(app.hold(&fan.token, 987_654).await, StatusCode::NOT_FOUND, "SEAT_NOT_FOUND").await;
}

#[tokio::test]
async fn a_fan_cannot_hold_more_than_the_limit_per_concert() {
    let app = spawn_app_with(&[("MAX_SEATS_PER_USER", "2")]).await;
    let (admin, _, seats) = app.concert_on_sale(4).await;
    let fan = app.signup().await;
    assert_eq!(app.hold_many(&fan.token, &seats[..2]).await.status(), StatusCode::OK);
    error_body(
        app.hold(&fan.token, seats[2]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "SEAT_LIMIT_EXCEEDED",
    )
    .await;
    // Holding one of one's own seats again does not count twice.
    assert_eq!(app.hold(&fan.token, seats[0]).await.status(), StatusCode::OK);
    // Releasing makes room.
    app.delete(&format!("/api/seat/{}/select", seats[0]), Some(&fan.token)).await;
    assert_eq!(app.hold(&fan.token, seats[2]).await.status(), StatusCode::OK);
    // Seats bought count too.
    let res: Value = app.checkout(&fan.token, &[seats[1], seats[2]]).await.json().await.unwrap();
    app.confirm_reservation(res["reservationId"].as_i64().unwrap()).await;
    error_body(
        app.hold(&fan.token, seats[3]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "SEAT_LIMIT_EXCEEDED",
    )
    .await;
    // The limit is per concert.
    let other = app.create_concert(&admin).await["id"].as_i64().unwrap();
    let other_seat = app.create_seats(&admin, other, 1).await[0]["id"].as_i64().unwrap();
    assert_eq!(app.hold(&fan.token, other_seat).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn holds_are_refused_outside_the_sale_window_and_for_cancelled_concerts() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let fan = app.signup().await;
    let now = Utc::now();
    let upcoming = json!({
        "title": "later", "venue": "v",
        "openTime": (now + chrono::Duration::days(1)).to_rfc3339(),
        "closeTime": (now + chrono::Duration::days(2)).to_rfc3339(),
        "concertDate": (now + chrono::Duration::days(3)).to_rfc3339(),
    });
    let later =
        app.post("/api/concert", Some(&admin), upcoming).await.json::<Value>().await.unwrap()["id"]
            .as_i64()
            .unwrap();
    let seat = app.create_seats(&admin, later, 1).await[0]["id"].as_i64().unwrap();
    error_body(
        app.hold(&fan.token, seat).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "RESERVATION_NOT_OPEN_YET",
    )
    .await;

    // Opening the sale takes effect at once (the admin change invalidates the cached window).
    app.put(&format!("/api/concert/{later}"), Some(&admin), concert_body("now")).await;
    assert_eq!(app.hold(&fan.token, seat).await.status(), StatusCode::OK);

    let closed = json!({
        "title": "past", "venue": "v",
        "openTime": (now - chrono::Duration::days(2)).to_rfc3339(),
        "closeTime": (now - chrono::Duration::days(1)).to_rfc3339(),
        "concertDate": (now + chrono::Duration::days(1)).to_rfc3339(),
    });
    let past = app.post("/api/concert", Some(&admin), closed).await.json::<Value>().await.unwrap()
        ["id"]
        .as_i64()
        .unwrap();
    let seat = app.create_seats(&admin, past, 1).await[0]["id"].as_i64().unwrap();
    error_body(app.hold(&fan.token, seat).await, StatusCode::UNPROCESSABLE_ENTITY, "SALE_CLOSED")
        .await;

    let (_, cancelled, seats) = app.concert_on_sale(1).await;
    assert_eq!(
        app.hold(&fan.token, seats[0]).await.status(),
        StatusCode::OK,
        "warms the concert's cache"
    );
    let mut body = concert_body("cancelled");
    body["status"] = json!("CANCELLED");
    app.put(&format!("/api/concert/{cancelled}"), Some(&admin), body).await;
    let other = app.signup().await;
    let more = app.create_seats_numbered(&admin, cancelled, 10).await;
    error_body(
        app.hold(&other.token, more).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "INVALID_CONCERT_STATUS",
    )
    .await;
}

#[tokio::test]
async fn deleted_seats_and_concerts_cannot_be_held() {
    let app = spawn_app().await;
    let (admin, concert, seats) = app.concert_on_sale(2).await;
    let fan = app.signup().await;
    assert_eq!(app.hold(&fan.token, seats[0]).await.status(), StatusCode::OK);
    app.delete(&format!("/api/seat/{}", seats[1]), Some(&admin)).await;
    error_body(app.hold(&fan.token, seats[1]).await, StatusCode::NOT_FOUND, "SEAT_NOT_FOUND").await;
    app.delete(&format!("/api/seat/{}/select", seats[0]), Some(&fan.token)).await;
    app.delete(&format!("/api/concert/{concert}"), Some(&admin)).await;
    error_body(app.hold(&fan.token, seats[0]).await, StatusCode::NOT_FOUND, "CONCERT_NOT_FOUND")
        .await;
}

#[tokio::test]
async fn an_unpaid_hold_runs_out_by_itself() {
    let app = spawn_app_with(&[("HOLD_TTL_SECS", "1")]).await;
    let (_, concert, seats) = app.concert_on_sale(1).await;
    let (alice, bob) = (app.signup().await, app.signup().await);
    app.hold(&alice.token, seats[0]).await;
    error_body(app.hold(&bob.token, seats[0]).await, StatusCode::CONFLICT, "SEAT_ALREADY_LOCKED")
        .await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(app.seat_statuses(concert).await[&seats[0]], "AVAILABLE");
    assert_eq!(app.hold(&bob.token, seats[0]).await.status(), StatusCode::OK);
    // Alice's expired hold does not count against her any more, and she cannot check it out.
    error_body(
        app.checkout(&alice.token, &seats).await,
        StatusCode::NOT_FOUND,
        "SEAT_NOT_SELECTED",
    )
    .await;
}

#[tokio::test]
async fn holding_needs_a_signed_in_fan() {
    let app = spawn_app().await;
    let (_, _, seats) = app.concert_on_sale(1).await;
    let res = app
        .request(reqwest::Method::POST, &format!("/api/seat/{}/select", seats[0]), None, None)
        .await;
    error_body(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
}

/// Issue 16: the moment a sale opens. 64 fans send their first holds at once to a concert whose
/// state is not in Redis, on an instance that has never seen it: every one is answered (no 5xx,
/// no retry-needed), and the seat states are read from the database once for all of them.
#[tokio::test]
async fn a_burst_of_first_holds_on_a_cold_concert_loads_its_state_once_and_all_succeed() {
    let app = spawn_app().await;
    let (_, concert, seats) = app.concert_on_sale(64).await;
    let fans = app.bulk_users(64).await;
    // Cold: nothing of the concert in Redis, and a fresh instance with empty in-memory caches.
    app.flush_redis().await;
    let cold = app.another_instance().await;
    let availability = cold.state.availability.clone();
    let (loads, lookups) = (availability.state_loads(), availability.catalogs().lookups());

    let answers = futures::future::join_all(
        fans.iter().zip(&seats).map(|((_, token), seat)| cold.hold(token, *seat)),
    )
    .await;
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for res in answers {
        *statuses.entry(res.status().as_u16()).or_default() += 1;
    }
    assert_eq!(statuses, [(200, 64)].into(), "answers by status");
    assert_eq!(availability.state_loads() - loads, 1, "seat-state loads for the burst");
    // The states, and the catalogue at the version that load created.
    let lookups = availability.catalogs().lookups() - lookups;
    assert!((1..=2).contains(&lookups), "{lookups} database look-ups for 64 first holds");
    assert_eq!(availability.catalogs().loads_in_flight(), 0, "no lock outlives the burst");
    let held = cold.seat_statuses(concert).await;
    assert!(seats.iter().all(|s| held[s] == "HELD"), "every seat held: {held:?}");
}

/// The per-user hold list expires with its last member (the single-seat script moves the
/// expiry with `PEXPIREAT … GT` instead of reading the last member back).
#[tokio::test]
async fn a_fans_hold_list_expires_with_the_last_hold_and_never_earlier() {
    let app = spawn_app_with(&[("HOLD_TTL_SECS", "30")]).await;
    let (_, concert, seats) = app.concert_on_sale(3).await;
    let fan = app.signup().await;
    let user = app.user_id(&fan.email).await;
    let key = app.state.holds.user_key(concert, user, "holds");
    let pexpiretime = |key: String| {
        let app = &app;
        async move {
            let mut conn = app.state.redis.conn().await.unwrap();
            let at: i64 = deadpool_redis::redis::cmd("PEXPIRETIME")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .unwrap();
            let last: Vec<(String, i64)> = deadpool_redis::redis::cmd("ZRANGE")
                .arg(&key)
                .arg(-1)
                .arg(-1)
                .arg("WITHSCORES")
                .query_async(&mut conn)
                .await
                .unwrap();
            (at, last.first().map(|(_, score)| *score))
        }
    };

    assert_eq!(app.hold(&fan.token, seats[0]).await.status(), StatusCode::OK);
    let (at, last) = pexpiretime(key.clone()).await;
    assert_eq!(Some(at), last, "a new list expires with its one hold");

    // A later hold moves the expiry to it.
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(app.hold(&fan.token, seats[1]).await.status(), StatusCode::OK);
    let (later, last) = pexpiretime(key.clone()).await;
    assert_eq!(Some(later), last, "the expiry follows the last hold");
    assert!(later > at);

    // A member that ends later than a new hold (a seat in an unpaid reservation, kept until
    // its expiry plus grace) is never cut short by that hold.
    let mut conn = app.state.redis.conn().await.unwrap();
    let far = later + 3_600_000;
    let _: () = deadpool_redis::redis::cmd("ZADD")
        .arg(&key)
        .arg(far)
        .arg("999999")
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: () = deadpool_redis::redis::cmd("PEXPIREAT")
        .arg(&key)
        .arg(far)
        .query_async(&mut conn)
        .await
        .unwrap();
    drop(conn);
    assert_eq!(app.hold(&fan.token, seats[2]).await.status(), StatusCode::OK);
    let (at, _) = pexpiretime(key).await;
    assert_eq!(at, far, "not moved earlier");
}

/// Issue 16: the sale-opening warmer. A concert whose sale opens within
/// `SALE_WARM_AHEAD_SECS` is loaded into Redis before any hold, so the first burst of 64
/// concurrent holds when the sale opens reads nothing from the database, and all succeed.
#[tokio::test]
async fn a_concert_warmed_before_its_sale_opens_answers_its_first_burst_without_a_load() {
    let app = spawn_app().await;
    let (_, concert, seats) = app.concert_on_sale(64).await;
    let fans = app.bulk_users(64).await;
    // The sale opens in two seconds; nothing of the concert in Redis, a fresh instance.
    let opens = chrono::Utc::now() + chrono::Duration::seconds(2);
    sqlx::query("update concert set open_time = $2 where id = $1")
        .bind(concert)
        .bind(opens)
        .execute(&app.db)
        .await
        .unwrap();
    app.flush_redis().await;
    let cold = app.another_instance().await;
    let availability = cold.state.availability.clone();
    let loads = availability.state_loads();

    let seen = ticketing::workers::warm::execute_once(&cold.state).await.unwrap();
    assert!(seen >= 1, "the warmer saw the opening concert");
    assert_eq!(availability.state_loads() - loads, 1, "the warmer loaded the state once");
    // A second round (another instance's, or the next tick) loads nothing more.
    ticketing::workers::warm::execute_once(&cold.state).await.unwrap();
    assert_eq!(availability.state_loads() - loads, 1, "a second warm round loads nothing");

    let wait = (opens - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(200)).await;
    let warmed = availability.state_loads();
    let catalogs = availability.catalogs();
    let (lookups, seat_lookups) = (catalogs.lookups(), catalogs.seat_lookups());
    let answers = futures::future::join_all(
        fans.iter().zip(&seats).map(|((_, token), seat)| cold.hold(token, *seat)),
    )
    .await;
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for res in answers {
        *statuses.entry(res.status().as_u16()).or_default() += 1;
    }
    assert_eq!(statuses, [(200, 64)].into(), "answers by status");
    assert_eq!(availability.state_loads() - warmed, 0, "seat-state loads for the burst");
    assert_eq!(catalogs.lookups() - lookups, 0, "catalogue loads for the burst");
    assert_eq!(catalogs.seat_lookups() - seat_lookups, 0, "seat-to-concert queries for the burst");
}
