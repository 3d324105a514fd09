//! The process-wide memory driver.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use crate::clock::{Clock, SystemClock};
use crate::driver::{Record, SessionStore, WriteOutcome};
use crate::error::DriverError;
use crate::id::StorageKey;
use crate::tags::TaggedStore;

/// How many locks the sessions are spread over, by storage key. Requests for different sessions
/// on different threads then take different locks, instead of all waiting for one and passing
/// its cache line from core to core on every request.
const SHARDS: usize = 64;

/// The default cap on the number of sessions held: [`MemoryDriver::with_max_sessions`].
pub const DEFAULT_MAX_SESSIONS: usize = 100_000;

/// The default cap on the bytes held: [`MemoryDriver::with_max_bytes`] (256 MiB).
pub const DEFAULT_MAX_BYTES: usize = 256 << 20;

/// What a session costs beyond its values' JSON, counted against the byte cap: the storage key,
/// the record's fields and the map's slot.
const ENTRY_OVERHEAD: usize = 128;

/// How many writes into a shard pass between two sweeps of its expired entries: as much
/// sweeping per write as sweeping the whole map every 1,024 writes.
const SWEEP_EVERY: u64 = 1024 / SHARDS as u64;

/// Sessions in a map inside the process, with the atomic update (a mutex plus a version compare).
///
/// Good for tests, development and single-process apps that accept losing sessions on restart.
/// The sessions are spread over 64 shards by storage key, each a lock and its part of the map, so
/// concurrent requests for different sessions rarely wait for each other. Expired entries are
/// never returned, and they are evicted: a shard is swept every 16 writes into it (as much
/// sweeping per write as sweeping the whole map every 1,024 writes), and
/// [`MemoryDriver::sweep`] can be called from a timer.
///
/// **Bounded memory.** The driver holds at most [`DEFAULT_MAX_SESSIONS`] sessions and
/// [`DEFAULT_MAX_BYTES`] bytes (a session's size is the length of its values as JSON plus 128
/// bytes), so a flood of anonymous sessions cannot grow the process without bound; change them
/// with [`MemoryDriver::with_max_sessions`] and [`MemoryDriver::with_max_bytes`], or with the
/// `memory` section's `max_sessions` and `max_bytes`. Each shard holds a 64th of each cap. When
/// a write would go past its shard's share, the shard's expired sessions go first, then the
/// least recently active ones, until the new one fits: like a cache, the memory driver forgets
/// the sessions that have waited longest (their next request starts a fresh session). The first
/// eviction logs a warning. A single session larger than a shard's share of the bytes
/// (4 MiB with the defaults) is refused with [`DriverError::TooLarge`].
///
/// Writes and destroys compare versions under the shard's lock, so commits lose no updates.
///
/// ```
/// use session_core::MemoryDriver;
///
/// let driver = MemoryDriver::new();
/// assert_eq!(driver.len(), 0);
/// ```
pub struct MemoryDriver {
    clock: Arc<dyn Clock>,
    shards: Box<[Shard]>,
    /// Each shard's share of the caps.
    shard_sessions: usize,
    shard_bytes: usize,
    /// Whether an eviction was logged already.
    evicted: AtomicBool,
}

impl fmt::Debug for MemoryDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryDriver")
            .field("sessions", &self.len())
            .finish_non_exhaustive()
    }
}

/// One lock and its part of the map, alone on its cache lines (128 bytes: a line and the one
/// the adjacent-line prefetcher pairs with it), so that two shards never share a line.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Shard(Mutex<State>);

#[derive(Debug, Default)]
struct State {
    records: HashMap<StorageKey, Entry, BuildHasherDefault<KeyHasher>>,
    /// The sizes of the entries held.
    bytes: usize,
    writes_since_sweep: u64,
}

/// A stored session: its numbers, and its values as JSON. Kept encoded rather than as the
/// record's map of values: a small session's map costs three allocations and about 200 bytes
/// more (measured with `session-bench footprint`), and encoding is what the byte cap counts
/// anyway; a read decodes, as a read from Redis does.
#[derive(Debug)]
struct Entry {
    version: u64,
    created_at: u64,
    last_active: u64,
    expires_at: u64,
    data: Box<[u8]>,
}

impl Entry {
    fn new(record: &Record) -> Self {
        Self {
            version: record.version,
            created_at: record.created_at,
            last_active: record.last_active,
            expires_at: record.expires_at,
            // Writing a map of JSON values to a buffer cannot fail.
            data: serde_json::to_vec(&record.data)
                .unwrap_or_default()
                .into_boxed_slice(),
        }
    }

