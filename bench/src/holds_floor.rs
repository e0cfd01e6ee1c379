//! Issue 16: seat holds against a floor, and the first burst on a cold concert.
//!
//! `compare`: redis-benchmark `SET NX PX`, the floor (`floor.rs`) and the service, in one run,
//! under the same load (--clients connections, --users fans taking turns on them, single-seat
//! `POST /api/seat/{id}/select`, no releases): one hot seat, then a random seat out of --seats.
//! The floor and the service each get a concert of their own (created and loaded by the
//! service), so neither sees the other's holds.
//!
//! `cold_warm`: --clients fans send their first holds at once (different seats) to a concert
//! whose state is not in Redis (its keys deleted), then to the same concert warm; per round.

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use serde_json::{Value, json};

use crate::{
    floor,
    holds::{redis_benchmark, signup_fans},
    report::{Latencies, ms},
    seat_map::{admin_token_at, create_concert_at, create_concert_opening_at},
};

/// What the two modes need.
#[derive(Debug, Clone)]
pub struct Config {
    pub base_url: String,
    pub admin_email: String,
    pub admin_password: String,
    pub seats: usize,
    pub users: usize,
    pub clients: usize,
    pub duration: Duration,
    /// A floor already running (`ticketing-bench floor`); `None`: one started in this process.
    pub floor_url: Option<String>,
    /// The concert that floor serves.
    pub floor_concert: Option<i64>,
    /// The service's settings the floor must share (Redis, prefix, JWT secret, hold rules).
    pub floor: floor::Config,
    pub rounds: usize,
    pub json: Option<String>,
}

/// One target under one load.
#[derive(Default)]
pub struct Run {
    pub requests: u64,
    pub elapsed: Duration,
    /// Answers by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Transport errors (no answer).
    pub errors: u64,
    pub latencies: Latencies,
}

impl Run {
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn count(&self, range: std::ops::Range<u16>) -> u64 {
        self.statuses.iter().filter(|(s, _)| range.contains(s)).map(|(_, n)| n).sum()
    }

