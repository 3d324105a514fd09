//! The benchmark run: start the servers as child processes, put load on each in turn, one
//! workload at a time, read Redis's command counters, repeat over several rounds, and keep every
//! sample; then measure the stores' footprint (`footprint.rs`). The PostgreSQL servers' databases
//! are made fresh every round and dropped at the end, whether the run succeeded or not.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Barrier;

use crate::client::Conn;
use crate::footprint::Footprint;
use crate::postgres::Postgres;
use crate::redis::RedisServer;
use crate::servers::{Server, Side};

/// Upper bound of requests one connection sends in one run, whatever the duration.
const MAX_REQUESTS_PER_CONNECTION: u64 = 20_000_000;
/// A request that takes longer than this counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A workload: the route every request of the run asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Workload {
    Read,
    Write,
    Login,
    Untouched,
    Hot,
}

impl Workload {
    pub(crate) const ALL: [Workload; 5] = [
        Self::Read,
        Self::Write,
        Self::Login,
        Self::Untouched,
        Self::Hot,
    ];

    pub(crate) fn slug(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Login => "login",
            Self::Untouched => "untouched",
            Self::Hot => "hot",
        }
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::Read => "read one integer from the session",
            Self::Write => "add one to an integer in the session (ours: `increment`; peers: get, add one, insert)",
            Self::Login => "regenerate the id (tower-sessions `cycle_id`, actix-session `renew`), then the write",
            Self::Untouched => "a route that never uses the session; the client sends its session cookie",
            Self::Hot => "every connection on one session, each request the write",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Self::Read => "/read",
            Self::Write => "/write",
            Self::Login => "/login",
            Self::Untouched => "/untouched",
            Self::Hot => "/write",
        }
    }

    pub(crate) fn from_slug(slug: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.slug() == slug)
    }
}

/// What the run was asked to do.
#[derive(Debug, Clone)]
pub(crate) struct RunOptions {
    pub(crate) duration: Duration,
    pub(crate) warmup: Duration,
    pub(crate) rounds: usize,
    pub(crate) connections: usize,
    pub(crate) concurrent: usize,
    pub(crate) servers: Vec<Server>,
    pub(crate) workloads: Vec<Workload>,
    pub(crate) server_workers: usize,
    /// Sessions per store of the footprint measurement; `None` skips it.
    pub(crate) footprint: Option<usize>,
}

/// One measured run of one server on one workload.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub(crate) rps: f64,
    pub(crate) p50_us: u32,
    pub(crate) p99_us: u32,
    pub(crate) errors: u64,
    /// Redis commands sent per request, by command, when the server uses Redis (counted with
    /// `MONITOR` over a sample of requests after the measured run).
    pub(crate) redis: Option<BTreeMap<String, f64>>,
    /// Commands Redis ran per request, those run inside scripts included (`INFO commandstats`
    /// over the measured run).
    pub(crate) redis_executed: Option<f64>,
    /// CPU time the server process used per answered request, in µs (user + system, from
    /// `/proc/<pid>/stat`), when the platform tells.
    pub(crate) server_cpu_us: Option<f64>,
    /// CPU time `redis-server` used per answered request, in µs, when the server uses Redis.
    pub(crate) redis_cpu_us: Option<f64>,
    /// On `hot`, the increments the server answered and how far the counter moved.
    pub(crate) hot: Option<Increments>,
}

/// The increments of a `hot` run: every request answered 200 (warm-up included) added one to
/// the session's counter, as far as the client can tell.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Increments {
    pub(crate) answered: u64,
    /// The counter after the run minus the counter before it, when both could be read.
    pub(crate) applied: Option<i64>,
}

impl Increments {
    /// Increments answered 200 that the counter does not hold.
    pub(crate) fn lost(&self) -> Option<i64> {
        self.applied
            .map(|applied| i64::try_from(self.answered).unwrap_or(i64::MAX) - applied)
    }
}

/// One concurrency run: `sent` concurrent increments on one session that held 1.
#[derive(Debug, Clone)]
pub(crate) struct Concurrent {
    pub(crate) sent: usize,
    pub(crate) ok: usize,
    /// The counter read back afterwards with the session's first cookie.
    pub(crate) final_value: Option<i64>,
}

/// Everything measured.
#[derive(Debug, Default)]
pub(crate) struct Results {
    pub(crate) samples: BTreeMap<(usize, Workload), Vec<Sample>>,
    pub(crate) concurrency: BTreeMap<usize, Vec<Concurrent>>,
    pub(crate) skipped: Vec<(Server, String)>,
    pub(crate) redis_version: Option<String>,
    /// The PostgreSQL server's version, when the run used it.
    pub(crate) postgres_version: Option<String>,
    pub(crate) footprint: Option<Footprint>,
}

