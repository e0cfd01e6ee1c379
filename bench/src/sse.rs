//! 10,000 (`--streams`) open waiting-room streams on one instance: the server's memory per
//! stream, and the delay from admission to the `queue-complete` event.
//!
//! The concert's sale starts in the future, so everyone joins and opens a stream first; the
//! server's memory is read (`--server-pid`) before and after the streams open; then an admin
//! opens the sale and the admission worker lets everyone in, tick after tick. Run the service
//! with a cap that admits everyone, e.g. `QUEUE_MAX_ACTIVE=1000000 QUEUE_ADMIT_PER_TICK=1000`.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
    sync::Semaphore,
};

use crate::{
    Options,
    report::{Latencies, Timeline, ms},
    seat_map::admin_token,
};

pub async fn run(options: &Options) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(64).build()?;
    let base = &options.base_url;
    let admin = admin_token(&client, options).await?;
    let n = options.streams;

    let future = |days: i64| (chrono_now() + days * 86_400).to_string();
    let concert: Value = client
        .post(format!("{base}/api/concert"))
        .bearer_auth(&admin)
        .json(&json!({
            "title": "sse bench", "venue": "Bench Arena", "queueEnabled": true,
            "openTime": rfc3339(future(1)), "closeTime": rfc3339(future(2)), "concertDate": rfc3339(future(3)),
        }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let concert_id = concert["id"].as_i64().context("concert id")?;

    let started = Instant::now();
    let tokens = crate::holds::signup_fans(&client, base, n, 16).await?;
    println!("signed up {n} fans in {:.1}s", started.elapsed().as_secs_f64());
    let started = Instant::now();
    let limit = Arc::new(Semaphore::new(64));
    let joins = tokens.iter().map(|token| {
        let (client, base, token, limit) =
            (client.clone(), base.clone(), token.clone(), limit.clone());
        tokio::spawn(async move {
            let _permit = limit.acquire().await?;
            client
                .post(format!("{base}/api/queue"))
                .bearer_auth(&token)
                .json(&json!({"concertId": concert_id}))
                .send()
                .await?
                .error_for_status()?;
            Ok::<_, anyhow::Error>(())
        })
    });
    for r in futures::future::join_all(joins).await {
        r??;
    }
    println!("{n} fans joined the line in {:.1}s", started.elapsed().as_secs_f64());

    let rss_before = options.server_pid.map(rss_kib).transpose()?;
    let addr =
        base.strip_prefix("http://").context("--base-url must be http://host:port")?.to_owned();
    let started = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let opened = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // At most 256 connections being opened at once: a burst of 10,000 SYNs overflows the
    // listen backlog.
    let connecting = Arc::new(Semaphore::new(256));
    for token in &tokens {
        let (addr, token, tx) = (addr.clone(), token.clone(), tx.clone());
        let (counter, connecting) = (opened.clone(), connecting.clone());
        tokio::spawn(async move {
            let result = follow(&addr, concert_id, &token, &counter, &connecting).await;
            let _ = tx.send(result);
        });
    }
    drop(tx);
    while opened.load(std::sync::atomic::Ordering::Relaxed) < n {
        if started.elapsed() > Duration::from_secs(120) {
            bail!(
                "only {} of {n} streams opened",
                opened.load(std::sync::atomic::Ordering::Relaxed)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("{n} streams open in {:.1}s", started.elapsed().as_secs_f64());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut memory = serde_json::Value::Null;
    if let (Some(pid), Some(before)) = (options.server_pid, rss_before) {
        let after = rss_kib(pid)?;
        memory = json!({"rss_before_kib": before, "rss_after_kib": after,
            "kib_per_stream": after.saturating_sub(before) as f64 / n as f64});
        println!(
            "server RSS {:.1} MiB before streams, {:.1} MiB with {n} open: {:.1} KiB per stream",
            before as f64 / 1024.0,
            after as f64 / 1024.0,
            (after.saturating_sub(before)) as f64 / n as f64
        );
    }

    // Open the sale: admissions start at the next tick.
    let opened_at = Instant::now();
    let now = chrono_now();
    client
        .put(format!("{base}/api/concert/{concert_id}"))
        .bearer_auth(&admin)
        .json(&json!({
            "title": "sse bench", "venue": "Bench Arena",
            "openTime": rfc3339((now - 60).to_string()), "closeTime": rfc3339(future(2)), "concertDate": rfc3339(future(3)),
        }))
        .send()
        .await?
        .error_for_status()?;
    let mut delays = Latencies::default();
    let mut failures = 0;
    let timeline = Timeline::default();
    let completed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let progress =
        crate::report::progress("queue-complete received", completed.clone(), Some(n as u64));
    while let Some(result) = rx.recv().await {
        match result {
            Ok(delay) => {
                delays.record(delay);
                timeline.record(delay);
                completed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Err(e) => {
                failures += 1;
                if failures <= 3 {
                    eprintln!("stream failed: {e:#}");
                }
            }
        }
    }
    println!(
        "all admitted {:.1}s after the sale opened; admission → queue-complete delay: {} (failures {failures})",
        opened_at.elapsed().as_secs_f64(),
        delays.summary()
    );
    progress.abort();
    let per_second = timeline.per_second();
    let json = json!({
        "scenario": "sse", "streams": n, "failures": failures, "memory": memory,
        "all_admitted_after_s": opened_at.elapsed().as_secs_f64(),
        "admission_to_complete": crate::report::latencies_json(&mut delays),
        "timeline": crate::report::timeline_json(&per_second),
    });
    let title = format!("Waiting room: {n} streams, admission to queue-complete");
    let _ = ms(Duration::ZERO);
    crate::report::write_outputs(
        options.json.as_deref(),
        options.svg.as_deref(),
        &json,
        &title,
        "queue-complete per second",
        "delay",
        &per_second,
    )
}

/// Opens one stream and waits for `queue-complete`; returns the delay since admission.
async fn follow(
    addr: &str,
    concert: i64,
    token: &str,
    opened: &std::sync::atomic::AtomicUsize,
    connecting: &Semaphore,
) -> anyhow::Result<Duration> {
    let permit = connecting.acquire().await?;
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!(
        "GET /api/queue/{concert}/stream?token={token} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut lines = BufReader::new(stream).lines();
    let status = lines.next_line().await?.context("no status line")?;
    if !status.contains(" 200 ") {
        bail!("stream refused: {status}");
    }
    opened.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    drop(permit);
    let mut complete = false;
    while let Some(line) = lines.next_line().await? {
        if line.starts_with("event: queue-complete") || line.starts_with("event:queue-complete") {
            complete = true;
        } else if complete && let Some(data) = line.strip_prefix("data:") {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_millis() as i64;
            let event: Value = serde_json::from_str(data.trim())?;
            let admitted_at = event["admittedAt"].as_i64().context("admittedAt")?;
            return Ok(Duration::from_millis(now_ms.saturating_sub(admitted_at).max(0) as u64));
        }
    }
    bail!("stream ended before queue-complete")
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().split(' ').next()?.parse().ok())
        .context("VmRSS")
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Unix seconds → RFC 3339 (UTC).
fn rfc3339(secs: String) -> String {
    let secs: i64 = secs.parse().unwrap_or_default();
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}
