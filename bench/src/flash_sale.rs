//! The flash sale: a concert behind the waiting room, many fans at once, spread over one or
//! more instances. Every fan signs up, joins the line, follows its stream until admitted,
//! picks 1–4 seats from the seat map (retrying on conflict), checks out and pays through the
//! provider simulator — or declines, or walks away. Then the database is audited: nothing sold
//! twice, every sale paid once and emailed once, nothing left held.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use tokio::sync::Semaphore;

use crate::{
    live::{AvailabilityStream, Layout, Mirror},
    queue_stream::QueueStream,
    report::{Latencies, chrono_now, iso},
    smtp::SmtpSink,
};

/// What to run.
#[derive(Clone)]
pub struct Config {
    /// One base URL per instance; fans are spread over them.
    pub base_urls: Vec<String>,
    /// The shared database, for the audit.
    pub database_url: String,
    pub admin_email: String,
    pub admin_password: String,
    pub fans: usize,
    pub seats: usize,
    /// Share of fans who decline at the provider.
    pub decline_ratio: f64,
    /// Share of fans who check out and never pay (their reservations expire).
    pub abandon_ratio: f64,
    /// Signups in flight at once (Argon2 is the cost).
    pub signup_parallelism: usize,
    /// How long to wait for expiries, emails and holds to settle before the audit.
    pub settle_timeout: Duration,
    /// Draws a progress line on stderr.
    pub progress: bool,
    /// How fans learn which seats are free.
    pub map: MapMode,
    /// Where fans' accounts come from.
    pub accounts: Accounts,
    /// Bench processes the fans are spread over: 1 runs them here; more spawn this binary's
    /// `flash-sale-worker` that many times (a process may hold only so many descriptors).
    pub processes: usize,
    /// The instances' process ids (same order as `base_urls`), for their memory and CPU time.
    pub server_pids: Vec<u32>,
    /// The services' Redis, for its command counts over the sale (`INFO commandstats`): give it
    /// a Redis of the sale's own, or other users' commands are counted too.
    pub redis_url: Option<String>,
}

/// Where fans' accounts come from.
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Accounts {
    /// Every fan signs up (one Argon2 hash each) before the sale opens.
    #[default]
    Signup,
    /// SETUP, outside the timed sale: a fixture inserts the users straight into Postgres with
    /// ONE Argon2 hash computed once by the service's own hasher; each fan then logs in (one
    /// Argon2 verify each) before the sale opens.
    FixtureLogin,
    /// SETUP, outside the timed sale: the users are inserted as for `FixtureLogin`, and the
    /// fixture also mints each fan's access token with the service's JWT secret and token
    /// code (no login, no Argon2 at all).
    FixtureTokens { jwt_secret: String },
}

/// What one bench process runs: fans `from..to` of a sale already set up.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct WorkerSpec {
    pub base_urls: Vec<String>,
    pub database_url: String,
    pub concert_id: i64,
    pub run_id: i64,
    pub from: usize,
    pub to: usize,
    pub decline_ratio: f64,
    pub abandon_ratio: f64,
    pub signup_parallelism: usize,
    pub stream_map: bool,
    pub accounts: Accounts,
}

/// What a worker sends back on stdout (one JSON line), merged by the coordinator.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct WorkerReport {
    pub steps: HashMap<String, Vec<f64>>,
    pub conflicts: usize,
    pub holds: Vec<(u64, f64)>,
    pub confirms: Vec<u64>,
    pub failures: Vec<String>,
    #[serde(default)]
    pub retried_503: usize,
    #[serde(default)]
    pub checkout_refusals: Vec<String>,
}

/// The memory of one instance: at the gate (every fan in line) and the peak during the sale;
/// and its CPU time (user + system, clock ticks) at the gate and when the last fan was done.
#[derive(Clone, Debug, Default)]
pub struct Memory {
    pub pid: u32,
    pub at_gate_kb: Option<u64>,
    pub peak_kb: Option<u64>,
    pub cpu_at_gate_ticks: Option<u64>,
    pub cpu_at_end_ticks: Option<u64>,
}

/// utime + stime of a process, in clock ticks (`getconf CLK_TCK`, 100 on Linux here).
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name (which may hold spaces), from field 3 (state) on.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The sale database's write counters (`pg_stat_database`).
#[derive(Clone, Copy, Debug, Default)]
pub struct PgCounters {
    pub xact_commit: i64,
    pub tup_inserted: i64,
    pub tup_updated: i64,
    pub tup_deleted: i64,
}

impl PgCounters {
    async fn read(db: &mut PgConnection) -> anyhow::Result<PgCounters> {
        // A fresh snapshot: the counters of other sessions as they flushed them so far.
        sqlx::query("select pg_stat_clear_snapshot()").execute(&mut *db).await?;
        let (xact_commit, tup_inserted, tup_updated, tup_deleted): (i64, i64, i64, i64) =
            sqlx::query_as(
                "select xact_commit, tup_inserted, tup_updated, tup_deleted
                 from pg_stat_database where datname = current_database()",
            )
            .fetch_one(&mut *db)
            .await?;
        Ok(PgCounters { xact_commit, tup_inserted, tup_updated, tup_deleted })
    }

    fn since(self, before: PgCounters) -> PgCounters {
        PgCounters {
            xact_commit: self.xact_commit - before.xact_commit,
            tup_inserted: self.tup_inserted - before.tup_inserted,
            tup_updated: self.tup_updated - before.tup_updated,
            tup_deleted: self.tup_deleted - before.tup_deleted,
        }
    }
}

/// Calls and microseconds spent per Redis command (`INFO commandstats`).
fn redis_calls(url: &str) -> anyhow::Result<HashMap<String, (u64, u64)>> {
    let mut conn = redis::Client::open(url)?.get_connection()?;
    let info: String = redis::cmd("INFO").arg("commandstats").query(&mut conn)?;
    let mut calls = HashMap::new();
    for line in info.lines() {
        // cmdstat_evalsha:calls=12,usec=…
        let Some((name, stats)) = line.strip_prefix("cmdstat_").and_then(|l| l.split_once(':'))
        else {
            continue;
        };
        let field = |key: &str| {
            stats.split(',').find_map(|kv| kv.strip_prefix(key)).and_then(|v| v.parse().ok())
        };
        calls.insert(name.to_owned(), (field("calls=").unwrap_or(0), field("usec=").unwrap_or(0)));
    }
    Ok(calls)
}

/// VmRSS of a process, in kB.
pub fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// How a fan learns which seats are free.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MapMode {
    /// The layout once, then its own availability stream; seats it sees AVAILABLE.
    #[default]
    Stream,
    /// The whole seat map (gzip), again after every conflict (the way before the live map).
    Refetch,
}

