//! The live seat map: availability (every seat's state at a version), its stream of changes,
//! and the seat map rendered from them. Followers of the stream must always end where the
//! availability endpoint and the database are.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use base64::Engine as _;
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::{sync::mpsc, task::JoinHandle};

use crate::helpers::{TestApp, error_body, event, spawn_app, spawn_app_with, wait_until};

const NAMES: [&str; 4] = ["AVAILABLE", "HELD", "RESERVED", "SOLD"];

/// The states of an availability answer, in layout order.
fn decode(availability: &Value) -> Vec<&'static str> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(availability["states"].as_str().unwrap())
        .unwrap();
    let count = availability["count"].as_u64().unwrap() as usize;
    assert_eq!(bytes.len(), count.div_ceil(4), "2 bits a seat");
    (0..count).map(|i| NAMES[((bytes[i / 4] >> (6 - 2 * (i % 4))) & 3) as usize]).collect()
}

async fn layout_ids(app: &TestApp, concert: i64) -> Vec<i64> {
    let layout: Value =
        app.get(&format!("/api/seat/concert/{concert}/layout"), None).await.json().await.unwrap();
    layout["ids"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect()
}

async fn availability(app: &TestApp, concert: i64) -> Value {
    let res = app.get(&format!("/api/seat/concert/{concert}/availability"), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

/// Each seat's state by id, from the availability endpoint.
async fn states(app: &TestApp, concert: i64) -> HashMap<i64, String> {
    let ids = layout_ids(app, concert).await;
    let a = availability(app, concert).await;
    ids.into_iter().zip(decode(&a)).map(|(id, s)| (id, s.to_owned())).collect()
}

/// Each live seat's state as the database (reservations) and Redis (holds) say.
async fn truth(app: &TestApp, concert: i64) -> HashMap<i64, String> {
    let rows: Vec<(i64, Option<String>)> = sqlx::query_as(
        "select s.id, r.status from seat s
           left join reservation_seat rs on rs.seat_id = s.id and rs.active
           left join reservation r on r.id = rs.reservation_id
          where s.concert_id = $1 and s.deleted_at is null",
    )
    .bind(concert)
    .fetch_all(&app.db)
    .await
    .unwrap();
    let mut out = HashMap::new();
    for (seat, status) in rows {
        let state = match status.as_deref() {
            Some("CONFIRMED") => "SOLD",
            Some(_) => "RESERVED",
            None if app.state.holds.holder(concert, seat).await.unwrap().is_some() => "HELD",
            None => "AVAILABLE",
        };
        out.insert(seat, state.to_owned());
    }
    out
}

/// One server-sent event.
#[derive(Debug, Clone)]
struct SseEvent {
    name: String,
    id: Option<String>,
    data: Value,
}

/// An open stream, read by a task; dropping it (or `close`) disconnects.
struct Stream {
    rx: mpsc::UnboundedReceiver<SseEvent>,
    task: JoinHandle<()>,
}

impl Stream {
    async fn open(app: &TestApp, concert: i64, last_event_id: Option<u64>) -> Stream {
        let mut req =
            app.client.get(app.url(&format!("/api/seat/concert/{concert}/availability/stream")));
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id.to_string());
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        assert_eq!(
            res.headers()["x-accel-buffering"],
            "no",
            "proxies pass the stream on unbuffered"
        );
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut bytes = res.bytes_stream();
            let mut buffer = String::new();
            while let Some(Ok(chunk)) = bytes.next().await {
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let block: String = buffer.drain(..end + 2).collect();
                    let field = |name: &str| {
                        block
                            .lines()
                            .find_map(|l| l.strip_prefix(name))
                            .map(|v| v.trim().to_owned())
                    };
                    if let (Some(name), Some(data)) = (field("event:"), field("data:")) {
                        let data = serde_json::from_str(&data).unwrap();
                        if tx.send(SseEvent { name, id: field("id:"), data }).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Stream { rx, task }
    }

    async fn next(&mut self) -> SseEvent {
        tokio::time::timeout(Duration::from_secs(10), self.rx.recv())
            .await
            .expect("an event within 10 s")
            .expect("the stream is open")
    }

    fn close(self) {
        self.task.abort();
    }
}

/// A client's copy of the seat states, kept by applying what the stream sends.
struct Mirror {
    stream: Stream,
    ids: Vec<i64>,
    index: HashMap<i64, usize>,
    states: Vec<String>,
    version: u64,
    layouts: usize,
}

impl Mirror {
    async fn follow(app: &TestApp, concert: i64) -> Mirror {
        let mut mirror = Mirror {
            stream: Stream::open(app, concert, None).await,
            ids: Vec::new(),
            index: HashMap::new(),
            states: Vec::new(),
            version: 0,
            layouts: 0,
        };
        mirror.set_layout(layout_ids(app, concert).await);
        let first = mirror.stream.next().await;
        assert_eq!(first.name, "snapshot", "the first event");
        mirror.apply(first);
        mirror
    }

    fn set_layout(&mut self, ids: Vec<i64>) {
        self.index = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        self.ids = ids;
    }

    fn apply(&mut self, e: SseEvent) {
        match e.name.as_str() {
            "snapshot" => {
                assert_eq!(e.data["count"].as_u64().unwrap() as usize, self.ids.len());
                self.states = decode(&e.data).into_iter().map(str::to_owned).collect();
                self.version = e.data["version"].as_u64().unwrap();
            }
            "delta" => {
                let from = e.data["fromVersion"].as_u64().unwrap();
                assert_eq!(from, self.version, "deltas follow one another: {:?}", e.data);
                for change in e.data["changes"].as_array().unwrap() {
                    let seat = change[0].as_i64().unwrap();
                    let state = change[1].as_str().unwrap().to_owned();
                    self.states[self.index[&seat]] = state;
                }
                self.version = e.data["toVersion"].as_u64().unwrap();
            }
            "layout" => self.layouts += 1,
            other => panic!("unexpected event {other}"),
        }
        if e.name != "layout" {
            assert_eq!(e.id, Some(self.version.to_string()), "the id is the version");
        }
    }

    /// Applies events until the mirror reaches `version` (a batch may take it further).
    async fn reach(&mut self, version: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.version < version {
            assert!(Instant::now() < deadline, "reached {} of {version}", self.version);
            let e = self.stream.next().await;
            self.apply(e);
        }
    }

    fn by_seat(&self) -> HashMap<i64, String> {
        self.ids.iter().copied().zip(self.states.iter().cloned()).collect()
    }
}

#[tokio::test]
async fn availability_is_every_seat_state_in_layout_order_at_a_version_with_etags() {
    let app = spawn_app().await;
    let (_, concert, seats) = app.concert_on_sale(6).await;
    let (alice, bob) = (app.signup().await, app.signup().await);
    assert_eq!(app.hold(&alice.token, seats[0]).await.status(), StatusCode::OK);
    app.start_checkout(&alice.token, &seats[1..2]).await;
    let paid = app.start_checkout(&bob.token, &seats[2..3]).await;
    app.webhook(&event(&paid.transaction, "SUCCESS", paid.amount)).await;

    let path = format!("/api/seat/concert/{concert}/availability");
    let res = app.get(&path, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-cache");
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    let layout: Value =
        app.get(&format!("/api/seat/concert/{concert}/layout"), None).await.json().await.unwrap();
    assert_eq!(body["concertId"], concert);
    assert_eq!(body["count"], 6);
    assert_eq!(body["encoding"], "2bit-base64");
    assert_eq!(body["layoutVersion"], layout["version"]);
    let ids = layout_ids(&app, concert).await;
    let expected: HashMap<i64, &str> = [
        (seats[0], "HELD"),
        (seats[1], "RESERVED"),
        (seats[2], "SOLD"),
        (seats[3], "AVAILABLE"),
        (seats[4], "AVAILABLE"),
        (seats[5], "AVAILABLE"),
    ]
    .into();
    let decoded = decode(&body);
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(decoded[i], expected[id], "seat {id}");
    }
    // The seat map says the same, and so do the database and Redis.
    let map = app.seat_statuses(concert).await;
    let truth = truth(&app, concert).await;
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(map[id], decoded[i], "seat map, seat {id}");
        assert_eq!(truth[id], decoded[i], "database and Redis, seat {id}");
    }

    // 304 while nothing changes; one change is one version.
    let res = app.request_with(reqwest::Method::GET, &path, &[("if-none-match", &etag)]).await;
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(res.headers()["etag"].to_str().unwrap(), etag);
    let version = body["version"].as_u64().unwrap();
    assert_eq!(app.hold(&bob.token, seats[3]).await.status(), StatusCode::OK);
    let res = app.request_with(reqwest::Method::GET, &path, &[("if-none-match", &etag)]).await;
    assert_eq!(res.status(), StatusCode::OK, "the held seat changed it");
    let after: Value = res.json().await.unwrap();
    assert_eq!(after["version"].as_u64().unwrap(), version + 1);
    // A refused hold changes nothing.
    error_body(app.hold(&alice.token, seats[3]).await, StatusCode::CONFLICT, "SEAT_ALREADY_LOCKED")
        .await;
    assert_eq!(availability(&app, concert).await["version"].as_u64().unwrap(), version + 1);

    // The seat map has an ETag of its own, and 304 too.
    let map_path = format!("/api/seat/concert/{concert}/seat-map");
    let res = app.get(&map_path, None).await;
    let map_etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let res =
        app.request_with(reqwest::Method::GET, &map_path, &[("if-none-match", &map_etag)]).await;
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);

    error_body(
        app.get("/api/seat/concert/987654321/availability", None).await,
        StatusCode::NOT_FOUND,
        "CONCERT_NOT_FOUND",
    )
    .await;
    error_body(
        app.get("/api/seat/concert/987654321/availability/stream", None).await,
        StatusCode::NOT_FOUND,
        "CONCERT_NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn availability_needs_no_database_per_request() {
    let app = spawn_app().await;
    let (_, concert, seats) = app.concert_on_sale(3).await;
    let fan = app.signup().await;
    // Warm: the concert's states are in Redis and its seats in this instance's memory.
    assert_eq!(app.hold(&fan.token, seats[0]).await.status(), StatusCode::OK);
    let before = availability(&app, concert).await;

    // The database refuses this app from now on.
    let mut admin = app.maintenance().await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        r#"alter database "{}" allow_connections false"#,
        app.db_name
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    sqlx::query("select pg_terminate_backend(pid) from pg_stat_activity where datname = $1")
        .bind(&app.db_name)
        .execute(&mut admin)
        .await
        .unwrap();

    for _ in 0..20 {
        assert_eq!(availability(&app, concert).await, before);
    }
    // A release (Redis only) is still seen at once, at the next version.
    let res = app.delete(&format!("/api/seat/{}/select", seats[0]), Some(&fan.token)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let after = availability(&app, concert).await;
    assert_eq!(after["version"].as_u64(), before["version"].as_u64().map(|v| v + 1));
    assert!(decode(&after).iter().all(|s| *s == "AVAILABLE"));

    sqlx::query(sqlx::AssertSqlSafe(format!(
        r#"alter database "{}" allow_connections true"#,
        app.db_name
    )))
    .execute(&mut admin)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_50000_seat_availability_is_at_most_20_kb() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let concert = app.create_concert(&admin).await["id"].as_i64().unwrap();
    for block in 0..10 {
        let seats: Vec<Value> = (0..5000)
            .map(|i| {
                json!({"concertId": concert, "section": format!("S{block}"),
                    "row": (i / 50 + 1).to_string(), "number": (i % 50 + 1).to_string(),
                    "grade": "R", "price": 132000})
            })
            .collect();
        let res = app.post("/api/seat/batch", Some(&admin), Value::Array(seats)).await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let ids = layout_ids(&app, concert).await;
    let fan = app.signup().await;
    assert_eq!(app.hold(&fan.token, ids[49_999]).await.status(), StatusCode::OK);
    let res = app.get(&format!("/api/seat/concert/{concert}/availability"), None).await;
    let bytes = res.bytes().await.unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["count"], 50_000);
    assert!(bytes.len() <= 20_000, "{} bytes for 50,000 seats", bytes.len());
    let states = decode(&body);
    assert_eq!(states[49_999], "HELD");
    assert_eq!(states.iter().filter(|s| **s == "AVAILABLE").count(), 49_999);
    println!("availability of 50,000 seats: {} bytes", bytes.len());
}

/// Waits for the next delta and returns its changes.
async fn next_changes(mirror: &mut Mirror) -> Vec<(i64, String)> {
    let e = mirror.stream.next().await;
    assert_eq!(e.name, "delta", "{e:?}");
    let changes = e.data["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c[0].as_i64().unwrap(), c[1].as_str().unwrap().to_owned()))
        .collect();
    mirror.apply(e);
    changes
}

#[tokio::test]
async fn the_stream_sends_every_kind_of_change_and_hold_expiry_within_a_sweep() {
    let app = spawn_app_with(&[
        ("HOLD_TTL_SECS", "1"),
        ("AVAILABILITY_SWEEP_MS", "300"),
        ("RESERVATION_TTL_SECS", "3"),
        ("EXPIRY_SWEEP_INTERVAL_MS", "300"),
    ])
    .await;
    let (admin, concert, seats) = app.concert_on_sale(5).await;
    let (alice, bob) = (app.signup().await, app.signup().await);
    let mut mirror = Mirror::follow(&app, concert).await;
    assert!(mirror.states.iter().all(|s| s == "AVAILABLE"));
    let s = |i: usize, state: &str| (seats[i], state.to_owned());

    app.hold(&alice.token, seats[0]).await;
    assert_eq!(next_changes(&mut mirror).await, [s(0, "HELD")], "hold");
    app.delete(&format!("/api/seat/{}/select", seats[0]), Some(&alice.token)).await;
    assert_eq!(next_changes(&mut mirror).await, [s(0, "AVAILABLE")], "release");

    // Nobody reads: only the sweeper can notice that the hold ran out.
    app.hold(&alice.token, seats[1]).await;
    assert_eq!(next_changes(&mut mirror).await, [s(1, "HELD")]);
    let held = Instant::now();
    assert_eq!(next_changes(&mut mirror).await, [s(1, "AVAILABLE")], "hold expiry");
    let seen = held.elapsed();
    // TTL 1 s, one sweep interval (0.3 s), one batch (0.25 s), and slack for a busy machine.
    assert!(seen < Duration::from_millis(2500), "expiry seen after {seen:?}");

    // Checkout, payment confirmed, cancellation.
    let paid = app.start_checkout(&bob.token, &seats[2..3]).await;
    let mut seen = Vec::new();
    while seen.last() != Some(&s(2, "RESERVED")) {
        seen.extend(next_changes(&mut mirror).await);
    }
    assert_eq!(seen, [s(2, "HELD"), s(2, "RESERVED")], "hold, then checkout");
    app.webhook(&event(&paid.transaction, "SUCCESS", paid.amount)).await;
    assert_eq!(next_changes(&mut mirror).await, [s(2, "SOLD")], "payment confirmed");
    let res = app
        .post(
            "/api/reservations/cancel",
            Some(&bob.token),
            json!({"reservationId": paid.reservation, "cancelReason": "change of plans"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(next_changes(&mut mirror).await, [s(2, "AVAILABLE")], "cancellation");

    // A failed payment.
    let failed = app.start_checkout(&alice.token, &seats[3..4]).await;
    let mut seen = Vec::new();
    while seen.last() != Some(&s(3, "RESERVED")) {
        seen.extend(next_changes(&mut mirror).await);
    }
    app.webhook(&event(&failed.transaction, "FAILED", failed.amount)).await;
    assert_eq!(next_changes(&mut mirror).await, [s(3, "AVAILABLE")], "payment failed");

    // An unpaid checkout runs out.
    app.start_checkout(&alice.token, &seats[4..5]).await;
    let mut seen = Vec::new();
    while seen.last() != Some(&s(4, "RESERVED")) {
        seen.extend(next_changes(&mut mirror).await);
    }
    assert_eq!(next_changes(&mut mirror).await, [s(4, "AVAILABLE")], "reservation expiry");

    // An admin adds a seat: `layout`, then the states of the new layout.
    let added = app.create_seats_numbered(&admin, concert, 99).await;
    let e = mirror.stream.next().await;
    assert_eq!(e.name, "layout", "{e:?}");
    let layout: Value =
        app.get(&format!("/api/seat/concert/{concert}/layout"), None).await.json().await.unwrap();
    assert_eq!(e.data["layoutVersion"], layout["version"]);
    mirror.set_layout(layout_ids(&app, concert).await);
    let e = mirror.stream.next().await;
    assert_eq!(e.name, "snapshot");
    mirror.apply(e);
    assert_eq!(mirror.by_seat()[&added], "AVAILABLE");
    assert_eq!(mirror.by_seat(), states(&app, concert).await);

    // The concert is deleted: the stream ends, and a new one is refused.
    let res = app.delete(&format!("/api/concert/{concert}"), Some(&admin)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let end = tokio::time::timeout(Duration::from_secs(5), mirror.stream.rx.recv()).await;
    assert!(matches!(end, Ok(None)), "the stream ended: {end:?}");
    let path = format!("/api/seat/concert/{concert}/availability/stream");
    error_body(app.get(&path, None).await, StatusCode::NOT_FOUND, "CONCERT_NOT_FOUND").await;
}

/// A small deterministic random source (the test is the same on every run).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[tokio::test]
async fn followers_on_two_instances_end_where_the_endpoint_and_the_database_are() {
    let settings = [
        ("HOLD_TTL_SECS", "2"),
        ("AVAILABILITY_SWEEP_MS", "200"),
        ("RESERVATION_TTL_SECS", "3"),
        ("EXPIRY_SWEEP_INTERVAL_MS", "300"),
    ];
    let a = spawn_app_with(&settings).await;
    let b = a.another_instance().await;
    let (_, concert, seats) = a.concert_on_sale(24).await;
    let apps = [&a, &b];
    let mut mirrors = Vec::new();
    for i in 0..6 {
        mirrors.push(Mirror::follow(apps[i % 2], concert).await);
    }
    let mut fans = Vec::new();
    for _ in 0..6 {
        fans.push(a.signup().await.token);
    }

    // Six fans at once, each a random walk of holds, releases, checkouts, payments (some
    // declined) and cancellations on either instance; holds and unpaid checkouts also run out.
    let walks = fans.into_iter().enumerate().map(|(f, token)| {
        let (a, b) = (a.client.clone(), [a.address.clone(), b.address.clone()]);
        let seats = seats.clone();
        tokio::spawn(async move {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((f as u64 + 1) * 0x1000_0001));
            let mut held: Vec<i64> = Vec::new();
            let mut paid: Vec<i64> = Vec::new();
            let mut ops = 0;
            let send = |method: reqwest::Method, base: &str, path: &str, body: Option<Value>| {
                let mut req = a.request(method, format!("{base}{path}")).bearer_auth(&token);
                if let Some(body) = body {
                    req = req.json(&body);
                }
                req.send()
            };
            for _ in 0..40 {
                let base = &b[rng.below(2)];
                match rng.below(10) {
                    0..=4 => {
                        let seat = seats[rng.below(seats.len())];
                        let res = send(
                            reqwest::Method::POST,
                            base,
                            &format!("/api/seat/{seat}/select"),
                            None,
                        )
                        .await
                        .unwrap();
                        if res.status() == StatusCode::OK && !held.contains(&seat) {
                            held.push(seat);
                        }
                    }
                    5 if !held.is_empty() => {
                        let seat = held.swap_remove(rng.below(held.len()));
                        send(
                            reqwest::Method::DELETE,
                            base,
                            &format!("/api/seat/{seat}/select"),
                            None,
                        )
                        .await
                        .unwrap();
                    }
                    6..=7 if !held.is_empty() => {
                        let seat = held.swap_remove(rng.below(held.len()));
                        let res = send(
                            reqwest::Method::POST,
                            base,
                            "/api/payment",
                            Some(json!({"seatId": seat, "paymentMethod": "CREDIT_CARD"})),
                        )
                        .await
                        .unwrap();
                        if res.status() == StatusCode::OK && rng.below(3) > 0 {
                            let body: Value = res.json().await.unwrap();
                            // Most pay, some are declined, the rest run out.
                            let status = if rng.below(4) == 0 { "FAILED" } else { "SUCCESS" };
                            let e = event(
                                body["transactionId"].as_str().unwrap(),
                                status,
                                body["amount"].as_i64().unwrap(),
                            );
                            let raw = e.to_string();
                            let secret = ticketing::config::dev_defaults::PAYMENT_WEBHOOK_SECRETS;
                            let sig = ticketing::domain::signature::sign(
                                secret.as_bytes(),
                                chrono::Utc::now().timestamp(),
                                raw.as_bytes(),
                            );
                            a.post(format!("{base}/api/payment/webhook"))
                                .header("content-type", "application/json")
                                .header("x-payment-signature", sig)
                                .body(raw)
                                .send()
                                .await
                                .unwrap();
                            if status == "SUCCESS" {
                                paid.push(body["reservationId"].as_i64().unwrap());
                            }
                        }
                    }
                    8 if !paid.is_empty() => {
                        let id = paid.swap_remove(rng.below(paid.len()));
                        send(
                            reqwest::Method::POST,
                            base,
                            "/api/reservations/cancel",
                            Some(json!({"reservationId": id, "cancelReason": "plans"})),
                        )
                        .await
                        .unwrap();
                    }
                    _ => tokio::time::sleep(Duration::from_millis(150)).await,
                }
                ops += 1;
            }
            ops
        })
    });
    // Midway, one follower drops and comes back through the other instance with Last-Event-ID.
    let walks = tokio::spawn(futures::future::join_all(walks));
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut leaver = mirrors.pop().unwrap();
    let target = availability(&b, concert).await["version"].as_u64().unwrap();
    leaver.reach(target).await;
    let Mirror { stream, ids, states: kept, version: last, .. } = leaver;
    stream.close();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut resumed = Mirror {
        stream: Stream::open(&a, concert, Some(last)).await,
        index: ids.iter().enumerate().map(|(i, id)| (*id, i)).collect(),
        ids,
        states: kept,
        version: last,
        layouts: 0,
    };
    // Fans kept buying meanwhile: the stream continues from `last` with a delta.
    let e = resumed.stream.next().await;
    assert_eq!(e.name, "delta", "a resume within the window continues: {e:?}");
    assert_eq!(e.data["fromVersion"].as_u64(), Some(last));
    resumed.apply(e);
    for ops in walks.await.unwrap() {
        assert_eq!(ops.unwrap(), 40);
    }
    // Let every hold and unpaid checkout run out, so the expiry paths are part of the end state.
    tokio::time::sleep(Duration::from_secs(4)).await;
    wait_until("reservations to expire", || async {
        let pending: i64 =
            sqlx::query_scalar("select count(*) from reservation where status = 'IN_PROGRESS'")
                .fetch_one(&a.db)
                .await
                .unwrap();
        pending == 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let end = availability(&a, concert).await;
    assert_eq!(end, availability(&b, concert).await, "both instances answer the same");
    let version = end["version"].as_u64().unwrap();
    let endpoint = states(&a, concert).await;
    assert_eq!(endpoint, truth(&a, concert).await, "the endpoint is the database and Redis");
    let counts = endpoint.values().fold(HashMap::new(), |mut m: HashMap<&str, usize>, s| {
        *m.entry(s.as_str()).or_default() += 1;
        m
    });
    assert!(counts.get("SOLD").is_some_and(|n| *n > 0), "some seats were sold: {counts:?}");
    mirrors.push(resumed);
    for (i, mirror) in mirrors.iter_mut().enumerate() {
        mirror.reach(version).await;
        assert_eq!(mirror.version, version, "follower {i}");
        assert_eq!(mirror.by_seat(), endpoint, "follower {i} (the last one resumed)");
        assert_eq!(mirror.layouts, 0);
    }
}

#[tokio::test]
async fn a_resume_outside_the_window_gets_a_snapshot() {
    let app = spawn_app().await;
    let (_, concert, seats) = app.concert_on_sale(2).await;
    let fan = app.signup().await;
    app.hold(&fan.token, seats[0]).await;
    let version = availability(&app, concert).await["version"].as_u64().unwrap();
    for last in [Some(1), Some(version + 5)] {
        let mut stream = Stream::open(&app, concert, last).await;
        let e = stream.next().await;
        assert_eq!(e.name, "snapshot", "Last-Event-ID {last:?}");
        assert_eq!(e.data["version"].as_u64(), Some(version));
        stream.close();
    }
    // At the current version: nothing to send until something changes.
    let mut stream = Stream::open(&app, concert, Some(version)).await;
    app.hold(&fan.token, seats[1]).await;
    let e = stream.next().await;
    assert_eq!(e.name, "delta");
    assert_eq!(e.data["fromVersion"].as_u64(), Some(version));
    assert_eq!(e.data["changes"], json!([[seats[1], "HELD"]]));
}

#[tokio::test]
async fn streams_are_capped_per_client_address_and_per_instance() {
    let app = spawn_app_with(&[("SEAT_STREAM_MAX_PER_CLIENT", "2")]).await;
    let (_, concert, _) = app.concert_on_sale(1).await;
    let path = format!("/api/seat/concert/{concert}/availability/stream");
    let first = Stream::open(&app, concert, None).await;
    let _second = Stream::open(&app, concert, None).await;
    let res = app.get(&path, None).await;
    assert_eq!(res.headers()["retry-after"], "10");
    error_body(res, StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_STREAMS").await;
    // A closed stream frees its place.
    first.close();
    wait_until("a place to free up", || async {
        let res = app.get(&path, None).await;
        res.status() == StatusCode::OK
    })
    .await;

    let app = spawn_app_with(&[("SEAT_STREAM_MAX", "1")]).await;
    let (_, concert, _) = app.concert_on_sale(1).await;
    let _only = Stream::open(&app, concert, None).await;
    let path = format!("/api/seat/concert/{concert}/availability/stream");
    let res = app.get(&path, None).await;
    assert!(res.headers().contains_key("retry-after"), "503 says when to come back");
    error_body(res, StatusCode::SERVICE_UNAVAILABLE, "STREAM_CAPACITY_REACHED").await;
}
