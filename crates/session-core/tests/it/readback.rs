//! Every record the memory driver holds, and every record encoded with `Record::encode` (the
//! stored form of the file driver), reads back with the same values and messages.

use proptest::test_runner::{Config, TestRunner};
use session_core::Record;
use session_testkit::readback;

use crate::common::memory;

#[test]
fn every_record_written_reads_back() {
    let manager = memory().manager().clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    readback::run(&runtime, &manager, 256);
}

#[test]
fn every_accepted_session_survives_the_record_encoding() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    TestRunner::new(Config::with_cases(256))
        .run(&readback::operations(), |ops| {
            let data = runtime.block_on(async {
                let b = memory();
                let s = b.begin().session().await.expect("initiate");
                for op in &ops {
                    readback::apply(&s, op);
                }
                s.all()
            });
            let mut record = Record::new(data, 1_000, 61_000);
            record.version = 3;
            let decoded = Record::decode(&record.encode());
            proptest::prop_assert_eq!(decoded, Some(record));
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}
