//! Integration tests of domo-pdp: rules, agreement with the reference evaluator, no panics.

mod agreement;
mod no_panic;
mod reference;
mod rules;
