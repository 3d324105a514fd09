//! The actix-web adapter: the middleware's commit, cookies and error answers, the extractors,
//! guards, responses seen by an inner middleware, and streaming bodies.

mod common;
mod extractors;
mod middleware;
