//! Sealed values this driver opened or sealed lately.
//!
//! Opening the data cookie (base64, AES-256-GCM, the record's JSON) is most of what the driver
//! costs on a request, and a browser sends the same sealed value on every request until the
//! session changes. Opening is a pure function of the value, the storage key it is bound to and
//! the driver's keys (which never change for a driver), so the driver keeps the records of the
//! values it opened, and of those it sealed itself, in a fixed table: a value equal, byte for
//! byte, to one in the table, for the same storage key, is answered with that record.
//!
//! - An entry is only ever made from a value that opened (or that this driver just sealed), under
//!   the storage key it was bound to; a lookup needs both the storage key and the whole value to
//!   be equal. A tampered, forged or moved value matches nothing and is opened, and refused, as
//!   before.
//! - The comparison looks at every byte whatever the first difference
//!   ([`session_core::constant_time_eq`]), so its time does not tell how much of another
//!   session's value a guess matched.
//! - Expiry is checked by the driver on every request, from the record's times, exactly as for a
//!   freshly opened value: the table changes what a request costs, never what it reads.
//! - The table is fixed: [`SLOTS`] entries, each holding a value of at most [`MAX_VALUE_LEN`]
//!   characters (larger sessions are opened on every request) and its record. A value landing in
//!   an occupied slot replaces the entry; the slot comes from characters of the value's GCM tag,
//!   uniformly distributed for genuine values. A client can choose its slot, which gains it
//!   nothing but the same comparison; evicting another session's entry costs that session one
//!   opening.

use std::fmt;
use std::sync::{Arc, Mutex};

use session_core::{Record, StorageKey};

/// Entries in the table.
pub(crate) const SLOTS: usize = 512;
/// The longest sealed value (all chunks together) the table keeps: about 700 bytes of JSON data.
pub(crate) const MAX_VALUE_LEN: usize = 1024;

/// A session as the data cookies hold it.
#[derive(Debug, Clone)]
pub(crate) struct Opened {
    pub(crate) key: StorageKey,
    pub(crate) record: Record,
    /// 0 when sealed with the current key; an older key's cookie is re-sealed by `touch`.
    pub(crate) key_index: usize,
}

struct Entry {
    /// The sealed value, without the chunk count.
    value: Box<str>,
    opened: Arc<Opened>,
}

/// The table of one driver.
pub(crate) struct OpenedValues {
    slots: Box<[Mutex<Option<Entry>>]>,
}

impl fmt::Debug for OpenedValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The entries are live sessions: only the size is ever printed.
        f.debug_struct("OpenedValues")
            .field("slots", &self.slots.len())
            .finish()
    }
}

impl Default for OpenedValues {
    fn default() -> Self {
        Self {
            slots: (0..SLOTS).map(|_| Mutex::new(None)).collect(),
        }
    }
}

/// The slot of a sealed value: its last eight characters (the end of the GCM tag),
/// Fibonacci-hashed. Sealed values are at least 39 characters long.
fn slot_of(value: &[u8]) -> usize {
    let mut word = [0u8; 8];
    let tail = &value[value.len().saturating_sub(8)..];
    word[..tail.len()].copy_from_slice(tail);
    let bits = SLOTS.trailing_zeros();
    (u64::from_le_bytes(word).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
}

impl OpenedValues {
    /// The session `value` holds for `key`, when this exact value was opened or sealed for this
    /// key before and is still in the table.
    pub(crate) fn get(&self, key: &StorageKey, value: &str) -> Option<Arc<Opened>> {
        if value.len() > MAX_VALUE_LEN {
            return None;
        }
        let slot = self.slots[slot_of(value.as_bytes())]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let entry = slot.as_ref()?;
        let equal = session_core::constant_time_eq(entry.value.as_bytes(), value.as_bytes());
        (equal && entry.opened.key == *key).then(|| entry.opened.clone())
    }

    /// Remembers that `value` opens, for `opened.key`, to `opened`. The caller guarantees it:
    /// `value` was just opened under that key, or just sealed from that record.
    pub(crate) fn insert(&self, value: &str, opened: &Arc<Opened>) {
        if value.len() > MAX_VALUE_LEN {
            return;
        }
        let entry = Entry {
            value: value.into(),
            opened: opened.clone(),
        };
        let evicted = self.slots[slot_of(value.as_bytes())]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(entry);
        // The evicted record is freed after the lock is released.
        drop(evicted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;
    use session_core::SessionId;

    fn opened(key: &StorageKey, n: u64) -> Arc<Opened> {
        let mut record = Record::new(Map::new(), 1_764_000_000_000);
        record.version = n;
        Arc::new(Opened {
            key: key.clone(),
            record,
            key_index: 0,
        })
    }

    fn value(seed: u64) -> String {
        // Base64url-looking values of a realistic length, distinct per seed.
        (0..60)
            .map(|i| {
                let n = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(i) % 64;
                char::from(
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[n as usize],
                )
            })
            .collect()
    }

    #[test]
    fn a_remembered_value_is_answered_for_its_key_only() {
        let table = OpenedValues::default();
        let key = SessionId::generate().storage_key();
        let other = SessionId::generate().storage_key();
        let v = value(1);
        assert!(table.get(&key, &v).is_none());
        let o = opened(&key, 7);
        table.insert(&v, &o);
        let found = table.get(&key, &v).expect("remembered");
        assert!(Arc::ptr_eq(&found, &o));
        // The same value presented for another session is not answered from the table.
        assert!(table.get(&other, &v).is_none());
    }

    #[test]
    fn a_value_that_differs_anywhere_or_in_length_is_not_answered() {
        let table = OpenedValues::default();
        let key = SessionId::generate().storage_key();
        let v = value(2);
        table.insert(&v, &opened(&key, 1));
        for i in 0..v.len() {
            let mut altered = v.clone().into_bytes();
            altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(altered).expect("ascii");
            assert!(table.get(&key, &altered).is_none(), "position {i}");
        }
        assert!(table.get(&key, &v[1..]).is_none(), "shorter");
        assert!(table.get(&key, &format!("{v}A")).is_none(), "longer");
        assert!(table.get(&key, &v).is_some());
    }

    #[test]
    fn long_values_are_not_kept() {
        let table = OpenedValues::default();
        let key = SessionId::generate().storage_key();
        let long = "A".repeat(MAX_VALUE_LEN + 1);
        table.insert(&long, &opened(&key, 1));
        assert!(table.get(&key, &long).is_none());
        assert!(table
            .slots
            .iter()
            .all(|s| s.lock().expect("lock").is_none()));
        let longest = "A".repeat(MAX_VALUE_LEN);
        table.insert(&longest, &opened(&key, 1));
        assert!(table.get(&key, &longest).is_some());
    }

    #[test]
    fn a_value_landing_in_an_occupied_slot_replaces_it() {
        let table = OpenedValues::default();
        let key = SessionId::generate().storage_key();
        let first = value(3);
        let slot = slot_of(first.as_bytes());
        let second = (4..)
            .map(value)
            .find(|v| slot_of(v.as_bytes()) == slot && *v != first)
            .expect("a colliding value");
        table.insert(&first, &opened(&key, 1));
        table.insert(&second, &opened(&key, 2));
        assert!(table.get(&key, &first).is_none());
        assert_eq!(table.get(&key, &second).map(|o| o.record.version), Some(2));
    }
}
