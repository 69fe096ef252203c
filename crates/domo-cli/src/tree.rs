//! An instance tree (docs/tree.md): many DataSet folders under one root, one
//! shared directory, and shared policies that DataSets use with a column mapping.
//!
//! ```text
//! ROOT/directory.json
//! ROOT/datasets/<id>/{dataset.json, policies.json, uses.json?, data.csv?}
//! ROOT/shared/<name>.json
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use domo_model::{Directory, Policy, PolicyUse};

use crate::folder::{DirectoryProblems, Inputs, Limits, Paths};

/// The folder of DataSet folders under a tree's root.
pub(crate) const DATASETS: &str = "datasets";
/// The folder of shared policies under a tree's root.
pub(crate) const SHARED: &str = "shared";
/// A DataSet folder's list of the shared policies it uses.
pub(crate) const USES: &str = "uses.json";

/// At most this many problems are listed when a tree cannot be read.
const PROBLEMS_SHOWN: usize = 20;

/// A copy of `dir` as git revision `rev` holds it, in a temporary folder (removed when dropped);
/// the working copy is not touched.
pub(crate) fn git_snapshot(dir: &Path, rev: &str) -> anyhow::Result<tempfile::TempDir> {
    if rev.starts_with('-') || rev.is_empty() {
        anyhow::bail!("`{rev}` is not a git revision");
    }
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .with_context(|| format!("cannot run git for --against-git `{rev}` (is git installed?)"))
    };
    let prefix = git(&["rev-parse", "--show-prefix"])?;
    if !prefix.status.success() {
        anyhow::bail!(
            "`{}` is not in a git repository: --against-git needs one ({})",
            dir.display(),
            String::from_utf8_lossy(&prefix.stderr).trim()
        );
    }
    let prefix = String::from_utf8_lossy(&prefix.stdout).trim().to_owned();
    let commit = format!("{rev}^{{commit}}");
    if !git(&["rev-parse", "--verify", "--quiet", &commit])?.status.success() {
        anyhow::bail!("`{rev}` is not a revision of the git repository holding `{}`", dir.display());
    }
    let tree = if prefix.is_empty() { rev.to_owned() } else { format!("{rev}:{}", prefix.trim_end_matches('/')) };
    // Run from a subfolder, `git archive` keeps only that subfolder's path inside the tree given.
    let top = git(&["rev-parse", "--show-toplevel"])?;
    let top = std::path::PathBuf::from(String::from_utf8_lossy(&top.stdout).trim());
    let archive = std::process::Command::new("git")
        .arg("-C")
        .arg(&top)
        .args(["archive", "--format=tar", &tree])
        .output()
        .with_context(|| format!("cannot run git for --against-git `{rev}`"))?;
    if !archive.status.success() {
        anyhow::bail!(
            "`{}` is not in git revision `{rev}` (`{prefix}` is not there): nothing to compare with",
            dir.display()
        );
    }
    let snapshot = tempfile::Builder::new().prefix("domo-git-").tempdir().context("cannot make a temporary folder")?;
    let mut tar = std::process::Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(snapshot.path())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .context("cannot run tar to unpack the git revision")?;
    if let Some(mut stdin) = tar.stdin.take() {
        std::io::Write::write_all(&mut stdin, &archive.stdout).context("cannot unpack the git revision")?;
    }
    if !tar.wait().context("cannot unpack the git revision")?.success() {
        anyhow::bail!("cannot unpack `{}` at git revision `{rev}`", dir.display());
    }
    Ok(snapshot)
}

/// Whether `dir` is the root of an instance tree (it has a `datasets/` folder).
pub(crate) fn is_tree(dir: &Path) -> bool {
    dir.join(DATASETS).is_dir()
}

/// Where a policy of a tree's DataSet comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PolicyOrigin {
    /// The DataSet's own policies.json.
    Local,
    /// A shared policy (its file stem under `shared/`), through uses.json.
    Shared(String),
}

/// One DataSet of a tree: its inputs as a one-DataSet folder would give them
/// (the directory is the root's), its policies being its own then its shared uses.
#[derive(Debug)]
pub(crate) struct TreeDataset {
    /// The folder's name under `datasets/` (the DataSet's id).
    pub(crate) folder: String,
    pub(crate) inputs: Inputs,
    /// Parallel to `inputs.policies`.
    pub(crate) origins: Vec<PolicyOrigin>,
    /// Whether the folder holds a row sample (data.csv).
    pub(crate) has_data: bool,
}

