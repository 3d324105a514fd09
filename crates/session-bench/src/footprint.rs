//! The footprint: what one session costs in storage, ours against the peers, for the same data
//! (the object `{"n": 1}`, a 2-hour lifetime, each library's default key prefix), written
//! through each library's own store API (no HTTP).
//!
//! Redis: a private `redis-server`, emptied with `FLUSHALL` before each library; `used_memory`
//! (`INFO memory`) is read after one first session (which opens the library's connections) and
//! again after `n` more; the growth over `n` is the figure. Memory stores: the growth of the
//! resident set of a fresh child process (`session-bench footprint-memory ours|tower`) while it
//! writes `n` sessions, so that what one library allocated does not blur the other's figure.

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_session::storage::{RedisSessionStore, SessionStore as _};
use session_kit::driver::{Record, SessionStore as _};
use session_kit::redis_driver::RedisDriver;
use session_kit::{MemoryDriver, SessionId};
use tower_sessions::cookie::time::{Duration as TimeDuration, OffsetDateTime};
use tower_sessions::session::{Id, Record as TowerRecord};
use tower_sessions::{MemoryStore, SessionStore as _};
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};
use tower_sessions_redis_store::RedisStore;

use crate::redis::RedisServer;

/// Sessions written per store unless `--sessions` says otherwise.
pub(crate) const DEFAULT_SESSIONS: usize = 100_000;

/// Every session's lifetime.
const TTL: Duration = Duration::from_secs(2 * 60 * 60);

/// A measured store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Store {
    OursRedis,
    TowerRedis,
    ActixRedis,
    OursMemory,
    TowerMemory,
}

impl Store {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::OursRedis => "ours, Redis (`RedisDriver`)",
            Self::TowerRedis => "tower-sessions-redis-store (`RedisStore`)",
            Self::ActixRedis => "actix-session (`RedisSessionStore`)",
            Self::OursMemory => "ours, memory (`MemoryDriver`)",
            Self::TowerMemory => "tower-sessions (`MemoryStore`)",
        }
    }

    /// Our store of the same kind, for a peer's row.
    pub(crate) fn ours(self) -> Option<Store> {
        match self {
            Self::TowerRedis | Self::ActixRedis => Some(Self::OursRedis),
            Self::TowerMemory => Some(Self::OursMemory),
            Self::OursRedis | Self::OursMemory => None,
        }
    }
}

/// One store's figure and what it keeps for one session.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) store: Store,
    pub(crate) bytes_per_session: f64,
    /// One session's key and value as stored (bytes outside printable ASCII escaped; for the
    /// memory stores, the Rust values held).
    pub(crate) sample_key: String,
    pub(crate) sample_value: String,
    /// `MEMORY USAGE` of the sample key (Redis only).
    pub(crate) memory_usage: Option<u64>,
}

/// Every store measured.
#[derive(Debug, Clone, Default)]
pub(crate) struct Footprint {
    pub(crate) sessions: usize,
    pub(crate) rows: Vec<Row>,
    /// Stores not measured, and why.
    pub(crate) skipped: Vec<String>,
}

impl Footprint {
    pub(crate) fn row(&self, store: Store) -> Option<&Row> {
        self.rows.iter().find(|r| r.store == store)
    }
}

