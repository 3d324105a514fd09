//! A driver that counts its calls and can be told to fail, and a manager built on it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use session_core::{
    DriverError, MemoryDriver, Record, SessionConfig, SessionManager, SessionStore, StorageKey,
    WriteOutcome,
};

pub(crate) const SECRET: &str = "actix adapter test secret, 32 bytes long";

/// Counts of the driver calls, shared with the test.
#[derive(Debug, Default)]
pub(crate) struct Calls {
    pub(crate) reads: AtomicUsize,
    pub(crate) writes: AtomicUsize,
    /// Refreshes of the expiry.
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
impl SessionStore for Counting {
    async fn read(&self, key: &StorageKey) -> Result<Option<Record>, DriverError> {
        self.calls.check(&self.calls.reads)?;
        self.inner.read(key).await
    }

    async fn write(
        &self,
        key: &StorageKey,
        record: &Record,
        expected: Option<u64>,
    ) -> Result<WriteOutcome, DriverError> {
        self.calls.check(&self.calls.writes)?;
        self.inner.write(key, record, expected).await
    }

    async fn destroy(&self, key: &StorageKey, version: u64) -> Result<WriteOutcome, DriverError> {
        self.calls.check(&self.calls.destroys)?;
        self.inner.destroy(key, version).await
    }

    async fn refresh(
        &self,
        key: &StorageKey,
        last_active: u64,
        expires_at: u64,
    ) -> Result<(), DriverError> {
        self.calls.check(&self.calls.touches)?;
        self.inner.refresh(key, last_active, expires_at).await
    }

    fn name(&self) -> &'static str {
        "counting"
    }
}

/// A manager whose driver counts its calls.
pub(crate) fn counting_manager(config: SessionConfig) -> (SessionManager, Arc<Calls>) {
    let calls = Arc::new(Calls::default());
    let manager = SessionManager::builder(config.with_key(SECRET))
        .driver(Counting {
            inner: MemoryDriver::new(),
            calls: calls.clone(),
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
