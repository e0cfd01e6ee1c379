//! Typed settings (SPEC §3), declared once in [`SettingsArgs`]: each setting's environment
//! variable, flag, default and help line. [`Settings`] is what the rest of the crate reads,
//! built and validated once at start-up.

use std::{
    ffi::OsStr, fmt, marker::PhantomData, net::SocketAddr, path::PathBuf, str::FromStr,
    sync::LazyLock, time::Duration,
};

use clap::{
    Arg, Args, Command, FromArgMatches,
    builder::TypedValueParser,
    error::{ContextKind, ContextValue},
};
use secrecy::{ExposeSecret, SecretString};

use crate::domain::client_addr::TrustedProxies;

/// Development-only defaults; `APP_PROFILE=prod` refuses to start while any is in use.
pub mod dev_defaults {
    pub const JWT_SECRET: &str = "dev-only-jwt-secret-change-me-0123456789abcdef";
    pub const PAYMENT_WEBHOOK_SECRETS: &str = "dev-only-webhook-secret";
    pub const ADMIN_EMAIL: &str = "admin@admin";
    pub const ADMIN_PASSWORD: &str = "admin1234";
    /// 32 bytes in hex: seals the concerts' ticket-signing keys.
    pub const TICKET_KEY_ENCRYPTION_KEY: &str =
        "de7de7de7de7de7de7de7de7de7de7de7de7de7de7de7de7de7de7de7de7de70";
}

/// 32 secret bytes, never printed.
#[derive(Clone)]
pub struct SecretBytes32(pub [u8; 32]);

impl std::fmt::Debug for SecretBytes32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Which behaviour set the binary runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Dev,
    Prod,
}

impl FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "dev" => Ok(Profile::Dev),
            "prod" => Ok(Profile::Prod),
            other => Err(format!("expected `dev` or `prod`, got `{other}`")),
        }
    }
}

/// Where outgoing email goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmtpTarget {
    /// Write each email to the log instead of sending it.
    Log,
    /// An SMTP server, e.g. `smtp://mailhog:1025`.
    Smtp(String),
}

impl FromStr for SmtpTarget {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "log" => Ok(SmtpTarget::Log),
            url if url.starts_with("smtp://") || url.starts_with("smtps://") => {
                Ok(SmtpTarget::Smtp(url.to_owned()))
            }
            other => Err(format!("expected `log` or smtp://host:port, got `{other}`")),
        }
    }
}

/// Which browser origins may call the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    Any,
    List(Vec<String>),
}

/// Every setting of the service, declared once: its environment variable, its flag (the
/// variable's name in kebab case, e.g. `--hold-ttl-secs`), its default and its help line. A
/// flag overrides its variable. Defaults that depend on `APP_PROFILE` (secrets, the admin, the
/// payment simulator, CORS) are applied by [`Settings::from_args`], and `--help` never shows a
/// secret, neither a default nor a value from the environment. No `Debug`: it holds the secrets
/// in the clear.
#[derive(Args, Clone)]
#[command(next_help_heading = "Settings (environment variables, or the flags)")]
#[command(mut_args = |arg: Arg| arg.hide_env_values(true))]
pub struct SettingsArgs {
    /// Required, no default. `dev`: readable logs, Swagger UI, payment simulator, demo data
    /// allowed. `prod`: JSON logs, development secrets refused, ADMIN_EMAIL and ADMIN_PASSWORD, a
    /// real SMTP_URL and AMQP credentials required, metrics only on METRICS_ADDR
    #[arg(long, env = "APP_PROFILE", value_parser = setting::<Profile>())]
    app_profile: Option<Profile>,

    /// Listen address (port 0 picks a free port)
    #[arg(long, env = "HTTP_ADDR", default_value = "0.0.0.0:8080")]
    #[arg(value_parser = setting::<SocketAddr>())]
    http_addr: SocketAddr,

    /// Postgres; the database is created if missing and migrated at start-up
    #[arg(long, env = "DATABASE_URL", value_parser = setting::<String>())]
    #[arg(default_value = "postgres://postgres@127.0.0.1:5432/ticketing")]
    database_url: String,

