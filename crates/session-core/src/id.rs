//! Session ids, storage keys, secret keys and the signed id cookie value.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};
use ring::{digest, hkdf, hmac};

use crate::error::ConfigError;

/// Random bytes in a session id: 256 bits.
const ID_BYTES: usize = 32;
/// Length of a base64url-encoded 32-byte value without padding.
pub(crate) const ENCODED_LEN: usize = 43;
/// Bytes of the SHA-256 digest a storage key keeps: 128 bits, so that no two of a billion
/// sessions share a key (a collision among `n` keys has a chance near `n² / 2¹²⁹`) and finding an
/// id for a given key takes 2¹²⁸ tries.
const KEY_BYTES: usize = 16;
/// Length of a storage key: base64url of [`KEY_BYTES`] bytes without padding.
pub(crate) const KEY_LEN: usize = 22;
/// Length of the stamp in an id cookie value: seconds since the Unix epoch, 8 hex digits.
const STAMP_LEN: usize = 8;
/// Length of a signed id cookie value: the id, the kind's separator, the stamp, a dot, the MAC.
pub(crate) const SIGNED_LEN: usize = 2 * ENCODED_LEN + STAMP_LEN + 2;
/// Length of an id cookie value of 0.1 and the first 0.2 builds: the id, the separator, the
/// MAC, no stamp. Still verified, as a stamp of 0, so it is refreshed (and so re-signed) at once.
const UNSTAMPED_LEN: usize = 2 * ENCODED_LEN + 1;

/// A session id: 256 bits from the operating system's CSPRNG (`ring::rand::SystemRandom`),
/// base64url-encoded.
///
/// The id is a bearer credential. It only ever travels signed, inside the id cookie; drivers get a
/// [`StorageKey`] derived from it instead. `Debug` prints a redacted form so an id never reaches a
/// log by accident.
///
/// ```
/// use session_core::SessionId;
///
/// let id = SessionId::generate();
/// assert_eq!(id.expose().len(), 43);
/// assert!(!format!("{id:?}").contains(id.expose()));
/// assert_ne!(id.storage_key(), SessionId::generate().storage_key());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SessionId(String);

