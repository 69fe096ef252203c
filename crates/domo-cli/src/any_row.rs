//! The for-any-row impact of a policy change, as text and JSON: shared by `domo pdp diff` and `domo pdp plan`.

use std::io::Write;

use domo_pdp::{Admitter, Answer, ImpactReport, Subject, Verdict};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};

use crate::engine::{self as common, Names, PolicyRef};
use crate::output::{self, BOLD, ERROR, GOOD, WARNING, paint};

/// One user's for-any-row verdict in JSON (also kept in a saved plan).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserImpactJson {
    /// The directory user's id (absent for a virtual user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<u64>,
    /// The virtual user's name (absent for a directory user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) virtual_user: Option<String>,
    /// The user's name (null for a user the directory does not list), or the virtual user's.
    pub(crate) name: Option<String>,
    pub(crate) verdict: String,
    pub(crate) old_reason: String,
    pub(crate) new_reason: String,
    pub(crate) gains: AnswerJson,
    pub(crate) loses: AnswerJson,
}

/// `{"answer": "yes", "witness": {column: value|null}, "policy": {index,id,name}|null, "reason": …}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AnswerJson {
    /// `yes`, `no` or `unknown`.
    pub(crate) answer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) witness: Option<WitnessJson>,
    /// The policy that admits the witness on the side that sees it (none when that side sees every row).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) policy: Option<PolicyRef>,
    /// Why that side sees the witness without a policy, or why the answer is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
}

/// The witness row as a JSON object in schema order, NULL as `null`.
#[derive(Debug, Clone)]
pub(crate) struct WitnessJson(pub(crate) Vec<(String, Option<String>)>);

impl<'de> Deserialize<'de> for WitnessJson {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Cells;
        impl<'de> serde::de::Visitor<'de> for Cells {
            type Value = WitnessJson;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of column names to text or null")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<WitnessJson, A::Error> {
                let mut cells = Vec::new();
                while let Some(entry) = map.next_entry::<String, Option<String>>()? {
                    cells.push(entry);
                }
                Ok(WitnessJson(cells))
            }
        }
        deserializer.deserialize_map(Cells)
    }
}

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
        Answer::No => AnswerJson { answer: "no".to_owned(), witness: None, policy: None, reason: None },
        Answer::Unknown(reason) => {
            AnswerJson { answer: "unknown".to_owned(), witness: None, policy: None, reason: Some(reason.clone()) }
        }
        Answer::Yes(witness) => {
            let (policy, reason) = match &witness.admitted_by {
                Admitter::Policy(p) => (Some(PolicyRef::from_lint(p)), None),
                Admitter::Everything(reason) => (None, Some(common::reason_word(*reason).to_owned())),
            };
            AnswerJson {
                answer: "yes".to_owned(),
                witness: Some(WitnessJson(witness.cells.iter().map(|c| (c.column.clone(), c.value.clone())).collect())),
                policy,
                reason,
            }
        }
    }
}

/// The users whose verdict is not `same`, in directory order, then the virtual users.
pub(crate) fn users_json(report: &ImpactReport, names: &Names<'_>) -> Vec<UserImpactJson> {
    report
        .changed()
        .map(|u| UserImpactJson {
            id: match &u.subject {
                Subject::User(id) => Some(id.get()),
                Subject::Virtual(_) => None,
            },
            virtual_user: match &u.subject {
                Subject::User(_) => None,
                Subject::Virtual(name) => Some(name.clone()),
            },
            name: match &u.subject {
                Subject::User(id) => names.find(*id),
                Subject::Virtual(name) => Some(name.clone()),
            },
            verdict: u.verdict().as_str().to_owned(),
            old_reason: common::reason_word(u.old_reason).to_owned(),
            new_reason: common::reason_word(u.new_reason).to_owned(),
            gains: answer_json(&u.gains),
            loses: answer_json(&u.loses),
        })
        .collect()
}

/// Counts of the verdicts that matter to a gate.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
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

impl WitnessJson {
    /// `Region=`E`, Amount=NULL`.
    fn text(&self) -> String {
        let cells: Vec<String> = self
            .0
            .iter()
            .map(|(column, value)| match value {
                Some(v) => format!("{column}=`{v}`"),
                None => format!("{column}=NULL"),
            })
            .collect();
        cells.join(", ")
    }
}

impl AnswerJson {
    /// What admits the witness: `policy 9 `Planners``, or `every row (owner)`.
    fn admitter(&self) -> String {
        match (&self.policy, &self.reason) {
            (Some(PolicyRef { id: Some(id), name, .. }), _) => format!("policy {id} `{name}`"),
            (Some(PolicyRef { index, name, .. }), _) => format!("policy #{} `{name}`", index + 1),
            (None, Some(reason)) => format!("every row ({reason})"),
            (None, None) => "every row".to_owned(),
        }
    }
}

