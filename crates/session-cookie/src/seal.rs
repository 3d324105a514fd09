//! AES-256-GCM sealing of record bytes, bound to the cookie name and the storage key.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use session_core::{DerivedKey, DriverError, StorageKey};

use crate::DRIVER_NAME;

/// The first byte of every sealed value. A future layout gets a new number, so an old cookie is
/// recognised (and read as no session) instead of being misparsed.
const FORMAT: u8 = 1;
/// Length of the AES-GCM tag.
const TAG_LEN: usize = 16;
/// Format byte, nonce and tag around the ciphertext.
pub(crate) const OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;
/// Domain separation for the associated data.
const AAD_LABEL: &[u8] = b"session-cookie sealed record v1";

/// Why a sealed value did not open. Logged, never shown to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// Not base64url.
    Encoding,
    /// Shorter than the fixed overhead.
    Truncated,
    /// A format byte this version does not know.
    Format,
    /// No configured key opens it with this cookie name and storage key: tampered, truncated,
    /// sealed under an unknown key, or moved from another session or cookie name.
    Authentication,
}

impl OpenError {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            OpenError::Encoding => "not base64url",
            OpenError::Truncated => "shorter than the sealing overhead",
            OpenError::Format => "unknown sealed format",
            OpenError::Authentication => {
                "does not open with any configured key for this session and cookie name"
            }
        }
    }
}

/// A sealing failure (ring reports no detail). Only a broken random source or an absurdly
/// large record can cause one.
#[derive(Debug)]
struct SealFailed(&'static str);

impl fmt::Display for SealFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for SealFailed {}

/// The AES-256-GCM keys, current first, and the nonce source.
pub(crate) struct Sealer {
    keys: Vec<LessSafeKey>,
    rng: SystemRandom,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Key material is never printed, not even its length beyond the count.
        f.debug_struct("Sealer")
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl Sealer {
    /// Sealing keys from keys derived for the cookie driver's purpose, current first.
    pub(crate) fn new(keys: &[DerivedKey]) -> Self {
        let keys = keys
            .iter()
            .map(|k| {
                // A 32-byte key is always valid for AES-256-GCM.
                #[allow(clippy::expect_used)]
                let unbound =
                    UnboundKey::new(&AES_256_GCM, k.as_bytes()).expect("32-byte AES-256 key");
                LessSafeKey::new(unbound)
            })
            .collect();
        Self {
            keys,
            rng: SystemRandom::new(),
        }
    }

    /// The length of [`Sealer::seal`]'s output for a plaintext of `len` bytes, known before
    /// anything is encrypted.
    pub(crate) fn sealed_len(len: usize) -> usize {
        let raw = OVERHEAD + len;
        // Unpadded base64: four characters per three bytes, rounded up.
        (raw * 4).div_ceil(3)
    }

    fn aad(cookie_name: &str, key: &StorageKey) -> Vec<u8> {
        let mut aad = Vec::with_capacity(AAD_LABEL.len() + cookie_name.len() + 46);
        aad.extend_from_slice(AAD_LABEL);
        aad.push(0);
        aad.push(FORMAT);
        aad.extend_from_slice(cookie_name.as_bytes());
        // Cookie names are tokens and cannot contain NUL, so the encoding is unambiguous.
        aad.push(0);
        aad.extend_from_slice(key.as_str().as_bytes());
        aad
    }

    /// Seals `plaintext` under the current key with a fresh random nonce, bound to the cookie
    /// name and the storage key, as unpadded base64url.
    pub(crate) fn seal(
        &self,
        cookie_name: &str,
        key: &StorageKey,
        plaintext: &[u8],
    ) -> Result<String, DriverError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| {
            DriverError::unavailable(DRIVER_NAME, SealFailed("the random source failed"))
        })?;
        let mut out = Vec::with_capacity(OVERHEAD + plaintext.len());
        out.push(FORMAT);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let aad = Self::aad(cookie_name, key);
        let tag = self.keys[0]
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut out[1 + NONCE_LEN..],
            )
            .map_err(|_| {
                DriverError::unavailable(DRIVER_NAME, SealFailed("AES-256-GCM sealing failed"))
            })?;
        out.extend_from_slice(tag.as_ref());
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens a sealed value, returning the plaintext and the index of the key that opened it
    /// (0 is the current key). The caller has already bounded `sealed`'s length.
    pub(crate) fn open(
        &self,
        cookie_name: &str,
        key: &StorageKey,
        sealed: &str,
    ) -> Result<(Vec<u8>, usize), OpenError> {
        if sealed.len() < Self::sealed_len(0) {
            return Err(OpenError::Truncated);
        }
        let raw = URL_SAFE_NO_PAD
            .decode(sealed)
            .map_err(|_| OpenError::Encoding)?;
        if raw.len() < OVERHEAD {
            return Err(OpenError::Truncated);
        }
        if raw[0] != FORMAT {
            return Err(OpenError::Format);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&raw[1..1 + NONCE_LEN]);
        let aad = Self::aad(cookie_name, key);
        for (index, k) in self.keys.iter().enumerate() {
            // Opening works in place, and a failed attempt leaves the buffer unspecified, so every
            // key gets its own copy of the ciphertext.
            let mut buf = raw[1 + NONCE_LEN..].to_vec();
            if let Ok(plain) = k.open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad.as_slice()),
                &mut buf,
            ) {
                let len = plain.len();
                buf.truncate(len);
                return Ok((buf, index));
            }
        }
        Err(OpenError::Authentication)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use session_core::{SecretKey, SessionId};

    fn sealer(secrets: &[&str]) -> Sealer {
        let keys: Vec<DerivedKey> = secrets
            .iter()
            .map(|s| {
                SecretKey::new(s)
                    .map(|k| k.derive("test"))
                    .unwrap_or_else(|e| panic!("{e}"))
            })
            .collect();
        Sealer::new(&keys)
    }

    const A: &str = "first secret key of thirty-two bytes!!";
    const B: &str = "second secret key of thirty-two bytes!";

    #[test]
    fn sealed_len_is_exact() {
        let s = sealer(&[A]);
        let key = SessionId::generate().storage_key();
        for len in 0..64 {
            let sealed = s.seal("id", &key, &vec![7u8; len]).unwrap_or_default();
            assert_eq!(
                sealed.len(),
                Sealer::sealed_len(len),
                "plaintext length {len}"
            );
        }
    }

    #[test]
    fn nonces_differ_and_both_open() {
        let s = sealer(&[A]);
        let key = SessionId::generate().storage_key();
        let one = s.seal("id", &key, b"hello").unwrap_or_default();
        let two = s.seal("id", &key, b"hello").unwrap_or_default();
        assert_ne!(one, two);
        assert_eq!(s.open("id", &key, &one), Ok((b"hello".to_vec(), 0)));
        assert_eq!(s.open("id", &key, &two), Ok((b"hello".to_vec(), 0)));
    }

    #[test]
    fn binding_and_rotation() {
        let old = sealer(&[A]);
        let rotated = sealer(&[B, A]);
        let key = SessionId::generate().storage_key();
        let other = SessionId::generate().storage_key();
        let sealed = old.seal("id", &key, b"x").unwrap_or_default();
        assert_eq!(rotated.open("id", &key, &sealed), Ok((b"x".to_vec(), 1)));
        assert_eq!(
            old.open("id", &other, &sealed),
            Err(OpenError::Authentication)
        );
        assert_eq!(
            old.open("sid", &key, &sealed),
            Err(OpenError::Authentication)
        );
        assert_eq!(
            sealer(&[B]).open("id", &key, &sealed),
            Err(OpenError::Authentication)
        );
    }
}
