//! `sy-store` against real databases: a temporary SQLite file, and a fresh
//! PostgreSQL database per test (created from `SY_TEST_POSTGRES_URL`,
//! default `postgres://postgres@127.0.0.1:5432/test`, dropped afterwards).
//! The PostgreSQL tests fail when it is unreachable, unless
//! `SY_SKIP_POSTGRES=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod connect;
mod generations;
mod journal;
mod keys;
mod responses;
mod writer;
