//! The process-wide memory driver.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use crate::clock::Clock;
use crate::context::SessionContext;
use crate::driver::{Capabilities, Driver, Expected, Lifetimes, Record, WriteOutcome};
use crate::error::DriverError;
use crate::id::StorageKey;

/// How many locks the sessions are spread over, by storage key. Requests for different sessions
/// on different threads then take different locks, instead of all waiting for one and passing
/// its cache line from core to core on every request.
const SHARDS: usize = 64;

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
/// [`MemoryDriver::sweep`] can be called from a timer. A read records the activity (slides
/// the idle expiry) under the same lock, as the Redis driver's read does, so an unmodified
/// session needs no separate `touch` (the driver declares
/// [`Capabilities::with_refreshes_on_read`]); readonly requests read, so they count as activity.
///
/// ```
/// use std::time::Duration;
/// use std::sync::Arc;
/// use session_core::{Lifetimes, MemoryDriver, SystemClock};
///
/// let driver = MemoryDriver::new(Lifetimes::new(Duration::from_secs(7200), None), Arc::new(SystemClock));
/// assert_eq!(driver.len(), 0);
/// ```
pub struct MemoryDriver {
    lifetimes: Lifetimes,
    clock: Arc<dyn Clock>,
    shards: Box<[Shard]>,
}

impl fmt::Debug for MemoryDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryDriver")
            .field("lifetimes", &self.lifetimes)
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
    records: HashMap<StorageKey, Record, BuildHasherDefault<KeyHasher>>,
    writes_since_sweep: u64,
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
    /// An empty store.
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// use session_core::{Driver, Lifetimes, ManualClock, MemoryDriver};
    ///
    /// let driver = MemoryDriver::new(
    ///     Lifetimes::new(Duration::from_secs(1800), Some(Duration::from_secs(86_400))),
    ///     Arc::new(ManualClock::new(0)),
    /// );
    /// assert!(driver.is_empty());
    /// assert!(driver.capabilities().atomic_update());
    /// ```
    pub fn new(lifetimes: Lifetimes, clock: Arc<dyn Clock>) -> Self {
        Self {
            lifetimes,
            clock,
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
        }
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
    /// use session_core::{CookieOptions, Driver, Lifetimes, ManualClock, MemoryDriver, Record, SessionContext, SessionId};
    ///
    /// let driver = MemoryDriver::new(Lifetimes::new(Duration::from_secs(60), None), Arc::new(ManualClock::new(0)));
    /// let cx = SessionContext::new("id", CookieOptions::default());
    /// for _ in 0..3 {
    ///     let key = SessionId::generate().storage_key();
    ///     driver.write(&cx, &key, &Record::new(Default::default(), 0)).await?;
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
    /// use session_core::{CookieOptions, Driver, Lifetimes, ManualClock, MemoryDriver, Record, SessionContext, SessionId};
    ///
    /// let driver = MemoryDriver::new(Lifetimes::new(Duration::from_secs(60), None), Arc::new(ManualClock::new(0)));
    /// assert!(driver.is_empty());
    /// let cx = SessionContext::new("id", CookieOptions::default());
    /// let key = SessionId::generate().storage_key();
    /// driver.write(&cx, &key, &Record::new(Default::default(), 0)).await?;
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
    /// use session_core::{CookieOptions, Driver, Lifetimes, ManualClock, MemoryDriver, Record, SessionContext, SessionId};
    ///
    /// let clock = ManualClock::new(0);
    /// let driver = MemoryDriver::new(Lifetimes::new(Duration::from_secs(60), None), Arc::new(clock.clone()));
    /// let cx = SessionContext::new("id", CookieOptions::default());
    /// let key = SessionId::generate().storage_key();
    /// driver.write(&cx, &key, &Record::new(Default::default(), 0)).await?;
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
            .map(|shard| Self::sweep_locked(&mut Self::lock(shard), &self.lifetimes, now))
            .sum()
    }

    fn sweep_locked(state: &mut State, lifetimes: &Lifetimes, now: u64) -> usize {
        let before = state.records.len();
        state.records.retain(|_, r| !lifetimes.is_expired(r, now));
        state.writes_since_sweep = 0;
        before - state.records.len()
    }

    /// The live (unexpired) record under `key`, evicting an expired one.
    fn live<'a>(&self, state: &'a mut State, key: &StorageKey, now: u64) -> Option<&'a mut Record> {
        if state
            .records
            .get(key)
            .is_some_and(|r| self.lifetimes.is_expired(r, now))
        {
            state.records.remove(key);
        }
        state.records.get_mut(key)
    }

    fn insert(&self, state: &mut State, key: &StorageKey, record: &Record, now: u64) {
        state.records.insert(key.clone(), record.clone());
        state.writes_since_sweep += 1;
        if state.writes_since_sweep >= SWEEP_EVERY {
            Self::sweep_locked(state, &self.lifetimes, now);
        }
    }
}

