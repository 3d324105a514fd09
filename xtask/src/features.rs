//! `cargo xtask features`: the facade's feature matrix and the minimum supported Rust version.

use crate::{cargo, run};

/// The facade's cargo features (`crates/session-kit/Cargo.toml`), in the order its docs list them.
const FACADE_FEATURES: [&str; 5] = ["cookie", "file", "redis", "axum", "actix"];

/// The SQL driver's cargo features (`crates/session-sql/Cargo.toml`).
const SQL_FEATURES: [&str; 3] = ["postgres", "mysql", "sqlite"];

/// Lints (clippy, warnings denied) the facade with every combination of its features (32 builds, `--no-default-features`
/// plus the subset) and the SQL driver with every combination of its databases (8), runs the
/// facade's tests with no feature at all (where a left-out driver's start-up
/// error names its feature), builds the docs of the crates with features as a user would, then
/// checks that no dependency of a published crate asks for a
/// newer Rust than the workspace's `rust-version`.
pub(crate) fn features() -> Result<(), String> {
    lint_every_set("session-kit", &FACADE_FEATURES, &["--all-targets"])?;
    // The SQL driver's databases, each set on its own (the crate builds with none, too).
    lint_every_set("session-sql", &SQL_FEATURES, &["--lib", "--no-deps"])?;
    run(cargo().args([
        "test",
        "--locked",
        "-p",
        "session-kit",
        "--no-default-features",
    ]))?;
    // The docs of a crate built alone, as a user's `cargo doc` builds them: no link may point
    // to an item behind a feature that is off.
    for (package, features) in [
        ("session-kit", None),
        ("session-kit", Some("--no-default-features")),
        ("session-core", None),
        ("session-testkit", None),
    ] {
        let mut command = cargo();
        command
            .args(["doc", "--locked", "--quiet", "--no-deps", "-p", package])
            .args(features)
            .env("RUSTDOCFLAGS", "-D warnings");
        run(&mut command)?;
    }
    msrv()
}

/// Runs clippy, warnings denied, on `package` with `--no-default-features` and each subset of
/// `features`.
fn lint_every_set(package: &str, features: &[&str], targets: &[&str]) -> Result<(), String> {
    for set in powerset(features) {
        let mut command = cargo();
        command
            .args(["clippy", "--locked", "--quiet", "-p", package])
            .args(targets)
            .arg("--no-default-features");
        if !set.is_empty() {
            command.args(["--features", &set.join(",")]);
        }
        run(command.args(["--", "-D", "warnings"]))?;
    }
    Ok(())
}

/// Every subset of `items`, the empty one first.
fn powerset<'a>(items: &[&'a str]) -> Vec<Vec<&'a str>> {
    (0..1u32 << items.len())
        .map(|mask| {
            items
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, item)| *item)
                .collect()
        })
        .collect()
}

/// The claim of `rust-version`: the published crates use no standard library item newer than it
/// (clippy's `incompatible_msrv`, run with the workspace lints), and none of their normal or build
/// dependencies, as locked, declares a newer `rust-version`. This machine has one toolchain, so
/// the check reads the dependencies' declarations; the GitHub workflow's MSRV job also builds
/// the published crates with that toolchain.
fn msrv() -> Result<(), String> {
    let output = cargo()
        .args(["metadata", "--format-version", "1", "--locked"])
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("cargo metadata output: {e}"))?;
    let too_new = newer_than_claimed(&metadata)?;
    if too_new.is_empty() {
        eprintln!(
            "xtask: every dependency of the published crates supports the claimed rust-version"
        );
        Ok(())
    } else {
        Err(format!(
            "dependencies of published crates need a newer Rust than the workspace's rust-version: {}",
            too_new.join(", ")
        ))
    }
}

