//! `domo pdp plan|apply`: the local policies.json against the live policies, its effect on every user, and applying it.

mod check;
mod render;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use domo_model::{DatasetId, Policy, PolicyId, Schema, read_user_file};
use domo_pdp::PolicyChangeKind;
use serde::{Deserialize, Serialize};

use self::check::{OtherDataset, Written};
use self::render::{markdown, render, render_report};
use super::config::{Connection, ConnectionArgs};
use super::output;
use super::policies::stored_as_sent;
use crate::any_row;
use crate::engine::{self as common, UserEffect};
use crate::exit::Outcome;
use crate::folder::{InputArgs, Inputs};
use crate::output::Format;

/// The version of the plan file format (2 added the schema the plan was checked against).
const PLAN_VERSION: u32 = 2;

/// Why a plan lists the live users and groups, for when it cannot.
const DIRECTORY_NEEDED: &str = "cannot list the live users and groups, which every policy the plan writes is \
     checked against (the credentials need the `user` scope)";

/// Options of `domo pdp plan`.
#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    #[command(flatten)]
    input: InputArgs,
    /// The live DataSet the folder's policies are for [default: the id in DIR/dataset.json].
    #[arg(long, value_name = "ID")]
    dataset_id: Option<String>,
    /// Allow --dataset-id to name another DataSet than DIR/dataset.json (its schema must still match).
    #[arg(long, requires = "dataset_id")]
    target_other_dataset: bool,
    /// Also save the plan to this file, for `domo pdp apply --plan FILE`.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Output format: table (the default), json, or markdown (a pull-request comment).
    #[arg(long, value_parser = crate::output::formats(crate::output::COMMENT), default_value = "table")]
    format: Format,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// Options of `domo pdp apply`.
#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// The folder holding policies.json, dataset.json, data.csv and directory.json.
    #[arg(value_name = "DIR", required_unless_present = "plan", conflicts_with = "plan")]
    dir: Option<PathBuf>,
    /// The live DataSet the folder's policies are for [default: the id in DIR/dataset.json].
    #[arg(long, value_name = "ID", conflicts_with = "plan")]
    dataset_id: Option<String>,
    /// Allow --dataset-id to name another DataSet than DIR/dataset.json (its schema must still match).
    #[arg(long, requires = "dataset_id")]
    target_other_dataset: bool,
    /// Apply a plan saved by `domo pdp plan --out FILE` instead of planning now.
    #[arg(long, value_name = "FILE")]
    plan: Option<PathBuf>,
    /// Do not ask before applying.
    #[arg(long, short)]
    yes: bool,
    /// Allow a plan that deletes every policy: Domo then turns PDP off and everyone with access sees every row.
    #[arg(long)]
    turn_pdp_off: bool,
    /// Output format: table (the default) or json.
    #[arg(long, value_parser = crate::output::formats(crate::output::REPORT), default_value = "table")]
    format: Format,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// A plan: what applying the local policies changes, and what the live policies were.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Plan {
    version: u32,
    /// The API the plan was made against.
    api: String,
    dataset_id: DatasetId,
    dataset_name: String,
    /// The live schema, checked equal to the folder's when the plan was made
    /// and checked again before an apply writes anything.
    schema: Schema,
    /// A hash of the live policies when the plan was made.
    fingerprint: String,
    /// The live policies when the plan was made.
    live: Vec<Policy>,
    /// The changes, in the order they are applied: creates, updates, deletes.
    changes: Vec<Change>,
    /// Live policies kept although policies.json leaves them out (built-in ones).
    kept: Vec<Policy>,
    /// Who gains and loses rows.
    effect: Effect,
    /// Who gains and loses access for some possible row, whatever the data, with witness rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    any_row: Option<AnyRowEffect>,
    /// Things to know about the plan.
    notes: Vec<String>,
}

/// One change to the live policies.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase")]
enum Change {
    /// A policy of policies.json that matches no live policy.
    Create { policy: Policy },
    /// A live policy whose fields differ from its match in policies.json.
    Update { id: PolicyId, details: Vec<String>, policy: Policy },
    /// A live policy that policies.json leaves out.
    Delete { id: PolicyId, name: String },
}

