//! The flash sale's fault mode (issue 20): `flash-sale --spawn N --chaos PLAN` runs the audited
//! sale on instances the bench owns, while a schedule of faults happens to them and to their
//! dependencies, then audits it as the normal sale is audited.
//!
//! The bench owns everything a fault touches: the `ticketing` instances (child processes it can
//! SIGKILL and start again), a private `redis-server` (restarted with nothing on disk, so it
//! comes back empty), TCP proxies in front of Postgres, Redis and RabbitMQ (switched down, or
//! slowed), and the SMTP sink (answering 451). The shared services are never stopped.
//!
//! Fans shop like browsers behind a load balancer: each request goes to an instance, and on a
//! refused connection or a 503 the fan tries the next one after a pause. Payments are sent by
//! the bench as the provider does: a signed webhook, delivered again to the next instance
//! until one takes it. While the sale runs, every instance's readiness is polled and its
//! DOWN/UP transitions recorded, and every answer the fans get is counted by status; a 5xx
//! other than 503, or a 503 without `Retry-After`, fails the run.

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    path::PathBuf,
    str::FromStr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{
    flash_sale::{self, Fate, Report, Steps},
    proxy::TcpProxy,
    queue_stream::QueueStream,
    report::Latencies,
    smtp::SmtpSink,
};

/// The plan syntax, for `--help` and the README.
pub const PLAN_HELP: &str =
    "PLAN: comma-separated faults, each NAME@START[+LENGTH][:ARGS], times since the sale
opened (500ms, 10s, 2m):
  kill@10s:1                  SIGKILL instance 1 (1-based)
  restart@20s:1               start instance 1 again (same port); it must rejoin
  pg-down@30s+10s             Postgres unreachable for 10 s (its proxy drops and refuses)
  redis-restart@50s           the private redis-server killed and started again, empty
  amqp-down@60s+10s           RabbitMQ unreachable for 10 s
  smtp-refuse@70s+10s         the mail sink answers 451 for 10 s
  delay@80s+10s:redis:200ms   200 ms added to every answer of Redis (or pg) for 10 s";

/// A dependency a delay can slow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dependency {
    Postgres,
    Redis,
}

/// What a fault does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// SIGKILL of instance N (1-based).
    Kill(usize),
    /// Instance N started again on its port.
    Restart(usize),
    PostgresDown,
    RedisRestart,
    RabbitDown,
    SmtpRefuse,
    Delay {
        to: Dependency,
        by: Duration,
    },
}

/// One fault of a plan: when, for how long, what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub at: Duration,
    pub lasts: Option<Duration>,
    pub kind: FaultKind,
}

/// A schedule of faults (see [`PLAN_HELP`]).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Plan {
    pub faults: Vec<Fault>,
}

/// `500ms`, `10s`, `2m`.
pub fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    let (number, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map(|i| s.split_at(i))
        .with_context(|| format!("{s:?} has no unit (ms, s, m)"))?;
    let n: f64 = number.parse().with_context(|| format!("{s:?} is not a duration"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => bail!("{s:?}: unknown unit {unit:?} (ms, s, m)"),
    };
    Ok(Duration::from_secs_f64(secs))
}

impl FromStr for Plan {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Plan> {
        let mut faults = Vec::new();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (name, rest) =
                item.split_once('@').with_context(|| format!("{item:?}: NAME@START expected"))?;
            let mut parts = rest.split(':');
            let when = parts.next().unwrap_or_default();
            let args: Vec<&str> = parts.collect();
            let (at, lasts) = match when.split_once('+') {
                Some((at, lasts)) => (parse_duration(at)?, Some(parse_duration(lasts)?)),
                None => (parse_duration(when)?, None),
            };
            let instance = || -> anyhow::Result<usize> {
                let n: usize = args
                    .first()
                    .with_context(|| format!("{item:?}: which instance (:N)?"))?
                    .parse()
                    .with_context(|| format!("{item:?}: the instance is a number"))?;
                anyhow::ensure!(n >= 1, "{item:?}: instances count from 1");
                Ok(n)
            };
            let kind = match name {
                "kill" => FaultKind::Kill(instance()?),
                "restart" => FaultKind::Restart(instance()?),
                "pg-down" => FaultKind::PostgresDown,
                "redis-restart" => FaultKind::RedisRestart,
                "amqp-down" => FaultKind::RabbitDown,
                "smtp-refuse" => FaultKind::SmtpRefuse,
                "delay" => {
                    let to = match args.first().copied() {
                        Some("redis") => Dependency::Redis,
                        Some("pg" | "postgres") => Dependency::Postgres,
                        other => bail!("{item:?}: delay to redis or pg, not {other:?}"),
                    };
                    let by = parse_duration(
                        args.get(1).with_context(|| format!("{item:?}: delay by how much?"))?,
                    )?;
                    FaultKind::Delay { to, by }
                }
                other => bail!("{item:?}: unknown fault {other:?}\n{PLAN_HELP}"),
            };
            let needs_length = matches!(
                kind,
                FaultKind::PostgresDown
                    | FaultKind::RabbitDown
                    | FaultKind::SmtpRefuse
                    | FaultKind::Delay { .. }
            );
            if needs_length != lasts.is_some() {
                bail!(
                    "{item:?}: {}",
                    if needs_length { "needs +LENGTH" } else { "takes no +LENGTH" }
                );
            }
            faults.push(Fault { at, lasts, kind });
        }
        faults.sort_by_key(|f| f.at);
        Ok(Plan { faults })
    }
}

impl Plan {
    /// Instances named by the plan exist; every killed instance is restarted after its kill.
    pub fn check(&self, instances: usize) -> anyhow::Result<()> {
        let mut down = vec![false; instances];
        for f in &self.faults {
            match f.kind {
                FaultKind::Kill(n) | FaultKind::Restart(n) if n > instances => {
                    bail!("{f}: there are {instances} instances")
                }
                FaultKind::Kill(n) if down[n - 1] => bail!("{f}: instance {n} is already down"),
                FaultKind::Kill(n) => down[n - 1] = true,
                FaultKind::Restart(n) if !down[n - 1] => bail!("{f}: instance {n} is not down"),
                FaultKind::Restart(n) => down[n - 1] = false,
                _ => {}
            }
        }
        if let Some(n) = down.iter().position(|d| *d) {
            bail!("instance {} is killed and never restarted", n + 1);
        }
        if down.len() < 2 && self.faults.iter().any(|f| matches!(f.kind, FaultKind::Kill(_))) {
            bail!("a kill needs another instance to carry on (--spawn 2 or more)");
        }
        Ok(())
    }

