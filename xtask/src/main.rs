//! Project automation, run as `cargo xtask <command>`:
//!
//! - `test`: the whole test suite (makes sure `redis-server` is installed first, and that
//!   PostgreSQL and MariaDB run on their usual loopback ports, starting or installing them).
//! - `ci`: formatting, clippy, docs, tidy checks and the test suite, as CI runs them.
//! - `tidy`: repository hygiene checks (also run as a plain `#[test]`).
//! - `bench`: the HTTP benchmarks against tower-sessions and actix-session (`crates/session-bench`,
//!   built in release mode) and the stores' footprint (bytes per session), written to
//!   `docs/benchmarks.md` and `docs/benchmarks.svg`; extra arguments go to `session-bench run`
//!   (`--duration 5 --warmup 1 --rounds 3 --servers …`; with `--servers` or `--workloads` the
//!   footprint is left out unless `--footprint true`).
//!   `bench micro` runs the criterion micro-benchmarks instead and writes their figures to
//!   `docs/micro-benchmarks.md`; extra arguments go to `cargo bench`.
//! - `fuzz [--seconds N] [target…]`: builds the fuzz targets of `fuzz/` with coverage
//!   instrumentation (stable toolchain, no extra tool) and runs each with libFuzzer for N seconds
//!   (default 60) from a copy of its seed corpus; fails with the crashing input's path
//!   (`docs/fuzzing.md`). `--write-seeds` writes the seed corpus again.
//! - `package`: packages every crate that is published (`publish` not `false`), in dependency
//!   order, and builds each package as crates.io would (`cargo publish --workspace --dry-run`,
//!   the unpublished demos, benchmark, doctests and xtask excluded).
//! - `quickstart`: each README quick start made into a new project (its TOML and Rust blocks as
//!   written, `session-kit` from this repository), built, started with a fresh `APP_KEY` and
//!   asked for `/` twice with the cookies of the first answer.
//! - `features`: the facade (and the SQL driver) built with every combination of its cargo
//!   features, the facade tested with none, and the published crates' dependencies checked
//!   against the claimed `rust-version`.

#![forbid(unsafe_code)]

mod databases;
mod features;
mod fuzz;
mod micro;
mod quickstart;
mod tidy;

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("ci") => ci(),
        Some("tidy") => tidy::run(&root()).map_err(|problems| problems.join("\n")),
        Some("bench") => bench(&args[1..]),
        Some("fuzz") => fuzz::fuzz(&args[1..]),
        Some("package") => package(),
        Some("features") => features::features(),
        Some("quickstart") => quickstart::quickstart(),
        _ => Err(
            "usage: cargo xtask <test|ci|tidy|bench|fuzz|package|features|quickstart> [extra cargo test / session-bench run arguments]\n       cargo xtask fuzz [--seconds N] [--write-seeds] [target…] [-- libFuzzer options]"
                .to_owned(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the parent of this crate's folder).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn cargo() -> Command {
    let mut cmd = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    cmd.current_dir(root());
    cmd
}

fn run(cmd: &mut Command) -> Result<(), String> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("could not start {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed with {status}"))
    }
}

