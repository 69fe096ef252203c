//! `domo pdp plan|apply`: the local policies.json against the live policies, its effect on every user, and applying it.

mod check;
mod dataset;
mod render;
mod tree;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use domo_model::{DatasetId, Policy, PolicyId, Schema, read_user_file};
use serde::{Deserialize, Serialize};

use self::check::OtherDataset;
use self::dataset::{NotApplied, Sample, Stop};
use self::render::{markdown, render, render_report};
use super::config::{Connection, ConnectionArgs};
use super::output;
use crate::any_row;
use crate::engine::UserEffect;
use crate::exit::Outcome;
use crate::folder::{InputArgs, Inputs};
use crate::output::Format;

/// The version of the plan file format (2 added the schema the plan was checked against).
const PLAN_VERSION: u32 = 3;

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
    /// For an instance tree: how many DataSets are read from the API at once.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_JOBS, value_parser = clap::value_parser!(u16).range(1..=64))]
    jobs: u16,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// DataSets read or written at once by a whole-tree plan or apply.
const DEFAULT_JOBS: u16 = 8;

/// Options of `domo pdp apply`.
#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// The folder holding policies.json, dataset.json, data.csv and directory.json, or an instance tree's root.
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
    /// Allow a plan that deletes every policy or switches PDP off (dataset.json says `"pdpEnabled": false`):
    /// everyone with access then sees every row.
    #[arg(long)]
    turn_pdp_off: bool,
    /// Output format: table (the default) or json.
    #[arg(long, value_parser = crate::output::formats(crate::output::REPORT), default_value = "table")]
    format: Format,
    /// For an instance tree: how many DataSets are read and written at once.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_JOBS, value_parser = clap::value_parser!(u16).range(1..=64))]
    jobs: u16,
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
    /// The folder has no data.csv: `effect` counts no rows (a tree's DataSet pulled without a sample).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    no_sample: bool,
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
    /// The first of two writes of an update that does not only narrow (`domo_pdp::narrowing_step`): the
    /// live policy cut to what it and its new version both admit, written with the updates that narrow,
    /// before any that widen; its `Update` follows. A stopped apply never shows more than before and after.
    Narrow { id: PolicyId, policy: Policy },
    /// A live policy that policies.json leaves out.
    Delete { id: PolicyId, name: String },
    /// dataset.json says `pdpEnabled: true`, the live DataSet has PDP off: turned on after the policies exist.
    EnablePdp,
    /// dataset.json says `pdpEnabled: false`, the live DataSet has PDP on: turned off last, and only with
    /// `--turn-pdp-off` (everyone with access then sees every row).
    DisablePdp,
}

impl Plan {
    /// The changes, counted.
    fn counts(&self) -> domo_pdp::ChangeCounts {
        let count = |f: fn(&Change) -> bool| self.changes.iter().filter(|c| f(c)).count();
        domo_pdp::ChangeCounts {
            creates: count(|c| matches!(c, Change::Create { .. })),
            updates: count(|c| matches!(c, Change::Update { .. })),
            deletes: count(|c| matches!(c, Change::Delete { .. })),
            pdp_switches: count(|c| matches!(c, Change::EnablePdp | Change::DisablePdp)),
        }
    }

    /// Whether the plan switches PDP off (dataset.json says `pdpEnabled: false`).
    fn turns_pdp_off(&self) -> bool {
        self.changes.iter().any(|c| matches!(c, Change::DisablePdp))
    }

    /// Whether applying the plan leaves the DataSet without any policy, which
    /// turns PDP off: everyone with access then sees every row.
    fn leaves_no_policy(&self) -> bool {
        self.counts().leave_no_policy(self.live.len())
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
    /// The first write of an update ([`Change::Narrow`]): applied alone, the policy is cut, not yet updated.
    Narrow,
    Delete,
    EnablePdp,
    DisablePdp,
}

impl Step {
    /// `create `Attendees``, `delete policy 9 `Regrets``: the step to do.
    fn describe(&self) -> String {
        let verb = match self.action {
            Action::Create => "create",
            Action::Update => "update",
            Action::Narrow => return format!("narrow policy {} `{}` first", show_id(self.id), self.name),
            Action::Delete => "delete",
            Action::EnablePdp => return "enable PDP".to_owned(),
            Action::DisablePdp => return "disable PDP".to_owned(),
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
            Action::Narrow => return format!("narrowed policy {} `{}` first", show_id(self.id), self.name),
            Action::Delete => "deleted",
            Action::EnablePdp => return "enabled PDP".to_owned(),
            Action::DisablePdp => return "disabled PDP".to_owned(),
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
            Change::Narrow { id, policy } => Step { action: Action::Narrow, id: Some(*id), name: policy.name.clone() },
            Change::Delete { id, name } => Step { action: Action::Delete, id: Some(*id), name: name.clone() },
            Change::EnablePdp => Step { action: Action::EnablePdp, id: None, name: "PDP".to_owned() },
            Change::DisablePdp => Step { action: Action::DisablePdp, id: None, name: "PDP".to_owned() },
        }
    }

