//! Faults during a small sale over two instances (issue 20), each ending with the flash sale's
//! audit: nothing sold twice, one SUCCESS payment and one confirmation email per confirmed
//! reservation, nothing left held or unpaid.
//!
//! - Redis restarting empty: a private `redis-server` of the test's own, killed and started
//!   again (the shared Redis is never touched).
//! - SIGKILL of one instance: the `ticketing` binary as a child process, killed and restarted.
//! - SIGTERM under load: in-flight requests finish, open streams end with a reconnect hint,
//!   the outbox is flushed, and the process exits within the Kubernetes grace period.
//! - RabbitMQ away (a test-owned proxy in front of the shared broker, switched off and on) and
//!   an SMTP server refusing mail (451) during bookings.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use ticketing_bench::{flash_sale, queue_stream::QueueStream};

use crate::{
    helpers::{TestApp, concert_body, event, spawn_app_with, wait_until},
    mail::{SmtpSink, TcpProxy},
};

const BIN: &str = env!("CARGO_BIN_EXE_ticketing");

/// Settings that make a sale settle in seconds: short holds and times to pay, a fast sweeper
/// and email retries, and room for tens of fans from one address.
fn quick_sale(smtp: &str) -> Vec<(&'static str, String)> {
    vec![
        ("SMTP_URL", smtp.to_owned()),
        ("HOLD_TTL_SECS", "4".into()),
        ("RESERVATION_TTL_SECS", "10".into()),
        ("EXPIRY_SWEEP_INTERVAL_MS", "200".into()),
        ("EMAIL_RETRY_BASE_MS", "200".into()),
        ("QUEUE_TICK_MS", "100".into()),
        ("SEAT_STREAM_MAX_PER_CLIENT", "1000".into()),
        ("SIGNUP_MAX_PER_IP", "1000".into()),
        // Fans retry after every conflict and every fault: the per-account limit on hold
        // attempts (30 a minute) would stop them for the rest of the minute.
        ("HOLD_RATE_PER_USER", "100000".into()),
    ]
}

