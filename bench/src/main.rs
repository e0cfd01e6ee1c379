//! `ticketing-bench`: load scenarios against a running ticketing service, through its public
//! HTTP API only.
//!
//! ```text
//! ticketing-bench seat-map [--base-url URL] [--seats N] [--readers N] [--seconds S]
//! ticketing-bench holds [--base-url URL] [--seats N] [--clients N] [--seconds S]
//! ```

use std::time::Duration;

use anyhow::{Context, bail};
use ticketing_bench::{Options, flash_sale, holds, report, seat_map, smtp::SmtpSink, sse};

const USAGE: &str = "\
usage: ticketing-bench <scenario> [options]

scenarios:
    seat-map    create a concert with --seats seats (in batches of 5,000), then --readers
                concurrent clients fetch its seat map for --seconds; reports latency and bytes
    holds       --clients fans hold (and release) seats for --seconds: first all on one hot seat,
                then spread over --seats seats; reports holds/s, latency percentiles, conflict
                rate, and redis-benchmark SET NX PX at the same concurrency for the ratio
    flash-sale  a concert of --seats seats behind the waiting room; --fans fans spread over every
                --base-url sign up, join, follow their stream, hold 1-4 seats (retrying on
                conflict), check out and pay through the simulator (--decline and --abandon set
                the shares that decline or walk away); then the database is audited. Run the
                services with SMTP_URL=smtp://127.0.0.1:<--smtp-port>. Exit code 1 on any audit
                failure.
    sse         --streams fans join a waiting room and hold a live stream open; reports the
                server's memory per stream (--server-pid) and, once the sale opens, the delay
                from each admission to its queue-complete event

options:
    --base-url URL        service to drive (default http://127.0.0.1:8080); several, comma-
                          separated or repeated, for the flash sale's instances
    --admin-email E       admin account (default admin@admin)
    --admin-password P    (default admin1234)
    --seats N             seats in the concert (default 5000)
    --readers N           concurrent readers (default 8)
    --clients N           concurrent fans for holds (default 64)
    --streams N           open streams for sse (default 1000)
    --server-pid PID      the service's process id, to read its memory (sse)
    --seconds S           how long readers read (default 10)
    --fans N              fans in the flash sale (default 300)
    --database-url URL    the services' database, for the audit
                          (default postgres://postgres@127.0.0.1:5432/ticketing)
    --smtp-port P         where the flash sale's mail sink listens (default 2525)
    --decline R           share of fans who decline payment (default 0.1)
    --abandon R           share of fans who never pay (default 0.1)
    --json PATH           write the scenario's report as JSON (summary and per-second timeline)
    --svg PATH            write its chart: throughput per second (bars), latency p50/p99 (lines)

Every scenario prints a summary and a progress line on stderr while it runs.
";

fn parse(args: &[String]) -> anyhow::Result<(String, Options)> {
    let mut options = Options {
        base_url: "http://127.0.0.1:8080".into(),
        admin_email: "admin@admin".into(),
        admin_password: "admin1234".into(),
        seats: 5_000,
        readers: 8,
        clients: 64,
        streams: 1_000,
        server_pid: None,
        base_urls: Vec::new(),
        fans: 300,
        database_url: "postgres://postgres@127.0.0.1:5432/ticketing".into(),
        smtp_port: 2525,
        decline_ratio: 0.1,
        abandon_ratio: 0.1,
        json: None,
        svg: None,
        duration: Duration::from_secs(10),
    };
    let mut it = args.iter();
    let scenario = it.next().context(USAGE)?.clone();
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--base-url" => {
                for url in value()?.split(',') {
                    options.base_urls.push(url.trim().trim_end_matches('/').to_owned());
                }
                options.base_url = options.base_urls[0].clone();
            }
            "--fans" => options.fans = value()?.parse()?,
            "--database-url" => options.database_url = value()?.clone(),
            "--smtp-port" => options.smtp_port = value()?.parse()?,
            "--decline" => options.decline_ratio = value()?.parse()?,
            "--abandon" => options.abandon_ratio = value()?.parse()?,
            "--json" => options.json = Some(value()?.clone()),
            "--svg" => options.svg = Some(value()?.clone()),
            "--admin-email" => options.admin_email = value()?.clone(),
            "--admin-password" => options.admin_password = value()?.clone(),
            "--seats" => options.seats = value()?.parse()?,
            "--readers" => options.readers = value()?.parse()?,
            "--clients" => options.clients = value()?.parse()?,
            "--streams" => options.streams = value()?.parse()?,
            "--server-pid" => options.server_pid = Some(value()?.parse()?),
            "--seconds" => options.duration = Duration::from_secs(value()?.parse()?),
            "-h" | "--help" => bail!("{USAGE}"),
            other => bail!("unknown option {other}\n\n{USAGE}"),
        }
    }
    Ok((scenario, options))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (scenario, options) = match parse(&args) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    match scenario.as_str() {
        "seat-map" => seat_map::run(&options).await,
        "holds" => holds::run(&options).await,
        "sse" => sse::run(&options).await,
        "flash-sale" => run_flash_sale(options).await,
        other => {
            eprintln!("unknown scenario {other}\n\n{USAGE}");
            std::process::exit(2);
        }
    }
}

