//! Writes the seed corpus: `write_seeds <corpus folder>` (run by `cargo xtask fuzz --write-seeds`).

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(corpus) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: write_seeds <corpus folder>");
        return ExitCode::FAILURE;
    };
    match session_fuzz::seeds::write(&corpus) {
        Ok(count) => {
            println!("wrote {count} seeds under {}", corpus.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("write_seeds: {}: {e}", corpus.display());
            ExitCode::FAILURE
        }
    }
}
