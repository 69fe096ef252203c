//! `domo pdp plan|apply ROOT` on an instance tree: every DataSet planned against the live instance into one
//! plan file, and that plan applied DataSet by DataSet with a bounded number in flight.

use std::path::Path;

mod render;

use anyhow::{Context, bail};
use domo_model::{DatasetId, read_user_file};
use domo_pdp::{ApplyStatus, ApplySummary, DatasetPlan, PlanSummary};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use self::render::{render_apply, render_tree, tree_markdown};
use super::dataset::{self, NotApplied, Sample, Stop};
use super::{ApplyArgs, DIRECTORY_NEEDED, Plan, PlanArgs, Steps, chain, refuse_duplicate_ids};
use crate::exit::Outcome;
use crate::folder::{DirectoryProblems, Limits};
use crate::live::config::Connection;
use crate::live::output;
use crate::output::Format;
use crate::tree::{Tree, TreeDataset};

/// The version of the whole-tree plan file (one-DataSet plans are version 2).
pub(super) const TREE_PLAN_VERSION: u32 = 4;

/// A plan for every DataSet of a tree.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TreePlan {
    pub(super) version: u32,
    /// The API the plan was made against.
    pub(super) api: String,
    /// The tree's root, as given.
    pub(super) root: String,
    /// Counted (recomputed from `datasets` when read).
    pub(super) summary: SummaryJson,
    /// Every DataSet of the tree, by folder name.
    pub(super) datasets: Vec<Entry>,
}

/// One DataSet of a tree plan.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub(super) enum Entry {
    /// Planned: its changes (maybe none) and their effect.
    Planned { folder: String, plan: Box<Plan> },
    /// A check failed: nothing is planned, and apply leaves it alone.
    #[serde(rename_all = "camelCase")]
    Refused { folder: String, dataset_id: DatasetId, name: String, reason: String },
}

impl Entry {
    fn counted(&self) -> DatasetPlan {
        match self {
            Entry::Planned { plan, .. } => DatasetPlan::Planned(plan.counts()),
            Entry::Refused { .. } => DatasetPlan::Refused,
        }
    }
}

/// [`PlanSummary`] as JSON.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SummaryJson {
    pub(super) datasets: usize,
    pub(super) to_change: usize,
    pub(super) unchanged: usize,
    pub(super) refused: usize,
    pub(super) creates: usize,
    pub(super) updates: usize,
    pub(super) deletes: usize,
    /// DataSets whose PDP is switched on or off (left out when none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(super) pdp_switches: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl From<PlanSummary> for SummaryJson {
    fn from(s: PlanSummary) -> Self {
        Self {
            datasets: s.datasets,
            to_change: s.to_change,
            unchanged: s.unchanged,
            refused: s.refused,
            creates: s.changes.creates,
            updates: s.changes.updates,
            deletes: s.changes.deletes,
            pdp_switches: s.changes.pdp_switches,
        }
    }
}

impl TreePlan {
    pub(super) fn summary(&self) -> PlanSummary {
        PlanSummary::of(self.datasets.iter().map(Entry::counted))
    }
}

/// Whether the plan file at `path` is a whole-tree plan (it lists `datasets`).
pub(super) fn is_tree_plan(path: &Path) -> anyhow::Result<bool> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let value = serde_json::from_str::<serde_json::Value>(&text).ok();
    Ok(value.is_some_and(|v| v.get("datasets").is_some()))
}

/// `domo pdp plan ROOT`.
pub(super) fn plan(args: &PlanArgs) -> anyhow::Result<Outcome> {
    refuse_folder_flags(args.dataset_id.is_some(), &args.input)?;
    let connection = args.connection.connect()?;
    let plan = make_tree_plan(&args.input.dir, usize::from(args.jobs), &connection)?;
    if let Some(path) = &args.out {
        // Compact: a thousand DataSets' changes, pretty-printed, would be three times the size (people read the
        // text or markdown plan, `apply --plan` reads this).
        super::save_plan(path, &serde_json::to_vec(&plan)?)?;
    }
    match args.format {
        Format::Json => output::json(&plan)?,
        Format::Markdown => output::text(&tree_markdown(&plan))?,
        Format::Table | Format::Csv => output::text(&render_tree(&plan))?,
    }
    let refused = plan.summary().refused;
    if refused > 0 {
        output::note(format!(
            "{} refused: fix what the plan says and plan again (the others are planned)",
            output::count(refused, "DataSet was", "DataSets were")
        ));
        return Ok(Outcome::Findings);
    }
    Ok(Outcome::Ok)
}