    /// The record (its values decoded; they were encoded from a map, so they decode).
    fn record(&self) -> Record {
        let mut record = Record::new(
            serde_json::from_slice(&self.data).unwrap_or_default(),
            self.created_at,
            self.expires_at,
        );
        record.version = self.version;
        record.last_active = self.last_active;
        record
    }

    fn is_expired_at(&self, now: u64) -> bool {
        now >= self.expires_at
    }

    /// What the entry counts against the byte cap: its values as JSON, plus
    /// [`ENTRY_OVERHEAD`].
    fn size(&self) -> usize {
        self.data.len() + ENTRY_OVERHEAD
    }
}

impl State {
    fn remove(&mut self, key: &StorageKey) -> Option<Entry> {
        let entry = self.records.remove(key)?;
        self.bytes -= entry.size();
        Some(entry)
    }

    /// Removes the entries `expired` says are expired; returns how many went.
    fn sweep(&mut self, now: u64) -> usize {
        let before = self.records.len();
        let mut freed = 0;
        self.records.retain(|_, entry| {
            let keep = !entry.is_expired_at(now);
            if !keep {
                freed += entry.size();
            }
            keep
        });
        self.bytes -= freed;
        self.writes_since_sweep = 0;
        before - self.records.len()
    }
}

/// Hashes storage keys for the map. A storage key is the SHA-256 of a random id (in base64url),
/// and only ids whose signature verifies are ever looked up, so keys are uniformly distributed
/// and cannot be chosen by a client: a keyed hash (SipHash, the default, which costs more than
/// the rest of a lookup) buys no protection against flooding here. This folds the key's bytes
/// eight at a time with a multiply, as FxHash does.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl MemoryDriver {
    /// An empty store with the default caps, on the system clock.
    ///
    /// ```
    /// use session_core::{MemoryDriver, SessionConfig, SessionManager};
    ///
    /// let driver = MemoryDriver::new();
    /// assert!(driver.is_empty());
    /// let manager = SessionManager::builder(SessionConfig::new().with_key("a secret of at least thirty-two bytes!!"))
    ///     .driver(driver)
    ///     .build()?;
    /// assert_eq!(manager.driver().name(), "memory");
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            shard_sessions: 0,
            shard_bytes: 0,
            evicted: AtomicBool::new(false),
        }
        .with_max_sessions(DEFAULT_MAX_SESSIONS)
        .with_max_bytes(DEFAULT_MAX_BYTES)
    }

    /// The clock that decides expiry (tests use a [`ManualClock`](crate::ManualClock)).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use session_core::{ManualClock, MemoryDriver};
    ///
    /// let driver = MemoryDriver::new().with_clock(Arc::new(ManualClock::new(0)));
    /// assert!(driver.is_empty());
    /// ```
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Caps the number of sessions held (default [`DEFAULT_MAX_SESSIONS`]), rounded up to a
    /// multiple of the 64 shards; see the type's docs for what is evicted.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use std::{sync::Arc, time::Duration};
    /// use session_core::{ManualClock, MemoryDriver, Record, SessionId, SessionStore};
    ///
    /// let driver = MemoryDriver::new().with_clock(Arc::new(ManualClock::new(0)))
    ///     .with_max_sessions(64); // one per shard
    /// for _ in 0..1_000 {
    ///     let key = SessionId::generate().storage_key();
    ///     driver.write(&key, &Record::new(Default::default(), 0, 60_000), None).await?;
    /// }
    /// assert!(driver.len() <= 64);
    /// # Ok::<(), session_core::DriverError>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn with_max_sessions(mut self, sessions: usize) -> Self {
        self.shard_sessions = sessions.div_ceil(SHARDS).max(1);
        self
    }

    /// Caps the bytes held (default [`DEFAULT_MAX_BYTES`]): a session counts the length of its
    /// values as JSON plus 128 bytes. A session larger than a 64th of the cap is refused with
    /// [`DriverError::TooLarge`].
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// use serde_json::json;
    /// use session_core::{DriverError, ManualClock, MemoryDriver, Record, SessionId, SessionStore};
    ///
    /// let driver = MemoryDriver::new().with_clock(Arc::new(ManualClock::new(0)))
    ///     .with_max_bytes(64 << 10); // 1 KiB per shard
    /// let mut data = serde_json::Map::new();
    /// data.insert("blob".into(), json!("x".repeat(2_000)));
    /// let key = SessionId::generate().storage_key();
    /// let refused = driver.write(&key, &Record::new(data, 0, 60_000), None).await;
    /// assert!(matches!(refused, Err(DriverError::TooLarge { driver: "memory", .. })));
    /// # });
    /// ```
    #[must_use]
    pub fn with_max_bytes(mut self, bytes: usize) -> Self {
        self.shard_bytes = (bytes / SHARDS).max(ENTRY_OVERHEAD);
        self
    }

    /// The bytes held, as counted against [`MemoryDriver::with_max_bytes`].
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// use session_core::{ManualClock, MemoryDriver};
    ///
    /// let driver = MemoryDriver::new().with_clock(Arc::new(ManualClock::new(0)));
    /// assert_eq!(driver.bytes(), 0);
    /// ```
    pub fn bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| Self::lock(shard).bytes)
            .sum()
    }

    /// The shard that holds `key`, locked.
    fn state(&self, key: &StorageKey) -> MutexGuard<'_, State> {
        Self::lock(&self.shards[key.slot(SHARDS)])
    }

    fn lock(shard: &Shard) -> MutexGuard<'_, State> {
        shard.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The number of records held, expired ones not yet swept included.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use std::{sync::Arc, time::Duration};
    /// use session_core::{ManualClock, MemoryDriver, Record, SessionId, SessionStore};
    ///
    /// let driver = MemoryDriver::new().with_clock(Arc::new(ManualClock::new(0)));
    /// for _ in 0..3 {
    ///     let key = SessionId::generate().storage_key();
    ///     driver.write(&key, &Record::new(Default::default(), 0, 60_000), None).await?;
    /// }
    /// assert_eq!(driver.len(), 3);
    /// # Ok::<(), session_core::DriverError>(())
    /// # }).unwrap();
    /// ```
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| Self::lock(shard).records.len())
            .sum()
    }

    /// Whether no record is held.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use std::{sync::Arc, time::Duration};
    /// use session_core::{ManualClock, MemoryDriver, Record, SessionId, SessionStore};
    ///
    /// let driver = MemoryDriver::new().with_clock(Arc::new(ManualClock::new(0)));
    /// assert!(driver.is_empty());
    /// let key = SessionId::generate().storage_key();
    /// driver.write(&key, &Record::new(Default::default(), 0, 60_000), None).await?;
    /// assert!(!driver.is_empty());
    /// # Ok::<(), session_core::DriverError>(())
    /// # }).unwrap();
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every expired record now; returns how many went.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use std::{sync::Arc, time::Duration};
    /// use session_core::{ManualClock, MemoryDriver, Record, SessionId, SessionStore};
    ///
    /// let clock = ManualClock::new(0);
    /// let driver = MemoryDriver::new().with_clock(Arc::new(clock.clone()));
    /// let key = SessionId::generate().storage_key();
    /// driver.write(&key, &Record::new(Default::default(), 0, 60_000), None).await?;
    ///
    /// clock.advance(Duration::from_secs(61));
    /// assert_eq!(driver.len(), 1); // expired, not yet evicted
    /// assert_eq!(driver.sweep(), 1);
    /// assert!(driver.is_empty());
    /// # Ok::<(), session_core::DriverError>(())
    /// # }).unwrap();
    /// ```
    pub fn sweep(&self) -> usize {
        let now = self.clock.now_ms();
        self.shards
            .iter()
            .map(|shard| Self::lock(shard).sweep(now))
            .sum()
    }

    /// The live (unexpired) record under `key`, evicting an expired one.
    fn live<'a>(&self, state: &'a mut State, key: &StorageKey, now: u64) -> Option<&'a mut Entry> {
        if state.records.get(key).is_some_and(|e| e.is_expired_at(now)) {
            state.remove(key);
        }
        state.records.get_mut(key)
    }

    /// Stores `record` under `key`, making room within the shard's share of the caps.
    fn insert(
        &self,
        state: &mut State,
        key: &StorageKey,
        record: &Record,
        now: u64,
    ) -> Result<(), DriverError> {
        let entry = Entry::new(record);
        let size = entry.size();
        if size > self.shard_bytes {
            return Err(DriverError::TooLarge {
                driver: "memory",
                size,
                limit: self.shard_bytes,
            });
        }
        state.remove(key);
        state.writes_since_sweep += 1;
        let full = |state: &State| {
            state.records.len() >= self.shard_sessions || state.bytes + size > self.shard_bytes
        };
        if state.writes_since_sweep >= SWEEP_EVERY || full(state) {
            state.sweep(now);
        }
        while full(state) {
            let Some(oldest) = state
                .records
                .iter()
                .min_by_key(|(_, e)| e.last_active)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            state.remove(&oldest);
            if !self.evicted.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    target: "session",
                    "memory driver full: evicting the least recently active sessions (see MemoryDriver::with_max_sessions and with_max_bytes)"
                );
            }
        }
        state.records.insert(key.clone(), entry);
        state.bytes += size;
        Ok(())
    }
}

