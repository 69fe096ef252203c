//! Rows merged into policies: each row checked against its DataSet's schema and kept per member of its policy.

mod policy;

use std::collections::HashMap;

use domo_model::{ColumnType, Dataset, Directory, FilterOperator, Policy, did_you_mean};

use super::error::{EntitlementField, GeneratePoliciesError, Problems};
use super::members::{Member, Members};
use super::row::{self, ALL_ROWS, Comparison, Header};
use super::{Generated, GeneratedDataset};
use crate::csv_split::Fields;
use crate::table::{Value, shorten};
use policy::{Context, Provenance, build_policy, compile_check};

/// How a DataSet's column may be filtered.
#[derive(Debug, Clone, Copy)]
enum ColumnLookup {
    Typed(ColumnType),
    /// The schema holds the name twice.
    Ambiguous,
}

/// One filter of a policy: its column, operator and negation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct FilterKey {
    column: String,
    operator: FilterOperator,
    not: bool,
}

/// No value (the second slot of a one-value filter), or no filter (an All Rows row).
const NONE: u32 = u32::MAX;

/// What one row says about one member of a policy: one value of a list filter, or
/// the whole value list of the others (ids into the builder's tables), at a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    member: Member,
    filter: u32,
    values: [u32; 2],
    line: u64,
}

/// A policy's rows while they are read: a few bytes per member and value.
#[derive(Debug, Default)]
struct PolicyAcc {
    all_rows_line: Option<u64>,
    filter_line: Option<u64>,
    entries: Vec<Entry>,
}

/// The interned filters and values that entries point into.
#[derive(Debug, Default)]
struct Interned {
    filters: Vec<FilterKey>,
    filter_ids: HashMap<String, Vec<(FilterOperator, bool, u32)>>,
    values: Vec<String>,
    value_ids: HashMap<String, u32>,
}

impl Interned {
    fn filter(&mut self, key: FilterKey) -> u32 {
        if let Some(found) = self.filter_ids.get(&key.column).and_then(|all| {
            all.iter().find(|(op, not, _)| *op == key.operator && *not == key.not).map(|(_, _, id)| *id)
        }) {
            return found;
        }
        let id = u32::try_from(self.filters.len()).unwrap_or(NONE);
        self.filter_ids.entry(key.column.clone()).or_default().push((key.operator, key.not, id));
        self.filters.push(key);
        id
    }

    fn value(&mut self, value: String) -> u32 {
        if let Some(&id) = self.value_ids.get(&value) {
            return id;
        }
        let id = u32::try_from(self.values.len()).unwrap_or(NONE);
        self.values.push(value.clone());
        self.value_ids.insert(value, id);
        id
    }

    fn key(&self, filter: u32) -> Option<&FilterKey> {
        self.filters.get(filter as usize)
    }

    fn text(&self, value: u32) -> &str {
        self.values.get(value as usize).map_or("", String::as_str)
    }
}

pub(super) struct Builder<'a> {
    datasets: &'a [&'a Dataset],
    by_id: HashMap<&'a str, usize>,
    columns: Vec<HashMap<&'a str, ColumnLookup>>,
    directory: &'a Directory,
    members: Members<'a>,
    pub(super) one: bool,
    /// Per DataSet, by name.
    policies: Vec<HashMap<String, PolicyAcc>>,
    interned: Interned,
    pub(super) problems: Problems,
    rows: u64,
    skipped: u64,
}

