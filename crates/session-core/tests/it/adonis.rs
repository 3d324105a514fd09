//! The AdonisJS behaviours of semantics.md, one named test each.

use serde_json::json;
use session_core::{Error, ErrorKind, SessionConfig, SessionManager};
use session_testkit::Browser;

use crate::common::{memory, recording, Call, SECRET};

#[tokio::test]
async fn get_returns_none_for_missing_and_null_and_get_or_gives_the_default() {
    let mut b = memory();
    b.request(|s| {
        s.put("nothing", serde_json::Value::Null)?;
        assert_eq!(s.get_value("nothing")?, None);
        assert_eq!(s.get_value("missing")?, None);
        assert_eq!(s.get_or("nothing", 0)?, 0);
        assert_eq!(s.get_or("cart_total", 10)?, 10);
        Ok(())
    })
    .await
    .expect("request");
}

#[tokio::test]
async fn dot_and_form_paths_address_the_same_nested_value() {
    let mut b = memory();
    b.request(|s| {
        s.put("user[name]", "ada")?;
        s.put("user.email", "ada@example.com")?;
        assert_eq!(
            s.get("user")?,
            Some(json!({"name": "ada", "email": "ada@example.com"}))
        );
        assert_eq!(s.get("user.name")?, Some(json!("ada")));
        Ok(())
    })
    .await
    .expect("request");
}

#[tokio::test]
async fn writing_through_a_non_object_is_an_error_and_reading_through_one_is_missing() {
    let mut b = memory();
    b.request(|s| {
        s.put("name", "ada")?;
        s.put("items", json!([{"t": 1}]))?;
        let err = s.put("name.first", "x").expect_err("through a string");
        assert!(matches!(err, Error::PathConflict { .. }));
        assert_eq!(err.kind(), ErrorKind::Data);
        // An array is written through at an index it holds, as it is read.
        s.put("items.0.t", 2)?;
        assert!(matches!(
            s.put("items.1.t", 2),
            Err(Error::PathConflict { .. })
        ));
        assert_eq!(s.get_value("name.first")?, None);
        assert_eq!(s.get("items.0.t")?, Some(json!(2)));
        assert_eq!(s.get("name")?, Some(json!("ada")), "nothing was replaced");
        Ok(())
    })
    .await
    .expect("request");
}

#[tokio::test]
async fn all_is_a_snapshot_that_cannot_bypass_change_tracking() {
    let (mut b, driver, _) = recording(true);
    b.request(|s| s.put("a", 1)).await.expect("seed");
    let key = b.storage_key().await.expect("key");
    driver.take();
    b.request(|s| {
        let mut all = s.all();
        all.insert("b".into(), json!(2));
        assert_eq!(s.get_value("b")?, None);
        Ok(())
    })
    .await
    .expect("request");
    assert_eq!(driver.take(), vec![Call::Read(key)]);
}

#[tokio::test]
async fn has_counts_falsy_values_as_present_unlike_adonisjs() {
    let mut b = memory();
    b.request(|s| {
        s.put("zero", 0)?;
        s.put("empty", "")?;
        s.put("no", false)?;
        s.put("nil", serde_json::Value::Null)?;
        assert!(s.has("zero") && s.has("empty") && s.has("no"));
        assert!(!s.has("nil") && !s.has("missing"));
        Ok(())
    })
    .await
    .expect("request");
}

#[tokio::test]
async fn forget_keeps_the_emptied_parent_and_forgetting_a_missing_key_changes_nothing() {
    let (mut b, driver, _) = recording(true);
    b.request(|s| s.put("user.name", "ada"))
        .await
        .expect("seed");
    b.request(|s| s.forget("user.name")).await.expect("forget");
    assert_eq!(
        b.request(|s| s.get("user")).await.expect("get"),
        Some(json!({}))
    );
    let key = b.storage_key().await.expect("key");
    driver.take();
    b.request(|s| s.forget("not.there"))
        .await
        .expect("forget missing");
    assert_eq!(driver.take(), vec![Call::Read(key)]);
}

