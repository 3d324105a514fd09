//! The axum adapter over real HTTP on loopback.

mod adapter;
