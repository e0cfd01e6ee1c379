//! Stream tickets: short-lived, stream-only credentials for the waiting-room stream, whose
//! URL proxies log (`EventSource` cannot send an `Authorization` header). A ticket names one
//! user and one concert and is good only to open that concert's stream for that user, for
//! `QUEUE_STREAM_TICKET_TTL_SECS`.
//!
//! A ticket is an HS256 JWT with the audience `queue-stream` and the concert in `cid`, signed
//! with a key derived from `JWT_SECRET` for this purpose alone. So an access token is never a
//! ticket and a ticket is never an access token: each fails the other's signature check (and
//! the audience check on top). Tickets are not stored: verification needs no Redis or
//! database, and a ticket may be used again within its short life, so that the browser's
//! automatic reconnect (same URL) works; once it has expired the app asks for a new one.

use std::time::Duration;

use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The audience of every ticket: the waiting-room stream.
const AUDIENCE: &str = "queue-stream";
/// What the signing key is derived for (changing it invalidates every ticket).
const KEY_PURPOSE: &[u8] = b"ticketing/queue-stream-ticket/v1";

#[derive(Debug, Serialize, Deserialize)]
struct TicketClaims {
    /// The user.
    sub: String,
    /// The concert whose stream the ticket opens.
    cid: i64,
    aud: String,
    iat: i64,
    exp: i64,
}

/// Issues and checks stream tickets.
pub struct StreamTickets {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// How long a ticket is good for.
    pub ttl: Duration,
}

impl StreamTickets {
    pub fn new(jwt_secret: &SecretString, ttl: Duration) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(jwt_secret.expose_secret().as_bytes())
            .expect("HMAC takes any key length");
        mac.update(KEY_PURPOSE);
        let key = mac.finalize().into_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        // The lifetime is short; the default minute of leeway would be most of it.
        validation.leeway = 0;
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "aud", "iat"]);
        StreamTickets {
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
            validation,
            ttl,
        }
    }

    /// A ticket for `user` to open `concert`'s stream.
    pub fn issue(&self, user: i64, concert: i64) -> anyhow::Result<String> {
        let now = Utc::now().timestamp();
        let claims = TicketClaims {
            sub: user.to_string(),
            cid: concert,
            aud: AUDIENCE.to_owned(),
            iat: now,
            exp: now + self.ttl.as_secs() as i64,
        };
        Ok(jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?)
    }

    /// The user a valid, unexpired ticket for `concert` names; `None` for anything else (a
    /// forged or expired ticket, one for another concert, an access token).
    pub fn verify(&self, ticket: &str, concert: i64) -> Option<i64> {
        let data =
            jsonwebtoken::decode::<TicketClaims>(ticket, &self.decoding, &self.validation).ok()?;
        (data.claims.cid == concert).then_some(())?;
        data.claims.sub.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        domain::user::Role,
        services::tokens::{Principal, Tokens},
    };

    const SECRET: &str = "test-secret-test-secret-test-secret!";

    fn tickets() -> StreamTickets {
        StreamTickets::new(&SecretString::from(SECRET), Duration::from_secs(60))
    }

    fn tokens() -> Tokens {
        Tokens::new(&SecretString::from(SECRET), Duration::from_secs(60), Duration::from_secs(60))
    }

    #[test]
    fn a_ticket_names_its_user_for_its_concert_only() {
        let t = tickets();
        let ticket = t.issue(7, 100).unwrap();
        assert_eq!(t.verify(&ticket, 100), Some(7));
        assert_eq!(t.verify(&ticket, 101), None, "another concert");
        let mut forged = ticket.clone();
        forged.pop();
        assert_eq!(t.verify(&forged, 100), None, "tampered");
        let other = StreamTickets::new(
            &SecretString::from("another-secret-another-secret-another"),
            Duration::from_secs(60),
        );
        assert_eq!(other.verify(&ticket, 100), None, "another key");
    }

    #[test]
    fn access_tokens_and_tickets_are_not_interchangeable() {
        let (t, tokens) = (tickets(), tokens());
        let access = tokens.issue_access(Principal { user_id: 7, role: Role::User }).unwrap();
        assert_eq!(t.verify(&access, 100), None, "an access token is not a ticket");
        let ticket = t.issue(7, 100).unwrap();
        assert_eq!(tokens.verify(&ticket), None, "a ticket is not an access token");
    }
}