#[tokio::test]
async fn pull_reads_then_forgets() {
    let mut b = memory();
    b.request(|s| s.put("notice", "saved")).await.expect("seed");
    let pulled = b.request(|s| s.pull("notice")).await.expect("pull");
    assert_eq!(pulled, Some(json!("saved")));
    assert_eq!(
        b.request(|s| s.get_value("notice")).await.expect("get"),
        None
    );
}

#[tokio::test]
async fn increment_and_decrement_start_at_zero_keep_integers_and_reject_non_numbers() {
    let mut b = memory();
    b.request(|s| {
        assert_eq!(s.increment("views")?, json!(1));
        assert_eq!(s.increment_by("views", 9)?, json!(10));
        assert_eq!(s.decrement("score")?, json!(-1));
        assert_eq!(s.decrement_by("score", 4)?, json!(-5));
        s.put("nil", serde_json::Value::Null)?;
        assert_eq!(s.increment("nil")?, json!(1));
        s.put("price", 1.5)?;
        assert_eq!(s.increment("price")?, json!(2.5));
        s.put("text", "7")?;
        let err = s.increment("text").expect_err("numeric string");
        assert_eq!(
            err.to_string(),
            "Cannot increment \"text\". Existing value is not a number"
        );
        let err = s.decrement("text").expect_err("numeric string");
        assert_eq!(
            err.to_string(),
            "Cannot decrement \"text\". Existing value is not a number"
        );
        Ok(())
    })
    .await
    .expect("request");
    let views = b.request(|s| s.get_value("views")).await.expect("views");
    assert!(
        views.as_ref().is_some_and(|v| v.is_i64()),
        "stays an integer: {views:?}"
    );
}

#[tokio::test]
async fn clear_empties_the_store() {
    let mut b = memory();
    b.request(|s| s.put("a", json!({"b": 1})))
        .await
        .expect("seed");
    b.request(|s| s.clear()).await.expect("clear");
    assert!(b.request(|s| Ok(s.all())).await.expect("all").is_empty());
}

#[tokio::test]
async fn the_flash_key_is_reserved() {
    let mut b = memory();
    b.request(|s| {
        for err in [
            s.put("__flash__", 1).expect_err("put"),
            s.get_value("__flash__.x").expect_err("get"),
            s.forget("__flash__").expect_err("forget"),
            s.increment("__flash__").expect_err("increment"),
        ] {
            assert!(matches!(err, Error::ReservedKey { .. }), "{err}");
        }
        Ok(())
    })
    .await
    .expect("request");
}

#[tokio::test]
async fn a_change_after_the_commit_is_refused_not_dropped() {
    let mut b = memory();
    let s = b.begin().session().await.expect("open");
    s.put("kept", 1).expect("put");
    b.finish(&s).await.expect("commit");
    let refused = [
        s.put("late", 2).expect_err("put"),
        s.forget("kept").expect_err("forget"),
        s.increment("kept").expect_err("increment"),
        s.clear().expect_err("clear"),
        s.flash("m", 1).expect_err("flash"),
        s.regenerate().expect_err("regenerate"),
        s.flush().expect_err("flush"),
    ];
    for err in refused {
        assert!(matches!(err, Error::Committed), "{err}");
        assert_eq!(err.kind(), ErrorKind::Usage);
        assert_eq!(
            err.to_string(),
            "The session was already committed for this response; a change made now would not be stored"
        );
    }
    // Reads still work, and the next request sees what was committed, nothing else.
    assert_eq!(s.get::<u8>("kept").expect("get"), Some(1));
    let all = b.request(|s| Ok(s.all())).await.expect("next");
    assert_eq!(serde_json::Value::Object(all), json!({"kept": 1}));
}

