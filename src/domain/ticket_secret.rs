//! A ticket's secret: what its QR code carries, verifiable offline with the concert's public
//! key alone.
//!
//! Version 1, 105 bytes before encoding, written as base64url without padding (140 characters,
//! which fits a version-7 QR code at error correction M):
//!
//! ```text
//! 0x01 ‖ ticket id (u64, big-endian) ‖ concert id (u64 BE) ‖ seat id (u64 BE) ‖ seed (16 bytes)
//!      ‖ Ed25519 signature over the 41 bytes before it (64 bytes)
//! ```
//!
//! The random seed makes a re-issued ticket for the same seat a different secret. The key that
//! signed it is found by concert; `key_id` names a public key the way scanners list them.
//! `docs/ticket-secret-vector.json` holds a test vector for other implementations.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

/// The layout's version byte.
pub const VERSION: u8 = 1;
/// Signed bytes: version, three ids, seed.
pub const SIGNED_LEN: usize = 1 + 8 + 8 + 8 + 16;
/// Signed bytes and signature.
pub const LEN: usize = SIGNED_LEN + 64;
/// Characters of an encoded secret.
pub const ENCODED_LEN: usize = 140;

/// What a secret says about its ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claims {
    pub ticket_id: i64,
    pub concert_id: i64,
    pub seat_id: i64,
    pub seed: [u8; 16],
}

/// Why a secret is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("not a ticket secret")]
    Malformed,
    #[error("unknown secret version {0}")]
    UnknownVersion(u8),
    #[error("bad signature")]
    BadSignature,
}

impl Claims {
    /// A fresh seed for a ticket.
    pub fn new(ticket_id: i64, concert_id: i64, seat_id: i64) -> Claims {
        let mut seed = [0u8; 16];
        rand::fill(&mut seed);
        Claims { ticket_id, concert_id, seat_id, seed }
    }

    fn signed_bytes(&self) -> [u8; SIGNED_LEN] {
        let mut out = [0u8; SIGNED_LEN];
        out[0] = VERSION;
        out[1..9].copy_from_slice(&(self.ticket_id as u64).to_be_bytes());
        out[9..17].copy_from_slice(&(self.concert_id as u64).to_be_bytes());
        out[17..25].copy_from_slice(&(self.seat_id as u64).to_be_bytes());
        out[25..41].copy_from_slice(&self.seed);
        out
    }

