//! The framework-free request context: request cookies in, response cookies out.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use cookie::Cookie;

use crate::config::CookieOptions;

/// What a driver sees of the HTTP exchange: the request's cookies, a jar for response cookies,
/// the cookie attributes to use, and a slot for per-request driver state.
///
/// Adapters build it from the `Cookie` headers and turn [`SessionContext::response_cookies`] into
/// `Set-Cookie` headers. Only cookies whose name starts with the session cookie name are kept, so
/// unrelated cookies cost nothing.
///
/// ```
/// use session_core::{CookieOptions, SessionContext};
///
/// let cx = SessionContext::from_headers("id", CookieOptions::default(), ["id=abc; other=1; id.d=xyz"]);
/// assert_eq!(cx.request_cookie("id"), Some("abc"));
/// assert_eq!(cx.request_cookie("other"), None);
/// cx.set_cookie(CookieOptions::default().build("id", "new", None));
/// assert_eq!(cx.response_cookies().len(), 1);
/// ```
pub struct SessionContext {
    prefix: Arc<str>,
    options: Arc<CookieOptions>,
    /// The names and values of the request's cookies whose names start with the prefix, one
    /// after the other in one string (one allocation for all of them).
    request_text: String,
    /// Where each of those cookies is in `request_text`: `text[start..mid]` is its name,
    /// `text[mid..end]` its value. First occurrence of a name winning; a handful at most, so a
    /// list beats a hash map.
    request: Vec<(usize, usize, usize)>,
    /// The response cookies, one per name, in the order they were first set.
    response: Mutex<Vec<Outgoing>>,
}

impl fmt::Debug for SessionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Cookie values are credentials; only their names are shown.
        let sent: Vec<String> = self.jar().iter().map(|c| c.name().to_owned()).collect();
        f.debug_struct("SessionContext")
            .field("prefix", &self.prefix)
            .field(
                "request_cookies",
                &self.request_cookie_names().collect::<Vec<_>>(),
            )
            .field("response_cookies", &sent)
            .finish()
    }
}

impl SessionContext {
    /// A context with no request cookies.
    ///
    /// ```
    /// use session_core::{CookieOptions, SessionContext};
    ///
    /// let cx = SessionContext::new("id", CookieOptions::default());
    /// assert_eq!(cx.request_cookie_names().count(), 0);
    /// assert!(cx.response_cookies().is_empty());
    /// ```
    pub fn new(prefix: impl Into<String>, options: CookieOptions) -> Self {
        Self::shared(Arc::from(prefix.into()), Arc::new(options))
    }

    /// A context whose prefix and options are shared with the manager instead of copied for
    /// every request.
    pub(crate) fn shared(prefix: Arc<str>, options: Arc<CookieOptions>) -> Self {
        Self {
            prefix,
            options,
            request_text: String::new(),
            request: Vec::new(),
            response: Mutex::new(Vec::new()),
        }
    }

