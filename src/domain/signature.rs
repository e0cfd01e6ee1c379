//! Webhook signatures: `X-Payment-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
//! "<t>.<raw body>")>`, several `v1=` allowed (the provider signs with each of its current
//! secrets while it rotates them).

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// How far a signature's timestamp may be from now.
pub const TOLERANCE_SECS: i64 = 300;

type HmacSha256 = Hmac<Sha256>;

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    Missing,
    Malformed,
    Stale,
    Mismatch,
}

/// The header value for `body` signed at `t` with `secret`.
pub fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", hex::encode(mac(secret, t, body)))
}

fn mac(secret: &[u8], t: i64, body: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// At most this many `v1=` candidates are looked at; a header with more is malformed (a
/// provider signs with each of its few current secrets, never with thousands).
pub const MAX_CANDIDATES: usize = 8;

/// Checks the header against every secret. The body is hashed once per secret, whatever the
/// header holds; each candidate then costs one constant-time comparison (the MAC's last step).
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[&[u8]],
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut t = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = Some(v.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            Some(("v1", v)) => {
                if candidates.len() == MAX_CANDIDATES {
                    return Err(SignatureError::Malformed);
                }
                candidates.push(hex::decode(v).map_err(|_| SignatureError::Malformed)?)
            }
            Some(_) => {} // other schemes are ignored, as providers add them over time
            None => return Err(SignatureError::Malformed),
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    // `abs_diff` cannot overflow, whatever `t` is.
    if now.abs_diff(t) > TOLERANCE_SECS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    for secret in secrets {
        let mut keyed = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
        keyed.update(t.to_string().as_bytes());
        keyed.update(b".");
        keyed.update(body);
        if candidates.iter().any(|candidate| keyed.clone().verify_slice(candidate).is_ok()) {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The signature printed in docs/PAYMENTS.md.
    const DOCUMENTED: &str = "dade67185f8f7e73a929fd5dc9f580a05f96d0730ad55898f9f0c8b65a383e9a";

    const BODY: &[u8] = br#"{"eventId":"evt_1","transactionId":"tx_0123456789abcdef0123456789abcdef","status":"SUCCESS","amount":150000,"currency":"KRW","occurredAt":"2026-11-25T12:00:00Z"}"#;

    /// The worked example of docs/PAYMENTS.md; if this fails, the document is wrong.
    #[test]
    fn documented_example() {
        let header = sign(b"whsec_example", 1_764_072_000, BODY);
        assert_eq!(header, format!("t=1764072000,v1={DOCUMENTED}"));
        assert_eq!(verify(Some(&header), BODY, &[b"whsec_example"], 1_764_072_000), Ok(()));
    }

    #[test]
    fn any_current_secret_and_any_v1_may_match() {
        let header = sign(b"new", 100, BODY);
        assert_eq!(verify(Some(&header), BODY, &[b"old", b"new"], 100), Ok(()));
        let both = format!(
            "{},v1={}",
            sign(b"old", 100, BODY),
            sign(b"new", 100, BODY).split_once("v1=").unwrap().1
        );
        assert_eq!(verify(Some(&both), BODY, &[b"new"], 100), Ok(()));
        assert_eq!(verify(Some(&header), BODY, &[b"old"], 100), Err(SignatureError::Mismatch));
    }

    #[test]
    fn stale_tampered_and_malformed_are_refused() {
        let header = sign(b"s", 1000, BODY);
        assert_eq!(verify(Some(&header), BODY, &[b"s"], 1000 + 301), Err(SignatureError::Stale));
        assert_eq!(verify(Some(&header), BODY, &[b"s"], 1000 - 301), Err(SignatureError::Stale));
        assert_eq!(verify(Some(&header), b"{}", &[b"s"], 1000), Err(SignatureError::Mismatch));
        assert_eq!(verify(None, BODY, &[b"s"], 1000), Err(SignatureError::Missing));
        assert_eq!(verify(Some("t=1000"), BODY, &[b"s"], 1000), Err(SignatureError::Malformed));
        assert_eq!(
            verify(Some("v1=zz,t=1000"), BODY, &[b"s"], 1000),
            Err(SignatureError::Malformed)
        );
        assert_eq!(verify(Some("garbage"), BODY, &[b"s"], 1000), Err(SignatureError::Malformed));
        // The farthest timestamps are stale, not an overflow.
        for t in [i64::MIN, i64::MAX] {
            let header = format!("t={t},v1=00");
            assert_eq!(verify(Some(&header), BODY, &[b"s"], 1000), Err(SignatureError::Stale));
        }
    }

    #[test]
    fn a_few_candidates_are_looked_at_and_a_flood_is_malformed() {
        let good = sign(b"s", 100, BODY);
        let wrong = format!(",v1={}", "ab".repeat(32));
        // The right one among as many as allowed passes.
        let header = format!("{good}{}", wrong.repeat(MAX_CANDIDATES - 1));
        assert_eq!(verify(Some(&header), BODY, &[b"s"], 100), Ok(()));
        // One more is refused before any MAC is computed (3,000 once took 4 s of CPU).
        let header = format!("{good}{}", wrong.repeat(MAX_CANDIDATES));
        assert_eq!(verify(Some(&header), BODY, &[b"s"], 100), Err(SignatureError::Malformed));
        let flood = format!("t=100{}", wrong.repeat(3_000));
        assert_eq!(verify(Some(&flood), BODY, &[b"s"], 100), Err(SignatureError::Malformed));
    }
}
