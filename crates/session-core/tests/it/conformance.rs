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

    /// Runs `case` against a driver with `defect` on a thread of its own and returns what the
    /// failure said, or `None` when the case passed.
    fn outcome(defect: Defect, case: &'static str) -> Option<String> {
        let run = std::thread::spawn(move || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(suite(defect).case(case))
        });
        let panic = run.join().err()?;
        Some(
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default(),
        )
    }

    #[test]
    fn a_driver_that_ignores_expiry_fails_the_named_case() {
        // It passes the cases that go through the manager, which checks expiry again.
        assert_eq!(outcome(Defect::IgnoresExpiry, "idle_expiry"), None);
        let message = outcome(
            Defect::IgnoresExpiry,
            "read_never_returns_an_expired_record",
        )
        .expect("the case fails");
        assert!(
            message.contains("read_never_returns_an_expired_record: the driver's read returned a record idle past its age"),
            "{message}"
        );
    }

    #[test]
    fn a_driver_whose_touch_revives_expired_records_fails_the_named_case() {
        assert_eq!(
            outcome(Defect::TouchRevives, "read_never_returns_an_expired_record"),
            None
        );
        let message = outcome(
            Defect::TouchRevives,
            "touch_never_revives_an_expired_record",
        )
        .expect("the case fails");
        assert!(
            message.contains("touch_never_revives_an_expired_record: a touch after the idle age"),
            "{message}"
        );
    }

    #[test]
    fn a_driver_that_stores_another_version_fails_the_named_case() {
        let message = outcome(Defect::WrongVersion, "write_stores_the_record_as_given")
            .expect("the case fails");
        assert!(
            message.contains("write_stores_the_record_as_given: wrote Record"),
            "{message}"
        );
        assert_eq!(outcome(Defect::WrongVersion, "round_trip"), None);
    }
}
