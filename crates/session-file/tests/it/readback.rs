//! Every record the file driver writes reads back with the same values and messages
//! (`session_testkit::readback`).

use proptest::test_runner::{Config, TestRunner};
use serde_json::json;
use session_core::{DriverRegistry, SessionConfig, SessionManager};
use session_testkit::readback;

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
    TestRunner::new(Config::with_cases(128))
        .run(&readback::operations(), |ops| {
            runtime
                .block_on(readback::check(&manager, &ops))
                .map_err(proptest::test_runner::TestCaseError::fail)
        })
        .unwrap_or_else(|e| panic!("{e}"));
}
