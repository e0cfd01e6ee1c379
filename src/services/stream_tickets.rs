//! Stream tickets: short-lived, stream-only credentials for the event streams whose URLs
//! proxies log (`EventSource` cannot send an `Authorization` header). A waiting-room ticket
//! names one user and one concert and is good only to open that concert's stream for that
//! user; a waitlist ticket names one user and opens only that user's waitlist stream. Both
//! last `QUEUE_STREAM_TICKET_TTL_SECS`.
//!
//! A ticket is an HS256 JWT with the stream's audience (`queue-stream` with the concert in
//! `cid`, or `waitlist-stream` without one), signed with a key derived from `JWT_SECRET` for
//! that stream alone. So an access token is never a ticket, a ticket is never an access token,
//! and a ticket of one stream never opens the other: each fails the others' signature check
//! (and the audience check on top). Tickets are not stored: verification needs no Redis or
//! database, and a ticket may be used again within its short life, so that the browser's
//! automatic reconnect (same URL) works; once it has expired the app asks for a new one.

use std::time::Duration;

use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The audience of waiting-room tickets.
const QUEUE_AUDIENCE: &str = "queue-stream";
/// What the waiting-room signing key is derived for (changing it invalidates every ticket).
const QUEUE_KEY_PURPOSE: &[u8] = b"ticketing/queue-stream-ticket/v1";
/// The audience of waitlist tickets.
const WAITLIST_AUDIENCE: &str = "waitlist-stream";
/// What the waitlist signing key is derived for.
const WAITLIST_KEY_PURPOSE: &[u8] = b"ticketing/waitlist-stream-ticket/v1";

#[derive(Debug, Serialize, Deserialize)]
struct TicketClaims {
    /// The user.
    sub: String,
    /// The concert whose stream the ticket opens (waiting-room tickets only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cid: Option<i64>,
    aud: String,
    iat: i64,
    exp: i64,
}

/// Issues and checks stream tickets.
pub struct StreamTickets {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    audience: &'static str,
    /// How long a ticket is good for.
    pub ttl: Duration,
}

impl StreamTickets {
    /// Tickets for the waiting-room streams (one user, one concert).
    pub fn new(jwt_secret: &SecretString, ttl: Duration) -> Self {
        Self::with_purpose(jwt_secret, ttl, QUEUE_AUDIENCE, QUEUE_KEY_PURPOSE)
    }

    /// Tickets for the waitlist streams (one user's own).
    pub fn for_waitlist(jwt_secret: &SecretString, ttl: Duration) -> Self {
        Self::with_purpose(jwt_secret, ttl, WAITLIST_AUDIENCE, WAITLIST_KEY_PURPOSE)
    }

    fn with_purpose(
        jwt_secret: &SecretString,
        ttl: Duration,
        audience: &'static str,
        purpose: &[u8],
    ) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(jwt_secret.expose_secret().as_bytes())
            .expect("HMAC takes any key length");
        mac.update(purpose);
        let key = mac.finalize().into_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        // The lifetime is short; the default minute of leeway would be most of it.
        validation.leeway = 0;
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "sub", "aud", "iat"]);
        StreamTickets {
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
            validation,
            audience,
            ttl,
        }
    }

    /// A ticket for `user` to open `concert`'s stream.
    pub fn issue(&self, user: i64, concert: i64) -> anyhow::Result<String> {
        self.issue_claims(user, Some(concert))
    }

    /// A ticket for `user` to open their own stream (of no concert).
    pub fn issue_for_user(&self, user: i64) -> anyhow::Result<String> {
        self.issue_claims(user, None)
    }

    fn issue_claims(&self, user: i64, concert: Option<i64>) -> anyhow::Result<String> {
        let now = Utc::now().timestamp();
        let claims = TicketClaims {
            sub: user.to_string(),
            cid: concert,
            aud: self.audience.to_owned(),
            iat: now,
            exp: now + self.ttl.as_secs() as i64,
        };
        Ok(jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?)
    }

    /// The user a valid, unexpired ticket for `concert` names; `None` for anything else (a
    /// forged or expired ticket, one for another concert, an access token).
    pub fn verify(&self, ticket: &str, concert: i64) -> Option<i64> {
        self.verify_claims(ticket, Some(concert))
    }

    /// The user a valid, unexpired ticket of their own stream names; `None` for anything else.
    pub fn verify_for_user(&self, ticket: &str) -> Option<i64> {
        self.verify_claims(ticket, None)
    }

    fn verify_claims(&self, ticket: &str, concert: Option<i64>) -> Option<i64> {
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
    fn waitlist_and_waiting_room_tickets_open_only_their_own_stream() {
        let queue = tickets();
        let waitlist =
            StreamTickets::for_waitlist(&SecretString::from(SECRET), Duration::from_secs(60));
        let own = waitlist.issue_for_user(7).unwrap();
        assert_eq!(waitlist.verify_for_user(&own), Some(7));
        assert_eq!(queue.verify_for_user(&own), None, "a waitlist ticket is not a queue ticket");
        let concert = queue.issue(7, 100).unwrap();
        assert_eq!(waitlist.verify_for_user(&concert), None, "nor the other way round");
        assert_eq!(queue.verify(&concert, 100), Some(7));
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