    /// Database pool size
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value = "20")]
    #[arg(value_parser = setting::<u32>())]
    database_max_connections: u32,

    /// Redis
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    #[arg(value_parser = setting::<String>())]
    redis_url: String,

    /// A Redis Cluster instead of one node: its seed nodes, comma-separated
    /// (`redis://10.0.0.1:6379,redis://10.0.0.2:6379`); when set, REDIS_URL is not used
    #[arg(long, env = "REDIS_CLUSTER_NODES", value_delimiter = ',')]
    #[arg(value_parser = setting::<String>())]
    redis_cluster_nodes: Vec<String>,

    /// Prepended to every Redis key (lets tests and tenants share one Redis); no braces
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = "")]
    redis_key_prefix: String,

    /// RabbitMQ (the service starts and serves without it; readiness reports it)
    #[arg(long, env = "AMQP_URL", default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    #[arg(value_parser = setting::<String>())]
    amqp_url: String,

    /// Prepended to exchange and queue names
    #[arg(long, env = "AMQP_PREFIX", default_value = "")]
    amqp_prefix: String,

    /// Mail delivery: `log` (write emails to the log) or smtp://host:port
    #[arg(long, env = "SMTP_URL", default_value = "log", value_parser = setting::<SmtpTarget>())]
    smtp_url: SmtpTarget,

    /// Sender of every email
    #[arg(long, env = "MAIL_FROM", default_value = "ConcertMania <no-reply@concertmania.local>")]
    #[arg(value_parser = setting::<String>())]
    mail_from: String,

    /// Sends of one email before it goes to the dead-letter queue
    #[arg(long, env = "EMAIL_MAX_ATTEMPTS", default_value = "5", value_parser = setting::<u32>())]
    email_max_attempts: u32,

    /// Delay before the first retry of a failed email, in ms; doubles each time
    #[arg(long, env = "EMAIL_RETRY_BASE_MS", default_value = "2000")]
    #[arg(value_parser = setting::<Millis>())]
    email_retry_base_ms: Millis,

    /// HMAC key for access tokens, at least 32 bytes [default: dev-only; prod requires it]
    #[arg(long, env = "JWT_SECRET", value_parser = setting::<String>())]
    jwt_secret: Option<String>,

    /// Key sealing the concerts' ticket-signing keys: 32 bytes as 64 hex digits
    /// [default: dev-only; prod requires it]
    #[arg(long, env = "TICKET_KEY_ENCRYPTION_KEY", value_parser = setting::<String>())]
    ticket_key_encryption_key: Option<String>,

    /// Access token lifetime, in seconds
    #[arg(long, env = "JWT_ACCESS_TTL_SECS", default_value = "900")]
    #[arg(value_parser = setting::<Secs>())]
    jwt_access_ttl_secs: Secs,

    /// Refresh token lifetime, in seconds
    #[arg(long, env = "JWT_REFRESH_TTL_SECS", default_value = "1209600")]
    #[arg(value_parser = setting::<Secs>())]
    jwt_refresh_ttl_secs: Secs,

    /// Bootstrap admin, created when no admin exists [default: dev: admin@admin; prod requires it]
    #[arg(long, env = "ADMIN_EMAIL", value_parser = setting::<String>())]
    admin_email: Option<String>,

    /// The bootstrap admin's password [default: dev-only; prod requires it]
    #[arg(long, env = "ADMIN_PASSWORD", value_parser = setting::<String>())]
    admin_password: Option<String>,

    /// Comma-separated payment webhook HMAC secrets; several = rotation [default: dev-only; prod
    /// requires it]
    #[arg(long, env = "PAYMENT_WEBHOOK_SECRETS", value_parser = setting::<String>())]
    payment_webhook_secrets: Option<String>,

    /// Seat hold lifetime, in seconds
    #[arg(long, env = "HOLD_TTL_SECS", default_value = "600", value_parser = setting::<Secs>())]
    hold_ttl_secs: Secs,

    /// Time to pay after checkout starts, in seconds
    #[arg(long, env = "RESERVATION_TTL_SECS", default_value = "600")]
    #[arg(value_parser = setting::<Secs>())]
    reservation_ttl_secs: Secs,

    /// How long a waitlist offer (a hold in the waiting fan's name) lasts, in seconds; never
    /// past the sale close
    #[arg(long, env = "WAITLIST_OFFER_TTL_SECS", default_value = "1800")]
    #[arg(value_parser = setting::<Secs>())]
    waitlist_offer_ttl_secs: Secs,

    /// Seats per user and concert, holds and active reservations together
    #[arg(long, env = "MAX_SEATS_PER_USER", default_value = "4", value_parser = setting::<u32>())]
    max_seats_per_user: u32,

    /// Waiting-room admission tick, in ms
    #[arg(long, env = "QUEUE_TICK_MS", default_value = "1000", value_parser = setting::<Millis>())]
    queue_tick_ms: Millis,

    /// Waiting-room admissions per tick
    #[arg(long, env = "QUEUE_ADMIT_PER_TICK", default_value = "100")]
    #[arg(value_parser = setting::<u32>())]
    queue_admit_per_tick: u32,

    /// Admitted users of one concert at once
    #[arg(long, env = "QUEUE_MAX_ACTIVE", default_value = "1000", value_parser = setting::<u32>())]
    queue_max_active: u32,

    /// How long an admission lasts, in seconds
    #[arg(long, env = "QUEUE_ACTIVE_TTL_SECS", default_value = "600")]
    #[arg(value_parser = setting::<Secs>())]
    queue_active_ttl_secs: Secs,

    /// A waiting fan with no open stream and no poll for this long (seconds) loses the place
    #[arg(long, env = "QUEUE_PRESENCE_GRACE_SECS", default_value = "60")]
    #[arg(value_parser = setting::<Secs>())]
    queue_presence_grace_secs: Secs,

    /// How often the sweeper expires unpaid reservations, in ms
    #[arg(long, env = "EXPIRY_SWEEP_INTERVAL_MS", default_value = "1000")]
    #[arg(value_parser = setting::<Millis>())]
    expiry_sweep_interval_ms: Millis,

    /// How often expired seat holds are noticed and published to seat-map streams, in ms
    #[arg(long, env = "AVAILABILITY_SWEEP_MS", default_value = "1000")]
    #[arg(value_parser = setting::<Millis>())]
    availability_sweep_ms: Millis,

    /// How long before a sale opens its seat states are loaded into Redis, in s (0 = off)
    #[arg(long, env = "SALE_WARM_AHEAD_SECS", default_value = "60")]
    #[arg(value_parser = setting::<u64>())]
    sale_warm_ahead_secs: u64,

    /// Availability changes each concert keeps for resuming streams (`Last-Event-ID`)
    #[arg(long, env = "AVAILABILITY_WINDOW", default_value = "10000")]
    #[arg(value_parser = setting::<u32>())]
    availability_window: u32,

    /// Open seat-map streams per instance; more are refused with 503
    #[arg(long, env = "SEAT_STREAM_MAX", default_value = "15000")]
    #[arg(value_parser = setting::<u32>())]
    seat_stream_max: u32,

    /// Open seat-map streams per client address and instance; more are refused with 429
    #[arg(long, env = "SEAT_STREAM_MAX_PER_CLIENT", default_value = "8")]
    #[arg(value_parser = setting::<u32>())]
    seat_stream_max_per_client: u32,

    /// The built-in payment-provider simulator: on or off [default: dev: on; prod: off, and it
    /// cannot be turned on]
    #[arg(long, env = "PAYMENT_SIMULATOR", value_parser = setting::<Switch>())]
    payment_simulator: Option<Switch>,

    /// Where the simulator delivers webhooks [default: this instance's /api/payment/webhook]
    #[arg(long, env = "PAYMENT_SIMULATOR_WEBHOOK_URL", value_parser = setting::<String>())]
    payment_simulator_webhook_url: Option<String>,

    /// Base of absolute URLs handed out, e.g. checkout pages [default: http://localhost:<port>]
    #[arg(long, env = "PUBLIC_BASE_URL", value_parser = setting::<String>())]
    public_base_url: Option<String>,

    /// Dev only: create two demo concerts when there are none (`true`, `1` or `on`)
    #[arg(long, env = "SEED_DEMO_DATA", default_value = "false")]
    #[arg(value_parser = setting::<Enabled>())]
    seed_demo_data: Enabled,

    /// The browser app's built files (`npm run build` in web/), served at /; without an
    /// index.html there, only the API is served
    #[arg(long, env = "WEB_DIR", default_value = "web/dist", value_parser = setting::<PathBuf>())]
    web_dir: PathBuf,

    /// Comma-separated origins allowed to call the API from a browser, or * [default: dev: *;
    /// prod: none]
    #[arg(long, env = "CORS_ORIGINS", value_parser = setting::<String>())]
    cors_origins: Option<String>,

    /// Login attempts per account and client address without a delay; each further one waits
    /// a doubling delay (1 s, 2 s, 4 s, … up to LOGIN_DELAY_MAX_SECS)
    #[arg(long, env = "LOGIN_MAX_FAILURES", default_value = "5", value_parser = setting::<u32>())]
    login_max_failures: u32,

    /// How long unsuccessful login attempts are remembered after the last one, in seconds
    #[arg(long, env = "LOGIN_FAILURE_WINDOW_SECS", default_value = "900")]
    #[arg(value_parser = setting::<Secs>())]
    login_failure_window_secs: Secs,

    /// Login attempts per client address per window
    #[arg(long, env = "LOGIN_MAX_ATTEMPTS_PER_IP", default_value = "30")]
    #[arg(value_parser = setting::<u32>())]
    login_max_attempts_per_ip: u32,

    /// That window, in seconds
    #[arg(long, env = "LOGIN_IP_WINDOW_SECS", default_value = "60")]
    #[arg(value_parser = setting::<Secs>())]
    login_ip_window_secs: Secs,

    // Issue 15, login and signup: client addresses, delays, signup throttle, password hashing.
    /// Comma-separated CIDRs of the proxies whose X-Forwarded-For is believed; empty: trust
    /// nobody, the socket peer is the client
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "")]
    #[arg(value_parser = setting::<TrustedProxies>())]
    trusted_proxies: TrustedProxies,

    /// The longest delay one account and client address waits between login attempts, in
    /// seconds
    #[arg(long, env = "LOGIN_DELAY_MAX_SECS", default_value = "60")]
    #[arg(value_parser = setting::<Secs>())]
    login_delay_max_secs: Secs,

    /// Login attempts on one account, over every address that has not signed in to it before,
    /// without an account-wide delay
    #[arg(long, env = "LOGIN_ACCOUNT_MAX_FAILURES", default_value = "20")]
    #[arg(value_parser = setting::<u32>())]
    login_account_max_failures: u32,

    /// The longest account-wide delay between login attempts, in seconds
    #[arg(long, env = "LOGIN_ACCOUNT_DELAY_MAX_SECS", default_value = "5")]
    #[arg(value_parser = setting::<Secs>())]
    login_account_delay_max_secs: Secs,

    /// Signups per client address per SIGNUP_IP_WINDOW_SECS; more get 429
    #[arg(long, env = "SIGNUP_MAX_PER_IP", default_value = "20", value_parser = setting::<u32>())]
    signup_max_per_ip: u32,

    /// That window, in seconds
    #[arg(long, env = "SIGNUP_IP_WINDOW_SECS", default_value = "3600")]
    #[arg(value_parser = setting::<Secs>())]
    signup_ip_window_secs: Secs,

    /// Password hashes (and checks) computed at once; each takes about 19 MiB [default: the
    /// available cores]
    #[arg(long, env = "PASSWORD_HASH_CONCURRENCY", value_parser = setting::<u32>())]
    password_hash_concurrency: Option<u32>,

    /// How long a signup or login waits for a hashing slot before a 503, in ms
    #[arg(long, env = "PASSWORD_HASH_QUEUE_TIMEOUT_MS", default_value = "2000")]
    #[arg(value_parser = setting::<Millis>())]
    password_hash_queue_timeout_ms: Millis,

    // Abuse controls (issue 15): hold velocity and the checkout cool-down.
    /// Hold attempts (single or batch) per account per HOLD_RATE_WINDOW_SECS; more get 429;
    /// 0 turns the limit off
    #[arg(long, env = "HOLD_RATE_PER_USER", default_value = "30", value_parser = setting::<u32>())]
    hold_rate_per_user: u32,

    /// Hold attempts per client address per HOLD_RATE_WINDOW_SECS (high enough for many fans
    /// behind one NAT); more get 429; 0 turns the limit off
    #[arg(long, env = "HOLD_RATE_PER_IP", default_value = "300", value_parser = setting::<u32>())]
    hold_rate_per_ip: u32,

    /// The hold velocity window, in seconds
    #[arg(long, env = "HOLD_RATE_WINDOW_SECS", default_value = "60")]
    #[arg(value_parser = setting::<Secs>())]
    hold_rate_window_secs: Secs,

    /// Checkouts an account may let end unpaid within CHECKOUT_COOLDOWN_WINDOW_SECS before it
    /// is cooled down (no holds, no checkouts); 0 turns the cool-down off
    #[arg(long, env = "CHECKOUT_COOLDOWN_AFTER", default_value = "3")]
    #[arg(value_parser = setting::<u32>())]
    checkout_cooldown_after: u32,

    /// The window in which unpaid checkouts are counted, in seconds
    #[arg(long, env = "CHECKOUT_COOLDOWN_WINDOW_SECS", default_value = "86400")]
    #[arg(value_parser = setting::<Secs>())]
    checkout_cooldown_window_secs: Secs,

    /// How long the cool-down lasts, in seconds
    #[arg(long, env = "CHECKOUT_COOLDOWN_SECS", default_value = "1800")]
    #[arg(value_parser = setting::<Secs>())]
    checkout_cooldown_secs: Secs,

    // Streams (issue 15): caps on waiting-room streams and their tickets.
    /// Open waiting-room streams per instance; more are refused with 503
    #[arg(long, env = "QUEUE_STREAM_MAX", default_value = "15000")]
    #[arg(value_parser = setting::<u32>())]
    queue_stream_max: u32,

    /// Open waiting-room streams per user and instance; more are refused with 429
    #[arg(long, env = "QUEUE_STREAM_MAX_PER_USER", default_value = "4")]
    #[arg(value_parser = setting::<u32>())]
    queue_stream_max_per_user: u32,

    /// How long a waiting-room stream ticket is good for, in seconds
    #[arg(long, env = "QUEUE_STREAM_TICKET_TTL_SECS", default_value = "60")]
    #[arg(value_parser = setting::<Secs>())]
    queue_stream_ticket_ttl_secs: Secs,

    // Bot checks (issue 15).
    /// Proof-of-work difficulty for signup, in leading zero bits (0 = no check, at most 28)
    #[arg(long, env = "SIGNUP_CHALLENGE_DIFFICULTY", default_value = "0")]
    #[arg(value_parser = setting::<Difficulty>())]
    signup_challenge_difficulty: Difficulty,

    /// How long a bot-check challenge stays valid, in seconds
    #[arg(long, env = "CHALLENGE_TTL_SECS", default_value = "120")]
    #[arg(value_parser = setting::<Secs>())]
    challenge_ttl_secs: Secs,

    // Prod profile (issue 15, item 7).
    /// A second listener serving only the metrics (/metrics, /actuator/prometheus), which the
    /// main port then no longer serves [default: none: dev serves them on HTTP_ADDR, prod nowhere]
    #[arg(long, env = "METRICS_ADDR", value_parser = setting::<SocketAddr>())]
    metrics_addr: Option<SocketAddr>,

    /// Swagger UI and the OpenAPI document (/swagger-ui, /v3/api-docs): on or off [default: dev:
    /// on; prod: off]
    #[arg(long, env = "API_DOCS", value_parser = setting::<Switch>())]
    api_docs: Option<Switch>,

    // Retention (issue 15, item 8).
    /// How often the housekeeping worker purges old rows, in seconds
    #[arg(long, env = "HOUSEKEEPING_INTERVAL_SECS", default_value = "600")]
    #[arg(value_parser = setting::<Secs>())]
    housekeeping_interval_secs: Secs,

    /// Refresh tokens are kept this long after they expire (a reused one still revokes its
    /// family), in seconds
    #[arg(long, env = "RETENTION_REFRESH_TOKENS_SECS", default_value = "604800")]
    #[arg(value_parser = setting::<Secs>())]
    retention_refresh_tokens_secs: Secs,

    /// Payment webhook events are kept this many days: a redelivery of an event still known is
    /// answered from the record; keep it longer than the provider redelivers
    #[arg(long, env = "RETENTION_WEBHOOK_EVENTS_DAYS", default_value = "30")]
    #[arg(value_parser = setting::<Days>())]
    retention_webhook_events_days: Days,

    /// Outbox rows already published to RabbitMQ are kept this long, in seconds
    #[arg(long, env = "RETENTION_OUTBOX_SENT_SECS", default_value = "604800")]
    #[arg(value_parser = setting::<Secs>())]
    retention_outbox_sent_secs: Secs,

    /// Records of sent emails (the consumer's guard against sending a redelivered message
    /// twice) are kept this many days
    #[arg(long, env = "RETENTION_EMAIL_DELIVERIES_DAYS", default_value = "30")]
    #[arg(value_parser = setting::<Days>())]
    retention_email_deliveries_days: Days,

    /// How long an Idempotency-Key's answer is kept and replayed, in seconds
    #[arg(long, env = "IDEMPOTENCY_TTL_SECS", default_value = "86400")]
    #[arg(value_parser = setting::<Secs>())]
    idempotency_ttl_secs: Secs,

    /// Live Idempotency-Keys per user; a new key beyond it is refused with 429
    #[arg(long, env = "IDEMPOTENCY_MAX_KEYS_PER_USER", default_value = "1000")]
    #[arg(value_parser = setting::<u32>())]
    idempotency_max_keys_per_user: u32,
}

