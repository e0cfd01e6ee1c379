//! Availability reads: many clients polling `GET …/availability` of a large concert, steady and
//! while seats change, next to baselines measured in the same run (the old seat map at the same
//! concurrency, and `redis-benchmark` GET of a value the size of the packed states).

use std::{
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail, ensure};
use serde_json::{Value, json};

use crate::{
    live::{Layout, STATES, decode},
    report::{self, Latencies, Timeline},
    seat_map::{admin_token_at, create_concert_at},
};

/// What to run.
#[derive(Clone)]
pub struct Config {
    pub base_url: String,
    pub admin_email: String,
    pub admin_password: String,
    pub seats: usize,
    pub readers: usize,
    /// How long each mode reads.
    pub duration: Duration,
    /// Fans who each hold 4 seats before the reads (half of them also check out).
    pub fans: usize,
    /// Also measure the seat map and `redis-benchmark` GET at the same concurrency.
    pub baselines: bool,
    pub progress: bool,
}

/// One mode's reads.
pub struct Mode {
    pub name: String,
    pub requests: u64,
    pub elapsed: Duration,
    /// Body bytes of the answers (after any compression).
    pub bytes: u64,
    /// Different availability versions seen (1 when nothing changed).
    pub versions: u64,
    /// State changes made meanwhile (the churn mode).
    pub changes: u64,
    /// Answers other than 2xx (not in the latencies).
    pub errors: u64,
    pub latencies: Latencies,
}

impl Mode {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

/// What was measured.
pub struct Report {
    pub concert: i64,
    pub seats: usize,
    /// Seats by state (AVAILABLE, HELD, RESERVED, SOLD) before the reads.
    pub counts: [usize; 4],
    pub bytes_plain: usize,
    pub bytes_gzip: usize,
    pub modes: Vec<Mode>,
    pub redis_get_per_s: Option<f64>,
    pub timeline: Vec<(u64, u64, f64, f64)>,
}

pub async fn run(config: &Config) -> anyhow::Result<Report> {
    let base = config.base_url.as_str();
    let client = reqwest::Client::builder()
        .no_proxy()
        .gzip(false)
        .pool_max_idle_per_host(config.readers.max(1) + 8)
        .build()?;
    let admin = admin_token_at(&client, base, &config.admin_email, &config.admin_password).await?;
    let (concert, _) = create_concert_at(&client, base, &admin, config.seats).await?;
    let layout = Layout::fetch(&client, base, concert).await?;
    ensure!(layout.ids.len() == config.seats, "the layout has every seat");

    // Some seats held, some reserved, so the states are not all zero.
    let fans = crate::holds::signup_fans(&client, base, config.fans + 1, 8).await?;
    let (churner, fans) = fans.split_last().context("at least one fan")?;
    let stride = (layout.ids.len() / (fans.len() * 4 + 1)).max(1);
    let mut expected = [config.seats, 0, 0, 0];
    for (f, token) in fans.iter().enumerate() {
        let seats: Vec<i64> =
            (0..4).map(|k| layout.ids[((f * 4 + k) * stride) % layout.ids.len()]).collect();
        client
            .post(format!("{base}/api/seat/select"))
            .bearer_auth(token)
            .json(&json!({"seatIds": seats}))
            .send()
            .await?
            .error_for_status()
            .context("holding seats")?;
        let state = if f % 2 == 1 {
            client
                .post(format!("{base}/api/payment"))
                .bearer_auth(token)
                .json(&json!({"seatIds": seats, "paymentMethod": "CREDIT_CARD"}))
                .send()
                .await?
                .error_for_status()
                .context("checking out")?;
            2
        } else {
            1
        };
        expected[0] -= 4;
        expected[state] += 4;
    }

    let url = format!("{base}/api/seat/concert/{concert}/availability");
    let plain = client.get(&url).send().await?.error_for_status()?.bytes().await?;
    let availability: Value = serde_json::from_slice(&plain)?;
    let states = decode(&availability)?;
    let mut counts = [0; 4];
    for s in &states {
        counts[*s as usize] += 1;
    }
    ensure!(counts == expected, "availability counts {counts:?}, expected {expected:?}");
    let gz = client.get(&url).header("accept-encoding", "gzip").send().await?.bytes().await?;
    println!(
        "availability: {} seats ({}), {} bytes plain, {} bytes gzip",
        states.len(),
        STATES.iter().zip(counts).map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", "),
        plain.len(),
        gz.len()
    );

