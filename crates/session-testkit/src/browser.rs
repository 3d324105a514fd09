//! A cookie-keeping client that drives a [`SessionManager`] request by request, without HTTP.

use std::collections::BTreeMap;

use session_core::{
    Error, RequestSession, Session, SessionContext, SessionManager, SessionReader, StorageKey,
};

/// A browser that keeps the cookies a [`SessionManager`] sets and sends them back, so a test can
/// run "requests" through the core exactly as an adapter would, without a server.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use session_core::{SessionConfig, SessionManager};
/// use session_testkit::Browser;
///
/// let manager = SessionManager::builder(
///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
/// ).build().unwrap();
/// let mut browser = Browser::new(manager);
/// browser.request(|s| s.put("n", 1)).await.unwrap();
/// let n = browser.request(|s| s.get_value("n")).await.unwrap();
/// assert_eq!(n, Some(serde_json::json!(1)));
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Browser {
    manager: SessionManager,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    /// A browser with no cookies.
    ///
    /// ```
    /// use session_core::{SessionConfig, SessionManager};
    /// use session_testkit::Browser;
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// let browser = Browser::new(manager);
    /// assert!(browser.cookies().is_empty());
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn new(manager: SessionManager) -> Self {
        Self {
            manager,
            cookies: BTreeMap::new(),
        }
    }

    /// The manager requests go to.
    ///
    /// ```
    /// use session_core::{SessionConfig, SessionManager};
    /// use session_testkit::Browser;
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// let browser = Browser::new(manager);
    /// assert_eq!(browser.manager().config().driver(), "memory");
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn manager(&self) -> &SessionManager {
        &self.manager
    }

    /// The `Cookie` header this browser sends, if it has cookies.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use session_core::{SessionConfig, SessionManager};
    /// use session_testkit::Browser;
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// let mut browser = Browser::new(manager);
    /// assert_eq!(browser.cookie_header(), "");
    /// browser.set_cookie("id", "abc");
    /// browser.set_cookie("id.1", "def");
    /// assert_eq!(browser.cookie_header(), "id=abc; id.1=def");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The cookies held, by name.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use session_core::{SessionConfig, SessionManager};
    /// use session_testkit::Browser;
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// let mut browser = Browser::new(manager);
    /// browser.request(|s| s.put("n", 1)).await?;
    /// assert!(browser.cookies().contains_key("id"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn cookies(&self) -> &BTreeMap<String, String> {
        &self.cookies
    }

    /// Replaces or adds a cookie by hand (to tamper with it, for example).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use session_core::{SessionConfig, SessionManager};
    /// use session_testkit::Browser;
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// let mut browser = Browser::new(manager);
    /// browser.request(|s| s.put("user_id", 7)).await?;
    /// // Tamper with the id cookie: the next request starts a fresh session.
    /// browser.set_cookie("id", "forged");
    /// let fresh = browser.request(|s| Ok(s.is_fresh())).await?;
    /// assert!(fresh);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.to_owned(), value.to_owned());
    }

    /// Forgets every cookie.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use session_core::{SessionConfig, SessionManager};
    /// use session_testkit::Browser;
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// let mut browser = Browser::new(manager);
    /// browser.request(|s| s.put("n", 1)).await?;
    /// browser.clear_cookies(); // like closing a private window
    /// assert_eq!(browser.request(|s| s.get_value("n")).await?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn clear_cookies(&mut self) {
        self.cookies.clear();
    }

    /// A request context carrying this browser's cookies.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use session_core::{SessionConfig, SessionManager};
    /// use session_testkit::Browser;
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// let mut browser = Browser::new(manager);
    /// browser.set_cookie("id", "abc");
    /// assert_eq!(browser.context().request_cookie("id"), Some("abc"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn context(&self) -> SessionContext {
        self.manager.context([self.cookie_header().as_str()])
    }

    /// Starts a request with this browser's cookies: nothing is read until the session is
    /// opened ([`RequestSession::session`], [`RequestSession::reader`]).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use session_core::{SessionConfig, SessionManager};
    /// use session_testkit::Browser;
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// let mut browser = Browser::new(manager);
    /// let session = browser.begin().session().await?;
    /// session.put("step", 1)?;
    /// browser.finish(&session).await?;
    /// assert!(browser.cookies().contains_key("id"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn begin(&self) -> RequestSession {
        self.manager.start_request([self.cookie_header().as_str()])
    }

    /// Sends `count` requests at once, each adding one to the integer at `key` with this
    /// browser's cookies, and returns how each commit ended. The cookies the answers set are not
    /// kept. Must run on a multi-threaded tokio runtime to be concurrent; a request that panics
    /// panics here.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
    /// use session_core::{SessionConfig, SessionManager};
    /// use session_testkit::Browser;
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// let mut browser = Browser::new(manager);
    /// browser.request(|s| s.put("n", 0)).await?;
    /// let results = browser.increment_concurrently("n", 20).await;
    /// assert!(results.iter().all(Result::is_ok));
    /// assert_eq!(browser.request(|s| s.get_value("n")).await?, Some(serde_json::json!(20)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn increment_concurrently(&self, key: &str, count: usize) -> Vec<Result<(), Error>> {
        let tasks: Vec<_> = (0..count)
            .map(|_| {
                let (b, key) = (self.clone(), key.to_owned());
                tokio::spawn(async move {
                    let s = b.begin().session().await?;
                    s.increment(&key)?;
                    s.commit().await
                })
            })
            .collect();
        let mut results = Vec::with_capacity(count);
        for task in tasks {
            match task.await {
                Ok(result) => results.push(result),
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }
        results
    }

    /// Commits a request and keeps the cookies it set (removals delete).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use session_core::{SessionConfig, SessionManager};
    /// use session_testkit::Browser;
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// let mut browser = Browser::new(manager);
    /// let session = browser.begin().session().await?;
    /// session.put("n", 1)?;
    /// browser.finish(&session).await?; // commits and keeps the cookie
    /// assert_eq!(browser.request(|s| s.get_value("n")).await?, Some(serde_json::json!(1)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn finish(&mut self, session: &Session) -> Result<(), Error> {
        session.commit().await?;
        self.absorb(session.context());
        Ok(())
    }

    /// Keeps the cookies a committed request set (its [`SessionContext`]).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use session_core::{SessionConfig, SessionManager};
    /// use session_testkit::Browser;
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// let mut browser = Browser::new(manager);
    /// let request = browser.begin();
    /// request.session().await?.put("n", 1)?;
    /// request.commit().await?; // committed elsewhere, as an adapter would
    /// browser.absorb(request.context());
    /// assert!(browser.cookies().contains_key("id"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn absorb(&mut self, cx: &SessionContext) {
        for cookie in cx.response_cookies() {
            let removed = cookie.value().is_empty()
                || cookie
                    .max_age()
                    .is_some_and(|a| a <= session_core::cookie::time::Duration::ZERO);
            if removed {
                self.cookies.remove(cookie.name());
            } else {
                self.cookies
                    .insert(cookie.name().to_owned(), cookie.value().to_owned());
            }
        }
    }

    /// One full request: initiate (writable), run `f`, commit, keep the cookies.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use session_core::{SessionConfig, SessionManager};
    /// use session_testkit::Browser;
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// let mut browser = Browser::new(manager);
    /// let views = browser.request(|s| s.increment("views")).await?;
    /// assert_eq!(views, serde_json::json!(1));
    /// let views = browser.request(|s| s.increment("views")).await?;
    /// assert_eq!(views, serde_json::json!(2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn request<R>(
        &mut self,
        f: impl FnOnce(&Session) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let session = self.begin().session().await?;
        let out = f(&session)?;
        self.finish(&session).await?;
        Ok(out)
    }

    /// One request initiated readonly.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use session_core::{SessionConfig, SessionManager};
    /// use session_testkit::Browser;
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// let mut browser = Browser::new(manager);
    /// browser.request(|s| s.flash("notice", "Saved")).await?;
    /// // A readonly request sees the message without consuming it.
    /// let seen = browser.readonly_request(|s| Ok(s.flash_messages().has("notice"))).await?;
    /// assert!(seen);
    /// let still = browser.request(|s| Ok(s.flash_messages().has("notice"))).await?;
    /// assert!(still);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn readonly_request<R>(
        &mut self,
        f: impl FnOnce(&SessionReader) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let request = self.begin();
        let out = f(&request.reader().await?)?;
        request.commit().await?;
        self.absorb(request.context());
        Ok(out)
    }

    /// One request whose handler never touches the session.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use session_core::{SessionConfig, SessionManager};
    /// use session_testkit::Browser;
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// let mut browser = Browser::new(manager);
    /// browser.request(|s| s.flash("notice", "Saved")).await?;
    /// browser.untouched_request().await?; // an image, a health check...
    /// let shown = browser.request(|s| Ok(s.flash_messages().has("notice"))).await?;
    /// assert!(shown);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn untouched_request(&mut self) -> Result<(), Error> {
        let request = self.begin();
        request.commit().await?;
        self.absorb(request.context());
        Ok(())
    }

    /// The storage key of this browser's current session, found by a readonly request.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use session_core::{SessionConfig, SessionManager};
    /// use session_testkit::Browser;
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// let mut browser = Browser::new(manager);
    /// browser.request(|s| s.put("n", 1)).await?;
    /// let key = browser.storage_key().await?;
    /// assert_eq!(key, browser.storage_key().await?); // stable until regenerate
    /// browser.request(|s| s.regenerate()).await?;
    /// assert_ne!(key, browser.storage_key().await?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn storage_key(&mut self) -> Result<StorageKey, Error> {
        self.readonly_request(|s| Ok(s.session_id().storage_key()))
            .await
    }
}
