//! Reading a PDP folder: the DataSet, policies and directory files, and the CSV with a progress bar.

use std::fs::File;
use std::io::{self, IsTerminal, Read};
use std::path::{Path, PathBuf};

use anyhow::Context;
use domo_model::{Dataset, Directory, Policy, read_user_file};
use serde::de::DeserializeOwned;

use super::InputArgs;

/// CSV files at least this large show a progress bar while they load (on a terminal).
const PROGRESS_THRESHOLD: u64 = 16 * 1024 * 1024;

/// The paths of the four input files.
#[derive(Debug, Clone)]
pub(crate) struct Paths {
    pub(crate) dataset: PathBuf,
    pub(crate) data: PathBuf,
    pub(crate) policies: PathBuf,
    pub(crate) directory: PathBuf,
}

impl Paths {
    pub(crate) fn new(args: &InputArgs) -> Self {
        let pick = |given: &Option<PathBuf>, name: &str| given.clone().unwrap_or_else(|| args.dir.join(name));
        Self {
            dataset: pick(&args.dataset, "dataset.json"),
            data: pick(&args.data, "data.csv"),
            policies: pick(&args.policies, "policies.json"),
            directory: pick(&args.directory, "directory.json"),
        }
    }
}

/// The JSON inputs of a folder, read and checked for shape (not yet compiled).
#[derive(Debug)]
pub(crate) struct Inputs {
    pub(crate) paths: Paths,
    pub(crate) dataset: Dataset,
    pub(crate) policies: Vec<Policy>,
    pub(crate) directory: Directory,
    pub(crate) header: domo_pdp::HeaderRow,
}

impl Inputs {
    /// Reads dataset.json, policies.json and directory.json (the CSV is read separately).
    pub(crate) fn read(args: &InputArgs) -> anyhow::Result<Self> {
        let paths = Paths::new(args);
        let dataset: Dataset = read_json(&paths.dataset)?;
        let policies = read_policies(&paths.policies)?;
        let directory: Directory = read_json(&paths.directory)?;
        let header = if args.no_header { domo_pdp::HeaderRow::Absent } else { domo_pdp::HeaderRow::Present };
        Ok(Self { paths, dataset, policies, directory, header })
    }

    /// Loads the CSV into the engine's typed table, with a progress bar for large files.
    pub(crate) fn load_table(&self) -> anyhow::Result<domo_pdp::Table> {
        let path = &self.paths.data;
        let reader = open_with_progress(path)?;
        domo_pdp::Table::from_csv(reader, &self.dataset.schema, self.header)
            .with_context(|| format!("cannot load `{}`", path.display()))
    }
}

/// Reads a policies file: a bare array of policies, as Domo lists them.
pub(crate) fn read_policies(path: &Path) -> anyhow::Result<Vec<Policy>> {
    read_json(path)
}

/// Reads a JSON file a person writes, strictly (unknown fields are errors).
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    Ok(read_user_file(&path.display().to_string(), &text)?)
}

/// Opens a file for reading; files over [`PROGRESS_THRESHOLD`] show a progress
/// bar on stderr while read, when stderr is a terminal.
pub(crate) fn open_with_progress(path: &Path) -> anyhow::Result<Box<dyn Read>> {
    let file = File::open(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len < PROGRESS_THRESHOLD || !io::stderr().is_terminal() {
        return Ok(Box::new(io::BufReader::with_capacity(1 << 16, file)));
    }
    let bar = indicatif::ProgressBar::with_draw_target(Some(len), indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    bar.set_message(format!("loading {name}"));
    Ok(Box::new(ProgressReader { inner: io::BufReader::with_capacity(1 << 16, file), bar }))
}

/// A reader that advances a progress bar by the bytes it reads and clears it at the end.
struct ProgressReader<R> {
    inner: R,
    bar: indicatif::ProgressBar,
}

impl<R: Read> Read for ProgressReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            self.bar.finish_and_clear();
        } else {
            self.bar.inc(n as u64);
        }
        Ok(n)
    }
}

impl<R> Drop for ProgressReader<R> {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
