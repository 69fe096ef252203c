//! `domo pdp generate`: the policies.json of every DataSet an entitlements table names, written all or nothing.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use domo_model::{Dataset, Directory, Policy, PolicyType};
use domo_pdp::{GeneratePoliciesError, Generated, Targets};

use crate::exit::Outcome;
use crate::folder::{LimitArgs, Limits, check_directory, open_with_progress, read_json};
use crate::output;

/// Options of `domo pdp generate`.
#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    /// The entitlements table: CSV with a header row, in the PDP Automation layout.
    #[arg(value_name = "ENTITLEMENTS.csv")]
    entitlements: PathBuf,
    /// The instance tree's root (the folder holding `datasets/` and `directory.json`).
    #[arg(value_name = "ROOT", required_unless_present = "dataset", conflicts_with = "dataset")]
    root: Option<PathBuf>,
    /// One DataSet folder instead of a tree: writes its policies.json from the rows for it.
    #[arg(long, value_name = "DIR")]
    dataset: Option<PathBuf>,
    /// The users and groups [default: ROOT/directory.json; with --dataset, DIR/directory.json,
    /// else that of the tree DIR is in].
    #[arg(long, value_name = "FILE")]
    directory: Option<PathBuf>,
    /// Write nothing: exit 1 if any policies.json would change (for CI).
    #[arg(long)]
    check: bool,
    #[command(flatten)]
    limits: LimitArgs,
}

/// At most this many changed files are listed (`git status` lists them all).
const FILES_LISTED: usize = 50;

/// A DataSet the table may name, and the folder its policies.json goes to.
struct Target {
    dataset: Dataset,
    folder: PathBuf,
}

pub(crate) fn run(args: &GenerateArgs) -> anyhow::Result<Outcome> {
    let limits = Limits::new(&args.limits);
    let (targets, directory_path) = match (&args.root, &args.dataset) {
        (_, Some(dir)) => (vec![read_target(dir, &limits)?], one_directory(dir)),
        (Some(root), None) => (read_tree(root, &limits)?, root.join("directory.json")),
        (None, None) => anyhow::bail!("name the tree's ROOT, or one DataSet folder with --dataset DIR"),
    };
    let directory_path = args.directory.clone().unwrap_or(directory_path);
    let directory: Directory = read_json(&directory_path, limits.json_bytes)?;
    check_directory(&directory_path, &directory)?;
    let datasets: Vec<Dataset> = targets.iter().map(|t| t.dataset.clone()).collect();
    let scope = match (&args.dataset, datasets.first()) {
        (Some(_), Some(one)) => Targets::One(one),
        _ => Targets::Many(&datasets),
    };
    let reader = open_with_progress(&args.entitlements)?;
    let generated = match domo_pdp::generate_policies(reader, scope, &directory, limits.csv) {
        Ok(generated) => generated,
        Err(GeneratePoliciesError::Read(error)) => {
            return Err(anyhow::Error::new(error).context(format!("cannot read `{}`", args.entitlements.display())));
        }
        Err(error) => {
            anyhow::bail!("`{}` gives no policies, nothing was written: {error}", args.entitlements.display())
        }
    };
    let files = files(&generated, &targets)?;
    let changed: Vec<&File> = files.iter().filter(|f| f.changed).collect();
    let mut report = format!(
        "{}, {}, {} from {}",
        output::count(generated.datasets.len(), "DataSet", "DataSets"),
        output::count(generated.policies(), "policy", "policies"),
        output::count(generated.filters(), "filter", "filters"),
        output::plural(generated.rows, "row", "rows"),
    );
    if generated.skipped > 0 {
        report.push_str(&format!(" ({} for other DataSets skipped)", output::plural(generated.skipped, "row", "rows")));
    }
    report.push('\n');
    let verb = if args.check { "would change" } else { "changed" };
    for file in changed.iter().take(FILES_LISTED) {
        report.push_str(&format!(
            "{verb}: {} ({})\n",
            file.path.display(),
            output::count(file.policies, "policy", "policies")
        ));
    }
    if changed.len() > FILES_LISTED {
        report.push_str(&format!("… and {} more\n", changed.len() - FILES_LISTED));
    }
    for file in &files {
        for kept in &file.built_in_left_out {
            output::note(format!(
                "warning: `{}`: the built-in policy `{kept}` is not in the table, so it leaves policies.json; a plan \
                 never deletes Domo's built-in policies, so its members keep seeing every row (give them rows with \
                 policy_name `{kept}` and policy_column `All Rows`, or take them out of it in Domo)",
                file.path.display()
            ));
        }
    }
    if !args.check {
        write_all(&changed)?;
    }
    let unchanged = files.len() - changed.len();
    if args.check {
        report.push_str(&format!(
            "{} would change, {} up to date{}",
            output::count(changed.len(), "file", "files"),
            unchanged,
            if changed.is_empty() { "" } else { " (run without --check to write them)" }
        ));
    } else {
        report.push_str(&format!("{} written, {unchanged} unchanged", output::count(changed.len(), "file", "files")));
    }
    output::text(&report)?;
    Ok(if args.check && !changed.is_empty() { Outcome::Findings } else { Outcome::Ok })
}

/// The directory of a DataSet folder: its own directory.json, else that of the tree it is in.
fn one_directory(dir: &Path) -> PathBuf {
    let own = dir.join("directory.json");
    if own.exists() {
        return own;
    }
    match dir.parent() {
        Some(datasets) if datasets.file_name().is_some_and(|n| n == "datasets") => {
            datasets.parent().map_or(own, |root| root.join("directory.json"))
        }
        _ => own,
    }
}

