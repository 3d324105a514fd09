//! The SQL driver against real servers: PostgreSQL (127.0.0.1:5432) and MariaDB
//! (127.0.0.1:3306), each test in a schema or database of its own that it creates and drops,
//! and SQLite in a temporary file. `cargo xtask test` starts (or installs) the servers.

mod behaviour;
mod common;
mod conformance;
mod statements;
mod tags;
