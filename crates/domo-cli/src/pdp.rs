//! `domo pdp …`: offline previews and checks of PDP policies on a local folder.

mod diff;
mod explain;
mod generate;
mod lint;
mod matrix;
mod preview;
mod report;
mod sql;
mod test;
mod tree;
mod who;

use clap::Subcommand;

use crate::exit::Outcome;

pub(crate) const INPUT_HELP: &str = "\
Input of the offline commands: a folder holding dataset.json (the DataSet
with its schema, owner and pdpEnabled), data.csv (the rows; a header row
unless --no-header), policies.json (an array of policies as Domo lists them)
and directory.json ({\"users\": [...], \"groups\": [{\"id\", \"name\", \"userIds\"}]}).
--dataset, --data, --policies and --directory replace one path each.

Exit codes: 0 ok, 1 findings or failed tests, 2 usage or input error.";

/// The `domo pdp` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum PdpCommand {
    /// Print the rows one user sees (CSV with header by default).
    #[command(after_help = concat!(
        "Examples:\n",
        "  domo pdp preview examples/euler-party --user 27\n",
        "  domo pdp preview examples/euler-party --user 31 --format table\n",
        "  domo pdp preview examples/euler-party --user 27 --count",
    ))]
    Preview(preview::PreviewArgs),
    /// Every user in the directory, with how many rows they see and why.
    #[command(after_help = concat!(
        "Reasons: policies, all-rows, owner, admin, pdp-disabled, no-policy.\n\n",
        "Examples:\n",
        "  domo pdp matrix examples/euler-party\n",
        "  domo pdp matrix examples/euler-party --format json",
    ))]
    Matrix(matrix::MatrixArgs),
    /// The users who see one row.
    #[command(after_help = "Example:\n  domo pdp who examples/euler-party --row 2")]
    Who(who::WhoArgs),
    /// Why a user sees a row, or why not.
    #[command(after_help = "Example:\n  domo pdp explain examples/euler-party --user 31 --row 2")]
    Explain(explain::ExplainArgs),
    /// Policy errors, warnings and suspicious policies; exits 1 on any error.
    #[command(after_help = concat!(
        "Findings: compile errors and warnings; rows only the owner and Admins see;\n",
        "users who see nothing and why; policies with no members; policies that match\n",
        "no row or every row; redundant and identical policies; filters that can never\n",
        "match (with a \"did you mean\"); LIKE without wildcards.\n\n",
        "Examples:\n",
        "  domo pdp lint examples/euler-party\n",
        "  domo pdp lint examples/euler-party --format json",
    ))]
    Lint(lint::LintArgs),
    /// What a change of policies grants or takes away, user by user.
    #[command(after_help = concat!(
        "--against takes the old policies.json, or a folder holding one.\n",
        "--for-any-row (the default without a data file) judges every possible row, not\n",
        "the rows at hand: each gain or loss comes with a witness row, or is unknown.\n\n",
        "Examples:\n",
        "  domo pdp diff examples/euler-party --against examples/euler-party/policies-before.json --show-rows\n",
        "  domo pdp diff examples/euler-party --against examples/euler-party/policies-before.json --fail-on-new-access\n",
        "  domo pdp diff examples/euler-party --against examples/euler-party/policies-before.json --for-any-row --fail-on-new-access\n",
        "  git show HEAD:examples/euler-party/policies.json > /tmp/old.json && domo pdp diff examples/euler-party --against /tmp/old.json",
    ))]
    Diff(diff::DiffArgs),
    /// Write an access review of the folder as one self-contained HTML page.
    #[command(after_help = concat!(
        "The page shows the summary (rows, users, policies, PDP, owner, Admins, lint findings), every\n",
        "user's share of the rows and why (the numbers of `domo pdp matrix`), each policy in words with\n",
        "its members and rows, and with --against the users who gain or lose rows. It needs no network\n",
        "and reads without script; a search box filters users and policies. One DataSet folder only.\n",
        "Details: docs/report.md\n\n",
        "Examples:\n",
        "  domo pdp report examples/euler-party --out report.html\n",
        "  domo pdp report examples/euler-party --against examples/euler-party/policies-before.json --out report.html",
    ))]
    Report(report::ReportArgs),
    /// Write policies.json files from an entitlements table (the PDP Automation layout).
    #[command(after_help = generate::HELP)]
    Generate(generate::GenerateArgs),
    /// Run policy unit tests from a JSON file; exits 1 if any case fails.
    #[command(after_help = concat!(
        "A test file holds {\"cases\": [...]}; each case has an optional \"name\", a \"user\"\n",
        "and one expectation:\n",
        "  {\"user\": 27, \"seesExactly\": {\"where\": [\n",
        "      {\"column\": \"Attending\", \"operator\": \"EQUALS\", \"values\": [\"TRUE\"]}]}}\n",
        "  {\"user\": 31, \"sees\": {\"rows\": [4]}}        (at least these rows; rows are 1-based data rows)\n",
        "  {\"user\": 31, \"doesNotSee\": {\"rows\": [2]}}\n",
        "  {\"user\": 40, \"seesNothing\": true}\n",
        "  {\"user\": 50, \"seesAll\": true}\n",
        "  {\"user\": 27, \"count\": 4}\n",
        "  {\"everyRowVisible\": true}                   (to someone besides the owner and Admins)\n",
        "\"where\" filters are written like a policy's filters. Full reference: docs/policy-tests.md\n\n",
        "Example:\n",
        "  domo pdp test examples/euler-party examples/euler-party/tests.json",
    ))]
    Test(test::TestArgs),
    /// The policies as SQL: the rows one user sees, or every user's row count, in six dialects.
    #[command(after_help = concat!(
        "Dialects: duckdb, postgres, spark, snowflake, bigquery, trino. The queries expect the\n",
        "column types of --create-table. Details: docs/sql.md\n\n",
        "Examples:\n",
        "  domo pdp sql examples/euler-party --user 27\n",
        "  domo pdp sql examples/euler-party --user 27 --dialect bigquery --table proj.ds.guests --where-only\n",
        "  domo pdp sql examples/euler-party --counts --dialect spark --membership-csv membership.csv\n",
        "  domo pdp sql examples/euler-party --create-table --dialect postgres",
    ))]
    Sql(sql::SqlArgs),
    /// Turn PDP on for a live DataSet: its policies decide who sees which rows.
    #[command(after_help = format!("Example:\n  domo pdp enable $ID\n\n{}", crate::live::CONFIG_HELP))]
    Enable(crate::live::PdpSwitchArgs),
    /// Turn PDP off for a live DataSet: everyone with access sees every row.
    #[command(after_help = format!("Example:\n  domo pdp disable $ID --yes\n\n{}", crate::live::CONFIG_HELP))]
    Disable(crate::live::PdpSwitchArgs),
    /// Compare policies.json with a live DataSet's policies: the changes, and who gains or loses rows.
    #[command(after_help = crate::live::PLAN_HELP)]
    Plan(crate::live::PlanArgs),
    /// Apply a plan to the live DataSet: show it, ask, and stop at the first failure.
    #[command(after_help = crate::live::PLAN_HELP)]
    Apply(crate::live::ApplyArgs),
}

