//! End-to-end tests of the live API commands: the `domo` binary against an emulator started in this process on 127.0.0.1.

mod audit;
mod big;
mod datasets;
mod directory_writes;
mod faults;
mod output;
mod plan;
mod policies;
mod pull;
mod query;
mod quickstart;
mod reference_shapes;
mod setup;
pub(crate) mod support;
pub(crate) mod tree_plan;
mod unreachable;
