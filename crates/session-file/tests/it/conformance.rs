//! The session-testkit conformance suite against the file driver, one test per case, each in a
//! folder of its own.

use std::sync::Arc;

use serde_json::json;
use session_core::{DriverRegistry, SessionManager};
use session_file::FileDriver;
use session_testkit::MakeManager;

/// The driver built from the configuration, through the registry.
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

/// The driver built in code and handed to the manager as a value.
fn file_value() -> MakeManager {
    let dir = tempfile::tempdir().expect("temp dir");
    Arc::new(move |config, clock| {
        let driver = FileDriver::new(dir.path().join("sessions"))
            .expect("usable folder")
            .with_clock(Arc::new(clock.clone()));
        SessionManager::builder(config)
            .driver(driver)
            .with_clock(Arc::new(clock))
            .build()
            .expect("valid configuration")
    })
}

session_testkit::conformance_tests!(file(), Atomic);

mod as_a_value {
    use super::file_value;

    session_testkit::conformance_tests!(file_value(), Atomic);
}