/// A whole instance tree, read and checked for shape; policies are not compiled yet.
#[derive(Debug)]
pub(crate) struct Tree {
    pub(crate) root: PathBuf,
    pub(crate) directory: Arc<Directory>,
    /// Shared policies by file stem.
    pub(crate) shared: BTreeMap<String, SharedPolicy>,
    /// Sorted by folder name.
    pub(crate) datasets: Vec<TreeDataset>,
}

/// A shared policy and the file it came from.
#[derive(Debug, Clone)]
pub(crate) struct SharedPolicy {
    pub(crate) path: PathBuf,
    pub(crate) policy: Policy,
}

impl Tree {
    /// Reads every file of the tree at `root`. Every problem found (a DataSet folder
    /// without dataset.json, a folder named differently from its DataSet's id, a
    /// use of a missing shared policy, a column a shared policy's use cannot find,
    /// a shared policy whose name a DataSet's own policy has) is listed in one error.
    pub(crate) fn read(root: &Path, limits: Limits, problems: DirectoryProblems) -> anyhow::Result<Self> {
        let directory_path = root.join("directory.json");
        let directory: Directory = crate::folder::read_json(&directory_path, limits.json_bytes)?;
        if problems == DirectoryProblems::Refuse {
            crate::folder::check_directory(&directory_path, &directory)?;
        }
        let directory = Arc::new(directory);
        let mut errors: Vec<String> = Vec::new();
        let mut broken = BTreeSet::new();
        let shared = read_shared(&root.join(SHARED), limits, &mut errors, &mut broken)?;
        let mut datasets = Vec::new();
        for folder in subfolders(&root.join(DATASETS))? {
            match read_dataset(root, &folder, &directory_path, &directory, (&shared, &broken), limits) {
                Ok(dataset) => datasets.push(dataset),
                Err(problems) => errors.extend(problems),
            }
        }
        if !errors.is_empty() {
            let mut message = match errors.len() {
                1 => format!("`{}` is not a usable instance tree:", root.display()),
                n => format!("`{}` is not a usable instance tree ({n} problems):", root.display()),
            };
            for error in errors.iter().take(PROBLEMS_SHOWN) {
                message.push_str("\n  ");
                message.push_str(&error.replace('\n', "\n    "));
            }
            if errors.len() > PROBLEMS_SHOWN {
                message.push_str(&format!("\n  … and {} more", errors.len() - PROBLEMS_SHOWN));
            }
            anyhow::bail!(message);
        }
        Ok(Self { root: root.to_path_buf(), directory, shared, datasets })
    }
}

/// The names of the folders directly under `dir`, sorted; hidden ones (a pull's
/// staging folder) are skipped, a file is an error.
fn subfolders(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read `{}`", dir.display()))? {
        let entry = entry.with_context(|| format!("cannot read `{}`", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            anyhow::bail!(
                "`{}` is not a folder: `{}` holds one folder per DataSet, named by its id",
                entry.path().display(),
                dir.display()
            );
        }
        names.push(name);
    }
    names.sort();
    Ok(names)
}

/// Reads `shared/*.json`, keyed by file stem; a missing folder is no shared policies. The stems
/// of the files that cannot be read go to `broken` (their problem to `errors`).
fn read_shared(
    dir: &Path,
    limits: Limits,
    errors: &mut Vec<String>,
    broken: &mut BTreeSet<String>,
) -> anyhow::Result<BTreeMap<String, SharedPolicy>> {
    let mut shared = BTreeMap::new();
    if !dir.is_dir() {
        return Ok(shared);
    }
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read `{}`", dir.display()))? {
        let path = entry.with_context(|| format!("cannot read `{}`", dir.display()))?.path();
        if path.extension().is_some_and(|e| e == "json") {
            paths.push(path);
        }
    }
    paths.sort();
    for path in paths {
        let Some(stem) = path.file_stem().map(|s| s.to_string_lossy().into_owned()) else { continue };
        match crate::folder::read_policy(&path, limits.json_bytes) {
            Ok(policy) => {
                shared.insert(stem, SharedPolicy { path, policy });
            }
            Err(error) => {
                errors.push(format!("{error:#}"));
                broken.insert(stem);
            }
        }
    }
    Ok(shared)
}