/// Every DataSet of a tree: `ROOT/datasets/<id>/dataset.json`, each in the folder named by its id.
fn read_tree(root: &Path, limits: &Limits) -> anyhow::Result<Vec<Target>> {
    let datasets = root.join("datasets");
    let entries = std::fs::read_dir(&datasets).with_context(|| {
        format!(
            "`{}` is not an instance tree: it has no `datasets` folder (for one DataSet folder, pass --dataset DIR)",
            root.display()
        )
    })?;
    let mut folders = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read `{}`", datasets.display()))?;
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden && path.is_dir() && path.join("dataset.json").exists() {
            folders.push(path);
        }
    }
    folders.sort();
    folders.iter().map(|folder| read_target(folder, limits)).collect()
}

/// One DataSet folder's dataset.json, whose id must be the folder's name when the folder is in a tree.
fn read_target(folder: &Path, limits: &Limits) -> anyhow::Result<Target> {
    let path = folder.join("dataset.json");
    let dataset: Dataset = read_json(&path, limits.json_bytes)?;
    let in_tree = folder.parent().and_then(Path::file_name).is_some_and(|n| n == "datasets");
    let name = folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if in_tree && name != dataset.id.as_str() {
        anyhow::bail!(
            "`{}` is DataSet `{}`, but its folder is named `{name}` (a DataSet's folder is named by its id)",
            path.display(),
            dataset.id
        );
    }
    Ok(Target { dataset, folder: folder.to_path_buf() })
}

/// A policies.json to write: its path, its new text, and whether that differs from the file on disk.
struct File {
    path: PathBuf,
    text: Vec<u8>,
    policies: usize,
    changed: bool,
    /// Built-in policies (All Rows) with members in the file on disk that the table leaves out.
    built_in_left_out: Vec<String>,
}

/// The policies.json of every generated DataSet, as pretty JSON with a trailing newline (as `domo pull` writes it).
fn files(generated: &Generated, targets: &[Target]) -> anyhow::Result<Vec<File>> {
    let mut files = Vec::with_capacity(generated.datasets.len());
    for dataset in &generated.datasets {
        let Some(target) = targets.iter().find(|t| t.dataset.id == dataset.id) else { continue };
        let path = target.folder.join("policies.json");
        let text = policies_json(&dataset.policies)?;
        let old = std::fs::read(&path).ok();
        let changed = old.as_deref() != Some(text.as_slice());
        let built_in_left_out = old
            .and_then(|old| serde_json::from_slice::<Vec<Policy>>(&old).ok())
            .unwrap_or_default()
            .into_iter()
            .filter(|p| {
                p.policy_type != PolicyType::User
                    && !(p.users.is_empty() && p.groups.is_empty() && p.virtual_users.is_empty())
                    && !dataset.policies.iter().any(|g| g.name == p.name)
            })
            .map(|p| p.name)
            .collect();
        files.push(File { path, text, policies: dataset.policies.len(), changed, built_in_left_out });
    }
    Ok(files)
}

fn policies_json(policies: &[Policy]) -> anyhow::Result<Vec<u8>> {
    let mut text = serde_json::to_vec_pretty(policies)?;
    text.push(b'\n');
    Ok(text)
}

/// Writes every file to a temporary file beside it and syncs it; only when all
/// are written are they renamed into place. A failure before the renames leaves
/// every file as it was.
fn write_all(files: &[&File]) -> anyhow::Result<()> {
    let mut staged = Vec::with_capacity(files.len());
    for file in files {
        let dir = file.path.parent().unwrap_or(Path::new("."));
        let mut temp = tempfile::Builder::new()
            .prefix(".policies.json.")
            .tempfile_in(dir)
            .with_context(|| format!("cannot write in `{}`", dir.display()))?;
        temp.write_all(&file.text).with_context(|| format!("cannot write `{}`", file.path.display()))?;
        temp.as_file().sync_all().with_context(|| format!("cannot write `{}`", file.path.display()))?;
        staged.push((temp, &file.path));
    }
    for (written, (temp, path)) in staged.into_iter().enumerate() {
        temp.persist(path).with_context(|| {
            format!("cannot write `{}` ({written} of {} files were written before it)", path.display(), files.len())
        })?;
    }
    Ok(())
}

/// `domo pdp generate --help`'s closing text.
pub(crate) const HELP: &str = "\
The table has one row per filter, with a header row naming its columns (any case):
  target_ds      the DataSet's id (optional with --dataset: rows for other DataSets are skipped)
  policy_name    the policy; rows of one name on one DataSet make one policy
  policy_column  the column filtered, or `All Rows` to add members to the All Rows policy
  user_group     users by id, email or name, groups by id or name, `|`-separated
                 (`user:NAME` or `group:NAME` when a name could be either)
  operator       optional: EQUALS (the default), LIKE, GREATER_THAN, LESS_THAN,
                 GREATER_THAN_EQUAL, LESS_THAN_EQUAL, BETWEEN, BEGINS_WITH, ENDS_WITH,
                 CONTAINS, each optionally after `NOT ` (`NOT EQUALS`)
  not            optional: `true` negates the filter
  value          `a|b|c` (any of them), one value, or BETWEEN's `low & high`
Filters on different columns are ANDed; rows of one filter add values; members are unioned.
Every problem is reported with its line, and nothing is written unless all is well.
Details: docs/generate.md

Examples:
  domo pdp generate entitlements.csv instance/
  domo pdp generate entitlements.csv instance/ --check
  domo pdp generate entitlements.csv --dataset examples/euler-party";
