//! Regenerate, touch, configuration and concurrency behaviour specific to the cookie driver.

use std::time::Duration;

use serde_json::json;
use session_cookie::CookieDriverConfig;
use session_core::{DriverRegistry, ManualClock, Refresh, SessionConfig, SessionManager};
use session_testkit::Browser;

use crate::common::{data_cookies_set, manager, manager_with, IDLE, SECRET};

#[tokio::test]
async fn regenerate_moves_the_data_to_the_new_id_and_replaces_the_cookies() {
    let clock = ManualClock::starting_now();
    let mut b = Browser::new(manager(&clock));
    let old_id = b
        .request(|s| {
            s.put("cart", json!([1, 2]))?;
            Ok(s.session_id())
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let copy = b.clone();
    let s = b.begin();
    let s = s.session().await.unwrap_or_else(|e| panic!("{e}"));
    s.regenerate().unwrap_or_else(|e| panic!("{e}"));
    s.put("user", 1).unwrap_or_else(|e| panic!("{e}"));
    b.finish(&s).await.unwrap_or_else(|e| panic!("{e}"));
    // The destroy of the old key after the write under the new one must not remove the cookie
    // this response just set.
    assert_eq!(data_cookies_set(s.context()), ["id.d"]);
    assert_ne!(copy.cookies().get("id.d"), b.cookies().get("id.d"));

    let (id, all) = b
        .request(|s| Ok((s.session_id(), s.all())))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(id, old_id);
    assert_eq!(
        serde_json::Value::Object(all),
        json!({"cart": [1, 2], "user": 1})
    );

    // The documented limit: a copy of the old cookies opens the old session until its sealed
    // idle lifetime ends, then never again.
    let mut stolen = copy.clone();
    let cart = stolen
        .request(|s| s.get("cart"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cart, Some(json!([1, 2])));
    clock.advance(IDLE + Duration::from_secs(1));
    let mut stolen = copy;
    let (fresh, cart) = stolen
        .request(|s| Ok((s.is_fresh(), s.get_value("cart")?)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(fresh);
    assert_eq!(cart, None);
}

#[tokio::test]
async fn regenerating_an_emptied_session_removes_the_data_cookies() {
    let clock = ManualClock::starting_now();
    let mut b = Browser::new(manager(&clock));
    b.request(|s| s.put("n", 1))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    b.request(|s| {
        s.regenerate()?;
        s.clear()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(!b.cookies().contains_key("id.d"));
}

/// Whether one unmodified request re-sealed the data cookie.
async fn resealed(b: &mut Browser, untouched: bool) -> bool {
    let request = b.begin();
    if !untouched {
        let s = request.session().await.unwrap_or_else(|e| panic!("{e}"));
        s.get_value("n").unwrap_or_else(|e| panic!("{e}"));
    }
    request.commit().await.unwrap_or_else(|e| panic!("{e}"));
    b.absorb(request.context());
    !data_cookies_set(request.context()).is_empty()
}

#[tokio::test]
async fn touch_reseals_only_after_the_threshold() {
    for untouched in [false, true] {
        let clock = ManualClock::starting_now();
        let mut b = Browser::new(manager(&clock));
        b.request(|s| s.put("n", 1))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        clock.advance(IDLE * 15 / 100);
        assert!(
            !resealed(&mut b, untouched).await,
            "re-sealed before 20% of the idle age (the default `refresh`)"
        );
        clock.advance(IDLE * 10 / 100);
        assert!(
            resealed(&mut b, untouched).await,
            "not re-sealed after 20% of the idle age"
        );
        // Counting starts again from the re-seal.
        clock.advance(IDLE * 15 / 100);
        assert!(!resealed(&mut b, untouched).await);
        // The re-sealed session outlives the first seal's idle lifetime.
        clock.advance(IDLE * 80 / 100);
        let n = b
            .request(|s| s.get("n"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n, Some(json!(1)));
    }
}

#[tokio::test]
async fn refresh_always_reseals_on_every_touch() {
    let clock = ManualClock::starting_now();
    let mut b = Browser::new(manager_with(
        SessionConfig::new()
            .with_age(IDLE)
            .with_key(SECRET)
            .with_refresh(Refresh::Always),
        &clock,
        CookieDriverConfig::new(),
    ));
    b.request(|s| s.put("n", 1))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(resealed(&mut b, false).await);
    assert!(resealed(&mut b, true).await);
}

#[tokio::test]
async fn touch_never_revives_an_expired_cookie() {
    let clock = ManualClock::starting_now();
    let mut b = Browser::new(manager(&clock));
    b.request(|s| s.put("n", 1))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    clock.advance(IDLE + Duration::from_secs(1));
    assert!(!resealed(&mut b, true).await);
    let n = b
        .request(|s| s.get_value("n"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(n, None);
}

#[tokio::test]
async fn the_cookie_store_section_configures_the_driver() {
    let clock = ManualClock::starting_now();
    let config: SessionConfig = serde_json::from_value(json!({
        "driver": "cookie",
        "keys": [SECRET],
        "cookie_store": { "max_size": 1000 }
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    let mut registry = DriverRegistry::new();
    // The section replaces options given in code.
    session_cookie::register_with(
        &mut registry,
        CookieDriverConfig::new().with_max_size(30_000),
    );
    let m = SessionManager::builder(config)
        .with_registry(registry)
        .with_clock(std::sync::Arc::new(clock.clone()))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut b = Browser::new(m);
    let err = b.request(|s| s.put("v", "p".repeat(1_000))).await;
    assert!(err.is_err(), "{err:?}");
}

#[tokio::test]
async fn invalid_cookie_store_options_are_rejected_at_start_up() {
    let cases = [
        (json!({"max_size": 100}), "cookie_store.max_size"),
        (json!({"max_size": 10_000_000}), "cookie_store.max_size"),
        // An option of earlier builds: the session's `refresh` replaced it.
        (json!({"reseal_after_percent": 50}), "cookie_store"),
        (json!({"max_sise": 1000}), "cookie_store"),
        (json!("big"), "cookie_store"),
    ];
    for (section, option) in cases {
        let mut registry = DriverRegistry::new();
        session_cookie::register(&mut registry);
        let err = SessionManager::builder(
            SessionConfig::new()
                .with_driver("cookie")
                .with_key(SECRET)
                .with_section("cookie_store", section.clone()),
        )
        .with_registry(registry)
        .build()
        .err()
        .unwrap_or_else(|| panic!("{section} was accepted"));
        assert_eq!(err.option(), option, "{section}: {err}");
    }
}

#[tokio::test]
async fn concurrent_requests_keep_the_last_response() {
    // Documented behaviour: with client-side state the browser keeps whichever response came
    // last, so one of two concurrent changes is lost.
    let clock = ManualClock::starting_now();
    let mut b = Browser::new(manager(&clock));
    b.request(|s| s.put("n", 0))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let first = b.begin();
    let second = b.begin();
    let first = first.session().await.unwrap_or_else(|e| panic!("{e}"));
    let second = second.session().await.unwrap_or_else(|e| panic!("{e}"));
    first.put("a", 1).unwrap_or_else(|e| panic!("{e}"));
    second.put("b", 2).unwrap_or_else(|e| panic!("{e}"));
    b.finish(&first).await.unwrap_or_else(|e| panic!("{e}"));
    b.finish(&second).await.unwrap_or_else(|e| panic!("{e}"));
    let (a, bb) = b
        .request(|s| Ok((s.get_value("a")?, s.get("b")?)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((a, bb), (None, Some(json!(2))));
}
