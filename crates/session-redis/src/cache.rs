//! Local copies of sessions, kept current by Redis (the `local_cache` option).
//!
//! With `local_cache` set, every shared connection asks Redis to report changes to the keys it
//! reads (`CLIENT TRACKING ON NOLOOP`, over RESP3): Redis remembers which keys each connection
//! read, and when any client then modifies or deletes one of them, it pushes an `invalidate`
//! message on that connection (once: the key must be read again to be reported again). The
//! driver keeps the sessions it read, wrote or refreshed in [`Copies`] and serves a read from
//! there while the copy is live and the session's connection is healthy: no round trip. Writes,
//! deletes and refreshes still go to Redis as their conditional scripts, so a copy that turned
//! out to be stale costs a conflict and a re-read, never a lost update.
//!
//! `NOLOOP` spares a connection the messages about its own changes: the driver applies those to
//! the copies itself, from the outcome of its own commands (a write stores the record written, a
//! refresh the copy with its new times). A change also ends the tracking of the key, for every
//! connection; so each script that changes a session and leaves it in place reads it once more
//! afterwards (`RETRACK` in `scripts.rs`), and the connection goes on hearing about it. Reports
//! go only to the connections that read a key: an instance is not sent the changes to sessions
//! it never read.
//!
//! # Which connection
//!
//! Each copy remembers the shared connection (its slot in `pool::Current`) whose read or change
//! it came from: the one Redis reports its next change to. A read is answered from a copy only
//! by a request that uses that same connection. On a multi-threaded runtime every request for a
//! session uses the session's connection, so that always holds. On a current-thread runtime each
//! thread has its own, whose messages its own runtime reads, so a thread serves the copies its
//! connection read or wrote: never one whose messages wait unread on another thread's
//! connection (as they do while that thread is blocked), unless more threads than slots share
//! connections. A change made on another thread's
//! connection replaces the copy (the driver applies its own outcomes), and Redis reports it to
//! the connection that read the copy before, whose message then drops the new copy: a session
//! that moves between threads is read from Redis again, a cost and never a stale answer.
//!
//! # Ordering
//!
//! A reply and the messages about later changes arrive on the same connection in order, but the
//! reply reaches the waiting request through a channel, while messages are applied by the
//! connection's task as soon as they are read. A copy is therefore only stored if nothing touched
//! its session's stripe since the command was sent: every message, every local change and every
//! stored copy bumps the stripe's counter ([`Stamp`]), and a copy whose stamp is out of date
//! removes the session's entry instead of filling it. A clear (a new or lost connection, a
//! flushed database) bumps every stripe. So whatever order replies, messages and local changes
//! complete in, an entry only exists if the last of them to complete saw nothing in between.
//!
//! Memory is bounded: at `capacity` sessions, storing another evicts an arbitrary one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use redis::{PushInfo, PushKind, Value};
use session_core::{Record, StorageKey};

/// Stripes of the stamp counters: sessions whose keys share a stripe only make each other's
/// copies be stored less often, never wrongly. With 256, in the benchmark's `write` workload (64
/// sessions in flight on 2 cores) about one actix-web request in twelve found its copy dropped
/// that way and sent a `GET`; 4,096 counters (32 KB) make such a collision 16 times rarer.
const STRIPES: usize = 4096;

/// A stripe's counter when a command was sent, and the shared connection (its slot in
/// `pool::Current`) the command was sent on; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    stripe: usize,
    count: u64,
    slot: usize,
}

/// A session's copy, and the slot of the connection whose reads keep Redis reporting its
/// changes.
struct Held {
    record: Record,
    slot: usize,
}

struct Inner {
    map: HashMap<Box<str>, Held>,
    stamps: Box<[u64; STRIPES]>,
}

/// The local copies; shared by the driver and the push handlers of its connections.
pub(crate) struct Copies {
    inner: Mutex<Inner>,
    capacity: usize,
    prefix: Box<str>,
    enabled: AtomicBool,
}

impl std::fmt::Debug for Copies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Copies")
            .field("capacity", &self.capacity)
            .field("held", &self.lock().map.len())
            .field("enabled", &self.is_enabled())
            .finish()
    }
}

/// The stripe of a storage key (base64 of a SHA-256: any of its characters are evenly spread).
fn stripe_of(key: &str) -> usize {
    key.bytes().take(4).fold(0usize, |h, b| {
        h.wrapping_mul(31).wrapping_add(usize::from(b))
    }) % STRIPES
}