/// Measures every store with `sessions` sessions each.
pub(crate) async fn measure(sessions: usize) -> Result<Footprint, String> {
    let mut footprint = Footprint {
        sessions,
        ..Footprint::default()
    };
    match RedisServer::start().await {
        Ok(redis) => {
            for store in [Store::OursRedis, Store::TowerRedis, Store::ActixRedis] {
                eprintln!("session-bench: footprint of {}", store.label());
                let row = redis_row(&redis, store, sessions).await?;
                eprintln!(
                    "session-bench:   {:.1} bytes per session",
                    row.bytes_per_session
                );
                footprint.rows.push(row);
            }
        }
        Err(e) => footprint
            .skipped
            .push(format!("the Redis stores: no redis-server ({e})")),
    }
    for store in [Store::OursMemory, Store::TowerMemory] {
        eprintln!("session-bench: footprint of {}", store.label());
        let row = memory_row(store, sessions)?;
        eprintln!(
            "session-bench:   {:.1} bytes per session",
            row.bytes_per_session
        );
        footprint.rows.push(row);
    }
    Ok(footprint)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The data every session holds, in our format.
fn our_record() -> Record {
    let mut data = serde_json::Map::new();
    data.insert("n".to_owned(), 1.into());
    let now = now_ms();
    Record::new(data, now, now + TTL.as_millis() as u64)
}

/// The data every session holds, in tower-sessions' format (a new id each call).
fn tower_record() -> TowerRecord {
    TowerRecord {
        id: Id::default(),
        data: HashMap::from([("n".to_owned(), 1.into())]),
        expiry_date: OffsetDateTime::now_utc() + TimeDuration::seconds(TTL.as_secs() as i64),
    }
}

/// One of the Redis stores, ready to write sessions.
enum RedisClient {
    Ours(Box<RedisDriver>),
    Tower(RedisStore<Pool>),
    Actix(RedisSessionStore),
}

impl RedisClient {
    async fn connect(store: Store, url: String) -> Result<Self, String> {
        Ok(match store {
            Store::OursRedis => Self::Ours(Box::new(
                RedisDriver::builder()
                    .with_url(url)
                    .build()
                    .map_err(|e| format!("our Redis driver: {e}"))?,
            )),
            Store::TowerRedis => {
                let config = Config::from_url(&url).map_err(|e| format!("fred config: {e}"))?;
                let pool = Pool::new(config, None, None, None, 1)
                    .map_err(|e| format!("fred pool: {e}"))?;
                let _connection = pool.connect();
                pool.wait_for_connect()
                    .await
                    .map_err(|e| format!("fred connect: {e}"))?;
                Self::Tower(RedisStore::new(pool))
            }
            Store::ActixRedis => Self::Actix(
                RedisSessionStore::new(url)
                    .await
                    .map_err(|e| format!("actix-session redis store: {e}"))?,
            ),
            Store::OursMemory | Store::TowerMemory => {
                return Err(format!("{} is not a Redis store", store.label()))
            }
        })
    }

    /// Creates one session holding `{"n": 1}`.
    async fn create(&self) -> Result<(), String> {
        match self {
            Self::Ours(driver) => {
                let key = SessionId::generate().storage_key();
                driver
                    .write(&key, &our_record(), None)
                    .await
                    .map(drop)
                    .map_err(|e| format!("our Redis driver: {e}"))
            }
            Self::Tower(store) => store
                .create(&mut tower_record())
                .await
                .map_err(|e| format!("tower-sessions-redis-store: {e}")),
            Self::Actix(store) => {
                // actix-session keeps each value as its JSON text: `insert("n", 1)` stores "1".
                let state = HashMap::from([("n".to_owned(), "1".to_owned())]);
                let ttl = TimeDuration::seconds(TTL.as_secs() as i64);
                store
                    .save(state, &ttl)
                    .await
                    .map(drop)
                    .map_err(|e| format!("actix-session: {e}"))
            }
        }
    }
}

/// `used_memory` of `INFO memory`, in bytes.
async fn used_memory(redis: &RedisServer) -> Result<u64, String> {
    let info = redis
        .command(&["INFO", "memory"])
        .await
        .map_err(|e| format!("INFO memory: {e}"))?;
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| "INFO memory has no used_memory".to_owned())
}

