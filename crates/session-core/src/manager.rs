//! The session manager: validated configuration, the chosen driver, and the per-request entry
//! point for adapters.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::config::{SessionConfig, ValidConfig};
use crate::context::SessionContext;
use crate::driver::{Driver, DriverRegistry, DriverSetup, Lifetimes};
use crate::error::{ConfigError, DriverError, Error};
use crate::id::{IdSigner, KeyRing, SessionId};
use crate::session::Session;
use crate::DriverFactoryResult;

/// Options the core reads itself; every other top-level key must be a driver's section.
const CORE_OPTIONS: &[&str] = &[
    "enabled",
    "driver",
    "cookie_name",
    "clear_with_browser",
    "age",
    "absolute_age",
    "cookie",
    "keys",
    "driver_timeout",
    "commit_attempts",
    // The cookie driver's own options (size cap, touch threshold). They cannot live under the
    // driver's name, because `cookie` already holds the cookie attributes, as in AdonisJS.
    "cookie_store",
];

/// Everything the sessions of one application share: the validated configuration, the driver,
/// the id signer and the clock. Cheap to clone.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use session_core::{SessionConfig, SessionManager};
///
/// let manager = SessionManager::builder(
///     SessionConfig::new()
///         .with_driver("memory")
///         .with_key("a secret of at least thirty-two bytes!!"),
/// )
/// .build()?;
///
/// // An adapter does this for every request:
/// let session = manager.start_request(std::iter::empty());
/// session.initiate(false).await?;
/// session.put("cart_total", 1900)?;
/// session.commit().await?;
/// let set_cookie = session.context().response_cookies();
/// assert_eq!(set_cookie[0].name(), "id");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct SessionManager {
    inner: Arc<ManagerInner>,
}

pub(crate) struct ManagerInner {
    pub(crate) config: SessionConfig,
    pub(crate) valid: ValidConfig,
    pub(crate) lifetimes: Lifetimes,
    pub(crate) driver: Arc<dyn Driver>,
    pub(crate) signer: IdSigner,
    pub(crate) clock: Arc<dyn Clock>,
}

impl fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionManager")
            .field("driver", &self.inner.driver.name())
            .field("cookie_name", &self.inner.config.cookie_name())
            .field("lifetimes", &self.inner.lifetimes)
            .finish()
    }
}

/// Builds a [`SessionManager`]; see [`SessionManager::builder`].
#[derive(Debug)]
#[must_use]
pub struct SessionManagerBuilder {
    config: SessionConfig,
    registry: DriverRegistry,
    clock: Arc<dyn Clock>,
}