fn user_lines(out: &mut impl Write, user: &UserImpactJson) -> anyhow::Result<()> {
    let style = match user.verdict.as_str() {
        "loses" | "same" => BOLD,
        _ => WARNING,
    };
    let name = user.name.as_deref().unwrap_or("?");
    match (user.id, &user.virtual_user) {
        (Some(id), _) => writeln!(out, "  user {id} `{name}`: {}", paint(style, &user.verdict))?,
        (None, Some(virtual_user)) => {
            writeln!(out, "  virtual user `{virtual_user}`: {}", paint(style, &user.verdict))?
        }
        (None, None) => writeln!(out, "  `{name}`: {}", paint(style, &user.verdict))?,
    }
    for (answer, what, side) in
        [(&user.gains, "gains", "the new policy set"), (&user.loses, "loses", "the old policy set")]
    {
        match (answer.answer.as_str(), &answer.witness) {
            ("yes", Some(witness)) => {
                writeln!(out, "    {what} row: {}", witness.text())?;
                writeln!(out, "      {side} admits it through {}", answer.admitter())?;
            }
            ("unknown", _) => {
                writeln!(out, "    {what}: unknown: {}", answer.reason.as_deref().unwrap_or("not decided"))?
            }
            _ => {}
        }
    }
    Ok(())
}

/// The for-any-row verdict of a pull-request comment: `2 users gain access, 1 loses access, 0 unknown`.
pub(crate) fn markdown_verdict(c: &Counts) -> String {
    format!(
        "{}, {}, {} unknown (for every possible row)",
        output::count(c.gain, "user gains access", "users gain access"),
        output::count(c.lose, "user loses access", "users lose access"),
        c.unknown
    )
}

/// One collapsible block per user whose access changes for some possible row, gains first, each
/// with its witness rows as the text output shows them.
pub(crate) fn markdown_sections(users: &[UserImpactJson]) -> Vec<output::Section> {
    let mut users: Vec<&UserImpactJson> = users.iter().collect();
    users.sort_by_key(|u| u.gains.answer != "yes");
    users
        .into_iter()
        .map(|user| {
            let mut lines = Vec::new();
            let _ = user_lines(&mut lines, user);
            let text = anstream::adapter::strip_str(&String::from_utf8_lossy(&lines)).to_string();
            let name = output::md_code(user.name.as_deref().unwrap_or("?"));
            let who = match (user.id, &user.virtual_user) {
                (Some(id), _) => format!("user {id} `{name}`"),
                (None, Some(v)) => format!("virtual user `{}`", output::md_code(v)),
                (None, None) => format!("`{name}`"),
            };
            let sign = if user.gains.answer == "yes" { "+" } else { "-" };
            // A fence longer than any run of backticks in the text, so that no cell can close it.
            let fence = "`".repeat(text.split(|c| c != '`').map(str::len).max().unwrap_or(0).max(2) + 1);
            output::Section {
                summary: format!("{sign} {who}: {} for some possible row", user.verdict),
                body: format!("{fence}text\n{}\n{fence}", text.trim_end()),
            }
        })
        .collect()
}

/// The users whose access changes for some possible row, with witnesses, and the summary line.
pub(crate) fn write_text(out: &mut impl Write, users: &[UserImpactJson], c: &Counts) -> anyhow::Result<()> {
    writeln!(out, "{}", paint(BOLD, "users whose access changes for some possible row (whatever the data):"))?;
    for user in users {
        user_lines(out, user)?;
    }
    if users.is_empty() {
        writeln!(out, "  none: every user sees the same rows, for every possible row")?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{} ({}): {}, {}, {}",
        output::count(c.users, "user checked", "users checked"),
        output::count(c.distinct_policy_sets, "distinct policy set", "distinct policy sets"),
        paint(if c.gain > 0 { WARNING } else { GOOD }, output::how_many(c.gain, "gains access", "gain access")),
        output::how_many(c.lose, "loses access", "lose access"),
        paint(if c.unknown > 0 { WARNING } else { GOOD }, format!("{} unknown", c.unknown)),
    )?;
    Ok(())
}

/// The gate's closing line, when it fails.
pub(crate) fn write_gate(out: &mut impl Write, report: &ImpactReport, unknown: UnknownIs) -> anyhow::Result<()> {
    let c = counts(report);
    if report.grants_new_access() {
        writeln!(
            out,
            "{}: {} access for some possible row (--fail-on-new-access)",
            paint(ERROR, "failed"),
            output::count(c.gain, "user gains", "users gain")
        )?;
    }
    if unknown == UnknownIs::Failure && report.gain_unknown() {
        let undecided = report.users.iter().filter(|u| matches!(u.gains, Answer::Unknown(_))).count();
        writeln!(
            out,
            "{}: {} may gain access: the analysis could not decide (--allow-unknown lets them pass)",
            paint(ERROR, "failed"),
            output::count(undecided, "user", "users")
        )?;
    }
    Ok(())
}

/// Writes each witness row as a one-row CSV with a header, `user-<id>-gains.csv` or `user-<id>-loses.csv`
/// (`virtual-<name>-…` for a virtual user).
pub(crate) fn write_witnesses(dir: &std::path::Path, report: &ImpactReport) -> anyhow::Result<()> {
    use anyhow::Context;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    for user in report.changed() {
        for (answer, what) in [(&user.gains, "gains"), (&user.loses, "loses")] {
            if let Answer::Yes(witness) = answer {
                // A virtual user's name is not trusted as a path: only letters, digits, `-` and `_`.
                let stem = match &user.subject {
                    Subject::User(id) => format!("user-{id}"),
                    Subject::Virtual(name) => format!(
                        "virtual-{}",
                        name.chars()
                            .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
                            .collect::<String>()
                    ),
                };
                let path = dir.join(format!("{stem}-{what}.csv"));
                std::fs::write(&path, witness.to_csv())
                    .with_context(|| format!("cannot write `{}`", path.display()))?;
            }
        }
    }
    Ok(())
}