#[async_trait]
impl Driver for MemoryDriver {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new()
            .with_atomic_update(true)
            .with_refreshes_on_read(true)
    }

    async fn read(
        &self,
        _cx: &SessionContext,
        key: &StorageKey,
    ) -> Result<Option<Record>, DriverError> {
        let now = self.clock.now_ms();
        let mut state = self.state(key);
        Ok(self.live(&mut state, key, now).map(|record| {
            record.last_active = record.last_active.max(now);
            record.clone()
        }))
    }

    async fn write(
        &self,
        _cx: &SessionContext,
        key: &StorageKey,
        record: &Record,
    ) -> Result<(), DriverError> {
        let now = self.clock.now_ms();
        let mut state = self.state(key);
        self.insert(&mut state, key, record, now);
        Ok(())
    }

    async fn write_if(
        &self,
        _cx: &SessionContext,
        key: &StorageKey,
        record: &Record,
        expected: Expected,
    ) -> Result<WriteOutcome, DriverError> {
        let now = self.clock.now_ms();
        let mut state = self.state(key);
        let current = self.live(&mut state, key, now).map(|r| r.version);
        let outcome = match (expected, current) {
            (Expected::Absent, None) => WriteOutcome::Written,
            (Expected::Absent, Some(_)) => WriteOutcome::Conflict,
            (Expected::Version(_), None) => WriteOutcome::Gone,
            (Expected::Version(v), Some(c)) if v == c => WriteOutcome::Written,
            (Expected::Version(_), Some(_)) => WriteOutcome::Conflict,
        };
        if outcome == WriteOutcome::Written {
            self.insert(&mut state, key, record, now);
        }
        Ok(outcome)
    }

    async fn destroy(&self, _cx: &SessionContext, key: &StorageKey) -> Result<(), DriverError> {
        self.state(key).records.remove(key);
        Ok(())
    }

    async fn destroy_if(
        &self,
        _cx: &SessionContext,
        key: &StorageKey,
        version: u64,
    ) -> Result<WriteOutcome, DriverError> {
        let now = self.clock.now_ms();
        let mut state = self.state(key);
        let outcome = match self.live(&mut state, key, now).map(|r| r.version) {
            None => WriteOutcome::Gone,
            Some(v) if v == version => WriteOutcome::Written,
            Some(_) => WriteOutcome::Conflict,
        };
        if outcome == WriteOutcome::Written {
            state.records.remove(key);
        }
        Ok(outcome)
    }

    async fn touch(
        &self,
        _cx: &SessionContext,
        key: &StorageKey,
        now_ms: u64,
    ) -> Result<(), DriverError> {
        let now = self.clock.now_ms();
        let mut state = self.state(key);
        if let Some(record) = self.live(&mut state, key, now) {
            record.last_active = record.last_active.max(now_ms);
        }
        Ok(())
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

        use crate::{Clock, CookieOptions, Driver, Lifetimes, ManualClock, Record, SessionContext};

        let clock = ManualClock::new(0);
        let driver = super::MemoryDriver::new(
            Lifetimes::new(Duration::from_secs(60), None),
            Arc::new(clock.clone()),
        );
        let cx = SessionContext::new("id", CookieOptions::default());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            for _ in 0..1000 {
                let key = SessionId::generate().storage_key();
                driver
                    .write(&cx, &key, &Record::new(Default::default(), 0))
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
                    .write(&cx, &key, &Record::new(Default::default(), now))
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
}