/// `name version (rust-version)` of each package reachable from a published workspace crate
/// through normal or build dependencies whose `rust-version` is newer than the workspace's.
fn newer_than_claimed(metadata: &serde_json::Value) -> Result<Vec<String>, String> {
    let packages = metadata["packages"].as_array().ok_or("no packages")?;
    let members = metadata["workspace_members"]
        .as_array()
        .ok_or("no workspace members")?;
    let claimed = packages
        .iter()
        .find(|p| p["name"] == "session-core")
        .and_then(|p| p["rust_version"].as_str())
        .and_then(version)
        .ok_or("session-core declares no rust-version")?;
    let published = packages.iter().filter(|p| {
        members.contains(&p["id"]) && !p["publish"].as_array().is_some_and(Vec::is_empty)
    });
    let nodes = metadata["resolve"]["nodes"]
        .as_array()
        .ok_or("no resolve graph")?;
    let node = |id: &serde_json::Value| nodes.iter().find(|n| n["id"] == *id);
    let mut stack: Vec<serde_json::Value> = published.map(|p| p["id"].clone()).collect();
    let mut seen = Vec::new();
    while let Some(id) = stack.pop() {
        if seen.contains(&id) {
            continue;
        }
        for dep in node(&id)
            .and_then(|n| n["deps"].as_array())
            .into_iter()
            .flatten()
        {
            let runtime = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["kind"].is_null() || k["kind"] == "build");
            if runtime {
                stack.push(dep["pkg"].clone());
            }
        }
        seen.push(id);
    }
    Ok(packages
        .iter()
        .filter(|p| seen.contains(&p["id"]))
        .filter_map(|p| {
            let declared = p["rust_version"].as_str()?;
            (version(declared)? > claimed).then(|| {
                format!(
                    "{} {} (rust-version {declared})",
                    p["name"].as_str().unwrap_or("?"),
                    p["version"].as_str().unwrap_or("?")
                )
            })
        })
        .collect())
}

/// `1.89` or `1.89.0` as comparable numbers.
fn version(text: &str) -> Option<Vec<u32>> {
    let mut parts: Vec<u32> = text
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    parts.resize(3, 0);
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::{newer_than_claimed, powerset, version};
    use serde_json::json;

    #[test]
    fn the_powerset_of_five_features_has_thirty_two_sets() {
        let sets = powerset(&["a", "b", "c", "d", "e"]);
        assert_eq!(sets.len(), 32);
        assert!(sets[0].is_empty());
        assert_eq!(sets[31], ["a", "b", "c", "d", "e"]);
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(version("1.100").unwrap() > version("1.89").unwrap());
        assert_eq!(version("1.89").unwrap(), version("1.89.0").unwrap());
        assert!(version("nightly").is_none());
    }

    #[test]
    fn a_runtime_dependency_newer_than_the_claim_is_named_and_a_dev_one_is_not() {
        let metadata = json!({
            "packages": [
                {"id": "core", "name": "session-core", "version": "0.1.0", "rust_version": "1.89", "publish": null},
                {"id": "new", "name": "new-dep", "version": "2.0.0", "rust_version": "1.91", "publish": null},
                {"id": "dev", "name": "dev-dep", "version": "1.0.0", "rust_version": "1.95", "publish": null},
                {"id": "old", "name": "old-dep", "version": "1.0.0", "rust_version": "1.70", "publish": null}
            ],
            "workspace_members": ["core"],
            "resolve": {"nodes": [
                {"id": "core", "deps": [
                    {"pkg": "new", "dep_kinds": [{"kind": null}]},
                    {"pkg": "dev", "dep_kinds": [{"kind": "dev"}]},
                    {"pkg": "old", "dep_kinds": [{"kind": "build"}]}
                ]},
                {"id": "new", "deps": []},
                {"id": "dev", "deps": []},
                {"id": "old", "deps": []}
            ]}
        });
        assert_eq!(
            newer_than_claimed(&metadata).unwrap(),
            ["new-dep 2.0.0 (rust-version 1.91)"]
        );
    }
}
