//! The session-testkit driver conformance suite against the cookie driver, one test per case.

use std::sync::Arc;

use session_core::{DriverRegistry, SessionManager};
use session_testkit::MakeManager;

fn cookie() -> MakeManager {
    Arc::new(|config, clock| {
        let mut registry = DriverRegistry::new();
        session_cookie::register(&mut registry);
        SessionManager::builder(config.with_driver("cookie"))
            .with_registry(registry)
            .with_clock(Arc::new(clock))
            .build()
            .unwrap_or_else(|e| panic!("valid configuration: {e}"))
    })
}

// The regenerate case checks that a copy of the old cookies no longer opens the session, and only
// a server-side store can forget a session. The driver-specific half of it (the data follows the
// new id, the browser's own cookies are replaced, the old copy dies at its sealed expiry) is
// tested in `lifecycle.rs`.
session_testkit::conformance_tests!(
    cookie(),
    Client,
    skip(
        regenerate_keeps_data_and_retires_the_old_id = "client-side state cannot be revoked: a copy of the old cookies opens the session until its sealed lifetime ends"
    ),
);

/// The cookie driver with a tag store (a memory store on the suite's clock): the tagging cases
/// log a tag out everywhere, and check that listing and destroying one session are refused.
mod with_tag_store {
    use std::sync::Arc;

    use session_core::{DriverRegistry, MemoryDriver, SessionManager};
    use session_testkit::MakeManager;

    fn cookie() -> MakeManager {
        Arc::new(|config, clock| {
            let mut registry = DriverRegistry::new();
            session_cookie::register(&mut registry);
            SessionManager::builder(config.with_driver("cookie"))
                .with_registry(registry)
                .tag_store(MemoryDriver::new().with_clock(Arc::new(clock.clone())))
                .with_clock(Arc::new(clock))
                .build()
                .unwrap_or_else(|e| panic!("valid configuration: {e}"))
        })
    }

    session_testkit::conformance_tests!(
        cookie(),
        Client,
        skip(
            regenerate_keeps_data_and_retires_the_old_id = "client-side state cannot be revoked: a copy of the old cookies opens the session until its sealed lifetime ends"
        ),
    );
}
