//! Every record the file driver writes reads back with the same values and messages
//! (`session_testkit::readback`).

use serde_json::json;
use session_core::{DriverRegistry, SessionConfig, SessionManager};

#[test]
fn every_record_written_reads_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut registry = DriverRegistry::new();
    session_file::register(&mut registry);
    let manager = SessionManager::builder(
        SessionConfig::new()
            .with_driver("file")
            .with_key("file readback secret, 32+ bytes long")
            .with_section("file", json!({ "location": dir.path() })),
    )
    .with_registry(registry)
    .build()
    .expect("valid configuration");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    session_testkit::readback::run(&runtime, &manager, 128);
}
