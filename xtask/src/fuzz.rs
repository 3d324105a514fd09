//! `cargo xtask fuzz [--seconds N] [--write-seeds] [target…] [-- libFuzzer options]`: builds the
//! fuzz targets of `fuzz/` with coverage instrumentation on the stable toolchain and runs each
//! one with libFuzzer for N seconds (default 60), starting from a copy of its seed corpus.
//!
//! No extra tool is needed: the targets are built with plain `cargo build --release` and the
//! flags cargo-fuzz would pass, without its sanitizer (which needs nightly): LLVM's
//! sanitizer-coverage pass with inline 8-bit counters, the PC table and comparison tracing, and
//! `--cfg fuzzing`, which exposes the decoders the targets call. `libfuzzer-sys` builds libFuzzer
//! itself with the C++ compiler. The build has its own target folder (`fuzz/target`), so it never
//! invalidates the everyday builds; `--target <host>` keeps the flags off build scripts and
//! procedural macros.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::{output, root, run};

/// The flags of an instrumented build (what cargo-fuzz passes with `--sanitizer none`).
const RUSTFLAGS: &[&str] = &[
    "--cfg",
    "fuzzing",
    "-Cpasses=sancov-module",
    "-Cllvm-args=-sanitizer-coverage-level=4",
    "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
    "-Cllvm-args=-sanitizer-coverage-pc-table",
    "-Cllvm-args=-sanitizer-coverage-trace-compares",
    "-Cllvm-args=-simplifycfg-branch-fold-threshold=0",
    "-Cforce-frame-pointers=yes",
];

/// Default seconds per target.
const DEFAULT_SECONDS: u64 = 60;

/// What the command line asked for.
#[derive(Debug, PartialEq, Eq)]
struct Options {
    seconds: u64,
    write_seeds: bool,
    targets: Vec<String>,
    libfuzzer: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        seconds: DEFAULT_SECONDS,
        write_seeds: false,
        targets: Vec::new(),
        libfuzzer: Vec::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = args.next().ok_or("--seconds needs a number")?;
                options.seconds = value
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("--seconds: {value:?} is not a positive number"))?;
            }
            "--write-seeds" => options.write_seeds = true,
            "--" => {
                options.libfuzzer = args.cloned().collect();
                break;
            }
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            target => options.targets.push(target.to_owned()),
        }
    }
    Ok(options)
}

/// The targets in `fuzz/fuzz_targets`, by name, sorted.
fn all_targets(fuzz: &Path) -> Result<Vec<String>, String> {
    let dir = fuzz.join("fuzz_targets");
    let entries = fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut targets: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            (path.extension()? == "rs")
                .then(|| path.file_stem()?.to_str().map(str::to_owned))
                .flatten()
        })
        .collect();
    targets.sort();
    Ok(targets)
}

/// The host's target triple, so that the instrumentation flags reach only the target's code.
fn host() -> Result<String, String> {
    let info = output(Command::new("rustc").arg("-vV"));
    info.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .ok_or_else(|| format!("could not read the host triple from `rustc -vV`: {info}"))
}

/// What one libFuzzer run reported.
#[derive(Debug, Default, PartialEq, Eq)]
struct Report {
    counters: Option<u64>,
    initial_coverage: Option<u64>,
    executions: Option<u64>,
    per_second: Option<u64>,
    coverage: Option<u64>,
    features: Option<u64>,
    corpus: Option<String>,
    artifact: Option<String>,
}

