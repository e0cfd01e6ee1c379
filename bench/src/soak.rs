//! The soak: mixed traffic at a steady rate for a long time, sampling every instance's memory,
//! descriptors and database pool, and Redis, once an interval (a minute by default).
//!
//! Visits start at `rate` a second, spread over the instances, each with a fixture fan that
//! is free (a fan whose hold or checkout is left to expire rests until it has). A visit
//! browses (concert list, concert, seat map), then by its kind: only watches the availability
//! stream for a moment; or joins the waiting room, follows its stream until admitted, opens
//! the availability stream, holds 1–2 seats it shows free (again from the availability
//! endpoint after a conflict), and then releases them, lets the hold expire, checks out and
//! walks away (the reservation expires), checks out and declines at the provider, or checks
//! out, pays and cancels; and leaves the line. So every seat comes back: by release, expiry,
//! decline or cancellation, and the traffic stays the same for as long as the run lasts.
//!
//! An error is a transport error or a status the step does not expect (409 on a hold is
//! expected: a seat taken meanwhile). The run passes with no error and memory and descriptors
//! flat after the warm-up: see [`flatness`].

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};

use crate::{
    flash_sale::{self, rss_kb},
    live::{AvailabilityStream, Layout, decode},
    report::{Latencies, chrono_now, iso},
};

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// One base URL per instance; visits take turns over them.
    pub base_urls: Vec<String>,
    /// Each instance's Prometheus endpoint (same order); empty: `{base_url}/metrics`.
    pub metrics_urls: Vec<String>,
    /// Each instance's process id (same order), for VmRSS and open descriptors.
    pub server_pids: Vec<u32>,
    /// The services' database, for the fixture fans.
    pub database_url: String,
    /// The services' JWT secret, to mint the fixture fans' tokens.
    pub jwt_secret: String,
    /// The services' Redis and key prefix, for `INFO memory` and the prefix's key count.
    pub redis_url: String,
    pub redis_prefix: String,
    pub admin_email: String,
    pub admin_password: String,
    pub duration: Duration,
    /// How often to sample (and the width of the error buckets).
    pub sample_every: Duration,
    /// Samples before this are the warm-up, left out of the flatness check.
    pub warmup: Duration,
    /// Visits started a second.
    pub rate: f64,
    /// Fixture fans (so at most this many visits at once).
    pub fans: usize,
    pub seats: usize,
    /// The services' HOLD_TTL_SECS and RESERVATION_TTL_SECS: a fan who lets a hold or a
    /// checkout expire rests this long (plus a margin) before its next visit.
    pub hold_ttl: Duration,
    pub reservation_ttl: Duration,
    /// Allowed growth, last third over first third after the warm-up: RSS (ratio), descriptors
    /// (ratio, and at least `fd_slack` descriptors).
    pub rss_tolerance: f64,
    pub fd_tolerance: f64,
    pub fd_slack: u64,
    /// A progress line on stderr.
    pub progress: bool,
}

impl Config {
    /// The defaults of the command line for these instances.
    pub fn new(base_urls: Vec<String>) -> Config {
        Config {
            base_urls,
            metrics_urls: Vec::new(),
            server_pids: Vec::new(),
            database_url: "postgres://postgres@127.0.0.1:5432/ticketing".into(),
            jwt_secret: ticketing::config::dev_defaults::JWT_SECRET.into(),
            redis_url: "redis://127.0.0.1:6379".into(),
            redis_prefix: String::new(),
            admin_email: "admin@admin".into(),
            admin_password: "admin1234".into(),
            duration: Duration::from_secs(30 * 60),
            sample_every: Duration::from_secs(60),
            warmup: Duration::from_secs(5 * 60),
            rate: 10.0,
            fans: 300,
            seats: 200,
            hold_ttl: Duration::from_secs(20),
            reservation_ttl: Duration::from_secs(20),
            rss_tolerance: 0.10,
            fd_tolerance: 0.05,
            fd_slack: 2,
            progress: true,
        }
    }

    fn metrics_url(&self, i: usize) -> String {
        self.metrics_urls
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("{}/metrics", self.base_urls[i]))
    }
}

/// What a visit does after browsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Watches the availability stream for its snapshot, then closes it.
    Browse,
    /// Holds seats, then releases them.
    Release,
    /// Holds seats and walks away: they come back when the hold expires.
    HoldExpires,
    /// Checks out and never pays: the reservation expires.
    CheckoutExpires,
    /// Checks out and declines at the provider.
    Decline,
    /// Checks out, pays, and cancels the confirmed reservation.
    PayCancel,
}

/// The mix, out of ten visits.
const MIX: [Kind; 10] = [
    Kind::Browse,
    Kind::Release,
    Kind::PayCancel,
    Kind::Browse,
    Kind::HoldExpires,
    Kind::PayCancel,
    Kind::Release,
    Kind::CheckoutExpires,
    Kind::PayCancel,
    Kind::Decline,
];

