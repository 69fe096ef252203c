//! Integration tests of domo-model: documented examples and property round-trips.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing, reason = "test helpers fail loudly")]

mod directory;
mod examples;
mod reference;
mod roundtrip;