    /// A context from the request's `Cookie` header values. Cookies whose name does not start
    /// with `prefix` are skipped; unparsable pairs are skipped too. When a name repeats, the
    /// first one wins (browsers send the most specific path first).
    ///
    /// ```
    /// use session_core::{CookieOptions, SessionContext};
    ///
    /// let cx = SessionContext::from_headers(
    ///     "id",
    ///     CookieOptions::default(),
    ///     ["id=first; theme=dark", "id=second; id.1=chunk"],
    /// );
    /// assert_eq!(cx.request_cookie("id"), Some("first")); // the first one wins
    /// assert_eq!(cx.request_cookie("id.1"), Some("chunk"));
    /// assert_eq!(cx.request_cookie("theme"), None); // not the session's
    /// ```
    pub fn from_headers<'a>(
        prefix: impl Into<String>,
        options: CookieOptions,
        headers: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        Self::new(prefix, options).with_headers(headers)
    }

    pub(crate) fn with_headers<'a>(mut self, headers: impl IntoIterator<Item = &'a str>) -> Self {
        for header in headers {
            self.read_header_text(header);
        }
        self
    }

    /// Reads the request cookies from raw `Cookie` header values. Pairs are split as
    /// `Cookie::split_parse` splits them (on `;`, name and value trimmed, pairs without `=` or
    /// with an empty name skipped), but each pair is decoded on its own: a byte that is not
    /// UTF-8 in another application's cookie (some clients send Latin-1) costs that pair only,
    /// not the whole header and with it the session.
    pub(crate) fn with_header_bytes<'a>(
        mut self,
        headers: impl IntoIterator<Item = &'a [u8]>,
    ) -> Self {
        for header in headers {
            if let Ok(text) = std::str::from_utf8(header) {
                self.read_header_text(text);
                continue;
            }
            for pair in header.split(|&b| b == b';') {
                let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                    continue;
                };
                if let (Ok(name), Ok(value)) = (
                    std::str::from_utf8(&pair[..eq]),
                    std::str::from_utf8(&pair[eq + 1..]),
                ) {
                    self.keep_request_cookie(name, value);
                }
            }
        }
        self
    }

    fn read_header_text(&mut self, text: &str) {
        for pair in text.split(';') {
            if let Some((name, value)) = pair.split_once('=') {
                self.keep_request_cookie(name, value);
            }
        }
    }

    /// Keeps one request cookie (name and value untrimmed, as split) if it is the session's and
    /// its name was not seen before.
    fn keep_request_cookie(&mut self, name: &str, value: &str) {
        let name = name.trim();
        if name.is_empty()
            || !name.starts_with(&*self.prefix)
            || self.request_cookie(name).is_some()
        {
            return;
        }
        if self.request_text.capacity() == 0 {
            // Room for the id cookie and a small data cookie in one allocation. Not the whole
            // header's length: other applications' cookies can make it kilobytes long, and the
            // allocator serves blocks above about a kilobyte from its shared heap.
            self.request_text.reserve(name.len() + value.len() + 128);
        }
        let start = self.request_text.len();
        self.request_text.push_str(name);
        let mid = self.request_text.len();
        self.request_text.push_str(value.trim());
        self.request.push((start, mid, self.request_text.len()));
    }

    fn jar(&self) -> MutexGuard<'_, Vec<Outgoing>> {
        self.response.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cookie attributes configured for the session.
    ///
    /// ```
    /// use session_core::{CookieOptions, SessionContext};
    ///
    /// let cx = SessionContext::new("id", CookieOptions::default().with_path("/app"));
    /// assert_eq!(cx.cookie_options().path(), "/app");
    /// ```
    pub fn cookie_options(&self) -> &CookieOptions {
        &self.options
    }

    /// The value of a request cookie, as the browser sent it.
    ///
    /// ```
    /// use session_core::{CookieOptions, SessionContext};
    ///
    /// let cx = SessionContext::from_headers("id", CookieOptions::default(), ["id=abc"]);
    /// assert_eq!(cx.request_cookie("id"), Some("abc"));
    /// assert_eq!(cx.request_cookie("id.1"), None);
    /// ```
    pub fn request_cookie(&self, name: &str) -> Option<&str> {
        let text = &self.request_text;
        self.request
            .iter()
            .find(|&&(start, mid, _)| &text[start..mid] == name)
            .map(|&(_, mid, end)| &text[mid..end])
    }

    /// The names of the request cookies (those with the session prefix).
    ///
    /// ```
    /// use session_core::{CookieOptions, SessionContext};
    ///
    /// let cx = SessionContext::from_headers("id", CookieOptions::default(), ["id=a; id.1=b; lang=en"]);
    /// let mut names: Vec<&str> = cx.request_cookie_names().collect();
    /// names.sort_unstable();
    /// assert_eq!(names, ["id", "id.1"]);
    /// ```
    pub fn request_cookie_names(&self) -> impl Iterator<Item = &str> {
        self.request
            .iter()
            .map(|&(start, mid, _)| &self.request_text[start..mid])
    }

    /// Adds a cookie to the response, replacing one of the same name set earlier.
    ///
    /// ```
    /// use session_core::{CookieOptions, SessionContext};
    ///
    /// let cx = SessionContext::new("id", CookieOptions::default());
    /// cx.set_cookie(cx.cookie_options().build("id", "one", None));
    /// cx.set_cookie(cx.cookie_options().build("id", "two", None));
    /// let sent = cx.response_cookies();
    /// assert_eq!(sent.len(), 1);
    /// assert_eq!(sent[0].value(), "two");
    /// ```
    pub fn set_cookie(&self, cookie: Cookie<'static>) {
        self.put_outgoing(Outgoing::Cookie(cookie));
    }

    /// Adds a cookie with the session's cookie attributes ([`SessionContext::cookie_options`]),
    /// replacing one of the same name set earlier: the same cookie as
    /// `set_cookie(cookie_options().build(name, value, max_age))`, written straight into its
    /// `Set-Cookie` value instead of being built as a [`Cookie`] first (every response carries
    /// one).
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_core::{CookieOptions, SessionContext};
    ///
    /// let cx = SessionContext::new("id", CookieOptions::default());
    /// cx.set_session_cookie("id", "v", Some(Duration::from_secs(60)));
    /// assert_eq!(
    ///     cx.set_cookie_headers(),
    ///     ["id=v; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=60"]
    /// );
    /// assert_eq!(cx.response_cookie("id").map(|c| c.value().to_owned()), Some("v".to_owned()));
    /// ```
    pub fn set_session_cookie(&self, name: &str, value: &str, max_age: Option<Duration>) {
        self.set_cookie_rendered(&self.options, name, value, max_age);
    }

    /// [`set_session_cookie`](Self::set_session_cookie) with other attributes.
    pub(crate) fn set_cookie_rendered(
        &self,
        options: &CookieOptions,
        name: &str,
        value: &str,
        max_age: Option<Duration>,
    ) {
        let header = render(options, name, value, max_age);
        self.put_outgoing(Outgoing::Rendered {
            name_len: name.len(),
            header,
        });
    }

    fn put_outgoing(&self, cookie: Outgoing) {
        let mut jar = self.jar();
        match jar.iter_mut().find(|c| c.name() == cookie.name()) {
            Some(slot) => *slot = cookie,
            None => jar.push(cookie),
        }
    }

    /// Tells the browser to delete a cookie, with the configured path and domain (browsers only
    /// delete a cookie whose path and domain match the ones it was set with).
    ///
    /// ```
    /// use session_core::{cookie::time, CookieOptions, SessionContext};
    ///
    /// let cx = SessionContext::from_headers("id", CookieOptions::default(), ["id.1=stale"]);
    /// cx.remove_cookie("id.1");
    /// let removal = &cx.response_cookies()[0];
    /// assert_eq!(removal.name(), "id.1");
    /// assert_eq!(removal.max_age(), Some(time::Duration::ZERO));
    /// ```
    pub fn remove_cookie(&self, name: &str) {
        self.set_cookie(self.options.removal(name.to_owned()));
    }

    /// The cookie of that name set on the response so far, if any.
    ///
    /// ```
    /// use session_core::{CookieOptions, SessionContext};
    ///
    /// let cx = SessionContext::new("id", CookieOptions::default());
    /// cx.set_cookie(CookieOptions::default().build("id", "v", None));
    /// assert_eq!(cx.response_cookie("id").map(|c| c.value().to_owned()), Some("v".to_owned()));
    /// assert!(cx.response_cookie("id.1").is_none());
    /// ```
    pub fn response_cookie(&self, name: &str) -> Option<Cookie<'static>> {
        self.jar()
            .iter()
            .find(|c| c.name() == name)
            .map(Outgoing::cookie)
    }

    /// The `Set-Cookie` header values of the cookies to send back, removals included, in the
    /// order the cookies were first set.
    ///
    /// ```
    /// use session_core::{CookieOptions, SessionContext};
    ///
    /// let cx = SessionContext::new("id", CookieOptions::default());
    /// cx.set_cookie(CookieOptions::default().build("id", "v", None));
    /// cx.remove_cookie("id.1");
    /// let headers = cx.set_cookie_headers();
    /// assert!(headers[0].starts_with("id=v;"));
    /// assert!(headers[1].starts_with("id.1=;"));
    /// ```
    pub fn set_cookie_headers(&self) -> Vec<String> {
        self.jar().iter().map(Outgoing::header).collect()
    }

    /// [`set_cookie_headers`](Self::set_cookie_headers), taking the cookies out of the context
    /// instead of copying them (the commit is over; nothing reads them afterwards).
    pub(crate) fn take_set_cookie_headers(&self) -> Vec<String> {
        std::mem::take(&mut *self.jar())
            .into_iter()
            .map(Outgoing::into_header)
            .collect()
    }

    /// The cookies to send back (`Set-Cookie`), removals included.
    ///
    /// ```
    /// use session_core::{CookieOptions, SessionContext};
    ///
    /// let cx = SessionContext::new("id", CookieOptions::default());
    /// cx.set_cookie(CookieOptions::default().build("id", "v", None));
    /// cx.remove_cookie("id.1");
    /// let headers: Vec<String> = cx.response_cookies().iter().map(ToString::to_string).collect();
    /// assert_eq!(headers.len(), 2);
    /// assert!(headers.iter().any(|h| h.starts_with("id=v;")));
    /// ```
    pub fn response_cookies(&self) -> Vec<Cookie<'static>> {
        self.jar().iter().map(Outgoing::cookie).collect()
    }

    /// Drops every response cookie (used when a commit fails and the response is replaced).
    ///
    /// ```
    /// use session_core::{CookieOptions, SessionContext};
    ///
    /// let cx = SessionContext::new("id", CookieOptions::default());
    /// cx.set_cookie(CookieOptions::default().build("id", "v", None));
    /// cx.clear_response_cookies();
    /// assert!(cx.response_cookies().is_empty());
    /// ```
    pub fn clear_response_cookies(&self) {
        self.jar().clear();
    }
}

