//! How a sealed value is spread over numbered data cookies.
//!
//! The first cookie is `<cookie_name>.d` and holds `<count>.<first part>`; the others are
//! `<cookie_name>.d.1`, `<cookie_name>.d.2`, … up to `count - 1`. Base64url has no `.`, so the
//! count prefix is unambiguous.

use std::borrow::Cow;

use session_core::SessionContext;

/// What one cookie may hold, name and value together. Browsers keep at least this much per cookie
/// (RFC 6265 §6.1) and Chromium rejects `name=value` pairs above it.
pub(crate) const COOKIE_LIMIT: usize = 4096;
/// The most data cookies the driver ever uses. RFC 6265 asks browsers to keep at least 50 cookies
/// per domain; the id cookie and the application's own cookies need room too.
pub(crate) const MAX_CHUNKS: usize = 40;

/// Naming and sizing of the data cookies of one session cookie name.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    base: String,
}

impl Layout {
    pub(crate) fn new(cookie_name: &str) -> Self {
        Self {
            base: format!("{cookie_name}.d"),
        }
    }

    /// The name of chunk `index`.
    pub(crate) fn name(&self, index: usize) -> Cow<'_, str> {
        if index == 0 {
            Cow::Borrowed(&self.base)
        } else {
            Cow::Owned(format!("{}.{index}", self.base))
        }
    }

    /// The length of [`Layout::name`]`(index)`.
    fn name_len(&self, index: usize) -> usize {
        if index == 0 {
            self.base.len()
        } else {
            self.base.len() + 1 + digits(index)
        }
    }

    /// The chunk index a cookie name stands for, if it is one of ours. Only the canonical
    /// spelling counts (no leading zeros, no sign), so one chunk has one name.
    pub(crate) fn index_of(&self, name: &str) -> Option<usize> {
        let rest = name.strip_prefix(self.base.as_str())?;
        if rest.is_empty() {
            return Some(0);
        }
        let digits = rest.strip_prefix('.')?;
        let canonical = !digits.is_empty()
            && digits.len() <= 3
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if canonical {
            digits.parse().ok()
        } else {
            None
        }
    }

    /// Value bytes chunk `index` of `count` can carry.
    fn capacity(&self, index: usize, count: usize) -> usize {
        let prefix = if index == 0 { digits(count) + 1 } else { 0 };
        COOKIE_LIMIT.saturating_sub(self.name_len(index) + prefix)
    }

    /// Sealed bytes that `count` cookies carry together.
    pub(crate) fn total_capacity(&self, count: usize) -> usize {
        (0..count).map(|i| self.capacity(i, count)).sum()
    }

    /// The fewest cookies that carry `len` sealed bytes, if [`MAX_CHUNKS`] are enough.
    pub(crate) fn chunks_for(&self, len: usize) -> Option<usize> {
        (1..=MAX_CHUNKS).find(|&n| self.total_capacity(n) >= len)
    }

    /// Appends the first cookie's `<count>.` to `out`, which the sealed value then follows.
    pub(crate) fn push_prefix(out: &mut String, count: usize) {
        push_decimal(out, count);
        out.push('.');
    }

    /// Calls `put(name, value)` for each of the `count` cookies that carry `value`: the sealed
    /// value after its [`Layout::push_prefix`], every cookie within [`COOKIE_LIMIT`]. The
    /// values are slices of `value`.
    pub(crate) fn split(&self, value: &str, count: usize, mut put: impl FnMut(&str, &str)) {
        let prefix = digits(count) + 1;
        debug_assert!(value.len() >= prefix && value.as_bytes()[prefix - 1] == b'.');
        let mut rest = value;
        for index in 0..count {
            // Base64url is ASCII, so any byte offset is a character boundary.
            let take = self.capacity(index, count) + if index == 0 { prefix } else { 0 };
            let (part, tail) = rest.split_at(take.min(rest.len()));
            rest = tail;
            put(&self.name(index), part);
        }
    }

    /// The sealed value the request's data cookies carry. `Ok(None)` when there is no data
    /// cookie; `Err` with a reason when the cookies are malformed. Every size is checked before
    /// anything is copied, so a huge or absurd header costs nothing. A value in one cookie is
    /// borrowed from the request, not copied.
    pub(crate) fn assemble<'a>(
        &self,
        cx: &'a SessionContext,
        max_size: usize,
        max_chunks: usize,
    ) -> Result<Option<Cow<'a, str>>, &'static str> {
        let Some(first) = cx.request_cookie(&self.base) else {
            return Ok(None);
        };
        if first.len() > COOKIE_LIMIT {
            return Err("a data cookie is larger than a browser keeps");
        }
        let Some((count, part)) = first.split_once('.') else {
            return Err("the first data cookie has no chunk count");
        };
        let count_ok = !count.is_empty()
            && count.len() <= 2
            && count.bytes().all(|b| b.is_ascii_digit())
            && !count.starts_with('0');
        let count: usize = match count.parse() {
            Ok(n) if count_ok && n <= max_chunks => n,
            _ => return Err("the chunk count is malformed or out of range"),
        };
        if count == 1 {
            return if part.len() > max_size {
                Err("the data cookies are larger than the configured maximum")
            } else {
                Ok(Some(Cow::Borrowed(part)))
            };
        }
        let mut parts = Vec::with_capacity(count);
        parts.push(part);
        let mut total = part.len();
        for index in 1..count {
            let Some(part) = cx.request_cookie(&self.name(index)) else {
                return Err("a data cookie chunk is missing");
            };
            if part.len() > COOKIE_LIMIT {
                return Err("a data cookie is larger than a browser keeps");
            }
            total += part.len();
            if total > max_size {
                return Err("the data cookies are larger than the configured maximum");
            }
            parts.push(part);
        }
        if total > max_size {
            return Err("the data cookies are larger than the configured maximum");
        }
        Ok(Some(Cow::Owned(parts.concat())))
    }

    /// The chunk indexes among the request's cookie names.
    pub(crate) fn request_indexes<'a>(
        &'a self,
        cx: &'a SessionContext,
    ) -> impl Iterator<Item = usize> + 'a {
        cx.request_cookie_names().filter_map(|n| self.index_of(n))
    }
}

