//! `ticketing-bench`: load scenarios against a running ticketing service, through its public
//! HTTP API only. `ticketing-bench --help` lists the scenarios, `ticketing-bench <scenario>
//! --help` their options.

use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use ticketing_bench::{
    Options, availability, chaos, flash_sale, floor, holds, holds_floor, report, seat_map,
    seat_stream, smtp::SmtpSink, soak, sse,
};

/// The command line: one subcommand per scenario.
#[derive(Parser)]
#[command(name = "ticketing-bench", version, after_help = AFTER_HELP)]
#[command(about = "Load scenarios against running ticketing services, through their HTTP API")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

const AFTER_HELP: &str =
    "Every scenario prints a summary and a progress line on stderr while it runs.";

#[derive(Subcommand)]
enum Scenario {
    /// Seat-map reads: latency and bytes, plain and gzip
    ///
    /// Creates a concert with --seats seats (in batches of 5,000), then --readers concurrent
    /// clients fetch its seat map for --seconds; reports latency and bytes.
    #[command(verbatim_doc_comment)]
    SeatMap {
        /// Seats in the concert
        #[arg(long, value_name = "N", default_value_t = 5_000)]
        seats: usize,
        /// Concurrent readers
        #[arg(long, value_name = "N", default_value_t = 8)]
        readers: usize,
        /// How long readers read, per encoding
        #[arg(long, value_name = "S", default_value_t = 10)]
        seconds: u64,
        #[command(flatten)]
        common: Common,
    },
    /// Availability reads: latency and bytes, next to the seat map and redis-benchmark GET
    ///
    /// Creates a concert with --seats seats (in batches of 5,000); --fans fans hold 4 seats
    /// each (every other one also checks out); then --readers clients fetch its availability
    /// for --seconds per mode: plain, gzip, and plain while one more fan holds and releases a
    /// seat back to back. Baselines in the same run (unless --no-baselines): the seat map
    /// (plain) at the same concurrency, and redis-benchmark GET of a value as big as the
    /// availability.
    #[command(verbatim_doc_comment)]
    Availability {
        /// Seats in the concert
        #[arg(long, value_name = "N", default_value_t = 50_000)]
        seats: usize,
        /// Concurrent readers
        #[arg(long, value_name = "N", default_value_t = 64)]
        readers: usize,
        /// How long readers read, per mode
        #[arg(long, value_name = "S", default_value_t = 10)]
        seconds: u64,
        /// Fans holding 4 seats each before the reads
        #[arg(long, value_name = "N", default_value_t = 8)]
        fans: usize,
        /// Skip the seat-map and redis-benchmark baselines
        #[arg(long)]
        no_baselines: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Availability streams: memory per stream, and hold → seen by every watcher
    ///
    /// Opens --watchers availability streams of one concert of --seats seats (256 connecting at
    /// once), reads the server's memory (--server-pid) before and after, then one fan holds
    /// --holds seats one at a time every --interval-ms; reports, per hold, the delay from its
    /// HTTP answer until every watcher has seen the seat HELD in a delta, and per watcher.
    /// Every watcher's copy must end equal to the availability endpoint. Run the service with
    /// SEAT_STREAM_MAX_PER_CLIENT above --watchers (they all come from this address).
    #[command(verbatim_doc_comment)]
    SeatStream {
        /// Seats in the concert
        #[arg(long, value_name = "N", default_value_t = 50_000)]
        seats: usize,
        /// Open streams
        #[arg(long, value_name = "N", default_value_t = 10_000)]
        watchers: usize,
        /// Seats held one after another
        #[arg(long, value_name = "N", default_value_t = 100)]
        holds: usize,
        /// Time between two holds, in ms
        #[arg(long, value_name = "MS", default_value_t = 200)]
        interval_ms: u64,
        /// The service's process id, to read its memory
        #[arg(long, value_name = "PID")]
        server_pid: Option<u32>,
        #[command(flatten)]
        common: Common,
    },
    /// Seat holds under contention, next to redis-benchmark (and a floor server)
    ///
    /// --clients fans hold (and release) seats for --seconds: first all on one hot seat, then
    /// spread over --seats seats; reports holds/s, latency percentiles, conflict rate, and
    /// redis-benchmark SET NX PX at the same concurrency for the ratio.
    ///
    /// --floor (issue 16): redis-benchmark, a floor server (axum, the service's JWT check, hold
    /// script and answer, no middleware; started in this process unless --floor-url) and the
    /// service, in that order, under the same load: --clients connections, --users fans taking
    /// turns on them, single-seat holds and no releases, on one hot seat then a random seat of
    /// --seats; reports req/s, p50/p99 and service / redis-benchmark, service / floor,
    /// floor / redis-benchmark. The floor shares the service's Redis and key prefix
    /// (--redis-url, --redis-prefix) and must know its JWT secret (--jwt-secret) and hold rules.
    ///
    /// --cold-warm (issue 16): --rounds times, --clients fans send their first holds at once
    /// (different seats) to a concert whose keys were just deleted from Redis, then to the same
    /// concert warm; reports 5xx and p50/p99 of both.
    #[command(verbatim_doc_comment)]
    Holds {
        /// Seats in the concert
        #[arg(long, value_name = "N", default_value_t = 5_000)]
        seats: usize,
        /// Concurrent fans (connections with --floor, the burst with --cold-warm)
        #[arg(long, value_name = "N", default_value_t = 64)]
        clients: usize,
        /// How long each mode runs
        #[arg(long, value_name = "S", default_value_t = 10)]
        seconds: u64,
        /// With --floor: fans signed up, taking turns on the connections
        #[arg(long, value_name = "N", default_value_t = 200)]
        users: usize,
        /// Compare the service with redis-benchmark and a floor server (issue 16)
        #[arg(long)]
        floor: bool,
        /// With --floor: a floor already running (`ticketing-bench floor`) instead of one here
        #[arg(long, value_name = "URL", requires = "floor_concert")]
        floor_url: Option<String>,
        /// With --floor-url: the concert that floor serves (it prints its id)
        #[arg(long, value_name = "ID")]
        floor_concert: Option<i64>,
        /// First holds on a cold concert vs a warm one (issue 16)
        #[arg(long)]
        cold_warm: bool,
        /// With --cold-warm: bursts of each kind
        #[arg(long, value_name = "N", default_value_t = 5)]
        rounds: usize,
        #[command(flatten)]
        service: ServiceArgs,
        #[command(flatten)]
        common: Common,
    },
    /// The floor server alone (issue 16): POST /api/seat/{id}/select of the given concerts
    ///
    /// Without --concert, creates a concert of --seats seats through the service at
    /// --base-url and prints its id. Has the service load the concerts' state into Redis,
    /// reads their seat maps once, then serves holds on --port with the service's JWT check,
    /// hold script (velocity limits off) and answer, no middleware.
    #[command(verbatim_doc_comment)]
    Floor {
        /// Port to listen on (127.0.0.1)
        #[arg(long, value_name = "N", default_value_t = 8090)]
        port: u16,
        /// Concerts to serve (comma-separated); none: one created
        #[arg(long, value_name = "ID", value_delimiter = ',')]
        concert: Vec<i64>,
        /// Seats of the concert created without --concert
        #[arg(long, value_name = "N", default_value_t = 20_000)]
        seats: usize,
        #[command(flatten)]
        service: ServiceArgs,
        #[command(flatten)]
        common: Common,
    },
    /// Waiting-room streams: memory per stream and admission delay
    ///
    /// --streams fans join a waiting room and hold a live stream open; reports the server's
    /// memory per stream (--server-pid) and, once the sale opens, the delay from each admission
    /// to its queue-complete event.
    #[command(verbatim_doc_comment)]
    Sse {
        /// Open streams
        #[arg(long, value_name = "N", default_value_t = 1_000)]
        streams: usize,
        /// The service's process id, to read its memory
        #[arg(long, value_name = "PID")]
        server_pid: Option<u32>,
        #[command(flatten)]
        common: Common,
    },
    /// A sale end to end behind the waiting room, then an audit of the database
    ///
    /// A concert of --seats seats behind the waiting room; --fans fans spread over every
    /// --base-url sign up, join, follow their stream, hold 1-4 seats (retrying on conflict),
    /// check out and pay through the simulator (--decline and --abandon set the shares that
    /// decline or walk away); then the database is audited. Run the services with
    /// SMTP_URL=smtp://127.0.0.1:<--smtp-port>. Exit code 1 on any audit failure.
    ///
    /// --spawn N: the bench starts N instances of its own (--binary) on free ports, with the
    /// flash-sale settings of docs/BENCHMARKS.md (DATABASE_MAX_CONNECTIONS=8; --instance-env
    /// overrides), a database of its own, a private redis-server (port 18xxx) and TCP proxies
    /// in front of Postgres, Redis and RabbitMQ; fans get fixture tokens (no Argon2).
    ///
    /// --chaos PLAN (with --spawn, issue 20): faults during the sale (see --chaos in --help).
    /// Fans move to the next instance on a refused connection or a 503, the bench delivers the
    /// provider's webhooks itself (to the next instance until one takes them), readiness is
    /// polled (DOWN/UP transitions) and every answer counted; the audit adds: no 5xx but 503,
    /// every 503 with Retry-After, every instance ready after the faults.
    #[command(verbatim_doc_comment)]
    FlashSale {
        /// Seats in the concert
        #[arg(long, value_name = "N", default_value_t = 100)]
        seats: usize,
        /// Fans in the sale
        #[arg(long, value_name = "N", default_value_t = 300)]
        fans: usize,
        /// The services' database, for the audit
        #[arg(long, value_name = "URL")]
        #[arg(default_value = "postgres://postgres@127.0.0.1:5432/ticketing")]
        database_url: String,
        /// Where the mail sink listens
        #[arg(long, value_name = "P", default_value_t = 2525)]
        smtp_port: u16,
        /// Share of fans who decline payment
        #[arg(long, value_name = "R", default_value_t = 0.1)]
        decline: f64,
        /// Share of fans who never pay
        #[arg(long, value_name = "R", default_value_t = 0.1)]
        abandon: f64,
        /// How fans see free seats: `stream` (the layout once, then the availability stream;
        /// run the services with SEAT_STREAM_MAX_PER_CLIENT high enough) or `refetch` (the
        /// whole seat map, again after each conflict)
        #[arg(long, value_name = "MODE", default_value = "stream", value_parser = ["stream", "refetch"])]
        map: String,
        /// Bench processes to spread the fans over (issue 19): 1 runs them here; more spawn
        /// `flash-sale-worker` children, each with its range of fans
        #[arg(long, value_name = "N", default_value_t = 1)]
        processes: usize,
        /// SETUP, outside the timed sale: insert the fans' accounts straight into Postgres with
        /// one Argon2 hash (the service's hasher), then each fan logs in before the sale opens
        #[arg(long)]
        fixture_users: bool,
        /// SETUP, outside the timed sale: as --fixture-users, and the fixture mints each fan's
        /// access token with the service's JWT secret (--jwt-secret): no login, no Argon2
        #[arg(long, conflicts_with = "fixture_users")]
        fixture_tokens: bool,
        /// The services' JWT_SECRET, for --fixture-tokens (default: the dev profile's)
        #[arg(long, env = "JWT_SECRET", value_name = "S", hide_env_values = true)]
        jwt_secret: Option<String>,
        /// The instances' process ids, same order as --base-url, for their memory (VmRSS) and
        /// CPU time (/proc/<pid>/stat)
        #[arg(long, value_name = "PID", value_delimiter = ',')]
        server_pids: Vec<u32>,
        /// Start N instances of the bench's own instead of --base-url (see above)
        #[arg(long, value_name = "N")]
        spawn: Option<usize>,
        /// With --spawn: the ticketing binary
        #[arg(long, value_name = "PATH", default_value = "target/release/ticketing")]
        binary: std::path::PathBuf,
        /// With --spawn: one more setting for every instance, over the bench's (repeatable)
        #[arg(long = "instance-env", value_name = "KEY=VALUE")]
        instance_env: Vec<String>,
        /// With --spawn: RabbitMQ (guest/guest), behind the bench's proxy
        #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:5672")]
        amqp_addr: String,
        /// With --spawn: where the instances' logs go [default: a new directory under /tmp]
        #[arg(long, value_name = "DIR")]
        logs: Option<std::path::PathBuf>,
        /// With --spawn: keep the sale's database afterwards (it is dropped otherwise)
        #[arg(long)]
        keep_database: bool,
        /// Faults during the sale, with --spawn: kill@10s:1,restart@20s:1,pg-down@30s+10s,...
        #[arg(long, value_name = "PLAN", requires = "spawn", long_help = chaos::PLAN_HELP)]
        chaos: Option<chaos::Plan>,
        /// The services' Redis, for its calls per command over the sale (INFO commandstats);
        /// only meaningful on a Redis of the sale's own
        #[arg(long, value_name = "URL")]
        stats_redis_url: Option<String>,
        /// How long to wait, at most, for expiries, the outbox and the email queues to drain
        /// before the audit
        #[arg(long, value_name = "S", default_value_t = 300)]
        settle_timeout_secs: u64,
        #[command(flatten)]
        common: Common,
    },
    /// Mixed traffic at a steady rate for a long time: memory, descriptors, pool, Redis, errors
    ///
    /// Creates a concert on sale behind the waiting room (--seats seats) and --fans fixture fans
    /// (inserted into --database-url, tokens minted with --jwt-secret), then starts --rate visits
    /// a second for --minutes (or --seconds), taking turns over every --base-url. A visit
    /// browses (concert list, concert, seat map), then: watches the availability stream for its
    /// snapshot; or joins the waiting room, follows its stream until admitted, opens the
    /// availability stream, holds 1-2 free seats and releases them, lets the hold expire,
    /// checks out and walks away, checks out and declines at the simulator, or checks out, pays
    /// and cancels; then leaves the line. Every --sample-secs it samples, per instance, VmRSS
    /// and open descriptors (/proc, with --server-pids) and db_pool_connections (its /metrics,
    /// or --metrics-url), and Redis used_memory and the keys under --redis-prefix; errors
    /// (statuses a step does not expect, 5xx, transport errors) are counted per interval.
    /// Exit code 1 on any error, or when RSS or descriptors are not flat after --warmup-minutes:
    /// the max of the last third of the samples after the warm-up above the max of the first
    /// third by more than --rss-tolerance (ratio), or --fd-tolerance (ratio, at least 2).
    /// Run the services with HOLD_TTL_SECS and RESERVATION_TTL_SECS equal to --hold-ttl-secs
    /// and --reservation-ttl-secs, CHECKOUT_COOLDOWN_AFTER=0, HOLD_RATE_PER_USER=0,
    /// HOLD_RATE_PER_IP=0 and SEAT_STREAM_MAX_PER_CLIENT above the visits at once.
    #[command(verbatim_doc_comment)]
    Soak {
        /// How long the traffic runs, in minutes (fractions allowed)
        #[arg(long, value_name = "M", default_value_t = 30.0)]
        minutes: f64,
        /// How long the traffic runs, in seconds (instead of --minutes)
        #[arg(long, value_name = "S", conflicts_with = "minutes")]
        seconds: Option<f64>,
        /// Visits started a second
        #[arg(long, value_name = "R", default_value_t = 10.0)]
        rate: f64,
        /// Fixture fans (at most this many visits at once)
        #[arg(long, value_name = "N", default_value_t = 300)]
        fans: usize,
        /// Seats in the concert
        #[arg(long, value_name = "N", default_value_t = 200)]
        seats: usize,
        /// Seconds between two samples (and the width of the error buckets)
        #[arg(long, value_name = "S", default_value_t = 60.0)]
        sample_secs: f64,
        /// Samples before this are the warm-up, out of the flatness check
        #[arg(long, value_name = "M", default_value_t = 5.0)]
        warmup_minutes: f64,
        /// Allowed RSS growth after the warm-up (ratio)
        #[arg(long, value_name = "R", default_value_t = 0.10)]
        rss_tolerance: f64,
        /// Allowed descriptor growth after the warm-up (ratio; at least 2 descriptors)
        #[arg(long, value_name = "R", default_value_t = 0.05)]
        fd_tolerance: f64,
        /// The services' HOLD_TTL_SECS
        #[arg(long, value_name = "S", default_value_t = 20)]
        hold_ttl_secs: u64,
        /// The services' RESERVATION_TTL_SECS
        #[arg(long, value_name = "S", default_value_t = 20)]
        reservation_ttl_secs: u64,
        /// The instances' process ids, same order as --base-url (VmRSS, descriptors)
        #[arg(long, value_name = "PID", value_delimiter = ',')]
        server_pids: Vec<u32>,
        /// The instances' Prometheus endpoints, same order (default: <base-url>/metrics)
        #[arg(long, value_name = "URL", value_delimiter = ',')]
        metrics_url: Vec<String>,
        /// The services' database, for the fixture fans
        #[arg(long, value_name = "URL")]
        #[arg(default_value = "postgres://postgres@127.0.0.1:5432/ticketing")]
        database_url: String,
        /// The services' JWT_SECRET, to mint the fans' tokens (default: the dev profile's)
        #[arg(long, env = "JWT_SECRET", value_name = "S", hide_env_values = true)]
        jwt_secret: Option<String>,
        /// The services' Redis
        #[arg(
            long,
            env = "REDIS_URL",
            value_name = "URL",
            default_value = "redis://127.0.0.1:6379"
        )]
        redis_url: String,
        /// The services' REDIS_KEY_PREFIX
        #[arg(long, env = "REDIS_KEY_PREFIX", value_name = "P", default_value = "")]
        redis_prefix: String,
        /// Run a mail sink on this port for the services' SMTP_URL (it keeps the mails)
        #[arg(long, value_name = "P")]
        smtp_port: Option<u16>,
        #[command(flatten)]
        common: Common,
    },
    /// A flash-sale worker, spawned by `flash-sale --processes N` (not for direct use)
    #[command(hide = true)]
    FlashSaleWorker {
        /// Its fans and the sale, as JSON
        #[arg(long)]
        spec: String,
    },
}

