//! The waiting room: fair order, atomic admission across instances, live positions over SSE.

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, concert_body, error_body, spawn_app, spawn_app_with, wait_until};

/// A concert on sale with the waiting room on; returns (admin, concert, seats).
async fn queued_concert(app: &TestApp, seats: usize) -> (String, i64, Vec<i64>) {
    let admin = app.admin_token().await;
    let mut body = concert_body("queued");
    body["queueEnabled"] = json!(true);
    let concert = app.post("/api/concert", Some(&admin), body).await.json::<Value>().await.unwrap()
        ["id"]
        .as_i64()
        .unwrap();
    let seats = app
        .create_seats(&admin, concert, seats)
        .await
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    (admin, concert, seats)
}

async fn join(app: &TestApp, token: &str, concert: i64) -> Value {
    let res = app.post("/api/queue", Some(token), json!({"concertId": concert})).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

async fn admitted(app: &TestApp, concert: i64) -> Vec<i64> {
    let mut conn = app.state.redis.conn().await.unwrap();
    deadpool_redis::redis::cmd("ZRANGE")
        .arg(ticketing::clients::queue::queue_key(&app.state.redis, concert, "active"))
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_thousand_fans_join_at_once_and_get_positions_one_to_a_thousand() {
    // No admission during the test: the sale opens only in the queue's future.
    let app = Arc::new(spawn_app_with(&[("QUEUE_MAX_ACTIVE", "0")]).await);
    let (_, concert, _) = queued_concert(&app, 1).await;
    let fans = app.bulk_users(1000).await;
    let tasks = fans.iter().map(|(id, token)| {
        let (app, token, id) = (app.clone(), token.clone(), *id);
        tokio::spawn(async move { (id, join(&app, &token, concert).await) })
    });
    let results: Vec<(i64, Value)> =
        futures::future::join_all(tasks).await.into_iter().map(Result::unwrap).collect();
    let mut positions: Vec<u64> =
        results.iter().map(|(_, b)| b["position"].as_u64().unwrap()).collect();
    assert!(results.iter().all(|(_, b)| b["register"] == true));
    positions.sort_unstable();
    assert_eq!(positions, (1..=1000).collect::<Vec<u64>>(), "exactly 1..1000, no duplicates");

    // Joining again is idempotent and reports the same place.
    let (id, token) = &fans[500];
    let first = results.iter().find(|(u, _)| u == id).unwrap().1["position"].clone();
    let again = join(&app, token, concert).await;
    assert_eq!(again["register"], false);
    assert_eq!(again["position"], first);
    let status: Value =
        app.get(&format!("/api/queue/{concert}/status"), Some(token)).await.json().await.unwrap();
    assert_eq!(status["position"], first);
    assert_eq!(status["totalQueue"], 1000);
    assert_eq!(status["canEnter"], false);
}

#[tokio::test]
async fn admission_follows_join_order_and_respects_the_cap() {
    let app = spawn_app_with(&[
        ("QUEUE_TICK_MS", "100"),
        ("QUEUE_ADMIT_PER_TICK", "4"),
        ("QUEUE_MAX_ACTIVE", "6"),
    ])
    .await;
    let (admin, concert, _) = queued_concert(&app, 1).await;
    let fans = app.bulk_users(15).await;
    for (_, token) in &fans {
        join(&app, token, concert).await;
    }
    let order: Vec<i64> = fans.iter().map(|(id, _)| *id).collect();
    wait_until("six admitted", || async { admitted(&app, concert).await.len() == 6 }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let first: HashSet<i64> = admitted(&app, concert).await.into_iter().collect();
    assert_eq!(
        first,
        order[..6].iter().copied().collect(),
        "the first six, and no more than the cap"
    );

    // Two finish (leave): the next two in line get in.
    for (_, token) in &fans[..2] {
        assert_eq!(
            app.delete(&format!("/api/queue/{concert}"), Some(token)).await.status(),
            StatusCode::NO_CONTENT
        );
    }
    wait_until("two more admitted", || async { admitted(&app, concert).await.contains(&order[7]) })
        .await;
    let now: HashSet<i64> = admitted(&app, concert).await.into_iter().collect();
    assert_eq!(now, order[2..8].iter().copied().collect());
    let status_path = format!("/api/queue/{concert}/status");
    let status: Value = app.get(&status_path, Some(&fans[8].1)).await.json().await.unwrap();
    assert_eq!(status["position"], 1, "next in line");
    assert_eq!(status["totalQueue"], 7);
    // Admissions were measured between ticks, so the wait becomes an estimate from that rate.
    wait_until("an estimate from the measured rate", || async {
        let status: Value = app.get(&status_path, Some(&fans[8].1)).await.json().await.unwrap();
        status["estimatedWaitTime"].is_u64()
    })
    .await;

    // Organisers see the line in numbers.
    let stats_path = format!("/api/queue/{concert}/stats");
    let stats: Value = app.get(&stats_path, Some(&admin)).await.json().await.unwrap();
    assert_eq!(stats["concertId"], concert);
    assert_eq!((stats["waiting"].as_u64(), stats["admitted"].as_u64()), (Some(7), Some(6)));
    assert_eq!(stats["admittedTotal"].as_u64(), Some(8));
    assert!(stats["admissionsPerSecond"].as_f64().is_some_and(|r| r > 0.0), "{stats}");
    error_body(app.get(&stats_path, Some(&fans[8].1)).await, StatusCode::FORBIDDEN, "FORBIDDEN")
        .await;
    error_body(
        app.get("/api/queue/987654321/stats", Some(&admin)).await,
        StatusCode::NOT_FOUND,
        "CONCERT_NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn two_instances_admitting_together_never_exceed_the_cap() {
    let settings =
        [("QUEUE_TICK_MS", "50"), ("QUEUE_ADMIT_PER_TICK", "7"), ("QUEUE_MAX_ACTIVE", "40")];
    let app = spawn_app_with(&settings).await;
    let second = app.another_instance().await;
    let (_, concert, _) = queued_concert(&app, 1).await;
    let fans = app.bulk_users(120).await;
    for (i, (_, token)) in fans.iter().enumerate() {
        // Fans arrive through either instance.
        let instance = if i % 2 == 0 { &app } else { &second };
        join(instance, token, concert).await;
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut max_seen = 0;
    while Instant::now() < deadline {
        max_seen = max_seen.max(admitted(&app, concert).await.len());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(max_seen, 40, "filled to the cap and never beyond");
    let in_order: HashSet<i64> = fans[..40].iter().map(|(id, _)| *id).collect();
    assert_eq!(
        admitted(&app, concert).await.into_iter().collect::<HashSet<_>>(),
        in_order,
        "nobody skipped"
    );
}

#[tokio::test]
async fn an_sse_client_sees_its_place_fall_then_queue_complete_and_can_then_hold() {
    let app = spawn_app_with(&[
        ("QUEUE_TICK_MS", "150"),
        ("QUEUE_ADMIT_PER_TICK", "1"),
        ("QUEUE_MAX_ACTIVE", "1"),
    ])
    .await;
    let (_, concert, seats) = queued_concert(&app, 2).await;
    // The only admission slot is taken first, so places cannot move before the stream opens.
    let (blocker, blocker_token) = app.bulk_users(1).await.remove(0);
    join(&app, &blocker_token, concert).await;
    wait_until("the blocker admitted", || async { admitted(&app, concert).await == vec![blocker] })
        .await;
    let fans = app.bulk_users(4).await;
    let (ahead1, ahead2, me, behind) = (&fans[0], &fans[1], &fans[2], &fans[3]);
    for (_, token) in &fans {
        join(&app, token, concert).await;
    }
    // EventSource style: a stream ticket in the query string.
    let ticket: Value = app
        .post(&format!("/api/queue/{concert}/stream-ticket"), Some(&me.1), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let ticket = ticket["ticket"].as_str().unwrap();
    let res = app
        .client
        .get(app.url(&format!("/api/queue/{concert}/stream?ticket={ticket}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    assert_eq!(res.headers()["x-accel-buffering"], "no", "proxies pass the stream on unbuffered");
    let mut bytes = res.bytes_stream();
    let mut buffer = String::new();
    let mut events: Vec<(String, Value)> = Vec::new();
    // Whoever is admitted finishes buying and leaves; the line moves one by one.
    let ahead = [(blocker, blocker_token.clone()), ahead1.clone(), ahead2.clone()];
    let mut released = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !events.iter().any(|(name, _)| name == "queue-complete") {
        assert!(Instant::now() < deadline, "queue-complete within 20 s: {events:?}");
        let active = admitted(&app, concert).await;
        // Release the next one only once the stream showed the current place.
        let shown = events.last().and_then(|(_, e)| e["position"].as_u64());
        if released < ahead.len()
            && active.contains(&ahead[released].0)
            && shown == Some(3 - released as u64)
        {
            app.delete(&format!("/api/queue/{concert}"), Some(&ahead[released].1)).await;
            released += 1;
        }
        if let Ok(Some(chunk)) =
            tokio::time::timeout(Duration::from_millis(100), bytes.next()).await
        {
            buffer.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let name = block.lines().find_map(|l| l.strip_prefix("event:")).map(str::trim);
                let data = block.lines().find_map(|l| l.strip_prefix("data:")).map(str::trim);
                if let (Some(name), Some(data)) = (name, data) {
                    events.push((name.to_owned(), serde_json::from_str(data).unwrap()));
                }
            }
        }
    }
    let positions: Vec<u64> = events
        .iter()
        .filter(|(n, _)| n == "queue-update")
        .map(|(_, e)| e["position"].as_u64().unwrap())
        .collect();
    assert_eq!(positions, [3, 2, 1], "starts at its place and falls one by one: {events:?}");
    let complete = &events.last().unwrap().1;
    assert_eq!(events.last().unwrap().0, "queue-complete");
    assert_eq!(complete["canEnter"], true);
    assert_eq!(complete["position"], 0);
    assert_eq!(complete["userId"], me.0);
    for field in ["concertId", "totalQueue", "estimatedWaitTime", "timestamp"] {
        assert!(!complete[field].is_null(), "{field} in {complete}");
    }
    // The stream ends after queue-complete.
    let rest =
        tokio::time::timeout(Duration::from_secs(2), bytes.next()).await.expect("stream closed");
    assert!(rest.is_none());

    assert_eq!(app.hold(&me.1, seats[0]).await.status(), StatusCode::OK, "admitted: may hold");
    error_body(app.hold(&behind.1, seats[1]).await, StatusCode::FORBIDDEN, "QUEUE_NOT_ADMITTED")
        .await;
    let checkout = app
        .post(
            "/api/payment",
            Some(&behind.1),
            json!({"seatId": seats[0], "paymentMethod": "CREDIT_CARD"}),
        )
        .await;
    assert!(
        checkout.status() == StatusCode::FORBIDDEN || checkout.status() == StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn checkout_needs_an_admission_too() {
    let app = spawn_app_with(&[("QUEUE_TICK_MS", "50"), ("QUEUE_ACTIVE_TTL_SECS", "600")]).await;
    let (_, concert, seats) = queued_concert(&app, 1).await;
    let (fan_id, token) = app.bulk_users(1).await.remove(0);
    join(&app, &token, concert).await;
    wait_until("admitted", || async { admitted(&app, concert).await.contains(&fan_id) }).await;
    assert_eq!(app.hold(&token, seats[0]).await.status(), StatusCode::OK);
    // The admission is taken away (e.g. it expired) before checkout.
    app.delete(&format!("/api/queue/{concert}"), Some(&token)).await;
    error_body(app.checkout(&token, &seats).await, StatusCode::FORBIDDEN, "QUEUE_NOT_ADMITTED")
        .await;
}

#[tokio::test]
async fn without_a_waiting_room_joining_says_seats_are_available() {
    let app = spawn_app().await;
    let (_, concert, seats) = app.concert_on_sale(1).await;
    let fan = app.signup().await;
    let body = join(&app, &fan.token, concert).await;
    assert_eq!(body["register"], false);
    assert_eq!(body["position"], 0);
    assert!(body["message"].as_str().unwrap().contains("좌석"));
    assert_eq!(
        app.hold(&fan.token, seats[0]).await.status(),
        StatusCode::OK,
        "no admission needed"
    );
    // Without a waiting room everyone is in: the status says so, as the join answer did.
    let res = app.get(&format!("/api/queue/{concert}/status"), Some(&fan.token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let status: Value = res.json().await.unwrap();
    assert_eq!((status["position"].as_i64(), status["canEnter"].as_bool()), (Some(0), Some(true)));
    let res = app.post("/api/queue", Some(&fan.token), json!({"concertId": 987654})).await;
    error_body(res, StatusCode::NOT_FOUND, "CONCERT_NOT_FOUND").await;
    let res = app.post("/api/queue", Some(&fan.token), json!({})).await;
    error_body(res, StatusCode::BAD_REQUEST, "BAD_REQUEST").await;
}

#[tokio::test]
async fn a_fan_who_is_gone_past_the_grace_period_loses_the_place() {
    let app = spawn_app_with(&[
        ("QUEUE_PRESENCE_GRACE_SECS", "1"),
        ("QUEUE_TICK_MS", "3600000"),
        ("QUEUE_MAX_ACTIVE", "10"),
    ])
    .await;
    let (_, concert, _) = queued_concert(&app, 1).await;
    let fans = app.bulk_users(2).await;
    for (_, token) in &fans {
        join(&app, token, concert).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The second fan polls (a sign of life); the first never came back.
    app.get(&format!("/api/queue/{concert}/status"), Some(&fans[1].1)).await;
    // Let the admission tick run once now.
    let mut conn = app.state.redis.conn().await.unwrap();
    let _: u64 = deadpool_redis::redis::cmd("DEL")
        .arg(ticketing::clients::queue::queue_key(&app.state.redis, concert, "tick"))
        .query_async(&mut conn)
        .await
        .unwrap();
    ticketing::workers::admission::execute_once(&app.state).await.unwrap();
    assert_eq!(admitted(&app, concert).await, vec![fans[1].0]);
    error_body(
        app.get(&format!("/api/queue/{concert}/status"), Some(&fans[0].1)).await,
        StatusCode::NOT_FOUND,
        "QUEUE_NOT_JOINED",
    )
    .await;
}

#[tokio::test]
async fn the_stream_needs_a_token_or_ticket_and_a_place() {
    let app = spawn_app().await;
    let (_, concert, _) = queued_concert(&app, 1).await;
    let fan = app.signup().await;
    error_body(
        app.get(&format!("/api/queue/{concert}/stream"), None).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    error_body(
        app.get(&format!("/api/queue/{concert}/stream?ticket=nope"), None).await,
        StatusCode::UNAUTHORIZED,
        "INVALID_STREAM_TICKET",
    )
    .await;
    error_body(
        app.get(&format!("/api/queue/{concert}/stream"), Some(&fan.token)).await,
        StatusCode::NOT_FOUND,
        "QUEUE_NOT_JOINED",
    )
    .await;
}

#[tokio::test]
async fn open_streams_end_cleanly_when_the_service_shuts_down() {
    let app = spawn_app_with(&[("QUEUE_MAX_ACTIVE", "0")]).await;
    let (_, concert, _) = queued_concert(&app, 1).await;
    let fan = app.signup().await;
    join(&app, &fan.token, concert).await;
    let res = app.get(&format!("/api/queue/{concert}/stream"), Some(&fan.token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let mut bytes = res.bytes_stream();
    let first =
        tokio::time::timeout(Duration::from_secs(5), bytes.next()).await.unwrap().unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("queue-update"));
    app.stop();
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(chunk) = bytes.next().await {
            if chunk.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(end.is_ok(), "the stream ended within 5 s of the shutdown");
}