/// A response cookie: built by a driver as a [`Cookie`], or written straight into its
/// `Set-Cookie` value by [`SessionContext::set_session_cookie`].
enum Outgoing {
    Cookie(Cookie<'static>),
    /// `header[..name_len]` is the cookie's name.
    Rendered {
        name_len: usize,
        header: String,
    },
}

impl Outgoing {
    fn name(&self) -> &str {
        match self {
            Self::Cookie(c) => c.name(),
            Self::Rendered { name_len, header } => &header[..*name_len],
        }
    }

    fn header(&self) -> String {
        match self {
            Self::Cookie(c) => header_value(c),
            Self::Rendered { header, .. } => header.clone(),
        }
    }

    fn into_header(self) -> String {
        match self {
            Self::Cookie(c) => header_value(&c),
            Self::Rendered { header, .. } => header,
        }
    }

    fn cookie(&self) -> Cookie<'static> {
        match self {
            Self::Cookie(c) => c.clone(),
            // Written by `render`, which the `cookie` crate parses back to the cookie `build`
            // makes (a test checks every attribute combination): `build` sets both flags, so an
            // absent one was off. A name alone is the fallback.
            Self::Rendered { name_len, header } => match Cookie::parse(header.clone()) {
                Ok(mut c) => {
                    if c.http_only().is_none() {
                        c.set_http_only(false);
                    }
                    if c.secure().is_none() {
                        c.set_secure(false);
                    }
                    c
                }
                Err(_) => Cookie::new(header[..*name_len].to_owned(), ""),
            },
        }
    }
}

