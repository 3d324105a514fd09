//! The driver conformance suite.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRng, TestRunner};
use serde_json::{json, Map, Value};
use session_core::{
    Driver, DriverError, Error, ManualClock, Record, SessionConfig, SessionContext, SessionId,
    SessionManager, SessionStore, StorageKey, WriteOutcome, TAG_KEY,
};

use crate::Browser;

/// The idle lifetime the suite configures.
const IDLE: Duration = Duration::from_secs(600);

/// Builds the manager under test from a configuration (driver chosen, key set, lifetimes set)
/// and the clock the suite moves.
///
/// ```
/// use std::sync::Arc;
/// use session_core::{SessionConfig, SessionManager};
/// use session_testkit::MakeManager;
///
/// let make: MakeManager = Arc::new(|config, clock| {
///     SessionManager::builder(config.with_driver("memory"))
///         .with_clock(Arc::new(clock))
///         .build()
///         .unwrap()
/// });
/// let manager = make(
///     SessionConfig::new().with_key("a secret of at least thirty-two bytes!!"),
///     session_core::ManualClock::new(0),
/// );
/// assert_eq!(manager.clock().now_ms(), 0);
/// ```
pub type MakeManager = Arc<dyn Fn(SessionConfig, ManualClock) -> SessionManager + Send + Sync>;

/// The conformance suite for a session driver.
///
/// It drives the driver through the public [`SessionManager`] API with a [`Browser`], plus a few
/// direct calls to the [`Driver`](session_core::Driver) contract, and checks every rule the core
/// relies on: round trips, touch, idle and absolute expiry, destroy, regenerate, flash messages,
/// and — for drivers that declare the atomic update — no resurrection and no lost update under
/// 200 concurrent increments.
///
/// Third-party driver authors run it in their own tests:
///
/// ```
/// # tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use session_core::SessionManager;
/// use session_testkit::Conformance;
///
/// let report = Conformance::new("memory", Arc::new(|config, clock| {
///     SessionManager::builder(config.with_driver("memory"))
///         .with_clock(Arc::new(clock))
///         .build()
///         .unwrap()
/// }))
/// .run(session_testkit::Mode::Atomic)
/// .await;
/// assert!(report.passed.len() >= 15, "{report}");
/// # });
/// ```
pub struct Conformance {
    name: String,
    make: MakeManager,
    skipped: Vec<(&'static str, String)>,
}

impl fmt::Debug for Conformance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conformance")
            .field("name", &self.name)
            .field("skipped", &self.skipped)
            .finish_non_exhaustive()
    }
}

/// What a run checked.
///
/// ```
/// use session_testkit::Report;
///
/// let report = Report {
///     passed: vec!["round_trip", "idle_expiry"],
///     skipped: vec![("absolute_expiry", "the backend has no absolute expiry".into())],
/// };
/// assert_eq!(
///     report.to_string(),
///     "passed: round_trip, idle_expiry; skipped absolute_expiry: the backend has no absolute expiry"
/// );
/// ```
#[derive(Debug, Default)]
pub struct Report {
    /// Cases that passed.
    pub passed: Vec<&'static str>,
    /// Cases skipped, with the reason the driver gave.
    pub skipped: Vec<(&'static str, String)>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "passed: {}", self.passed.join(", "))?;
        for (case, why) in &self.skipped {
            write!(f, "; skipped {case}: {why}")?;
        }
        Ok(())
    }
}

/// The cases that need conditional writes ([`Mode::Atomic`]).
///
/// ```
/// use session_testkit::ATOMIC_CASES;
///
/// assert!(ATOMIC_CASES.contains(&"concurrent_increments_are_all_counted"));
/// assert_eq!(ATOMIC_CASES.len(), 4);
/// ```
///
/// | case | what it checks | how storage is set up |
/// |---|---|---|
/// | `no_resurrection_after_destroy` | a slow request's write after a logout does not bring the session back | written; a request reads it, another clears it, the first then writes |
/// | `concurrent_increments_are_all_counted` | 200 concurrent increments of one value end at 200 | written through a request, then 200 requests at once |
/// | `concurrent_writes_to_different_keys_all_survive` | 50 concurrent writes of different keys all stay | as above, 50 requests |
/// | `conditional_write_follows_the_contract` | `write` and `destroy` answer `Written`, `Conflict` and `Gone` as documented, and an expired record counts as none | records written directly at versions 1 and 2, destroyed, one written already expired |
pub const ATOMIC_CASES: &[&str] = &[
    "no_resurrection_after_destroy",
    "concurrent_increments_are_all_counted",
    "concurrent_writes_to_different_keys_all_survive",
    "conditional_write_follows_the_contract",
];

/// The cases of server-side stores ([`Mode::Atomic`] and [`Mode::LastWriterWins`]).
///
/// ```
/// use session_testkit::SERVER_CASES;
///
/// assert!(SERVER_CASES.contains(&"refresh_never_revives_an_expired_record"));
/// ```
///
/// | case | what it checks | how storage is set up |
/// |---|---|---|
/// | `refresh_never_revives_an_expired_record` | `refresh` slides a live record's `last_active` and `expires_at`, keeping its version, and leaves an expired record expired | one record written live; another written to expire in 300 ms, then the clock and real time move 600 ms |
/// | `refresh_and_destroy_of_a_missing_record_change_nothing` | neither creates a record, neither is an error | none |
pub const SERVER_CASES: &[&str] = &[
    "refresh_never_revives_an_expired_record",
    "refresh_and_destroy_of_a_missing_record_change_nothing",
];

/// The cases every driver passes, in the order [`Conformance::run`] runs them.
///
/// | case | what it checks | how storage is set up |
/// |---|---|---|
/// | `round_trip` | values of every JSON type read back | written through a request |
/// | `arbitrary_values_round_trip` | 24 generated values read back exactly | one request each |
/// | `fresh_visitor_gets_an_id_but_costs_no_storage` | a cookie, and no record for an empty session | none |
/// | `untouched_request_slides_the_idle_expiry` | a request that never opens the session keeps it alive | written, then the clock moves 60% of the idle age three times |
/// | `unmodified_request_slides_the_idle_expiry` | a request that only reads keeps it alive | as above |
/// | `idle_expiry` | a session idle past its age is gone | written, clock past the idle age |
/// | `absolute_expiry` | an active session ends at its absolute age | written and used every half idle age |
/// | `read_never_returns_an_expired_record` | the driver's `read` returns `None` for a record whose `expires_at` has come (the core checks again, so only a direct read shows a driver that does not) | records written directly, one live, one past `expires_at`, one expiring now |
/// | `write_stores_the_record_as_given` | `write` keeps the version, times, expiry and data it is given | written directly at version 7, then 8 |
/// | `clearing_destroys_the_record` | `clear` removes the record; the next request has another id and no data; a server-side store's old cookie, replayed, gives a fresh session | written, then cleared |
/// | `regenerate_keeps_data_and_retires_the_old_id` | the data moves to the new id; the old cookie opens nothing | written, regenerated |
/// | `flash_messages_live_for_one_request` | a message is read once | flashed |
/// | `flash_messages_survive_untouched_requests` | a request that never opens the session keeps the messages | flashed, then an untouched request |
/// | `readonly_requests_change_nothing` | a readonly request stores nothing | written, then read readonly |
/// | `tampered_and_foreign_cookies_give_fresh_sessions` | bad cookies are fresh sessions | none |
///
/// ```
/// use session_testkit::{ATOMIC_CASES, CASES, SERVER_CASES};
///
/// assert!(CASES.contains(&"read_never_returns_an_expired_record"));
/// assert!(CASES.iter().all(|case| !ATOMIC_CASES.contains(case) && !SERVER_CASES.contains(case)));
/// ```
pub const CASES: &[&str] = &[
    "round_trip",
    "arbitrary_values_round_trip",
    "fresh_visitor_gets_an_id_but_costs_no_storage",
    "untouched_request_slides_the_idle_expiry",
    "unmodified_request_slides_the_idle_expiry",
    "idle_expiry",
    "absolute_expiry",
    "read_never_returns_an_expired_record",
    "write_stores_the_record_as_given",
    "clearing_destroys_the_record",
    "regenerate_keeps_data_and_retires_the_old_id",
    "flash_messages_live_for_one_request",
    "flash_messages_survive_untouched_requests",
    "readonly_requests_change_nothing",
    "tampered_and_foreign_cookies_give_fresh_sessions",
];

