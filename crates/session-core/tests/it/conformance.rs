use std::sync::Arc;

use session_core::SessionManager;
use session_testkit::Conformance;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_driver_passes_the_conformance_suite() {
    let report = Conformance::new(
        "memory",
        Arc::new(|config, clock| {
            SessionManager::builder(config.with_driver("memory"))
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
