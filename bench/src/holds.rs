//! Seat holds under contention: `POST /api/seat/{id}/select` (and release) from many clients,
//! on one hot seat and on seats spread over a large concert, next to `redis-benchmark`'s
//! `SET NX PX` at the same concurrency, measured in the same run.

use std::{
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use std::sync::atomic::{AtomicU64, Ordering};

use crate::{
    Options,
    report::{self, Latencies, Timeline, ms},
    seat_map::{admin_token, create_concert},
};

pub async fn run(options: &Options) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(1024).build()?;
    let base = &options.base_url;
    let admin = admin_token(&client, options).await?;
    let seats = options.seats.max(1);
    let (concert, seat_ids) = create_concert(&client, options, &admin, seats).await?;
    println!(
        "concert {concert} with {} seats; {} clients, {}s per mode",
        seat_ids.len(),
        options.clients,
        options.duration.as_secs()
    );
    let tokens = signup_fans(&client, base, options.clients, 8).await?;

    let mut summary = Vec::new();
    let timeline = Arc::new(Timeline::default());
    let done = Arc::new(AtomicU64::new(0));
    let progress = report::progress("hold requests", done.clone(), None);
    for mode in ["hot", "spread"] {
        let targets: Arc<Vec<i64>> =
            Arc::new(if mode == "hot" { vec![seat_ids[0]] } else { seat_ids.clone() });
        let result =
            drive(&client, base, &tokens, targets, options.duration, &timeline, &done).await?;
        summary.push((mode, result));
    }
    progress.abort();
    eprintln!();
    let redis = redis_benchmark(options.clients)?;
    println!("\nredis-benchmark SET NX PX, {} clients: {:.0} requests/s", options.clients, redis);
    let mut modes = Vec::new();
    for (mode, mut r) in summary {
        let rate = r.attempts as f64 / r.elapsed.as_secs_f64();
        modes.push(serde_json::json!({
            "mode": mode,
            "hold_requests_per_s": rate,
            "held_per_s": r.held as f64 / r.elapsed.as_secs_f64(),
            "conflict_ratio": (r.attempts - r.held) as f64 / r.attempts.max(1) as f64,
            "ratio_to_redis_benchmark": rate / redis,
            "errors": r.errors,
            "latency": report::latencies_json(&mut r.latencies),
        }));
        println!(
            "{mode:>6}: {:.0} hold requests/s ({:.0} held/s, {:.1}% conflicts) = {:.1}% of redis-benchmark; latency {}",
            rate,
            r.held as f64 / r.elapsed.as_secs_f64(),
            100.0 * (r.attempts - r.held) as f64 / r.attempts.max(1) as f64,
            100.0 * rate / redis,
            r.latencies.summary(),
        );
        let _ = ms(r.latencies.percentile(99.9));
        println!("        p99.9={:.1}ms, errors={}", ms(r.latencies.percentile(99.9)), r.errors);
    }
    let per_second = timeline.per_second();
    let json = serde_json::json!({
        "scenario": "holds", "clients": options.clients, "seats": seat_ids.len(),
        "seconds_per_mode": options.duration.as_secs(), "redis_benchmark_per_s": redis,
        "modes": modes, "timeline": report::timeline_json(&per_second),
    });
    let title =
        format!("Holds: {} clients, hot seat then {} seats", options.clients, seat_ids.len());
    report::write_outputs(
        options.json.as_deref(),
        options.svg.as_deref(),
        &json,
        &title,
        "hold requests per second",
        "hold",
        &per_second,
    )
}

struct Result {
    attempts: u64,
    held: u64,
    errors: u64,
    elapsed: Duration,
    latencies: Latencies,
}