/// The tagging cases (sessions per user), which run in every mode. Each first asks the manager
/// what the driver supports: a store that implements `TaggedStore` must pass all of them; a
/// client-side driver with a tag store must log a tag out everywhere and refuse the rest with
/// `Error::TaggingNotSupported`; a driver without either must refuse `Session::tag` with it.
///
/// ```
/// use session_testkit::{Mode, TAG_CASES};
///
/// assert!(TAG_CASES.iter().all(|case| Mode::Client.runs(case) && Mode::Atomic.runs(case)));
/// ```
///
/// | case | what it checks | how storage is set up |
/// |---|---|---|
/// | `tagged_sessions_are_listed` | exactly the live sessions of a tag are listed, with their handles, times and values; a handle reads back under its tag only | two logins (regenerate and tag) of one tag, one of another, one untagged |
/// | `ended_sessions_are_never_listed` | logged out, expired, untagged, retagged and destroyed sessions are not listed, twice in a row (an index that still names them cleans up); a later login is | five tagged sessions ended five ways, one tagged record written to expire in 300 ms |
/// | `one_tagged_session_is_destroyed` | a session is destroyed by its handle under its own tag only; its next request is fresh, the others keep their data | two sessions of one tag |
/// | `log_out_everywhere_else` | `destroy_other_sessions` ends every other session of the tag and keeps the caller, which can regenerate in that request and later; other tags, and a login made after, stay; `destroy_tagged_sessions(tag, None)` ends the rest | three sessions of one tag, one of another, one anonymous session that logs in after |
pub const TAG_CASES: &[&str] = &[
    "tagged_sessions_are_listed",
    "ended_sessions_are_never_listed",
    "one_tagged_session_is_destroyed",
    "log_out_everywhere_else",
];

/// What a manager's driver supports of tagging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tagging {
    /// A `TaggedStore`: everything.
    Listing,
    /// A client-side driver with a tag store: log a tag out everywhere.
    LogOutOnly,
    /// Nothing: `Session::tag` is refused.
    None,
}

/// What kind of driver is under test; see [`conformance_tests!`](crate::conformance_tests).
///
/// ```
/// use session_testkit::Mode;
///
/// assert!(Mode::Atomic.runs("conditional_write_follows_the_contract"));
/// assert!(!Mode::LastWriterWins.runs("conditional_write_follows_the_contract"));
/// assert!(Mode::LastWriterWins.runs("refresh_never_revives_an_expired_record"));
/// assert!(!Mode::Client.runs("refresh_never_revives_an_expired_record"));
/// assert!(Mode::Client.runs("round_trip"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A server-side store with conditional writes: every case runs.
    Atomic,
    /// A server-side store whose last writer wins (it ignores the expected versions): the
    /// [`ATOMIC_CASES`] do not run.
    LastWriterWins,
    /// A client-side store: only the [`CASES`] run.
    Client,
}

impl Mode {
    /// Whether a case runs in this mode.
    ///
    /// ```
    /// use session_testkit::{Mode, CASES};
    ///
    /// assert!(CASES.iter().all(|case| Mode::Client.runs(case)));
    /// ```
    pub fn runs(self, case: &str) -> bool {
        CASES.contains(&case)
            || TAG_CASES.contains(&case)
            || (self != Mode::Client && SERVER_CASES.contains(&case))
            || (self == Mode::Atomic && ATOMIC_CASES.contains(&case))
    }
}

/// Expands to one `#[test]` per conformance case ([`CASES`], [`SERVER_CASES`] and
/// [`ATOMIC_CASES`]), each named after its case, so a failing case is reported by name and the
/// others still run.
///
/// The first argument is an expression giving a [`MakeManager`] (evaluated once per test; a
/// server it needs can be started in it and moved into the closure), the second the
/// [`Mode`]: `Atomic`, `LastWriterWins` or `Client`. The tests of cases the mode does not run
/// check only that the driver is of the kind the mode says. Cases the driver cannot support can
/// be skipped with a reason, `skip(case = "why")`; the cases of the mode's kind cannot be.
///
/// ```
/// mod memory_driver {
///     use std::sync::Arc;
///     use session_core::{MemoryDriver, SessionManager};
///
///     fn make() -> session_testkit::MakeManager {
///         Arc::new(|config, clock| {
///             SessionManager::builder(config)
///                 .driver(MemoryDriver::new().with_clock(Arc::new(clock.clone())))
///                 .with_clock(Arc::new(clock))
///                 .build()
///                 .unwrap()
///         })
///     }
///
///     session_testkit::conformance_tests!(make(), Atomic);
/// }
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr, $mode:ident $(, skip($($case:ident = $why:expr),* $(,)?))? $(,)?) => {
        $crate::__conformance_cases! {
            ($make, $crate::Mode::$mode, [$($((stringify!($case), $why)),*)?])
            round_trip
            arbitrary_values_round_trip
            fresh_visitor_gets_an_id_but_costs_no_storage
            untouched_request_slides_the_idle_expiry
            unmodified_request_slides_the_idle_expiry
            idle_expiry
            absolute_expiry
            read_never_returns_an_expired_record
            write_stores_the_record_as_given
            clearing_destroys_the_record
            regenerate_keeps_data_and_retires_the_old_id
            flash_messages_live_for_one_request
            flash_messages_survive_untouched_requests
            readonly_requests_change_nothing
            tampered_and_foreign_cookies_give_fresh_sessions
            refresh_never_revives_an_expired_record
            refresh_and_destroy_of_a_missing_record_change_nothing
            no_resurrection_after_destroy
            concurrent_increments_are_all_counted
            concurrent_writes_to_different_keys_all_survive
            conditional_write_follows_the_contract
            tagged_sessions_are_listed
            ended_sessions_are_never_listed
            one_tagged_session_is_destroyed
            log_out_everywhere_else
        }
    };
}

/// The expansion of [`conformance_tests!`]: one test per listed case.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    (($make:expr, $mode:expr, $skips:expr) $($case:ident)*) => {
        $(
            #[test]
            fn $case() {
                let mut suite = $crate::Conformance::new(module_path!(), $make);
                let skips: &[(&'static str, &str)] = &$skips;
                for (skipped, why) in skips {
                    suite = suite.skip(skipped, *why);
                }
                suite.run_generated(stringify!($case), $mode);
            }
        )*

        /// The macro's list of cases is the suite's: a case added to one is in the other.
        #[test]
        fn every_case_of_the_suite_has_a_test() {
            let mut listed = [$(stringify!($case)),*].to_vec();
            let mut suite: Vec<&str> = $crate::CASES
                .iter()
                .chain($crate::SERVER_CASES)
                .chain($crate::ATOMIC_CASES)
                .chain($crate::TAG_CASES)
                .copied()
                .collect();
            listed.sort_unstable();
            suite.sort_unstable();
            assert_eq!(listed, suite);
        }
    };
}

