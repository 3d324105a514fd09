//! The driver: records sealed into the browser's cookies.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use session_core::{
    Clock, ConfigError, Driver, DriverError, DriverSetup, Lifetimes, Record, SessionContext,
    StorageKey,
};

use crate::chunk::{Layout, MAX_CHUNKS};
use crate::config::CookieDriverConfig;
use crate::opened::{Opened, OpenedValues};
use crate::seal::{Sealer, HEADROOM};
use crate::{DRIVER_NAME, KEY_PURPOSE, SECTION};

/// The smallest accepted `max_size`: an empty record already seals to about 120 bytes.
const MIN_SIZE: usize = 256;
/// How many chunks the default cap allows.
const DEFAULT_CHUNKS: usize = 10;

/// The cookie driver: the whole record sealed with AES-256-GCM into the browser's cookies.
///
/// Build it through the registry ([`register`](crate::register)); the factory reads the session
/// configuration, the key ring and the `cookie_store` section once, at start-up. See the
/// [crate documentation](crate) for the format and the security properties.
///
/// ```
/// use session_core::{DriverRegistry, SessionConfig, SessionManager};
///
/// let mut registry = DriverRegistry::new();
/// session_cookie::register(&mut registry);
/// let manager = SessionManager::builder(
///     SessionConfig::new()
///         .with_driver("cookie")
///         .with_key("a secret of at least thirty-two bytes!!"),
/// )
/// .with_registry(registry)
/// .build()
/// .unwrap();
/// assert_eq!(manager.driver().name(), "cookie");
/// assert!(!manager.driver().capabilities().atomic_update());
/// ```
pub struct CookieDriver {
    cookie_name: String,
    layout: Layout,
    sealer: Sealer,
    lifetimes: Lifetimes,
    clear_with_browser: bool,
    max_size: usize,
    max_chunks: usize,
    reseal_after_percent: u8,
    clock: Arc<dyn Clock>,
    /// Sealed values opened or sealed lately, with their records (see `opened.rs`).
    opened: OpenedValues,
}

impl fmt::Debug for CookieDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieDriver")
            .field("cookie_name", &self.cookie_name)
            .field("sealer", &self.sealer)
            .field("lifetimes", &self.lifetimes)
            .field("clear_with_browser", &self.clear_with_browser)
            .field("max_size", &self.max_size)
            .field("max_chunks", &self.max_chunks)
            .field("reseal_after_percent", &self.reseal_after_percent)
            .finish_non_exhaustive()
    }
}

/// What the driver remembers during one request (a [`SessionContext`] slot).
#[derive(Debug, Default)]
struct RequestState {
    /// The session the response's data cookies hold (or the request's, while not superseded).
    /// Shared, so that the read, the touch and the commit of one request do not copy it.
    current: Option<Arc<Opened>>,
    /// The request's data cookies were overwritten or removed by this response, so they no
    /// longer count: a regenerate writes the new key, then destroys the old one, and the old
    /// key's cookies must neither reopen nor take the new ones down with them.
    superseded: bool,
    /// Chunks set on the response by this request.
    written_chunks: usize,
}

impl CookieDriver {
    /// Builds the driver from the registry's setup and options given in code. A `cookie_store`
    /// section in the session configuration, when present, replaces `config` entirely.
    ///
    /// Errors name the option: `cookie_store.max_size`, `cookie_store.reseal_after_percent`, or
    /// `cookie_store` for a section that does not deserialize.
    pub fn from_setup(
        setup: &DriverSetup<'_>,
        config: CookieDriverConfig,
    ) -> Result<Self, ConfigError> {
        let config = match setup.config().section(SECTION) {
            Some(section) => serde_json::from_value::<CookieDriverConfig>(section.clone())
                .map_err(|e| ConfigError::new(SECTION, e.to_string()).with_source(e))?,
            None => config,
        };
        let cookie_name = setup.config().cookie_name().to_owned();
        let layout = Layout::new(&cookie_name);
        let ceiling = layout.total_capacity(MAX_CHUNKS);
        let max_size = config
            .max_size()
            .unwrap_or_else(|| layout.total_capacity(DEFAULT_CHUNKS));
        if !(MIN_SIZE..=ceiling).contains(&max_size) {
            return Err(ConfigError::new(
                format!("{SECTION}.max_size"),
                format!(
                    "must be between {MIN_SIZE} and {ceiling} bytes (what {MAX_CHUNKS} cookies hold), got {max_size}"
                ),
            ));
        }
        if config.reseal_after_percent() > 100 {
            return Err(ConfigError::new(
                format!("{SECTION}.reseal_after_percent"),
                format!(
                    "must be between 0 and 100, got {}",
                    config.reseal_after_percent()
                ),
            ));
        }
        let max_chunks = layout.chunks_for(max_size).unwrap_or(MAX_CHUNKS);
        Ok(Self {
            sealer: Sealer::new(&setup.keys().derive(KEY_PURPOSE)),
            layout,
            cookie_name,
            lifetimes: setup.lifetimes(),
            clear_with_browser: setup.config().clear_with_browser(),
            max_size,
            max_chunks,
            reseal_after_percent: config.reseal_after_percent(),
            clock: setup.clock(),
            opened: OpenedValues::default(),
        })
    }

