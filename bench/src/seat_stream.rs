//! Availability stream fan-out: `--watchers` streams of one concert on one instance, the
//! server's memory per stream, then a fan holds seats one at a time and every watcher's copy
//! is timed: from the hold's HTTP answer to the moment every watcher has seen the seat HELD.
//!
//! Run the service with a per-address cap above the watchers (they all come from this host),
//! e.g. `SEAT_STREAM_MAX_PER_CLIENT=100000`, and both processes with `ulimit -n` above it.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail, ensure};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, watch};

use crate::{
    live::{AvailabilityStream, Changed, Layout, Mirror, decode},
    report::{self, Latencies},
    seat_map::{admin_token_at, create_concert_at},
    sse::rss_kib,
};

/// Code of HELD in the availability encoding.
const HELD: u8 = 1;
/// At most this many streams connecting at once: a burst of SYNs overflows the listen backlog.
const CONNECTING: usize = 256;

/// What to run.
#[derive(Clone)]
pub struct Config {
    pub base_url: String,
    pub admin_email: String,
    pub admin_password: String,
    pub seats: usize,
    pub watchers: usize,
    /// Seats held one after another.
    pub holds: usize,
    /// Time between the starts of two holds.
    pub interval: Duration,
    /// The service's process id, to read its memory.
    pub server_pid: Option<u32>,
    pub progress: bool,
}

/// What was measured.
pub struct Report {
    pub watchers: usize,
    pub failed: usize,
    pub open_time: Duration,
    /// Server RSS in KiB before and after the streams opened.
    pub server_rss: Option<(u64, u64)>,
    /// This process's RSS in KiB before and after.
    pub client_rss: (u64, u64),
    pub holds: usize,
    /// Per hold: from its answer to the last watcher seeing it.
    pub seen_by_all: Latencies,
    /// Per hold and watcher: from the hold's answer to that watcher seeing it.
    pub per_watcher: Latencies,
    /// (hold, watcher) pairs never seen before the end.
    pub missed: usize,
    /// Pairs seen before the hold's answer reached the fan (counted as 0).
    pub early: usize,
    /// Watchers whose copy ended equal to the availability endpoint's states.
    pub consistent: usize,
    /// The holds' own latency.
    pub hold_latency: Latencies,
    /// CPU seconds used during the hold phase by the server (with `server_pid`) and this process.
    pub server_cpu: Option<f64>,
    pub client_cpu: f64,
    pub hold_phase: Duration,
    /// Events (deltas and snapshots) a watcher received after its first snapshot, on average.
    pub events_per_watcher: f64,
    /// (second, holds, p50 ms, p99 ms) of the seen-by-all delay by second of the hold phase.
    pub timeline: Vec<(u64, u64, f64, f64)>,
}

/// What a watcher saw: per hold, when (None: not yet); and whether it ended consistent.
struct Seen {
    at: Vec<Option<Instant>>,
    consistent: bool,
    events: usize,
}

/// The end of the run: the availability every watcher must reach.
#[derive(Clone)]
struct End {
    version: u64,
    states: Arc<Vec<u8>>,
}