impl Copies {
    /// Room for `capacity` sessions stored under `prefix` (the driver's key prefix).
    pub(crate) fn new(prefix: &str, capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                stamps: Box::new([0; STRIPES]),
            }),
            capacity: capacity.max(1),
            prefix: prefix.into(),
            enabled: AtomicBool::new(true),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The most sessions held.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether copies are kept (false once the server refused tracking).
    pub(crate) fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Stops keeping copies for good: the server cannot report changes.
    pub(crate) fn disable(&self) {
        self.enabled.store(false, Ordering::Relaxed);
        self.clear();
    }

    /// The copy of the session, if one is held, and the slot of the connection that tracks it.
    pub(crate) fn get(&self, key: &StorageKey) -> Option<(Record, usize)> {
        if !self.is_enabled() {
            return None;
        }
        self.lock()
            .map
            .get(key.as_str())
            .map(|held| (held.record.clone(), held.slot))
    }

    /// The session's stamp, taken before a command on the connection of `slot` whose reply may
    /// be stored.
    pub(crate) fn stamp(&self, key: &StorageKey, slot: usize) -> Stamp {
        let stripe = stripe_of(key.as_str());
        Stamp {
            stripe,
            count: self.lock().stamps[stripe],
            slot,
        }
    }

    /// Stores what a command sent at `stamp` found (`None`: no session) if nothing touched the
    /// session's stripe since; otherwise drops the session's copy.
    pub(crate) fn settle(&self, key: &StorageKey, found: Option<&Record>, stamp: Stamp) {
        if !self.is_enabled() {
            return;
        }
        let mut inner = self.lock();
        let current = inner.stamps[stamp.stripe] == stamp.count;
        inner.stamps[stamp.stripe] = inner.stamps[stamp.stripe].wrapping_add(1);
        match found {
            Some(record) if current => {
                if inner.map.len() >= self.capacity && !inner.map.contains_key(key.as_str()) {
                    let evicted = inner.map.keys().next().cloned();
                    if let Some(evicted) = evicted {
                        inner.map.remove(&evicted);
                    }
                }
                let held = Held {
                    record: record.clone(),
                    slot: stamp.slot,
                };
                inner.map.insert(key.as_str().into(), held);
            }
            _ => {
                inner.map.remove(key.as_str());
            }
        }
    }

    /// Drops the session's copy before a command on the connection of `slot` changes it, and
    /// returns the stamp that the command settles with, and the copy when it was held on that
    /// same connection (a refresh settles with it, given its new times).
    pub(crate) fn changing(&self, key: &StorageKey, slot: usize) -> (Stamp, Option<Record>) {
        let mut inner = self.lock();
        let held = inner
            .map
            .remove(key.as_str())
            .filter(|held| held.slot == slot)
            .map(|held| held.record);
        let (stripe, count) = Self::forget_locked(&mut inner, key.as_str());
        let stamp = Stamp {
            stripe,
            count,
            slot,
        };
        (stamp, held)
    }

    /// Drops the session's copy (it was changed, or may have been).
    pub(crate) fn forget(&self, key: &StorageKey) {
        let mut inner = self.lock();
        let _ = Self::forget_locked(&mut inner, key.as_str());
    }

    /// Drops the copy and bumps its stripe's counter; the stripe and the counter's new value.
    fn forget_locked(inner: &mut Inner, key: &str) -> (usize, u64) {
        let stripe = stripe_of(key);
        inner.stamps[stripe] = inner.stamps[stripe].wrapping_add(1);
        inner.map.remove(key);
        (stripe, inner.stamps[stripe])
    }

    /// Drops every copy: the messages that keep them current may have been missed.
    pub(crate) fn clear(&self) {
        let mut inner = self.lock();
        inner.map.clear();
        for count in inner.stamps.iter_mut() {
            *count = count.wrapping_add(1);
        }
    }

    /// Applies a message pushed by Redis. Called by a connection's task as it reads it.
    pub(crate) fn on_push(&self, push: &PushInfo) {
        match push.kind {
            PushKind::Invalidate => {
                for value in &push.data {
                    match value {
                        Value::Array(keys) => {
                            let mut inner = self.lock();
                            for key in keys {
                                match key {
                                    Value::BulkString(bytes) => {
                                        if let Some(key) = self.storage_key(bytes) {
                                            let _ = Self::forget_locked(&mut inner, key);
                                        }
                                    }
                                    // Not a key name: nothing is known for sure any more.
                                    _ => {
                                        drop(inner);
                                        self.clear();
                                        return;
                                    }
                                }
                            }
                        }
                        // A null list of keys: the database was flushed.
                        _ => self.clear(),
                    }
                }
            }
            // The connection closed: changes from now on would go unreported.
            PushKind::Disconnection => self.clear(),
            _ => {}
        }
    }

    /// The storage key in a Redis key `<prefix>{<storage key>}`; `None` for another key.
    fn storage_key<'a>(&self, redis_key: &'a [u8]) -> Option<&'a str> {
        let rest = redis_key.strip_prefix(self.prefix.as_bytes())?;
        let inner = rest.strip_prefix(b"{")?.strip_suffix(b"}")?;
        std::str::from_utf8(inner).ok()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use session_core::SessionId;

    fn record(n: i64) -> Record {
        let mut data = serde_json::Map::new();
        data.insert("n".into(), n.into());
        Record::new(data, 1_000, 61_000)
    }

    fn invalidate(keys: &[&str]) -> PushInfo {
        PushInfo {
            kind: PushKind::Invalidate,
            data: vec![Value::Array(
                keys.iter()
                    .map(|k| Value::BulkString(k.as_bytes().to_vec()))
                    .collect(),
            )],
        }
    }

    #[test]
    fn a_reply_is_stored_only_if_nothing_happened_since_it_was_asked_for() {
        let copies = Copies::new("s:", 10);
        let key = SessionId::generate().storage_key();

        let stamp = copies.stamp(&key, 0);
        copies.settle(&key, Some(&record(1)), stamp);
        assert_eq!(copies.get(&key), Some((record(1), 0)));

        // A change reported while a read was on its way: the read's answer may predate it.
        let stamp = copies.stamp(&key, 0);
        copies.on_push(&invalidate(&[&format!("s:{{{}}}", key.as_str())]));
        assert_eq!(copies.get(&key), None);
        copies.settle(&key, Some(&record(2)), stamp);
        assert_eq!(copies.get(&key), None, "a possibly stale reply was stored");

        // Two commands in flight: whichever completes second drops the copy.
        let first = copies.stamp(&key, 0);
        let second = copies.stamp(&key, 0);
        copies.settle(&key, Some(&record(3)), second);
        assert_eq!(copies.get(&key), Some((record(3), 0)));
        copies.settle(&key, Some(&record(4)), first);
        assert_eq!(copies.get(&key), None);

        // A local change in between.
        let stamp = copies.stamp(&key, 0);
        copies.forget(&key);
        copies.settle(&key, Some(&record(5)), stamp);
        assert_eq!(copies.get(&key), None);
        // A change's own outcome, with nothing in between, is stored, with the connection it
        // was made on.
        let (change, held) = copies.changing(&key, 3);
        assert_eq!(held, None, "the copy was dropped by the local change above");
        copies.settle(&key, Some(&record(6)), change);
        assert_eq!(copies.get(&key), Some((record(6), 3)));
        let stamp = copies.stamp(&key, 1);
        copies.settle(&key, Some(&record(6)), stamp);
        assert_eq!(
            copies.get(&key),
            Some((record(6), 1)),
            "read again on another"
        );

        // A change hands back the copy only when it was held on the connection it is sent on.
        let (_, held) = copies.changing(&key, 1);
        assert_eq!(held, Some(record(6)));
        assert_eq!(
            copies.get(&key),
            None,
            "dropped while the change is in flight"
        );
        let stamp = copies.stamp(&key, 1);
        copies.settle(&key, Some(&record(7)), stamp);
        let (_, held) = copies.changing(&key, 2);
        assert_eq!(held, None, "held on another connection");
    }

    #[test]
    fn messages_drop_only_their_keys_and_a_flush_drops_everything() {
        let copies = Copies::new("s:", 10);
        let a = SessionId::generate().storage_key();
        let b = SessionId::generate().storage_key();
        for key in [&a, &b] {
            let stamp = copies.stamp(key, 0);
            copies.settle(key, Some(&record(1)), stamp);
        }
        copies.on_push(&invalidate(&[
            &format!("s:{{{}}}", a.as_str()),
            "s:unrelated",
            "other:{x}",
        ]));
        assert_eq!(copies.get(&a), None);
        assert_eq!(copies.get(&b), Some((record(1), 0)));

        copies.on_push(&PushInfo {
            kind: PushKind::Invalidate,
            data: vec![Value::Nil],
        });
        assert_eq!(copies.len(), 0);

        let stamp = copies.stamp(&b, 0);
        copies.settle(&b, Some(&record(1)), stamp);
        copies.on_push(&PushInfo {
            kind: PushKind::Disconnection,
            data: vec![],
        });
        assert_eq!(copies.len(), 0, "a lost connection drops every copy");
    }

    #[test]
    fn the_copies_stay_within_their_capacity() {
        let copies = Copies::new("s:", 3);
        let keys: Vec<_> = (0..10)
            .map(|_| SessionId::generate().storage_key())
            .collect();
        for key in &keys {
            let stamp = copies.stamp(key, 0);
            copies.settle(key, Some(&record(1)), stamp);
            assert!(copies.len() <= 3);
        }
        assert_eq!(copies.get(&keys[9]), Some((record(1), 0)));
    }

    #[test]
    fn disabled_copies_hold_nothing() {
        let copies = Copies::new("s:", 3);
        let key = SessionId::generate().storage_key();
        let stamp = copies.stamp(&key, 0);
        copies.settle(&key, Some(&record(1)), stamp);
        assert_eq!(copies.get(&key), Some((record(1), 0)));

        copies.disable();
        assert_eq!(copies.get(&key), None);
        let stamp = copies.stamp(&key, 0);
        copies.settle(&key, Some(&record(1)), stamp);
        assert_eq!(copies.len(), 0);
    }
}