    let timeline = Arc::new(Timeline::default());
    let done = Arc::new(AtomicU64::new(0));
    let progress = config.progress.then(|| report::progress("requests", done.clone(), None));
    let mut modes = Vec::new();
    let reads = Reads { client: &client, url: &url, config, timeline: &timeline, done: &done };
    modes.push(reads.run("availability, plain", "identity", None).await?);
    modes.push(reads.run("availability, gzip", "gzip", None).await?);
    let churn_seat = *layout.ids.last().context("a seat")?;
    modes.push(
        reads
            .run("availability, plain, seats changing", "identity", Some((churner, churn_seat)))
            .await?,
    );
    let mut redis_get_per_s = None;
    if config.baselines {
        let map_url = format!("{base}/api/seat/concert/{concert}/seat-map");
        let map = Reads { url: &map_url, ..reads };
        modes.push(map.run("seat map, plain (baseline)", "identity", None).await?);
        redis_get_per_s = Some(redis_benchmark_get(config.readers, plain.len())?);
    }
    if let Some(p) = progress {
        p.abort();
        eprintln!();
    }
    Ok(Report {
        concert,
        seats: states.len(),
        counts,
        bytes_plain: plain.len(),
        bytes_gzip: gz.len(),
        modes,
        redis_get_per_s,
        timeline: timeline.per_second(),
    })
}

#[derive(Clone, Copy)]
struct Reads<'a> {
    client: &'a reqwest::Client,
    url: &'a str,
    config: &'a Config,
    timeline: &'a Arc<Timeline>,
    done: &'a Arc<AtomicU64>,
}

impl Reads<'_> {
    /// `readers` clients GET the URL back to back for `duration`; with `churn` (a fan's token
    /// and a seat) that fan holds and releases the seat meanwhile, as fast as answers come.
    async fn run(
        &self,
        name: &str,
        encoding: &str,
        churn: Option<(&String, i64)>,
    ) -> anyhow::Result<Mode> {
        let stop = Arc::new(AtomicBool::new(false));
        let changer = churn.map(|(token, seat)| {
            let (client, stop, token) = (self.client.clone(), stop.clone(), token.clone());
            let select = self.url.split("/api/").next().unwrap_or_default().to_owned()
                + &format!("/api/seat/{seat}/select");
            tokio::spawn(async move {
                let mut changes = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for method in [reqwest::Method::POST, reqwest::Method::DELETE] {
                        let res =
                            client.request(method, &select).bearer_auth(&token).send().await?;
                        ensure!(res.status().is_success(), "churn answered {}", res.status());
                        changes += 1;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Ok::<_, anyhow::Error>(changes)
            })
        });
        let start = Instant::now();
        let deadline = start + self.config.duration;
        let tasks = (0..self.config.readers).map(|_| {
            let (client, url, encoding) =
                (self.client.clone(), self.url.to_owned(), encoding.to_owned());
            let (timeline, done) = (self.timeline.clone(), self.done.clone());
            tokio::spawn(async move {
                let mut latencies = Latencies::default();
                let (mut bytes, mut versions, mut last) = (0u64, 0u64, String::new());
                let mut errors = 0u64;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let res = client.get(&url).header("accept-encoding", &encoding).send().await?;
                    if !res.status().is_success() {
                        // Counted, not timed: a 503 (a dependency timing out) answers fast.
                        errors += 1;
                        let _ = res.bytes().await;
                        continue;
                    }
                    let etag = res.headers().get("etag").and_then(|v| v.to_str().ok());
                    if etag != Some(last.as_str()) {
                        versions += 1;
                        last = etag.unwrap_or_default().to_owned();
                    }
                    bytes += res.bytes().await?.len() as u64;
                    latencies.record(t.elapsed());
                    timeline.record(t.elapsed());
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok::<_, anyhow::Error>((latencies, bytes, versions, errors))
            })
        });
        let results = futures::future::join_all(tasks).await;
        let elapsed = start.elapsed();
        stop.store(true, Ordering::Relaxed);
        let changes = match changer {
            Some(task) => task.await??,
            None => 0,
        };
        let mut mode = Mode {
            name: name.to_owned(),
            requests: 0,
            elapsed,
            bytes: 0,
            versions: 0,
            changes,
            errors: 0,
            latencies: Latencies::default(),
        };
        for r in results {
            let (latencies, bytes, versions, errors) = r??;
            mode.errors += errors;
            mode.requests += latencies.len() as u64;
            mode.bytes += bytes;
            mode.versions = mode.versions.max(versions);
            mode.latencies.extend(latencies);
        }
        Ok(mode)
    }
}

