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
/// Bytes a plaintext buffer keeps free in front for [`Sealer::seal_into`]: the format byte and
/// the nonce, written there so the value is sealed where it was encoded.
pub(crate) const HEADROOM: usize = 1 + NONCE_LEN;
/// Associated data up to this length is built on the stack (the default cookie name and a
/// storage key take 78 bytes).
const AAD_INLINE: usize = 128;

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

    /// Calls `f` with the associated data binding a value to the cookie name and the storage
    /// key: label, format, cookie name, storage key.
    fn with_aad<R>(cookie_name: &str, key: &StorageKey, f: impl FnOnce(&[u8]) -> R) -> R {
        let parts: [&[u8]; 5] = [
            AAD_LABEL,
            &[0, FORMAT],
            cookie_name.as_bytes(),
            // Cookie names are tokens and cannot contain NUL, so the encoding is unambiguous.
            &[0],
            key.as_str().as_bytes(),
        ];
        let len = parts.iter().map(|p| p.len()).sum();
        if len <= AAD_INLINE {
            let mut inline = [0u8; AAD_INLINE];
            let mut at = 0;
            for part in parts {
                inline[at..at + part.len()].copy_from_slice(part);
                at += part.len();
            }
            f(&inline[..len])
        } else {
            f(&parts.concat())
        }
    }

    /// An empty plaintext buffer for [`Sealer::seal_into`]: [`HEADROOM`] bytes, then room for
    /// `len` bytes of plaintext and the tag.
    pub(crate) fn buffer(len: usize) -> Vec<u8> {
        let mut buf = Vec::with_capacity(OVERHEAD + len);
        buf.resize(HEADROOM, 0);
        buf
    }

    /// Seals the plaintext `buf[HEADROOM..]` (a [`Sealer::buffer`] the plaintext was written
    /// to) in place under the current key with a fresh random nonce, bound to the cookie name
    /// and the storage key, and appends it to `out` as unpadded base64url:
    /// [`Sealer::sealed_len`] characters.
    pub(crate) fn seal_into(
        &self,
        cookie_name: &str,
        key: &StorageKey,
        mut buf: Vec<u8>,
        out: &mut String,
    ) -> Result<(), DriverError> {
        debug_assert!(buf.len() >= HEADROOM, "a buffer from Sealer::buffer");
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| {
            DriverError::unavailable(DRIVER_NAME, SealFailed("the random source failed"))
        })?;
        buf[0] = FORMAT;
        buf[1..HEADROOM].copy_from_slice(&nonce);
        let tag = Self::with_aad(cookie_name, key, |aad| {
            self.keys[0].seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf[HEADROOM..],
            )
        })
        .map_err(|_| {
            DriverError::unavailable(DRIVER_NAME, SealFailed("AES-256-GCM sealing failed"))
        })?;
        buf.extend_from_slice(tag.as_ref());
        URL_SAFE_NO_PAD.encode_string(&buf, out);
        Ok(())
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
        let mut raw = URL_SAFE_NO_PAD
            .decode(sealed)
            .map_err(|_| OpenError::Encoding)?;
        if raw.len() < OVERHEAD {
            return Err(OpenError::Truncated);
        }
        if raw[0] != FORMAT {
            return Err(OpenError::Format);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&raw[1..HEADROOM]);
        Self::with_aad(cookie_name, key, |aad| {
            let open = |k: &LessSafeKey, buf: &mut [u8]| {
                k.open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), buf)
                    .map(|plain| plain.len())
                    .ok()
            };
            let Some((last, earlier)) = self.keys.split_last() else {
                return Err(OpenError::Authentication);
            };
            // Opening works in place, and a failed attempt leaves the buffer unspecified, so
            // every key but the last gets its own copy of the ciphertext; the last (the only one,
            // without rotation) opens the decoded bytes themselves.
            for (index, k) in earlier.iter().enumerate() {
                let mut copy = raw[HEADROOM..].to_vec();
                if let Some(len) = open(k, &mut copy) {
                    copy.truncate(len);
                    return Ok((copy, index));
                }
            }
            match open(last, &mut raw[HEADROOM..]) {
                Some(len) => {
                    raw.drain(..HEADROOM);
                    raw.truncate(len);
                    Ok((raw, earlier.len()))
                }
                None => Err(OpenError::Authentication),
            }
        })
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

    impl Sealer {
        /// `plaintext` sealed, for tests.
        fn seal(&self, cookie_name: &str, key: &StorageKey, plaintext: &[u8]) -> String {
            let mut buf = Sealer::buffer(plaintext.len());
            buf.extend_from_slice(plaintext);
            let mut out = String::new();
            self.seal_into(cookie_name, key, buf, &mut out)
                .unwrap_or_else(|e| panic!("{e}"));
            out
        }
    }

    const A: &str = "first secret key of thirty-two bytes!!";
    const B: &str = "second secret key of thirty-two bytes!";

    #[test]
    fn sealed_len_is_exact() {
        let s = sealer(&[A]);
        let key = SessionId::generate().storage_key();
        for len in 0..64 {
            let sealed = s.seal("id", &key, &vec![7u8; len]);
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
        let one = s.seal("id", &key, b"hello");
        let two = s.seal("id", &key, b"hello");
        assert_ne!(one, two);
        assert_eq!(s.open("id", &key, &one), Ok((b"hello".to_vec(), 0)));
        assert_eq!(s.open("id", &key, &two), Ok((b"hello".to_vec(), 0)));
    }

    #[test]
    fn a_cookie_name_too_long_for_the_inline_associated_data_binds_too() {
        let s = sealer(&[A]);
        let key = SessionId::generate().storage_key();
        let long = "n".repeat(AAD_INLINE);
        let sealed = s.seal(&long, &key, b"data");
        assert_eq!(s.open(&long, &key, &sealed), Ok((b"data".to_vec(), 0)));
        assert_eq!(
            s.open(&long[1..], &key, &sealed),
            Err(OpenError::Authentication)
        );
        // The two ways of building the associated data give the same bytes.
        let short = s.seal("id", &key, b"data");
        Sealer::with_aad("id", &key, |inline| {
            assert!(inline.len() <= AAD_INLINE);
            let concat = [
                AAD_LABEL,
                &[0, FORMAT],
                b"id",
                &[0],
                key.as_str().as_bytes(),
            ]
            .concat();
            assert_eq!(inline, concat.as_slice());
        });
        assert_eq!(s.open("id", &key, &short), Ok((b"data".to_vec(), 0)));
    }

    #[test]
    fn binding_and_rotation() {
        let old = sealer(&[A]);
        let rotated = sealer(&[B, A]);
        let key = SessionId::generate().storage_key();
        let other = SessionId::generate().storage_key();
        let sealed = old.seal("id", &key, b"x");
        assert_eq!(rotated.open("id", &key, &sealed), Ok((b"x".to_vec(), 1)));
        // The current key opens its own values from a copy, before the older keys are tried.
        let current = rotated.seal("id", &key, b"yz");
        assert_eq!(rotated.open("id", &key, &current), Ok((b"yz".to_vec(), 0)));
        assert_eq!(
            old.open("id", &key, &current),
            Err(OpenError::Authentication)
        );
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