/// The `Set-Cookie` value of `options.build(name, value, max_age)`, without building it.
fn render(options: &CookieOptions, name: &str, value: &str, max_age: Option<Duration>) -> String {
    write_set_cookie(&SetCookie {
        name,
        value,
        http_only: options.http_only(),
        same_site: Some(options.same_site()),
        secure: options.secure(),
        path: Some(options.path()),
        // The `cookie` crate keeps the domain without a leading dot.
        domain: options.domain().map(|d| d.strip_prefix('.').unwrap_or(d)),
        // As `build` does: whole seconds, saturating at `i64::MAX`.
        max_age: max_age.map(|age| i64::try_from(age.as_secs()).unwrap_or(i64::MAX)),
    })
}

/// The `Set-Cookie` value of `c`, exactly as `cookie`'s `Display` writes it, built directly into
/// one string for the attributes session cookies use.
fn header_value(c: &Cookie<'_>) -> String {
    if c.expires().is_some() || c.partitioned().is_some() {
        return c.to_string();
    }
    let same_site = c.same_site();
    write_set_cookie(&SetCookie {
        name: c.name(),
        value: c.value(),
        http_only: c.http_only() == Some(true),
        same_site,
        // `cookie` adds `Secure` to `SameSite=None` unless told otherwise.
        secure: c.secure() == Some(true)
            || (c.secure().is_none() && same_site == Some(cookie::SameSite::None)),
        path: c.path(),
        domain: c.domain(),
        max_age: c.max_age().map(|age| age.whole_seconds()),
    })
}

/// The attributes of a `Set-Cookie` value, as `cookie`'s `Display` writes them.
struct SetCookie<'a> {
    name: &'a str,
    value: &'a str,
    http_only: bool,
    same_site: Option<cookie::SameSite>,
    secure: bool,
    path: Option<&'a str>,
    domain: Option<&'a str>,
    /// Seconds.
    max_age: Option<i64>,
}

