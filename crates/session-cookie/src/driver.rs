//! The driver: records sealed into the browser's cookies.

use std::fmt;
use std::sync::Arc;

use session_core::{
    ClientStore, Clock, ConfigError, CookieChange, DriverError, DriverSetup, KeyRing, Record,
    SessionConfig, SessionContext, StorageKey, SystemClock,
};

use crate::chunk::{Layout, MAX_CHUNKS};
use crate::config::CookieDriverConfig;
use crate::opened::{Opened, OpenedValues};
use crate::seal::{Sealer, HEADROOM};
use crate::{DRIVER_NAME, KEY_PURPOSE, SECTION};

/// The smallest accepted `max_size`: an empty record already seals to about 130 bytes.
const MIN_SIZE: usize = 256;

/// How many chunks the default cap allows.
const DEFAULT_CHUNKS: usize = 10;

/// The cookie driver: the whole record sealed with AES-256-GCM into the browser's cookies, a
/// [`ClientStore`].
///
/// Build it as a value with [`CookieDriver::new`] and hand it to the manager's builder, or
/// register it by name ([`register`](crate::register)) for a configuration-driven choice. See
/// the [crate documentation](crate) for the format and the security properties.
///
/// ```
/// use session_core::{Driver, SessionConfig, SessionManager};
/// use session_cookie::{CookieDriver, CookieDriverConfig};
///
/// let config = SessionConfig::new().with_key("a secret of at least thirty-two bytes!!");
/// let driver = CookieDriver::new(&config, CookieDriverConfig::new())?;
/// let manager = SessionManager::builder(config).driver(driver).build()?;
/// assert_eq!(manager.driver().name(), "cookie");
/// assert!(matches!(manager.driver(), Driver::Client(_)));
/// # Ok::<(), session_core::ConfigError>(())
/// ```
pub struct CookieDriver {
    cookie_name: String,
    layout: Layout,
    sealer: Sealer,
    max_size: usize,
    max_chunks: usize,
    clock: Arc<dyn Clock>,
    /// Sealed values opened or sealed lately, with their records (see `opened.rs`).
    opened: OpenedValues,
}

impl fmt::Debug for CookieDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieDriver")
            .field("cookie_name", &self.cookie_name)
            .field("sealer", &self.sealer)
            .field("max_size", &self.max_size)
            .field("max_chunks", &self.max_chunks)
            .finish_non_exhaustive()
    }
}

impl CookieDriver {
    /// Builds the driver for the sessions `config` describes: its keys (`keys`, from which the
    /// sealing keys are derived), its cookie name, and its `cookie_store` section, which, when
    /// present, replaces `options` entirely. Uses the system clock.
    ///
    /// Errors name the option: `keys`, `cookie_store.max_size`, or `cookie_store` for a section
    /// that does not deserialize.
    ///
    /// ```
    /// use session_core::SessionConfig;
    /// use session_cookie::{CookieDriver, CookieDriverConfig};
    ///
    /// let config = SessionConfig::new().with_key("a secret of at least thirty-two bytes!!");
    /// let driver = CookieDriver::new(&config, CookieDriverConfig::new().with_max_size(2_000))?;
    /// assert_eq!(driver.max_size(), 2_000);
    ///
    /// let err = CookieDriver::new(&config, CookieDriverConfig::new().with_max_size(10)).unwrap_err();
    /// assert_eq!(err.option(), "cookie_store.max_size");
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn new(config: &SessionConfig, options: CookieDriverConfig) -> Result<Self, ConfigError> {
        Self::build(config, &config.key_ring()?, Arc::new(SystemClock), options)
    }

    /// Builds the driver from the registry's setup and options given in code, as
    /// [`CookieDriver::new`] does, on the manager's clock.
    ///
    /// ```
    /// use session_core::{SessionConfig, SessionManager};
    /// use session_cookie::{CookieDriver, CookieDriverConfig};
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("sealed").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .extend("sealed", |setup| Ok(CookieDriver::from_setup(setup, CookieDriverConfig::new())?.into()))
    /// .build()?;
    /// assert_eq!(manager.driver().name(), "cookie");
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn from_setup(
        setup: &DriverSetup<'_>,
        options: CookieDriverConfig,
    ) -> Result<Self, ConfigError> {
        Self::build(setup.config(), setup.keys(), setup.clock(), options)
    }

    fn build(
        session: &SessionConfig,
        keys: &KeyRing,
        clock: Arc<dyn Clock>,
        options: CookieDriverConfig,
    ) -> Result<Self, ConfigError> {
        let config = match session.section(SECTION) {
            Some(section) => serde_json::from_value::<CookieDriverConfig>(section.clone())
                .map_err(|e| ConfigError::new(SECTION, e.to_string()).with_source(e))?,
            None => options,
        };
        let cookie_name = session.cookie_name().to_owned();
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
        let max_chunks = layout.chunks_for(max_size).unwrap_or(MAX_CHUNKS);
        Ok(Self {
            sealer: Sealer::new(&keys.derive(KEY_PURPOSE)),
            layout,
            cookie_name,
            max_size,
            max_chunks,
            clock,
            opened: OpenedValues::default(),
        })
    }

    /// The size cap, in bytes of sealed value.
    ///
    /// ```
    /// use session_core::SessionConfig;
    /// use session_cookie::{CookieDriver, CookieDriverConfig};
    ///
    /// let config = SessionConfig::new().with_key("a secret of at least thirty-two bytes!!");
    /// let driver = CookieDriver::new(&config, CookieDriverConfig::new())?;
    /// assert!(driver.max_size() > 30_000, "ten chunks by default");
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn max_size(&self) -> usize {
        self.max_size
    }

