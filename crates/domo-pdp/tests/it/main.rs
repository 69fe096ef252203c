//! Integration tests of domo-pdp: rules, agreement with the reference evaluator, no panics.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail loudly"
)]

mod agreement;
mod authority;
mod batches;
mod diff;
mod fail_closed;
mod generate;
mod impact;
mod limits;
mod lint_batches;
mod no_panic;
mod reference;
mod rules;
mod sql;
mod streaming;
mod values;