impl Conformance {
    /// A suite for the driver that `make` builds.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use session_core::SessionManager;
    /// use session_testkit::Conformance;
    ///
    /// let suite = Conformance::new("memory", Arc::new(|config, clock| {
    ///     SessionManager::builder(config.with_driver("memory"))
    ///         .with_clock(Arc::new(clock))
    ///         .build()
    ///         .unwrap()
    /// }));
    /// assert!(format!("{suite:?}").contains("memory"));
    /// ```
    pub fn new(name: impl Into<String>, make: MakeManager) -> Self {
        Self {
            name: name.into(),
            make,
            skipped: Vec::new(),
        }
    }

    /// Skips a case the driver cannot support, with the reason (shown in the report). Skipping an
    /// atomic case is refused when the driver declares the atomic update.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// use session_core::SessionManager;
    /// use session_testkit::Conformance;
    ///
    /// let report = Conformance::new("memory", Arc::new(|config, clock| {
    ///     SessionManager::builder(config.with_driver("memory"))
    ///         .with_clock(Arc::new(clock))
    ///         .build()
    ///         .unwrap()
    /// }))
    /// .skip("absolute_expiry", "tested elsewhere")
    /// .run(session_testkit::Mode::Atomic)
    /// .await;
    /// assert!(!report.passed.contains(&"absolute_expiry"));
    /// assert_eq!(report.skipped, [("absolute_expiry", "tested elsewhere".to_string())]);
    /// # });
    /// ```
    #[must_use]
    pub fn skip(mut self, case: &'static str, reason: impl Into<String>) -> Self {
        self.skipped.push((case, reason.into()));
        self
    }

    fn manager(&self, config: SessionConfig, clock: &ManualClock) -> SessionManager {
        (self.make)(
            config.with_key("conformance suite secret key of 32+ bytes"),
            clock.clone(),
        )
    }

    fn browser(&self, clock: &ManualClock) -> Browser {
        Browser::new(self.manager(SessionConfig::new().with_age(IDLE), clock))
    }

    /// Runs every case; panics with the case name on the first failure.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// use session_core::SessionManager;
    /// use session_testkit::{Conformance, ATOMIC_CASES};
    ///
    /// let report = Conformance::new("memory", Arc::new(|config, clock| {
    ///     SessionManager::builder(config.with_driver("memory"))
    ///         .with_clock(Arc::new(clock))
    ///         .build()
    ///         .unwrap()
    /// }))
    /// .run(session_testkit::Mode::Atomic)
    /// .await;
    /// // The memory driver has the atomic update, so its atomic cases ran too.
    /// assert!(ATOMIC_CASES.iter().all(|case| report.passed.contains(case)), "{report}");
    /// assert!(report.skipped.is_empty());
    /// # });
    /// ```
    pub async fn run(self, mode: Mode) -> Report {
        {
            let clock = ManualClock::starting_now();
            self.check_kind("run", &self.browser(&clock), mode);
        }
        let mut report = Report {
            skipped: self.skipped.clone(),
            ..Report::default()
        };
        for (case, _) in &self.skipped {
            assert!(
                !mode.runs(case) || CASES.contains(case),
                "[{}] {case} is a case of the driver's kind, so it cannot be skipped",
                self.name
            );
        }
        for case in CASES
            .iter()
            .chain(SERVER_CASES)
            .chain(ATOMIC_CASES)
            .chain(TAG_CASES)
        {
            if mode.runs(case) && !self.skipped.iter().any(|(c, _)| c == case) {
                self.case(case).await;
                report.passed.push(case);
            }
        }
        report
    }

    /// Runs one case by name (one of [`CASES`] or [`ATOMIC_CASES`]); panics naming the case and
    /// what went wrong when the driver fails it. [`conformance_tests!`](crate::conformance_tests)
    /// runs each case as a test of its own with this.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// use session_core::SessionManager;
    /// use session_testkit::Conformance;
    ///
    /// Conformance::new("memory", Arc::new(|config, clock| {
    ///     SessionManager::builder(config.with_driver("memory"))
    ///         .with_clock(Arc::new(clock))
    ///         .build()
    ///         .unwrap()
    /// }))
    /// .case("read_never_returns_an_expired_record")
    /// .await;
    /// # });
    /// ```
    pub async fn case(&self, case: &str) {
        match case {
            "round_trip" => self.round_trip().await,
            "arbitrary_values_round_trip" => self.arbitrary_values_round_trip().await,
            "fresh_visitor_gets_an_id_but_costs_no_storage" => {
                self.fresh_visitor_gets_an_id_but_costs_no_storage().await
            }
            "untouched_request_slides_the_idle_expiry" => {
                self.untouched_request_slides_the_idle_expiry().await
            }
            "unmodified_request_slides_the_idle_expiry" => {
                self.unmodified_request_slides_the_idle_expiry().await
            }
            "idle_expiry" => self.idle_expiry().await,
            "absolute_expiry" => self.absolute_expiry().await,
            "read_never_returns_an_expired_record" => {
                self.read_never_returns_an_expired_record().await
            }
            "refresh_never_revives_an_expired_record" => {
                self.refresh_never_revives_an_expired_record().await
            }
            "write_stores_the_record_as_given" => self.write_stores_the_record_as_given().await,
            "clearing_destroys_the_record" => self.clearing_destroys_the_record().await,
            "regenerate_keeps_data_and_retires_the_old_id" => {
                self.regenerate_keeps_data_and_retires_the_old_id().await
            }
            "flash_messages_live_for_one_request" => {
                self.flash_messages_live_for_one_request().await
            }
            "flash_messages_survive_untouched_requests" => {
                self.flash_messages_survive_untouched_requests().await
            }
            "readonly_requests_change_nothing" => self.readonly_requests_change_nothing().await,
            "tampered_and_foreign_cookies_give_fresh_sessions" => {
                self.tampered_and_foreign_cookies_give_fresh_sessions()
                    .await
            }
            "refresh_and_destroy_of_a_missing_record_change_nothing" => {
                self.refresh_and_destroy_of_a_missing_record_change_nothing()
                    .await
            }
            "no_resurrection_after_destroy" => self.no_resurrection_after_destroy().await,
            "concurrent_increments_are_all_counted" => {
                self.concurrent_increments_are_all_counted().await
            }
            "concurrent_writes_to_different_keys_all_survive" => {
                self.concurrent_writes_to_different_keys_all_survive().await
            }
            "conditional_write_follows_the_contract" => {
                self.conditional_write_follows_the_contract().await
            }
            "tagged_sessions_are_listed" => self.tagged_sessions_are_listed().await,
            "ended_sessions_are_never_listed" => self.ended_sessions_are_never_listed().await,
            "one_tagged_session_is_destroyed" => self.one_tagged_session_is_destroyed().await,
            "log_out_everywhere_else" => self.log_out_everywhere_else().await,
            other => panic!("[{}] no conformance case is named {other:?}", self.name),
        }
    }

    /// Runs one case as a `#[test]` generated by [`conformance_tests!`](crate::conformance_tests)
    /// does: on a runtime of its own, honouring `mode` and the skipped cases.
    #[doc(hidden)]
    pub fn run_generated(self, case: &'static str, mode: Mode) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("a tokio runtime: {e}"));
        runtime.block_on(async {
            {
                let clock = ManualClock::starting_now();
                self.check_kind(case, &self.browser(&clock), mode);
            }
            if let Some((_, why)) = self.skipped.iter().find(|(c, _)| *c == case) {
                if !CASES.contains(&case) {
                    self.fail(case, "the cases of the driver's kind cannot be skipped");
                }
                eprintln!("[{}] {case} skipped: {why}", self.name);
                return;
            }
            // A case the mode does not run checks only the driver's kind, done above.
            if mode.runs(case) {
                self.case(case).await;
            }
        });
    }

