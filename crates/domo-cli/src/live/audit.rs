//! `domo audit`: the findings of `domo_pdp::audit` on the live instance or on an instance tree, and with
//! `--user` everything one user sees across it.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use domo_model::{Dataset, Directory, ListDatasets, Policy, UserId};
// The one severity of compile and lint findings (named `Severity` once lint's own is merged into it).
use domo_pdp::Severity;
use domo_pdp::{AuditFinding, AuditInput, UserSees};
use futures_util::{StreamExt, TryStreamExt};
use serde::Serialize;

use super::config::ConnectionArgs;
use super::output;
use crate::exit::Outcome;
use crate::folder::{DirectoryProblems, Limits};
use crate::output::{BOLD, ERROR, Format, WARNING, paint};
use crate::tree::{PolicyOrigin, Tree};

pub(crate) const AUDIT_HELP: &str = "\
Findings: user policies on a DataSet with PDP off (error: they have no effect,
everyone with access sees every row); PDP on with no policy at all (error:
Domo treats it as off); policies that do not compile (error); PDP off with no
user policy (note); policies naming users or groups the directory lacks
(warning); users a policy names who see no row of the sample (warning; a tree
with data.csv only); the same filters and members on several DataSets (note: a
candidate for shared/). Exit 1 when a finding is an error, as lint does.

With --user ID: on every DataSet, whether that user sees every row (and why),
no row, or the rows of the policies that name them (counted on the sample);
exit 1 when that is unknown on a DataSet whose policies do not compile.

Examples:
  domo audit                       # the live instance
  domo audit instance/             # a tree written by `domo pull --all`
  domo audit instance/ --user 101 --format csv";

/// Options of `domo audit`.
#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// An instance tree to audit offline; without it, the live instance is read.
    #[arg(value_name = "ROOT")]
    root: Option<PathBuf>,
    /// Show everything this user sees across the DataSets instead of the findings.
    #[arg(long, value_name = "ID")]
    user: Option<u64>,
    /// Output format: table (the default), json or csv.
    #[arg(long, value_parser = crate::output::formats(crate::output::TABULAR), default_value = "table")]
    format: Format,
    /// Live: how many DataSets are read from the API at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    jobs: u16,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// One DataSet as the audit sees it.
struct Audited {
    dataset: Dataset,
    policies: Vec<Policy>,
    shared: Vec<bool>,
    /// The sample's counts the audit reads (see [`sample_counts`]).
    sample: Option<domo_pdp::AllCounts>,
}

/// Everything audited, and where it came from.
struct Instance {
    source: String,
    directory: Directory,
    datasets: Vec<Audited>,
}

fn read_tree(root: &std::path::Path, user: Option<UserId>) -> anyhow::Result<Instance> {
    let tree = Tree::read(root, Limits::default(), DirectoryProblems::Refuse)?;
    let mut datasets = Vec::with_capacity(tree.datasets.len());
    for dataset in tree.datasets {
        let sample = if dataset.has_data { sample_counts(&dataset.inputs, user)? } else { None };
        let shared = dataset.origins.iter().map(|o| matches!(o, PolicyOrigin::Shared(_))).collect();
        datasets.push(Audited { dataset: dataset.inputs.dataset, policies: dataset.inputs.policies, shared, sample });
    }
    Ok(Instance {
        source: format!("the instance tree `{}`", tree.root.display()),
        directory: (*tree.directory).clone(),
        datasets,
    })
}

/// What the audit reads of a DataSet's sample: every principal's count with PDP on, as the rows stream by (a
/// sample is never held whole). Kept are only the users who see no row and the user asked about, so that a
/// thousand DataSets' counts stay small. `None` when the policies do not compile: the audit reports that itself.
fn sample_counts(inputs: &crate::folder::Inputs, user: Option<UserId>) -> anyhow::Result<Option<domo_pdp::AllCounts>> {
    let on = Dataset { pdp_enabled: true, ..inputs.dataset.clone() };
    let Ok(set) = domo_pdp::PolicySet::compile(&on, &inputs.policies, &inputs.directory) else {
        return Ok(None);
    };
    let mut counts = crate::engine::all_counts(inputs, &set)?;
    let keep = |count: &domo_pdp::VisibleCount| count.rows == 0 || Some(count.user) == user;
    counts.users.retain(keep);
    counts.beyond_directory.retain(keep);
    counts.virtual_users.clear();
    Ok(Some(counts))
}

