//! Typed settings read from the environment (SPEC §3), validated once at start-up.

use std::{fmt, net::SocketAddr, str::FromStr, time::Duration};

use secrecy::{ExposeSecret, SecretString};

/// Development-only defaults; `APP_PROFILE=prod` refuses to start while any is in use.
pub mod dev_defaults {
    pub const JWT_SECRET: &str = "dev-only-jwt-secret-change-me-0123456789abcdef";
    pub const PAYMENT_WEBHOOK_SECRETS: &str = "dev-only-webhook-secret";
    pub const ADMIN_EMAIL: &str = "admin@admin";
    pub const ADMIN_PASSWORD: &str = "admin1234";
}

/// Which behaviour set the binary runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Dev,
    Prod,
}

/// Where outgoing email goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmtpTarget {
    /// Write each email to the log instead of sending it.
    Log,
    /// An SMTP server, e.g. `smtp://mailhog:1025`.
    Smtp(String),
}

/// Which browser origins may call the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    Any,
    List(Vec<String>),
}

/// Every setting of the service.
#[derive(Clone)]
pub struct Settings {
    pub profile: Profile,
    pub http_addr: SocketAddr,
    pub database_url: SecretString,
    pub database_max_connections: u32,
    pub redis_url: SecretString,
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
    pub jwt_access_ttl: Duration,
    pub jwt_refresh_ttl: Duration,
    pub admin_email: String,
    pub admin_password: SecretString,
    pub payment_webhook_secrets: Vec<SecretString>,
    pub hold_ttl: Duration,
    pub reservation_ttl: Duration,
    pub max_seats_per_user: u32,
    pub queue_tick: Duration,
    pub queue_admit_per_tick: u32,
    pub queue_max_active: u32,
    pub queue_active_ttl: Duration,
    /// A waiting user whose stream stayed closed (and who did not poll) this long loses the place.
    pub queue_presence_grace: Duration,
    pub expiry_sweep_interval: Duration,
    /// The built-in payment-provider simulator (dev and tests; never in prod).
    pub payment_simulator: bool,
    /// Where the simulator delivers webhooks; default: this instance's own listener.
    pub payment_simulator_webhook_url: Option<String>,
    /// Base of absolute URLs the service hands out (checkout pages); default: this listener.
    pub public_base_url: Option<String>,
    pub cors_origins: CorsOrigins,
    /// Dev only: create demo concerts and seats when there are none.
    pub seed_demo_data: bool,
    pub login_max_failures: u32,
    pub login_failure_window: Duration,
    pub login_max_attempts_per_ip: u32,
    pub login_ip_window: Duration,
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

impl Settings {
    /// Reads the process environment (after an optional `.env` file).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds settings from any variable source; tests pass a map.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());