/// Options of every scenario.
/// The service's settings a floor server must share with it.
#[derive(Args)]
struct ServiceArgs {
    /// The service's Redis
    #[arg(long, env = "REDIS_URL", value_name = "URL", default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// The service's REDIS_KEY_PREFIX
    #[arg(long, env = "REDIS_KEY_PREFIX", value_name = "P", default_value = "")]
    redis_prefix: String,
    /// The service's JWT_SECRET (default: the dev profile's)
    #[arg(long, env = "JWT_SECRET", value_name = "S", hide_env_values = true)]
    jwt_secret: Option<String>,
    /// The service's HOLD_TTL_SECS
    #[arg(long, value_name = "S", default_value_t = 600)]
    hold_ttl_secs: u64,
    /// The service's MAX_SEATS_PER_USER
    #[arg(long, value_name = "N", default_value_t = 4)]
    max_seats_per_user: u32,
}

impl ServiceArgs {
    fn floor(self, base_url: &str, concerts: Vec<i64>, port: u16) -> floor::Config {
        floor::Config {
            redis_url: self.redis_url,
            redis_prefix: self.redis_prefix,
            jwt_secret: self
                .jwt_secret
                .unwrap_or_else(|| ticketing::config::dev_defaults::JWT_SECRET.to_owned()),
            hold_ttl: Duration::from_secs(self.hold_ttl_secs),
            max_seats_per_user: self.max_seats_per_user,
            port,
            ..floor::Config::new(base_url, concerts)
        }
    }
}

