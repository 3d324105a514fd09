//! Floods the memory driver with anonymous sessions and prints the process's resident memory
//! before and after, with the default caps or (`--uncapped`) without any.
//!
//! ```sh
//! cargo run --release -p session-core --example memory_flood -- [--uncapped] [SESSIONS] [BYTES_EACH]
//! ```

use session_core::{MemoryDriver, SessionConfig, SessionManager};

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let uncapped = args.first().map(String::as_str) == Some("--uncapped");
    if uncapped {
        args.remove(0);
    }
    let sessions: usize = args.first().map_or(Ok(200_000), |a| a.parse())?;
    let bytes_each: usize = args.get(1).map_or(Ok(100), |a| a.parse())?;
    let driver = if uncapped {
        MemoryDriver::new()
            .with_max_sessions(usize::MAX / 2)
            .with_max_bytes(usize::MAX)
    } else {
        MemoryDriver::new()
    };
    let manager = SessionManager::builder(
        SessionConfig::new().with_key("a secret of at least thirty-two bytes!!"),
    )
    .driver(driver)
    .build()?;
    let value = "x".repeat(bytes_each);
    let before = rss_mib();
    for _ in 0..sessions {
        // A client without a cookie: a new session each time.
        let session = manager.start_request(std::iter::empty()).session().await?;
        session.put("v", &value)?;
        session.commit().await?;
    }
    let after = rss_mib();
    println!(
        "{} sessions of {} bytes, {}: RSS {before:.1} MiB before, {after:.1} MiB after (+{:.1} MiB)",
        sessions,
        bytes_each,
        if uncapped { "uncapped" } else { "default caps" },
        after - before
    );
    Ok(())
}
