//! The criterion micro-benchmarks' figures, collected into `docs/micro-benchmarks.md` by
//! `cargo xtask bench micro` after criterion ran.
//!
//! Criterion keeps each benchmark's latest estimates in
//! `<target>/criterion/<id>/new/{benchmark.json,estimates.json}`. Only the estimates written
//! since the run began are collected, so benchmarks that were renamed or removed, or left out by
//! a filter, do not appear with old figures.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::SystemTime;

use serde_json::Value;

/// One benchmark's time per iteration, as criterion prints it: the slope of its linear
/// sampling when it has one, otherwise the mean, with the 95% confidence interval.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Estimate {
    pub(crate) group: String,
    pub(crate) id: String,
    pub(crate) ns: f64,
    pub(crate) low_ns: f64,
    pub(crate) high_ns: f64,
}

/// The run's circumstances, printed above the tables.
pub(crate) struct Environment {
    pub(crate) date: String,
    pub(crate) cpu: String,
    pub(crate) cpus: usize,
    pub(crate) rustc: String,
    pub(crate) command: String,
}

/// What each group measures, and where it is defined: a sentence each.
const GROUPS: &[(&str, &str)] = &[
    (
        "request",
        "One request cycle through the session manager with the memory driver, without HTTP: \
         read a value, increment one and commit, or leave the session untouched \
         (`crates/session-bench/benches/core.rs`).",
    ),
    (
        "axum",
        "One request through a whole axum router in process, without sockets: the router \
         without sessions (`bare`) and behind `SessionLayer` with the memory and cookie drivers \
         (`crates/session-bench/benches/stack.rs`).",
    ),
    (
        "store",
        "Store operations on a session's values (`crates/session-bench/benches/core.rs`).",
    ),
    (
        "id",
        "Id generation, signing, verifying (a valid and a tampered value) and storage-key \
         derivation (`crates/session-bench/benches/core.rs`).",
    ),
    (
        "record",
        "The record encoding, both ways (`crates/session-bench/benches/core.rs`).",
    ),
    (
        "cookie",
        "The cookie driver: sealing (a write), opening (a read), and reading a value it opened \
         before (`crates/session-cookie/benches/seal_open.rs`).",
    ),
];

/// The estimates criterion wrote under `dir` since `since`, in the order of [`GROUPS`] (other
/// groups after them), each group's benchmarks by id.
pub(crate) fn collect(dir: &Path, since: SystemTime) -> Result<Vec<Estimate>, String> {
    let mut found = Vec::new();
    walk(dir, since, &mut found)?;
    let rank = |group: &str| {
        GROUPS
            .iter()
            .position(|(g, _)| *g == group)
            .unwrap_or(GROUPS.len())
    };
    found.sort_by(|a, b| (rank(&a.group), &a.group, &a.id).cmp(&(rank(&b.group), &b.group, &b.id)));
    Ok(found)
}

fn walk(dir: &Path, since: SystemTime, found: &mut Vec<Estimate>) -> Result<(), String> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") {
            let estimates = path.join("estimates.json");
            let fresh = fs::metadata(&estimates)
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified >= since);
            if fresh {
                found.push(read(&path)?);
            }
        } else {
            walk(&path, since, found)?;
        }
    }
    Ok(())
}

fn read(new: &Path) -> Result<Estimate, String> {
    let json = |name: &str| -> Result<Value, String> {
        let path = new.join(name);
        let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    };
    let benchmark = json("benchmark.json")?;
    let estimates = json("estimates.json")?;
    let text = |field: &str| {
        benchmark[field]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{}: no {field} in benchmark.json", new.display()))
    };
    let estimate = match &estimates["slope"] {
        Value::Null => &estimates["mean"],
        slope => slope,
    };
    let number = |v: &Value| {
        v.as_f64()
            .ok_or_else(|| format!("{}: estimates.json is not as expected", new.display()))
    };
    Ok(Estimate {
        group: text("group_id")?,
        id: text("full_id")?,
        ns: number(&estimate["point_estimate"])?,
        low_ns: number(&estimate["confidence_interval"]["lower_bound"])?,
        high_ns: number(&estimate["confidence_interval"]["upper_bound"])?,
    })
}

/// A time in the unit that keeps three significant figures readable.
fn time(ns: f64) -> String {
    if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.2} µs", ns / 1_000.0)
    } else {
        format!("{:.2} ms", ns / 1_000_000.0)
    }
}

