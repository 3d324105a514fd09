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
    use std::time::{SystemTime, UNIX_EPOCH};

    use async_trait::async_trait;
    use session_core::{
        DriverError, Record, SessionManager, SessionStore, StorageKey, TaggedStore, WriteOutcome,
    };
    use session_testkit::{Conformance, MakeManager};

    #[derive(Debug, Clone, Copy)]
    enum Defect {
        IgnoresExpiry,
        RefreshRevives,
        WrongVersion,
        /// Indexes a session under the tag it had when first written, and never again.
        IndexesOnCreation,
    }

    /// A last-writer-wins map on the system clock, as a third-party author would write it.
    #[derive(Debug)]
    struct MapStore {
        records: Mutex<BTreeMap<StorageKey, Record>>,
        /// The tag each key had when first written.
        first_tags: Mutex<BTreeMap<StorageKey, Option<String>>>,
        defect: Defect,
    }

    #[async_trait]
    impl TaggedStore for MapStore {
        async fn tagged(&self, tag: &str) -> Result<Vec<(StorageKey, Record)>, DriverError> {
            let records = self.records.lock().expect("lock");
            let first_tags = self.first_tags.lock().expect("lock");
            Ok(records
                .iter()
                .filter(|(key, record)| match self.defect {
                    Defect::IndexesOnCreation => {
                        first_tags.get(*key).and_then(Option::as_deref) == Some(tag)
                    }
                    _ => record.tag() == Some(tag),
                })
                .map(|(key, record)| (key.clone(), record.clone()))
                .collect())
        }
    }

    impl MapStore {
        fn expired(&self, record: &Record) -> bool {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            !matches!(self.defect, Defect::IgnoresExpiry) && record.is_expired_at(now)
        }
    }

    #[async_trait]
    impl SessionStore for MapStore {
        fn as_tagged(&self) -> Option<&dyn TaggedStore> {
            Some(self)
        }
        async fn read(&self, key: &StorageKey) -> Result<Option<Record>, DriverError> {
            let records = self.records.lock().expect("lock");
            Ok(records.get(key).filter(|r| !self.expired(r)).cloned())
        }
        async fn write(
            &self,
            key: &StorageKey,
            record: &Record,
            _: Option<u64>,
        ) -> Result<WriteOutcome, DriverError> {
            self.first_tags
                .lock()
                .expect("lock")
                .entry(key.clone())
                .or_insert_with(|| record.tag().map(str::to_owned));
            let mut record = record.clone();
            if matches!(self.defect, Defect::WrongVersion) {
                record.version += 1;
            }
            self.records
                .lock()
                .expect("lock")
                .insert(key.clone(), record);
            Ok(WriteOutcome::Written)
        }
        async fn destroy(&self, key: &StorageKey, _: u64) -> Result<WriteOutcome, DriverError> {
            self.records.lock().expect("lock").remove(key);
            Ok(WriteOutcome::Written)
        }
        async fn refresh(
            &self,
            key: &StorageKey,
            last_active: u64,
            expires_at: u64,
        ) -> Result<(), DriverError> {
            let mut records = self.records.lock().expect("lock");
            let revives = matches!(self.defect, Defect::RefreshRevives);
            if let Some(r) = records.get_mut(key) {
                if revives || !self.expired(r) {
                    (r.last_active, r.expires_at) = (last_active, expires_at);
                }
            }
            Ok(())
        }
    }

    fn suite(defect: Defect) -> Conformance {
        let make: MakeManager = Arc::new(move |config, clock| {
            SessionManager::builder(config)
                .with_clock(Arc::new(clock))
                .driver(MapStore {
                    records: Mutex::default(),
                    first_tags: Mutex::default(),
                    defect,
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
            message.contains("read_never_returns_an_expired_record: the driver's read returned a record whose expires_at has passed"),
            "{message}"
        );
    }

    #[test]
    fn a_driver_whose_refresh_revives_expired_records_fails_the_named_case() {
        assert_eq!(
            outcome(
                Defect::RefreshRevives,
                "read_never_returns_an_expired_record"
            ),
            None
        );
        let message = outcome(
            Defect::RefreshRevives,
            "refresh_never_revives_an_expired_record",
        )
        .expect("the case fails");
        assert!(
            message.contains("refresh_never_revives_an_expired_record: a refresh after expiry"),
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

    #[test]
    fn a_tag_index_that_misses_a_retagged_session_fails_the_named_case() {
        assert_eq!(
            outcome(Defect::IndexesOnCreation, "tagged_sessions_are_listed"),
            None
        );
        let message = outcome(Defect::IndexesOnCreation, "ended_sessions_are_never_listed")
            .expect("the case fails");
        assert!(
            message.contains(
                "ended_sessions_are_never_listed: the retagged session is not listed under its new tag"
            ),
            "{message}"
        );
    }
}