/// Reads one DataSet folder of the tree and expands its shared policy uses.
fn read_dataset(
    root: &Path,
    folder: &str,
    directory_path: &Path,
    directory: &Arc<Directory>,
    (shared, broken): (&BTreeMap<String, SharedPolicy>, &BTreeSet<String>),
    limits: Limits,
) -> Result<TreeDataset, Vec<String>> {
    let one = |error: anyhow::Error| vec![format!("{error:#}")];
    let dir = root.join(DATASETS).join(folder);
    let paths = Paths {
        dataset: dir.join("dataset.json"),
        data: dir.join("data.csv"),
        policies: dir.join("policies.json"),
        directory: directory_path.to_path_buf(),
    };
    let dataset = crate::folder::read_dataset(&paths.dataset, limits.json_bytes).map_err(one)?;
    if dataset.id.as_str() != folder {
        return Err(vec![format!(
            "`{}` is the DataSet `{}` (id in dataset.json): its folder must be named by its id",
            dir.display(),
            dataset.id
        )]);
    }
    let mut policies = crate::folder::read_policies(&paths.policies, limits.json_bytes).map_err(one)?;
    let mut origins = vec![PolicyOrigin::Local; policies.len()];
    let uses_path = dir.join(USES);
    if uses_path.exists() {
        let uses: Vec<PolicyUse> = crate::folder::read_json(&uses_path, limits.json_bytes).map_err(one)?;
        let own: BTreeSet<String> = policies.iter().map(|p| p.name.clone()).collect();
        let mut problems = Vec::new();
        let mut seen = BTreeSet::new();
        for (index, use_) in uses.iter().enumerate() {
            let at = format!("`{}` at `[{index}]`", uses_path.display());
            if !seen.insert(use_.policy.clone()) {
                problems.push(format!("{at}: shared policy `{}` is used twice", use_.policy));
                continue;
            }
            let Some(definition) = shared.get(&use_.policy) else {
                if broken.contains(&use_.policy) {
                    problems.push(format!(
                        "{at}: shared policy `{}` cannot be used: `{}` has a problem (listed on its own)",
                        use_.policy,
                        root.join(SHARED).join(format!("{}.json", use_.policy)).display()
                    ));
                    continue;
                }
                let hint = domo_model::did_you_mean(&use_.policy, shared.keys().map(String::as_str))
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                problems.push(format!(
                    "{at}: no shared policy `{}`: `{}` has no `{}.json`{hint}",
                    use_.policy,
                    root.join(SHARED).display(),
                    use_.policy
                ));
                continue;
            };
            match domo_pdp::expand_shared(&definition.policy, use_, &dataset.schema) {
                Ok(policy) => {
                    if own.contains(&policy.name) {
                        problems.push(format!(
                            "{at}: shared policy `{}` is named `{}`, like a policy of `{}`: rename one",
                            use_.policy,
                            policy.name,
                            paths.policies.display()
                        ));
                        continue;
                    }
                    if policies.iter().any(|p| p.name == policy.name) {
                        problems.push(format!(
                            "{at}: shared policy `{}` is named `{}`, like another shared policy this DataSet uses",
                            use_.policy, policy.name
                        ));
                        continue;
                    }
                    policies.push(policy);
                    origins.push(PolicyOrigin::Shared(use_.policy.clone()));
                }
                Err(errors) => problems.extend(errors.into_iter().map(|e| format!("{at}: {e}"))),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
    }
    let has_data = paths.data.is_file();
    let inputs = Inputs {
        paths,
        dataset,
        policies,
        directory: Arc::clone(directory),
        header: domo_pdp::HeaderRow::Present,
        limits,
    };
    Ok(TreeDataset { folder: folder.to_owned(), inputs, origins, has_data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/instance")
    }

    fn read(root: &Path) -> anyhow::Result<Tree> {
        Tree::read(root, Limits::default(), DirectoryProblems::Refuse)
    }

    /// A copy of the example tree in a temporary folder, to break.
    fn copy_of_example() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        copy(&example(), dir.path());
        dir
    }

    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }

    #[test]
    fn the_example_tree_expands_shared_policies_with_their_column_mapping() {
        let tree = read(&example()).unwrap();
        assert!(is_tree(&example()));
        let names: Vec<&str> = tree.datasets.iter().map(|d| d.inputs.dataset.name.as_str()).collect();
        assert_eq!(names, ["Sales Orders", "Pipeline", "Headcount"]);
        let pipeline = &tree.datasets[1];
        let policies: Vec<(&str, &str)> =
            pipeline.inputs.policies.iter().map(|p| (p.name.as_str(), p.filters[0].column.as_str())).collect();
        assert_eq!(
            policies,
            [
                ("Closed deals for finance", "Stage"),
                ("EMEA region", "Sales Region"),
                ("Americas region", "Sales Region")
            ]
        );
        assert_eq!(
            pipeline.origins,
            [PolicyOrigin::Local, PolicyOrigin::Shared("emea".into()), PolicyOrigin::Shared("americas".into())]
        );
        assert!(pipeline.has_data);
    }

    #[test]
    fn bad_shared_policy_references_are_located() {
        let dir = copy_of_example();
        let pipeline = dir.path().join("datasets/8a3d5e71-4f2c-4b9a-8e60-7c1d2b3a4f02/uses.json");
        std::fs::write(&pipeline, r#"[{"policy": "emae"}, {"policy": "americas"}]"#).unwrap();
        let error = format!("{:#}", read(dir.path()).unwrap_err());
        let uses = pipeline.display();
        assert!(error.contains("(2 problems)"), "{error}");
        assert!(
            error.contains(&format!(
                "`{uses}` at `[0]`: no shared policy `emae`: `{}` has no `emae.json` (did you mean `emea`?)",
                dir.path().join(SHARED).display()
            )),
            "{error}"
        );
        assert!(
            error.contains(&format!(
                "`{uses}` at `[1]`: shared policy `americas`: filter 0 reads column `Region`, which this DataSet does \
                 not have (map it to a column of this DataSet in uses.json)"
            )),
            "{error}"
        );
    }

    #[test]
    fn a_shared_policy_named_like_a_local_one_is_refused() {
        let dir = copy_of_example();
        let shared = dir.path().join("shared/emea.json");
        let text = std::fs::read_to_string(&shared).unwrap().replace("EMEA region", "APAC manager");
        std::fs::write(&shared, text).unwrap();
        let error = format!("{:#}", read(dir.path()).unwrap_err());
        assert!(error.contains("shared policy `emea` is named `APAC manager`, like a policy of"), "{error}");
    }

    #[test]
    fn a_folder_not_named_by_its_dataset_id_is_refused() {
        let dir = copy_of_example();
        let datasets = dir.path().join(DATASETS);
        std::fs::rename(datasets.join("c2e4a6b8-1d3f-4a5c-9e7b-0f1e2d3c4b03"), datasets.join("headcount")).unwrap();
        let error = format!("{:#}", read(dir.path()).unwrap_err());
        assert!(
            error.contains("is the DataSet `c2e4a6b8-1d3f-4a5c-9e7b-0f1e2d3c4b03` (id in dataset.json): its folder must be named by its id"),
            "{error}"
        );
    }

    #[test]
    fn a_shared_policy_file_that_does_not_parse_is_not_called_missing_by_its_uses() {
        let dir = copy_of_example();
        let emea = dir.path().join("shared/emea.json");
        std::fs::write(&emea, "{\"name\": \"EMEA region\",\n \"filters\": [}").unwrap();
        let error = format!("{:#}", read(dir.path()).unwrap_err());
        assert!(error.contains(&format!("`{}` is not valid JSON at line 2, column 14", emea.display())), "{error}");
        assert!(!error.contains("has no `emea.json`"), "the file is there: {error}");
        assert!(
            error.contains(&format!(
                "at `[0]`: shared policy `emea` cannot be used: `{}` has a problem (listed on its own)",
                emea.display()
            )),
            "{error}"
        );
    }

    #[test]
    fn a_shared_policy_without_filters_is_refused() {
        let dir = copy_of_example();
        std::fs::write(dir.path().join("shared/all.json"), r#"{"name": "All", "users": [101]}"#).unwrap();
        let error = format!("{:#}", read(dir.path()).unwrap_err());
        assert!(error.contains("all.json` at `.`: missing field `filters`"), "{error}");
    }
}
