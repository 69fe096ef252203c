//! One DataSet's folder of the instance tree as a pull finds and leaves it: what the last pull wrote, local
//! edits, the shared policies it uses, and files replaced one at a time (temporary file, fsync, rename).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use domo_model::{DatasetId, Policy, PolicyUse, Schema, UserId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub(crate) use crate::tree::{DATASETS, SHARED};
/// What the last pull wrote into a DataSet folder (hidden: no `domo pdp` command reads it).
pub(crate) const STATE: &str = ".domo-pull.json";
/// The start of the temporary files a pull writes beside the files it replaces.
const TEMP_PREFIX: &str = ".domo-pull-tmp-";

/// [`STATE`]: the fingerprint of the policies.json the last pull wrote.
#[derive(Debug, Serialize, Deserialize)]
struct PullState {
    /// `domo_pdp::fingerprint` of the policies written.
    policies: String,
}

/// policies.json as found.
#[derive(Debug)]
pub(crate) enum LocalPolicies {
    Missing,
    Parsed(Vec<Policy>),
    /// It does not parse: the reason.
    Unreadable(String),
}

/// A DataSet folder as a pull finds it.
#[derive(Debug)]
pub(crate) struct Local {
    pub(crate) folder: PathBuf,
    /// dataset.json, if there is one that parses.
    pub(crate) dataset: Option<Value>,
    pub(crate) policies: LocalPolicies,
    /// The fingerprint of the policies the last pull wrote, if a pull is recorded.
    recorded: Option<String>,
    /// The shared policies this DataSet uses (uses.json), by policy name: their
    /// live copies policies.json leaves out.
    pub(crate) shared: BTreeMap<String, SharedUse>,
}

/// A shared policy a DataSet uses: its file stem, its definition (`None` when
/// the file holds no whole policy: the tree's readers report why), and the use.
#[derive(Debug)]
pub(crate) struct SharedUse {
    definition: Option<Policy>,
    use_: PolicyUse,
}

/// The only field of a shared policy file that a pull reads.
#[derive(Debug, Deserialize)]
struct SharedName {
    name: String,
}

/// The folder of DataSet `id` under the tree at `root`.
pub(crate) fn folder(root: &Path, id: &DatasetId) -> PathBuf {
    root.join(DATASETS).join(id.as_str())
}