impl SessionId {
    /// Generates a new id.
    ///
    /// # Panics
    ///
    /// Panics if the operating system's random source fails, which ring documents as not
    /// happening on supported platforms; continuing without randomness would be worse.
    ///
    /// ```
    /// use session_core::SessionId;
    ///
    /// let a = SessionId::generate();
    /// let b = SessionId::generate();
    /// assert_ne!(a, b);
    /// assert_eq!(a.expose().len(), 43);
    /// ```
    pub fn generate() -> Self {
        let mut bytes = [0u8; ID_BYTES];
        #[allow(clippy::expect_used)]
        SystemRandom::new()
            .fill(&mut bytes)
            .expect("the operating system's random source failed");
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Accepts a string only if it has the exact shape of a generated id.
    ///
    /// ```
    /// use session_core::SessionId;
    ///
    /// let id = SessionId::generate();
    /// assert_eq!(SessionId::parse(id.expose()), Some(id));
    /// assert_eq!(SessionId::parse("guessable"), None);
    /// ```
    pub fn parse(s: &str) -> Option<Self> {
        let well_formed = s.len() == ENCODED_LEN
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            // The last character of 32 bytes in base64 carries 4 padding bits that must be
            // zero; checking it keeps one value from having two spellings.
            && decode_32(s).is_some();
        well_formed.then(|| Self(s.to_owned()))
    }

    /// The id itself. Handle with care: whoever has it has the session.
    ///
    /// ```
    /// use session_core::SessionId;
    ///
    /// let id = SessionId::generate();
    /// assert!(id.expose().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    /// ```
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The id of a cookie value that verified before (see `verified.rs`).
    pub(crate) fn verified(id: &str) -> Self {
        Self(id.to_owned())
    }

    /// The key under which drivers store this session: base64url of SHA-256 of the id.
    ///
    /// ```
    /// use session_core::SessionId;
    ///
    /// let id = SessionId::generate();
    /// assert_eq!(id.storage_key(), id.clone().storage_key()); // the same id, the same key
    /// assert_ne!(id.storage_key().as_str(), id.expose()); // but not the id itself
    /// ```
    pub fn storage_key(&self) -> StorageKey {
        let hash = digest::digest(&digest::SHA256, self.0.as_bytes());
        StorageKey(URL_SAFE_NO_PAD.encode(&hash.as_ref()[..KEY_BYTES]))
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(<redacted>)")
    }
}

/// The name under which a driver stores a session: base64url of the first 128 bits of SHA-256 of
/// the session id (22 characters: a 43-character digest cost every Redis key and memory entry 21
/// bytes for nothing, 128 bits already keeping keys apart and ids secret).
///
/// It can only hold 22 characters of `[A-Za-z0-9_-]`, so it is always safe as a file name or a
/// database key suffix, and a dump of the storage does not hand out live session ids. Logging it is
/// fine (prefer [`StorageKey::short`]).
///
/// ```
/// use session_core::StorageKey;
///
/// assert!(StorageKey::parse("../../etc/passwd").is_none());
/// let key = session_core::SessionId::generate().storage_key();
/// assert_eq!(StorageKey::parse(key.as_str()), Some(key.clone()));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorageKey(String);

impl StorageKey {
    /// Accepts a string only if it has the exact shape of a derived key.
    ///
    /// ```
    /// use session_core::{SessionId, StorageKey};
    ///
    /// let key = SessionId::generate().storage_key();
    /// assert_eq!(StorageKey::parse(&key.to_string()), Some(key));
    /// assert_eq!(StorageKey::parse("sessions/../secret"), None);
    /// ```
    pub fn parse(s: &str) -> Option<Self> {
        let well_formed = s.len() == KEY_LEN
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            // The last character of 16 bytes in base64 carries 4 padding bits that must be
            // zero; checking it keeps one value from having two spellings.
            && URL_SAFE_NO_PAD
                .decode(s)
                .is_ok_and(|b| b.len() == KEY_BYTES);
        well_formed.then(|| Self(s.to_owned()))
    }

    /// A key derived before and kept (see `verified.rs`).
    pub(crate) fn derived(key: &str) -> Self {
        Self(key.to_owned())
    }

    /// The key under which a tag's "valid from" time is kept for a client-side driver (see
    /// `tags.rs`): the same shape as a session's key, from SHA-256 of the tag with a prefix no
    /// session id has, so it never meets a session's key and does not show the tag.
    pub(crate) fn for_tag(tag: &str) -> Self {
        let mut context = digest::Context::new(&digest::SHA256);
        context.update(b"session tag\0");
        context.update(tag.as_bytes());
        Self(URL_SAFE_NO_PAD.encode(&context.finish().as_ref()[..KEY_BYTES]))
    }

    /// The key as text (22 characters of `[A-Za-z0-9_-]`).
    ///
    /// ```
    /// use session_core::SessionId;
    ///
    /// let key = SessionId::generate().storage_key();
    /// let file_name = format!("{}.json", key.as_str());
    /// assert_eq!(file_name.len(), 22 + 5);
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first eight characters, for log lines.
    ///
    /// ```
    /// use session_core::SessionId;
    ///
    /// let key = SessionId::generate().storage_key();
    /// assert_eq!(key.short().len(), 8);
    /// assert!(key.as_str().starts_with(key.short()));
    /// ```
    pub fn short(&self) -> &str {
        &self.0[..8]
    }

