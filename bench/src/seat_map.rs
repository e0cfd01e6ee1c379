//! Seat map under concurrent readers: how fast, and how big, is a large concert's map?

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, ensure};
use serde_json::{Value, json};

use crate::{
    Options,
    report::{self, Latencies, Timeline, ms},
};

const BATCH: usize = 5_000;

pub async fn run(options: &Options) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().no_proxy().build()?;
    let base = &options.base_url;
    let token = admin_token(&client, options).await?;

    let (concert_id, _) = create_concert(&client, options, &token, options.seats).await?;

    let url = format!("{base}/api/seat/concert/{concert_id}/seat-map");
    // One plain and one gzip fetch to report sizes (and check the map is whole).
    let plain =
        client.get(&url).header("accept-encoding", "identity").send().await?.bytes().await?;
    let map: Vec<Value> = serde_json::from_slice(&plain)?;
    ensure!(map.len() == options.seats, "the map has every seat");
    let gzip_client = reqwest::Client::builder().no_proxy().gzip(false).build()?;
    let gz = gzip_client.get(&url).header("accept-encoding", "gzip").send().await?.bytes().await?;
    println!("seat map: {} seats, {} bytes plain, {} bytes gzip", map.len(), plain.len(), gz.len());

    let timeline = Arc::new(Timeline::default());
    let done = Arc::new(AtomicU64::new(0));
    let progress = report::progress("seat maps read", done.clone(), None);
    let mut modes = Vec::new();
    for (label, encoding) in [("identity", "identity"), ("gzip", "gzip")] {
        let latencies = read_for(
            &gzip_client,
            &url,
            encoding,
            options.readers,
            options.duration,
            &timeline,
            &done,
        )
        .await?;
        let mut all = Latencies::default();
        let mut count = 0;
        for l in latencies {
            count += l.len();
            all.extend(l);
        }
        eprintln!();
        println!(
            "{label:>8}: {} readers for {}s: {:.1} maps/s; {}",
            options.readers,
            options.duration.as_secs(),
            count as f64 / options.duration.as_secs_f64(),
            all.summary()
        );
        modes.push(serde_json::json!({
            "encoding": label,
            "maps_per_s": count as f64 / options.duration.as_secs_f64(),
            "latency": report::latencies_json(&mut all),
        }));
    }
    progress.abort();
    let per_second = timeline.per_second();
    let json = serde_json::json!({
        "scenario": "seat-map", "seats": map.len(), "bytes_plain": plain.len(), "bytes_gzip": gz.len(),
        "readers": options.readers, "seconds_per_encoding": options.duration.as_secs(),
        "modes": modes, "timeline": report::timeline_json(&per_second),
    });
    let title =
        format!("Seat map: {} seats, {} readers (plain, then gzip)", map.len(), options.readers);
    report::write_outputs(
        options.json.as_deref(),
        options.svg.as_deref(),
        &json,
        &title,
        "maps per second",
        "map",
        &per_second,
    )
}

async fn read_for(
    client: &reqwest::Client,
    url: &str,
    encoding: &str,
    readers: usize,
    duration: Duration,
    timeline: &Arc<Timeline>,
    done: &Arc<AtomicU64>,
) -> anyhow::Result<Vec<Latencies>> {
    let deadline = Instant::now() + duration;
    let tasks = (0..readers).map(|_| {
        let client = client.clone();
        let url = url.to_owned();
        let encoding = encoding.to_owned();
        let (timeline, done) = (timeline.clone(), done.clone());
        tokio::spawn(async move {
            let mut latencies = Latencies::default();
            while Instant::now() < deadline {
                let t = Instant::now();
                let res = client.get(&url).header("accept-encoding", &encoding).send().await?;
                ensure!(res.status().is_success(), "seat map answered {}", res.status());
                res.bytes().await?;
                latencies.record(t.elapsed());
                timeline.record(t.elapsed());
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, anyhow::Error>(latencies)
        })
    });
    let mut out = Vec::new();
    for r in futures::future::join_all(tasks).await {
        out.push(r??);
    }
    Ok(out)
}

pub async fn admin_token(client: &reqwest::Client, options: &Options) -> anyhow::Result<String> {
    admin_token_at(client, &options.base_url, &options.admin_email, &options.admin_password).await
}

/// Signs the admin in at `base`; returns the access token.
pub async fn admin_token_at(
    client: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> anyhow::Result<String> {
    let res: Value = client
        .post(format!("{base}/api/user/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(res["token"].as_str().context("token")?.to_owned())
}

/// A concert on sale now with `seats` seats (sections of 50 rows × 100), created in batches.
pub async fn create_concert(
    client: &reqwest::Client,
    options: &Options,
    token: &str,
    seats: usize,
) -> anyhow::Result<(i64, Vec<i64>)> {
    create_concert_at(client, &options.base_url, token, seats).await
}

/// [`create_concert`] at `base`.
pub async fn create_concert_at(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    seats: usize,
) -> anyhow::Result<(i64, Vec<i64>)> {
    create_concert_opening_at(client, base, token, seats, "2020-01-01T10:00:00").await
}

/// `create_concert_at` with the sale opening at `open_time` (KST, `YYYY-MM-DDTHH:MM:SS`).
pub async fn create_concert_opening_at(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    seats: usize,
    open_time: &str,
) -> anyhow::Result<(i64, Vec<i64>)> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let concert: Value = client
        .post(format!("{base}/api/concert"))
        .bearer_auth(token)
        .json(&json!({
            "title": format!("bench {now}"),
            "venue": "Bench Arena",
            "openTime": open_time,
            "closeTime": "2099-01-10T10:00:00",
            "concertDate": "2099-01-11T19:00:00",
        }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let concert_id = concert["id"].as_i64().context("concert id")?;
    let items: Vec<Value> = (0..seats)
        .map(|i| {
            let section = (b'A' + (i / 5_000) as u8) as char;
            json!({
                "concertId": concert_id,
                "section": section.to_string(),
                "row": ((i % 5_000) / 100 + 1).to_string(),
                "number": (i % 100 + 1).to_string(),
                "grade": if i % 10 == 0 { "VIP" } else { "R" },
                "price": if i % 10 == 0 { 150_000 } else { 99_000 },
            })
        })
        .collect();
    let mut create = Latencies::default();
    let started = Instant::now();
    let mut ids = Vec::with_capacity(seats);
    for chunk in items.chunks(BATCH) {
        let t = Instant::now();
        let created: Vec<Value> = client
            .post(format!("{base}/api/seat/batch"))
            .bearer_auth(token)
            .json(&chunk)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        ids.extend(created.iter().filter_map(|s| s["id"].as_i64()));
        create.record(t.elapsed());
    }
    println!(
        "created {} seats in {} batches: {:.0}ms total; per batch {}",
        seats,
        create.len(),
        ms(started.elapsed()),
        create.summary()
    );
    Ok((concert_id, ids))
}
