//! `domo pull --all DIR`: every DataSet the filters select, pulled a bounded number at a time into the instance
//! tree, and what changed since the last pull.

use std::collections::BTreeSet;
use std::io::IsTerminal as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use domo_http::{Client, ExportedHead};
use domo_model::{
    Dataset, DatasetId, DatasetSummary, Directory, ExportOptions, Header, ListDatasets, Policy, PolicyType, UserId,
};
use futures_util::{StreamExt as _, TryStreamExt as _};
use tokio::io::AsyncWriteExt as _;

use super::changes::{dataset_changes, directory_changes, policy_changes};
use super::local::{self, DATASETS, Local, LocalPolicies, Staged};
use super::{PullArgs, output};
use crate::exit::Outcome;
use crate::live::config::ConnectionArgs;

/// DataSets pulled at once unless `--jobs` says otherwise.
const DEFAULT_JOBS: u16 = 8;

/// What `domo pull --all` was asked to do.
#[derive(Debug)]
pub(crate) struct PullAll<'a> {
    root: &'a Path,
    name_like: Option<&'a str>,
    pdp_only: bool,
    owner: Option<UserId>,
    limit: Option<u64>,
    sample: Option<u64>,
    jobs: usize,
    prune: bool,
    force: bool,
    connection: &'a ConnectionArgs,
}

impl<'a> PullAll<'a> {
    pub(crate) fn of(args: &'a PullArgs, root: &'a Path) -> Self {
        Self {
            root,
            name_like: args.name_like.as_deref(),
            pdp_only: args.pdp_only,
            owner: args.owner.map(UserId),
            limit: args.limit,
            sample: args.sample,
            jobs: usize::from(args.jobs.unwrap_or(DEFAULT_JOBS).max(1)),
            prune: args.prune,
            force: args.force,
            connection: &args.connection,
        }
    }
}

/// What became of one DataSet.
#[derive(Debug)]
enum Pulled {
    /// A folder written for the first time: what it holds.
    Added {
        id: DatasetId,
        name: String,
        holds: String,
        warning: Option<String>,
    },
    Updated {
        id: DatasetId,
        name: String,
        changes: Vec<String>,
        warning: Option<String>,
    },
    Unchanged {
        warning: Option<(DatasetId, String, String)>,
    },
    /// Not selected by `--owner` or `--pdp-only`, which only the DataSet's details tell.
    LeftOut,
    /// A folder of the tree whose DataSet is still live but was not selected.
    NotSelected,
    /// A folder of the tree whose DataSet was deleted live.
    Deleted {
        id: DatasetId,
        name: String,
        pruned: bool,
    },
    /// policies.json holds local edits: nothing of this DataSet was written.
    Skipped {
        id: DatasetId,
        name: String,
        reason: String,
    },
    Failed {
        id: DatasetId,
        name: String,
        error: anyhow::Error,
    },
}

/// What is done for each DataSet: pull a listed one, or check a folder the listing did not name.
#[derive(Debug)]
enum Task {
    Pull(DatasetSummary),
    Check { id: DatasetId, name: String },
}

pub(crate) fn run(args: &PullAll<'_>) -> anyhow::Result<Outcome> {
    if let Some(file) = ["dataset.json", "policies.json"].into_iter().find(|f| args.root.join(f).exists()) {
        anyhow::bail!(
            "`{}` holds {file}: it is a one-DataSet folder, not an instance tree; give --all a folder of its own",
            args.root.display()
        );
    }
    let connection = args.connection.connect()?;
    let started = Instant::now();
    let created = super::first_missing(args.root);
    let pulled = crate::live::block_on(pull_tree(args, &connection.client));
    let report = match pulled {
        Ok(report) => report,
        Err(error) => {
            // Nothing was written but folders: the listing or the directory failed.
            if let Some(created) = created {
                let _ = std::fs::remove_dir_all(created);
            }
            return Err(error);
        }
    };
    report.print(args, started.elapsed())
}

/// The outcome of a run: directory.json's changes and each DataSet's.
#[derive(Debug)]
struct Report {
    /// `None` when directory.json was written for the first time.
    directory: Option<Vec<String>>,
    users: usize,
    groups: usize,
    outcomes: Vec<Pulled>,
}

