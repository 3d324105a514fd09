//! Every session the cookie driver seals opens again with the same values and messages
//! (`session_testkit::readback`), or is refused whole as too large.

use proptest::test_runner::{Config, TestRunner};
use session_core::ManualClock;
use session_testkit::readback;

#[test]
fn every_sealed_session_opens_with_what_was_written() {
    let manager = crate::common::manager(&ManualClock::starting_now());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    TestRunner::new(Config::with_cases(256))
        .run(&readback::operations(), |ops| {
            runtime
                .block_on(readback::check(&manager, &ops))
                .map_err(proptest::test_runner::TestCaseError::fail)
        })
        .unwrap_or_else(|e| panic!("{e}"));
}
