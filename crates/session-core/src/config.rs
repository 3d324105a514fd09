//! Session configuration: built in code, deserialized with serde, or read from the environment.
//! Nothing is validated here; [`SessionManager::builder`](crate::SessionManager::builder)
//! validates everything at start-up and names the option that is wrong.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use cookie::{Cookie, SameSite};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::ConfigError;
use crate::id::{KeyRing, SecretKey};
use crate::limits::Limits;

/// The default name of the id cookie. Deliberately generic (OWASP: no framework fingerprint).
///
/// ```
/// use session_core::{SessionConfig, DEFAULT_COOKIE_NAME};
///
/// assert_eq!(DEFAULT_COOKIE_NAME, "id");
/// assert_eq!(SessionConfig::new().cookie_name(), DEFAULT_COOKIE_NAME);
/// ```
pub const DEFAULT_COOKIE_NAME: &str = "id";

/// A duration as written in configuration: `2h`, `2 hours`, `30m`, `1d`, `90s`, `500ms`, or a
/// number of seconds. It is parsed at start-up.
///
/// ```
/// use std::time::Duration;
/// use session_core::parse_duration;
///
/// assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
/// assert_eq!(parse_duration("2 hours").unwrap(), Duration::from_secs(7200));
/// assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
/// assert_eq!(
///     parse_duration("soon").unwrap_err(),
///     "Invalid duration expression \"soon\""
/// );
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("Invalid duration expression \"{text}\"");
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return Err(invalid());
    }
    let number: f64 = number.parse().map_err(|_| invalid())?;
    let unit_ms: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" => 1.0,
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1_000.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000.0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000.0,
        "d" | "day" | "days" => 86_400_000.0,
        "w" | "week" | "weeks" => 604_800_000.0,
        _ => return Err(invalid()),
    };
    let ms = number * unit_ms;
    if !ms.is_finite() || ms > 1e15 {
        return Err(invalid());
    }
    Ok(Duration::from_millis(ms.round() as u64))
}

/// A duration setting, kept as written until start-up validation parses it.
///
/// ```
/// use std::time::Duration;
/// use session_core::DurationSetting;
///
/// let from_text: DurationSetting = "30m".into();
/// let from_duration: DurationSetting = Duration::from_secs(1800).into();
/// assert_eq!(from_text.parse("age").unwrap(), from_duration.parse("age").unwrap());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct DurationSetting(String);

impl DurationSetting {
    /// Parses the setting, naming `option` in the error.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_core::DurationSetting;
    ///
    /// let age = DurationSetting::from("90s");
    /// assert_eq!(age.parse("age").unwrap(), Duration::from_secs(90));
    ///
    /// let err = DurationSetting::from("soon").parse("absolute_age").unwrap_err();
    /// assert_eq!(err.option(), "absolute_age");
    /// ```
    pub fn parse(&self, option: &str) -> Result<Duration, ConfigError> {
        parse_duration(&self.0).map_err(|m| ConfigError::new(option, m))
    }
}

impl fmt::Debug for DurationSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl From<&str> for DurationSetting {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl From<String> for DurationSetting {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<Duration> for DurationSetting {
    fn from(d: Duration) -> Self {
        Self(format!("{}ms", d.as_millis()))
    }
}

impl From<u64> for DurationSetting {
    fn from(seconds: u64) -> Self {
        Self(seconds.to_string())
    }
}

impl<'de> Deserialize<'de> for DurationSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Strings and numbers are both accepted; a number means seconds. The text is parsed
        // later so that the error can name the option.
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Self(s)),
            Value::Number(n) => Ok(Self(n.to_string())),
            other => Ok(Self(other.to_string())),
        }
    }
}

/// Attributes of the id cookie; the cookie driver's data cookies use the same ones.
///
/// The defaults are the secure ones, each for a reason:
/// - `http_only = true`: scripts cannot read the session cookie, so an XSS bug cannot steal it.
/// - `same_site = Lax`: the cookie is not sent on cross-site subrequests and POSTs (CSRF defence)
///   yet top-level navigation from another site still arrives logged in.
/// - `secure = true`: the cookie never travels over plain HTTP. Turn it off only for local
///   development over `http://` (the demo does so when told).
/// - `path = "/"`, no domain: the cookie belongs to this host only.
///
/// ```
/// use session_core::CookieOptions;
/// use cookie::SameSite;
///
/// let opts = CookieOptions::default().with_secure(false).with_same_site(SameSite::Strict);
/// assert!(opts.http_only());
/// assert!(!opts.secure());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CookieOptions {
    path: String,
    domain: Option<String>,
    http_only: bool,
    secure: bool,
    #[serde(deserialize_with = "same_site_de")]
    same_site: SameSite,
}

fn same_site_de<'de, D: Deserializer<'de>>(d: D) -> Result<SameSite, D::Error> {
    let s = String::deserialize(d)?;
    parse_same_site(&s).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "invalid same_site \"{s}\" (expected lax, strict or none)"
        ))
    })
}

fn parse_same_site(s: &str) -> Option<SameSite> {
    match s.to_ascii_lowercase().as_str() {
        "lax" => Some(SameSite::Lax),
        "strict" => Some(SameSite::Strict),
        "none" => Some(SameSite::None),
        _ => None,
    }
}

impl Default for CookieOptions {
    fn default() -> Self {
        Self {
            path: "/".to_owned(),
            domain: None,
            http_only: true,
            secure: true,
            same_site: SameSite::Lax,
        }
    }
}

