//! Sweeps a session folder once, for cron or a systemd timer:
//!
//! ```text
//! sweep <location>
//! sweep /var/lib/app/sessions
//! ```
//!
//! Every session file carries its own expiry time, so the folder is all the sweep needs. Older
//! crontab lines that also pass the application's ages (`sweep /var/lib/app/sessions 2h`) keep
//! working: the ages are ignored. Run it as the user the application runs as, so that the files
//! stay owned by that user. It prints what was removed and exits with status 1 when the folder
//! cannot be swept.

use std::process::ExitCode;

use session_file::FileDriver;

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
    // Up to two ages may follow the location, as older versions of this tool needed them.
    let location = match args.as_slice() {
        [location] | [location, _] | [location, _, _] => location,
        _ => return Err("usage: sweep <location>".to_owned()),
    };
    let driver = FileDriver::new(location).map_err(|e| e.to_string())?;
    driver.sweep_blocking().map_err(|e| e.to_string())
}