/// One instance at one moment.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct InstanceSample {
    pub url: String,
    pub pid: Option<u32>,
    pub rss_kb: Option<u64>,
    /// The fewest open descriptors seen in five looks over a second.
    pub fds: Option<u64>,
    /// `db_pool_connections{state="in_use"}` and `{state="idle"}`.
    pub pool_in_use: Option<f64>,
    pub pool_idle: Option<f64>,
}

/// Everything sampled at one moment.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Sample {
    /// Seconds since the traffic started.
    pub t_s: f64,
    pub instances: Vec<InstanceSample>,
    /// `used_memory` of the whole Redis (shared: other users' keys count too).
    pub redis_used_memory: Option<u64>,
    /// Keys under the services' prefix.
    pub redis_keys: Option<u64>,
    /// Seats AVAILABLE in the soak's concert (the availability endpoint).
    pub seats_available: Option<u64>,
}

/// Counts of one interval.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Interval {
    pub index: u64,
    pub requests: u64,
    pub visits_started: u64,
    pub visits_done: u64,
    /// Statuses the step did not expect (5xx among them).
    pub unexpected_status: u64,
    pub server_errors: u64,
    /// Connection failures, timeouts, unreadable answers, broken streams.
    pub transport_errors: u64,
    /// Ticks with no free fan (the rate was more than the fans could carry).
    pub no_free_fan: u64,
    /// Holds refused with 409 (expected).
    pub conflicts: u64,
    /// Visits that found no seat to hold after their attempts (not an error).
    pub gave_up: u64,
}

impl Interval {
    pub fn errors(&self) -> u64 {
        self.unexpected_status + self.transport_errors
    }
}

/// One growth check.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Flatness {
    pub metric: String,
    pub url: String,
    /// Max over the first third of the samples after the warm-up, and over the last third.
    pub first_max: f64,
    pub last_max: f64,
    pub limit: f64,
    pub flat: bool,
}

/// What happened.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub concert_id: i64,
    pub instances: Vec<String>,
    pub duration_s: f64,
    pub sample_every_s: f64,
    pub warmup_s: f64,
    pub rate: f64,
    pub fans: usize,
    pub seats: usize,
    pub samples: Vec<Sample>,
    pub intervals: Vec<Interval>,
    pub visits: BTreeMap<Kind, u64>,
    /// Steps' latencies: n, p50, p99, max (ms).
    pub steps: BTreeMap<String, Value>,
    /// The first errors, for the reader.
    pub first_errors: Vec<String>,
    /// Empty when there are fewer than three samples after the warm-up (not judged).
    pub flatness: Vec<Flatness>,
}

impl Report {
    pub fn errors(&self) -> u64 {
        self.intervals.iter().map(Interval::errors).sum()
    }

    /// Zero errors, and memory and descriptors flat (or too short a run to judge).
    pub fn passed(&self) -> bool {
        self.errors() == 0 && self.flatness.iter().all(|f| f.flat)
    }
}

/// Counters shared by every visit.
struct Shared {
    start: Instant,
    every: Duration,
    intervals: Mutex<BTreeMap<u64, Interval>>,
    steps: Mutex<HashMap<&'static str, Latencies>>,
    visits: Mutex<BTreeMap<Kind, u64>>,
    first_errors: Mutex<Vec<String>>,
    in_flight: AtomicU64,
}

impl Shared {
    fn bump(&self, f: impl FnOnce(&mut Interval)) {
        let index = (self.start.elapsed().as_secs_f64() / self.every.as_secs_f64()) as u64;
        let mut intervals = self.intervals.lock().unwrap();
        f(intervals.entry(index).or_insert_with(|| Interval { index, ..Interval::default() }));
    }

    fn error(&self, what: String) {
        let mut first = self.first_errors.lock().unwrap();
        if first.len() < 20 {
            first.push(format!("{:.0}s {what}", self.start.elapsed().as_secs_f64()));
        }
    }

