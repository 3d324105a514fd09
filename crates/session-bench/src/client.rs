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
        // The head is read as bytes, line by line, and each `Set-Cookie` value is applied to
        // the jar from the buffer, without copying: what the load generator spends on an
        // answer it takes from the server it measures, so it is kept small.
        let mut lines = self.buf[..head_end]
            .split(|&b| b == b'\n')
            .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
        let status = lines
            .next()
            .and_then(|l| l.split(|&b| b == b' ').nth(1))
            .and_then(|s| std::str::from_utf8(s).ok()?.parse::<u16>().ok())
            .ok_or_else(|| invalid("bad status line"))?;
        let mut length = None;
        let mut chunked = false;
        for line in lines {
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
            if name.eq_ignore_ascii_case(b"content-length") {
                length = std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.parse::<usize>().ok());
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                chunked = value.windows(7).any(|w| w.eq_ignore_ascii_case(b"chunked"));
            } else if name.eq_ignore_ascii_case(b"set-cookie") {
                keep_cookie(&mut self.jar, value);
            } else if name.eq_ignore_ascii_case(b"connection") {
                self.closed = value.eq_ignore_ascii_case(b"close");
            }
        }
        self.buf.drain(..head_end + 4);
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
}

/// Applies one `Set-Cookie` value to the jar: a removal (empty value or `Max-Age=0`) drops the
/// cookie, anything else replaces it. A value that is not UTF-8 is not one the servers send.
fn keep_cookie(jar: &mut Vec<(String, String)>, header: &[u8]) {
    let Ok(header) = std::str::from_utf8(header) else {
        return;
    };
    let mut parts = header.split(';');
    let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
        return;
    };
    let (name, value) = (name.trim(), value.trim());
    let removed = value.is_empty()
        || parts.any(|a| {
            let a = a.trim();
            a.eq_ignore_ascii_case("max-age=0")
                || (a.len() > 8 && a[..8].eq_ignore_ascii_case("expires=") && a.contains("1970"))
        });
    if removed {
        jar.retain(|(n, _)| n != name);
        return;
    }
    // The same cookie sent again (a refreshed Max-Age) costs the client nothing, so that
    // servers that refresh the cookie on every response are not charged for the client's
    // bookkeeping.
    match jar.iter_mut().find(|(n, _)| n == name) {
        Some((_, v)) if v == value => {}
        Some((_, v)) => {
            v.clear();
            v.push_str(value);
        }
        None => jar.push((name.to_owned(), value.to_owned())),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::Conn;

    /// A server on loopback that answers each request on one connection with the next of
    /// `answers`, and sends back the request heads it read.
    async fn server(
        answers: Vec<&'static str>,
    ) -> (std::net::SocketAddr, tokio::task::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut heads = Vec::new();
            let mut buf = Vec::new();
            for answer in answers {
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    let mut chunk = [0u8; 1024];
                    let n = socket.read(&mut chunk).await.unwrap();
                    assert!(n > 0, "the client closed the connection");
                    buf.extend_from_slice(&chunk[..n]);
                }
                let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                heads.push(String::from_utf8(buf.drain(..end).collect()).unwrap());
                socket.write_all(answer.as_bytes()).await.unwrap();
            }
            heads
        });
        (addr, task)
    }

    #[tokio::test]
    async fn answers_are_parsed_and_their_cookies_kept_replaced_and_removed() {
        let (addr, task) = server(vec![
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nset-cookie: id=one; HttpOnly; Path=/; Max-Age=7200\r\nSET-COOKIE:   id.d=1.abc ; Path=/\r\ncontent-length: 2\r\n\r\n41",
            "HTTP/1.1 201 Created\r\nSet-Cookie: id.d=; Max-Age=0\r\nSet-Cookie: id=two\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n42\r\n1\r\n3\r\n0\r\n\r\n",
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
        ])
        .await;
        let mut conn = Conn::open(addr).await.unwrap();
        let first = conn.get("/write").await.unwrap();
        assert_eq!((first.status, first.number()), (200, Some(41)));
        assert_eq!(
            conn.jar(),
            [
                ("id".to_owned(), "one".to_owned()),
                ("id.d".to_owned(), "1.abc".to_owned())
            ]
        );
        let second = conn.get("/read").await.unwrap();
        assert_eq!((second.status, second.number()), (201, Some(423)));
        assert_eq!(conn.jar(), [("id".to_owned(), "two".to_owned())]);
        let third = conn.get("/read").await.unwrap();
        assert_eq!((third.status, third.body.len()), (503, 0));
        let heads = task.await.unwrap();
        assert!(!heads[0].contains("Cookie:"));
        assert!(
            heads[1].contains("\r\nCookie: id=one; id.d=1.abc\r\n"),
            "{}",
            heads[1]
        );
        assert!(heads[2].contains("\r\nCookie: id=two\r\n"), "{}", heads[2]);
    }
}