/// Writes `c` in `cookie`'s order (every response carries one): the same text as its `Display`,
/// in one allocation and without `format!`.
fn write_set_cookie(c: &SetCookie<'_>) -> String {
    let mut out = String::with_capacity(
        c.name.len()
            + c.value.len()
            + c.path.map_or(0, str::len)
            + c.domain.map_or(0, str::len)
            + 64,
    );
    out.push_str(c.name);
    out.push('=');
    out.push_str(c.value);
    if c.http_only {
        out.push_str("; HttpOnly");
    }
    if let Some(same_site) = c.same_site {
        out.push_str(match same_site {
            cookie::SameSite::Strict => "; SameSite=Strict",
            cookie::SameSite::Lax => "; SameSite=Lax",
            cookie::SameSite::None => "; SameSite=None",
        });
    }
    if c.secure {
        out.push_str("; Secure");
    }
    if let Some(path) = c.path {
        out.push_str("; Path=");
        out.push_str(path);
    }
    if let Some(domain) = c.domain {
        out.push_str("; Domain=");
        out.push_str(domain);
    }
    if let Some(seconds) = c.max_age {
        out.push_str("; Max-Age=");
        push_decimal(&mut out, seconds);
    }
    out
}

/// Appends `n` in decimal, as `Display` writes it (without the formatting machinery, which costs
/// more than the rest of the header on every response).
fn push_decimal(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend(digits[at..].iter().map(|&d| char::from(d)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_written_as_display_writes_them() {
        let edges = [0, 1, -1, 9, 10, -10, 7200, i64::MAX, i64::MIN, i64::MIN + 1];
        let powers = (0..19).flat_map(|e| {
            let p = 10i64.pow(e);
            [p - 1, p, p + 1, -p]
        });
        for n in edges.into_iter().chain(powers) {
            let mut out = String::from("x");
            push_decimal(&mut out, n);
            assert_eq!(out, format!("x{n}"));
        }
    }

    #[test]
    fn request_cookies_are_read_as_the_cookie_crate_splits_them() {
        let headers = [
            "sid=1; sid.d0 = two ;unrelated=3; ; sidx=\"q\"",
            "  ;sid=second; =nameless; sid.d1; sid.d2==x=; sid.é=ü",
        ];
        let cx = SessionContext::from_headers("sid", CookieOptions::default(), headers);
        let mut expected: Vec<(String, String)> = Vec::new();
        for header in headers {
            for c in Cookie::split_parse(header).flatten() {
                if c.name().starts_with("sid") && !expected.iter().any(|(n, _)| n == c.name()) {
                    expected.push((c.name().to_owned(), c.value().to_owned()));
                }
            }
        }
        let got: Vec<(String, String)> = cx
            .request_cookie_names()
            .map(|n| {
                (
                    n.to_owned(),
                    cx.request_cookie(n).unwrap_or_default().to_owned(),
                )
            })
            .collect();
        assert_eq!(got, expected);
        assert_eq!(cx.request_cookie("sid"), Some("1"));
        assert_eq!(cx.request_cookie("sid.d0"), Some("two"));
        assert_eq!(cx.request_cookie("sidx"), Some("\"q\""));
        assert_eq!(cx.request_cookie("sid.d2"), Some("=x="));
    }

    #[test]
    fn a_pair_that_is_not_utf8_costs_that_pair_only() {
        let headers: [&[u8]; 2] = [
            b"lang=caf\xe9; sid=1; sid.d=\xff\xfe; sid.e=two",
            "pref=caf\u{e9}; sid.f=three".as_bytes(),
        ];
        let cx = SessionContext::new("sid", CookieOptions::default()).with_header_bytes(headers);
        assert_eq!(cx.request_cookie("sid"), Some("1"));
        assert_eq!(
            cx.request_cookie("sid.d"),
            None,
            "a value that is not UTF-8 is skipped"
        );
        assert_eq!(cx.request_cookie("sid.e"), Some("two"));
        assert_eq!(cx.request_cookie("sid.f"), Some("three"));
        assert_eq!(cx.request_cookie_names().count(), 3);
    }

    #[test]
    fn session_cookies_are_written_as_the_built_cookie_would_be() {
        use cookie::SameSite;
        let mut seen = 0;
        for http_only in [false, true] {
            for secure in [false, true] {
                for same_site in [SameSite::Strict, SameSite::Lax, SameSite::None] {
                    for path in ["/", "/app"] {
                        for domain in [None, Some("example.com"), Some(".example.com")] {
                            for max_age in [None, Some(0), Some(7200), Some(u64::MAX)] {
                                let mut options = CookieOptions::default()
                                    .with_path(path)
                                    .with_http_only(http_only)
                                    .with_secure(secure)
                                    .with_same_site(same_site);
                                if let Some(domain) = domain {
                                    options = options.with_domain(domain);
                                }
                                let max_age = max_age.map(Duration::from_secs);
                                let built = options.build("id.d", "v.w-_x", max_age);
                                let cx = SessionContext::new("id", options);
                                cx.set_session_cookie("id.d", "v.w-_x", max_age);
                                let rendered = cx.set_cookie_headers().remove(0);
                                assert_eq!(rendered, built.to_string());
                                assert_eq!(cx.response_cookies(), [built]);
                                seen += 1;
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(seen, 2 * 2 * 3 * 2 * 3 * 4);
    }

    #[test]
    fn taking_the_headers_empties_the_jar() {
        let cx = SessionContext::new("id", CookieOptions::default());
        cx.set_session_cookie("id", "a", None);
        cx.remove_cookie("id.d");
        let headers = cx.take_set_cookie_headers();
        assert_eq!(headers.len(), 2);
        assert!(headers[0].starts_with("id=a;"), "{headers:?}");
        assert!(cx.response_cookies().is_empty());
    }

    #[test]
    fn header_values_match_the_cookie_crate() {
        use cookie::time::Duration;
        use cookie::SameSite;
        let mut seen = 0;
        for http_only in [None, Some(false), Some(true)] {
            for same_site in [
                None,
                Some(SameSite::Strict),
                Some(SameSite::Lax),
                Some(SameSite::None),
            ] {
                for secure in [None, Some(false), Some(true)] {
                    for path in [None, Some("/"), Some("/app")] {
                        for domain in [None, Some("example.com")] {
                            for max_age in [None, Some(0), Some(7200)] {
                                let mut c = Cookie::new("id", "v.w-_x");
                                if let Some(v) = http_only {
                                    c.set_http_only(v);
                                }
                                if let Some(v) = same_site {
                                    c.set_same_site(v);
                                }
                                if let Some(v) = secure {
                                    c.set_secure(v);
                                }
                                if let Some(v) = path {
                                    c.set_path(v);
                                }
                                if let Some(v) = domain {
                                    c.set_domain(v);
                                }
                                if let Some(v) = max_age {
                                    c.set_max_age(Duration::seconds(v));
                                }
                                assert_eq!(header_value(&c), c.to_string());
                                seen += 1;
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(seen, 3 * 4 * 3 * 3 * 2 * 3);
        let mut removal = CookieOptions::default().removal("id.d1");
        removal.set_partitioned(true);
        assert_eq!(header_value(&removal), removal.to_string());
    }

    fn cx(header: &str) -> SessionContext {
        SessionContext::from_headers("sid", CookieOptions::default(), [header])
    }

    #[test]
    fn request_cookies_stay_visible_after_changes() {
        let cx = cx("sid=1; sid.d0=2; unrelated=3");
        cx.set_cookie(CookieOptions::default().build("sid", "9", None));
        cx.remove_cookie("sid.d0");
        assert_eq!(cx.request_cookie("sid"), Some("1"));
        assert_eq!(cx.request_cookie("sid.d0"), Some("2"));
        let mut names: Vec<&str> = cx.request_cookie_names().collect();
        names.sort();
        assert_eq!(names, ["sid", "sid.d0"]);
    }

    #[test]
    fn removals_carry_path_and_expire_in_the_past() {
        let cx = cx("sid.d1=x");
        cx.remove_cookie("sid.d1");
        cx.remove_cookie("sid.d2");
        let out = cx.response_cookies();
        assert_eq!(out.len(), 2);
        for c in out {
            assert_eq!(c.path(), Some("/"));
            assert_eq!(c.value(), "");
            assert_eq!(c.max_age(), Some(cookie::time::Duration::ZERO));
        }
    }

    #[test]
    fn a_cookie_set_then_removed_is_sent_as_removal() {
        let cx = cx("");
        cx.set_cookie(CookieOptions::default().build("sid.d0", "v", None));
        cx.remove_cookie("sid.d0");
        let out = cx.response_cookies();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].value(), "");
    }
}