/// Reads libFuzzer's output: the instrumented counters, the final statistics, the last
/// coverage line and where a crashing input was written.
fn read_report(log: &str) -> Report {
    let mut report = Report::default();
    let number = |text: &str| {
        text.trim()
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
    };
    let field = |line: &str, name: &str| {
        line.split_whitespace()
            .skip_while(|w| *w != name)
            .nth(1)
            .map(str::to_owned)
    };
    for line in log.lines() {
        if let Some(rest) = line.strip_prefix("INFO: Loaded ") {
            if let Some((_, counters)) = rest.split_once('(') {
                if counters.contains("inline 8-bit counters") {
                    report.counters =
                        Some(report.counters.unwrap_or(0) + number(counters).unwrap_or(0));
                }
            }
        } else if let Some(n) = line.strip_prefix("stat::number_of_executed_units:") {
            report.executions = number(n);
        } else if let Some(n) = line.strip_prefix("stat::average_exec_per_sec:") {
            report.per_second = number(n);
        } else if line.starts_with('#') && line.contains(" cov: ") {
            report.coverage = field(line, "cov:").and_then(|n| number(&n));
            if line.contains("INITED") {
                report.initial_coverage = report.coverage;
            }
            report.features = field(line, "ft:").and_then(|n| number(&n));
            report.corpus = field(line, "corp:");
        }
        if let Some((_, path)) = line.split_once("Test unit written to ") {
            report.artifact = Some(path.trim().to_owned());
        }
    }
    report
}

/// Runs the command.
pub(crate) fn fuzz(args: &[String]) -> Result<(), String> {
    let options = parse(args)?;
    let fuzz = root().join("fuzz");
    let target_dir = fuzz.join("target");
    if options.write_seeds {
        return write_seeds(&fuzz, &target_dir);
    }
    let known = all_targets(&fuzz)?;
    let targets = if options.targets.is_empty() {
        known.clone()
    } else {
        options.targets.clone()
    };
    if let Some(unknown) = targets.iter().find(|t| !known.contains(t)) {
        return Err(format!(
            "no fuzz target {unknown:?}; the targets are: {}",
            known.join(", ")
        ));
    }

    let started = Instant::now();
    let host = host()?;
    let mut build = Command::new(env_cargo());
    // Not `--locked`: `fuzz/Cargo.lock` pins the fuzzing crates, but the fuzz package depends on
    // the workspace crates by path, so a dependency they gain is added to it by this build
    // instead of failing it (cargo adds what is missing and changes nothing else).
    build
        .current_dir(&fuzz)
        .args(["build", "--release", "--target", &host])
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("RUSTFLAGS", RUSTFLAGS.join(" "))
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    for target in &targets {
        build.args(["--bin", target]);
    }
    run(&mut build)?;
    let built = started.elapsed();
    eprintln!("xtask: built the fuzz targets in {:.0?}", built);

    let bin_dir = target_dir.join(&host).join("release");
    let mut rows = Vec::new();
    let mut crashes = Vec::new();
    for target in &targets {
        let (report, outcome) = run_target(&fuzz, &bin_dir, target, &options)?;
        if let Err(message) = &outcome {
            crashes.push(format!("{target}: {message}"));
        }
        rows.push((target.clone(), report, outcome.is_ok()));
    }

    eprintln!(
        "\n{:<22} {:>9} {:>12} {:>9} {:>11} {:>7} {:>14}  result",
        "target", "counters", "executions", "exec/s", "cov", "ft", "corpus"
    );
    let show = |n: Option<u64>| n.map_or_else(|| "?".to_owned(), |n| n.to_string());
    for (target, report, ok) in &rows {
        eprintln!(
            "{:<22} {:>9} {:>12} {:>9} {:>11} {:>7} {:>14}  {}",
            target,
            show(report.counters),
            show(report.executions),
            show(report.per_second),
            format!(
                "{}→{}",
                show(report.initial_coverage),
                show(report.coverage)
            ),
            show(report.features),
            report.corpus.as_deref().unwrap_or("?"),
            if *ok { "ok" } else { "CRASH" }
        );
    }
    eprintln!(
        "xtask: {} targets, {}s each, in {:.0?} (build {:.0?})",
        rows.len(),
        options.seconds,
        started.elapsed(),
        built
    );
    if crashes.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "fuzzing found crashes (turn each into a regression test, see docs/fuzzing.md):\n{}",
            crashes.join("\n")
        ))
    }
}