    /// The cap on the sealed session in bytes (the configured one, or what ten cookies hold).
    ///
    /// ```
    /// use session_core::{DriverRegistry, SessionConfig, SessionManager};
    /// use session_cookie::{CookieDriver, CookieDriverConfig};
    ///
    /// let mut registry = DriverRegistry::new();
    /// registry.extend("cookie", |setup| {
    ///     let driver = CookieDriver::from_setup(setup, CookieDriverConfig::new())?;
    ///     // Ten cookies named `id.d`, `id.d.1`, … minus the `10.` count prefix.
    ///     assert_eq!(driver.max_size(), 10 * 4096 - 4 - 9 * 6 - 3);
    ///     Ok(std::sync::Arc::new(driver))
    /// });
    /// SessionManager::builder(
    ///     SessionConfig::new().with_driver("cookie").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .with_registry(registry)
    /// .build()
    /// .unwrap();
    /// ```
    pub fn max_size(&self) -> usize {
        self.max_size
    }

    fn state<R>(cx: &SessionContext, f: impl FnOnce(&mut RequestState) -> R) -> R {
        cx.with_slot::<RequestState, R>(f)
    }

    fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    /// The session sealed in the request's data cookies for `key`, with the key index that opened
    /// it: from the table when this value was opened or sealed for `key` lately. Anything
    /// malformed is logged and reads as no session.
    fn open_request(&self, cx: &SessionContext, key: &StorageKey) -> Option<Arc<Opened>> {
        let sealed = match self.layout.assemble(cx, self.max_size, self.max_chunks) {
            Ok(Some(sealed)) => sealed,
            Ok(None) => return None,
            Err(reason) => {
                reject(key, reason);
                return None;
            }
        };
        if let Some(opened) = self.opened.get(key, &sealed) {
            return Some(opened);
        }
        let (plain, key_index) = match self.sealer.open(&self.cookie_name, key, &sealed) {
            Ok(opened) => opened,
            Err(e) => {
                reject(key, e.reason());
                return None;
            }
        };
        let Some(record) = crate::plain::decode(&plain) else {
            reject(key, "the sealed record does not decode");
            return None;
        };
        let opened = Arc::new(Opened {
            key: key.clone(),
            record,
            key_index,
        });
        self.opened.insert(&sealed, &opened);
        Some(opened)
    }

    /// The session the cookies hold for `key` as of now in this request, cached in the slot.
    fn current(&self, cx: &SessionContext, key: &StorageKey) -> Option<Arc<Opened>> {
        let (cached, superseded) = Self::state(cx, |s| (s.current.clone(), s.superseded));
        match cached {
            Some(o) if o.key == *key => return Some(o),
            Some(_) => return None,
            None if superseded => return None,
            None => {}
        }
        let opened = self.open_request(cx, key)?;
        Self::state(cx, |s| s.current = Some(opened.clone()));
        Some(opened)
    }

    fn is_expired(&self, record: &Record, now: u64, key: &StorageKey) -> bool {
        let expired = self.lifetimes.is_expired(record, now);
        if expired {
            tracing::info!(
                target: "session",
                driver = DRIVER_NAME,
                event = "expired",
                key = key.short(),
                "sealed session is past its idle or absolute lifetime; it is not served"
            );
        }
        expired
    }