    fn describe(&self) -> String {
        match self {
            Change::Create { policy } => format!("create `{}`", policy.name),
            Change::Update { id, policy, .. } => format!("update policy {id} `{}`", policy.name),
            Change::Narrow { id, policy } => format!("narrow policy {id} `{}` first", policy.name),
            Change::Delete { id, name } => format!("delete policy {id} `{name}`"),
            Change::EnablePdp => "enable PDP".to_owned(),
            Change::DisablePdp => "disable PDP".to_owned(),
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
    /// The users whose rows change: at most [`EFFECT_USERS`], those who gain most first, when `cut` is set.
    users: Vec<UserEffect<String>>,
    /// Set when `users` was cut to [`EFFECT_USERS`]: the counts over every user whose rows change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cut: Option<Movers>,
}

/// How many users' rows change, gain and lose: all of them, also those a plan leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Movers {
    changed: usize,
    gaining: usize,
    losing: usize,
}

impl Movers {
    fn of(users: &[UserEffect<String>]) -> Self {
        Self {
            changed: users.len(),
            gaining: users.iter().filter(|u| u.gained > 0).count(),
            losing: users.iter().filter(|u| u.lost > 0).count(),
        }
    }
}

/// How many users' rows a plan lists per DataSet; the counts cover every user.
const EFFECT_USERS: usize = 100;

impl Effect {
    /// The users whose rows change, cut to [`EFFECT_USERS`] (those who gain most first, then those who lose most)
    /// when there are more, so that a plan of a thousand DataSets stays small.
    fn bounded(rows: usize, users_total: usize, mut users: Vec<UserEffect<String>>) -> Self {
        if users.len() <= EFFECT_USERS {
            return Self { rows, users_total, users, cut: None };
        }
        let all = Movers::of(&users);
        users.sort_by_key(|u| (u.gained == 0, std::cmp::Reverse(u.gained), std::cmp::Reverse(u.lost)));
        users.truncate(EFFECT_USERS);
        Self { rows, users_total, users, cut: Some(all) }
    }

    /// The counts over every user whose rows change.
    fn movers(&self) -> Movers {
        self.cut.unwrap_or_else(|| Movers::of(&self.users))
    }

    /// Users whose rows change but are not listed.
    fn left_out(&self) -> usize {
        self.movers().changed.saturating_sub(self.users.len())
    }
}

/// The for-any-row effect: verdicts of the users whose access changes, and the counts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnyRowEffect {
    counts: any_row::Counts,
    /// At most [`WITNESS_USERS`] users, those who gain access first: a plan of many DataSets stays small.
    users: Vec<any_row::UserImpactJson>,
    /// Users whose access changes but who are left out of `users` (`counts` counts them all).
    #[serde(default, skip_serializing_if = "is_zero")]
    users_left_out: usize,
}

/// How many users' for-any-row verdicts (each with its witness rows) a plan keeps per DataSet.
const WITNESS_USERS: usize = 20;

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Saves a plan (its JSON) whole or not at all, since a plan cut short must not be applied, and says how to apply it.
fn save_plan(path: &Path, json: &[u8]) -> anyhow::Result<()> {
    crate::output::text_file(path, json)?;
    output::note(format!(
        "saved the plan to `{}`; apply it with `domo pdp apply --plan {}`",
        path.display(),
        path.display()
    ));
    Ok(())
}

pub(crate) fn plan(args: &PlanArgs) -> anyhow::Result<Outcome> {
    if crate::tree::is_tree(&args.input.dir) {
        return tree::plan(args);
    }
    let connection = args.connection.connect()?;
    let target = Target { given: args.dataset_id.as_deref(), other: other_dataset(args.target_other_dataset) };
    let plan = make_plan(&args.input, &target, &connection)?;
    if let Some(path) = &args.out {
        save_plan(path, &crate::output::json_bytes(&plan)?)?;
    }
    match args.format {
        Format::Json => output::json(&plan)?,
        Format::Markdown => output::text(&markdown(&plan))?,
        Format::Table | Format::Csv => output::text(&render(&plan))?,
    }
    Ok(Outcome::Ok)
}

pub(crate) fn apply(args: &ApplyArgs) -> anyhow::Result<Outcome> {
    if let Some(dir) = &args.dir
        && crate::tree::is_tree(dir)
    {
        return tree::apply(args);
    }
    if let Some(path) = &args.plan
        && tree::is_tree_plan(path)?
    {
        return tree::apply(args);
    }
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
            output::json(&Report { plan: &plan, steps: Steps::default() })?;
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
    refuse_pdp_off(&[&plan], args.turn_pdp_off)?;
    let question = format!(
        "apply {} to DataSet {} `{}`{}",
        output::count(plan.changes.len(), "change", "changes"),
        plan.dataset_id,
        plan.dataset_name,
        if opens || plan.turns_pdp_off() { " (PDP turns off: everyone with access sees every row)" } else { "" }
    );
    if !output::confirm(&question, args.yes)? {
        // Like terraform: a declined apply is not a success, so scripts do not read it as one.
        output::note("apply cancelled: nothing applied");
        return Ok(Outcome::Findings);
    }
    let client = &connection.client;
    let (steps, error) = super::block_on(async {
        let stop = Stop::default();
        stop.on_ctrl_c();
        let directory = client.directory().await.context(DIRECTORY_NEEDED)?;
        match dataset::apply_changes(client, &plan, &directory, &stop).await {
            Ok(done) => Ok(done),
            Err(NotApplied::Stale(error) | NotApplied::Failed(error)) => Err(error),
        }
    })?;
    let report = Report { plan: &plan, steps };
    match args.format {
        Format::Json => output::json(&report)?,
        Format::Table | Format::Csv | Format::Markdown => {
            output::text(&render_report(&report.steps, plan.changes.len()))?;
        }
    }
    match error {
        None => Ok(Outcome::Ok),
        Some(error) => Err(error.context(format!(
            "apply stopped: {} of {} applied, {} not applied",
            report.steps.applied.len(),
            output::count(plan.changes.len(), "change", "changes"),
            report.steps.not_applied.len() + usize::from(report.steps.failed.is_some())
        ))),
    }
}

/// What an apply did.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    /// The plan applied, so that a JSON report stands on its own.
    plan: &'a Plan,
    #[serde(flatten)]
    steps: Steps,
}

