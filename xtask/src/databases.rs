//! The database servers the SQL driver's tests use: PostgreSQL on 127.0.0.1:5432 (trust
//! authentication) and MariaDB on 127.0.0.1:3306 (root, no password). Each is started when it is
//! installed but not running, and installed from Debian's packages (then set up for those
//! logins) when it is missing. Tests create and drop a schema or database of their own.

use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::run;

pub(crate) fn ensure_databases() -> Result<(), String> {
    ensure_postgres()?;
    ensure_mariadb()
}

/// Whether something accepts connections on the loopback `port`.
fn listening(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
}

fn wait_for(port: u16, what: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !listening(port) {
        if Instant::now() > deadline {
            return Err(format!(
                "{what} did not start listening on 127.0.0.1:{port}"
            ));
        }
        sleep(Duration::from_millis(250));
    }
    Ok(())
}

fn installed(path: &str) -> bool {
    Path::new(path).exists()
}

fn apt_install(packages: &[&str]) -> Result<(), String> {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !is_root {
        return Err(format!(
            "{} missing; install the Debian packages as root",
            packages.join(" and ")
        ));
    }
    run(Command::new("apt-get").arg("update").arg("-q"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// The PostgreSQL cluster versions under `/etc/postgresql`.
fn postgres_versions() -> Vec<String> {
    fs::read_dir("/etc/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

fn ensure_postgres() -> Result<(), String> {
    if listening(5432) {
        return Ok(());
    }
    let fresh = postgres_versions().is_empty();
    if fresh {
        apt_install(&["postgresql"])?;
    }
    let version = postgres_versions()
        .into_iter()
        .next()
        .ok_or("PostgreSQL is installed but has no cluster under /etc/postgresql")?;
    if fresh {
        // Debian's default asks loopback clients for a password; the tests log in as
        // `postgres` without one, as on the machines they run on.
        let hba = format!("/etc/postgresql/{version}/main/pg_hba.conf");
        let text = fs::read_to_string(&hba).map_err(|e| format!("{hba}: {e}"))?;
        let trust = "host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n";
        fs::write(&hba, format!("{trust}{text}")).map_err(|e| format!("{hba}: {e}"))?;
    }
    run(Command::new("pg_ctlcluster").args([
        "--skip-systemctl-redirect",
        &version,
        "main",
        "start",
    ]))?;
    wait_for(5432, "PostgreSQL")
}

fn ensure_mariadb() -> Result<(), String> {
    if listening(3306) {
        return Ok(());
    }
    let fresh = !installed("/usr/sbin/mariadbd");
    if fresh {
        apt_install(&["mariadb-server"])?;
    }
    run(Command::new("start-stop-daemon").args([
        "--start",
        "--oknodo",
        "--background",
        "--exec",
        "/usr/sbin/mariadbd",
    ]))?;
    wait_for(3306, "MariaDB")?;
    if fresh {
        // Debian's root logs in through the Unix socket only; the tests connect over TCP as
        // root without a password, as on the machines they run on.
        run(Command::new("mariadb").args([
            "-u",
            "root",
            "-e",
            "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('')",
        ]))?;
    }
    Ok(())
}