/// Every setting of the service.
#[derive(Clone)]
pub struct Settings {
    pub profile: Profile,
    pub http_addr: SocketAddr,
    pub database_url: SecretString,
    pub database_max_connections: u32,
    pub redis_url: SecretString,
    /// Seed nodes of a Redis Cluster; empty for one node at `redis_url`.
    pub redis_cluster_nodes: Vec<SecretString>,
    pub redis_key_prefix: String,
    pub amqp_url: SecretString,
    pub amqp_prefix: String,
    pub smtp: SmtpTarget,
    pub mail_from: String,
    /// Sends of one email before it goes to the dead-letter queue.
    pub email_max_attempts: u32,
    /// Delay before the first retry of a failed send; doubles each time.
    pub email_retry_base: Duration,
    pub jwt_secret: SecretString,
    /// Seals the concerts' ticket-signing keys at rest.
    pub ticket_key_encryption_key: SecretBytes32,
    pub jwt_access_ttl: Duration,
    pub jwt_refresh_ttl: Duration,
    pub admin_email: String,
    pub admin_password: SecretString,
    pub payment_webhook_secrets: Vec<SecretString>,
    pub hold_ttl: Duration,
    pub reservation_ttl: Duration,
    pub waitlist_offer_ttl: Duration,
    pub max_seats_per_user: u32,
    pub queue_tick: Duration,
    pub queue_admit_per_tick: u32,
    pub queue_max_active: u32,
    pub queue_active_ttl: Duration,
    /// A waiting user whose stream stayed closed (and who did not poll) this long loses the place.
    pub queue_presence_grace: Duration,
    pub expiry_sweep_interval: Duration,
    /// How often expired holds are noticed and published.
    pub availability_sweep: Duration,
    /// How long before a sale opens its state is warmed (zero: never).
    pub sale_warm_ahead: Duration,
    /// Changes each concert's stream keeps, for resuming.
    pub availability_window: u32,
    pub seat_stream_max: u32,
    pub seat_stream_max_per_client: u32,
    /// The built-in payment-provider simulator (dev and tests; never in prod).
    pub payment_simulator: bool,
    /// Where the simulator delivers webhooks; default: this instance's own listener.
    pub payment_simulator_webhook_url: Option<String>,
    /// Base of absolute URLs the service hands out (checkout pages); default: this listener.
    pub public_base_url: Option<String>,
    pub cors_origins: CorsOrigins,
    /// The browser app's built files (relative to the working directory).
    pub web_dir: PathBuf,
    /// Dev only: create demo concerts and seats when there are none.
    pub seed_demo_data: bool,
    pub login_max_failures: u32,
    pub login_failure_window: Duration,
    pub login_max_attempts_per_ip: u32,
    pub login_ip_window: Duration,
    // Issue 15, login and signup.
    /// Whose `X-Forwarded-For` is believed.
    pub trusted_proxies: TrustedProxies,
    pub login_delay_max: Duration,
    pub login_account_max_failures: u32,
    pub login_account_delay_max: Duration,
    pub signup_max_per_ip: u32,
    pub signup_ip_window: Duration,
    /// Password hashes computed at once (each about 19 MiB).
    pub password_hash_concurrency: u32,
    pub password_hash_queue_timeout: Duration,
    // Abuse controls (issue 15).
    /// Hold attempts per account per `hold_rate_window` (0: no limit).
    pub hold_rate_per_user: u32,
    /// Hold attempts per client address per `hold_rate_window` (0: no limit).
    pub hold_rate_per_ip: u32,
    pub hold_rate_window: Duration,
    /// Unpaid checkouts within `checkout_cooldown_window` that start a cool-down (0: never).
    pub checkout_cooldown_after: u32,
    pub checkout_cooldown_window: Duration,
    /// How long a cooled-down account may not hold seats or check out.
    pub checkout_cooldown: Duration,
    // Streams (issue 15).
    pub queue_stream_max: u32,
    pub queue_stream_max_per_user: u32,
    /// How long a waiting-room stream ticket is good for.
    pub queue_stream_ticket_ttl: Duration,
    // Bot checks (issue 15).
    /// Leading zero bits of the proof of work before signup (0: no check).
    pub signup_challenge_difficulty: u8,
    /// How long a challenge stays valid.
    pub challenge_ttl: Duration,

