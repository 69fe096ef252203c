//! Cross-crate integration tests: the bundled examples and, as the crates land, end-to-end flows.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing, reason = "test helpers fail loudly")]

mod examples;