/// The flags that pick one DataSet or one file make no sense on a tree.
fn refuse_folder_flags(dataset_id: bool, input: &crate::folder::InputArgs) -> anyhow::Result<()> {
    let file_flag = input.dataset.is_some()
        || input.data.is_some()
        || input.policies.is_some()
        || input.directory.is_some()
        || input.no_header;
    if dataset_id || file_flag {
        bail!(
            "`{}` is an instance tree: every DataSet is planned against the DataSet its folder is named by, so \
             --dataset-id, --dataset, --data, --policies, --directory and --no-header do not apply",
            input.dir.display()
        );
    }
    Ok(())
}

/// A count of DataSets on stderr, when it is a terminal.
fn count_bar(message: &str, total: usize) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal as _;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(u64::try_from(total).unwrap_or(u64::MAX)),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} [{wide_bar}] {pos}/{len} DataSets ({eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message.to_owned());
    Some(bar)
}

/// Reads the tree and the live instance (every DataSet and its policies, `jobs` at once, and the directory
/// once), then plans each DataSet; one that fails a check is refused, the others are planned.
fn make_tree_plan(root: &Path, jobs: usize, connection: &Connection) -> anyhow::Result<TreePlan> {
    let tree = Tree::read(root, Limits::default(), DirectoryProblems::Refuse)?;
    let client = &connection.client;
    let ids: Vec<DatasetId> = tree.datasets.iter().map(|d| d.inputs.dataset.id.clone()).collect();
    let bar = count_bar("reading the live DataSets", ids.len());
    let (directory, mut lives) = super::super::block_on(async {
        let directory = client.directory().await.context(DIRECTORY_NEEDED)?;
        let lives: Vec<(usize, anyhow::Result<dataset::LiveDataset>)> =
            futures_util::stream::iter(ids.iter().enumerate())
                .map(|(index, id)| {
                    let bar = bar.clone();
                    async move {
                        let live = dataset::fetch_live(client, id).await;
                        if let Some(bar) = bar {
                            bar.inc(1);
                        }
                        (index, live)
                    }
                })
                .buffer_unordered(jobs.max(1))
                .collect()
                .await;
        Ok((directory, lives))
    })?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    lives.sort_by_key(|(index, _)| *index);
    let work: Vec<(TreeDataset, anyhow::Result<dataset::LiveDataset>)> =
        tree.datasets.into_iter().zip(lives.into_iter().map(|(_, live)| live)).collect();
    let count = work.len();
    // The engine's part, DataSet by DataSet, on as many threads as there are cores (at most --jobs).
    let threads = std::thread::available_parallelism().map_or(1, usize::from).min(jobs).max(1);
    let queue = std::sync::Mutex::new(work.into_iter().enumerate());
    let done = std::sync::Mutex::new(Vec::with_capacity(count));
    let api = connection.base_url.as_str();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let next = match queue.lock() {
                        Ok(mut queue) => queue.next(),
                        Err(_) => None,
                    };
                    let Some((index, (dataset, live))) = next else { break };
                    let entry = plan_entry(dataset, live, &directory, api);
                    if let Ok(mut done) = done.lock() {
                        done.push((index, entry));
                    }
                }
            });
        }
    });
    let mut done = done.into_inner().map_err(|_| anyhow::anyhow!("a planning thread failed"))?;
    if done.len() != count {
        bail!("a planning thread failed: {} of {count} DataSets planned", done.len());
    }
    done.sort_by_key(|(index, _)| *index);
    let entries: Vec<Entry> = done.into_iter().map(|(_, entry)| entry).collect();
    let summary = PlanSummary::of(entries.iter().map(Entry::counted)).into();
    Ok(TreePlan {
        version: TREE_PLAN_VERSION,
        api: connection.base_url.clone(),
        root: root.display().to_string(),
        summary,
        datasets: entries,
    })
}

/// One DataSet of the tree planned against what was read of it, or refused with the reason.
fn plan_entry(
    dataset: TreeDataset,
    live: anyhow::Result<dataset::LiveDataset>,
    directory: &domo_model::Directory,
    api: &str,
) -> Entry {
    let TreeDataset { folder, inputs, has_data, .. } = dataset;
    let id = inputs.dataset.id.clone();
    let local_name = inputs.dataset.name.clone();
    let sample = if has_data { Sample::Present } else { Sample::Absent };
    let planned = live.and_then(|live| {
        refuse_duplicate_ids(&inputs)?;
        dataset::plan_against(inputs, &id, live, directory, api, sample, Vec::new())
    });
    match planned {
        Ok(plan) => Entry::Planned { folder, plan: Box::new(plan) },
        Err(error) => Entry::Refused { folder, dataset_id: id, name: local_name, reason: chain(&error) },
    }
}