impl CookieOptions {
    /// Sets the `Path` attribute.
    ///
    /// ```
    /// use session_core::CookieOptions;
    ///
    /// let opts = CookieOptions::default().with_path("/app");
    /// assert_eq!(opts.path(), "/app");
    /// assert_eq!(opts.build("id", "v", None).path(), Some("/app"));
    /// ```
    #[must_use]
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Sets the `Domain` attribute.
    ///
    /// ```
    /// use session_core::CookieOptions;
    ///
    /// let opts = CookieOptions::default().with_domain("example.com");
    /// assert_eq!(opts.domain(), Some("example.com"));
    /// assert_eq!(opts.build("id", "v", None).domain(), Some("example.com"));
    /// ```
    #[must_use]
    pub fn with_domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Sets `HttpOnly`.
    ///
    /// ```
    /// use session_core::CookieOptions;
    ///
    /// let opts = CookieOptions::default().with_http_only(false);
    /// assert!(!opts.http_only());
    /// assert!(!opts.build("id", "v", None).to_string().contains("HttpOnly"));
    /// ```
    #[must_use]
    pub fn with_http_only(mut self, on: bool) -> Self {
        self.http_only = on;
        self
    }

    /// Sets `Secure`.
    ///
    /// ```
    /// use session_core::CookieOptions;
    ///
    /// // Local development over plain http://
    /// let opts = CookieOptions::default().with_secure(false);
    /// assert!(!opts.secure());
    /// assert!(!opts.build("id", "v", None).to_string().contains("Secure"));
    /// ```
    #[must_use]
    pub fn with_secure(mut self, on: bool) -> Self {
        self.secure = on;
        self
    }

    /// Sets `SameSite`.
    ///
    /// ```
    /// use session_core::{cookie::SameSite, CookieOptions};
    ///
    /// let opts = CookieOptions::default().with_same_site(SameSite::Strict);
    /// assert_eq!(opts.same_site(), SameSite::Strict);
    /// assert!(opts.build("id", "v", None).to_string().contains("SameSite=Strict"));
    /// ```
    #[must_use]
    pub fn with_same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// The `Path` attribute.
    ///
    /// ```
    /// use session_core::CookieOptions;
    ///
    /// assert_eq!(CookieOptions::default().path(), "/");
    /// ```
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The `Domain` attribute.
    ///
    /// ```
    /// use session_core::CookieOptions;
    ///
    /// assert_eq!(CookieOptions::default().domain(), None); // host-only by default
    /// ```
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// Whether `HttpOnly` is set.
    ///
    /// ```
    /// use session_core::CookieOptions;
    ///
    /// assert!(CookieOptions::default().http_only());
    /// ```
    pub fn http_only(&self) -> bool {
        self.http_only
    }

    /// Whether `Secure` is set.
    ///
    /// ```
    /// use session_core::CookieOptions;
    ///
    /// assert!(CookieOptions::default().secure());
    /// ```
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// The `SameSite` attribute.
    ///
    /// ```
    /// use session_core::{cookie::SameSite, CookieOptions};
    ///
    /// assert_eq!(CookieOptions::default().same_site(), SameSite::Lax);
    /// ```
    pub fn same_site(&self) -> SameSite {
        self.same_site
    }

    /// A cookie with these attributes. `max_age: None` makes a browser-session cookie.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_core::CookieOptions;
    ///
    /// let c = CookieOptions::default().build("id", "v", Some(Duration::from_secs(60)));
    /// assert_eq!(c.to_string(), "id=v; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=60");
    /// ```
    pub fn build(
        &self,
        name: impl Into<String>,
        value: impl Into<String>,
        max_age: Option<Duration>,
    ) -> Cookie<'static> {
        let mut builder = Cookie::build((name.into(), value.into()))
            .path(self.path.clone())
            .http_only(self.http_only)
            .secure(self.secure)
            .same_site(self.same_site);
        if let Some(domain) = &self.domain {
            builder = builder.domain(domain.clone());
        }
        if let Some(age) = max_age {
            builder = builder.max_age(cookie::time::Duration::seconds(
                i64::try_from(age.as_secs()).unwrap_or(i64::MAX),
            ));
        }
        builder.build()
    }

    /// A cookie that tells the browser to delete `name`, with the same path and domain it was set
    /// with (browsers only delete a cookie whose path and domain match).
    ///
    /// ```
    /// use session_core::{cookie::time, CookieOptions};
    ///
    /// let gone = CookieOptions::default().with_path("/app").removal("id");
    /// assert_eq!(gone.value(), "");
    /// assert_eq!(gone.path(), Some("/app"));
    /// assert_eq!(gone.max_age(), Some(time::Duration::ZERO));
    /// ```
    pub fn removal(&self, name: impl Into<String>) -> Cookie<'static> {
        let mut c = self.build(name, "", None);
        c.make_removal();
        c
    }
}

/// When the expiry of an unchanged session, and its cookie's `Max-Age`, is refreshed: the
/// `refresh` option (`SESSION_REFRESH`).
///
/// A response refreshes them when its id is new or changed, when the data changed, and
/// otherwise only once a share of the idle age (`age`) has passed since the last refresh: the
/// default is 0.2 (after 24 minutes of a 2-hour session). Other responses set no cookie, touch
/// no storage, and so stay cacheable. pavex_session calls the same idea
/// `ttl_extension_threshold` (0.8 of the lifetime remaining), actix-session
/// `TtlExtensionPolicy::OnStateChanges` (never), tower-sessions sends a cookie only on changes.
/// `always` refreshes on every response, as the seed describes.
///
/// In configuration files it is `"always"` or a number from 0 (the same as `always`) up to,
/// not including, 1; a percentage such as `"20%"` is read too.
///
/// ```
/// use session_core::Refresh;
///
/// assert_eq!(Refresh::default(), Refresh::After(0.2));
/// assert_eq!("always".parse::<Refresh>(), Ok(Refresh::Always));
/// assert_eq!("0.5".parse::<Refresh>(), Ok(Refresh::After(0.5)));
/// assert_eq!("25%".parse::<Refresh>(), Ok(Refresh::After(0.25)));
/// assert!("sometimes".parse::<Refresh>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Refresh {
    /// On every response that opened the session or brought its cookie.
    Always,
    /// Once this share of the idle age has passed since the last refresh (`0.0 ≤ share < 1.0`;
    /// checked when the manager is built).
    After(f64),
}

