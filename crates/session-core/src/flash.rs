//! Flash messages: values that live for exactly one following request.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::path::KeyPath;
use crate::store::{self, deep_merge};

/// The flash messages set by the previous request, read-only.
///
/// Paths work as in the store (`errors.title`). `all()` is an empty object when nothing was
/// flashed. An invalid path is an error, as on the session.
///
/// ```
/// use session_core::FlashMessages;
/// use serde_json::json;
///
/// let messages = FlashMessages::from_value(json!({"errors": {"title": "Title is required"}}));
/// assert_eq!(messages.get::<String>("errors.title").unwrap().as_deref(), Some("Title is required"));
/// assert!(messages.has("errors.title"));
/// assert_eq!(messages.get_or("missing", String::new()).unwrap(), "");
/// assert!(!messages.is_empty());
/// assert!(FlashMessages::default().all().is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlashMessages {
    messages: Map<String, Value>,
}

impl FlashMessages {
    pub(crate) fn new(messages: Map<String, Value>) -> Self {
        Self { messages }
    }

    /// Messages from a JSON object (anything else gives no messages). Useful in templates' tests.
    ///
    /// ```
    /// use serde_json::json;
    /// use session_core::FlashMessages;
    ///
    /// let messages = FlashMessages::from_value(json!({ "message": "Saved" }));
    /// assert_eq!(messages.get_value("message").unwrap(), Some(json!("Saved")));
    /// assert!(FlashMessages::from_value(json!("not an object")).is_empty());
    /// ```
    pub fn from_value(value: Value) -> Self {
        match value {
            Value::Object(messages) => Self { messages },
            _ => Self::default(),
        }
    }

    /// The message at `path` as raw JSON; `None` when missing or `null`. An invalid path is
    /// [`Error::InvalidPath`], as on the session.
    ///
    /// ```
    /// use serde_json::json;
    /// use session_core::FlashMessages;
    ///
    /// let messages = FlashMessages::from_value(json!({ "errors": { "title": ["Title is required"] } }));
    /// assert_eq!(messages.get_value("errors[title].0")?, Some(json!("Title is required")));
    /// assert_eq!(messages.get_value("errors.body")?, None);
    /// assert!(messages.get_value("errors..title").is_err());
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn get_value(&self, path: &str) -> Result<Option<Value>, Error> {
        Ok(self.find(path)?.cloned())
    }

    /// The message at `path` deserialized as `T`; `None` when missing or `null`. A message of
    /// another shape is [`Error::Deserialize`] naming the path, as on the session.
    ///
    /// ```
    /// use serde_json::json;
    /// use session_core::FlashMessages;
    ///
    /// let messages = FlashMessages::from_value(json!({ "old": { "quantity": 3 } }));
    /// assert_eq!(messages.get::<u32>("old.quantity")?, Some(3));
    /// assert_eq!(messages.get::<u32>("old.price")?, None);
    /// assert!(messages.get::<String>("old.quantity").is_err()); // another shape
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, Error> {
        self.find(path)?
            .map(T::deserialize)
            .transpose()
            .map_err(|source| Error::Deserialize {
                path: path.to_owned(),
                source,
            })
    }

    /// The message at `path` as `T`, or `default` when missing or `null`.
    ///
    /// ```
    /// use serde_json::json;
    /// use session_core::FlashMessages;
    ///
    /// let messages = FlashMessages::from_value(json!({ "title": "Hi" }));
    /// assert_eq!(messages.get_or("title", String::new())?, "Hi");
    /// assert_eq!(messages.get_or("body", String::new())?, "");
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn get_or<T: DeserializeOwned>(&self, path: &str, default: T) -> Result<T, Error> {
        Ok(self.get(path)?.unwrap_or(default))
    }

    /// The message at `path`, in place.
    fn find(&self, path: &str) -> Result<Option<&Value>, Error> {
        Ok(store::get(&self.messages, &KeyPath::parse(path)?))
    }

    /// Whether a message is present (and not `null`) at `path`.
    ///
    /// ```
    /// use serde_json::json;
    /// use session_core::FlashMessages;
    ///
    /// let messages = FlashMessages::from_value(json!({ "accepted": false, "note": null }));
    /// assert!(messages.has("accepted"));
    /// assert!(!messages.has("note"));
    /// ```
    pub fn has(&self, path: &str) -> bool {
        self.find(path).ok().flatten().is_some()
    }

    /// All messages, as [`Session::all`](crate::Session::all) gives all values: an owned JSON
    /// object (empty when nothing was flashed).
    ///
    /// ```
    /// use serde_json::json;
    /// use session_core::FlashMessages;
    ///
    /// let messages = FlashMessages::from_value(json!({ "a": 1, "b": 2 }));
    /// assert_eq!(messages.all().keys().collect::<Vec<_>>(), ["a", "b"]);
    /// ```
    pub fn all(&self) -> Map<String, Value> {
        self.messages.clone()
    }

    /// The messages in place.
    pub(crate) fn map(&self) -> &Map<String, Value> {
        &self.messages
    }

    /// Whether nothing was flashed.
    ///
    /// ```
    /// use serde_json::json;
    /// use session_core::FlashMessages;
    ///
    /// assert!(FlashMessages::default().is_empty());
    /// assert!(!FlashMessages::from_value(json!({ "message": "Hi" })).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
}

/// The messages being prepared for the next request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outgoing {
    /// `flash` and `flash_object` calls, deep-merged in order.
    pub(crate) flashed: Map<String, Value>,
    /// `flash_all` / `flash_only` / `flash_except`: the last call wins.
    pub(crate) input: Option<Map<String, Value>>,
    /// `reflash` / `reflash_only` / `reflash_except`: the last call wins.
    pub(crate) reflashed: Option<Map<String, Value>>,
}

impl Outgoing {
    /// `reflashed ∪ input ∪ flashed`, later ones winning.
    pub(crate) fn assemble(&self) -> Map<String, Value> {
        if self.reflashed.is_none() && self.input.is_none() {
            // Only `flash` calls, or none (every request that does not flash): nothing to merge.
            return self.flashed.clone();
        }
        let mut out = self.reflashed.clone().unwrap_or_default();
        if let Some(input) = &self.input {
            deep_merge(&mut out, input.clone());
        }
        deep_merge(&mut out, self.flashed.clone());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn later_sources_win_when_assembling() {
        let out = Outgoing {
            reflashed: Some(obj(json!({"a": 1, "b": 1, "c": 1}))),
            input: Some(obj(json!({"b": 2, "c": 2}))),
            flashed: obj(json!({"c": 3})),
        };
        assert_eq!(
            Value::Object(out.assemble()),
            json!({"a": 1, "b": 2, "c": 3})
        );
    }

    #[test]
    fn flashed_messages_alone_assemble_as_the_merge_would() {
        let flashed = obj(json!({"a": {"b": 1, "c": null}, "d": [1], "e": false}));
        let alone = Outgoing {
            flashed: flashed.clone(),
            ..Outgoing::default()
        };
        let merged = Outgoing {
            flashed: flashed.clone(),
            input: Some(Map::new()),
            reflashed: None,
        };
        assert_eq!(alone.assemble(), merged.assemble());
        assert_eq!(alone.assemble(), flashed);
        assert!(Outgoing::default().assemble().is_empty());
    }

    #[test]
    fn falsy_messages_are_present() {
        let m =
            FlashMessages::from_value(json!({"zero": 0, "no": false, "empty": "", "null": null}));
        assert!(m.has("zero") && m.has("no") && m.has("empty"));
        assert!(!m.has("null"));
    }
}
