//! The session-testkit conformance suite against the file driver, one test per case, each in a
//! folder of its own.

use std::sync::Arc;

use serde_json::json;
use session_core::{DriverRegistry, SessionManager};
use session_testkit::MakeManager;

fn file() -> MakeManager {
    let dir = tempfile::tempdir().expect("temp dir");
    Arc::new(move |config, clock| {
        let mut registry = DriverRegistry::new();
        session_file::register(&mut registry);
        SessionManager::builder(
            config
                .with_driver("file")
                .with_section("file", json!({ "location": dir.path().join("sessions") })),
        )
        .with_registry(registry)
        .with_clock(Arc::new(clock))
        .build()
        .expect("valid configuration")
    })
}

session_testkit::conformance_tests!(file(), Atomic);
