//! Tampering, replay and key rotation.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use proptest::prelude::*;
use serde_json::json;
use session_cookie::CookieDriverConfig;
use session_core::{ManualClock, SessionConfig, SessionId};
use session_testkit::Browser;

use crate::common::{
    data_cookies_set, manager, manager_with, read_back, record, sealed_header, IDLE, OTHER_SECRET,
    SECRET,
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Every single-bit change of the sealed bytes, and every truncation of the cookie value,
    /// reads as no session.
    #[test]
    fn flipping_any_bit_or_truncating_gives_no_session(value in "[ -~]{0,120}", n in any::<i64>()) {
        let rt = runtime();
        let clock = ManualClock::starting_now();
        let m = manager(&clock);
        let key = SessionId::generate().storage_key();
        let rec = record(json!({"text": value, "n": n}), &clock);
        let header = rt.block_on(sealed_header(&m, &key, &rec));
        prop_assert_eq!(rt.block_on(read_back(&m, &key, &header)), Some(rec));

        let sealed = header
            .strip_prefix("id.d=1.")
            .unwrap_or_else(|| panic!("one data cookie: {header}"));
        let raw = URL_SAFE_NO_PAD.decode(sealed).unwrap_or_else(|e| panic!("{e}"));
        for bit in 0..raw.len() * 8 {
            let mut flipped = raw.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            let forged = format!("id.d=1.{}", URL_SAFE_NO_PAD.encode(&flipped));
            prop_assert!(rt.block_on(read_back(&m, &key, &forged)).is_none(), "bit {} opened", bit);
        }
        let value = &header["id.d=".len()..];
        for len in 0..value.len() {
            let forged = format!("id.d={}", &value[..len]);
            prop_assert!(rt.block_on(read_back(&m, &key, &forged)).is_none(), "prefix {} opened", len);
        }
    }
}

