//! `cargo xtask quickstart`: the README's quick starts, followed as a new user would.
//!
//! For each framework: a new project whose `[dependencies]` are the README's TOML block and whose
//! `src/main.rs` is the README's Rust block, word for word; `session-kit` comes from this
//! repository through `[patch.crates-io]`. It is built, started with a fresh `APP_KEY` (the
//! README's `openssl rand -base64 32`), and asked for `/` twice with the cookies of the first
//! answer: the cart total must go from 10 to 20.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::{cargo, root, run};

/// The README's quick start sections, by the binary name of the project made from each.
const SECTIONS: [(&str, &str); 2] = [
    ("quickstart-axum", "## Quick start (axum)"),
    ("quickstart-actix", "## Quick start (actix-web)"),
];

/// Where the quick starts listen (the README's `127.0.0.1:3000`).
const ADDRESS: &str = "127.0.0.1:3000";

pub(crate) fn quickstart() -> Result<(), String> {
    let root = root();
    let readme = fs::read_to_string(root.join("README.md"))
        .map_err(|e| format!("reading README.md: {e}"))?;
    let work = root.join("target").join("quickstart");
    let key = app_key()?;
    for (name, heading) in SECTIONS {
        let section = section(&readme, heading)?;
        let toml = fenced(section, "toml").ok_or(format!("{heading}: no ```toml block"))?;
        let code = fenced(section, "rust").ok_or(format!("{heading}: no ```rust block"))?;
        let project = work.join(name);
        fs::create_dir_all(project.join("src")).map_err(|e| format!("{name}: {e}"))?;
        fs::write(project.join("Cargo.toml"), manifest(name, toml, &root))
            .map_err(|e| format!("{name}: {e}"))?;
        fs::write(project.join("src").join("main.rs"), code).map_err(|e| format!("{name}: {e}"))?;
        // The workspace's lock file, so that the project builds with the versions the workspace
        // is tested with; cargo drops what the project does not use.
        fs::copy(root.join("Cargo.lock"), project.join("Cargo.lock"))
            .map_err(|e| format!("{name}: copying Cargo.lock: {e}"))?;
        run(cargo()
            .current_dir(&project)
            .args(["build", "--quiet"])
            .env("CARGO_TARGET_DIR", work.join("target")))?;
        let binary = work.join("target").join("debug").join(name);
        check_cart(name, &binary, &key)?;
        eprintln!("xtask: {heading}: built, started, cart total 10 then 20");
    }
    Ok(())
}

/// The text of a `## ` section of the README, up to the next one.
fn section<'a>(readme: &'a str, heading: &str) -> Result<&'a str, String> {
    let start = readme
        .find(heading)
        .ok_or(format!("README.md has no `{heading}` section"))?;
    let rest = &readme[start + heading.len()..];
    Ok(rest.find("\n## ").map_or(rest, |end| &rest[..end]))
}

/// The first fenced block whose info string starts with `language`.
fn fenced<'a>(text: &'a str, language: &str) -> Option<&'a str> {
    let open = format!("```{language}");
    let start = text.find(&open)?;
    let body = &text[start..];
    let body = &body[body.find('\n')? + 1..];
    Some(&body[..body.find("```")?])
}

/// A standalone project (its own `[workspace]`) with the README's dependencies and the
/// repository's `session-kit` in place of the crates.io one.
fn manifest(name: &str, dependencies: &str, root: &Path) -> String {
    let kit = root.join("crates").join("session-kit");
    format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
         [workspace]\n\n{dependencies}\n[patch.crates-io]\nsession-kit = {{ path = {:?} }}\n",
        kit.display().to_string()
    )
}

/// A fresh key, made the way the README says.
fn app_key() -> Result<String, String> {
    let out = Command::new("openssl")
        .args(["rand", "-base64", "32"])
        .output()
        .map_err(|e| format!("openssl rand (the README's key command): {e}"))?;
    let key = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if out.status.success() && key.len() >= 32 {
        Ok(key)
    } else {
        Err("openssl rand -base64 32 gave no key".to_owned())
    }
}

/// Starts the quick start and checks two requests of one visitor.
fn check_cart(name: &str, binary: &Path, key: &str) -> Result<(), String> {
    let address: SocketAddr = ADDRESS.parse().map_err(|e| format!("{ADDRESS}: {e}"))?;
    if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
        return Err(format!(
            "{ADDRESS} is already taken; stop what listens there and run again"
        ));
    }
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("APP_KEY", key)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = command
        .spawn()
        .map_err(|e| format!("starting {name}: {e}"))?;
    let mut server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
        if let Ok(Some(status)) = server.0.try_wait() {
            let mut stderr = String::new();
            if let Some(mut pipe) = server.0.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr);
            }
            return Err(format!("{name} exited with {status}: {stderr}"));
        }
        if Instant::now() > deadline {
            return Err(format!("{name} did not listen on {ADDRESS} within 30 s"));
        }
        sleep(Duration::from_millis(100));
    }
    let (first, cookies) = get(address, None)?;
    if !first.ends_with("cart total: 10") {
        return Err(format!(
            "{name}: first answer {first:?}, expected cart total: 10"
        ));
    }
    if cookies.is_empty() {
        return Err(format!("{name}: the first answer set no cookie"));
    }
    let (second, _) = get(address, Some(&cookies.join("; ")))?;
    if !second.ends_with("cart total: 20") {
        return Err(format!(
            "{name}: second answer {second:?}, expected cart total: 20"
        ));
    }
    Ok(())
}

/// Kills the server when the check ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `GET /` over HTTP/1.1 with an optional `Cookie` header: the body and the `name=value` of each
/// `Set-Cookie`.
fn get(address: SocketAddr, cookie: Option<&str>) -> Result<(String, Vec<String>), String> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))
        .map_err(|e| format!("connecting to {address}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: {address}\r\n{cookie}Connection: close\r\n\r\n"
    )
    .map_err(|e| format!("sending to {address}: {e}"))?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| format!("reading from {address}: {e}"))?;
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or(format!("not an HTTP answer: {answer:?}"))?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("expected 200, got: {head}"));
    }
    let cookies = head
        .lines()
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("set-cookie")
                .then(|| value.trim().split(';').next().unwrap_or("").to_owned())
        })
        .collect();
    Ok((body.trim().to_owned(), cookies))
}

#[cfg(test)]
mod tests {
    use super::{fenced, section};

    #[test]
    fn the_blocks_of_a_section_are_found() {
        let readme = "# x\n## A\ntext\n```toml\n[dependencies]\na = \"1\"\n```\n```rust,no_run\nfn main() {}\n```\n## B\n```toml\nb\n```\n";
        let a = section(readme, "## A").unwrap();
        assert_eq!(fenced(a, "toml"), Some("[dependencies]\na = \"1\"\n"));
        assert_eq!(fenced(a, "rust"), Some("fn main() {}\n"));
        assert_eq!(fenced(section(readme, "## B").unwrap(), "rust"), None);
        assert!(section(readme, "## C").is_err());
    }
}
