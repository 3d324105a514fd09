//! HTTP benchmarks of the session crates against tower-sessions and actix-session.
//!
//! `cargo xtask bench` builds this binary in release mode and runs `session-bench run`, which
//! starts every server as a child process (`session-bench serve <server>`), a private
//! `redis-server` on a free loopback port, a database per PostgreSQL server on a running
//! PostgreSQL, and the load generator, then measures the stores'
//! footprint (bytes per session, `session-bench footprint`) and writes `docs/benchmarks.md` and
//! `docs/benchmarks.svg`.
//!
//! ```text
//! session-bench run [--duration S] [--warmup S] [--rounds N] [--connections N]
//!                   [--concurrent N] [--servers a,b] [--workloads read,write]
//!                   [--footprint true|false] [--sessions N]
//!                   [--workers N] [--out FILE] [--svg FILE] [--notes FILE] [--root DIR]
//! session-bench serve <server> --addr HOST:PORT [--redis-url URL] [--postgres-url URL]
//!                    [--dir DIR] [--workers N]
//! session-bench footprint [--sessions N]
//! session-bench list
//! ```
//!
//! `run` measures the footprint unless `--servers` or `--workloads` picks a part of the run;
//! `--footprint true|false` decides either way, and `--sessions` sets the sessions written per
//! store (100,000). `footprint` measures it alone and prints its section of the page; it runs
//! each memory store's measurement in a child process, `session-bench footprint-memory
//! ours|tower --sessions N`.
//!
//! `callgrind.sh`, beside this crate's manifest, runs the same servers under valgrind's callgrind
//! and counts the instructions they execute per request: figures that do not move with the
//! machine's load, as requests per second do.
//!
//! The PostgreSQL servers (`axum-postgres`, ours with the SQL driver, and
//! `tower-sessions-postgres`) need a PostgreSQL server that already runs: by default
//! `postgres://postgres@127.0.0.1:5432/postgres` (trust authentication, as `cargo xtask test`
//! starts it), or the URL in `BENCH_POSTGRES_URL`, whose user may create databases. `run`
//! stops with an error when it is not reachable. Each server gets a database of its own
//! (`session_bench_ours`, `session_bench_tower`), created fresh every round and dropped at the
//! end of the run (`postgres.rs`); `serve` takes that database's URL as `--postgres-url`.
//!
//! `BENCH_DURATION`, `BENCH_WARMUP` and `BENCH_ROUNDS` set the defaults of the first three
//! flags (3 s, 1 s, 3: about ten minutes for every server and workload on 2 cores). `BENCH_REDIS_POOL` sets the pool size of our Redis driver (its default
//! otherwise), for experiments; the published figures use the default.

#![forbid(unsafe_code)]

