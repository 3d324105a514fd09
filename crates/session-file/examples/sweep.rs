//! Sweeps a session folder once, for cron or a systemd timer:
//!
//! ```text
//! sweep <location> <idle age> [absolute age]
//! sweep /var/lib/app/sessions 2h
//! ```
//!
//! The ages are the application's `age` and `absolute_age` settings (`2h`, `30m`, `1d`, …). Run
//! it as the user the application runs as, so that the files stay owned by that user. It prints
//! what was removed and exits with status 1 when the folder cannot be swept.

use std::process::ExitCode;
use std::sync::Arc;

use session_core::{parse_duration, Lifetimes, SystemClock};
use session_file::{FileConfig, FileDriver};

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("sweep: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<session_file::SweepReport, String> {
    let (location, idle, absolute) = match args.as_slice() {
        [location, idle] => (location, idle, None),
        [location, idle, absolute] => (location, idle, Some(absolute)),
        _ => return Err("usage: sweep <location> <idle age> [absolute age]".to_owned()),
    };
    let idle = parse_duration(idle)?;
    let absolute = absolute.map(|a| parse_duration(a)).transpose()?;
    let driver = FileDriver::new(
        FileConfig::new(location),
        Lifetimes::new(idle, absolute),
        Arc::new(SystemClock),
    )
    .map_err(|e| e.to_string())?;
    driver.sweep_blocking().map_err(|e| e.to_string())
}
