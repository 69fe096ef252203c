//! The checks that keep a plan on its DataSet: which DataSet it targets, its live schema, and every change compiled against the live schema and directory.

use std::path::Path;

use anyhow::bail;
use domo_model::{Dataset, DatasetId, Directory, Policy, Schema};
use domo_pdp::{DiagnosticCode, PolicySet, Severity};

/// Whether `--dataset-id` may name another DataSet than the folder's `dataset.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OtherDataset {
    /// Only the folder's own DataSet.
    Refuse,
    /// `--target-other-dataset`: the live schema must still match the folder's.
    Allow,
}

/// The live DataSet a folder is planned against: the one its `dataset.json`
/// names, or `--dataset-id` when it is the same one or another is allowed.
pub(super) fn target(
    folder: &DatasetId,
    given: Option<&str>,
    other: OtherDataset,
    dataset_file: &Path,
) -> anyhow::Result<DatasetId> {
    let folder_id = (!folder.as_str().trim().is_empty()).then_some(folder);
    match (given, folder_id) {
        (None, Some(id)) => Ok(id.clone()),
        (None, None) => {
            bail!("`{}` names no DataSet id: give the live one with --dataset-id ID", dataset_file.display())
        }
        (Some(given), Some(id)) if given == id.as_str() => Ok(id.clone()),
        (Some(given), None) => Ok(DatasetId::from(given)),
        (Some(given), Some(id)) => match other {
            OtherDataset::Allow => Ok(DatasetId::from(given)),
            OtherDataset::Refuse => bail!(
                "`{}` describes DataSet {id}, not {given}: refusing to plan this folder's policies against another \
                 DataSet (leave out --dataset-id to use {id}, or pass --target-other-dataset if {given} is meant)",
                dataset_file.display()
            ),
        },
    }
}

/// What differs between the folder's schema and the live one, one line per
/// column (empty when they are the same, in the same order).
pub(super) fn schema_differences(folder: &Schema, live: &Schema) -> Vec<String> {
    let mut differences = Vec::new();
    for column in &folder.columns {
        match live.columns.iter().find(|c| c.name == column.name) {
            None => differences
                .push(format!("column `{}` ({}) is not in the live DataSet", column.name, column.column_type)),
            Some(other) if other.column_type != column.column_type => differences.push(format!(
                "column `{}` is {} in the folder but {} in the live DataSet",
                column.name, column.column_type, other.column_type
            )),
            Some(_) => {}
        }
    }
    for column in &live.columns {
        if !folder.columns.iter().any(|c| c.name == column.name) {
            differences.push(format!("column `{}` ({}) is only in the live DataSet", column.name, column.column_type));
        }
    }
    if differences.is_empty() && folder != live {
        let names = |schema: &Schema| schema.columns.iter().map(|c| format!("`{}`", c.name)).collect::<Vec<_>>();
        differences.push(format!(
            "the columns are in another order: {} in the folder, {} in the live DataSet",
            names(folder).join(", "),
            names(live).join(", ")
        ));
    }
    differences
}

/// Refuses unless the live schema is the folder's (or the plan's) schema.
pub(super) fn require_same_schema(expected: &Schema, live: &Dataset, expected_from: &str) -> anyhow::Result<()> {
    let differences = schema_differences(expected, &live.schema);
    if differences.is_empty() {
        return Ok(());
    }
    bail!(
        "the live schema of DataSet {} `{}` differs from {expected_from}:\n  {}\n  (`domo pull {} DIR --force` \
         refreshes a folder from the live DataSet)",
        live.id,
        live.name,
        differences.join("\n  "),
        live.id
    )
}

/// A policy a plan writes, and how the plan names the change.
#[derive(Debug)]
pub(super) struct Written<'a> {
    /// `create `East``, `update policy 8 `East``.
    pub(super) change: String,
    pub(super) policy: &'a Policy,
}

