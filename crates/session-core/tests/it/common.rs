//! A recording wrapper around the real memory driver, so tests can see which driver calls a
//! commit made.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use session_core::{
    DriverError, ManualClock, MemoryDriver, Record, SessionConfig, SessionManager, SessionStore,
    StorageKey, WriteOutcome,
};
use session_testkit::Browser;

pub(crate) const SECRET: &str = "integration test secret of 32+ bytes";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Call {
    Read(StorageKey),
    Write(StorageKey, Option<u64>),
    Destroy(StorageKey, u64),
    Refresh(StorageKey),
}

/// The memory driver, its calls recorded; with `atomic: false` it ignores the expected
/// versions, as a last-writer-wins store does.
#[derive(Debug)]
pub(crate) struct Recording {
    inner: MemoryDriver,
    atomic: bool,
    pub calls: Mutex<Vec<Call>>,
}

impl Recording {
    pub(crate) fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().expect("lock"))
    }

    fn log(&self, call: Call) {
        self.calls.lock().expect("lock").push(call);
    }

    /// The version stored now, for the last-writer-wins mode.
    async fn current(&self, key: &StorageKey) -> Result<Option<u64>, DriverError> {
        Ok(self.inner.read(key).await?.map(|r| r.version))
    }
}

#[async_trait]
impl SessionStore for Recording {
    async fn read(&self, key: &StorageKey) -> Result<Option<Record>, DriverError> {
        self.log(Call::Read(key.clone()));
        self.inner.read(key).await
    }
    async fn write(
        &self,
        key: &StorageKey,
        record: &Record,
        expected: Option<u64>,
    ) -> Result<WriteOutcome, DriverError> {
        self.log(Call::Write(key.clone(), expected));
        let expected = if self.atomic {
            expected
        } else {
            self.current(key).await?
        };
        self.inner.write(key, record, expected).await
    }
    async fn destroy(&self, key: &StorageKey, version: u64) -> Result<WriteOutcome, DriverError> {
        self.log(Call::Destroy(key.clone(), version));
        match (self.atomic, self.current(key).await?) {
            (false, Some(current)) => self.inner.destroy(key, current).await,
            (false, None) => Ok(WriteOutcome::Written),
            (true, _) => self.inner.destroy(key, version).await,
        }
    }
    async fn refresh(
        &self,
        key: &StorageKey,
        last_active: u64,
        expires_at: u64,
    ) -> Result<(), DriverError> {
        self.log(Call::Refresh(key.clone()));
        self.inner.refresh(key, last_active, expires_at).await
    }
    fn name(&self) -> &'static str {
        "recording"
    }
}

/// A browser on a manager whose driver records its calls.
pub(crate) fn recording(atomic: bool) -> (Browser, Arc<Recording>, ManualClock) {
    recording_with(atomic, SessionConfig::new())
}

/// [`recording`] with other settings (the key is set here).
pub(crate) fn recording_with(
    atomic: bool,
    config: SessionConfig,
) -> (Browser, Arc<Recording>, ManualClock) {
    let clock = ManualClock::starting_now();
    let driver = Arc::new(Recording {
        inner: MemoryDriver::new().with_clock(Arc::new(clock.clone())),
        atomic,
        calls: Mutex::default(),
    });
    let manager = SessionManager::builder(config.with_key(SECRET))
        .with_clock(Arc::new(clock.clone()))
        .driver(driver.clone())
        .build()
        .expect("valid configuration");
    (Browser::new(manager), driver, clock)
}

/// A browser on a plain memory-driver manager.
pub(crate) fn memory() -> Browser {
    Browser::new(
        SessionManager::builder(SessionConfig::new().with_driver("memory").with_key(SECRET))
            .build()
            .expect("valid configuration"),
    )
}
