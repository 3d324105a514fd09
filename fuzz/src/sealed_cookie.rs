//! `sealed_cookie`: fuzzed plaintexts sealed with the fixture's key, so that the cookie driver's
//! decoder behind the AES-GCM tag and its chunk reassembly see fuzzed bytes in a whole request.
//!
//! Input: one flags byte, then the plaintext.
//!
//! | bits of the flags byte | meaning |
//! |---|---|
//! | 0–3 | the sealed value is split over `1 + n` data cookies, evenly |
//! | 4–5 | 0: the first cookie declares the right count; 1: one more; 2: one fewer; 3: the right count, but the last chunk is not sent (when there are several) |
//! | 6 | after the request, `put` a value, commit, and send the response's cookies back |
//! | 7 | send the chunk cookies in reverse order |
//!
//! The plaintext is sealed for the fixture's known session (under the current key, or under the
//! older one when the plaintext's length is odd) next to a genuine id cookie, so the driver gets
//! as far as decoding it. Checked: the session is served exactly when the chunks are well formed
//! and the plaintext decodes (as `session_cookie`'s own decoder says) to a record that has not
//! expired, and then with the record's values and flash messages; nothing ever fails; with bit
//! 6, the response's cookies bring the values back on the next request.

use serde_json::{Map, Value};
use session_cookie::fuzzing;
use session_core::{Session, FLASH_KEY};

use crate::fixture::{browser_header, signer_of, Fixture, COOKIE_NAME, CURRENT_KEY, OLD_KEY};

/// The longest data cookie value the driver accepts (what a browser keeps of one cookie).
const COOKIE_LIMIT: usize = 4096;
/// How many data cookies the default `max_size` allows.
const MAX_CHUNKS: usize = 10;
/// The default `max_size` for the cookie name `id`: ten cookies `id.d`, `id.d.1`, … less the
/// `10.` count prefix.
const MAX_SIZE: usize = 10 * 4096 - 4 - 9 * 6 - 3;

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some((&flags, plain)) = data.split_first() else {
        return;
    };
    let fx = Fixture::get();
    let parts = usize::from(flags & 0x0f) + 1;
    let (declared, drop_last) = match (flags >> 4) & 3 {
        0 => (parts, false),
        1 => (parts + 1, false),
        2 => (parts - 1, false),
        _ => (parts, parts > 1),
    };
    let old = plain.len() % 2 == 1;
    let (keys, secret) = if old {
        (&fx.sealing_keys[1..], OLD_KEY)
    } else {
        (&fx.sealing_keys[..1], CURRENT_KEY)
    };
    let sealed = fuzzing::seal(keys, COOKIE_NAME, &fx.key, plain)
        .unwrap_or_else(|e| panic!("sealing failed: {e}"));

    // The chunk cookies, as a browser would send them back.
    let size = sealed.len().div_ceil(parts);
    let mut chunks: Vec<(String, String)> = (0..parts)
        .map(|i| {
            let part = sealed.get(i * size..((i + 1) * size).min(sealed.len()));
            let part = part.unwrap_or_default();
            if i == 0 {
                (format!("{COOKIE_NAME}.d"), format!("{declared}.{part}"))
            } else {
                (format!("{COOKIE_NAME}.d.{i}"), part.to_owned())
            }
        })
        .collect();
    if drop_last {
        chunks.pop();
    }
    // The driver's checks: the count, every value within what one cookie holds, the total
    // within the configured maximum.
    let well_formed = declared == parts
        && !drop_last
        && parts <= MAX_CHUNKS
        && chunks.iter().all(|(_, value)| value.len() <= COOKIE_LIMIT)
        && sealed.len() <= MAX_SIZE;
    if flags & 0x80 != 0 {
        chunks.reverse();
    }
    let mut cookies = vec![(COOKIE_NAME.to_owned(), signer_of(secret).sign(&fx.id))];
    cookies.extend(chunks);
    let header = cookies
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("; ");

    let decoded = fuzzing::decode_plaintext(plain);
    let live = decoded
        .as_ref()
        .filter(|record| !record.is_expired_at(crate::fixture::NOW));
    let expected = live.filter(|_| well_formed);

    let session = match fx.block_on(fx.cookie.start_request([header.as_str()]).session()) {
        Ok(session) => session,
        Err(e) => panic!("a sealed value made initiate fail: {e}"),
    };
    assert_eq!(
        session.is_fresh(),
        expected.is_none(),
        "served exactly when the chunks are well formed and the record decodes and is live \
         (well formed: {well_formed}, decodes: {}, live: {})",
        decoded.is_some(),
        live.is_some()
    );
    let mut values = Map::new();
    if let Some(record) = expected {
        let mut data = record.data.clone();
        let flash = match data.shift_remove(FLASH_KEY) {
            Some(Value::Object(messages)) => messages,
            _ => Map::new(),
        };
        values = session.all();
        assert_eq!(Value::Object(values.clone()), Value::Object(data));
        let messages = session.flash_messages();
        assert_eq!(Value::Object(messages.all()), Value::Object(flash));
    }
    if flags & 0x40 != 0 {
        round_trip(fx, &session, &cookies, values);
    } else {
        fx.block_on(async {
            if let Err(e) = session.commit().await {
                assert_eq!(
                    e.kind(),
                    session_core::ErrorKind::TooLarge,
                    "only the size cap may refuse a commit: {e}"
                );
            }
        });
    }
}

/// Writes a value, commits, and reads the session back with the response's cookies.
fn round_trip(
    fx: &Fixture,
    session: &Session,
    request: &[(String, String)],
    mut values: Map<String, Value>,
) {
    if let Err(e) = session.put("fuzz", 1) {
        panic!("a put of one plain key failed on a writable session: {e}");
    }
    values.insert("fuzz".to_owned(), Value::from(1));
    let committed = fx.block_on(session.commit());
    if let Err(e) = committed {
        assert_eq!(
            e.kind(),
            session_core::ErrorKind::TooLarge,
            "only the size cap may refuse a commit: {e}"
        );
        return;
    }
    let header = browser_header(request, &session.context().response_cookies());
    let next = match fx.block_on(fx.cookie.start_request([header.as_str()]).session()) {
        Ok(next) => next,
        Err(e) => panic!("the response's own cookies made initiate fail: {e}"),
    };
    assert!(!next.is_fresh(), "the committed session comes back");
    assert_eq!(next.session_id(), session.session_id(), "under the same id");
    let back = next.all();
    assert_eq!(Value::Object(back), Value::Object(values));
}
