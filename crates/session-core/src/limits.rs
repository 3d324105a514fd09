//! Bounds on what client input can make the store hold.
//!
//! Key paths and values reach the store from forms, JSON bodies and URLs. Without bounds, one
//! request could nest a value thousands of levels deep: every later clone, comparison,
//! serialization and drop of it recurses that deep and overflows the stack, and a record nested
//! past a JSON decoder's recursion limit is written but never read back. The limits below are
//! checked before anything is stored, and going past one is [`Error::LimitExceeded`] (a data
//! error: a 422 from the adapters' default answers).

use serde::Deserialize;
use serde_json::Value;

use crate::error::{ConfigError, Error};

/// The deepest [`Limits::with_max_depth`] may be set. A stored record adds at most three levels
/// around the values (the record's envelope, the values object, the flash messages' object), so
/// every record stays well inside the 128 levels that JSON decoders such as `serde_json` accept.
pub const MAX_DEPTH_CEILING: usize = 100;

/// Limits on key paths and on the nesting of stored values and flash messages.
///
/// | option | default | what it bounds |
/// |---|---|---|
/// | `limits.max_key_segments` | 32 | segments of a key path (`a.b.c` has 3) |
/// | `limits.max_segment_length` | 256 | bytes in one segment of a key path |
/// | `limits.max_depth` | 32 | nesting depth of a value as stored: the segments of its path plus the levels of arrays and objects inside it (at most [`MAX_DEPTH_CEILING`]) |
///
/// The same limits apply to flash messages and to flashed input (form keys such as
/// `user[address][city]` are key paths). Going past one is [`Error::LimitExceeded`], before
/// anything is stored.
///
/// ```
/// use serde_json::json;
/// use session_core::{Error, Limits, SessionConfig};
///
/// let limits = Limits::default();
/// assert_eq!((limits.max_key_segments(), limits.max_segment_length(), limits.max_depth()), (32, 256, 32));
///
/// # let session = session_core::Session::for_tests();
/// let deep = vec!["a"; 40].join(".");
/// assert!(matches!(session.put(&deep, 1), Err(Error::LimitExceeded { option: "limits.max_key_segments", .. })));
/// // `user.address` plus an object nested 31 levels: 33 levels in all.
/// let mut value = json!(1);
/// for _ in 0..31 {
///     value = json!({ "x": value });
/// }
/// assert!(matches!(session.put("user.address", value), Err(Error::LimitExceeded { option: "limits.max_depth", .. })));
///
/// let config = SessionConfig::new().with_limits(Limits::default().with_max_depth(16));
/// assert_eq!(config.limits().max_depth(), 16);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    max_key_segments: usize,
    max_segment_length: usize,
    max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_key_segments: 32,
            max_segment_length: 256,
            max_depth: 32,
        }
    }
}

impl Limits {
    /// The most segments a key path may have (default 32).
    ///
    /// ```
    /// use session_core::Limits;
    ///
    /// assert_eq!(Limits::default().with_max_key_segments(8).max_key_segments(), 8);
    /// ```
    pub fn max_key_segments(&self) -> usize {
        self.max_key_segments
    }

    /// The longest a segment of a key path may be, in bytes (default 256).
    ///
    /// ```
    /// use session_core::Limits;
    ///
    /// assert_eq!(Limits::default().max_segment_length(), 256);
    /// ```
    pub fn max_segment_length(&self) -> usize {
        self.max_segment_length
    }