    /// An index in `0..slots`, for a fixed-size table of sessions a driver keeps in memory, or
    /// for spreading sessions over shards or connections: eight of the key's characters,
    /// Fibonacci-hashed. A storage key is a SHA-256 digest of a generated id, so the indexes
    /// are uniformly distributed, for any `slots`, and no client chooses them; 0 and 1 give 0.
    ///
    /// ```
    /// use session_core::SessionId;
    ///
    /// let key = SessionId::generate().storage_key();
    /// assert!(key.slot(4096) < 4096);
    /// assert!(key.slot(3) < 3);
    /// assert_eq!(key.slot(4096), key.slot(4096));
    /// assert_eq!(key.slot(1), 0);
    /// ```
    pub fn slot(&self, slots: usize) -> usize {
        let mut word = [0u8; 8];
        word.copy_from_slice(&self.0.as_bytes()[8..16]);
        // The top bits of the product are the well-mixed ones; scaling the product to `slots`
        // (its high word of `hash * slots`) takes as many of them as `slots` needs, evenly for
        // any count (for a power of two, exactly its top bits).
        let hash = u64::from_le_bytes(word).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        ((u128::from(hash) * slots as u128) >> 64) as usize
    }
}

impl fmt::Debug for StorageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StorageKey({}…)", self.short())
    }
}

impl fmt::Display for StorageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Decodes 43 base64url characters into 32 bytes, on the stack.
fn decode_32(s: &str) -> Option<[u8; ID_BYTES]> {
    // `decode_slice` wants room for its estimate of the output, which rounds up.
    let mut buf = [0u8; ID_BYTES + 3];
    let n = URL_SAFE_NO_PAD.decode_slice(s, &mut buf).ok()?;
    let mut out = [0u8; ID_BYTES];
    out.copy_from_slice(buf.get(..n).filter(|b| b.len() == ID_BYTES)?);
    Some(out)
}

/// Minimum length of a secret key in bytes.
///
/// ```
/// use session_core::{SecretKey, MIN_SECRET_LEN};
///
/// assert_eq!(MIN_SECRET_LEN, 32);
/// assert!(SecretKey::new(vec![7u8; MIN_SECRET_LEN]).is_ok());
/// assert!(SecretKey::new(vec![7u8; MIN_SECRET_LEN - 1]).is_err());
/// ```
pub const MIN_SECRET_LEN: usize = 32;

/// A secret key given by the application (for example `APP_KEY`). At least 32 bytes.
///
/// Secret keys are never printed: `Debug` shows only that a key is there.
///
/// ```
/// use session_core::SecretKey;
///
/// let key = SecretKey::new("a secret of at least thirty-two bytes!!").unwrap();
/// assert_eq!(format!("{key:?}"), "SecretKey(<redacted>)");
/// assert!(SecretKey::new("short").is_err());
/// ```
#[derive(Clone)]
pub struct SecretKey(Vec<u8>);

impl SecretKey {
    /// Accepts a secret of at least [`MIN_SECRET_LEN`] bytes.
    ///
    /// ```
    /// use session_core::SecretKey;
    ///
    /// assert!(SecretKey::new("a secret of at least thirty-two bytes!!").is_ok());
    /// let err = SecretKey::new("too short").unwrap_err();
    /// assert_eq!(err.option(), "keys");
    /// ```
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let secret = secret.as_ref();
        if secret.len() < MIN_SECRET_LEN {
            return Err(ConfigError::new(
                "keys",
                format!(
                    "a secret key must be at least {MIN_SECRET_LEN} bytes long (got {})",
                    secret.len()
                ),
            ));
        }
        Ok(Self(secret.to_vec()))
    }

    /// A new random 32-byte key, base64url-encoded, suitable for `APP_KEY`.
    ///
    /// # Panics
    ///
    /// Panics if the operating system's random source fails.
    ///
    /// ```
    /// use session_core::SecretKey;
    ///
    /// let app_key = SecretKey::generate_encoded();
    /// assert_eq!(app_key.len(), 43);
    /// assert!(SecretKey::new(&app_key).is_ok());
    /// ```
    pub fn generate_encoded() -> String {
        let mut bytes = [0u8; 32];
        #[allow(clippy::expect_used)]
        SystemRandom::new()
            .fill(&mut bytes)
            .expect("the operating system's random source failed");
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Derives a 32-byte key for one purpose (HKDF-SHA256), so the id cookie signature and the
    /// cookie driver's encryption never share key material.
    ///
    /// ```
    /// use session_core::SecretKey;
    ///
    /// let key = SecretKey::new("a secret of at least thirty-two bytes!!").unwrap();
    /// assert_eq!(key.derive("signing").as_bytes(), key.derive("signing").as_bytes());
    /// assert_ne!(key.derive("signing").as_bytes(), key.derive("encryption").as_bytes());
    /// ```
    pub fn derive(&self, purpose: &str) -> DerivedKey {
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"session-core v1");
        let prk = salt.extract(&self.0);
        let info = [purpose.as_bytes()];
        let mut out = [0u8; 32];
        // `expand` and `fill` fail only when the requested length exceeds 255 hash lengths.
        #[allow(clippy::expect_used)]
        prk.expand(&info, Len32)
            .and_then(|okm| okm.fill(&mut out))
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        DerivedKey(out)
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

struct Len32;

impl hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

/// A 32-byte key derived from a [`SecretKey`] for one purpose. Never printed.
///
/// ```
/// use session_core::SecretKey;
///
/// let derived = SecretKey::new([9u8; 32]).unwrap().derive("cookie-encryption");
/// assert_eq!(derived.as_bytes().len(), 32);
/// assert_eq!(format!("{derived:?}"), "DerivedKey(<redacted>)");
/// ```
#[derive(Clone)]
pub struct DerivedKey([u8; 32]);

impl DerivedKey {
    /// The key bytes, for building a cipher or MAC key.
    ///
    /// ```
    /// use session_core::SecretKey;
    ///
    /// let derived = SecretKey::new([9u8; 32]).unwrap().derive("cookie-encryption");
    /// let bytes: &[u8; 32] = derived.as_bytes();
    /// assert_ne!(bytes, &[9u8; 32]); // never the secret itself
    /// ```
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for DerivedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DerivedKey(<redacted>)")
    }
}

