//! `domo serve`: the local emulator of Domo's API.

use clap::Args;

use crate::exit::Outcome;

/// Options of `domo serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {}

/// Runs the emulator until SIGINT or SIGTERM.
pub(crate) fn run(_args: ServeArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("`domo serve` is not built yet")
}