#[tokio::test]
async fn data_cookies_swapped_between_sessions_do_not_open() {
    let clock = ManualClock::starting_now();
    let m = manager(&clock);
    let mut alice = Browser::new(m.clone());
    let mut bob = Browser::new(m);
    alice
        .request(|s| s.put("user", "alice"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    bob.request(|s| s.put("user", "bob"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Alice keeps her signed id but presents Bob's sealed data.
    let bobs_data = bob.cookies().get("id.d").cloned().unwrap_or_default();
    alice.set_cookie("id.d", &bobs_data);
    let (fresh, user) = alice
        .request(|s| Ok((s.is_fresh(), s.get_value("user")?)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(fresh);
    assert_eq!(user, None);
}

#[tokio::test]
async fn a_cookie_sealed_under_another_cookie_name_does_not_open() {
    let clock = ManualClock::starting_now();
    let config = SessionConfig::new().with_age(IDLE).with_key(SECRET);
    let sid = manager_with(
        config.clone().with_cookie_name("sid"),
        &clock,
        CookieDriverConfig::new(),
    );
    let id = manager(&clock);
    let key = SessionId::generate().storage_key();
    let rec = record(json!(1), &clock);
    let header = sealed_header(&sid, &key, &rec).await;
    assert!(header.starts_with("sid.d=1."), "{header}");
    // Same secret, same storage key, same value: only the cookie name differs.
    let renamed = header.replacen("sid.d=", "id.d=", 1);
    assert_eq!(read_back(&sid, &key, &header).await, Some(rec));
    assert_eq!(read_back(&id, &key, &renamed).await, None);
}

#[tokio::test]
async fn an_expired_cookie_replayed_later_is_rejected() {
    let clock = ManualClock::starting_now();
    let mut b = Browser::new(manager(&clock));
    b.request(|s| s.put("role", "admin"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let copy = b.clone();
    // The browser keeps the session alive by using it; the copy is never refreshed.
    for _ in 0..4 {
        clock.advance(IDLE * 6 / 10);
        let role = b
            .request(|s| s.get("role"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(role, Some(json!("admin")));
    }
    // The copy's sealed last-activity time is more than an idle age old: whatever the client
    // does with Max-Age, the server refuses it.
    let mut replay = copy;
    let (fresh, role) = replay
        .request(|s| Ok((s.is_fresh(), s.get_value("role")?)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(fresh);
    assert_eq!(role, None);
}

#[tokio::test]
async fn an_absolute_lifetime_is_enforced_on_replayed_cookies() {
    let clock = ManualClock::starting_now();
    let m = manager_with(
        SessionConfig::new()
            .with_age(IDLE)
            .with_absolute_age(IDLE * 2)
            .with_key(SECRET),
        &clock,
        CookieDriverConfig::new(),
    );
    let key = SessionId::generate().storage_key();
    let mut rec = record(json!(1), &clock);
    let header = sealed_header(&m, &key, &rec).await;
    assert!(read_back(&m, &key, &header).await.is_some());
    // Recently active, but created more than the absolute lifetime ago.
    clock.advance(IDLE * 2 + Duration::from_secs(1));
    rec.last_active = session_core::Clock::now_ms(&clock);
    let header = sealed_header(&m, &key, &rec).await;
    assert_eq!(read_back(&m, &key, &header).await, None);
}

#[tokio::test]
async fn an_old_key_cookie_opens_and_is_resealed_with_the_current_key() {
    let clock = ManualClock::starting_now();
    let config = SessionConfig::new().with_age(IDLE);
    let before = manager_with(
        config.clone().with_key(SECRET),
        &clock,
        CookieDriverConfig::new(),
    );
    let rotated = manager_with(
        config.clone().with_key(OTHER_SECRET).with_key(SECRET),
        &clock,
        CookieDriverConfig::new(),
    );
    let only_new = manager_with(
        config.with_key(OTHER_SECRET),
        &clock,
        CookieDriverConfig::new(),
    );

    for untouched in [false, true] {
        let mut b = Browser::new(before.clone());
        b.request(|s| s.put("cart", 3))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let old_data = b.cookies().get("id.d").cloned();

        let mut r = Browser::new(rotated.clone());
        for (k, v) in b.cookies() {
            r.set_cookie(k, v);
        }
        if untouched {
            // A request whose handler never uses the session re-seals too.
            r.untouched_request()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        } else {
            let cart = r
                .request(|s| s.get("cart"))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(cart, Some(json!(3)));
        }
        let new_data = r.cookies().get("id.d").cloned();
        assert_ne!(new_data, old_data, "the old-key cookie was not re-sealed");

        // The re-sealed data cookie opens with the new key alone (the id cookie too: the core
        // re-signs it).
        let key = r.storage_key().await.unwrap_or_else(|e| panic!("{e}"));
        let header = r.cookie_header();
        assert!(read_back(&only_new, &key, &header).await.is_some());
        let mut n = Browser::new(only_new.clone());
        for (k, v) in r.cookies() {
            n.set_cookie(k, v);
        }
        let cart = n
            .request(|s| s.get("cart"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cart, Some(json!(3)));
    }
}

#[tokio::test]
async fn a_current_key_cookie_is_not_resealed_by_an_early_touch() {
    let clock = ManualClock::starting_now();
    let m = manager(&clock);
    let mut b = Browser::new(m);
    b.request(|s| s.put("n", 1))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    clock.advance(IDLE / 10);
    let s = b.begin();
    let s = s.session().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.get("n").unwrap_or_else(|e| panic!("{e}")), Some(json!(1)));
    b.finish(&s).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(data_cookies_set(s.context()).is_empty());
}

#[tokio::test]
async fn a_cookie_sealed_under_an_unknown_key_does_not_open() {
    let clock = ManualClock::starting_now();
    let config = SessionConfig::new().with_age(IDLE);
    let stranger = manager_with(
        config.clone().with_key(OTHER_SECRET),
        &clock,
        CookieDriverConfig::new(),
    );
    let ours = manager(&clock);
    let key = SessionId::generate().storage_key();
    let rec = record(json!("x"), &clock);
    let header = sealed_header(&stranger, &key, &rec).await;
    assert_eq!(read_back(&stranger, &key, &header).await, Some(rec.clone()));
    assert_eq!(read_back(&ours, &key, &header).await, None);
    // Nor does a refresh re-seal (and so adopt) it.
    let cx = ours.context([header.as_str()]);
    let later = session_core::Record {
        last_active: rec.last_active + 1_000_000,
        expires_at: rec.expires_at + 1_000_000,
        ..rec.clone()
    };
    let changes = crate::common::store(&ours)
        .refresh(&cx, &key, &later)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(changes.is_empty(), "{changes:?}");
}