mod client;
mod footprint;
mod postgres;
mod redis;
mod report;
mod run;
mod servers;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use crate::run::{RunOptions, Workload};
use crate::servers::{ServeOptions, Server};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run_command(&args[1..]),
        Some("serve") => serve_command(&args[1..]),
        Some("footprint") => footprint_command(&args[1..]),
        Some("footprint-memory") => match args.get(1) {
            Some(which) => sessions(&args[2..]).and_then(|n| footprint::memory_child(which, n)),
            None => Err("footprint-memory needs a store: ours or tower".to_owned()),
        },
        Some("list") => {
            for s in Server::ALL {
                println!("{:<24} {}", s.slug(), s.label());
            }
            Ok(())
        }
        _ => Err(
            "usage: session-bench run [flags] | serve <server> --addr HOST:PORT \
                 | footprint [--sessions N] | list\
                  \n(see the crate documentation for the flags)"
                .to_owned(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("session-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A port that was free a moment ago on 127.0.0.1.
pub(crate) fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `--name value` flags into pairs; anything else is an error.
fn flags(args: &[String]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let Some(name) = flag.strip_prefix("--") else {
            return Err(format!("unexpected argument {flag:?}"));
        };
        let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
        out.push((name.to_owned(), value.clone()));
    }
    Ok(out)
}

fn seconds(name: &str, value: &str) -> Result<Duration, String> {
    let s: f64 = value
        .parse()
        .map_err(|_| format!("--{name}: {value:?} is not a number of seconds"))?;
    if !(0.0..=3600.0).contains(&s) {
        return Err(format!("--{name}: {s} s is out of range (0 to 3600)"));
    }
    Ok(Duration::from_secs_f64(s))
}

fn number(name: &str, value: &str, max: usize) -> Result<usize, String> {
    let n: usize = value
        .parse()
        .map_err(|_| format!("--{name}: {value:?} is not a whole number"))?;
    if n == 0 && name != "concurrent" || n > max {
        return Err(format!("--{name}: {n} is out of range (1 to {max})"));
    }
    Ok(n)
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn run_command(args: &[String]) -> Result<(), String> {
    let env_or = |var: &str, default: &str| std::env::var(var).unwrap_or_else(|_| default.into());
    let mut options = RunOptions {
        duration: seconds("duration", &env_or("BENCH_DURATION", "3"))?,
        warmup: seconds("warmup", &env_or("BENCH_WARMUP", "1"))?,
        rounds: number("rounds", &env_or("BENCH_ROUNDS", "3"), 50)?,
        connections: 64,
        concurrent: 200,
        servers: Server::ALL.to_vec(),
        workloads: Workload::ALL.to_vec(),
        server_workers: cpus(),
        footprint: None,
    };
    let mut footprint = None;
    let mut sessions = footprint::DEFAULT_SESSIONS;
    let mut filtered = false;
    let mut out = None;
    let mut svg = None;
    let mut notes = None;
    let mut root = PathBuf::from(".");
    for (name, value) in flags(args)? {
        match name.as_str() {
            "duration" => options.duration = seconds(&name, &value)?,
            "warmup" => options.warmup = seconds(&name, &value)?,
            "rounds" => options.rounds = number(&name, &value, 50)?,
            "connections" => options.connections = number(&name, &value, 1000)?,
            "concurrent" => options.concurrent = number(&name, &value, 1000)?,
            "workers" => options.server_workers = number(&name, &value, 256)?,
            "servers" => {
                filtered = true;
                options.servers = value
                    .split(',')
                    .map(|s| Server::from_slug(s).ok_or_else(|| format!("unknown server {s:?}")))
                    .collect::<Result<_, _>>()?;
            }
            "workloads" => {
                filtered = true;
                options.workloads = value
                    .split(',')
                    .map(|s| {
                        Workload::from_slug(s).ok_or_else(|| format!("unknown workload {s:?}"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "footprint" => {
                footprint = Some(
                    value
                        .parse::<bool>()
                        .map_err(|_| format!("--footprint: {value:?} is not true or false"))?,
                );
            }
            "sessions" => sessions = number(&name, &value, MAX_SESSIONS)?,
            "out" => out = Some(PathBuf::from(value)),
            "svg" => svg = Some(PathBuf::from(value)),
            "notes" => notes = Some(PathBuf::from(value)),
            "root" => root = PathBuf::from(value),
            _ => return Err(format!("unknown flag --{name}")),
        }
    }
    options.footprint = footprint.unwrap_or(!filtered).then_some(sessions);
    let load_before = loadavg();
    // The load generator gets two threads, like wrk's default.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let results = runtime.block_on(run::run(&options))?;
    let env = report::Environment {
        date: shell(&["date", "-u", "+%Y-%m-%d %H:%M UTC"]),
        command: std::env::var("BENCH_COMMAND").unwrap_or_else(|_| {
            let mut c = vec!["session-bench".to_owned(), "run".to_owned()];
            c.extend(args.iter().cloned());
            c.join(" ")
        }),
        cpu: cpu_model(),
        cpus: cpus(),
        load_before,
        load_after: loadavg(),
        rustc: shell(&["rustc", "-V"]),
        versions: {
            let mut v = report::versions(&root);
            if let Some(r) = &results.redis_version {
                v.push(("redis-server".to_owned(), r.clone()));
            }
            if let Some(p) = &results.postgres_version {
                v.push(("PostgreSQL".to_owned(), p.clone()));
            }
            v
        },
        notes: notes
            .map(|p| std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display())))
            .transpose()?,
    };
    let md = report::markdown(&results, &options, &env);
    match out {
        Some(path) => {
            std::fs::write(&path, &md).map_err(|e| format!("{}: {e}", path.display()))?;
            eprintln!("session-bench: wrote {}", path.display());
        }
        None => println!("{md}"),
    }
    if let Some(path) = svg {
        std::fs::write(&path, report::svg(&results, &options))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("session-bench: wrote {}", path.display());
    }
    Ok(())
}

/// The most sessions the footprint writes per store.
const MAX_SESSIONS: usize = 10_000_000;

/// The `--sessions N` flag, the only one of `footprint` and `footprint-memory`.
fn sessions(args: &[String]) -> Result<usize, String> {
    let mut sessions = footprint::DEFAULT_SESSIONS;
    for (name, value) in flags(args)? {
        match name.as_str() {
            "sessions" => sessions = number(&name, &value, MAX_SESSIONS)?,
            _ => return Err(format!("unknown flag --{name}")),
        }
    }
    Ok(sessions)
}

fn footprint_command(args: &[String]) -> Result<(), String> {
    let sessions = sessions(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let footprint = runtime.block_on(footprint::measure(sessions))?;
    let mut md = String::new();
    report::footprint_section(&mut md, &footprint);
    print!("{md}");
    Ok(())
}

fn serve_command(args: &[String]) -> Result<(), String> {
    let (name, rest) = args
        .split_first()
        .ok_or("serve needs a server name (session-bench list)")?;
    let server = Server::from_slug(name).ok_or_else(|| format!("unknown server {name:?}"))?;
    let mut options = ServeOptions {
        addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
        redis_url: None,
        postgres_url: None,
        dir: std::env::temp_dir().join("session-bench"),
        workers: cpus(),
    };
    for (flag, value) in flags(rest)? {
        match flag.as_str() {
            "addr" => {
                options.addr = value
                    .parse()
                    .map_err(|_| format!("--addr: {value:?} is not HOST:PORT"))?;
                if !options.addr.ip().is_loopback() {
                    return Err("--addr must be a loopback address".to_owned());
                }
            }
            "redis-url" => options.redis_url = Some(value),
            "postgres-url" => options.postgres_url = Some(value),
            "dir" => options.dir = PathBuf::from(value),
            "workers" => options.workers = number(&flag, &value, 256)?,
            _ => return Err(format!("unknown flag --{flag}")),
        }
    }
    std::fs::create_dir_all(&options.dir).map_err(|e| format!("{}: {e}", options.dir.display()))?;
    servers::serve(server, &options)
}

fn shell(cmd: &[&str]) -> String {
    Command::new(cmd[0])
        .args(&cmd[1..])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(", "))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU model".to_owned())
}