    /// The deepest a value may sit in the store (default 32): the segments of its path plus the
    /// levels of arrays and objects inside it. `put("a", 1)` is depth 1, `put("a.b", [1])` is 3.
    ///
    /// ```
    /// use session_core::Limits;
    ///
    /// assert_eq!(Limits::default().max_depth(), 32);
    /// ```
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }

    /// Sets [`Limits::max_key_segments`]; at least 1, at most [`Limits::max_depth`].
    ///
    /// ```
    /// use session_core::{Limits, SessionConfig, SessionManager};
    ///
    /// let config = SessionConfig::new()
    ///     .with_driver("memory")
    ///     .with_key("a secret of at least thirty-two bytes!!");
    /// let zero = config.with_limits(Limits::default().with_max_key_segments(0));
    /// assert_eq!(SessionManager::builder(zero).build().unwrap_err().option(), "limits.max_key_segments");
    /// ```
    #[must_use]
    pub fn with_max_key_segments(mut self, segments: usize) -> Self {
        self.max_key_segments = segments;
        self
    }

    /// Sets [`Limits::max_segment_length`]; at least 1.
    ///
    /// ```
    /// use session_core::Limits;
    ///
    /// assert_eq!(Limits::default().with_max_segment_length(64).max_segment_length(), 64);
    /// ```
    #[must_use]
    pub fn with_max_segment_length(mut self, bytes: usize) -> Self {
        self.max_segment_length = bytes;
        self
    }

    /// Sets [`Limits::max_depth`]; at least 1, at most [`MAX_DEPTH_CEILING`].
    ///
    /// ```
    /// use session_core::{Limits, SessionConfig, SessionManager};
    ///
    /// let config = SessionConfig::new()
    ///     .with_driver("memory")
    ///     .with_key("a secret of at least thirty-two bytes!!")
    ///     .with_limits(Limits::default().with_max_depth(500));
    /// let err = SessionManager::builder(config).build().unwrap_err();
    /// assert_eq!(err.option(), "limits.max_depth");
    /// ```
    #[must_use]
    pub fn with_max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }

    /// Checks the limits themselves, at start-up.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_depth == 0 || self.max_depth > MAX_DEPTH_CEILING {
            return Err(ConfigError::new(
                "limits.max_depth",
                format!(
                    "must be between 1 and {MAX_DEPTH_CEILING}, got {}",
                    self.max_depth
                ),
            ));
        }
        if self.max_key_segments == 0 || self.max_key_segments > self.max_depth {
            return Err(ConfigError::new(
                "limits.max_key_segments",
                format!(
                    "must be between 1 and limits.max_depth ({}), got {}",
                    self.max_depth, self.max_key_segments
                ),
            ));
        }
        if self.max_segment_length == 0 {
            return Err(ConfigError::new(
                "limits.max_segment_length",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// Checks that `value`, stored `levels` deep (the segments of its path), stays within
    /// [`Limits::max_depth`]. `path` names the value in the error.
    pub(crate) fn check_depth(
        &self,
        path: &str,
        levels: usize,
        value: &Value,
    ) -> Result<(), Error> {
        let room = self.max_depth.checked_sub(levels);
        let within = room.is_some_and(|room| nesting_within(value, room));
        if within {
            Ok(())
        } else {
            Err(Error::limit("limits.max_depth", self.max_depth, path))
        }
    }
}

/// Whether `value` nests arrays and objects at most `room` levels deep (a scalar is 0 levels,
/// `[1]` is 1, `{"a": []}` is 2). The walk keeps its own stack instead of recursing, and stops at
/// the first branch that goes deeper than `room`.
pub(crate) fn nesting_within(value: &Value, room: usize) -> bool {
    let mut stack = vec![(value, 0usize)];
    while let Some((value, above)) = stack.pop() {
        let level = above + 1;
        match value {
            Value::Array(items) => {
                if level > room {
                    return false;
                }
                stack.extend(items.iter().map(|item| (item, level)));
            }
            Value::Object(map) => {
                if level > room {
                    return false;
                }
                stack.extend(map.values().map(|item| (item, level)));
            }
            _ => {}
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nested(levels: usize) -> Value {
        let mut value = json!(0);
        for i in 0..levels {
            value = if i % 2 == 0 {
                json!([value])
            } else {
                json!({ "k": value })
            };
        }
        value
    }

    #[test]
    fn nesting_counts_arrays_and_objects_and_stops_early() {
        assert!(nesting_within(&json!(1), 0));
        assert!(!nesting_within(&json!([]), 0));
        assert!(nesting_within(&json!([]), 1));
        assert!(nesting_within(&json!({"a": [1], "b": 2}), 2));
        assert!(!nesting_within(&json!({"a": [1], "b": 2}), 1));
        for levels in [1, 5, 31, 32, 33] {
            assert!(nesting_within(&nested(levels), levels));
            assert!(!nesting_within(&nested(levels), levels - 1));
        }
        // A deep branch after a shallow one is found.
        assert!(!nesting_within(&json!([1, 2, {"x": nested(40)}]), 32));
    }

    #[test]
    fn depth_counts_the_path_segments_too() {
        let limits = Limits::default().with_max_depth(4);
        assert!(limits.check_depth("a", 1, &nested(3)).is_ok());
        assert!(limits.check_depth("a.b", 2, &nested(3)).is_err());
        assert!(limits.check_depth("a.b.c.d", 4, &json!("x")).is_ok());
        assert!(limits.check_depth("a.b.c.d.e", 5, &json!("x")).is_err());
    }

    #[test]
    fn limits_are_validated_naming_the_option() {
        let option = |l: Limits| l.validate().map_err(|e| e.option().to_owned());
        assert_eq!(option(Limits::default()), Ok(()));
        assert_eq!(
            option(Limits::default().with_max_depth(0)),
            Err("limits.max_depth".to_owned())
        );
        assert_eq!(
            option(Limits::default().with_max_depth(MAX_DEPTH_CEILING + 1)),
            Err("limits.max_depth".to_owned())
        );
        assert_eq!(
            option(Limits::default().with_max_depth(8)),
            Err("limits.max_key_segments".to_owned())
        );
        assert_eq!(
            option(Limits::default().with_max_segment_length(0)),
            Err("limits.max_segment_length".to_owned())
        );
        assert_eq!(
            option(
                Limits::default()
                    .with_max_depth(MAX_DEPTH_CEILING)
                    .with_max_key_segments(MAX_DEPTH_CEILING)
            ),
            Ok(())
        );
    }
}