impl<'a> Builder<'a> {
    pub(super) fn new(datasets: &'a [&'a Dataset], directory: &'a Directory, one: bool) -> Self {
        let by_id = datasets.iter().enumerate().map(|(i, d)| (d.id.as_str(), i)).collect();
        let columns = datasets
            .iter()
            .map(|d| {
                let mut map = HashMap::new();
                for column in &d.schema.columns {
                    map.entry(column.name.as_str())
                        .and_modify(|c| *c = ColumnLookup::Ambiguous)
                        .or_insert(ColumnLookup::Typed(column.column_type));
                }
                map
            })
            .collect();
        Self {
            datasets,
            by_id,
            columns,
            directory,
            members: Members::new(directory),
            one,
            policies: datasets.iter().map(|_| HashMap::new()).collect(),
            interned: Interned::default(),
            problems: Problems::default(),
            rows: 0,
            skipped: 0,
        }
    }

    pub(super) fn into_error(self) -> GeneratePoliciesError {
        self.problems.into_error().unwrap_or(GeneratePoliciesError::Empty)
    }

    /// Reads one row; problems are pushed and the row is left out.
    pub(super) fn row(&mut self, line: u64, header: &Header, fields: &Fields) {
        if (0..fields.len()).all(|i| fields.get(i).is_some_and(|(b, _)| b.is_empty())) {
            return;
        }
        self.rows += 1;
        if fields.len() != header.width {
            self.problems.push(
                line,
                None,
                format!("the row has {} fields, the header has {}", fields.len(), header.width),
            );
            return;
        }
        let mut bad = false;
        let mut cell = |field: EntitlementField| -> &str {
            let Some(position) = header.position(field) else { return "" };
            let bytes = fields.get(position).map_or(&[][..], |(b, _)| b);
            match std::str::from_utf8(bytes) {
                Ok(text) => text,
                Err(_) => {
                    self.problems.push(line, Some(field), format!("not UTF-8 text (`{}`)", shorten(bytes)));
                    bad = true;
                    ""
                }
            }
        };
        let dataset_cell = cell(EntitlementField::Dataset).trim();
        let name = cell(EntitlementField::PolicyName).trim();
        let column = cell(EntitlementField::PolicyColumn).trim();
        let user_group = cell(EntitlementField::UserGroup);
        let operator = cell(EntitlementField::Operator);
        let not = cell(EntitlementField::Not);
        let value = cell(EntitlementField::Value);
        if bad {
            return;
        }
        let dataset = if self.one {
            let only = self.datasets.first().map_or("", |d| d.id.as_str());
            if !dataset_cell.is_empty() && dataset_cell != only {
                self.skipped += 1;
                return;
            }
            0
        } else if dataset_cell.is_empty() {
            self.problems.push(line, Some(EntitlementField::Dataset), "no DataSet id".to_owned());
            return;
        } else {
            match self.by_id.get(dataset_cell) {
                Some(&index) => index,
                None => {
                    self.problems.push(
                        line,
                        Some(EntitlementField::Dataset),
                        format!(
                            "DataSet `{}` is not in the tree (no folder `datasets/{}` with a dataset.json)",
                            shorten(dataset_cell.as_bytes()),
                            shorten(dataset_cell.as_bytes())
                        ),
                    );
                    return;
                }
            }
        };
        if name.is_empty() {
            self.problems.push(line, Some(EntitlementField::PolicyName), "no policy name".to_owned());
            bad = true;
        }
        let members = match self.members.resolve(user_group) {
            Ok(set) => Some(set),
            Err(problems) => {
                for problem in problems {
                    self.problems.push(line, Some(EntitlementField::UserGroup), problem);
                }
                None
            }
        };
        let filter = if column.eq_ignore_ascii_case(ALL_ROWS) {
            self.all_rows_row(line, operator, not, value)
        } else {
            self.filter_row(line, dataset, column, operator, not, value)
        };
        let (Some(members), Some(filter), false) = (members, filter, bad) else { return };
        self.merge(line, dataset, name, members, filter);
    }

    /// A row that adds its members to the All Rows policy: `value` is `All Rows` or empty, no operator.
    fn all_rows_row(
        &mut self,
        line: u64,
        operator: &str,
        not: &str,
        value: &str,
    ) -> Option<Option<(FilterKey, Vec<String>)>> {
        let mut ok = true;
        if !value.trim().is_empty() && !value.trim().eq_ignore_ascii_case(ALL_ROWS) {
            self.problems.push(
                line,
                Some(EntitlementField::Value),
                format!(
                    "`{}` with policy_column `{ALL_ROWS}`: an All Rows row shows every row and takes no value (write `{ALL_ROWS}` or leave it empty)",
                    shorten(value.as_bytes())
                ),
            );
            ok = false;
        }
        if !operator.trim().is_empty() || !not.trim().is_empty() {
            self.problems.push(
                line,
                Some(EntitlementField::Operator),
                "an All Rows row shows every row and takes no operator or `not`".to_owned(),
            );
            ok = false;
        }
        ok.then_some(None)
    }

    /// A filter row, checked against the DataSet's schema.
    fn filter_row(
        &mut self,
        line: u64,
        dataset: usize,
        column: &str,
        operator: &str,
        not: &str,
        value: &str,
    ) -> Option<Option<(FilterKey, Vec<String>)>> {
        let comparison = match row::comparison(operator, not) {
            Ok(c) => Some(c),
            Err((field, message)) => {
                self.problems.push(line, Some(field), message);
                None
            }
        };
        let column_type = if column.is_empty() {
            self.problems.push(
                line,
                Some(EntitlementField::PolicyColumn),
                format!("no column (name a column of the DataSet, or `{ALL_ROWS}`)"),
            );
            None
        } else {
            match self.columns.get(dataset).and_then(|c| c.get(column)) {
                Some(ColumnLookup::Typed(t)) => Some(*t),
                Some(ColumnLookup::Ambiguous) => {
                    self.problems.push(
                        line,
                        Some(EntitlementField::PolicyColumn),
                        format!("column `{}` appears more than once in the DataSet's schema, so a filter on it is ambiguous", shorten(column.as_bytes())),
                    );
                    None
                }
                None => {
                    let dataset = self.datasets.get(dataset);
                    let hint = dataset
                        .and_then(|d| did_you_mean(column, d.schema.columns.iter().map(|c| c.name.as_str())))
                        .map(|name| format!(" (did you mean `{name}`?)"))
                        .unwrap_or_default();
                    self.problems.push(
                        line,
                        Some(EntitlementField::PolicyColumn),
                        format!(
                            "DataSet `{}` has no column `{}`{hint}",
                            shorten(dataset.map_or("", |d| d.id.as_str()).as_bytes()),
                            shorten(column.as_bytes())
                        ),
                    );
                    None
                }
            }
        };
        // A bad operator leaves the values unread, but the column is still checked: one run, every problem.
        let Comparison { operator, not } = comparison?;
        let values = match row::values(operator, value) {
            Ok(values) => Some(values),
            Err(message) => {
                self.problems.push(line, Some(EntitlementField::Value), message);
                None
            }
        };
        let (Some(column_type), Some(values)) = (column_type, values) else { return None };
        let text_operator = matches!(
            operator,
            FilterOperator::Like | FilterOperator::BeginsWith | FilterOperator::EndsWith | FilterOperator::Contains
        );
        if text_operator && column_type != ColumnType::String {
            self.problems.push(
                line,
                Some(EntitlementField::Operator),
                format!("{operator} reads text, and column `{}` is {column_type}", shorten(column.as_bytes())),
            );
            return None;
        }
        if column_type != ColumnType::String {
            for value in &values {
                if let Err(error) = Value::parse(column_type, value) {
                    self.problems.push(
                        line,
                        Some(EntitlementField::Value),
                        format!("column `{}`: {error}", shorten(column.as_bytes())),
                    );
                    return None;
                }
            }
        }
        Some(Some((FilterKey { column: column.to_owned(), operator, not }, values)))
    }

    /// Adds a checked row to its policy: `None` for an All Rows row.
    fn merge(&mut self, line: u64, dataset: usize, name: &str, members: u32, filter: Option<(FilterKey, Vec<String>)>) {
        let filter = filter.map(|(key, values)| {
            let list = row::is_list(key.operator);
            let id = self.interned.filter(key);
            let ids: Vec<u32> = values.into_iter().map(|v| self.interned.value(v)).collect();
            (id, list, ids)
        });
        let Some(by_name) = self.policies.get_mut(dataset) else { return };
        let policy = match by_name.get_mut(name) {
            Some(policy) => policy,
            None => by_name.entry(name.to_owned()).or_default(),
        };
        let members = self.members.set(members);
        match filter {
            None => {
                policy.all_rows_line.get_or_insert(line);
                for &member in members {
                    policy.entries.push(Entry { member, filter: NONE, values: [NONE, NONE], line });
                }
            }
            Some((filter, list, ids)) => {
                policy.filter_line.get_or_insert(line);
                for &member in members {
                    if list {
                        for &value in &ids {
                            policy.entries.push(Entry { member, filter, values: [value, NONE], line });
                        }
                    } else {
                        let values = [ids.first().copied().unwrap_or(NONE), ids.get(1).copied().unwrap_or(NONE)];
                        policy.entries.push(Entry { member, filter, values, line });
                    }
                }
            }
        }
    }

    /// Checks each policy as a whole, builds it, and compiles each DataSet's policies.
    pub(super) fn finish(mut self) -> Result<Generated, GeneratePoliciesError> {
        if self.rows == 0 {
            self.problems.push(1, None, "the table has no rows: nothing to generate".to_owned());
        } else if self.one && self.rows == self.skipped {
            let id = self.datasets.first().map_or("", |d| d.id.as_str());
            self.problems.push(
                1,
                Some(EntitlementField::Dataset),
                format!("no row is for DataSet `{}`: nothing to generate", shorten(id.as_bytes())),
            );
        }
        let mut generated = Vec::new();
        let all = std::mem::take(&mut self.policies);
        for (dataset, by_name) in all.into_iter().enumerate() {
            let Some(ds) = self.datasets.get(dataset) else { continue };
            if by_name.is_empty() {
                continue;
            }
            let mut named: Vec<(String, PolicyAcc)> = by_name.into_iter().collect();
            named.sort_by(|a, b| a.0.cmp(&b.0));
            let context = Context {
                dataset: ds,
                many: self.datasets.len() > 1,
                members: &self.members,
                interned: &self.interned,
            };
            let built: Vec<(Policy, Provenance)> = named
                .into_iter()
                .filter_map(|(name, policy)| build_policy(&context, name, policy, &mut self.problems))
                .collect();
            let (policies, provenance): (Vec<Policy>, Vec<Provenance>) = built.into_iter().unzip();
            compile_check(ds, &policies, &provenance, self.directory, &mut self.problems);
            generated.push(GeneratedDataset { id: ds.id.clone(), policies });
        }
        if let Some(error) = self.problems.into_error() {
            return Err(error);
        }
        generated.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
        Ok(Generated { datasets: generated, rows: self.rows, skipped: self.skipped })
    }
}