async fn redis_row(redis: &RedisServer, store: Store, sessions: usize) -> Result<Row, String> {
    let fail = |what: &str| {
        let what = what.to_owned();
        move |e: std::io::Error| format!("{what}: {e}")
    };
    redis
        .command(&["FLUSHALL"])
        .await
        .map_err(fail("FLUSHALL"))?;
    let client = RedisClient::connect(store, redis.url()).await?;
    // The first session opens the library's connections, which `used_memory` counts too.
    client.create().await?;
    // Redis grows its key tables in steps and rehashes them over the following commands and its
    // timer; a moment's pause lets a rehash finish before each reading.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = used_memory(redis).await?;
    for _ in 0..sessions {
        client.create().await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = used_memory(redis).await?;
    let keys: usize = redis
        .command(&["DBSIZE"])
        .await
        .map_err(fail("DBSIZE"))?
        .parse()
        .map_err(|_| "DBSIZE is not a number".to_owned())?;
    if keys != sessions + 1 {
        return Err(format!(
            "{}: {keys} keys in Redis after writing {} sessions",
            store.label(),
            sessions + 1
        ));
    }
    let key = redis
        .command(&["RANDOMKEY"])
        .await
        .map_err(fail("RANDOMKEY"))?;
    let value = redis
        .command_bytes(&["GET", &key])
        .await
        .map_err(fail("GET"))?;
    let memory_usage = redis
        .command(&["MEMORY", "USAGE", &key])
        .await
        .map_err(fail("MEMORY USAGE"))?
        .parse()
        .ok();
    redis
        .command(&["FLUSHALL"])
        .await
        .map_err(fail("FLUSHALL"))?;
    Ok(Row {
        store,
        bytes_per_session: after.saturating_sub(before) as f64 / sessions as f64,
        sample_key: printable(key.as_bytes()),
        sample_value: printable(&value),
        memory_usage,
    })
}

/// Printable ASCII as it is, every other byte (and `\`, `` ` ``, `|`, which the Markdown table
/// would read) as `\xNN`.
fn printable(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if (0x20..0x7f).contains(&b) && !matches!(b, b'\\' | b'`' | b'|') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Runs `session-bench footprint-memory` for `store` in a child process and reads its answer.
fn memory_row(store: Store, sessions: usize) -> Result<Row, String> {
    let which = match store {
        Store::OursMemory => "ours",
        Store::TowerMemory => "tower",
        _ => return Err(format!("{} is not a memory store", store.label())),
    };
    let exe = std::env::current_exe().map_err(|e| format!("current exe: {e}"))?;
    let out = Command::new(exe)
        .args([
            "footprint-memory",
            which,
            "--sessions",
            &sessions.to_string(),
        ])
        .output()
        .map_err(|e| format!("footprint-memory {which}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "footprint-memory {which} exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let (Some(growth), Some(key), Some(value)) = (lines.next(), lines.next(), lines.next()) else {
        return Err(format!("footprint-memory {which} answered {text:?}"));
    };
    let growth: u64 = growth
        .parse()
        .map_err(|_| format!("footprint-memory {which}: {growth:?} is not a number"))?;
    Ok(Row {
        store,
        bytes_per_session: growth as f64 / sessions as f64,
        sample_key: printable(key.as_bytes()),
        sample_value: printable(value.as_bytes()),
        memory_usage: None,
    })
}

/// The resident set of this process, in bytes (`VmRSS` of `/proc/self/status`).
fn resident_bytes() -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("/proc/self/status: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| "no VmRSS in /proc/self/status".to_owned())
}

/// The child process of a memory store's measurement: writes `sessions` sessions into a fresh
/// store and prints the growth of the resident set in bytes, then one session's key and value.
pub(crate) fn memory_child(which: &str, sessions: usize) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let (growth, key, value) = runtime.block_on(async {
        match which {
            "ours" => {
                // Room for every session: the default cap (100,000, spread over 64 shards)
                // would evict some.
                let driver = MemoryDriver::new().with_max_sessions(sessions.saturating_mul(2));
                let fail = |e: session_kit::driver::DriverError| format!("memory driver: {e}");
                // One first session warms up the runtime, the random source and the store.
                let key = SessionId::generate().storage_key();
                let record = our_record();
                driver.write(&key, &record, None).await.map_err(fail)?;
                let before = resident_bytes()?;
                for _ in 0..sessions {
                    let key = SessionId::generate().storage_key();
                    driver
                        .write(&key, &our_record(), None)
                        .await
                        .map_err(fail)?;
                }
                let after = resident_bytes()?;
                if driver.len() != sessions + 1 {
                    return Err(format!(
                        "the memory driver holds {} sessions of {}",
                        driver.len(),
                        sessions + 1
                    ));
                }
                let stored = driver
                    .read(&key)
                    .await
                    .map_err(fail)?
                    .ok_or("the memory driver lost its first session")?;
                Ok((
                    after.saturating_sub(before),
                    format!("StorageKey({:?})", key.as_str()),
                    format!("{stored:?}"),
                ))
            }
            "tower" => {
                let store = MemoryStore::default();
                let fail = |e: tower_sessions::session_store::Error| format!("MemoryStore: {e}");
                let mut first = tower_record();
                store.create(&mut first).await.map_err(fail)?;
                let before = resident_bytes()?;
                for _ in 0..sessions {
                    store.create(&mut tower_record()).await.map_err(fail)?;
                }
                let after = resident_bytes()?;
                let stored = store
                    .load(&first.id)
                    .await
                    .map_err(fail)?
                    .ok_or("MemoryStore lost its first session")?;
                Ok((
                    after.saturating_sub(before),
                    format!("{:?}", first.id),
                    format!("{stored:?}"),
                ))
            }
            other => Err(format!(
                "footprint-memory: unknown store {other:?} (ours, tower)"
            )),
        }
    })?;
    println!("{growth}\n{key}\n{value}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn stored_bytes_are_shown_without_breaking_the_table() {
        assert_eq!(printable(b"s3{\"n\":1}"), "s3{\"n\":1}");
        assert_eq!(
            printable(b"a|b`c\\d\x00\xff"),
            "a\\x7cb\\x60c\\x5cd\\x00\\xff"
        );
    }
}
