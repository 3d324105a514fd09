//! The session-testkit conformance suite against the file driver.

use std::sync::Arc;

use serde_json::json;
use session_core::{DriverRegistry, SessionManager};
use session_testkit::Conformance;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_driver_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let location = dir.path().join("sessions");
    let report = Conformance::new(
        "file",
        Arc::new(move |config, clock| {
            let mut registry = DriverRegistry::new();
            session_file::register(&mut registry);
            SessionManager::builder(
                config
                    .with_driver("file")
                    .with_section("file", json!({ "location": location })),
            )
            .with_registry(registry)
            .with_clock(Arc::new(clock))
            .build()
            .expect("valid configuration")
        }),
    )
    .run()
    .await;
    assert!(report.skipped.is_empty(), "{report}");
    assert_eq!(report.passed.len(), 18, "{report}");
}