/// The `domo pdp` subcommands that talk to Domo's API rather than read a local folder.
const LIVE_COMMANDS: [&str; 4] = ["enable", "disable", "plan", "apply"];

/// Lists `domo pdp`'s commands in two groups in its `--help`: those that read a
/// local folder, and those that change a live DataSet (clap has one heading only).
pub(crate) fn group_help(command: clap::Command) -> clap::Command {
    let width = command.get_subcommands().map(|c| c.get_name().len()).max().unwrap_or(0);
    let (mut local, mut live) = (String::new(), String::new());
    for sub in command.get_subcommands() {
        let about = sub.get_about().map(ToString::to_string).unwrap_or_default();
        let line = format!("  {:width$}  {about}\n", sub.get_name());
        if LIVE_COMMANDS.contains(&sub.get_name()) { live.push_str(&line) } else { local.push_str(&line) }
    }
    let template = format!(
        "{{about-with-newline}}\n{{usage-heading}} {{usage}}\n\n\
         Commands on a local folder (offline):\n{local}\n\
         Commands on a live DataSet (Domo's API, or `domo serve`):\n{live}\n\
         Options:\n{{options}}{{after-help}}"
    );
    command.help_template(template)
}

/// Runs a `domo pdp` subcommand.
pub(crate) fn run(command: PdpCommand) -> anyhow::Result<Outcome> {
    match command {
        PdpCommand::Preview(args) => preview::run(&args),
        // An instance tree's root runs the command on every DataSet (docs/tree.md).
        PdpCommand::Matrix(args) if crate::tree::is_tree(&args.input.dir) => tree::matrix(&args),
        PdpCommand::Matrix(args) => matrix::run(&args),
        PdpCommand::Who(args) => who::run(&args),
        PdpCommand::Explain(args) => explain::run(&args),
        PdpCommand::Lint(args) if crate::tree::is_tree(&args.input.dir) => tree::lint(&args),
        PdpCommand::Lint(args) => lint::run(&args),
        PdpCommand::Diff(args) => {
            let (against, label, _snapshot) = diff::old_side(&args)?;
            if crate::tree::is_tree(&args.input.dir) {
                tree::diff(&args, &against, &label)
            } else {
                diff::run(&args, &against)
            }
        }
        PdpCommand::Report(args) => report::run(&args),
        PdpCommand::Test(args) if crate::tree::is_tree(&args.input.dir) => tree::test(&args),
        PdpCommand::Test(args) => test::run(&args),
        PdpCommand::Generate(args) => generate::run(&args),
        PdpCommand::Sql(args) => sql::run(&args),
        PdpCommand::Enable(args) => crate::live::switch_pdp(&args, crate::live::PdpSwitch::Enable),
        PdpCommand::Disable(args) => crate::live::switch_pdp(&args, crate::live::PdpSwitch::Disable),
        PdpCommand::Plan(args) => crate::live::plan(&args),
        PdpCommand::Apply(args) => crate::live::apply(&args),
    }
}