impl Local {
    /// Reads the folder of DataSet `id` (it may not exist yet). A uses.json
    /// that cannot be read, or that names a shared policy the tree does not
    /// hold, is an error: which live policies are shared would be unknown.
    pub(crate) fn read(root: &Path, id: &DatasetId) -> anyhow::Result<Self> {
        let folder = folder(root, id);
        let dataset = std::fs::read(folder.join("dataset.json")).ok().and_then(|b| serde_json::from_slice(&b).ok());
        let policies = match std::fs::read(folder.join("policies.json")) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => LocalPolicies::Missing,
            Err(e) => LocalPolicies::Unreadable(e.to_string()),
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(policies) => LocalPolicies::Parsed(policies),
                Err(e) => LocalPolicies::Unreadable(e.to_string()),
            },
        };
        let recorded = std::fs::read(folder.join(STATE))
            .ok()
            .and_then(|b| serde_json::from_slice::<PullState>(&b).ok())
            .map(|s| s.policies);
        let shared = shared_names(root, &folder)?;
        Ok(Self { folder, dataset, policies, recorded, shared })
    }

    /// The fingerprint of the policies the last pull wrote, if a pull is recorded.
    pub(crate) fn recorded(&self) -> Option<&str> {
        self.recorded.as_deref()
    }

    /// How each live copy of a shared policy this DataSet uses differs from the
    /// shared definition as uses.json maps it: a change made live that the
    /// tree does not hold (`domo pdp plan` would undo it), in words.
    pub(crate) fn shared_drift(&self, live: &[Policy], schema: &Schema) -> Vec<String> {
        let mut drift = Vec::new();
        for policy in live {
            let Some(shared) = self.shared.get(&policy.name) else { continue };
            let stem = &shared.use_.policy;
            let Some(definition) = &shared.definition else { continue };
            let expected = match domo_pdp::expand_shared(definition, &shared.use_, schema) {
                Ok(expected) => expected,
                Err(problems) => {
                    let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
                    drift.push(format!(
                        "live policy `{}` cannot be compared with shared policy `{stem}`: {}",
                        policy.name,
                        problems.join("; ")
                    ));
                    continue;
                }
            };
            let differ = differences(&expected, policy);
            if !differ.is_empty() {
                drift.push(format!(
                    "live policy `{}` differs from shared policy `{stem}` as uses.json maps it (its {}): the tree \
                     does not hold that change, and `domo pdp plan` would undo it",
                    policy.name,
                    differ.join(", ")
                ));
            }
        }
        drift
    }

    /// Whether policies.json already holds what `live` holds, as `domo pdp plan` matches them: every
    /// local policy matches a live one (by id, else by name) and equals it but for the id Domo gave
    /// it, and every live policy left out is a built-in one a plan never deletes. So it is after
    /// `domo pdp apply` of policies written without ids (`domo pdp generate`): a pull then has
    /// nothing to bring in and leaves the file as it is (`--force` writes the live policies, ids
    /// and built-in ones included). A built-in policy left out must name no one but the DataSet's
    /// `owner` (who sees every row anyway, as Domo's own All Rows policy does when a DataSet is
    /// created): one that admits anybody else (a member added to All Rows in Domo) is access the
    /// folder would not show, so it is not in sync.
    pub(crate) fn in_sync(&self, live: &[Policy], owner: Option<UserId>) -> bool {
        let LocalPolicies::Parsed(local) = &self.policies else { return false };
        let Ok(reconciled) = domo_pdp::reconcile(local, live) else { return false };
        let owner_only =
            |p: &Policy| p.groups.is_empty() && p.virtual_users.is_empty() && p.users.iter().all(|u| Some(*u) == owner);
        // A local id no live policy has (matched by name instead) is stale: a plan would match it to whichever
        // policy Domo gives that id later, so the file is not left holding it.
        let ids_live = local.iter().all(|p| p.id.is_none() || live.iter().any(|l| l.id == p.id));
        ids_live
            && reconciled.creates.is_empty()
            && reconciled.deletes.is_empty()
            && reconciled.kept.iter().all(owner_only)
            && reconciled.matched.iter().all(|m| live.iter().any(|l| l.id == Some(m.id) && *l == m.policy))
    }

    /// Why policies.json must not be overwritten without `--force`: it
    /// differs both from what the last pull wrote and from `live` (the
    /// policies this pull would write). `None` when it may be, or when it
    /// is [`Local::in_sync`] with `live` (on a DataSet owned by `owner`).
    pub(crate) fn edited(&self, live: &[Policy], owner: Option<UserId>) -> Option<String> {
        match &self.policies {
            LocalPolicies::Missing => None,
            LocalPolicies::Unreadable(reason) => Some(format!("policies.json does not parse ({reason})")),
            LocalPolicies::Parsed(local) => {
                let fingerprint = domo_pdp::fingerprint(local);
                if self.recorded.as_ref() == Some(&fingerprint)
                    || fingerprint == domo_pdp::fingerprint(live)
                    || self.in_sync(live, owner)
                {
                    return None;
                }
                let since = match self.recorded {
                    Some(_) => "was edited since the last pull",
                    None => "was not written by a pull",
                };
                let changes = super::changes::policy_changes(live, local);
                let mut differs = Vec::new();
                for (verb, names) in
                    [("adds", &changes.added), ("changes", &changes.changed), ("removes", &changes.removed)]
                {
                    if !names.is_empty() {
                        differs.push(format!("{verb} {}", names.join(", ")));
                    }
                }
                let differs = if differs.is_empty() { "differs from them".to_owned() } else { differs.join("; ") };
                Some(format!("policies.json {since}: against live it {differs}"))
            }
        }
    }
}

/// What differs between a policy as meant and as live, by field (ids and member order aside).
fn differences(meant: &Policy, live: &Policy) -> Vec<&'static str> {
    fn sorted<T: Ord + Clone>(items: &[T]) -> Vec<T> {
        let mut items = items.to_vec();
        items.sort();
        items
    }
    let mut differ = Vec::new();
    if meant.policy_type != live.policy_type {
        differ.push("type");
    }
    if meant.filters != live.filters {
        differ.push("filters");
    }
    if sorted(&meant.users) != sorted(&live.users) {
        differ.push("users");
    }
    if sorted(&meant.groups) != sorted(&live.groups) {
        differ.push("groups");
    }
    if sorted(&meant.virtual_users) != sorted(&live.virtual_users) {
        differ.push("virtual users");
    }
    differ
}

