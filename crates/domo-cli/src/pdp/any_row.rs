//! The for-any-row impact of a policy change, as text and JSON: shared by `domo pdp diff` and `domo pdp plan`.

use std::io::Write;

use domo_pdp::{Admitter, Answer, ImpactReport, UserImpact, Verdict, Witness};
use serde::Serialize;
use serde::ser::SerializeMap;

use super::common::{self, Names};
use super::output::{BOLD, ERROR, GOOD, WARNING, paint};

/// One user's for-any-row verdict in JSON.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserImpactJson {
    id: u64,
    name: String,
    verdict: &'static str,
    old_reason: &'static str,
    new_reason: &'static str,
    gains: AnswerJson,
    loses: AnswerJson,
}

/// `{"answer": "yes", "witness": {column: value|null}, "policy": {index,id,name}|null, "reason": …}`.
#[derive(Debug, Serialize)]
pub(crate) struct AnswerJson {
    answer: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    witness: Option<WitnessJson>,
    /// The policy that admits the witness on the side that sees it (none when that side sees every row).
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<PolicyJson>,
    /// Why that side sees the witness without a policy, or why the answer is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[derive(Debug, Serialize)]
struct PolicyJson {
    index: usize,
    id: Option<u64>,
    name: String,
}

/// The witness row as a JSON object in schema order, NULL as `null`.
#[derive(Debug)]
pub(crate) struct WitnessJson(Vec<(String, Option<String>)>);

impl Serialize for WitnessJson {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (column, value) in &self.0 {
            map.serialize_entry(column, value)?;
        }
        map.end()
    }
}

fn answer_json(answer: &Answer) -> AnswerJson {
    match answer {
        Answer::No => AnswerJson { answer: "no", witness: None, policy: None, reason: None },
        Answer::Unknown(reason) => {
            AnswerJson { answer: "unknown", witness: None, policy: None, reason: Some(reason.clone()) }
        }
        Answer::Yes(witness) => {
            let (policy, reason) = match &witness.admitted_by {
                Admitter::Policy(p) => {
                    (Some(PolicyJson { index: p.index, id: p.id.map(|id| id.get()), name: p.name.clone() }), None)
                }
                Admitter::Everything(reason) => (None, Some(common::reason_word(*reason).to_owned())),
            };
            AnswerJson {
                answer: "yes",
                witness: Some(WitnessJson(witness.cells.iter().map(|c| (c.column.clone(), c.value.clone())).collect())),
                policy,
                reason,
            }
        }
    }
}

/// The users whose verdict is not `same`, in directory order.
pub(crate) fn users_json(report: &ImpactReport, names: &Names<'_>) -> Vec<UserImpactJson> {
    report
        .changed()
        .map(|u| UserImpactJson {
            id: u.user.get(),
            name: names.get(u.user),
            verdict: u.verdict().as_str(),
            old_reason: common::reason_word(u.old_reason),
            new_reason: common::reason_word(u.new_reason),
            gains: answer_json(&u.gains),
            loses: answer_json(&u.loses),
        })
        .collect()
}

/// Counts of the verdicts that matter to a gate.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Counts {
    pub(crate) users: usize,
    pub(crate) gain: usize,
    pub(crate) lose: usize,
    pub(crate) unknown: usize,
    pub(crate) distinct_policy_sets: usize,
}

pub(crate) fn counts(report: &ImpactReport) -> Counts {
    Counts {
        users: report.users.len(),
        gain: report.users.iter().filter(|u| matches!(u.gains, Answer::Yes(_))).count(),
        lose: report.users.iter().filter(|u| matches!(u.loses, Answer::Yes(_))).count(),
        unknown: report.users.iter().filter(|u| u.verdict() == Verdict::Unknown).count(),
        distinct_policy_sets: report.classes,
    }
}

/// Whether `--fail-on-new-access` fails: a proven gain, or an undecided gain unless unknowns are allowed.
pub(crate) fn gate_fails(report: &ImpactReport, unknown: UnknownIs) -> bool {
    report.grants_new_access() || (unknown == UnknownIs::Failure && report.gain_unknown())
}