async fn spawn(settings: &[(&'static str, String)]) -> TestApp {
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_app_with(&pairs).await
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(15)).build().unwrap()
}

/// The `ticketing` binary as a child process with `app`'s settings (its database, Redis and
/// AMQP prefixes): one more instance, which a signal can stop.
struct Instance {
    child: Child,
    address: String,
    log: PathBuf,
}

impl Instance {
    async fn start(app: &TestApp, port: u16, extra: &[(&str, &str)]) -> Instance {
        let log = std::env::temp_dir()
            .join(format!("ticketing-fault-{}.log", uuid::Uuid::new_v4().simple()));
        let mut command = Command::new(BIN);
        command
            .envs(app.env())
            .env("HTTP_ADDR", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "info")
            .current_dir(std::env::temp_dir())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null());
        for (k, v) in extra {
            command.env(k, v);
        }
        let child = command.spawn().expect("the ticketing binary starts");
        let instance = Instance { child, address: format!("http://127.0.0.1:{port}"), log };
        let client = http();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let res = client.get(format!("{}/health/live", instance.address)).send().await;
            if res.is_ok_and(|r| r.status() == StatusCode::OK) {
                break;
            }
            assert!(Instant::now() < deadline, "the instance came up: {}", instance.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        instance
    }

    fn signal(&self, signal: &str) {
        let status =
            Command::new("kill").args([signal, &self.child.id().to_string()]).status().unwrap();
        assert!(status.success(), "kill {signal}");
    }

    /// SIGKILL: no shutdown of any kind.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Waits for the process to exit, at most `limit`.
    async fn exit_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A fan shopping through whichever instance answers, as a browser behind a load balancer
/// does: the seat map, a hold on a seat it shows free, the checkout, then the provider's
/// webhook, delivered again (the same event) to the next instance until one takes it.
/// Connection errors, 503s and conflicts move on; nothing else about a fault is assumed.
#[derive(Clone)]
struct Shop {
    client: reqwest::Client,
    bases: Arc<Vec<String>>,
    concert: i64,
    deadline: Instant,
}

impl Shop {
    fn new(bases: Vec<String>, concert: i64) -> Shop {
        Shop {
            client: http(),
            bases: Arc::new(bases),
            concert,
            // Room for a loaded machine: a fan whose checkout failed waits out its hold (4 s)
            // before the seat comes back to anyone.
            deadline: Instant::now() + Duration::from_secs(90),
        }
    }

    /// Buys one seat: the reservation, or `None` once sold out (or out of time).
    async fn buy(&self, fan: usize, token: &str) -> Option<i64> {
        let mut turn = fan;
        let mut rng = (fan as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        while Instant::now() < self.deadline {
            turn += 1;
            let base = &self.bases[turn % self.bases.len()];
            let url = format!("{base}/api/seat/concert/{}/seat-map", self.concert);
            let map = match self.client.get(url).send().await {
                Ok(res) if res.status() == StatusCode::OK => res.json::<Vec<Value>>().await.ok(),
                _ => None,
            };
            let Some(map) = map else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            if map.iter().all(|s| s["status"] == "SOLD") {
                return None;
            }
            let free: Vec<i64> = map
                .iter()
                .filter(|s| s["status"] == "AVAILABLE")
                .filter_map(|s| s["id"].as_i64())
                .collect();
            if free.is_empty() {
                // Seats in others' hands may come back (a hold or a reservation expiring).
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let seat = free[(rng % free.len() as u64) as usize];
            let held = self
                .client
                .post(format!("{base}/api/seat/{seat}/select"))
                .bearer_auth(token)
                .send()
                .await;
            if !held.is_ok_and(|r| r.status() == StatusCode::OK) {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            let checkout = self
                .client
                .post(format!("{base}/api/payment"))
                .bearer_auth(token)
                .json(&json!({"seatIds": [seat], "paymentMethod": "CREDIT_CARD"}))
                .send()
                .await;
            let body = match checkout {
                Ok(res) if res.status() == StatusCode::OK => res.json::<Value>().await.ok(),
                _ => None,
            };
            let Some(body) = body else { continue };
            let reservation = body["reservationId"].as_i64().unwrap();
            let paid = event(
                body["transactionId"].as_str().unwrap(),
                "SUCCESS",
                body["amount"].as_i64().unwrap(),
            );
            if self.deliver(turn, &paid).await {
                return Some(reservation);
            }
        }
        None
    }

    /// Delivers a webhook, to the next instance after every failure, until one answers 200.
    async fn deliver(&self, mut turn: usize, body: &Value) -> bool {
        let raw = body.to_string();
        let secret = ticketing::config::dev_defaults::PAYMENT_WEBHOOK_SECRETS;
        while Instant::now() < self.deadline {
            let base = &self.bases[turn % self.bases.len()];
            let t = chrono::Utc::now().timestamp();
            let signature =
                ticketing::domain::signature::sign(secret.as_bytes(), t, raw.as_bytes());
            let res = self
                .client
                .post(format!("{base}/api/payment/webhook"))
                .header("content-type", "application/json")
                .header("x-payment-signature", signature)
                .body(raw.clone())
                .send()
                .await;
            if res.is_ok_and(|r| r.status() == StatusCode::OK) {
                return true;
            }
            turn += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }
}

/// Waits for the sale to settle (expiries, outbox, emails), then runs the flash sale's audit.
async fn audit(app: &TestApp, concert: i64, seats: usize, sink: &SmtpSink) {
    audit_with(app, concert, seats, sink, false).await
}

/// The audit; with `resends`, a confirmation may arrive twice as long as both copies are one
/// message (the same `Message-ID`): what SIGKILL between the SMTP server's acceptance and the
/// delivery record leaves, which no sender can rule out (not sending again could lose it).
async fn audit_with(app: &TestApp, concert: i64, seats: usize, sink: &SmtpSink, resends: bool) {
    let mut db = PgConnection::connect(&app.database_url()).await.unwrap();
    let client = http();
    // A seat whose confirmation Redis missed (its instance died in between) shows RESERVED
    // until the reservation's time to pay runs out; then the sweeper marks it sold.
    wait_until("the seat map shows what was confirmed", || async {
        let seats: i64 = sqlx::query_scalar(
            "select count(*) from reservation_seat rs join reservation r on r.id = rs.reservation_id
             where r.concert_id = $1 and r.status = 'CONFIRMED' and rs.active",
        )
        .bind(concert)
        .fetch_one(&app.db)
        .await
        .unwrap();
        let map = app.seat_statuses(concert).await;
        map.values().filter(|s| *s == "SOLD").count() as i64 == seats
            && !map.values().any(|s| s == "RESERVED")
    })
    .await;
    flash_sale::settle(&mut db, &client, &app.address, concert, sink, Duration::from_secs(25))
        .await;
    let checks =
        flash_sale::audit(&mut db, &client, &app.address, concert, seats as i64, sink, &[])
            .await
            .unwrap();
    let mut checks = checks;
    if resends {
        let codes: Vec<String> = sqlx::query_scalar(
            "select ticket_code from reservation where concert_id = $1 and status = 'CONFIRMED'",
        )
        .bind(concert)
        .fetch_all(&app.db)
        .await
        .unwrap();
        let mails: Vec<String> = sink
            .messages()
            .into_iter()
            .filter(|m| m.contains("Subject: [ConcertMania] 예매가 확정되었습니다"))
            .collect();
        let ids = |code: &str| -> std::collections::HashSet<String> {
            mails
                .iter()
                .filter(|m| m.contains(code))
                .filter_map(|m| {
                    m.lines().find_map(|l| {
                        l.to_ascii_lowercase().starts_with("message-id:").then(|| l.to_owned())
                    })
                })
                .collect()
        };
        let wrong: Vec<&String> = codes.iter().filter(|c| ids(c).len() != 1).collect();
        let copies = mails.len() - codes.len();
        for check in checks.iter_mut().filter(|c| c.0.starts_with("one confirmation email")) {
            check.1 = wrong.is_empty() && mails.iter().all(|m| codes.iter().any(|c| m.contains(c)));
            check.2 = format!(
                "{} messages for {} reservations, {copies} resent copies; off: {wrong:?}",
                mails.len(),
                codes.len()
            );
        }
    }
    for (check, ok, detail) in &checks {
        println!("[{}] {check} ({detail})", if *ok { "ok" } else { "FAIL" });
    }
    let failed: Vec<_> = checks.iter().filter(|c| !c.1).collect();
    assert!(failed.is_empty(), "audit failed: {failed:#?}");
}

async fn confirmed(app: &TestApp, concert: i64) -> i64 {
    sqlx::query_scalar(
        "select count(*) from reservation where concert_id = $1 and status = 'CONFIRMED'",
    )
    .bind(concert)
    .fetch_one(&app.db)
    .await
    .unwrap()
}

/// Everyone buys one seat (or finds it sold out); returns the reservations.
async fn sell_out(shop: &Shop, fans: &[(i64, String)], from: usize) -> Vec<i64> {
    let bought = futures::future::join_all(
        fans.iter().enumerate().map(|(i, (_, token))| shop.buy(from + i, token)),
    )
    .await;
    bought.into_iter().flatten().collect()
}

// --- Redis restarting empty ---------------------------------------------------------------

/// A `redis-server` of the test's own, with nothing on disk: killed, it comes back empty.
struct PrivateRedis {
    port: u16,
    child: Child,
}

impl PrivateRedis {
    async fn start() -> PrivateRedis {
        let port = free_port();
        let child = Self::spawn(port);
        let redis = PrivateRedis { port, child };
        redis.wait_up().await;
        redis
    }

    fn spawn(port: u16) -> Child {
        Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (./scripts/tools.sh)")
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn wait_up(&self) {
        let url = self.url();
        wait_until("the private Redis answers", || {
            let url = url.clone();
            async move {
                let Ok(client) = deadpool_redis::redis::Client::open(url) else { return false };
                let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
                    return false;
                };
                deadpool_redis::redis::cmd("PING").query_async::<String>(&mut conn).await.is_ok()
            }
        })
        .await;
    }

    /// SIGKILL, then the same port again: a Redis restart that lost everything.
    async fn restart_empty(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.child = Self::spawn(self.port);
        self.wait_up().await;
    }

    async fn dbsize(&self) -> u64 {
        let client = deadpool_redis::redis::Client::open(self.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        deadpool_redis::redis::cmd("DBSIZE").query_async(&mut conn).await.unwrap()
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The place of every fan but the first three, each asked on its own instance.
async fn line_statuses(
    app: &TestApp,
    bases: &[String],
    fans: &[(i64, String)],
    concert: i64,
) -> Vec<(usize, Option<Value>)> {
    let mut out = Vec::new();
    for (i, (_, token)) in fans.iter().enumerate().skip(3) {
        out.push((i, queue_status(app, &bases[i % 2], token, concert).await));
    }
    out
}

async fn queue_status(app: &TestApp, base: &str, token: &str, concert: i64) -> Option<Value> {
    let res = app
        .client
        .get(format!("{base}/api/queue/{concert}/status"))
        .bearer_auth(token)
        .send()
        .await
        .ok()?;
    (res.status() == StatusCode::OK).then_some(())?;
    res.json().await.ok()
}

/// Redis restarts empty mid-sale, with fans admitted, fans in line, one sale paid and one
/// checkout waiting for its payment. Seat states come back from Postgres (the paid seat SOLD,
/// the unpaid one RESERVED and then paid), the waiting room is put back by the instances in the
/// same order (no stream is told its fan left), and the sale sells out with a clean audit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_redis_restarts_empty_seats_reload_from_postgres_and_the_waiting_room_is_restored() {
    let sink = SmtpSink::start().await;
    let mut redis = PrivateRedis::start().await;
    let mut settings = quick_sale(&sink.url());
    settings.extend([
        ("REDIS_URL", redis.url()),
        ("QUEUE_ADMIT_PER_TICK", "2".into()),
        ("QUEUE_MAX_ACTIVE", "3".into()),
    ]);
    let app = spawn(&settings).await;
    let second = app.another_instance().await;
    let bases = vec![app.address.clone(), second.address.clone()];
    let admin = app.admin_token().await;
    let mut body = concert_body("Redis restart");
    body["queueEnabled"] = json!(true);
    let concert = app.post("/api/concert", Some(&admin), body).await.json::<Value>().await.unwrap()
        ["id"]
        .as_i64()
        .unwrap();
    let seats = 8;
    app.create_seats(&admin, concert, seats).await;
    let fans = app.bulk_users(16).await;

    // Everyone joins in order, on alternate instances, and follows the line on a stream.
    let events: Arc<Mutex<Vec<Vec<String>>>> = Arc::new(Mutex::new(vec![Vec::new(); fans.len()]));
    let mut streams = Vec::new();
    for (i, (_, token)) in fans.iter().enumerate() {
        let base = &bases[i % 2];
        let res = app
            .client
            .post(format!("{base}/api/queue"))
            .bearer_auth(token)
            .json(&json!({"concertId": concert}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "join");
        let mut stream =
            QueueStream::open(base.strip_prefix("http://").unwrap(), concert, token).await.unwrap();
        let events = events.clone();
        streams.push(tokio::spawn(async move {
            while let Ok(Some((name, _))) = stream.next_event().await {
                events.lock().unwrap()[i].push(name);
            }
        }));
    }
    let admitted = |status: &Option<Value>| status.as_ref().is_some_and(|s| s["canEnter"] == true);
    wait_until("the first three are admitted", || async {
        let mut n = 0;
        for (i, (_, token)) in fans.iter().enumerate().take(3) {
            n += admitted(&queue_status(&app, &bases[i % 2], token, concert).await) as usize;
        }
        n == 3
    })
    .await;

    // Before the fault: two sales paid, one checkout waiting for its payment.
    let shop = Shop::new(bases.clone(), concert);
    for (i, (_, token)) in fans.iter().enumerate().take(2) {
        assert!(shop.buy(i, token).await.is_some(), "fan {i} buys before the fault");
    }
    let (_, unpaid_token) = &fans[2];
    let unpaid_seat = {
        let map = app.seat_statuses(concert).await;
        *map.iter().find(|(_, s)| *s == "AVAILABLE").unwrap().0
    };
    assert_eq!(app.hold(unpaid_token, unpaid_seat).await.status(), StatusCode::OK);
    let res = app.checkout(unpaid_token, &[unpaid_seat]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let unpaid: Value = res.json().await.unwrap();
    // The line as it stands: the fans still waiting, in order.
    let waiting_before = |statuses: &[(usize, Option<Value>)]| -> Vec<usize> {
        let mut waiting: Vec<(u64, usize)> = statuses
            .iter()
            .filter_map(|(i, s)| {
                let s = s.as_ref()?;
                (s["canEnter"] == false).then(|| (s["position"].as_u64().unwrap(), *i))
            })
            .collect();
        waiting.sort_unstable();
        waiting.into_iter().map(|(_, i)| i).collect()
    };
    let before = line_statuses(&app, &bases, &fans, concert).await;
    let line = waiting_before(&before);
    assert!(line.len() >= 8, "most fans still wait: {before:?}");
    assert_eq!(confirmed(&app, concert).await, 2);

    redis.restart_empty().await;
    assert!(redis.dbsize().await <= 2, "Redis came back empty");
    for base in &bases {
        wait_until("readiness UP after the restart", || async {
            app.client
                .get(format!("{base}/health/ready"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        })
        .await;
    }

    // The line is back, in the same order: everyone who waited still waits (or has been
    // admitted since), and no stream said its fan had left.
    wait_until("every fan who waited is back in line", || async {
        line_statuses(&app, &bases, &fans, concert)
            .await
            .iter()
            .all(|(i, s)| !line.contains(i) || s.is_some())
    })
    .await;
    let after = line_statuses(&app, &bases, &fans, concert).await;
    let still_waiting = waiting_before(&after);
    let kept: Vec<usize> = line.iter().copied().filter(|i| still_waiting.contains(i)).collect();
    assert_eq!(still_waiting, kept, "the restored line keeps its order ({before:?} → {after:?})");
    for i in &line {
        assert!(
            !events.lock().unwrap()[*i].iter().any(|e| e == "queue-left"),
            "fan {i} was told it left the line"
        );
    }

    // Postgres's states came back: the paid seats are SOLD, the unpaid one RESERVED (no one
    // else may hold it), and its payment still confirms it.
    let map = app.seat_statuses(concert).await;
    assert_eq!(map.values().filter(|s| *s == "SOLD").count(), 2, "{map:?}");
    assert_eq!(map[&unpaid_seat], "RESERVED", "{map:?}");
    let paid = event(
        unpaid["transactionId"].as_str().unwrap(),
        "SUCCESS",
        unpaid["amount"].as_i64().unwrap(),
    );
    assert!(shop.deliver(0, &paid).await, "the unpaid checkout is paid after the restart");
    assert_eq!(
        app.reservation_status(unpaid["reservationId"].as_i64().unwrap()).await.0,
        "CONFIRMED"
    );

    // The rest of the sale: each fan waits for its turn, buys, and leaves the line.
    let rest = futures::future::join_all(fans.iter().enumerate().skip(3).map(|(i, (_, token))| {
        let (shop, app, bases) = (&shop, &app, &bases);
        async move {
            let base = &bases[i % 2];
            while Instant::now() < shop.deadline {
                match queue_status(app, base, token, concert).await {
                    Some(s) if s["canEnter"] == true => break,
                    _ => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
            let bought = shop.buy(i, token).await;
            let _ = app
                .client
                .delete(format!("{base}/api/queue/{concert}"))
                .bearer_auth(token)
                .send()
                .await;
            bought
        }
    }))
    .await;
    assert_eq!(rest.iter().flatten().count(), seats - 3, "the other seats sold after the fault");
    for s in streams {
        s.abort();
    }
    audit(&app, concert, seats, &sink).await;
}

// --- SIGKILL of one instance --------------------------------------------------------------

/// One of two instances is SIGKILLed mid-sale, with holds of its own and a checkout whose
/// webhook it would have taken. The survivor carries on, the dead instance's holds expire,
/// the provider's retry lands on the survivor, the outbox rows of what the dead one confirmed
/// are relayed, and the instance rejoins on restart; the audit is clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sigkilled_instance_loses_nothing_and_rejoins_and_the_audit_is_clean() {
    let sink = SmtpSink::start().await;
    let app = spawn(&quick_sale(&sink.url())).await;
    let port = free_port();
    let mut victim = Instance::start(&app, port, &[]).await;
    let (_, concert, seat_ids) = app.concert_on_sale(10).await;
    let fans = app.bulk_users(22).await;
    let bases = vec![victim.address.clone(), app.address.clone()];
    let shop = Shop::new(bases.clone(), concert);

    // A few sales through both instances.
    let first = sell_out_some(&shop, &fans[..4]).await;
    assert_eq!(first, 4, "four sales before the kill");
    // On the victim: two holds that will never be checked out, and a checkout whose webhook
    // is still to come.
    let map = app.seat_statuses(concert).await;
    let free: Vec<i64> = seat_ids.iter().copied().filter(|s| map[s] == "AVAILABLE").collect();
    let (abandoner, payer) = (&fans[4].1, &fans[5].1);
    for seat in &free[..2] {
        let res = shop
            .client
            .post(format!("{}/api/seat/{seat}/select", victim.address))
            .bearer_auth(abandoner)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    let res = shop
        .client
        .post(format!("{}/api/seat/select", victim.address))
        .bearer_auth(payer)
        .json(&json!({"seatIds": [free[2]]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = shop
        .client
        .post(format!("{}/api/payment", victim.address))
        .bearer_auth(payer)
        .json(&json!({"seatIds": [free[2]], "paymentMethod": "CREDIT_CARD"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let pending: Value = res.json().await.unwrap();

    // Mid-sale: the other fans are buying through both instances when the victim dies.
    let rest = &fans[6..];
    let sale = sell_out(&shop, rest, 6);
    let chaos = async {
        wait_until("the sale is under way again", || async { confirmed(&app, concert).await >= 5 })
            .await;
        victim.kill();
        // The provider delivers the pending payment to the dead instance, then retries on the
        // survivor.
        let paid = event(
            pending["transactionId"].as_str().unwrap(),
            "SUCCESS",
            pending["amount"].as_i64().unwrap(),
        );
        let refused =
            shop.client.post(format!("{}/api/payment/webhook", victim.address)).send().await;
        assert!(refused.is_err(), "nothing answers on the killed instance");
        assert!(shop.deliver(1, &paid).await, "the survivor takes the retried webhook");
        // It rejoins on restart, on the same address.
        Instance::start(&app, port, &[]).await
    };
    let (sold, restarted) = tokio::join!(sale, chaos);
    assert_eq!(
        app.reservation_status(pending["reservationId"].as_i64().unwrap()).await.0,
        "CONFIRMED"
    );
    // The abandoned holds expired: every seat sold, to one fan each.
    assert_eq!(
        sold.len() + 4 + 1,
        10,
        "every other seat sold after the kill: {:?}",
        app.seat_statuses(concert).await
    );
    let res = http().get(format!("{}/health/ready", restarted.address)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "the restarted instance is ready");
    let res = http()
        .get(format!("{}/api/reservations/my", restarted.address))
        .bearer_auth(payer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "the restarted instance serves the fans");
    let unpublished: i64 =
        sqlx::query_scalar("select count(*) from outbox where published_at is null")
            .fetch_one(&app.db)
            .await
            .unwrap();
    println!("outbox rows still to relay right after the sale: {unpublished}");
    audit_with(&app, concert, 10, &sink, true).await;
}

/// Each of `fans` buys one seat; returns how many did.
async fn sell_out_some(shop: &Shop, fans: &[(i64, String)]) -> usize {
    sell_out(shop, fans, 0).await.len()
}

// --- SIGTERM under load -------------------------------------------------------------------

/// The grace period the Kubernetes deployment gives a pod after SIGTERM is sent, less the
/// preStop pause that comes before it (`deploy/k8s/base/deployment.yaml`).
fn grace_after_prestop() -> Duration {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/k8s/base/deployment.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let docs = yaml_rust2::YamlLoader::load_from_str(&text).unwrap();
    let pod = &docs[0]["spec"]["template"]["spec"];
    let grace = pod["terminationGracePeriodSeconds"].as_i64().expect("a grace period");
    let container = &pod["containers"][0];
    let pre_stop = &container["lifecycle"]["preStop"]["exec"]["command"];
    let pause: i64 = match pre_stop[1].as_str() {
        Some(secs) if pre_stop[0].as_str() == Some("sleep") => secs.parse().unwrap(),
        _ => 0,
    };
    assert!(grace > pause, "grace {grace} s, preStop {pause} s");
    Duration::from_secs((grace - pause) as u64)
}

/// Reads an SSE response to its end on a raw connection: the bytes, and whether it ended
/// cleanly (the last chunk and EOF, not a reset).
async fn follow_stream(addr: String, path: String, token: Option<String>) -> (String, bool) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Accept: text/event-stream\r\n\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match socket.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&raw).into_owned(), false),
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let clean = text.ends_with("0\r\n\r\n");
    (text, clean)
}

/// SIGTERM to an instance in the middle of a stream of bookings, with waiting-room and seat-map
/// streams open on it: every request it had accepted is answered in full (none cut, none
/// 5xx), every stream ends cleanly with a `retry:` hint, the outbox rows its last requests
/// wrote are published before it exits (the other instance cannot publish: its broker is
/// switched off), and it exits with 0 within the Kubernetes grace period.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_finishes_requests_ends_streams_with_a_hint_flushes_the_outbox() {
    let sink = SmtpSink::start().await;
    let broker = TcpProxy::broker().await;
    broker.set_up(false);
    let postgres = TcpProxy::postgres().await;
    let mut settings = quick_sale(&sink.url());
    settings.push(("AMQP_URL", broker.amqp_url()));
    // The in-process instance owns the test's storage; its broker stays away until the end.
    let app = spawn(&settings).await;
    let amqp = std::env::var("TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    // The instance that is stopped: the real broker, and Postgres through a proxy that makes
    // each request slow enough to be caught in flight.
    let db_url = format!("postgres://postgres@127.0.0.1:{}/{}", postgres.port, app.db_name);
    let mut stopping =
        Instance::start(&app, free_port(), &[("AMQP_URL", &amqp), ("DATABASE_URL", &db_url)]).await;
    let addr = stopping.address.strip_prefix("http://").unwrap().to_owned();
    let (admin, concert, _) = app.concert_on_sale(40).await;
    // A waiting room whose sale opens later: its fans stay in line.
    let mut body = concert_body("later");
    body["queueEnabled"] = json!(true);
    body["openTime"] = json!((chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339());
    let later =
        app.post("/api/concert", Some(&admin), body).await.json::<Value>().await.unwrap()["id"]
            .as_i64()
            .unwrap();
    app.create_seats(&admin, later, 1).await;
    let fans = app.bulk_users(12).await;
    let mut streams = Vec::new();
    for (_, token) in &fans[..3] {
        let res = app.post("/api/queue", Some(token), json!({"concertId": later})).await;
        assert_eq!(res.status(), StatusCode::OK);
        let path = format!("/api/queue/{later}/stream");
        streams.push(tokio::spawn(follow_stream(addr.clone(), path, Some(token.clone()))));
    }
    for _ in 0..3 {
        let path = format!("/api/seat/concert/{concert}/availability/stream");
        streams.push(tokio::spawn(follow_stream(addr.clone(), path, None)));
    }
    postgres.set_delay(Duration::from_millis(150));

    // Bookings through the stopping instance, one connection per request (no keep-alive race):
    // each request records when it was sent and how it ended.
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(40))
        .build()
        .unwrap();
    let sigterm_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    type Outcome = (Instant, Instant, Result<StatusCode, String>);
    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let send = |req: reqwest::RequestBuilder| {
        let outcomes = outcomes.clone();
        async move {
            let sent = Instant::now();
            let res = match req.send().await {
                Ok(res) => {
                    let status = res.status();
                    match res.bytes().await {
                        Ok(body) => Ok((status, body)),
                        Err(e) => Err(format!("body cut: {e}")),
                    }
                }
                Err(e) if e.is_connect() => Err("refused".into()),
                Err(e) => Err(format!("{e:?}")),
            };
            let recorded = res.as_ref().map(|(status, _)| *status).map_err(Clone::clone);
            outcomes.lock().unwrap().push((sent, Instant::now(), recorded));
            res
        }
    };
    let base = stopping.address.clone();
    let seat_ids: Vec<i64> = app.seat_statuses(concert).await.into_keys().collect();
    let (seat_ids, fan_count) = (&seat_ids, fans.len());
    let webhooks_sent = &std::sync::atomic::AtomicUsize::new(0);
    let load = futures::future::join_all(fans.iter().enumerate().map(|(i, (_, token))| {
        let (send, client, base) = (&send, &client, &base);
        async move {
            // One seat each, trying others after a conflict; a refused request ends the fan.
            for k in 0..20 {
                let seat = seat_ids[(i + k * fan_count) % seat_ids.len()];
                let hold = client.post(format!("{base}/api/seat/{seat}/select")).bearer_auth(token);
                match send(hold).await {
                    Ok((StatusCode::OK, _)) => {}
                    Ok(_) => continue,
                    Err(_) => return None,
                }
                let checkout = client
                    .post(format!("{base}/api/payment"))
                    .bearer_auth(token)
                    .json(&json!({"seatIds": [seat], "paymentMethod": "CREDIT_CARD"}));
                let body: Value = match send(checkout).await {
                    Ok((StatusCode::OK, body)) => serde_json::from_slice(&body).unwrap(),
                    Ok(_) => continue,
                    Err(_) => return None,
                };
                let raw = event(
                    body["transactionId"].as_str().unwrap(),
                    "SUCCESS",
                    body["amount"].as_i64().unwrap(),
                )
                .to_string();
                let secret = ticketing::config::dev_defaults::PAYMENT_WEBHOOK_SECRETS;
                let t = chrono::Utc::now().timestamp();
                let signature =
                    ticketing::domain::signature::sign(secret.as_bytes(), t, raw.as_bytes());
                let webhook = client
                    .post(format!("{base}/api/payment/webhook"))
                    .header("content-type", "application/json")
                    .header("x-payment-signature", signature)
                    .body(raw.clone());
                webhooks_sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                // Refused (the instance had stopped): the provider retries it elsewhere.
                return send(webhook).await.is_err().then_some(raw);
            }
            None
        }
    }));
    let grace = grace_after_prestop();
    let stop = async {
        // SIGTERM once payments are on their way: each takes several slowed database round
        // trips, so the first ones are still being applied when it arrives.
        wait_until("payments are on their way", || async {
            webhooks_sent.load(std::sync::atomic::Ordering::SeqCst) >= 3
        })
        .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        *sigterm_at.lock().unwrap() = Some(Instant::now());
        stopping.signal("-TERM");
        let exited = stopping.exit_within(grace).await;
        (exited, sigterm_at.lock().unwrap().unwrap().elapsed())
    };
    let (refused, (exited, took)) = tokio::join!(load, stop);
    let status = exited.unwrap_or_else(|| panic!("exited within {grace:?} of SIGTERM"));
    assert!(status.success(), "a clean exit: {status:?}\n{}", stopping.log());
    println!("exited {took:?} after SIGTERM (bound {grace:?})");

    // Every request sent well before SIGTERM was answered in full, and none with a 5xx.
    let sigterm = sigterm_at.lock().unwrap().unwrap();
    let outcomes = outcomes.lock().unwrap().clone();
    let mut in_flight = 0;
    for (sent, done, result) in &outcomes {
        println!(
            "sent {:?} done {:?} (after SIGTERM): {result:?}",
            sent.checked_duration_since(sigterm)
                .map(|d| d.as_millis() as i64)
                .unwrap_or_else(|| -(sigterm.duration_since(*sent).as_millis() as i64)),
            done.checked_duration_since(sigterm)
                .map(|d| d.as_millis() as i64)
                .unwrap_or_else(|| -(sigterm.duration_since(*done).as_millis() as i64)),
        );
        let accepted = *sent + Duration::from_millis(50) < sigterm;
        if accepted && *done > sigterm {
            in_flight += 1;
        }
        match result {
            Ok(status) => assert!(status.as_u16() < 500, "a request answered {status}"),
            Err(e) => assert!(!accepted, "a request sent before SIGTERM failed: {e}"),
        }
    }
    println!("{} requests, {in_flight} of them in flight at SIGTERM", outcomes.len());
    assert!(in_flight > 0, "requests were in flight at SIGTERM");
    for stream in streams {
        let (text, clean) = stream.await.unwrap();
        assert!(clean, "the stream ended cleanly: {text}");
        assert!(text.contains("retry: "), "the stream ended with a reconnect hint: {text}");
    }
    // (Only confirmations: the other instance's sweeper may expire a checkout meanwhile.)
    let unpublished: i64 = sqlx::query_scalar(
        "select count(*) from outbox where published_at is null and kind = 'booking_confirmed'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(unpublished, 0, "the outbox was flushed before exit\n{}", stopping.log());

    // The other instance gets its broker back and sends the emails; the payments the stopped
    // instance refused are delivered to it, as the provider retries them.
    broker.set_up(true);
    let survivor = Shop::new(vec![app.address.clone()], concert);
    for raw in refused.into_iter().flatten() {
        let paid: Value = serde_json::from_str(&raw).unwrap();
        assert!(survivor.deliver(0, &paid).await, "the survivor takes a retried webhook");
    }
    let reservations: Vec<(i64, String)> = sqlx::query_as(
        "select id, status from reservation where concert_id = $1 and status = 'IN_PROGRESS'",
    )
    .bind(concert)
    .fetch_all(&app.db)
    .await
    .unwrap();
    println!("{} checkouts left unpaid by the stop expire", reservations.len());
    let sold = confirmed(&app, concert).await as usize;
    assert!(sold > 0, "bookings confirmed before the stop");
    // Sell the rest through the survivor, so that the audit's sell-out holds.
    let shop = Shop::new(vec![app.address.clone()], concert);
    let more = app.bulk_users(40).await;
    sell_out(&shop, &more, 0).await;
    audit(&app, concert, 40, &sink).await;
}

// --- RabbitMQ away, SMTP refusing ---------------------------------------------------------

/// The broker goes away mid-sale (a proxy in front of it switched off) and the SMTP server
/// refuses mail (451) while it comes back: bookings go on, and every confirmation email
/// still arrives exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_rabbitmq_away_and_smtp_refusing_every_confirmation_email_arrives_once() {
    let sink = SmtpSink::start().await;
    let broker = TcpProxy::broker().await;
    let mut settings = quick_sale(&sink.url());
    settings.push(("AMQP_URL", broker.amqp_url()));
    // Enough retries to outlast the refusing spell.
    settings.push(("EMAIL_MAX_ATTEMPTS", "12".into()));
    let app = spawn(&settings).await;
    let second = app.another_instance().await;
    let (_, concert, _) = app.concert_on_sale(12).await;
    let fans = app.bulk_users(24).await;
    let shop = Shop::new(vec![app.address.clone(), second.address.clone()], concert);

    assert_eq!(sell_out_some(&shop, &fans[..3]).await, 3);
    sink.wait_for(3, |m| m.contains("예매가 확정되었습니다")).await;

    // The broker away: bookings confirm, their emails wait in the outbox.
    broker.set_up(false);
    wait_until("readiness reports the broker DOWN", || async {
        app.get("/health/ready", None).await.status() == StatusCode::SERVICE_UNAVAILABLE
    })
    .await;
    sink.set_failing(true);
    assert_eq!(sell_out_some(&shop, &fans[3..7]).await, 4, "bookings go on without the broker");
    assert!(app.outbox_count("booking_confirmed").await >= 7);

    // The broker back, SMTP still refusing: the emails are published and retried.
    broker.set_up(true);
    wait_until("the outbox is relayed", || async {
        let n: i64 = sqlx::query_scalar("select count(*) from outbox where published_at is null")
            .fetch_one(&app.db)
            .await
            .unwrap_or(1);
        n == 0
    })
    .await;
    let sent_while_refusing = sink.count();
    sink.set_failing(false);
    assert_eq!(sent_while_refusing, 3, "nothing was accepted while SMTP refused");
    let rest = sell_out(&shop, &fans[7..], 7).await;
    assert_eq!(rest.len(), 5);
    audit(&app, concert, 12, &sink).await;
}

// --- A message published twice ------------------------------------------------------------

/// What an instance killed between the broker's confirm and its commit leaves behind: its
/// outbox rows are published again by another instance, so the queue holds two copies (or
/// more) of one message, and consumers take them at the same moment. Each copy finds no
/// delivery record yet; a lock on the message (in Postgres, across instances) makes one of
/// them send and the others come back later and find the record. The SMTP server answers slowly (a proxy adds 300 ms), so every copy is in flight
/// at once.
#[tokio::test]
async fn copies_of_one_message_handled_at_once_send_one_email() {
    let sink = SmtpSink::start().await;
    let target: &'static str = Box::leak(format!("127.0.0.1:{}", sink.port).into_boxed_str());
    let slow_smtp = TcpProxy::start(target).await;
    slow_smtp.set_delay(Duration::from_millis(300));
    let smtp = format!("smtp://127.0.0.1:{}", slow_smtp.port);
    let app = spawn_app_with(&[("SMTP_URL", &smtp), ("EMAIL_RETRY_BASE_MS", "200")]).await;
    let second = app.another_instance().await;
    let (user, _) = app.bulk_users(1).await.remove(0);
    let message_id = uuid::Uuid::new_v4();
    let body = json!({"messageId": message_id, "kind": "welcome", "payload": {"userId": user}})
        .to_string();

    let url = std::env::var("TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let conn =
        lapin::Connection::connect(&url, lapin::ConnectionProperties::default()).await.unwrap();
    let channel = conn.create_channel().await.unwrap();
    channel.confirm_select(lapin::options::ConfirmSelectOptions::default()).await.unwrap();
    let t = app.state.broker.topology();
    let mut confirms = Vec::new();
    for _ in 0..6 {
        let properties = lapin::BasicProperties::default()
            .with_message_id(message_id.to_string().into())
            .with_delivery_mode(2);
        confirms.push(
            channel
                .basic_publish(
                    t.exchange.as_str().into(),
                    t.routing_key.into(),
                    Default::default(),
                    body.as_bytes(),
                    properties,
                )
                .await
                .unwrap(),
        );
    }
    for confirm in confirms {
        confirm.await.unwrap();
    }
    let _ = conn.close(200, "".into()).await;

    let welcome = |m: &str| m.contains("Subject: [ConcertMania] 가입을 환영합니다");
    sink.wait_for(1, welcome).await;
    wait_until("the delivery is recorded", || async {
        let sent: i64 =
            sqlx::query_scalar("select count(*) from email_deliveries where message_id = $1")
                .bind(message_id)
                .fetch_one(&app.db)
                .await
                .unwrap();
        sent == 1
    })
    .await;
    // Time for any other copy still in flight to show itself (a send takes 300 ms and more).
    tokio::time::sleep(Duration::from_secs(2)).await;
    wait_until("every copy is settled", || async {
        app.queue_depth(&t.queue).await == 0 && app.queue_depth(&t.retry_queue).await == 0
    })
    .await;
    assert_eq!(sink.messages().iter().filter(|m| welcome(m)).count(), 1, "one email");
    drop(second);
}

// --- A confirmation Redis never heard of -------------------------------------------------

/// An instance that dies between committing a payment's confirmation and telling Redis leaves
/// the seat RESERVED there (and, a minute after the time to pay, free). When that time runs
/// out the expiry sweeper marks the seats of confirmed reservations sold, once.
#[tokio::test]
async fn a_confirmation_that_redis_missed_shows_sold_once_its_time_to_pay_ends() {
    let app = spawn_app_with(&[("RESERVATION_TTL_SECS", "600")]).await;
    let (_, concert, seats) = app.concert_on_sale(2).await;
    let fan = app.signup().await;
    let started = app.start_checkout(&fan.token, &seats[..1]).await;
    let since = chrono::Utc::now() - chrono::Duration::seconds(1);
    // Confirmed in Postgres only, as by an instance killed right after its commit.
    sqlx::query("update reservation set status = 'CONFIRMED', confirmed_at = now() where id = $1")
        .bind(started.reservation)
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query(
        "update payments set status = 'SUCCESS', paid_at = now() where reservation_id = $1",
    )
    .bind(started.reservation)
    .execute(&app.db)
    .await
    .unwrap();
    let mut after = since;
    ticketing::workers::expiry::reconfirm_once(&app.state, &mut after).await.unwrap();
    assert_eq!(app.seat_statuses(concert).await[&seats[0]], "RESERVED", "not before its time");

    sqlx::query("update reservation set expire_time = now() where id = $1")
        .bind(started.reservation)
        .execute(&app.db)
        .await
        .unwrap();
    let n = ticketing::workers::expiry::reconfirm_once(&app.state, &mut after).await.unwrap();
    assert_eq!(n, 1);
    let map = app.seat_statuses(concert).await;
    assert_eq!((map[&seats[0]].as_str(), map[&seats[1]].as_str()), ("SOLD", "AVAILABLE"));
    // Once only, and it changes nothing a second time.
    let n = ticketing::workers::expiry::reconfirm_once(&app.state, &mut after).await.unwrap();
    assert_eq!(n, 0);
    // The fan's purchase counts once towards the per-fan limit: a second seat still holds.
    assert_eq!(app.hold(&fan.token, seats[1]).await.status(), StatusCode::OK);
}

/// A checkout whose instance died after claiming the seats in Redis and committing the
/// reservation, but before marking the seats reserved there, leaves the seat claimed; when the
/// reservation expires, the claim goes with it and the seat is free again.
#[tokio::test]
async fn an_expired_reservation_frees_a_seat_its_dead_checkout_left_claimed() {
    let app = spawn_app_with(&[("RESERVATION_TTL_SECS", "600")]).await;
    let (_, concert, seats) = app.concert_on_sale(1).await;
    let fan = app.signup().await;
    let started = app.start_checkout(&fan.token, &seats).await;
    let user = app.user_id(&fan.email).await;
    // What the claim writes, as the checkout left it.
    let mut conn = app.state.redis.conn().await.unwrap();
    let until = chrono::Utc::now().timestamp_millis() + 60_000;
    let _: () = deadpool_redis::redis::cmd("SET")
        .arg(app.state.holds.seat_key(concert, seats[0]))
        .arg(format!("c:{user}:{until}"))
        .arg("PX")
        .arg(60_000)
        .query_async(&mut conn)
        .await
        .unwrap();
    sqlx::query("update reservation set expire_time = now() where id = $1")
        .bind(started.reservation)
        .execute(&app.db)
        .await
        .unwrap();
    ticketing::workers::expiry::execute_once(&app.state).await.unwrap();
    assert_eq!(app.reservation_status(started.reservation).await.0, "EXPIRED");
    let other = app.signup().await;
    assert_eq!(app.hold(&other.token, seats[0]).await.status(), StatusCode::OK, "free again");
    assert_eq!(app.seat_statuses(concert).await[&seats[0]], "HELD");
}

// --- Redis Cluster: one master killed mid-sale --------------------------------------------

/// A 3-master Redis Cluster of the test's own (`scripts/redis-cluster.sh` on ports
/// `base..base+2`, nothing on disk), stopped and deleted on drop.
struct PrivateCluster {
    base: u16,
    dir: PathBuf,
}

impl PrivateCluster {
    fn script(&self, args: &[&str]) {
        let status = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/redis-cluster.sh"))
            .args(args)
            .env("REDIS_CLUSTER_DIR", &self.dir)
            .stdout(Stdio::null())
            .status()
            .expect("scripts/redis-cluster.sh runs");
        assert!(status.success(), "redis-cluster.sh {args:?}");
    }

    fn start(base: u16) -> PrivateCluster {
        let dir = std::env::temp_dir().join(format!("ticketing-test-cluster-{base}"));
        let cluster = PrivateCluster { base, dir };
        cluster.script(&["start", &base.to_string()]);
        cluster
    }

    fn nodes(&self) -> String {
        (self.base..self.base + 3)
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn cli(&self, port: u16, args: &[&str]) -> String {
        let out = Command::new("redis-cli").args(["-p", &port.to_string()]).args(args).output();
        String::from_utf8_lossy(&out.expect("redis-cli runs").stdout).into_owned()
    }

    /// The port of the master serving `key`'s slot.
    fn master_of(&self, key: &str) -> u16 {
        let slot: u16 = self.cli(self.base, &["cluster", "keyslot", key]).trim().parse().unwrap();
        let nodes = self.cli(self.base, &["cluster", "nodes"]);
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let serves = fields.iter().skip(8).any(|range| {
                let mut ends = range.split('-').map(|n| n.parse::<u16>());
                match (ends.next(), ends.next()) {
                    (Some(Ok(a)), Some(Ok(b))) => (a..=b).contains(&slot),
                    (Some(Ok(a)), None) => a == slot,
                    _ => false,
                }
            });
            if serves && fields[2].contains("master") {
                let addr = fields[1].split('@').next().unwrap();
                return addr.rsplit(':').next().unwrap().parse().unwrap();
            }
        }
        panic!("no master serves slot {slot}: {nodes}");
    }

    fn ok(&self) -> bool {
        self.cli(self.base, &["cluster", "info"]).contains("cluster_state:ok")
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        self.script(&["stop", &self.base.to_string()]);
    }
}

/// The sale runs on a Redis Cluster; the master serving the concert's slot is killed (SIGKILL)
/// mid-sale. While it is down every hold and checkout on the concert answers a clear 503 with
/// `Retry-After` (never a 500, never a success on a state no one can check); once it is back
/// (empty) the instances reload the concert from Postgres, and the sale sells out with the
/// flash sale's audit clean: nothing sold twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_cluster_master_killed_mid_sale_gives_clear_503s_and_the_sale_recovers() {
    let sink = SmtpSink::start().await;
    let cluster = PrivateCluster::start(7110);
    let mut settings = quick_sale(&sink.url());
    settings.push(("REDIS_CLUSTER_NODES", cluster.nodes()));
    let app = spawn(&settings).await;
    assert!(app.state.redis.is_cluster());
    let second = app.another_instance().await;
    let bases = vec![app.address.clone(), second.address.clone()];
    let admin = app.admin_token().await;
    let concert = app.create_concert(&admin).await["id"].as_i64().unwrap();
    let seats = 10;
    let seat_ids: Vec<i64> = app
        .create_seats(&admin, concert, seats)
        .await
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    let fans = app.bulk_users(20).await;

    // Before the fault: three sales, on both instances.
    let shop = Shop::new(bases.clone(), concert);
    for (i, (_, token)) in fans.iter().enumerate().take(3) {
        assert!(shop.buy(i, token).await.is_some(), "fan {i} buys before the fault");
    }
    let sold_before = confirmed(&app, concert).await;
    assert_eq!(sold_before, 3);

    let master = cluster.master_of(&app.state.holds.concert_key(concert, "info"));
    cluster.script(&["kill-node", &master.to_string(), &cluster.base.to_string()]);

    // While it is down: holds and checkouts on the concert, on both instances, for a while.
    let client = http();
    let free: Vec<i64> = {
        let sold: Vec<i64> = sqlx::query_scalar(
            "select rs.seat_id from reservation_seat rs join reservation r on r.id = rs.reservation_id
             where r.concert_id = $1 and rs.active",
        )
        .bind(concert)
        .fetch_all(&app.db)
        .await
        .unwrap();
        seat_ids.iter().copied().filter(|s| !sold.contains(s)).collect()
    };
    let mut answers = Vec::new();
    let until = Instant::now() + Duration::from_secs(4);
    let mut turn = 0;
    while Instant::now() < until {
        turn += 1;
        let base = &bases[turn % 2];
        let token = &fans[3 + turn % 10].1;
        let seat = free[turn % free.len()];
        let hold = client
            .post(format!("{base}/api/seat/{seat}/select"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let retry_after = hold.headers().get("retry-after").is_some();
        let status = hold.status();
        let code = hold.json::<Value>().await.map(|b| b["code"].clone()).unwrap_or_default();
        answers.push(("hold", status, retry_after, code));
        let checkout = client
            .post(format!("{base}/api/payment"))
            .bearer_auth(token)
            .json(&json!({"seatIds": [seat], "paymentMethod": "CREDIT_CARD"}))
            .send()
            .await
            .unwrap();
        let retry_after = checkout.headers().get("retry-after").is_some();
        let status = checkout.status();
        let code = checkout.json::<Value>().await.map(|b| b["code"].clone()).unwrap_or_default();
        answers.push(("checkout", status, retry_after, code));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(answers.len() >= 4, "{answers:?}");
    for (what, status, retry_after, code) in &answers {
        assert_eq!(
            *status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{what} while the master is down: {code}"
        );
        assert!(retry_after, "{what}: 503 with Retry-After");
        assert_eq!(code, "SERVICE_UNAVAILABLE", "{what}");
    }
    assert_eq!(confirmed(&app, concert).await, sold_before, "nothing confirmed meanwhile");

    // Back, empty: the cluster heals, the concert reloads from Postgres, the sale sells out.
    cluster.script(&["start-node", &master.to_string(), &cluster.base.to_string()]);
    wait_until("the cluster is ok again", || async { cluster.ok() }).await;
    let bought = sell_out(&shop, &fans[3..], 3).await;
    assert_eq!(bought.len() as i64 + sold_before, seats as i64, "every seat sold once");
    audit(&app, concert, seats, &sink).await;
}

/// A checkout whose instance died after claiming the seats and before its reservation leaves
/// the claim behind, which the other fans see as a hold. It lapses 5 s after the longest a
/// checkout can run (the request timeout), not a minute later; then the seat is on sale again.
#[tokio::test]
async fn a_dead_checkouts_claim_lapses_soon_after_the_request_timeout() {
    let app = spawn_app_with(&[]).await;
    let (_, concert, seats) = app.concert_on_sale(1).await;
    let fan = app.signup().await;
    assert_eq!(app.hold(&fan.token, seats[0]).await.status(), StatusCode::OK);
    let user = app.user_id(&fan.email).await;
    // The checkout's first step, and nothing after it: its instance died here.
    let claimed = app.state.holds.claim(concert, user, &seats).await.unwrap();
    assert_eq!(claimed, ticketing::clients::holds::ClaimOutcome::Claimed);
    let mut conn = app.state.redis.conn().await.unwrap();
    let left: i64 = deadpool_redis::redis::cmd("PTTL")
        .arg(app.state.holds.seat_key(concert, seats[0]))
        .query_async(&mut conn)
        .await
        .unwrap();
    let timeout = ticketing::router::REQUEST_TIMEOUT.as_millis() as i64;
    assert!(
        left > timeout && left <= timeout + 5_000,
        "the claim lasts {left} ms; a checkout is cut at {timeout} ms"
    );
    assert_eq!(app.seat_statuses(concert).await[&seats[0]], "HELD", "claimed until then");
    // When it lapses (Redis drops the key), the seat is free to anyone.
    let _: () = deadpool_redis::redis::cmd("PEXPIRE")
        .arg(app.state.holds.seat_key(concert, seats[0]))
        .arg(1)
        .query_async(&mut conn)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let other = app.signup().await;
    assert_eq!(app.hold(&other.token, seats[0]).await.status(), StatusCode::OK, "on sale again");
}