    /// Removes the request's data cookies and those this response set.
    fn clear_all(&self, cx: &SessionContext) {
        let written = Self::state(cx, |s| s.written_chunks);
        let mut indexes: Vec<usize> = self.layout.request_indexes(cx).collect();
        indexes.extend(0..written);
        indexes.sort_unstable();
        indexes.dedup();
        for index in indexes {
            cx.remove_cookie(&self.layout.name(index));
        }
    }
}

#[async_trait]
impl Driver for CookieDriver {
    fn name(&self) -> &'static str {
        DRIVER_NAME
    }

    async fn read(
        &self,
        cx: &SessionContext,
        key: &StorageKey,
    ) -> Result<Option<Record>, DriverError> {
        let Some(opened) = self.current(cx, key) else {
            return Ok(None);
        };
        if self.is_expired(&opened.record, self.now(), key) {
            return Ok(None);
        }
        Ok(Some(opened.record.clone()))
    }

    async fn write(
        &self,
        cx: &SessionContext,
        key: &StorageKey,
        record: &Record,
    ) -> Result<(), DriverError> {
        // The plaintext is encoded where it is then sealed, and the sealed value written after
        // the first cookie's chunk count: one buffer of bytes and one string per write.
        let mut plain = Sealer::buffer(crate::plain::TYPICAL_LEN);
        crate::plain::encode_into(&mut plain, record);
        // The size is known before anything is encrypted, and nothing is set when it is too big:
        // the commit fails with a typed error instead of sending cookies a browser would drop.
        let size = Sealer::sealed_len(plain.len() - HEADROOM);
        let count = match self.layout.chunks_for(size) {
            Some(count) if size <= self.max_size => count,
            _ => {
                return Err(DriverError::TooLarge {
                    driver: DRIVER_NAME,
                    size,
                    limit: self.max_size,
                })
            }
        };
        let mut value = String::with_capacity(size + 3);
        Layout::push_prefix(&mut value, count);
        let prefix = value.len();
        self.sealer
            .seal_into(&self.cookie_name, key, plain, &mut value)?;
        let now = self.now();
        let max_age = (!self.clear_with_browser)
            .then(|| Duration::from_millis(self.lifetimes.expires_at(record).saturating_sub(now)));
        self.layout.split(&value, count, |name, part| {
            cx.set_session_cookie(name, part, max_age);
        });
        // Chunks of a larger earlier value, sent by the browser or set earlier in this response,
        // would otherwise linger (and be sent back on every request).
        let written = Self::state(cx, |s| s.written_chunks);
        let mut stale: Vec<usize> = self
            .layout
            .request_indexes(cx)
            .filter(|&i| i >= count)
            .collect();
        stale.extend(count..written);
        stale.sort_unstable();
        stale.dedup();
        for index in stale {
            cx.remove_cookie(&self.layout.name(index));
        }
        let opened = Arc::new(Opened {
            key: key.clone(),
            record: record.clone(),
            key_index: 0,
        });
        // The browser sends this value back: its next request is answered from the table.
        self.opened.insert(&value[prefix..], &opened);
        Self::state(cx, |s| {
            s.current = Some(opened);
            s.superseded = true;
            s.written_chunks = count;
        });
        Ok(())
    }

    async fn destroy(&self, cx: &SessionContext, key: &StorageKey) -> Result<(), DriverError> {
        // After a regenerate the response already holds the new key's session; destroying the
        // old key must not remove it.
        let holds_other = Self::state(cx, |s| s.current.as_ref().is_some_and(|o| o.key != *key));
        if holds_other {
            return Ok(());
        }
        self.clear_all(cx);
        // The session ended: its record does not stay in the table of opened values.
        self.opened.remove(key);
        Self::state(cx, |s| {
            s.current = None;
            s.superseded = true;
            s.written_chunks = 0;
        });
        Ok(())
    }

    async fn touch(
        &self,
        cx: &SessionContext,
        key: &StorageKey,
        now_ms: u64,
    ) -> Result<(), DriverError> {
        if Self::state(cx, |s| s.written_chunks > 0) {
            // Written during this request: the cookies are as fresh as they get.
            return Ok(());
        }
        let Some(opened) = self.current(cx, key) else {
            return Ok(());
        };
        // An expired session is never re-sealed: that would bring it back.
        if self.is_expired(&opened.record, now_ms, key) {
            return Ok(());
        }
        let idle = self.lifetimes.idle().as_millis();
        let since = u128::from(now_ms.saturating_sub(opened.record.last_active));
        let due = since * 100 >= idle * u128::from(self.reseal_after_percent);
        if opened.key_index == 0 && !due {
            return Ok(());
        }
        let mut record = opened.record.clone();
        record.last_active = record.last_active.max(now_ms);
        match self.write(cx, key, &record).await {
            Ok(()) => {
                if opened.key_index > 0 {
                    tracing::info!(
                        target: "session",
                        driver = DRIVER_NAME,
                        event = "resealed",
                        key = key.short(),
                        "session sealed with an older key was re-sealed with the current one"
                    );
                }
                Ok(())
            }
            // A record that no longer fits (the cap was lowered) keeps its current cookies until
            // the application changes it; failing a read-only request would help nobody.
            Err(DriverError::TooLarge { size, limit, .. }) => {
                tracing::warn!(
                    target: "session",
                    driver = DRIVER_NAME,
                    key = key.short(),
                    size,
                    limit,
                    "session is above the size cap and was not re-sealed"
                );
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// Logs a rejected data cookie. The cookie's value is never logged.
fn reject(key: &StorageKey, reason: &'static str) {
    tracing::warn!(
        target: "session",
        driver = DRIVER_NAME,
        event = "rejected-data-cookie",
        key = key.short(),
        reason,
        "session data cookie rejected; the request gets a fresh session"
    );
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde_json::Map;
    use session_core::{DriverRegistry, SessionConfig, SessionId, SessionManager};

    use super::*;

    /// A manager with the cookie driver, and that driver.
    fn driver() -> (SessionManager, Arc<CookieDriver>) {
        let built: Arc<Mutex<Option<Arc<CookieDriver>>>> = Arc::default();
        let mut registry = DriverRegistry::new();
        let slot = built.clone();
        registry.extend(DRIVER_NAME, move |setup| {
            let driver = Arc::new(CookieDriver::from_setup(setup, CookieDriverConfig::new())?);
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(driver.clone());
            Ok(driver)
        });
        let manager = SessionManager::builder(
            SessionConfig::new()
                .with_driver(DRIVER_NAME)
                .with_key("a secret of at least thirty-two bytes!!"),
        )
        .with_registry(registry)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
        let driver = built.lock().ok().and_then(|d| d.clone());
        (manager, driver.unwrap_or_else(|| panic!("built")))
    }

    fn header(cx: &SessionContext) -> String {
        cx.response_cookies()
            .iter()
            .filter(|c| !c.value().is_empty())
            .map(|c| c.stripped().to_string())
            .collect::<Vec<_>>()
            .join("; ")
    }

    #[tokio::test]
    async fn the_table_holds_a_session_from_its_write_until_its_destroy() {
        let (manager, driver) = driver();
        let key = SessionId::generate().storage_key();
        let record = Record::new(Map::new(), driver.now());
        let cx = manager.context(std::iter::empty());
        driver
            .write(&cx, &key, &record)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(driver.opened.len(), 1);
        let sent = header(&cx);

        // The next request brings the value: answered from the table.
        let cx = manager.context([sent.as_str()]);
        assert_eq!(
            driver.read(&cx, &key).await.ok().flatten(),
            Some(record.clone())
        );
        assert_eq!(driver.opened.len(), 1);

        // Destroyed: the response removes the cookies, and the table forgets the session.
        driver
            .destroy(&cx, &key)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(driver.opened.len(), 0);

        // A copy of the old cookies still opens (the cookie driver cannot revoke), from the
        // cookie this time, and is remembered again.
        let cx = manager.context([sent.as_str()]);
        assert_eq!(driver.read(&cx, &key).await.ok().flatten(), Some(record));
        assert_eq!(driver.opened.len(), 1);
    }
}
