//! One DataSet's plan and apply, shared by a folder and by every DataSet of a tree: the folder's policies planned
//! against what the live instance says of its DataSet, and a plan's changes applied to it.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};
use domo_http::Client;
use domo_model::{Dataset, DatasetId, Directory, Policy};
use domo_pdp::PolicyChangeKind;

use super::check::{self, Written};
use super::{Action, AnyRowEffect, Change, Effect, Failed, PLAN_VERSION, Plan, Step, Steps, WITNESS_USERS, chain};
use crate::any_row;
use crate::engine::{self as common, UserEffect};
use crate::folder::Inputs;
use crate::live::policies::stored_as_sent;

/// What the live instance says of one DataSet when it is planned.
#[derive(Debug)]
pub(super) struct LiveDataset {
    pub(super) dataset: Dataset,
    pub(super) policies: Vec<Policy>,
}

/// Reads the DataSet `id` and its policies.
pub(super) async fn fetch_live(client: &Client, id: &DatasetId) -> anyhow::Result<LiveDataset> {
    let dataset = client.get_dataset(id).await?;
    let policies = client.list_policies(id).await?;
    if dataset.id != *id {
        bail!("asked for DataSet {id}, the API answered with DataSet {}", dataset.id);
    }
    Ok(LiveDataset { dataset, policies })
}

/// Whether the folder has rows to show the effect on users with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sample {
    /// data.csv: the effect counts its rows.
    Present,
    /// No data.csv (a tree's DataSet pulled without a sample): the row effect
    /// is left out, the for-any-row effect is still computed.
    Absent,
}

