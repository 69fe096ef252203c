//! The commands that talk to Domo's API (or `domo serve`): auth, DataSets, data, policies, users, groups, pull, audit, plan and apply.

mod audit;
mod auth;
mod config;
mod data;
mod datasets;
mod directory;
mod output;
mod plan;
mod policies;
mod pull;
mod query;

use std::future::Future;

use anyhow::Context;
use clap::{Args, Subcommand};

pub(crate) use config::{CONFIG_HELP, ConnectionArgs, connection_hint};
pub(crate) use plan::{ApplyArgs, PlanArgs};
pub(crate) use policies::{PdpSwitch, PdpSwitchArgs};

use crate::exit::Outcome;

pub(crate) const PLAN_HELP: &str = "\
The folder plans against the DataSet its dataset.json names (--dataset-id may
name another only with --target-other-dataset), and the live schema must be
the folder's: any column that differs refuses the plan. Policies of
policies.json are matched to live ones by id, else by name: those that match
none are created, those that differ are updated, and live policies that
policies.json leaves out are deleted (built-in ones, such as All Rows, are
kept). Every policy created or updated is compiled against the live schema
and the live directory first: an unknown column, value, user or group, or
values over 255 characters refuse the plan and nothing is written. The effect
on every user is computed with the engine on the folder's data.csv and
directory.json. Apply checks the live policies (their fingerprint), schema
and directory again, then deletes first, then updates, then creates (so that
an apply stopped half-way leaves access narrower, not wider; when the deletes
would remove every policy, which turns PDP off, the last one waits until
after the creates, and the plan needs --turn-pdp-off), stops at the first
failure and says what was applied and what was not. Declined, it exits 1.

An instance tree's root (docs/tree.md) plans every DataSet folder against
the DataSet it is named by, into one plan: the DataSets are read --jobs at a
time, one that fails a check is marked refused (exit 1) and the others are
planned. Apply does each DataSet as above, --jobs at a time, and reports each
as done, unchanged, skipped (its live policies changed since the plan, or the
plan refused it) or failed (exit 2). Details: docs/live.md.

Examples:
  domo pull $ID party
  # edit party/policies.json, then:
  domo pdp plan party --out plan.json
  domo pdp apply --plan plan.json
  domo pdp apply party --yes
  domo pdp plan instance --out plan.json --format markdown";

/// The live API commands, flattened into `domo`'s own.
#[derive(Debug, Subcommand)]
pub(crate) enum LiveCommand {
    /// Check the credentials: which API and user they act as.
    #[command(after_help = config::CONFIG_HELP)]
    Auth(AuthArgs),
    /// List, show, create, update and delete DataSets.
    #[command(after_help = config::CONFIG_HELP)]
    Datasets(datasets::DatasetsArgs),
    /// Import a CSV file into a DataSet, or export its rows.
    #[command(after_help = config::CONFIG_HELP)]
    Data(data::DataArgs),
    /// List, show, create, update and delete a DataSet's PDP policies.
    #[command(after_help = config::CONFIG_HELP)]
    Policies(policies::PoliciesArgs),
    /// List users.
    #[command(after_help = config::CONFIG_HELP)]
    Users(directory::UsersArgs),
    /// List groups and their members.
    #[command(after_help = config::CONFIG_HELP)]
    Groups(directory::GroupsArgs),
    /// Run SQL on a DataSet through Domo's query API (the DataSet is called `table`).
    #[command(after_help = concat!(
        "The rows are those the credentials' user may see: PDP applies.\n\n",
        "Examples:\n",
        "  domo query 4405ff58-1957-45f0-82bd-914d989a3ea3 \"SELECT Attending, COUNT(*) FROM table GROUP BY Attending\"\n",
        "  domo query $ID \"SELECT * FROM table\" --format csv > rows.csv",
    ))]
    Query(query::QueryArgs),
    /// Download a DataSet into a folder that every `domo pdp` command reads, or the whole instance into a tree.
    #[command(after_help = concat!(
        "Writes DIR/dataset.json, DIR/policies.json, DIR/data.csv (with a header row)\n",
        "and DIR/directory.json (users, and groups with their members). The export\n",
        "applies PDP for the user the credentials act as: pull as the owner or an Admin.\n\n",
        "With --all DIR: DIR/directory.json and DIR/datasets/<id>/ (dataset.json,\n",
        "policies.json, and data.csv with --sample N) for every DataSet the filters\n",
        "select, --jobs at a time. Run again, it updates the tree in place and prints\n",
        "what changed; a policies.json edited since the last pull is kept (the DataSet\n",
        "is skipped, exit 1) unless --force; a DataSet that fails is reported and the\n",
        "others go on (exit 2). See docs/live.md, \"Pulling a whole instance\".\n\n",
        "Examples:\n",
        "  domo pull 4405ff58-1957-45f0-82bd-914d989a3ea3 party && domo pdp matrix party\n",
        "  domo pull --all instance --name-like sales --pdp-only --sample 1000",
    ))]
    Pull(pull::PullArgs),
    /// Audit PDP across DataSets, live or in an instance tree; --user: all one user sees.
    #[command(after_help = format!("{}\n\n{}", audit::AUDIT_HELP, config::CONFIG_HELP))]
    Audit(audit::AuditArgs),
}

/// `domo auth`.
#[derive(Debug, Args)]
pub(crate) struct AuthArgs {
    #[command(flatten)]
    pub(crate) connection: ConnectionArgs,
    #[command(subcommand)]
    pub(crate) command: AuthCommand,
}

/// `domo auth` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum AuthCommand {
    /// Get a token and show who the credentials act as (never the secret).
    #[command(after_help = concat!(
        "Examples:\n",
        "  domo auth check\n",
        "  domo auth check --profile emulator --format json",
    ))]
    Check {
        /// Output format: table (the default) or json.
        #[arg(long, value_parser = crate::output::formats(crate::output::REPORT), default_value = "table")]
        format: crate::output::Format,
    },
}

/// Runs a live command.
pub(crate) fn run(command: LiveCommand) -> anyhow::Result<Outcome> {
    match command {
        LiveCommand::Auth(args) => match args.command {
            AuthCommand::Check { format } => auth::check(&args.connection, format),
        },
        LiveCommand::Datasets(args) => datasets::run(args),
        LiveCommand::Data(args) => data::run(args),
        LiveCommand::Policies(args) => policies::run(args),
        LiveCommand::Users(args) => directory::users(args),
        LiveCommand::Groups(args) => directory::groups(args),
        LiveCommand::Pull(args) => pull::run(&args),
        LiveCommand::Query(args) => query::run(args),
        LiveCommand::Audit(args) => audit::run(&args),
    }
}

/// `domo pdp plan`.
pub(crate) fn plan(args: &PlanArgs) -> anyhow::Result<Outcome> {
    plan::plan(args)
}

/// `domo pdp apply`.
pub(crate) fn apply(args: &ApplyArgs) -> anyhow::Result<Outcome> {
    plan::apply(args)
}

/// `domo pdp enable|disable`.
pub(crate) fn switch_pdp(args: &PdpSwitchArgs, switch: PdpSwitch) -> anyhow::Result<Outcome> {
    policies::switch_pdp(args, switch)
}

/// Runs async work on a small runtime (the CLI is synchronous around it).
pub(crate) fn block_on<T>(work: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(work)
}
