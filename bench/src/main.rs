//! `ticketing-bench`: load scenarios against a running ticketing service, through its public
//! HTTP API only.
//!
//! ```text
//! ticketing-bench seat-map [--base-url URL] [--seats N] [--readers N] [--seconds S]
//! ticketing-bench holds [--base-url URL] [--seats N] [--clients N] [--seconds S]
//! ```

mod holds;
mod report;
mod seat_map;
mod sse;

use std::time::Duration;

use anyhow::{Context, bail};

/// Command-line options shared by the scenarios.
#[derive(Debug, Clone)]
pub struct Options {
    pub base_url: String,
    pub admin_email: String,
    pub admin_password: String,
    pub seats: usize,
    pub readers: usize,
    pub clients: usize,
    pub streams: usize,
    pub server_pid: Option<u32>,
    pub duration: Duration,
}

const USAGE: &str = "\
usage: ticketing-bench <scenario> [options]

scenarios:
    seat-map    create a concert with --seats seats (in batches of 5,000), then --readers
                concurrent clients fetch its seat map for --seconds; reports latency and bytes
    holds       --clients fans hold (and release) seats for --seconds: first all on one hot seat,
                then spread over --seats seats; reports holds/s, latency percentiles, conflict
                rate, and redis-benchmark SET NX PX at the same concurrency for the ratio
    sse         --streams fans join a waiting room and hold a live stream open; reports the
                server's memory per stream (--server-pid) and, once the sale opens, the delay
                from each admission to its queue-complete event

options:
    --base-url URL        service to drive (default http://127.0.0.1:8080)
    --admin-email E       admin account (default admin@admin)
    --admin-password P    (default admin1234)
    --seats N             seats in the concert (default 5000)
    --readers N           concurrent readers (default 8)
    --clients N           concurrent fans for holds (default 64)
    --streams N           open streams for sse (default 1000)
    --server-pid PID      the service's process id, to read its memory (sse)
    --seconds S           how long readers read (default 10)
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
        duration: Duration::from_secs(10),
    };
    let mut it = args.iter();
    let scenario = it.next().context(USAGE)?.clone();
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--base-url" => options.base_url = value()?.trim_end_matches('/').to_owned(),
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
        other => {
            eprintln!("unknown scenario {other}\n\n{USAGE}");
            std::process::exit(2);
        }
    }
}