/// Every client holds a random target, releases it when it got it, and goes again.
async fn drive(
    client: &reqwest::Client,
    base: &str,
    tokens: &[String],
    targets: Arc<Vec<i64>>,
    duration: Duration,
    timeline: &Arc<Timeline>,
    done: &Arc<AtomicU64>,
) -> anyhow::Result<Result> {
    let start = Instant::now();
    let deadline = start + duration;
    let tasks = tokens.iter().enumerate().map(|(i, token)| {
        let (client, base, token, targets) =
            (client.clone(), base.to_owned(), token.clone(), targets.clone());
        let (timeline, done) = (timeline.clone(), done.clone());
        tokio::spawn(async move {
            let mut latencies = Latencies::default();
            let (mut attempts, mut held, mut errors) = (0u64, 0u64, 0u64);
            let mut n = i as u64 * 7919;
            while Instant::now() < deadline {
                n = n.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let seat = targets[(n >> 33) as usize % targets.len()];
                let t = Instant::now();
                let res = client
                    .post(format!("{base}/api/seat/{seat}/select"))
                    .bearer_auth(&token)
                    .send()
                    .await;
                let status = match res {
                    Ok(r) => {
                        let s = r.status();
                        let _ = r.bytes().await;
                        s
                    }
                    Err(_) => {
                        errors += 1;
                        continue;
                    }
                };
                latencies.record(t.elapsed());
                timeline.record(t.elapsed());
                done.fetch_add(1, Ordering::Relaxed);
                attempts += 1;
                match status.as_u16() {
                    200 => {
                        held += 1;
                        let _ = client
                            .delete(format!("{base}/api/seat/{seat}/select"))
                            .bearer_auth(&token)
                            .send()
                            .await;
                    }
                    409 => {}
                    _ => errors += 1,
                }
            }
            (attempts, held, errors, latencies)
        })
    });
    let mut out = Result {
        attempts: 0,
        held: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies: Latencies::default(),
    };
    for r in futures::future::join_all(tasks).await {
        let (a, h, e, l) = r?;
        out.attempts += a;
        out.held += h;
        out.errors += e;
        out.latencies.extend(l);
    }
    out.elapsed = start.elapsed();
    Ok(out)
}

/// Signs up `n` fans through the API, `parallel` at a time; returns their access tokens.
pub async fn signup_fans(
    client: &reqwest::Client,
    base: &str,
    n: usize,
    parallel: usize,
) -> anyhow::Result<Vec<String>> {
    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis()
        % 1_000_000_000;
    let limit = Arc::new(tokio::sync::Semaphore::new(parallel));
    let tasks = (0..n).map(|i| {
        let (client, base, limit) = (client.clone(), base.to_owned(), limit.clone());
        tokio::spawn(async move {
            let _permit = limit.acquire().await?;
            let name = format!("f{run}_{i}");
            let res: Value = client
                .post(format!("{base}/api/user/signup"))
                .json(&json!({"username": &name[..name.len().min(20)], "email": format!("{name}@bench.local"), "password": "benchmark-pass"}))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            Ok::<_, anyhow::Error>(res["token"].as_str().context("token")?.to_owned())
        })
    });
    let mut tokens = Vec::with_capacity(n);
    for r in futures::future::join_all(tasks).await {
        tokens.push(r??);
    }
    Ok(tokens)
}

/// `SET key NX PX` throughput at the same concurrency, on the same Redis.
pub fn redis_benchmark(clients: usize) -> anyhow::Result<f64> {
    let out = Command::new("redis-benchmark")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            "6379",
            "-c",
            &clients.to_string(),
            "-n",
            "200000",
            "-r",
            "100000",
            "-q",
        ])
        .args(["SET", "bench:nx:__rand_int__", "x", "NX", "PX", "60000"])
        .output()
        .context("running redis-benchmark (apt-get install redis-tools)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "SET bench:nx:__rand_int__ x NX PX 60000: 98039.22 requests per second, p50=0.311 msec"
    let rate = text.rsplit(':').find_map(|part| {
        part.trim()
            .split(' ')
            .next()
            .and_then(|n| n.parse::<f64>().ok())
            .filter(|_| part.contains("requests per second"))
    });
    match rate {
        Some(r) => Ok(r),
        None => bail!("could not read redis-benchmark's output: {text}"),
    }
}
