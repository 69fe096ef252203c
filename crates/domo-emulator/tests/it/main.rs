//! Integration tests of the emulator over HTTP on 127.0.0.1, with a plain hyper client.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail loudly"
)]

mod auth;
mod data;
mod datasets;
mod directory;
mod directory_writes;
mod limits;
mod migration;
mod pdp;
mod permissions;
mod persistence;
mod policies;
mod query;
mod scale;
mod sdk_calls;
mod streams;
mod strict;
mod support;
mod tls;
mod transport;
mod with_domo_http;