/// One step's latencies, by name.
#[derive(Default)]
pub struct Steps(pub HashMap<&'static str, Latencies>);

/// What happened, and whether the audit passed.
pub struct Report {
    pub fans: usize,
    pub seats: usize,
    pub instances: usize,
    pub sold_out_after: Option<Duration>,
    pub duration: Duration,
    pub confirmed_reservations: i64,
    pub sold_seats: i64,
    pub steps: Steps,
    /// Holds refused with 409 (a seat taken meanwhile).
    pub conflicts: usize,
    /// Confirmations per second, by second since the sale opened.
    pub timeline: Vec<(u64, u64, f64, f64)>,
    pub audit: Vec<(String, bool, String)>,
    /// Fans (so waiting-room streams at the gate) per instance, by base URL.
    pub streams_per_instance: Vec<(String, usize)>,
    /// Per instance, when `server_pids` was given.
    pub memory: Vec<Memory>,
    /// Setup (concert, seats, accounts) and the time until every fan was in line.
    pub setup: Duration,
    pub gate: Duration,
    /// With `--chaos`: the faults, readiness transitions and answers by status.
    pub chaos: Option<crate::chaos::ChaosReport>,
    /// The wait before the audit.
    pub settled: Settled,
    /// Holds and checkouts answered 503 and tried again.
    pub retried_503: usize,
    /// Checkouts refused with a seat conflict (the fan picked again), by code.
    pub checkout_refusals: HashMap<String, usize>,
    /// The database's write counters from the gate until everything settled.
    pub pg: Option<PgCounters>,
    /// Redis calls and microseconds per command from the gate until the last fan was done
    /// (`redis_url`).
    pub redis_calls: Vec<(String, u64, u64)>,
}

impl Report {
    pub fn audit_passed(&self) -> bool {
        self.audit.iter().all(|(_, ok, _)| *ok)
    }
}

#[derive(Default)]
struct Shared {
    steps: Mutex<Steps>,
    done: AtomicUsize,
    conflicts: AtomicUsize,
    /// (second since start, hold latency ms) samples and confirmation seconds, for the chart.
    holds: Mutex<Vec<(u64, f64)>>,
    confirms: Mutex<Vec<u64>>,
    /// Requests answered 503 and tried again.
    retried_503: AtomicUsize,
    /// Checkouts refused with a seat conflict, by error code.
    checkout_refusals: Mutex<Vec<String>>,
}

impl Shared {
    fn record(&self, step: &'static str, d: Duration) {
        self.steps.lock().unwrap().0.entry(step).or_default().record(d);
    }

    /// Adds a worker's samples to these.
    fn merge(&self, r: WorkerReport, failures: &mut Vec<String>) {
        let mut steps = self.steps.lock().unwrap();
        for (name, ms) in r.steps {
            let name: &'static str = match name.as_str() {
                "signup" => "signup",
                "login" => "login",
                "join" => "join",
                "queue_wait" => "queue_wait",
                "layout" => "layout",
                "availability" => "availability",
                "seat_map" => "seat_map",
                "hold" => "hold",
                "checkout" => "checkout",
                "payment" => "payment",
                _ => "other",
            };
            let l = steps.0.entry(name).or_default();
            for m in ms {
                l.record(Duration::from_secs_f64(m / 1000.0));
            }
        }
        self.conflicts.fetch_add(r.conflicts, Ordering::Relaxed);
        self.holds.lock().unwrap().extend(r.holds);
        self.confirms.lock().unwrap().extend(r.confirms);
        self.retried_503.fetch_add(r.retried_503, Ordering::Relaxed);
        self.checkout_refusals.lock().unwrap().extend(r.checkout_refusals);
        failures.extend(r.failures);
    }
}