impl Results {
    pub(crate) fn samples(&self, server: Server, workload: Workload) -> Option<&Vec<Sample>> {
        self.samples.get(&(index(server), workload))
    }

    pub(crate) fn concurrency(&self, server: Server) -> Option<&Vec<Concurrent>> {
        self.concurrency.get(&index(server))
    }
}

fn index(server: Server) -> usize {
    Server::ALL.iter().position(|s| *s == server).unwrap_or(0)
}

/// The order servers are measured in within a round: the given order, with each of our servers
/// next to its peer (when the peer is in the run): the first of ours with a given peer right
/// before it, the others right after it, so a ratio compares measurements taken next to each
/// other.
fn measuring_order(servers: &[Server]) -> Vec<Server> {
    let mut order: Vec<Server> = Vec::with_capacity(servers.len());
    for &server in servers {
        if !order.contains(&server) {
            order.push(server);
        }
        if let Some(peer) = server.peer().filter(|p| servers.contains(p)) {
            if !order.contains(&peer) {
                order.push(peer);
            }
        }
    }
    order
}

/// Runs every round and returns the samples.
pub(crate) async fn run(options: &RunOptions) -> Result<Results, String> {
    let mut results = Results::default();
    // First, so that a missing PostgreSQL stops the run before anything was started.
    let postgres = if options.servers.iter().any(|s| s.uses_postgres()) {
        let postgres = Postgres::connect(&options.servers).await?;
        results.postgres_version = Some(postgres.version().to_owned());
        Some(postgres)
    } else {
        None
    };
    let redis = if options.servers.iter().any(|s| s.uses_redis()) {
        match RedisServer::start().await {
            Ok(r) => {
                results.redis_version = redis_version();
                Some(r)
            }
            Err(e) => {
                eprintln!("session-bench: no Redis ({e}); the Redis servers are skipped");
                None
            }
        }
    } else {
        None
    };
    let dir = std::env::temp_dir().join(format!("session-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let measured = rounds(
        options,
        &mut results,
        redis.as_ref(),
        postgres.as_ref(),
        &dir,
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    drop(redis);
    // Every server process has ended (each round's are killed at its end, or on its error).
    let dropped = match &postgres {
        Some(postgres) => postgres.drop_databases().await,
        None => Ok(()),
    };
    measured?;
    dropped?;
    if let Some(sessions) = options.footprint {
        // After the measured runs, so that it cannot slow them down; a failure here costs the
        // section, not the run.
        match crate::footprint::measure(sessions).await {
            Ok(footprint) => results.footprint = Some(footprint),
            Err(e) => eprintln!("session-bench: footprint: {e}"),
        }
    }
    Ok(results)
}

/// The rounds of the run, their samples into `results`.
async fn rounds(
    options: &RunOptions,
    results: &mut Results,
    redis: Option<&RedisServer>,
    postgres: Option<&Postgres>,
    dir: &Path,
) -> Result<(), String> {
    let order = measuring_order(&options.servers);
    for round in 0..options.rounds {
        // Every server of the round is started first and stays up (idle) while the others are
        // measured: each workload is then measured on every server one after the other, so the
        // servers compared in a ratio are measured seconds apart, not minutes (the machine's
        // speed drifts by tens of percent over a minute). Rotating the order spreads what drift
        // is left over every server.
        let n = order.len();
        if let Some(redis) = redis {
            redis
                .command(&["FLUSHALL"])
                .await
                .map_err(|e| format!("FLUSHALL: {e}"))?;
        }
        if let Some(postgres) = postgres {
            postgres.reset().await?;
        }
        let mut children = Vec::with_capacity(n);
        for k in 0..n {
            let server = order[(k + round) % n];
            if server.uses_redis() && redis.is_none() {
                if round == 0 {
                    results
                        .skipped
                        .push((server, "redis-server is not installed".to_owned()));
                }
                continue;
            }
            children.push((
                server,
                ServerProcess::start(server, redis, postgres, dir, options)?,
            ));
        }
        for &workload in &options.workloads {
            for (server, child) in &children {
                // A server without sessions answers every route alike: it runs `read` in every
                // workload's turn, as the baseline measured next to that workload's servers.
                let route = if server.side() == Side::Bare {
                    Workload::Read
                } else {
                    workload
                };
                eprintln!(
                    "session-bench: round {}/{} {} {}",
                    round + 1,
                    options.rounds,
                    server.slug(),
                    workload.slug()
                );
                let redis = redis.filter(|_| server.uses_redis());
                let sample = load(child, route, options, redis).await?;
                eprintln!(
                    "session-bench:   {:.0} req/s, p50 {} µs, p99 {} µs, server CPU {:.1} µs/req, {} errors{}{}",
                    sample.rps,
                    sample.p50_us,
                    sample.p99_us,
                    sample.server_cpu_us.unwrap_or(0.0),
                    sample.errors,
                    sample.hot.map_or(String::new(), |h| format!(
                        ", {} increments answered 200, lost {}",
                        h.answered,
                        h.lost().map_or("unknown".to_owned(), |l| l.to_string())
                    )),
                    sample
                        .redis
                        .as_ref()
                        .map(|r| format!(
                            ", {:.2} Redis cmds sent/req, {:.2} run/req, Redis CPU {:.1} µs/req",
                            r.values().sum::<f64>(),
                            sample.redis_executed.unwrap_or(0.0),
                            sample.redis_cpu_us.unwrap_or(0.0)
                        ))
                        .unwrap_or_default()
                );
                results
                    .samples
                    .entry((index(*server), workload))
                    .or_default()
                    .push(sample);
            }
        }
        if options.concurrent > 0 {
            for (server, child) in &children {
                // The minimal session is a floor for speed, not a library: its increments
                // happen under one lock, so there is nothing to learn from counting them.
                if matches!(server.side(), Side::Bare | Side::Floor) {
                    continue;
                }
                let c = concurrency(child.addr, options.concurrent).await?;
                eprintln!(
                    "session-bench:   {} {} concurrent increments: {} answered 200, final value {:?}",
                    server.slug(),
                    c.sent,
                    c.ok,
                    c.final_value
                );
                results
                    .concurrency
                    .entry(index(*server))
                    .or_default()
                    .push(c);
            }
        }
        drop(children);
    }
    Ok(())
}

fn redis_version() -> Option<String> {
    let out = Command::new("redis-server")
        .arg("--version")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .find_map(|w| w.strip_prefix("v="))
        .map(str::to_owned)
}

/// A server started as a child process of this binary; killed when dropped.
#[derive(Debug)]
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
}

impl ServerProcess {
    fn start(
        server: Server,
        redis: Option<&RedisServer>,
        postgres: Option<&Postgres>,
        dir: &Path,
        options: &RunOptions,
    ) -> Result<Self, String> {
        let port = crate::free_port().map_err(|e| format!("free port: {e}"))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let exe = std::env::current_exe().map_err(|e| format!("current exe: {e}"))?;
        let server_dir: PathBuf = dir.join(server.slug());
        let mut cmd = Command::new(exe);
        cmd.args(["serve", server.slug(), "--addr", &addr.to_string()])
            .args(["--workers", &options.server_workers.to_string()])
            .arg("--dir")
            .arg(&server_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(redis) = redis {
            cmd.args(["--redis-url", &redis.url()]);
        }
        if let (Some(postgres), Some(database)) = (postgres, server.postgres_database()) {
            cmd.args(["--postgres-url", &postgres.url(database)]);
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("starting {}: {e}", server.slug()))?;
        let mut process = Self { child, addr };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(process);
            }
            if let Ok(Some(status)) = process.child.try_wait() {
                return Err(format!("{} exited with {status}", server.slug()));
            }
            if Instant::now() > deadline {
                return Err(format!("{} did not listen within 30 s", server.slug()));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Default)]
struct ConnTally {
    latencies: Vec<u32>,
    errors: u64,
    /// Answers 200, warm-up included.
    answered: u64,
}

/// A new connection to `addr` whose session is made by a first `/write`.
async fn with_session(addr: SocketAddr) -> Result<Conn, String> {
    let mut conn = Conn::open(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let reply = tokio::time::timeout(REQUEST_TIMEOUT, conn.get("/write"))
        .await
        .map_err(|_| "the first request timed out".to_owned())?
        .map_err(|e| format!("first request: {e}"))?;
    if reply.status != 200 {
        return Err(format!("first request answered {}", reply.status));
    }
    Ok(conn)
}

/// The session's counter, read with `/read`.
async fn counter(conn: &mut Conn) -> Option<i64> {
    let reply = tokio::time::timeout(REQUEST_TIMEOUT, conn.get("/read"))
        .await
        .ok()?
        .ok()?;
    Some(reply).filter(|r| r.status == 200)?.number()
}

/// One run: `connections` keep-alive connections, each with its own session (made by a first
/// `/write`; on `hot`, one session made by the first connection, whose cookie every connection
/// sends), ask for the workload's route for the warm-up and then the measured duration.
async fn load(
    server: &ServerProcess,
    workload: Workload,
    options: &RunOptions,
    redis: Option<&RedisServer>,
) -> Result<Sample, String> {
    let addr = server.addr;
    let hot = workload == Workload::Hot;
    let mut conns = Vec::with_capacity(options.connections);
    if hot {
        let first = with_session(addr).await?;
        let jar = first.jar().to_vec();
        conns.push(first);
        for _ in 1..options.connections {
            conns.push(
                Conn::with_jar(addr, jar.clone())
                    .await
                    .map_err(|e| format!("connect {addr}: {e}"))?,
            );
        }
    } else {
        for _ in 0..options.connections {
            conns.push(with_session(addr).await?);
        }
    }
    let counter_before = if hot {
        counter(&mut conns[0]).await
    } else {
        None
    };
    let start = Instant::now();
    let measure_from = start + options.warmup;
    let until = measure_from + options.duration;
    let path = workload.path();
    let mut tasks = Vec::with_capacity(conns.len());
    for mut conn in conns {
        tasks.push(tokio::spawn(async move {
            let mut tally = ConnTally::default();
            let mut sent = 0u64;
            while sent < MAX_REQUESTS_PER_CONNECTION {
                let t0 = Instant::now();
                if t0 >= until {
                    break;
                }
                sent += 1;
                let outcome = tokio::time::timeout(REQUEST_TIMEOUT, conn.get(path)).await;
                let t1 = Instant::now();
                let measured = t0 >= measure_from && t1 <= until;
                match outcome {
                    Ok(Ok(reply)) if reply.status == 200 => {
                        tally.answered += 1;
                        if measured {
                            let us = t1.duration_since(t0).as_micros();
                            tally.latencies.push(u32::try_from(us).unwrap_or(u32::MAX));
                        }
                    }
                    Ok(Ok(_)) => {
                        if measured {
                            tally.errors += 1;
                        }
                    }
                    _ => {
                        if measured {
                            tally.errors += 1;
                        }
                        if conn.reconnect().await.is_err() {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
            }
            (tally, conn)
        }));
    }
    tokio::time::sleep_until(measure_from.into()).await;
    let cpu_before = cpu_ticks(server.child.id());
    let redis_before = redis.and_then(|r| cpu_ticks(r.pid()));
    if let Some(redis) = redis {
        redis
            .command(&["CONFIG", "RESETSTAT"])
            .await
            .map_err(|e| format!("CONFIG RESETSTAT: {e}"))?;
    }
    tokio::time::sleep_until(until.into()).await;
    let cpu_after = cpu_ticks(server.child.id());
    let redis_after = redis.and_then(|r| cpu_ticks(r.pid()));
    let calls = match redis {
        Some(redis) => Some(
            redis
                .command_calls()
                .await
                .map_err(|e| format!("INFO commandstats: {e}"))?,
        ),
        None => None,
    };
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut answered = 0;
    let mut conns = Vec::with_capacity(tasks.len());
    for task in tasks {
        let (tally, conn) = task.await.map_err(|e| format!("load task: {e}"))?;
        latencies.extend(tally.latencies);
        errors += tally.errors;
        answered += tally.answered;
        conns.push(conn);
    }
    // Read before the Redis sample below sends more increments.
    let increments = match (hot, conns.first_mut()) {
        (true, Some(first)) => {
            let after = counter(first).await;
            Some(Increments {
                answered,
                applied: counter_before
                    .zip(after)
                    .map(|(before, after)| after - before),
            })
        }
        _ => None,
    };
    let sent = match redis {
        Some(redis) => Some(round_trips(redis, conns, path).await?),
        None => None,
    };
    latencies.sort_unstable();
    let ok = latencies.len();
    let pct = |p: f64| -> u32 {
        if latencies.is_empty() {
            return 0;
        }
        let i = ((ok as f64 - 1.0) * p).round() as usize;
        latencies[i.min(ok - 1)]
    };
    let requests = (ok as u64 + errors).max(1) as f64;
    Ok(Sample {
        rps: ok as f64 / options.duration.as_secs_f64(),
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        errors,
        server_cpu_us: per_request(cpu_before, cpu_after, ok),
        redis_cpu_us: per_request(redis_before, redis_after, ok),
        redis: sent,
        redis_executed: calls.map(|calls| calls.values().sum::<u64>() as f64 / requests),
        hot: increments,
    })
}

/// CPU µs per request between two tick counts.
fn per_request(before: Option<u64>, after: Option<u64>, requests: usize) -> Option<f64> {
    match (before, after, clock_ticks()) {
        (Some(a), Some(b), Some(hz)) if requests > 0 => {
            Some(b.saturating_sub(a) as f64 / hz * 1e6 / requests as f64)
        }
        _ => None,
    }
}

/// User plus system CPU time of a process so far, in clock ticks (Linux).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; the fields after its `)` are plain.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second (`getconf CLK_TCK`), asked once.
fn clock_ticks() -> Option<f64> {
    static TICKS: std::sync::OnceLock<Option<f64>> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        let out = Command::new("getconf").arg("CLK_TCK").output().ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    })
}

/// Connections used for counting Redis commands, and requests each sends.
const SAMPLE_CONNS: usize = 8;
const SAMPLE_REQUESTS: usize = 25;

/// Counts the Redis commands a sample of requests sends, with `MONITOR` (which slows Redis
/// down, so it runs after the measured run, never during it).
async fn round_trips(
    redis: &RedisServer,
    conns: Vec<Conn>,
    path: &'static str,
) -> Result<BTreeMap<String, f64>, String> {
    let monitor = redis.monitor().await.map_err(|e| format!("MONITOR: {e}"))?;
    let mut tasks = Vec::new();
    for mut conn in conns.into_iter().take(SAMPLE_CONNS) {
        tasks.push(tokio::spawn(async move {
            let mut ok = 0u64;
            for _ in 0..SAMPLE_REQUESTS {
                if let Ok(Ok(reply)) = tokio::time::timeout(REQUEST_TIMEOUT, conn.get(path)).await {
                    if reply.status == 200 {
                        ok += 1;
                    }
                }
            }
            ok
        }));
    }
    let mut ok = 0u64;
    for task in tasks {
        ok += task.await.unwrap_or(0);
    }
    let seen = monitor
        .finish()
        .await
        .map_err(|e| format!("MONITOR: {e}"))?;
    let ok = ok.max(1) as f64;
    Ok(seen
        .sent
        .into_iter()
        .map(|(name, n)| (name, n as f64 / ok))
        .collect())
}

/// `sent` requests to `/write` at once, on as many connections, all with the cookie of one
/// session that holds 1; then the counter is read back with that cookie.
async fn concurrency(addr: SocketAddr, sent: usize) -> Result<Concurrent, String> {
    let mut first = Conn::open(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    first
        .get("/write")
        .await
        .map_err(|e| format!("first request: {e}"))?;
    let jar = first.jar().to_vec();
    let mut conns = Vec::with_capacity(sent);
    for _ in 0..sent {
        conns.push(
            Conn::with_jar(addr, jar.clone())
                .await
                .map_err(|e| format!("connect {addr}: {e}"))?,
        );
    }
    let barrier = Arc::new(Barrier::new(sent));
    let mut tasks = Vec::with_capacity(sent);
    for mut conn in conns {
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            matches!(
                tokio::time::timeout(Duration::from_secs(30), conn.get("/write")).await,
                Ok(Ok(reply)) if reply.status == 200
            )
        }));
    }
    let mut ok = 0;
    for task in tasks {
        if task.await.unwrap_or(false) {
            ok += 1;
        }
    }
    let final_value = tokio::time::timeout(REQUEST_TIMEOUT, first.get("/read"))
        .await
        .ok()
        .and_then(Result::ok)
        .and_then(|r| r.number());
    Ok(Concurrent {
        sent,
        ok,
        final_value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_of_our_servers_is_measured_next_to_its_peer() {
        use Server::*;
        assert_eq!(
            measuring_order(&Server::ALL),
            [
                AxumBare,
                AxumFloor,
                AxumCookie,
                TowerMemory,
                AxumMemory,
                AxumFile,
                AxumRedis,
                TowerRedis,
                AxumRedisCached,
                AxumPostgres,
                TowerPostgres,
                ActixBare,
                ActixFloor,
                ActixCookie,
                ActixSessionCookie,
                ActixRedis,
                ActixSessionRedis,
                ActixRedisCached,
            ]
        );
        // A peer left out of the run is not added.
        assert_eq!(
            measuring_order(&[AxumRedis, AxumBare]),
            [AxumRedis, AxumBare]
        );
    }
}