impl Plan {
    /// Whether applying the plan leaves the DataSet without any policy, which
    /// turns PDP off: everyone with access then sees every row.
    fn leaves_no_policy(&self) -> bool {
        let count = |f: fn(&Change) -> bool| self.changes.iter().filter(|c| f(c)).count();
        let deletes = count(|c| matches!(c, Change::Delete { .. }));
        let creates = count(|c| matches!(c, Change::Create { .. }));
        !self.live.is_empty() && self.live.len().saturating_sub(deletes) + creates == 0
    }
}

/// What a change does to which policy, as data: `{"action": "create", "id": 12, "name": "…"}` (`id` null for a
/// policy not created yet).
#[derive(Debug, Clone, Serialize)]
struct Step {
    action: Action,
    id: Option<PolicyId>,
    name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
enum Action {
    Create,
    Update,
    Delete,
}

impl Step {
    /// `create `Attendees``, `delete policy 9 `Regrets``: the step to do.
    fn describe(&self) -> String {
        let verb = match self.action {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        };
        match self.id {
            Some(id) => format!("{verb} policy {id} `{}`", self.name),
            None => format!("{verb} `{}`", self.name),
        }
    }

    /// `created policy 12 `Attendees``: the step done.
    fn done(&self) -> String {
        let verb = match self.action {
            Action::Create => "created",
            Action::Update => "updated",
            Action::Delete => "deleted",
        };
        match self.id {
            Some(id) => format!("{verb} policy {id} `{}`", self.name),
            None => format!("{verb} `{}`", self.name),
        }
    }
}

impl Change {
    /// The change as a [`Step`].
    fn step(&self) -> Step {
        match self {
            Change::Create { policy } => Step { action: Action::Create, id: None, name: policy.name.clone() },
            Change::Update { id, policy, .. } => {
                Step { action: Action::Update, id: Some(*id), name: policy.name.clone() }
            }
            Change::Delete { id, name } => Step { action: Action::Delete, id: Some(*id), name: name.clone() },
        }
    }