pub async fn run(config: &Config, sink: &SmtpSink) -> anyhow::Result<Report> {
    let setup_started = Instant::now();
    let client = http_client()?;
    let base = &config.base_urls[0];
    let admin =
        crate::seat_map::admin_token_at(&client, base, &config.admin_email, &config.admin_password)
            .await?;
    let (concert_id, now) = create_concert(&client, base, &admin, config.seats).await?;

    let run_id = now % 1_000_000;
    if config.accounts != Accounts::Signup {
        let mut db = PgConnection::connect(&config.database_url).await?;
        fixture_users(&mut db, run_id, config.fans).await?;
    }
    let setup = setup_started.elapsed();

    // Every fan gets its account, joins the line and opens its stream (as a browser would)
    // before the sale opens; the sale opens once everyone is in line.
    let gate_started = Instant::now();
    let shared = Arc::new(Shared::default());
    let joined = Arc::new(AtomicUsize::new(0));
    let sale_start = Arc::new(Mutex::new(None::<Instant>));
    let spec = |from: usize, to: usize| WorkerSpec {
        base_urls: config.base_urls.clone(),
        database_url: config.database_url.clone(),
        concert_id,
        run_id,
        from,
        to,
        decline_ratio: config.decline_ratio,
        abandon_ratio: config.abandon_ratio,
        signup_parallelism: config.signup_parallelism,
        stream_map: config.map == MapMode::Stream,
        accounts: config.accounts.clone(),
    };
    let mut tasks = Vec::new();
    let mut workers = Vec::new();
    if config.processes <= 1 {
        tasks = spawn_fans(&spec(0, config.fans), &client, &shared, &joined, &sale_start).await?;
        while joined.load(Ordering::Relaxed) < config.fans {
            if tasks.iter().all(|t| t.is_finished()) {
                bail!("every fan stopped before the sale opened");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    } else {
        let per = config.fans.div_ceil(config.processes);
        for from in (0..config.fans).step_by(per.max(1)) {
            workers.push(Worker::spawn(&spec(from, (from + per).min(config.fans)))?);
        }
        for w in &mut workers {
            w.wait_joined().await?;
        }
    }
    let gate = gate_started.elapsed();
    let mut memory: Vec<Memory> = config
        .server_pids
        .iter()
        .map(|&pid| Memory {
            pid,
            at_gate_kb: rss_kb(pid),
            peak_kb: rss_kb(pid),
            cpu_at_gate_ticks: cpu_ticks(pid),
            cpu_at_end_ticks: None,
        })
        .collect();
    let pg_at_gate = match PgConnection::connect(&config.database_url).await {
        Ok(mut db) => PgCounters::read(&mut db).await.ok(),
        Err(_) => None,
    };
    let redis_at_gate = config.redis_url.as_deref().and_then(|u| redis_calls(u).ok());
    for w in &mut workers {
        w.open().await?;
    }

    // The sale opens now.
    *sale_start.lock().unwrap() = Some(Instant::now());
    let sale_start = Instant::now();
    open_sale(&client, base, &admin, concert_id, now).await?;

    let peaks = Arc::new(Mutex::new(memory.clone()));
    let sampler = {
        let peaks = peaks.clone();
        tokio::spawn(async move {
            loop {
                for m in peaks.lock().unwrap().iter_mut() {
                    m.peak_kb = m.peak_kb.max(rss_kb(m.pid));
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };
    let progress = config.progress.then(|| {
        let shared = shared.clone();
        let (fans, seats, url) = (config.fans, config.seats, config.database_url.clone());
        tokio::spawn(async move {
            let Ok(mut db) = PgConnection::connect(&url).await else { return };
            loop {
                let sold: i64 = sqlx::query_scalar("select count(*) from reservation_seat rs join reservation r on r.id = rs.reservation_id where r.concert_id = $1 and r.status = 'CONFIRMED' and rs.active")
                    .bind(concert_id)
                    .fetch_one(&mut db)
                    .await
                    .unwrap_or(0);
                let done = shared.done.load(Ordering::Relaxed);
                let width = 30;
                let filled = (sold as usize * width / seats.max(1)).min(width);
                eprint!("\r[{}{}] sold {sold}/{seats} seats, fans done {done}/{fans}   ", "#".repeat(filled), ".".repeat(width - filled));
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    });

    let mut failures = Vec::new();
    for t in futures::future::join_all(tasks).await {
        if let Err(e) = t? {
            failures.push(format!("{e:#}"));
        }
    }
    for w in workers {
        let r = w.finish().await?;
        shared.merge(r, &mut failures);
    }
    sampler.abort();
    memory = peaks.lock().unwrap().clone();
    for m in &mut memory {
        m.cpu_at_end_ticks = cpu_ticks(m.pid);
    }
    let mut redis_calls_in_sale: Vec<(String, u64, u64)> =
        match (&redis_at_gate, config.redis_url.as_deref().and_then(|u| redis_calls(u).ok())) {
            (Some(before), Some(after)) => after
                .into_iter()
                .map(|(k, (n, usec))| {
                    let (n0, usec0) = before.get(&k).copied().unwrap_or((0, 0));
                    (k, n.saturating_sub(n0), usec.saturating_sub(usec0))
                })
                .filter(|(_, n, _)| *n > 0)
                .collect(),
            _ => Vec::new(),
        };
    redis_calls_in_sale.sort_by_key(|c| std::cmp::Reverse(c.1));
    if let Some(p) = progress {
        p.abort();
        eprintln!();
    }
    let duration = sale_start.elapsed();

    // Let expiries, the outbox and the emails settle, then audit.
    let mut db = PgConnection::connect(&config.database_url).await?;
    let sold_out_after =
        sold_out_time(&mut db, concert_id, config.seats as i64, sale_start).await?;
    let settled = settle(&mut db, &client, base, concert_id, sink, config.settle_timeout).await;
    // The backends flush their counters once idle for a second.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pg = match pg_at_gate {
        Some(before) => PgCounters::read(&mut db).await.ok().map(|after| after.since(before)),
        None => None,
    };
    let audit =
        audit(&mut db, &client, base, concert_id, config.seats as i64, sink, &failures).await?;
    let (confirmed_reservations, sold_seats) = confirmed(&mut db, concert_id).await?;
    let timeline = timeline(&shared);
    let steps = std::mem::take(&mut *shared.steps.lock().unwrap());
    Ok(Report {
        fans: config.fans,
        seats: config.seats,
        instances: config.base_urls.len(),
        sold_out_after,
        duration,
        confirmed_reservations,
        sold_seats,
        steps,
        conflicts: shared.conflicts.load(Ordering::Relaxed),
        timeline,
        audit,
        streams_per_instance: config
            .base_urls
            .iter()
            .enumerate()
            .map(|(k, url)| {
                let n = config.base_urls.len();
                (url.clone(), (0..config.fans).filter(|i| i % n == k).count())
            })
            .collect(),
        memory,
        setup,
        gate,
        chaos: None,
        settled,
        retried_503: shared.retried_503.load(Ordering::Relaxed),
        checkout_refusals: shared.checkout_refusals.lock().unwrap().iter().fold(
            HashMap::new(),
            |mut by_code, code| {
                *by_code.entry(code.clone()).or_default() += 1;
                by_code
            },
        ),
        pg,
        redis_calls: redis_calls_in_sale,
    })
}

/// Creates a concert behind the waiting room, opening tomorrow, with `seats` seats (in
/// batches of 5,000); returns its id and the time it was made (its title's stamp).
pub(crate) async fn create_concert(
    client: &reqwest::Client,
    base: &str,
    admin: &str,
    seats: usize,
) -> anyhow::Result<(i64, i64)> {
    let now = chrono_now();
    let concert: Value = client
        .post(format!("{base}/api/concert"))
        .bearer_auth(admin)
        .json(&json!({
            "title": format!("Flash sale {now}"), "venue": "Bench Stadium", "queueEnabled": true,
            "openTime": iso(now + 86_400), "closeTime": iso(now + 2 * 86_400), "concertDate": iso(now + 3 * 86_400),
        }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let concert_id = concert["id"].as_i64().context("concert id")?;
    let items: Vec<Value> = (0..seats)
        .map(|i| json!({"concertId": concert_id, "section": ((b'A' + (i / 1000) as u8) as char).to_string(),
            "row": (i % 1000 / 50 + 1).to_string(), "number": (i % 50 + 1).to_string(), "grade": "R", "price": 110_000}))
        .collect();
    for chunk in items.chunks(5_000) {
        client
            .post(format!("{base}/api/seat/batch"))
            .bearer_auth(admin)
            .json(&chunk)
            .send()
            .await?
            .error_for_status()?;
    }

    Ok((concert_id, now))
}

/// Opens the sale of a concert made by [`create_concert`] at `now`: its open time is moved to
/// a minute ago.
pub(crate) async fn open_sale(
    client: &reqwest::Client,
    base: &str,
    admin: &str,
    concert_id: i64,
    now: i64,
) -> anyhow::Result<()> {
    client
        .put(format!("{base}/api/concert/{concert_id}"))
        .bearer_auth(admin)
        .json(&json!({"title": format!("Flash sale {now}"), "venue": "Bench Stadium", "queueEnabled": true,
            "openTime": iso(chrono_now() - 60), "closeTime": iso(now + 2 * 86_400), "concertDate": iso(now + 3 * 86_400)}))
        .send()
        .await?
        .error_for_status()?;

    Ok(())
}

pub(crate) fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(60))
        .build()?)
}

/// Queue joins one bench process has in flight at once.
const JOINS_IN_FLIGHT: usize = 256;

/// The password every fixture account has.
pub(crate) const FIXTURE_PASSWORD: &str = "flash-sale-pass";

/// SETUP, outside the timed sale: `fans` users `fs{run}_{i}` inserted straight into Postgres,
/// all with ONE Argon2 hash made once by the service's own hasher (its parameters).
pub async fn fixture_users(db: &mut PgConnection, run_id: i64, fans: usize) -> anyhow::Result<()> {
    let hash = ticketing::services::passwords::hash(FIXTURE_PASSWORD.to_owned()).await?;
    for start in (0..fans).step_by(10_000) {
        let end = (start + 10_000).min(fans) as i64 - 1;
        sqlx::query(
            "insert into users (username, email, password_hash)
             select 'fs' || $1 || '_' || g, 'fs' || $1 || '_' || g || '@flash.local', $2
             from generate_series($3::bigint, $4::bigint) g",
        )
        .bind(run_id.to_string())
        .bind(&hash)
        .bind(start as i64)
        .bind(end)
        .execute(&mut *db)
        .await
        .context("inserting the fixture users")?;
    }
    Ok(())
}

/// SETUP: the access tokens of fixture users `fs{run}_{i}` for `i` in `fans`, minted with the
/// service's JWT secret and token code (no login, no Argon2), valid for `ttl`.
pub async fn fixture_tokens(
    database_url: &str,
    run_id: i64,
    fans: std::ops::Range<usize>,
    jwt_secret: &str,
    ttl: Duration,
) -> anyhow::Result<HashMap<usize, String>> {
    let tokens = ticketing::services::tokens::Tokens::new(
        &secrecy::SecretString::from(jwt_secret.to_owned()),
        ttl,
        ttl,
    );
    let mut db = PgConnection::connect(database_url).await?;
    let rows: Vec<(String, i64)> =
        sqlx::query_as("select username, id from users where email like $1")
            .bind(format!("fs{run_id}\\_%@flash.local"))
            .fetch_all(&mut db)
            .await?;
    let prefix = format!("fs{run_id}_");
    let mut map = HashMap::new();
    for (name, id) in rows {
        let Some(i) = name.strip_prefix(&prefix).and_then(|i| i.parse::<usize>().ok()) else {
            continue;
        };
        if fans.contains(&i) {
            let principal = ticketing::services::tokens::Principal {
                user_id: id,
                role: ticketing::domain::user::Role::User,
            };
            map.insert(i, tokens.issue_access(principal)?);
        }
    }
    Ok(map)
}

/// Spawns fans `spec.from..spec.to`; each counts in `joined` once in line (or failed before).
async fn spawn_fans(
    spec: &WorkerSpec,
    client: &reqwest::Client,
    shared: &Arc<Shared>,
    joined: &Arc<AtomicUsize>,
    sale_start: &Arc<Mutex<Option<Instant>>>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<anyhow::Result<()>>>> {
    // SETUP with FixtureTokens: the fixture mints each fan's token (no login).
    let minted: Option<Arc<HashMap<usize, String>>> = match &spec.accounts {
        Accounts::FixtureTokens { jwt_secret } => Some(Arc::new(
            fixture_tokens(
                &spec.database_url,
                spec.run_id,
                spec.from..spec.to,
                jwt_secret,
                Duration::from_secs(3 * 3600),
            )
            .await?,
        )),
        _ => None,
    };
    let signups = Arc::new(Semaphore::new(spec.signup_parallelism.max(1)));
    // Joins in flight at once: each holds a connection, beside the streams already open, and a
    // process may hold only so many descriptors.
    let joins = Arc::new(Semaphore::new(JOINS_IN_FLIGHT));
    let map = if spec.stream_map { MapMode::Stream } else { MapMode::Refetch };
    let mut tasks = Vec::with_capacity(spec.to - spec.from);
    for i in spec.from..spec.to {
        let (client, shared, signups) = (client.clone(), shared.clone(), signups.clone());
        let joins = joins.clone();
        let (joined, sale_start, minted) = (joined.clone(), sale_start.clone(), minted.clone());
        let base = spec.base_urls[i % spec.base_urls.len()].clone();
        let fate = fate(i, spec.decline_ratio, spec.abandon_ratio);
        let (accounts, run_id, concert_id) = (spec.accounts.clone(), spec.run_id, spec.concert_id);
        tasks.push(tokio::spawn(async move {
            let result = async {
                // A fan that fails before joining still counts for the gate, or the sale never opens.
                let before_join = async {
                    let name = format!("fs{run_id}_{i}");
                    let token = match (&accounts, &minted) {
                        (_, Some(minted)) => {
                            minted.get(&i).cloned().context("no fixture user for this fan")?
                        }
                        (Accounts::FixtureLogin, _) => {
                            let permit = signups.acquire().await?;
                            let t = Instant::now();
                            let res: Value = client
                                .post(format!("{base}/api/user/login"))
                                .json(&json!({"email": format!("{name}@flash.local"), "password": FIXTURE_PASSWORD}))
                                .send()
                                .await?
                                .error_for_status()?
                                .json()
                                .await?;
                            drop(permit);
                            shared.record("login", t.elapsed());
                            res["token"].as_str().context("token")?.to_owned()
                        }
                        _ => {
                            let permit = signups.acquire().await?;
                            let t = Instant::now();
                            let res: Value = client
                                .post(format!("{base}/api/user/signup"))
                                .json(&json!({"username": &name[..name.len().min(20)], "email": format!("{name}@flash.local"), "password": FIXTURE_PASSWORD}))
                                .send()
                                .await?
                                .error_for_status()?
                                .json()
                                .await?;
                            drop(permit);
                            shared.record("signup", t.elapsed());
                            res["token"].as_str().context("token")?.to_owned()
                        }
                    };
                    let permit = joins.acquire().await?;
                    let t = Instant::now();
                    client
                        .post(format!("{base}/api/queue"))
                        .bearer_auth(&token)
                        .json(&json!({"concertId": concert_id}))
                        .send()
                        .await?
                        .error_for_status()?;
                    shared.record("join", t.elapsed());
                    drop(permit);
                    Ok::<_, anyhow::Error>(token)
                };
                let token = match before_join.await {
                    Ok(token) => token,
                    Err(e) => {
                        joined.fetch_add(1, Ordering::Relaxed);
                        return Err(e);
                    }
                };
                let admitted = wait_for_admission(&base, concert_id, &token, &joined).await?;
                let start = sale_start.lock().unwrap().unwrap_or_else(Instant::now);
                shared.record("queue_wait", start.elapsed());
                if !admitted {
                    return Ok(());
                }
                fan(&client, &base, concert_id, &token, fate, map, &shared, start).await
            }
            .await;
            shared.done.fetch_add(1, Ordering::Relaxed);
            result
        }));
    }
    Ok(tasks)
}

/// A `flash-sale-worker` child: its fans in line → `joined` on stdout; `open` on stdin → the
/// sale started; its [`WorkerReport`] as one JSON line on stdout at the end.
struct Worker {
    child: tokio::process::Child,
    stdout: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    stdin: tokio::process::ChildStdin,
}

impl Worker {
    fn spawn(spec: &WorkerSpec) -> anyhow::Result<Worker> {
        use std::process::Stdio;
        use tokio::io::AsyncBufReadExt;
        let exe = std::env::current_exe()?;
        let mut child = tokio::process::Command::new(exe)
            .arg("flash-sale-worker")
            .arg("--spec")
            .arg(serde_json::to_string(spec)?)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("spawning a flash-sale worker")?;
        let stdout = tokio::io::BufReader::new(child.stdout.take().context("stdout")?).lines();
        let stdin = child.stdin.take().context("stdin")?;
        Ok(Worker { child, stdout, stdin })
    }

    async fn wait_joined(&mut self) -> anyhow::Result<()> {
        match self.stdout.next_line().await?.as_deref() {
            Some("joined") => Ok(()),
            other => bail!("a worker said {other:?} instead of joined"),
        }
    }

    async fn open(&mut self) -> anyhow::Result<()> {
        use tokio::io::AsyncWriteExt;
        self.stdin.write_all(b"open\n").await?;
        self.stdin.flush().await?;
        Ok(())
    }

    async fn finish(mut self) -> anyhow::Result<WorkerReport> {
        let line = self.stdout.next_line().await?.context("a worker ended without its report")?;
        let report = serde_json::from_str(&line).context("a worker's report")?;
        let _ = self.child.wait().await;
        Ok(report)
    }
}

/// The worker side: runs `spec`'s fans, talks to the coordinator over stdin/stdout.
pub async fn worker(spec: WorkerSpec) -> anyhow::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let client = http_client()?;
    let shared = Arc::new(Shared::default());
    let joined = Arc::new(AtomicUsize::new(0));
    let sale_start = Arc::new(Mutex::new(None::<Instant>));
    let tasks = spawn_fans(&spec, &client, &shared, &joined, &sale_start).await?;
    let fans = spec.to - spec.from;
    while joined.load(Ordering::Relaxed) < fans {
        if tasks.iter().all(|t| t.is_finished()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut out = tokio::io::stdout();
    out.write_all(b"joined\n").await?;
    out.flush().await?;
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    match stdin.next_line().await?.as_deref() {
        Some("open") => *sale_start.lock().unwrap() = Some(Instant::now()),
        other => bail!("the coordinator said {other:?} instead of open"),
    }
    let mut failures = Vec::new();
    for t in futures::future::join_all(tasks).await {
        if let Err(e) = t? {
            failures.push(format!("{e:#}"));
        }
    }
    let steps = std::mem::take(&mut *shared.steps.lock().unwrap());
    let report = WorkerReport {
        steps: steps.0.into_iter().map(|(k, v)| (k.to_owned(), v.millis())).collect(),
        conflicts: shared.conflicts.load(Ordering::Relaxed),
        holds: std::mem::take(&mut *shared.holds.lock().unwrap()),
        confirms: std::mem::take(&mut *shared.confirms.lock().unwrap()),
        failures,
        retried_503: shared.retried_503.load(Ordering::Relaxed),
        checkout_refusals: std::mem::take(&mut *shared.checkout_refusals.lock().unwrap()),
    };
    let mut line = serde_json::to_vec(&report)?;
    line.push(b'\n');
    out.write_all(&line).await?;
    out.flush().await?;
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    Pay,
    Decline,
    Abandon,
}

pub(crate) fn fate(i: usize, decline: f64, abandon: f64) -> Fate {
    let x = (i as u64).wrapping_mul(2654435761) % 1000;
    let x = x as f64 / 1000.0;
    if x < decline {
        Fate::Decline
    } else if x < decline + abandon {
        Fate::Abandon
    } else {
        Fate::Pay
    }
}

/// One fan's whole visit.
#[allow(clippy::too_many_arguments)]
async fn fan(
    client: &reqwest::Client,
    base: &str,
    concert: i64,
    token: &str,
    fate: Fate,
    map: MapMode,
    shared: &Shared,
    sale_start: Instant,
) -> anyhow::Result<()> {
    let mut rng =
        (token.len() as u64) ^ (sale_start.elapsed().as_nanos() as u64) ^ 0x9E37_79B9_7F4A_7C15;
    let fan = Fan { client, base, concert, token, shared, sale_start };
    let mut refused_checkouts = 0;
    let checkout = loop {
        let held = match map {
            MapMode::Refetch => fan.hold_by_refetch(&mut rng).await?,
            MapMode::Stream => fan.hold_by_stream(&mut rng).await?,
        };
        let Some(seats) = held else {
            let _ = client
                .delete(format!("{base}/api/queue/{concert}"))
                .bearer_auth(token)
                .send()
                .await;
            return Ok(());
        };
        match fan.checkout(&seats).await? {
            Checkout::Started(checkout) => break checkout,
            // The service refused a seat the fan held (a hold that Redis granted over a
            // reservation it had not heard of, or a hold that lapsed meanwhile): a conflict
            // like a refused hold. The fan lets go of its seats and picks again.
            Checkout::Refused(code) if refused_checkouts < MAX_REFUSED_CHECKOUTS => {
                refused_checkouts += 1;
                shared.checkout_refusals.lock().unwrap().push(code);
                fan.release(&seats).await;
            }
            Checkout::Refused(code) => {
                bail!("checkout refused {refused_checkouts} times, last {code}")
            }
        }
    };
    let tx = checkout["transactionId"].as_str().context("transactionId")?.to_owned();
    let action = match fate {
        Fate::Abandon => return Ok(()),
        Fate::Decline => "decline",
        Fate::Pay => "approve",
    };
    let t = Instant::now();
    retrying_503(shared, || async {
        client
            .post(format!("{base}/simulator/pg/checkout/{tx}/{action}"))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    })
    .await?;
    // Wait for the provider's webhook to land.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let p: Value = client
            .get(format!("{base}/api/payment/{tx}"))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        let status = p["status"].as_str().unwrap_or_default().to_owned();
        if status != "IN_PROGRESS" {
            shared.record("payment", t.elapsed());
            if status == "SUCCESS" {
                shared.confirms.lock().unwrap().push(sale_start.elapsed().as_secs());
            }
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("payment {tx} still IN_PROGRESS after 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A fan after admission, choosing seats.
struct Fan<'a> {
    client: &'a reqwest::Client,
    base: &'a str,
    concert: i64,
    token: &'a str,
    shared: &'a Shared,
    sale_start: Instant,
}

/// A small xorshift step.
fn next(rng: &mut u64) -> u64 {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    *rng
}

/// A fan gives up after this many conflicts, or this long.
const MAX_CONFLICTS: usize = 12;
const GIVE_UP: Duration = Duration::from_secs(90);
/// Checkouts refused with a seat conflict before a fan gives up.
const MAX_REFUSED_CHECKOUTS: usize = 3;
/// Tries of one request answered 503 (the service shedding load: a browser tries again after
/// `Retry-After`); the last 503 is a failure.
const TRIES_ON_503: u32 = 5;

/// How a checkout ended.
enum Checkout {
    Started(Value),
    /// 409 with this code: a seat of the checkout is not the fan's to buy (any more).
    Refused(String),
}

/// Runs `request` again, 2 s later, while it fails with a 503 (the error `error_for_status`
/// makes of one), up to [`TRIES_ON_503`] tries.
async fn retrying_503<T, F, Fut>(shared: &Shared, mut request: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match request().await {
            Err(e)
                if tries < TRIES_ON_503
                    && e.downcast_ref::<reqwest::Error>().and_then(reqwest::Error::status)
                        == Some(reqwest::StatusCode::SERVICE_UNAVAILABLE) =>
            {
                shared.retried_503.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            other => return other,
        }
    }
}

/// The pause a 503 asks for (`Retry-After`, seconds), 2 s when it names none.
fn retry_after(res: &reqwest::Response) -> Duration {
    let secs = res
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(2);
    Duration::from_secs(secs.clamp(1, 10))
}

impl Fan<'_> {
    /// Checks out `seats`, trying again after a 503. A 409 that says a seat is taken or no
    /// longer held is a refusal; anything else is an error.
    async fn checkout(&self, seats: &[i64]) -> anyhow::Result<Checkout> {
        let mut tries = 0;
        loop {
            tries += 1;
            let t = Instant::now();
            let res = self
                .client
                .post(format!("{}/api/payment", self.base))
                .bearer_auth(self.token)
                .json(&json!({"seatIds": seats, "paymentMethod": "CREDIT_CARD"}))
                .send()
                .await?;
            let status = res.status().as_u16();
            if res.status().is_success() {
                let checkout: Value = res.json().await?;
                self.shared.record("checkout", t.elapsed());
                return Ok(Checkout::Started(checkout));
            }
            if status == 503 && tries < TRIES_ON_503 {
                self.shared.retried_503.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(retry_after(&res)).await;
                continue;
            }
            let body = res.text().await.unwrap_or_default();
            let code = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| v["code"].as_str().map(str::to_owned))
                .unwrap_or_default();
            // 409 IS_ALREADY_RESERVATION: the database has the seat in a reservation;
            // 404 SEAT_NOT_SELECTED: the hold lapsed before the checkout got through.
            if (status, code.as_str()) == (409, "IS_ALREADY_RESERVATION")
                || (status, code.as_str()) == (404, "SEAT_NOT_SELECTED")
            {
                return Ok(Checkout::Refused(code));
            }
            bail!("checkout answered {status} after {tries} tries: {body}");
        }
    }

    /// Lets go of seats the fan holds (what it no longer holds answers 404 or 409: fine).
    async fn release(&self, seats: &[i64]) {
        for seat in seats {
            let _ = self
                .client
                .delete(format!("{}/api/seat/{seat}/select", self.base))
                .bearer_auth(self.token)
                .send()
                .await;
        }
    }

    /// Tries to hold `pick`: `Some(true)` held, `Some(false)` a conflict.
    async fn hold(&self, pick: &[i64]) -> anyhow::Result<bool> {
        let mut tries = 0;
        let (res, t) = loop {
            tries += 1;
            let t = Instant::now();
            let res = self
                .client
                .post(format!("{}/api/seat/select", self.base))
                .bearer_auth(self.token)
                .json(&json!({"seatIds": pick}))
                .send()
                .await?;
            if res.status().as_u16() == 503 && tries < TRIES_ON_503 {
                self.shared.retried_503.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(retry_after(&res)).await;
                continue;
            }
            break (res, t);
        };
        let elapsed = t.elapsed();
        self.shared.record("hold", elapsed);
        self.shared
            .holds
            .lock()
            .unwrap()
            .push((self.sale_start.elapsed().as_secs(), elapsed.as_secs_f64() * 1000.0));
        match res.status().as_u16() {
            200 => Ok(true),
            409 => {
                self.shared.conflicts.fetch_add(1, Ordering::Relaxed);
                Ok(false)
            }
            status => bail!("hold answered {status}: {}", res.text().await.unwrap_or_default()),
        }
    }

    /// Fetches the whole seat map, and again after every conflict; holds 1–4 free seats.
    async fn hold_by_refetch(&self, rng: &mut u64) -> anyhow::Result<Option<Vec<i64>>> {
        let want = (next(rng) % 4 + 1) as usize;
        let give_up = Instant::now() + GIVE_UP;
        let mut conflicts = 0;
        while conflicts < MAX_CONFLICTS && Instant::now() < give_up {
            let t = Instant::now();
            let map: Vec<Value> = self
                .client
                .get(format!("{}/api/seat/concert/{}/seat-map", self.base, self.concert))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            self.shared.record("seat_map", t.elapsed());
            let free: Vec<i64> = map
                .iter()
                .filter(|s| s["status"] == "AVAILABLE")
                .filter_map(|s| s["id"].as_i64())
                .collect();
            if free.is_empty() {
                // Sold out for good, or seats in others' hands may still come back: wait for them.
                if map.iter().all(|s| s["status"] == "SOLD") {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
                continue;
            }
            let start = (next(rng) as usize) % free.len();
            let pick: Vec<i64> =
                free.iter().cycle().skip(start).take(want.min(free.len())).copied().collect();
            if self.hold(&pick).await? {
                return Ok(Some(pick));
            }
            conflicts += 1;
        }
        Ok(None)
    }

    /// Fetches the layout once and follows the availability stream; holds 1–4 seats its copy
    /// shows AVAILABLE. After a conflict the seats it tried stay out of its picks for a second
    /// (the stream tells which were taken within a batch or two).
    async fn hold_by_stream(&self, rng: &mut u64) -> anyhow::Result<Option<Vec<i64>>> {
        let want = (next(rng) % 4 + 1) as usize;
        let t = Instant::now();
        let layout = Arc::new(
            retrying_503(self.shared, || Layout::fetch(self.client, self.base, self.concert))
                .await?,
        );
        self.shared.record("layout", t.elapsed());
        let t = Instant::now();
        let addr = self.base.strip_prefix("http://").context("http:// base URL")?;
        let mut stream = AvailabilityStream::open(addr, self.concert, None).await?;
        let first = stream.next_event().await?.context("no snapshot")?;
        let mut mirror = Mirror::new(layout);
        mirror.apply(&first)?;
        self.shared.record("availability", t.elapsed());
        // Events arrive on their own task; the fan applies what has come before each pick.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            while let Some(event) = stream.next_event().await.transpose() {
                if tx.send(event).is_err() {
                    break;
                }
            }
        });
        let _reader = AbortOnDrop(reader);
        let give_up = Instant::now() + GIVE_UP;
        let mut refused: HashMap<i64, Instant> = HashMap::new();
        let mut conflicts = 0;
        while conflicts < MAX_CONFLICTS && Instant::now() < give_up {
            while let Ok(event) = rx.try_recv() {
                mirror.apply(&event?)?;
            }
            refused.retain(|_, at| at.elapsed() < Duration::from_secs(1));
            let free: Vec<i64> = mirror.seats_in(0).filter(|s| !refused.contains_key(s)).collect();
            if free.is_empty() {
                let [available, held, reserved, _] = mirror.counts();
                if available + held + reserved == 0 {
                    break;
                }
                // Wait for the next change (or for the refused seats to come back).
                match tokio::time::timeout(Duration::from_millis(300), rx.recv()).await {
                    Ok(Some(event)) => mirror.apply(&event?)?,
                    Ok(None) => bail!("the availability stream ended"),
                    Err(_) => {}
                }
                continue;
            }
            let start = (next(rng) as usize) % free.len();
            let pick: Vec<i64> =
                free.iter().cycle().skip(start).take(want.min(free.len())).copied().collect();
            if self.hold(&pick).await? {
                return Ok(Some(pick));
            }
            let now = Instant::now();
            refused.extend(pick.iter().map(|s| (*s, now)));
            conflicts += 1;
        }
        Ok(None)
    }
}

/// Stops a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Follows the waiting-room stream until `queue-complete` (true) or `queue-left` (false);
/// counts `connected` once the stream is open.
pub async fn wait_for_admission(
    base: &str,
    concert: i64,
    token: &str,
    connected: &AtomicUsize,
) -> anyhow::Result<bool> {
    let addr = base.strip_prefix("http://").context("http:// base URL")?;
    // Like `EventSource`, reconnect a few times; a fan that cannot connect still counts for
    // the gate, or the sale never opens.
    let mut attempt = 0;
    let mut stream = loop {
        match QueueStream::open(addr, concert, token).await {
            Ok(stream) => break stream,
            Err(e) if attempt >= 4 => {
                connected.fetch_add(1, Ordering::Relaxed);
                return Err(e.context("opening the waiting-room stream"));
            }
            Err(_) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    connected.fetch_add(1, Ordering::Relaxed);
    while let Some((event, _)) =
        tokio::time::timeout(Duration::from_secs(600), stream.next_event()).await??
    {
        match event.as_str() {
            "queue-complete" => return Ok(true),
            "queue-left" => return Ok(false),
            _ => {}
        }
    }
    bail!("stream ended without an admission")
}

pub(crate) async fn confirmed(db: &mut PgConnection, concert: i64) -> anyhow::Result<(i64, i64)> {
    let reservations: i64 = sqlx::query_scalar(
        "select count(*) from reservation where concert_id = $1 and status = 'CONFIRMED'",
    )
    .bind(concert)
    .fetch_one(&mut *db)
    .await?;
    let seats: i64 = sqlx::query_scalar("select count(*) from reservation_seat rs join reservation r on r.id = rs.reservation_id where r.concert_id = $1 and r.status = 'CONFIRMED' and rs.active")
        .bind(concert)
        .fetch_one(&mut *db)
        .await?;
    Ok((reservations, seats))
}

/// How long after `start` the last seat of the concert was confirmed, once all `seats` are sold.
pub(crate) async fn sold_out_time(
    db: &mut PgConnection,
    concert: i64,
    seats: i64,
    start: Instant,
) -> anyhow::Result<Option<Duration>> {
    let (_, sold) = confirmed(db, concert).await?;
    if sold < seats {
        return Ok(None);
    }
    let last = sqlx::query_scalar::<_, Option<chrono::DateTime<chrono::Utc>>>(
        "select max(confirmed_at) from reservation where concert_id = $1",
    )
    .bind(concert)
    .fetch_one(&mut *db)
    .await?;
    let opened = chrono::Utc::now() - chrono::Duration::from_std(start.elapsed())?;
    Ok(last.and_then(|t| (t - opened).to_std().ok()))
}

/// How the wait before the audit ended.
#[derive(Clone, Debug)]
pub struct Settled {
    /// Everything had settled (else the time ran out).
    pub settled: bool,
    pub after: Duration,
    /// What was still pending at the last look.
    pub pending: String,
}

/// Waits, up to `timeout`, until no reservation is unpaid, no seat is held, the outbox is
/// drained and every email the concert's reservations owe has been handled by a consumer (a
/// delivery record for each of their outbox messages: nothing left in the email queue, the
/// retry queue or in flight), and the sink holds a confirmation per confirmed reservation. A
/// message lost on the way keeps it waiting to the end, and the answer says what was missing.
/// (The fault tests settle their sales with it too.)
pub async fn settle(
    db: &mut PgConnection,
    client: &reqwest::Client,
    base: &str,
    concert: i64,
    sink: &SmtpSink,
    timeout: Duration,
) -> Settled {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut pending = String::new();
    while Instant::now() < deadline {
        let unpaid: i64 = sqlx::query_scalar(
            "select count(*) from reservation where concert_id = $1 and status = 'IN_PROGRESS'",
        )
        .bind(concert)
        .fetch_one(&mut *db)
        .await
        .unwrap_or(1);
        let outbox: i64 =
            sqlx::query_scalar("select count(*) from outbox where published_at is null")
                .fetch_one(&mut *db)
                .await
                .unwrap_or(1);
        let unsent: i64 = sqlx::query_scalar(
            "select count(*) from outbox o
             join reservation r on r.id = (o.payload->>'reservationId')::bigint
             where r.concert_id = $1
               and not exists (select 1 from email_deliveries d where d.message_id = o.message_id)",
        )
        .bind(concert)
        .fetch_one(&mut *db)
        .await
        .unwrap_or(1);
        let held = seat_statuses(client, base, concert)
            .await
            .map(|s| s.get("HELD").copied().unwrap_or(0))
            .unwrap_or(1);
        let confirmed = confirmed(db, concert).await.map(|c| c.0).unwrap_or(0);
        let emails = confirmation_mails(sink).len() as i64;
        if unpaid == 0 && outbox == 0 && unsent == 0 && held == 0 && emails >= confirmed {
            // One more moment for any late duplicate to show itself.
            tokio::time::sleep(Duration::from_millis(500)).await;
            return Settled { settled: true, after: started.elapsed(), pending: String::new() };
        }
        pending = format!(
            "{unpaid} unpaid reservations, {outbox} outbox rows unpublished, {unsent} emails \
             not handled by a consumer, {held} seats HELD, {emails} of {confirmed} confirmations \
             at the sink"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Settled { settled: false, after: started.elapsed(), pending }
}

pub(crate) async fn seat_statuses(
    client: &reqwest::Client,
    base: &str,
    concert: i64,
) -> anyhow::Result<HashMap<String, i64>> {
    let map: Vec<Value> = client
        .get(format!("{base}/api/seat/concert/{concert}/seat-map"))
        .send()
        .await?
        .json()
        .await?;
    let mut counts = HashMap::new();
    for s in map {
        *counts.entry(s["status"].as_str().unwrap_or_default().to_owned()).or_default() += 1;
    }
    Ok(counts)
}

pub(crate) fn confirmation_mails(sink: &SmtpSink) -> Vec<String> {
    sink.messages()
        .into_iter()
        .filter(|m| m.contains("Subject: [ConcertMania] 예매가 확정되었습니다"))
        .collect()
}

/// The audit of a sale of `concert` (`seats` seats): nothing sold twice, the seat map agrees
/// with the confirmed reservations, sold out, one SUCCESS payment and one confirmation email
/// (in `sink`) per confirmed reservation, nothing left held or unpaid, and no fan `failures`.
/// Each check: (name, passed, detail). The fault tests audit their sales with it too.
pub async fn audit(
    db: &mut PgConnection,
    client: &reqwest::Client,
    base: &str,
    concert: i64,
    seats: i64,
    sink: &SmtpSink,
    failures: &[String],
) -> anyhow::Result<Vec<(String, bool, String)>> {
    let mut checks = Vec::new();
    let mut check =
        |name: &str, ok: bool, detail: String| checks.push((name.to_owned(), ok, detail));

    check(
        "every fan's visit ended without an error",
        failures.is_empty(),
        failures.iter().take(3).cloned().collect::<Vec<_>>().join(" | "),
    );
    let doubled: i64 = sqlx::query_scalar("select count(*) from (select rs.seat_id from reservation_seat rs join seat s on s.id = rs.seat_id where s.concert_id = $1 and rs.active group by rs.seat_id having count(*) > 1) d")
        .bind(concert)
        .fetch_one(&mut *db)
        .await?;
    check("no seat in two active reservations", doubled == 0, format!("{doubled} seats"));

    let (confirmed_reservations, confirmed_seats) = confirmed(db, concert).await?;
    let statuses = seat_statuses(client, base, concert).await?;
    let sold = statuses.get("SOLD").copied().unwrap_or(0);
    check(
        "sold seats = confirmed reservation seats",
        sold == confirmed_seats,
        format!("seat map SOLD {sold}, confirmed seats {confirmed_seats}"),
    );
    check("sold out", sold == seats, format!("{sold}/{seats}"));

    let wrong_payments: i64 = sqlx::query_scalar(
        "select count(*) from reservation r where r.concert_id = $1 and r.status = 'CONFIRMED'
           and (select count(*) from payments p where p.reservation_id = r.id and p.status = 'SUCCESS') <> 1",
    )
    .bind(concert)
    .fetch_one(&mut *db)
    .await?;
    let stray_success: i64 = sqlx::query_scalar(
        "select count(*) from payments p join reservation r on r.id = p.reservation_id
         where r.concert_id = $1 and p.status = 'SUCCESS' and r.status <> 'CONFIRMED'",
    )
    .bind(concert)
    .fetch_one(&mut *db)
    .await?;
    check(
        "one SUCCESS payment per confirmed reservation",
        wrong_payments == 0 && stray_success == 0,
        format!("{wrong_payments} without exactly one, {stray_success} on other reservations"),
    );

    let codes: Vec<String> = sqlx::query_scalar(
        "select ticket_code from reservation where concert_id = $1 and status = 'CONFIRMED'",
    )
    .bind(concert)
    .fetch_all(&mut *db)
    .await?;
    let mails = confirmation_mails(sink);
    let mut per_code: HashMap<&str, usize> = HashMap::new();
    for code in &codes {
        per_code.insert(code, mails.iter().filter(|m| m.contains(code.as_str())).count());
    }
    let wrong: Vec<String> =
        per_code.iter().filter(|(_, n)| **n != 1).map(|(c, n)| format!("{c}×{n}")).collect();
    let foreign = mails.len() as i64 - confirmed_reservations;
    check(
        "one confirmation email per confirmed reservation",
        wrong.is_empty() && foreign == 0,
        format!(
            "{} mails for {confirmed_reservations} reservations; off: {}",
            mails.len(),
            wrong.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
        ),
    );

    let unpaid: i64 = sqlx::query_scalar(
        "select count(*) from reservation where concert_id = $1 and status = 'IN_PROGRESS'",
    )
    .bind(concert)
    .fetch_one(&mut *db)
    .await?;
    let held = statuses.get("HELD").copied().unwrap_or(0);
    let reserved = statuses.get("RESERVED").copied().unwrap_or(0);
    check(
        "nothing left held or unpaid after expiries",
        unpaid == 0 && held == 0 && reserved == 0,
        format!("{unpaid} unpaid reservations, {held} HELD, {reserved} RESERVED seats"),
    );
    Ok(checks)
}

fn timeline(shared: &Shared) -> Vec<(u64, u64, f64, f64)> {
    let confirms = shared.confirms.lock().unwrap();
    let holds = shared.holds.lock().unwrap();
    let last = confirms.iter().chain(holds.iter().map(|(s, _)| s)).copied().max().unwrap_or(0);
    (0..=last)
        .map(|second| {
            let n = confirms.iter().filter(|s| **s == second).count() as u64;
            let mut lat = Latencies::default();
            for (s, ms) in holds.iter().filter(|(s, _)| *s == second) {
                let _ = s;
                lat.record(Duration::from_secs_f64(ms / 1000.0));
            }
            let (p50, p99) = (
                lat.percentile(50.0).as_secs_f64() * 1000.0,
                lat.percentile(99.0).as_secs_f64() * 1000.0,
            );
            (second, n, p50, p99)
        })
        .collect()
}
