//! `domo pdp …`: offline previews and checks of PDP policies on a local folder.

use clap::Subcommand;

use crate::exit::Outcome;

/// The `domo pdp` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum PdpCommand {}

/// Runs a `domo pdp` subcommand.
pub(crate) fn run(command: PdpCommand) -> anyhow::Result<Outcome> {
    match command {}
}
