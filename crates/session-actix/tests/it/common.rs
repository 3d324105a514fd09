//! A driver that counts its calls and can be told to fail, and a manager built on it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use session_core::{
    Capabilities, Driver, DriverError, Expected, MemoryDriver, Record, SessionConfig,
    SessionContext, SessionManager, StorageKey, WriteOutcome,
};

pub(crate) const SECRET: &str = "actix adapter test secret, 32 bytes long";

/// Counts of the driver calls, shared with the test.
#[derive(Debug, Default)]
pub(crate) struct Calls {
    pub(crate) reads: AtomicUsize,
    pub(crate) writes: AtomicUsize,
    pub(crate) touches: AtomicUsize,
    pub(crate) destroys: AtomicUsize,
    /// When set, every call fails as if the storage were down.
    pub(crate) down: AtomicBool,
}

impl Calls {
    pub(crate) fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }

    pub(crate) fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    pub(crate) fn touches(&self) -> usize {
        self.touches.load(Ordering::SeqCst)
    }

    pub(crate) fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn check(&self, counter: &AtomicUsize) -> Result<(), DriverError> {
        counter.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(DriverError::unavailable(
                "counting",
                "the test took it down",
            ));
        }
        Ok(())
    }
}

#[derive(Debug)]
struct Counting {
    inner: MemoryDriver,
    calls: Arc<Calls>,
}

#[async_trait]
impl Driver for Counting {
    fn name(&self) -> &'static str {
        "counting"
    }

    fn capabilities(&self) -> Capabilities {
        // A driver whose read does not slide the idle expiry (the memory driver's does), so the
        // tests see every `touch` the commit table asks for.
        self.inner.capabilities().with_refreshes_on_read(false)
    }

    async fn read(
        &self,
        cx: &SessionContext,
        key: &StorageKey,
    ) -> Result<Option<Record>, DriverError> {
        self.calls.check(&self.calls.reads)?;
        self.inner.read(cx, key).await
    }

    async fn write(
        &self,
        cx: &SessionContext,
        key: &StorageKey,
        record: &Record,
    ) -> Result<(), DriverError> {
        self.calls.check(&self.calls.writes)?;
        self.inner.write(cx, key, record).await
    }

    async fn write_if(
        &self,
        cx: &SessionContext,
        key: &StorageKey,
        record: &Record,
        expected: Expected,
    ) -> Result<WriteOutcome, DriverError> {
        self.calls.check(&self.calls.writes)?;
        self.inner.write_if(cx, key, record, expected).await
    }

    async fn destroy(&self, cx: &SessionContext, key: &StorageKey) -> Result<(), DriverError> {
        self.calls.check(&self.calls.destroys)?;
        self.inner.destroy(cx, key).await
    }

    async fn destroy_if(
        &self,
        cx: &SessionContext,
        key: &StorageKey,
        version: u64,
    ) -> Result<WriteOutcome, DriverError> {
        self.calls.check(&self.calls.destroys)?;
        self.inner.destroy_if(cx, key, version).await
    }

    async fn touch(
        &self,
        cx: &SessionContext,
        key: &StorageKey,
        now_ms: u64,
    ) -> Result<(), DriverError> {
        self.calls.check(&self.calls.touches)?;
        self.inner.touch(cx, key, now_ms).await
    }
}

/// A manager whose driver counts its calls.
pub(crate) fn counting_manager(config: SessionConfig) -> (SessionManager, Arc<Calls>) {
    let calls = Arc::new(Calls::default());
    let shared = calls.clone();
    let manager = SessionManager::builder(config.with_driver("counting").with_key(SECRET))
        .extend("counting", move |setup| {
            Ok(Arc::new(Counting {
                inner: MemoryDriver::new(setup.lifetimes(), setup.clock()),
                calls: shared.clone(),
            }))
        })
        .build()
        .expect("valid test configuration");
    (manager, calls)
}

/// The `name=value` part of every `Set-Cookie` header of a response, for the next request.
pub(crate) fn cookie_header(res: &actix_web::dev::ServiceResponse<impl Sized>) -> String {
    set_cookies(res)
        .iter()
        .filter_map(|c| c.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The raw `Set-Cookie` values of a response.
pub(crate) fn set_cookies(res: &actix_web::dev::ServiceResponse<impl Sized>) -> Vec<String> {
    res.headers()
        .get_all(actix_web::http::header::SET_COOKIE)
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect()
}