/// Compiles every policy the plan writes against the live schema and the live
/// directory. Compile errors refuse, and so do what Domo would refuse that the
/// engine only warns about: users and groups the live directory does not know,
/// and values over Domo's 255-character limit. Each problem names the change,
/// the filter and what is wrong.
pub(super) fn problems_against_live(written: &[Written<'_>], live: &Dataset, directory: &Directory) -> Vec<String> {
    if written.is_empty() {
        return Vec::new();
    }
    let policies: Vec<Policy> = written.iter().map(|w| w.policy.clone()).collect();
    let dataset = Dataset { pdp_enabled: true, ..live.clone() };
    let diagnostics = match PolicySet::compile(&dataset, &policies, directory) {
        Ok(set) => set.warnings().to_vec(),
        Err(err) => err.errors.into_iter().chain(err.warnings).collect(),
    };
    let refused = |code: DiagnosticCode| {
        matches!(code, DiagnosticCode::UnknownUser | DiagnosticCode::UnknownGroup | DiagnosticCode::ValuesTooLong)
    };
    let mut problems: Vec<(Option<usize>, Option<usize>, String)> = diagnostics
        .into_iter()
        .filter(|d| d.severity == Severity::Error || refused(d.code))
        .map(|d| {
            let message = match d.code {
                DiagnosticCode::UnknownUser | DiagnosticCode::UnknownGroup => {
                    d.message.replace("is not in the directory", "does not exist in the live directory")
                }
                _ => d.message,
            };
            (d.policy.as_ref().map(|p| p.handle.index()), d.filter_index, message)
        })
        .collect();
    problems.sort_by_key(|(policy, filter, _)| (*policy, *filter));
    problems
        .into_iter()
        .map(|(policy, filter, message)| {
            let change = policy.and_then(|i| written.get(i)).map_or("the plan", |w| w.change.as_str());
            match filter {
                Some(filter) => format!("{change}, filters[{filter}]: {message}"),
                None => format!("{change}: {message}"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use domo_model::{Column, ColumnType, FilterOperator, PolicyFilter, PolicyType, UserId};

    use super::*;

    fn schema(columns: &[(&str, ColumnType)]) -> Schema {
        Schema { columns: columns.iter().map(|(name, t)| Column::new(*t, *name)).collect() }
    }

    fn check_schema(folder: &[(&str, ColumnType)], live: &[(&str, ColumnType)], expected: &[&str]) {
        assert_eq!(schema_differences(&schema(folder), &schema(live)), expected);
    }

    #[test]
    fn schema_differences_name_each_column() {
        use ColumnType::{Long, String as Text};
        check_schema(&[("Friend", Text), ("Age", Long)], &[("Friend", Text), ("Age", Long)], &[]);
        check_schema(
            &[("Friend", Text), ("Age", Long)],
            &[("Friend", Text), ("Age", Text)],
            &["column `Age` is LONG in the folder but STRING in the live DataSet"],
        );
        check_schema(
            &[("Friend", Text), ("Attending", Text)],
            &[("Friend", Text), ("Region", Text)],
            &[
                "column `Attending` (STRING) is not in the live DataSet",
                "column `Region` (STRING) is only in the live DataSet",
            ],
        );
        check_schema(
            &[("Friend", Text), ("Age", Long)],
            &[("Age", Long), ("Friend", Text)],
            &["the columns are in another order: `Friend`, `Age` in the folder, `Age`, `Friend` in the live DataSet"],
        );
        check_schema(&[("Friend", Text)], &[], &["column `Friend` (STRING) is not in the live DataSet"]);
    }

    fn check_target(folder: &str, given: Option<&str>, other: OtherDataset, expected: Result<&str, &str>) {
        let got = target(&DatasetId::from(folder), given, other, Path::new("party/dataset.json"));
        match (got, expected) {
            (Ok(id), Ok(want)) => assert_eq!(id.as_str(), want),
            (Err(e), Err(want)) => assert!(e.to_string().contains(want), "`{want}` not in `{e}`"),
            (got, want) => panic!("{folder} {given:?}: got {got:?}, expected {want:?}"),
        }
    }

    #[test]
    fn the_target_is_the_folders_dataset_unless_another_is_allowed() {
        use OtherDataset::{Allow, Refuse};
        check_target("a1", None, Refuse, Ok("a1"));
        check_target("a1", Some("a1"), Refuse, Ok("a1"));
        check_target("a1", Some("b2"), Allow, Ok("b2"));
        check_target("", Some("b2"), Refuse, Ok("b2"));
        check_target("a1", Some("b2"), Refuse, Err("`party/dataset.json` describes DataSet a1, not b2: refusing"));
        check_target("", None, Refuse, Err("`party/dataset.json` names no DataSet id: give the live one"));
    }

    #[test]
    fn live_problems_name_the_change_and_the_filter() {
        // Built from JSON so that fields added to the wire types later need no change here.
        let live: Dataset = serde_json::from_value(serde_json::json!({"id": "a1", "name": "Party",
            "schema": {"columns": [{"name": "Friend", "type": "STRING"}, {"name": "Age", "type": "LONG"}]}}))
        .unwrap_or_else(|e| unreachable!("{e}"));
        let directory: Directory =
            serde_json::from_value(serde_json::json!({"users": [{"id": 27, "name": "Support"}], "groups": []}))
                .unwrap_or_else(|e| unreachable!("{e}"));
        let filter = |column: &str, value: &str| PolicyFilter {
            column: column.to_owned(),
            values: vec![value.to_owned()],
            operator: FilterOperator::Equals,
            not: false,
        };
        let policy = |filters: Vec<PolicyFilter>, user: u64| Policy {
            id: None,
            policy_type: PolicyType::User,
            name: "P".to_owned(),
            filters,
            users: vec![UserId(user)],
            virtual_users: vec![],
            groups: vec![],
        };
        let good = policy(vec![filter("Age", "30")], 27);
        let bad = policy(vec![filter("Age", "thirty"), filter("Region", "East")], 999);
        let long = policy(vec![filter("Friend", &"x".repeat(300))], 27);
        let written = [
            Written { change: "create `good`".to_owned(), policy: &good },
            Written { change: "update policy 8 `bad`".to_owned(), policy: &bad },
            Written { change: "create `long`".to_owned(), policy: &long },
        ];
        let problems = problems_against_live(&written, &live, &directory);
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert!(problems[0].starts_with("update policy 8 `bad`: user `999` does not exist in the live directory"));
        assert!(problems[1].starts_with("update policy 8 `bad`, filters[0]: "), "{problems:#?}");
        assert!(problems[1].contains("`thirty`"), "{problems:#?}");
        assert!(problems[2].starts_with("update policy 8 `bad`, filters[1]: unknown column `Region`"));
        assert!(problems[3].starts_with("create `long`: the values add up to 301 characters"), "{problems:#?}");
        assert!(problems_against_live(&written[..1], &live, &directory).is_empty());
    }
}
