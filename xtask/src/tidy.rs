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
        if publish {
            problems.extend(crates_io_page(&name, &dir, &manifest));
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
    problems.extend(guide_compiles(root));
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

/// What crates.io and docs.rs show of a published crate: its README, the manifest keys that
/// link and classify it, and docs.rs's feature settings.
fn crates_io_page(name: &str, dir: &Path, manifest: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if !dir.join("README.md").exists() {
        problems.push(format!(
            "crates/{name}: a published crate needs a README.md"
        ));
    }
    let documentation = format!("documentation = \"https://docs.rs/{name}\"");
    for key in [
        "readme = \"README.md\"",
        documentation.as_str(),
        "keywords = [",
        "categories = [",
        "[package.metadata.docs.rs]",
    ] {
        if !manifest.contains(key) {
            problems.push(format!("crates/{name}/Cargo.toml: missing `{key}`"));
        }
    }
    problems
}

/// Every Markdown file with Rust code (the README files and `docs/`) is compiled by the
/// `doctests` crate, and a block it skips says why on its first line.
fn guide_compiles(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let included = fs::read_to_string(root.join("crates/doctests/src/lib.rs")).unwrap_or_default();
    for file in markdown_files(root) {
        let text = fs::read_to_string(&file).unwrap_or_default();
        let shown = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .to_string_lossy()
            .replace('\\', "/");
        let mut lines = text.lines().enumerate().peekable();
        let mut has_rust = false;
        while let Some((n, line)) = lines.next() {
            let Some(info) = line.trim_start().strip_prefix("```rust") else {
                continue;
            };
            has_rust = true;
            let first = lines.peek().map(|(_, l)| l.trim_start()).unwrap_or("");
            if info.contains("ignore") && !first.starts_with("// Not compiled: ") {
                problems.push(format!(
                    "{shown}:{}: an ignored block starts with `// Not compiled: <why>`",
                    n + 1
                ));
            }
        }
        if has_rust && !included.contains(&format!("\"{shown}\"")) {
            problems.push(format!(
                "{shown}: has Rust code; list it in crates/doctests/src/lib.rs"
            ));
        }
    }
    problems
}

/// `README.md`, the crates' README files and every Markdown file under `docs/`.
fn markdown_files(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.join("README.md")];
    if let Ok(entries) = fs::read_dir(root.join("crates")) {
        out.extend(
            entries
                .flatten()
                .map(|e| e.path().join("README.md"))
                .filter(|p| p.exists()),
        );
    }
    let mut stack = vec![root.join("docs")];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path);
            }
        }
    }
    out
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