/// One or more secret keys. The first signs and encrypts; every key verifies and decrypts, so a
/// key can be rotated without logging everyone out: put the new key first, keep the old one
/// second until the sessions it signed have expired.
///
/// ```
/// use session_core::{KeyRing, SecretKey};
///
/// let old = SecretKey::new([1u8; 32]).unwrap();
/// let new = SecretKey::new([2u8; 32]).unwrap();
/// let before = KeyRing::new(vec![old.clone()]).unwrap();
/// let after = KeyRing::new(vec![new, old]).unwrap();
///
/// let signed = before.id_signer("sid").sign(&session_core::SessionId::generate());
/// assert!(after.id_signer("sid").verify(&signed).is_some());
/// ```
#[derive(Clone, Debug)]
pub struct KeyRing {
    keys: Vec<SecretKey>,
}

impl KeyRing {
    /// A key ring; at least one key is required.
    ///
    /// ```
    /// use session_core::{KeyRing, SecretKey};
    ///
    /// assert!(KeyRing::new(vec![SecretKey::new([1u8; 32]).unwrap()]).is_ok());
    /// assert_eq!(KeyRing::new(Vec::new()).unwrap_err().option(), "keys");
    /// ```
    pub fn new(keys: Vec<SecretKey>) -> Result<Self, ConfigError> {
        if keys.is_empty() {
            return Err(ConfigError::new(
                "keys",
                "at least one secret key is required: set APP_KEY to 32 or more random bytes, \
                 such as the output of `openssl rand -base64 32`",
            ));
        }
        Ok(Self { keys })
    }

    /// The keys, current first.
    ///
    /// ```
    /// use session_core::{KeyRing, SecretKey};
    ///
    /// let ring = KeyRing::new(vec![SecretKey::new([2u8; 32]).unwrap(), SecretKey::new([1u8; 32]).unwrap()]).unwrap();
    /// assert_eq!(ring.keys().len(), 2);
    /// ```
    pub fn keys(&self) -> &[SecretKey] {
        &self.keys
    }

