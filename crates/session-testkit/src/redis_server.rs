//! Throw-away `redis-server` processes for tests: standalone servers and a three-master Redis
//! Cluster on free loopback ports, stopped when dropped.
//!
//! Tests never assume that `127.0.0.1:6379` is free or empty. The binaries `redis-server` and
//! `redis-cli` come from `PATH` (Debian package `redis-server`); when they are missing the harness
//! panics with a message saying so. `REDIS_URL` makes [`RedisServer::start`] use an existing
//! server instead (fault tests, which stop and restart servers, always start their own with
//! [`RedisServer::spawn`]).
//!
//! [`RedisServer::spawn_tls`] starts a server that accepts TLS connections only
//! (`rediss://127.0.0.1:<port>`), with a certificate for `127.0.0.1` from a private CA, both made
//! by the `openssl` command line (Debian package `openssl`) in the server's temporary folder;
//! [`RedisServer::tls`] gives the files a client needs to trust it.
//!
//! ```
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

const MISSING_OPENSSL: &str =
    "openssl was not found on PATH; TLS test servers need it to make their certificates. \
     Install the Debian package `openssl` (apt-get install openssl)";

/// How long a server may take to answer PING after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a new cluster may take to form, from `redis-cli --cluster create` to
/// `cluster_state:ok` on every node.
const CLUSTER_TIMEOUT: Duration = Duration::from_secs(30);

/// A `redis-server` the test owns (or the one `REDIS_URL` names), killed and its temporary
/// folder removed when dropped.
///
/// ```
/// use session_testkit::redis_server::RedisServer;
///
/// let server = RedisServer::spawn();
/// assert!(server.url().starts_with("redis://127.0.0.1:"));
/// assert_eq!(server.cli(&["SET", "greeting", "hello"]), "OK");
/// assert_eq!(server.cli(&["GET", "greeting"]), "hello");
/// ```
pub struct RedisServer {
    url: String,
    owned: Option<Owned>,
}

struct Owned {
    port: u16,
    dir: PathBuf,
    extra: Vec<String>,
    tls: Option<TlsFiles>,
    child: Option<Child>,
}

/// Where a new server's TLS files come from.
enum Tls {
    /// No TLS.
    Plain,
    /// A private CA and certificates made for this server alone.
    Own { client_auth: bool },
    /// Files shared with other servers (the nodes of a TLS cluster); no client certificate is
    /// required.
    Shared(TlsFiles),
}

/// The PEM files of a TLS test server, in its temporary folder (removed with the server).
///
/// A private CA made for the server issued its certificate (for `127.0.0.1`) and, for mutual
/// TLS, a client certificate.
///
/// ```
/// use std::process::Command;
/// use session_testkit::redis_server::RedisServer;
///
/// let server = RedisServer::spawn_tls();
/// let files = server.tls().expect("a TLS server");
/// // What any TLS client needs: trust the CA's certificate.
/// let output = Command::new("redis-cli")
///     .args(["-u", server.url(), "--tls", "--cacert"])
///     .arg(&files.ca_file)
///     .arg("PING")
///     .output()
///     .unwrap();
/// assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "PONG");
/// assert!(files.client_cert_file.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The private CA's certificate: what a client must trust.
    pub ca_file: PathBuf,
    /// The server's certificate, for `127.0.0.1`.
    pub server_cert_file: PathBuf,
    /// The server's private key.
    pub server_key_file: PathBuf,
    /// A client certificate the CA issued, when one was asked for
    /// ([`RedisServer::spawn_mutual_tls`]).
    pub client_cert_file: Option<PathBuf>,
    /// The private key of [`TlsFiles::client_cert_file`].
    pub client_key_file: Option<PathBuf>,
}

