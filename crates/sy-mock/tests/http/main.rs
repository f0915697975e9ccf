//! Black-box tests of the mock over real HTTP on loopback (port 0).

// Test code: helpers outside `#[test]` fns panic on purpose too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod faults;
mod replies;
mod support;
