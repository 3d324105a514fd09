//! What this process knows of the activity marks it set or read lately.
//!
//! The read and touch scripts leave a session's activity mark (and its TTL) alone when it was set
//! less than [`FRESH_MS`] ago. When this process itself saw the mark that recently, the outcome of
//! such a script is known in advance: a read can be a plain `HMGET` (no Lua, a fraction of the
//! server's work), and a touch changes nothing at all, so it is not sent. Marks only move forward,
//! so a mark seen here is never later than the one in Redis.
//!
//! The table is fixed in size: a slot holds one session (a 64-bit fingerprint of its storage key)
//! and the mark; another session landing in the slot replaces it, which only means that session
//! takes the script path again. It never grows with the number of sessions.

use std::sync::Mutex;

use session_core::StorageKey;

/// The scripts receive the threshold `now - FRESH_MS` from the driver (see `scripts.rs`).
pub(crate) const FRESH_MS: u64 = 1000;

const SLOTS: usize = 4096;

#[derive(Debug)]
pub(crate) struct Marks {
    slots: Box<[Mutex<(u64, u64)>]>,
}

impl Default for Marks {
    fn default() -> Self {
        Self {
            slots: (0..SLOTS).map(|_| Mutex::new((0, 0))).collect(),
        }
    }
}

/// The slot and fingerprint of a storage key. Storage keys are SHA-256 digests in base64url, so
/// any of their characters are uniformly distributed; the fingerprint folds 16 of them (96 bits)
/// and the slot ([`StorageKey::slot`]) comes from 8 others.
fn place(key: &StorageKey) -> (usize, u64) {
    let b = key.as_str().as_bytes();
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i..i + 8]);
        u64::from_le_bytes(w)
    };
    let fingerprint = word(0) ^ word(8).rotate_left(29);
    (key.slot(SLOTS), fingerprint)
}

impl Marks {
    /// Whether the session's mark is known to have been set less than [`FRESH_MS`] before `now`.
    pub(crate) fn is_fresh(&self, key: &StorageKey, now: u64) -> bool {
        let (slot, fingerprint) = place(key);
        let (held, mark) = *self.slots[slot].lock().unwrap_or_else(|e| e.into_inner());
        held == fingerprint && mark <= now && now - mark < FRESH_MS
    }

    /// Notes that the session's mark is at least `mark`.
    pub(crate) fn saw(&self, key: &StorageKey, mark: u64) {
        let (slot, fingerprint) = place(key);
        let mut entry = self.slots[slot].lock().unwrap_or_else(|e| e.into_inner());
        if entry.0 != fingerprint || entry.1 < mark {
            *entry = (fingerprint, mark);
        }
    }

    /// Forgets the session (it was deleted).
    pub(crate) fn forget(&self, key: &StorageKey) {
        let (slot, fingerprint) = place(key);
        let mut entry = self.slots[slot].lock().unwrap_or_else(|e| e.into_inner());
        if entry.0 == fingerprint {
            *entry = (0, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use session_core::SessionId;

    #[test]
    fn a_mark_is_fresh_for_one_second_and_only_for_its_session() {
        let marks = Marks::default();
        let a = SessionId::generate().storage_key();
        let b = SessionId::generate().storage_key();
        assert!(!marks.is_fresh(&a, 10_000));
        marks.saw(&a, 10_000);
        assert!(marks.is_fresh(&a, 10_000));
        assert!(marks.is_fresh(&a, 10_999));
        assert!(!marks.is_fresh(&a, 11_000));
        assert!(
            !marks.is_fresh(&a, 9_999),
            "a clock behind the mark proves nothing"
        );
        assert!(!marks.is_fresh(&b, 10_500));
        // Older marks never move it back.
        marks.saw(&a, 5_000);
        assert!(marks.is_fresh(&a, 10_500));
        marks.forget(&a);
        assert!(!marks.is_fresh(&a, 10_500));
    }

    #[test]
    fn a_session_taking_the_slot_displaces_the_other() {
        let marks = Marks::default();
        let a = SessionId::generate().storage_key();
        let (slot, _) = place(&a);
        let b = std::iter::repeat_with(|| SessionId::generate().storage_key())
            .find(|k| place(k).0 == slot && k != &a)
            .expect("another key in the slot");
        marks.saw(&a, 1_000);
        marks.saw(&b, 1_000);
        assert!(!marks.is_fresh(&a, 1_500));
        assert!(marks.is_fresh(&b, 1_500));
    }
}