fn read_tree_plan(path: &Path, connection: &Connection) -> anyhow::Result<TreePlan> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let version = serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| v.get("version")?.as_u64());
    if version != Some(u64::from(TREE_PLAN_VERSION)) {
        bail!(
            "`{}` is a whole-tree plan of version {}; this domo reads version {TREE_PLAN_VERSION}: plan again",
            path.display(),
            version.map_or_else(|| "?".to_owned(), |v| v.to_string())
        );
    }
    let mut plan: TreePlan = read_user_file(&path.display().to_string(), &text)?;
    if plan.api != connection.base_url {
        bail!(
            "`{}` was planned against `{}`, but these credentials talk to `{}`",
            path.display(),
            plan.api,
            connection.base_url
        );
    }
    for entry in &plan.datasets {
        if let Entry::Planned { plan: one, .. } = entry
            && one.api != plan.api
        {
            bail!(
                "`{}`: DataSet {} was planned against `{}`, not `{}`",
                path.display(),
                one.dataset_id,
                one.api,
                plan.api
            );
        }
    }
    // The counts are the plan's own, whatever the file says.
    plan.summary = plan.summary().into();
    Ok(plan)
}

/// What an apply did to one DataSet.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DatasetReport {
    pub(super) folder: String,
    pub(super) dataset_id: DatasetId,
    pub(super) name: String,
    /// `done`, `unchanged`, `skipped` or `failed`.
    pub(super) status: &'static str,
    /// Why it was skipped or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) reason: Option<String>,
    #[serde(flatten)]
    pub(super) steps: Steps,
    #[serde(skip)]
    pub(super) outcome: Option<ApplyStatus>,
}

/// What an apply did to every DataSet, and the counts.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TreeReport {
    pub(super) summary: ApplySummaryJson,
    pub(super) datasets: Vec<DatasetReport>,
}

#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ApplySummaryJson {
    pub(super) done: usize,
    pub(super) unchanged: usize,
    pub(super) skipped: usize,
    pub(super) failed: usize,
}

fn status_name(status: ApplyStatus) -> &'static str {
    match status {
        ApplyStatus::Done => "done",
        ApplyStatus::Unchanged => "unchanged",
        ApplyStatus::Skipped => "skipped",
        ApplyStatus::Failed => "failed",
    }
}

impl DatasetReport {
    fn new(
        folder: &str,
        id: &DatasetId,
        name: &str,
        status: ApplyStatus,
        reason: Option<String>,
        steps: Steps,
    ) -> Self {
        Self {
            folder: folder.to_owned(),
            dataset_id: id.clone(),
            name: name.to_owned(),
            status: status_name(status),
            reason,
            steps,
            outcome: Some(status),
        }
    }
}