/// Plans the folder's policies against the live DataSet `dataset_id`: the live
/// schema must be the folder's, each local policy is matched to a live one
/// (by id, then name), the effect on every user is computed with the engine,
/// and every policy the plan writes is compiled against the live schema and
/// directory. Any failed check is an error and no plan.
pub(super) fn plan_against(
    inputs: Inputs,
    dataset_id: &DatasetId,
    live: LiveDataset,
    live_directory: &Directory,
    api: &str,
    sample: Sample,
    mut notes: Vec<String>,
) -> anyhow::Result<Plan> {
    let LiveDataset { dataset: live_dataset, policies: live } = live;
    check::require_same_schema(
        &inputs.dataset.schema,
        &live_dataset,
        &format!("`{}`", inputs.paths.dataset.display()),
    )?;
    let local = inputs.policies.clone();

    // Match each local policy to a live one: by id, else by name.
    let reconciled = domo_pdp::reconcile(&local, &live).map_err(|error| match error {
        domo_pdp::ReconcileError::AmbiguousName { name, count } => anyhow::anyhow!(
            "policy `{name}` of `{}` has no id matching a live policy, and {count} live policies have that name: \
             give it the id of the one it is",
            inputs.paths.policies.display(),
        ),
        domo_pdp::ReconcileError::DuplicateId { id } => {
            anyhow::anyhow!("`{}` has two policies with id {id}", inputs.paths.policies.display())
        }
        other => anyhow::Error::new(other),
    })?;
    let domo_pdp::Reconciliation { matched, creates, deletes, kept, after } = reconciled;
    let creates: Vec<Change> = creates.into_iter().map(|policy| Change::Create { policy }).collect();
    let deletes: Vec<Change> =
        deletes.into_iter().map(|domo_pdp::Unmatched { id, name }| Change::Delete { id, name }).collect();
    if after.is_empty() && !live.is_empty() {
        notes.push("no policy is left: Domo turns PDP off and everyone with access sees every row".to_owned());
    }

    // The effect, with the engine on the local rows: live policies before, the plan's after.
    let mut dataset = inputs.dataset.clone();
    if live_dataset.owner.is_some() {
        dataset.owner.clone_from(&live_dataset.owner);
    }
    let switch = pdp_switch(&inputs, dataset_id, &live_dataset, &after, &mut notes)?;
    // Without a switch the effect is the policies' own (as if PDP were on); with one, PDP as it is live before
    // and as dataset.json says after.
    dataset.pdp_enabled = switch.is_none() || live_dataset.pdp_enabled;
    let mut planned = Inputs { dataset, ..inputs };
    let before_set = common::compile_policies(&planned, &live, Path::new("the live policies")).context(
        "the live policies do not compile against the local folder (is directory.json out of date? `domo pull --force` refreshes it)",
    )?;
    planned.dataset.pdp_enabled = switch.is_none() || switch == Some(domo_pdp::PdpSwitch::Enable);
    let after_set = common::compile_policies(&planned, &after, &planned.paths.policies)?;
    // The rows stream by a batch at a time: memory does not grow with the sample. Without rows the policies' own
    // changes are still found, and no user's rows change.
    let mut accumulator = domo_pdp::DiffAccumulator::new(&before_set, &after_set, domo_pdp::DiffOptions::default());
    if sample == Sample::Present {
        common::accumulate_csv(&planned, &mut accumulator)?;
    }
    let rows = accumulator.rows();
    let diff = accumulator.finish();
    let impact = domo_pdp::impact(&before_set, &after_set, &domo_pdp::ImpactOptions::default())?;
    let any_row = bounded_witnesses(
        any_row::counts(&impact),
        any_row::users_json(&impact, &common::Names::new(&planned.directory)),
    );

    // The updates, those that only narrow first, then the first (narrowing) write of each of the others, then
    // those others: a stopped apply never shows more than before and after.
    let details_of = |id: domo_model::PolicyId| {
        diff.policies.iter().find_map(|change| match &change.kind {
            PolicyChangeKind::Changed(details) if change.id == Some(id) => Some(details.clone()),
            _ => None,
        })
    };
    let changed: Vec<domo_pdp::Matched> = matched.into_iter().filter(|m| details_of(m.id).is_some()).collect();
    let updates = domo_pdp::update_steps(&live, &changed)
        .into_iter()
        .map(|step| match step {
            domo_pdp::UpdateStep { id, policy, narrowing_first: true } => Change::Narrow { id, policy },
            domo_pdp::UpdateStep { id, policy, narrowing_first: false } => {
                Change::Update { id, details: details_of(id).unwrap_or_default(), policy }
            }
        })
        .collect();
    let directory = &planned.directory;
    let users = diff.users.iter().map(|u| UserEffect::of(u, common::user_name(directory, u.user))).collect();
    let switch = switch.map(|switch| match switch {
        domo_pdp::PdpSwitch::Enable => Change::EnablePdp,
        domo_pdp::PdpSwitch::Disable => Change::DisablePdp,
    });
    let changes = domo_pdp::order_with_switch(live.len(), creates, updates, deletes, switch);
    refuse_problems(&changes, &live_dataset, live_directory)?;
    Ok(Plan {
        version: PLAN_VERSION,
        api: api.to_owned(),
        dataset_id: dataset_id.clone(),
        dataset_name: live_dataset.name,
        schema: live_dataset.schema,
        fingerprint: domo_pdp::fingerprint(&live),
        live,
        changes,
        kept,
        effect: Effect::bounded(rows, directory.users.len(), users),
        no_sample: sample == Sample::Absent,
        any_row: Some(any_row),
        notes,
    })
}

/// The for-any-row effect as a plan keeps it: the counts of every user, the verdicts and witness rows of at most
/// [`WITNESS_USERS`] of them (those who gain access first, then unknown, then those who lose), so that a plan of a
/// thousand DataSets and ten thousand users stays small; `domo pdp diff --for-any-row` lists them all.
fn bounded_witnesses(counts: any_row::Counts, mut users: Vec<any_row::UserImpactJson>) -> AnyRowEffect {
    users.sort_by_key(|u| match u.gains.answer.as_str() {
        "yes" => 0,
        "unknown" => 1,
        _ => 2,
    });
    let users_left_out = users.len().saturating_sub(WITNESS_USERS);
    users.truncate(WITNESS_USERS);
    AnyRowEffect { counts, users, users_left_out }
}

