//! The session-testkit conformance suite against the memory driver, one test per case.

use std::sync::Arc;

use session_core::SessionManager;
use session_testkit::MakeManager;

fn memory() -> MakeManager {
    Arc::new(|config, clock| {
        SessionManager::builder(config.with_driver("memory"))
            .with_clock(Arc::new(clock))
            .build()
            .expect("valid configuration")
    })
}

session_testkit::conformance_tests!(memory(), Atomic);

/// Drivers with one defect each, written as a third-party author might from the trait's docs:
/// the suite must fail them in the named case.
mod defective {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;
    use session_core::{
        Clock, Driver, DriverError, Lifetimes, Record, SessionContext, SessionManager, StorageKey,
    };
    use session_testkit::{Conformance, MakeManager};

    #[derive(Debug, Clone, Copy)]
    enum Defect {
        IgnoresExpiry,
        TouchRevives,
        WrongVersion,
    }

    #[derive(Debug)]
    struct MapDriver {
        records: Mutex<BTreeMap<StorageKey, Record>>,
        lifetimes: Lifetimes,
        clock: Arc<dyn Clock>,
        defect: Defect,
    }

    impl MapDriver {
        fn expired(&self, record: &Record) -> bool {
            !matches!(self.defect, Defect::IgnoresExpiry)
                && self.lifetimes.is_expired(record, self.clock.now_ms())
        }
    }

    #[async_trait]
    impl Driver for MapDriver {
        fn name(&self) -> &'static str {
            "map"
        }
        async fn read(
            &self,
            _: &SessionContext,
            key: &StorageKey,
        ) -> Result<Option<Record>, DriverError> {
            let records = self.records.lock().expect("lock");
            Ok(records.get(key).filter(|r| !self.expired(r)).cloned())
        }
        async fn write(
            &self,
            _: &SessionContext,
            key: &StorageKey,
            record: &Record,
        ) -> Result<(), DriverError> {
            let mut record = record.clone();
            if matches!(self.defect, Defect::WrongVersion) {
                record.version += 1;
            }
            self.records
                .lock()
                .expect("lock")
                .insert(key.clone(), record);
            Ok(())
        }
        async fn destroy(&self, _: &SessionContext, key: &StorageKey) -> Result<(), DriverError> {
            self.records.lock().expect("lock").remove(key);
            Ok(())
        }
        async fn touch(
            &self,
            _: &SessionContext,
            key: &StorageKey,
            now_ms: u64,
        ) -> Result<(), DriverError> {
            let mut records = self.records.lock().expect("lock");
            let revives = matches!(self.defect, Defect::TouchRevives);
            if let Some(r) = records.get_mut(key) {
                if revives || !self.lifetimes.is_expired(r, self.clock.now_ms()) {
                    r.last_active = now_ms;
                }
            }
            Ok(())
        }
    }

    fn suite(defect: Defect) -> Conformance {
        let make: MakeManager = Arc::new(move |config, clock| {
            SessionManager::builder(config.with_driver("map"))
                .with_clock(Arc::new(clock))
                .extend("map", move |setup| {
                    Ok(Arc::new(MapDriver {
                        records: Mutex::default(),
                        lifetimes: setup.lifetimes(),
                        clock: setup.clock(),
                        defect,
                    }))
                })
                .build()
                .expect("valid configuration")
        });
        Conformance::new("map", make)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[should_panic(expected = "read_never_returns_an_expired_record")]
    async fn a_driver_that_ignores_expiry_fails() {
        // It passes the cases that go through the manager, which checks expiry again.
        suite(Defect::IgnoresExpiry).case("idle_expiry").await;
        suite(Defect::IgnoresExpiry)
            .case("read_never_returns_an_expired_record")
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[should_panic(expected = "touch_never_revives_an_expired_record")]
    async fn a_driver_whose_touch_revives_expired_records_fails() {
        suite(Defect::TouchRevives)
            .case("read_never_returns_an_expired_record")
            .await;
        suite(Defect::TouchRevives)
            .case("touch_never_revives_an_expired_record")
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[should_panic(expected = "write_stores_the_record_as_given")]
    async fn a_driver_that_stores_another_version_fails() {
        suite(Defect::WrongVersion)
            .case("write_stores_the_record_as_given")
            .await;
    }
}