async fn pull_tree(args: &PullAll<'_>, client: &Client) -> anyhow::Result<Report> {
    let query = ListDatasets { name_like: args.name_like.map(str::to_owned), ..ListDatasets::default() };
    let owner = args.owner;
    let limit = args.limit.map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let listing = client
        .list_datasets(&query)
        .try_filter(move |d| {
            // The listing may leave the owner out: then the DataSet's details decide.
            let owned = owner.is_none_or(|o| d.owner.as_ref().is_none_or(|own| own.id == o));
            futures_util::future::ready(owned)
        })
        .take(limit)
        .try_collect::<Vec<_>>();
    // One after the other, and the directory's group members --jobs at a time: never more than
    // --jobs requests in flight.
    let listed = listing.await.context("cannot list the DataSets")?;
    let directory = client.directory_with(args.jobs).await.context("cannot read the users and groups")?;
    let datasets = args.root.join(DATASETS);
    std::fs::create_dir_all(&datasets).with_context(|| format!("cannot create `{}`", datasets.display()))?;
    let (users, groups) = (directory.users.len(), directory.groups.len());
    let directory = write_directory(args.root, &directory)?;

    let listed_ids: BTreeSet<&str> = listed.iter().map(|d| d.id.as_str()).collect();
    let others: Vec<Task> = pulled_folders(&datasets)
        .into_iter()
        .filter(|(id, _)| !listed_ids.contains(id.as_str()))
        .map(|(id, name)| Task::Check { id, name })
        .collect();
    let tasks: Vec<Task> = listed.into_iter().map(Task::Pull).chain(others).collect();
    let bar = progress_bar(tasks.len() as u64);
    let outcomes = futures_util::stream::iter(tasks)
        .map(|task| {
            let bar = bar.as_ref();
            async move {
                let outcome = match task {
                    Task::Pull(summary) => pull_one(args, client, summary).await,
                    Task::Check { id, name } => check_one(args, client, id, name).await,
                };
                if let Some(bar) = bar {
                    bar.inc(1);
                }
                outcome
            }
        })
        .buffer_unordered(args.jobs)
        .collect::<Vec<_>>()
        .await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(Report { directory, users, groups, outcomes })
}

/// Writes directory.json when it differs; its changes (`None`: it is new).
fn write_directory(root: &Path, directory: &Directory) -> anyhow::Result<Option<Vec<String>>> {
    local::clean_temporaries(root);
    let path = root.join("directory.json");
    let bytes = crate::output::json_bytes(directory)?;
    let old = std::fs::read(&path).ok();
    if old.as_deref() == Some(bytes.as_slice()) {
        return Ok(Some(Vec::new()));
    }
    let changes = old.map(|old| match serde_json::from_slice::<Directory>(&old) {
        Ok(old) => directory_changes(&old, directory),
        Err(_) => vec!["rewritten (it did not parse)".to_owned()],
    });
    let staged = local::stage(root, "directory.json", &bytes)?;
    local::commit(root, vec![staged])?;
    Ok(changes.map(|c| if c.is_empty() { vec!["reformatted".to_owned()] } else { c }))
}

/// The DataSet folders of the tree that a pull wrote (those with a dataset.json),
/// with the name it gives: (id, name).
fn pulled_folders(datasets: &Path) -> Vec<(DatasetId, String)> {
    let Ok(entries) = std::fs::read_dir(datasets) else { return Vec::new() };
    let mut folders: Vec<(DatasetId, String)> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| {
            let id = e.file_name().to_str()?.to_owned();
            let text = std::fs::read(e.path().join("dataset.json")).ok()?;
            let value: serde_json::Value = serde_json::from_slice(&text).ok()?;
            let name = value.get("name").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
            Some((DatasetId::from(id), name))
        })
        .collect();
    folders.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    folders
}