/// The shared policies that the DataSet folder's uses.json names, by policy name.
fn shared_names(root: &Path, folder: &Path) -> anyhow::Result<BTreeMap<String, SharedUse>> {
    let path = folder.join("uses.json");
    let bytes = match std::fs::read(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        other => other.with_context(|| format!("cannot read `{}`", path.display()))?,
    };
    let uses: Vec<domo_model::PolicyUse> =
        serde_json::from_slice(&bytes).with_context(|| format!("`{}` is not a list of uses", path.display()))?;
    let mut names = BTreeMap::new();
    for (index, used) in uses.into_iter().enumerate() {
        let stem = used.policy.as_str();
        let plain = !stem.is_empty() && !stem.starts_with('.') && !stem.contains(['/', '\\']);
        let shared = root.join(SHARED).join(format!("{stem}.json"));
        let entry = || format!("`{}`: use {} names shared policy `{stem}`", path.display(), index + 1);
        if !plain {
            anyhow::bail!("{}, which is not a file name under `{SHARED}/`", entry());
        }
        let bytes = std::fs::read(&shared)
            .with_context(|| format!("{}, but `{}` cannot be read", entry(), shared.display()))?;
        let name: SharedName =
            serde_json::from_slice(&bytes).with_context(|| format!("`{}` has no policy `name`", shared.display()))?;
        let definition = serde_json::from_slice::<Policy>(&bytes).ok();
        names.insert(name.name, SharedUse { definition, use_: used });
    }
    Ok(names)
}

/// A file written beside the one it replaces, not yet in place.
#[derive(Debug)]
pub(crate) struct Staged {
    temp: tempfile::NamedTempFile,
    name: &'static str,
}

/// A temporary file in `folder` for the file `name`, to be renamed into place by [`commit`].
pub(crate) fn temp_in(folder: &Path, name: &'static str) -> anyhow::Result<Staged> {
    let temp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(folder)
        .with_context(|| format!("cannot write in `{}`", folder.display()))?;
    Ok(Staged { temp, name })
}

impl Staged {
    pub(crate) fn path(&self) -> &Path {
        self.temp.path()
    }

    /// Puts what was written on disk, before it takes the old file's place.
    pub(crate) fn sync(&self) -> anyhow::Result<()> {
        self.temp.as_file().sync_all().with_context(|| format!("cannot write `{}`", self.temp.path().display()))
    }

    /// The file to write into.
    pub(crate) fn reopen(&self) -> anyhow::Result<std::fs::File> {
        self.temp.reopen().with_context(|| format!("cannot write `{}`", self.temp.path().display()))
    }
}

/// `bytes` staged for the file `name` in `folder`, on disk (fsynced).
pub(crate) fn stage(folder: &Path, name: &'static str, bytes: &[u8]) -> anyhow::Result<Staged> {
    let mut staged = temp_in(folder, name)?;
    let file = staged.temp.as_file_mut();
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write `{}`", folder.join(name).display()))?;
    Ok(staged)
}

/// The state file recording that `policies` were written.
pub(crate) fn stage_state(folder: &Path, policies: &[Policy]) -> anyhow::Result<Staged> {
    let state = PullState { policies: domo_pdp::fingerprint(policies) };
    stage(folder, STATE, &crate::output::json_bytes(&state)?)
}

/// Renames the staged files into place, in order: each file is whole, old or
/// new, whenever the run stops. Put the state file last, so that a run
/// stopped before it leaves a policies.json that the next pull checks against
/// live policies rather than trusts.
pub(crate) fn commit(folder: &Path, staged: Vec<Staged>) -> anyhow::Result<()> {
    for Staged { temp, name } in staged {
        let to = folder.join(name);
        temp.persist(&to).map_err(|e| e.error).with_context(|| format!("cannot write `{}`", to.display()))?;
    }
    Ok(())
}

/// Removes the temporary files an earlier run killed mid-way left in `folder`.
pub(crate) fn clean_temporaries(folder: &Path) {
    let Ok(entries) = std::fs::read_dir(folder) else { return };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether two files hold the same bytes (a missing file differs from any).
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    use std::io::Read as _;
    let (Ok(mut a), Ok(mut b)) = (std::fs::File::open(a), std::fs::File::open(b)) else { return false };
    let (mut x, mut y) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        let (Ok(n), Ok(m)) = (read_full(&mut a, &mut x), read_full(&mut b, &mut y)) else { return false };
        if n != m || x.get(..n) != y.get(..m) {
            return false;
        }
        if n == 0 {
            return true;
        }
    }
    fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut filled = 0;
        while let Some(rest) = buf.get_mut(filled..) {
            if rest.is_empty() {
                break;
            }
            match file.read(rest)? {
                0 => break,
                n => filled += n,
            }
        }
        Ok(filled)
    }
}

#[cfg(test)]
mod tests {
    use domo_model::{PolicyId, PolicyType};

    use super::*;

    fn policy(id: u64, name: &str) -> Policy {
        Policy {
            id: Some(PolicyId(id)),
            policy_type: PolicyType::User,
            name: name.to_owned(),
            filters: vec![],
            users: vec![],
            virtual_users: vec![],
            groups: vec![],
        }
    }

