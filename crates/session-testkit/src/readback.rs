//! Every record a commit writes can be read back by the driver that wrote it.
//!
//! [`operations`] generates requests of store and flash operations with arbitrary paths and
//! values, some of them at the [`Limits`](session_core::Limits) and some past them (those are
//! refused and change nothing). [`check`] runs one such request against the driver under test
//! and against a reference memory driver (which keeps records as values, with no encoding), commits both,
//! and reads both back in a second request: the values and the flash messages must be equal.
//! A driver whose encoder writes something its decoder cannot read (a value nested past the
//! decoder's recursion limit, a float that does not survive the round trip, a control character
//! that the encoding mangles) fails with the operations that showed it.
//!
//! ```
//! use session_core::{SessionConfig, SessionManager};
//! use session_testkit::readback;
//!
//! let manager = SessionManager::builder(
//!     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
//! )
//! .build()
//! .unwrap();
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! readback::run(&runtime, &manager, 16);
//! ```

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value};
use session_core::{Error, ErrorKind, SessionConfig, SessionManager};

use crate::Browser;

/// One operation of a generated request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Operation {
    /// `put(path, value)`.
    Put(String, Value),
    /// `increment_by(path, step)`.
    Increment(String, i64),
    /// `forget(path)`.
    Forget(String),
    /// `flash(path, value)`.
    Flash(String, Value),
    /// `flash_all(input)`, with form keys such as `user[name]`.
    FlashInput(Map<String, Value>),
}

/// Requests of 1 to 12 operations.
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
///
/// let ops = session_testkit::readback::operations()
///     .new_tree(&mut TestRunner::default())
///     .unwrap()
///     .current();
/// assert!(!ops.is_empty());
/// ```
pub fn operations() -> impl Strategy<Value = Vec<Operation>> {
    prop::collection::vec(operation(), 1..12)
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        4 => (path(), value()).prop_map(|(p, v)| Operation::Put(p, v)),
        1 => (path(), any::<i64>()).prop_map(|(p, n)| Operation::Increment(p, n)),
        1 => path().prop_map(Operation::Forget),
        2 => (path(), value()).prop_map(|(p, v)| Operation::Flash(p, v)),
        1 => prop::collection::vec((form_key(), value()), 0..6)
            .prop_map(|fields| Operation::FlashInput(fields.into_iter().collect())),
    ]
}

/// A path segment: plain names, array indexes, any characters but the path syntax, and names
/// around the default 256-byte segment limit.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-z_]{1,8}",
        2 => "[0-9]{1,2}",
        2 => "[^.\\[\\]]{1,12}",
        1 => "[a-z]{250,260}",
    ]
}

/// Dot paths of 1 to 34 segments (the default limit is 32); mostly short.
fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::collection::vec(segment(), 1..4),
        1 => prop::collection::vec(segment(), 28..35),
    ]
    .prop_map(|segments| segments.join("."))
}

/// Form keys: `name`, `a[b][c]`, sometimes deeper than the limits.
fn form_key() -> impl Strategy<Value = String> {
    ("[a-z]{1,6}", prop_oneof![4 => 0usize..4, 1 => 30usize..36]).prop_map(|(name, depth)| {
        let mut key = name;
        for i in 0..depth {
            key.push_str(&format!("[k{i}]"));
        }
        key
    })
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Not finite: `serde_json` turns it into null, on both sides alike.
        any::<f64>().prop_map(Value::from),
        ".{0,24}".prop_map(Value::from),
    ]
}

/// Values of any shape: small trees, and towers nested up to 40 levels (past the default
/// depth limit of 32).
fn value() -> impl Strategy<Value = Value> {
    let tree = leaf().prop_recursive(5, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(("[^\\x00]{0,8}", inner), 0..5)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    });
    let tower = (leaf(), 0usize..41, any::<bool>()).prop_map(|(mut value, levels, arrays)| {
        for _ in 0..levels {
            value = if arrays {
                Value::Array(vec![value])
            } else {
                let mut map = Map::new();
                map.insert("t".to_owned(), value);
                Value::Object(map)
            };
        }
        value
    });
    prop_oneof![4 => tree, 1 => tower]
}