    // Prod profile (issue 15, item 7).
    /// Where the metrics are served alone; when set, the main listener does not serve them.
    pub metrics_addr: Option<SocketAddr>,
    /// Whether Swagger UI and the OpenAPI document are served.
    pub api_docs: bool,

    // Retention (issue 15, item 8).
    pub retention: Retention,
    /// How long an Idempotency-Key's answer is kept.
    pub idempotency_ttl: Duration,
    /// Live Idempotency-Keys per user.
    pub idempotency_max_keys_per_user: u32,
}

/// How long the housekeeping worker keeps each kind of row, and how often it runs.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub interval: Duration,
    /// Kept this long after `expires_at`.
    pub refresh_tokens: Duration,
    /// Kept this long after `received_at`.
    pub webhook_events: Duration,
    /// Published outbox rows, kept this long after `published_at`.
    pub outbox_sent: Duration,
    /// Kept this long after `sent_at`.
    pub email_deliveries: Duration,
}

/// Why the settings could not be built; names the variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name}: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("{name} must be set when APP_PROFILE=prod")]
    MissingInProd { name: &'static str },
    #[error("{name} still has its development default; set a real value when APP_PROFILE=prod")]
    DefaultSecretInProd { name: &'static str },
}

/// Where the service's Redis is: one node, or the seed nodes of a Redis Cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisTarget {
    Single(String),
    Cluster(Vec<String>),
}

/// The declaration as a command, made once: where the variables' names and flags are read.
static DECLARATION: LazyLock<Command> =
    LazyLock::new(|| SettingsArgs::augment_args(Command::new("ticketing")));

impl Settings {
    /// Where Redis is: the cluster when `REDIS_CLUSTER_NODES` is set, else `REDIS_URL`.
    pub fn redis_target(&self) -> RedisTarget {
        if self.redis_cluster_nodes.is_empty() {
            RedisTarget::Single(self.redis_url.expose_secret().to_owned())
        } else {
            RedisTarget::Cluster(
                self.redis_cluster_nodes.iter().map(|n| n.expose_secret().to_owned()).collect(),
            )
        }
    }

    /// Reads the process environment (after an optional `.env` file); no command line.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds settings from any variable source; tests pass a map. The process environment is
    /// not consulted.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        // Each value found goes to the declaration's parser as its flag, so parsing and
        // defaults are exactly those of the command line and the environment.
        let mut argv = Vec::new();
        for arg in DECLARATION.get_arguments() {
            let (Some(name), Some(long)) = (arg.get_env(), arg.get_long()) else { continue };
            if let Some(value) = name.to_str().and_then(&lookup) {
                argv.push(format!("--{long}={value}"));
            }
        }
        let matches = DECLARATION
            .clone()
            .no_binary_name(true)
            .mut_args(|arg| arg.env(None::<&'static str>))
            .try_get_matches_from(argv)
            .map_err(config_error)?;
        let args = SettingsArgs::from_arg_matches(&matches).map_err(config_error)?;
        Self::from_args(args)
    }

    /// Applies the profile's rules to parsed settings: development defaults for the secrets,
    /// the admin, the simulator and CORS in `dev`; in `prod`, real values required.
    pub fn from_args(args: SettingsArgs) -> Result<Self, ConfigError> {
        // No default: an unset profile must not silently mean the development secrets.
        let profile = args.app_profile.ok_or_else(|| ConfigError::Invalid {
            name: "APP_PROFILE",
            reason: "must be set, to `dev` or `prod` (there is no default)".into(),
        })?;
        let prod = profile == Profile::Prod;

        // A secret: in prod it must be set and must not be the development default.
        let secret = |name: &'static str, value: Option<String>, default: &str| match given(value) {
            Some(v) if prod && v == default => Err(ConfigError::DefaultSecretInProd { name }),
            Some(v) => Ok(v),
            None if prod => Err(ConfigError::MissingInProd { name }),
            None => Ok(default.to_owned()),
        };

        let jwt_secret = secret("JWT_SECRET", args.jwt_secret, dev_defaults::JWT_SECRET)?;
        if jwt_secret.len() < 32 {
            return Err(ConfigError::Invalid {
                name: "JWT_SECRET",
                reason: "must be at least 32 bytes".into(),
            });
        }
        let kek = secret(
            "TICKET_KEY_ENCRYPTION_KEY",
            args.ticket_key_encryption_key,
            dev_defaults::TICKET_KEY_ENCRYPTION_KEY,
        )?;
        let ticket_key_encryption_key: [u8; 32] = hex::decode(kek.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| ConfigError::Invalid {
                name: "TICKET_KEY_ENCRYPTION_KEY",
                reason: "must be 32 bytes written as 64 hex digits".into(),
            })?;
        let webhook = secret(
            "PAYMENT_WEBHOOK_SECRETS",
            args.payment_webhook_secrets,
            dev_defaults::PAYMENT_WEBHOOK_SECRETS,
        )?;
        let payment_webhook_secrets: Vec<SecretString> = webhook
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| SecretString::from(s.to_owned()))
            .collect();
        if prod
            && payment_webhook_secrets
                .iter()
                .any(|s| s.expose_secret() == dev_defaults::PAYMENT_WEBHOOK_SECRETS)
        {
            return Err(ConfigError::DefaultSecretInProd { name: "PAYMENT_WEBHOOK_SECRETS" });
        }
        let admin_email = secret("ADMIN_EMAIL", args.admin_email, dev_defaults::ADMIN_EMAIL)?;
        let admin_password =
            secret("ADMIN_PASSWORD", args.admin_password, dev_defaults::ADMIN_PASSWORD)?;

