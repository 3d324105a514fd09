//! Key paths into the values store: `user.name`, `user[name]`, `items.0`.

use std::fmt;

use crate::error::Error;
use crate::limits::Limits;
use crate::{FLASH_KEY, TAG_KEY};

/// A parsed key path into the values store.
///
/// `user.name`, `user[name]` and `user["name"]` all address `{"user": {"name": …}}`. A path is
/// parsed once and then used for reading, writing and replaying; the text the caller gave is kept
/// for error messages.
///
/// ```
/// use session_core::KeyPath;
///
/// let a = KeyPath::parse("user.name").unwrap();
/// let b = KeyPath::parse("user[name]").unwrap();
/// assert_eq!(a.segments(), b.segments());
/// assert!(KeyPath::parse("user..name").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyPath {
    /// The text as written; empty for a path of one plain segment, whose text is that segment.
    text: String,
    segments: Vec<String>,
}

impl KeyPath {
    /// Parses a path. Empty paths, empty segments (`a..b`, `a[]`) and unbalanced brackets are
    /// rejected with [`Error::InvalidPath`].
    ///
    /// ```
    /// use session_core::KeyPath;
    ///
    /// let path = KeyPath::parse(r#"cart["items"].0"#)?;
    /// assert_eq!(path.segments(), ["cart", "items", "0"]);
    /// assert!(KeyPath::parse("").is_err());
    /// assert!(KeyPath::parse("user[name").is_err());
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self, Error> {
        Self::parse_within(text, &Limits::default())
    }

    /// Parses a path within `limits`: more segments than [`Limits::max_key_segments`] or a
    /// segment longer than [`Limits::max_segment_length`] is [`Error::LimitExceeded`], found
    /// without reading the rest of the text. The session's methods parse with the configured
    /// limits; [`KeyPath::parse`] uses the defaults.
    ///
    /// ```
    /// use session_core::{Error, KeyPath, Limits};
    ///
    /// let limits = Limits::default().with_max_key_segments(3).with_max_segment_length(8);
    /// assert!(KeyPath::parse_within("a.b.c", &limits).is_ok());
    /// assert!(matches!(
    ///     KeyPath::parse_within("a.b.c.d", &limits),
    ///     Err(Error::LimitExceeded { option: "limits.max_key_segments", limit: 3, .. })
    /// ));
    /// assert!(matches!(
    ///     KeyPath::parse_within("a[abcdefghi]", &limits),
    ///     Err(Error::LimitExceeded { option: "limits.max_segment_length", .. })
    /// ));
    /// ```
    pub fn parse_within(text: &str, limits: &Limits) -> Result<Self, Error> {
        let invalid = || Error::InvalidPath {
            path: Error::shorten(text),
        };
        let too_long = || {
            Error::limit(
                "limits.max_segment_length",
                limits.max_segment_length(),
                text,
            )
        };
        // Most keys are one plain name (`cart_total`): no parsing, and the text is not kept
        // twice.
        if is_plain(text) {
            if text.len() > limits.max_segment_length() {
                return Err(too_long());
            }
            return Ok(Self {
                text: String::new(),
                segments: vec![text.to_owned()],
            });
        }
        let mut segments = Vec::new();
        // Each segment is checked as it is completed, so a hostile path costs at most the
        // limits' worth of work past the first segment that breaks one.
        let push = |segments: &mut Vec<String>, segment: String| {
            if segment.len() > limits.max_segment_length() {
                return Err(too_long());
            }
            if segments.len() == limits.max_key_segments() {
                return Err(Error::limit(
                    "limits.max_key_segments",
                    limits.max_key_segments(),
                    text,
                ));
            }
            segments.push(segment);
            Ok(())
        };
        let mut current = String::new();
        let mut chars = text.chars().peekable();
        // `after_bracket` is true right after a `]`: the next character must be `.` or `[`.
        let mut after_bracket = false;
        while let Some(c) = chars.next() {
            match c {
                '.' => {
                    if current.is_empty() && !after_bracket {
                        return Err(invalid());
                    }
                    if !current.is_empty() {
                        push(&mut segments, std::mem::take(&mut current))?;
                    }
                    after_bracket = false;
                    // A trailing dot leaves an empty last segment.
                    if chars.peek().is_none() {
                        return Err(invalid());
                    }
                }
                '[' => {
                    if !current.is_empty() {
                        push(&mut segments, std::mem::take(&mut current))?;
                    } else if segments.is_empty() {
                        return Err(invalid());
                    }
                    let mut inner = String::new();
                    let mut closed = false;
                    for c in chars.by_ref() {
                        if c == ']' {
                            closed = true;
                            break;
                        }
                        if c == '[' {
                            return Err(invalid());
                        }
                        inner.push(c);
                    }
                    if !closed {
                        return Err(invalid());
                    }
                    let inner = strip_quotes(&inner);
                    if inner.is_empty() {
                        return Err(invalid());
                    }
                    push(&mut segments, inner.to_owned())?;
                    after_bracket = true;
                }
                ']' => return Err(invalid()),
                c => {
                    if after_bracket {
                        return Err(invalid());
                    }
                    current.push(c);
                }
            }
        }
        if !current.is_empty() {
            push(&mut segments, current)?;
        }
        if segments.is_empty() {
            return Err(invalid());
        }
        Ok(Self {
            text: text.to_owned(),
            segments,
        })
    }

