//! `POST /api/challenge`: a bot check to solve before signup or before joining a waiting room,
//! and the `X-Challenge` header that carries the answer.

use axum::{extract::State, http::request::Parts};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::AppJson;
use crate::{
    domain::{challenge::ChallengePurpose, check::Check, time::serialize_kst},
    error::{AppError, AppResult, ErrorBody, ErrorCode, FieldError, FieldProblem},
    state::AppState,
};

const TAG: &str = "challenge";

/// The header that carries a solved challenge.
pub const HEADER: &str = "x-challenge";
/// The longest `X-Challenge` value accepted (a challenge is about 80 characters).
const MAX_LEN: usize = 200;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeRequest {
    /// What the answer will be spent on.
    #[schema(required = true, value_type = ChallengePurpose)]
    pub purpose: Option<ChallengePurpose>,
    /// The concert whose waiting room to join: required for `QUEUE`, ignored for `SIGNUP`.
    #[schema(value_type = i64, example = 1)]
    #[serde(default, deserialize_with = "super::extract::integer::option")]
    pub concert_id: Option<i64>,
}

/// A proof-of-work challenge: find a `solution` (1 to 32 characters of `[A-Za-z0-9_-]`, e.g. a
/// decimal counter) such that SHA-256 of `<challenge>:<solution>` (UTF-8) starts with
/// `difficulty` zero bits, then send `X-Challenge: <challenge>;<solution>` with the request,
/// before `expiresAt`. One answer passes one request. `difficulty` 0 means the request needs
/// no check right now.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeResponse {
    /// Opaque, signed by the server; binds the purpose, the concert, the difficulty and the
    /// expiry.
    #[schema(example = "v1.QUEUE.1.18.1796000000.q2L0cM1z4q8Kx6Ey.6cVvGvtK2b6nQ2dY1w1h0A")]
    pub challenge: String,
    /// The hash to work with.
    #[schema(example = "sha256")]
    pub algorithm: String,
    /// Leading zero bits the hash needs.
    #[schema(minimum = 0, maximum = 28, example = 18)]
    pub difficulty: u8,
    /// After this the answer is refused (`CHALLENGE_EXPIRED`).
    #[serde(serialize_with = "serialize_kst")]
    pub expires_at: DateTime<Utc>,
}

/// Get a bot check to solve before `POST /api/user/signup` (when `SIGNUP_CHALLENGE_DIFFICULTY`
/// is set) or before joining a waiting room (when the concert's `challengeDifficulty` is set).
/// Anonymous and cheap: nothing is stored until an answer is spent.
#[utoipa::path(post, path = "/api/challenge", tag = TAG, request_body = ChallengeRequest,
    responses(
        (status = 200, description = "A challenge to solve", body = ChallengeResponse),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 404, description = "`CONCERT_NOT_FOUND`", body = ErrorBody),
        (status = 422, description = "`CHALLENGE_CONCERT_REQUIRED`: `QUEUE` without a `concertId`", body = ErrorBody),
    ))]
pub async fn create_challenge(
    State(state): State<AppState>,
    AppJson(req): AppJson<ChallengeRequest>,
) -> AppResult<AppJson<ChallengeResponse>> {
    let mut check = Check::new();
    let purpose = check.required("purpose", req.purpose);
    let purpose = check.build(|| purpose)?;
    // The document cannot say "required for QUEUE" as a shape, so it is a rule: 422.
    let concert = match (purpose, req.concert_id) {
        (ChallengePurpose::Queue, None) => {
            let missing = FieldError::new("concertId", FieldProblem::Required);
            return Err(AppError::Invalid(ErrorCode::CHALLENGE_CONCERT_REQUIRED, vec![missing]));
        }
        (ChallengePurpose::Queue, concert) => concert,
        (_, _) => None,
    };
    let issued = state.challenges.issue(purpose, concert).await?;
    Ok(AppJson(ChallengeResponse {
        challenge: issued.challenge,
        algorithm: issued.algorithm.to_owned(),
        difficulty: issued.difficulty,
        expires_at: issued.expires_at,
    }))
}

/// The answer to a bot check, when the request carries one.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct ChallengeProof {
    /// A solved challenge from `POST /api/challenge`: `<challenge>;<solution>`. Needed only
    /// when the bot check is on (otherwise ignored); spent by the request.
    #[serde(rename = "X-Challenge")]
    #[param(rename = "X-Challenge", max_length = 200)]
    pub x_challenge: Option<String>,
}

impl ChallengeProof {
    pub fn as_deref(&self) -> Option<&str> {
        self.x_challenge.as_deref()
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ChallengeProof {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        // A value that is not visible ASCII cannot be a solved challenge: kept as an empty
        // answer, which the check refuses (when there is a check).
        let x_challenge =
            parts.headers.get(HEADER).map(|v| v.to_str().map(str::to_owned).unwrap_or_default());
        // The header is held to its documented shape whether or not a check is on.
        if x_challenge.as_ref().is_some_and(|v| v.chars().count() > MAX_LEN) {
            let problem = FieldProblem::Length { min: 0, max: MAX_LEN };
            return Err(AppError::field("X-Challenge", problem));
        }
        Ok(ChallengeProof { x_challenge })
    }
}
