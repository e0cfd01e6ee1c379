//! Accounts: signup (throttled per client address), login (paced per account and address),
//! refresh-token rotation, logout, bootstrap admin.

use std::{net::IpAddr, sync::Arc, time::Duration};

use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{
    passwords::{self, Hasher},
    tokens::{self, Principal, Tokens},
};
use crate::{
    clients::redis::{Pace, RedisClient},
    domain::user::{Email, Role, User},
    error::{AppError, AppResult, ErrorCode},
    repositories::{
        locks::{self, Chore},
        outbox, refresh_tokens,
        users::{self, UserRow},
    },
};

/// A parsed signup request.
pub struct Signup {
    pub username: String,
    pub email: Email,
    pub password: String,
}

/// A signed-in session: the user and a fresh token pair.
pub struct Session {
    pub user: User,
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
}

/// Brute-force limits of sign-in. No one is ever locked out: past the free attempts, each
/// further one waits a doubling, capped delay (429 with `Retry-After`).
#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    /// Attempts per (account, client address) without a delay.
    pub max_failures: u32,
    /// How long attempts are remembered after the last one.
    pub failure_window: Duration,
    /// The longest delay of one (account, client address).
    pub delay_max: Duration,
    /// Attempts per account, over every address that never signed in to it, without a delay.
    pub account_max_failures: u32,
    /// The longest account-wide delay: seconds, so the owner is slowed, never locked out.
    pub account_delay_max: Duration,
    /// Attempts per client address within `ip_window`, whatever the account.
    pub max_attempts_per_ip: u32,
    pub ip_window: Duration,
}

/// Signups per client address.
#[derive(Debug, Clone, Copy)]
pub struct SignupLimits {
    pub max_per_ip: u32,
    pub window: Duration,
}

/// The first delay of a gate; each further attempt doubles it.
const DELAY_BASE: Duration = Duration::from_secs(1);

/// How long an address that signed in to an account stays known to it (and skips the
/// account-wide delay).
const KNOWN_ADDRESS_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// Accounts and sessions.
#[derive(Clone)]
pub struct Users {
    db: PgPool,
    redis: RedisClient,
    tokens: Arc<Tokens>,
    hasher: Hasher,
    limits: LoginLimits,
    signup_limits: SignupLimits,
}

impl Users {
    pub fn new(
        db: PgPool,
        redis: RedisClient,
        tokens: Arc<Tokens>,
        hasher: Hasher,
        limits: LoginLimits,
        signup_limits: SignupLimits,
    ) -> Self {
        Users { db, redis, tokens, hasher, limits, signup_limits }
    }

    /// The password hasher (its slots are shared by signup and login).
    pub fn hasher(&self) -> &Hasher {
        &self.hasher
    }

    /// Creates the account. Throttled per client address (`client` as
    /// [`ClientIp`](crate::controllers::extract::ClientIp) gives it); a taken email or
    /// username is refused before any hashing, so duplicates cost a query, not 19 MiB.
    #[tracing::instrument(skip_all, fields(user.id))]
    pub async fn signup(&self, signup: Signup, client: IpAddr) -> AppResult<Session> {
        let limits = self.signup_limits;
        let window =
            self.redis.count_in_window(&format!("signup:ip:{client}"), limits.window).await?;
        if window.count > u64::from(limits.max_per_ip) {
            return Err(AppError::RateLimited {
                retry_after_secs: window.remaining_ms.div_ceil(1000),
            });
        }
        let taken =
            users::taken(&mut *self.db.acquire().await?, signup.email.as_str(), &signup.username)
                .await?;
        if taken.email {
            return Err(ErrorCode::EXIST_USER_EMAIL.into());
        }
        if taken.username {
            return Err(ErrorCode::EXIST_USER_USERNAME.into());
        }
        let hash = self.hasher.hash(signup.password).await?;
        // The constraints still decide a race between two signups of the same name.
        let mut tx = self.db.begin().await?;
        let user =
            users::insert(&mut tx, &signup.username, signup.email.as_str(), &hash, Role::User)
                .await?;
        tracing::Span::current().record("user.id", user.id);
        outbox::insert(&mut tx, "welcome", serde_json::json!({"userId": user.id})).await?;
        let session = start_session(&mut tx, &self.tokens, user, Uuid::new_v4()).await?;
        tx.commit().await?;
        Ok(session)
    }