    /// Fails unless the driver is of the kind `mode` says: server-side for `Atomic` and
    /// `LastWriterWins`, client-side for `Client`.
    fn check_kind(&self, case: &str, b: &Browser, mode: Mode) {
        match (b.manager().driver(), mode) {
            (Driver::Server(_), Mode::Atomic | Mode::LastWriterWins)
            | (Driver::Client(_), Mode::Client) => {}
            (Driver::Server(_), Mode::Client) => self.fail(
                case,
                "the driver is a server-side store: run the suite with `Atomic` or `LastWriterWins`",
            ),
            (Driver::Client(_), _) => self.fail(
                case,
                "the driver is a client-side store: run the suite with `Client`",
            ),
        }
    }

    fn fail(&self, case: &str, what: impl fmt::Display) -> ! {
        panic!("[{}] {case}: {what}", self.name)
    }

    async fn round_trip(&self) {
        let clock = ManualClock::starting_now();
        let mut b = self.browser(&clock);
        b.request(|s| {
            s.put("cart_total", 1900)?;
            s.put("user.name", "Ada Lovelace ✓")?;
            s.put("user[roles]", json!(["admin", "dev"]))?;
            s.put("flags", json!({"a": true, "b": null, "c": 0.5}))
        })
        .await
        .unwrap_or_else(|e| self.fail("round_trip", e));
        let all = b
            .request(|s| Ok(s.all()))
            .await
            .unwrap_or_else(|e| self.fail("round_trip", e));
        let expected = json!({
            "cart_total": 1900,
            "user": {"name": "Ada Lovelace ✓", "roles": ["admin", "dev"]},
            "flags": {"a": true, "b": null, "c": 0.5}
        });
        if Value::Object(all.clone()) != expected {
            self.fail("round_trip", format!("read back {all:?}"));
        }
    }

    async fn arbitrary_values_round_trip(&self) {
        let clock = ManualClock::starting_now();
        let mut b = self.browser(&clock);
        let mut runner = TestRunner::new_with_rng(
            Config::default(),
            TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
        );
        let strategy = json_value();
        for _ in 0..24 {
            let value = strategy
                .new_tree(&mut runner)
                .unwrap_or_else(|e| self.fail("arbitrary_values_round_trip", e))
                .current();
            let put = value.clone();
            b.request(move |s| s.put("value", put))
                .await
                .unwrap_or_else(|e| self.fail("arbitrary_values_round_trip", e));
            let back = b
                .request(|s| s.get("value"))
                .await
                .unwrap_or_else(|e| self.fail("arbitrary_values_round_trip", e));
            let expected = (!value.is_null()).then_some(value);
            if back != expected {
                self.fail(
                    "arbitrary_values_round_trip",
                    format!("wrote {expected:?}, read {back:?}"),
                );
            }
        }
    }

    async fn fresh_visitor_gets_an_id_but_costs_no_storage(&self) {
        let case = "fresh_visitor_gets_an_id_but_costs_no_storage";
        let clock = ManualClock::starting_now();
        let mut b = self.browser(&clock);
        let session = b
            .begin()
            .session()
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        if !session.is_fresh() {
            self.fail(case, "a request without cookies must be fresh");
        }
        let key = session.session_id().storage_key();
        b.finish(&session)
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        let cookie_name = b.manager().config().cookie_name().to_owned();
        if !b.cookies().contains_key(&cookie_name) {
            self.fail(case, "the id cookie was not set");
        }
        let stored = self.stored(case, &b, &key).await;
        if stored.is_some() {
            self.fail(case, "an empty session was stored");
        }
    }

    async fn untouched_request_slides_the_idle_expiry(&self) {
        let case = "untouched_request_slides_the_idle_expiry";
        let clock = ManualClock::starting_now();
        let mut b = self.browser(&clock);
        b.request(|s| s.put("n", 1))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        for _ in 0..3 {
            clock.advance(IDLE * 6 / 10);
            b.untouched_request()
                .await
                .unwrap_or_else(|e| self.fail(case, e));
        }
        clock.advance(IDLE * 6 / 10);
        let n = b
            .request(|s| s.get("n"))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        if n != Some(json!(1)) {
            self.fail(
                case,
                "the session expired although it was used within its idle age",
            );
        }
    }

    async fn unmodified_request_slides_the_idle_expiry(&self) {
        let case = "unmodified_request_slides_the_idle_expiry";
        let clock = ManualClock::starting_now();
        let mut b = self.browser(&clock);
        b.request(|s| s.put("n", 1))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        for _ in 0..3 {
            clock.advance(IDLE * 6 / 10);
            let n = b
                .request(|s| s.get("n"))
                .await
                .unwrap_or_else(|e| self.fail(case, e));
            if n != Some(json!(1)) {
                self.fail(
                    case,
                    "the session expired although it was read within its idle age",
                );
            }
        }
    }

    async fn idle_expiry(&self) {
        let case = "idle_expiry";
        let clock = ManualClock::starting_now();
        let mut b = self.browser(&clock);
        b.request(|s| s.put("n", 1))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        clock.advance(IDLE + Duration::from_secs(1));
        let (fresh, n) = b
            .request(|s| Ok((s.is_fresh(), s.get_value("n")?)))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        if !fresh || n.is_some() {
            self.fail(case, "an idle-expired session was still served");
        }
    }

    async fn absolute_expiry(&self) {
        let case = "absolute_expiry";
        let clock = ManualClock::starting_now();
        let mut b = Browser::new(
            self.manager(
                SessionConfig::new()
                    .with_age(IDLE)
                    .with_absolute_age(IDLE * 2),
                &clock,
            ),
        );
        b.request(|s| s.put("n", 1))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        clock.advance(IDLE / 2);
        for _ in 0..3 {
            let n = b
                .request(|s| s.increment("n"))
                .await
                .unwrap_or_else(|e| self.fail(case, e));
            if n == json!(1) {
                self.fail(case, "the session ended before its absolute age");
            }
            clock.advance(IDLE / 2);
        }
        clock.advance(IDLE / 2 + Duration::from_secs(1));
        let n = b
            .request(|s| s.get_value("n"))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        if n.is_some() {
            self.fail(case, "an active session outlived its absolute age");
        }
    }

    async fn clearing_destroys_the_record(&self) {
        let case = "clearing_destroys_the_record";
        let clock = ManualClock::starting_now();
        let mut b = self.browser(&clock);
        let old_id = b
            .request(|s| {
                s.put("user", json!({"id": 7}))?;
                Ok(s.session_id())
            })
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        let key = old_id.storage_key();
        let before = self.stored(case, &b, &key).await;
        if before.is_none() {
            self.fail(case, "the record was not stored");
        }
        // A copy of the cookies from before the logout.
        let mut replay = b.clone();
        b.request(|s| s.clear())
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        let after = self.stored(case, &b, &key).await;
        if after.is_some() {
            self.fail(case, "the record survived clear()");
        }
        let (id, all) = b
            .request(|s| Ok((s.session_id(), s.all())))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        if id == old_id || !all.is_empty() {
            self.fail(
                case,
                "the next request kept the cleared session's id or data",
            );
        }
        // A client-side store cannot revoke what a browser kept: only a server-side one forgets.
        if matches!(b.manager().driver(), Driver::Server(_)) {
            let fresh = replay
                .request(|s| Ok(s.is_fresh()))
                .await
                .unwrap_or_else(|e| self.fail(case, e));
            if !fresh {
                self.fail(
                    case,
                    "the cleared session's cookie, replayed, did not give a fresh session",
                );
            }
        }
    }

