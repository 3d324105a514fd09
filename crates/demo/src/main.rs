//! `cargo run -p demo`: the demo app on 127.0.0.1:3000 with the cookie driver.
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

#[tokio::main]
async fn main() -> ExitCode {
    let Ok((manager, addr)) = demo::start_up() else {
        return ExitCode::FAILURE;
    };
    // Kept until the server stops: dropping the handle stops the sweeper.
    let _sweeper = match demo::prepare_storage(&manager).await {
        Ok(sweeper) => sweeper,
        Err(e) => {
            tracing::error!("cannot prepare the session storage: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(
        driver = manager.driver().name(),
        "demo listening on http://{addr}"
    );
    let app = demo::app(manager);
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!("server error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
