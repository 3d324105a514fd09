//! The session's tag: stored with the record, kept by regenerate, gone with logout, replayed by
//! concurrent commits, out of reach of the store API.

use std::sync::Arc;

use serde_json::json;
use session_core::{
    Driver, Error, MemoryDriver, SessionConfig, SessionManager, SessionStore, MAX_TAG_LEN, TAG_KEY,
};
use session_testkit::Browser;

use crate::common::SECRET;

fn manager() -> (SessionManager, Arc<dyn SessionStore>) {
    let manager = SessionManager::builder(SessionConfig::new().with_key(SECRET))
        .driver(MemoryDriver::new())
        .build()
        .expect("a manager");
    let Driver::Server(store) = manager.driver().clone() else {
        panic!("the memory driver is a server-side store");
    };
    (manager, store)
}

#[tokio::test]
async fn the_tag_is_stored_survives_regenerate_and_goes_with_logout() {
    let (manager, driver) = manager();
    let mut browser = Browser::new(manager);
    browser.request(|s| s.put("cart", 3)).await.unwrap();
    let before_login = browser.storage_key().await.unwrap();

    // Login: regenerate and tag in one request.
    browser
        .request(|s| {
            s.regenerate()?;
            s.tag("user-42")
        })
        .await
        .unwrap();
    let key = browser.storage_key().await.unwrap();
    assert_ne!(key, before_login);
    let record = driver.read(&key).await.unwrap().expect("the new record");
    assert_eq!(record.tag(), Some("user-42"));
    assert!(driver.read(&before_login).await.unwrap().is_none());
    let (tag, values) = browser
        .request(|s| Ok((s.current_tag(), s.all())))
        .await
        .unwrap();
    assert_eq!(tag.as_deref(), Some("user-42"));
    assert_eq!(serde_json::Value::Object(values), json!({ "cart": 3 }));

    // Logout.
    browser.request(|s| s.flush()).await.unwrap();
    assert!(driver.read(&key).await.unwrap().is_none());
    let tag = browser.request(|s| Ok(s.current_tag())).await.unwrap();
    assert_eq!(tag, None);
}

#[tokio::test]
async fn a_tagged_session_without_values_is_kept_and_untag_keeps_the_values() {
    let (manager, driver) = manager();
    let mut browser = Browser::new(manager);
    browser.request(|s| s.tag(7)).await.unwrap();
    let key = browser.storage_key().await.unwrap();
    assert_eq!(
        driver.read(&key).await.unwrap().expect("stored").tag(),
        Some("7")
    );

    browser
        .request(|s| {
            s.put("theme", "dark")?;
            s.untag()
        })
        .await
        .unwrap();
    let record = driver.read(&key).await.unwrap().expect("stored");
    assert_eq!(record.tag(), None);
    assert_eq!(record.data.get("theme"), Some(&json!("dark")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_set_beside_a_concurrent_change_keeps_both() {
    let (manager, store) = manager();
    let mut browser = Browser::new(manager);
    browser.request(|s| s.put("n", 0)).await.unwrap();
    let key = browser.storage_key().await.unwrap();

    // Two requests of the same browser open the session, then commit one after the other: the
    // second replays its change on the record the first wrote. Both orders, so that the tag is
    // once the change replayed.
    for (round, tag_first) in [(1, true), (2, false)] {
        let tagging = browser.begin().session().await.unwrap();
        let counting = browser.begin().session().await.unwrap();
        tagging.tag(format!("user-{round}")).unwrap();
        counting.increment("n").unwrap();
        if tag_first {
            tagging.commit().await.unwrap();
            counting.commit().await.unwrap();
        } else {
            counting.commit().await.unwrap();
            tagging.commit().await.unwrap();
        }
        let record = store.read(&key).await.unwrap().expect("stored");
        assert_eq!(record.tag(), Some(format!("user-{round}").as_str()));
        assert_eq!(record.data.get("n"), Some(&json!(round)));
    }
}

#[test]
fn the_store_api_cannot_reach_the_tag_and_bad_tags_are_refused() {
    let session = session_core::Session::for_tests();
    for result in [
        session.put(TAG_KEY, "forged").map(|_| ()),
        session.put("__tag__.x", 1).map(|_| ()),
        session.forget(TAG_KEY).map(|_| ()),
        session.get_value(TAG_KEY).map(|_| ()),
    ] {
        let err = result.expect_err("reserved");
        assert!(
            matches!(err, Error::ReservedKey { ref key } if key == TAG_KEY),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "\"__tag__\" is reserved for the session's tag; use tag() and untag() instead"
        );
    }
    assert!(!session.has(TAG_KEY));
    assert!(matches!(
        session.tag(""),
        Err(Error::InvalidTag { length: 0 })
    ));
    let long = "x".repeat(MAX_TAG_LEN + 1);
    assert!(matches!(session.tag(&long), Err(Error::InvalidTag { .. })));
    session
        .tag("x".repeat(MAX_TAG_LEN))
        .expect("the longest tag");
    // `all()` never shows it.
    assert!(session.all().is_empty());
}
