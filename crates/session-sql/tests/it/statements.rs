//! The statements each kind of request costs on PostgreSQL, counted on the wire: the driver
//! talks to the server through a proxy that counts the client's `Execute` and `Query`
//! messages (one per statement run). A tagged session must cost what an untagged one costs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use session_core::{ManualClock, Session, SessionConfig, SessionManager};
use session_sql::{Backend, SqlDriver};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::{block, TestDatabase};

/// A proxy to PostgreSQL on 127.0.0.1:5432 counting the statements its clients run.
struct CountingProxy {
    port: u16,
    statements: Arc<AtomicUsize>,
}

impl CountingProxy {
    /// Starts on the current runtime.
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let port = listener.local_addr().expect("an address").port();
        let statements = Arc::new(AtomicUsize::new(0));
        let counter = statements.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let server = TcpStream::connect(("127.0.0.1", 5432))
                        .await
                        .expect("PostgreSQL on 127.0.0.1:5432");
                    let (mut from_client, mut to_client) = client.into_split();
                    let (mut from_server, mut to_server) = server.into_split();
                    tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
                    });
                    let _ = forward_counting(&mut from_client, &mut to_server, &counter).await;
                });
            }
        });
        Self { port, statements }
    }

    fn count(&self) -> usize {
        self.statements.load(Ordering::SeqCst)
    }
}

/// Copies the client's messages to the server, counting `Execute` (`E`, extended protocol) and
/// `Query` (`Q`, simple protocol). The start-up messages have no type byte.
async fn forward_counting(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    counter: &AtomicUsize,
) -> std::io::Result<()> {
    loop {
        let mut length = [0u8; 4];
        from.read_exact(&mut length).await?;
        let mut body = vec![0u8; (u32::from_be_bytes(length) as usize).saturating_sub(4)];
        from.read_exact(&mut body).await?;
        to.write_all(&length).await?;
        to.write_all(&body).await?;
        // An SSLRequest (answered `N` by a server without TLS) comes before the start-up.
        if body[..4] != 80_877_103_u32.to_be_bytes() {
            break;
        }
    }
    loop {
        let mut header = [0u8; 5];
        from.read_exact(&mut header).await?;
        if matches!(header[0], b'E' | b'Q') {
            counter.fetch_add(1, Ordering::SeqCst);
        }
        let length = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
        let mut body = vec![0u8; (length as usize).saturating_sub(4)];
        from.read_exact(&mut body).await?;
        to.write_all(&header).await?;
        to.write_all(&body).await?;
    }
}

/// What one request costs: the statements it ran.
async fn cost(
    proxy: &CountingProxy,
    manager: &SessionManager,
    cookie: Option<&str>,
    work: impl FnOnce(&Session),
) -> (usize, String) {
    let before = proxy.count();
    let request = manager.start_request(cookie);
    let session = request.session().await.expect("a session");
    work(&session);
    request.commit().await.expect("commit");
    let cookie = request
        .id_cookie()
        .or_else(|| cookie.map(str::to_owned))
        .expect("an id cookie");
    (proxy.count() - before, cookie)
}

/// The statements of each step of a visit, tagged at login or not.
async fn visit(
    proxy: &CountingProxy,
    manager: &SessionManager,
    clock: &ManualClock,
    tag: bool,
) -> Vec<(&'static str, usize)> {
    let mut costs = Vec::new();
    let (n, cookie) = cost(proxy, manager, None, |s| s.put("cart", 1).unwrap()).await;
    costs.push(("new visitor stores data", n));
    let (n, cookie) = cost(proxy, manager, Some(&cookie), |s| {
        s.regenerate().unwrap();
        if tag {
            s.tag("user-42").unwrap();
        }
    })
    .await;
    costs.push(("login (regenerate, and tag)", n));
    let (n, _) = cost(proxy, manager, Some(&cookie), |s| {
        s.get::<u32>("cart").unwrap();
    })
    .await;
    costs.push(("read, no refresh due", n));
    let (n, _) = cost(proxy, manager, Some(&cookie), |s| s.put("cart", 2).unwrap()).await;
    costs.push(("write", n));
    clock.advance(Duration::from_secs(150));
    let (n, _) = cost(proxy, manager, Some(&cookie), |s| {
        s.get::<u32>("cart").unwrap();
    })
    .await;
    costs.push(("read, refresh due", n));
    let (n, _) = cost(proxy, manager, Some(&cookie), |s| s.flush().unwrap()).await;
    costs.push(("logout", n));
    costs
}

#[test]
fn a_tagged_session_costs_the_statements_of_an_untagged_one() {
    let database = TestDatabase::create(Backend::Postgres);
    let clock = ManualClock::new(1_000_000);
    database.driver(&clock); // creates the table
    block(async {
        let proxy = CountingProxy::start().await;
        let url = database
            .url
            .replacen(":5432", &format!(":{}", proxy.port), 1);
        let driver = SqlDriver::builder(Backend::Postgres)
            .with_url(format!("{url}?sslmode=disable"))
            .with_table(&database.table)
            .with_clock(Arc::new(clock.clone()))
            .build()
            .expect("a driver");
        let manager = SessionManager::builder(
            SessionConfig::new()
                .with_key("a secret of at least thirty-two bytes!!")
                .with_age("10m"),
        )
        .driver(driver)
        .with_clock(Arc::new(clock.clone()))
        .build()
        .expect("a manager");

        let untagged = visit(&proxy, &manager, &clock, false).await;
        let tagged = visit(&proxy, &manager, &clock, true).await;
        assert_eq!(tagged, untagged);
        assert_eq!(
            untagged,
            [
                ("new visitor stores data", 1),
                ("login (regenerate, and tag)", 3),
                ("read, no refresh due", 1),
                ("write", 2),
                ("read, refresh due", 2),
                ("logout", 2),
            ]
        );

        // Listing a tag's sessions: one SELECT.
        let (_, cookie) = cost(&proxy, &manager, None, |s| s.tag("user-42").unwrap()).await;
        let before = proxy.count();
        assert_eq!(manager.tagged_sessions("user-42").await.unwrap().len(), 1);
        assert_eq!(proxy.count() - before, 1, "the listing");
        // Logging the tag out everywhere: the SELECT, then a DELETE per session.
        let before = proxy.count();
        assert_eq!(
            manager
                .destroy_tagged_sessions("user-42", None)
                .await
                .unwrap(),
            Some(1)
        );
        assert_eq!(proxy.count() - before, 2, "log out everywhere");
        drop(cookie);
    });
}
