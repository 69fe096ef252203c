//! One row of the entitlements table read into its parts: the header's columns, operators with `not`, value lists.

use domo_model::FilterOperator;
use domo_model::did_you_mean;

use super::error::{EntitlementField, Problems};
use crate::table::shorten;

/// The text that makes a row add its users and groups to the All Rows policy
/// (in `policy_column`, and in `value` or left empty), as in PDP Automation.
pub(crate) const ALL_ROWS: &str = "All Rows";

/// Where each field is in a record.
#[derive(Debug, Clone, Default)]
pub(crate) struct Header {
    positions: [Option<usize>; EntitlementField::ALL.len()],
    pub(crate) width: usize,
}

impl Header {
    /// Reads the header row's names (ignoring case and surrounding spaces); problems are pushed at line 1.
    pub(crate) fn read(names: &[Option<&str>], dataset_required: bool, problems: &mut Problems) -> Header {
        let mut header = Header { width: names.len(), ..Header::default() };
        let known: Vec<&str> = EntitlementField::ALL
            .iter()
            .flat_map(|f| std::iter::once(f.as_str()).chain(f.aliases().iter().copied()))
            .collect();
        for (position, name) in names.iter().enumerate() {
            let Some(name) = name else {
                problems.push(1, None, format!("header column {} is not UTF-8 text", position + 1));
                continue;
            };
            let name = name.trim();
            let lower = name.to_lowercase();
            let field = EntitlementField::ALL
                .iter()
                .copied()
                .find(|f| f.as_str() == lower || f.aliases().contains(&lower.as_str()));
            let Some(field) = field else {
                let hint = did_you_mean(&lower, known.iter().copied())
                    .map(|k| format!(" (did you mean `{k}`?)"))
                    .unwrap_or_default();
                let also = if lower == "delete_options" {
                    " (generate writes each named DataSet's whole policies.json; `domo pdp plan` shows what it deletes)"
                } else {
                    ""
                };
                problems.push(
                    1,
                    None,
                    format!(
                        "unknown column `{}`{hint}{also}; the columns are {}",
                        shorten(name.as_bytes()),
                        EntitlementField::ALL.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                );
                continue;
            };
            let Some(slot) = header.positions.get_mut(field as usize) else { continue };
            match slot {
                Some(first) => problems.push(
                    1,
                    Some(field),
                    format!("the column appears twice in the header (columns {} and {})", *first + 1, position + 1),
                ),
                None => *slot = Some(position),
            }
        }
        let mut required = vec![
            EntitlementField::PolicyName,
            EntitlementField::PolicyColumn,
            EntitlementField::UserGroup,
            EntitlementField::Value,
        ];
        if dataset_required {
            required.insert(0, EntitlementField::Dataset);
        }
        for field in required {
            if header.position(field).is_none() {
                let why = if field == EntitlementField::Dataset {
                    " (it names the DataSet of each row; with one DataSet folder it may be left out)"
                } else {
                    ""
                };
                problems.push(1, Some(field), format!("the header has no `{field}` column{why}"));
            }
        }
        header
    }

    pub(crate) fn position(&self, field: EntitlementField) -> Option<usize> {
        self.positions.get(field as usize).copied().flatten()
    }
}

/// A row's operator and whether it is negated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Comparison {
    pub(crate) operator: FilterOperator,
    pub(crate) not: bool,
}