/// The changes an apply made to one DataSet, the one that failed, and those it did not reach.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct Steps {
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

/// Refuses a folder whose policies.json gives one id to two policies.
fn refuse_duplicate_ids(inputs: &Inputs) -> anyhow::Result<()> {
    let mut seen = std::collections::HashSet::new();
    for policy in &inputs.policies {
        if let Some(id) = policy.id
            && !seen.insert(id)
        {
            bail!("`{}` has two policies with id {id}", inputs.paths.policies.display());
        }
    }
    Ok(())
}

/// Compares the folder's policies with the live ones and computes the effect on every user.
fn make_plan(input: &InputArgs, target: &Target<'_>, connection: &Connection) -> anyhow::Result<Plan> {
    let inputs = Inputs::read(input)?;
    let dataset_id = &check::target(&inputs.dataset.id, target.given, target.other, &inputs.paths.dataset)?;
    refuse_duplicate_ids(&inputs)?;
    let client = &connection.client;
    let (live, live_directory) = super::block_on(async {
        let live = dataset::fetch_live(client, dataset_id).await?;
        let directory = client.directory().await.context(DIRECTORY_NEEDED)?;
        Ok((live, directory))
    })?;
    let mut notes = Vec::new();
    if inputs.dataset.id != *dataset_id {
        notes.push(format!(
            "`{}` describes DataSet {}; planned against DataSet {dataset_id} `{}` as --target-other-dataset asks \
             (same schema)",
            inputs.paths.dataset.display(),
            inputs.dataset.id,
            live.dataset.name
        ));
    }
    dataset::plan_against(inputs, dataset_id, live, &live_directory, &connection.base_url, Sample::Present, notes)
}

/// Refuses plans that switch PDP off (their dataset.json says `pdpEnabled: false`) without `--turn-pdp-off`:
/// everyone with access would then see every row.
fn refuse_pdp_off(plans: &[&Plan], consent: bool) -> anyhow::Result<()> {
    let off: Vec<String> =
        plans.iter().filter(|p| p.turns_pdp_off()).map(|p| format!("{} `{}`", p.dataset_id, p.dataset_name)).collect();
    if off.is_empty() || consent {
        return Ok(());
    }
    bail!(
        "this plan turns PDP off on {}: {} (dataset.json says `\"pdpEnabled\": false`); everyone with access then \
         sees every row; nothing was applied (set `\"pdpEnabled\": true`, or pass --turn-pdp-off if that is meant)",
        output::count(off.len(), "DataSet", "DataSets"),
        off.join(", ")
    )
}

fn show_id(id: Option<PolicyId>) -> String {
    id.map_or_else(|| "?".to_owned(), |id| id.to_string())
}