#[async_trait]
impl SessionStore for MemoryDriver {
    async fn read(&self, key: &StorageKey) -> Result<Option<Record>, DriverError> {
        let now = self.clock.now_ms();
        let mut state = self.state(key);
        Ok(self.live(&mut state, key, now).map(|entry| entry.record()))
    }

    async fn write(
        &self,
        key: &StorageKey,
        record: &Record,
        expected: Option<u64>,
    ) -> Result<WriteOutcome, DriverError> {
        let now = self.clock.now_ms();
        let mut state = self.state(key);
        let current = self.live(&mut state, key, now).map(|r| r.version);
        let outcome = match (expected, current) {
            (expected, current) if expected == current => WriteOutcome::Written,
            (Some(_), None) => WriteOutcome::Gone,
            _ => WriteOutcome::Conflict,
        };
        if outcome == WriteOutcome::Written {
            self.insert(&mut state, key, record, now)?;
        }
        Ok(outcome)
    }

    async fn destroy(&self, key: &StorageKey, version: u64) -> Result<WriteOutcome, DriverError> {
        let now = self.clock.now_ms();
        let mut state = self.state(key);
        let outcome = match self.live(&mut state, key, now).map(|r| r.version) {
            None => WriteOutcome::Gone,
            Some(v) if v == version => WriteOutcome::Written,
            Some(_) => WriteOutcome::Conflict,
        };
        if outcome == WriteOutcome::Written {
            state.remove(key);
        }
        Ok(outcome)
    }