    /// When the last fault is over.
    pub fn end(&self) -> Duration {
        self.faults.iter().map(|f| f.at + f.lasts.unwrap_or_default()).max().unwrap_or_default()
    }

    pub fn kills(&self) -> bool {
        self.faults.iter().any(|f| matches!(f.kind, FaultKind::Kill(_)))
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lasts =
            self.lasts.map(|d| format!(" for {:.1} s", d.as_secs_f64())).unwrap_or_default();
        match &self.kind {
            FaultKind::Kill(n) => write!(f, "SIGKILL of instance {n}"),
            FaultKind::Restart(n) => write!(f, "restart of instance {n}"),
            FaultKind::PostgresDown => write!(f, "Postgres unreachable{lasts}"),
            FaultKind::RedisRestart => write!(f, "Redis restarted empty"),
            FaultKind::RabbitDown => write!(f, "RabbitMQ unreachable{lasts}"),
            FaultKind::SmtpRefuse => write!(f, "SMTP refusing mail (451){lasts}"),
            FaultKind::Delay { to, by } => {
                write!(f, "{} ms added to {to:?}'s answers{lasts}", by.as_millis())
            }
        }
    }
}

// --- The instances the bench owns ----------------------------------------------------------

/// How to start the instances.
#[derive(Clone, Debug)]
pub struct SpawnConfig {
    /// The `ticketing` binary.
    pub binary: PathBuf,
    pub instances: usize,
    /// The Postgres server (`postgres://user@host:port`); the bench makes its own database.
    pub postgres: String,
    /// RabbitMQ's `host:port` (guest/guest).
    pub amqp_addr: String,
    /// Settings for every instance, after the bench's defaults (which they override).
    pub env: Vec<(String, String)>,
    /// Where the instances' logs go.
    pub logs: PathBuf,
}

