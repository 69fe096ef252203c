//! Reading a PDP folder (`domo pdp …`, `domo pdp plan|apply`, `domo serve`): the DataSet, policies and directory
//! files, and the CSV with a progress bar.

use std::fs::File;
use std::io::{self, IsTerminal, Read};
use std::path::{Path, PathBuf};

use anyhow::Context;
use domo_model::{Dataset, Directory, Policy, read_user_file};
use serde::de::DeserializeOwned;

use clap::Args;

/// Where the four input files are, and how to read the CSV.
#[derive(Debug, Clone, Args)]
pub(crate) struct InputArgs {
    /// The folder holding dataset.json, data.csv, policies.json and directory.json.
    #[arg(value_name = "DIR")]
    pub(crate) dir: PathBuf,
    /// The DataSet file [default: DIR/dataset.json].
    #[arg(long, value_name = "FILE")]
    pub(crate) dataset: Option<PathBuf>,
    /// The rows [default: DIR/data.csv].
    #[arg(long, value_name = "FILE")]
    pub(crate) data: Option<PathBuf>,
    /// The policies [default: DIR/policies.json].
    #[arg(long, value_name = "FILE")]
    pub(crate) policies: Option<PathBuf>,
    /// The users and groups [default: DIR/directory.json].
    #[arg(long, value_name = "FILE")]
    pub(crate) directory: Option<PathBuf>,
    /// The CSV has no header row (Domo's export form); columns are in schema order.
    #[arg(long)]
    pub(crate) no_header: bool,
}

/// How much one input file may make a command read or hold.
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct LimitArgs {
    /// Longest CSV row accepted: bytes, or a number with `K`, `M` or `G` (binary).
    /// A longer row stops the command (a missing line break, or a file that is not CSV).
    #[arg(long, help_heading = "Limits", value_name = "SIZE", env = "DOMO_MAX_RECORD_SIZE", default_value = "16M", value_parser = crate::units::parse_size)]
    pub(crate) max_record_size: u64,
    /// Largest JSON file read (DataSet, policies, directory, tests): bytes, or a
    /// number with `K`, `M` or `G` (binary).
    #[arg(long, help_heading = "Limits", value_name = "SIZE", env = "DOMO_MAX_JSON_SIZE", default_value = "256M", value_parser = crate::units::parse_size)]
    pub(crate) max_json_size: u64,
}

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

/// The default largest JSON file read (`--max-json-size`), for callers without the flag.
pub(crate) const MAX_JSON_BYTES: u64 = 256 << 20;

/// How much one input may make the command read or hold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// The largest JSON file read, in bytes.
    pub(crate) json_bytes: u64,
    /// The longest CSV record accepted.
    pub(crate) csv: domo_pdp::CsvLimits,
}

impl Limits {
    pub(crate) fn new(args: &LimitArgs) -> Self {
        let record = usize::try_from(args.max_record_size).unwrap_or(usize::MAX);
        Self { json_bytes: args.max_json_size, csv: domo_pdp::CsvLimits::with_max_record_bytes(record) }
    }
}

impl Default for Limits {
    /// The flags' defaults, for commands without them (`domo pdp plan`).
    fn default() -> Self {
        Self { json_bytes: MAX_JSON_BYTES, csv: domo_pdp::CsvLimits::default() }
    }
}

/// What to do with a directory that lists a user twice, or a group with unknown members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DirectoryProblems {
    /// Refuse to go on: the directory cannot say who sees what.
    Refuse,
    /// Go on: the caller reports them (lint).
    Keep,
}

/// The JSON inputs of a folder, read and checked for shape (not yet compiled).
#[derive(Debug)]
pub(crate) struct Inputs {
    pub(crate) paths: Paths,
    pub(crate) dataset: Dataset,
    pub(crate) policies: Vec<Policy>,
    /// Shared (an instance tree's DataSets all read its one directory).
    pub(crate) directory: std::sync::Arc<Directory>,
    pub(crate) header: domo_pdp::HeaderRow,
    pub(crate) limits: Limits,
}

impl Inputs {
    /// Reads dataset.json, policies.json and directory.json (the CSV is read
    /// separately); a directory with problems is an error listing them.
    pub(crate) fn read(args: &InputArgs) -> anyhow::Result<Self> {
        Self::read_with(args, Limits::default(), DirectoryProblems::Refuse)
    }

    /// [`Inputs::read`] within the limits of the command's flags.
    pub(crate) fn read_limited(args: &InputArgs, limits: &LimitArgs) -> anyhow::Result<Self> {
        Self::read_with(args, Limits::new(limits), DirectoryProblems::Refuse)
    }

