//! Builds the application: database (created and migrated), Redis, RabbitMQ, the HTTP
//! listener (port 0 works) and the background tasks; runs it until the shutdown token fires.

use std::{future::IntoFuture, net::SocketAddr, str::FromStr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::{Router, serve::ListenerExt};
use secrecy::ExposeSecret;
use sqlx::{
    ConnectOptions, PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    clients::{
        amqp::Broker,
        gateway::{PaymentGateway, Simulator, Unconfigured},
        mailer::Mailer,
        redis::RedisClient,
    },
    config::Settings,
    repositories::database,
    router,
    services::{concerts, users},
    state::{AppState, Connections},
    telemetry, workers,
};

/// The migrations of `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub struct Application {
    listener: TcpListener,
    /// `METRICS_ADDR`'s listener, when set: the metrics alone.
    metrics_listener: Option<TcpListener>,
    router: Router,
    state: AppState,
    shutdown: CancellationToken,
    /// Stops the broker connection: only after the last outbox flush, which needs it.
    broker_stop: CancellationToken,
}

/// How long a shutdown waits for in-flight requests and open streams: the longest a request
/// may run, and a little more. Past it the process exits anyway.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(router::REQUEST_TIMEOUT.as_secs() + 2);
/// How long the last outbox flush may take. Drain and flush together stay within the
/// Kubernetes grace period after its preStop pause (`deploy/k8s`: 45 s − 10 s).
pub const FLUSH_LIMIT: Duration = Duration::from_secs(3);

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let shutdown = CancellationToken::new();
        let broker_stop = CancellationToken::new();
        let db = connect_database(&settings).await?;
        users::bootstrap_admin(&db, &settings.admin_email, &settings.admin_password)
            .await
            .context("creating the bootstrap admin")?;
        if settings.seed_demo_data {
            concerts::seed_demo(&db).await.context("seeding demo data")?;
        }
        let redis = RedisClient::new(&settings.redis_target(), &settings.redis_key_prefix)
            .context("configuring Redis")?;
        let broker = Broker::start(
            settings.amqp_url.expose_secret().to_owned(),
            settings.amqp_prefix.clone(),
            broker_stop.clone(),
        );
        // Usually the broker answers at once; if it does not, start anyway (bookings do not
        // need it) and keep reconnecting in the background. Readiness reports the state. A
        // broker that refuses our queues (classic queues of the same names, left by an earlier
        // version) will not change its mind: start-up fails, saying which queue and what to do.
        match broker.wait_connected(Duration::from_secs(3)).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!("RabbitMQ not reachable yet; starting without it"),
            Err(why) => {
                shutdown.cancel();
                anyhow::bail!(why);
            }
        }
        let listener = TcpListener::bind(settings.http_addr)
            .await
            .with_context(|| format!("binding {}", settings.http_addr))?;
        let port = listener.local_addr()?.port();
        let metrics_listener = match settings.metrics_addr {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("binding METRICS_ADDR {addr}"))?,
            ),
            None => None,
        };
        let simulator = settings.payment_simulator.then(|| {
            let base = settings
                .public_base_url
                .clone()
                .unwrap_or_else(|| format!("http://localhost:{port}"));
            let webhook = settings
                .payment_simulator_webhook_url
                .clone()
                .unwrap_or_else(|| format!("http://127.0.0.1:{port}/api/payment/webhook"));
            let secret = settings.payment_webhook_secrets.first().cloned().unwrap_or_default();
            Simulator::new(base, webhook, secret)
        });
        let gateway: Arc<dyn PaymentGateway> = match &simulator {
            Some(sim) => sim.clone(),
            None => Arc::new(Unconfigured),
        };
        let mailer = Mailer::new(&settings.smtp, &settings.mail_from)?;
        let connections = Connections {
            db,
            redis,
            broker,
            mailer,
            gateway,
            simulator,
            metrics: telemetry::metrics_handle(),
        };
        let state = AppState::new(settings, connections, shutdown.clone());
        let router = router::build(state.clone());
        Ok(Application { listener, metrics_listener, router, state, shutdown, broker_stop })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    /// The port of `METRICS_ADDR`'s listener, when there is one.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_listener.as_ref().and_then(|l| l.local_addr().ok()).map(|a| a.port())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Cancelling this token stops the server (after in-flight requests) and every worker.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Application { listener, metrics_listener, router, state, shutdown, broker_stop } = self;
        telemetry::describe_metrics();
        spawn_metrics_upkeep(state.clone(), shutdown.clone());
        workers::spawn_all(&state, &shutdown);
        if let Some(metrics_listener) = metrics_listener {
            tracing::info!(addr = %metrics_listener.local_addr()?, "serving metrics");
            let server = axum::serve(metrics_listener, router::metrics(state.clone()))
                .with_graceful_shutdown(shutdown.clone().cancelled_owned());
            tokio::spawn(async move {
                if let Err(e) = server.await {
                    tracing::error!(error = %e, "metrics listener failed");
                }
            });
        }
        tracing::info!(addr = %listener.local_addr()?, "listening");
        // Answers are small and written whole: no Nagle delay waiting for an ACK. HTTP/1.1
        // keep-alive is hyper's default, so a fan's connection carries all its requests.
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "TCP_NODELAY not set");
            }
        });
        let server =
            axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(shutdown.clone().cancelled_owned());
        // A shutdown stops accepting, ends every stream with a reconnect hint, and waits for
        // the requests in flight, for at most DRAIN_LIMIT.
        let drain_limit = async {
            shutdown.cancelled().await;
            tokio::time::sleep(DRAIN_LIMIT).await;
        };
        let served = tokio::select! {
            served = server.into_future() => served,
            () = drain_limit => {
                tracing::warn!("requests still running after the drain limit; stopping anyway");
                Ok(())
            }
        };
        // The server has drained; stop whatever still runs (the workers).
        shutdown.cancel();
        // The last requests may have committed outbox rows after the relay's last round:
        // publish them now, while the broker is still connected, so no email waits for another
        // instance's relay.
        match tokio::time::timeout(FLUSH_LIMIT, state.relay.relay_due()).await {
            Ok(Ok(n)) => tracing::info!(published = n, "outbox flushed"),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "outbox flush failed; another instance relays it")
            }
            Err(_) => tracing::warn!("outbox flush timed out; another instance relays the rest"),
        }
        broker_stop.cancel();
        state.db.close().await;
        served?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Connects to Postgres, creating the database if it is missing, and runs the migrations.
pub async fn connect_database(settings: &Settings) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(settings.database_url.expose_secret())
        .context("DATABASE_URL is not a valid Postgres URL")?
        .log_statements(tracing::log::LevelFilter::Debug)
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
    database::create_if_missing(&options).await?;
    let pool = PgPoolOptions::new()
        .max_connections(settings.database_max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .context("connecting to Postgres")?;
    MIGRATOR.run(&pool).await.context("running migrations")?;
    Ok(pool)
}

fn spawn_metrics_upkeep(state: AppState, shutdown: CancellationToken) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            let (size, idle) = (state.db.size(), state.db.num_idle() as u32);
            metrics::gauge!("db_pool_connections", "state" => "in_use")
                .set(f64::from(size.saturating_sub(idle)));
            metrics::gauge!("db_pool_connections", "state" => "idle").set(f64::from(idle));
            metrics::gauge!("amqp_connected").set(if state.broker.is_connected() {
                1.0
            } else {
                0.0
            });
            state.metrics.run_upkeep();
        }
    });
}