impl Default for Refresh {
    fn default() -> Self {
        Refresh::After(0.2)
    }
}

impl std::str::FromStr for Refresh {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("always") {
            return Ok(Refresh::Always);
        }
        let share = match s.strip_suffix('%') {
            Some(percent) => percent.trim().parse::<f64>().map(|p| p / 100.0),
            None => s.parse::<f64>(),
        };
        share.map(Refresh::After).map_err(|_| {
            format!("expected \"always\" or a share of the idle age such as 0.2, got \"{s}\"")
        })
    }
}

impl<'de> Deserialize<'de> for Refresh {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Share(f64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Share(share) => Ok(Refresh::After(share)),
            Raw::Text(text) => text.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// The environment variables [`SessionConfig::from_vars`] reads. Drivers read their own.
///
/// ```
/// assert!(session_core::ENV_VARS.contains(&"SESSION_DRIVER"));
/// assert!(session_core::ENV_VARS.contains(&"APP_KEY"));
/// ```
pub const ENV_VARS: &[&str] = &[
    "SESSION_ENABLED",
    "SESSION_DRIVER",
    "SESSION_COOKIE_NAME",
    "SESSION_AGE",
    "SESSION_ABSOLUTE_AGE",
    "SESSION_CLEAR_WITH_BROWSER",
    "SESSION_REFRESH",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_SAME_SITE",
    "SESSION_COOKIE_DOMAIN",
    "SESSION_COOKIE_PATH",
    "SESSION_MAX_KEY_SEGMENTS",
    "SESSION_MAX_SEGMENT_LENGTH",
    "SESSION_MAX_DEPTH",
    "APP_KEY",
];

/// Session configuration.
///
/// Build it in code, deserialize it from a file section, or read it from the environment with
/// [`SessionConfig::from_env`]. The fields mirror AdonisJS's `config/session.ts`; driver sections
/// (named like their driver) sit beside them. Validation happens when the manager
/// is built, and every error names its option.
///
/// ```
/// use session_core::SessionConfig;
///
/// let config = SessionConfig::new()
///     .with_driver("memory")
///     .with_age("30m")
///     .with_key("a secret of at least thirty-two bytes!!");
/// assert_eq!(config.driver(), "memory");
///
/// let from_json: SessionConfig = serde_json::from_str(r#"{
///     "driver": "disk",
///     "age": "2 hours",
///     "keys": ["a secret of at least thirty-two bytes!!"],
///     "disk": { "location": "/var/lib/app/sessions" }
/// }"#).unwrap();
/// assert_eq!(from_json.section("disk").unwrap()["location"], "/var/lib/app/sessions");
/// ```
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct SessionConfig {
    enabled: bool,
    driver: String,
    cookie_name: String,
    clear_with_browser: bool,
    age: DurationSetting,
    absolute_age: Option<DurationSetting>,
    refresh: Refresh,
    cookie: CookieOptions,
    keys: Vec<String>,
    driver_timeout: DurationSetting,
    commit_attempts: u32,
    limits: Limits,
    #[serde(flatten)]
    sections: BTreeMap<String, Value>,
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("enabled", &self.enabled)
            .field("driver", &self.driver)
            .field("cookie_name", &self.cookie_name)
            .field("clear_with_browser", &self.clear_with_browser)
            .field("age", &self.age)
            .field("absolute_age", &self.absolute_age)
            .field("refresh", &self.refresh)
            .field("cookie", &self.cookie)
            .field("keys", &format_args!("[{} redacted]", self.keys.len()))
            .field("driver_timeout", &self.driver_timeout)
            .field("commit_attempts", &self.commit_attempts)
            .field("limits", &self.limits)
            .field("sections", &self.sections.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            driver: String::new(),
            cookie_name: DEFAULT_COOKIE_NAME.to_owned(),
            clear_with_browser: false,
            age: "2h".into(),
            absolute_age: None,
            refresh: Refresh::default(),
            cookie: CookieOptions::default(),
            keys: Vec::new(),
            driver_timeout: "5s".into(),
            commit_attempts: 64,
            limits: Limits::default(),
            sections: BTreeMap::new(),
        }
    }
}

impl SessionConfig {
    /// The defaults: enabled, no driver chosen yet, idle age 2 hours, secure cookie attributes.
    ///
    /// ```
    /// use session_core::SessionConfig;
    ///
    /// let config = SessionConfig::new();
    /// assert!(config.enabled());
    /// assert_eq!(config.driver(), "");
    /// assert_eq!(config.cookie_name(), "id");
    /// assert!(config.cookie().secure());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the core's options from the process environment. See [`SessionConfig::from_vars`].
    ///
    /// ```
    /// use session_core::SessionConfig;
    ///
    /// match SessionConfig::from_env() {
    ///     Ok(config) => println!("sessions use the {:?} driver", config.driver()),
    ///     // A misspelt SESSION_ variable or a bad value is named in the error.
    ///     Err(e) => eprintln!("bad session configuration: {e}"),
    /// }
    /// ```
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Reads the configuration from `(name, value)` pairs:
    ///
    /// | variable | option |
    /// |---|---|
    /// | `SESSION_ENABLED` | `enabled` (`true`/`false`) |
    /// | `SESSION_DRIVER` | `driver` (default `cookie`) |
    /// | `SESSION_COOKIE_NAME` | `cookie_name` |
    /// | `SESSION_AGE` | `age` |
    /// | `SESSION_ABSOLUTE_AGE` | `absolute_age` |
    /// | `SESSION_CLEAR_WITH_BROWSER` | `clear_with_browser` |
    /// | `SESSION_REFRESH` | `refresh` (`always`, or a share of `age` such as `0.2`; see [`Refresh`]) |
    /// | `SESSION_COOKIE_SECURE`, `SESSION_COOKIE_SAME_SITE`, `SESSION_COOKIE_DOMAIN`, `SESSION_COOKIE_PATH` | `cookie.*` |
    /// | `SESSION_MAX_KEY_SEGMENTS`, `SESSION_MAX_SEGMENT_LENGTH`, `SESSION_MAX_DEPTH` | `limits.*` (see [`Limits`]) |
    /// | `APP_KEY` | `keys` (comma-separated, current key first) |
    ///
    /// The driver stays unchosen without `SESSION_DRIVER`, and the drivers' own variables are
    /// theirs to read: the `session-kit` facade crate reads the chosen driver's variables into its
    /// section and picks the default driver. Any other variable starting with `SESSION_` is a
    /// misspelling when it is one or two edits away from one of [`ENV_VARS`], and fails, naming
    /// it; other `SESSION_*` variables (a driver's, or `SESSION_MANAGER` of Linux desktops) are
    /// left alone.
    ///
    /// ```
    /// use session_core::SessionConfig;
    ///
    /// let config = SessionConfig::from_vars([
    ///     ("SESSION_DRIVER".to_string(), "memory".to_string()),
    ///     ("SESSION_AGE".to_string(), "30m".to_string()),
    /// ]).unwrap();
    /// assert_eq!(config.driver(), "memory");
    /// assert_eq!(SessionConfig::from_vars([]).unwrap().driver(), "");
    /// assert!(SessionConfig::from_vars([("SESSION_ENABLED".to_string(), "maybe".to_string())]).is_err());
    /// let typo = SessionConfig::from_vars([("SESSION_DRIVR".to_string(), "memory".to_string())]);
    /// assert_eq!(typo.unwrap_err().option(), "SESSION_DRIVR");
    /// let foreign = SessionConfig::from_vars([("SESSION_MANAGER".to_string(), "local/host:@/tmp/.ICE".to_string())]);
    /// assert!(foreign.is_ok());
    /// ```
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        Self::from_vars_with(vars, &[])
    }