    /// Keys derived for `purpose`, current first.
    ///
    /// ```
    /// use session_core::{KeyRing, SecretKey};
    ///
    /// let new = SecretKey::new([2u8; 32]).unwrap();
    /// let old = SecretKey::new([1u8; 32]).unwrap();
    /// let ring = KeyRing::new(vec![new.clone(), old]).unwrap();
    /// let derived = ring.derive("encryption");
    /// assert_eq!(derived.len(), 2);
    /// assert_eq!(derived[0].as_bytes(), new.derive("encryption").as_bytes()); // current first
    /// ```
    pub fn derive(&self, purpose: &str) -> Vec<DerivedKey> {
        self.keys.iter().map(|k| k.derive(purpose)).collect()
    }

    /// The signer of id cookie values, bound to the cookie's name.
    ///
    /// ```
    /// use session_core::{KeyRing, SecretKey, SessionId};
    ///
    /// let ring = KeyRing::new(vec![SecretKey::new([1u8; 32]).unwrap()]).unwrap();
    /// let value = ring.id_signer("id").sign(&SessionId::generate());
    /// assert!(ring.id_signer("id").verify(&value).is_some());
    /// assert!(ring.id_signer("other").verify(&value).is_none()); // bound to the cookie name
    /// ```
    pub fn id_signer(&self, cookie_name: &str) -> IdSigner {
        IdSigner {
            keys: self
                .derive("id-cookie-signature")
                .iter()
                .map(|k| hmac::Key::new(hmac::HMAC_SHA256, k.as_bytes()))
                .collect(),
            cookie_name: cookie_name.to_owned(),
        }
    }
}

/// What an id cookie says of its id (signed with it, so a client cannot change it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdKind {
    /// The id may hold a session: without a live record it is never adopted again (its
    /// session was destroyed or expired).
    Stored = 0,
    /// The id never stored anything: it keeps serving its visitor while the session is empty,
    /// and data is stored under a new id.
    Empty = 1,
}

impl IdKind {
    fn separator(self) -> char {
        match self {
            IdKind::Stored => '.',
            IdKind::Empty => '~',
        }
    }
}

/// What a verified id cookie says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignedId {
    pub(crate) id: SessionId,
    pub(crate) kind: IdKind,
    /// When the cookie was set (and the session's expiry last refreshed), in seconds since the
    /// Unix epoch; 0 for a value without a stamp.
    pub(crate) stamp: u64,
    /// The MAC is the current key's: signing the same id, kind and stamp again gives the value.
    pub(crate) current: bool,
}

/// Signs and verifies id cookie values (`<id>.<stamp>.<HMAC-SHA256 tag>`), bound to one cookie
/// name. The stamp (seconds since the Unix epoch, in hex) says when the cookie was set, so a
/// request can tell without a storage call whether the session's expiry needs refreshing.
///
/// Verification tries every key of the ring with ring's constant-time `hmac::verify`.
///
/// ```
/// use session_core::{KeyRing, SecretKey, SessionId};
///
/// let signer = KeyRing::new(vec![SecretKey::new([1u8; 32]).unwrap()]).unwrap().id_signer("id");
/// let id = SessionId::generate();
/// let value = signer.sign(&id);
/// assert_eq!(signer.verify(&value), Some(id));
///
/// let mut forged = value.clone();
/// forged.replace_range(..1, if value.starts_with('A') { "B" } else { "A" });
/// assert_eq!(signer.verify(&forged), None);
/// ```
pub struct IdSigner {
    keys: Vec<hmac::Key>,
    cookie_name: String,
}

