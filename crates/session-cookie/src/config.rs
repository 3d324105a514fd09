//! The cookie driver's own options (the `cookie_store` section).

use serde::Deserialize;

/// The cookie driver's options: the size cap and the touch re-seal threshold.
///
/// Cookie *attributes* (path, domain, `Secure`, `SameSite`) are not here: the data cookies use the
/// session's `cookie` options, so they are set and cleared exactly like the id cookie. In a
/// configuration file these options live in the `cookie_store` section (the `cookie` key already
/// holds the attributes, as in AdonisJS):
///
/// ```
/// use session_cookie::CookieDriverConfig;
///
/// let from_file: CookieDriverConfig =
///     serde_json::from_str(r#"{ "max_size": 8000, "reseal_after_percent": 25 }"#).unwrap();
/// let in_code = CookieDriverConfig::new().with_max_size(8000).with_reseal_after_percent(25);
/// assert_eq!(from_file, in_code);
/// assert!(serde_json::from_str::<CookieDriverConfig>(r#"{ "max_sise": 1 }"#).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CookieDriverConfig {
    max_size: Option<usize>,
    reseal_after_percent: u8,
}

impl Default for CookieDriverConfig {
    fn default() -> Self {
        Self {
            max_size: None,
            reseal_after_percent: 50,
        }
    }
}

impl CookieDriverConfig {
    /// The defaults: at most what ten cookies hold, re-seal on touch after half the idle age.
    ///
    /// ```
    /// use session_cookie::CookieDriverConfig;
    ///
    /// let config = CookieDriverConfig::new();
    /// assert_eq!(config.max_size(), None);
    /// assert_eq!(config.reseal_after_percent(), 50);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Caps the sealed session, in bytes of cookie value summed over every data cookie.
    ///
    /// A write above the cap fails at commit with
    /// [`DriverError::TooLarge`](session_core::DriverError::TooLarge) instead of sending cookies a
    /// browser would drop. The default (`None`) is what ten cookies hold, about 40 KB; it must lie
    /// between 256 bytes and what 40 cookies hold. Many proxies reject request headers above 8 KB
    /// (nginx's default buffer), so a lower cap is often wiser.
    ///
    /// ```
    /// use session_cookie::CookieDriverConfig;
    ///
    /// assert_eq!(CookieDriverConfig::new().with_max_size(8000).max_size(), Some(8000));
    /// ```
    #[must_use]
    pub fn with_max_size(mut self, bytes: usize) -> Self {
        self.max_size = Some(bytes);
        self
    }

    /// How much of the idle lifetime, in percent, must have passed since the sealed last-activity
    /// time before `touch` re-seals (and so re-encrypts) an unmodified session. At most 100.
    ///
    /// The default, 50, means that a session used at least once per half idle age never expires,
    /// while a burst of read-only page views costs one encryption instead of one per request. The
    /// price: the idle lifetime counts from the last re-seal, so a session can expire up to half
    /// an idle age earlier than with a server-side store. `0` re-seals on every touch (exact
    /// sliding expiry, one encryption per request).
    ///
    /// ```
    /// use session_cookie::CookieDriverConfig;
    ///
    /// assert_eq!(CookieDriverConfig::new().with_reseal_after_percent(0).reseal_after_percent(), 0);
    /// ```
    #[must_use]
    pub fn with_reseal_after_percent(mut self, percent: u8) -> Self {
        self.reseal_after_percent = percent;
        self
    }

    /// See [`CookieDriverConfig::with_max_size`].
    pub fn max_size(&self) -> Option<usize> {
        self.max_size
    }

    /// See [`CookieDriverConfig::with_reseal_after_percent`].
    pub fn reseal_after_percent(&self) -> u8 {
        self.reseal_after_percent
    }
}