/// The number of decimal digits of `n`.
fn digits(n: usize) -> usize {
    let mut n = n;
    let mut digits = 1;
    while n >= 10 {
        n /= 10;
        digits += 1;
    }
    digits
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut String, n: usize) {
    if n >= 10 {
        push_decimal(out, n / 10);
    }
    out.push(char::from(b'0' + (n % 10) as u8));
}

#[cfg(test)]
mod tests {
    use super::*;
    use session_core::CookieOptions;

    #[test]
    fn decimals_are_written_as_to_string_writes_them() {
        for n in (0..=1000).chain([usize::MAX]) {
            let mut out = String::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string());
            assert_eq!(digits(n), out.len());
        }
    }

    #[test]
    fn names_round_trip_through_index_of() {
        let l = Layout::new("id");
        for i in 0..MAX_CHUNKS {
            assert_eq!(l.index_of(&l.name(i)), Some(i));
            assert_eq!(l.name_len(i), l.name(i).len());
        }
        for bad in [
            "id",
            "id.",
            "id.d.",
            "id.d.0",
            "id.d.01",
            "id.d.+1",
            "id.d.1000",
            "id.dx",
            "x.d",
        ] {
            assert_eq!(l.index_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn split_fills_every_cookie_to_the_limit_and_reassembles() {
        let l = Layout::new("session");
        for count in 1..=4 {
            let len = l.total_capacity(count);
            let sealed: String = (0..len)
                .map(|i| char::from(b'A' + (i % 26) as u8))
                .collect();
            assert_eq!(l.chunks_for(len), Some(count));
            assert_eq!(l.chunks_for(len + 1), Some(count + 1));
            let mut value = String::new();
            Layout::push_prefix(&mut value, count);
            value.push_str(&sealed);
            let mut pairs = Vec::new();
            l.split(&value, count, |n, v| {
                pairs.push((n.to_owned(), v.to_owned()))
            });
            assert_eq!(pairs.len(), count);
            for (name, value) in &pairs {
                assert_eq!(name.len() + value.len(), COOKIE_LIMIT);
            }
            let header: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}={v}")).collect();
            let cx = SessionContext::from_headers(
                "session",
                CookieOptions::default(),
                [header.join("; ").as_str()],
            );
            assert_eq!(
                l.assemble(&cx, usize::MAX, MAX_CHUNKS)
                    .map(|v| v.map(Cow::into_owned)),
                Ok(Some(sealed))
            );
        }
    }

    #[test]
    fn malformed_counts_are_rejected() {
        let l = Layout::new("id");
        for header in [
            "id.d=abc",
            "id.d=0.abc",
            "id.d=01.abc",
            "id.d=99.abc",
            "id.d=2.abc",
            "id.d=-1.abc",
            "id.d=1000000000000000000000.abc",
        ] {
            let cx = SessionContext::from_headers("id", CookieOptions::default(), [header]);
            assert!(l.assemble(&cx, 100_000, 10).is_err(), "{header}");
        }
    }
}
