//! Secrets at rest: sealed with ChaCha20-Poly1305 under a key from the environment, bound to
//! what they belong to (the associated data), so a sealed value copied onto another row fails
//! to open.
//!
//! Layout: nonce (12 random bytes) ‖ ciphertext ‖ tag (16 bytes).

use chacha20poly1305::{
    ChaCha20Poly1305, Key, KeyInit, Nonce,
    aead::{Aead, Payload},
};

const NONCE_LEN: usize = 12;

/// Seals `plaintext` under `key`, bound to `context`.
pub fn seal(key: &[u8; 32], context: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = ChaCha20Poly1305::new(&Key::from(*key));
    let mut nonce = [0u8; NONCE_LEN];
    rand::fill(&mut nonce);
    let sealed = cipher
        .encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad: context })
        .expect("ChaCha20-Poly1305 seals any length we use");
    [nonce.as_slice(), &sealed].concat()
}

/// Opens what [`seal`] sealed under the same key and context; `None` if either differs or the
/// bytes were changed.
pub fn open(key: &[u8; 32], context: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE_LEN {
        return None;
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
    ChaCha20Poly1305::new(&Key::from(*key))
        .decrypt(&Nonce::from(nonce), Payload { msg: body, aad: context })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_opens_only_with_its_key_and_context() {
        let key = [1u8; 32];
        let sealed = seal(&key, b"concert 1", b"private seed");
        assert_ne!(&sealed[NONCE_LEN..NONCE_LEN + 12], b"private seed".as_slice());
        assert_eq!(open(&key, b"concert 1", &sealed).as_deref(), Some(b"private seed".as_slice()));
        assert_eq!(open(&[2u8; 32], b"concert 1", &sealed), None);
        assert_eq!(open(&key, b"concert 2", &sealed), None);
        let mut flipped = sealed.clone();
        flipped[NONCE_LEN] ^= 1;
        assert_eq!(open(&key, b"concert 1", &flipped), None);
        assert_eq!(open(&key, b"concert 1", &sealed[..5]), None);
    }
}