    /// [`Inputs::read`] within `limits`, keeping or refusing a directory with problems.
    pub(crate) fn read_with(args: &InputArgs, limits: Limits, problems: DirectoryProblems) -> anyhow::Result<Self> {
        let paths = Paths::new(args);
        let dataset = read_dataset(&paths.dataset, limits.json_bytes)?;
        let policies = read_policies(&paths.policies, limits.json_bytes)?;
        let directory: Directory = read_json(&paths.directory, limits.json_bytes)?;
        if problems == DirectoryProblems::Refuse {
            check_directory(&paths.directory, &directory)?;
        }
        let header = if args.no_header { domo_pdp::HeaderRow::Absent } else { domo_pdp::HeaderRow::Present };
        Ok(Self { paths, dataset, policies, directory: std::sync::Arc::new(directory), header, limits })
    }
}

/// Adds the file's name to an error of reading its CSV, and the flag that
/// raises the limit when a record is too long.
pub(crate) fn load_error(path: &Path, error: domo_pdp::StreamCsvError) -> anyhow::Error {
    let hint = match &error {
        domo_pdp::StreamCsvError::Load(domo_pdp::LoadCsvError::RecordTooLarge { .. }) => {
            " (--max-record-size or DOMO_MAX_RECORD_SIZE raises the limit)"
        }
        _ => "",
    };
    match error {
        domo_pdp::StreamCsvError::Load(load) => {
            anyhow::Error::new(load).context(format!("cannot load `{}`{hint}", path.display()))
        }
        other => anyhow::Error::new(other),
    }
}

/// At most this many directory problems are listed in an error.
const PROBLEMS_SHOWN: usize = 20;

/// Fails, listing every problem (up to [`PROBLEMS_SHOWN`]), unless the directory is sound.
pub(crate) fn check_directory(path: &Path, directory: &Directory) -> anyhow::Result<()> {
    let problems = directory.problems();
    if problems.is_empty() {
        return Ok(());
    }
    let mut message = match problems.len() {
        1 => format!("`{}` is not a usable directory:", path.display()),
        n => format!("`{}` is not a usable directory ({n} problems):", path.display()),
    };
    for problem in problems.iter().take(PROBLEMS_SHOWN) {
        message.push_str("\n  ");
        message.push_str(&problem.to_string());
    }
    if problems.len() > PROBLEMS_SHOWN {
        message.push_str(&format!("\n  … and {} more", problems.len() - PROBLEMS_SHOWN));
    }
    message.push_str("\n  (a user or group listed twice could be read as either copy; fix the file, `domo pdp lint` lists every problem)");
    Err(anyhow::anyhow!(message))
}

/// Reads a directory file a person gives (at most `max_bytes`) and checks it: the
/// same rules as the `domo pdp` commands, for `domo serve --directory`.
pub(crate) fn read_directory(path: &Path, max_bytes: u64) -> anyhow::Result<Directory> {
    let directory: Directory = read_json(path, max_bytes)?;
    check_directory(path, &directory)?;
    Ok(directory)
}

/// Reads a dataset.json, which must say `pdpEnabled`.
pub(crate) fn read_dataset(path: &Path, max_bytes: u64) -> anyhow::Result<Dataset> {
    read_json_explicit(path, max_bytes, Explicit::PdpSwitch)
}

/// Reads a file of one policy (a shared policy), which must say `filters`.
pub(crate) fn read_policy(path: &Path, max_bytes: u64) -> anyhow::Result<Policy> {
    read_json_explicit(path, max_bytes, Explicit::Filter)
}

/// Reads a policies file: a bare array of policies, as Domo lists them.
pub(crate) fn read_policies(path: &Path, max_bytes: u64) -> anyhow::Result<Vec<Policy>> {
    read_json_explicit(path, max_bytes, Explicit::Filters)
}

/// Reads a JSON file a person writes, strictly (unknown fields are errors),
/// refusing one larger than `max_bytes` before reading past the limit.
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path, max_bytes: u64) -> anyhow::Result<T> {
    let text = read_capped(path, max_bytes)?;
    Ok(read_user_file(&path.display().to_string(), &text)?)
}

/// Fields that the wire types let default, but that a file a person writes
/// must spell out, because the default would show more rows than meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Explicit {
    /// dataset.json: `pdpEnabled` (left out, it reads as PDP off: everyone sees every row).
    PdpSwitch,
    /// policies.json: each policy's `filters`, but the All Rows policy's (left out, they
    /// read as none: the policy's members see every row).
    Filters,
    /// A file of one policy (a shared policy): its `filters`.
    Filter,
}

/// Whether dataset.json says `pdpEnabled`, reading nothing else.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct DatasetProbe {
    pdp_enabled: Option<serde::de::IgnoredAny>,
}

