//! Throw-away `redis-server` processes for tests: standalone servers and a three-master Redis
//! Cluster on free loopback ports, stopped when dropped.
//!
//! Tests never assume that `127.0.0.1:6379` is free or empty. The binaries `redis-server` and
//! `redis-cli` come from `PATH` (Debian package `redis-server`); when they are missing the harness
//! panics with a message saying so. `REDIS_URL` makes [`RedisServer::start`] use an existing
//! server instead (fault tests, which stop and restart servers, always start their own with
//! [`RedisServer::spawn`]).
//!
//! ```no_run
//! use session_testkit::redis_server::RedisServer;
//!
//! let server = RedisServer::spawn();
//! assert_eq!(server.cli(&["PING"]), "PONG");
//! server.reset_stats();
//! let stats = server.commandstats();
//! assert!(!stats.contains_key("get"));
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

const MISSING: &str =
    "redis-server was not found on PATH. Install the Debian package `redis-server` \
     (apt-get install redis-server), or set REDIS_URL to a server the tests may use";

/// How long a server may take to answer PING after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A `redis-server` the test owns (or the one `REDIS_URL` names).
pub struct RedisServer {
    url: String,
    owned: Option<Owned>,
}

struct Owned {
    port: u16,
    dir: PathBuf,
    extra: Vec<String>,
    child: Option<Child>,
}

impl fmt::Debug for RedisServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisServer")
            .field("url", &self.url)
            .field("owned", &self.owned.is_some())
            .finish()
    }
}

impl RedisServer {
    /// The server `REDIS_URL` names, or else a new one from [`RedisServer::spawn`].
    pub fn start() -> Self {
        match std::env::var("REDIS_URL") {
            Ok(url) if !url.trim().is_empty() => Self {
                url: url.trim().to_owned(),
                owned: None,
            },
            _ => Self::spawn(),
        }
    }

    /// A new `redis-server` on a free loopback port, without persistence, in a temporary folder.
    pub fn spawn() -> Self {
        Self::spawn_with(&[])
    }

    fn spawn_with(extra: &[&str]) -> Self {
        let mut last = String::new();
        // A free port can be taken by someone else between the probe and the bind: retry.
        for _ in 0..5 {
            let port = free_port(extra.contains(&"--cluster-enabled"));
            let mut owned = Owned {
                port,
                dir: temp_dir(port),
                extra: extra.iter().map(|s| (*s).to_owned()).collect(),
                child: None,
            };
            match owned.launch() {
                Ok(()) => {
                    return Self {
                        url: format!("redis://127.0.0.1:{port}"),
                        owned: Some(owned),
                    }
                }
                Err(e) => last = e,
            }
        }
        panic!("could not start redis-server: {last}");
    }

    /// The URL to connect to (`redis://127.0.0.1:<port>`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The port of a server this harness started.
    pub fn port(&self) -> Option<u16> {
        self.owned.as_ref().map(|o| o.port)
    }

    /// Kills the server (SIGKILL, as a crash would) and waits for it to exit.
    ///
    /// Panics for a `REDIS_URL` server, which the harness does not own.
    pub fn stop(&mut self) {
        self.owned_mut("stop").kill();
    }

    /// Starts the server again on the same port (after [`RedisServer::stop`]). Its data is gone:
    /// the server persists nothing.
    pub fn restart(&mut self) {
        let owned = self.owned_mut("restart");
        owned.kill();
        if let Err(e) = owned.launch() {
            panic!("could not restart redis-server on port {}: {e}", owned.port);
        }
    }

    /// Suspends the server process (SIGSTOP): it keeps its connections open but answers
    /// nothing, like a server stuck on a slow command or a network black hole.
    pub fn freeze(&mut self) {
        self.signal("STOP");
    }

    /// Resumes a server suspended by [`RedisServer::freeze`] (SIGCONT).
    pub fn thaw(&mut self) {
        self.signal("CONT");
    }

    fn signal(&mut self, signal: &str) {
        let owned = self.owned_mut("signal");
        let pid = owned
            .child
            .as_ref()
            .map(Child::id)
            .unwrap_or_else(|| panic!("redis-server on port {} is not running", owned.port));
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .unwrap_or_else(|e| panic!("running kill -{signal} failed: {e}"));
        assert!(status.success(), "kill -{signal} {pid} failed");
    }

    fn owned_mut(&mut self, what: &str) -> &mut Owned {
        self.owned.as_mut().unwrap_or_else(|| {
            panic!("cannot {what} the REDIS_URL server: use RedisServer::spawn for fault tests")
        })
    }

    /// Runs one command with `redis-cli` and returns its raw output, trimmed.
    pub fn cli(&self, args: &[&str]) -> String {
        cli(&self.url, args)
    }

    /// Resets the server's statistics (`CONFIG RESETSTAT`).
    pub fn reset_stats(&self) {
        let out = self.cli(&["CONFIG", "RESETSTAT"]);
        assert_eq!(out, "OK", "CONFIG RESETSTAT answered {out:?}");
    }

