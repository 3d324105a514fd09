//! Integration tests of the Redis driver against real `redis-server` processes started by
//! `session_testkit::redis_server`.

mod common;
mod config;
mod conformance;
mod counts;
mod faults;
mod local_cache;
mod readback;
mod tags;
mod tls;
