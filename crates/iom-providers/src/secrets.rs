//! Secrets at rest and signatures on the wire.
//!
//! Connection secrets (API tokens, webhook secrets) are sealed with XChaCha20-Poly1305 under a
//! 256-bit key derived from the operator's master key. The 24-byte nonce is random per value,
//! which XChaCha's nonce size makes safe without a counter; the provider's name is bound in as
//! associated data, so a sealed value copied into another instance's row does not open.
//!
//! Signatures are HMAC-SHA256: Shopify's (base64 of the raw body's MAC) is checked, iom's own
//! (`X-IOM-Signature: sha256=HEX`) is written on every webhook iom sends. Comparisons run in
//! constant time so that a forger learns nothing from response times.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use thiserror::Error;

type HmacSha256 = Hmac<Sha256>;

/// Prefix of a sealed value: the format can change later without guessing.
const SEALED_V1: &str = "v1:";
const NONCE: usize = 24;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("the sealed value is not in a known format")]
    Format,
    #[error("the sealed value does not open with this master key (was IOM_MASTER_KEY changed?)")]
    WrongKey,
}

/// The key that seals connection secrets.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

impl MasterKey {
    /// Derives the sealing key from the operator's master key (any string; a long random one is
    /// expected). HMAC with a fixed label is an HKDF-extract: the key is uniform whatever the
    /// input looks like, and a key for another purpose derived from the same secret differs.
    pub fn derive(master: &str) -> MasterKey {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(b"iom connection secrets v1")
            .expect("any key size");
        mac.update(master.as_bytes());
        MasterKey(mac.finalize().into_bytes().into())
    }

    pub fn from_bytes(bytes: [u8; 32]) -> MasterKey {
        MasterKey(bytes)
    }

    /// A new random key (for a key file).
    pub fn generate() -> MasterKey {
        MasterKey(rand::random())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> Option<MasterKey> {
        let bytes = hex::decode(text.trim()).ok()?;
        Some(MasterKey(bytes.try_into().ok()?))
    }

    /// Seals `plaintext`, bound to `context` (the provider's name).
    pub fn seal(&self, plaintext: &[u8], context: &str) -> String {
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let nonce: [u8; NONCE] = rand::random();
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .expect("encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(NONCE + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        format!("{SEALED_V1}{}", BASE64.encode(out))
    }

    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, SecretError> {
        let body = sealed.strip_prefix(SEALED_V1).ok_or(SecretError::Format)?;
        let bytes = BASE64.decode(body).map_err(|_| SecretError::Format)?;
        if bytes.len() < NONCE {
            return Err(SecretError::Format);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE);
        XChaCha20Poly1305::new((&self.0).into())
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SecretError::WrongKey)
    }
}

pub fn hmac_sha256(key: &[u8], body: &[u8]) -> [u8; 32] {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("any key size");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// Checks Shopify's `X-Shopify-Hmac-Sha256` header against the raw body.
pub fn verify_shopify(secret: &str, body: &[u8], header: &str) -> bool {
    let Ok(given) = BASE64.decode(header.trim()) else {
        return false;
    };
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret.as_bytes()).expect("any key size");
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&given).is_ok()
}

/// Shopify's header value for `body`: what a test or a replay tool sends.
pub fn shopify_signature(secret: &str, body: &[u8]) -> String {
    BASE64.encode(hmac_sha256(secret.as_bytes(), body))
}

/// iom's `X-IOM-Signature` value: `sha256=` and the hex HMAC-SHA256 of the body.
pub fn iom_signature(secret: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(hmac_sha256(secret.as_bytes(), body))
    )
}

/// Equality that takes the same time wherever the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Checks EasyPost's `X-Hmac-Signature` (`hmac-sha256-hex=HEX`): the HMAC-SHA256 of the raw body
/// keyed with the webhook secret in Unicode normal form NFKD, as EasyPost's client libraries
/// compute it, so a secret typed with composed accents verifies as EasyPost signed it.
pub fn verify_easypost(secret: &str, body: &[u8], header: &str) -> bool {
    let Some(given) = header
        .trim()
        .strip_prefix("hmac-sha256-hex=")
        .and_then(|h| hex::decode(h).ok())
    else {
        return false;
    };
    let mut mac =
        <HmacSha256 as Mac>::new_from_slice(easypost_key(secret).as_bytes()).expect("any key size");
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// EasyPost's header value for `body`: what a test or a replay tool sends.
pub fn easypost_signature(secret: &str, body: &[u8]) -> String {
    format!(
        "hmac-sha256-hex={}",
        hex::encode(hmac_sha256(easypost_key(secret).as_bytes(), body))
    )
}

fn easypost_key(secret: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    secret.nfkd().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let key = MasterKey::derive("correct horse");
        let sealed = key.seal(b"shpss_123", "shop-us");
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("shpss_123"));
        assert_eq!(key.open(&sealed, "shop-us").unwrap(), b"shpss_123");
        assert_eq!(key.open(&sealed, "shop-eu"), Err(SecretError::WrongKey));
        let other = MasterKey::derive("battery staple");
        assert_eq!(other.open(&sealed, "shop-us"), Err(SecretError::WrongKey));
        assert_eq!(key.open("plain", "shop-us"), Err(SecretError::Format));
        // A fresh nonce each time.
        assert_ne!(key.seal(b"x", "a"), key.seal(b"x", "a"));
        let round = MasterKey::from_hex(&key.to_hex()).unwrap();
        assert_eq!(round.open(&sealed, "shop-us").unwrap(), b"shpss_123");
    }

    #[test]
    fn signatures() {
        // RFC 4231 test case 2.
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let sig = shopify_signature("s3cret", b"{}");
        assert!(verify_shopify("s3cret", b"{}", &sig));
        assert!(!verify_shopify("s3cret", b"{ }", &sig));
        assert!(!verify_shopify("other", b"{}", &sig));
        assert!(!verify_shopify("s3cret", b"{}", "not base64!"));
        assert_eq!(
            iom_signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
