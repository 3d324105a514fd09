//! Repository hygiene checks. `cargo xtask tidy` runs them, and so does `cargo test` (the test
//! at the bottom), so they cannot be forgotten.

use std::fs;
use std::path::{Path, PathBuf};

/// Runs every check; returns the problems found.
pub(crate) fn run(root: &Path) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    let crates = root.join("crates");
    let entries = fs::read_dir(&crates).map_err(|e| vec![format!("{}: {e}", crates.display())])?;
    for entry in entries.flatten() {
        let dir = entry.path();
        let manifest = fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !manifest.contains(&format!("name = \"{name}\"")) {
            problems.push(format!(
                "crates/{name}: the folder name must be the crate name"
            ));
        }
        if !manifest.contains("[lints]\nworkspace = true") {
            problems.push(format!(
                "crates/{name}: Cargo.toml must inherit the workspace lints"
            ));
        }
        let publish = !manifest.contains("publish = false");
        if publish && !dir.join("CHANGELOG.md").exists() {
            problems.push(format!(
                "crates/{name}: a published crate needs a CHANGELOG.md"
            ));
        }
        for root_file in ["src/lib.rs", "src/main.rs"] {
            if let Ok(text) = fs::read_to_string(dir.join(root_file)) {
                if !text.contains("#![forbid(unsafe_code)]") {
                    problems.push(format!(
                        "crates/{name}/{root_file}: missing #![forbid(unsafe_code)]"
                    ));
                }
            }
        }
    }
    for file in rust_files(root) {
        let text = fs::read_to_string(&file).unwrap_or_default();
        let shown = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string();
        for (n, line) in text.lines().enumerate() {
            let t = line.trim_start();
            if t.starts_with("//")
                && (t.contains("TODO") || t.contains("FIXME"))
                && !shown.ends_with("tidy.rs")
            {
                problems.push(format!("{shown}:{}: leftover TODO/FIXME", n + 1));
            }
            if t.starts_with("#[ignore") || t.starts_with("#[should_panic") {
                problems.push(format!(
                    "{shown}:{}: tests are never ignored or should_panic",
                    n + 1
                ));
            }
        }
    }
    for required in [
        "README.md",
        "ARCHITECTURE.md",
        ".ci/run",
        ".github/workflows/ci.yml",
    ] {
        if !root.join(required).exists() {
            problems.push(format!("{required} is missing"));
        }
    }
    let ci = fs::read_to_string(root.join(".ci/run")).unwrap_or_default();
    let readme = fs::read_to_string(root.join("README.md")).unwrap_or_default();
    if !(ci.contains("cargo xtask test") && readme.contains("cargo xtask test")) {
        problems.push(".ci/run must run the README's test command (cargo xtask test)".to_owned());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn rust_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.join("crates"), root.join("xtask"), root.join("fuzz")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "target") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_repository_is_tidy() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("workspace root")
            .to_path_buf();
        if let Err(problems) = super::run(&root) {
            panic!("tidy found problems:\n{}", problems.join("\n"));
        }
    }
}
