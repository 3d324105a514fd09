//! Sealed values this driver opened or sealed lately.
//!
//! Opening the data cookie (base64, AES-256-GCM, the record's JSON) is most of what the driver
//! costs on a request, and a browser sends the same sealed value on every request until the
//! session changes. Opening is a pure function of the value, the storage key it is bound to and
//! the driver's keys (which never change for a driver), so the driver keeps, for each session it
//! served lately, the last value it opened or sealed and its record: a value equal, byte for
//! byte, to the one kept for the same storage key is answered with that record.
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
//! - One entry per session: a new value of a session replaces its previous one, and `destroy`
//!   removes it, so a session's data does not stay in the table after it ended here.
//! - The table is fixed: [`SLOTS`] entries in sets of two, each holding a value of at most
//!   [`MAX_VALUE_LEN`] characters (larger sessions are opened on every request) and its record.
//!   The set comes from the storage key, a SHA-256 of a genuine id, which no client chooses; a
//!   session landing in a full set replaces one of its two entries, which costs that session one
//!   opening.

use std::fmt;
use std::sync::{Arc, Mutex};

use session_core::{Record, StorageKey};

/// Entries in the table.
pub(crate) const SLOTS: usize = 512;
/// Entries per set: a session may take either entry of its set.
const WAYS: usize = 2;
/// Sets in the table.
const SETS: usize = SLOTS / WAYS;
/// The longest sealed value (all chunks together) the table keeps: about 700 bytes of JSON data.
pub(crate) const MAX_VALUE_LEN: usize = 1024;

/// A session as the data cookies hold it.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) key: StorageKey,
    pub(crate) record: Record,
    /// 0 when sealed with the current key; an older key's cookie is re-sealed by `touch`.
    pub(crate) key_index: usize,
}

struct Entry {
    /// The sealed value, without the chunk count.
    value: Box<[u8]>,
    opened: Arc<Opened>,
}

type Set = [Option<Entry>; WAYS];

/// The table of one driver.
pub(crate) struct OpenedValues {
    sets: Box<[Mutex<Set>]>,
}

impl fmt::Debug for OpenedValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The entries are live sessions: only the size is ever printed.
        f.debug_struct("OpenedValues")
            .field("slots", &SLOTS)
            .finish()
    }
}

impl Default for OpenedValues {
    fn default() -> Self {
        Self {
            sets: (0..SETS).map(|_| Mutex::new([None, None])).collect(),
        }
    }
}

/// The set of a session.
fn set_of(key: &StorageKey) -> usize {
    key.slot(SETS)
}

impl OpenedValues {
    fn set(&self, key: &StorageKey) -> std::sync::MutexGuard<'_, Set> {
        self.sets[set_of(key)]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The session `value` holds for `key`, when this exact value was the last one opened or
    /// sealed for this key and is still in the table.
    pub(crate) fn get(&self, key: &StorageKey, value: &str) -> Option<Arc<Opened>> {
        if value.len() > MAX_VALUE_LEN {
            return None;
        }
        let set = self.set(key);
        let entry = set.iter().flatten().find(|e| e.opened.key == *key)?;
        session_core::constant_time_eq(&entry.value, value.as_bytes()).then(|| entry.opened.clone())
    }

    /// Remembers that `value` opens, for `opened.key`, to `opened`, in place of what the table
    /// held for that session. The caller guarantees it: `value` was just opened under that key,
    /// or just sealed from that record.
    pub(crate) fn insert(&self, value: &str, opened: &Arc<Opened>) {
        if value.len() > MAX_VALUE_LEN {
            // Too large to keep; an earlier, smaller value of the session is stale now.
            self.remove(&opened.key);
            return;
        }
        let replaced = {
            let mut set = self.set(&opened.key);
            let way = set
                .iter()
                .position(|e| e.as_ref().is_some_and(|e| e.opened.key == opened.key))
                .or_else(|| set.iter().position(Option::is_none))
                // Both taken by other sessions: one of them, chosen by the value's last byte
                // (the end of its GCM tag).
                .unwrap_or_else(|| {
                    usize::from(value.as_bytes().last().copied().unwrap_or(0)) % WAYS
                });
            match &mut set[way] {
                // The buffer of a value of the same length is reused.
                Some(entry) if entry.value.len() == value.len() => {
                    entry.value.copy_from_slice(value.as_bytes());
                    Some(std::mem::replace(&mut entry.opened, opened.clone()))
                }
                slot => slot
                    .replace(Entry {
                        value: value.as_bytes().into(),
                        opened: opened.clone(),
                    })
                    .map(|e| e.opened),
            }
        };
        // The record replaced is freed after the lock is released.
        drop(replaced);
    }