    /// Checks the password. Every attempt is counted before the password is looked at, in one
    /// atomic step, so concurrent attempts cannot slip past the limits:
    /// - per client address, `max_attempts_per_ip` per `ip_window` whatever the account;
    /// - per (account, client address), `max_failures` free attempts, then a doubling delay up
    ///   to `delay_max` — wrong passwords from one address never slow the owner at another;
    /// - per account, over addresses that have not signed in to it within 30 days,
    ///   `account_max_failures` free attempts, then a doubling delay up to
    ///   `account_delay_max` (seconds: slows an attacker spread over many addresses, and at
    ///   worst makes the owner wait that long).
    ///
    /// A success clears its (account, address) count and makes the address known.
    #[tracing::instrument(skip_all)]
    pub async fn login(
        &self,
        email: Email,
        password: String,
        client: IpAddr,
    ) -> AppResult<Session> {
        let limits = &self.limits;
        let ip =
            self.redis.count_in_window(&format!("login:ip:{client}"), limits.ip_window).await?;
        if ip.count > u64::from(limits.max_attempts_per_ip) {
            return Err(AppError::RateLimited { retry_after_secs: ip.remaining_ms.div_ceil(1000) });
        }
        // Keyed by a hash so that no email address sits in Redis.
        let account = hex::encode(&tokens::hash_refresh_token(email.as_str())[..16]);
        // One hash tag per account: the gates of one attempt are paced in one script, so on a
        // Redis Cluster they must share a slot.
        let pair_key = format!("login:{{{account}}}:pair:{client}");
        let known_key = format!("login:{{{account}}}:known:{client}");
        let mut gates = vec![Pace {
            key: pair_key.clone(),
            free: limits.max_failures,
            base: DELAY_BASE,
            max: limits.delay_max,
            window: limits.failure_window,
        }];
        if !self.redis.exists(&known_key).await? {
            gates.push(Pace {
                key: format!("login:{{{account}}}:account"),
                free: limits.account_max_failures,
                base: DELAY_BASE,
                max: limits.account_delay_max,
                window: limits.failure_window,
            });
        }
        if let Some(wait_ms) = self.redis.pace(&gates).await? {
            return Err(AppError::RateLimited { retry_after_secs: wait_ms.div_ceil(1000) });
        }

        let user = users::find_by_email(&mut *self.db.acquire().await?, email.as_str()).await?;
        let hash = user.as_ref().map(|u| u.password_hash.clone());
        let matches = self.hasher.verify(password, hash).await?;
        let Some(user) = user.filter(|_| matches) else {
            return Err(ErrorCode::INVALID_CREDENTIALS.into());
        };
        self.redis.delete(&pair_key).await?;
        self.redis.mark(&known_key, KNOWN_ADDRESS_TTL).await?;

        let mut tx = self.db.begin().await?;
        let session = start_session(&mut tx, &self.tokens, user, Uuid::new_v4()).await?;
        tx.commit().await?;
        Ok(session)
    }

    /// Exchanges a refresh token for a new pair. A token that was already used means it
    /// leaked: the whole family is revoked and the caller must sign in again.
    #[tracing::instrument(skip_all)]
    pub async fn refresh(&self, refresh_token: &str) -> AppResult<Session> {
        let hash = tokens::hash_refresh_token(refresh_token);
        let mut tx = self.db.begin().await?;
        let Some(row) = refresh_tokens::find_for_update(&mut tx, &hash).await? else {
            return Err(ErrorCode::INVALID_REFRESH_TOKEN.into());
        };
        if row.used_at.is_some() {
            refresh_tokens::revoke_family(&mut tx, row.family_id).await?;
            tx.commit().await?;
            tracing::warn!(user.id = row.user_id, "refresh token reused; family revoked");
            return Err(ErrorCode::REFRESH_TOKEN_REUSED.into());
        }
        if row.revoked_at.is_some() || row.expires_at <= Utc::now() {
            return Err(ErrorCode::INVALID_REFRESH_TOKEN.into());
        }
        let Some(user) = users::find_by_id(&mut tx, row.user_id).await? else {
            return Err(ErrorCode::INVALID_REFRESH_TOKEN.into());
        };
        refresh_tokens::mark_used(&mut tx, row.id).await?;
        let session = start_session(&mut tx, &self.tokens, user, row.family_id).await?;
        tx.commit().await?;
        Ok(session)
    }