#[tokio::test]
async fn a_request_opened_readonly_gives_no_writable_session() {
    let mut b = memory();
    b.request(|s| s.put("n", 1)).await.expect("seed");
    let request = b.begin();
    let reader = request.reader().await.expect("readonly");
    assert_eq!(reader.get("n").expect("reads work"), Some(json!(1)));
    let err = request.session().await.expect_err("already readonly");
    assert!(matches!(err, Error::Readonly));
    assert_eq!(
        err.to_string(),
        "The session was opened read-only in this request; a read-write session is not available"
    );
    assert!(request.opened().is_none());
    request.commit().await.expect("commit");
    assert!(request.context().response_cookies().is_empty());
}

#[tokio::test]
async fn initiate_twice_is_a_no_op_and_the_id_is_stable_within_a_request() {
    let (b, driver, _) = recording(true);
    let request = b.begin();
    let s = request.session().await.expect("first");
    let id = s.session_id();
    s.put("x", 1).expect("put");
    let reader = request.reader().await.expect("second");
    assert!(request.opened().is_some(), "still read-write");
    assert_eq!(reader.session_id(), id);
    assert_eq!(reader.get::<u8>("x").expect("get"), Some(1));
    assert_eq!(s.session_id(), id);
    assert_eq!(s.get("x").expect("get"), Some(json!(1)));
    assert!(driver.take().is_empty(), "no cookie: nothing to read");
}

#[tokio::test]
async fn fresh_is_true_for_new_and_regenerated_sessions_only() {
    let mut b = memory();
    assert!(b
        .request(|s| {
            s.put("a", 1)?;
            Ok(s.is_fresh())
        })
        .await
        .expect("first"));
    assert!(!b.request(|s| Ok(s.is_fresh())).await.expect("second"));
    assert!(b
        .request(|s| {
            s.regenerate()?;
            Ok(s.is_fresh() && s.is_regenerated())
        })
        .await
        .expect("regenerated"));
    assert!(!b.request(|s| Ok(s.is_fresh())).await.expect("after"));
}

#[tokio::test]
async fn the_id_cookie_has_secure_attributes_and_a_refreshed_max_age() {
    let mut b = memory();
    let s = b.begin().session().await.expect("initiate");
    s.commit().await.expect("commit");
    let cookies = s.context().response_cookies();
    assert_eq!(cookies.len(), 1);
    let c = &cookies[0];
    assert_eq!(c.name(), "id");
    assert_eq!(c.http_only(), Some(true));
    assert_eq!(c.secure(), Some(true));
    assert_eq!(c.same_site(), Some(session_core::cookie::SameSite::Lax));
    assert_eq!(c.path(), Some("/"));
    assert_eq!(
        c.max_age(),
        Some(session_core::cookie::time::Duration::hours(2))
    );
    b.absorb(s.context());
}

#[tokio::test]
async fn clear_with_browser_sends_a_cookie_without_max_age() {
    let manager = SessionManager::builder(
        SessionConfig::new()
            .with_driver("memory")
            .with_key(SECRET)
            .with_clear_with_browser(true),
    )
    .build()
    .expect("valid");
    let s = manager.start_request(std::iter::empty());
    s.commit().await.expect("commit");
    let c = &s.context().response_cookies()[0];
    assert_eq!(c.max_age(), None);
    assert_eq!(c.expires(), None);
}

#[tokio::test]
async fn a_value_of_the_wrong_shape_is_an_error_naming_the_path() {
    let mut b = memory();
    b.request(|s| {
        s.put("user.age", "old")?;
        let err = s.get::<u32>("user.age").expect_err("wrong shape");
        assert!(err.to_string().contains("\"user.age\""), "{err}");
        assert_eq!(err.kind(), ErrorKind::Data);
        Ok(())
    })
    .await
    .expect("request");
}

