//! `key_path`: `KeyPath::parse` on arbitrary UTF-8 (the paths of `get`/`put`, form field names).
//!
//! Checked, for a path that parses: it has segments and none is empty; it reads back as written;
//! a text with no `.`, `[` or `]` is one segment, itself; no segment holds a bracket and the
//! first holds no dot; and the same segments written again, as `first["second"]["third"]` and
//! (when no segment holds a dot) as `first.second.third`, parse to the same segments. A text that
//! does not parse is refused: with `LimitExceeded` past the default limits (a plain name only
//! when longer than a segment may be), with `InvalidPath` naming it as written (cut to 64
//! characters) when it is malformed.

use session_core::{Error, KeyPath, Limits};

/// Runs one input.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let plain = !text.is_empty() && !text.contains(['.', '[', ']']);
    let path = match KeyPath::parse(text) {
        Ok(path) => path,
        Err(e) => {
            let limits = Limits::default();
            match e {
                // A plain name is refused only when longer than a segment may be.
                Error::LimitExceeded { option, .. } => assert!(
                    option == "limits.max_key_segments"
                        || (option == "limits.max_segment_length"
                            && text.len() > limits.max_segment_length()),
                    "{option} for {text:?}"
                ),
                e => {
                    assert!(!plain, "a plain name always parses: {text:?}: {e}");
                    if let Error::InvalidPath { path } = e {
                        // Named as written, cut to its first 64 characters.
                        let shown: String = text.chars().take(64).collect();
                        let expected = if shown.len() < text.len() {
                            format!("{shown}…")
                        } else {
                            shown
                        };
                        assert_eq!(path, expected, "the error names the path as written");
                    }
                }
            }
            return;
        }
    };
    assert_eq!(path.as_str(), text);
    assert_eq!(path.to_string(), text);
    let segments = path.segments();
    assert!(!segments.is_empty());
    assert!(segments.iter().all(|s| !s.is_empty()), "{segments:?}");
    assert!(
        segments.iter().all(|s| !s.contains(['[', ']'])),
        "{segments:?}"
    );
    assert!(!segments[0].contains('.'), "{segments:?}");
    if plain {
        assert_eq!(segments, [text]);
    }

    let mut bracketed = segments[0].clone();
    for segment in &segments[1..] {
        bracketed.push_str("[\"");
        bracketed.push_str(segment);
        bracketed.push_str("\"]");
    }
    let again = KeyPath::parse(&bracketed)
        .unwrap_or_else(|e| panic!("{bracketed:?}, written from {text:?}, does not parse: {e}"));
    assert_eq!(again.segments(), segments, "{bracketed:?} from {text:?}");

    if segments.iter().all(|s| !s.contains('.')) {
        let dotted = segments.join(".");
        let again = KeyPath::parse(&dotted)
            .unwrap_or_else(|e| panic!("{dotted:?}, written from {text:?}, does not parse: {e}"));
        assert_eq!(again.segments(), segments, "{dotted:?} from {text:?}");
    }
}
