//! `cargo run -p demo-actix`: the demo app on actix-web, on 127.0.0.1:3000 with the cookie driver.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `HOST`, `PORT` | where to listen | `127.0.0.1`, `3000` |
//! | `SESSION_DRIVER` | `cookie`, `file`, `memory`, `redis`, `postgres`, `mysql` or `sqlite` | `cookie` |
//! | `APP_KEY` | secret key(s), comma-separated, current first | a random development key |
//! | `SESSION_FILE_LOCATION` | folder of the file driver (logged at start-up) | `session-demo/sessions` in the system's temporary folder (`std::env::temp_dir()`), outside the repository |
//! | `REDIS_URL` | the Redis driver's server | `redis://127.0.0.1:6379` |
//! | `DATABASE_URL` | the SQL drivers' database (`postgres://…`, `mysql://…`, `sqlite://…`) | required for `postgres` and `mysql`; `session-demo-sessions.db` in the system's temporary folder for `sqlite` |
//!
//! Every other variable of `session_kit::config_from_env` works too.
//!
//! With the file driver, the folder's sweeper runs beside the server: at start and then every
//! 15 minutes it removes expired sessions, temporary files of crashed writes and orphan lock
//! files.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use actix_web::HttpServer;

#[actix_web::main]
async fn main() -> ExitCode {
    let Ok((manager, addr)) = demo::start_up() else {
        return ExitCode::FAILURE;
    };
    // Runs on the main thread's runtime, beside the workers; kept until the server stops, since
    // dropping the handle stops the sweeper.
    let _sweeper = match demo::prepare_storage(&manager).await {
        Ok(sweeper) => sweeper,
        Err(e) => {
            tracing::error!("cannot prepare the session storage: {e}");
            return ExitCode::FAILURE;
        }
    };
    let driver = manager.driver().name();
    // actix-web builds one app per worker thread; they share the manager (and so the driver).
    let server = match HttpServer::new(move || demo_actix::app(manager.clone())).bind(addr) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(driver, "demo (actix-web) listening on http://{addr}");
    // The server stops gracefully on Ctrl-C.
    if let Err(e) = server.run().await {
        tracing::error!("server error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
