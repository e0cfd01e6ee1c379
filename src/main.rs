//! `ticketing`: the concert seat-reservation service.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ticketing::{
    config::{Settings, SettingsArgs},
    startup::Application,
    telemetry,
};
use tokio_util::sync::CancellationToken;

/// The command line: a task (the service by default) and every setting.
#[derive(Parser)]
#[command(name = "ticketing", version, about = ABOUT, long_about = None, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Option<Task>,
    #[command(flatten)]
    settings: SettingsArgs,
}

#[derive(Subcommand)]
enum Task {
    /// Exit 0 when the service on HTTP_ADDR's port answers /health/live (for container health
    /// checks; no curl needed)
    Healthcheck,
}

const ABOUT: &str = "\
Concert seat-reservation service: HTTP API, Swagger UI, SSE waiting room, workers.

Every setting is an environment variable (a .env file in the working directory is read too) or
the flag of the same name; a flag wins over its variable. APP_PROFILE must be set (`dev` or
`prod`); with APP_PROFILE=dev everything else has a development default, so
`APP_PROFILE=dev ticketing` starts against local Postgres, Redis and RabbitMQ. With
APP_PROFILE=prod, the development secrets are refused, and ADMIN_EMAIL, ADMIN_PASSWORD, a real
SMTP_URL, webhook secrets of 32 bytes or more and AMQP credentials of its own are required.";

const AFTER_HELP: &str = "\
Also read from the environment: RUST_LOG, the log filter (default info).

Endpoints: the API under /api, Swagger UI at /swagger-ui.html, OpenAPI at /v3/api-docs (unless
API_DOCS=off; off by default in prod), health at /actuator/health, /health/live, /health/ready,
metrics at /actuator/prometheus and /metrics (on METRICS_ADDR when set; prod serves them only
there).";

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
    // Before parsing, so that the file's variables count as the environment.
    let _ = dotenvy::dotenv();
    // `--help`, `--version` and a value that does not parse end here (exit code 2 on errors).
    let cli = Cli::parse();
    if let Some(Task::Healthcheck) = cli.command {
        return healthcheck(cli.settings).await;
    }
    tune_allocator();
    let settings = match Settings::from_args(cli.settings) {
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
async fn healthcheck(settings: SettingsArgs) -> ExitCode {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let port = settings.http_addr().port();
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