        let cors_origins = match given(args.cors_origins) {
            Some(v) if v == "*" => CorsOrigins::Any,
            Some(v) => CorsOrigins::List(
                v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect(),
            ),
            None if prod => CorsOrigins::List(Vec::new()),
            None => CorsOrigins::Any,
        };

        let payment_simulator = match args.payment_simulator {
            None => !prod,
            Some(Switch(true)) if prod => {
                return Err(ConfigError::Invalid {
                    name: "PAYMENT_SIMULATOR",
                    reason: "the payment simulator cannot run with APP_PROFILE=prod".into(),
                });
            }
            Some(Switch(on)) => on,
        };
        if prod {
            prod_checks(&args.smtp_url, &args.amqp_url, &payment_webhook_secrets)?;
        }

        if args.redis_key_prefix.contains(['{', '}']) {
            return Err(ConfigError::Invalid {
                name: "REDIS_KEY_PREFIX",
                reason: "must not contain `{` or `}`: the keys' hash tags follow it".into(),
            });
        }

        let password_hash_concurrency = match args.password_hash_concurrency {
            Some(0) => {
                return Err(ConfigError::Invalid {
                    name: "PASSWORD_HASH_CONCURRENCY",
                    reason: "must be greater than 0".into(),
                });
            }
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        };

        Ok(Settings {
            profile,
            http_addr: args.http_addr,
            database_url: args.database_url.into(),
            database_max_connections: args.database_max_connections,
            redis_url: args.redis_url.into(),
            redis_cluster_nodes: args
                .redis_cluster_nodes
                .into_iter()
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty())
                .map(Into::into)
                .collect(),
            redis_key_prefix: args.redis_key_prefix,
            amqp_url: args.amqp_url.into(),
            amqp_prefix: args.amqp_prefix,
            smtp: args.smtp_url,
            mail_from: args.mail_from,
            email_max_attempts: args.email_max_attempts,
            email_retry_base: args.email_retry_base_ms.0,
            jwt_secret: jwt_secret.into(),
            ticket_key_encryption_key: SecretBytes32(ticket_key_encryption_key),
            jwt_access_ttl: args.jwt_access_ttl_secs.0,
            jwt_refresh_ttl: args.jwt_refresh_ttl_secs.0,
            admin_email: admin_email.to_lowercase(),
            admin_password: admin_password.into(),
            payment_webhook_secrets,
            hold_ttl: args.hold_ttl_secs.0,
            reservation_ttl: args.reservation_ttl_secs.0,
            waitlist_offer_ttl: args.waitlist_offer_ttl_secs.0,
            max_seats_per_user: args.max_seats_per_user,
            queue_tick: args.queue_tick_ms.0,
            queue_admit_per_tick: args.queue_admit_per_tick,
            queue_max_active: args.queue_max_active,
            queue_active_ttl: args.queue_active_ttl_secs.0,
            queue_presence_grace: args.queue_presence_grace_secs.0,
            expiry_sweep_interval: args.expiry_sweep_interval_ms.0,
            availability_sweep: args.availability_sweep_ms.0,
            sale_warm_ahead: Duration::from_secs(args.sale_warm_ahead_secs),
            availability_window: args.availability_window.max(100),
            seat_stream_max: args.seat_stream_max,
            seat_stream_max_per_client: args.seat_stream_max_per_client,
            payment_simulator,
            payment_simulator_webhook_url: given(args.payment_simulator_webhook_url),
            public_base_url: given(args.public_base_url)
                .map(|u| u.trim_end_matches('/').to_owned()),
            cors_origins,
            web_dir: args.web_dir,
            seed_demo_data: !prod && args.seed_demo_data.0,
            login_max_failures: args.login_max_failures,
            login_failure_window: args.login_failure_window_secs.0,
            login_max_attempts_per_ip: args.login_max_attempts_per_ip,
            login_ip_window: args.login_ip_window_secs.0,
            trusted_proxies: args.trusted_proxies,
            login_delay_max: args.login_delay_max_secs.0,
            login_account_max_failures: args.login_account_max_failures,
            login_account_delay_max: args.login_account_delay_max_secs.0,
            signup_max_per_ip: args.signup_max_per_ip,
            signup_ip_window: args.signup_ip_window_secs.0,
            password_hash_concurrency,
            password_hash_queue_timeout: args.password_hash_queue_timeout_ms.0,
            hold_rate_per_user: args.hold_rate_per_user,
            hold_rate_per_ip: args.hold_rate_per_ip,
            hold_rate_window: args.hold_rate_window_secs.0,
            checkout_cooldown_after: args.checkout_cooldown_after,
            checkout_cooldown_window: args.checkout_cooldown_window_secs.0,
            checkout_cooldown: args.checkout_cooldown_secs.0,
            queue_stream_max: args.queue_stream_max,
            queue_stream_max_per_user: args.queue_stream_max_per_user,
            queue_stream_ticket_ttl: args.queue_stream_ticket_ttl_secs.0,
            signup_challenge_difficulty: args.signup_challenge_difficulty.0,
            challenge_ttl: args.challenge_ttl_secs.0,
            metrics_addr: args.metrics_addr,
            api_docs: args.api_docs.map_or(!prod, |Switch(on)| on),
            retention: Retention {
                interval: args.housekeeping_interval_secs.0,
                refresh_tokens: args.retention_refresh_tokens_secs.0,
                webhook_events: args.retention_webhook_events_days.0,
                outbox_sent: args.retention_outbox_sent_secs.0,
                email_deliveries: args.retention_email_deliveries_days.0,
            },
            idempotency_ttl: args.idempotency_ttl_secs.0,
            idempotency_max_keys_per_user: args.idempotency_max_keys_per_user,
        })
    }

    pub fn is_prod(&self) -> bool {
        self.profile == Profile::Prod
    }
}

impl SettingsArgs {
    /// The listen address, before the profile's rules are applied (`ticketing healthcheck`).
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }
}

/// Shortest webhook secret prod accepts: an HMAC key shorter than its hash adds guessable
/// strength only.
const MIN_WEBHOOK_SECRET_BYTES: usize = 32;

/// What prod needs beyond real secrets: real mail delivery, long webhook secrets and AMQP
/// credentials of its own.
fn prod_checks(
    smtp: &SmtpTarget,
    amqp_url: &str,
    webhook_secrets: &[SecretString],
) -> Result<(), ConfigError> {
    if *smtp == SmtpTarget::Log {
        return Err(ConfigError::Invalid {
            name: "SMTP_URL",
            reason: "must be an smtp:// or smtps:// server when APP_PROFILE=prod (`log` writes \
                     every email, ticket codes included, to the log)"
                .into(),
        });
    }
    if webhook_secrets.is_empty() {
        return Err(ConfigError::MissingInProd { name: "PAYMENT_WEBHOOK_SECRETS" });
    }
    if let Some((i, short)) = webhook_secrets
        .iter()
        .enumerate()
        .find(|(_, s)| s.expose_secret().len() < MIN_WEBHOOK_SECRET_BYTES)
    {
        return Err(ConfigError::Invalid {
            name: "PAYMENT_WEBHOOK_SECRETS",
            reason: format!(
                "every secret must be at least {MIN_WEBHOOK_SECRET_BYTES} bytes when \
                 APP_PROFILE=prod; secret {} has {}",
                i + 1,
                short.expose_secret().len()
            ),
        });
    }
    match amqp_credentials(amqp_url) {
        Some((user, password)) if user != "guest" && !password.is_empty() => Ok(()),
        _ => Err(ConfigError::Invalid {
            name: "AMQP_URL",
            reason: "needs a user of its own and a password when APP_PROFILE=prod \
                     (amqp://user:password@host:5672/vhost), not RabbitMQ's default guest"
                .into(),
        }),
    }
}

