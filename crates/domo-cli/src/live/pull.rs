//! `domo pull ID DIR`: a live DataSet written as the folder every `domo pdp` command reads.

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
    id: String,
    /// The folder to write (created if missing).
    dir: PathBuf,
    /// Overwrite the files of an earlier pull (local edits to policies.json are lost).
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    connection: ConnectionArgs,
}

pub(crate) fn run(args: &PullArgs) -> anyhow::Result<Outcome> {
    let existing: Vec<&str> = FILES.iter().copied().filter(|f| args.dir.join(f).exists()).collect();
    if !existing.is_empty() && !args.force {
        bail!(
            "`{}` already holds {}: pass --force to overwrite (local edits to policies.json would be lost)",
            args.dir.display(),
            existing.join(", ")
        );
    }
    let connection = args.connection.connect()?;
    // Nothing is left behind by a pull that fails: the files are written to a
    // staging folder inside DIR and moved into place only once all four are
    // whole, and folders this run created are removed again.
    let created = first_missing(&args.dir);
    std::fs::create_dir_all(&args.dir).with_context(|| format!("cannot create `{}`", args.dir.display()))?;
    let pulled = pull(args, &connection);
    if pulled.is_err()
        && let Some(created) = created
    {
        let _ = std::fs::remove_dir_all(created);
    }
    pulled
}

/// The outermost folder of `dir` (itself included) that does not exist yet.
fn first_missing(dir: &Path) -> Option<PathBuf> {
    let mut missing = None;
    for ancestor in dir.ancestors() {
        if ancestor.as_os_str().is_empty() || ancestor.exists() {
            break;
        }
        missing = Some(ancestor.to_path_buf());
    }
    missing
}

fn pull(args: &PullArgs, connection: &super::config::Connection) -> anyhow::Result<Outcome> {
    let staging = tempfile::Builder::new()
        .prefix(".domo-pull-")
        .tempdir_in(&args.dir)
        .with_context(|| format!("cannot write in `{}`", args.dir.display()))?;
    let stage = staging.path();
    let client = &connection.client;
    let id = DatasetId::from(args.id.clone());
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
        let to = args.dir.join(file);
        std::fs::rename(stage.join(file), &to).with_context(|| format!("cannot write `{}`", to.display()))?;
    }
    output::note(format!(
        "pulled DataSet {} `{}` into `{}` in {:.1?}: {} ({}), {}, {}, {}",
        dataset.id,
        dataset.name,
        args.dir.display(),
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
