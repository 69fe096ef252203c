//! The `domo` command line: offline PDP previews, the local emulator, and the live API.

mod any_row;
mod engine;
mod exit;
mod folder;
mod live;
mod log;
mod output;
mod pdp;
mod serve;
mod stdout;
mod tree;
mod units;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches as _, Parser, Subcommand};

/// Manage Domo DataSets and PDP (row-level security) policies as code.
#[derive(Debug, Parser)]
#[command(name = "domo", version, about)]
struct Cli {
    /// Log lines on stderr as sentences or JSON lines (DOMO_LOG, else RUST_LOG, filters them).
    #[arg(long, env = "DOMO_LOG_FORMAT", value_enum, default_value_t, global = true, value_name = "FORMAT")]
    log_format: log::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Preview, lint, diff and test PDP policies offline; plan and apply them on a live DataSet.
    #[command(subcommand, after_help = pdp::INPUT_HELP, disable_help_subcommand = true)]
    Pdp(pdp::PdpCommand),
    /// Run a local emulator of Domo's API.
    #[command(after_help = concat!(
        "Examples:\n",
        "  domo serve --directory examples/euler-party/directory.json\n",
        "  domo serve --port 8471 --data-dir /tmp/domo-emulator\n",
        "  domo serve --tls",
    ))]
    Serve(serve::ServeArgs),
    #[command(flatten)]
    Live(live::LiveCommand),
    /// Print shell completions.
    #[command(after_help = concat!(
        "Examples:\n",
        "  domo completions bash > ~/.local/share/bash-completion/completions/domo\n",
        "  domo completions zsh > \"${fpath[1]}/_domo\"\n",
        "  domo completions fish > ~/.config/fish/completions/domo.fish",
    ))]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// The command tree, with `domo pdp --help` listing its offline and live commands apart.
fn command() -> clap::Command {
    Cli::command().mut_subcommand("pdp", pdp::group_help)
}

fn main() -> ExitCode {
    let cli = match Cli::from_arg_matches(&command().get_matches()) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    let level = match cli.command {
        Command::Serve(_) => log::DefaultLevel::Info,
        _ => log::DefaultLevel::Warn,
    };
    if let Err(err) = log::init(cli.log_format, level) {
        return exit::finish(Err(err));
    }
    let result = match cli.command {
        Command::Pdp(command) => pdp::run(command),
        Command::Serve(args) => serve::run(args),
        Command::Live(command) => live::run(command),
        Command::Completions { shell } => completions(shell),
    };
    exit::finish_with_hint(result, live::connection_hint)
}

/// Prints shell completions. clap_complete panics when its writer fails, so
/// they are generated into memory and printed through the one stdout writer.
fn completions(shell: clap_complete::Shell) -> anyhow::Result<exit::Outcome> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command(), "domo", &mut script);
    stdout::write_all(&script)?;
    Ok(exit::Outcome::Ok)
}