/// Applies `op` to an initiated session; a refused operation changes nothing, so its error is
/// dropped.
///
/// ```
/// use session_testkit::readback::{apply, Operation};
///
/// let session = session_core::Session::for_tests();
/// apply(&session, &Operation::Increment("n".into(), 2));
/// assert_eq!(session.get_value("n").unwrap(), Some(serde_json::json!(2)));
/// ```
pub fn apply(session: &session_core::Session, op: &Operation) {
    let _ = match op {
        Operation::Put(path, value) => session.put(path, value),
        Operation::Increment(path, step) => session.increment_by(path, *step).map(|_| ()),
        Operation::Forget(path) => session.forget(path),
        Operation::Flash(path, value) => session.flash(path, value),
        Operation::FlashInput(input) => session.flash_all(input),
    };
}

/// What a second request reads: the values and the flash messages.
async fn read_back(
    manager: &SessionManager,
    ops: &[Operation],
) -> Result<Option<(Value, Value)>, Error> {
    let mut browser = Browser::new(manager.clone());
    let first = browser.begin().session().await?;
    for op in ops {
        apply(&first, op);
    }
    match browser.finish(&first).await {
        Ok(()) => {}
        // A driver with a size cap (the cookie driver) refuses what does not fit: nothing was
        // written, so there is nothing to read back.
        Err(e) if e.kind() == ErrorKind::TooLarge => return Ok(None),
        Err(e) => return Err(e),
    }
    browser
        .request(|s| {
            Ok(Some((
                Value::Object(s.all()),
                Value::Object(s.flash_messages().all().clone()),
            )))
        })
        .await
}

/// Runs `ops` in one request on `manager` and on a reference memory driver with the same
/// limits, and checks that a second request reads the same values and flash messages from
/// both. The error names what differed.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use serde_json::json;
/// use session_core::{SessionConfig, SessionManager};
/// use session_testkit::readback::{check, Operation};
///
/// let manager = SessionManager::builder(
///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
/// )
/// .build()
/// .unwrap();
/// check(&manager, &[Operation::Put("user.name".into(), json!("ada"))]).await.unwrap();
/// # });
/// ```
pub async fn check(manager: &SessionManager, ops: &[Operation]) -> Result<(), String> {
    let reference = SessionManager::builder(
        SessionConfig::new()
            .with_driver("memory")
            .with_key("the reference driver's secret, 32+ bytes")
            .with_limits(*manager.config().limits()),
    )
    .build()
    .map_err(|e| format!("reference manager: {e}"))?;
    let expected = read_back(&reference, ops)
        .await
        .map_err(|e| format!("reference driver: {e}"))?;
    let got = read_back(manager, ops)
        .await
        .map_err(|e| format!("{}: {e}", manager.driver().name()))?;
    match (expected, got) {
        (_, None) => Ok(()),
        (Some(expected), Some(got)) if expected == got => Ok(()),
        (expected, got) => Err(format!(
            "{} read back {got:?}, the reference {expected:?}",
            manager.driver().name()
        )),
    }
}

/// Runs [`check`] on `cases` generated requests ([`operations`]) on `runtime` (the one the
/// manager's driver was built on, for drivers whose connections live on a runtime); panics with
/// the smallest failing request proptest finds.
///
/// ```
/// use session_core::{SessionConfig, SessionManager};
///
/// let manager = SessionManager::builder(
///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
/// )
/// .build()
/// .unwrap();
/// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// session_testkit::readback::run(&runtime, &manager, 8);
/// ```
pub fn run(runtime: &tokio::runtime::Runtime, manager: &SessionManager, cases: u32) {
    TestRunner::new(Config::with_cases(cases))
        .run(&operations(), |ops| {
            runtime
                .block_on(check(manager, &ops))
                .map_err(TestCaseError::fail)
        })
        .unwrap_or_else(|e| panic!("{e}"));
}
