//! Every session the cookie driver seals opens again with the same values and messages
//! (`session_testkit::readback`), or is refused whole as too large.

use session_core::ManualClock;

#[test]
fn every_sealed_session_opens_with_what_was_written() {
    let manager = crate::common::manager(&ManualClock::starting_now());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    session_testkit::readback::run(&runtime, &manager, 256);
}