    /// The secret, signed with the concert's key.
    pub fn sign(&self, key: &SigningKey) -> String {
        let signed = self.signed_bytes();
        let signature = key.sign(&signed);
        let mut bytes = [0u8; LEN];
        bytes[..SIGNED_LEN].copy_from_slice(&signed);
        bytes[SIGNED_LEN..].copy_from_slice(&signature.to_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }
}

/// Reads a secret's claims without checking its signature (to find which key to check it
/// with). Never trust the result before [`verify`].
pub fn decode_unverified(secret: &str) -> Result<Claims, SecretError> {
    decode(secret).map(|(claims, _, _)| claims)
}

fn decode(secret: &str) -> Result<(Claims, [u8; SIGNED_LEN], Signature), SecretError> {
    if secret.len() != ENCODED_LEN {
        return Err(SecretError::Malformed);
    }
    let bytes = URL_SAFE_NO_PAD.decode(secret).map_err(|_| SecretError::Malformed)?;
    let bytes: [u8; LEN] = bytes.try_into().map_err(|_| SecretError::Malformed)?;
    if bytes[0] != VERSION {
        return Err(SecretError::UnknownVersion(bytes[0]));
    }
    let id = |at: usize| {
        let n = u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        i64::try_from(n).map_err(|_| SecretError::Malformed)
    };
    let claims = Claims {
        ticket_id: id(1)?,
        concert_id: id(9)?,
        seat_id: id(17)?,
        seed: bytes[25..41].try_into().expect("16 bytes"),
    };
    let signed: [u8; SIGNED_LEN] = bytes[..SIGNED_LEN].try_into().expect("41 bytes");
    let signature = Signature::from_bytes(&bytes[SIGNED_LEN..].try_into().expect("64 bytes"));
    Ok((claims, signed, signature))
}

/// The secret's claims, if `key` signed it.
pub fn verify(secret: &str, key: &VerifyingKey) -> Result<Claims, SecretError> {
    let (claims, signed, signature) = decode(secret)?;
    key.verify(&signed, &signature).map_err(|_| SecretError::BadSignature)?;
    Ok(claims)
}

/// How scanners name a public key: the first 8 bytes of its SHA-256, in hex.
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

/// A new signing key from the system's random source.
pub fn generate_key() -> SigningKey {
    let mut seed = [0u8; 32];
    rand::fill(&mut seed);
    SigningKey::from_bytes(&seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed_key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    #[test]
    fn a_secret_is_140_characters_and_verifies_with_the_public_key_only() {
        let key = fixed_key();
        let claims = Claims::new(42, 7, 1_000_001);
        let secret = claims.sign(&key);
        assert_eq!(secret.len(), ENCODED_LEN);
        assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(verify(&secret, &key.verifying_key()), Ok(claims));
        assert_eq!(decode_unverified(&secret), Ok(claims));
    }

    #[test]
    fn another_key_a_flipped_bit_or_a_truncation_is_refused() {
        let claims = Claims::new(1, 2, 3);
        let secret = claims.sign(&fixed_key());
        let other = SigningKey::from_bytes(&[8u8; 32]).verifying_key();
        assert_eq!(verify(&secret, &other), Err(SecretError::BadSignature));

        let mut bytes = URL_SAFE_NO_PAD.decode(&secret).unwrap();
        bytes[5] ^= 1; // the ticket id
        let tampered = URL_SAFE_NO_PAD.encode(&bytes);
        assert_eq!(verify(&tampered, &fixed_key().verifying_key()), Err(SecretError::BadSignature));

        assert_eq!(verify(&secret[..139], &other), Err(SecretError::Malformed));
        assert_eq!(verify("not a secret", &other), Err(SecretError::Malformed));
        bytes[0] = 2;
        let v2 = URL_SAFE_NO_PAD.encode(&bytes);
        assert_eq!(decode_unverified(&v2), Err(SecretError::UnknownVersion(2)));
    }

    #[test]
    fn two_tickets_for_one_seat_have_different_secrets() {
        let key = fixed_key();
        assert_ne!(Claims::new(1, 2, 3).sign(&key), Claims::new(1, 2, 3).sign(&key));
    }

    /// The committed vector other implementations (the browser's scanner) test against.
    #[test]
    fn the_committed_test_vector_still_holds() {
        let text = include_str!("../../docs/ticket-secret-vector.json");
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        let seed: [u8; 32] =
            hex::decode(v["privateKeySeedHex"].as_str().unwrap()).unwrap().try_into().unwrap();
        let key = SigningKey::from_bytes(&seed);
        let public = hex::decode(v["publicKeyHex"].as_str().unwrap()).unwrap();
        assert_eq!(key.verifying_key().as_bytes().as_slice(), public.as_slice());
        assert_eq!(key_id(&key.verifying_key()), v["keyId"].as_str().unwrap());
        let claims = Claims {
            ticket_id: v["ticketId"].as_i64().unwrap(),
            concert_id: v["concertId"].as_i64().unwrap(),
            seat_id: v["seatId"].as_i64().unwrap(),
            seed: hex::decode(v["seedHex"].as_str().unwrap()).unwrap().try_into().unwrap(),
        };
        // Ed25519 signatures are deterministic: the same key and bytes give the same secret.
        assert_eq!(claims.sign(&key), v["secret"].as_str().unwrap());
        assert_eq!(verify(v["secret"].as_str().unwrap(), &key.verifying_key()), Ok(claims));
    }
}