/// How the plan switches PDP: dataset.json's `pdpEnabled` against the live DataSet's. Turning PDP on with no
/// policy left is refused (Domo would show every row to everyone); PDP off on both sides gets a note, since the
/// effect is then shown as if it were on.
fn pdp_switch(
    inputs: &Inputs,
    dataset_id: &DatasetId,
    live: &Dataset,
    after: &[Policy],
    notes: &mut Vec<String>,
) -> anyhow::Result<Option<domo_pdp::PdpSwitch>> {
    let switch = domo_pdp::PdpSwitch::between(live.pdp_enabled, inputs.dataset.pdp_enabled);
    match switch {
        Some(domo_pdp::PdpSwitch::Enable) if after.is_empty() => bail!(
            "`{}` turns PDP on for DataSet {dataset_id}, but it would have no policy: with PDP on and no policy \
             Domo shows every row to everyone with access (add a policy, or set `\"pdpEnabled\": false`)",
            inputs.paths.dataset.display()
        ),
        Some(domo_pdp::PdpSwitch::Enable) => notes.push(format!(
            "PDP is disabled on the live DataSet and `{}` enables it: the effect is from every row shown to the \
             policies' rows",
            inputs.paths.dataset.display()
        )),
        Some(domo_pdp::PdpSwitch::Disable) => notes.push(format!(
            "`{}` disables PDP: everyone with access sees every row once applied (apply needs --turn-pdp-off)",
            inputs.paths.dataset.display()
        )),
        None if !live.pdp_enabled => notes.push(format!(
            "PDP is disabled on the live DataSet: the effect is shown as if it were enabled (`domo pdp enable {dataset_id}`)"
        )),
        None => {}
    }
    Ok(switch)
}

/// Turns PDP on or off on the live DataSet, and checks Domo's answer says so.
async fn switch_pdp(client: &Client, dataset_id: &DatasetId, switch: domo_pdp::PdpSwitch) -> anyhow::Result<()> {
    let enable = switch == domo_pdp::PdpSwitch::Enable;
    let update = domo_model::DatasetUpdate { pdp_enabled: Some(enable), ..domo_model::DatasetUpdate::default() };
    let dataset = client.update_dataset(dataset_id, &update).await?;
    if dataset.pdp_enabled != enable {
        bail!("Domo answered with PDP {} on DataSet {dataset_id}", if dataset.pdp_enabled { "on" } else { "off" });
    }
    Ok(())
}

/// The policies a plan writes, named as its changes are.
fn written(changes: &[Change]) -> Vec<Written<'_>> {
    changes
        .iter()
        .filter_map(|change| match change {
            Change::Create { policy } | Change::Update { policy, .. } | Change::Narrow { policy, .. } => {
                Some(Written { change: change.describe(), policy })
            }
            Change::Delete { .. } | Change::EnablePdp | Change::DisablePdp => None,
        })
        .collect()
}

/// Refuses a plan whose changes Domo would refuse, or would apply to another
/// schema than the one they were written for, before anything is written.
fn refuse_problems(plan_changes: &[Change], dataset: &Dataset, directory: &Directory) -> anyhow::Result<()> {
    let problems = check::problems_against_live(&written(plan_changes), dataset, directory);
    if problems.is_empty() {
        return Ok(());
    }
    bail!(
        "{} of the planned changes to DataSet {} `{}` would fail against its live schema and directory; nothing \
         was written:\n  {}",
        if problems.len() == 1 { "one".to_owned() } else { problems.len().to_string() },
        dataset.id,
        dataset.name,
        problems.join("\n  ")
    )
}

/// The checks an apply repeats right before its first write: the same DataSet,
/// the same schema as when planned, and every change valid against the live
/// schema and directory.
fn recheck(plan: &Plan, dataset: &Dataset, directory: &Directory) -> anyhow::Result<()> {
    if dataset.id != plan.dataset_id {
        bail!(
            "asked for DataSet {}, the API answered with DataSet {}; nothing was applied",
            plan.dataset_id,
            dataset.id
        );
    }
    check::require_same_schema(&plan.schema, dataset, "the schema the plan was made for")
        .context("nothing was applied: plan again")?;
    refuse_problems(&plan.changes, dataset, directory)
}

/// Set when the person asks an apply to stop (Ctrl-C): the changes under way
/// finish, no other one starts, and the report says what was done.
#[derive(Debug, Clone, Default)]
pub(super) struct Stop(Arc<AtomicBool>);