    /// How many sessions the table holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.sets
            .iter()
            .map(|s| s.lock().map_or(0, |s| s.iter().flatten().count()))
            .sum()
    }

    /// Forgets what the table holds for `key`.
    pub(crate) fn remove(&self, key: &StorageKey) {
        let removed = {
            let mut set = self.set(key);
            set.iter_mut()
                .find(|e| e.as_ref().is_some_and(|e| e.opened.key == *key))
                .and_then(Option::take)
        };
        drop(removed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;
    use session_core::SessionId;

    fn opened(key: &StorageKey, n: u64) -> Arc<Opened> {
        let mut record = Record::new(Map::new(), 1_764_000_000_000, 1_764_007_200_000);
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

    /// A storage key whose set is `set`, other than those in `not`.
    fn key_in(set: usize, not: &[&StorageKey]) -> StorageKey {
        loop {
            let key = SessionId::generate().storage_key();
            if set_of(&key) == set && !not.contains(&&key) {
                return key;
            }
        }
    }

    #[test]
    fn a_remembered_value_is_answered_for_its_key_only() {
        let table = OpenedValues::default();
        let key = SessionId::generate().storage_key();
        let other = key_in(set_of(&key), &[&key]);
        let v = value(1);
        assert!(table.get(&key, &v).is_none());
        let o = opened(&key, 7);
        table.insert(&v, &o);
        let found = table.get(&key, &v).expect("remembered");
        assert!(Arc::ptr_eq(&found, &o));
        // The same value presented for another session, even one of the same set, is not
        // answered from the table.
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
    fn a_new_value_replaces_the_sessions_previous_one_and_remove_forgets_it() {
        let table = OpenedValues::default();
        let key = SessionId::generate().storage_key();
        let (first, second, longer) = (value(3), value(4), format!("{}AAAA", value(5)));
        table.insert(&first, &opened(&key, 1));
        table.insert(&second, &opened(&key, 2));
        assert!(table.get(&key, &first).is_none(), "the old value is gone");
        assert_eq!(table.get(&key, &second).map(|o| o.record.version), Some(2));
        table.insert(&longer, &opened(&key, 3));
        assert!(table.get(&key, &second).is_none());
        assert_eq!(table.get(&key, &longer).map(|o| o.record.version), Some(3));
        assert_eq!(table.len(), 1, "one entry per session");
        table.remove(&key);
        assert!(table.get(&key, &longer).is_none());
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn long_values_are_not_kept_and_drop_the_sessions_entry() {
        let table = OpenedValues::default();
        let key = SessionId::generate().storage_key();
        let longest = "A".repeat(MAX_VALUE_LEN);
        table.insert(&longest, &opened(&key, 1));
        assert!(table.get(&key, &longest).is_some());
        let long = "A".repeat(MAX_VALUE_LEN + 1);
        table.insert(&long, &opened(&key, 2));
        assert!(table.get(&key, &long).is_none());
        assert!(table.get(&key, &longest).is_none(), "stale");
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn a_set_holds_two_sessions_and_a_third_replaces_one() {
        let table = OpenedValues::default();
        let a = SessionId::generate().storage_key();
        let set = set_of(&a);
        let b = key_in(set, &[&a]);
        let c = key_in(set, &[&a, &b]);
        let (va, vb, vc) = (value(6), value(7), value(8));
        table.insert(&va, &opened(&a, 1));
        table.insert(&vb, &opened(&b, 2));
        assert!(table.get(&a, &va).is_some() && table.get(&b, &vb).is_some());
        table.insert(&vc, &opened(&c, 3));
        assert!(table.get(&c, &vc).is_some());
        let kept = [table.get(&a, &va).is_some(), table.get(&b, &vb).is_some()];
        assert_eq!(kept.iter().filter(|k| **k).count(), 1, "{kept:?}");
        assert_eq!(table.len(), 2);
    }

    #[test]
    fn sets_spread_over_the_table() {
        let mut used = vec![false; SETS];
        for _ in 0..4 * SETS {
            used[set_of(&SessionId::generate().storage_key())] = true;
        }
        // 1,024 draws over 256 sets leave about 2% empty.
        assert!(used.iter().filter(|u| **u).count() > SETS * 9 / 10);
    }
}
