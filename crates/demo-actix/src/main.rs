//! `cargo run -p demo-actix`: the demo app on actix-web, on 127.0.0.1:3000 with the cookie driver.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `HOST`, `PORT` | where to listen | `127.0.0.1`, `3000` |
//! | `SESSION_DRIVER` | `cookie`, `file`, `memory` or `redis` | `cookie` |
//! | `APP_KEY` | secret key(s), comma-separated, current first | a random development key |
//! | `SESSION_FILE_LOCATION` | folder of the file driver | `./tmp/sessions` |
//! | `REDIS_URL` | the Redis driver's server | `redis://127.0.0.1:6379` |
//!
//! Every other `SESSION_*` variable of `SessionConfig::from_env` works too.
//!
//! With the file driver, the folder's sweeper runs beside the server: at start and then every
//! 15 minutes it removes expired sessions, temporary files of crashed writes and orphan lock
//! files.

#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::Duration;

use actix_web::HttpServer;
use session::file_driver::{FileConfig, FileDriver, SweeperHandle};
use session::SessionManager;

/// How often the file driver's folder is swept while the demo runs.
const SWEEP_EVERY: Duration = Duration::from_secs(15 * 60);

#[actix_web::main]
async fn main() -> ExitCode {
    let Ok((manager, addr)) = demo::start_up() else {
        return ExitCode::FAILURE;
    };
    // Runs on the main thread's runtime, beside the workers; kept until the server stops, since
    // dropping the handle stops the sweeper.
    let _sweeper = match start_sweeper(&manager) {
        Ok(sweeper) => sweeper,
        Err(e) => {
            tracing::error!("cannot start the session sweeper: {e}");
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

/// Starts the file driver's sweeper when the manager uses the file driver; `None` with any
/// other driver. The sweeper works on the folder, so a driver opened on the manager's `file`
/// section, lifetimes and clock sweeps what the manager's own driver writes.
fn start_sweeper(manager: &SessionManager) -> Result<Option<SweeperHandle>, String> {
    if manager.driver().name() != "file" {
        return Ok(None);
    }
    let section = manager
        .config()
        .section(manager.config().driver())
        .cloned()
        .unwrap_or_else(|| serde_json::json!({}));
    let config: FileConfig = serde_json::from_value(section).map_err(|e| e.to_string())?;
    let driver = FileDriver::new(config, manager.lifetimes(), manager.clock().clone())
        .map_err(|e| e.to_string())?;
    tracing::info!(
        location = %driver.location().display(),
        every = ?SWEEP_EVERY,
        "sweeping the session folder"
    );
    Ok(Some(driver.spawn_sweeper(SWEEP_EVERY)))
}