    async fn refresh(
        &self,
        key: &StorageKey,
        last_active: u64,
        expires_at: u64,
    ) -> Result<(), DriverError> {
        let now = self.clock.now_ms();
        let mut state = self.state(key);
        if let Some(entry) = self.live(&mut state, key, now) {
            entry.last_active = last_active;
            entry.expires_at = expires_at;
        }
        Ok(())
    }

    fn as_tagged(&self) -> Option<&dyn TaggedStore> {
        Some(self)
    }

    fn name(&self) -> &'static str {
        "memory"
    }
}

/// A scan of every shard: no index to keep up to date, and a listing is rare (an account page,
/// a log-out everywhere). Only the entries whose JSON holds the tag's JSON are decoded.
#[async_trait]
impl TaggedStore for MemoryDriver {
    async fn tagged(&self, tag: &str) -> Result<Vec<(StorageKey, Record)>, DriverError> {
        let now = self.clock.now_ms();
        let needle = serde_json::to_vec(tag).unwrap_or_default();
        let mut found = Vec::new();
        for shard in self.shards.iter() {
            let state = Self::lock(shard);
            for (key, entry) in &state.records {
                if !entry.is_expired_at(now)
                    && entry
                        .data
                        .windows(needle.len())
                        .any(|w| w == needle.as_slice())
                {
                    let record = entry.record();
                    if record.tag() == Some(tag) {
                        found.push((key.clone(), record));
                    }
                }
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::hash::{BuildHasher, BuildHasherDefault};

    use super::KeyHasher;
    use crate::id::SessionId;

    #[test]
    fn expired_records_are_swept_shard_by_shard_as_writes_go_on() {
        use std::sync::Arc;
        use std::time::Duration;

        use crate::{Clock, ManualClock, Record, SessionStore};

        let clock = ManualClock::new(0);
        let driver = super::MemoryDriver::new().with_clock(Arc::new(clock.clone()));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            for _ in 0..1000 {
                let key = SessionId::generate().storage_key();
                driver
                    .write(&key, &Record::new(Default::default(), 0, 60_000), None)
                    .await
                    .unwrap();
            }
            assert_eq!(driver.len(), 1000);
            clock.advance(Duration::from_secs(61));
            // 4,096 writes give every one of the 64 shards far more than the 16 writes that
            // start its sweep, after which it holds none of the expired records.
            let now = clock.now_ms();
            for _ in 0..4096 {
                let key = SessionId::generate().storage_key();
                driver
                    .write(
                        &key,
                        &Record::new(Default::default(), now, now + 60_000),
                        None,
                    )
                    .await
                    .unwrap();
            }
        });
        assert_eq!(driver.len(), 4096);
        assert!(!format!("{driver:?}").contains("records"));
    }

    #[test]
    fn storage_keys_spread_over_the_hash_bits_the_map_uses() {
        let build = BuildHasherDefault::<KeyHasher>::default();
        let hashes: Vec<u64> = (0..4096)
            .map(|_| build.hash_one(SessionId::generate().storage_key()))
            .collect();
        // hashbrown picks the bucket from the low bits and the control tag from the top 7.
        let low: HashSet<u64> = hashes.iter().map(|h| h & 0xfff).collect();
        let top: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        // 4,096 uniform draws from 4,096 values give about 2,589 distinct ones.
        assert!(low.len() > 2400, "{} distinct buckets", low.len());
        assert_eq!(top.len(), 128, "every tag value appears");
    }

    #[test]
    fn a_full_shard_evicts_its_least_recently_active_sessions_and_counts_bytes() {
        use std::sync::Arc;
        use std::time::Duration;

        use serde_json::json;

        use crate::{Clock, DriverError, ManualClock, Record, SessionStore};

        let clock = ManualClock::new(0);
        // One session and 4 KiB per shard.
        let driver = super::MemoryDriver::new()
            .with_clock(Arc::new(clock.clone()))
            .with_max_sessions(super::SHARDS)
            .with_max_bytes(super::SHARDS * 4096);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            // Two keys of one shard.
            let first = SessionId::generate().storage_key();
            let second = loop {
                let key = SessionId::generate().storage_key();
                if key.slot(super::SHARDS) == first.slot(super::SHARDS) {
                    break key;
                }
            };
            let record = |n: u64| {
                let mut data = serde_json::Map::new();
                data.insert("n".into(), json!(n));
                let now = clock.now_ms();
                Record::new(data, now, now + 3_600_000)
            };
            driver.write(&first, &record(1), None).await.unwrap();
            assert_eq!(driver.bytes(), "{\"n\":1}".len() + super::ENTRY_OVERHEAD);
            clock.advance(Duration::from_secs(1));
            driver.write(&second, &record(2), None).await.unwrap();
            assert!(driver.read(&first).await.unwrap().is_none(), "evicted");
            assert!(driver.read(&second).await.unwrap().is_some());
            assert_eq!(driver.len(), 1);
            // Rewriting a session replaces its size.
            driver.write(&second, &record(22), Some(0)).await.unwrap();
            assert_eq!(driver.bytes(), "{\"n\":22}".len() + super::ENTRY_OVERHEAD);
            // Larger than a shard's bytes: refused, and the session held stays.
            let mut big = serde_json::Map::new();
            big.insert("blob".into(), json!("x".repeat(5000)));
            let refused = driver
                .write(&second, &Record::new(big, 0, 3_600_000), Some(0))
                .await;
            assert!(matches!(
                refused,
                Err(DriverError::TooLarge {
                    driver: "memory",
                    ..
                })
            ));
            assert!(driver.read(&second).await.unwrap().is_some());
            driver.destroy(&second, 0).await.unwrap();
            assert_eq!((driver.len(), driver.bytes()), (0, 0));
        });
    }

    #[test]
    fn a_flood_of_sessions_stays_within_the_caps() {
        use std::sync::Arc;

        use serde_json::json;

        use crate::{ManualClock, Record, SessionStore};

        let driver = super::MemoryDriver::new()
            .with_clock(Arc::new(ManualClock::new(0)))
            .with_max_sessions(640)
            .with_max_bytes(1 << 20);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut data = serde_json::Map::new();
            data.insert("blob".into(), json!("x".repeat(3000)));
            for _ in 0..5_000 {
                let key = SessionId::generate().storage_key();
                driver
                    .write(&key, &Record::new(data.clone(), 0, 3_600_000), None)
                    .await
                    .unwrap();
            }
        });
        assert!(driver.len() <= 640, "{}", driver.len());
        assert!(driver.bytes() <= 1 << 20, "{}", driver.bytes());
        assert!(
            driver.len() > 200,
            "the caps are used, not undershot: {}",
            driver.len()
        );
    }
}
