//! Client input past the limits is a data error before anything is stored, and nothing on the
//! way recurses on its depth (semantics §1, limits).

use serde_json::{json, Map, Value};
use session_core::{Error, ErrorKind, Limits, SessionConfig, SessionManager};
use session_testkit::Browser;

use crate::common::{memory, SECRET};

fn nested(levels: usize) -> Value {
    let mut value = json!(1);
    for _ in 0..levels {
        value = json!({ "x": value });
    }
    value
}

fn option_of(err: &Error) -> &'static str {
    match err {
        Error::LimitExceeded { option, .. } => option,
        other => panic!("expected a limit error, got {other:?}"),
    }
}

#[tokio::test]
async fn paths_past_the_limits_are_data_errors_and_store_nothing() {
    let mut b = memory();
    b.request(|s| s.put("keep", "me")).await.expect("put");
    let ten_thousand = vec!["a"; 10_000].join(".");
    let long_segment = "s".repeat(257);
    b.request(|s| {
        for path in [
            ten_thousand.as_str(),
            &vec!["a"; 33].join("."),
            &format!("a{}", "[b]".repeat(32)),
            long_segment.as_str(),
            &format!("user.{long_segment}"),
        ] {
            let err = s.put(path, 1).expect_err(path);
            assert_eq!(err.kind(), ErrorKind::Data);
            assert!(option_of(&err).starts_with("limits."));
            // The message shows at most 64 characters of the path.
            assert!(err.to_string().chars().count() < 160, "{err}");
            let err = s.get_value(path).expect_err("reads are bounded too");
            assert_eq!(err.kind(), ErrorKind::Data);
            assert!(s.increment(path).is_err());
            assert!(s.flash(path, 1).is_err());
        }
        // At the limits exactly: accepted.
        s.put(&vec!["d"; 32].join("."), 1)?;
        s.put(&"s".repeat(256), 1)?;
        Ok(())
    })
    .await
    .expect("request");
    let all = b.request(|s| Ok(s.all())).await.expect("read");
    assert_eq!(all["keep"], "me");
    assert!(!all.contains_key("a"));
}

#[tokio::test]
async fn seven_writes_of_a_thousand_segments_each_cannot_build_a_deep_value() {
    let mut b = memory();
    let mut path = String::from("a");
    for round in 0..7 {
        path.push_str(&".a".repeat(1_000));
        let err = b
            .request(|s| s.put(&path, round))
            .await
            .expect_err("past the limit");
        assert_eq!(option_of(&err), "limits.max_key_segments");
    }
    // Writing at the deepest allowed path and then one level deeper is refused too.
    let deepest = vec!["a"; 32].join(".");
    b.request(|s| s.put(&deepest, json!({})))
        .await
        .expect_err("an object at depth 32 is 33 levels");
    b.request(|s| s.put(&deepest, 1))
        .await
        .expect("a scalar at depth 32");
    let err = b
        .request(|s| s.put(&format!("{deepest}.b"), 1))
        .await
        .expect_err("33 segments");
    assert_eq!(option_of(&err), "limits.max_key_segments");
}

#[tokio::test]
async fn values_are_bounded_by_their_depth_in_the_store() {
    let mut b = memory();
    b.request(|s| {
        s.put("v", nested(31))?;
        let err = s.put("v", nested(32)).expect_err("33 levels");
        assert_eq!(option_of(&err), "limits.max_depth");
        let err = s.put("a.b", nested(31)).expect_err("the path counts");
        assert_eq!(option_of(&err), "limits.max_depth");
        // A deep branch beside shallow ones.
        let err = s
            .put("list", json!([1, "two", {"three": nested(40)}]))
            .expect_err("one deep branch");
        assert_eq!(option_of(&err), "limits.max_depth");
        let err = s.flash("m", nested(40)).expect_err("flash");
        assert_eq!(option_of(&err), "limits.max_depth");
        let err = s
            .flash_object(json!({"m": nested(40)}))
            .expect_err("flash_object");
        assert_eq!(option_of(&err), "limits.max_depth");
        let err = s
            .flash_errors(json!({"f": nested(31)}))
            .expect_err("under errors");
        assert_eq!(option_of(&err), "limits.max_depth");
        Ok(())
    })
    .await
    .expect("request");
    let all = b.request(|s| Ok(s.all())).await.expect("read");
    assert_eq!(all["v"], nested(31), "the accepted value reads back");
    assert!(!all.contains_key("list"));
}