impl SessionManagerBuilder {
    /// Registers a driver factory under `name` (the seed's `Session.extend`).
    pub fn extend<F>(mut self, name: impl Into<String>, factory: F) -> Self
    where
        F: Fn(&DriverSetup<'_>) -> DriverFactoryResult + Send + Sync + 'static,
    {
        self.registry.extend(name, factory);
        self
    }

    /// Replaces the driver registry (the facade crate passes one with every bundled driver).
    pub fn with_registry(mut self, registry: DriverRegistry) -> Self {
        self.registry = registry;
        self
    }

    /// Replaces the clock (tests move a [`ManualClock`](crate::ManualClock) forward).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Validates the configuration and builds the driver. Every error names its option.
    pub fn build(self) -> Result<SessionManager, ConfigError> {
        let valid = self.config.validate()?;
        let known: Vec<&str> = self.registry.names().collect();
        for section in self.config.section_names() {
            if !known.contains(&section) && !CORE_OPTIONS.contains(&section) {
                return Err(ConfigError::new(
                    section,
                    format!(
                        "unknown option; expected one of {} or a driver section ({})",
                        CORE_OPTIONS.join(", "),
                        known.join(", ")
                    ),
                ));
            }
        }
        let lifetimes = Lifetimes::new(valid.idle, valid.absolute);
        let setup = DriverSetup::new(
            self.config.driver(),
            &self.config,
            lifetimes,
            &valid.keys,
            self.clock.clone(),
        );
        let driver = self.registry.build(&setup)?;
        let signer = valid.keys.id_signer(self.config.cookie_name());
        Ok(SessionManager {
            inner: Arc::new(ManagerInner {
                config: self.config,
                valid,
                lifetimes,
                driver,
                signer,
                clock: self.clock,
            }),
        })
    }
}

impl SessionManager {
    /// Starts building a manager from a configuration, with the `memory` driver registered and
    /// the system clock.
    pub fn builder(config: SessionConfig) -> SessionManagerBuilder {
        SessionManagerBuilder {
            config,
            registry: DriverRegistry::new(),
            clock: Arc::new(SystemClock),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.inner.config
    }

    /// The driver in use.
    pub fn driver(&self) -> &Arc<dyn Driver> {
        &self.inner.driver
    }

    /// The idle and absolute lifetimes.
    pub fn lifetimes(&self) -> Lifetimes {
        self.inner.lifetimes
    }

    /// The secret keys.
    pub fn keys(&self) -> &KeyRing {
        &self.inner.valid.keys
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// A fresh request context from the request's `Cookie` header values.
    pub fn context<'a>(&self, cookie_headers: impl IntoIterator<Item = &'a str>) -> SessionContext {
        SessionContext::from_headers(
            self.inner.config.cookie_name(),
            self.inner.config.cookie().clone(),
            cookie_headers,
        )
    }

    /// The session of one request, not yet initiated (nothing is read until
    /// [`Session::initiate`]).
    pub fn start_request<'a>(&self, cookie_headers: impl IntoIterator<Item = &'a str>) -> Session {
        Session::new(self.clone(), self.context(cookie_headers))
    }

    /// The session of one request, for a context built elsewhere.
    pub fn session(&self, cx: SessionContext) -> Session {
        Session::new(self.clone(), cx)
    }

    pub(crate) fn inner(&self) -> &ManagerInner {
        &self.inner
    }

    /// The id in the request's id cookie, if its signature verifies. A cookie that is present
    /// but does not verify is logged as tampered.
    pub(crate) fn incoming_id(&self, cx: &SessionContext) -> Option<SessionId> {
        let value = cx.request_cookie(self.inner.config.cookie_name())?;
        let id = self.inner.signer.verify(value);
        if id.is_none() {
            tracing::warn!(
                target: "session",
                event = "tampered-cookie",
                length = value.len(),
                "id cookie failed verification; starting a fresh session"
            );
        }
        id
    }

    /// Sets the id cookie for `id` with a refreshed Max-Age.
    pub(crate) fn set_id_cookie(&self, cx: &SessionContext, id: &SessionId, created_at: u64) {
        let config = &self.inner.config;
        let max_age = if config.clear_with_browser() {
            None
        } else {
            let now = self.inner.clock.now_ms();
            let idle_end = self.inner.lifetimes.expires_at_parts(created_at, now);
            Some(Duration::from_millis(idle_end.saturating_sub(now)))
        };
        cx.set_cookie(config.cookie().build(
            config.cookie_name(),
            self.inner.signer.sign(id),
            max_age,
        ));
    }

    /// Runs one driver call under the configured timeout.
    pub(crate) async fn call<T>(
        &self,
        fut: impl Future<Output = Result<T, DriverError>>,
    ) -> Result<T, Error> {
        let after = self.inner.valid.driver_timeout;
        match tokio::time::timeout(after, fut).await {
            Ok(result) => result.map_err(Error::Driver),
            Err(_) => Err(Error::Driver(DriverError::Timeout {
                driver: self.inner.driver.name(),
                after,
            })),
        }
    }

    pub(crate) fn commit_attempts(&self) -> u32 {
        self.inner.config.commit_attempts()
    }
}