    fn describe(&self) -> String {
        match self {
            Change::Create { policy } => format!("create `{}`", policy.name),
            Change::Update { id, policy, .. } => format!("update policy {id} `{}`", policy.name),
            Change::Delete { id, name } => format!("delete policy {id} `{name}`"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Effect {
    /// Rows of the local data.csv the effect was computed on.
    rows: usize,
    /// Users in the directory.
    users_total: usize,
    /// The users whose rows change.
    users: Vec<UserEffect<String>>,
}

/// The for-any-row effect: verdicts of the users whose access changes, and the counts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnyRowEffect {
    counts: any_row::Counts,
    users: Vec<any_row::UserImpactJson>,
}

pub(crate) fn plan(args: &PlanArgs) -> anyhow::Result<Outcome> {
    let connection = args.connection.connect()?;
    let target = Target { given: args.dataset_id.as_deref(), other: other_dataset(args.target_other_dataset) };
    let plan = make_plan(&args.input, &target, &connection)?;
    if let Some(path) = &args.out {
        // Whole or not at all: a plan cut short must not be applied.
        crate::output::json_file(path, &plan)?;
        output::note(format!(
            "saved the plan to `{}`; apply it with `domo pdp apply --plan {}`",
            path.display(),
            path.display()
        ));
    }
    match args.format {
        Format::Json => output::json(&plan)?,
        Format::Markdown => output::text(&markdown(&plan))?,
        Format::Table | Format::Csv => output::text(&render(&plan))?,
    }
    Ok(Outcome::Ok)
}

pub(crate) fn apply(args: &ApplyArgs) -> anyhow::Result<Outcome> {
    let connection = args.connection.connect()?;
    let plan = match (&args.plan, &args.dir) {
        (Some(path), _) => read_plan(path, &connection)?,
        (None, Some(dir)) => {
            let input = InputArgs {
                dir: dir.clone(),
                dataset: None,
                data: None,
                policies: None,
                directory: None,
                no_header: false,
            };
            let target = Target { given: args.dataset_id.as_deref(), other: other_dataset(args.target_other_dataset) };
            make_plan(&input, &target, &connection)?
        }
        (None, None) => bail!("give DIR (and --dataset-id if it is not the folder's DataSet), or --plan FILE"),
    };
    if args.format != Format::Json {
        output::text(&render(&plan))?;
    }
    if plan.changes.is_empty() {
        if args.format == Format::Json {
            output::json(&Report { plan: &plan, applied: Vec::new(), failed: None, not_applied: Vec::new() })?;
        }
        return Ok(Outcome::Ok);
    }
    let opens = plan.leaves_no_policy();
    if opens && !args.turn_pdp_off {
        bail!(
            "this plan deletes every policy of DataSet {} `{}`: Domo then turns PDP off and everyone with access \
             sees every row; nothing was applied (keep a policy, or pass --turn-pdp-off if that is meant)",
            plan.dataset_id,
            plan.dataset_name
        );
    }
    let question = format!(
        "apply {} to DataSet {} `{}`{}",
        output::count(plan.changes.len(), "change", "changes"),
        plan.dataset_id,
        plan.dataset_name,
        if opens { " (PDP turns off: everyone with access sees every row)" } else { "" }
    );
    if !output::confirm(&question, args.yes)? {
        // Like terraform: a declined apply is not a success, so scripts do not read it as one.
        output::note("apply cancelled: nothing applied");
        return Ok(Outcome::Findings);
    }
    let client = &connection.client;
    let (report, error) = super::block_on(async {
        let live = client.list_policies(&plan.dataset_id).await?;
        let now = domo_pdp::fingerprint(&live);
        if now != plan.fingerprint {
            let what = domo_pdp::live_changes(&plan.live, &live);
            bail!(
                "the live policies of DataSet {} changed since the plan (fingerprint {} then, {now} now): {}; \
                 nothing was applied: plan again",
                plan.dataset_id,
                plan.fingerprint,
                what.join(", ")
            );
        }
        // The plan may be old, or made for a folder: check the DataSet it writes to once more.
        let dataset = client.get_dataset(&plan.dataset_id).await?;
        let directory = client.directory().await.context(DIRECTORY_NEEDED)?;
        recheck(&plan, &dataset, &directory)?;
        let mut report = Report { plan: &plan, applied: Vec::new(), failed: None, not_applied: Vec::new() };
        let mut error = None;
        for (index, change) in plan.changes.iter().enumerate() {
            if error.is_some() {
                report.not_applied.push(change.step());
                continue;
            }
            // A write counts as done only when Domo's answer holds what was sent.
            let outcome: anyhow::Result<Step> = match change {
                Change::Create { policy } => match client.create_policy(&plan.dataset_id, policy).await {
                    Ok(created) => stored_as_sent(policy, &created).map(|()| Step {
                        action: Action::Create,
                        id: created.id,
                        name: created.name.clone(),
                    }),
                    Err(e) => Err(e.into()),
                },
                Change::Update { id, policy, .. } => match client.update_policy(&plan.dataset_id, *id, policy).await {
                    Ok(updated) => stored_as_sent(policy, &updated).map(|()| Step {
                        action: Action::Update,
                        id: Some(*id),
                        name: updated.name.clone(),
                    }),
                    Err(e) => Err(e.into()),
                },
                Change::Delete { id, name } => client
                    .delete_policy(&plan.dataset_id, *id)
                    .await
                    .map(|()| Step { action: Action::Delete, id: Some(*id), name: name.clone() })
                    .map_err(Into::into),
            };
            match outcome {
                Ok(done) => report.applied.push(done),
                Err(cause) => {
                    report.failed = Some(Failed { change: change.step(), error: chain(&cause) });
                    let total = plan.changes.len();
                    error =
                        Some(cause.context(format!("change {} of {total} failed: {}", index + 1, change.describe())));
                }
            }
        }
        Ok((report, error))
    })?;
    match args.format {
        Format::Json => output::json(&report)?,
        Format::Table | Format::Csv | Format::Markdown => output::text(&render_report(&report, plan.changes.len()))?,
    }
    match error {
        None => Ok(Outcome::Ok),
        Some(error) => Err(error.context(format!(
            "apply stopped: {} of {} applied, {} not applied",
            report.applied.len(),
            output::count(plan.changes.len(), "change", "changes"),
            report.not_applied.len() + 1
        ))),
    }
}

/// What an apply did.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    /// The plan applied, so that a JSON report stands on its own.
    plan: &'a Plan,
    applied: Vec<Step>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failed: Option<Failed>,
    not_applied: Vec<Step>,
}

#[derive(Debug, Serialize)]
struct Failed {
    change: Step,
    error: String,
}

fn chain(error: &anyhow::Error) -> String {
    error.chain().map(ToString::to_string).collect::<Vec<_>>().join(": ")
}

fn read_plan(path: &Path, connection: &Connection) -> anyhow::Result<Plan> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    // The version first, so that an older plan says so rather than which field it lacks.
    let version = serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| v.get("version")?.as_u64());
    if let Some(version) = version
        && version != u64::from(PLAN_VERSION)
    {
        bail!(
            "`{}` is a plan of version {version}; this domo reads version {PLAN_VERSION}: plan again",
            path.display()
        );
    }
    let plan: Plan = read_user_file(&path.display().to_string(), &text)?;
    if plan.api != connection.base_url {
        bail!(
            "`{}` was planned against `{}`, but these credentials talk to `{}`",
            path.display(),
            plan.api,
            connection.base_url
        );
    }
    Ok(plan)
}

/// Which live DataSet to plan against: `--dataset-id`, and whether it may differ from the folder's.
#[derive(Debug)]
struct Target<'a> {
    given: Option<&'a str>,
    other: OtherDataset,
}