impl TlsFiles {
    /// Makes a private CA and a server certificate for `127.0.0.1` it issued in `dir` with the
    /// `openssl` command line and, when `client` is true, a client certificate
    /// (`CN=session-testkit-client`) too. Each is valid for one day.
    ///
    /// Panics naming the Debian package `openssl` when the command is missing.
    ///
    /// ```
    /// use session_testkit::redis_server::TlsFiles;
    ///
    /// let dir = std::env::temp_dir().join(format!("tls-files-doc-{}", std::process::id()));
    /// let files = TlsFiles::generate(&dir, true);
    /// assert!(files.ca_file.is_file());
    /// assert!(files.server_cert_file.is_file());
    /// assert!(files.server_key_file.is_file());
    /// assert!(files.client_cert_file.as_deref().is_some_and(|f| f.is_file()));
    /// assert!(files.client_key_file.as_deref().is_some_and(|f| f.is_file()));
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn generate(dir: &Path, client: bool) -> Self {
        std::fs::create_dir_all(dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let ca_file = dir.join("ca.pem");
        let ca_key = dir.join("ca-key.pem");
        openssl(&[
            "req".as_ref(),
            "-x509".as_ref(),
            "-newkey".as_ref(),
            "rsa:2048".as_ref(),
            "-nodes".as_ref(),
            "-days".as_ref(),
            "1".as_ref(),
            "-subj".as_ref(),
            "/CN=session-testkit CA".as_ref(),
            "-keyout".as_ref(),
            ca_key.as_os_str(),
            "-out".as_ref(),
            ca_file.as_os_str(),
        ]);
        let issue = |name: &str, subject: &str, extensions: &str| {
            let cert = dir.join(format!("{name}.pem"));
            let key = dir.join(format!("{name}-key.pem"));
            let request = dir.join(format!("{name}.csr"));
            let ext = dir.join(format!("{name}.ext"));
            std::fs::write(&ext, extensions)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", ext.display()));
            openssl(&[
                "req".as_ref(),
                "-new".as_ref(),
                "-newkey".as_ref(),
                "rsa:2048".as_ref(),
                "-nodes".as_ref(),
                "-subj".as_ref(),
                subject.as_ref(),
                "-keyout".as_ref(),
                key.as_os_str(),
                "-out".as_ref(),
                request.as_os_str(),
            ]);
            openssl(&[
                "x509".as_ref(),
                "-req".as_ref(),
                "-days".as_ref(),
                "1".as_ref(),
                "-in".as_ref(),
                request.as_os_str(),
                "-CA".as_ref(),
                ca_file.as_os_str(),
                "-CAkey".as_ref(),
                ca_key.as_os_str(),
                "-set_serial".as_ref(),
                "0x5e55104e".as_ref(),
                "-extfile".as_ref(),
                ext.as_os_str(),
                "-out".as_ref(),
                cert.as_os_str(),
            ]);
            (cert, key)
        };
        let (server_cert_file, server_key_file) = issue(
            "server",
            "/CN=127.0.0.1",
            "basicConstraints=critical,CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        );
        let (client_cert_file, client_key_file) = if client {
            let (cert, key) = issue(
                "client",
                "/CN=session-testkit-client",
                "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=clientAuth\n",
            );
            (Some(cert), Some(key))
        } else {
            (None, None)
        };
        Self {
            ca_file,
            server_cert_file,
            server_key_file,
            client_cert_file,
            client_key_file,
        }
    }

    /// `redis-server` arguments that serve TLS with these files and, when `client_auth` is true,
    /// require a client certificate the CA issued.
    ///
    /// The client certificate, if any, is also the one the server presents on its own outgoing
    /// connections (`tls-client-cert-file`): a Redis Cluster bus connection always requires a
    /// certificate from the connecting node, whatever `tls-auth-clients` says, and the server's
    /// certificate is for `serverAuth` only.
    fn server_args(&self, client_auth: bool) -> Vec<String> {
        let mut args = vec![
            "--tls-cert-file".to_owned(),
            self.server_cert_file.to_string_lossy().into_owned(),
            "--tls-key-file".to_owned(),
            self.server_key_file.to_string_lossy().into_owned(),
            "--tls-ca-cert-file".to_owned(),
            self.ca_file.to_string_lossy().into_owned(),
            "--tls-auth-clients".to_owned(),
            if client_auth { "yes" } else { "no" }.to_owned(),
        ];
        if let (Some(cert), Some(key)) = (&self.client_cert_file, &self.client_key_file) {
            args.extend([
                "--tls-client-cert-file".to_owned(),
                cert.to_string_lossy().into_owned(),
                "--tls-client-key-file".to_owned(),
                key.to_string_lossy().into_owned(),
            ]);
        }
        args
    }

    /// `redis-cli` arguments that make it trust the server (and present the client
    /// certificate, if any).
    fn cli_args(&self) -> Vec<String> {
        let mut args = vec![
            "--tls".to_owned(),
            "--cacert".to_owned(),
            self.ca_file.to_string_lossy().into_owned(),
        ];
        if let (Some(cert), Some(key)) = (&self.client_cert_file, &self.client_key_file) {
            args.extend([
                "--cert".to_owned(),
                cert.to_string_lossy().into_owned(),
                "--key".to_owned(),
                key.to_string_lossy().into_owned(),
            ]);
        }
        args
    }
}

/// Runs the `openssl` command line; panics with its error output when it fails.
fn openssl(args: &[&std::ffi::OsStr]) {
    let output = match Command::new("openssl")
        .args(args)
        .stdin(Stdio::null())
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!("{MISSING_OPENSSL}"),
        Err(e) => panic!("running openssl failed: {e}"),
    };
    assert!(
        output.status.success(),
        "openssl {} failed: {}",
        args.first()
            .map(|a| a.to_string_lossy())
            .unwrap_or_default(),
        String::from_utf8_lossy(&output.stderr)
    );
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
    ///
    /// Tests that only read and write their own keys use this, so that a run can share one
    /// server; the methods that stop or signal the server panic for a `REDIS_URL` server.
    ///
    /// ```
    /// use session_testkit::redis_server::RedisServer;
    ///
    /// let server = RedisServer::start();
    /// assert_eq!(server.cli(&["PING"]), "PONG");
    /// // `port` is `None` for the `REDIS_URL` server, which the harness did not start.
    /// assert_ne!(server.port(), Some(6379));
    /// ```
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
    ///
    /// ```
    /// use session_testkit::redis_server::RedisServer;
    ///
    /// let a = RedisServer::spawn();
    /// let b = RedisServer::spawn();
    /// assert_ne!(a.port(), b.port());
    /// assert_eq!(a.cli(&["SET", "k", "a"]), "OK");
    /// assert_eq!(b.cli(&["EXISTS", "k"]), "0");
    /// ```
    pub fn spawn() -> Self {
        Self::spawn_with(&[], &Tls::Plain)
    }

    /// A new `redis-server` as [`RedisServer::spawn`] starts it, with extra command-line
    /// configuration (`--name value` pairs).
    ///
    /// ```
    /// use session_testkit::redis_server::RedisServer;
    ///
    /// let server = RedisServer::spawn_with_args(&["--rename-command", "DEBUG", ""]);
    /// assert_eq!(server.cli(&["PING"]), "PONG");
    /// assert!(server.cli(&["DEBUG", "SLEEP", "0"]).contains("unknown command"));
    /// ```
    pub fn spawn_with_args(args: &[&str]) -> Self {
        Self::spawn_with(args, &Tls::Plain)
    }

    /// A new `redis-server` that accepts only TLS connections, on a free loopback port, with a
    /// certificate for `127.0.0.1` issued by a private CA made for it ([`TlsFiles::ca_file`]). Clients need not present
    /// a certificate. Its [`RedisServer::url`] is `rediss://127.0.0.1:<port>`.
    ///
    /// Panics naming the Debian package `openssl` when the `openssl` command is missing.
    ///
    /// ```
    /// use session_testkit::redis_server::RedisServer;
    ///
    /// let server = RedisServer::spawn_tls();
    /// assert!(server.url().starts_with("rediss://127.0.0.1:"));
    /// // `cli` passes the CA to redis-cli.
    /// assert_eq!(server.cli(&["PING"]), "PONG");
    /// // A plain-text client gets no answer from the TLS port.
    /// let plain = std::process::Command::new("redis-cli")
    ///     .args(["-u", &server.url().replace("rediss://", "redis://"), "PING"])
    ///     .output()
    ///     .unwrap();
    /// assert_ne!(String::from_utf8_lossy(&plain.stdout).trim(), "PONG");
    /// ```
    pub fn spawn_tls() -> Self {
        Self::spawn_tls_with(false)
    }

    /// Like [`RedisServer::spawn_tls`], but the server also requires a client certificate
    /// (mutual TLS): [`TlsFiles::client_cert_file`] and [`TlsFiles::client_key_file`].
    ///
    /// ```
    /// use std::process::Command;
    /// use session_testkit::redis_server::RedisServer;
    ///
    /// let server = RedisServer::spawn_mutual_tls();
    /// let files = server.tls().expect("a TLS server");
    /// let ping = |client_cert: bool| {
    ///     let mut cmd = Command::new("redis-cli");
    ///     cmd.args(["-u", server.url(), "--tls", "--cacert"]).arg(&files.ca_file);
    ///     if client_cert {
    ///         cmd.arg("--cert").arg(files.client_cert_file.as_ref().unwrap());
    ///         cmd.arg("--key").arg(files.client_key_file.as_ref().unwrap());
    ///     }
    ///     let output = cmd.arg("PING").output().unwrap();
    ///     String::from_utf8_lossy(&output.stdout).trim().to_owned()
    /// };
    /// assert_eq!(ping(true), "PONG");
    /// assert_ne!(ping(false), "PONG");
    /// ```
    pub fn spawn_mutual_tls() -> Self {
        Self::spawn_tls_with(true)
    }

    /// The TLS files of a server started by [`RedisServer::spawn_tls`] or
    /// [`RedisServer::spawn_mutual_tls`] (or a node of [`RedisCluster::start_tls`]); `None` for a
    /// plain server.
    ///
    /// ```
    /// use session_testkit::redis_server::RedisServer;
    ///
    /// assert!(RedisServer::spawn().tls().is_none());
    /// let server = RedisServer::spawn_tls();
    /// assert!(server.tls().expect("a TLS server").ca_file.is_file());
    /// ```
    pub fn tls(&self) -> Option<&TlsFiles> {
        self.owned.as_ref().and_then(|o| o.tls.as_ref())
    }

    fn spawn_tls_with(client_auth: bool) -> Self {
        Self::spawn_with(&[], &Tls::Own { client_auth })
    }

    fn spawn_with(extra: &[&str], tls: &Tls) -> Self {
        let cluster = extra.contains(&"--cluster-enabled");
        let mut last = String::new();
        // A free port can be taken by someone else between the probe and the bind: retry.
        for _ in 0..5 {
            let port = free_port(cluster);
            let dir = temp_dir(port);
            let (files, mut args) = match tls {
                Tls::Plain => (None, Vec::new()),
                Tls::Own { client_auth } => {
                    let files = TlsFiles::generate(&dir, *client_auth);
                    let args = files.server_args(*client_auth);
                    (Some(files), args)
                }
                Tls::Shared(files) => (Some(files.clone()), files.server_args(false)),
            };
            args.extend(extra.iter().map(|s| (*s).to_owned()));
            let mut owned = Owned {
                port,
                dir,
                extra: args,
                tls: files,
                child: None,
            };
            match owned.launch() {
                Ok(()) => {
                    return Self {
                        url: owned.url(),
                        owned: Some(owned),
                    }
                }
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&owned.dir);
                    last = e;
                }
            }
        }
        let what = if matches!(tls, Tls::Plain) {
            "redis-server"
        } else {
            "a TLS redis-server"
        };
        panic!("could not start {what}: {last}");
    }

    /// The URL to connect to (`redis://127.0.0.1:<port>`, or `rediss://` for a TLS server).
    ///
    /// ```
    /// use session_testkit::redis_server::RedisServer;
    ///
    /// let server = RedisServer::spawn();
    /// let port = server.port().expect("a server the harness started");
    /// assert_eq!(server.url(), format!("redis://127.0.0.1:{port}"));
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The port of a server this harness started (its TLS port for a TLS server); `None` for
    /// the `REDIS_URL` server.
    ///
    /// ```
    /// use std::net::TcpStream;
    /// use session_testkit::redis_server::RedisServer;
    ///
    /// let server = RedisServer::spawn();
    /// let port = server.port().expect("a server the harness started");
    /// assert_ne!(port, 6379);
    /// TcpStream::connect(("127.0.0.1", port)).expect("the server listens");
    /// ```
    pub fn port(&self) -> Option<u16> {
        self.owned.as_ref().map(|o| o.port)
    }

    /// Kills the server (SIGKILL, as a crash would) and waits for it to exit.
    ///
    /// Panics for a `REDIS_URL` server, which the harness does not own.
    ///
    /// ```
    /// use std::net::TcpStream;
    /// use session_testkit::redis_server::RedisServer;
    ///
    /// let mut server = RedisServer::spawn();
    /// let port = server.port().unwrap();
    /// server.stop();
    /// assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    /// ```
    pub fn stop(&mut self) {
        self.owned_mut("stop").kill();
    }

    /// Starts the server again on the same port (after [`RedisServer::stop`]). Its data is gone:
    /// the server persists nothing.
    ///
    /// ```
    /// use session_testkit::redis_server::RedisServer;
    ///
    /// let mut server = RedisServer::spawn();
    /// let url = server.url().to_owned();
    /// assert_eq!(server.cli(&["SET", "k", "v"]), "OK");
    /// server.stop();
    /// server.restart();
    /// assert_eq!(server.url(), url);
    /// assert_eq!(server.cli(&["EXISTS", "k"]), "0");
    /// ```
    pub fn restart(&mut self) {
        let owned = self.owned_mut("restart");
        owned.kill();
        if let Err(e) = owned.launch() {
            panic!("could not restart redis-server on port {}: {e}", owned.port);
        }
    }

    /// Suspends the server process (SIGSTOP): it keeps its connections open but answers
    /// nothing, like a server stuck on a slow command or a network black hole.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::net::TcpStream;
    /// use std::time::Duration;
    /// use session_testkit::redis_server::RedisServer;
    ///
    /// let mut server = RedisServer::spawn();
    /// let mut conn = TcpStream::connect(("127.0.0.1", server.port().unwrap())).unwrap();
    /// conn.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    /// server.freeze();
    /// conn.write_all(b"PING\r\n").unwrap();
    /// let mut reply = [0; 7];
    /// assert!(conn.read(&mut reply).is_err(), "a frozen server does not answer");
    /// server.thaw();
    /// conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    /// conn.read_exact(&mut reply).unwrap();
    /// assert_eq!(&reply, b"+PONG\r\n");
    /// ```
    pub fn freeze(&mut self) {
        self.signal("STOP");
    }

    /// Resumes a server suspended by [`RedisServer::freeze`] (SIGCONT). The commands sent
    /// meanwhile are answered then.
    ///
    /// ```
    /// use session_testkit::redis_server::RedisServer;
    ///
    /// let mut server = RedisServer::spawn();
    /// server.freeze();
    /// server.thaw();
    /// assert_eq!(server.cli(&["PING"]), "PONG");
    /// ```
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

    /// Runs one command with `redis-cli` and returns its raw output, trimmed. For a TLS server
    /// it is given the CA (and the client certificate, if any). Options of `redis-cli` may come
    /// first (`-c` follows cluster redirections).
    ///
    /// Panics when `redis-cli` cannot run or the server cannot be reached; an error reply from
    /// Redis is returned like any other output.
    ///
    /// ```
    /// use session_testkit::redis_server::RedisServer;
    ///
    /// let server = RedisServer::spawn();
    /// assert_eq!(server.cli(&["RPUSH", "list", "a", "b"]), "2");
    /// assert_eq!(server.cli(&["LRANGE", "list", "0", "-1"]), "a\nb");
    /// assert!(server.cli(&["GET", "list"]).starts_with("WRONGTYPE"));
    /// ```
    pub fn cli(&self, args: &[&str]) -> String {
        cli(&self.url, self.tls(), args)
    }

    /// Resets the server's statistics (`CONFIG RESETSTAT`).
    ///
    /// ```
    /// use session_testkit::redis_server::RedisServer;
    ///
    /// let server = RedisServer::spawn();
    /// server.cli(&["GET", "k"]);
    /// assert_eq!(server.commandstats().get("get"), Some(&1));
    /// server.reset_stats();
    /// assert_eq!(server.commandstats().get("get"), None);
    /// ```
    pub fn reset_stats(&self) {
        let out = self.cli(&["CONFIG", "RESETSTAT"]);
        assert_eq!(out, "OK", "CONFIG RESETSTAT answered {out:?}");
    }

    /// Calls per command from `INFO commandstats`, by lower-case command name (`evalsha`,
    /// `config|resetstat`, …). Commands run inside scripts are counted too.
    ///
    /// ```
    /// use session_testkit::redis_server::RedisServer;
    ///
    /// let server = RedisServer::spawn();
    /// server.reset_stats();
    /// server.cli(&["EVAL", "return redis.call('SET', KEYS[1], 'v')", "1", "k"]);
    /// let stats = server.commandstats();
    /// assert_eq!(stats.get("eval"), Some(&1));
    /// assert_eq!(stats.get("set"), Some(&1));
    /// ```
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
        match &self.tls {
            Some(_) => cmd
                .args(["--port", "0"])
                .args(["--tls-port", &self.port.to_string()]),
            None => cmd.args(["--port", &self.port.to_string()]),
        };
        cmd.args(["--bind", "127.0.0.1"])
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
        let url = self.url();
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
            if try_cli(&url, self.tls.as_ref(), &["PING"]).is_some_and(|out| out == "PONG") {
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

    fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
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
/// [`RedisCluster::start`] starts a plain one (`redis://` nodes), [`RedisCluster::start_tls`]
/// one whose nodes accept only TLS, on clients' connections and on the cluster bus alike.
///
/// ```
/// use session_testkit::redis_server::RedisCluster;
///
/// let cluster = RedisCluster::start();
/// let node = &cluster.nodes()[0];
/// assert!(node.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok"));
/// ```
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
    /// The shared TLS files of a TLS cluster, and their folder (removed with the cluster).
    tls: Option<(TlsFiles, PathBuf)>,
}

