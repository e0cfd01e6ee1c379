//! Access tokens (HS256 JWT: user id, role, iat, exp) and opaque refresh tokens.

use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::user::Role;

/// Who is calling, as proven by an access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    pub role: Role,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    role: Role,
    iat: i64,
    exp: i64,
}

/// Signs and verifies access tokens; verification needs no database.
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

impl Tokens {
    pub fn new(secret: &SecretString, access_ttl: Duration, refresh_ttl: Duration) -> Self {
        let key = secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        Tokens {
            encoding: EncodingKey::from_secret(key),
            decoding: DecodingKey::from_secret(key),
            validation,
            access_ttl,
            refresh_ttl,
        }
    }

    pub fn issue_access(&self, principal: Principal) -> anyhow::Result<String> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: principal.user_id.to_string(),
            role: principal.role,
            iat: now,
            exp: now + self.access_ttl.as_secs() as i64,
        };
        Ok(jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?)
    }

    /// The principal of a valid, unexpired token; `None` for anything else.
    pub fn verify(&self, token: &str) -> Option<Principal> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        let user_id = data.claims.sub.parse().ok()?;
        Some(Principal { user_id, role: data.claims.role })
    }
}

/// A refresh token: what the client keeps, and the hash the database keeps.
pub struct RefreshToken {
    pub token: String,
    pub hash: Vec<u8>,
}

/// A new random refresh token.
pub fn new_refresh_token() -> RefreshToken {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    let token = hex::encode(bytes);
    let hash = hash_refresh_token(&token);
    RefreshToken { token, hash }
}

pub fn hash_refresh_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(ttl: u64) -> Tokens {
        Tokens::new(
            &SecretString::from("test-secret-test-secret-test-secret!"),
            Duration::from_secs(ttl),
            Duration::from_secs(60),
        )
    }

    #[test]
    fn access_token_round_trips() {
        let t = tokens(60);
        let p = Principal { user_id: 42, role: Role::Admin };
        let jwt = t.issue_access(p).unwrap();
        assert_eq!(t.verify(&jwt), Some(p));
    }

    #[test]
    fn tampered_or_foreign_tokens_are_refused() {
        let t = tokens(60);
        let jwt = t.issue_access(Principal { user_id: 1, role: Role::User }).unwrap();
        let other = Tokens::new(
            &SecretString::from("another-secret-another-secret-another"),
            Duration::from_secs(60),
            Duration::from_secs(60),
        );
        assert_eq!(other.verify(&jwt), None);
        let mut tampered = jwt.clone();
        tampered.pop();
        assert_eq!(t.verify(&tampered), None);
        assert_eq!(t.verify("not.a.jwt"), None);
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let a = new_refresh_token();
        let b = new_refresh_token();
        assert_ne!(a.token, b.token);
        assert_eq!(a.token.len(), 64);
        assert_eq!(hash_refresh_token(&a.token), a.hash);
    }
}