impl Stop {
    /// Whether a stop was asked for.
    pub(super) fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Listens for Ctrl-C (SIGINT) on the current runtime and sets the flag on
    /// the first; the listener ends with the runtime.
    pub(super) fn on_ctrl_c(&self) {
        let flag = Arc::clone(&self.0);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, Ordering::SeqCst);
                crate::output::note(
                    "stopping: the writes under way finish and no other starts; what was applied is reported \
                     (plan again to see what is left)",
                );
            }
        });
    }
}

/// Why an apply wrote nothing to a DataSet.
#[derive(Debug)]
pub(super) enum NotApplied {
    /// Its live policies changed since the plan.
    Stale(anyhow::Error),
    /// A read or a check before the first write failed.
    Failed(anyhow::Error),
}

/// Applies one DataSet's plan: its live policies must still be those planned
/// (fingerprint), its schema the planned one and every change valid against
/// the live directory; then the changes run in the plan's order and stop at
/// the first failure. Returns what was done, and the error that stopped it.
pub(super) async fn apply_changes(
    client: &Client,
    plan: &Plan,
    directory: &Directory,
    stop: &Stop,
) -> Result<(Steps, Option<anyhow::Error>), NotApplied> {
    let live = client.list_policies(&plan.dataset_id).await.map_err(|e| NotApplied::Failed(e.into()))?;
    if let Some(what) = domo_pdp::staleness(&plan.fingerprint, &plan.live, &live) {
        return Err(NotApplied::Stale(anyhow::anyhow!(
            "the live policies of DataSet {} changed since the plan (fingerprint {} then, {} now): {}; \
             nothing was applied: plan again",
            plan.dataset_id,
            plan.fingerprint,
            domo_pdp::fingerprint(&live),
            what.join(", ")
        )));
    }
    // The plan may be old, or made for a folder: check the DataSet it writes to once more.
    let dataset = client.get_dataset(&plan.dataset_id).await.map_err(|e| NotApplied::Failed(e.into()))?;
    recheck(plan, &dataset, directory).map_err(NotApplied::Failed)?;
    let mut steps = Steps::default();
    let mut error = None;
    let total = plan.changes.len();
    for (index, change) in plan.changes.iter().enumerate() {
        if error.is_none() && stop.requested() {
            error = Some(anyhow::anyhow!("interrupted before change {} of {total}: {}", index + 1, change.describe()));
        }
        if error.is_some() {
            steps.not_applied.push(change.step());
            continue;
        }
        // A write counts as done only when Domo's answer holds what was sent.
        let outcome: anyhow::Result<Step> = match change {
            Change::Create { policy } => match client.create_policy(&plan.dataset_id, policy).await {
                Ok(created) => stored_as_sent(policy, &created).map(|()| Step {
                    action: Action::Create,
                    id: created.id,
                    name: created.name.clone(),
                }),
                Err(e) => Err(e.into()),
            },
            Change::Update { id, policy, .. } | Change::Narrow { id, policy } => {
                match client.update_policy(&plan.dataset_id, *id, policy).await {
                    Ok(updated) => stored_as_sent(policy, &updated).map(|()| Step {
                        action: change.step().action,
                        id: Some(*id),
                        name: updated.name.clone(),
                    }),
                    Err(e) => Err(e.into()),
                }
            }
            Change::Delete { id, name } => client
                .delete_policy(&plan.dataset_id, *id)
                .await
                .map(|()| Step { action: Action::Delete, id: Some(*id), name: name.clone() })
                .map_err(Into::into),
            Change::EnablePdp | Change::DisablePdp => {
                let switch = if matches!(change, Change::EnablePdp) {
                    domo_pdp::PdpSwitch::Enable
                } else {
                    domo_pdp::PdpSwitch::Disable
                };
                switch_pdp(client, &plan.dataset_id, switch).await.map(|()| change.step())
            }
        };
        match outcome {
            Ok(done) => steps.applied.push(done),
            Err(cause) => {
                steps.failed = Some(Failed { change: change.step(), error: chain(&cause) });
                error = Some(cause.context(format!("change {} of {total} failed: {}", index + 1, change.describe())));
            }
        }
    }
    Ok((steps, error))
}