/// `redis-benchmark` GET of a `size`-byte value with `clients` connections: what one Redis
/// read of the packed states costs at best on this machine.
fn redis_benchmark_get(clients: usize, size: usize) -> anyhow::Result<f64> {
    let out = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", "6379", "-c", &clients.to_string(), "-n", "100000"])
        .args(["-d", &size.to_string(), "-t", "set,get", "-q"])
        .output()
        .context("running redis-benchmark (apt-get install redis-tools)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "GET: 98039.22 requests per second, p50=0.311 msec"
    let rate = text
        .split(['\r', '\n'])
        .filter_map(|line| line.trim().strip_prefix("GET:"))
        .find_map(|rest| rest.trim().split(' ').next()?.parse::<f64>().ok());
    match rate {
        Some(r) => Ok(r),
        None => bail!("could not read redis-benchmark's output: {text}"),
    }
}

/// Prints the report and writes `--json` / `--svg`.
pub fn print(
    config: &Config,
    r: &mut Report,
    json_path: Option<&str>,
    svg_path: Option<&str>,
) -> anyhow::Result<()> {
    println!(
        "{} readers, {}s per mode, concert {} of {} seats:",
        config.readers,
        config.duration.as_secs(),
        r.concert,
        r.seats
    );
    let mut modes = Vec::new();
    for m in &mut r.modes {
        let per_answer = m.bytes / m.requests.max(1);
        let churn = if m.changes > 0 {
            format!(
                ", {} state changes meanwhile, {} versions seen by a reader",
                m.changes, m.versions
            )
        } else {
            String::new()
        };
        println!(
            "  {:<38} {:>8.0} req/s, {:>9} B/answer, {:>6.1} MB/s; {}, errors={}{churn}",
            m.name,
            m.per_second(),
            per_answer,
            m.bytes as f64 / m.elapsed.as_secs_f64() / 1e6,
            m.latencies.summary(),
            m.errors,
        );
        modes.push(json!({
            "mode": m.name, "requests_per_s": m.per_second(), "bytes_per_answer": per_answer,
            "changes": m.changes, "versions_seen": m.versions, "errors": m.errors,
            "latency": report::latencies_json(&mut m.latencies),
        }));
    }
    if let Some(rate) = r.redis_get_per_s {
        println!(
            "  redis-benchmark GET of {} bytes, {} clients: {rate:.0} req/s (baseline)",
            r.bytes_plain, config.readers
        );
    }
    let json = json!({
        "scenario": "availability", "concert": r.concert, "seats": r.seats,
        "counts": {"AVAILABLE": r.counts[0], "HELD": r.counts[1], "RESERVED": r.counts[2], "SOLD": r.counts[3]},
        "bytes_plain": r.bytes_plain, "bytes_gzip": r.bytes_gzip, "readers": config.readers,
        "seconds_per_mode": config.duration.as_secs(), "modes": modes,
        "redis_benchmark_get_per_s": r.redis_get_per_s,
        "timeline": report::timeline_json(&r.timeline),
    });
    let title =
        format!("Availability: {} seats, {} readers, mode after mode", r.seats, config.readers);
    report::write_outputs(
        json_path,
        svg_path,
        &json,
        &title,
        "requests per second",
        "request",
        &r.timeline,
    )
}