/// Whether a policy says `filters`, and its type, reading nothing else.
#[derive(Debug, serde::Deserialize)]
struct PolicyProbe {
    filters: Option<serde::de::IgnoredAny>,
    #[serde(rename = "type")]
    policy_type: Option<String>,
}

/// At most this many policies without `filters` are named in the error.
const MISSING_SHOWN: usize = 10;

/// [`read_json`], then checks that the fields of `explicit` are present.
fn read_json_explicit<T: DeserializeOwned>(path: &Path, max_bytes: u64, explicit: Explicit) -> anyhow::Result<T> {
    let text = read_capped(path, max_bytes)?;
    let value: T = read_user_file(&path.display().to_string(), &text)?;
    // The typed read succeeded, so the text is JSON of the expected shape; the
    // probes read only whether the fields are there, skipping everything else.
    match explicit {
        Explicit::PdpSwitch => {
            let probe: DatasetProbe = serde_json::from_str(&text)?;
            if probe.pdp_enabled.is_none() {
                anyhow::bail!(
                    "`{}` at `.`: missing field `pdpEnabled` (write `true` or `false`: left out, it would mean PDP off and every user shown every row)",
                    path.display()
                );
            }
        }
        Explicit::Filter => {
            let probe: PolicyProbe = serde_json::from_str(&text)?;
            if probe.filters.is_none() {
                anyhow::bail!(
                    "`{}` at `.`: missing field `filters` (a policy without filters shows its members every row; write `\"filters\": []` if that is meant)",
                    path.display()
                );
            }
        }
        Explicit::Filters => {
            let probes: Vec<PolicyProbe> = serde_json::from_str(&text)?;
            let missing: Vec<usize> = probes
                .iter()
                .enumerate()
                .filter(|(_, policy)| policy.filters.is_none() && policy.policy_type.as_deref() != Some("open"))
                .map(|(index, _)| index)
                .collect();
            if !missing.is_empty() {
                let mut at: Vec<String> = missing.iter().take(MISSING_SHOWN).map(|i| format!("`[{i}]`")).collect();
                if missing.len() > MISSING_SHOWN {
                    at.push(format!("… and {} more", missing.len() - MISSING_SHOWN));
                }
                anyhow::bail!(
                    "`{}` at {}: missing field `filters` (a policy without filters shows its members every row; write `\"filters\": []` if that is meant)",
                    path.display(),
                    at.join(", ")
                );
            }
        }
    }
    Ok(value)
}

/// How much of a JSON file is read first, to refuse one that cannot be JSON without reading on.
const HEAD_BYTES: u64 = 64 * 1024;

/// The file's text, or an error naming the file and the limit if it holds more than `max_bytes`.
fn read_capped(path: &Path, max_bytes: u64) -> anyhow::Result<String> {
    let too_large = || {
        anyhow::anyhow!(
            "`{}` is larger than {}, the most a JSON input may be (--max-json-size or DOMO_MAX_JSON_SIZE raises the limit)",
            path.display(),
            size_text(max_bytes)
        )
    };
    let file = File::open(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    // A regular file's size is known up front; a device or pipe (`/dev/zero`) is read up to the limit.
    if file.metadata().is_ok_and(|m| m.is_file() && m.len() > max_bytes) {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    let read_error = || format!("cannot read `{}`", path.display());
    let head = max_bytes.saturating_add(1).min(HEAD_BYTES);
    (&file).take(head).read_to_end(&mut bytes).with_context(read_error)?;
    // Text that cannot start a JSON value (`/dev/zero`, a binary file) fails now, not after the limit.
    if let Some(at) = bytes.iter().position(|b| !b.is_ascii_whitespace())
        && !matches!(bytes.get(at), Some(b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n'))
    {
        let shown = String::from_utf8_lossy(bytes.get(..=at).unwrap_or_default()).into_owned();
        read_user_file::<serde::de::IgnoredAny>(&path.display().to_string(), &shown)?;
    }
    (&file).take(max_bytes.saturating_add(1).saturating_sub(head)).read_to_end(&mut bytes).with_context(read_error)?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "`{}` is not UTF-8 text (an invalid byte at offset {}, counting from 0)",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

/// A byte count for people: `256 MiB`, `1 KiB`, `100 bytes`.
fn size_text(bytes: u64) -> String {
    const KIB: u64 = 1 << 10;
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    match bytes {
        b if b >= GIB && b % GIB == 0 => format!("{} GiB", b / GIB),
        b if b >= MIB && b % MIB == 0 => format!("{} MiB", b / MIB),
        b if b >= KIB && b % KIB == 0 => format!("{} KiB", b / KIB),
        1 => "1 byte".to_owned(),
        b => format!("{b} bytes"),
    }
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