    async fn regenerate_keeps_data_and_retires_the_old_id(&self) {
        let case = "regenerate_keeps_data_and_retires_the_old_id";
        let clock = ManualClock::starting_now();
        let mut b = self.browser(&clock);
        let old_id = b
            .request(|s| {
                s.put("cart", json!([1, 2]))?;
                Ok(s.session_id())
            })
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        let stolen = b.clone();
        let new_id = b
            .request(|s| {
                s.regenerate()?;
                if !s.is_fresh() {
                    return Ok(None);
                }
                s.put("user", 1)?;
                Ok(Some(s.session_id()))
            })
            .await
            .unwrap_or_else(|e| self.fail(case, e))
            .unwrap_or_else(|| self.fail(case, "a regenerated session must be fresh"));
        if new_id == old_id {
            self.fail(case, "the id did not change");
        }
        let all = b
            .request(|s| Ok((s.session_id(), s.all())))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        if all.0 != new_id || Value::Object(all.1) != json!({"cart": [1, 2], "user": 1}) {
            self.fail(case, "the data did not follow the new id");
        }
        let mut stolen = stolen;
        let (fresh, cart) = stolen
            .request(|s| Ok((s.is_fresh(), s.get_value("cart")?)))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        if !fresh || cart.is_some() {
            self.fail(case, "the old id still opened the session");
        }
    }

    async fn flash_messages_live_for_one_request(&self) {
        let case = "flash_messages_live_for_one_request";
        let clock = ManualClock::starting_now();
        let mut b = self.browser(&clock);
        b.request(|s| s.flash("message", "Hello world"))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        let seen = b
            .request(|s| s.flash_messages().get_value("message"))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        if seen != Some(json!("Hello world")) {
            self.fail(case, format!("second request saw {seen:?}"));
        }
        let again = b
            .request(|s| Ok(s.flash_messages().is_empty()))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        if !again {
            self.fail(case, "the message was shown twice");
        }
    }

    async fn flash_messages_survive_untouched_requests(&self) {
        let case = "flash_messages_survive_untouched_requests";
        let clock = ManualClock::starting_now();
        let mut b = self.browser(&clock);
        b.request(|s| s.flash("notice", 0))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        b.untouched_request()
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        let seen = b
            .request(|s| s.flash_messages().get_value("notice"))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        if seen != Some(json!(0)) {
            self.fail(case, format!("after an untouched request saw {seen:?}"));
        }
    }

    async fn readonly_requests_change_nothing(&self) {
        let case = "readonly_requests_change_nothing";
        let clock = ManualClock::starting_now();
        let mut b = self.browser(&clock);
        b.request(|s| {
            s.put("n", 1)?;
            s.flash("m", "x")
        })
        .await
        .unwrap_or_else(|e| self.fail(case, e));
        let request = b.begin();
        let seen = request
            .reader()
            .await
            .unwrap_or_else(|e| self.fail(case, e))
            .flash_messages();
        if !matches!(request.session().await, Err(session_core::Error::Readonly)) {
            self.fail(case, "a request opened readonly gave a writable session");
        }
        request
            .commit()
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        if !request.context().response_cookies().is_empty() {
            self.fail(case, "a readonly request set cookies");
        }
        if seen.get_value("m").ok().flatten() != Some(json!("x")) {
            self.fail(case, "readonly requests must see flash messages");
        }
        let still = b
            .request(|s| s.flash_messages().get_value("m"))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        if still != Some(json!("x")) {
            self.fail(case, "a readonly request consumed the flash messages");
        }
    }

    async fn tampered_and_foreign_cookies_give_fresh_sessions(&self) {
        let case = "tampered_and_foreign_cookies_give_fresh_sessions";
        let clock = ManualClock::starting_now();
        let mut b = self.browser(&clock);
        b.request(|s| s.put("secret", "s3"))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        let name = b.manager().config().cookie_name().to_owned();
        let original = b.cookies().get(&name).cloned().unwrap_or_default();
        let mut variants = vec![
            String::new(),
            "garbage".to_owned(),
            "a".repeat(100_000),
            format!("{}x", original),
            SessionId::generate().expose().to_owned(),
        ];
        if let Some(first) = original.chars().next() {
            let flipped = if first == 'A' { 'B' } else { 'A' };
            variants.push(format!("{flipped}{}", &original[first.len_utf8()..]));
        }
        for v in variants {
            let mut t = b.clone();
            t.set_cookie(&name, &v);
            let (fresh, secret) = t
                .request(|s| Ok((s.is_fresh(), s.get_value("secret")?)))
                .await
                .unwrap_or_else(|e| self.fail(case, e));
            if !fresh || secret.is_some() {
                self.fail(case, "a tampered cookie opened a session");
            }
        }
        // A cookie signed with another key does not open the session either.
        let other = ManualClock::starting_now();
        let foreign = (self.make)(
            SessionConfig::new()
                .with_age(IDLE)
                .with_key("a completely different secret key!!!!!"),
            other,
        );
        let mut f = Browser::new(foreign);
        for (k, v) in b.cookies() {
            f.set_cookie(k, v);
        }
        let fresh = f
            .request(|s| Ok(s.is_fresh()))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        if !fresh {
            self.fail(case, "a cookie signed with another key opened a session");
        }
    }

    // ----- tagging ---------------------------------------------------------------------------

    /// One manager shared by several browsers (devices of one user), and a tag no other test
    /// uses, for stores shared between tests.
    fn devices(&self, clock: &ManualClock) -> (SessionManager, String) {
        let manager = self.manager(SessionConfig::new().with_age(IDLE), clock);
        let tag = format!("user-{}", SessionId::generate().storage_key().short());
        (manager, tag)
    }

    /// What the driver supports of tagging, checking the typed errors of what it does not.
    async fn tagging(&self, case: &str, manager: &SessionManager) -> Tagging {
        let support = match (manager.driver(), manager.supports_tagging()) {
            (Driver::Server(_), true) => Tagging::Listing,
            (Driver::Client(_), true) => Tagging::LogOutOnly,
            (_, false) => Tagging::None,
        };
        let not_supported = |result: Result<(), Error>, what: &str| {
            match result {
            Err(Error::TaggingNotSupported { .. }) => {}
            other => self.fail(
                case,
                format!("{what} on a driver that does not support it answered {other:?}, not Error::TaggingNotSupported"),
            ),
        }
        };
        let key = SessionId::generate().storage_key();
        if support != Tagging::Listing {
            not_supported(
                manager.tagged_sessions("t").await.map(drop),
                "listing a tag",
            );
            not_supported(
                manager.tagged_session("t", &key).await.map(drop),
                "reading a tagged session",
            );
            not_supported(
                manager.destroy_tagged_session("t", &key).await.map(drop),
                "destroying one session",
            );
        }
        if support == Tagging::None {
            let mut b = Browser::new(manager.clone());
            not_supported(b.request(|s| s.tag("t")).await, "Session::tag");
            not_supported(
                manager.destroy_tagged_sessions("t", None).await.map(drop),
                "logging a tag out",
            );
        }
        support
    }

    /// A login: an anonymous request that stores `agent`, then one that regenerates and tags.
    /// Returns the handle after the login and the one before.
    async fn log_in(
        &self,
        case: &str,
        b: &mut Browser,
        tag: &str,
        agent: &str,
    ) -> (StorageKey, StorageKey) {
        let before = b
            .request(|s| {
                s.put("agent", agent)?;
                Ok(s.handle())
            })
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        let after = b
            .request(|s| {
                s.regenerate()?;
                s.tag(tag)?;
                Ok(s.handle())
            })
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        (after, before)
    }

    /// The handles listed for `tag`, sorted.
    async fn listed(&self, case: &str, manager: &SessionManager, tag: &str) -> Vec<StorageKey> {
        let mut handles: Vec<StorageKey> = manager
            .tagged_sessions(tag)
            .await
            .unwrap_or_else(|e| self.fail(case, e))
            .into_iter()
            .map(|s| s.handle)
            .collect();
        handles.sort();
        handles
    }