    /// [`SessionConfig::from_vars`], with `known` naming the drivers' own variables too, so
    /// that their misspellings are caught as well (the facade passes its drivers' lists).
    ///
    /// ```
    /// use session_core::SessionConfig;
    ///
    /// let vars = || [("SESSION_PLACE".to_string(), "/tmp".to_string())];
    /// assert!(SessionConfig::from_vars(vars()).is_ok()); // not near a core variable
    /// let err = SessionConfig::from_vars_with(vars(), &["SESSION_PLACES"]).unwrap_err();
    /// assert_eq!(err.option(), "SESSION_PLACE");
    /// assert!(SessionConfig::from_vars_with([("SESSION_PLACES".to_string(), "/tmp".to_string())], &["SESSION_PLACES"]).is_ok());
    /// ```
    pub fn from_vars_with(
        vars: impl IntoIterator<Item = (String, String)>,
        known: &[&str],
    ) -> Result<Self, ConfigError> {
        let mut config = Self::new();
        let bool_var = |option: &str, value: &str| match value.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(ConfigError::new(
                option,
                format!("expected true or false, got \"{value}\""),
            )),
        };
        let count_var = |option: &str, value: &str| {
            value.trim().parse::<usize>().map_err(|_| {
                ConfigError::new(option, format!("expected a whole number, got \"{value}\""))
            })
        };
        for (name, value) in vars {
            match name.as_str() {
                "SESSION_ENABLED" => config.enabled = bool_var("enabled", &value)?,
                "SESSION_DRIVER" => config.driver = value,
                "SESSION_COOKIE_NAME" => config.cookie_name = value,
                "SESSION_AGE" => config.age = value.into(),
                "SESSION_ABSOLUTE_AGE" => config.absolute_age = Some(value.into()),
                "SESSION_CLEAR_WITH_BROWSER" => {
                    config.clear_with_browser = bool_var("clear_with_browser", &value)?
                }
                "SESSION_REFRESH" => {
                    config.refresh = value.parse().map_err(|e| ConfigError::new("refresh", e))?
                }
                "SESSION_COOKIE_SECURE" => {
                    config.cookie.secure = bool_var("cookie.secure", &value)?
                }
                "SESSION_COOKIE_SAME_SITE" => {
                    config.cookie.same_site = parse_same_site(&value).ok_or_else(|| {
                        ConfigError::new(
                            "cookie.same_site",
                            format!("expected lax, strict or none, got \"{value}\""),
                        )
                    })?
                }
                "SESSION_COOKIE_DOMAIN" => config.cookie.domain = Some(value),
                "SESSION_COOKIE_PATH" => config.cookie.path = value,
                "SESSION_MAX_KEY_SEGMENTS" => {
                    config.limits = config
                        .limits
                        .with_max_key_segments(count_var("limits.max_key_segments", &value)?)
                }
                "SESSION_MAX_SEGMENT_LENGTH" => {
                    config.limits = config
                        .limits
                        .with_max_segment_length(count_var("limits.max_segment_length", &value)?)
                }
                "SESSION_MAX_DEPTH" => {
                    config.limits = config
                        .limits
                        .with_max_depth(count_var("limits.max_depth", &value)?)
                }
                "APP_KEY" => {
                    config.keys = value
                        .split(',')
                        .map(str::trim)
                        .filter(|k| !k.is_empty())
                        .map(str::to_owned)
                        .collect()
                }
                // A name one or two edits away from a known variable is a misspelling; other
                // `SESSION_*` names belong to someone else (`SESSION_MANAGER` on Linux desktops).
                other if other.starts_with("SESSION_") && !known.contains(&other) => {
                    if let Some(meant) = ENV_VARS
                        .iter()
                        .chain(known)
                        .find(|known| edit_distance(known, other) <= 2)
                    {
                        return Err(ConfigError::new(
                            other,
                            format!("unknown environment variable; did you mean {meant}?"),
                        ));
                    }
                }
                _ => {}
            }
        }
        Ok(config)
    }

    /// Sets one option of a driver's section, creating the section (or replacing one that is not
    /// an object): for drivers that read their options from the environment into their section.
    ///
    /// ```
    /// use serde_json::json;
    /// use session_core::SessionConfig;
    ///
    /// let config = SessionConfig::new()
    ///     .with_section("disk", json!({ "location": "/srv/a" }))
    ///     .with_section_option("disk", "location", "/srv/b")
    ///     .with_section_option("mine", "servers", "10.0.0.1");
    /// assert_eq!(config.section("disk").unwrap()["location"], "/srv/b");
    /// assert_eq!(config.section("mine").unwrap()["servers"], "10.0.0.1");
    /// ```
    #[must_use]
    pub fn with_section_option(
        mut self,
        section: &str,
        option: &str,
        value: impl Into<Value>,
    ) -> Self {
        let entry = self
            .sections
            .entry(section.to_owned())
            .or_insert_with(|| Value::Object(Default::default()));
        if !entry.is_object() {
            *entry = Value::Object(Default::default());
        }
        if let Value::Object(map) = entry {
            map.insert(option.to_owned(), value.into());
        }
        self
    }

    /// Turns sessions on or off for the whole app. Off: the middleware passes requests through.
    ///
    /// ```
    /// use session_core::SessionConfig;
    ///
    /// let config = SessionConfig::new().with_enabled(false);
    /// assert!(!config.enabled());
    /// ```
    #[must_use]
    pub fn with_enabled(mut self, on: bool) -> Self {
        self.enabled = on;
        self
    }

    /// Chooses the driver by name: `memory` or a registered one (the facade registers the
    /// bundled drivers).
    ///
    /// ```
    /// use session_core::{SessionConfig, SessionManager};
    ///
    /// let config = SessionConfig::new()
    ///     .with_driver("memory")
    ///     .with_key("a secret of at least thirty-two bytes!!");
    /// assert_eq!(config.driver(), "memory");
    /// assert!(SessionManager::builder(config.clone()).build().is_ok());
    ///
    /// let unknown = SessionManager::builder(config.with_driver("nope")).build().unwrap_err();
    /// assert_eq!(unknown.option(), "driver");
    /// ```
    #[must_use]
    pub fn with_driver(mut self, driver: impl Into<String>) -> Self {
        self.driver = driver.into();
        self
    }

    /// The name of the id cookie (default `id`). A `__Host-` prefix is checked at start-up.
    ///
    /// ```
    /// use session_core::{CookieOptions, SessionConfig, SessionManager};
    ///
    /// let config = SessionConfig::new()
    ///     .with_driver("memory")
    ///     .with_key("a secret of at least thirty-two bytes!!")
    ///     .with_cookie_name("__Host-sid");
    /// assert_eq!(config.cookie_name(), "__Host-sid");
    /// assert!(SessionManager::builder(config.clone()).build().is_ok());
    ///
    /// // A __Host- cookie must keep Path=/.
    /// let narrowed = config.with_cookie(CookieOptions::default().with_path("/app"));
    /// assert_eq!(SessionManager::builder(narrowed).build().unwrap_err().option(), "cookie.path");
    /// ```
    #[must_use]
    pub fn with_cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie_name = name.into();
        self
    }

    /// `true`: the id cookie has no Max-Age and goes away with the browser. The server-side idle
    /// and absolute lifetimes still apply.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use session_core::{SessionConfig, SessionManager};
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new()
    ///         .with_driver("memory")
    ///         .with_key("a secret of at least thirty-two bytes!!")
    ///         .with_clear_with_browser(true),
    /// )
    /// .build()?;
    /// let session = manager.start_request(std::iter::empty()).session().await?;
    /// session.put("theme", "dark")?;
    /// session.commit().await?;
    /// assert_eq!(session.context().response_cookies()[0].max_age(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn with_clear_with_browser(mut self, on: bool) -> Self {
        self.clear_with_browser = on;
        self
    }

    /// The idle lifetime (default `2h`): a session unused for this long is gone.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_core::{SessionConfig, SessionManager};
    ///
    /// let config = SessionConfig::new()
    ///     .with_driver("memory")
    ///     .with_key("a secret of at least thirty-two bytes!!");
    /// let manager = SessionManager::builder(config.clone().with_age("30m")).build()?;
    /// assert_eq!(manager.lifetimes().idle(), Duration::from_secs(1800));
    ///
    /// let zero = SessionManager::builder(config.with_age(0)).build().unwrap_err();
    /// assert_eq!(zero.option(), "age");
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_age(mut self, age: impl Into<DurationSetting>) -> Self {
        self.age = age.into();
        self
    }

    /// An absolute lifetime from creation, whatever the activity (off by default).
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_core::{SessionConfig, SessionManager};
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new()
    ///         .with_driver("memory")
    ///         .with_key("a secret of at least thirty-two bytes!!")
    ///         .with_absolute_age("12h"),
    /// )
    /// .build()?;
    /// assert_eq!(manager.lifetimes().absolute(), Some(Duration::from_secs(12 * 3600)));
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_absolute_age(mut self, age: impl Into<DurationSetting>) -> Self {
        self.absolute_age = Some(age.into());
        self
    }

    /// Cookie attributes.
    ///
    /// ```
    /// use session_core::{CookieOptions, SessionConfig};
    ///
    /// let config = SessionConfig::new().with_cookie(CookieOptions::default().with_secure(false));
    /// assert!(!config.cookie().secure());
    /// ```
    #[must_use]
    pub fn with_cookie(mut self, cookie: CookieOptions) -> Self {
        self.cookie = cookie;
        self
    }

    /// Adds a secret key. The first key added signs and encrypts; later ones only verify and
    /// decrypt (for rotation).
    ///
    /// ```
    /// use session_core::{SessionConfig, SessionManager};
    ///
    /// let config = SessionConfig::new().with_driver("memory");
    /// assert_eq!(SessionManager::builder(config.clone()).build().unwrap_err().option(), "keys");
    ///
    /// // Rotation: the new key signs, the old one still verifies.
    /// let manager = SessionManager::builder(
    ///     config
    ///         .with_key("the new secret of at least thirty-two bytes")
    ///         .with_key("the old secret of at least thirty-two bytes"),
    /// )
    /// .build()?;
    /// assert_eq!(manager.keys().keys().len(), 2);
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_key(mut self, secret: impl Into<String>) -> Self {
        self.keys.push(secret.into());
        self
    }

    /// The longest any single driver call may take before it fails with a timeout (default `5s`).
    ///
    /// ```
    /// use session_core::{SessionConfig, SessionManager};
    ///
    /// let config = SessionConfig::new()
    ///     .with_driver("memory")
    ///     .with_key("a secret of at least thirty-two bytes!!");
    /// assert!(SessionManager::builder(config.clone().with_driver_timeout("250ms")).build().is_ok());
    /// let err = SessionManager::builder(config.with_driver_timeout("0s")).build().unwrap_err();
    /// assert_eq!(err.option(), "driver_timeout");
    /// ```
    #[must_use]
    pub fn with_driver_timeout(mut self, timeout: impl Into<DurationSetting>) -> Self {
        self.driver_timeout = timeout.into();
        self
    }

    /// How many times a conflicting atomic commit is retried before giving up (default 64). With the random pauses between attempts
    /// (up to 64 ms each) that is a budget of about two seconds of contention on one session.
    ///
    /// ```
    /// use session_core::{SessionConfig, SessionManager};
    ///
    /// let config = SessionConfig::new()
    ///     .with_driver("memory")
    ///     .with_key("a secret of at least thirty-two bytes!!");
    /// assert!(SessionManager::builder(config.clone().with_commit_attempts(8)).build().is_ok());
    /// let err = SessionManager::builder(config.with_commit_attempts(0)).build().unwrap_err();
    /// assert_eq!(err.option(), "commit_attempts");
    /// ```
    #[must_use]
    pub fn with_commit_attempts(mut self, attempts: u32) -> Self {
        self.commit_attempts = attempts;
        self
    }

    /// When an unchanged session's expiry and cookie are refreshed (default: once 20% of the
    /// idle age has passed); see [`Refresh`]. A share outside `0.0..1.0` fails at start-up,
    /// naming `refresh`.
    ///
    /// ```
    /// use session_core::{Refresh, SessionConfig, SessionManager};
    ///
    /// let config = SessionConfig::new()
    ///     .with_driver("memory")
    ///     .with_key("a secret of at least thirty-two bytes!!");
    /// assert_eq!(config.refresh(), Refresh::After(0.2));
    /// assert!(SessionManager::builder(config.clone().with_refresh(Refresh::Always)).build().is_ok());
    /// let err = SessionManager::builder(config.with_refresh(Refresh::After(1.5))).build().unwrap_err();
    /// assert_eq!(err.option(), "refresh");
    /// ```
    #[must_use]
    pub fn with_refresh(mut self, refresh: Refresh) -> Self {
        self.refresh = refresh;
        self
    }

    /// The `refresh` option; see [`SessionConfig::with_refresh`].
    ///
    /// ```
    /// assert_eq!(session_core::SessionConfig::new().refresh(), session_core::Refresh::After(0.2));
    /// ```
    pub fn refresh(&self) -> Refresh {
        self.refresh
    }

    /// Limits on key paths and on the nesting of stored values and flash messages; see
    /// [`Limits`] for the options and their defaults.
    ///
    /// ```
    /// use session_core::{Limits, SessionConfig, SessionManager};
    ///
    /// let config = SessionConfig::new()
    ///     .with_driver("memory")
    ///     .with_key("a secret of at least thirty-two bytes!!")
    ///     .with_limits(Limits::default().with_max_depth(16).with_max_key_segments(8));
    /// assert_eq!(config.limits().max_key_segments(), 8);
    /// assert!(SessionManager::builder(config).build().is_ok());
    /// ```
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The limits on key paths and values.
    ///
    /// ```
    /// use session_core::SessionConfig;
    ///
    /// assert_eq!(SessionConfig::new().limits().max_depth(), 32);
    /// let from_json: SessionConfig = serde_json::from_str(r#"{ "limits": { "max_depth": 20 } }"#).unwrap();
    /// assert_eq!(from_json.limits().max_depth(), 20);
    /// assert_eq!(from_json.limits().max_key_segments(), 32);
    /// ```
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Sets a driver's configuration section, the key named like the driver.
    ///
    /// ```
    /// use serde_json::json;
    /// use session_core::{SessionConfig, SessionManager};
    ///
    /// let config = SessionConfig::new()
    ///     .with_driver("memory")
    ///     .with_key("a secret of at least thirty-two bytes!!")
    ///     .with_section("memory", json!({ "max_sessions": 1000 }));
    /// assert_eq!(config.section("memory").unwrap()["max_sessions"], 1000);
    ///
    /// // A section no driver knows is a misspelling, named at start-up.
    /// let typo = config.with_section("memroy", json!({}));
    /// assert_eq!(SessionManager::builder(typo).build().unwrap_err().option(), "memroy");
    /// ```
    #[must_use]
    pub fn with_section(mut self, name: impl Into<String>, section: Value) -> Self {
        self.sections.insert(name.into(), section);
        self
    }

    /// Whether sessions are enabled.
    ///
    /// ```
    /// use session_core::SessionConfig;
    ///
    /// assert!(SessionConfig::new().enabled());
    /// assert!(!SessionConfig::new().with_enabled(false).enabled());
    /// ```
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The chosen driver's name.
    ///
    /// ```
    /// use session_core::SessionConfig;
    ///
    /// assert_eq!(SessionConfig::new().with_driver("kv").driver(), "kv");
    /// ```
    pub fn driver(&self) -> &str {
        &self.driver
    }

    /// The id cookie's name.
    ///
    /// ```
    /// use session_core::SessionConfig;
    ///
    /// assert_eq!(SessionConfig::new().cookie_name(), "id");
    /// assert_eq!(SessionConfig::new().with_cookie_name("sid").cookie_name(), "sid");
    /// ```
    pub fn cookie_name(&self) -> &str {
        &self.cookie_name
    }

    /// Whether the id cookie is a browser-session cookie.
    ///
    /// ```
    /// use session_core::SessionConfig;
    ///
    /// assert!(!SessionConfig::new().clear_with_browser());
    /// assert!(SessionConfig::new().with_clear_with_browser(true).clear_with_browser());
    /// ```
    pub fn clear_with_browser(&self) -> bool {
        self.clear_with_browser
    }

    /// Cookie attributes.
    ///
    /// ```
    /// use session_core::{cookie::SameSite, SessionConfig};
    ///
    /// assert_eq!(SessionConfig::new().cookie().same_site(), SameSite::Lax);
    /// ```
    pub fn cookie(&self) -> &CookieOptions {
        &self.cookie
    }

    /// A driver's configuration section.
    ///
    /// ```
    /// use session_core::SessionConfig;
    ///
    /// let config: SessionConfig =
    ///     serde_json::from_str(r#"{ "driver": "kv", "kv": { "prefix": "app:" } }"#).unwrap();
    /// assert_eq!(config.section("kv").unwrap()["prefix"], "app:");
    /// assert!(config.section("disk").is_none());
    /// ```
    pub fn section(&self, name: &str) -> Option<&Value> {
        self.sections.get(name)
    }

    pub(crate) fn section_names(&self) -> impl Iterator<Item = &str> {
        self.sections.keys().map(String::as_str)
    }

    /// Validates everything but the driver, at start-up.
    pub(crate) fn validate(&self) -> Result<ValidConfig, ConfigError> {
        let idle = self.age.parse("age")?;
        if idle.is_zero() {
            return Err(ConfigError::new("age", "must be longer than zero"));
        }
        let absolute = match &self.absolute_age {
            Some(a) => {
                let a = a.parse("absolute_age")?;
                if a.is_zero() {
                    return Err(ConfigError::new("absolute_age", "must be longer than zero"));
                }
                Some(a)
            }
            None => None,
        };
        let driver_timeout = self.driver_timeout.parse("driver_timeout")?;
        if driver_timeout.is_zero() {
            return Err(ConfigError::new(
                "driver_timeout",
                "must be longer than zero",
            ));
        }
        if self.commit_attempts == 0 {
            return Err(ConfigError::new("commit_attempts", "must be at least 1"));
        }
        let refresh_after = match self.refresh {
            Refresh::Always => 0,
            Refresh::After(share) if (0.0..1.0).contains(&share) => {
                (idle.as_millis() as f64 * share) as u64
            }
            Refresh::After(share) => {
                return Err(ConfigError::new(
                    "refresh",
                    format!(
                        "the share of the idle age must be at least 0 and below 1, got {share}"
                    ),
                ))
            }
        };
        self.limits.validate()?;
        validate_cookie_name(&self.cookie_name)?;
        if self.cookie_name.starts_with("__Host-") {
            if !self.cookie.secure {
                return Err(ConfigError::new(
                    "cookie.secure",
                    "a __Host- cookie must be Secure",
                ));
            }
            if self.cookie.path != "/" {
                return Err(ConfigError::new(
                    "cookie.path",
                    "a __Host- cookie must have Path=/",
                ));
            }
            if self.cookie.domain.is_some() {
                return Err(ConfigError::new(
                    "cookie.domain",
                    "a __Host- cookie must not have a Domain",
                ));
            }
        }
        if self.cookie_name.starts_with("__Secure-") && !self.cookie.secure {
            return Err(ConfigError::new(
                "cookie.secure",
                "a __Secure- cookie must be Secure",
            ));
        }
        if self.cookie.same_site == SameSite::None && !self.cookie.secure {
            return Err(ConfigError::new(
                "cookie.same_site",
                "SameSite=None requires Secure (browsers reject it otherwise)",
            ));
        }
        if !self.cookie.path.starts_with('/') {
            return Err(ConfigError::new("cookie.path", "must start with /"));
        }
        let keys = self.key_ring()?;
        Ok(ValidConfig {
            idle,
            absolute,
            driver_timeout,
            keys,
            refresh_after,
        })
    }

    /// The key ring of the configured `keys` (the first signs, all verify), for a driver built
    /// as a value that derives keys of its own. Errors name the `keys` option.
    ///
    /// ```
    /// use session_core::SessionConfig;
    ///
    /// let config = SessionConfig::new()
    ///     .with_key("the new secret, at least thirty-two bytes")
    ///     .with_key("the old secret, at least thirty-two bytes");
    /// assert_eq!(config.key_ring()?.keys().len(), 2);
    /// assert_eq!(SessionConfig::new().key_ring().unwrap_err().option(), "keys");
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn key_ring(&self) -> Result<KeyRing, ConfigError> {
        let keys = self
            .keys
            .iter()
            .map(SecretKey::new)
            .collect::<Result<Vec<_>, _>>()?;
        KeyRing::new(keys)
    }

    pub(crate) fn commit_attempts(&self) -> u32 {
        self.commit_attempts
    }
}