fn other_dataset(allowed: bool) -> OtherDataset {
    if allowed { OtherDataset::Allow } else { OtherDataset::Refuse }
}

/// The policies a plan writes, named as its changes are.
fn written(changes: &[Change]) -> Vec<Written<'_>> {
    changes
        .iter()
        .filter_map(|change| match change {
            Change::Create { policy } | Change::Update { policy, .. } => {
                Some(Written { change: change.describe(), policy })
            }
            Change::Delete { .. } => None,
        })
        .collect()
}

/// Refuses a plan whose changes Domo would refuse, or would apply to another
/// schema than the one they were written for, before anything is written.
fn refuse_problems(
    plan_changes: &[Change],
    dataset: &domo_model::Dataset,
    directory: &domo_model::Directory,
) -> anyhow::Result<()> {
    let problems = check::problems_against_live(&written(plan_changes), dataset, directory);
    if problems.is_empty() {
        return Ok(());
    }
    bail!(
        "{} of the planned changes to DataSet {} `{}` would fail against its live schema and directory; nothing \
         was written:\n  {}",
        if problems.len() == 1 { "one".to_owned() } else { problems.len().to_string() },
        dataset.id,
        dataset.name,
        problems.join("\n  ")
    )
}

/// The checks an apply repeats right before its first write: the same DataSet,
/// the same schema as when planned, and every change valid against the live
/// schema and directory.
fn recheck(plan: &Plan, dataset: &domo_model::Dataset, directory: &domo_model::Directory) -> anyhow::Result<()> {
    if dataset.id != plan.dataset_id {
        bail!(
            "asked for DataSet {}, the API answered with DataSet {}; nothing was applied",
            plan.dataset_id,
            dataset.id
        );
    }
    check::require_same_schema(&plan.schema, dataset, "the schema the plan was made for")
        .context("nothing was applied: plan again")?;
    refuse_problems(&plan.changes, dataset, directory)
}