    async fn tagged_sessions_are_listed(&self) {
        let case = "tagged_sessions_are_listed";
        let clock = ManualClock::starting_now();
        let (manager, tag) = self.devices(&clock);
        if self.tagging(case, &manager).await != Tagging::Listing {
            return;
        }
        let other = format!("{tag}-other");
        let (mut phone, mut laptop, mut stranger, mut visitor) = (
            Browser::new(manager.clone()),
            Browser::new(manager.clone()),
            Browser::new(manager.clone()),
            Browser::new(manager.clone()),
        );
        let (p, p_before) = self.log_in(case, &mut phone, &tag, "phone").await;
        clock.advance(Duration::from_secs(5));
        let (l, _) = self.log_in(case, &mut laptop, &tag, "laptop").await;
        let (s, _) = self.log_in(case, &mut stranger, &other, "stranger").await;
        visitor
            .request(|s| s.put("agent", "visitor"))
            .await
            .unwrap_or_else(|e| self.fail(case, e));

        let listed = manager
            .tagged_sessions(&tag)
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        let handles: Vec<&StorageKey> = listed.iter().map(|s| &s.handle).collect();
        // The most recently active first: the laptop logged in 5 s after the phone.
        if handles != [&l, &p] {
            self.fail(case, format!("listed {handles:?} for a tag whose sessions are [{l:?}, {p:?}] (the phone's key before login: {p_before:?})"));
        }
        let now = clock.now();
        for (session, agent) in listed.iter().zip(["laptop", "phone"]) {
            let values = Value::Object(session.values.clone());
            if values != json!({ "agent": agent }) {
                self.fail(
                    case,
                    format!("the listed {agent} has values {values}, expected only its own"),
                );
            }
            if !(session.created_at <= session.tagged_at
                && session.tagged_at <= session.last_active
                && session.last_active <= now
                && session.expires_at > now)
            {
                self.fail(
                    case,
                    format!("the listed {agent} has times out of order: {session:?} at {now}"),
                );
            }
        }
        if self.listed(case, &manager, &other).await != [s.clone()] {
            self.fail(case, "the other tag's listing is not its one session");
        }
        let read = |tag: String, handle: StorageKey| {
            let manager = manager.clone();
            async move { manager.tagged_session(&tag, &handle).await }
        };
        match read(tag.clone(), p.clone()).await {
            Ok(Some(session)) if session.get::<String>("agent").as_deref() == Some("phone") => {}
            other => self.fail(case, format!("the phone's handle read back as {other:?}")),
        }
        for (t, h, what) in [
            (other.clone(), p.clone(), "a handle under another tag"),
            (tag.clone(), s, "another tag's handle"),
            (tag.clone(), p_before, "the key from before the login"),
        ] {
            match read(t, h).await {
                Ok(None) => {}
                found => self.fail(
                    case,
                    format!("{what} read back as {found:?}, expected none"),
                ),
            }
        }
    }

    async fn ended_sessions_are_never_listed(&self) {
        let case = "ended_sessions_are_never_listed";
        let clock = ManualClock::starting_now();
        let (manager, tag) = self.devices(&clock);
        if self.tagging(case, &manager).await != Tagging::Listing {
            return;
        }
        let Driver::Server(store) = manager.driver().clone() else {
            self.fail(case, "a listing driver is server-side");
        };
        let mut devices = Vec::new();
        for agent in ["logged out", "untagged", "retagged", "destroyed"] {
            let mut b = Browser::new(manager.clone());
            let (handle, _) = self.log_in(case, &mut b, &tag, agent).await;
            devices.push((b, handle));
        }
        // One more, written directly to expire in 300 ms.
        let now = clock.now();
        let expiring = SessionId::generate().storage_key();
        let mut record = Self::record(1, now, now, now + 300, 1);
        record
            .data
            .insert(TAG_KEY.to_owned(), json!({ "value": tag, "at": now }));
        store
            .write(&expiring, &record, None)
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        let mut all = self.listed(case, &manager, &tag).await;
        let mut expected: Vec<StorageKey> = devices.iter().map(|(_, h)| h.clone()).collect();
        expected.push(expiring);
        expected.sort();
        if all != expected {
            self.fail(
                case,
                format!("before anything ended, listed {all:?}, expected {expected:?}"),
            );
        }

        let [(logged_out, _), (untagged, _), (retagged, _), (_, destroyed)] = &mut devices[..]
        else {
            unreachable!("four devices");
        };
        logged_out
            .request(|s| s.flush())
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        untagged
            .request(|s| s.untag())
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        let elsewhere = format!("{tag}-elsewhere");
        retagged
            .request(|s| s.tag(&elsewhere))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        let version = store
            .read(destroyed)
            .await
            .unwrap_or_else(|e| self.fail(case, e))
            .map(|r| r.version)
            .unwrap_or_else(|| self.fail(case, "the session to destroy is not stored"));
        store
            .destroy(destroyed, version)
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        clock.advance(Duration::from_millis(600));
        tokio::time::sleep(Duration::from_millis(600)).await;

        for attempt in ["first", "second"] {
            all = self.listed(case, &manager, &tag).await;
            if !all.is_empty() {
                self.fail(
                    case,
                    format!("the {attempt} listing after every session ended still shows {all:?}"),
                );
            }
        }
        if self.listed(case, &manager, &elsewhere).await.len() != 1 {
            self.fail(case, "the retagged session is not listed under its new tag");
        }
        let mut late = Browser::new(manager.clone());
        let (handle, _) = self.log_in(case, &mut late, &tag, "late").await;
        if self.listed(case, &manager, &tag).await != [handle] {
            self.fail(case, "a login after the others ended is not listed alone");
        }
    }

    async fn one_tagged_session_is_destroyed(&self) {
        let case = "one_tagged_session_is_destroyed";
        let clock = ManualClock::starting_now();
        let (manager, tag) = self.devices(&clock);
        if self.tagging(case, &manager).await != Tagging::Listing {
            return;
        }
        let (mut phone, mut laptop) =
            (Browser::new(manager.clone()), Browser::new(manager.clone()));
        let (p, _) = self.log_in(case, &mut phone, &tag, "phone").await;
        let (l, _) = self.log_in(case, &mut laptop, &tag, "laptop").await;
        let destroy = |tag: String, handle: StorageKey| {
            let manager = manager.clone();
            async move { manager.destroy_tagged_session(&tag, &handle).await }
        };
        match destroy(format!("{tag}-other"), l.clone()).await {
            Ok(false) => {}
            other => self.fail(
                case,
                format!("destroying under another tag answered {other:?}, expected Ok(false)"),
            ),
        }
        match destroy(tag.clone(), l.clone()).await {
            Ok(true) => {}
            other => self.fail(
                case,
                format!("destroying the laptop answered {other:?}, expected Ok(true)"),
            ),
        }
        match destroy(tag.clone(), l).await {
            Ok(false) => {}
            other => self.fail(
                case,
                format!("destroying it again answered {other:?}, expected Ok(false)"),
            ),
        }
        let (fresh, agent) = laptop
            .request(|s| Ok((s.is_fresh(), s.get::<String>("agent")?)))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        if !fresh || agent.is_some() {
            self.fail(
                case,
                "the destroyed session's next request was not a fresh session",
            );
        }
        let (fresh, agent) = phone
            .request(|s| Ok((s.is_fresh(), s.get::<String>("agent")?)))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        if fresh || agent.as_deref() != Some("phone") {
            self.fail(case, "the other session of the tag lost its data");
        }
        if self.listed(case, &manager, &tag).await != [p] {
            self.fail(
                case,
                "the listing after destroying one session is not the other",
            );
        }
    }