fn env_cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// Runs one target from a scratch copy of its seed corpus. The outer error is for what kept the
/// run from happening; the inner one is a crash (or a build that is not instrumented).
fn run_target(
    fuzz: &Path,
    bin_dir: &Path,
    target: &str,
    options: &Options,
) -> Result<(Report, Result<(), String>), String> {
    let scratch = fuzz.join("target").join("corpus").join(target);
    if scratch.exists() {
        fs::remove_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    }
    fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let seeds = fuzz.join("corpus").join(target);
    let mut copied = 0;
    if let Ok(entries) = fs::read_dir(&seeds) {
        for entry in entries.flatten() {
            let from = entry.path();
            if from.is_file() {
                fs::copy(&from, scratch.join(entry.file_name()))
                    .map_err(|e| format!("{}: {e}", from.display()))?;
                copied += 1;
            }
        }
    }
    let artifacts = fuzz.join("artifacts").join(target);
    fs::create_dir_all(&artifacts).map_err(|e| format!("{}: {e}", artifacts.display()))?;
    let log_path = fuzz
        .join("target")
        .join("corpus")
        .join(format!("{target}.log"));
    let log = fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let log_err = log
        .try_clone()
        .map_err(|e| format!("{}: {e}", log_path.display()))?;

    eprintln!(
        "xtask: fuzzing {target} for {}s ({copied} seeds; log in {})",
        options.seconds,
        log_path.display()
    );
    let mut artifact_prefix = artifacts.into_os_string();
    artifact_prefix.push("/");
    let mut prefix_arg = std::ffi::OsString::from("-artifact_prefix=");
    prefix_arg.push(&artifact_prefix);
    let status = Command::new(bin_dir.join(target))
        .arg(&scratch)
        .arg(format!("-max_total_time={}", options.seconds))
        .arg("-print_final_stats=1")
        .arg("-timeout=10")
        .arg(prefix_arg)
        .args(&options.libfuzzer)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .status()
        .map_err(|e| format!("could not start {target}: {e}"))?;
    let text = fs::read_to_string(&log_path).unwrap_or_default();
    let report = read_report(&text);
    let outcome = if !status.success() {
        eprintln!("{}", crash_summary(&text));
        Err(match &report.artifact {
            Some(path) => format!("crashed ({status}); the input is {path}"),
            None => format!("failed ({status}); see {}", log_path.display()),
        })
    } else if report.counters.unwrap_or(0) == 0 {
        Err(format!(
            "the binary has no coverage counters (not instrumented); see {}",
            log_path.display()
        ))
    } else {
        Ok(())
    };
    Ok((report, outcome))
}

/// The part of a crashed run's log worth reading: from the panic message (or libFuzzer's error)
/// on, without the source locations of the stack frames, at most 80 lines, and the lines naming
/// the input.
fn crash_summary(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.contains("panicked at") || l.contains("ERROR: libFuzzer"))
        .unwrap_or(lines.len().saturating_sub(40));
    let mut out: Vec<&str> = lines[start..]
        .iter()
        .filter(|l| !l.trim_start().starts_with("at "))
        .take(80)
        .copied()
        .collect();
    for line in &lines[start..] {
        if (line.contains("Test unit written to") || line.starts_with("Base64:"))
            && !out.contains(line)
        {
            out.push(line);
        }
    }
    out.join("\n")
}

