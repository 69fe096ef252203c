//! Shared policies: one policy definition used by many DataSets, each naming the
//! columns its own way. A use expands into an ordinary policy of the DataSet;
//! compiling it against the DataSet's schema then checks types and values.

use std::collections::BTreeSet;

use domo_model::{Policy, PolicyType, PolicyUse, Schema, did_you_mean};

/// Why a use of a shared policy cannot become a policy of a DataSet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SharedPolicyError {
    /// The shared policy carries an id: ids belong to one DataSet's live policy.
    #[error("shared policy `{policy}` has an id: a shared policy is used by many DataSets, remove `id`")]
    HasId {
        /// The shared policy's file stem.
        policy: String,
    },
    /// The shared policy is not a user policy (the All Rows policy is per DataSet).
    #[error("shared policy `{policy}` has type `{policy_type}`: only `user` policies can be shared")]
    NotUserPolicy {
        /// The shared policy's file stem.
        policy: String,
        /// Its type.
        policy_type: String,
    },
    /// A filter reads a column the DataSet lacks (after the mapping).
    #[error(
        "shared policy `{policy}`: filter {filter} reads column `{column}`{}, which this DataSet does not have{}",
        mapped_from.as_ref().map(|from| format!(" (mapped from `{from}`)")).unwrap_or_default(),
        hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default()
    )]
    UnknownColumn {
        /// The shared policy's file stem.
        policy: String,
        /// 0-based filter position in the shared policy.
        filter: usize,
        /// The column looked up in the DataSet.
        column: String,
        /// The shared policy's column, when the use renamed it.
        mapped_from: Option<String>,
        /// A close column name of the DataSet, or a note to add a mapping.
        hint: Option<String>,
    },
    /// The use maps a column no filter of the shared policy reads: a stale or misspelt mapping.
    #[error("the use of shared policy `{policy}` maps column `{column}`, which none of its filters reads{}",
        hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
    UnusedMapping {
        /// The shared policy's file stem.
        policy: String,
        /// The mapped column.
        column: String,
        /// A close column of the shared policy.
        hint: Option<String>,
    },
}

/// The policy a DataSet gets from using `shared` (whose file stem is `use_.policy`):
/// the shared policy's name, members and filters, each filter's column renamed
/// by the use's mapping and checked against `schema`.
///
/// Every problem is returned, not only the first.
///
/// # Errors
/// [`SharedPolicyError`] for each column missing from the DataSet, each unused
/// mapping, an id on the shared policy or a type other than `user`.
pub fn expand_shared(shared: &Policy, use_: &PolicyUse, schema: &Schema) -> Result<Policy, Vec<SharedPolicyError>> {
    let name = &use_.policy;
    let mut problems = Vec::new();
    if shared.id.is_some() {
        problems.push(SharedPolicyError::HasId { policy: name.clone() });
    }
    if shared.policy_type != PolicyType::User {
        problems.push(SharedPolicyError::NotUserPolicy {
            policy: name.clone(),
            policy_type: shared.policy_type.as_str().to_owned(),
        });
    }
    let read: BTreeSet<&str> = shared.filters.iter().map(|f| f.column.as_str()).collect();
    for column in use_.columns.keys() {
        if !read.contains(column.as_str()) {
            let hint = did_you_mean(column, read.iter().copied()).map(|s| format!("did you mean `{s}`?"));
            problems.push(SharedPolicyError::UnusedMapping { policy: name.clone(), column: column.clone(), hint });
        }
    }
    let mut policy = shared.clone();
    for (index, filter) in policy.filters.iter_mut().enumerate() {
        let mapped = use_.columns.get(&filter.column);
        let target = mapped.cloned().unwrap_or_else(|| filter.column.clone());
        if schema.columns.iter().all(|c| c.name != target) {
            let hint = did_you_mean(&target, schema.columns.iter().map(|c| c.name.as_str()))
                .map(|s| format!("did you mean `{s}`? map it in uses.json"))
                .or_else(|| mapped.is_none().then(|| "map it to a column of this DataSet in uses.json".to_owned()));
            problems.push(SharedPolicyError::UnknownColumn {
                policy: name.clone(),
                filter: index,
                column: target.clone(),
                mapped_from: mapped.map(|_| filter.column.clone()),
                hint,
            });
        }
        filter.column = target;
    }
    if problems.is_empty() { Ok(policy) } else { Err(problems) }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use domo_model::{Column, ColumnType, FilterOperator, PolicyFilter};

    use super::*;

    fn shared() -> Policy {
        Policy {
            id: None,
            policy_type: PolicyType::User,
            name: "EMEA".into(),
            filters: vec![PolicyFilter {
                column: "Region".into(),
                values: vec!["EMEA".into()],
                operator: FilterOperator::Equals,
                not: false,
            }],
            users: vec![],
            virtual_users: vec![],
            groups: vec![],
        }
    }

    fn schema(names: &[&str]) -> Schema {
        Schema {
            columns: names.iter().map(|n| Column { column_type: ColumnType::String, name: (*n).into() }).collect(),
        }
    }

    fn use_of(columns: &[(&str, &str)]) -> PolicyUse {
        PolicyUse {
            policy: "emea".into(),
            columns: columns.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn a_use_renames_the_columns_it_maps() {
        let policy = expand_shared(&shared(), &use_of(&[("Region", "Sales Region")]), &schema(&["Sales Region"]));
        assert_eq!(policy.map(|p| p.filters[0].column.clone()), Ok("Sales Region".to_owned()));
    }

    #[test]
    fn a_column_the_dataset_lacks_is_named_with_a_hint() {
        let problems = expand_shared(&shared(), &use_of(&[]), &schema(&["region"])).unwrap_err();
        assert_eq!(
            problems[0].to_string(),
            "shared policy `emea`: filter 0 reads column `Region`, which this DataSet does not have (did you mean \
             `region`? map it in uses.json)"
        );
    }

    #[test]
    fn a_mapping_no_filter_reads_is_an_error() {
        let problems = expand_shared(&shared(), &use_of(&[("Regoin", "Region")]), &schema(&["Region"])).unwrap_err();
        assert_eq!(
            problems[0].to_string(),
            "the use of shared policy `emea` maps column `Regoin`, which none of its filters reads (did you mean \
             `Region`?)"
        );
    }

    #[test]
    fn a_shared_policy_with_an_id_is_refused() {
        let mut policy = shared();
        policy.id = Some(7.into());
        let problems = expand_shared(&policy, &use_of(&[]), &schema(&["Region"])).unwrap_err();
        assert!(problems[0].to_string().contains("has an id"), "{problems:?}");
    }
}