    async fn log_out_everywhere_else(&self) {
        let case = "log_out_everywhere_else";
        let clock = ManualClock::starting_now();
        let (manager, tag) = self.devices(&clock);
        let support = self.tagging(case, &manager).await;
        if support == Tagging::None {
            return;
        }
        let other = format!("{tag}-other");
        let mut devices: Vec<Browser> = (0..4).map(|_| Browser::new(manager.clone())).collect();
        for (i, b) in devices.iter_mut().enumerate() {
            let tag = if i < 3 { &tag } else { &other };
            self.log_in(case, b, tag, &format!("device {i}")).await;
        }
        let mut anonymous = Browser::new(manager.clone());
        anonymous
            .request(|s| s.put("agent", "anonymous"))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        // The log-out comes later than the logins (a client-side driver compares times).
        clock.advance(Duration::from_secs(1));

        let request = devices[0].begin();
        let session = request
            .session()
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        let destroyed = session
            .destroy_other_sessions()
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        // A password change: log out the others, then a new id for this one.
        session.regenerate().unwrap_or_else(|e| self.fail(case, e));
        devices[0]
            .finish(&session)
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        let expected = if support == Tagging::Listing {
            Some(2)
        } else {
            None
        };
        if destroyed != expected {
            self.fail(
                case,
                format!("destroy_other_sessions answered {destroyed:?}, expected {expected:?}"),
            );
        }
        // A login made after the log-out, from a session created before it.
        clock.advance(Duration::from_secs(1));
        self.log_in(case, &mut anonymous, &tag, "anonymous").await;

        let mut logged_in = Vec::new();
        for b in devices.iter_mut().chain([&mut anonymous]) {
            let agent = b
                .request(|s| s.get::<String>("agent"))
                .await
                .unwrap_or_else(|e| self.fail(case, e));
            logged_in.push(agent.is_some());
        }
        if logged_in != [true, false, false, true, true] {
            self.fail(case, format!("after logging out everywhere else from device 0, logged in are {logged_in:?} of devices 0-2 (the tag), 3 (another tag) and a later login; expected [true, false, false, true, true]"));
        }
        // The kept session can still regenerate (a privilege change) and stay logged in.
        clock.advance(Duration::from_secs(1));
        devices[0]
            .request(|s| s.regenerate())
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        let kept = devices[0]
            .request(|s| s.get::<String>("agent"))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        if kept.as_deref() != Some("device 0") {
            self.fail(case, "the kept session lost its login when it regenerated");
        }

        // Logging out everywhere ends the kept session and the later login too.
        clock.advance(Duration::from_secs(1));
        manager
            .destroy_tagged_sessions(&tag, None)
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        for (b, what) in [
            (&mut devices[0], "the kept session"),
            (&mut anonymous, "the later login"),
        ] {
            let agent = b
                .request(|s| s.get::<String>("agent"))
                .await
                .unwrap_or_else(|e| self.fail(case, e));
            if agent.is_some() {
                self.fail(case, format!("{what} survived logging out everywhere"));
            }
        }
        let agent = devices[3]
            .request(|s| s.get::<String>("agent"))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        if agent.as_deref() != Some("device 3") {
            self.fail(case, "another tag's session was logged out");
        }
    }

    /// What storage holds for `key`, read without the core: a server-side store's `read`, or
    /// what a client-side store finds in the browser's cookies.
    async fn stored(&self, case: &str, b: &Browser, key: &StorageKey) -> Option<Record> {
        match b.manager().driver() {
            Driver::Server(store) => store.read(key).await.unwrap_or_else(|e| self.fail(case, e)),
            Driver::Client(store) => store.read(&b.context(), key),
        }
    }

    /// Writes `record` without the core, on a server-side store at `expected`; on a client-side
    /// one, `cx` becomes the next request's cookies.
    async fn put(
        &self,
        case: &str,
        b: &Browser,
        cx: &mut SessionContext,
        key: &StorageKey,
        record: &Record,
        expected: Option<u64>,
    ) -> Result<WriteOutcome, DriverError> {
        match b.manager().driver() {
            Driver::Server(store) => store.write(key, record, expected).await,
            Driver::Client(store) => {
                let header = crate::cookie_header(&store.write(cx, key, record)?);
                if header.is_empty() {
                    self.fail(case, "the client-side store set no cookie for a record");
                }
                *cx = b.manager().context([header.as_str()]);
                Ok(WriteOutcome::Written)
            }
        }
    }

    /// Reads `key` without the core, from `cx`'s cookies for a client-side store.
    async fn get(
        &self,
        case: &str,
        b: &Browser,
        cx: &SessionContext,
        key: &StorageKey,
    ) -> Option<Record> {
        match b.manager().driver() {
            Driver::Server(store) => store.read(key).await.unwrap_or_else(|e| self.fail(case, e)),
            Driver::Client(store) => store.read(cx, key),
        }
    }

    /// The server-side store under test, for the cases that only such a store has.
    fn server(&self, case: &str, b: &Browser) -> Arc<dyn SessionStore> {
        match b.manager().driver() {
            Driver::Server(store) => store.clone(),
            Driver::Client(_) => self.fail(case, "a server-side case ran on a client-side store"),
        }
    }

    /// A record holding `{"n": n}`, created and last active at the given times, expiring at
    /// `expires_at`, at `version`.
    fn record(n: u64, created_at: u64, last_active: u64, expires_at: u64, version: u64) -> Record {
        let mut data = Map::new();
        data.insert("n".to_owned(), json!(n));
        let mut record = Record::new(data, created_at, expires_at);
        record.last_active = last_active;
        record.version = version;
        record
    }

    async fn read_never_returns_an_expired_record(&self) {
        let case = "read_never_returns_an_expired_record";
        let clock = ManualClock::starting_now();
        let b = self.browser(&clock);
        let now = clock.now();
        for (what, record) in [
            (
                "a live record",
                Self::record(1, now - 1_000, now - 1_000, now + 60_000, 1),
            ),
            (
                "a record whose expires_at has passed",
                Self::record(2, now - 60_000, now - 1_000, now - 1_000, 1),
            ),
            (
                "a record expiring now",
                Self::record(3, now - 60_000, now - 1_000, now, 1),
            ),
        ] {
            let key = SessionId::generate().storage_key();
            let mut cx = b.context();
            self.put(case, &b, &mut cx, &key, &record, None)
                .await
                .unwrap_or_else(|e| self.fail(case, format!("writing {what}: {e}")));
            let read = self.get(case, &b, &cx, &key).await;
            let live = record.data["n"] == json!(1);
            match (live, read) {
                (true, Some(r)) if r.data == record.data => {}
                (true, other) => self.fail(case, format!("{what} read back as {other:?}")),
                (false, None) => {}
                (false, Some(_)) => self.fail(
                    case,
                    format!("the driver's read returned {what}; it must read as no session"),
                ),
            }
        }
    }

    async fn refresh_never_revives_an_expired_record(&self) {
        let case = "refresh_never_revives_an_expired_record";
        let clock = ManualClock::starting_now();
        let b = self.browser(&clock);
        let store = self.server(case, &b);
        let now = clock.now();
        // A live record's expiry slides.
        let key = SessionId::generate().storage_key();
        store
            .write(&key, &Self::record(1, now, now, now + 60_000, 1), None)
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        store
            .refresh(&key, now + 1_000, now + 120_000)
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        match store
            .read(&key)
            .await
            .unwrap_or_else(|e| self.fail(case, e))
        {
            Some(r)
                if (r.last_active, r.expires_at, r.version) == (now + 1_000, now + 120_000, 1) => {}
            other => self.fail(
                case,
                format!("a refreshed live record read back as {other:?}"),
            ),
        }
        // An expired one stays expired. The record expires 300 ms from now; both the suite's
        // clock and real time move past that, for stores that keep their own time.
        let key = SessionId::generate().storage_key();
        store
            .write(&key, &Self::record(2, now, now, now + 300, 1), None)
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        clock.advance(Duration::from_millis(600));
        tokio::time::sleep(Duration::from_millis(600)).await;
        let later = clock.now();
        store
            .refresh(&key, later, later + 60_000)
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        if let Some(r) = store
            .read(&key)
            .await
            .unwrap_or_else(|e| self.fail(case, e))
        {
            self.fail(
                case,
                format!("a refresh after expiry brought the record back: {r:?}"),
            );
        }
    }