/// Compares the folder's policies with the live ones and computes the effect on every user.
fn make_plan(input: &InputArgs, target: &Target<'_>, connection: &Connection) -> anyhow::Result<Plan> {
    let inputs = Inputs::read(input)?;
    let dataset_id = &check::target(&inputs.dataset.id, target.given, target.other, &inputs.paths.dataset)?;
    let local = inputs.policies.clone();
    let mut seen = std::collections::HashSet::new();
    for policy in &local {
        if let Some(id) = policy.id
            && !seen.insert(id)
        {
            bail!("`{}` has two policies with id {id}", inputs.paths.policies.display());
        }
    }
    let client = &connection.client;
    let (live_dataset, live, live_directory) = super::block_on(async {
        let dataset = client.get_dataset(dataset_id).await?;
        let policies = client.list_policies(dataset_id).await?;
        let directory = client.directory().await.context(DIRECTORY_NEEDED)?;
        Ok((dataset, policies, directory))
    })?;
    if live_dataset.id != *dataset_id {
        bail!("asked for DataSet {dataset_id}, the API answered with DataSet {}", live_dataset.id);
    }
    check::require_same_schema(
        &inputs.dataset.schema,
        &live_dataset,
        &format!("`{}`", inputs.paths.dataset.display()),
    )?;
    let mut notes = Vec::new();
    if inputs.dataset.id != *dataset_id {
        notes.push(format!(
            "`{}` describes DataSet {}; planned against DataSet {dataset_id} `{}` as --target-other-dataset asks \
             (same schema)",
            inputs.paths.dataset.display(),
            inputs.dataset.id,
            live_dataset.name
        ));
    }

    // Match each local policy to a live one: by id, else by name.
    let reconciled = domo_pdp::reconcile(&local, &live).map_err(|error| match error {
        domo_pdp::ReconcileError::AmbiguousName { name, count } => anyhow::anyhow!(
            "policy `{name}` of `{}` has no id matching a live policy, and {count} live policies have that name: \
             give it the id of the one it is",
            inputs.paths.policies.display(),
        ),
        domo_pdp::ReconcileError::DuplicateId { id } => {
            anyhow::anyhow!("`{}` has two policies with id {id}", inputs.paths.policies.display())
        }
        other => anyhow::Error::new(other),
    })?;
    let domo_pdp::Reconciliation { matched, creates, deletes, kept, after } = reconciled;
    let creates: Vec<Change> = creates.into_iter().map(|policy| Change::Create { policy }).collect();
    let deletes: Vec<Change> =
        deletes.into_iter().map(|domo_pdp::Unmatched { id, name }| Change::Delete { id, name }).collect();
    if after.is_empty() && !live.is_empty() {
        notes.push("no policy is left: Domo turns PDP off and everyone with access sees every row".to_owned());
    }

    // The effect, with the engine on the local rows: live policies before, the plan's after.
    let mut dataset = inputs.dataset.clone();
    if live_dataset.owner.is_some() {
        dataset.owner.clone_from(&live_dataset.owner);
    }
    if !live_dataset.pdp_enabled {
        notes.push(format!(
            "PDP is disabled on the live DataSet: the effect is shown as if it were enabled (`domo pdp enable {dataset_id}`)"
        ));
    }
    dataset.pdp_enabled = true;
    let planned = Inputs { dataset, ..inputs };
    let before_set = common::compile_policies(&planned, &live, Path::new("the live policies")).context(
        "the live policies do not compile against the local folder (is directory.json out of date? `domo pull --force` refreshes it)",
    )?;
    let after_set = common::compile_policies(&planned, &after, &planned.paths.policies)?;
    let table = planned.load_table()?;
    let before = before_set.evaluate(&table)?;
    let after_eval = after_set.evaluate(&table)?;
    let diff = domo_pdp::diff_policies(&before, &after_eval);
    let impact = domo_pdp::impact(&before_set, &after_set, &domo_pdp::ImpactOptions::default())?;
    let any_row = AnyRowEffect {
        counts: any_row::counts(&impact),
        users: any_row::users_json(&impact, &common::Names::new(&planned.directory)),
    };

    let mut updates = Vec::new();
    for domo_pdp::Matched { id, policy } in matched {
        let details = diff.policies.iter().find_map(|change| match &change.kind {
            PolicyChangeKind::Changed(details) if change.id == Some(id) => Some(details.clone()),
            _ => None,
        });
        if let Some(details) = details {
            updates.push(Change::Update { id, details, policy });
        }
    }
    let directory = &planned.directory;
    let users = diff.users.iter().map(|u| UserEffect::of(u, common::user_name(directory, u.user))).collect();
    let changes = domo_pdp::order_changes(live.len(), creates, updates, deletes);
    refuse_problems(&changes, &live_dataset, &live_directory)?;
    Ok(Plan {
        version: PLAN_VERSION,
        api: connection.base_url.clone(),
        dataset_id: dataset_id.clone(),
        dataset_name: live_dataset.name,
        schema: live_dataset.schema,
        fingerprint: domo_pdp::fingerprint(&live),
        live,
        changes,
        kept,
        effect: Effect { rows: table.row_count(), users_total: directory.users.len(), users },
        any_row: Some(any_row),
        notes,
    })
}

fn show_id(id: Option<PolicyId>) -> String {
    id.map_or_else(|| "?".to_owned(), |id| id.to_string())
}