/// The `redis-server` arguments of a cluster node.
const CLUSTER_NODE: [&str; 6] = [
    "--cluster-enabled",
    "yes",
    "--cluster-config-file",
    "nodes.conf",
    "--cluster-node-timeout",
    "5000",
];

impl RedisCluster {
    /// Starts three cluster-enabled servers, joins them with `redis-cli --cluster create`, and
    /// waits until every node reports `cluster_state:ok`. Its [`RedisCluster::urls`] are
    /// `redis://127.0.0.1:<port>`.
    ///
    /// ```
    /// use session_testkit::redis_server::RedisCluster;
    ///
    /// let cluster = RedisCluster::start();
    /// assert!(cluster.tls().is_none());
    /// for url in cluster.urls() {
    ///     assert!(url.starts_with("redis://127.0.0.1:"), "{url}");
    /// }
    /// ```
    pub fn start() -> Self {
        let nodes = (0..3)
            .map(|_| RedisServer::spawn_with(&CLUSTER_NODE, &Tls::Plain))
            .collect();
        Self::join(nodes, None)
    }

    /// Like [`RedisCluster::start`], but every node accepts only TLS connections
    /// (`--tls-port <port> --port 0`) and the nodes talk to each other over TLS too
    /// (`--tls-cluster yes --tls-replication yes`). One private CA, made with the `openssl`
    /// command line, issued the certificate (for `127.0.0.1`) all nodes share, and the client
    /// certificate they present to each other on the cluster bus (which always requires one);
    /// clients of the nodes need not present one. Its [`RedisCluster::urls`] are `rediss://127.0.0.1:<port>` and
    /// [`RedisCluster::tls`] gives the CA's file. `CLUSTER SLOTS` and redirections name the nodes'
    /// TLS ports.
    ///
    /// Panics naming the Debian package `openssl` when the `openssl` command is missing.
    ///
    /// ```
    /// use session_testkit::redis_server::RedisCluster;
    ///
    /// let cluster = RedisCluster::start_tls();
    /// let ca_file = &cluster.tls().expect("a TLS cluster").ca_file;
    /// assert!(ca_file.is_file());
    /// for url in cluster.urls() {
    ///     assert!(url.starts_with("rediss://127.0.0.1:"), "{url}");
    /// }
    /// // `redis-cli` is given the CA: the key lands on whichever node owns its slot.
    /// assert_eq!(cluster.nodes()[0].cli(&["-c", "SET", "k", "v"]), "OK");
    /// ```
    pub fn start_tls() -> Self {
        let dir = temp_dir(0).with_extension("cluster-pki");
        // The nodes present the client certificate to each other on the cluster bus.
        let files = TlsFiles::generate(&dir, true);
        let mut extra = CLUSTER_NODE.to_vec();
        extra.extend(["--tls-cluster", "yes", "--tls-replication", "yes"]);
        let shared = Tls::Shared(files.clone());
        let nodes = (0..3)
            .map(|_| RedisServer::spawn_with(&extra, &shared))
            .collect();
        Self::join(nodes, Some((files, dir)))
    }