impl fmt::Debug for IdSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdSigner")
            .field("cookie_name", &self.cookie_name)
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl IdSigner {
    /// Runs `f` on the signed message: the cookie name, a byte for the kind (0: an id that may
    /// hold a session, 1: an id that never stored anything), the stamp's hex digits (none in an
    /// unstamped value), the id. It is built on the stack (cookie names are short in practice),
    /// so verifying a cookie allocates nothing.
    fn with_message<R>(
        &self,
        id: &str,
        kind: IdKind,
        stamp: &str,
        f: impl FnOnce(&[u8]) -> R,
    ) -> R {
        let name = self.cookie_name.as_bytes();
        let len = name.len() + 1 + stamp.len() + id.len();
        let mut buf = [0u8; 192];
        let mut heap = Vec::new();
        let msg = match buf.get_mut(..len) {
            Some(msg) => msg,
            None => {
                heap.resize(len, 0);
                &mut heap[..]
            }
        };
        let (head, rest) = msg.split_at_mut(name.len());
        head.copy_from_slice(name);
        rest[0] = kind as u8;
        rest[1..=stamp.len()].copy_from_slice(stamp.as_bytes());
        rest[1 + stamp.len()..].copy_from_slice(id.as_bytes());
        f(msg)
    }

    /// The cookie value for `id`, signed with the current key, stamped with the system clock.
    ///
    /// ```
    /// use session_core::{KeyRing, SecretKey, SessionId};
    ///
    /// let signer = KeyRing::new(vec![SecretKey::new([1u8; 32]).unwrap()]).unwrap().id_signer("id");
    /// let id = SessionId::generate();
    /// let value = signer.sign(&id);
    /// let (sent_id, rest) = value.split_once('.').unwrap();
    /// assert_eq!(sent_id, id.expose());
    /// let (stamp, tag) = rest.split_once('.').unwrap();
    /// assert_eq!((stamp.len(), tag.len()), (8, 43));
    /// ```
    pub fn sign(&self, id: &SessionId) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.sign_as(id, IdKind::Stored, now)
    }

    /// The cookie value for `id` of `kind` set at `stamp` (seconds): `<id>.<stamp>.<mac>` for an
    /// id that may hold a session, `<id>~<stamp>.<mac>` for one that never stored anything (the
    /// kind and the stamp are signed too).
    pub(crate) fn sign_as(&self, id: &SessionId, kind: IdKind, stamp: u64) -> String {
        // Eight hex digits hold seconds until the year 2106.
        let stamp = format!("{:08x}", stamp.min(u64::from(u32::MAX)));
        let tag = self.with_message(id.expose(), kind, &stamp, |msg| {
            hmac::sign(&self.keys[0], msg)
        });
        let mut out = String::with_capacity(SIGNED_LEN);
        out.push_str(id.expose());
        out.push(kind.separator());
        out.push_str(&stamp);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(tag.as_ref(), &mut out);
        out
    }

    /// The id inside a cookie value, if its signature verifies under any key of the ring.
    ///
    /// ```
    /// use session_core::{KeyRing, SecretKey, SessionId};
    ///
    /// let signer = KeyRing::new(vec![SecretKey::new([1u8; 32]).unwrap()]).unwrap().id_signer("id");
    /// let id = SessionId::generate();
    /// assert_eq!(signer.verify(&signer.sign(&id)), Some(id.clone()));
    /// assert_eq!(signer.verify(id.expose()), None); // an unsigned id
    /// assert_eq!(signer.verify("garbage"), None);
    /// ```
    pub fn verify(&self, value: &str) -> Option<SessionId> {
        self.verify_signed(value).map(|signed| signed.id)
    }

    /// The kind of a cookie value of the right length (its separator), before verifying it.
    pub(crate) fn kind_of(value: &str) -> IdKind {
        if value.as_bytes().get(ENCODED_LEN) == Some(&b'~') {
            IdKind::Empty
        } else {
            IdKind::Stored
        }
    }

    /// A value's parts, by position: the id, the stamp's digits (empty when unstamped), the
    /// encoded MAC. `None` for a value of another length or shape.
    fn parts(value: &str) -> Option<(&str, &str, &str)> {
        // Positions are bytes: a value with a multi-byte character is not one of ours.
        if !value.is_ascii() {
            return None;
        }
        let id = value.get(..ENCODED_LEN)?;
        match value.len() {
            SIGNED_LEN => {
                let stamp = value.get(ENCODED_LEN + 1..ENCODED_LEN + 1 + STAMP_LEN)?;
                let (dot, tag) = value.get(ENCODED_LEN + 1 + STAMP_LEN..)?.split_at(1);
                (dot == ".").then_some((id, stamp, tag))
            }
            UNSTAMPED_LEN => Some((id, "", value.get(ENCODED_LEN + 1..)?)),
            _ => None,
        }
    }

    /// The stamp of a value that verified (0 when it has none).
    pub(crate) fn stamp_of(value: &str) -> u64 {
        Self::parts(value)
            .and_then(|(_, stamp, _)| u64::from_str_radix(stamp, 16).ok())
            .unwrap_or(0)
    }

    /// [`verify`](Self::verify), with what the value says: the kind, the stamp, and whether the
    /// current (first) key made the MAC. An unstamped value never counts as current, so it is
    /// signed again in the new form.
    pub(crate) fn verify_signed(&self, value: &str) -> Option<SignedId> {
        // Sizes are checked before anything is decoded.
        let (id, stamp, tag) = Self::parts(value)?;
        let kind = Self::kind_of(value);
        if value.as_bytes()[ENCODED_LEN] != kind.separator() as u8 {
            return None;
        }
        // The alphabets are checked here; that the id decodes to 32 bytes follows from the MAC:
        // only ids this application generated were ever signed.
        if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            || !stamp
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            return None;
        }
        let tag = decode_32(tag)?;
        let by = self.with_message(id, kind, stamp, |msg| {
            self.keys
                .iter()
                .position(|k| hmac::verify(k, msg, &tag).is_ok())
        })?;
        Some(SignedId {
            id: SessionId(id.to_owned()),
            kind,
            stamp: u64::from_str_radix(stamp, 16).unwrap_or(0),
            current: by == 0 && !stamp.is_empty(),
        })
    }

    /// Whether `value` verifies only under an older key, or carries no stamp (so it should be
    /// signed again).
    ///
    /// ```
    /// use session_core::{KeyRing, SecretKey, SessionId};
    ///
    /// let old = SecretKey::new([1u8; 32]).unwrap();
    /// let new = SecretKey::new([2u8; 32]).unwrap();
    /// let before = KeyRing::new(vec![old.clone()]).unwrap().id_signer("id");
    /// let after = KeyRing::new(vec![new, old]).unwrap().id_signer("id");
    ///
    /// let value = before.sign(&SessionId::generate());
    /// assert!(after.verify(&value).is_some());
    /// assert!(after.needs_resign(&value));
    /// assert!(!after.needs_resign(&after.sign(&SessionId::generate())));
    /// ```
    pub fn needs_resign(&self, value: &str) -> bool {
        self.verify_signed(value)
            .is_some_and(|signed| !signed.current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(keys: &[u8]) -> KeyRing {
        KeyRing::new(
            keys.iter()
                .map(|b| SecretKey::new([*b; 32]).expect("key"))
                .collect(),
        )
        .expect("ring")
    }

    #[test]
    fn slots_are_evenly_spread_for_any_count() {
        let keys: Vec<StorageKey> = (0..30_000)
            .map(|_| SessionId::generate().storage_key())
            .collect();
        for slots in [2, 3, 5, 12, 64] {
            let mut counts = vec![0usize; slots];
            for key in &keys {
                counts[key.slot(slots)] += 1;
            }
            let expected = keys.len() / slots;
            // Six standard deviations of a count (binomial, about the square root of it): a
            // spread that favours some indexes (as `% slots` of a power-of-two range did:
            // half of the keys on index 0 of 3) is far outside.
            let bound = 6 * expected.isqrt();
            for (i, &n) in counts.iter().enumerate() {
                assert!(
                    n.abs_diff(expected) < bound,
                    "slot {i} of {slots}: {n} keys, about {expected} expected ({counts:?})"
                );
            }
        }
    }

    #[test]
    fn ids_are_unique_and_parse_back() {
        let a = SessionId::generate();
        let b = SessionId::generate();
        assert_ne!(a, b);
        assert_eq!(SessionId::parse(a.expose()), Some(a.clone()));
        assert!(SessionId::parse("short").is_none());
        assert!(SessionId::parse(&format!("{}/", &a.expose()[..42])).is_none());
    }

    #[test]
    fn a_value_with_a_multi_byte_character_where_the_stamp_ends_is_no_id() {
        // Found by the `cookie_header` fuzz target: a two-byte character across the position of
        // the dot after the stamp.
        let signer = ring(&[1]).id_signer("id");
        let value = format!(
            "{}.6b148d\u{3b9}\u{465}USl8vcmab97dzbMCo-j96iP4D6XbYyMHH2NeyZpjts",
            "A".repeat(43)
        );
        assert_eq!(value.len(), SIGNED_LEN);
        assert_eq!(signer.verify(&value), None);
        assert!(!signer.needs_resign(&value));
        assert_eq!(IdSigner::stamp_of(&value), 0);
    }

    #[test]
    fn an_unstamped_value_of_earlier_builds_verifies_and_asks_to_be_signed_again() {
        let signer = ring(&[1]).id_signer("id");
        let id = SessionId::generate();
        let tag = signer.with_message(id.expose(), IdKind::Stored, "", |msg| {
            hmac::sign(&signer.keys[0], msg)
        });
        let unstamped = format!("{}.{}", id.expose(), URL_SAFE_NO_PAD.encode(tag.as_ref()));
        assert_eq!(unstamped.len(), UNSTAMPED_LEN);
        let signed = signer.verify_signed(&unstamped).expect("verifies");
        assert_eq!(
            (signed.id, signed.stamp, signed.current),
            (id.clone(), 0, false)
        );
        assert!(signer.needs_resign(&unstamped));
        // The stamp is signed: changing it breaks the MAC.
        let stamped = signer.sign_as(&id, IdKind::Stored, 0x1234_5678);
        assert_eq!(
            signer.verify_signed(&stamped).map(|s| s.stamp),
            Some(0x1234_5678)
        );
        let moved = stamped.replacen("12345678", "12345679", 1);
        assert!(signer.verify(&moved).is_none());
        let upper = stamped.replacen("12345678", "1234567A", 1);
        assert!(signer.verify(&upper).is_none());
    }

    #[test]
    fn signatures_bind_to_key_and_cookie_name() {
        let id = SessionId::generate();
        let signed = ring(&[1]).id_signer("sid").sign(&id);
        assert_eq!(ring(&[1]).id_signer("sid").verify(&signed), Some(id));
        assert!(ring(&[1]).id_signer("other").verify(&signed).is_none());
        assert!(ring(&[2]).id_signer("sid").verify(&signed).is_none());
        assert!(ring(&[2, 1]).id_signer("sid").verify(&signed).is_some());
        assert!(ring(&[2, 1]).id_signer("sid").needs_resign(&signed));
        assert!(!ring(&[1, 2]).id_signer("sid").needs_resign(&signed));
    }

    #[test]
    fn the_kind_of_an_id_is_signed_with_it() {
        let signer = ring(&[1]).id_signer("id");
        let id = SessionId::generate();
        let stored = signer.sign_as(&id, IdKind::Stored, 1);
        let empty = signer.sign_as(&id, IdKind::Empty, 1);
        assert_eq!(IdSigner::kind_of(&stored), IdKind::Stored);
        assert_eq!(IdSigner::kind_of(&empty), IdKind::Empty);
        assert_eq!(signer.verify(&stored), Some(id.clone()));
        assert_eq!(signer.verify(&empty), Some(id.clone()));
        // The separator swapped: the MAC of one kind does not verify as the other.
        assert_eq!(signer.verify(&stored.replacen('.', "~", 1)), None);
        assert_eq!(signer.verify(&empty.replacen('~', ".", 1)), None);
    }

    #[test]
    fn every_single_character_change_is_rejected() {
        let signer = ring(&[7]).id_signer("sid");
        let signed = signer.sign(&SessionId::generate());
        for i in 0..signed.len() {
            let mut bytes = signed.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).expect("ascii");
            if tampered != signed {
                assert!(signer.verify(&tampered).is_none(), "position {i}");
            }
        }
    }

    #[test]
    fn derived_keys_differ_by_purpose() {
        let k = SecretKey::new([3u8; 40]).expect("key");
        assert_ne!(k.derive("a").as_bytes(), k.derive("b").as_bytes());
        assert_eq!(k.derive("a").as_bytes(), k.derive("a").as_bytes());
    }
}