#[tokio::test]
async fn rotating_keys_keeps_sessions_and_re_signs_the_cookie() {
    let old_key = "the old secret key, at least 32 bytes";
    let new_key = "the new secret key, at least 32 bytes";
    let driver_manager = |keys: &[&str]| {
        let mut config = SessionConfig::new();
        for k in keys {
            config = config.with_key(*k);
        }
        config
    };
    let shared = std::sync::Arc::new(session_core::MemoryDriver::new());
    let build = |keys: &[&str]| {
        SessionManager::builder(driver_manager(keys))
            .driver(shared.clone())
            .build()
            .expect("valid")
    };
    let mut before = Browser::new(build(&[old_key]));
    before.request(|s| s.put("user", 7)).await.expect("login");
    let signed_with_old = before.cookies()["id"].clone();

    let mut after = Browser::new(build(&[new_key, old_key]));
    after.set_cookie("id", &signed_with_old);
    let user = after
        .request(|s| s.get("user"))
        .await
        .expect("after rotation");
    assert_eq!(user, Some(json!(7)));
    assert_ne!(
        after.cookies()["id"],
        signed_with_old,
        "re-signed with the new key"
    );

    let mut retired = Browser::new(build(&[new_key]));
    retired.set_cookie("id", &signed_with_old);
    assert_eq!(
        retired
            .request(|s| s.get_value("user"))
            .await
            .expect("retired"),
        None
    );
    retired.set_cookie("id", &after.cookies()["id"]);
    assert_eq!(
        retired.request(|s| s.get("user")).await.expect("new"),
        Some(json!(7))
    );
}

#[tokio::test]
async fn a_cookie_altered_after_its_value_was_verified_is_still_refused() {
    // The manager remembers the id cookie values it verified; a value that differs from a
    // remembered one in any place must still be verified, and fail.
    let (mut browser, driver, _clock) = recording(false);
    browser.request(|s| s.put("user", 7)).await.expect("login");
    let genuine = browser.cookies()["id"].clone();
    assert_eq!(
        browser.request(|s| s.get("user")).await.expect("again"),
        Some(json!(7))
    );
    driver.take();
    let (id, tag) = genuine.split_once('.').expect("signed value");
    let flip = |s: &str, at: usize| {
        let mut b = s.as_bytes().to_vec();
        b[at] = if b[at] == b'A' { b'B' } else { b'A' };
        String::from_utf8(b).expect("ascii")
    };
    for altered in [
        format!("{id}.{}", flip(tag, tag.len() - 1)),
        format!("{id}.{}", flip(tag, 0)),
        format!("{}.{tag}", flip(id, 0)),
    ] {
        browser.set_cookie("id", &altered);
        let user = browser
            .request(|s| s.get_value("user"))
            .await
            .expect("altered");
        assert_eq!(user, None, "{altered} opened the session");
        // Refused before any driver call: a fresh session, nothing read or written.
        assert!(driver.take().is_empty());
        assert_ne!(browser.cookies()["id"], genuine);
    }
    browser.set_cookie("id", &genuine);
    assert_eq!(
        browser.request(|s| s.get("user")).await.expect("genuine"),
        Some(json!(7))
    );
}

#[test]
fn misconfiguration_fails_at_start_up_naming_the_option() {
    let err = SessionManager::builder(SessionConfig::new().with_driver("mongo").with_key(SECRET))
        .build()
        .expect_err("unknown driver");
    assert_eq!(err.option(), "driver");
    assert!(err.to_string().contains("known drivers: memory"), "{err}");

    let err = SessionManager::builder(SessionConfig::new().with_key(SECRET))
        .build()
        .expect_err("no driver");
    assert_eq!(err.option(), "driver");

    let config: SessionConfig =
        serde_json::from_value(json!({"driver": "memory", "keys": [SECRET], "agee": "2h"}))
            .expect("deserializes");
    let err = SessionManager::builder(config).build().expect_err("typo");
    assert_eq!(err.option(), "agee");

    let err = SessionManager::builder(
        SessionConfig::new()
            .with_driver("memory")
            .with_key(SECRET)
            .with_age("2 fortnights"),
    )
    .build()
    .expect_err("bad age");
    assert_eq!(
        err.to_string(),
        "invalid session option `age`: Invalid duration expression \"2 fortnights\""
    );
}
