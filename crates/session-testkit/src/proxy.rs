//! [`TcpProxy`]: a loopback TCP forwarder that a test can cut and restore, to take a database
//! or cache "down" without touching the server behind it (which other tests may share).

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// Forwards connections from a free loopback port to `target`.
///
/// [`stop`](TcpProxy::stop) closes every forwarded connection and the listening socket, so
/// clients see their connections drop and new ones refused, as when the server goes down;
/// [`start`](TcpProxy::start) listens on the same port again.
///
/// ```
/// use std::io::{Read, Write};
/// use std::net::{TcpListener, TcpStream};
/// use session_testkit::proxy::TcpProxy;
///
/// // An echo server behind the proxy.
/// let server = TcpListener::bind("127.0.0.1:0")?;
/// let target = server.local_addr()?;
/// std::thread::spawn(move || {
///     for stream in server.incoming().flatten() {
///         let mut reader = stream.try_clone().unwrap();
///         let mut writer = stream;
///         std::thread::spawn(move || { let _ = std::io::copy(&mut reader, &mut writer); });
///     }
/// });
///
/// let proxy = TcpProxy::start_to(target)?;
/// let mut client = TcpStream::connect(proxy.addr())?;
/// client.write_all(b"ping")?;
/// let mut answer = [0u8; 4];
/// client.read_exact(&mut answer)?;
/// assert_eq!(&answer, b"ping");
///
/// proxy.stop();
/// assert!(TcpStream::connect(proxy.addr()).is_err()); // refused while down
/// proxy.start();
/// assert!(TcpStream::connect(proxy.addr()).is_ok());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct TcpProxy {
    addr: SocketAddr,
    target: SocketAddr,
    state: Mutex<Option<Running>>,
}

/// A listening proxy: its accept loop and the forwarded connections.
#[derive(Debug)]
struct Running {
    stop: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<TcpStream>>>,
    accept: thread::JoinHandle<()>,
}

impl TcpProxy {
    /// Listens on a free loopback port and forwards to `target`.
    pub fn start_to(target: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let proxy = Self {
            addr,
            target,
            state: Mutex::new(None),
        };
        proxy.listen(listener)?;
        Ok(proxy)
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes the forwarded connections and stops listening. Does nothing if stopped.
    pub fn stop(&self) {
        let running = self.state.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(running) = running {
            running.stop.store(true, Ordering::SeqCst);
            let _ = running.accept.join();
            for stream in running
                .connections
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .drain(..)
            {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }

    /// Listens again on the same port. Does nothing if running.
    ///
    /// # Panics
    ///
    /// Panics if the port cannot be bound again within five seconds.
    pub fn start(&self) {
        if self
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
        {
            return;
        }
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.addr) {
                Ok(listener) => break listener,
                Err(_) if tries < 100 => {
                    tries += 1;
                    thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("the proxy cannot listen on {} again: {e}", self.addr),
            }
        };
        if let Err(e) = self.listen(listener) {
            panic!("the proxy cannot listen on {} again: {e}", self.addr);
        }
    }

    fn listen(&self, listener: TcpListener) -> io::Result<()> {
        // Non-blocking, so the accept loop notices `stop` within a few milliseconds.
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let target = self.target;
        let accept = {
            let stop = stop.clone();
            let connections = connections.clone();
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            if let Err(e) = forward(client, target, &connections) {
                                eprintln!("[proxy] cannot reach {target}: {e}");
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            thread::sleep(Duration::from_millis(5));
                        }
                        Err(_) => thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(Running {
            stop,
            connections,
            accept,
        });
        Ok(())
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Connects to `target` and copies both ways on two threads; keeps both sockets so that
/// [`TcpProxy::stop`] can close them.
fn forward(
    client: TcpStream,
    target: SocketAddr,
    connections: &Mutex<Vec<TcpStream>>,
) -> io::Result<()> {
    client.set_nonblocking(false)?;
    client.set_nodelay(true)?;
    let server = TcpStream::connect_timeout(&target, Duration::from_secs(2))?;
    server.set_nodelay(true)?;
    {
        let mut kept = connections.lock().unwrap_or_else(|e| e.into_inner());
        kept.push(client.try_clone()?);
        kept.push(server.try_clone()?);
    }
    for (mut from, mut to) in [(client.try_clone()?, server.try_clone()?), (server, client)] {
        thread::spawn(move || {
            let _ = io::copy(&mut from, &mut to);
            let _ = to.shutdown(Shutdown::Write);
        });
    }
    Ok(())
}

#[cfg(feature = "http")]
impl crate::http::Backend for TcpProxy {
    fn stop(&self) {
        TcpProxy::stop(self);
    }

    fn start(&self) {
        TcpProxy::start(self);
    }
}