#[tokio::test]
async fn flashed_form_keys_are_nested_within_the_limits() {
    let mut b = memory();
    let deep_key = format!("a{}", "[b]".repeat(5_000));
    let err = b
        .request(|s| {
            let mut input = Map::new();
            input.insert(deep_key.clone(), json!("x"));
            input.insert("title".into(), json!("kept?"));
            s.flash_all(&input)
        })
        .await
        .expect_err("a 5,000-level form key");
    assert_eq!(err.kind(), ErrorKind::Data);
    assert_eq!(option_of(&err), "limits.max_key_segments");
    let err = b
        .request(|s| s.flash_except(json!({ "t": nested(40) }), &["password"]))
        .await
        .expect_err("a deep input value");
    assert_eq!(option_of(&err), "limits.max_depth");
    // Within the limits, form keys are nested as before.
    b.request(|s| s.flash_all(json!({ "user[address][city]": "Paris", "plain": 1 })))
        .await
        .expect("flash input");
    let messages = b
        .request(|s| Ok(s.flash_messages().all().clone()))
        .await
        .expect("read");
    assert_eq!(
        Value::Object(messages),
        json!({ "user": { "address": { "city": "Paris" } }, "plain": 1 })
    );
}

#[tokio::test]
async fn configured_limits_apply_and_bad_ones_fail_at_start_up() {
    let config = SessionConfig::new().with_driver("memory").with_key(SECRET);
    let tight = Limits::default()
        .with_max_depth(4)
        .with_max_key_segments(3)
        .with_max_segment_length(5);
    let manager = SessionManager::builder(config.clone().with_limits(tight))
        .build()
        .expect("valid limits");
    let mut b = Browser::new(manager);
    b.request(|s| {
        s.put("a.b.c", json!([1]))?;
        assert_eq!(
            option_of(&s.put("a.b.c.d", 1).unwrap_err()),
            "limits.max_key_segments"
        );
        assert_eq!(
            option_of(&s.put("abcdef", 1).unwrap_err()),
            "limits.max_segment_length"
        );
        assert_eq!(
            option_of(&s.put("a.b.c", json!([[1]])).unwrap_err()),
            "limits.max_depth"
        );
        Ok(())
    })
    .await
    .expect("request");
    for (limits, option) in [
        (Limits::default().with_max_depth(101), "limits.max_depth"),
        (
            Limits::default().with_max_key_segments(0),
            "limits.max_key_segments",
        ),
        (
            Limits::default().with_max_segment_length(0),
            "limits.max_segment_length",
        ),
    ] {
        let err = SessionManager::builder(config.clone().with_limits(limits))
            .build()
            .expect_err(option);
        assert_eq!(err.option(), option);
    }
    let from_env = SessionConfig::from_vars([
        ("SESSION_MAX_DEPTH".to_owned(), "12".to_owned()),
        ("SESSION_MAX_KEY_SEGMENTS".to_owned(), "6".to_owned()),
        ("SESSION_MAX_SEGMENT_LENGTH".to_owned(), "40".to_owned()),
    ])
    .expect("variables");
    assert_eq!(
        *from_env.limits(),
        Limits::default()
            .with_max_depth(12)
            .with_max_key_segments(6)
            .with_max_segment_length(40)
    );
    let err = SessionConfig::from_vars([("SESSION_MAX_DEPTH".to_owned(), "deep".to_owned())])
        .expect_err("not a number");
    assert_eq!(err.option(), "limits.max_depth");
}

#[test]
fn a_hostile_path_is_parsed_and_refused_on_a_small_stack() {
    // A thread with a 64 KiB stack: nothing on the way may recurse on the path's length.
    let handle = std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(|| {
            let path = format!("a{}", "[b]".repeat(100_000));
            let err = session_core::KeyPath::parse(&path).expect_err("too many segments");
            assert!(matches!(err, Error::LimitExceeded { .. }));
            let dotted = vec!["a"; 100_000].join(".");
            assert!(session_core::KeyPath::parse(&dotted).is_err());
        })
        .expect("spawn");
    handle.join().expect("no stack overflow");
}