#[derive(Args)]
struct Common {
    /// Service to drive; several, comma-separated or repeated, for the flash sale's instances
    #[arg(long, value_name = "URL", value_delimiter = ',')]
    #[arg(default_value = "http://127.0.0.1:8080")]
    base_url: Vec<String>,
    /// Admin account
    #[arg(long, value_name = "E", default_value = "admin@admin")]
    admin_email: String,
    /// The admin's password
    #[arg(long, value_name = "P", default_value = "admin1234")]
    admin_password: String,
    /// Write the scenario's report as JSON (summary and per-second timeline)
    #[arg(long, value_name = "PATH")]
    json: Option<String>,
    /// Write its chart: throughput per second (bars), latency p50/p99 (lines)
    #[arg(long, value_name = "PATH")]
    svg: Option<String>,
}

impl Common {
    /// The scenario options; what the scenario does not use stays zero.
    fn options(self) -> Options {
        let base_urls: Vec<String> =
            self.base_url.iter().map(|u| u.trim().trim_end_matches('/').to_owned()).collect();
        Options {
            base_url: base_urls.first().cloned().unwrap_or_default(),
            base_urls,
            admin_email: self.admin_email,
            admin_password: self.admin_password,
            json: self.json,
            svg: self.svg,
            seats: 0,
            readers: 0,
            clients: 0,
            streams: 0,
            server_pid: None,
            duration: Duration::ZERO,
            fans: 0,
            database_url: String::new(),
            smtp_port: 0,
            decline_ratio: 0.0,
            abandon_ratio: 0.0,
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().scenario {
        Scenario::SeatMap { common, seats, readers, seconds } => {
            let duration = Duration::from_secs(seconds);
            seat_map::run(&Options { seats, readers, duration, ..common.options() }).await
        }
        Scenario::Availability { common, seats, readers, seconds, fans, no_baselines } => {
            let options = common.options();
            let config = availability::Config {
                base_url: options.base_url,
                admin_email: options.admin_email,
                admin_password: options.admin_password,
                seats,
                readers,
                duration: Duration::from_secs(seconds),
                fans,
                baselines: !no_baselines,
                progress: true,
            };
            let mut r = availability::run(&config).await?;
            availability::print(&config, &mut r, options.json.as_deref(), options.svg.as_deref())
        }
        Scenario::SeatStream { common, seats, watchers, holds, interval_ms, server_pid } => {
            let options = common.options();
            let config = seat_stream::Config {
                base_url: options.base_url,
                admin_email: options.admin_email,
                admin_password: options.admin_password,
                seats,
                watchers,
                holds,
                interval: Duration::from_millis(interval_ms),
                server_pid,
                progress: true,
            };
            let mut r = seat_stream::run(&config).await?;
            seat_stream::print(&config, &mut r, options.json.as_deref(), options.svg.as_deref())?;
            if r.failed > 0 || r.missed > 0 || r.consistent < r.watchers {
                std::process::exit(1);
            }
            Ok(())
        }
        Scenario::Holds {
            common,
            seats,
            clients,
            seconds,
            users,
            floor,
            floor_url,
            floor_concert,
            cold_warm,
            rounds,
            service,
        } => {
            let duration = Duration::from_secs(seconds);
            let options = Options { seats, clients, duration, ..common.options() };
            if !floor && !cold_warm {
                return holds::run(&options).await;
            }
            let config = holds_floor::Config {
                floor: service.floor(&options.base_url, Vec::new(), 0),
                base_url: options.base_url,
                admin_email: options.admin_email,
                admin_password: options.admin_password,
                seats,
                users: users.max(clients),
                clients,
                duration,
                floor_url,
                floor_concert,
                rounds,
                json: options.json,
            };
            if floor {
                holds_floor::compare(&config).await?;
            }
            if cold_warm {
                let json = config.json.as_ref().map(|p| format!("{p}.cold-warm.json"));
                let json = if floor { json } else { config.json.clone() };
                holds_floor::cold_warm(&holds_floor::Config { json, ..config }).await?;
            }
            Ok(())
        }
        Scenario::Floor { common, port, concert, seats, service } => {
            let options = common.options();
            let concerts = holds_floor::floor_concerts(&options, concert, seats).await?;
            floor::serve(service.floor(&options.base_url, concerts, port)).await
        }
        Scenario::Sse { common, streams, server_pid } => {
            sse::run(&Options { streams, server_pid, ..common.options() }).await
        }
        Scenario::FlashSale {
            common,
            seats,
            fans,
            database_url,
            smtp_port,
            decline,
            abandon,
            map,
            processes,
            fixture_users,
            fixture_tokens,
            jwt_secret,
            server_pids,
            spawn,
            binary,
            instance_env,
            amqp_addr,
            logs,
            keep_database,
            chaos,
            stats_redis_url,
            settle_timeout_secs,
        } => {
            let map = if map == "refetch" {
                flash_sale::MapMode::Refetch
            } else {
                flash_sale::MapMode::Stream
            };
            let accounts = if fixture_tokens {
                flash_sale::Accounts::FixtureTokens {
                    jwt_secret: jwt_secret
                        .unwrap_or_else(|| ticketing::config::dev_defaults::JWT_SECRET.to_owned()),
                }
            } else if fixture_users {
                flash_sale::Accounts::FixtureLogin
            } else {
                flash_sale::Accounts::Signup
            };
            let spawn = match spawn {
                Some(instances) => {
                    let env = instance_env
                        .iter()
                        .map(|kv| {
                            kv.split_once('=')
                                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                                .with_context(|| format!("--instance-env {kv:?}: KEY=VALUE"))
                        })
                        .collect::<anyhow::Result<_>>()?;
                    let logs = logs.unwrap_or_else(|| {
                        std::env::temp_dir()
                            .join(format!("ticketing-chaos-{}", report::chrono_now()))
                    });
                    let config = chaos::SpawnConfig {
                        binary,
                        instances,
                        postgres: database_url.clone(),
                        amqp_addr,
                        env,
                        logs,
                    };
                    if let Some(plan) = &chaos {
                        plan.check(instances)?;
                    }
                    Some(Spawn { config, plan: chaos, keep_database })
                }
                None => None,
            };
            run_flash_sale(
                map,
                SaleExtras {
                    accounts,
                    processes,
                    server_pids,
                    spawn,
                    redis_url: stats_redis_url,
                    settle_timeout: Duration::from_secs(settle_timeout_secs),
                },
                Options {
                    seats,
                    fans,
                    database_url,
                    smtp_port,
                    decline_ratio: decline,
                    abandon_ratio: abandon,
                    ..common.options()
                },
            )
            .await
        }
        Scenario::Soak {
            common,
            minutes,
            seconds,
            rate,
            fans,
            seats,
            sample_secs,
            warmup_minutes,
            rss_tolerance,
            fd_tolerance,
            hold_ttl_secs,
            reservation_ttl_secs,
            server_pids,
            metrics_url,
            database_url,
            jwt_secret,
            redis_url,
            redis_prefix,
            smtp_port,
        } => {
            let _sink = match smtp_port {
                Some(port) => {
                    Some(SmtpSink::start_on(port).await.context("starting the mail sink")?)
                }
                None => None,
            };
            let options = common.options();
            let config = soak::Config {
                metrics_urls: metrics_url,
                server_pids,
                database_url,
                jwt_secret: jwt_secret
                    .unwrap_or_else(|| ticketing::config::dev_defaults::JWT_SECRET.to_owned()),
                redis_url,
                redis_prefix,
                admin_email: options.admin_email,
                admin_password: options.admin_password,
                duration: Duration::from_secs_f64(seconds.unwrap_or(minutes * 60.0)),
                sample_every: Duration::from_secs_f64(sample_secs),
                warmup: Duration::from_secs_f64(warmup_minutes * 60.0),
                rate,
                fans,
                seats,
                hold_ttl: Duration::from_secs(hold_ttl_secs),
                reservation_ttl: Duration::from_secs(reservation_ttl_secs),
                rss_tolerance,
                fd_tolerance,
                ..soak::Config::new(options.base_urls)
            };
            let report = soak::run(&config).await?;
            soak::print(&report, options.json.as_deref(), options.svg.as_deref())?;
            if !report.passed() {
                std::process::exit(1);
            }
            Ok(())
        }
        Scenario::FlashSaleWorker { spec } => {
            flash_sale::worker(serde_json::from_str(&spec).context("the worker's --spec")?).await
        }
    }
}

/// The flash sale's options beyond [`Options`].
struct SaleExtras {
    accounts: flash_sale::Accounts,
    processes: usize,
    server_pids: Vec<u32>,
    spawn: Option<Spawn>,
    redis_url: Option<String>,
    settle_timeout: Duration,
}

/// `--spawn`: the instances the bench starts, and the faults it plays on them.
struct Spawn {
    config: chaos::SpawnConfig,
    plan: Option<chaos::Plan>,
    keep_database: bool,
}

async fn run_flash_sale(
    map: flash_sale::MapMode,
    extras: SaleExtras,
    options: Options,
) -> anyhow::Result<()> {
    // Spawned instances send mail to a sink on a free port.
    let smtp_port = if extras.spawn.is_some() { 0 } else { options.smtp_port };
    let sink = SmtpSink::start_on(smtp_port).await.context("starting the mail sink")?;
    let mut config = flash_sale::Config {
        base_urls: options.base_urls.clone(),
        database_url: options.database_url.clone(),
        admin_email: options.admin_email.clone(),
        admin_password: options.admin_password.clone(),
        fans: options.fans,
        seats: options.seats,
        decline_ratio: options.decline_ratio,
        abandon_ratio: options.abandon_ratio,
        signup_parallelism: 16,
        settle_timeout: extras.settle_timeout,
        progress: true,
        map,
        accounts: extras.accounts,
        processes: extras.processes,
        server_pids: extras.server_pids,
        redis_url: extras.redis_url,
    };
    let started = std::time::Instant::now();
    let mut r = match extras.spawn {
        None => flash_sale::run(&config, &sink).await?,
        Some(spawn) => {
            let cluster = chaos::Cluster::start(&spawn.config, &sink.url()).await?;
            eprintln!(
                "{} instances: {} (logs in {})",
                spawn.config.instances,
                cluster.base_urls().join(", "),
                cluster.logs.display()
            );
            config.base_urls = cluster.base_urls();
            config.database_url = cluster.database_url.clone();
            config.server_pids = cluster.pids();
            let secret = ticketing::config::dev_defaults::JWT_SECRET;
            let result = match &spawn.plan {
                Some(plan) => chaos::run(&config, plan, &cluster, &sink, secret).await,
                None => {
                    config.accounts =
                        flash_sale::Accounts::FixtureTokens { jwt_secret: secret.into() };
                    flash_sale::run(&config, &sink).await
                }
            };
            let keep = spawn.keep_database || !result.as_ref().is_ok_and(|r| r.audit_passed());
            if keep {
                eprintln!("the sale's database is kept: {}", config.database_url);
            }
            cluster.shutdown(keep).await?;
            result?
        }
    };
    println!(
        "flash sale ({map:?}): {} fans, {} seats, {} instance(s); {} reservations confirmed, {} seats sold; {} holds refused (409)",
        r.fans, r.seats, r.instances, r.confirmed_reservations, r.sold_seats, r.conflicts
    );
    match r.sold_out_after {
        Some(d) => println!(
            "sold out {:.1}s after the sale opened ({:.1}s total with the audit)",
            d.as_secs_f64(),
            started.elapsed().as_secs_f64()
        ),
        None => println!("NOT sold out"),
    }
    println!(
        "setup (concert, seats, accounts) {:.1}s; every fan in line after {:.1}s more; sale {:.1}s",
        r.setup.as_secs_f64(),
        r.gate.as_secs_f64(),
        r.duration.as_secs_f64()
    );
    let mut steps: Vec<_> = r.steps.0.iter_mut().collect();
    steps.sort_by_key(|(name, _)| *name);
    for (name, latencies) in steps {
        println!("  {name:>12}: {}", latencies.summary());
    }
    for (url, n) in &r.streams_per_instance {
        println!("  {url}: {n} fans (waiting-room streams at the gate)");
    }
    for m in &r.memory {
        let mb = |kb: Option<u64>| {
            kb.map_or("?".to_owned(), |kb| format!("{:.0} MB", kb as f64 / 1024.0))
        };
        let cpu = match (m.cpu_at_gate_ticks, m.cpu_at_end_ticks) {
            (Some(a), Some(b)) => format!("{:.1} s", (b - a) as f64 / 100.0),
            _ => "?".to_owned(),
        };
        println!(
            "  pid {}: VmRSS {} at the gate, peak {}; CPU {cpu} during the sale",
            m.pid,
            mb(m.at_gate_kb),
            mb(m.peak_kb)
        );
    }
    println!(
        "settle: {} after {:.1}s{}",
        if r.settled.settled { "everything settled" } else { "TIMED OUT" },
        r.settled.after.as_secs_f64(),
        if r.settled.settled { String::new() } else { format!(" ({})", r.settled.pending) }
    );
    println!(
        "503s tried again: {}; checkouts refused and picked again: {:?}",
        r.retried_503, r.checkout_refusals
    );
    if let Some(pg) = &r.pg {
        println!(
            "postgres, gate → settled: {} commits, {} rows inserted, {} updated, {} deleted",
            pg.xact_commit, pg.tup_inserted, pg.tup_updated, pg.tup_deleted
        );
    }
    if !r.redis_calls.is_empty() {
        let top: Vec<String> =
            r.redis_calls.iter().take(12).map(|(c, n, us)| format!("{c} {n} ({us} µs)")).collect();
        println!("redis calls, gate → last fan done: {}", top.join(", "));
    }
    if let Some(c) = &r.chaos {
        print_chaos(c);
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
            "fans": r.fans, "seats": r.seats, "instances": r.instances, "map": format!("{map:?}"),
            "conflicts": r.conflicts,
            "sold_out_after_s": r.sold_out_after.map(|d| d.as_secs_f64()),
            "confirmed_reservations": r.confirmed_reservations, "sold_seats": r.sold_seats,
            "steps": steps,
            "setup_s": r.setup.as_secs_f64(), "gate_s": r.gate.as_secs_f64(), "sale_s": r.duration.as_secs_f64(),
            "streams_per_instance": r.streams_per_instance.iter().map(|(u, n)| serde_json::json!({"url": u, "fans": n})).collect::<Vec<_>>(),
            "memory": r.memory.iter().map(|m| serde_json::json!({"pid": m.pid, "at_gate_kb": m.at_gate_kb, "peak_kb": m.peak_kb, "cpu_at_gate_ticks": m.cpu_at_gate_ticks, "cpu_at_end_ticks": m.cpu_at_end_ticks})).collect::<Vec<_>>(),
            "settled": {"ok": r.settled.settled, "after_s": r.settled.after.as_secs_f64(), "pending": r.settled.pending},
            "retried_503": r.retried_503, "checkout_refusals": r.checkout_refusals,
            "pg": r.pg.map(|pg| serde_json::json!({"xact_commit": pg.xact_commit, "tup_inserted": pg.tup_inserted, "tup_updated": pg.tup_updated, "tup_deleted": pg.tup_deleted})),
            "redis_calls": r.redis_calls.iter().map(|(c, n, us)| serde_json::json!({"command": c, "calls": n, "usec": us})).collect::<Vec<_>>(),
            "timeline": r.timeline.iter().map(|(s, n, p50, p99)| serde_json::json!({"second": s, "confirmations": n, "hold_p50_ms": p50, "hold_p99_ms": p99})).collect::<Vec<_>>(),
            "audit": r.audit.iter().map(|(c, ok, d)| serde_json::json!({"check": c, "ok": ok, "detail": d})).collect::<Vec<_>>(),
            "chaos": r.chaos,
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

/// The chaos part of the text report: the faults, the readiness transitions, the answers.
fn print_chaos(c: &chaos::ChaosReport) {
    println!("faults ({}):", c.plan);
    for f in &c.faults {
        let ended = f.ended.map(|e| format!(" until {e:.1} s")).unwrap_or_default();
        println!("  {:>6.1} s{ended}: {} {}", f.began, f.fault, f.note);
    }
    println!("readiness transitions:");
    for t in &c.transitions {
        println!("  {:>6.1} s: instance {} {} -> {}", t.at, t.instance, t.from, t.to);
    }
    println!(
        "answers: {} x 503 ({} without Retry-After), {} other 5xx {:?}; {} rejoins, {} readmissions",
        c.unavailable_503,
        c.unavailable_without_retry_after,
        c.server_errors,
        c.server_error_samples,
        c.rejoins,
        c.readmissions
    );
    for (what, n) in &c.answers {
        println!("  {what}: {n}");
    }
    if !c.checkouts_lost.is_empty() {
        println!("checkouts whose hold was gone (picked again): {:?}", c.checkouts_lost);
    }
    println!("instance logs: {}", c.logs);
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_invocations_of_docs_benchmarks_parse() {
        for line in [
            "seat-map --seats 50000 --readers 8 --seconds 10",
            "holds --seats 10000 --clients 64 --seconds 10",
            "holds --floor --seats 20000 --users 200 --clients 64 --seconds 10",
            "holds --cold-warm --seats 20000 --clients 64 --rounds 5",
            "holds --floor --cold-warm --seats 20000 --users 200 --clients 64 --seconds 10 --redis-prefix bench: --jwt-secret a-secret-of-at-least-32-characters-0123",
            "floor --port 8090 --concert 12 --redis-prefix bench:",
            "floor --port 8090 --seats 20000",
            "holds --floor --floor-url http://127.0.0.1:8090 --floor-concert 12 --seats 20000",
            "sse --streams 10000 --server-pid 4242",
            "availability --seats 50000 --readers 64 --seconds 10",
            "seat-stream --seats 50000 --watchers 10000 --holds 100 --interval-ms 200 --server-pid 4242",
            "flash-sale --fans 5000 --seats 2000 --map refetch",
            "flash-sale --spawn 3 --binary target/release/ticketing --fans 2000 --seats 1000 --chaos kill@10s:1,restart@20s:1,pg-down@30s+10s,redis-restart@50s,amqp-down@60s+10s,smtp-refuse@70s+10s,delay@80s+10s:redis:200ms",
            "soak --minutes 30 --rate 10 --fans 300 --seats 200 --server-pids 4242 --redis-prefix soak: --smtp-port 17525",
            "soak --seconds 60 --sample-secs 15 --warmup-minutes 0 --base-url http://127.0.0.1:8081,http://127.0.0.1:8082 --server-pids 1,2",
        ] {
            let argv = std::iter::once("ticketing-bench").chain(line.split_whitespace());
            Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{line}: {e}"));
        }
        let Scenario::FlashSale { common, seats, fans, database_url, .. } = Cli::try_parse_from([
            "ticketing-bench",
            "flash-sale",
            "--base-url",
            "http://127.0.0.1:8081,http://127.0.0.1:8082/",
            "--base-url",
            "http://127.0.0.1:8083",
            "--database-url",
            "postgres://postgres@127.0.0.1:5432/ticketing_flash",
            "--fans",
            "5000",
            "--seats",
            "2000",
            "--json",
            "flash.json",
        ])
        .unwrap()
        .scenario
        else {
            panic!("a flash sale")
        };
        assert_eq!((seats, fans), (2000, 5000));
        assert!(database_url.ends_with("/ticketing_flash"));
        let options = common.options();
        assert_eq!(options.base_url, "http://127.0.0.1:8081");
        assert_eq!(options.base_urls.len(), 3);
        assert_eq!(options.base_urls[1], "http://127.0.0.1:8082");
        assert_eq!(options.json.as_deref(), Some("flash.json"));
    }

    #[test]
    fn defaults_are_those_of_the_usage() {
        let Scenario::FlashSale { common, seats, fans, smtp_port, decline, abandon, .. } =
            Cli::try_parse_from(["ticketing-bench", "flash-sale"]).unwrap().scenario
        else {
            panic!("a flash sale")
        };
        assert_eq!((seats, fans, smtp_port, decline, abandon), (100, 300, 2525, 0.1, 0.1));
        let options = common.options();
        assert_eq!(options.base_urls, ["http://127.0.0.1:8080"]);
        assert_eq!(
            (options.admin_email.as_str(), options.admin_password.as_str()),
            ("admin@admin", "admin1234")
        );
    }
}