fn read_live(args: &AuditArgs) -> anyhow::Result<Instance> {
    let connection = args.connection.connect()?;
    let client = &connection.client;
    let jobs = usize::from(args.jobs);
    let (directory, mut datasets) = super::block_on(async {
        let directory = client
            .directory()
            .await
            .context("cannot list the live users and groups (the credentials need the `user` scope)")?;
        let listed: Vec<domo_model::DatasetSummary> =
            client.list_datasets(&ListDatasets::default()).try_collect().await?;
        let read: Vec<anyhow::Result<(usize, Audited)>> = futures_util::stream::iter(listed.iter().enumerate())
            .map(|(index, summary)| async move {
                let dataset = client.get_dataset(&summary.id).await?;
                let policies = client.list_policies(&summary.id).await?;
                Ok((index, Audited { dataset, policies, shared: Vec::new(), sample: None }))
            })
            .buffer_unordered(jobs.max(1))
            .collect()
            .await;
        let mut datasets = read.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
        datasets.sort_by_key(|(index, _)| *index);
        Ok((directory, datasets))
    })?;
    Ok(Instance {
        source: format!("the live instance at {}", connection.base_url),
        directory,
        datasets: datasets.drain(..).map(|(_, d)| d).collect(),
    })
}

/// `domo audit`.
pub(crate) fn run(args: &AuditArgs) -> anyhow::Result<Outcome> {
    let instance = match &args.root {
        Some(root) if crate::tree::is_tree(root) => read_tree(root, args.user.map(UserId))?,
        Some(root) => bail!(
            "`{}` is not an instance tree (it has no `datasets/` folder; `domo pull --all DIR` writes one)",
            root.display()
        ),
        None => read_live(args)?,
    };
    let inputs: Vec<AuditInput<'_>> = instance
        .datasets
        .iter()
        .map(|d| AuditInput {
            dataset: &d.dataset,
            policies: &d.policies,
            shared: &d.shared,
            sample: d.sample.as_ref(),
        })
        .collect();
    match args.user {
        Some(user) => print_user(&instance, &inputs, UserId(user), args.format),
        None => print_findings(&instance, &inputs, args.format),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FindingJson<'a> {
    severity: &'static str,
    kind: &'static str,
    dataset_id: Option<&'a str>,
    dataset_name: Option<&'a str>,
    message: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuditJson<'a> {
    source: &'a str,
    datasets: usize,
    errors: usize,
    warnings: usize,
    notes: usize,
    findings: Vec<FindingJson<'a>>,
}

fn print_findings(instance: &Instance, inputs: &[AuditInput<'_>], format: Format) -> anyhow::Result<Outcome> {
    let findings = domo_pdp::audit(inputs, &instance.directory);
    let count = |severity: Severity| findings.iter().filter(|f| f.severity == severity).count();
    let (errors, warnings, notes) = (count(Severity::Error), count(Severity::Warning), count(Severity::Note));
    fn json_of(f: &AuditFinding) -> FindingJson<'_> {
        FindingJson {
            severity: f.severity.as_str(),
            kind: f.kind.code(),
            dataset_id: f.dataset.as_ref().map(|(id, _)| id.as_str()),
            dataset_name: f.dataset.as_ref().map(|(_, name)| name.as_str()),
            message: f.kind.to_string(),
        }
    }
    match format {
        Format::Json => output::json(&AuditJson {
            source: &instance.source,
            datasets: instance.datasets.len(),
            errors,
            warnings,
            notes,
            findings: findings.iter().map(json_of).collect(),
        })?,
        Format::Csv => crate::output::write_csv(
            crate::output::plain_stdout(),
            &["severity", "kind", "dataset_id", "dataset_name", "message"],
            findings.iter().map(|f| {
                let j = json_of(f);
                vec![
                    j.severity.to_owned(),
                    j.kind.to_owned(),
                    j.dataset_id.unwrap_or_default().to_owned(),
                    j.dataset_name.unwrap_or_default().to_owned(),
                    j.message,
                ]
            }),
        )?,
        Format::Table | Format::Markdown => {
            let mut text = format!(
                "{}\n",
                paint(
                    BOLD,
                    format!(
                        "audit of {}: {}",
                        instance.source,
                        output::count(instance.datasets.len(), "DataSet", "DataSets")
                    )
                )
            );
            let mut current: Option<Option<&str>> = None;
            for finding in &findings {
                let key = finding.dataset.as_ref().map(|(id, _)| id.as_str());
                if current != Some(key) {
                    match &finding.dataset {
                        Some((id, name)) => text.push_str(&format!("DataSet {id} `{name}`:\n")),
                        None => text.push_str("across DataSets:\n"),
                    }
                    current = Some(key);
                }
                let style = match finding.severity {
                    Severity::Error => ERROR,
                    Severity::Warning => WARNING,
                    _ => BOLD,
                };
                text.push_str(&format!(
                    "  {} {}: {}\n",
                    paint(style, finding.severity),
                    finding.kind.code(),
                    finding.kind
                ));
            }
            text.push_str(&format!(
                "{}, {}, {}\n",
                output::count(errors, "error", "errors"),
                output::count(warnings, "warning", "warnings"),
                output::count(notes, "note", "notes")
            ));
            output::text(&text)?;
        }
    }
    Ok(if errors > 0 { Outcome::Findings } else { Outcome::Ok })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SeesJson<'a> {
    dataset_id: &'a str,
    dataset_name: &'a str,
    /// `all`, `none`, `rows` or `unknown`.
    sees: &'static str,
    /// Why `all` (owner, admin, All Rows policy, PDP disabled, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// Rows of the sample seen, and in the sample (`rows` with a sample only).
    #[serde(skip_serializing_if = "Option::is_none")]
    rows: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sample_rows: Option<usize>,
    /// The policies that give the rows.
    policies: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserJson<'a> {
    source: &'a str,
    user: u64,
    name: &'a str,
    datasets: Vec<SeesJson<'a>>,
}

fn print_user(instance: &Instance, inputs: &[AuditInput<'_>], user: UserId, format: Format) -> anyhow::Result<Outcome> {
    let Some(person) = instance.directory.user(user) else {
        bail!("user {user} is not in the directory of {}", instance.source);
    };
    let access = domo_pdp::user_access(inputs, &instance.directory, user);
    let rows: Vec<SeesJson<'_>> = access
        .iter()
        .map(|(id, name, sees)| {
            let base = SeesJson {
                dataset_id: id.as_str(),
                dataset_name: name.as_str(),
                sees: "unknown",
                reason: None,
                rows: None,
                sample_rows: None,
                policies: Vec::new(),
            };
            match sees {
                UserSees::AllRows(reason) => SeesJson { sees: "all", reason: Some(reason.to_string()), ..base },
                UserSees::NoRows => SeesJson { sees: "none", reason: Some("in no policy".to_owned()), ..base },
                UserSees::Rows { sample, policies } => SeesJson {
                    sees: "rows",
                    rows: sample.map(|(seen, _)| seen),
                    sample_rows: sample.map(|(_, total)| total),
                    policies: policies.clone(),
                    ..base
                },
                _ => SeesJson { reason: Some("the policies do not compile".to_owned()), ..base },
            }
        })
        .collect();
    // What the user sees on a DataSet whose policies do not compile is unknown: not a clean answer.
    let unknown = rows.iter().filter(|r| r.sees == "unknown").count();
    match format {
        Format::Json => {
            output::json(&UserJson { source: &instance.source, user: user.0, name: &person.name, datasets: rows })?
        }
        Format::Csv => crate::output::write_csv(
            crate::output::plain_stdout(),
            &["dataset_id", "dataset_name", "sees", "reason", "rows", "sample_rows", "policies"],
            rows.iter().map(|r| {
                vec![
                    r.dataset_id.to_owned(),
                    r.dataset_name.to_owned(),
                    r.sees.to_owned(),
                    r.reason.clone().unwrap_or_default(),
                    r.rows.map(|n| n.to_string()).unwrap_or_default(),
                    r.sample_rows.map(|n| n.to_string()).unwrap_or_default(),
                    r.policies.join("|"),
                ]
            }),
        )?,
        Format::Table | Format::Markdown => {
            let mut text = format!(
                "{}\n",
                paint(
                    BOLD,
                    format!(
                        "what user {user} `{}` sees in {}: {}",
                        person.name,
                        instance.source,
                        output::count(rows.len(), "DataSet", "DataSets")
                    )
                )
            );
            for r in &rows {
                let through = r.policies.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ");
                let what = match (r.sees, r.rows, r.sample_rows) {
                    ("all", _, _) => format!("all rows ({})", r.reason.as_deref().unwrap_or_default()),
                    ("none", _, _) => "no rows (in no policy)".to_owned(),
                    ("rows", Some(seen), Some(total)) => format!("{seen} of {total} sample rows, through {through}"),
                    ("rows", _, _) => format!("the rows of {through} (no sample)"),
                    _ => "unknown: the policies do not compile (`domo pdp lint` says why)".to_owned(),
                };
                text.push_str(&format!("  DataSet {} `{}`: {what}\n", r.dataset_id, r.dataset_name));
            }
            output::text(&text)?;
        }
    }
    if unknown > 0 {
        output::note(format!(
            "what user {user} sees is unknown on {}: the policies do not compile (`domo audit` or `domo pdp lint` \
             says why)",
            output::count(unknown, "DataSet", "DataSets")
        ));
        return Ok(Outcome::Findings);
    }
    Ok(Outcome::Ok)
}
