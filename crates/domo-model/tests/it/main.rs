//! Integration tests of domo-model: documented examples and property round-trips.

mod examples;
mod roundtrip;
