//! The session manager: validated configuration, the chosen driver, and the per-request entry
//! point for adapters.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::config::{CookieOptions, SessionConfig, ValidConfig};
use crate::context::SessionContext;
use crate::driver::{CookieChange, Driver, DriverRegistry, DriverSetup, Lifetimes, SessionStore};
use crate::error::{ConfigError, DriverError, Error};
use crate::group::Groups;
use crate::id::{IdKind, IdSigner, KeyRing, SessionId, SignedId, StorageKey};
use crate::request::RequestSession;
use crate::session::Session;
use crate::verified::VerifiedIds;
use crate::DriverFactoryResult;

/// Options the core reads itself; every other top-level key must be a driver's section.
const CORE_OPTIONS: &[&str] = &[
    "enabled",
    "driver",
    "cookie_name",
    "clear_with_browser",
    "age",
    "absolute_age",
    "refresh",
    "cookie",
    "keys",
    "driver_timeout",
    "commit_attempts",
    "limits",
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
/// let session = manager.start_request(std::iter::empty()).session().await?;
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
    pub(crate) driver: Driver,
    /// Where a client-side driver keeps each tag's "valid from" time (see `tags.rs`).
    pub(crate) tag_store: Option<Arc<dyn SessionStore>>,
    pub(crate) signer: IdSigner,
    /// Id cookie values verified lately, with their ids and storage keys.
    verified: VerifiedIds,
    pub(crate) clock: Arc<dyn Clock>,
    /// The sessions being committed, with the commits queued behind each (see `group.rs`).
    pub(crate) groups: Arc<Groups>,
    /// The cookie name and options every request context shares.
    prefix: Arc<str>,
    cookie_options: Arc<CookieOptions>,
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
///
/// ```
/// use std::sync::Arc;
/// use session_core::{ManualClock, MemoryDriver, SessionConfig, SessionManager};
///
/// let manager = SessionManager::builder(
///     SessionConfig::new().with_driver("scratch").with_key("a secret of at least thirty-two bytes!!"),
/// )
/// .extend("scratch", |setup| Ok(MemoryDriver::new().with_clock(setup.clock()).into()))
/// .with_clock(Arc::new(ManualClock::new(0)))
/// .build()?;
/// assert_eq!(manager.config().driver(), "scratch");
/// # Ok::<(), session_core::ConfigError>(())
/// ```
#[derive(Debug)]
#[must_use]
pub struct SessionManagerBuilder {
    config: SessionConfig,
    registry: DriverRegistry,
    driver: Option<Driver>,
    tag_store: Option<Arc<dyn SessionStore>>,
    clock: Arc<dyn Clock>,
}

impl SessionManagerBuilder {
    /// Uses this driver value, built by the application: any [`SessionStore`] (such as
    /// [`MemoryDriver`](crate::MemoryDriver)) or a client-side [`Driver`]. The configuration's
    /// `driver` name and the registry are then not consulted.
    ///
    /// ```
    /// use session_core::{MemoryDriver, SessionConfig, SessionManager};
    ///
    /// let manager = SessionManager::builder(SessionConfig::new().with_key("a secret of at least thirty-two bytes!!"))
    ///     .driver(MemoryDriver::new().with_max_sessions(10_000))
    ///     .build()?;
    /// assert_eq!(manager.driver().name(), "memory");
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    ///
    /// [`SessionStore`]: crate::SessionStore
    pub fn driver(mut self, driver: impl Into<Driver>) -> Self {
        self.driver = Some(driver.into());
        self
    }

    /// Registers a driver factory under `name` (the seed's `Session.extend`).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use session_core::{MemoryDriver, SessionConfig, SessionManager};
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("scratch").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .extend("scratch", |setup| Ok(MemoryDriver::new().with_clock(setup.clock()).into()))
    /// .build()?;
    /// assert_eq!(manager.driver().name(), "memory"); // the driver's own name
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn extend<F>(mut self, name: impl Into<String>, factory: F) -> Self
    where
        F: Fn(&DriverSetup<'_>) -> DriverFactoryResult + Send + Sync + 'static,
    {
        self.registry.extend(name, factory);
        self
    }

    /// Replaces the driver registry (the facade crate passes one with every bundled driver).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use session_core::{DriverRegistry, MemoryDriver, SessionConfig, SessionManager};
    ///
    /// let mut registry = DriverRegistry::new();
    /// registry.extend("scratch", |setup| Ok(MemoryDriver::new().with_clock(setup.clock()).into()));
    ///
    /// let config = SessionConfig::new().with_driver("scratch").with_key("a secret of at least thirty-two bytes!!");
    /// assert!(SessionManager::builder(config.clone()).build().is_err()); // not registered by default
    /// assert!(SessionManager::builder(config).with_registry(registry).build().is_ok());
    /// ```
    pub fn with_registry(mut self, registry: DriverRegistry) -> Self {
        self.registry = registry;
        self
    }

    /// Gives a client-side driver (the cookie driver) a server-side store for tags, so that
    /// [`Session::tag`] works and [`SessionManager::destroy_tagged_sessions`] can log a tag out
    /// everywhere: the store keeps one small record per tag logged out (a "valid from" time,
    /// for an idle age), and every request of a tagged cookie session reads it. Use a store
    /// all the application's instances share (Redis, SQL) when there are several. A
    /// server-side driver keeps its tags itself: giving it a tag store fails at
    /// [`build`](Self::build), naming `tag_store`.
    ///
    /// ```
    /// use session_core::{MemoryDriver, SessionConfig, SessionManager};
    ///
    /// let err = SessionManager::builder(SessionConfig::new().with_key("a secret of at least thirty-two bytes!!"))
    ///     .driver(MemoryDriver::new())
    ///     .tag_store(MemoryDriver::new())
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(err.option(), "tag_store");
    /// ```
    pub fn tag_store(mut self, store: impl SessionStore) -> Self {
        self.tag_store = Some(Arc::new(store));
        self
    }

    /// Replaces the clock (tests move a [`ManualClock`](crate::ManualClock) forward).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use std::{sync::Arc, time::Duration};
    /// use session_core::{ManualClock, SessionConfig, SessionManager};
    ///
    /// let clock = ManualClock::new(1_000_000);
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new()
    ///         .with_driver("memory")
    ///         .with_key("a secret of at least thirty-two bytes!!")
    ///         .with_age("10m"),
    /// )
    /// .with_clock(Arc::new(clock.clone()))
    /// .build()?;
    ///
    /// let first = manager.start_request(std::iter::empty()).session().await?;
    /// first.put("user_id", 7)?;
    /// first.commit().await?;
    /// let cookie = first.id_cookie().expect("an id cookie");
    ///
    /// clock.advance(Duration::from_secs(11 * 60)); // idle for longer than the age
    /// let later = manager.start_request([cookie.as_str()]).session().await?;
    /// assert!(later.is_fresh());
    /// assert_eq!(later.get::<u64>("user_id")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Validates the configuration and builds the driver. Every error names its option.
    ///
    /// ```
    /// use session_core::{SessionConfig, SessionManager};
    ///
    /// let err = SessionManager::builder(
    ///     SessionConfig::new()
    ///         .with_driver("memory")
    ///         .with_key("a secret of at least thirty-two bytes!!")
    ///         .with_absolute_age("forever"),
    /// )
    /// .build()
    /// .unwrap_err();
    /// assert_eq!(err.option(), "absolute_age");
    /// ```
    pub fn build(self) -> Result<SessionManager, ConfigError> {
        let valid = self.config.validate()?;
        let known: Vec<&str> = self.registry.sections().collect();
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
        let driver = match self.driver {
            Some(driver) => driver,
            None => self.registry.build(&DriverSetup::new(
                self.config.driver(),
                &self.config,
                &valid.keys,
                self.clock.clone(),
            ))?,
        };
        if let (Driver::Server(_), Some(_)) = (&driver, &self.tag_store) {
            return Err(ConfigError::new(
                "tag_store",
                format!(
                    "only a client-side driver uses a tag store; the {} driver keeps its sessions, and their tags, itself",
                    driver.name()
                ),
            ));
        }
        let signer = valid.keys.id_signer(self.config.cookie_name());
        let prefix = Arc::from(self.config.cookie_name());
        let cookie_options = Arc::new(self.config.cookie().clone());
        Ok(SessionManager {
            inner: Arc::new(ManagerInner {
                prefix,
                cookie_options,
                config: self.config,
                valid,
                lifetimes,
                driver,
                tag_store: self.tag_store,
                signer,
                verified: VerifiedIds::default(),
                groups: Arc::default(),
                clock: self.clock,
            }),
        })
    }
}

impl SessionManager {
    /// Starts building a manager from a configuration, with the `memory` driver registered and
    /// the system clock.
    ///
    /// ```
    /// use session_core::{SessionConfig, SessionManager};
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// assert_eq!(manager.driver().name(), "memory");
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn builder(config: SessionConfig) -> SessionManagerBuilder {
        SessionManagerBuilder {
            config,
            registry: DriverRegistry::new(),
            driver: None,
            tag_store: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// The configuration.
    ///
    /// ```
    /// use session_core::{SessionConfig, SessionManager};
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// assert_eq!(manager.config().cookie_name(), "id");
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn config(&self) -> &SessionConfig {
        &self.inner.config
    }

    /// The driver in use.
    ///
    /// ```
    /// use session_core::{SessionConfig, SessionManager};
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// assert_eq!(manager.driver().name(), "memory");
    /// assert!(matches!(manager.driver(), session_core::Driver::Server(_)));
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn driver(&self) -> &Driver {
        &self.inner.driver
    }

    /// The idle and absolute lifetimes.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_core::{SessionConfig, SessionManager};
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// assert_eq!(manager.lifetimes().idle(), Duration::from_secs(2 * 3600)); // the default age
    /// assert_eq!(manager.lifetimes().absolute(), None);
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn lifetimes(&self) -> Lifetimes {
        self.inner.lifetimes
    }

    /// The secret keys.
    ///
    /// ```
    /// use session_core::{SessionConfig, SessionId, SessionManager};
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// let signer = manager.keys().id_signer(manager.config().cookie_name());
    /// assert!(signer.verify(&signer.sign(&SessionId::generate())).is_some());
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn keys(&self) -> &KeyRing {
        &self.inner.valid.keys
    }

    /// The clock.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use session_core::{ManualClock, SessionConfig, SessionManager};
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .with_clock(Arc::new(ManualClock::new(42)))
    /// .build()?;
    /// assert_eq!(manager.clock().now_ms(), 42);
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// A fresh request context from the request's `Cookie` header values.
    ///
    /// ```
    /// use session_core::{SessionConfig, SessionManager};
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// let cx = manager.context(["id=abc; theme=dark"]);
    /// assert_eq!(cx.request_cookie("id"), Some("abc"));
    /// assert_eq!(cx.request_cookie("theme"), None);
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn context<'a>(&self, cookie_headers: impl IntoIterator<Item = &'a str>) -> SessionContext {
        SessionContext::shared(self.inner.prefix.clone(), self.inner.cookie_options.clone())
            .with_headers(cookie_headers)
    }

    /// The session of one request as the adapter holds it: nothing is read until something
    /// asks for it ([`RequestSession::session`], [`RequestSession::reader`]).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use session_core::{SessionConfig, SessionManager};
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// let request = manager.start_request(["id=not-a-signed-id"]);
    /// assert!(!request.is_initiated()); // nothing read yet
    /// let session = request.session().await?;
    /// assert!(session.is_fresh()); // an unverifiable cookie starts a fresh session
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn start_request<'a>(
        &self,
        cookie_headers: impl IntoIterator<Item = &'a str>,
    ) -> RequestSession {
        self.start_request_with(self.context(cookie_headers))
    }

    /// [`start_request`](Self::start_request) from the raw bytes of the `Cookie` header values,
    /// as an HTTP library holds them. Adapters use it: a header is not rejected as a whole when
    /// another application's cookie in it holds bytes that are not UTF-8 or not ASCII (which
    /// `HeaderValue::to_str` refuses); only that pair is skipped, and the session cookies in the
    /// same header are still read.
    ///
    /// ```
    /// use session_core::{SessionConfig, SessionManager};
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// // `name=caf\xe9` is Latin-1, not UTF-8.
    /// let request = manager.start_request_bytes([&b"name=caf\xe9; id=abc"[..]]);
    /// assert_eq!(request.context().request_cookie("id"), Some("abc"));
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn start_request_bytes<'a>(
        &self,
        cookie_headers: impl IntoIterator<Item = &'a [u8]>,
    ) -> RequestSession {
        let cx =
            SessionContext::shared(self.inner.prefix.clone(), self.inner.cookie_options.clone())
                .with_header_bytes(cookie_headers);
        self.start_request_with(cx)
    }

    /// [`start_request`](Self::start_request) for a context built elsewhere.
    ///
    /// ```
    /// use session_core::{SessionConfig, SessionManager};
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// let cx = manager.context(["id=abc"]);
    /// let request = manager.start_request_with(cx);
    /// assert_eq!(request.context().request_cookie("id"), Some("abc"));
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn start_request_with(&self, cx: SessionContext) -> RequestSession {
        RequestSession::new(Session::new(self.clone(), cx))
    }

    pub(crate) fn inner(&self) -> &ManagerInner {
        &self.inner
    }

    /// The id in the request's id cookie, its storage key and its kind, if its signature
    /// verifies (a value verified lately is recognised without the MAC, see `verified.rs`). A
    /// cookie that is present but does not verify is logged as tampered.
    pub(crate) fn incoming_id(&self, cx: &SessionContext) -> Option<(SignedId, StorageKey)> {
        let value = cx.request_cookie(self.inner.config.cookie_name())?;
        let id = self.inner.verified.verify(&self.inner.signer, value);
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

    /// Sets the id cookie for `id` with a refreshed Max-Age. `stored` is `id`'s storage key when
    /// a session is stored under `id` (or may be: a cookie of the stored kind, which is never
    /// adopted again without a live record), `None` when nothing is (a cookie of the empty
    /// kind, which keeps serving its visitor while the session stays empty). A stored-kind
    /// value signed here is remembered as verified (see `verified.rs`), so the request that
    /// brings it back (the one after a login) skips the MAC and the hash as well.
    pub(crate) fn set_id_cookie(
        &self,
        cx: &SessionContext,
        id: &SessionId,
        stored: Option<&StorageKey>,
        created_at: u64,
        now: u64,
    ) {
        let config = &self.inner.config;
        let max_age = self.max_age(self.inner.lifetimes.expires_at(created_at, now), now);
        let kind = if stored.is_some() {
            IdKind::Stored
        } else {
            IdKind::Empty
        };
        let value = self.inner.signer.sign_as(id, kind, now / 1000);
        if let Some(key) = stored {
            self.inner.verified.remember(&value, key);
        }
        cx.set_cookie_rendered(config.cookie(), config.cookie_name(), &value, max_age);
    }

    /// Whether the expiry of a session last refreshed at `last` (ms) is refreshed now: once the
    /// configured share of the idle age has passed (`refresh`, default 20%), or always.
    pub(crate) fn refresh_due(&self, last: u64, now: u64) -> bool {
        now.saturating_sub(last) >= self.inner.valid.refresh_after
    }

    /// The `Max-Age` of the session's cookies: until `expires_at`, or none (a browser-session
    /// cookie) with `clear_with_browser`.
    fn max_age(&self, expires_at: u64, now: u64) -> Option<Duration> {
        (!self.inner.config.clear_with_browser())
            .then(|| Duration::from_millis(expires_at.saturating_sub(now)))
    }

    /// Applies what a client-side store asked for to the response's cookies.
    pub(crate) fn apply_cookie_changes(
        &self,
        cx: &SessionContext,
        changes: Vec<CookieChange>,
        expires_at: u64,
        now: u64,
    ) {
        let max_age = self.max_age(expires_at, now);
        for change in changes {
            match change {
                CookieChange::Set { name, value } => cx.set_session_cookie(&name, &value, max_age),
                CookieChange::Remove { name } => cx.remove_cookie(&name),
            }
        }
    }

    /// Runs one driver call under the configured timeout.
    pub(crate) async fn call<T>(
        &self,
        fut: impl Future<Output = Result<T, DriverError>>,
    ) -> Result<T, Error> {
        let mut fut = std::pin::pin!(fut);
        // Drivers that answer from memory finish on the first poll: they need no timer. The
        // timer of the others is boxed so that it does not enlarge every caller's future.
        let first = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await;
        if let Poll::Ready(result) = first {
            return result.map_err(Error::Driver);
        }
        let after = self.inner.valid.driver_timeout;
        match Box::pin(tokio::time::timeout(after, fut)).await {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::SecretKey;

    const SECRET: &str = "an example secret of thirty-two bytes or more";

    fn id_cookie(cx: &SessionContext, name: &str) -> String {
        let cookies = cx.response_cookies();
        let cookie = cookies
            .iter()
            .find(|c| c.name() == name)
            .expect("id cookie");
        cookie.value().to_owned()
    }

    #[tokio::test]
    async fn ids_signed_at_a_commit_are_remembered_with_their_storage_keys() {
        let manager =
            SessionManager::builder(SessionConfig::new().with_driver("memory").with_key(SECRET))
                .build()
                .expect("valid");
        let name = manager.config().cookie_name().to_owned();
        // A signer the table is asked with that would reject every value itself: only a
        // value in the table gets an answer.
        let stranger = KeyRing::new(vec![SecretKey::new([9; 32]).expect("key")])
            .expect("ring")
            .id_signer(&name);
        let known = |value: &str| {
            manager
                .inner()
                .verified
                .verify(&stranger, value)
                .map(|(signed, key)| (signed.id, key))
        };

        // A new visitor's first write.
        let first = manager
            .start_request(std::iter::empty())
            .session()
            .await
            .expect("initiate");
        first.put("user", 7).expect("put");
        first.commit().await.expect("commit");
        let created = id_cookie(first.context(), &name);
        let (id, key) = known(&created).expect("remembered");
        assert_eq!(key, id.storage_key());
        assert!(created.starts_with(id.expose()));

        // A login: the new id is remembered too, under its own key.
        let header = format!("{name}={created}");
        let login = manager
            .start_request([header.as_str()])
            .session()
            .await
            .expect("initiate");
        login.regenerate().expect("regenerate");
        login.commit().await.expect("commit");
        let regenerated = id_cookie(login.context(), &name);
        assert_ne!(regenerated, created);
        let (new_id, new_key) = known(&regenerated).expect("remembered");
        assert_eq!(new_key, new_id.storage_key());
        assert_ne!(new_key, key);

        // A visitor whose request never used the session gets an id that is not hashed, and
        // so not remembered.
        let passing = manager.start_request(std::iter::empty());
        passing.commit().await.expect("commit");
        assert!(known(&id_cookie(passing.context(), &name)).is_none());
    }
}