    /// Whether a policies.json holding `local`, after a pull that wrote `recorded`, may be overwritten with `live`.
    fn check(local: LocalPolicies, recorded: Option<&[Policy]>, live: &[Policy], expected: Option<&str>) {
        check_owned(local, recorded, live, None, expected);
    }

    /// [`check`] on a DataSet owned by `owner`.
    fn check_owned(
        local: LocalPolicies,
        recorded: Option<&[Policy]>,
        live: &[Policy],
        owner: Option<UserId>,
        expected: Option<&str>,
    ) {
        let folder = Local {
            folder: PathBuf::from("tree/datasets/d"),
            dataset: None,
            policies: local,
            recorded: recorded.map(domo_pdp::fingerprint),
            shared: BTreeMap::new(),
        };
        assert_eq!(folder.edited(live, owner).as_deref(), expected);
    }

    #[test]
    fn policies_edited_since_the_last_pull_are_kept() {
        let (a, b) = (policy(1, "A"), policy(2, "B"));
        let both = [a.clone(), b.clone()];
        check(LocalPolicies::Missing, None, &both, None);
        // As the last pull wrote it: overwritten with live, whatever live holds now.
        check(LocalPolicies::Parsed(vec![a.clone()]), Some(std::slice::from_ref(&a)), &both, None);
        // Equal to live (an edit applied since, or a run stopped before its state file): no conflict.
        check(LocalPolicies::Parsed(both.to_vec()), Some(std::slice::from_ref(&a)), &both, None);
        check(LocalPolicies::Parsed(both.to_vec()), None, &both, None);
        check(
            LocalPolicies::Parsed(vec![b.clone()]),
            Some(std::slice::from_ref(&a)),
            &both,
            Some("policies.json was edited since the last pull: against live it removes `A`"),
        );
        check(
            LocalPolicies::Parsed(vec![policy(3, "C")]),
            None,
            std::slice::from_ref(&a),
            Some("policies.json was not written by a pull: against live it adds `C`; removes `A`"),
        );
        // Written without ids (`domo pdp generate`) and applied since: in sync with live, which adds only ids and a
        // built-in policy.
        let unnamed = |p: &Policy| Policy { id: None, ..p.clone() };
        let all_rows = Policy { policy_type: PolicyType::System, ..policy(9, "All Rows") };
        let live = [a.clone(), b.clone(), all_rows.clone()];
        check(LocalPolicies::Parsed(vec![unnamed(&a), unnamed(&b)]), Some(&[]), &live, None);
        // All Rows naming the DataSet's owner (as Domo creates it): the owner sees every row anyway.
        let owned = Policy { users: vec![UserId(5)], ..all_rows.clone() };
        let live = [a.clone(), b.clone(), owned];
        check_owned(LocalPolicies::Parsed(vec![unnamed(&a), unnamed(&b)]), Some(&[]), &live, Some(UserId(5)), None);
        // A member added to All Rows in Domo sees every row: access the generated file does not show, reported.
        for (users, groups) in [(vec![UserId(5), UserId(7)], vec![]), (vec![], vec![domo_model::GroupId(3)])] {
            let widened = Policy { users, groups, ..all_rows.clone() };
            let live = [a.clone(), b.clone(), widened];
            check_owned(
                LocalPolicies::Parsed(vec![unnamed(&a), unnamed(&b)]),
                Some(&[]),
                &live,
                Some(UserId(5)),
                Some(
                    "policies.json was edited since the last pull: against live it changes `A`, `B`; removes `All Rows`",
                ),
            );
        }
        // A local policy whose id is stale (no live policy has it; matched by name) is not in sync.
        let stale = Policy { id: Some(PolicyId(77)), ..a.clone() };
        check(
            LocalPolicies::Parsed(vec![stale, unnamed(&b)]),
            Some(&[]),
            &[a.clone(), b.clone()],
            Some("policies.json was edited since the last pull: against live it changes `A`, `B`"),
        );
        let live = [a.clone(), b.clone(), all_rows];
        let mut widened = unnamed(&b);
        widened.users.push(UserId(7));
        check(
            LocalPolicies::Parsed(vec![unnamed(&a), widened]),
            Some(&[]),
            &live,
            Some("policies.json was edited since the last pull: against live it changes `A`, `B`; removes `All Rows`"),
        );
        check(
            LocalPolicies::Unreadable("EOF while parsing a list at line 1 column 2".to_owned()),
            None,
            &both,
            Some("policies.json does not parse (EOF while parsing a list at line 1 column 2)"),
        );
    }
}