    /// Parses a path of the user-facing store, refusing the reserved flash and tag keys.
    pub(crate) fn parse_user(text: &str, limits: &Limits) -> Result<Self, Error> {
        let path = Self::parse_within(text, limits)?;
        if let Some(key) = [FLASH_KEY, TAG_KEY]
            .into_iter()
            .find(|k| path.segments[0] == *k)
        {
            return Err(Error::ReservedKey {
                key: key.to_owned(),
            });
        }
        Ok(path)
    }

    /// The path of the session's tag.
    pub(crate) fn tag() -> Self {
        Self {
            text: TAG_KEY.to_owned(),
            segments: vec![TAG_KEY.to_owned()],
        }
    }

    /// The segments of the path, outermost first.
    ///
    /// ```
    /// use session_core::KeyPath;
    ///
    /// assert_eq!(KeyPath::parse("user[address].city")?.segments(), ["user", "address", "city"]);
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The path as the caller wrote it.
    ///
    /// ```
    /// use session_core::KeyPath;
    ///
    /// assert_eq!(KeyPath::parse("user[name]")?.as_str(), "user[name]"); // as written, for messages
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn as_str(&self) -> &str {
        if self.text.is_empty() {
            &self.segments[0]
        } else {
            &self.text
        }
    }
}

/// Whether `text` is a path of one segment spelled as is: not empty, no `.`, `[` or `]`.
pub(crate) fn is_plain(text: &str) -> bool {
    !text.is_empty() && !text.bytes().any(|b| matches!(b, b'.' | b'[' | b']'))
}

fn strip_quotes(s: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return inner;
        }
    }
    s
}

impl fmt::Debug for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyPath({:?})", self.as_str())
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(p: &str) -> Vec<String> {
        KeyPath::parse(p).expect(p).segments().to_vec()
    }

    #[test]
    fn dot_and_bracket_spellings_are_the_same_path() {
        assert_eq!(segs("user.name"), ["user", "name"]);
        assert_eq!(segs("user[name]"), ["user", "name"]);
        assert_eq!(segs("user[\"name\"]"), ["user", "name"]);
        assert_eq!(segs("a[b][c].d"), ["a", "b", "c", "d"]);
        assert_eq!(segs("items.0"), ["items", "0"]);
        assert_eq!(segs("items[0].title"), ["items", "0", "title"]);
        assert_eq!(segs("plain"), ["plain"]);
    }

    #[test]
    fn malformed_paths_are_rejected() {
        for bad in [
            "", ".", "a.", ".a", "a..b", "a[]", "a[b", "a]b", "[a]", "a[b]c", "a[[b]]",
        ] {
            assert!(
                matches!(KeyPath::parse(bad), Err(Error::InvalidPath { .. })),
                "{bad:?} should be invalid"
            );
        }
    }

    #[test]
    fn a_path_reads_back_as_written_and_equals_only_its_own_spelling() {
        for text in [
            "plain",
            "with space",
            "a.b",
            "user[name]",
            "x[\"y\"].0",
            "ünï",
        ] {
            let path = KeyPath::parse(text).expect(text);
            assert_eq!(path.as_str(), text);
            assert_eq!(path.to_string(), text);
            assert_eq!(format!("{path:?}"), format!("KeyPath({text:?})"));
            assert_eq!(path, KeyPath::parse(text).expect(text));
            assert_eq!(
                is_plain(text),
                path.segments().len() == 1 && path.segments()[0] == text
            );
        }
        assert!(!is_plain(""));
        // The same segments spelled differently stay different paths (the text is kept for
        // messages), and a plain name is never equal to a nested path.
        assert_ne!(KeyPath::parse("a.b").ok(), KeyPath::parse("a[b]").ok());
        assert_ne!(KeyPath::parse("ab").ok(), KeyPath::parse("a.b").ok());
        assert!(matches!(
            KeyPath::parse_user("__flash__", &Limits::default()),
            Err(Error::ReservedKey { .. })
        ));
    }

    #[test]
    fn the_flash_key_is_reserved_for_user_paths() {
        assert!(matches!(
            KeyPath::parse_user("__flash__.x", &Limits::default()),
            Err(Error::ReservedKey { .. })
        ));
        assert!(KeyPath::parse("__flash__").is_ok());
    }
}
