//! Accounts: signup, login (rate-limited), refresh-token rotation, logout, bootstrap admin.

use std::{net::IpAddr, sync::Arc, time::Duration};

use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{
    passwords,
    tokens::{self, Principal, Tokens},
};
use crate::{
    clients::redis::RedisClient,
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

/// Brute-force limits of sign-in.
#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    /// Failed logins per account before a lock-out, within `failure_window`.
    pub max_failures: u32,
    pub failure_window: Duration,
    /// Attempts per client address within `ip_window`.
    pub max_attempts_per_ip: u32,
    pub ip_window: Duration,
}

/// Accounts and sessions.
#[derive(Clone)]
pub struct Users {
    db: PgPool,
    redis: RedisClient,
    tokens: Arc<Tokens>,
    limits: LoginLimits,
}

impl Users {
    pub fn new(db: PgPool, redis: RedisClient, tokens: Arc<Tokens>, limits: LoginLimits) -> Self {
        Users { db, redis, tokens, limits }
    }

    #[tracing::instrument(skip_all, fields(user.id))]
    pub async fn signup(&self, signup: Signup) -> AppResult<Session> {
        let hash = passwords::hash(signup.password).await?;
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

    /// Checks the password, with brute-force limits per account and per client address.
    #[tracing::instrument(skip_all)]
    pub async fn login(
        &self,
        email: Email,
        password: String,
        client_ip: IpAddr,
    ) -> AppResult<Session> {
        let limits = &self.limits;
        let ip_key = format!("login:ip:{client_ip}");
        let ip = self.redis.count_in_window(&ip_key, limits.ip_window).await?;
        if ip.count > u64::from(limits.max_attempts_per_ip) {
            return Err(AppError::RateLimited { retry_after_secs: ip.remaining_ms.div_ceil(1000) });
        }
        // Keyed by a hash so that no email address sits in Redis.
        let account_key = format!(
            "login:fail:{}",
            hex::encode(&tokens::hash_refresh_token(email.as_str())[..16])
        );
        let failures = self.redis.window_count(&account_key).await?;
        if failures.count >= u64::from(limits.max_failures) {
            let retry_after_secs = failures.remaining_ms.div_ceil(1000);
            return Err(AppError::RateLimited { retry_after_secs });
        }

        let user = users::find_by_email(&mut *self.db.acquire().await?, email.as_str()).await?;
        let hash = user
            .as_ref()
            .map_or_else(|| passwords::dummy_hash().to_owned(), |u| u.password_hash.clone());
        let matches = passwords::verify(password, hash).await?;
        let Some(user) = user.filter(|_| matches) else {
            self.redis.count_in_window(&account_key, limits.failure_window).await?;
            return Err(ErrorCode::INVALID_CREDENTIALS.into());
        };
        self.redis.delete(&account_key).await?;

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
