//! Chunking over numbered cookies, stale chunks, the size cap and destroy.

use serde_json::json;
use session_cookie::CookieDriverConfig;
use session_core::{
    cookie::SameSite, CookieOptions, DriverError, Error, ManualClock, SessionConfig, SessionId,
};
use session_testkit::Browser;

use crate::common::{
    data_cookies_set, header_from, manager, manager_with, read_back, record, text, write, IDLE,
    SECRET,
};

/// The number of data cookies a record holding a string of `len` characters needs.
async fn chunks_for(len: usize) -> usize {
    let clock = ManualClock::starting_now();
    let m = manager(&clock);
    let cx = m.context(std::iter::empty());
    let key = SessionId::generate().storage_key();
    write(&m, &cx, &key, &record(text(len), &clock))
        .unwrap_or_else(|e| panic!("write of {len}: {e}"));
    data_cookies_set(&cx).len()
}

/// The smallest string length that needs more than `count` cookies.
async fn boundary(count: usize) -> usize {
    let (mut lo, mut hi) = (0, 4096 * (count + 1));
    while lo < hi {
        let mid = (lo + hi) / 2;
        if chunks_for(mid).await > count {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

#[tokio::test]
async fn values_just_below_and_above_each_boundary_round_trip() {
    let clock = ManualClock::starting_now();
    let m = manager(&clock);
    for count in 1..=4 {
        let edge = boundary(count).await;
        for (len, want) in [(edge - 1, count), (edge, count + 1)] {
            let key = SessionId::generate().storage_key();
            let rec = record(text(len), &clock);
            let cx = m.context(std::iter::empty());
            write(&m, &cx, &key, &rec).unwrap_or_else(|e| panic!("{e}"));
            let cookies = cx.response_cookies();
            assert_eq!(data_cookies_set(&cx).len(), want, "length {len}");
            for c in &cookies {
                assert!(
                    c.name().len() + c.value().len() <= 4096,
                    "{} is {} bytes",
                    c.name(),
                    c.name().len() + c.value().len()
                );
            }
            if len == edge - 1 {
                // Just below the boundary every cookie is (nearly) full: base64 grows in steps of
                // one or two characters per plaintext byte.
                for c in &cookies {
                    assert!(c.name().len() + c.value().len() >= 4094, "{}", c.name());
                }
            }
            assert_eq!(read_back(&m, &key, &header_from(&cx)).await, Some(rec));
        }
    }
}

#[tokio::test]
async fn shrinking_the_session_clears_stale_chunks() {
    let clock = ManualClock::starting_now();
    let mut b = Browser::new(manager(&clock));
    b.request(|s| s.put("blob", "y".repeat(9_000)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = b.cookies().keys().map(String::as_str).collect();
    assert_eq!(names, ["id", "id.d", "id.d.1", "id.d.2"]);
    let s = b.begin();
    let s = s.session().await.unwrap_or_else(|e| panic!("{e}"));
    s.put("blob", "small").unwrap_or_else(|e| panic!("{e}"));
    b.finish(&s).await.unwrap_or_else(|e| panic!("{e}"));
    let mut removed: Vec<String> = s
        .context()
        .response_cookies()
        .iter()
        .filter(|c| c.value().is_empty())
        .map(|c| c.name().to_owned())
        .collect();
    removed.sort();
    assert_eq!(removed, ["id.d.1", "id.d.2"]);
    let names: Vec<&str> = b.cookies().keys().map(String::as_str).collect();
    assert_eq!(names, ["id", "id.d"]);
    let blob = b
        .request(|s| s.get("blob"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(blob, Some(json!("small")));
}

#[tokio::test]
async fn the_cap_gives_a_typed_error_and_sends_nothing() {
    let clock = ManualClock::starting_now();
    let m = manager_with(
        SessionConfig::new().with_age(IDLE).with_key(SECRET),
        &clock,
        CookieDriverConfig::new().with_max_size(2_000),
    );
    let mut b = Browser::new(m);
    b.request(|s| s.put("small", 1))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let before = b.cookies().clone();
    let s = b.begin();
    let s = s.session().await.unwrap_or_else(|e| panic!("{e}"));
    s.put("big", "z".repeat(2_000))
        .unwrap_or_else(|e| panic!("{e}"));
    match s.commit().await {
        Err(Error::Driver(DriverError::TooLarge {
            driver: "cookie",
            size,
            limit: 2_000,
        })) => assert!(size > 2_000, "{size}"),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(data_cookies_set(s.context()).is_empty());
    // The browser's session is untouched.
    assert_eq!(b.cookies(), &before);
    let small = b
        .request(|s| s.get("small"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(small, Some(json!(1)));
}

#[tokio::test]
async fn the_default_cap_is_ten_cookies() {
    let clock = ManualClock::starting_now();
    let m = manager(&clock);
    let key = SessionId::generate().storage_key();
    let cx = m.context(std::iter::empty());
    // About 30,000 sealed bytes: eight cookies.
    write(&m, &cx, &key, &record(text(22_000), &clock)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(data_cookies_set(&cx).len(), 8);
    let cx = m.context(std::iter::empty());
    let err = write(&m, &cx, &key, &record(text(31_000), &clock));
    assert!(
        matches!(err, Err(DriverError::TooLarge { limit, .. }) if limit == 10 * 4096 - 4 - 9 * 6 - 3),
        "{err:?}"
    );
    assert!(cx.response_cookies().is_empty());
}

#[tokio::test]
async fn destroy_clears_every_chunk_with_the_attributes_it_was_set_with() {
    let clock = ManualClock::starting_now();
    let attributes = CookieOptions::default()
        .with_path("/app")
        .with_domain("example.test")
        .with_same_site(SameSite::Strict);
    let m = manager_with(
        SessionConfig::new()
            .with_age(IDLE)
            .with_key(SECRET)
            .with_cookie(attributes),
        &clock,
        CookieDriverConfig::new(),
    );
    let mut b = Browser::new(m);
    let s = b.begin();
    let s = s.session().await.unwrap_or_else(|e| panic!("{e}"));
    s.put("blob", "q".repeat(9_000))
        .unwrap_or_else(|e| panic!("{e}"));
    b.finish(&s).await.unwrap_or_else(|e| panic!("{e}"));
    for c in s.context().response_cookies() {
        assert_eq!(c.path(), Some("/app"));
        assert_eq!(c.domain(), Some("example.test"));
        assert_eq!(c.same_site(), Some(SameSite::Strict));
        assert_eq!(c.secure(), Some(true));
        assert_eq!(c.http_only(), Some(true));
        let age = c.max_age().map(|a| a.whole_seconds());
        assert!(matches!(age, Some(599 | 600)), "{}: {age:?}", c.name());
    }
    assert_eq!(data_cookies_set(s.context()).len(), 3);

    let s = b.begin();
    let s = s.session().await.unwrap_or_else(|e| panic!("{e}"));
    s.clear().unwrap_or_else(|e| panic!("{e}"));
    b.finish(&s).await.unwrap_or_else(|e| panic!("{e}"));
    let mut removed: Vec<String> = Vec::new();
    for c in s.context().response_cookies() {
        if c.value().is_empty() {
            assert_eq!(c.path(), Some("/app"));
            assert_eq!(c.domain(), Some("example.test"));
            removed.push(c.name().to_owned());
        }
    }
    removed.sort();
    assert_eq!(removed, ["id.d", "id.d.1", "id.d.2"]);
    assert!(b.cookies().keys().all(|k| !k.starts_with("id.d")));
}

#[tokio::test]
async fn clear_with_browser_data_cookies_have_no_max_age() {
    let clock = ManualClock::starting_now();
    let m = manager_with(
        SessionConfig::new()
            .with_age(IDLE)
            .with_key(SECRET)
            .with_clear_with_browser(true),
        &clock,
        CookieDriverConfig::new(),
    );
    let mut b = Browser::new(m);
    let s = b.begin();
    let s = s.session().await.unwrap_or_else(|e| panic!("{e}"));
    s.put("n", 1).unwrap_or_else(|e| panic!("{e}"));
    b.finish(&s).await.unwrap_or_else(|e| panic!("{e}"));
    let data = s.context().response_cookie("id.d");
    assert!(data.is_some());
    assert_eq!(data.and_then(|c| c.max_age()), None);
    // The server-side expiry still applies.
    clock.advance(IDLE);
    let n = b
        .request(|s| s.get_value("n"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(n, None);
}

/// One way of damaging a browser's cookies.
type Tamper<'a> = Box<dyn Fn(&mut Browser) + 'a>;

#[tokio::test]
async fn malformed_chunk_sets_give_fresh_sessions() {
    let clock = ManualClock::starting_now();
    let mut b = Browser::new(manager(&clock));
    b.request(|s| s.put("blob", "w".repeat(9_000)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let good = b.clone();
    let first = good.cookies().get("id.d").cloned().unwrap_or_default();
    let rest = first
        .split_once('.')
        .map(|(_, r)| r.to_owned())
        .unwrap_or_default();
    let variants: Vec<Tamper<'_>> = vec![
        // A chunk is missing.
        Box::new(|b| {
            let kept: Vec<(String, String)> = b
                .cookies()
                .iter()
                .filter(|(k, _)| k.as_str() != "id.d.1")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            b.clear_cookies();
            for (k, v) in kept {
                b.set_cookie(&k, &v);
            }
        }),
        // The count claims fewer chunks than were sealed.
        Box::new(|b| b.set_cookie("id.d", &format!("2.{rest}"))),
        // The count claims more chunks than exist.
        Box::new(|b| b.set_cookie("id.d", &format!("4.{rest}"))),
        // Absurd chunk counts.
        Box::new(|b| b.set_cookie("id.d", &format!("99.{rest}"))),
        Box::new(|b| b.set_cookie("id.d", &format!("18446744073709551617.{rest}"))),
        Box::new(|b| b.set_cookie("id.d", &format!("-3.{rest}"))),
        // Chunks swapped.
        Box::new(|b| {
            let one = b.cookies().get("id.d.1").cloned().unwrap_or_default();
            let two = b.cookies().get("id.d.2").cloned().unwrap_or_default();
            b.set_cookie("id.d.1", &two);
            b.set_cookie("id.d.2", &one);
        }),
        // A million-byte chunk.
        Box::new(|b| b.set_cookie("id.d.1", &"A".repeat(1_000_000))),
        // No count at all.
        Box::new(|b| b.set_cookie("id.d", &rest)),
    ];
    for (i, tamper) in variants.iter().enumerate() {
        let mut t = good.clone();
        tamper(&mut t);
        let (fresh, blob) = t
            .request(|s| Ok((s.is_fresh(), s.get_value("blob")?)))
            .await
            .unwrap_or_else(|e| panic!("variant {i}: {e}"));
        assert!(fresh && blob.is_none(), "variant {i} opened a session");
    }
    // Extra, unrelated high-numbered chunks are ignored for reading and cleared on the next write.
    let mut t = good.clone();
    t.set_cookie("id.d.7", "junk");
    let blob = t
        .request(|s| {
            s.put("more", 1)?;
            s.get_value("blob")
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(blob.is_some());
    assert!(!t.cookies().contains_key("id.d.7"));
    drop(b);
}
