//! The connection pool: deadpool over redis-rs connections, with a recycle check that costs no
//! round trip.
//!
//! deadpool-redis's own managers send `PING` (and `UNWATCH`) every time a connection is checked
//! out, which would double the round trips of every request. This manager instead remembers
//! whether the last command on a connection completed cleanly: a connection whose command failed
//! at the transport level, timed out, or was abandoned half-way (the caller's future dropped by a
//! timeout) is discarded at the next checkout and replaced by a fresh one. That is how the pool
//! recovers by itself after Redis restarts. The pool is checked only to open the driver's
//! shared connections ([`Current`]) and to replace a broken one.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use deadpool::Runtime;
use redis::aio::MultiplexedConnection;
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, RedisError, RedisResult};
use session_core::StorageKey;

use crate::cache::Copies;

/// The pool type.
pub(crate) type Pool = managed::Pool<Connector>;
/// A connection checked out of the pool.
pub(crate) type Object = managed::Object<Connector>;

/// How long each step of a driver call may take.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) wait: Duration,
    pub(crate) connect: Duration,
    pub(crate) command: Duration,
}

impl Limits {
    /// The bound on a whole driver call: waiting for a connection, opening it, and at most two
    /// commands (the second one reloads a flushed script).
    pub(crate) fn total(&self) -> Duration {
        self.wait + self.connect + self.command * 2
    }
}

/// Opens connections to a standalone server or a cluster.
pub(crate) enum Connector {
    Single {
        plain: deadpool_redis::Manager,
        caching: Option<Box<Caching>>,
    },
    Cluster(ClusterClient),
}

/// How connections that keep the local copies current are opened (the `local_cache` option):
/// over RESP3, with Redis's change messages applied to `copies` by the connection's task.
pub(crate) struct Caching {
    pub(crate) manager: deadpool_redis::Manager,
    pub(crate) copies: Arc<Copies>,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Connector::Single { caching: None, .. } => "Connector::Single",
            Connector::Single {
                caching: Some(_), ..
            } => "Connector::Single (local cache)",
            Connector::Cluster(_) => "Connector::Cluster",
        })
    }
}

impl Connector {
    pub(crate) fn single(plain: deadpool_redis::Manager, caching: Option<Box<Caching>>) -> Self {
        Connector::Single { plain, caching }
    }

    pub(crate) fn cluster(client: ClusterClient) -> Self {
        Connector::Cluster(client)
    }
}

impl Caching {
    /// Opens a connection and turns on change messages for the keys it reads. Copies made
    /// before cannot be trusted (messages may have been missed while no connection was
    /// tracking), so they are dropped once tracking is on.
    async fn open(&self) -> Result<MultiplexedConnection, RedisError> {
        let mut conn = managed::Manager::create(&self.manager).await?;
        redis::cmd("CLIENT")
            .arg("TRACKING")
            .arg("ON")
            .arg("NOLOOP")
            .query_async::<()>(&mut conn)
            .await?;
        self.copies.clear();
        Ok(conn)
    }
}

/// Whether Redis refused RESP3 or tracking itself (a server before 6.0, a proxy without
/// them), as opposed to being unreachable or refusing the credentials.
fn refuses_tracking(e: &RedisError) -> bool {
    !breaks_connection(e) && matches!(e.code(), Some("ERR" | "NOPROTO"))
}

/// A pooled connection and whether every command on it so far completed cleanly.
///
/// Both redis-rs connection types are multiplexed: one connection carries any number of
/// commands at once. So requests do not take turns with a connection: each takes a [`Handle`]
/// (a clone sharing the same socket) of one of the shared connections (see [`Current`]), which
/// keep their pooled objects checked out. Holding a checkout for each round trip, as pools
/// usually do, capped the commands in flight at the pool size and made requests queue for a
/// connection under load.
pub(crate) struct Tracked {
    conn: Conn,
    healthy: Arc<AtomicBool>,
}

impl fmt::Debug for Tracked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracked")
            .field("cluster", &matches!(self.conn, Conn::Cluster(_)))
            .field("healthy", &self.healthy.load(Ordering::Relaxed))
            .finish()
    }
}

#[derive(Clone)]
enum Conn {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl Tracked {
    /// A handle for commands on this connection, sharing its socket.
    pub(crate) fn handle(&self) -> Handle {
        Handle {
            conn: self.conn.clone(),
            healthy: self.healthy.clone(),
        }
    }
}

/// A clone of a pooled connection that reports failures back to it.
#[derive(Clone)]
pub(crate) struct Handle {
    conn: Conn,
    healthy: Arc<AtomicBool>,
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("cluster", &matches!(self.conn, Conn::Cluster(_)))
            .finish_non_exhaustive()
    }
}