/// `domo pdp apply ROOT` or `domo pdp apply --plan FILE` with a whole-tree plan.
pub(super) fn apply(args: &ApplyArgs) -> anyhow::Result<Outcome> {
    let connection = args.connection.connect()?;
    let plan = match (&args.plan, &args.dir) {
        (Some(path), _) => read_tree_plan(path, &connection)?,
        (None, Some(dir)) => {
            if args.dataset_id.is_some() {
                bail!(
                    "`{}` is an instance tree: every DataSet is applied to the DataSet its folder is named by, so \
                     --dataset-id does not apply",
                    dir.display()
                );
            }
            make_tree_plan(dir, usize::from(args.jobs), &connection)?
        }
        (None, None) => bail!("give ROOT, or --plan FILE"),
    };
    if args.format != Format::Json {
        output::text(&render_tree(&plan))?;
    }
    let to_apply: Vec<(&str, &Plan)> = plan
        .datasets
        .iter()
        .filter_map(|entry| match entry {
            Entry::Planned { folder, plan } if !plan.changes.is_empty() => Some((folder.as_str(), &**plan)),
            _ => None,
        })
        .collect();
    let opening: Vec<String> = to_apply
        .iter()
        .filter(|(_, p)| p.leaves_no_policy())
        .map(|(_, p)| format!("{} `{}`", p.dataset_id, p.dataset_name))
        .collect();
    if !opening.is_empty() && !args.turn_pdp_off {
        bail!(
            "this plan deletes every policy of {}: {}; Domo then turns PDP off and everyone with access sees every \
             row; nothing was applied (keep a policy, or pass --turn-pdp-off if that is meant)",
            output::count(opening.len(), "DataSet", "DataSets"),
            opening.join(", ")
        );
    }
    let planned: Vec<&Plan> = to_apply.iter().map(|(_, p)| *p).collect();
    super::refuse_pdp_off(&planned, args.turn_pdp_off)?;
    let mut reports: Vec<(usize, DatasetReport)> = Vec::new();
    if !to_apply.is_empty() {
        let changes: usize = to_apply.iter().map(|(_, p)| p.changes.len()).sum();
        let question = format!(
            "apply {} to {}{}",
            output::count(changes, "change", "changes"),
            output::count(to_apply.len(), "DataSet", "DataSets"),
            match opening.len() + planned.iter().filter(|p| p.turns_pdp_off() && !p.leaves_no_policy()).count() {
                0 => String::new(),
                off => format!(" (PDP turns off on {off}: everyone with access sees every row)"),
            }
        );
        if !output::confirm(&question, args.yes)? {
            output::note("apply cancelled: nothing applied");
            return Ok(Outcome::Findings);
        }
        let client = &connection.client;
        let bar = count_bar("applying", to_apply.len());
        reports = super::super::block_on(async {
            let stop = Stop::default();
            stop.on_ctrl_c();
            let stop = &stop;
            let directory = client.directory().await.context(DIRECTORY_NEEDED)?;
            let directory = &directory;
            let done = futures_util::stream::iter(to_apply.iter().enumerate())
                .map(|(index, (folder, one))| {
                    let bar = bar.clone();
                    async move {
                        let report = apply_one(client, folder, one, directory, stop).await;
                        if let Some(bar) = bar {
                            bar.inc(1);
                        }
                        (index, report)
                    }
                })
                .buffer_unordered(usize::from(args.jobs).max(1))
                .collect::<Vec<_>>()
                .await;
            Ok(done)
        })?;
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        reports.sort_by_key(|(index, _)| *index);
    }
    let mut applied = reports.into_iter().map(|(_, r)| r);
    let mut datasets = Vec::with_capacity(plan.datasets.len());
    // In the plan's order: the applied ones where they were, the others as they stand.
    for entry in &plan.datasets {
        match entry {
            Entry::Planned { plan: one, .. } if !one.changes.is_empty() => {
                if let Some(report) = applied.next() {
                    datasets.push(report);
                }
            }
            Entry::Planned { folder, plan: one } => datasets.push(DatasetReport::new(
                folder,
                &one.dataset_id,
                &one.dataset_name,
                ApplyStatus::Unchanged,
                None,
                Steps::default(),
            )),
            Entry::Refused { folder, dataset_id, name, reason } => datasets.push(DatasetReport::new(
                folder,
                dataset_id,
                name,
                ApplyStatus::Skipped,
                Some(format!("refused by the plan: {reason}")),
                Steps::default(),
            )),
        }
    }
    let summary = ApplySummary::of(datasets.iter().filter_map(|d| d.outcome));
    let report = TreeReport {
        summary: ApplySummaryJson {
            done: summary.done,
            unchanged: summary.unchanged,
            skipped: summary.skipped,
            failed: summary.failed,
        },
        datasets,
    };
    match args.format {
        Format::Json => output::json(&report)?,
        Format::Table | Format::Csv | Format::Markdown => output::text(&render_apply(&report))?,
    }
    if summary.failed > 0 {
        let failed: Vec<String> = report
            .datasets
            .iter()
            .filter(|d| d.outcome == Some(ApplyStatus::Failed))
            .map(|d| format!("{} `{}`", d.dataset_id, d.name))
            .collect();
        bail!(
            "apply failed on {} of {}: {} (what was applied to each is listed above; plan again to see what is left)",
            failed.len(),
            output::count(report.datasets.len(), "DataSet", "DataSets"),
            failed.join(", ")
        );
    }
    if summary.complete() { Ok(Outcome::Ok) } else { Ok(Outcome::Findings) }
}

/// Applies one DataSet's plan and says how it came out.
async fn apply_one(
    client: &domo_http::Client,
    folder: &str,
    plan: &Plan,
    directory: &domo_model::Directory,
    stop: &Stop,
) -> DatasetReport {
    let report =
        |status, reason, steps| DatasetReport::new(folder, &plan.dataset_id, &plan.dataset_name, status, reason, steps);
    let nothing = || Steps { not_applied: plan.changes.iter().map(super::Change::step).collect(), ..Steps::default() };
    if stop.requested() {
        return report(ApplyStatus::Skipped, Some("not started: the apply was interrupted".to_owned()), nothing());
    }
    match dataset::apply_changes(client, plan, directory, stop).await {
        Ok((steps, None)) => report(ApplyStatus::Done, None, steps),
        Ok((steps, Some(error))) => report(ApplyStatus::Failed, Some(chain(&error)), steps),
        Err(NotApplied::Stale(error)) => report(ApplyStatus::Skipped, Some(chain(&error)), nothing()),
        Err(NotApplied::Failed(error)) => report(ApplyStatus::Failed, Some(chain(&error)), nothing()),
    }
}