    /// Calls per command from `INFO commandstats`, by lower-case command name (`evalsha`,
    /// `config|resetstat`, …). Commands run inside scripts are counted too.
    pub fn commandstats(&self) -> BTreeMap<String, u64> {
        parse_commandstats(&self.cli(&["INFO", "commandstats"]))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(owned) = &mut self.owned {
            owned.kill();
            let _ = std::fs::remove_dir_all(&owned.dir);
        }
    }
}

impl Owned {
    fn launch(&mut self) -> Result<(), String> {
        std::fs::create_dir_all(&self.dir).map_err(|e| e.to_string())?;
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--protected-mode", "yes"])
            .args(["--dir", &self.dir.to_string_lossy()])
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!("{MISSING}"),
            Err(e) => return Err(format!("spawning redis-server failed: {e}")),
        };
        self.child = Some(child);
        let url = format!("redis://127.0.0.1:{}", self.port);
        let started = Instant::now();
        loop {
            if let Some(child) = &mut self.child {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(format!(
                        "redis-server on port {} exited at start-up ({status})",
                        self.port
                    ));
                }
            }
            if try_cli(&url, &["PING"]).is_some_and(|out| out == "PONG") {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                self.kill();
                return Err(format!(
                    "redis-server on port {} did not answer PING within {START_TIMEOUT:?}",
                    self.port
                ));
            }
            sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // A frozen server must be resumed to die of SIGKILL promptly on every platform.
            let _ = Command::new("kill")
                .arg("-CONT")
                .arg(child.id().to_string())
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A three-master Redis Cluster (no replicas) on free loopback ports, stopped when dropped.
///
/// ```no_run
/// use session_testkit::redis_server::RedisCluster;
///
/// let cluster = RedisCluster::start();
/// assert_eq!(cluster.urls().len(), 3);
/// ```
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts three cluster-enabled servers, joins them with `redis-cli --cluster create`, and
    /// waits until every node reports `cluster_state:ok`.
    pub fn start() -> Self {
        let nodes: Vec<RedisServer> = (0..3)
            .map(|_| {
                RedisServer::spawn_with(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "5000",
                ])
            })
            .collect();
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port().unwrap_or_default()))
            .collect();
        let output = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                panic!("running redis-cli --cluster create failed: {e}; {MISSING}")
            });
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let started = Instant::now();
        for node in &nodes {
            loop {
                let info = node.cli(&["CLUSTER", "INFO"]);
                if info.contains("cluster_state:ok") {
                    break;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "the cluster did not reach cluster_state:ok within 30 s: {info}"
                );
                sleep(Duration::from_millis(50));
            }
        }
        Self { nodes }
    }

    /// The nodes' URLs.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.url().to_owned()).collect()
    }

    /// The nodes.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }
}

/// Parses `INFO commandstats` output into calls per command.
fn parse_commandstats(info: &str) -> BTreeMap<String, u64> {
    info.lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("cmdstat_")?;
            let (name, fields) = rest.split_once(':')?;
            let calls = fields
                .split(',')
                .find_map(|f| f.strip_prefix("calls="))?
                .parse()
                .ok()?;
            Some((name.to_ascii_lowercase(), calls))
        })
        .collect()
}

fn cli(url: &str, args: &[&str]) -> String {
    try_cli(url, args).unwrap_or_else(|| panic!("redis-cli -u {url} {} failed", args.join(" ")))
}

fn try_cli(url: &str, args: &[&str]) -> Option<String> {
    let output = match Command::new("redis-cli")
        .args(["-u", url])
        .args(args)
        .stdin(Stdio::null())
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!("{MISSING}"),
        Err(_) => return None,
    };
    let out = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    (output.status.success() && !out.starts_with("Could not connect")).then_some(out)
}

/// A loopback port that is free now (and, for cluster nodes, whose bus port +10000 is too).
fn free_port(cluster: bool) -> u16 {
    for _ in 0..100 {
        let Ok(listener) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(port) = listener.local_addr().map(|a| a.port()) else {
            continue;
        };
        if !cluster {
            return port;
        }
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port found");
}

fn temp_dir(port: u16) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    Path::new(&std::env::temp_dir()).join(format!(
        "session-testkit-redis-{}-{port}-{n}",
        std::process::id()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commandstats_are_parsed() {
        let info = "# Commandstats\r\ncmdstat_evalsha:calls=3,usec=77,usec_per_call=25.67,rejected_calls=0,failed_calls=0\r\ncmdstat_config|resetstat:calls=1,usec=1\r\n";
        let stats = parse_commandstats(info);
        assert_eq!(stats.get("evalsha"), Some(&3));
        assert_eq!(stats.get("config|resetstat"), Some(&1));
        assert_eq!(stats.len(), 2);
    }

    #[test]
    fn a_spawned_server_answers_and_stops() {
        let mut server = RedisServer::spawn();
        assert_ne!(server.port(), Some(6379));
        assert_eq!(server.cli(&["SET", "k", "v"]), "OK");
        server.reset_stats();
        assert_eq!(server.cli(&["GET", "k"]), "v");
        assert_eq!(server.commandstats().get("get"), Some(&1));
        server.stop();
        assert!(try_cli(server.url(), &["PING"]).is_none());
        server.restart();
        assert_eq!(server.cli(&["PING"]), "PONG");
        assert_eq!(server.cli(&["EXISTS", "k"]), "0");
    }
}
