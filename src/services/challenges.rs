//! Bot checks before signup and before joining a waiting room, behind one small trait so that
//! the proof of work here can be swapped for (or joined by) a CAPTCHA provider's check.
//!
//! The proof of work is stateless until it is spent: the challenge carries its own signed
//! terms (purpose, concert, difficulty, expiry), and a spent one is remembered in Redis until
//! it expires.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};

use super::catalog::Catalogs;
use crate::{
    clients::challenges::SpentChallenges,
    domain::challenge::{self, Challenge, ChallengeKey, ChallengePurpose, Requirement},
    error::{AppResult, ErrorCode},
};

/// What a client must do to pass a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// For the proof of work, the signed challenge; for a CAPTCHA provider, its site key.
    pub challenge: String,
    /// How to solve it: `sha256` for the proof of work (a CAPTCHA would name its provider).
    pub algorithm: &'static str,
    /// Leading zero bits the solution's hash needs (0: no check).
    pub difficulty: u8,
    pub expires_at: DateTime<Utc>,
}

/// A way to tell people from bots: it hands out a task, and checks and spends the answer.
/// The proof of work below is one; a CAPTCHA provider (the client shows its widget for the
/// site key returned by `issue`, and `verify` asks the provider's verification endpoint about
/// the token) would be another, selected at start-up.
pub trait BotCheck: Send + Sync {
    /// The task for a request that needs `needed`.
    fn issue(&self, needed: Requirement) -> Issued;
    /// Checks the client's answer (the `X-Challenge` header) against what the request needs,
    /// and spends it: one answer passes one request. A refusal is a 4xx `AppError`.
    fn verify<'a>(&'a self, proof: &'a str, needed: Requirement) -> BoxFuture<'a, AppResult<()>>;
}

/// Hashcash-style proof of work over SHA-256 (`domain::challenge`).
pub struct ProofOfWork {
    key: ChallengeKey,
    ttl: Duration,
    spent: SpentChallenges,
}

impl ProofOfWork {
    /// Challenges signed with a key derived from `secret`, valid for `ttl`.
    pub fn new(secret: &SecretString, ttl: Duration, spent: SpentChallenges) -> Self {
        ProofOfWork { key: ChallengeKey::derive(secret.expose_secret().as_bytes()), ttl, spent }
    }
}

impl BotCheck for ProofOfWork {
    fn issue(&self, needed: Requirement) -> Issued {
        let expires_at = Utc::now() + self.ttl;
        let challenge = Challenge::new(needed, expires_at.timestamp()).sign(&self.key);
        Issued {
            challenge,
            algorithm: challenge::ALGORITHM,
            difficulty: needed.difficulty,
            expires_at: DateTime::from_timestamp(expires_at.timestamp(), 0).unwrap_or(expires_at),
        }
    }

    fn verify<'a>(&'a self, proof: &'a str, needed: Requirement) -> BoxFuture<'a, AppResult<()>> {
        Box::pin(async move {
            let now = Utc::now().timestamp();
            let challenge =
                challenge::check(&self.key, proof, needed, now).map_err(|r| r.code())?;
            // Remembered until it expires; after that the expiry refuses it by itself.
            let ttl = Duration::from_secs((challenge.expires_at - now).max(1) as u64);
            if !self.spent.spend(&challenge.id(), ttl).await? {
                return Err(ErrorCode::CHALLENGE_ALREADY_USED.into());
            }
            Ok(())
        })
    }
}

/// When a bot check is needed, and how hard it is: signup by `SIGNUP_CHALLENGE_DIFFICULTY`,
/// joining a waiting room by the concert's `challengeDifficulty`. 0 means no check.
#[derive(Clone)]
pub struct Challenges {
    check: Arc<dyn BotCheck>,
    catalogs: Arc<Catalogs>,
    signup_difficulty: u8,
}

impl Challenges {
    pub fn new(check: Arc<dyn BotCheck>, catalogs: Arc<Catalogs>, signup_difficulty: u8) -> Self {
        Challenges { check, catalogs, signup_difficulty }
    }

    /// A task for signup, or for joining the concert's waiting room (`concert` is then given).
    pub async fn issue(
        &self,
        purpose: ChallengePurpose,
        concert: Option<i64>,
    ) -> AppResult<Issued> {
        let needed = match (purpose, concert) {
            (ChallengePurpose::Signup, _) => self.signup(),
            (ChallengePurpose::Queue, Some(id)) => {
                let catalog =
                    self.catalogs.current(id).await?.ok_or(ErrorCode::CONCERT_NOT_FOUND)?;
                queue_requirement(id, catalog.concert.challenge_difficulty)
            }
            (ChallengePurpose::Queue, None) => return Err(ErrorCode::BAD_REQUEST.into()),
        };
        Ok(self.check.issue(needed))
    }

    /// Passes when no check is needed, or when `proof` passes it (and is spent).
    pub async fn require(&self, needed: Requirement, proof: Option<&str>) -> AppResult<()> {
        if needed.difficulty == 0 {
            return Ok(());
        }
        let proof = proof.ok_or(ErrorCode::CHALLENGE_REQUIRED)?;
        self.check.verify(proof, needed).await
    }

    /// The check before an account is created.
    pub async fn require_for_signup(&self, proof: Option<&str>) -> AppResult<()> {
        self.require(self.signup(), proof).await
    }

    fn signup(&self) -> Requirement {
        Requirement {
            purpose: ChallengePurpose::Signup,
            concert: None,
            difficulty: self.signup_difficulty,
        }
    }
}

/// What joining the concert's line needs, from its stored difficulty.
pub fn queue_requirement(concert: i64, difficulty: i32) -> Requirement {
    Requirement {
        purpose: ChallengePurpose::Queue,
        concert: Some(concert),
        difficulty: difficulty.clamp(0, i32::from(challenge::MAX_DIFFICULTY)) as u8,
    }
}