/// How the gate treats a gain it could not decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnknownIs {
    /// As new access (the default: fail closed).
    Failure,
    /// As no new access (`--allow-unknown`).
    Allowed,
}

fn witness_line(out: &mut impl Write, what: &str, witness: &Witness, side: &str) -> anyhow::Result<()> {
    writeln!(out, "    {what} row: {witness}")?;
    writeln!(out, "      {side} admits it through {}", witness.admitted_by)?;
    Ok(())
}

fn user_lines(out: &mut impl Write, user: &UserImpact, names: &Names<'_>) -> anyhow::Result<()> {
    let verdict = user.verdict();
    let style = match verdict {
        Verdict::Gains | Verdict::GainsAndLoses | Verdict::Unknown => WARNING,
        Verdict::Loses | Verdict::Same => BOLD,
    };
    writeln!(out, "  user {} `{}`: {}", user.user, names.get(user.user), paint(style, verdict))?;
    for (answer, what, side) in
        [(&user.gains, "gains", "the new policy set"), (&user.loses, "loses", "the old policy set")]
    {
        match answer {
            Answer::Yes(witness) => witness_line(out, what, witness, side)?,
            Answer::Unknown(reason) => writeln!(out, "    {what}: unknown: {reason}")?,
            Answer::No => {}
        }
    }
    Ok(())
}

/// The users whose access changes for some possible row, with witnesses, and the summary line.
pub(crate) fn write_text(out: &mut impl Write, report: &ImpactReport, names: &Names<'_>) -> anyhow::Result<()> {
    writeln!(out, "{}", paint(BOLD, "users whose access changes for some possible row (whatever the data):"))?;
    let mut any = false;
    for user in report.changed() {
        any = true;
        user_lines(out, user, names)?;
    }
    if !any {
        writeln!(out, "  none: every user sees the same rows, for every possible row")?;
    }
    let c = counts(report);
    writeln!(out)?;
    writeln!(
        out,
        "{} users checked ({} distinct policy sets): {}, {} lose access, {}",
        c.users,
        c.distinct_policy_sets,
        paint(if c.gain > 0 { WARNING } else { GOOD }, format!("{} gain access", c.gain)),
        c.lose,
        paint(if c.unknown > 0 { WARNING } else { GOOD }, format!("{} unknown", c.unknown)),
    )?;
    Ok(())
}

fn users(n: usize) -> String {
    format!("{n} {}", if n == 1 { "user" } else { "users" })
}

/// The gate's closing line, when it fails.
pub(crate) fn write_gate(out: &mut impl Write, report: &ImpactReport, unknown: UnknownIs) -> anyhow::Result<()> {
    let c = counts(report);
    if report.grants_new_access() {
        writeln!(
            out,
            "{}: {} gain access for some possible row (--fail-on-new-access)",
            paint(ERROR, "failed"),
            users(c.gain)
        )?;
    }
    if unknown == UnknownIs::Failure && report.gain_unknown() {
        let undecided = report.users.iter().filter(|u| matches!(u.gains, Answer::Unknown(_))).count();
        writeln!(
            out,
            "{}: {} may gain access: the analysis could not decide (--allow-unknown lets them pass)",
            paint(ERROR, "failed"),
            users(undecided)
        )?;
    }
    Ok(())
}

/// Writes each witness row as a one-row CSV with a header, `user-<id>-gains.csv` or `user-<id>-loses.csv`.
pub(crate) fn write_witnesses(dir: &std::path::Path, report: &ImpactReport) -> anyhow::Result<()> {
    use anyhow::Context;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    for user in report.changed() {
        for (answer, what) in [(&user.gains, "gains"), (&user.loses, "loses")] {
            if let Answer::Yes(witness) = answer {
                let path = dir.join(format!("user-{}-{what}.csv", user.user));
                std::fs::write(&path, witness.to_csv())
                    .with_context(|| format!("cannot write `{}`", path.display()))?;
            }
        }
    }
    Ok(())
}
