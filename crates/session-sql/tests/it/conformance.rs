//! The driver conformance suite, one test per case, on each database.

macro_rules! on {
    ($module:ident, $backend:expr) => {
        mod $module {
            use std::sync::Arc;

            use session_testkit::MakeManager;

            use crate::common::TestDatabase;

            fn make() -> MakeManager {
                let database = Arc::new(TestDatabase::create($backend));
                Arc::new(move |config, clock| database.manager(config, clock))
            }

            session_testkit::conformance_tests!(make(), Atomic);
        }
    };
}

on!(postgres, session_sql::Backend::Postgres);
on!(mysql, session_sql::Backend::MySql);
on!(sqlite, session_sql::Backend::Sqlite);
