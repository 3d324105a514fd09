//! A recording wrapper around the real memory driver, so tests can see which driver calls a
//! commit made.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use session_core::{
    Capabilities, Driver, DriverError, Expected, ManualClock, MemoryDriver, Record, SessionConfig,
    SessionContext, SessionManager, StorageKey, WriteOutcome,
};
use session_testkit::Browser;

pub(crate) const SECRET: &str = "integration test secret of 32+ bytes";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Call {
    Read(StorageKey),
    Write(StorageKey),
    WriteIf(StorageKey, Expected),
    Destroy(StorageKey),
    DestroyIf(StorageKey, u64),
    Touch(StorageKey),
}

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
}

#[async_trait]
impl Driver for Recording {
    fn name(&self) -> &'static str {
        "recording"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::new().with_atomic_update(self.atomic)
    }
    async fn read(
        &self,
        cx: &SessionContext,
        key: &StorageKey,
    ) -> Result<Option<Record>, DriverError> {
        self.log(Call::Read(key.clone()));
        self.inner.read(cx, key).await
    }
    async fn write(
        &self,
        cx: &SessionContext,
        key: &StorageKey,
        record: &Record,
    ) -> Result<(), DriverError> {
        self.log(Call::Write(key.clone()));
        self.inner.write(cx, key, record).await
    }
    async fn write_if(
        &self,
        cx: &SessionContext,
        key: &StorageKey,
        record: &Record,
        expected: Expected,
    ) -> Result<WriteOutcome, DriverError> {
        self.log(Call::WriteIf(key.clone(), expected));
        self.inner.write_if(cx, key, record, expected).await
    }
    async fn destroy(&self, cx: &SessionContext, key: &StorageKey) -> Result<(), DriverError> {
        self.log(Call::Destroy(key.clone()));
        self.inner.destroy(cx, key).await
    }
    async fn destroy_if(
        &self,
        cx: &SessionContext,
        key: &StorageKey,
        version: u64,
    ) -> Result<WriteOutcome, DriverError> {
        self.log(Call::DestroyIf(key.clone(), version));
        self.inner.destroy_if(cx, key, version).await
    }
    async fn touch(
        &self,
        cx: &SessionContext,
        key: &StorageKey,
        now_ms: u64,
    ) -> Result<(), DriverError> {
        self.log(Call::Touch(key.clone()));
        self.inner.touch(cx, key, now_ms).await
    }
}

/// A browser on a manager whose driver records its calls.
pub(crate) fn recording(atomic: bool) -> (Browser, Arc<Recording>, ManualClock) {
    let clock = ManualClock::starting_now();
    let slot: Arc<Mutex<Option<Arc<Recording>>>> = Arc::default();
    let out = slot.clone();
    let manager = SessionManager::builder(
        SessionConfig::new()
            .with_driver("recording")
            .with_key(SECRET),
    )
    .with_clock(Arc::new(clock.clone()))
    .extend("recording", move |setup| {
        let driver = Arc::new(Recording {
            inner: MemoryDriver::new(setup.lifetimes(), setup.clock()),
            atomic,
            calls: Mutex::default(),
        });
        *out.lock().expect("lock") = Some(driver.clone());
        Ok(driver)
    })
    .build()
    .expect("valid configuration");
    let driver = slot.lock().expect("lock").clone().expect("factory ran");
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