    fn json(&mut self) -> Value {
        json!({
            "requests_per_s": self.rate(), "requests": self.requests,
            "p50_ms": ms(self.latencies.percentile(50.0)),
            "p99_ms": ms(self.latencies.percentile(99.0)),
            "max_ms": ms(self.latencies.percentile(100.0)),
            "statuses": self.statuses.iter().map(|(s, n)| (s.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
            "transport_errors": self.errors,
        })
    }

    fn line(&mut self) -> String {
        format!(
            "{:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  2xx {} 4xx {} 5xx {} errors {}",
            self.rate(),
            ms(self.latencies.percentile(50.0)),
            ms(self.latencies.percentile(99.0)),
            self.count(200..300),
            self.count(400..500),
            self.count(500..600),
            self.errors,
        )
    }
}

struct Setup {
    client: reqwest::Client,
    admin: String,
    tokens: Arc<Vec<String>>,
}

async fn setup(config: &Config, users: usize) -> anyhow::Result<Setup> {
    let client = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(1024).build()?;
    let admin =
        admin_token_at(&client, &config.base_url, &config.admin_email, &config.admin_password)
            .await?;
    eprintln!("signing up {users} fans…");
    let tokens = Arc::new(signup_fans(&client, &config.base_url, users, 8).await?);
    Ok(Setup { client, admin, tokens })
}

/// A concert of `seats` seats whose state the service has loaded into Redis.
async fn warm_concert(s: &Setup, base: &str, seats: usize) -> anyhow::Result<(i64, Vec<i64>)> {
    let (concert, ids) = create_concert_at(&s.client, base, &s.admin, seats).await?;
    warm(&s.client, base, concert).await?;
    Ok((concert, ids))
}

/// Reads the availability once: the service loads the concert's state if it is not loaded.
async fn warm(client: &reqwest::Client, base: &str, concert: i64) -> anyhow::Result<()> {
    client
        .get(format!("{base}/api/seat/concert/{concert}/availability"))
        .send()
        .await?
        .error_for_status()
        .context("loading the concert's state through the service")?;
    Ok(())
}

/// The seat ids of a concert, from the service's seat map.
async fn seat_ids(client: &reqwest::Client, base: &str, concert: i64) -> anyhow::Result<Vec<i64>> {
    let map: Vec<Value> = client
        .get(format!("{base}/api/seat/concert/{concert}/seat-map"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let ids: Vec<i64> = map.iter().filter_map(|s| s["id"].as_i64()).collect();
    anyhow::ensure!(!ids.is_empty(), "concert {concert} has no seats");
    Ok(ids)
}

/// The concerts `ticketing-bench floor` serves: those given, loaded into Redis by the service,
/// or a new one of `seats` seats.
pub async fn floor_concerts(
    options: &crate::Options,
    given: Vec<i64>,
    seats: usize,
) -> anyhow::Result<Vec<i64>> {
    let client = reqwest::Client::builder().no_proxy().build()?;
    let base = &options.base_url;
    if !given.is_empty() {
        for concert in &given {
            warm(&client, base, *concert).await?;
        }
        return Ok(given);
    }
    let admin =
        admin_token_at(&client, base, &options.admin_email, &options.admin_password).await?;
    let (concert, _) = create_concert_at(&client, base, &admin, seats).await?;
    warm(&client, base, concert).await?;
    println!("created concert {concert} with {seats} seats for the floor");
    Ok(vec![concert])
}

/// Service vs floor vs redis-benchmark.
pub async fn compare(config: &Config) -> anyhow::Result<()> {
    let base = config.base_url.as_str();
    let users = config.users.max(1);
    let s = setup(config, users).await?;
    eprintln!("creating two concerts of {} seats (service, floor)…", config.seats);
    let (service_concert, service_seats) = warm_concert(&s, base, config.seats).await?;
    let (floor_concert, floor_seats) = match config.floor_concert {
        Some(concert) => {
            warm(&s.client, base, concert).await?;
            (concert, seat_ids(&s.client, base, concert).await?)
        }
        None => warm_concert(&s, base, config.seats).await?,
    };
    let floor_base = match &config.floor_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let floor = floor::Config {
                base_url: base.to_owned(),
                concerts: vec![floor_concert],
                ..config.floor.clone()
            };
            format!("http://{}", floor::start(floor).await?)
        }
    };
    println!(
        "service {base} (concert {service_concert}), floor {floor_base} (concert {floor_concert}); \
         {} seats each, {} connections, {users} fans, {}s per target and mode, no releases",
        config.seats,
        config.clients,
        config.duration.as_secs()
    );
    let redis = redis_benchmark(config.clients)?;
    println!("redis-benchmark SET NX PX, {} clients: {redis:.0} requests/s", config.clients);
    let mut modes = Vec::new();
    for mode in ["hot", "spread"] {
        let pick = |seats: &[i64]| -> Arc<Vec<i64>> {
            Arc::new(if mode == "hot" { vec![seats[0]] } else { seats.to_vec() })
        };
        let mut floor = drive(&s, &floor_base, pick(&floor_seats), config).await?;
        let mut service = drive(&s, base, pick(&service_seats), config).await?;
        let (sr, fr) = (service.rate(), floor.rate());
        println!("\n{mode}:");
        println!("  service  {}", service.line());
        println!("  floor    {}", floor.line());
        println!(
            "  service / redis-benchmark = {:.3}   service / floor = {:.3}   floor / redis-benchmark = {:.3}",
            sr / redis,
            sr / fr.max(1e-9),
            fr / redis
        );
        modes.push(json!({
            "mode": mode, "service": service.json(), "floor": floor.json(),
            "service_to_redis_benchmark": sr / redis,
            "service_to_floor": sr / fr.max(1e-9),
            "floor_to_redis_benchmark": fr / redis,
        }));
    }
    if let Some(path) = &config.json {
        let report = json!({
            "scenario": "holds --floor", "clients": config.clients, "users": users,
            "seats": config.seats, "seconds_per_run": config.duration.as_secs(),
            "redis_benchmark_per_s": redis, "modes": modes,
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
    }
    Ok(())
}

/// --clients connections, each sending single-seat holds back to back as the next fan in turn,
/// on a random seat of `targets`, for --seconds; no releases.
async fn drive(
    s: &Setup,
    base: &str,
    targets: Arc<Vec<i64>>,
    config: &Config,
) -> anyhow::Result<Run> {
    let start = Instant::now();
    let deadline = start + config.duration;
    let clients = config.clients.max(1);
    let tasks = (0..clients).map(|i| {
        let (client, base, tokens, targets) =
            (s.client.clone(), base.to_owned(), s.tokens.clone(), targets.clone());
        tokio::spawn(async move {
            let mut run = Run::default();
            let mut n = (i as u64 + 1) * 7919;
            let mut fan = i;
            while Instant::now() < deadline {
                n = n.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let seat = targets[(n >> 33) as usize % targets.len()];
                let token = &tokens[fan % tokens.len()];
                fan += clients;
                let t = Instant::now();
                let res =
                    client.post(format!("{base}/api/seat/{seat}/select")).bearer_auth(token).send();
                match res.await {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let _ = r.bytes().await;
                        run.latencies.record(t.elapsed());
                        *run.statuses.entry(status).or_default() += 1;
                        run.requests += 1;
                    }
                    Err(_) => run.errors += 1,
                }
            }
            run
        })
    });
    let mut out = Run::default();
    for r in futures::future::join_all(tasks).await {
        let r = r?;
        out.requests += r.requests;
        out.errors += r.errors;
        for (s, n) in r.statuses {
            *out.statuses.entry(s).or_default() += n;
        }
        out.latencies.extend(r.latencies);
    }
    out.elapsed = start.elapsed();
    Ok(out)
}

/// Cold vs warm first holds.
pub async fn cold_warm(config: &Config) -> anyhow::Result<()> {
    let base = config.base_url.as_str();
    let burst = config.clients.max(1);
    let s = setup(config, burst).await?;
    let seats = config.seats.max(2 * burst);
    eprintln!("creating a concert of {seats} seats…");
    let (concert, ids) = warm_concert(&s, base, seats).await?;
    let redis = ticketing::clients::redis::RedisClient::new(
        &ticketing::clients::redis::RedisTarget::Single(config.floor.redis_url.clone()),
        &config.floor.redis_prefix,
    )?;
    println!(
        "concert {concert} ({seats} seats); {} rounds of {burst} concurrent first holds, cold then warm",
        config.rounds
    );
    let (mut cold, mut warm_run) = (Run::default(), Run::default());
    for round in 0..config.rounds.max(1) {
        // Cold: none of the concert's keys in Redis (its state, version, holds, fans' counts).
        forget_concert(&redis, concert, &ids[..2 * burst]).await?;
        let c = first_holds(&s, base, &ids[..burst]).await?;
        // Warm: the state the cold burst loaded; other seats, so every hold is a first one.
        let w = first_holds(&s, base, &ids[burst..2 * burst]).await?;
        eprintln!(
            "round {}: cold 5xx {}, warm 5xx {}",
            round + 1,
            c.count(500..600),
            w.count(500..600)
        );
        merge(&mut cold, c);
        merge(&mut warm_run, w);
    }
    // Warmed: a concert whose sale opens shortly, left to the service's sale-opening warmer
    // (`SALE_WARM_AHEAD_SECS`); the burst comes the moment the sale opens.
    let mut warmed = Run::default();
    let holds = ticketing::clients::holds::Holds::new(redis.clone(), 0);
    for round in 0..config.rounds.max(1) {
        let opens = chrono::Utc::now() + chrono::Duration::seconds(WARMED_OPENS_IN_SECS);
        let kst = (opens + chrono::Duration::hours(9)).format("%Y-%m-%dT%H:%M:%S").to_string();
        let (concert, ids) =
            create_concert_opening_at(&s.client, base, &s.admin, seats, &kst).await?;
        let deadline = Instant::now() + Duration::from_secs(WARMED_OPENS_IN_SECS as u64);
        while matches!(
            holds.availability(concert, None).await,
            Ok(ticketing::clients::holds::AvailabilityRead::Miss)
        ) {
            anyhow::ensure!(Instant::now() < deadline, "the warmer did not load concert {concert}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // The open time has whole seconds: wait past it.
        let wait = (opens - chrono::Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait + Duration::from_millis(1_100)).await;
        let r = first_holds(&s, base, &ids[..burst]).await?;
        eprintln!("round {}: warmed 5xx {}", round + 1, r.count(500..600));
        merge(&mut warmed, r);
    }
    println!("  cold    {}", cold_line(&mut cold));
    println!("  warm    {}", cold_line(&mut warm_run));
    println!("  warmed  {}", cold_line(&mut warmed));
    let (cp99, wp99) = (cold.latencies.percentile(99.0), warm_run.latencies.percentile(99.0));
    let warmed_p99 = warmed.latencies.percentile(99.0);
    println!("  cold p99 / warm p99 = {:.2}", cp99.as_secs_f64() / wp99.as_secs_f64().max(1e-9));
    println!(
        "  warmed p99 / warm p99 = {:.2}",
        warmed_p99.as_secs_f64() / wp99.as_secs_f64().max(1e-9)
    );
    if let Some(path) = &config.json {
        let report = json!({
            "scenario": "holds --cold-warm", "burst": burst, "seats": seats,
            "rounds": config.rounds, "cold": cold.json(), "warm": warm_run.json(),
            "warmed": warmed.json(),
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
    }
    Ok(())
}

/// How long after its creation a warmed concert's sale opens: well inside the service's
/// `SALE_WARM_AHEAD_SECS` (60 by default), and longer than the warmer's period (at most 15 s).
const WARMED_OPENS_IN_SECS: i64 = 20;

fn merge(all: &mut Run, r: Run) {
    all.requests += r.requests;
    all.errors += r.errors;
    for (s, n) in r.statuses {
        *all.statuses.entry(s).or_default() += n;
    }
    all.latencies.extend(r.latencies);
    all.elapsed += r.elapsed;
}

fn cold_line(r: &mut Run) -> String {
    format!(
        "n {}  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  2xx {} 4xx {} 5xx {} errors {}",
        r.requests,
        ms(r.latencies.percentile(50.0)),
        ms(r.latencies.percentile(99.0)),
        ms(r.latencies.percentile(100.0)),
        r.count(200..300),
        r.count(400..500),
        r.count(500..600),
        r.errors
    )
}

/// Fan i holds `seats[i]`, all at once.
async fn first_holds(s: &Setup, base: &str, seats: &[i64]) -> anyhow::Result<Run> {
    let start = Instant::now();
    let tasks = seats.iter().zip(s.tokens.iter()).map(|(seat, token)| {
        let (client, url, token) =
            (s.client.clone(), format!("{base}/api/seat/{seat}/select"), token.clone());
        tokio::spawn(async move {
            let t = Instant::now();
            let res = client.post(url).bearer_auth(token).send().await;
            let status = match res {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let _ = r.bytes().await;
                    Some(status)
                }
                Err(_) => None,
            };
            (status, t.elapsed())
        })
    });
    let mut run = Run::default();
    for r in futures::future::join_all(tasks).await {
        match r? {
            (Some(status), latency) => {
                run.requests += 1;
                *run.statuses.entry(status).or_default() += 1;
                run.latencies.record(latency);
            }
            (None, _) => run.errors += 1,
        }
    }
    run.elapsed = start.elapsed();
    Ok(run)
}

/// Deletes the concert's keys and the hold keys of `seats`: its state is not in Redis any
/// more, as after a flush or before a sale's first hold.
async fn forget_concert(
    redis: &ticketing::clients::redis::RedisClient,
    concert: i64,
    seats: &[i64],
) -> anyhow::Result<()> {
    let holds = ticketing::clients::holds::Holds::new(redis.clone(), 0);
    let mut conn = redis.conn().await?;
    let [pattern, _, _] = holds.concert_patterns(concert);
    let mut keys: Vec<String> = seats.iter().map(|s| holds.seat_key(concert, *s)).collect();
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await?;
        keys.extend(batch);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    let _: u64 = redis::cmd("DEL").arg(keys).query_async(&mut conn).await?;
    Ok(())
}