    /// Joins the nodes into a cluster and waits for `cluster_state:ok` on each.
    fn join(nodes: Vec<RedisServer>, tls: Option<(TlsFiles, PathBuf)>) -> Self {
        // Built first, so that the nodes and the TLS files are cleaned up if this panics.
        let cluster = Self { nodes, tls };
        let addrs: Vec<String> = cluster
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port().unwrap_or_default()))
            .collect();
        let mut create = Command::new("redis-cli")
            .args(cluster.tls().map(TlsFiles::cli_args).unwrap_or_default())
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("running redis-cli --cluster create failed: {e}; {MISSING}")
            });
        // It waits for the nodes to meet for as long as it takes: bound it, so that nodes that
        // cannot reach each other fail the test instead of hanging it. Its output is a few
        // kilobytes, less than a pipe holds, so it cannot block on writing it.
        let started = Instant::now();
        let status = loop {
            match create.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if started.elapsed() < CLUSTER_TIMEOUT => sleep(Duration::from_millis(50)),
                Ok(None) | Err(_) => {
                    let _ = create.kill();
                    break None;
                }
            }
        };
        let output = create
            .wait_with_output()
            .unwrap_or_else(|e| panic!("reading redis-cli --cluster create's output failed: {e}"));
        assert!(
            status.is_some_and(|s| s.success()),
            "redis-cli --cluster create failed{}: {}{}",
            if status.is_none() {
                format!(" (still running after {CLUSTER_TIMEOUT:?}, so it was killed)")
            } else {
                String::new()
            },
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let started = Instant::now();
        for node in &cluster.nodes {
            loop {
                let info = node.cli(&["CLUSTER", "INFO"]);
                if info.contains("cluster_state:ok") {
                    break;
                }
                assert!(
                    started.elapsed() < CLUSTER_TIMEOUT,
                    "the cluster did not reach cluster_state:ok within {CLUSTER_TIMEOUT:?}: {info}"
                );
                sleep(Duration::from_millis(50));
            }
        }
        cluster
    }

    /// The nodes' URLs: `redis://127.0.0.1:<port>`, or `rediss://…` for a cluster from
    /// [`RedisCluster::start_tls`].
    ///
    /// ```
    /// use session_testkit::redis_server::RedisCluster;
    ///
    /// let cluster = RedisCluster::start();
    /// let urls = cluster.urls();
    /// assert_eq!(urls.len(), 3);
    /// assert_eq!(urls[0], cluster.nodes()[0].url());
    /// ```
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.url().to_owned()).collect()
    }

    /// The nodes, all masters, in the order `redis-cli --cluster create` was given them (which
    /// assigns them the slot ranges 0–5460, 5461–10922 and 10923–16383).
    ///
    /// ```
    /// use session_testkit::redis_server::RedisCluster;
    ///
    /// let cluster = RedisCluster::start();
    /// for node in cluster.nodes() {
    ///     assert!(node.cli(&["ROLE"]).starts_with("master"));
    /// }
    /// ```
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// The TLS files a client needs to trust the nodes of a cluster from
    /// [`RedisCluster::start_tls`] ([`TlsFiles::ca_file`]); `None` for a plain cluster.
    ///
    /// ```
    /// use session_testkit::redis_server::RedisCluster;
    ///
    /// let cluster = RedisCluster::start_tls();
    /// let files = cluster.tls().expect("a TLS cluster");
    /// // Every node serves the one certificate the cluster's CA issued.
    /// for node in cluster.nodes() {
    ///     assert_eq!(node.tls(), Some(files));
    /// }
    /// ```
    pub fn tls(&self) -> Option<&TlsFiles> {
        self.tls.as_ref().map(|(files, _)| files)
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        self.nodes.clear();
        if let Some((_, dir)) = &self.tls {
            let _ = std::fs::remove_dir_all(dir);
        }
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

fn cli(url: &str, tls: Option<&TlsFiles>, args: &[&str]) -> String {
    try_cli(url, tls, args)
        .unwrap_or_else(|| panic!("redis-cli -u {url} {} failed", args.join(" ")))
}

fn try_cli(url: &str, tls: Option<&TlsFiles>, args: &[&str]) -> Option<String> {
    let output = match Command::new("redis-cli")
        .args(["-u", url])
        .args(tls.map(TlsFiles::cli_args).unwrap_or_default())
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
        assert!(try_cli(server.url(), None, &["PING"]).is_none());
        server.restart();
        assert_eq!(server.cli(&["PING"]), "PONG");
        assert_eq!(server.cli(&["EXISTS", "k"]), "0");
    }

    #[test]
    fn a_tls_server_answers_over_tls_only() {
        let mut server = RedisServer::spawn_tls();
        assert!(
            server.url().starts_with("rediss://127.0.0.1:"),
            "{}",
            server.url()
        );
        let files = server.tls().cloned().expect("TLS files");
        assert!(files.ca_file.is_file());
        assert_eq!(server.cli(&["SET", "k", "v"]), "OK");
        // Without TLS the port does not answer.
        let plain = server.url().replace("rediss://", "redis://");
        assert!(try_cli(&plain, None, &["PING"]).is_none());
        server.restart();
        assert_eq!(server.cli(&["PING"]), "PONG");
        let dir = server.owned.as_ref().map(|o| o.dir.clone()).expect("owned");
        drop(server);
        assert!(!dir.exists());
    }

    #[test]
    fn a_mutual_tls_server_requires_the_client_certificate() {
        let server = RedisServer::spawn_mutual_tls();
        assert_eq!(server.cli(&["PING"]), "PONG");
        let files = server.tls().expect("TLS files");
        let without_cert = TlsFiles {
            client_cert_file: None,
            client_key_file: None,
            ..files.clone()
        };
        assert!(try_cli(server.url(), Some(&without_cert), &["PING"]).is_none());
    }

    #[test]
    fn a_tls_cluster_forms_over_tls_only_and_cleans_up() {
        let cluster = RedisCluster::start_tls();
        let files = cluster.tls().cloned().expect("TLS files");
        let pki = cluster
            .tls
            .as_ref()
            .map(|(_, dir)| dir.clone())
            .expect("a folder");
        assert!(files.ca_file.starts_with(&pki));
        for node in cluster.nodes() {
            assert!(
                node.url().starts_with("rediss://127.0.0.1:"),
                "{}",
                node.url()
            );
            let plain = node.url().replace("rediss://", "redis://");
            assert!(try_cli(&plain, None, &["PING"]).is_none());
            let info = node.cli(&["CLUSTER", "INFO"]);
            assert!(info.contains("cluster_known_nodes:3"), "{info}");
        }
        // CLUSTER SLOTS names the TLS ports, which clients are redirected to.
        let slots = cluster.nodes()[0].cli(&["CLUSTER", "SLOTS"]);
        for node in cluster.nodes() {
            let port = node.port().expect("owned").to_string();
            assert!(slots.lines().any(|l| l == port), "{port} not in {slots}");
        }
        assert_eq!(cluster.nodes()[1].cli(&["-c", "SET", "k", "v"]), "OK");
        assert_eq!(cluster.nodes()[2].cli(&["-c", "GET", "k"]), "v");
        drop(cluster);
        assert!(!pki.exists());
    }
}