pub async fn run(config: &Config) -> anyhow::Result<Report> {
    let base = config.base_url.as_str();
    let addr = base.strip_prefix("http://").context("--base-url must be http://host:port")?;
    let client = reqwest::Client::builder().no_proxy().build()?;
    let admin = admin_token_at(&client, base, &config.admin_email, &config.admin_password).await?;
    let (concert, _) = create_concert_at(&client, base, &admin, config.seats).await?;
    let layout = Arc::new(Layout::fetch(&client, base, concert).await?);
    ensure!(config.holds <= layout.ids.len(), "more holds than seats");
    let fan = crate::holds::signup_fans(&client, base, 1, 1).await?.remove(0);
    // The held seats, spread over the concert; seat → its hold's number.
    let stride = (layout.ids.len() / config.holds.max(1)).max(1);
    let targets: Vec<i64> = (0..config.holds).map(|k| layout.ids[k * stride]).collect();
    let target_of: Arc<HashMap<i64, usize>> =
        Arc::new(targets.iter().enumerate().map(|(k, s)| (*s, k)).collect());
    let seen_count: Arc<Vec<AtomicUsize>> =
        Arc::new((0..config.holds).map(|_| AtomicUsize::new(0)).collect());

    let server_before = config.server_pid.map(rss_kib).transpose()?;
    let client_before = rss_kib(std::process::id())?;
    let started = Instant::now();
    let opened = Arc::new(AtomicU64::new(0));
    let connecting = Arc::new(Semaphore::new(CONNECTING));
    let (end_tx, end_rx) = watch::channel(None::<End>);
    let mut tasks = Vec::with_capacity(config.watchers);
    for _ in 0..config.watchers {
        let (addr, layout, target_of) = (addr.to_owned(), layout.clone(), target_of.clone());
        let (seen_count, opened, connecting) =
            (seen_count.clone(), opened.clone(), connecting.clone());
        let end = end_rx.clone();
        tasks.push(tokio::spawn(async move {
            let permit = connecting.acquire_owned().await?;
            let mut stream = AvailabilityStream::open(&addr, concert, None).await?;
            let mut mirror = Mirror::new(layout);
            let first = stream.next_event().await?.context("no snapshot")?;
            ensure!(first.name == "snapshot", "the first event is {}", first.name);
            mirror.apply(&first)?;
            opened.fetch_add(1, Ordering::Relaxed);
            drop(permit);
            watch_until_end(stream, mirror, &target_of, &seen_count, end).await
        }));
    }
    let progress = config
        .progress
        .then(|| report::progress("streams open", opened.clone(), Some(config.watchers as u64)));
    while opened.load(Ordering::Relaxed) as usize + finished(&tasks) < config.watchers {
        if started.elapsed() > Duration::from_secs(300) {
            bail!("only {} of {} streams opened", opened.load(Ordering::Relaxed), config.watchers);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let open_time = started.elapsed();
    if let Some(p) = progress {
        p.abort();
        eprintln!();
    }
    let live = opened.load(Ordering::Relaxed) as usize;
    println!("{live} of {} streams open in {:.1}s", config.watchers, open_time.as_secs_f64());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let server_rss = match (config.server_pid, server_before) {
        (Some(pid), Some(before)) => Some((before, rss_kib(pid)?)),
        _ => None,
    };
    let client_rss = (client_before, rss_kib(std::process::id())?);

    // The holds: one at a time, every `interval`; a fan holds at most 4 seats, so the hold
    // three back is released once every watcher saw it (or after 5 s).
    let mut answered = Vec::with_capacity(config.holds);
    let mut hold_latency = Latencies::default();
    let hold_phase = Instant::now();
    let server_cpu_before = config.server_pid.map(cpu_seconds).transpose()?;
    let client_cpu_before = cpu_seconds(std::process::id())?;
    for (k, seat) in targets.iter().enumerate() {
        if k >= 3 {
            wait_seen(&seen_count[k - 3], live, Duration::from_secs(5)).await;
            release(&client, base, &fan, targets[k - 3]).await?;
        }
        let next = hold_phase + config.interval * k as u32;
        tokio::time::sleep_until(next.into()).await;
        let t = Instant::now();
        let res =
            client.post(format!("{base}/api/seat/{seat}/select")).bearer_auth(&fan).send().await?;
        let at = Instant::now();
        ensure!(res.status().is_success(), "hold of seat {seat} answered {}", res.status());
        hold_latency.record(at - t);
        answered.push(at);
    }
    for k in config.holds.saturating_sub(3)..config.holds {
        wait_seen(&seen_count[k], live, Duration::from_secs(10)).await;
        release(&client, base, &fan, targets[k]).await?;
    }

    let hold_phase_took = hold_phase.elapsed();
    let server_cpu = match (config.server_pid, server_cpu_before) {
        (Some(pid), Some(before)) => Some(cpu_seconds(pid)? - before),
        _ => None,
    };
    let client_cpu = cpu_seconds(std::process::id())? - client_cpu_before;

    // Every watcher must end on the endpoint's states.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let availability: Value = client
        .get(format!("{base}/api/seat/concert/{concert}/availability"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let end = End {
        version: availability["version"].as_u64().context("version")?,
        states: Arc::new(decode(&availability)?),
    };
    end_tx.send_replace(Some(end));

    let mut report = Report {
        watchers: config.watchers,
        failed: 0,
        open_time,
        server_rss,
        client_rss,
        holds: config.holds,
        seen_by_all: Latencies::default(),
        per_watcher: Latencies::default(),
        missed: 0,
        early: 0,
        consistent: 0,
        hold_latency,
        server_cpu,
        client_cpu,
        hold_phase: hold_phase_took,
        events_per_watcher: 0.0,
        timeline: Vec::new(),
    };
    let mut events = 0;
    let mut last_seen: Vec<Option<Instant>> = vec![None; config.holds];
    let mut all_seen = vec![true; config.holds];
    let mut failures = Vec::new();
    for task in futures::future::join_all(tasks).await {
        match task? {
            Ok(seen) => {
                report.consistent += seen.consistent as usize;
                events += seen.events;
                for (k, at) in seen.at.into_iter().enumerate() {
                    let Some(at) = at else {
                        report.missed += 1;
                        all_seen[k] = false;
                        continue;
                    };
                    report.early += (at < answered[k]) as usize;
                    report.per_watcher.record(at.saturating_duration_since(answered[k]));
                    last_seen[k] = last_seen[k].max(Some(at));
                }
            }
            Err(e) => {
                report.failed += 1;
                if failures.len() < 3 {
                    failures.push(format!("{e:#}"));
                }
            }
        }
    }
    for f in failures {
        eprintln!("watcher failed: {f}");
    }
    report.events_per_watcher = events as f64 / (config.watchers - report.failed).max(1) as f64;
    let mut by_second: HashMap<u64, Latencies> = HashMap::new();
    for (k, last) in last_seen.iter().enumerate() {
        if let (Some(last), true) = (last, all_seen[k]) {
            let delay = last.saturating_duration_since(answered[k]);
            report.seen_by_all.record(delay);
            let second = (answered[k] - hold_phase).as_secs();
            by_second.entry(second).or_default().record(delay);
        }
    }
    let seconds = by_second.keys().max().map_or(0, |s| s + 1);
    report.timeline = (0..seconds)
        .map(|s| {
            let mut l = by_second.remove(&s).unwrap_or_default();
            let n = l.len() as u64;
            (s, n, report::ms(l.percentile(50.0)), report::ms(l.percentile(99.0)))
        })
        .collect();
    Ok(report)
}

/// Reads a watcher's stream, timing when each held target shows up as HELD, until the end's
/// version is reached (then compares the copy with the end's states).
async fn watch_until_end(
    mut stream: AvailabilityStream,
    mut mirror: Mirror,
    target_of: &HashMap<i64, usize>,
    seen_count: &[AtomicUsize],
    mut end: watch::Receiver<Option<End>>,
) -> anyhow::Result<Seen> {
    let mut at = vec![None; seen_count.len()];
    let mut target = None;
    let mut events = 0;
    loop {
        if let Some(End { version, states }) = &target
            && mirror.version >= *version
        {
            let consistent = mirror.version == *version && mirror.states == **states;
            return Ok(Seen { at, consistent, events });
        }
        let event = tokio::select! {
            event = stream.next_event() => event?.context("the stream ended")?,
            changed = end.changed(), if target.is_none() => {
                changed?;
                target = end.borrow().clone();
                continue;
            }
            _ = tokio::time::sleep(Duration::from_secs(20)), if target.is_some() => {
                bail!("the end's version was not reached in 20 s (at {})", mirror.version);
            }
        };
        mirror.apply(&event)?;
        events += 1;
        let now = Instant::now();
        let mut mark = |seat: i64| {
            if let Some(&k) = target_of.get(&seat)
                && at[k].is_none()
            {
                at[k] = Some(now);
                seen_count[k].fetch_add(1, Ordering::Relaxed);
            }
        };
        match &mirror.changed {
            Changed::Seats(changes) => {
                for (seat, _) in changes.iter().filter(|(_, s)| *s == HELD) {
                    mark(*seat);
                }
            }
            // A lagging stream gets a snapshot instead of deltas: a held target in it is seen.
            Changed::Everything => {
                for seat in mirror.seats_in(HELD).collect::<Vec<_>>() {
                    mark(seat);
                }
            }
            Changed::Nothing => {}
        }
    }
}

fn finished(tasks: &[tokio::task::JoinHandle<anyhow::Result<Seen>>]) -> usize {
    tasks.iter().filter(|t| t.is_finished()).count()
}

/// CPU time (user + system) a process has used, in seconds.
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces): state is the first, utime the 12th.
    let rest = stat.rsplit_once(')').context("/proc/PID/stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    // The kernel's USER_HZ is 100 on every Linux this runs on.
    Ok(ticks as f64 / 100.0)
}

async fn wait_seen(count: &AtomicUsize, watchers: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while count.load(Ordering::Relaxed) < watchers && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn release(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    seat: i64,
) -> anyhow::Result<()> {
    let res =
        client.delete(format!("{base}/api/seat/{seat}/select")).bearer_auth(token).send().await?;
    ensure!(res.status().is_success(), "release of seat {seat} answered {}", res.status());
    Ok(())
}

/// Prints the report and writes `--json` / `--svg`.
pub fn print(
    config: &Config,
    r: &mut Report,
    json_path: Option<&str>,
    svg_path: Option<&str>,
) -> anyhow::Result<()> {
    let open = r.watchers - r.failed;
    let mut memory = Value::Null;
    if let Some((before, after)) = r.server_rss {
        let per = after.saturating_sub(before) as f64 / open.max(1) as f64;
        println!(
            "server RSS {:.1} MiB before, {:.1} MiB with {open} streams: {per:.1} KiB per stream",
            before as f64 / 1024.0,
            after as f64 / 1024.0
        );
        memory = json!({"rss_before_kib": before, "rss_after_kib": after, "kib_per_stream": per});
    }
    let (cb, ca) = r.client_rss;
    let client_per = ca.saturating_sub(cb) as f64 / open.max(1) as f64;
    println!(
        "bench RSS {:.1} → {:.1} MiB: {client_per:.1} KiB per watcher (its copy of {} seats included)",
        cb as f64 / 1024.0,
        ca as f64 / 1024.0,
        config.seats
    );
    println!(
        "{} holds every {} ms; hold latency {}",
        r.holds,
        config.interval.as_millis(),
        r.hold_latency.summary()
    );
    let cpu =
        |c: f64| format!("{c:.1} s ({:.0} % of a core)", 100.0 * c / r.hold_phase.as_secs_f64());
    println!(
        "hold phase {:.1}s, {:.1} events per watcher; CPU: server {}, bench {}",
        r.hold_phase.as_secs_f64(),
        r.events_per_watcher,
        r.server_cpu.map(cpu).unwrap_or_else(|| "?".into()),
        cpu(r.client_cpu)
    );
    println!("hold answered → seen by all {open} watchers: {}", r.seen_by_all.summary());
    println!("hold answered → seen, per watcher: {}", r.per_watcher.summary());
    println!(
        "missed {} (hold, watcher) pairs; {} seen before the answer; {} of {open} watchers ended equal to the endpoint; {} failed",
        r.missed, r.early, r.consistent, r.failed
    );
    let json = json!({
        "scenario": "seat-stream", "seats": config.seats, "watchers": r.watchers, "failed": r.failed,
        "open_s": r.open_time.as_secs_f64(), "memory": memory,
        "client_rss_kib": {"before": cb, "after": ca, "kib_per_watcher": client_per},
        "holds": r.holds, "interval_ms": config.interval.as_millis() as u64,
        "hold_latency": report::latencies_json(&mut r.hold_latency),
        "seen_by_all": report::latencies_json(&mut r.seen_by_all),
        "per_watcher": report::latencies_json(&mut r.per_watcher),
        "missed": r.missed, "early": r.early, "consistent": r.consistent,
        "hold_phase_s": r.hold_phase.as_secs_f64(), "events_per_watcher": r.events_per_watcher,
        "server_cpu_s": r.server_cpu, "bench_cpu_s": r.client_cpu,
        "timeline": report::timeline_json(&r.timeline),
    });
    let title = format!("Seat stream: {open} watchers, hold answered to seen by all");
    report::write_outputs(
        json_path,
        svg_path,
        &json,
        &title,
        "holds per second",
        "seen by all",
        &r.timeline,
    )
}