/// Writes the seed corpus again with `fuzz/src/bin/write_seeds.rs`. It is built without the
/// instrumentation (a program with its own `main` does not link libFuzzer's coverage callbacks),
/// in its own folder.
fn write_seeds(fuzz: &Path, target_dir: &Path) -> Result<(), String> {
    let seeds_target: PathBuf = target_dir.join("seeds");
    run(Command::new(env_cargo())
        .current_dir(fuzz)
        .args(["run", "--release", "--bin", "write_seeds", "--"])
        .arg(fuzz.join("corpus"))
        .env("CARGO_TARGET_DIR", &seeds_target)
        .env("RUSTFLAGS", "--cfg fuzzing")
        .env_remove("CARGO_ENCODED_RUSTFLAGS"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_command_line_is_read() {
        assert_eq!(
            parse(&args(&["--seconds", "5", "key_path", "--", "-max_len=100"])),
            Ok(Options {
                seconds: 5,
                write_seeds: false,
                targets: args(&["key_path"]),
                libfuzzer: args(&["-max_len=100"]),
            })
        );
        assert_eq!(parse(&[]).map(|o| o.seconds), Ok(DEFAULT_SECONDS));
        assert!(parse(&args(&["--seconds"])).is_err());
        assert!(parse(&args(&["--seconds", "0"])).is_err());
        assert!(parse(&args(&["--jobs", "2"])).is_err());
        assert_eq!(
            parse(&args(&["--write-seeds"])).map(|o| o.write_seeds),
            Ok(true)
        );
    }

    #[test]
    fn libfuzzer_output_is_read() {
        let log = "\
INFO: Seed: 1
INFO: Loaded 1 modules   (852 inline 8-bit counters): 852 [0x1, 0x2),
INFO: Loaded 1 PC tables (852 PCs): 852 [0x1,0x2),
#2\tINITED cov: 75 ft: 75 corp: 1/1b exec/s: 0 rss: 27Mb
#883649\tDONE   cov: 210 ft: 1024 corp: 300/9000b lim: 4096 exec/s: 80331 rss: 40Mb
Done 883649 runs in 11 second(s)
stat::number_of_executed_units: 883649
stat::average_exec_per_sec:     80331
";
        assert_eq!(
            read_report(log),
            Report {
                counters: Some(852),
                initial_coverage: Some(75),
                executions: Some(883_649),
                per_second: Some(80_331),
                coverage: Some(210),
                features: Some(1024),
                corpus: Some("300/9000b".to_owned()),
                artifact: None,
            }
        );
        let crash = "==1== ERROR: libFuzzer: deadly signal\n\
artifact_prefix='fuzz/artifacts/key_path/'; Test unit written to fuzz/artifacts/key_path/crash-abc\n";
        assert_eq!(
            read_report(crash).artifact.as_deref(),
            Some("fuzz/artifacts/key_path/crash-abc")
        );
    }

    #[test]
    fn a_crash_is_shown_from_its_panic_message_without_frame_locations() {
        let mut log =
            String::from("#1 NEW cov: 1\nthread '<unnamed>' panicked at src/a.rs:1:1:\nboom\n");
        for i in 0..200 {
            log.push_str(&format!("  {i}: frame\n             at src/a.rs:{i}:1\n"));
        }
        log.push_str("Test unit written to fuzz/artifacts/t/crash-1\nBase64: AAAA\n");
        let summary = crash_summary(&log);
        assert!(summary.starts_with("thread '<unnamed>' panicked at src/a.rs:1:1:\nboom"));
        assert!(!summary.contains("at src/a.rs:0:1"));
        assert!(summary.contains("Test unit written to fuzz/artifacts/t/crash-1"));
        assert!(summary.ends_with("Base64: AAAA"));
        assert!(summary.lines().count() <= 82);
    }

    #[test]
    fn every_target_has_a_seed_corpus() {
        let fuzz = root().join("fuzz");
        let targets = all_targets(&fuzz).unwrap_or_else(|e| panic!("{e}"));
        assert!(targets.len() >= 7, "{targets:?}");
        for target in targets {
            let seeds = fs::read_dir(fuzz.join("corpus").join(&target))
                .map(|entries| entries.count())
                .unwrap_or(0);
            assert!(seeds > 0, "fuzz/corpus/{target} has no seeds");
        }
    }
}
