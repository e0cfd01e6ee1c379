//! `/api/user`: signup, login, refresh, logout, me.

use axum::{extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    challenges::ChallengeProof,
    extract::{AppJson, AuthUser, ClientIp},
};
use crate::{
    domain::{
        check::Check,
        time::serialize_kst,
        user::{self, Role, User},
    },
    error::{AppResult, ErrorBody, FieldProblem},
    services::users::{Session, Signup},
    state::AppState,
};

const TAG: &str = "user";

#[derive(Debug, Deserialize, ToSchema)]
pub struct SignupRequest {
    /// 2 to 20 characters.
    #[schema(required = true, value_type = String, min_length = 2, max_length = 20, example = "홍길동")]
    pub username: Option<String>,
    #[schema(required = true, value_type = String, format = Email, example = "fan@example.com")]
    pub email: Option<String>,
    /// 8 to 100 characters.
    #[schema(required = true, value_type = String, min_length = 8, max_length = 100, example = "password123")]
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(required = true, value_type = String, example = "fan@example.com")]
    pub email: Option<String>,
    #[schema(required = true, value_type = String, example = "password123")]
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRequest {
    #[schema(required = true, value_type = String)]
    pub refresh_token: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogoutRequest {
    /// The refresh token to revoke (with its family); without it, every session of the user ends.
    pub refresh_token: Option<String>,
}

/// A signed-in session, as the original's `UserResponse` plus the refresh token.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthResponse {
    /// Access token (JWT) for `Authorization: Bearer …`.
    pub token: String,
    #[serde(rename = "type")]
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    pub email: String,
    pub username: String,
    pub role: Role,
    /// Opaque token for `POST /api/user/refresh`; single use.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

impl From<Session> for AuthResponse {
    fn from(s: Session) -> Self {
        AuthResponse {
            token: s.access_token,
            token_type: "Bearer",
            email: s.user.email,
            username: s.user.username,
            role: s.user.role,
            refresh_token: s.refresh_token,
            expires_in: s.expires_in,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileResponse {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub role: Role,
    #[serde(serialize_with = "serialize_kst")]
    pub created_at: DateTime<Utc>,
}

impl From<User> for ProfileResponse {
    fn from(u: User) -> Self {
        ProfileResponse {
            id: u.id,
            username: u.username,
            email: u.email,
            role: u.role,
            created_at: u.created_at,
        }
    }
}

/// Create an account and sign in. When `SIGNUP_CHALLENGE_DIFFICULTY` is above 0, the request
/// carries a solved challenge (`POST /api/challenge` with purpose `SIGNUP`) in `X-Challenge`.
#[utoipa::path(post, path = "/api/user/signup", tag = TAG, request_body = SignupRequest,
    params(ChallengeProof),
    responses(
        (status = 201, description = "Account created", body = AuthResponse),
        (status = 400, description = "Invalid fields (`BAD_REQUEST`, with `fields`)", body = ErrorBody),
        (status = 403, description = "`CHALLENGE_INVALID` or `CHALLENGE_EXPIRED`: the bot check's answer was refused; get a new challenge", body = ErrorBody),
        (status = 409, description = "`EXIST_USER_EMAIL` or `EXIST_USER_USERNAME` (checked before the password is hashed), or `CHALLENGE_ALREADY_USED`", body = ErrorBody),
        (status = 428, description = "`CHALLENGE_REQUIRED`: signup asks for a bot check and `X-Challenge` is missing", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED`: too many signups from this client address (`SIGNUP_MAX_PER_IP`)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`SERVICE_UNAVAILABLE`: every password-hashing slot is busy; try again", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn sign_up(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    proof: ChallengeProof,
    AppJson(req): AppJson<SignupRequest>,
) -> AppResult<(StatusCode, AppJson<AuthResponse>)> {
    let mut check = Check::new();
    let (min, max) = user::USERNAME_LEN;
    let username = check.name("username", req.username, min, max);
    let email = user::check_email(&mut check, "email", req.email);
    let password = user::check_password(&mut check, "password", req.password);
    let signup =
        check.build(|| Some(Signup { username: username?, email: email?, password: password? }))?;
    // Before any hashing: a bot pays for every account it tries.
    state.challenges.require_for_signup(proof.as_deref()).await?;
    let session = state.users.signup(signup, client).await?;
    Ok((StatusCode::CREATED, AppJson(session.into())))
}

/// Sign in with email and password.
#[utoipa::path(post, path = "/api/user/login", tag = TAG, request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = AuthResponse),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 401, description = "`INVALID_CREDENTIALS`", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED`: too many attempts from this client address, or for this account from it (a doubling delay, never a lock-out); see `Retry-After`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`SERVICE_UNAVAILABLE`: every password-hashing slot is busy; try again", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn log_in(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AppJson(req): AppJson<LoginRequest>,
) -> AppResult<AppJson<AuthResponse>> {
    let mut check = Check::new();
    let email = user::check_email(&mut check, "email", req.email);
    // Not trimmed: the password is compared exactly as it was set.
    let password = match req.password {
        None => {
            check.fail("password", FieldProblem::Required);
            None
        }
        Some(p) if p.is_empty() || p.chars().count() > user::PASSWORD_LEN.1 => {
            check.fail("password", FieldProblem::Length { min: 1, max: user::PASSWORD_LEN.1 });
            None
        }
        Some(p) => Some(p),
    };
    let (email, password) = check.build(|| Some((email?, password?)))?;
    let session = state.users.login(email, password, ip).await?;
    Ok(AppJson(session.into()))
}

/// Exchange a refresh token for a new token pair (the old refresh token stops working).
#[utoipa::path(post, path = "/api/user/refresh", tag = TAG, request_body = RefreshRequest,
    responses(
        (status = 200, description = "New token pair", body = AuthResponse),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 401, description = "`INVALID_REFRESH_TOKEN`, or `REFRESH_TOKEN_REUSED` (the token's family is revoked)", body = ErrorBody),
    ))]
pub async fn refresh_token(
    State(state): State<AppState>,
    AppJson(req): AppJson<RefreshRequest>,
) -> AppResult<AppJson<AuthResponse>> {
    let mut check = Check::new();
    let token = check.text("refreshToken", req.refresh_token, 1, 200);
    let token = check.build(|| token)?;
    let session = state.users.refresh(&token).await?;
    Ok(AppJson(session.into()))
}

/// Sign out: revoke a refresh token (or all of the user's).
#[utoipa::path(post, path = "/api/user/logout", tag = TAG, request_body(content = Option<LogoutRequest>),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "`UNAUTHORIZED`, `INVALID_TOKEN`, or `INVALID_REFRESH_TOKEN`", body = ErrorBody),
    ))]
pub async fn log_out(
    State(state): State<AppState>,
    AuthUser(principal): AuthUser,
    body: axum::body::Bytes,
) -> AppResult<StatusCode> {
    // The body is optional: empty means "every session".
    let req: LogoutRequest = if body.iter().all(u8::is_ascii_whitespace) {
        LogoutRequest::default()
    } else {
        super::extract::parse_json::<Option<LogoutRequest>>(&body)?.unwrap_or_default()
    };
    state.users.logout(principal.user_id, req.refresh_token.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user's profile.
#[utoipa::path(get, path = "/api/user/me", tag = TAG, security(("bearer" = [])),
    responses(
        (status = 200, description = "Profile", body = ProfileResponse),
        (status = 401, description = "`UNAUTHORIZED` or `INVALID_TOKEN`", body = ErrorBody),
    ))]
pub async fn get_me(
    State(state): State<AppState>,
    AuthUser(principal): AuthUser,
) -> AppResult<AppJson<ProfileResponse>> {
    Ok(AppJson(state.users.me(principal.user_id).await?.into()))
}