    /// Counts a request of `step` and its answer: a status outside `expected` or a transport
    /// error is an error, and the visit stops there (`None`).
    async fn send(
        &self,
        step: &'static str,
        request: reqwest::RequestBuilder,
        expected: &[u16],
    ) -> Option<(u16, Value)> {
        let t = Instant::now();
        let answer = async {
            let res = request.send().await?;
            let status = res.status().as_u16();
            let body = res.bytes().await?;
            Ok::<_, reqwest::Error>((status, body))
        }
        .await;
        self.steps.lock().unwrap().entry(step).or_default().record(t.elapsed());
        self.bump(|i| i.requests += 1);
        match answer {
            Ok((status, body)) if expected.contains(&status) => {
                Some((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
            }
            Ok((status, body)) => {
                self.bump(|i| {
                    i.unexpected_status += 1;
                    i.server_errors += u64::from(status >= 500);
                });
                let body = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
                self.error(format!("{step}: {status} {body}"));
                None
            }
            Err(e) => {
                self.bump(|i| i.transport_errors += 1);
                self.error(format!("{step}: {e}"));
                None
            }
        }
    }

    /// A failure outside `send` (a stream): a transport error.
    fn broken(&self, step: &'static str, e: impl std::fmt::Display) {
        self.bump(|i| i.transport_errors += 1);
        self.error(format!("{step}: {e}"));
    }
}

/// Runs the soak; the report says whether it passed.
pub async fn run(config: &Config) -> anyhow::Result<Report> {
    anyhow::ensure!(!config.base_urls.is_empty(), "no instance");
    anyhow::ensure!(config.rate > 0.0 && config.fans > 0 && config.seats > 0, "nothing to run");
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(30))
        .build()?;
    let base = &config.base_urls[0];
    let admin =
        crate::seat_map::admin_token_at(&client, base, &config.admin_email, &config.admin_password)
            .await?;
    let now = chrono_now();
    // On sale already, behind the waiting room; the show far enough away to cancel.
    let concert: Value = client
        .post(format!("{base}/api/concert"))
        .bearer_auth(&admin)
        .json(&json!({
            "title": format!("Soak {now}"), "venue": "Bench Stadium", "queueEnabled": true,
            "openTime": iso(now - 60), "closeTime": iso(now + 7 * 86_400), "concertDate": iso(now + 8 * 86_400),
        }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let concert_id = concert["id"].as_i64().context("concert id")?;
    let items: Vec<Value> = (0..config.seats)
        .map(|i| {
            json!({"concertId": concert_id, "section": "S", "row": (i / 50 + 1).to_string(),
            "number": (i % 50 + 1).to_string(), "grade": "R", "price": 55_000})
        })
        .collect();
    for chunk in items.chunks(5_000) {
        client
            .post(format!("{base}/api/seat/batch"))
            .bearer_auth(&admin)
            .json(&chunk)
            .send()
            .await?
            .error_for_status()?;
    }
    let run_id = now % 1_000_000;
    let mut db = PgConnection::connect(&config.database_url).await?;
    flash_sale::fixture_users(&mut db, run_id, config.fans).await?;
    db.close().await.ok();
    let ttl = config.duration + Duration::from_secs(3600);
    let tokens = flash_sale::fixture_tokens(
        &config.database_url,
        run_id,
        0..config.fans,
        &config.jwt_secret,
        ttl,
    )
    .await?;
    anyhow::ensure!(tokens.len() == config.fans, "{} fixture tokens", tokens.len());
    let tokens: Arc<Vec<String>> = Arc::new((0..config.fans).map(|i| tokens[&i].clone()).collect());
    let layout = Arc::new(Layout::fetch(&client, base, concert_id).await?);

    let shared = Arc::new(Shared {
        start: Instant::now(),
        every: config.sample_every,
        intervals: Mutex::default(),
        steps: Mutex::default(),
        visits: Mutex::default(),
        first_errors: Mutex::default(),
        in_flight: AtomicU64::new(0),
    });
    let free: Arc<Mutex<Vec<usize>>> = Arc::new(Mutex::new((0..config.fans).rev().collect()));
    let samples = Arc::new(Mutex::new(Vec::new()));
    let sampler = {
        let (config, client, samples, shared) =
            (config.clone(), client.clone(), samples.clone(), shared.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(config.sample_every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let s = sample(&config, &client, concert_id, shared.start).await;
                if config.progress {
                    progress_line(&s, &shared);
                }
                samples.lock().unwrap().push(s);
            }
        })
    };

    let mut visits = tokio::task::JoinSet::new();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / config.rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut k: u64 = 0;
    while shared.start.elapsed() < config.duration {
        tick.tick().await;
        while visits.try_join_next().is_some() {}
        let Some(fan) = free.lock().unwrap().pop() else {
            shared.bump(|i| i.no_free_fan += 1);
            continue;
        };
        // Every instance gets the whole mix.
        let n = config.base_urls.len() as u64;
        let kind = MIX[((k / n) % MIX.len() as u64) as usize];
        let visit = Visit {
            client: client.clone(),
            base: config.base_urls[(k % n) as usize].clone(),
            concert: concert_id,
            token: tokens[fan].clone(),
            layout: layout.clone(),
            shared: shared.clone(),
            rng: k.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        };
        k += 1;
        let (free, shared) = (free.clone(), shared.clone());
        let rest = match kind {
            Kind::HoldExpires => config.hold_ttl + Duration::from_secs(5),
            Kind::CheckoutExpires => config.reservation_ttl + Duration::from_secs(5),
            _ => Duration::ZERO,
        };
        visits.spawn(async move {
            shared.bump(|i| i.visits_started += 1);
            shared.in_flight.fetch_add(1, Ordering::Relaxed);
            visit.run(kind).await;
            shared.in_flight.fetch_sub(1, Ordering::Relaxed);
            shared.bump(|i| i.visits_done += 1);
            *shared.visits.lock().unwrap().entry(kind).or_default() += 1;
            tokio::time::sleep(rest).await;
            free.lock().unwrap().push(fan);
        });
    }
    // The visits under way finish (their fans' rest is not waited for).
    let deadline = Instant::now() + Duration::from_secs(120);
    while shared.in_flight.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if shared.in_flight.load(Ordering::Relaxed) > 0 {
        shared.broken("end", "visits still under way 120 s after the end");
    }
    visits.abort_all();
    sampler.abort();
    let last = sample(config, &client, concert_id, shared.start).await;
    let mut samples = std::mem::take(&mut *samples.lock().unwrap());
    samples.push(last);
    if config.progress {
        eprintln!();
    }

    let intervals = shared.intervals.lock().unwrap().values().cloned().collect();
    let steps = shared
        .steps
        .lock()
        .unwrap()
        .iter_mut()
        .map(|(name, l)| {
            let mut ms = |p: f64| l.percentile(p).as_secs_f64() * 1000.0;
            let (p50, p99, max) = (ms(50.0), ms(99.0), ms(100.0));
            (name.to_string(), json!({"n": l.len(), "p50_ms": p50, "p99_ms": p99, "max_ms": max}))
        })
        .collect();
    let flatness = flatness(config, &samples);
    Ok(Report {
        concert_id,
        instances: config.base_urls.clone(),
        duration_s: config.duration.as_secs_f64(),
        sample_every_s: config.sample_every.as_secs_f64(),
        warmup_s: config.warmup.as_secs_f64(),
        rate: config.rate,
        fans: config.fans,
        seats: config.seats,
        samples,
        intervals,
        visits: shared.visits.lock().unwrap().clone(),
        steps,
        first_errors: shared.first_errors.lock().unwrap().clone(),
        flatness,
    })
}

fn progress_line(s: &Sample, shared: &Shared) {
    let errors: u64 = shared.intervals.lock().unwrap().values().map(Interval::errors).sum();
    let mb = |kb: Option<u64>| kb.map_or("?".into(), |kb| format!("{:.0}", kb as f64 / 1024.0));
    let rss: Vec<String> = s.instances.iter().map(|i| mb(i.rss_kb)).collect();
    let fds: Vec<String> =
        s.instances.iter().map(|i| i.fds.map_or("?".into(), |n| n.to_string())).collect();
    eprint!(
        "\r{:>5.0}s  RSS {} MB  fds {}  seats free {}  errors {errors}   ",
        s.t_s,
        rss.join("/"),
        fds.join("/"),
        s.seats_available.map_or("?".into(), |n| n.to_string()),
    );
}

/// One look at every instance, Redis and the concert.
async fn sample(config: &Config, client: &reqwest::Client, concert: i64, start: Instant) -> Sample {
    let t_s = start.elapsed().as_secs_f64();
    let mut instances = Vec::new();
    for (i, url) in config.base_urls.iter().enumerate() {
        let pid = config.server_pids.get(i).copied();
        let (pool_in_use, pool_idle) = pool(client, &config.metrics_url(i)).await;
        // The fewest of five looks over a second: a leaked descriptor is in every one, a
        // request's connection or a stream of the moment is not.
        let mut fds = None;
        if let Some(pid) = pid {
            for look in 0..5 {
                if look > 0 {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                fds = match (fds, open_fds(pid)) {
                    (Some(a), Some(b)) => Some(b.min(a)),
                    (a, b) => a.or(b),
                };
            }
        }
        instances.push(InstanceSample {
            url: url.clone(),
            pid,
            rss_kb: pid.and_then(rss_kb),
            fds,
            pool_in_use,
            pool_idle,
        });
    }
    let (redis_used_memory, redis_keys) = {
        let (url, prefix) = (config.redis_url.clone(), config.redis_prefix.clone());
        tokio::task::spawn_blocking(move || redis_sample(&url, &prefix)).await.unwrap_or_default()
    };
    let seats_available = async {
        let availability: Value = client
            .get(format!("{}/api/seat/concert/{concert}/availability", config.base_urls[0]))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        Some(decode(&availability).ok()?.iter().filter(|c| **c == 0).count() as u64)
    }
    .await;
    Sample { t_s, instances, redis_used_memory, redis_keys, seats_available }
}

/// Open file descriptors of a process.
pub fn open_fds(pid: u32) -> Option<u64> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64)
}

/// The service's pool gauges from its Prometheus text: (in use, idle).
async fn pool(client: &reqwest::Client, url: &str) -> (Option<f64>, Option<f64>) {
    let Ok(res) = client.get(url).send().await else { return (None, None) };
    let Ok(text) = res.text().await else { return (None, None) };
    (pool_gauge(&text, "in_use"), pool_gauge(&text, "idle"))
}

/// `db_pool_connections{state="…"}` in a Prometheus text exposition.
pub fn pool_gauge(text: &str, state: &str) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with("db_pool_connections{"))
        .find(|l| l.contains(&format!("state=\"{state}\"")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Redis `used_memory`, and the keys under `prefix` (SCAN).
fn redis_sample(url: &str, prefix: &str) -> (Option<u64>, Option<u64>) {
    let Ok(mut con) = redis::Client::open(url).and_then(|c| c.get_connection()) else {
        return (None, None);
    };
    let info: Option<String> = redis::cmd("INFO").arg("memory").query(&mut con).ok();
    let used = info.as_deref().and_then(|info| {
        info.lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse().ok())
    });
    // The prefix as a glob, its special characters escaped.
    let mut pattern = String::new();
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('*');
    let mut keys = 0u64;
    let mut cursor = 0u64;
    let counted = loop {
        let page: redis::RedisResult<(u64, Vec<String>)> = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query(&mut con);
        let Ok((next, found)) = page else { break None };
        keys += found.len() as u64;
        if next == 0 {
            break Some(keys);
        }
        cursor = next;
    };
    (used, counted)
}

/// The flatness check: over the samples taken after the warm-up, split in thirds by count,
/// the max of the last third against the max of the first third, per instance. RSS may grow
/// by `rss_tolerance` (a ratio), descriptors by `fd_tolerance` but at least `fd_slack` (a
/// stream or keep-alive connection more at the moment of a sample is not a leak). Fewer than
/// three samples after the warm-up: not judged (empty).
pub fn flatness(config: &Config, samples: &[Sample]) -> Vec<Flatness> {
    let after: Vec<&Sample> =
        samples.iter().filter(|s| s.t_s + 0.5 >= config.warmup.as_secs_f64()).collect();
    if after.len() < 3 {
        return Vec::new();
    }
    let third = after.len() / 3;
    let (first, last) = (&after[..third], &after[after.len() - third..]);
    let mut checks = Vec::new();
    for (i, url) in config.base_urls.iter().enumerate() {
        let max = |part: &[&Sample], f: &dyn Fn(&InstanceSample) -> Option<u64>| {
            part.iter().filter_map(|s| s.instances.get(i).and_then(f)).max()
        };
        let rss = |s: &InstanceSample| s.rss_kb;
        let fds = |s: &InstanceSample| s.fds;
        if let (Some(a), Some(b)) = (max(first, &rss), max(last, &rss)) {
            let limit = a as f64 * (1.0 + config.rss_tolerance);
            checks.push(Flatness {
                metric: "rss_kb".into(),
                url: url.clone(),
                first_max: a as f64,
                last_max: b as f64,
                limit,
                flat: b as f64 <= limit,
            });
        }
        if let (Some(a), Some(b)) = (max(first, &fds), max(last, &fds)) {
            let limit =
                a as f64 + (a as f64 * config.fd_tolerance).ceil().max(config.fd_slack as f64);
            checks.push(Flatness {
                metric: "fds".into(),
                url: url.clone(),
                first_max: a as f64,
                last_max: b as f64,
                limit,
                flat: b as f64 <= limit,
            });
        }
    }
    checks
}

/// One visit of one fan.
struct Visit {
    client: reqwest::Client,
    base: String,
    concert: i64,
    token: String,
    layout: Arc<Layout>,
    shared: Arc<Shared>,
    rng: u64,
}

/// Hold attempts before a visit gives up (conflicts, or no seat free).
const HOLD_ATTEMPTS: usize = 5;

impl Visit {
    async fn run(mut self, kind: Kind) {
        if self.browse().await.is_none() {
            return;
        }
        if kind == Kind::Browse {
            self.watch().await;
            return;
        }
        let c = self.concert;
        let join =
            self.client.post(format!("{}/api/queue", self.base)).json(&json!({"concertId": c}));
        if self
            .shared
            .send("queue_join", join.bearer_auth(&self.token), &[200, 201])
            .await
            .is_none()
        {
            return;
        }
        if self.admitted().await {
            self.shop(kind).await;
        }
        let leave = self.client.delete(format!("{}/api/queue/{c}", self.base));
        // 404: the admission had already ended.
        self.shared.send("queue_leave", leave.bearer_auth(&self.token), &[200, 204, 404]).await;
    }

    /// The concert list, the concert, its seat map.
    async fn browse(&self) -> Option<()> {
        let (s, c, b) = (&self.shared, self.concert, &self.base);
        s.send("concerts", self.client.get(format!("{b}/api/concert")), &[200]).await?;
        s.send("concert", self.client.get(format!("{b}/api/concert/{c}")), &[200]).await?;
        let map = self.client.get(format!("{b}/api/seat/concert/{c}/seat-map"));
        s.send("seat_map", map, &[200]).await?;
        Some(())
    }

    /// Opens the availability stream, reads its snapshot, closes it.
    async fn watch(&self) -> Option<Vec<i64>> {
        let t = Instant::now();
        let opened = async {
            let addr = self.base.strip_prefix("http://").context("http:// base URL")?;
            let mut stream = AvailabilityStream::open(addr, self.concert, None).await?;
            let first = stream.next_event().await?.context("no snapshot")?;
            anyhow::ensure!(first.name == "snapshot", "{} first", first.name);
            let data: Value = serde_json::from_str(&first.data)?;
            Ok::<_, anyhow::Error>(self.free_in(&decode(&data)?))
        };
        let result = tokio::time::timeout(Duration::from_secs(30), opened).await;
        self.shared
            .steps
            .lock()
            .unwrap()
            .entry("availability_stream")
            .or_default()
            .record(t.elapsed());
        self.shared.bump(|i| i.requests += 1);
        match result {
            Ok(Ok(free)) => Some(free),
            Ok(Err(e)) => {
                self.shared.broken("availability_stream", format!("{e:#}"));
                None
            }
            Err(_) => {
                self.shared.broken("availability_stream", "no snapshot within 30 s");
                None
            }
        }
    }

    fn free_in(&self, states: &[u8]) -> Vec<i64> {
        states.iter().zip(&self.layout.ids).filter(|(s, _)| **s == 0).map(|(_, id)| *id).collect()
    }

    /// Follows the waiting-room stream until admitted.
    async fn admitted(&self) -> bool {
        let t = Instant::now();
        let connected = std::sync::atomic::AtomicUsize::new(0);
        let waited = tokio::time::timeout(
            Duration::from_secs(120),
            flash_sale::wait_for_admission(&self.base, self.concert, &self.token, &connected),
        )
        .await;
        self.shared.steps.lock().unwrap().entry("queue_wait").or_default().record(t.elapsed());
        self.shared.bump(|i| i.requests += 1);
        match waited {
            Ok(Ok(true)) => true,
            Ok(Ok(false)) => {
                self.shared.broken("queue_stream", "queue-left before admission");
                false
            }
            Ok(Err(e)) => {
                self.shared.broken("queue_stream", format!("{e:#}"));
                false
            }
            Err(_) => {
                self.shared.broken("queue_stream", "not admitted within 120 s");
                false
            }
        }
    }

    /// Holds seats, then what `kind` says.
    async fn shop(&mut self, kind: Kind) {
        let Some(seats) = self.hold().await else { return };
        let (s, b) = (self.shared.clone(), self.base.clone());
        match kind {
            Kind::Browse | Kind::HoldExpires => {}
            Kind::Release => {
                for seat in seats {
                    let release = self.client.delete(format!("{b}/api/seat/{seat}/select"));
                    if s.send("release", release.bearer_auth(&self.token), &[204]).await.is_none() {
                        return;
                    }
                }
            }
            Kind::CheckoutExpires | Kind::Decline | Kind::PayCancel => {
                let checkout = self
                    .client
                    .post(format!("{b}/api/payment"))
                    .bearer_auth(&self.token)
                    .json(&json!({"seatIds": seats, "paymentMethod": "CREDIT_CARD"}));
                let Some((_, checkout)) = s.send("checkout", checkout, &[200, 201]).await else {
                    return;
                };
                let Some(tx) = checkout["transactionId"].as_str() else {
                    s.broken("checkout", "no transactionId");
                    return;
                };
                let action = match kind {
                    Kind::Decline => "decline",
                    Kind::PayCancel => "approve",
                    _ => return,
                };
                let pay = self.client.post(format!("{b}/simulator/pg/checkout/{tx}/{action}"));
                if s.send("provider", pay, &[200, 202, 204]).await.is_none() {
                    return;
                }
                let Some(paid) = self.settled(tx).await else { return };
                if kind == Kind::Decline {
                    if paid["status"] == "SUCCESS" {
                        s.broken("payment", format!("declined payment {tx} is SUCCESS"));
                    }
                    return;
                }
                if paid["status"] != "SUCCESS" {
                    s.broken("payment", format!("approved payment {tx} is {}", paid["status"]));
                    return;
                }
                let reservation = paid["reservationId"].as_i64().unwrap_or_default();
                let cancel = self
                    .client
                    .post(format!("{b}/api/reservations/cancel"))
                    .bearer_auth(&self.token)
                    .json(&json!({"reservationId": reservation, "cancelReason": "soak"}));
                s.send("cancel", cancel, &[200]).await;
            }
        }
    }

    /// Polls the payment until the provider's webhook has landed.
    async fn settled(&self, tx: &str) -> Option<Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let get = self.client.get(format!("{}/api/payment/{tx}", self.base));
            let (_, p) =
                self.shared.send("payment_status", get.bearer_auth(&self.token), &[200]).await?;
            if p["status"] != "IN_PROGRESS" {
                return Some(p);
            }
            if Instant::now() > deadline {
                self.shared.broken("payment", format!("{tx} still IN_PROGRESS after 60 s"));
                return None;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Opens the availability stream, picks 1–2 seats it shows free and holds them; after a
    /// conflict, picks again from the availability endpoint. `None`: an error, or no luck.
    async fn hold(&mut self) -> Option<Vec<i64>> {
        let mut free = self.watch().await?;
        let want = (next(&mut self.rng) % 2 + 1) as usize;
        for attempt in 0..HOLD_ATTEMPTS {
            if attempt > 0 {
                let get = self
                    .client
                    .get(format!("{}/api/seat/concert/{}/availability", self.base, self.concert));
                let (_, availability) = self.shared.send("availability", get, &[200]).await?;
                match decode(&availability) {
                    Ok(states) => free = self.free_in(&states),
                    Err(e) => {
                        self.shared.broken("availability", format!("{e:#}"));
                        return None;
                    }
                }
            }
            if free.len() < want {
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            let start = (next(&mut self.rng) as usize) % free.len();
            let pick: Vec<i64> = free.iter().cycle().skip(start).take(want).copied().collect();
            let select = self
                .client
                .post(format!("{}/api/seat/select", self.base))
                .bearer_auth(&self.token)
                .json(&json!({"seatIds": pick}));
            let (status, _) = self.shared.send("hold", select, &[200, 409]).await?;
            if status == 200 {
                return Some(pick);
            }
            self.shared.bump(|i| i.conflicts += 1);
        }
        self.shared.bump(|i| i.gave_up += 1);
        None
    }
}

/// A small xorshift step.
fn next(rng: &mut u64) -> u64 {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    *rng
}

/// Prints the summary, writes `--json` and `--svg`.
pub fn print(
    report: &Report,
    json_path: Option<&str>,
    svg_path: Option<&str>,
) -> anyhow::Result<()> {
    println!(
        "soak: {:.0} s at {} visits/s over {} instance(s), {} fans, {} seats (concert {})",
        report.duration_s,
        report.rate,
        report.instances.len(),
        report.fans,
        report.seats,
        report.concert_id
    );
    let visits: Vec<String> = report.visits.iter().map(|(k, n)| format!("{k:?} {n}")).collect();
    println!("visits: {}", visits.join(", "));
    for (name, s) in &report.steps {
        println!(
            "  {name:>20}: n={} p50={:.1}ms p99={:.1}ms max={:.1}ms",
            s["n"],
            s["p50_ms"].as_f64().unwrap_or(0.0),
            s["p99_ms"].as_f64().unwrap_or(0.0),
            s["max_ms"].as_f64().unwrap_or(0.0)
        );
    }
    println!(
        "per interval of {:.0} s: requests, errors (5xx, transport), conflicts",
        report.sample_every_s
    );
    for i in &report.intervals {
        println!(
            "  #{:<3} {:>6} req  {} errors ({} 5xx, {} transport)  {} conflicts  {} gave up  {} no free fan",
            i.index,
            i.requests,
            i.errors(),
            i.server_errors,
            i.transport_errors,
            i.conflicts,
            i.gave_up,
            i.no_free_fan
        );
    }
    println!(
        "samples: t, per instance RSS MB / fds / pool in use, Redis used_memory MB, prefix keys, seats free"
    );
    for s in &report.samples {
        let per: Vec<String> = s
            .instances
            .iter()
            .map(|i| {
                format!(
                    "{} / {} / {}",
                    i.rss_kb.map_or("?".into(), |kb| format!("{:.1}", kb as f64 / 1024.0)),
                    i.fds.map_or("?".into(), |n| n.to_string()),
                    i.pool_in_use.map_or("?".into(), |n| n.to_string()),
                )
            })
            .collect();
        println!(
            "  {:>6.0}s  {}  redis {}  keys {}  free {}",
            s.t_s,
            per.join("  |  "),
            s.redis_used_memory.map_or("?".into(), |b| format!("{:.1}", b as f64 / 1_048_576.0)),
            s.redis_keys.map_or("?".into(), |n| n.to_string()),
            s.seats_available.map_or("?".into(), |n| n.to_string()),
        );
    }
    if report.flatness.is_empty() {
        println!("flatness: not judged (fewer than 3 samples after the warm-up)");
    }
    for f in &report.flatness {
        println!(
            "flatness [{}] {} {}: first third max {:.0}, last third max {:.0}, limit {:.0}",
            if f.flat { "ok" } else { "FAIL" },
            f.url,
            f.metric,
            f.first_max,
            f.last_max,
            f.limit
        );
    }
    for e in &report.first_errors {
        println!("error: {e}");
    }
    println!("errors: {}; {}", report.errors(), if report.passed() { "PASSED" } else { "FAILED" });
    if let Some(path) = json_path {
        let mut json = serde_json::to_value(report)?;
        json["errors"] = json!(report.errors());
        json["passed"] = json!(report.passed());
        std::fs::write(path, serde_json::to_string_pretty(&json)?)?;
    }
    if let Some(path) = svg_path {
        std::fs::write(path, svg(report))?;
    }
    Ok(())
}

/// The curves: RSS, descriptors, pool in use (per instance), Redis memory, errors per interval.
pub fn svg(report: &Report) -> String {
    let minutes = |t: f64| t / 60.0;
    let per_instance =
        |f: &dyn Fn(&InstanceSample) -> Option<f64>| -> Vec<(String, Vec<(f64, f64)>)> {
            (0..report.instances.len())
                .map(|i| {
                    let points = report
                        .samples
                        .iter()
                        .filter_map(|s| s.instances.get(i).and_then(f).map(|v| (minutes(s.t_s), v)))
                        .collect();
                    (report.instances[i].clone(), points)
                })
                .collect()
        };
    let redis: Vec<(f64, f64)> = report
        .samples
        .iter()
        .filter_map(|s| s.redis_used_memory.map(|b| (minutes(s.t_s), b as f64 / 1_048_576.0)))
        .collect();
    let keys: Vec<(f64, f64)> = report
        .samples
        .iter()
        .filter_map(|s| s.redis_keys.map(|n| (minutes(s.t_s), n as f64)))
        .collect();
    let every = report.sample_every_s;
    let errors: Vec<(f64, f64)> = report
        .intervals
        .iter()
        .map(|i| (minutes((i.index as f64 + 1.0) * every), i.errors() as f64))
        .collect();
    let server_errors: Vec<(f64, f64)> = report
        .intervals
        .iter()
        .map(|i| (minutes((i.index as f64 + 1.0) * every), i.server_errors as f64))
        .collect();
    let requests: Vec<(f64, f64)> = report
        .intervals
        .iter()
        .map(|i| (minutes((i.index as f64 + 1.0) * every), i.requests as f64))
        .collect();
    let panels = vec![
        crate::report::Panel {
            title: "RSS (MB)".into(),
            series: per_instance(&|s| s.rss_kb.map(|kb| kb as f64 / 1024.0)),
        },
        crate::report::Panel {
            title: "open file descriptors".into(),
            series: per_instance(&|s| s.fds.map(|n| n as f64)),
        },
        crate::report::Panel {
            title: "DB pool connections in use".into(),
            series: per_instance(&|s| s.pool_in_use),
        },
        crate::report::Panel {
            title: "Redis used_memory (MB; the whole server, shared)".into(),
            series: vec![("used_memory".into(), redis)],
        },
        crate::report::Panel {
            title: "Redis keys under the services' prefix".into(),
            series: vec![("keys".into(), keys)],
        },
        crate::report::Panel {
            title: format!("requests per {every:.0} s"),
            series: vec![("requests".into(), requests)],
        },
        crate::report::Panel {
            title: format!("errors per {every:.0} s (unexpected status, 5xx, transport)"),
            series: vec![("errors".into(), errors), ("5xx".into(), server_errors)],
        },
    ];
    let title = format!(
        "Soak: {:.0} min at {} visits/s, {} instance(s); {} errors",
        report.duration_s / 60.0,
        report.rate,
        report.instances.len(),
        report.errors()
    );
    crate::report::svg_panels(&title, "minutes", &panels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t_s: f64, rss_kb: u64, fds: u64) -> Sample {
        Sample {
            t_s,
            instances: vec![InstanceSample {
                rss_kb: Some(rss_kb),
                fds: Some(fds),
                ..InstanceSample::default()
            }],
            ..Sample::default()
        }
    }

    fn config() -> Config {
        Config { warmup: Duration::from_secs(60), ..Config::new(vec!["http://a".into()]) }
    }

    #[test]
    fn memory_that_levels_off_after_the_warm_up_is_flat() {
        // Growth in the warm-up, then noise within 10 %.
        let samples: Vec<Sample> = [
            (0, 10_000, 20),
            (60, 50_000, 40),
            (120, 52_000, 41),
            (180, 51_000, 40),
            (240, 53_000, 42),
            (300, 56_000, 41),
            (360, 55_000, 42),
        ]
        .iter()
        .map(|(t, r, f)| at(*t as f64, *r, *f))
        .collect();
        let checks = flatness(&config(), &samples);
        assert_eq!(checks.len(), 2);
        assert!(checks.iter().all(|c| c.flat), "{checks:#?}");
    }

    #[test]
    fn memory_or_descriptors_that_keep_growing_are_not_flat() {
        let samples: Vec<Sample> =
            (1..=9).map(|m| at(m as f64 * 60.0, 50_000 + m * 3_000, 40 + m * 2)).collect();
        let checks = flatness(&config(), &samples);
        assert!(checks.iter().all(|c| !c.flat), "{checks:#?}");
    }

    #[test]
    fn too_few_samples_after_the_warm_up_are_not_judged() {
        let samples = vec![at(0.0, 1, 1), at(60.0, 1, 1), at(120.0, 100, 100)];
        assert!(flatness(&config(), &samples).is_empty());
    }

    #[test]
    fn the_pool_gauges_are_read_from_the_prometheus_text() {
        let text = "# TYPE db_pool_connections gauge\ndb_pool_connections{state=\"in_use\"} 3\ndb_pool_connections{state=\"idle\"} 7\n";
        assert_eq!(pool_gauge(text, "in_use"), Some(3.0));
        assert_eq!(pool_gauge(text, "idle"), Some(7.0));
        assert_eq!(pool_gauge("", "idle"), None);
    }
}
