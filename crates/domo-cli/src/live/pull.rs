//! `domo pull ID DIR`: a live DataSet written as the folder every `domo pdp` command reads; `domo pull --all DIR`:
//! every DataSet as the instance tree.

mod all;
mod changes;
mod local;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use domo_model::{Dataset, DatasetId, ExportOptions, Header};

use super::config::ConnectionArgs;
use super::output;
use crate::exit::Outcome;

/// The files a pull writes, in the order they are written.
const FILES: [&str; 4] = ["dataset.json", "policies.json", "directory.json", "data.csv"];

/// Options of `domo pull`.
#[derive(Debug, Args)]
pub(crate) struct PullArgs {
    /// The DataSet id.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    id: Option<String>,
    /// The folder to write (created if missing).
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    dir: Option<PathBuf>,
    /// Pull every DataSet the filters select into the instance tree DIR (created if missing): DIR/directory.json
    /// and DIR/datasets/ID/ for each DataSet; run again, it updates the tree in place and says what changed.
    #[arg(long, value_name = "DIR")]
    all: Option<PathBuf>,
    /// With --all: only DataSets whose name contains TEXT, ignoring case (Domo's `nameLike`).
    #[arg(long, value_name = "TEXT")]
    name_like: Option<String>,
    /// With --all: only DataSets with PDP on or with policies of their own (besides All Rows).
    #[arg(long)]
    pdp_only: bool,
    /// With --all: only DataSets owned by this user id.
    #[arg(long, value_name = "USER_ID")]
    owner: Option<u64>,
    /// With --all: at most N DataSets, the first N that the listing gives and --name-like and --owner select.
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
    /// With --all: write data.csv with the first N rows of each DataSet (with a header row); the download stops
    /// there. Without it no data.csv is written.
    #[arg(long, value_name = "N")]
    sample: Option<u64>,
    /// With --all: how many DataSets are pulled at once, each sending one request at a time [default: 8].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    jobs: Option<u16>,
    /// With --all: remove the folders of DataSets that were deleted live (without it they are kept and reported).
    #[arg(long)]
    prune: bool,
    /// Overwrite local edits: the files of an earlier pull (one DataSet), or a policies.json edited since the last
    /// pull (--all; without --force such a DataSet is reported and skipped).
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    connection: ConnectionArgs,
}

pub(crate) fn run(args: &PullArgs) -> anyhow::Result<Outcome> {
    let (id, dir) = match (&args.all, &args.id, &args.dir) {
        (Some(root), _, _) => return all::run(&all::PullAll::of(args, root)),
        (None, Some(id), Some(dir)) => (id, dir),
        _ => bail!("give a DataSet id and a folder, or --all DIR"),
    };
    if let Some(flag) = args.all_only_flag() {
        bail!("{flag} is an option of `domo pull --all DIR`: a one-DataSet pull writes the whole DataSet");
    }
    let existing: Vec<&str> = FILES.iter().copied().filter(|f| dir.join(f).exists()).collect();
    if !existing.is_empty() && !args.force {
        bail!(
            "`{}` already holds {}: pass --force to overwrite (local edits to policies.json would be lost)",
            dir.display(),
            existing.join(", ")
        );
    }
    let connection = args.connection.connect()?;
    // Nothing is left behind by a pull that fails: the files are written to a
    // staging folder inside DIR and moved into place only once all four are
    // whole, and folders this run created are removed again.
    let created = first_missing(dir);
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let pulled = pull(id, dir, &connection);
    if pulled.is_err()
        && let Some(created) = created
    {
        let _ = std::fs::remove_dir_all(created);
    }
    pulled
}

impl PullArgs {
    /// The first option given that only `--all` takes.
    fn all_only_flag(&self) -> Option<&'static str> {
        [
            ("--name-like", self.name_like.is_some()),
            ("--pdp-only", self.pdp_only),
            ("--owner", self.owner.is_some()),
            ("--limit", self.limit.is_some()),
            ("--sample", self.sample.is_some()),
            ("--jobs", self.jobs.is_some()),
            ("--prune", self.prune),
        ]
        .into_iter()
        .find_map(|(flag, given)| given.then_some(flag))
    }
}

/// The outermost folder of `dir` (itself included) that does not exist yet.
pub(crate) fn first_missing(dir: &Path) -> Option<PathBuf> {
    let mut missing = None;
    for ancestor in dir.ancestors() {
        if ancestor.as_os_str().is_empty() || ancestor.exists() {
            break;
        }
        missing = Some(ancestor.to_path_buf());
    }
    missing
}

fn pull(id: &str, dir: &Path, connection: &super::config::Connection) -> anyhow::Result<Outcome> {
    let staging = tempfile::Builder::new()
        .prefix(".domo-pull-")
        .tempdir_in(dir)
        .with_context(|| format!("cannot write in `{}`", dir.display()))?;
    let stage = staging.path();
    let client = &connection.client;
    let id = DatasetId::from(id.to_owned());
    let started = Instant::now();
    let (dataset, policies, users, groups, bytes) = super::block_on(async {
        let dataset = client.get_dataset(&id).await?;
        let policies = match &dataset.policies {
            Some(policies) => policies.clone(),
            None => client.list_policies(&id).await?,
        };
        let directory = client.directory().await?;
        let (users, groups) = (directory.users.len(), directory.groups.len());
        let listed = Dataset { policies: None, ..dataset.clone() };
        crate::output::json_file(&stage.join("dataset.json"), &listed)?;
        crate::output::json_file(&stage.join("policies.json"), &policies)?;
        crate::output::json_file(&stage.join("directory.json"), &directory)?;
        let path = stage.join("data.csv");
        let bar = output::progress_bar("exporting data.csv", None);
        let options = ExportOptions { header: Header::Include, file_name: None };
        let exported = client.export_data_to_file(&id, &options, &path, bar.as_ref().map(|(_, p)| p)).await;
        if let Some((bar, _)) = bar {
            bar.finish_and_clear();
        }
        Ok((dataset, policies, users, groups, exported?))
    })?;
    let rows = count_rows(&stage.join("data.csv"))?;
    for file in FILES {
        let to = dir.join(file);
        std::fs::rename(stage.join(file), &to).with_context(|| format!("cannot write `{}`", to.display()))?;
    }
    output::note(format!(
        "pulled DataSet {} `{}` into `{}` in {:.1?}: {} ({}), {}, {}, {}",
        dataset.id,
        dataset.name,
        dir.display(),
        started.elapsed(),
        output::plural(rows, "row", "rows"),
        output::size(bytes),
        output::count(policies.len(), "policy", "policies"),
        output::count(users, "user", "users"),
        output::count(groups, "group", "groups"),
    ));
    if rows < dataset.rows {
        output::note(format!(
            "warning: the DataSet has {} but the export gave {rows}: PDP hides rows from the user these \
             credentials act as, so previews of this folder miss rows; pull as the owner or an Admin",
            output::plural(dataset.rows, "row", "rows")
        ));
    }
    Ok(Outcome::Ok)
}

/// Data rows of a CSV file with a header row.
fn count_rows(path: &Path) -> anyhow::Result<u64> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(file);
    let mut record = csv::ByteRecord::new();
    let mut rows = 0u64;
    while reader.read_byte_record(&mut record).with_context(|| format!("cannot read `{}`", path.display()))? {
        rows += 1;
    }
    Ok(rows)
}