        let profile = match var("APP_PROFILE").as_deref() {
            None | Some("dev") => Profile::Dev,
            Some("prod") => Profile::Prod,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "APP_PROFILE",
                    reason: format!("expected `dev` or `prod`, got `{other}`"),
                });
            }
        };
        let prod = profile == Profile::Prod;

        // A secret: in prod it must be set and must not be the development default.
        let secret = |name: &'static str, default: &str| -> Result<String, ConfigError> {
            match var(name) {
                Some(v) if prod && v == default => Err(ConfigError::DefaultSecretInProd { name }),
                Some(v) => Ok(v),
                None if prod => Err(ConfigError::MissingInProd { name }),
                None => Ok(default.to_owned()),
            }
        };

        let jwt_secret = secret("JWT_SECRET", dev_defaults::JWT_SECRET)?;
        if jwt_secret.len() < 32 {
            return Err(ConfigError::Invalid {
                name: "JWT_SECRET",
                reason: "must be at least 32 bytes".into(),
            });
        }
        let webhook = secret("PAYMENT_WEBHOOK_SECRETS", dev_defaults::PAYMENT_WEBHOOK_SECRETS)?;
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
        let admin_email = secret("ADMIN_EMAIL", dev_defaults::ADMIN_EMAIL)?;
        let admin_password = secret("ADMIN_PASSWORD", dev_defaults::ADMIN_PASSWORD)?;

        let cors_origins = match var("CORS_ORIGINS") {
            Some(v) if v == "*" => CorsOrigins::Any,
            Some(v) => CorsOrigins::List(
                v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect(),
            ),
            None if prod => CorsOrigins::List(Vec::new()),
            None => CorsOrigins::Any,
        };

        let smtp = match var("SMTP_URL").as_deref() {
            None | Some("log") => SmtpTarget::Log,
            Some(url) if url.starts_with("smtp://") || url.starts_with("smtps://") => {
                SmtpTarget::Smtp(url.to_owned())
            }
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "SMTP_URL",
                    reason: format!("expected `log` or smtp://host:port, got `{other}`"),
                });
            }
        };

        let payment_simulator = match var("PAYMENT_SIMULATOR").as_deref() {
            None => !prod,
            Some("on" | "true" | "1") if prod => {
                return Err(ConfigError::Invalid {
                    name: "PAYMENT_SIMULATOR",
                    reason: "the payment simulator cannot run with APP_PROFILE=prod".into(),
                });
            }
            Some("on" | "true" | "1") => true,
            Some("off" | "false" | "0") => false,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "PAYMENT_SIMULATOR",
                    reason: format!("expected on or off, got `{other}`"),
                });
            }
        };

        Ok(Settings {
            profile,
            http_addr: parse(&var, "HTTP_ADDR", "0.0.0.0:8080")?,
            database_url: var("DATABASE_URL")
                .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/ticketing".into())
                .into(),
            database_max_connections: parse(&var, "DATABASE_MAX_CONNECTIONS", "20")?,
            redis_url: var("REDIS_URL").unwrap_or_else(|| "redis://127.0.0.1:6379".into()).into(),
            redis_key_prefix: lookup("REDIS_KEY_PREFIX").unwrap_or_default(),
            amqp_url: var("AMQP_URL")
                .unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
                .into(),
            amqp_prefix: lookup("AMQP_PREFIX").unwrap_or_default(),
            smtp,
            mail_from: var("MAIL_FROM")
                .unwrap_or_else(|| "ConcertMania <no-reply@concertmania.local>".into()),
            email_max_attempts: parse(&var, "EMAIL_MAX_ATTEMPTS", "5")?,
            email_retry_base: Duration::from_millis(parse(&var, "EMAIL_RETRY_BASE_MS", "2000")?),
            jwt_secret: jwt_secret.into(),
            jwt_access_ttl: secs(&var, "JWT_ACCESS_TTL_SECS", "900")?,
            jwt_refresh_ttl: secs(&var, "JWT_REFRESH_TTL_SECS", "1209600")?,
            admin_email: admin_email.to_lowercase(),
            admin_password: admin_password.into(),
            payment_webhook_secrets,
            hold_ttl: secs(&var, "HOLD_TTL_SECS", "600")?,
            reservation_ttl: secs(&var, "RESERVATION_TTL_SECS", "600")?,
            max_seats_per_user: parse(&var, "MAX_SEATS_PER_USER", "4")?,
            queue_tick: Duration::from_millis(parse(&var, "QUEUE_TICK_MS", "1000")?),
            queue_admit_per_tick: parse(&var, "QUEUE_ADMIT_PER_TICK", "100")?,
            queue_max_active: parse(&var, "QUEUE_MAX_ACTIVE", "1000")?,
            queue_active_ttl: secs(&var, "QUEUE_ACTIVE_TTL_SECS", "600")?,
            queue_presence_grace: secs(&var, "QUEUE_PRESENCE_GRACE_SECS", "60")?,
            expiry_sweep_interval: Duration::from_millis(parse(
                &var,
                "EXPIRY_SWEEP_INTERVAL_MS",
                "1000",
            )?),
            payment_simulator,
            payment_simulator_webhook_url: var("PAYMENT_SIMULATOR_WEBHOOK_URL"),
            public_base_url: var("PUBLIC_BASE_URL").map(|u| u.trim_end_matches('/').to_owned()),
            cors_origins,
            seed_demo_data: !prod
                && matches!(var("SEED_DEMO_DATA").as_deref(), Some("true" | "1" | "on")),
            login_max_failures: parse(&var, "LOGIN_MAX_FAILURES", "5")?,
            login_failure_window: secs(&var, "LOGIN_FAILURE_WINDOW_SECS", "900")?,
            login_max_attempts_per_ip: parse(&var, "LOGIN_MAX_ATTEMPTS_PER_IP", "30")?,
            login_ip_window: secs(&var, "LOGIN_IP_WINDOW_SECS", "60")?,
        })
    }

    pub fn is_prod(&self) -> bool {
        self.profile == Profile::Prod
    }
}

fn parse<T: FromStr>(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: &str,
) -> Result<T, ConfigError>
where
    T::Err: fmt::Display,
{
    let raw = var(name).unwrap_or_else(|| default.to_owned());
    raw.parse::<T>().map_err(|e| ConfigError::Invalid { name, reason: format!("`{raw}`: {e}") })
}

fn secs(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: &str,
) -> Result<Duration, ConfigError> {
    let n: u64 = parse(var, name, default)?;
    if n == 0 {
        return Err(ConfigError::Invalid { name, reason: "must be greater than 0".into() });
    }
    Ok(Duration::from_secs(n))
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
            .field("redis_key_prefix", &self.redis_key_prefix)
            .field("amqp_url", &redact_url(self.amqp_url.expose_secret()))
            .field("amqp_prefix", &self.amqp_prefix)
            .field("smtp", &self.smtp)
            .field("hold_ttl", &self.hold_ttl)
            .field("reservation_ttl", &self.reservation_ttl)
            .field("max_seats_per_user", &self.max_seats_per_user)
            .field("cors_origins", &self.cors_origins)
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

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn dev_starts_with_no_configuration() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.profile, Profile::Dev);
        assert_eq!(s.http_addr.port(), 8080);
        assert_eq!(s.hold_ttl, Duration::from_secs(600));
        assert_eq!(s.cors_origins, CorsOrigins::Any);
    }

    #[test]
    fn prod_names_the_first_missing_secret() {
        let err = settings(&[("APP_PROFILE", "prod")]).unwrap_err();
        assert!(err.to_string().starts_with("JWT_SECRET"), "{err}");
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
            ("PAYMENT_WEBHOOK_SECRETS", "whsec_real"),
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
    fn debug_output_hides_passwords() {
        let s = settings(&[("DATABASE_URL", "postgres://app:hunter2@db/ticketing")]).unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains(dev_defaults::JWT_SECRET));
    }
}