/// Makes sure `redis-server` and `redis-cli` are on PATH, installing Debian's `redis-server`
/// package when running as root on a Debian-like machine.
fn ensure_redis() -> Result<(), String> {
    let have = |bin: &str, flag: &str| {
        Command::new(bin)
            .arg(flag)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    // The TLS test servers make their certificates with the `openssl` command line.
    let ready = || {
        have("redis-server", "--version")
            && have("redis-cli", "--version")
            && have("openssl", "version")
    };
    if ready() {
        return Ok(());
    }
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !is_root || !have("apt-get", "--version") {
        return Err(
            "redis-server or openssl is not installed; install the Debian packages `redis-server` and `openssl` (or set REDIS_URL)"
                .to_owned(),
        );
    }
    run(Command::new("apt-get").arg("update").arg("-q"))?;
    run(Command::new("apt-get")
        .args([
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
            "redis-server",
            "openssl",
        ])
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    if ready() {
        Ok(())
    } else {
        Err("installing redis-server and openssl did not put them on PATH".to_owned())
    }
}

fn test(extra: &[String]) -> Result<(), String> {
    ensure_redis()?;
    databases::ensure_databases()?;
    // The benchmark crate builds the peers (tower-sessions, actix-session and their Redis
    // clients); the default test run does not need them.
    run(cargo()
        .args([
            "test",
            "--workspace",
            "--locked",
            "--exclude",
            "session-bench",
        ])
        .args(extra))
}

/// Builds `session-bench` in release mode, in its own target folder so that a benchmark build
/// never waits for (or invalidates) the everyday debug builds, and runs it.
fn bench(extra: &[String]) -> Result<(), String> {
    let target = root().join("target").join("bench");
    if extra.first().map(String::as_str) == Some("micro") {
        return micro(&target, &extra[1..]);
    }
    if let Err(e) = ensure_redis() {
        eprintln!("xtask: {e}; the Redis servers will be skipped");
    }
    run(cargo()
        .args(["build", "--release", "-p", "session-bench"])
        .env("CARGO_TARGET_DIR", &target))?;
    let docs = root().join("docs");
    let mut command = vec!["cargo".to_owned(), "xtask".to_owned(), "bench".to_owned()];
    command.extend(extra.iter().cloned());
    run(Command::new(target.join("release").join("session-bench"))
        .current_dir(root())
        .arg("run")
        .arg("--out")
        .arg(docs.join("benchmarks.md"))
        .arg("--svg")
        .arg(docs.join("benchmarks.svg"))
        .arg("--notes")
        .arg(root().join("crates/session-bench/performance-notes.md"))
        .arg("--root")
        .arg(root())
        .args(extra)
        .env("BENCH_COMMAND", command.join(" ")))
}

/// Runs the criterion benchmarks and writes this run's figures to `docs/micro-benchmarks.md`.
fn micro(target: &Path, extra: &[String]) -> Result<(), String> {
    // A second back: file times come from a coarser clock than `SystemTime::now`.
    let since = std::time::SystemTime::now() - std::time::Duration::from_secs(1);
    run(cargo()
        .args(["bench", "-p", "session-bench", "-p", "session-cookie"])
        .args(extra)
        .env("CARGO_TARGET_DIR", target))?;
    let estimates = micro::collect(&target.join("criterion"), since)?;
    if estimates.is_empty() {
        return Err("criterion wrote no estimates in this run".to_owned());
    }
    let mut command = vec!["cargo", "xtask", "bench", "micro"];
    command.extend(extra.iter().map(String::as_str));
    let env = micro::Environment {
        date: output(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"])),
        cpu: fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find_map(|l| l.strip_prefix("model name"))
                    .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned()),
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
        rustc: output(Command::new("rustc").arg("-V")),
        command: command.join(" "),
    };
    let page = root().join("docs").join("micro-benchmarks.md");
    fs::write(&page, micro::markdown(&estimates, &env))
        .map_err(|e| format!("{}: {e}", page.display()))?;
    eprintln!(
        "xtask: wrote {} ({} benchmarks)",
        page.display(),
        estimates.len()
    );
    Ok(())
}

/// What a command printed, trimmed; "unknown" when it could not run.
fn output(cmd: &mut Command) -> String {
    cmd.output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Packages and verifies every published crate: what `cargo publish --workspace` would upload,
/// built from the packages alone (workspace dependencies from the packages just made).
fn package() -> Result<(), String> {
    let metadata = cargo()
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    if !metadata.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&metadata.stderr)
        ));
    }
    let metadata: serde_json::Value = serde_json::from_slice(&metadata.stdout)
        .map_err(|e| format!("cargo metadata output: {e}"))?;
    let unpublished = unpublished(&metadata);
    if unpublished.is_empty() {
        return Err("cargo metadata listed no unpublished package; expected the demos".to_owned());
    }
    forget_packaged_sources(&metadata, &unpublished)?;
    let mut command = cargo();
    // What `cargo publish --workspace` would do, up to the upload: package each crate in
    // dependency order and build it from its package alone.
    command.args(["publish", "--workspace", "--dry-run", "--allow-dirty"]);
    for name in &unpublished {
        command.args(["--exclude", name]);
    }
    run(&mut command)
}

/// `cargo publish --workspace --dry-run` verifies each crate against the others through a local registry,
/// whose sources cargo extracts into `$CARGO_HOME/registry/src/-<hash>/<name>-<version>` and does
/// not extract again while that folder exists. On a machine that packaged an earlier commit of the
/// same versions, the verification would build against those stale sources (and fail on any API
/// change since). The copies of the workspace's own packages are removed first; crates.io's
/// folder (`index.crates.io-…`, no leading `-`) is left alone. So is `target/package`, where the
/// verification builds them: cargo takes registry sources as immutable and would reuse what it
/// compiled from the stale copies.
fn forget_packaged_sources(
    metadata: &serde_json::Value,
    unpublished: &[String],
) -> Result<(), String> {
    let home = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .ok_or("neither CARGO_HOME nor HOME is set")?;
    if let Some(target) = metadata["target_directory"].as_str() {
        let built = Path::new(target).join("package");
        if built.exists() {
            fs::remove_dir_all(&built).map_err(|e| format!("removing {}: {e}", built.display()))?;
        }
    }
    let Ok(registries) = fs::read_dir(home.join("registry").join("src")) else {
        return Ok(());
    };
    let packages: Vec<String> = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["name"].as_str()?, p["version"].as_str()?)))
        .filter(|(name, _)| !unpublished.iter().any(|u| u == name))
        .map(|(name, version)| format!("{name}-{version}"))
        .collect();
    for registry in registries.flatten() {
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        for package in &packages {
            let stale = registry.path().join(package);
            if stale.exists() {
                fs::remove_dir_all(&stale)
                    .map_err(|e| format!("removing {}: {e}", stale.display()))?;
            }
        }
    }
    Ok(())
}

/// The names of the workspace packages that say `publish = false` (cargo metadata gives them an
/// empty list of registries).
fn unpublished(metadata: &serde_json::Value) -> Vec<String> {
    metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["publish"].as_array().is_some_and(Vec::is_empty))
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect()
}

fn ci() -> Result<(), String> {
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    // The fuzz targets are a workspace of their own, which `--all` does not reach.
    run(cargo().args(["fmt", "--manifest-path", "fuzz/Cargo.toml", "--", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))?;
    run(cargo()
        .args(["doc", "--workspace", "--no-deps", "--locked"])
        .env("RUSTDOCFLAGS", "-D warnings"))?;
    tidy::run(&root()).map_err(|problems| problems.join("\n"))?;
    package()?;
    features::features()?;
    quickstart::quickstart()?;
    test(&[])
}

#[cfg(test)]
mod tests {
    use super::unpublished;

    #[test]
    fn packages_with_an_empty_registry_list_are_unpublished() {
        let metadata = serde_json::json!({"packages": [
            {"name": "session-core", "publish": null},
            {"name": "demo", "publish": []},
            {"name": "private", "publish": ["my-registry"]},
            {"name": "xtask", "publish": []},
        ]});
        assert_eq!(unpublished(&metadata), ["demo", "xtask"]);
    }
}