/// The page: how it was made, then a table per group.
pub(crate) fn markdown(estimates: &[Estimate], env: &Environment) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Micro-benchmarks\n");
    let _ = writeln!(
        md,
        "Criterion benchmarks of the pieces every request goes through, per call on one core. \
         This page is written by `{}`; the HTTP benchmarks against tower-sessions and \
         actix-session are in [benchmarks.md](benchmarks.md). \"small\" is a session of three \
         values, \"large\" one of a thousand values (about 40 KB of JSON). Each figure is \
         criterion's estimate of the time per call with its 95% confidence interval. The \
         machine is shared with other work, and the same binary's figures have moved by tens of \
         percent between runs on it: compare figures of one run.\n",
        env.command
    );
    let _ = writeln!(md, "- Date: {}", env.date);
    let _ = writeln!(md, "- CPU: {} ({} logical CPUs)", env.cpu, env.cpus);
    let _ = writeln!(md, "- Compiler: {}", env.rustc);
    let _ = writeln!(md, "- Command: `{}`\n", env.command);
    let mut groups: Vec<&str> = Vec::new();
    for e in estimates {
        if groups.last() != Some(&e.group.as_str()) {
            groups.push(&e.group);
        }
    }
    for group in groups {
        let _ = writeln!(md, "## `{group}`\n");
        if let Some((_, about)) = GROUPS.iter().find(|(g, _)| *g == group) {
            let _ = writeln!(md, "{about}\n");
        }
        let _ = writeln!(md, "| benchmark | time per call | 95% interval |");
        let _ = writeln!(md, "|---|---:|---:|");
        for e in estimates.iter().filter(|e| e.group == group) {
            let _ = writeln!(
                md,
                "| `{}` | {} | {} – {} |",
                e.id,
                time(e.ns),
                time(e.low_ns),
                time(e.high_ns)
            );
        }
        let _ = writeln!(md);
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn write_benchmark(dir: &Path, group: &str, id: &str, estimates: &str) -> std::path::PathBuf {
        let new = dir.join(id).join("new");
        fs::create_dir_all(&new).expect("dir");
        let benchmark = serde_json::json!({
            "group_id": group,
            "function_id": id.rsplit('/').next(),
            "value_str": null,
            "throughput": null,
            "full_id": id,
            "directory_name": id,
            "title": id,
        });
        fs::write(new.join("benchmark.json"), benchmark.to_string()).expect("write");
        fs::write(new.join("estimates.json"), estimates).expect("write");
        new.join("estimates.json")
    }

    fn estimate(point: f64, low: f64, high: f64) -> String {
        format!(
            r#"{{"confidence_interval":{{"confidence_level":0.95,"lower_bound":{low},"upper_bound":{high}}},"point_estimate":{point},"standard_error":1.0}}"#
        )
    }

    #[test]
    fn only_this_runs_estimates_are_collected_slope_first_in_group_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A minute back: file times come from a coarser clock than `SystemTime::now`.
        let since = SystemTime::now() - Duration::from_secs(60);
        // Linear sampling: criterion prints the slope.
        write_benchmark(
            dir.path(),
            "id",
            "id/verify",
            &format!(
                r#"{{"mean":{},"slope":{}}}"#,
                estimate(500.0, 490.0, 510.0),
                estimate(450.0, 440.0, 460.0)
            ),
        );
        // Flat sampling (no slope): the mean.
        write_benchmark(
            dir.path(),
            "request",
            "request/read/large",
            &format!(
                r#"{{"mean":{},"slope":null}}"#,
                estimate(2_500_000.0, 2_400_000.0, 2_600_000.0)
            ),
        );
        write_benchmark(
            dir.path(),
            "request",
            "request/increment/small",
            &format!(r#"{{"mean":{}}}"#, estimate(5_100.0, 5_000.0, 5_300.0)),
        );
        // Left from an earlier run (a benchmark since removed): not collected.
        let old = write_benchmark(
            dir.path(),
            "store",
            "store/gone",
            &format!(r#"{{"mean":{}}}"#, estimate(1.0, 1.0, 1.0)),
        );
        fs::File::options()
            .write(true)
            .open(&old)
            .and_then(|f| f.set_modified(since - Duration::from_secs(3600)))
            .expect("set mtime");

        let found = collect(dir.path(), since).expect("collect");
        let ids: Vec<&str> = found.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            ["request/increment/small", "request/read/large", "id/verify"]
        );
        assert_eq!(found[2].ns, 450.0, "the slope, when there is one");
        assert_eq!(found[1].ns, 2_500_000.0);

        let env = Environment {
            date: "2026-12-02 01:00 UTC".to_owned(),
            cpu: "Some CPU".to_owned(),
            cpus: 2,
            rustc: "rustc 1.95.0".to_owned(),
            command: "cargo xtask bench micro".to_owned(),
        };
        let md = markdown(&found, &env);
        assert!(md.contains("| `request/increment/small` | 5.10 µs | 5.00 µs – 5.30 µs |"));
        assert!(md.contains("| `request/read/large` | 2.50 ms | 2.40 ms – 2.60 ms |"));
        assert!(md.contains("| `id/verify` | 450 ns | 440 ns – 460 ns |"));
        assert!(md.contains("## `request`\n\nOne request cycle"));
        assert!(md.find("## `request`") < md.find("## `id`"));
        assert!(!md.contains("store"));
        assert!(md.contains("- CPU: Some CPU (2 logical CPUs)"));
    }

    #[test]
    fn a_missing_folder_has_no_estimates_and_a_broken_file_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let since = SystemTime::now() - Duration::from_secs(60);
        assert_eq!(collect(&dir.path().join("none"), since), Ok(Vec::new()));
        write_benchmark(dir.path(), "id", "id/sign", "{not json");
        let err = collect(dir.path(), since).expect_err("broken");
        assert!(err.contains("estimates.json"), "{err}");
    }
}
