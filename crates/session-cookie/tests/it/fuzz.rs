//! Arbitrary cookie headers never panic and never open a session they should not.

use proptest::prelude::*;
use session_core::ManualClock;
use session_testkit::Browser;

use crate::common::manager;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

/// Names that reach the driver, plus a few that look close.
fn cookie_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("id.d".to_owned()),
        Just("id.d.1".to_owned()),
        Just("id.d.2".to_owned()),
        Just("id.d.39".to_owned()),
        Just("id.d.0".to_owned()),
        Just("id.d.999".to_owned()),
        "id\\.d[.0-9a-z]{0,6}",
        "[a-z.]{1,8}",
    ]
}

/// Values: printable garbage, base64url-looking text with or without a count, and huge ones.
fn cookie_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[!#-+\\--:<-\\[\\]-~]{0,300}",
        "[0-9]{1,3}\\.[A-Za-z0-9_-]{0,600}",
        "[A-Za-z0-9_-]{0,600}",
        (1usize..200_000).prop_map(|n| format!("1.{}", "A".repeat(n))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Random data cookies next to a valid, signed id cookie (so the driver does read them)
    /// give a fresh session and never panic.
    #[test]
    fn random_data_cookies_next_to_a_valid_id_give_fresh_sessions(
        cookies in prop::collection::vec((cookie_name(), cookie_value()), 0..6),
    ) {
        let rt = runtime();
        let clock = ManualClock::starting_now();
        let mut b = Browser::new(manager(&clock));
        // The id cookie of a session that stored data (the driver reads the data cookies of
        // such an id only), without its data cookies.
        let id = session_core::SessionId::generate();
        b.set_cookie("id", &b.manager().keys().id_signer("id").sign(&id));
        for (name, value) in &cookies {
            b.set_cookie(name, value);
        }
        let (fresh, all) = rt
            .block_on(b.request(|s| Ok((s.is_fresh(), s.all()))))
            .unwrap_or_else(|e| panic!("{e}"));
        prop_assert!(fresh);
        prop_assert!(all.is_empty());
    }

    /// Any header string at all, run through a whole request, never panics.
    #[test]
    fn arbitrary_cookie_headers_never_panic(header in "\\PC{0,400}") {
        let rt = runtime();
        let clock = ManualClock::starting_now();
        let m = manager(&clock);
        let header = format!("id.d={header}; {header}");
        let s = m.start_request([header.as_str()]);
        let fresh = rt.block_on(async {
            let s = s.session().await?;
            s.put("n", 1)?;
            s.commit().await?;
            Ok::<_, session_core::Error>(s.is_fresh())
        });
        prop_assert!(matches!(fresh, Ok(true)));
    }
}
