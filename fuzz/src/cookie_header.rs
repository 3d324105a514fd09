//! `cookie_header`: arbitrary bytes as the request's `Cookie` header values, through a whole
//! request with the memory driver and with the cookie driver.
//!
//! The input is split on `\n` into header values, each given as raw bytes to
//! `SessionManager::start_request_bytes` (and, when they are all UTF-8, as text to
//! `start_request`). That reaches the header splitting, the id cookie's verification (signed
//! ids, key rotation, the table of verified values) and, on the cookie driver, the chunk
//! reassembly and the opening of sealed data cookies. The seeds carry genuine values signed and
//! sealed with the fixture's keys for its one known session, so mutations start past the MACs.
//!
//! Checked:
//! - the request cookies kept are exactly those a byte-wise reading of the headers gives: pairs
//!   split on `;`, name and value split at the first `=` and trimmed, pairs whose name or value
//!   is not UTF-8 skipped, names outside the session's prefix skipped, first occurrence winning;
//! - `initiate` and `commit` never fail on client input;
//! - a session that is not fresh is the known one, with its values: a client cannot forge
//!   another; with the memory driver it is not fresh exactly when the id cookie verifies;
//! - the response's id cookie verifies, for the session's id.

use serde_json::Value;
use session_core::{RequestSession, Session, SessionManager};

use crate::fixture::{known_data, Fixture, COOKIE_NAME};

/// The longest input run: a `Cookie` header longer than this is refused by every HTTP server
/// before it reaches the session.
const MAX_INPUT: usize = 64 * 1024;

/// Runs one input.
pub fn run(data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    let fx = Fixture::get();
    let headers: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let expected = expected_cookies(&headers, COOKIE_NAME);
    let texts: Option<Vec<&str>> = headers
        .iter()
        .map(|h| std::str::from_utf8(h).ok())
        .collect();
    let id_verifies = expected
        .iter()
        .find(|(name, _)| name == COOKIE_NAME)
        .and_then(|(_, value)| fx.signer.verify(value));
    if let Some(id) = &id_verifies {
        assert_eq!(id, &fx.id, "only the known id can carry a valid MAC");
    }

    for (manager, memory) in [(&fx.memory, true), (&fx.cookie, false)] {
        if let Some(texts) = &texts {
            let session = manager.start_request(texts.iter().copied());
            assert_eq!(request_cookies(&session), expected, "start_request");
        }
        let request_session = manager.start_request_bytes(headers.iter().copied());
        assert_eq!(
            request_cookies(&request_session),
            expected,
            "start_request_bytes"
        );
        let session = fx.block_on(request(fx, manager, &request_session));
        if memory {
            assert_eq!(
                session.is_fresh(),
                id_verifies.is_none(),
                "the memory driver holds the known session: it is served exactly when the id \
                 cookie verifies"
            );
        } else if !session.is_fresh() {
            assert!(
                id_verifies.is_some(),
                "a session needs a verified id cookie"
            );
        }
    }
}

/// One request: initiate, check what was served, commit, check the id cookie sent back.
async fn request(fx: &Fixture, manager: &SessionManager, request: &RequestSession) -> Session {
    let session = match request.session().await {
        Ok(session) => session,
        Err(e) => panic!("client input made initiate fail: {e}"),
    };
    let id = session.session_id();
    if !session.is_fresh() {
        assert_eq!(id, fx.id, "a session that is not fresh is the known one");
        assert_eq!(Value::Object(session.all()), Value::Object(known_data()));
    }
    if let Err(e) = session.commit().await {
        panic!("client input made commit fail: {e}");
    }
    let cookie = session
        .context()
        .response_cookie(COOKIE_NAME)
        .unwrap_or_else(|| panic!("every committed response carries the id cookie"));
    let signed = manager.keys().id_signer(COOKIE_NAME).verify(cookie.value());
    assert_eq!(signed, Some(id), "the id cookie sent back verifies");
    session
}

/// The session's request cookies, in the order they were kept.
fn request_cookies(session: &RequestSession) -> Vec<(String, String)> {
    let cx = session.context();
    cx.request_cookie_names()
        .map(|name| {
            let value = cx.request_cookie(name).unwrap_or_default();
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

/// The session's cookies as the documentation describes reading them from raw header bytes.
fn expected_cookies(headers: &[&[u8]], prefix: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for header in headers {
        for pair in header.split(|&b| b == b';') {
            let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                continue;
            };
            let (Ok(name), Ok(value)) = (
                std::str::from_utf8(&pair[..eq]),
                std::str::from_utf8(&pair[eq + 1..]),
            ) else {
                continue;
            };
            let name = name.trim();
            if name.is_empty() || !name.starts_with(prefix) || out.iter().any(|(n, _)| n == name) {
                continue;
            }
            out.push((name.to_owned(), value.trim().to_owned()));
        }
    }
    out
}