/// Marks the connection unhealthy when dropped before [`Handle::query`] completed: a command
/// abandoned by a timeout (its future dropped) retires the connection, as a failed one does.
struct InFlight<'a> {
    healthy: &'a AtomicBool,
    done: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.healthy.store(false, Ordering::Relaxed);
        }
    }
}

impl Handle {
    /// Whether every command on this connection so far completed cleanly.
    fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Runs one command. A transport-level failure, or the command being abandoned, marks the
    /// pooled connection unhealthy for good: it is discarded at its next checkout.
    pub(crate) async fn query<T: FromRedisValue>(&mut self, cmd: &Cmd) -> RedisResult<T> {
        let mut in_flight = InFlight {
            healthy: &self.healthy,
            done: false,
        };
        let result = match &mut self.conn {
            Conn::Single(c) => cmd.query_async(c).await,
            Conn::Cluster(c) => cmd.query_async(c).await,
        };
        in_flight.done = true;
        if let Err(e) = &result {
            if breaks_connection(e) {
                self.healthy.store(false, Ordering::Relaxed);
            }
        }
        result
    }
}

/// The connections the driver sends its commands on while they stay healthy (one by default,
/// the `connections` option).
///
/// All the commands of one session go to the same connection (chosen from its storage key), and
/// the commands of concurrent requests are pipelined on the connection they share: Redis and the
/// client read and write them in batches, with fewer system calls per command than when they are
/// spread over the pool's connections (in development runs on a 2-core machine, Redis CPU per
/// `read` went from about 7 to about 5 µs).
///
/// On a current-thread runtime (each actix-web worker runs one) a request instead uses the
/// connection of its thread (see [`Current::new`]): redis-rs runs a connection's I/O in a
/// task on the runtime that opened it, so a connection shared by the workers had every request
/// of the other workers wait for a reply read on another thread, and be woken from there.
///
/// Taking one is a lock and two reference-count increments, where a pool checkout is a
/// semaphore, a queue and a recycle check. A slot keeps its pooled object checked out, so that
/// the slots hold distinct connections. Once a command on a slot's connection fails at the
/// transport level or is abandoned, the next request for that slot gives the broken object back
/// to the pool (which discards it) and checks out another, which takes the slot.
pub(crate) struct Current {
    slots: Box<[Mutex<Option<Shared>>]>,
    /// The slots sessions are spread over by storage key (the `connections` option): the first
    /// `spread` of `slots`.
    spread: usize,
}

/// A shared connection: the pooled object it belongs to, and a handle to it.
struct Shared {
    _object: Object,
    handle: Handle,
}

impl fmt::Debug for Current {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let healthy = (0..self.slots.len())
            .filter(|&i| self.handle(i).is_some())
            .count();
        f.debug_struct("Current")
            .field("connections", &self.spread)
            .field("slots", &self.slots.len())
            .field("healthy", &healthy)
            .finish()
    }
}

impl Current {
    /// `count` shared connections (at least one) for multi-threaded runtimes and, on
    /// current-thread runtimes, one per thread, up to `threads` (threads beyond that share
    /// theirs with earlier ones); none open yet.
    ///
    /// Each thread that runs a current-thread runtime (an actix-web worker, a
    /// `#[tokio::main(flavor = "current_thread")]` program, a `#[tokio::test]`) opens the
    /// connection of its slot itself, so redis-rs's task for that connection runs on the same
    /// thread as the requests using it, and a reply wakes its request without waking another
    /// thread. A request never leaves its current-thread runtime, so its read, a retry and its
    /// write use the same connection, as with the spread by key. With the local cache, a
    /// thread serves only the copies its own connection keeps current (see `cache.rs`).
    pub(crate) fn new(count: usize, threads: usize) -> Self {
        let spread = count.max(1);
        Self {
            slots: (0..spread.max(threads)).map(|_| Mutex::new(None)).collect(),
            spread,
        }
    }

    fn slot(&self, index: usize) -> MutexGuard<'_, Option<Shared>> {
        self.slots[index].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The connection of slot `index`, when it has a healthy one.
    pub(crate) fn handle(&self, index: usize) -> Option<Handle> {
        self.slot(index)
            .as_ref()
            .map(|shared| &shared.handle)
            .filter(|h| h.is_healthy())
            .cloned()
    }

