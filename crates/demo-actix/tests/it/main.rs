//! The actix-web demo over real HTTP on loopback: the HTTP scenario suite for every driver, and
//! the HTML pages of the AdonisJS guide's examples.

mod pages;
mod scenarios;
mod server;
#[path = "../../../demo/tests/it/sql.rs"]
mod sql;