async fn run_flash_sale(mut options: Options) -> anyhow::Result<()> {
    if options.base_urls.is_empty() {
        options.base_urls.push(options.base_url.clone());
    }
    let sink = SmtpSink::start_on(options.smtp_port).await.context("starting the mail sink")?;
    let config = flash_sale::Config {
        base_urls: options.base_urls.clone(),
        database_url: options.database_url.clone(),
        admin_email: options.admin_email.clone(),
        admin_password: options.admin_password.clone(),
        fans: options.fans,
        seats: if options.seats == 5_000 { 100 } else { options.seats },
        decline_ratio: options.decline_ratio,
        abandon_ratio: options.abandon_ratio,
        signup_parallelism: 16,
        settle_timeout: Duration::from_secs(120),
        progress: true,
    };
    let started = std::time::Instant::now();
    let mut r = flash_sale::run(&config, &sink).await?;
    println!(
        "flash sale: {} fans, {} seats, {} instance(s); {} reservations confirmed, {} seats sold",
        r.fans, r.seats, r.instances, r.confirmed_reservations, r.sold_seats
    );
    match r.sold_out_after {
        Some(d) => println!(
            "sold out {:.1}s after the sale opened ({:.1}s total with the audit)",
            d.as_secs_f64(),
            started.elapsed().as_secs_f64()
        ),
        None => println!("NOT sold out"),
    }
    let mut steps: Vec<_> = r.steps.0.iter_mut().collect();
    steps.sort_by_key(|(name, _)| *name);
    for (name, latencies) in steps {
        println!("  {name:>10}: {}", latencies.summary());
    }
    println!("audit:");
    for (check, ok, detail) in &r.audit {
        println!("  [{}] {check} ({detail})", if *ok { "ok" } else { "FAIL" });
    }
    if let Some(path) = &options.json {
        let steps: serde_json::Map<String, serde_json::Value> = r
            .steps
            .0
            .iter_mut()
            .map(|(name, l)| {
                let n = l.len();
                let mut ms = |p: f64| l.percentile(p).as_secs_f64() * 1000.0;
                let (p50, p99, max) = (ms(50.0), ms(99.0), ms(100.0));
                (
                    name.to_string(),
                    serde_json::json!({"n": n, "p50_ms": p50, "p99_ms": p99, "max_ms": max}),
                )
            })
            .collect();
        let json = serde_json::json!({
            "fans": r.fans, "seats": r.seats, "instances": r.instances,
            "sold_out_after_s": r.sold_out_after.map(|d| d.as_secs_f64()),
            "confirmed_reservations": r.confirmed_reservations, "sold_seats": r.sold_seats,
            "steps": steps,
            "timeline": r.timeline.iter().map(|(s, n, p50, p99)| serde_json::json!({"second": s, "confirmations": n, "hold_p50_ms": p50, "hold_p99_ms": p99})).collect::<Vec<_>>(),
            "audit": r.audit.iter().map(|(c, ok, d)| serde_json::json!({"check": c, "ok": ok, "detail": d})).collect::<Vec<_>>(),
        });
        std::fs::write(path, serde_json::to_string_pretty(&json)?)?;
    }
    if let Some(path) = &options.svg {
        let title =
            format!("Flash sale: {} fans, {} seats, {} instance(s)", r.fans, r.seats, r.instances);
        std::fs::write(path, report::svg_chart(&title, &r.timeline))?;
    }
    if !r.audit_passed() {
        std::process::exit(1);
    }
    Ok(())
}
