//! Integration tests of `domo-http` against a local HTTP server.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail loudly, like the tests that call them"
)]

mod auth;
mod authenticate;
mod data;
mod datasets;
mod directory;
mod errors;
mod faults;
mod policies;
mod query;
mod reference;
mod retries;
mod streams;
mod support;
