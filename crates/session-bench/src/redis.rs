//! A private `redis-server` on a free loopback port, and the few commands the benchmark sends to
//! it (`CONFIG RESETSTAT`, `INFO commandstats`, `FLUSHALL`, and for the footprint `INFO memory`,
//! `DBSIZE`, `RANDOMKEY`, `GET`, `MEMORY USAGE`) over a minimal RESP client.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Commands the benchmark itself sends; they are not counted as the servers' commands.
const OWN_COMMANDS: &[&str] = &["info", "config|resetstat", "config", "flushall"];

/// A `redis-server` process started for the benchmark; killed when dropped.
#[derive(Debug)]
pub(crate) struct RedisServer {
    child: Child,
    addr: SocketAddr,
}

impl RedisServer {
    /// Starts `redis-server` on a free loopback port without persistence, and waits until it
    /// answers (at most 10 s).
    pub(crate) async fn start() -> io::Result<Self> {
        let port = crate::free_port()?;
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let server = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(reply) = server.command(&["PING"]).await {
                if reply == "PONG" {
                    return Ok(server);
                }
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "redis-server did not answer within 10 s",
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process id of `redis-server`.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's URL.
    pub(crate) fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Sends one command on a fresh connection and returns the reply as text (bounded by 5 s).
    pub(crate) async fn command(&self, args: &[&str]) -> io::Result<String> {
        let reply = self.command_bytes(args).await?;
        Ok(String::from_utf8_lossy(&reply).into_owned())
    }

    /// [`RedisServer::command`], with the reply as the bytes Redis sent (a stored value may not
    /// be text).
    pub(crate) async fn command_bytes(&self, args: &[&str]) -> io::Result<Vec<u8>> {
        tokio::time::timeout(Duration::from_secs(5), command(self.addr, args))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "redis command timed out"))?
    }

    /// Calls per command since the last `CONFIG RESETSTAT`, without the benchmark's own.
    pub(crate) async fn command_calls(&self) -> io::Result<BTreeMap<String, u64>> {
        let info = self.command(&["INFO", "commandstats"]).await?;
        Ok(parse_commandstats(&info))
    }
}

/// A `MONITOR` connection: sees every command the server runs, with its source (a client's
/// address, or `lua` for a command run inside a script).
#[derive(Debug)]
pub(crate) struct Monitor {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// Commands seen by a [`Monitor`]: sent by clients (each one a round trip, unless pipelined),
/// and run inside scripts.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    pub(crate) sent: BTreeMap<String, u64>,
    pub(crate) in_scripts: u64,
}

impl RedisServer {
    /// Starts monitoring.
    pub(crate) async fn monitor(&self) -> io::Result<Monitor> {
        let mut stream = TcpStream::connect(self.addr).await?;
        stream.write_all(b"*1\r\n$7\r\nMONITOR\r\n").await?;
        let mut monitor = Monitor {
            stream,
            buf: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while !monitor.buf.starts_with(b"+OK\r\n") {
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "MONITOR did not answer",
                ));
            }
            monitor.read_some(Duration::from_millis(100)).await?;
        }
        monitor.buf.drain(..5);
        Ok(monitor)
    }
}

impl Monitor {
    async fn read_some(&mut self, wait: Duration) -> io::Result<usize> {
        let mut chunk = [0u8; 65536];
        match tokio::time::timeout(wait, self.stream.read(&mut chunk)).await {
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(n)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Ok(0),
        }
    }

    /// Reads until the server has been quiet for 200 ms (at most 5 s) and counts what it saw.
    pub(crate) async fn finish(mut self) -> io::Result<Seen> {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.read_some(Duration::from_millis(200)).await? == 0 {
                break;
            }
        }
        let mut seen = Seen::default();
        for line in String::from_utf8_lossy(&self.buf).lines() {
            // `+1700000000.123456 [0 127.0.0.1:54321] "EVALSHA" "…" …`
            let Some((source, rest)) = line.split_once('[').and_then(|(_, r)| r.split_once(']'))
            else {
                continue;
            };
            let Some(name) = rest.split('"').nth(1) else {
                continue;
            };
            if source.contains("lua") {
                seen.in_scripts += 1;
            } else {
                *seen.sent.entry(name.to_ascii_lowercase()).or_default() += 1;
            }
        }
        Ok(seen)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn command(addr: SocketAddr, args: &[&str]) -> io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut out = format!("*{}\r\n", args.len());
    for a in args {
        out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    stream.write_all(out.as_bytes()).await?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    // A reply is complete once its first line, and for a bulk string its announced length, are
    // in; the 5 s timeout of the caller bounds the loop.
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "redis closed"));
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(line_end) = buf.windows(2).position(|w| w == b"\r\n") else {
            continue;
        };
        let line = &buf[1..line_end];
        match buf[0] {
            b'+' | b':' => return Ok(line.to_vec()),
            b'-' => return Err(io::Error::other(String::from_utf8_lossy(line).into_owned())),
            b'$' => {
                let len: i64 = std::str::from_utf8(line)
                    .ok()
                    .and_then(|l| l.parse().ok())
                    .ok_or_else(|| io::Error::other("bad bulk length"))?;
                let Ok(len) = usize::try_from(len) else {
                    return Ok(Vec::new());
                };
                if buf.len() >= line_end + 2 + len {
                    return Ok(buf[line_end + 2..line_end + 2 + len].to_vec());
                }
            }
            _ => return Err(io::Error::other("unexpected redis reply")),
        }
    }
}

/// `cmdstat_evalsha:calls=12,usec=…` lines into a map of command → calls.
fn parse_commandstats(info: &str) -> BTreeMap<String, u64> {
    let mut calls = BTreeMap::new();
    for line in info.lines() {
        let Some(rest) = line.strip_prefix("cmdstat_") else {
            continue;
        };
        let Some((name, stats)) = rest.split_once(':') else {
            continue;
        };
        if OWN_COMMANDS.contains(&name) {
            continue;
        }
        let n = stats
            .split(',')
            .find_map(|kv| kv.strip_prefix("calls="))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        calls.insert(name.to_owned(), n);
    }
    calls
}
