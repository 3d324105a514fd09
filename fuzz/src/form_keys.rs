//! `form_keys`: form-key nesting. A form's fields, keys as the client wrote them (`user[name]`,
//! `a.b`, anything), flashed with `flash_all`, `flash_only` or `flash_except`, committed with the
//! memory driver and read back by the next request.
//!
//! Input: one byte choosing the method (`0`: `flash_all`, `1`: `flash_only`, `2`:
//! `flash_except`, by its value modulo 3), then UTF-8 lines. A line `?path` adds `path` to the
//! fields `flash_only`/`flash_except` are given; any other line is a field, `key=value`, the value
//! taken as JSON when it parses as JSON and as a string otherwise. Keys and paths are at most
//! [`MAX_KEY`] bytes, far past the default limits (32 segments of 256 bytes), so keys that the
//! limits refuse are run too.
//!
//! Checked: a key, path or value past the limits refuses the whole call
//! (`Error::LimitExceeded`) and flashes nothing; otherwise `flash_all` never fails and the two
//! others fail only for a malformed path; the
//! next request's flash messages hold every field whose path no other field overlaps (neither
//! is a prefix of the other), at its nested path for a key of several segments and under the
//! key itself otherwise; `flash_only` keeps nothing outside the paths given; `flash_except`
//! leaves nothing at the paths given, through arrays included.

use serde_json::{Map, Value};
use session_core::{Error, FlashMessages, KeyPath, Session};

use crate::fixture::{Fixture, COOKIE_NAME};

/// The longest key or path run.
pub const MAX_KEY: usize = 16 * 1024;

/// The three ways to flash the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    All,
    Only,
    Except,
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mode = match mode % 3 {
        0 => Mode::All,
        1 => Mode::Only,
        _ => Mode::Except,
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let mut input = Map::new();
    let mut picks: Vec<&str> = Vec::new();
    for line in text.split('\n') {
        if let Some(path) = line.strip_prefix('?') {
            if path.len() > MAX_KEY {
                return;
            }
            picks.push(path);
            continue;
        }
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        if key.len() > MAX_KEY {
            return;
        }
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
        input.insert(key.to_owned(), value);
    }

    let fx = Fixture::get();
    let session = fx
        .block_on(fx.memory.start_request(std::iter::empty()).session())
        .unwrap_or_else(|e| panic!("{e}"));
    let flashed = match mode {
        Mode::All => session.flash_all(&input),
        Mode::Only => session.flash_only(&input, &picks),
        Mode::Except => session.flash_except(&input, &picks),
    };
    let picks: Option<Vec<KeyPath>> = picks.iter().map(|p| KeyPath::parse(p).ok()).collect();
    match (&flashed, mode, &picks) {
        // Past a limit: refused whole (checked below: nothing was flashed).
        (Err(Error::LimitExceeded { option, .. }), _, _) => {
            assert!(option.starts_with("limits."), "{option}")
        }
        (Ok(()), Mode::All, _)
        | (Ok(()), _, Some(_))
        | (Err(_), Mode::Only | Mode::Except, None) => {}
        (Ok(()), _, None) => panic!("a malformed path among the fields was accepted"),
        (Err(e), Mode::All, _) => panic!("flash_all failed: {e}"),
        (Err(e), _, Some(_)) => panic!("{mode:?} failed with well-formed paths: {e}"),
    }
    let messages = read_back(fx, &session);
    if flashed.is_err() {
        assert!(messages.is_empty(), "a failed flash flashes nothing");
        return;
    }
    // `flash_all` takes no paths.
    let picks = picks.unwrap_or_default();

    let fields: Vec<(Vec<String>, &String, &Value)> = input
        .iter()
        .map(|(key, value)| {
            let segments = match KeyPath::parse(key) {
                Ok(path) if path.segments().len() > 1 => path.segments().to_vec(),
                _ => vec![key.clone()],
            };
            (segments, key, value)
        })
        .collect();
    for (segments, key, value) in &fields {
        let alone = fields
            .iter()
            .filter(|(other, _, _)| overlaps(segments, other))
            .count()
            == 1;
        if !alone {
            continue;
        }
        let kept = match mode {
            Mode::All => true,
            Mode::Only => picks.iter().any(|p| p.segments() == segments.as_slice()),
            Mode::Except => !picks.iter().any(|p| overlaps(p.segments(), segments)),
        };
        if !kept {
            continue;
        }
        if segments.len() > 1 {
            // Read at its nested path; a read finds no null.
            let expected = (!value.is_null()).then_some(*value);
            let read = messages
                .get_value(key)
                .unwrap_or_else(|e| panic!("{key:?}: {e}"));
            assert_eq!(read.as_ref(), expected, "field {key:?}");
        } else {
            // Kept under the key as written; `flash_only` copies what a read finds, so no null.
            let expected = (mode != Mode::Only || !value.is_null()).then_some(*value);
            assert_eq!(messages.all().get(*key), expected, "field {key:?}");
        }
    }
    match mode {
        Mode::All => {}
        Mode::Only => {
            for top in messages.all().keys() {
                assert!(
                    picks.iter().any(|p| &p.segments()[0] == top),
                    "{top:?} was kept but not asked for"
                );
            }
        }
        Mode::Except => {
            for path in &picks {
                assert_eq!(
                    messages.get_value(path.as_str()).ok().flatten(),
                    None,
                    "{path} was left out but is there"
                );
            }
        }
    }
}

/// Whether one of the two paths is a prefix of the other (or both are the same).
fn overlaps(a: &[String], b: &[String]) -> bool {
    a.iter().zip(b).all(|(x, y)| x == y)
}

/// Commits the session and returns the flash messages the next request sees; that request
/// consumes them, so the memory driver holds nothing afterwards.
fn read_back(fx: &Fixture, session: &Session) -> FlashMessages {
    fx.block_on(async {
        session.commit().await.unwrap_or_else(|e| panic!("{e}"));
        let cookie = session
            .context()
            .response_cookie(COOKIE_NAME)
            .unwrap_or_else(|| panic!("the response carries the id cookie"));
        let header = format!("{COOKIE_NAME}={}", cookie.value());
        let next = fx.memory.start_request([header.as_str()]);
        let next = next.session().await.unwrap_or_else(|e| panic!("{e}"));
        let messages = next.flash_messages();
        next.commit().await.unwrap_or_else(|e| panic!("{e}"));
        messages
    })
}