/// The settings the flash-sale benchmarks run the service with (docs/BENCHMARKS.md), with a
/// small pool (several instances share Postgres's connections with everyone else).
pub fn default_env() -> Vec<(String, String)> {
    [
        ("APP_PROFILE", "dev"),
        ("HOLD_TTL_SECS", "30"),
        ("RESERVATION_TTL_SECS", "15"),
        ("EXPIRY_SWEEP_INTERVAL_MS", "500"),
        ("QUEUE_TICK_MS", "250"),
        ("QUEUE_ADMIT_PER_TICK", "100"),
        ("QUEUE_MAX_ACTIVE", "500"),
        ("DATABASE_MAX_CONNECTIONS", "8"),
        ("HOLD_RATE_PER_USER", "0"),
        ("HOLD_RATE_PER_IP", "0"),
        ("SIGNUP_MAX_PER_IP", "1000000"),
        ("LOGIN_MAX_ATTEMPTS_PER_IP", "1000000"),
        ("SEAT_STREAM_MAX_PER_CLIENT", "100000"),
        // Enough retries to outlast an SMTP server refusing for tens of seconds.
        ("EMAIL_MAX_ATTEMPTS", "12"),
        ("EMAIL_RETRY_BASE_MS", "500"),
        ("RUST_LOG", "warn"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// A free port in 18000..19000 (the range this bench's private processes use).
fn free_port() -> anyhow::Result<u16> {
    let start =
        (std::process::id() as u16 ^ chrono::Utc::now().timestamp_subsec_nanos() as u16) % 1000;
    for k in 0..1000 {
        let port = 18000 + (start + k) % 1000;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no free port in 18000..19000")
}

/// A `redis-server` of the bench's own with nothing on disk: killed, it comes back empty.
struct PrivateRedis {
    port: u16,
    child: tokio::process::Child,
}

impl PrivateRedis {
    async fn start(port: u16) -> anyhow::Result<PrivateRedis> {
        let redis = PrivateRedis { port, child: Self::spawn(port)? };
        redis.wait_up().await?;
        Ok(redis)
    }

    fn spawn(port: u16) -> anyhow::Result<tokio::process::Child> {
        tokio::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting redis-server (./scripts/tools.sh installs it)")
    }

    /// Sends one inline command, returns the first line of the answer.
    async fn command(&self, command: &str) -> anyhow::Result<String> {
        let mut socket = TcpStream::connect(("127.0.0.1", self.port)).await?;
        socket.write_all(format!("{command}\r\n").as_bytes()).await?;
        let mut buf = [0u8; 256];
        let n = socket.read(&mut buf).await?;
        Ok(String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_owned())
    }

    async fn wait_up(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.command("PING").await.is_ok_and(|a| a == "+PONG") {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("the private redis-server on {} did not answer", self.port)
    }

    /// SIGKILL, then the same port again; returns its key count once it answers.
    async fn restart_empty(&mut self) -> anyhow::Result<String> {
        self.child.kill().await?;
        self.child = Self::spawn(self.port)?;
        self.wait_up().await?;
        self.command("DBSIZE").await
    }
}

/// One `ticketing` child process.
struct Instance {
    port: u16,
    child: Option<tokio::process::Child>,
    log: PathBuf,
}

/// The instances, the private Redis, the proxies in front of the dependencies.
pub struct Cluster {
    /// The sale's database, straight (not through the proxy): for the audit.
    pub database_url: String,
    db_name: String,
    postgres: String,
    pub pg: TcpProxy,
    pub redis_proxy: TcpProxy,
    pub amqp: TcpProxy,
    redis: tokio::sync::Mutex<PrivateRedis>,
    instances: Mutex<Vec<Instance>>,
    env: Vec<(String, String)>,
    binary: PathBuf,
    pub logs: PathBuf,
}

/// `host:port` of a `postgres://user@host:port` URL.
fn host_port(url: &str) -> anyhow::Result<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let host = rest.split('/').next().unwrap_or_default();
    anyhow::ensure!(!host.is_empty(), "no host in {url:?}");
    Ok(if host.contains(':') { host.to_owned() } else { format!("{host}:5432") })
}

impl Cluster {
    /// Starts the private Redis, the proxies and `config.instances` instances (the first
    /// alone, as it creates and migrates the database), mail to `smtp_url`.
    pub async fn start(config: &SpawnConfig, smtp_url: &str) -> anyhow::Result<Cluster> {
        anyhow::ensure!(config.instances >= 1, "--spawn 1 or more");
        anyhow::ensure!(
            config.binary.exists(),
            "{} does not exist (cargo build --release -p ticketing)",
            config.binary.display()
        );
        let run = chrono::Utc::now().timestamp() % 1_000_000;
        let db_name = format!("ticketing_chaos_{run}");
        let postgres = config.postgres.trim_end_matches('/').to_owned();
        let postgres = match postgres.split_once("://") {
            // Drop a database name in the URL: the bench makes its own.
            Some((scheme, rest)) => format!("{scheme}://{}", rest.split('/').next().unwrap_or("")),
            None => postgres,
        };
        let redis = PrivateRedis::start(free_port()?).await?;
        let pg = TcpProxy::start(free_port()?, &host_port(&postgres)?).await?;
        let redis_proxy =
            TcpProxy::start(free_port()?, &format!("127.0.0.1:{}", redis.port)).await?;
        let amqp = TcpProxy::start(free_port()?, &config.amqp_addr).await?;
        std::fs::create_dir_all(&config.logs)?;
        let (user, _) = postgres
            .split_once("://")
            .map_or(("", ""), |(_, r)| r.rsplit_once('@').map_or(("", r), |(u, h)| (u, h)));
        let user = if user.is_empty() { String::new() } else { format!("{user}@") };
        let mut env = default_env();
        env.extend([
            ("DATABASE_URL".into(), format!("postgres://{user}127.0.0.1:{}/{db_name}", pg.port)),
            ("REDIS_URL".into(), format!("redis://127.0.0.1:{}", redis_proxy.port)),
            ("REDIS_KEY_PREFIX".into(), format!("chaos{run}:")),
            ("AMQP_URL".into(), format!("amqp://guest:guest@127.0.0.1:{}/%2f", amqp.port)),
            ("AMQP_PREFIX".into(), format!("chaos{run}.")),
            ("SMTP_URL".into(), smtp_url.to_owned()),
        ]);
        env.extend(config.env.iter().cloned());
        let mut instances = Vec::new();
        for k in 0..config.instances {
            instances.push(Instance {
                port: free_port()?,
                child: None,
                log: config.logs.join(format!("instance-{}.log", k + 1)),
            });
        }
        let cluster = Cluster {
            database_url: format!("{postgres}/{db_name}"),
            db_name,
            postgres,
            pg,
            redis_proxy,
            amqp,
            redis: tokio::sync::Mutex::new(redis),
            instances: Mutex::new(instances),
            env,
            binary: config.binary.clone(),
            logs: config.logs.clone(),
        };
        cluster.restart(1).await?;
        futures::future::try_join_all((2..=config.instances).map(|n| cluster.restart(n))).await?;
        Ok(cluster)
    }

    pub fn base_urls(&self) -> Vec<String> {
        let instances = self.instances.lock().unwrap();
        instances.iter().map(|i| format!("http://127.0.0.1:{}", i.port)).collect()
    }

    /// Process ids of the running instances (same order as `base_urls`).
    pub fn pids(&self) -> Vec<u32> {
        let instances = self.instances.lock().unwrap();
        instances.iter().filter_map(|i| i.child.as_ref().and_then(|c| c.id())).collect()
    }

    /// SIGKILL of instance `n` (1-based); returns its pid.
    pub async fn kill(&self, n: usize) -> anyhow::Result<u32> {
        let child = self.instances.lock().unwrap()[n - 1].child.take();
        let mut child = child.with_context(|| format!("instance {n} is not running"))?;
        let pid = child.id().unwrap_or_default();
        child.kill().await?;
        Ok(pid)
    }

    /// Starts instance `n` (1-based) on its port; returns once it is live.
    pub async fn restart(&self, n: usize) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let port = {
            let mut instances = self.instances.lock().unwrap();
            let instance = &mut instances[n - 1];
            anyhow::ensure!(instance.child.is_none(), "instance {n} is running");
            let log = std::fs::OpenOptions::new().create(true).append(true).open(&instance.log)?;
            let child = tokio::process::Command::new(&self.binary)
                .envs(self.env.iter().map(|(k, v)| (k, v)))
                .env("HTTP_ADDR", format!("127.0.0.1:{}", instance.port))
                .stdout(log.try_clone()?)
                .stderr(log)
                .kill_on_drop(true)
                .spawn()
                .with_context(|| format!("starting {}", self.binary.display()))?;
            instance.child = Some(child);
            instance.port
        };
        let client =
            reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(2)).build()?;
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let res = client.get(format!("http://127.0.0.1:{port}/health/live")).send().await;
            if res.is_ok_and(|r| r.status().is_success()) {
                return Ok(started.elapsed());
            }
            let exited = {
                let mut instances = self.instances.lock().unwrap();
                instances[n - 1].child.as_mut().and_then(|c| c.try_wait().ok().flatten())
            };
            if let Some(status) = exited {
                bail!("instance {n} exited ({status}); see {}", self.log(n).display());
            }
            if Instant::now() > deadline {
                bail!("instance {n} not live after 90 s; see {}", self.log(n).display());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log(&self, n: usize) -> PathBuf {
        self.instances.lock().unwrap()[n - 1].log.clone()
    }

    /// Kills the private redis-server and starts it again, empty; returns its DBSIZE answer.
    pub async fn restart_redis(&self) -> anyhow::Result<String> {
        self.redis.lock().await.restart_empty().await
    }

    /// Stops every instance and drops the sale's database (unless `keep_database`).
    pub async fn shutdown(self, keep_database: bool) -> anyhow::Result<()> {
        let children: Vec<_> =
            self.instances.lock().unwrap().iter_mut().filter_map(|i| i.child.take()).collect();
        for mut child in children {
            let _ = child.kill().await;
        }
        if !keep_database {
            let mut db = PgConnection::connect(&format!("{}/postgres", self.postgres)).await?;
            // The name is the bench's own (digits after a fixed prefix), never input.
            let drop = format!("drop database if exists {} with (force)", self.db_name);
            sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&mut db).await?;
        }
        Ok(())
    }
}

// --- What the fans and the readiness probes saw --------------------------------------------

/// Every answer the fans got, by request and status.
#[derive(Default)]
pub struct Tally {
    counts: Mutex<BTreeMap<String, u64>>,
    unavailable: AtomicU64,
    without_retry_after: AtomicU64,
    server_errors: AtomicU64,
    samples: Mutex<Vec<String>>,
}

impl Tally {
    /// Counts one answer (or the failure to get one) of request `what`.
    fn record(&self, what: &str, result: &Result<reqwest::Response, reqwest::Error>) {
        let key = match result {
            Ok(res) => {
                let status = res.status().as_u16();
                if status == 503 {
                    self.unavailable.fetch_add(1, Ordering::Relaxed);
                    let retry_after = res
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok());
                    if retry_after.is_none() {
                        self.without_retry_after.fetch_add(1, Ordering::Relaxed);
                    }
                } else if status >= 500 {
                    self.server_errors.fetch_add(1, Ordering::Relaxed);
                    let mut samples = self.samples.lock().unwrap();
                    if samples.len() < 10 {
                        samples.push(format!("{what} answered {status}"));
                    }
                }
                format!("{what} {status}")
            }
            Err(e) if e.is_timeout() => format!("{what} timed out"),
            Err(_) => format!("{what} no connection"),
        };
        *self.counts.lock().unwrap().entry(key).or_default() += 1;
    }

    fn record_stream(&self, status: Option<u16>) {
        let key = match status {
            Some(503) => {
                self.unavailable.fetch_add(1, Ordering::Relaxed);
                "queue stream 503".to_owned()
            }
            Some(s) if s >= 500 => {
                self.server_errors.fetch_add(1, Ordering::Relaxed);
                format!("queue stream {s}")
            }
            Some(s) => format!("queue stream {s}"),
            None => "queue stream no connection".to_owned(),
        };
        *self.counts.lock().unwrap().entry(key).or_default() += 1;
    }
}

/// A change of one instance's readiness (`/health/ready`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Transition {
    /// Seconds since the sale opened.
    pub at: f64,
    pub instance: usize,
    pub from: String,
    pub to: String,
}

/// UP, DOWN (the components down) or UNREACHABLE.
async fn readiness(client: &reqwest::Client, base: &str) -> String {
    match client.get(format!("{base}/health/ready")).send().await {
        Ok(res) if res.status().is_success() => "UP".to_owned(),
        Ok(res) => {
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap_or_default();
            let down: Vec<&str> = body["components"]
                .as_object()
                .map(|c| {
                    c.iter().filter(|(_, v)| v["status"] != "UP").map(|(k, _)| k.as_str()).collect()
                })
                .unwrap_or_default();
            format!("DOWN {status} ({})", down.join(", "))
        }
        Err(_) => "UNREACHABLE".to_owned(),
    }
}

/// Polls every instance's readiness every 250 ms, recording each change.
async fn watch_readiness(bases: Vec<String>, opened: Instant, log: Arc<Mutex<Vec<Transition>>>) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(3))
        .build()
        .expect("an HTTP client");
    let mut last: Vec<String> = vec!["(start)".to_owned(); bases.len()];
    loop {
        let now = futures::future::join_all(bases.iter().map(|b| readiness(&client, b))).await;
        for (k, state) in now.into_iter().enumerate() {
            if state != last[k] {
                log.lock().unwrap().push(Transition {
                    at: opened.elapsed().as_secs_f64(),
                    instance: k + 1,
                    from: std::mem::replace(&mut last[k], state.clone()),
                    to: state,
                });
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A fault as it happened.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FaultRecord {
    pub fault: String,
    /// Seconds since the sale opened: when it began and ended.
    pub began: f64,
    pub ended: Option<f64>,
    pub note: String,
}

/// What the chaos mode adds to the flash sale's report.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ChaosReport {
    pub plan: String,
    pub faults: Vec<FaultRecord>,
    pub transitions: Vec<Transition>,
    /// Answers the fans got, by "request status".
    pub answers: BTreeMap<String, u64>,
    pub unavailable_503: u64,
    pub unavailable_without_retry_after: u64,
    /// 5xx answers other than 503 (each a failure).
    pub server_errors: u64,
    pub server_error_samples: Vec<String>,
    /// Fans told to join the line again (`queue-left`, or not in line any more).
    pub rejoins: usize,
    /// Fans sent back to their admission (`QUEUE_NOT_ADMITTED`) after they had been admitted.
    pub readmissions: usize,
    /// Checkouts whose hold was gone when they were tried again (the fan picked seats again).
    pub checkouts_lost: BTreeMap<String, u64>,
    /// Where the instances' logs are.
    pub logs: String,
}

// --- The faults ------------------------------------------------------------------------------

/// Runs `plan` against `cluster` and `sink`, times from `opened`; returns what happened.
async fn run_plan(
    plan: &Plan,
    cluster: &Cluster,
    sink: &SmtpSink,
    opened: Instant,
) -> Vec<FaultRecord> {
    let since = |t: Instant| t.duration_since(opened).as_secs_f64();
    let faults = plan.faults.iter().map(|fault| async move {
        tokio::time::sleep_until((opened + fault.at).into()).await;
        let began = Instant::now();
        let mut note = String::new();
        let set = |on: bool| match &fault.kind {
            FaultKind::PostgresDown => cluster.pg.set_up(!on),
            FaultKind::RabbitDown => cluster.amqp.set_up(!on),
            FaultKind::SmtpRefuse => sink.set_failing(on),
            FaultKind::Delay { to, by } => {
                let proxy = match to {
                    Dependency::Postgres => &cluster.pg,
                    Dependency::Redis => &cluster.redis_proxy,
                };
                proxy.set_delay(if on { *by } else { Duration::ZERO });
            }
            _ => {}
        };
        match &fault.kind {
            FaultKind::Kill(n) => match cluster.kill(*n).await {
                Ok(pid) => note = format!("pid {pid} killed"),
                Err(e) => note = format!("FAILED: {e:#}"),
            },
            FaultKind::Restart(n) => match cluster.restart(*n).await {
                Ok(d) => note = format!("live after {:.1} s", d.as_secs_f64()),
                Err(e) => note = format!("FAILED: {e:#}"),
            },
            FaultKind::RedisRestart => match cluster.restart_redis().await {
                Ok(size) => {
                    note =
                        format!("back after {:.2} s, DBSIZE {size}", began.elapsed().as_secs_f64())
                }
                Err(e) => note = format!("FAILED: {e:#}"),
            },
            _ => set(true),
        }
        let ended = match fault.lasts {
            Some(lasts) => {
                tokio::time::sleep_until((began + lasts).into()).await;
                set(false);
                Some(since(Instant::now()))
            }
            None => None,
        };
        eprintln!("\n[chaos] {:>6.1} s: {fault} {note}", since(began));
        FaultRecord { fault: fault.to_string(), began: since(began), ended, note }
    });
    futures::future::join_all(faults).await
}

// --- The fans ---------------------------------------------------------------------------------

#[derive(Default)]
struct Shared {
    steps: Mutex<Steps>,
    joined: AtomicUsize,
    done: AtomicUsize,
    conflicts: AtomicUsize,
    rejoins: AtomicUsize,
    readmissions: AtomicUsize,
    lost: Mutex<BTreeMap<String, u64>>,
    holds: Mutex<Vec<(u64, f64)>>,
    confirms: Mutex<Vec<u64>>,
}

impl Shared {
    fn record(&self, step: &'static str, d: Duration) {
        self.steps.lock().unwrap().0.entry(step).or_default().record(d);
    }
}

/// A fan after this many conflicts, or this long after its admission, gives up.
const MAX_CONFLICTS: usize = 20;
const GIVE_UP: Duration = Duration::from_secs(180);

/// One fan shopping through whichever instance answers.
struct Fan {
    client: reqwest::Client,
    bases: Arc<Vec<String>>,
    concert: i64,
    token: String,
    /// Its number, and the instance it tries next.
    i: usize,
    turn: usize,
    fate: Fate,
    shared: Arc<Shared>,
    tally: Arc<Tally>,
    opened: Arc<Mutex<Option<Instant>>>,
}

/// How a round of picking seats ended.
enum Picked {
    Held(Vec<i64>),
    /// Sold out, or too many conflicts, or out of time.
    Nothing,
    /// Not admitted (any more): back to the line.
    NotAdmitted,
}

fn code_of(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|b| b["code"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl Fan {
    fn base(&self) -> &str {
        &self.bases[self.turn % self.bases.len()]
    }

    /// The next instance, after a pause (the one tried did not answer, or answered 503).
    async fn next_instance(&mut self, pause: Duration) {
        self.turn += 1;
        tokio::time::sleep(pause).await;
    }

    async fn send(&self, what: &str, req: reqwest::RequestBuilder) -> Option<reqwest::Response> {
        let result = req.send().await;
        self.tally.record(what, &result);
        result.ok()
    }

    /// Joins the line through whichever instance answers.
    async fn join(&mut self, deadline: Instant) -> anyhow::Result<()> {
        while Instant::now() < deadline {
            let req = self
                .client
                .post(format!("{}/api/queue", self.base()))
                .bearer_auth(&self.token)
                .json(&json!({"concertId": self.concert}));
            let t = Instant::now();
            match self.send("join", req).await {
                Some(res) if res.status().is_success() => {
                    self.shared.record("join", t.elapsed());
                    return Ok(());
                }
                Some(res) if res.status().as_u16() == 503 => {}
                Some(res) if res.status().is_client_error() => {
                    let status = res.status();
                    bail!("join answered {status}: {}", res.text().await.unwrap_or_default());
                }
                _ => {}
            }
            self.next_instance(Duration::from_millis(300)).await;
        }
        bail!("could not join the line in time")
    }

    /// Follows the waiting-room stream (on the next instance when one goes away) until
    /// admitted; joins again when told it is not in line.
    async fn wait_admitted(&mut self, deadline: Instant) -> anyhow::Result<()> {
        while Instant::now() < deadline {
            let addr = self.base().strip_prefix("http://").context("http:// base URL")?.to_owned();
            let mut stream = match QueueStream::open(&addr, self.concert, &self.token).await {
                Ok(stream) => {
                    self.tally.record_stream(Some(200));
                    stream
                }
                Err(e) => {
                    // "stream refused: HTTP/1.1 404 Not Found"
                    let text = e.to_string();
                    let status = text
                        .strip_prefix("stream refused: ")
                        .and_then(|l| l.split(' ').nth(1))
                        .and_then(|s| s.parse::<u16>().ok());
                    self.tally.record_stream(status);
                    if status == Some(404) {
                        self.shared.rejoins.fetch_add(1, Ordering::Relaxed);
                        self.join(deadline).await?;
                        continue;
                    }
                    self.next_instance(Duration::from_millis(500)).await;
                    continue;
                }
            };
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match tokio::time::timeout(left, stream.next_event()).await {
                    Ok(Ok(Some((name, _)))) if name == "queue-complete" => return Ok(()),
                    Ok(Ok(Some((name, _)))) if name == "queue-left" => {
                        self.shared.rejoins.fetch_add(1, Ordering::Relaxed);
                        self.join(deadline).await?;
                        break;
                    }
                    Ok(Ok(Some(_))) => {}
                    // The stream ended or broke (its instance went away): the next one.
                    Ok(_) => {
                        self.next_instance(Duration::from_millis(500)).await;
                        break;
                    }
                    Err(_) => bail!("not admitted in time"),
                }
            }
        }
        bail!("not admitted in time")
    }

    /// The seat map, then a hold on 1–4 seats it shows free.
    async fn pick(&mut self, rng: &mut u64, give_up: Instant) -> anyhow::Result<Picked> {
        let want = (next(rng) % 4 + 1) as usize;
        let mut conflicts = 0;
        while conflicts < MAX_CONFLICTS && Instant::now() < give_up {
            let t = Instant::now();
            let req = self.client.get(format!(
                "{}/api/seat/concert/{}/seat-map",
                self.base(),
                self.concert
            ));
            let map = match self.send("seat map", req).await {
                Some(res) if res.status().is_success() => res.json::<Vec<Value>>().await.ok(),
                _ => None,
            };
            let Some(map) = map else {
                self.next_instance(Duration::from_millis(300)).await;
                continue;
            };
            self.shared.record("seat_map", t.elapsed());
            if map.iter().all(|s| s["status"] == "SOLD") {
                return Ok(Picked::Nothing);
            }
            let free: Vec<i64> = map
                .iter()
                .filter(|s| s["status"] == "AVAILABLE")
                .filter_map(|s| s["id"].as_i64())
                .collect();
            if free.is_empty() {
                // Seats in others' hands may come back (a hold or a reservation expiring).
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            let start = (next(rng) as usize) % free.len();
            let pick: Vec<i64> =
                free.iter().cycle().skip(start).take(want.min(free.len())).copied().collect();
            let t = Instant::now();
            let req = self
                .client
                .post(format!("{}/api/seat/select", self.base()))
                .bearer_auth(&self.token)
                .json(&json!({"seatIds": pick}));
            let Some(res) = self.send("hold", req).await else {
                self.next_instance(Duration::from_millis(300)).await;
                continue;
            };
            let elapsed = t.elapsed();
            let status = res.status().as_u16();
            if status == 200 {
                self.shared.record("hold", elapsed);
                let opened = self.opened.lock().unwrap().unwrap_or_else(Instant::now);
                let second = opened.elapsed().as_secs();
                self.shared.holds.lock().unwrap().push((second, elapsed.as_secs_f64() * 1000.0));
                return Ok(Picked::Held(pick));
            }
            let body = res.text().await.unwrap_or_default();
            match (status, code_of(&body).as_str()) {
                (409, _) => {
                    self.shared.conflicts.fetch_add(1, Ordering::Relaxed);
                    conflicts += 1;
                }
                (403, "QUEUE_NOT_ADMITTED") => return Ok(Picked::NotAdmitted),
                (503, _) => self.next_instance(Duration::from_millis(300)).await,
                (429, _) => tokio::time::sleep(Duration::from_secs(1)).await,
                _ => bail!("hold answered {status}: {body}"),
            }
        }
        Ok(Picked::Nothing)
    }

    /// Checks out `seats` with an idempotency key, retried on the next instance; `None` when
    /// the hold was gone by then.
    async fn checkout(&mut self, seats: &[i64], attempt: usize) -> anyhow::Result<Option<Value>> {
        let key = format!("chaos-{}-{}-{attempt}", self.concert, self.i);
        // A key claimed by an instance killed mid-request is released after a minute.
        let deadline = Instant::now() + Duration::from_secs(90);
        let t = Instant::now();
        while Instant::now() < deadline {
            let req = self
                .client
                .post(format!("{}/api/payment", self.base()))
                .bearer_auth(&self.token)
                .header("idempotency-key", &key)
                .json(&json!({"seatIds": seats, "paymentMethod": "CREDIT_CARD"}));
            let Some(res) = self.send("checkout", req).await else {
                self.next_instance(Duration::from_millis(300)).await;
                continue;
            };
            let status = res.status().as_u16();
            if status == 200 {
                self.shared.record("checkout", t.elapsed());
                return Ok(Some(res.json().await?));
            }
            let body = res.text().await.unwrap_or_default();
            let code = code_of(&body);
            match status {
                503 => self.next_instance(Duration::from_millis(300)).await,
                409 if code == "IDEMPOTENCY_KEY_IN_USE" => {
                    tokio::time::sleep(Duration::from_secs(1)).await
                }
                // The hold ran out (or the seats went to this fan's own earlier checkout,
                // which expires): pick again.
                400..=499 => {
                    *self
                        .shared
                        .lost
                        .lock()
                        .unwrap()
                        .entry(format!("{status} {code}"))
                        .or_default() += 1;
                    return Ok(None);
                }
                _ => bail!("checkout answered {status}: {body}"),
            }
        }
        bail!("checkout not answered in 90 s")
    }

    /// The provider's webhook for `checkout`, delivered to the next instance until one takes it.
    async fn pay(&mut self, checkout: &Value, succeeded: bool) -> anyhow::Result<()> {
        let raw = json!({
            "eventId": format!("evt_chaos_{}_{}", self.concert, self.i),
            "transactionId": checkout["transactionId"].as_str().context("transactionId")?,
            "status": if succeeded { "SUCCESS" } else { "FAILED" },
            "amount": checkout["amount"],
            "currency": "KRW",
            "occurredAt": chrono::Utc::now().to_rfc3339(),
        })
        .to_string();
        let secret = ticketing::config::dev_defaults::PAYMENT_WEBHOOK_SECRETS;
        let deadline = Instant::now() + Duration::from_secs(120);
        let t = Instant::now();
        while Instant::now() < deadline {
            let at = chrono::Utc::now().timestamp();
            let signature =
                ticketing::domain::signature::sign(secret.as_bytes(), at, raw.as_bytes());
            let req = self
                .client
                .post(format!("{}/api/payment/webhook", self.base()))
                .header("content-type", "application/json")
                .header("x-payment-signature", signature)
                .body(raw.clone());
            match self.send("webhook", req).await {
                Some(res) if res.status().is_success() => {
                    self.shared.record("payment", t.elapsed());
                    return Ok(());
                }
                Some(res) if res.status().is_client_error() => {
                    let status = res.status();
                    bail!("webhook answered {status}: {}", res.text().await.unwrap_or_default());
                }
                _ => self.next_instance(Duration::from_millis(300)).await,
            }
        }
        bail!("no instance took the webhook in 120 s")
    }

    /// The whole visit after joining: admission, seats, checkout, payment.
    async fn shop(&mut self, rng: &mut u64) -> anyhow::Result<()> {
        let line_deadline = Instant::now() + Duration::from_secs(1800);
        self.wait_admitted(line_deadline).await?;
        let opened = self.opened.lock().unwrap().unwrap_or_else(Instant::now);
        self.shared.record("queue_wait", opened.elapsed());
        let give_up = Instant::now() + GIVE_UP;
        let mut attempt = 0;
        while Instant::now() < give_up {
            let seats = match self.pick(rng, give_up).await? {
                Picked::Held(seats) => seats,
                Picked::Nothing => return Ok(()),
                Picked::NotAdmitted => {
                    self.shared.readmissions.fetch_add(1, Ordering::Relaxed);
                    self.wait_admitted(line_deadline).await?;
                    continue;
                }
            };
            attempt += 1;
            let Some(checkout) = self.checkout(&seats, attempt).await? else { continue };
            match self.fate {
                Fate::Abandon => {}
                Fate::Decline => self.pay(&checkout, false).await?,
                Fate::Pay => {
                    self.pay(&checkout, true).await?;
                    let second = opened.elapsed().as_secs();
                    self.shared.confirms.lock().unwrap().push(second);
                }
            }
            return Ok(());
        }
        Ok(())
    }

    /// Leaves the line (best effort), as a closed tab would after a while.
    async fn leave(&mut self) {
        let req = self
            .client
            .delete(format!("{}/api/queue/{}", self.base(), self.concert))
            .bearer_auth(&self.token);
        let _ = self.send("leave", req).await;
    }
}

/// A small xorshift step.
fn next(rng: &mut u64) -> u64 {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    *rng
}

// --- The run ----------------------------------------------------------------------------------

/// The flash sale of `config` on `cluster`'s instances while `plan` happens; audited.
pub async fn run(
    config: &flash_sale::Config,
    plan: &Plan,
    cluster: &Cluster,
    sink: &SmtpSink,
    jwt_secret: &str,
) -> anyhow::Result<Report> {
    let setup_started = Instant::now();
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(30))
        .build()?;
    let bases = Arc::new(cluster.base_urls());
    let base = bases[0].clone();
    let admin = crate::seat_map::admin_token_at(
        &client,
        &base,
        &config.admin_email,
        &config.admin_password,
    )
    .await?;
    let (concert, now) = flash_sale::create_concert(&client, &base, &admin, config.seats).await?;
    let run_id = now % 1_000_000;
    let mut db = PgConnection::connect(&config.database_url).await?;
    flash_sale::fixture_users(&mut db, run_id, config.fans).await?;
    let tokens = flash_sale::fixture_tokens(
        &config.database_url,
        run_id,
        0..config.fans,
        jwt_secret,
        Duration::from_secs(3 * 3600),
    )
    .await?;
    let setup = setup_started.elapsed();

    // Every fan joins the line and opens its stream before the sale opens.
    let gate_started = Instant::now();
    let shared = Arc::new(Shared::default());
    let tally = Arc::new(Tally::default());
    let opened_at = Arc::new(Mutex::new(None::<Instant>));
    let mut tasks = Vec::new();
    for i in 0..config.fans {
        let token = tokens.get(&i).cloned().context("a fixture fan without a token")?;
        let mut fan = Fan {
            client: client.clone(),
            bases: bases.clone(),
            concert,
            token,
            i,
            turn: i,
            fate: flash_sale::fate(i, config.decline_ratio, config.abandon_ratio),
            shared: shared.clone(),
            tally: tally.clone(),
            opened: opened_at.clone(),
        };
        tasks.push(tokio::spawn(async move {
            let mut rng = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let joined = fan.join(Instant::now() + Duration::from_secs(120)).await;
            fan.shared.joined.fetch_add(1, Ordering::Relaxed);
            let result = match joined {
                Ok(()) => fan.shop(&mut rng).await,
                Err(e) => Err(e),
            };
            fan.leave().await;
            fan.shared.done.fetch_add(1, Ordering::Relaxed);
            result.with_context(|| format!("fan {i}"))
        }));
    }
    while shared.joined.load(Ordering::Relaxed) < config.fans {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A moment for the streams to open.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let gate = gate_started.elapsed();

    // The sale opens; the faults' clock starts.
    let opened = Instant::now();
    *opened_at.lock().unwrap() = Some(opened);
    flash_sale::open_sale(&client, &base, &admin, concert, now).await?;
    let transitions: Arc<Mutex<Vec<Transition>>> = Arc::default();
    let watcher = tokio::spawn(watch_readiness(bases.to_vec(), opened, transitions.clone()));
    let progress = config.progress.then(|| {
        let (shared, fans) = (shared.clone(), config.fans);
        tokio::spawn(async move {
            loop {
                let done = shared.done.load(Ordering::Relaxed);
                let bought = shared.confirms.lock().unwrap().len();
                eprint!(
                    "\r{:>6.1} s: fans done {done}/{fans}, {bought} paid   ",
                    opened.elapsed().as_secs_f64()
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    });
    let fans = async {
        let mut failures = Vec::new();
        for t in futures::future::join_all(tasks).await {
            if let Err(e) = t? {
                failures.push(format!("{e:#}"));
            }
        }
        Ok::<_, anyhow::Error>(failures)
    };
    let (failures, faults) = tokio::join!(fans, run_plan(plan, cluster, sink, opened));
    let failures = failures?;
    let duration = opened.elapsed();
    if let Some(p) = progress {
        p.abort();
        eprintln!();
    }

    // Everything back as it was, then the sale settles and is audited.
    cluster.pg.set_up(true);
    cluster.amqp.set_up(true);
    cluster.pg.set_delay(Duration::ZERO);
    cluster.redis_proxy.set_delay(Duration::ZERO);
    sink.set_failing(false);
    let ready_deadline = Instant::now() + Duration::from_secs(60);
    let mut last_states = Vec::new();
    while Instant::now() < ready_deadline {
        last_states = futures::future::join_all(bases.iter().map(|b| readiness(&client, b))).await;
        if last_states.iter().all(|s| s == "UP") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Some readiness changes come after the last fault; give the watcher a beat to see them.
    tokio::time::sleep(Duration::from_millis(500)).await;
    watcher.abort();
    let sold_out_after =
        flash_sale::sold_out_time(&mut db, concert, config.seats as i64, opened).await?;
    // A seat whose confirmation Redis missed (its instance died in between) shows RESERVED
    // until the reservation's time to pay runs out; then the sweeper marks it sold.
    let settle_deadline = Instant::now() + config.settle_timeout;
    while Instant::now() < settle_deadline {
        let map = flash_sale::seat_statuses(&client, &base, concert).await.unwrap_or_default();
        if !map.is_empty() && map.get("RESERVED").copied().unwrap_or(0) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let settled =
        flash_sale::settle(&mut db, &client, &base, concert, sink, config.settle_timeout).await;
    let mut audit =
        flash_sale::audit(&mut db, &client, &base, concert, config.seats as i64, sink, &failures)
            .await?;
    if plan.kills() {
        allow_resent_copies(&mut audit, &mut db, concert, sink).await?;
    }
    let server_errors = tally.server_errors.load(Ordering::Relaxed);
    let without_retry_after = tally.without_retry_after.load(Ordering::Relaxed);
    let samples = tally.samples.lock().unwrap().clone();
    let mut check =
        |name: &str, ok: bool, detail: String| audit.push((name.to_owned(), ok, detail));
    check("no 5xx answer but 503", server_errors == 0, format!("{server_errors}: {samples:?}"));
    check(
        "every 503 carried Retry-After",
        without_retry_after == 0,
        format!("{without_retry_after} of {} without", tally.unavailable.load(Ordering::Relaxed)),
    );
    check(
        "every instance ready after the faults",
        last_states.iter().all(|s| s == "UP"),
        last_states.join(", "),
    );
    let failed: Vec<&FaultRecord> =
        faults.iter().filter(|f| f.note.starts_with("FAILED")).collect();
    check("every fault of the plan happened", failed.is_empty(), format!("{failed:?}"));

    let (confirmed_reservations, sold_seats) = flash_sale::confirmed(&mut db, concert).await?;
    let chaos = ChaosReport {
        plan: plan.faults.iter().map(|f| f.to_string()).collect::<Vec<_>>().join("; "),
        faults,
        transitions: transitions.lock().unwrap().clone(),
        answers: tally.counts.lock().unwrap().clone(),
        unavailable_503: tally.unavailable.load(Ordering::Relaxed),
        unavailable_without_retry_after: without_retry_after,
        server_errors,
        server_error_samples: samples,
        rejoins: shared.rejoins.load(Ordering::Relaxed),
        readmissions: shared.readmissions.load(Ordering::Relaxed),
        checkouts_lost: shared.lost.lock().unwrap().clone(),
        logs: cluster.logs.display().to_string(),
    };
    let timeline = timeline(&shared);
    let steps = std::mem::take(&mut *shared.steps.lock().unwrap());
    Ok(Report {
        fans: config.fans,
        seats: config.seats,
        instances: bases.len(),
        sold_out_after,
        duration,
        confirmed_reservations,
        sold_seats,
        steps,
        conflicts: shared.conflicts.load(Ordering::Relaxed),
        timeline,
        audit,
        streams_per_instance: Vec::new(),
        memory: Vec::new(),
        setup,
        gate,
        chaos: Some(chaos),
        settled,
        retried_503: 0,
        checkout_refusals: Default::default(),
        pg: None,
        redis_calls: Vec::new(),
    })
}

/// After a SIGKILL, a confirmation may arrive twice as long as both copies are one message
/// (the same `Message-ID`): what a kill between the SMTP server's acceptance and the delivery
/// record leaves, which no sender can rule out (not sending again could lose it). The email
/// check then counts messages, not copies.
async fn allow_resent_copies(
    audit: &mut [(String, bool, String)],
    db: &mut PgConnection,
    concert: i64,
    sink: &SmtpSink,
) -> anyhow::Result<()> {
    let codes: Vec<String> = sqlx::query_scalar(
        "select ticket_code from reservation where concert_id = $1 and status = 'CONFIRMED'",
    )
    .bind(concert)
    .fetch_all(&mut *db)
    .await?;
    let mails = flash_sale::confirmation_mails(sink);
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
    let copies = mails.len() as i64 - codes.len() as i64;
    for check in audit.iter_mut().filter(|c| c.0.starts_with("one confirmation email")) {
        check.0 = "one confirmation email (one Message-ID) per confirmed reservation".to_owned();
        check.1 = wrong.is_empty() && mails.iter().all(|m| codes.iter().any(|c| m.contains(c)));
        check.2 = format!(
            "{} messages for {} reservations, {copies} resent copies; off: {:?}",
            mails.len(),
            codes.len(),
            wrong.iter().take(5).collect::<Vec<_>>()
        );
    }
    Ok(())
}

fn timeline(shared: &Shared) -> Vec<(u64, u64, f64, f64)> {
    let confirms = shared.confirms.lock().unwrap();
    let holds = shared.holds.lock().unwrap();
    let last = confirms.iter().chain(holds.iter().map(|(s, _)| s)).copied().max().unwrap_or(0);
    let mut per_second: HashMap<u64, Latencies> = HashMap::new();
    for (s, ms) in holds.iter() {
        per_second.entry(*s).or_default().record(Duration::from_secs_f64(ms / 1000.0));
    }
    (0..=last)
        .map(|second| {
            let n = confirms.iter().filter(|s| **s == second).count() as u64;
            let mut lat = per_second.remove(&second).unwrap_or_default();
            let p50 = lat.percentile(50.0).as_secs_f64() * 1000.0;
            let p99 = lat.percentile(99.0).as_secs_f64() * 1000.0;
            (second, n, p50, p99)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_reads_every_fault_in_time_order() {
        let plan: Plan = "redis-restart@50s,kill@10s:1,restart@20s:1,pg-down@30s+10s,\
                          amqp-down@60s+10s,smtp-refuse@70s+10s,delay@80s+10s:redis:200ms,\
                          delay@1m+500ms:pg:50ms"
            .parse()
            .unwrap();
        let kinds: Vec<&FaultKind> = plan.faults.iter().map(|f| &f.kind).collect();
        assert_eq!(
            kinds,
            [
                &FaultKind::Kill(1),
                &FaultKind::Restart(1),
                &FaultKind::PostgresDown,
                &FaultKind::RedisRestart,
                &FaultKind::RabbitDown,
                &FaultKind::Delay { to: Dependency::Postgres, by: Duration::from_millis(50) },
                &FaultKind::SmtpRefuse,
                &FaultKind::Delay { to: Dependency::Redis, by: Duration::from_millis(200) },
            ]
        );
        assert_eq!(plan.faults[2].at, Duration::from_secs(30));
        assert_eq!(plan.faults[2].lasts, Some(Duration::from_secs(10)));
        assert_eq!(plan.end(), Duration::from_secs(90));
        assert!(plan.check(2).is_ok());
        assert!(plan.kills());
    }

    #[test]
    fn a_plan_refuses_what_it_cannot_do() {
        for bad in [
            "kill@10s",
            "pg-down@10s",
            "redis-restart@10s+5s",
            "delay@1s+1s:mysql:5ms",
            "reboot@1s",
            "kill@ten:1",
        ] {
            assert!(bad.parse::<Plan>().is_err(), "{bad} is refused");
        }
        let never_back: Plan = "kill@1s:1".parse().unwrap();
        assert!(never_back.check(2).is_err(), "a killed instance must be restarted");
        let no_such: Plan = "kill@1s:3,restart@2s:3".parse().unwrap();
        assert!(no_such.check(2).is_err(), "instance 3 of 2");
        let alone: Plan = "kill@1s:1,restart@2s:1".parse().unwrap();
        assert!(alone.check(1).is_err(), "nobody carries on");
    }
}
