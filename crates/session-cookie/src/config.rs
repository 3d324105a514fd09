//! The cookie driver's own options (the `cookie_store` section).

use serde::Deserialize;

/// The cookie driver's options: the size cap. When an unchanged session is re-sealed with its new
/// expiry is the session's `refresh` option (`session_core::Refresh`), as for every driver.
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
///     serde_json::from_str(r#"{ "max_size": 8000 }"#).unwrap();
/// let in_code = CookieDriverConfig::new().with_max_size(8000);
/// assert_eq!(from_file, in_code);
/// assert!(serde_json::from_str::<CookieDriverConfig>(r#"{ "max_sise": 1 }"#).is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CookieDriverConfig {
    max_size: Option<usize>,
}

impl CookieDriverConfig {
    /// The defaults: at most what ten cookies hold.
    ///
    /// ```
    /// use session_cookie::CookieDriverConfig;
    ///
    /// assert_eq!(CookieDriverConfig::new().max_size(), None);
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

    /// See [`CookieDriverConfig::with_max_size`].
    pub fn max_size(&self) -> Option<usize> {
        self.max_size
    }
}
