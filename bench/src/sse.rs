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
use tokio::sync::Semaphore;

use crate::{
    Options,
    queue_stream::QueueStream,
    report::{Latencies, Timeline, ms},
    report::{chrono_now, iso},
    seat_map::admin_token,
};

pub async fn run(options: &Options) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(64).build()?;
    let base = &options.base_url;
    let admin = admin_token(&client, options).await?;
    let n = options.streams;

    let future = |days: i64| iso(chrono_now() + days * 86_400);
    let concert: Value = client
        .post(format!("{base}/api/concert"))
        .bearer_auth(&admin)
        .json(&json!({
            "title": "sse bench", "venue": "Bench Arena", "queueEnabled": true,
            "openTime": future(1), "closeTime": future(2), "concertDate": future(3),
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
            "openTime": iso(now - 60), "closeTime": future(2), "concertDate": future(3),
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
    let mut stream = QueueStream::open(addr, concert, token).await?;
    opened.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    drop(permit);
    while let Some((event, data)) = stream.next_event().await? {
        if event == "queue-complete" {
            let now_ms = chrono::Utc::now().timestamp_millis();
            let admitted_at = data["admittedAt"].as_i64().context("admittedAt")?;
            return Ok(Duration::from_millis(now_ms.saturating_sub(admitted_at).max(0) as u64));
        }
    }
    bail!("stream ended before queue-complete")
}

/// The resident memory of a process, in KiB (`VmRSS` of `/proc/PID/status`).
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().split(' ').next()?.parse().ok())
        .context("VmRSS")
}