    async fn write_stores_the_record_as_given(&self) {
        let case = "write_stores_the_record_as_given";
        let clock = ManualClock::starting_now();
        let b = self.browser(&clock);
        let key = SessionId::generate().storage_key();
        let now = clock.now();
        let mut cx = b.context();
        let mut expected = None;
        for record in [
            Self::record(7, now - 5_000, now - 2_000, now + 50_000, 7),
            Self::record(8, now - 5_000, now, now + 60_000, 8),
        ] {
            self.put(case, &b, &mut cx, &key, &record, expected)
                .await
                .unwrap_or_else(|e| self.fail(case, e));
            expected = Some(record.version);
            let read = self.get(case, &b, &cx, &key).await;
            if read.as_ref() != Some(&record) {
                self.fail(case, format!("wrote {record:?}, read back {read:?}"));
            }
        }
    }

    async fn refresh_and_destroy_of_a_missing_record_change_nothing(&self) {
        let case = "refresh_and_destroy_of_a_missing_record_change_nothing";
        let clock = ManualClock::starting_now();
        let b = self.browser(&clock);
        let store = self.server(case, &b);
        let key = SessionId::generate().storage_key();
        let now = clock.now();
        store
            .refresh(&key, now, now + 60_000)
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        if store
            .read(&key)
            .await
            .unwrap_or_else(|e| self.fail(case, e))
            .is_some()
        {
            self.fail(case, "refresh created a record");
        }
        store
            .destroy(&key, 1)
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        if store
            .read(&key)
            .await
            .unwrap_or_else(|e| self.fail(case, e))
            .is_some()
        {
            self.fail(case, "destroy created a record");
        }
    }

    async fn no_resurrection_after_destroy(&self) {
        let case = "no_resurrection_after_destroy";
        let clock = ManualClock::starting_now();
        let mut b = self.browser(&clock);
        b.request(|s| s.put("user", 1))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        // A slow request reads the session …
        let slow = b
            .begin()
            .session()
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        let key = slow.session_id().storage_key();
        // … a logout destroys it meanwhile …
        let mut logout = b.clone();
        logout
            .request(|s| s.clear())
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        // … and the slow request finishes with a write.
        slow.put("cart", 3).unwrap_or_else(|e| self.fail(case, e));
        slow.commit().await.unwrap_or_else(|e| self.fail(case, e));
        let stored = self.stored(case, &b, &key).await;
        if stored.is_some() {
            self.fail(case, "the destroyed session was written back");
        }
        b.absorb(slow.context());
        let (id, all) = b
            .request(|s| Ok((s.session_id(), s.all())))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        if id.storage_key() == key || !all.is_empty() {
            self.fail(
                case,
                "the slow request's cookie opened a resurrected session",
            );
        }
    }

    async fn concurrent_increments_are_all_counted(&self) {
        let case = "concurrent_increments_are_all_counted";
        let clock = ManualClock::starting_now();
        let mut b = self.browser(&clock);
        b.request(|s| s.put("n", 0))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        for result in b.increment_concurrently("n", 200).await {
            result.unwrap_or_else(|e| self.fail(case, e));
        }
        let n = b
            .request(|s| s.get("n"))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        if n != Some(json!(200)) {
            self.fail(case, format!("200 concurrent increments ended at {n:?}"));
        }
    }

    async fn concurrent_writes_to_different_keys_all_survive(&self) {
        let case = "concurrent_writes_to_different_keys_all_survive";
        let clock = ManualClock::starting_now();
        let mut b = self.browser(&clock);
        b.request(|s| s.put("start", true))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        let mut tasks = Vec::new();
        for i in 0..50 {
            let b = b.clone();
            tasks.push(tokio::spawn(async move {
                let s = b.begin().session().await?;
                s.put(&format!("keys.k{i}"), i)?;
                s.commit().await
            }));
        }
        for t in tasks {
            t.await
                .unwrap_or_else(|e| self.fail(case, e))
                .unwrap_or_else(|e| self.fail(case, e));
        }
        let keys = b
            .request(|s| s.get("keys"))
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        let count = keys.as_ref().and_then(Value::as_object).map_or(0, Map::len);
        if count != 50 {
            self.fail(case, format!("{count} of 50 concurrent writes survived"));
        }
    }

    async fn conditional_write_follows_the_contract(&self) {
        let case = "conditional_write_follows_the_contract";
        let clock = ManualClock::starting_now();
        let b = self.browser(&clock);
        let store = self.server(case, &b);
        let key = SessionId::generate().storage_key();
        let now = clock.now();
        let record = Self::record(1, now, now, now + 60_000, 1);
        let next = Self::record(2, now, now, now + 60_000, 2);
        let check = |got: Result<WriteOutcome, DriverError>, want, what: &str| match got {
            Ok(o) if o == want => {}
            other => self.fail(case, format!("{what}: expected {want:?}, got {other:?}")),
        };
        check(
            store.write(&key, &record, Some(1)).await,
            WriteOutcome::Gone,
            "a version expected on a missing record",
        );
        check(
            store.write(&key, &record, None).await,
            WriteOutcome::Written,
            "a new record",
        );
        check(
            store.write(&key, &record, None).await,
            WriteOutcome::Conflict,
            "no record expected where one exists",
        );
        check(
            store.write(&key, &next, Some(7)).await,
            WriteOutcome::Conflict,
            "a stale version",
        );
        check(
            store.write(&key, &next, Some(1)).await,
            WriteOutcome::Written,
            "the current version",
        );
        let stored = store
            .read(&key)
            .await
            .unwrap_or_else(|e| self.fail(case, e));
        if stored.as_ref() != Some(&next) {
            self.fail(case, format!("read back {stored:?}"));
        }
        check(
            store.destroy(&key, 5).await,
            WriteOutcome::Conflict,
            "destroy at a stale version",
        );
        check(
            store.destroy(&key, 2).await,
            WriteOutcome::Written,
            "destroy at the current version",
        );
        if store
            .read(&key)
            .await
            .unwrap_or_else(|e| self.fail(case, e))
            .is_some()
        {
            self.fail(case, "destroy left the record in place");
        }
        check(
            store.write(&key, &next, Some(2)).await,
            WriteOutcome::Gone,
            "a destroyed record",
        );
        check(
            store.destroy(&key, 2).await,
            WriteOutcome::Gone,
            "destroy of a missing record",
        );
        // An expired record counts as none: a new session may take its key.
        let expired = Self::record(3, now - 60_000, now - 60_000, now - 1_000, 4);
        check(
            store.write(&key, &expired, None).await,
            WriteOutcome::Written,
            "a record written again",
        );
        check(
            store.write(&key, &record, None).await,
            WriteOutcome::Written,
            "a new record over an expired one",
        );
        check(
            store.destroy(&key, 1).await,
            WriteOutcome::Written,
            "destroy of the new record",
        );
    }
}

/// JSON values of every type; floats of any finite value (non-finite ones serialize as `null`).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z0-9_ .\\[\\]-]{1,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

trait ClockExt {
    fn now(&self) -> u64;
}

impl ClockExt for ManualClock {
    fn now(&self) -> u64 {
        session_core::Clock::now_ms(self)
    }
}
