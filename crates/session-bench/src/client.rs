//! A minimal HTTP/1.1 keep-alive client over raw tokio TCP: one connection, one cookie jar.
//!
//! It only speaks what the benchmark servers answer (`GET`, `Content-Length` or chunked bodies),
//! so that the load generator spends as little CPU per request as `wrk` does and the servers get
//! the rest of the machine.

use std::io::{self, Write as _};
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest response head accepted; more is a broken server.
const MAX_HEAD: usize = 64 * 1024;
/// The largest response body accepted.
const MAX_BODY: usize = 1024 * 1024;

/// One answer: the status and the body.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    /// The body as an integer (the servers answer with the session's counter).
    pub(crate) fn number(&self) -> Option<i64> {
        std::str::from_utf8(&self.body).ok()?.trim().parse().ok()
    }
}

/// A keep-alive connection with its own cookie jar, as one browser tab would have.
#[derive(Debug)]
pub(crate) struct Conn {
    addr: SocketAddr,
    stream: TcpStream,
    buf: Vec<u8>,
    request: Vec<u8>,
    jar: Vec<(String, String)>,
    closed: bool,
}

impl Conn {
    /// Connects to `addr` with an empty jar.
    pub(crate) async fn open(addr: SocketAddr) -> io::Result<Self> {
        Self::with_jar(addr, Vec::new()).await
    }

    /// Connects to `addr` sending the cookies of `jar`.
    pub(crate) async fn with_jar(addr: SocketAddr, jar: Vec<(String, String)>) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            addr,
            stream,
            buf: Vec::with_capacity(8192),
            request: Vec::with_capacity(1024),
            jar,
            closed: false,
        })
    }

    /// The cookies this connection holds.
    pub(crate) fn jar(&self) -> &[(String, String)] {
        &self.jar
    }

    /// Opens a new TCP connection to the same server, keeping the jar (after an error, or when
    /// the server closed the connection).
    pub(crate) async fn reconnect(&mut self) -> io::Result<()> {
        let stream = TcpStream::connect(self.addr).await?;
        stream.set_nodelay(true)?;
        self.stream = stream;
        self.buf.clear();
        self.closed = false;
        Ok(())
    }

    /// Sends `GET path` with the jar's cookies and reads the answer, keeping the cookies it sets.
    pub(crate) async fn get(&mut self, path: &str) -> io::Result<Reply> {
        if self.closed {
            self.reconnect().await?;
        }
        self.request.clear();
        write!(
            self.request,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: session-bench\r\n"
        )?;
        if !self.jar.is_empty() {
            self.request.extend_from_slice(b"Cookie: ");
            for (i, (name, value)) in self.jar.iter().enumerate() {
                if i > 0 {
                    self.request.extend_from_slice(b"; ");
                }
                self.request.extend_from_slice(name.as_bytes());
                self.request.push(b'=');
                self.request.extend_from_slice(value.as_bytes());
            }
            self.request.extend_from_slice(b"\r\n");
        }
        self.request.extend_from_slice(b"\r\n");
        self.stream.write_all(&self.request).await?;

        let head_end = loop {
            if let Some(pos) = find(&self.buf, b"\r\n\r\n") {
                break pos;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(invalid("response head too large"));
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end])
            .map_err(|_| invalid("response head is not UTF-8"))?;
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| invalid("bad status line"))?;
        let mut length = None;
        let mut chunked = false;
        let mut set_cookies = Vec::new();
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.to_ascii_lowercase().contains("chunked");
            } else if name.eq_ignore_ascii_case("set-cookie") {
                set_cookies.push(value.to_owned());
            } else if name.eq_ignore_ascii_case("connection") {
                self.closed = value.eq_ignore_ascii_case("close");
            }
        }
        self.buf.drain(..head_end + 4);
        for cookie in &set_cookies {
            self.keep_cookie(cookie);
        }
        let body = if chunked {
            self.read_chunked().await?
        } else {
            let length = length.unwrap_or(0);
            if length > MAX_BODY {
                return Err(invalid("response body too large"));
            }
            self.read_exact_body(length).await?
        };
        Ok(Reply { status, body })
    }

    async fn fill(&mut self) -> io::Result<()> {
        self.buf.reserve(8192);
        let n = self.stream.read_buf(&mut self.buf).await?;
        if n == 0 {
            self.closed = true;
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed the connection",
            ));
        }
        Ok(())
    }

    async fn read_exact_body(&mut self, length: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < length {
            self.fill().await?;
        }
        Ok(self.buf.drain(..length).collect())
    }

    async fn read_chunked(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        // Each chunk is bounded in size and the whole body by MAX_BODY, so the loop ends.
        loop {
            let line_end = loop {
                if let Some(pos) = find(&self.buf, b"\r\n") {
                    break pos;
                }
                if self.buf.len() > MAX_HEAD {
                    return Err(invalid("chunk size line too long"));
                }
                self.fill().await?;
            };
            let size_text = std::str::from_utf8(&self.buf[..line_end])
                .map_err(|_| invalid("chunk size is not UTF-8"))?;
            let size_text = size_text.split(';').next().unwrap_or("").trim();
            let size =
                usize::from_str_radix(size_text, 16).map_err(|_| invalid("bad chunk size"))?;
            self.buf.drain(..line_end + 2);
            if body.len() + size > MAX_BODY {
                return Err(invalid("response body too large"));
            }
            while self.buf.len() < size + 2 {
                self.fill().await?;
            }
            body.extend(self.buf.drain(..size));
            self.buf.drain(..2);
            if size == 0 {
                return Ok(body);
            }
        }
    }

    /// Applies one `Set-Cookie` value to the jar: a removal (empty value or `Max-Age=0`) drops
    /// the cookie, anything else replaces it.
    fn keep_cookie(&mut self, header: &str) {
        let mut parts = header.split(';');
        let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
            return;
        };
        let (name, value) = (name.trim(), value.trim());
        let removed = value.is_empty()
            || parts.any(|a| {
                let a = a.trim();
                a.eq_ignore_ascii_case("max-age=0")
                    || (a.len() > 8
                        && a[..8].eq_ignore_ascii_case("expires=")
                        && a.contains("1970"))
            });
        if removed {
            self.jar.retain(|(n, _)| n != name);
            return;
        }
        // The same cookie sent again (a refreshed Max-Age) costs the client nothing, so that
        // servers that refresh the cookie on every response are not charged for the client's
        // bookkeeping.
        match self.jar.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) if v == value => {}
            Some((_, v)) => {
                v.clear();
                v.push_str(value);
            }
            None => self.jar.push((name.to_owned(), value.to_owned())),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}