    /// The request's sealed session for `key`, opened (or found in the table of opened values).
    fn open(&self, request: &SessionContext, key: &StorageKey) -> Option<Arc<Opened>> {
        let sealed = match self
            .layout
            .assemble(request, self.max_size, self.max_chunks)
        {
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

    /// Removals for the request's chunks from index `from` on.
    fn removals(&self, request: &SessionContext, from: usize) -> Vec<CookieChange> {
        let mut stale: Vec<usize> = self
            .layout
            .request_indexes(request)
            .filter(|&i| i >= from)
            .collect();
        stale.sort_unstable();
        stale.dedup();
        stale
            .into_iter()
            .map(|index| CookieChange::Remove {
                name: self.layout.name(index).into_owned(),
            })
            .collect()
    }
}

impl ClientStore for CookieDriver {
    fn read(&self, request: &SessionContext, key: &StorageKey) -> Option<Record> {
        let opened = self.open(request, key)?;
        if opened.record.is_expired_at(self.clock.now_ms()) {
            tracing::info!(
                target: "session",
                driver = DRIVER_NAME,
                event = "expired",
                key = key.short(),
                "sealed session is past its idle or absolute lifetime; it is not served"
            );
            return None;
        }
        Some(opened.record.clone())
    }

    fn write(
        &self,
        request: &SessionContext,
        key: &StorageKey,
        record: &Record,
    ) -> Result<Vec<CookieChange>, DriverError> {
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
        let mut changes = Vec::with_capacity(count);
        self.layout.split(&value, count, |name, part| {
            changes.push(CookieChange::Set {
                name: name.to_owned(),
                value: part.to_owned(),
            });
        });
        // Chunks of a larger earlier value would otherwise linger (and be sent back on every
        // request).
        changes.extend(self.removals(request, count));
        // The browser sends this value back: its next request is answered from the table.
        let opened = Arc::new(Opened {
            key: key.clone(),
            record: record.clone(),
            key_index: 0,
        });
        self.opened.insert(&value[prefix..], &opened);
        Ok(changes)
    }

    fn clear(&self, request: &SessionContext) -> Vec<CookieChange> {
        self.removals(request, 0)
    }

    /// Seals the record again with its new times. The core calls it only when the session's
    /// `refresh` is due, or when the id cookie was signed with an older key (and then the data
    /// cookies were most likely sealed with it too).
    fn refresh(
        &self,
        request: &SessionContext,
        key: &StorageKey,
        record: &Record,
    ) -> Result<Vec<CookieChange>, DriverError> {
        let Some(opened) = self.open(request, key) else {
            return Ok(Vec::new());
        };
        match self.write(request, key, record) {
            Ok(changes) => {
                if opened.key_index > 0 {
                    tracing::info!(
                        target: "session",
                        driver = DRIVER_NAME,
                        event = "resealed",
                        key = key.short(),
                        "session sealed with an older key was re-sealed with the current one"
                    );
                }
                Ok(changes)
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
                Ok(Vec::new())
            }
            Err(e) => Err(e),
        }
    }

    fn name(&self) -> &'static str {
        DRIVER_NAME
    }
}

/// Logs a data cookie that does not open.
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
    use serde_json::Map;
    use session_core::{SessionConfig, SessionId};

    use super::*;

    fn config() -> SessionConfig {
        SessionConfig::new().with_key("a secret of at least thirty-two bytes!!")
    }

    /// The request the browser sends after a response with these changes.
    fn next(changes: &[CookieChange]) -> SessionContext {
        let header = session_testkit::cookie_header(changes);
        SessionContext::from_headers("id", Default::default(), [header.as_str()])
    }

    #[test]
    fn a_written_session_is_answered_from_the_table_and_cleared_by_removals() {
        let driver = CookieDriver::new(&config(), CookieDriverConfig::new()).expect("valid");
        let key = SessionId::generate().storage_key();
        let now = driver.clock.now_ms();
        let record = Record::new(Map::new(), now, now + 60_000);
        let empty = SessionContext::new("id", Default::default());
        let changes = driver.write(&empty, &key, &record).expect("write");
        assert_eq!(driver.opened.len(), 1);

        // The next request brings the value: answered from the table.
        let cx = next(&changes);
        assert_eq!(driver.read(&cx, &key), Some(record.clone()));
        assert_eq!(driver.opened.len(), 1);

        // Cleared: every data cookie the request carried is removed.
        let removals = driver.clear(&cx);
        assert_eq!(
            removals,
            vec![CookieChange::Remove {
                name: "id.d".into()
            }]
        );
    }

    #[test]
    fn a_refresh_reseals_the_record_with_its_new_times() {
        let driver = CookieDriver::new(&config(), CookieDriverConfig::new()).expect("valid");
        let key = SessionId::generate().storage_key();
        let now = driver.clock.now_ms();
        let record = Record::new(Map::new(), now, now + 100_000);
        let empty = SessionContext::new("id", Default::default());
        let cx = next(&driver.write(&empty, &key, &record).expect("write"));
        let later = |ms: u64| Record {
            last_active: now + ms,
            expires_at: now + ms + 100_000,
            ..record.clone()
        };
        // The core decides when (the `refresh` option); the driver seals the new times.
        let resealed = driver.refresh(&cx, &key, &later(60_000)).expect("refresh");
        assert_eq!(driver.read(&next(&resealed), &key), Some(later(60_000)));
    }
}