/// Reads the `operator` cell (empty: EQUALS) and the `not` cell (empty: false).
///
/// Operators are matched ignoring case, spaces may stand for underscores, and a
/// `NOT ` (or `NOT_`) prefix negates: `not equals`, `NOT_CONTAINS`. Negating twice is an error.
pub(crate) fn comparison(operator: &str, not: &str) -> Result<Comparison, (EntitlementField, String)> {
    let negated = match not.trim().to_lowercase().as_str() {
        "" | "false" | "no" | "0" => false,
        "true" | "yes" | "1" => true,
        _ => {
            return Err((
                EntitlementField::Not,
                format!(
                    "`{}` is not a yes or no: write `true` or `false` (or leave it empty)",
                    shorten(not.as_bytes())
                ),
            ));
        }
    };
    let text = operator.trim();
    if text.is_empty() {
        return Ok(Comparison { operator: FilterOperator::Equals, not: negated });
    }
    let upper = text.to_uppercase().replace([' ', '-'], "_");
    let (prefixed, name) = match upper.strip_prefix("NOT_") {
        Some(rest) => (true, rest.trim_start_matches('_')),
        None => (false, upper.as_str()),
    };
    let parsed = match name {
        "EQUAL" | "EQUALS" | "=" => Some(FilterOperator::Equals),
        other => other.parse::<FilterOperator>().ok(),
    };
    let Some(operator) = parsed else {
        let hint = did_you_mean(name, FilterOperator::ALL.iter().map(|o| o.as_str()))
            .map(|k| format!(" (did you mean `{k}`?)"))
            .unwrap_or_default();
        return Err((
            EntitlementField::Operator,
            format!(
                "unknown operator `{}`{hint}; the operators are {}, each optionally after `NOT `",
                shorten(text.as_bytes()),
                FilterOperator::ALL.iter().map(|o| o.as_str()).collect::<Vec<_>>().join(", ")
            ),
        ));
    };
    if prefixed && negated {
        return Err((
            EntitlementField::Operator,
            format!("`{}` is negated twice (by `NOT` and by the `not` column): negate once", shorten(text.as_bytes())),
        ));
    }
    Ok(Comparison { operator, not: prefixed || negated })
}

/// Whether several values mean "any of them" (the others take one value, BETWEEN two).
pub(crate) fn is_list(operator: FilterOperator) -> bool {
    matches!(
        operator,
        FilterOperator::Equals
            | FilterOperator::Like
            | FilterOperator::BeginsWith
            | FilterOperator::EndsWith
            | FilterOperator::Contains
    )
}

/// Splits the `value` cell: `a|b|c` for the list operators, one value for the
/// comparisons, `low & high` for BETWEEN. Values are kept exactly (no trimming)
/// but BETWEEN's bounds, which the layout writes with spaces around `&`.
pub(crate) fn values(operator: FilterOperator, cell: &str) -> Result<Vec<String>, String> {
    if cell.is_empty() {
        return Err(format!("no value: {operator} needs {}", arity(operator)));
    }
    match operator {
        FilterOperator::Between => {
            if cell.contains('|') {
                return Err(format!(
                    "BETWEEN takes one range `low & high`, not a list (`{}`): write one row per range, each its own policy",
                    shorten(cell.as_bytes())
                ));
            }
            let parts: Vec<&str> = cell.split('&').map(str::trim).collect();
            match parts.as_slice() {
                [low, high] if !low.is_empty() && !high.is_empty() => Ok(vec![(*low).to_owned(), (*high).to_owned()]),
                _ => Err(format!("BETWEEN takes `low & high`, not `{}`", shorten(cell.as_bytes()))),
            }
        }
        op if is_list(op) => {
            let values: Vec<&str> = cell.split('|').collect();
            if let Some(position) = values.iter().position(|v| v.is_empty()) {
                return Err(format!(
                    "value {} of `{}` is empty (values are `|`-separated; an empty one would match only empty cells)",
                    position + 1,
                    shorten(cell.as_bytes())
                ));
            }
            Ok(values.into_iter().map(str::to_owned).collect())
        }
        op => {
            if cell.contains('|') {
                return Err(format!("{op} takes one value, not a list (`{}`)", shorten(cell.as_bytes())));
            }
            Ok(vec![cell.to_owned()])
        }
    }
}

fn arity(operator: FilterOperator) -> &'static str {
    match operator {
        FilterOperator::Between => "`low & high`",
        op if is_list(op) => "one or more values, `|`-separated",
        _ => "one value",
    }
}
