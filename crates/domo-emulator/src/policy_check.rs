//! Whether a policy can apply to a DataSet and directory, checked before it is kept (create, update, DataSet writes).

use domo_model::{Directory, FilterOperator, Policy, Schema};

use crate::csv_check::cell_fits;

/// Whether a policy can apply to this DataSet and directory: its columns exist,
/// each operator has the number of values it takes, the values parse by the
/// column's type, its values stay under Domo's length limit, and the users and
/// groups it names exist. The message says which filter or member is wrong.
pub(crate) fn check_policy(schema: &Schema, directory: &Directory, policy: &Policy) -> Result<(), String> {
    if policy.name.trim().is_empty() {
        return Err("a policy needs a name".to_owned());
    }
    for (index, filter) in policy.filters.iter().enumerate() {
        let at = index + 1;
        let Some(column) = schema.columns.iter().find(|c| c.name == filter.column) else {
            return Err(format!("filter {at}: column `{}` does not exist in the DataSet", filter.column));
        };
        let count = filter.values.len();
        let op = filter.operator;
        match op {
            FilterOperator::GreaterThan
            | FilterOperator::LessThan
            | FilterOperator::GreaterThanEqual
            | FilterOperator::LessThanEqual
                if count != 1 =>
            {
                return Err(format!("filter {at}: {op} takes exactly one value, got {count}"));
            }
            FilterOperator::Between if count != 2 => {
                return Err(format!("filter {at}: BETWEEN takes exactly two values, got {count}"));
            }
            _ if count == 0 => return Err(format!("filter {at}: {op} needs at least one value")),
            _ => {}
        }
        let textual = matches!(
            op,
            FilterOperator::Like | FilterOperator::BeginsWith | FilterOperator::EndsWith | FilterOperator::Contains
        );
        if !textual && let Some(bad) = filter.values.iter().find(|v| !cell_fits(column.column_type, v)) {
            return Err(format!(
                "filter {at}: value `{bad}` is not a valid {} for column `{}`",
                column.column_type, column.name
            ));
        }
    }
    let len = policy.values_len();
    if len >= Policy::MAX_VALUES_LEN {
        return Err(format!(
            "the filter values take {len} characters with separators; Domo allows fewer than {}",
            Policy::MAX_VALUES_LEN
        ));
    }
    if let Some(user) = policy.users.iter().find(|u| directory.user(**u).is_none()) {
        return Err(format!("user {user} does not exist"));
    }
    if let Some(group) = policy.groups.iter().find(|g| directory.group(**g).is_none()) {
        return Err(format!("group {group} does not exist"));
    }
    crate::pdp::compile_one(schema, directory, policy)
}