/// Levenshtein distance, for spotting misspelled variable names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(prev + usize::from(ca != *cb));
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

fn validate_cookie_name(name: &str) -> Result<(), ConfigError> {
    // RFC 6265 cookie-name is an RFC 7230 token.
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(
            "cookie_name",
            format!("\"{name}\" is not a valid cookie name"),
        ))
    }
}

/// The parsed, checked parts of a configuration.
#[derive(Debug, Clone)]
pub(crate) struct ValidConfig {
    pub(crate) idle: Duration,
    pub(crate) absolute: Option<Duration>,
    pub(crate) driver_timeout: Duration,
    pub(crate) keys: KeyRing,
    /// How long after a refresh (ms) the next one is due: `refresh` × `age`.
    pub(crate) refresh_after: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> SessionConfig {
        SessionConfig::new()
            .with_driver("memory")
            .with_key("0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn durations_in_every_spelling() {
        let cases = [
            ("2h", 7_200_000),
            ("2 hours", 7_200_000),
            ("30m", 1_800_000),
            ("1d", 86_400_000),
            ("90s", 90_000),
            ("90", 90_000),
            ("1.5h", 5_400_000),
            ("250ms", 250),
            (" 1 week ", 604_800_000),
        ];
        for (text, ms) in cases {
            assert_eq!(
                parse_duration(text).map(|d| d.as_millis()),
                Ok(ms),
                "{text}"
            );
        }
        for bad in ["", "h", "2 fortnights", "-1h", "1.2.3s", "2h30m", "1e400"] {
            assert_eq!(
                parse_duration(bad),
                Err(format!("Invalid duration expression \"{bad}\"")),
                "{bad}"
            );
        }
    }

    #[test]
    fn every_invalid_option_is_named() {
        let cases: Vec<(SessionConfig, &str)> = vec![
            (valid().with_age("soon"), "age"),
            (valid().with_age(0), "age"),
            (valid().with_absolute_age("x"), "absolute_age"),
            (valid().with_driver_timeout("x"), "driver_timeout"),
            (valid().with_commit_attempts(0), "commit_attempts"),
            (valid().with_cookie_name("bad name"), "cookie_name"),
            (valid().with_cookie_name(""), "cookie_name"),
            (
                valid()
                    .with_cookie_name("__Host-id")
                    .with_cookie(CookieOptions::default().with_path("/app")),
                "cookie.path",
            ),
            (
                valid()
                    .with_cookie_name("__Host-id")
                    .with_cookie(CookieOptions::default().with_domain("example.com")),
                "cookie.domain",
            ),
            (
                valid()
                    .with_cookie_name("__Host-id")
                    .with_cookie(CookieOptions::default().with_secure(false)),
                "cookie.secure",
            ),
            (
                valid().with_cookie(
                    CookieOptions::default()
                        .with_secure(false)
                        .with_same_site(SameSite::None),
                ),
                "cookie.same_site",
            ),
            (SessionConfig::new().with_driver("memory"), "keys"),
            (valid().with_key("short"), "keys"),
        ];
        for (config, option) in cases {
            let err = config.validate().expect_err(option);
            assert_eq!(err.option(), option, "{err}");
            assert!(err.to_string().contains(option));
        }
        assert!(valid().with_cookie_name("__Host-id").validate().is_ok());
    }

    #[test]
    fn keys_never_show_in_debug() {
        let dbg = format!("{:?}", valid());
        assert!(!dbg.contains("0123456789abcdef"), "{dbg}");
    }

    #[test]
    fn env_vars_map_to_options_and_drivers_keep_theirs() {
        let vars = [
            ("SESSION_DRIVER", "mine"),
            ("SESSION_MINE_SERVERS", "10.0.0.1,10.0.0.2"),
            (
                "APP_KEY",
                "k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1, k2k2k2k2k2k2k2k2k2k2k2k2k2k2k2k2",
            ),
            ("SESSION_AGE", "30m"),
            ("SESSION_COOKIE_SECURE", "false"),
            ("SESSION_COOKIE_SAME_SITE", "strict"),
        ];
        let config =
            SessionConfig::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
                .expect("config");
        assert_eq!(config.driver(), "mine");
        // A driver's variables are the driver's (the facade reads them into its section).
        assert!(config.section("mine").is_none());
        assert_eq!(config.keys.len(), 2);
        assert!(!config.cookie().secure());
        assert_eq!(config.cookie().same_site(), SameSite::Strict);
        let v = config.validate().expect("valid");
        assert_eq!(v.idle, Duration::from_secs(1800));
        assert_eq!(v.keys.keys().len(), 2);
        // The core names no driver as the default.
        assert_eq!(SessionConfig::from_vars([]).expect("config").driver(), "");
    }

    #[test]
    fn json_sections_and_numbers_deserialize() {
        let c: SessionConfig = serde_json::from_str(
            r#"{"driver":"file","age":90,"keys":["0123456789abcdef0123456789abcdef"],
                "cookie":{"same_site":"strict","secure":false},"file":{"location":"/x"}}"#,
        )
        .expect("json");
        assert_eq!(c.validate().expect("valid").idle, Duration::from_secs(90));
        assert_eq!(c.section("file").expect("file")["location"], "/x");
        assert!(
            serde_json::from_str::<SessionConfig>(r#"{"cookie":{"same_site":"sometimes"}}"#)
                .is_err()
        );
    }
}