/// A bar of DataSets done, on stderr when it is a terminal.
fn progress_bar(total: u64) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template("pulling DataSets [{wide_bar}] {pos}/{len} ({eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}

async fn pull_one(args: &PullAll<'_>, client: &Client, summary: DatasetSummary) -> Pulled {
    match pull_dataset(args, client, &summary).await {
        Ok(pulled) => pulled,
        Err(error) => Pulled::Failed { id: summary.id, name: summary.name, error },
    }
}

async fn pull_dataset(args: &PullAll<'_>, client: &Client, summary: &DatasetSummary) -> anyhow::Result<Pulled> {
    let dataset = client.get_dataset(&summary.id).await?;
    let policies = match &dataset.policies {
        Some(policies) => policies.clone(),
        None => client.list_policies(&dataset.id).await?,
    };
    if let Some(owner) = args.owner
        && dataset.owner.as_ref().map(|o| o.id) != Some(owner)
    {
        return Ok(Pulled::LeftOut);
    }
    if args.pdp_only && !dataset.pdp_enabled && policies.iter().all(|p| p.policy_type != PolicyType::User) {
        return Ok(Pulled::LeftOut);
    }
    let (root, id) = (args.root.to_owned(), dataset.id.clone());
    let local = tokio::task::spawn_blocking(move || Local::read(&root, &id)).await??;
    // A live policy that is a shared policy's use lives in shared/, not in policies.json.
    let drift = local.shared_drift(&policies, &dataset.schema);
    let kept: Vec<Policy> = policies.into_iter().filter(|p| !local.shared.contains_key(&p.name)).collect();
    if !args.force
        && let Some(reason) = local.edited(&kept, dataset.owner.as_ref().map(|o| o.id))
    {
        return Ok(Pulled::Skipped { id: dataset.id, name: dataset.name, reason });
    }
    let folder = local.folder.clone();
    let created = !folder.exists();
    std::fs::create_dir_all(&folder).with_context(|| format!("cannot create `{}`", folder.display()))?;
    let written = write_dataset(args, client, dataset, kept, local, drift).await;
    if written.is_err() && created {
        // Only this run's temporary files were in it, and they are gone.
        let _ = std::fs::remove_dir(&folder);
    }
    written
}

async fn write_dataset(
    args: &PullAll<'_>,
    client: &Client,
    dataset: Dataset,
    kept: Vec<Policy>,
    local: Local,
    drift: Vec<String>,
) -> anyhow::Result<Pulled> {
    local::clean_temporaries(&local.folder);
    let sample = match args.sample {
        Some(rows) => Some(export_sample(client, &dataset.id, &local.folder, rows).await?),
        None => None,
    };
    // Policies applied as the tree holds them (written without ids) are left as they are: nothing to bring in.
    let keep_policies = !args.force && local.in_sync(&kept, dataset.owner.as_ref().map(|o| o.id));
    tokio::task::spawn_blocking(move || commit_dataset(dataset, &kept, &local, sample, drift, keep_policies)).await?
}

/// The first `rows` rows of the DataSet, with a header row, staged as data.csv.
async fn export_sample(
    client: &Client,
    id: &DatasetId,
    folder: &Path,
    rows: u64,
) -> anyhow::Result<(Staged, ExportedHead)> {
    let staged = local::temp_in(folder, "data.csv")?;
    let path = folder.join("data.csv");
    let file = tokio::fs::File::from_std(staged.reopen()?);
    let mut writer = tokio::io::BufWriter::with_capacity(64 * 1024, file);
    let options = ExportOptions { header: Header::Include, file_name: None };
    let head = client.export_data_head(id, &options, rows, &mut writer, None).await?;
    writer.flush().await.with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok((staged, head))
}

/// Compares what was pulled with the folder, and puts in place the files
/// that differ (dataset.json, policies.json unless `keep_policies`, data.csv, then the state file).
fn commit_dataset(
    dataset: Dataset,
    kept: &[Policy],
    local: &Local,
    sample: Option<(Staged, ExportedHead)>,
    drift: Vec<String>,
    keep_policies: bool,
) -> anyhow::Result<Pulled> {
    let folder = &local.folder;
    let listed = Dataset { policies: None, ..dataset.clone() };
    let dataset_bytes = crate::output::json_bytes(&listed)?;
    let policies_bytes = crate::output::json_bytes(&kept)?;
    let mut changes = Vec::new();
    let mut details = Vec::new();
    let mut staged = Vec::new();
    if std::fs::read(folder.join("dataset.json")).ok().as_deref() != Some(dataset_bytes.as_slice()) {
        if let Some(old) = &local.dataset {
            let said = dataset_changes(old, &serde_json::to_value(&listed)?);
            if said.main.is_empty() && said.details.is_empty() {
                details.push("dataset.json reformatted".to_owned());
            }
            changes.extend(said.main);
            details.extend(said.details);
        }
        staged.push(local::stage(folder, "dataset.json", &dataset_bytes)?);
    }
    if !keep_policies && std::fs::read(folder.join("policies.json")).ok().as_deref() != Some(policies_bytes.as_slice())
    {
        let said = match &local.policies {
            LocalPolicies::Parsed(old) => policy_changes(old, kept).describe(),
            LocalPolicies::Missing => None,
            LocalPolicies::Unreadable(_) => Some("policies.json rewritten (it did not parse)".to_owned()),
        };
        if local.dataset.is_some() {
            changes.push(said.unwrap_or_else(|| "policies.json reformatted".to_owned()));
        }
        staged.push(local::stage(folder, "policies.json", &policies_bytes)?);
    }
    let mut warning = None;
    if let Some((sample, head)) = sample {
        let path = folder.join("data.csv");
        if !local::same_file(sample.path(), &path) {
            if local.dataset.is_some() {
                changes.push(if path.exists() { "sample changed" } else { "sample written" }.to_owned());
            }
            sample.sync()?;
            staged.push(sample);
        }
        if !head.stopped && head.rows < dataset.rows {
            warning = Some(format!(
                "the export gave {} but the DataSet holds {}: PDP hides rows from the user these credentials act \
                 as; pull as the owner or an Admin",
                output::plural(head.rows, "row", "rows"),
                dataset.rows
            ));
        }
    }
    changes.extend(details);
    // A live copy of a shared policy that differs from the tree's definition is said, not silently left out.
    if !drift.is_empty() {
        warning = Some(warning.into_iter().chain(drift).collect::<Vec<_>>().join("; "));
    }
    if local.recorded() != Some(domo_pdp::fingerprint(kept).as_str()) {
        staged.push(local::stage_state(folder, kept)?);
    }
    local::commit(folder, staged)?;
    let (id, name) = (dataset.id, dataset.name);
    if local.dataset.is_none() {
        let holds = format!(
            "{}, PDP {}",
            output::count(kept.len(), "policy", "policies"),
            if dataset.pdp_enabled { "on" } else { "off" }
        );
        return Ok(Pulled::Added { id, name, holds, warning });
    }
    if changes.is_empty() {
        return Ok(Pulled::Unchanged { warning: warning.map(|w| (id, name, w)) });
    }
    Ok(Pulled::Updated { id, name, changes, warning })
}

/// A folder of the tree that the listing did not name: still live but not
/// selected, or deleted live (then removed with `--prune`).
async fn check_one(args: &PullAll<'_>, client: &Client, id: DatasetId, name: String) -> Pulled {
    match client.get_dataset(&id).await {
        Ok(_) => Pulled::NotSelected,
        Err(error) if error.status() == Some(404) || error.is_deleted() => {
            if !args.prune {
                return Pulled::Deleted { id, name, pruned: false };
            }
            let folder = local::folder(args.root, &id);
            match std::fs::remove_dir_all(&folder) {
                Ok(()) => Pulled::Deleted { id, name, pruned: true },
                Err(e) => Pulled::Failed {
                    id,
                    name,
                    error: anyhow::Error::new(e).context(format!("cannot remove `{}`", folder.display())),
                },
            }
        }
        Err(error) => Pulled::Failed { id, name, error: error.into() },
    }
}

impl Report {
    /// Prints what changed (stdout), what was skipped or failed and the summary
    /// (stderr), and decides the exit: 2 if any DataSet failed, 1 if any was
    /// skipped, else 0.
    fn print(mut self, args: &PullAll<'_>, elapsed: Duration) -> anyhow::Result<Outcome> {
        self.outcomes.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
        let mut lines = Vec::new();
        match &self.directory {
            None => lines.push(format!(
                "directory.json written: {}, {}",
                output::count(self.users, "user", "users"),
                output::count(self.groups, "group", "groups")
            )),
            Some(changes) if !changes.is_empty() => lines.push(format!("directory.json: {}", changes.join("; "))),
            Some(_) => {}
        }
        let (mut added, mut updated, mut unchanged, mut left_out, mut deleted, mut skipped, mut failed) =
            (0, 0, 0, 0, 0, 0, 0);
        let mut warned = 0;
        for outcome in &self.outcomes {
            match outcome {
                Pulled::Added { id, name, holds, warning } => {
                    added += 1;
                    warned += usize::from(warning.is_some());
                    lines.push(format!("added    {id} `{name}`: {holds}"));
                    warn(id, name, warning.as_deref());
                }
                Pulled::Updated { id, name, changes, warning } => {
                    updated += 1;
                    warned += usize::from(warning.is_some());
                    lines.push(format!("updated  {id} `{name}`: {}", changes.join("; ")));
                    warn(id, name, warning.as_deref());
                }
                Pulled::Unchanged { warning } => {
                    unchanged += 1;
                    if let Some((id, name, warning)) = warning {
                        warned += 1;
                        warn(id, name, Some(warning));
                    }
                }
                Pulled::LeftOut => left_out += 1,
                Pulled::NotSelected => {}
                Pulled::Deleted { id, name, pruned } => {
                    deleted += 1;
                    let what = if *pruned { "its folder removed" } else { "its folder kept (--prune removes it)" };
                    lines.push(format!("deleted  {id} `{name}`: deleted live, {what}"));
                }
                Pulled::Skipped { id, name, reason } => {
                    skipped += 1;
                    output::note(format!("skipped: DataSet {id} `{name}`: {reason}; --force overwrites it"));
                }
                Pulled::Failed { id, name, error } => {
                    failed += 1;
                    output::note(format!("failed: DataSet {id} `{name}`: {error:#}"));
                }
            }
        }
        if !lines.is_empty() {
            output::text(&lines.join("\n"))?;
        }
        let pulled = added + updated + unchanged + skipped + failed;
        let mut counts = Vec::new();
        for (count, what) in [
            (added, "added"),
            (updated, "updated"),
            (unchanged, "unchanged"),
            (deleted, if args.prune { "deleted live (removed)" } else { "deleted live (kept)" }),
            (skipped, "skipped"),
            (failed, "failed"),
            (left_out, "left out by --owner or --pdp-only"),
        ] {
            if count > 0 {
                counts.push(format!("{count} {what}"));
            }
        }
        let nothing = added + updated + deleted == 0 && lines.is_empty();
        // "no changes" only when nothing was warned about either (a live change to a shared policy is one).
        let verdict = if nothing && skipped + failed + warned == 0 { "no changes, ".to_owned() } else { String::new() };
        output::note(format!(
            "pulled {} into `{}` in {:.1?}: {verdict}{}",
            output::plural(pulled as u64, "DataSet", "DataSets"),
            args.root.display(),
            elapsed,
            if counts.is_empty() { "none selected".to_owned() } else { counts.join(", ") },
        ));
        if failed > 0 {
            anyhow::bail!(
                "{} of {} failed (the others were pulled; run again to retry)",
                output::plural(failed as u64, "DataSet", "DataSets"),
                pulled
            );
        }
        Ok(if skipped > 0 { Outcome::Findings } else { Outcome::Ok })
    }
}

fn warn(id: &DatasetId, name: &str, warning: Option<&str>) {
    if let Some(warning) = warning {
        output::note(format!("warning: DataSet {id} `{name}`: {warning}"));
    }
}

/// Outcomes in a stable order: by DataSet name, then id.
fn sort_key(outcome: &Pulled) -> (&str, &str) {
    match outcome {
        Pulled::Added { id, name, .. }
        | Pulled::Updated { id, name, .. }
        | Pulled::Deleted { id, name, .. }
        | Pulled::Skipped { id, name, .. }
        | Pulled::Failed { id, name, .. } => (name.as_str(), id.as_str()),
        Pulled::Unchanged { warning: Some((id, name, _)) } => (name.as_str(), id.as_str()),
        Pulled::Unchanged { warning: None } | Pulled::LeftOut | Pulled::NotSelected => ("", ""),
    }
}
