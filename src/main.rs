//! `ticketing`: the concert seat-reservation service.

use std::process::ExitCode;

use ticketing::{config::Settings, startup::Application, telemetry};
use tokio_util::sync::CancellationToken;

const HELP: &str = "\
ticketing — concert seat-reservation service (HTTP API, Swagger UI, SSE waiting room, workers)

USAGE:
    ticketing              start the service
    ticketing healthcheck  exit 0 when the service on HTTP_ADDR's port answers /health/live
                           (for container health checks; no curl needed)
    ticketing --help       show this help
    ticketing --version    show the version

Configuration comes from environment variables (a .env file in the working directory is read
too). Everything has a development default, so `ticketing` alone starts against local
Postgres, Redis and RabbitMQ. With APP_PROFILE=prod, the development secrets are refused and
ADMIN_EMAIL/ADMIN_PASSWORD are required.

    APP_PROFILE               dev | prod (default dev)
    HTTP_ADDR                 listen address (default 0.0.0.0:8080)
    DATABASE_URL              Postgres (default postgres://postgres@127.0.0.1:5432/ticketing);
                              the database is created if missing and migrated at start-up
    DATABASE_MAX_CONNECTIONS  pool size (default 20)
    REDIS_URL                 default redis://127.0.0.1:6379
    REDIS_KEY_PREFIX          prepended to every Redis key (default empty)
    AMQP_URL                  default amqp://guest:guest@127.0.0.1:5672/%2f
    AMQP_PREFIX               prepended to exchange and queue names (default empty)
    SMTP_URL                  `log` (default) or smtp://host:port
    MAIL_FROM                 sender (default `ConcertMania <no-reply@concertmania.local>`)
    EMAIL_MAX_ATTEMPTS        sends of one email before the dead-letter queue (default 5)
    EMAIL_RETRY_BASE_MS       first retry delay of a failed email, doubling (default 2000)
    JWT_SECRET                HMAC key for access tokens (dev default; >= 32 bytes)
    JWT_ACCESS_TTL_SECS       default 900
    JWT_REFRESH_TTL_SECS      default 1209600
    ADMIN_EMAIL               bootstrap admin (dev default admin@admin)
    ADMIN_PASSWORD            bootstrap admin (dev default admin1234)
    PAYMENT_WEBHOOK_SECRETS   comma-separated webhook HMAC secrets (dev default)
    HOLD_TTL_SECS             seat hold lifetime (default 600)
    RESERVATION_TTL_SECS      time to pay after checkout (default 600)
    MAX_SEATS_PER_USER        per concert, holds + active reservations (default 4)
    QUEUE_TICK_MS             waiting-room tick (default 1000)
    QUEUE_ADMIT_PER_TICK      admissions per tick (default 100)
    QUEUE_MAX_ACTIVE          admitted users at once (default 1000)
    QUEUE_ACTIVE_TTL_SECS     how long an admission lasts (default 600)
    QUEUE_PRESENCE_GRACE_SECS a waiting fan gone this long (no stream, no poll) loses the place (default 60)
    EXPIRY_SWEEP_INTERVAL_MS  how often unpaid reservations are expired (default 1000)
    PAYMENT_SIMULATOR         built-in payment provider simulator: on|off (dev on; prod always off)
    PAYMENT_SIMULATOR_WEBHOOK_URL  where the simulator posts webhooks (default: this instance)
    PUBLIC_BASE_URL           base of absolute URLs handed out (default http://localhost:<port>)
    SEED_DEMO_DATA            dev only: create demo concerts when there are none (default false)
    CORS_ORIGINS              comma-separated origins, or * (dev default *, prod default none)
    LOGIN_MAX_FAILURES        failed logins per account before a lock-out (default 5)
    LOGIN_FAILURE_WINDOW_SECS lock-out window (default 900)
    LOGIN_MAX_ATTEMPTS_PER_IP login attempts per client address per window (default 30)
    LOGIN_IP_WINDOW_SECS      that window (default 60)
    RUST_LOG                  log filter (default info)

Endpoints: the API under /api, Swagger UI at /swagger-ui.html, OpenAPI at /v3/api-docs,
health at /actuator/health, /health/live, /health/ready, metrics at /actuator/prometheus.
";

/// Argon2 hashes allocate ~19 MiB each. glibc raises its mmap threshold after the first such
/// block is freed and then serves them from the heap, where they fragment: RSS grew by about
/// 10 MiB per signup (3.5 GiB after 1,000). A fixed threshold keeps large blocks on mmap,
/// returned to the system when freed.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt takes the allocator lock and only changes its parameters.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("-h" | "--help" | "help") => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Some("-V" | "--version") => {
            println!("ticketing {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Some("healthcheck") => return healthcheck().await,
        Some(other) => {
            eprintln!("unknown argument `{other}`; see `ticketing --help`");
            return ExitCode::from(2);
        }
        None => {}
    }
    tune_allocator();
    let _ = dotenvy::dotenv();
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init_subscriber(settings.profile);
    tracing::info!(?settings, "starting");

    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "start-up failed");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = app.shutdown_token();
    tokio::spawn(cancel_on_signal(shutdown));
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "server failed");
            ExitCode::FAILURE
        }
    }
}

/// `GET /health/live` on this machine's service, with a bare HTTP/1.1 request.
async fn healthcheck() -> ExitCode {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = dotenvy::dotenv();
    let port = Settings::from_env().map(|s| s.http_addr.port()).unwrap_or(8080);
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream
            .write_all(b"GET /health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await?;
        Ok::<_, std::io::Error>(head.ends_with(b"200"))
    };
    match tokio::time::timeout(std::time::Duration::from_secs(3), probe).await {
        Ok(Ok(true)) => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

/// SIGINT or SIGTERM → graceful shutdown.
async fn cancel_on_signal(shutdown: CancellationToken) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; draining");
    shutdown.cancel();
}
