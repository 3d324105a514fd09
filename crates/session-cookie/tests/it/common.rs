//! Helpers shared by the integration tests.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};
use session_cookie::CookieDriverConfig;
use session_core::{
    ClientStore, CookieChange, Driver, DriverError, DriverRegistry, ManualClock, Record,
    SessionConfig, SessionContext, SessionManager, StorageKey,
};

pub(crate) const SECRET: &str = "integration secret key, 32+ bytes long";
pub(crate) const OTHER_SECRET: &str = "another integration secret, 32+ bytes";
pub(crate) const IDLE: Duration = Duration::from_secs(600);

/// A manager using the cookie driver with `driver_config`.
pub(crate) fn manager_with(
    config: SessionConfig,
    clock: &ManualClock,
    driver_config: CookieDriverConfig,
) -> SessionManager {
    let mut registry = DriverRegistry::new();
    session_cookie::register_with(&mut registry, driver_config);
    SessionManager::builder(config.with_driver("cookie"))
        .with_registry(registry)
        .with_clock(Arc::new(clock.clone()))
        .build()
        .unwrap_or_else(|e| panic!("valid configuration: {e}"))
}

/// A manager using the cookie driver with default options, idle age [`IDLE`], key [`SECRET`].
pub(crate) fn manager(clock: &ManualClock) -> SessionManager {
    manager_with(
        SessionConfig::new().with_age(IDLE).with_key(SECRET),
        clock,
        CookieDriverConfig::new(),
    )
}

/// A record holding `{"v": value}`, created and active at the clock's time.
pub(crate) fn record(value: Value, clock: &ManualClock) -> Record {
    let mut data = Map::new();
    data.insert("v".to_owned(), value);
    let now = session_core::Clock::now_ms(clock);
    let mut record = Record::new(data, now, now + IDLE.as_millis() as u64);
    record.version = 1;
    record
}

/// The cookie driver of a manager.
pub(crate) fn store(manager: &SessionManager) -> Arc<dyn ClientStore> {
    match manager.driver() {
        Driver::Client(store) => store.clone(),
        Driver::Server(_) => panic!("the cookie driver is a client-side store"),
    }
}

/// Applies a store's cookie changes to a response, as the core does.
pub(crate) fn apply(cx: &SessionContext, changes: Vec<CookieChange>) {
    for change in changes {
        match change {
            CookieChange::Set { name, value } => cx.set_session_cookie(&name, &value, None),
            CookieChange::Remove { name } => cx.remove_cookie(&name),
        }
    }
}

/// Writes `record` through the cookie driver of `manager` into `cx`'s response.
pub(crate) fn write(
    manager: &SessionManager,
    cx: &SessionContext,
    key: &StorageKey,
    record: &Record,
) -> Result<(), DriverError> {
    apply(cx, store(manager).write(cx, key, record)?);
    Ok(())
}

/// The `Cookie` header a browser would send back for a context's response cookies.
pub(crate) fn header_from(cx: &SessionContext) -> String {
    cx.response_cookies()
        .iter()
        .filter(|c| !c.value().is_empty())
        .map(|c| c.stripped().to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Writes `record` through the driver of `manager` and returns the header carrying it.
pub(crate) async fn sealed_header(
    manager: &SessionManager,
    key: &StorageKey,
    record: &Record,
) -> String {
    let cx = manager.context(std::iter::empty());
    write(manager, &cx, key, record).unwrap_or_else(|e| panic!("write: {e}"));
    header_from(&cx)
}

/// Reads `key` through the driver of `manager` from a request carrying `header`.
pub(crate) async fn read_back(
    manager: &SessionManager,
    key: &StorageKey,
    header: &str,
) -> Option<Record> {
    store(manager).read(&manager.context([header]), key)
}

/// Names of the data cookies (`id.d`, `id.d.1`, …) a response sets with a value.
pub(crate) fn data_cookies_set(cx: &SessionContext) -> Vec<String> {
    cx.response_cookies()
        .iter()
        .filter(|c| c.name().starts_with("id.d") && !c.value().is_empty())
        .map(|c| c.name().to_owned())
        .collect()
}

/// A string value of `len` ASCII characters.
pub(crate) fn text(len: usize) -> Value {
    json!("x".repeat(len))
}