/// The user and password of `amqp://user:password@host/vhost`, if the URL names them.
fn amqp_credentials(url: &str) -> Option<(&str, &str)> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split('/').next().unwrap_or_default();
    let (userinfo, _) = authority.rsplit_once('@')?;
    Some(userinfo.split_once(':').unwrap_or((userinfo, "")))
}

/// An empty value counts as unset.
fn given(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// A parse error of the declaration, as the variable it came from and why.
fn config_error(e: clap::Error) -> ConfigError {
    let text = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.as_str()),
        _ => None,
    };
    // The argument as clap shows it: `--hold-ttl-secs <HOLD_TTL_SECS>`.
    let flag = text(ContextKind::InvalidArg).and_then(|a| a.split_whitespace().next());
    let name = DECLARATION
        .get_arguments()
        .find(|arg| arg.get_long().is_some_and(|long| flag == Some(&format!("--{long}"))))
        .and_then(|arg| arg.get_env()?.to_str())
        .unwrap_or("settings");
    let reason = match (text(ContextKind::InvalidValue), std::error::Error::source(&e)) {
        (Some(value), Some(why)) => format!("`{value}`: {why}"),
        _ => e.kind().to_string(),
    };
    ConfigError::Invalid { name, reason }
}

/// How every setting's text is read, from a flag or the environment: blanks around the value do
/// not count, and an empty value means the default, as if the variable were unset.
#[derive(Clone)]
struct Setting<T>(PhantomData<fn() -> T>);

fn setting<T>() -> Setting<T> {
    Setting(PhantomData)
}

impl<T> TypedValueParser for Setting<T>
where
    T: FromStr + Clone + Send + Sync + 'static,
    T::Err: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Value = T;

    fn parse_ref(&self, cmd: &Command, arg: Option<&Arg>, value: &OsStr) -> Result<T, clap::Error> {
        // clap's own parser for `FromStr` types: its errors name the flag and the variable.
        let parse: fn(&str) -> Result<T, T::Err> = T::from_str;
        let Some(text) = value.to_str().map(str::trim) else {
            return parse.parse_ref(cmd, arg, value);
        };
        match arg.and_then(|a| a.get_default_values().first()) {
            Some(default) if text.is_empty() => parse.parse_ref(cmd, arg, default),
            _ => parse.parse_ref(cmd, arg, OsStr::new(text)),
        }
    }
}

/// A number of seconds, greater than 0.
#[derive(Clone, Copy)]
struct Secs(Duration);

impl FromStr for Secs {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.parse::<u64>().map_err(|e| e.to_string())? {
            0 => Err("must be greater than 0".into()),
            n => Ok(Secs(Duration::from_secs(n))),
        }
    }
}

/// A number of days, greater than 0.
#[derive(Clone, Copy)]
struct Days(Duration);

impl FromStr for Days {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.parse::<u64>().map_err(|e| e.to_string())? {
            0 => Err("must be greater than 0".into()),
            n if n > 36_500 => Err("must be at most 36500 (100 years)".into()),
            n => Ok(Days(Duration::from_secs(n * 86_400))),
        }
    }
}

/// A number of milliseconds.
#[derive(Clone, Copy)]
struct Millis(Duration);

impl FromStr for Millis {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Millis(Duration::from_millis(s.parse()?)))
    }
}

/// Leading zero bits of a proof of work, 0 to `challenge::MAX_DIFFICULTY`.
#[derive(Clone, Copy)]
struct Difficulty(u8);

impl FromStr for Difficulty {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let max = crate::domain::challenge::MAX_DIFFICULTY;
        match s.parse::<u8>() {
            Ok(n) if n <= max => Ok(Difficulty(n)),
            _ => Err(format!("expected a number from 0 to {max}")),
        }
    }
}

/// `on`/`true`/`1` or `off`/`false`/`0`.
#[derive(Clone, Copy)]
struct Switch(bool);

impl FromStr for Switch {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "on" | "true" | "1" => Ok(Switch(true)),
            "off" | "false" | "0" => Ok(Switch(false)),
            other => Err(format!("expected on or off, got `{other}`")),
        }
    }
}

/// On for `true`, `1` or `on`; anything else is off.
#[derive(Clone, Copy)]
struct Enabled(bool);

impl FromStr for Enabled {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Enabled(matches!(s, "true" | "1" | "on")))
    }
}

// Secrets never reach a log line, even through `{:?}`.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("profile", &self.profile)
            .field("http_addr", &self.http_addr)
            .field("database_url", &redact_url(self.database_url.expose_secret()))
            .field("database_max_connections", &self.database_max_connections)
            .field("redis_url", &redact_url(self.redis_url.expose_secret()))
            .field(
                "redis_cluster_nodes",
                &self
                    .redis_cluster_nodes
                    .iter()
                    .map(|n| redact_url(n.expose_secret()))
                    .collect::<Vec<_>>(),
            )
            .field("redis_key_prefix", &self.redis_key_prefix)
            .field("amqp_url", &redact_url(self.amqp_url.expose_secret()))
            .field("amqp_prefix", &self.amqp_prefix)
            .field("smtp", &self.smtp)
            .field("hold_ttl", &self.hold_ttl)
            .field("reservation_ttl", &self.reservation_ttl)
            .field("waitlist_offer_ttl", &self.waitlist_offer_ttl)
            .field("max_seats_per_user", &self.max_seats_per_user)
            .field("cors_origins", &self.cors_origins)
            .field("web_dir", &self.web_dir)
            .field("trusted_proxies", &self.trusted_proxies.to_string())
            .field("metrics_addr", &self.metrics_addr)
            .field("api_docs", &self.api_docs)
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