    /// The slot a request for the session stored under `key` uses: its thread's on a
    /// current-thread runtime (see [`Current::new`]), otherwise the session's. A driver call
    /// takes it once, for its commands and the local copies they settle. A request keeps its
    /// slot: its read meets a broken connection first, and its retry and its write then use the
    /// replacement (a write is never repeated).
    pub(crate) fn index(&self, key: &StorageKey) -> usize {
        if on_current_thread_runtime() {
            thread_number() % self.slots.len()
        } else {
            key.slot(self.spread)
        }
    }

    /// The slot of a call that concerns no one session (the listing of a tag): its thread's on a
    /// current-thread runtime, otherwise the first.
    pub(crate) fn any(&self) -> usize {
        if on_current_thread_runtime() {
            thread_number() % self.slots.len()
        } else {
            0
        }
    }

    /// Whether the connection of slot `index` is open and healthy: only then are the messages
    /// that keep the local copies it read current known to be arriving.
    pub(crate) fn serves(&self, index: usize) -> bool {
        self.slot(index)
            .as_ref()
            .is_some_and(|shared| shared.handle.is_healthy())
    }

    /// Gives a slot's broken connection back to the pool, which discards it at its next
    /// checkout. A healthy one stays.
    pub(crate) fn release_broken(&self, index: usize) {
        let broken = {
            let mut slot = self.slot(index);
            if slot.as_ref().is_some_and(|s| !s.handle.is_healthy()) {
                slot.take()
            } else {
                None
            }
        };
        drop(broken);
    }

    /// A handle to `object`'s connection, which takes the slot unless a healthy connection
    /// took it meanwhile (then `object` goes back to the pool at once, and the handle keeps
    /// sharing its socket for this request's commands).
    pub(crate) fn offer(&self, index: usize, object: Object) -> Handle {
        let handle = object.handle();
        let replaced = {
            let mut slot = self.slot(index);
            if slot.as_ref().is_some_and(|s| s.handle.is_healthy()) {
                None
            } else {
                slot.replace(Shared {
                    _object: object,
                    handle: handle.clone(),
                })
            }
        };
        drop(replaced);
        handle
    }
}

/// Whether the calling task runs on a current-thread runtime.
fn on_current_thread_runtime() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread)
}

/// A number of the calling thread's own: 0 for the first thread that asks, 1 for the next, and
/// so on, so that the first threads of a process get distinct slots.
fn thread_number() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static NUMBER: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    NUMBER.with(|n| *n)
}

/// Whether an error leaves the connection unusable (as opposed to an error reply from Redis,
/// after which the connection is fine).
pub(crate) fn breaks_connection(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
}

impl managed::Manager for Connector {
    type Type = Tracked;
    type Error = RedisError;

    async fn create(&self) -> Result<Tracked, RedisError> {
        let conn = match self {
            Connector::Single { plain, caching } => {
                let tracked = match caching {
                    Some(caching) if caching.copies.is_enabled() => match caching.open().await {
                        Ok(conn) => Some(conn),
                        Err(e) if refuses_tracking(&e) => {
                            tracing::warn!(target: "session_kit::redis", error = %e, "the server does not support client tracking over RESP3; the local cache is off");
                            caching.copies.disable();
                            None
                        }
                        Err(e) => return Err(e),
                    },
                    _ => None,
                };
                match tracked {
                    Some(conn) => Conn::Single(conn),
                    None => Conn::Single(managed::Manager::create(plain).await?),
                }
            }
            Connector::Cluster(client) => Conn::Cluster(client.get_async_connection().await?),
        };
        Ok(Tracked {
            conn,
            healthy: Arc::new(AtomicBool::new(true)),
        })
    }

    async fn recycle(&self, obj: &mut Tracked, _: &Metrics) -> RecycleResult<RedisError> {
        if obj.healthy.load(Ordering::Relaxed) {
            Ok(())
        } else {
            Err(RecycleError::message(
                "the last command on this connection failed or was abandoned",
            ))
        }
    }
}

/// Builds the pool. No connection is opened until the first checkout.
pub(crate) fn build(
    connector: Connector,
    size: usize,
    wait: Duration,
    connect: Duration,
) -> Result<Pool, managed::BuildError> {
    Pool::builder(connector)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(wait))
        .create_timeout(Some(connect))
        .recycle_timeout(Some(connect))
        .build()
}