    /// Revokes the given refresh token's family, or every refresh token of the user.
    #[tracing::instrument(skip_all, fields(user.id = user_id))]
    pub async fn logout(&self, user_id: i64, refresh_token: Option<&str>) -> AppResult<()> {
        let mut tx = self.db.begin().await?;
        match refresh_token {
            Some(token) => {
                let hash = tokens::hash_refresh_token(token);
                match refresh_tokens::find_for_update(&mut tx, &hash).await? {
                    Some(row) if row.user_id == user_id => {
                        refresh_tokens::revoke_family(&mut tx, row.family_id).await?;
                    }
                    _ => return Err(ErrorCode::INVALID_REFRESH_TOKEN.into()),
                }
            }
            None => refresh_tokens::revoke_all_for_user(&mut tx, user_id).await?,
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn me(&self, user_id: i64) -> AppResult<User> {
        users::find_by_id(&mut *self.db.acquire().await?, user_id)
            .await?
            .map(User::from)
            .ok_or_else(|| ErrorCode::NOT_FOUND_USER_ID.into())
    }

    /// An admin grants `role` to an account. Issued access tokens keep their role until they
    /// expire; the next refresh reads the new one.
    #[tracing::instrument(skip_all, fields(user.id = user_id, role = role.as_str()))]
    pub async fn set_role(&self, admin_id: i64, user_id: i64, role: Role) -> AppResult<User> {
        if admin_id == user_id {
            return Err(ErrorCode::CANNOT_CHANGE_OWN_ROLE.into());
        }
        users::set_role(&mut *self.db.acquire().await?, user_id, role)
            .await?
            .map(User::from)
            .ok_or_else(|| ErrorCode::NOT_FOUND_USER_ID.into())
    }

    /// The caller proven by an access token, if it is valid.
    pub fn authenticate(&self, access_token: &str) -> Option<Principal> {
        self.tokens.verify(access_token)
    }
}

/// Creates the admin `email` with `password` when there is no admin yet.
pub async fn bootstrap_admin(
    db: &PgPool,
    email: &str,
    password: &SecretString,
) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    // One instance at a time, so two replicas starting together create one admin.
    locks::lock_for_transaction(&mut tx, Chore::BootstrapAdmin).await?;
    if users::admin_exists(&mut tx).await? {
        return Ok(());
    }
    let email = Email::parse(email)
        .ok_or_else(|| anyhow::anyhow!("ADMIN_EMAIL is not an email address"))?;
    let hash = passwords::hash(password.expose_secret().to_owned()).await?;
    if !users::promote_to_admin(&mut tx, email.as_str(), &hash).await? {
        let username = unused_admin_name(&mut tx).await?;
        users::insert(&mut tx, &username, email.as_str(), &hash, Role::Admin).await?;
    }
    tx.commit().await?;
    tracing::info!("bootstrap admin created");
    Ok(())
}

async fn unused_admin_name(conn: &mut PgConnection) -> anyhow::Result<String> {
    for n in 0.. {
        let name = if n == 0 { "admin".to_owned() } else { format!("admin{n}") };
        if !users::username_taken(conn, &name).await? {
            return Ok(name);
        }
    }
    unreachable!("an unused name exists")
}

async fn start_session(
    conn: &mut PgConnection,
    tokens: &Tokens,
    user: UserRow,
    family: Uuid,
) -> AppResult<Session> {
    let tokens::RefreshToken { token: refresh_token, hash } = tokens::new_refresh_token();
    let expires_at = Utc::now() + tokens.refresh_ttl;
    refresh_tokens::insert(conn, user.id, family, &hash, expires_at).await?;
    let access_token = tokens.issue_access(Principal { user_id: user.id, role: user.role })?;
    let expires_in = tokens.access_ttl.as_secs();
    Ok(Session { user: user.into(), access_token, refresh_token, expires_in })
}