/// `scheme://user:password@host/db` → `scheme://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// Settings from these variables, with `APP_PROFILE=dev` unless they name a profile.
    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut map: HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        map.entry("APP_PROFILE".into()).or_insert_with(|| "dev".into());
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn dev_starts_with_only_app_profile() {
        let s = Settings::from_lookup(|k| (k == "APP_PROFILE").then(|| "dev".into())).unwrap();
        assert_eq!(s.profile, Profile::Dev);
        assert_eq!(s.http_addr.port(), 8080);
        assert_eq!(s.hold_ttl, Duration::from_secs(600));
        assert_eq!(s.cors_origins, CorsOrigins::Any);
        assert_eq!(s.web_dir, PathBuf::from("web/dist"));
        assert!(s.api_docs, "dev serves the API docs");
        assert_eq!(s.metrics_addr, None);
    }

    #[test]
    fn a_missing_app_profile_refuses_to_start_and_names_it() {
        let err = Settings::from_lookup(|_| None).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { name: "APP_PROFILE", .. }), "{err}");
        assert!(err.to_string().starts_with("APP_PROFILE: must be set"), "{err}");
        let blank = Settings::from_lookup(|k| (k == "APP_PROFILE").then(|| " ".into()));
        assert!(blank.unwrap_err().to_string().starts_with("APP_PROFILE"), "blank is unset");
    }

    /// Everything prod requires, valid.
    const PROD: [(&str, &str); 8] = [
        ("APP_PROFILE", "prod"),
        ("JWT_SECRET", "a-real-secret-that-is-long-enough-0123456789"),
        (
            "TICKET_KEY_ENCRYPTION_KEY",
            "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
        ),
        ("PAYMENT_WEBHOOK_SECRETS", "whsec_0123456789abcdef0123456789abcdef"),
        ("ADMIN_EMAIL", "ops@example.com"),
        ("ADMIN_PASSWORD", "a-strong-password"),
        ("SMTP_URL", "smtps://mail.example.com:465"),
        ("AMQP_URL", "amqp://ticketing:s3cret-pass@rabbitmq:5672/%2f"),
    ];

    /// The prod settings with one variable changed (or removed, with `None`).
    fn prod_with(name: &str, value: Option<&str>) -> Result<Settings, ConfigError> {
        let mut vars: Vec<(&str, &str)> =
            PROD.iter().copied().filter(|(k, _)| *k != name).collect();
        if let Some(v) = value {
            vars.push((name, v));
        }
        settings(&vars)
    }

    #[test]
    fn prod_starts_with_real_values_and_hides_metrics_and_docs() {
        let s = settings(&PROD).unwrap();
        assert!(s.is_prod());
        assert!(!s.api_docs, "prod serves no API docs unless asked");
        assert_eq!(s.metrics_addr, None);
        let s = prod_with("API_DOCS", Some("on")).unwrap();
        assert!(s.api_docs, "API_DOCS=on turns them on in prod");
        assert!(!settings(&[("API_DOCS", "off")]).unwrap().api_docs, "and off in dev");
        let s = prod_with("METRICS_ADDR", Some("127.0.0.1:9091")).unwrap();
        assert_eq!(s.metrics_addr, Some("127.0.0.1:9091".parse().unwrap()));
    }

    #[test]
    fn prod_refuses_logging_emails_instead_of_sending_them() {
        for smtp in [None, Some("log")] {
            let err = prod_with("SMTP_URL", smtp).unwrap_err();
            assert!(matches!(err, ConfigError::Invalid { name: "SMTP_URL", .. }), "{err}");
            assert!(err.to_string().starts_with("SMTP_URL"), "{err}");
        }
    }

    #[test]
    fn prod_refuses_a_webhook_secret_shorter_than_32_bytes() {
        let short = "a".repeat(31);
        let long = "b".repeat(32);
        for secrets in [short.clone(), format!("{long},{short}"), ",".into()] {
            let err = prod_with("PAYMENT_WEBHOOK_SECRETS", Some(&secrets)).unwrap_err();
            assert!(err.to_string().starts_with("PAYMENT_WEBHOOK_SECRETS"), "{secrets}: {err}");
        }
        let err = prod_with("PAYMENT_WEBHOOK_SECRETS", Some(&short)).unwrap_err();
        assert!(err.to_string().contains("secret 1 has 31"), "{err}");
        let both = format!("{long}, {long}c");
        assert_eq!(
            prod_with("PAYMENT_WEBHOOK_SECRETS", Some(&both))
                .unwrap()
                .payment_webhook_secrets
                .len(),
            2
        );
        // Dev keeps its short development secret.
        assert!(settings(&[("PAYMENT_WEBHOOK_SECRETS", "short")]).is_ok());
    }

    #[test]
    fn prod_refuses_rabbitmqs_default_credentials() {
        for url in [
            None,
            Some("amqp://guest:guest@127.0.0.1:5672/%2f"),
            Some("amqp://guest:other@rabbitmq:5672/%2f"),
            Some("amqp://rabbitmq:5672/%2f"),
            Some("amqp://ticketing@rabbitmq:5672/%2f"),
            Some("amqp://ticketing:@rabbitmq:5672/%2f"),
        ] {
            let err = prod_with("AMQP_URL", url).unwrap_err();
            assert!(matches!(err, ConfigError::Invalid { name: "AMQP_URL", .. }), "{url:?}: {err}");
            assert!(!err.to_string().contains("guest:guest@"), "the URL is not echoed: {err}");
        }
        assert!(prod_with("AMQP_URL", Some("amqps://app:p%40ss@mq.example:5671/prod")).is_ok());
    }

    #[test]
    fn retention_settings_have_safe_defaults_and_refuse_zero() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.retention.webhook_events, Duration::from_secs(30 * 86_400));
        assert_eq!(s.retention.email_deliveries, Duration::from_secs(30 * 86_400));
        assert_eq!(s.idempotency_ttl, Duration::from_secs(86_400));
        assert_eq!(s.idempotency_max_keys_per_user, 1000);
        for name in ["RETENTION_WEBHOOK_EVENTS_DAYS", "RETENTION_OUTBOX_SENT_SECS"] {
            let err = settings(&[(name, "0")]).unwrap_err();
            assert_eq!(err.to_string(), format!("{name}: `0`: must be greater than 0"));
        }
    }

    #[test]
    fn prod_names_the_first_missing_secret() {
        let err = settings(&[("APP_PROFILE", "prod")]).unwrap_err();
        assert!(err.to_string().starts_with("JWT_SECRET"), "{err}");
    }

    #[test]
    fn the_ticket_key_encryption_key_is_64_hex_digits_and_prod_refuses_the_dev_one() {
        let err = settings(&[("TICKET_KEY_ENCRYPTION_KEY", "abcd")]).unwrap_err();
        assert!(err.to_string().starts_with("TICKET_KEY_ENCRYPTION_KEY"), "{err}");
        let s = settings(&[]).unwrap();
        assert_eq!(
            hex::encode(s.ticket_key_encryption_key.0),
            dev_defaults::TICKET_KEY_ENCRYPTION_KEY
        );
        assert_eq!(format!("{:?}", s.ticket_key_encryption_key), "[REDACTED]");
        let err = settings(&[
            ("APP_PROFILE", "prod"),
            ("JWT_SECRET", "a-real-secret-that-is-long-enough-0123456789"),
            ("TICKET_KEY_ENCRYPTION_KEY", dev_defaults::TICKET_KEY_ENCRYPTION_KEY),
        ])
        .unwrap_err();
        assert!(
            matches!(err, ConfigError::DefaultSecretInProd { name: "TICKET_KEY_ENCRYPTION_KEY" }),
            "{err}"
        );
    }

    #[test]
    fn prod_refuses_default_secrets() {
        let err = settings(&[("APP_PROFILE", "prod"), ("JWT_SECRET", dev_defaults::JWT_SECRET)])
            .unwrap_err();
        assert!(matches!(err, ConfigError::DefaultSecretInProd { name: "JWT_SECRET" }));
    }

    #[test]
    fn prod_requires_admin_credentials() {
        let base = [
            ("APP_PROFILE", "prod"),
            ("JWT_SECRET", "a-real-secret-that-is-long-enough-0123456789"),
            (
                "TICKET_KEY_ENCRYPTION_KEY",
                "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
            ),
            ("PAYMENT_WEBHOOK_SECRETS", "whsec_real_0123456789abcdef0123456789"),
            ("SMTP_URL", "smtp://mail.example.com:25"),
            ("AMQP_URL", "amqp://ticketing:s3cret-pass@rabbitmq:5672/%2f"),
        ];
        let err = settings(&base).unwrap_err();
        assert!(matches!(err, ConfigError::MissingInProd { name: "ADMIN_EMAIL" }), "{err}");
        let mut with_email = base.to_vec();
        with_email.push(("ADMIN_EMAIL", "ops@example.com"));
        let err = settings(&with_email).unwrap_err();
        assert!(matches!(err, ConfigError::MissingInProd { name: "ADMIN_PASSWORD" }), "{err}");
        with_email.push(("ADMIN_PASSWORD", "a-strong-password"));
        let s = settings(&with_email).unwrap();
        assert_eq!(s.cors_origins, CorsOrigins::List(vec![]));
        assert!(!s.payment_simulator, "no simulator in prod");
        let mut seeded = with_email.clone();
        seeded.push(("SEED_DEMO_DATA", "true"));
        assert!(!settings(&seeded).unwrap().seed_demo_data, "no demo data in prod");
        with_email.push(("PAYMENT_SIMULATOR", "on"));
        let err = settings(&with_email).unwrap_err();
        assert!(err.to_string().starts_with("PAYMENT_SIMULATOR"), "{err}");
    }

    #[test]
    fn bad_numbers_name_their_variable() {
        let err = settings(&[("HOLD_TTL_SECS", "ten")]).unwrap_err();
        assert!(err.to_string().starts_with("HOLD_TTL_SECS"), "{err}");
    }

    #[test]
    fn bad_values_say_what_is_wrong() {
        let err = settings(&[("HOLD_TTL_SECS", "ten")]).unwrap_err();
        assert_eq!(err.to_string(), "HOLD_TTL_SECS: `ten`: invalid digit found in string");
        let err = settings(&[("LOGIN_IP_WINDOW_SECS", "0")]).unwrap_err();
        assert_eq!(err.to_string(), "LOGIN_IP_WINDOW_SECS: `0`: must be greater than 0");
        let err = settings(&[("APP_PROFILE", "staging")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "APP_PROFILE: `staging`: expected `dev` or `prod`, got `staging`"
        );
        let err = settings(&[("SMTP_URL", "mailhog:1025")]).unwrap_err();
        assert!(err.to_string().starts_with("SMTP_URL"), "{err}");
        let err = settings(&[("PAYMENT_SIMULATOR", "maybe")]).unwrap_err();
        assert!(err.to_string().starts_with("PAYMENT_SIMULATOR"), "{err}");
    }

    #[test]
    fn blank_values_count_as_unset_and_blanks_around_values_are_ignored() {
        let s = settings(&[
            ("HOLD_TTL_SECS", ""),
            ("SMTP_URL", " "),
            ("JWT_SECRET", ""),
            ("HTTP_ADDR", " 127.0.0.1:9000 "),
            ("QUEUE_TICK_MS", "250\n"),
            ("PUBLIC_BASE_URL", "https://tickets.example/ "),
        ])
        .unwrap();
        assert_eq!(s.hold_ttl, Duration::from_secs(600));
        assert_eq!(s.smtp, SmtpTarget::Log);
        assert_eq!(s.jwt_secret.expose_secret(), dev_defaults::JWT_SECRET);
        assert_eq!(s.http_addr, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(s.queue_tick, Duration::from_millis(250));
        assert_eq!(s.public_base_url.as_deref(), Some("https://tickets.example"));
        let err = settings(&[("APP_PROFILE", "prod"), ("JWT_SECRET", "  ")]).unwrap_err();
        assert!(matches!(err, ConfigError::MissingInProd { name: "JWT_SECRET" }), "{err}");
    }

    #[test]
    fn prefixes_are_taken_as_given() {
        let s = settings(&[("REDIS_KEY_PREFIX", " t1:"), ("AMQP_PREFIX", "t1.")]).unwrap();
        assert_eq!(s.redis_key_prefix, " t1:");
        assert_eq!(s.amqp_prefix, "t1.");
        assert_eq!(settings(&[]).unwrap().redis_key_prefix, "");
        let err = settings(&[("REDIS_KEY_PREFIX", "t{1}:")]).unwrap_err();
        assert!(err.to_string().starts_with("REDIS_KEY_PREFIX"), "{err}");
    }

    #[test]
    fn redis_is_one_node_unless_cluster_nodes_are_given() {
        let s = settings(&[("REDIS_URL", "redis://10.0.0.9:6379")]).unwrap();
        assert_eq!(s.redis_target(), RedisTarget::Single("redis://10.0.0.9:6379".into()));
        let s = settings(&[(
            "REDIS_CLUSTER_NODES",
            "redis://127.0.0.1:7000, redis://:pw@127.0.0.1:7001,",
        )])
        .unwrap();
        assert_eq!(
            s.redis_target(),
            RedisTarget::Cluster(vec![
                "redis://127.0.0.1:7000".into(),
                "redis://:pw@127.0.0.1:7001".into()
            ])
        );
        let shown = format!("{s:?}");
        assert!(!shown.contains(":pw@"), "{shown}");
    }

    #[test]
    fn help_shows_every_variable_and_no_secret() {
        let help = DECLARATION.clone().render_long_help().to_string();
        for arg in DECLARATION.get_arguments() {
            let name = arg.get_env().unwrap().to_str().unwrap();
            assert!(help.contains(&format!("[env: {name}]")), "{name} in {help}");
            assert!(arg.get_long().is_some(), "{name} has a flag");
        }
        for secret in [
            dev_defaults::JWT_SECRET,
            dev_defaults::PAYMENT_WEBHOOK_SECRETS,
            dev_defaults::ADMIN_PASSWORD,
        ] {
            assert!(!help.contains(secret), "--help shows {secret}");
        }
    }

    #[test]
    fn the_readme_documents_every_setting() {
        let readme = include_str!("../README.md");
        for arg in DECLARATION.get_arguments() {
            let name = arg.get_env().unwrap().to_str().unwrap();
            assert!(readme.contains(&format!("`{name}`")), "README's table lists {name}");
        }
    }

    #[test]
    fn trusted_proxies_are_cidrs_and_a_bad_one_names_the_variable() {
        assert!(settings(&[]).unwrap().trusted_proxies.is_empty(), "default: trust nobody");
        let s = settings(&[("TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")]).unwrap();
        assert!(s.trusted_proxies.contains("10.1.2.3".parse().unwrap()));
        assert!(s.trusted_proxies.contains("127.0.0.1".parse().unwrap()));
        assert!(!s.trusted_proxies.contains("127.0.0.2".parse().unwrap()));
        let err = settings(&[("TRUSTED_PROXIES", "10.0.0.0/8,10.0.0.0/40")]).unwrap_err();
        assert!(err.to_string().starts_with("TRUSTED_PROXIES: `10.0.0.0/8,10.0.0.0/40`"), "{err}");
        assert!(err.to_string().contains("`10.0.0.0/40` is not a CIDR range"), "{err}");
    }

    #[test]
    fn password_hashing_defaults_to_the_cores_and_refuses_zero() {
        let cores = std::thread::available_parallelism().unwrap().get() as u32;
        assert_eq!(settings(&[]).unwrap().password_hash_concurrency, cores);
        let s = settings(&[("PASSWORD_HASH_CONCURRENCY", "3")]).unwrap();
        assert_eq!(s.password_hash_concurrency, 3);
        let err = settings(&[("PASSWORD_HASH_CONCURRENCY", "0")]).unwrap_err();
        assert!(err.to_string().starts_with("PASSWORD_HASH_CONCURRENCY"), "{err}");
    }

    #[test]
    fn abuse_controls_default_to_generous_limits_and_zero_turns_a_limit_off() {
        let s = settings(&[]).unwrap();
        assert_eq!((s.hold_rate_per_user, s.hold_rate_per_ip), (30, 300));
        assert_eq!(s.hold_rate_window, Duration::from_secs(60));
        assert_eq!(s.checkout_cooldown_after, 3);
        assert_eq!(s.checkout_cooldown_window, Duration::from_secs(86_400));
        assert_eq!(s.checkout_cooldown, Duration::from_secs(1800));
        let off = settings(&[
            ("HOLD_RATE_PER_USER", "0"),
            ("HOLD_RATE_PER_IP", "0"),
            ("CHECKOUT_COOLDOWN_AFTER", "0"),
        ])
        .unwrap();
        assert_eq!((off.hold_rate_per_user, off.hold_rate_per_ip), (0, 0));
        assert_eq!(off.checkout_cooldown_after, 0);
        let err = settings(&[("CHECKOUT_COOLDOWN_SECS", "0")]).unwrap_err();
        assert!(err.to_string().starts_with("CHECKOUT_COOLDOWN_SECS"), "{err}");
    }

    #[test]
    fn debug_output_hides_passwords() {
        let s = settings(&[("DATABASE_URL", "postgres://app:hunter2@db/ticketing")]).unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains(dev_defaults::JWT_SECRET));
    }
}
