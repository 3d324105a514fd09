//! What the targets share: the fixed keys, session and clock, the managers built from them once
//! per process, and a runtime to drive the async session calls.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::{json, Map, Value};
use session_core::cookie::Cookie;
use session_core::{
    DerivedKey, Driver, DriverRegistry, IdSigner, KeyRing, ManualClock, Record, Refresh, SecretKey,
    SessionConfig, SessionId, SessionManager, StorageKey,
};

/// The current secret key of the managers. Not a secret: the seeds are signed and sealed with it.
pub const CURRENT_KEY: &str = "fuzzing: the current key, public on purpose, 32+ bytes";
/// The older key of the managers' key ring (rotation): values signed or sealed with it still open.
pub const OLD_KEY: &str = "fuzzing: the older key, also public on purpose, 32+ bytes";
/// The session cookie name (the default).
pub const COOKIE_NAME: &str = session_core::DEFAULT_COOKIE_NAME;
/// The one session id the seeds carry: 32 bytes in base64url.
pub const SESSION_ID: &str = "Zml4ZWQgc2Vzc2lvbiBpZCBvZiB0aGUgZnV6emVycyE";
/// The managers' clock, which never moves (ms since the Unix epoch).
pub const NOW: u64 = 1_764_000_000_000;
/// When the known session was created and last active (a minute before [`NOW`]).
pub const KNOWN_AT: u64 = NOW - 60_000;

/// The values of the known session, the one stored under [`SESSION_ID`] in the memory driver and
/// sealed in the cookie seeds.
pub fn known_data() -> Map<String, Value> {
    let Value::Object(data) = json!({"user": {"name": "ada", "id": 7}, "cart": [1, 2]}) else {
        unreachable!("an object literal")
    };
    data
}

/// The known session's record.
pub fn known_record() -> Record {
    // Live for the default idle age (two hours) from its last activity.
    let mut record = Record::new(known_data(), KNOWN_AT, KNOWN_AT + 2 * 3_600_000);
    record.version = 1;
    record
}

/// The managers and the rest of the fixed state, built once per process.
#[derive(Debug)]
pub struct Fixture {
    /// A manager of the memory driver, which holds the known session.
    pub memory: SessionManager,
    /// A manager of the cookie driver (default options).
    pub cookie: SessionManager,
    /// The known session's id.
    pub id: SessionId,
    /// The known session's storage key.
    pub key: StorageKey,
    /// The id cookie signer of the managers (both keys).
    pub signer: IdSigner,
    /// The cookie driver's sealing keys, current first.
    pub sealing_keys: Vec<DerivedKey>,
    runtime: tokio::runtime::Runtime,
}

impl Fixture {
    /// The process's fixture.
    pub fn get() -> &'static Fixture {
        static FIXTURE: OnceLock<Fixture> = OnceLock::new();
        FIXTURE.get_or_init(Fixture::build)
    }

    #[allow(clippy::expect_used)]
    fn build() -> Fixture {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime");
        // Every response carries the id cookie, whatever the stamp of the cookie fuzzed in, so
        // the targets can check the cookie sent back.
        let config = SessionConfig::new()
            .with_key(CURRENT_KEY)
            .with_key(OLD_KEY)
            .with_refresh(Refresh::Always);
        let clock = std::sync::Arc::new(ManualClock::new(NOW));
        let memory = SessionManager::builder(config.clone().with_driver("memory"))
            .with_clock(clock.clone())
            .build()
            .expect("the memory manager's configuration is valid");
        let mut registry = DriverRegistry::new();
        session_cookie::register(&mut registry);
        let cookie = SessionManager::builder(config.with_driver("cookie"))
            .with_registry(registry)
            .with_clock(clock)
            .build()
            .expect("the cookie manager's configuration is valid");
        let id = SessionId::parse(SESSION_ID).expect("SESSION_ID has the shape of an id");
        let key = id.storage_key();
        let Driver::Server(store) = memory.driver() else {
            unreachable!("the memory driver is a server-side store")
        };
        runtime
            .block_on(store.write(&key, &known_record(), None))
            .expect("the memory driver stores the known session");
        Fixture {
            signer: memory.keys().id_signer(COOKIE_NAME),
            sealing_keys: memory.keys().derive(session_cookie::KEY_PURPOSE),
            memory,
            cookie,
            id,
            key,
            runtime,
        }
    }

    /// Runs a future to completion on the fixture's runtime.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

/// A signer of id cookies with `secret` alone, for values that only an older key made.
pub fn signer_of(secret: &str) -> IdSigner {
    keys_of(secret).id_signer(COOKIE_NAME)
}

/// The key ring of `secret` alone.
#[allow(clippy::expect_used)]
pub fn keys_of(secret: &str) -> KeyRing {
    KeyRing::new(vec![SecretKey::new(secret).expect("a long enough secret")])
        .expect("a ring of one key")
}

/// What a browser keeps of the request's cookies once it applied the response's `Set-Cookie`s: a
/// cookie set again replaces the old value, one with `Max-Age=0` is deleted. Returned as one
/// `Cookie` header value.
pub fn browser_header(request: &[(String, String)], response: &[Cookie<'static>]) -> String {
    let mut jar: BTreeMap<String, String> = request.iter().cloned().collect();
    for cookie in response {
        let deleted = cookie.max_age().is_some_and(|age| age.whole_seconds() <= 0);
        if deleted {
            jar.remove(cookie.name());
        } else {
            jar.insert(cookie.name().to_owned(), cookie.value().to_owned());
        }
    }
    jar.iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("; ")
}
