//! Rows merged into policies: each row checked against its DataSet's schema, rows of one policy merged, each DataSet's policies compiled.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use domo_model::{ColumnType, Dataset, Directory, FilterOperator, Policy, PolicyFilter, PolicyType, did_you_mean};

use super::error::{EntitlementField, GeneratePoliciesError, Problems};
use super::members::{Member, Members};
use super::row::{self, ALL_ROWS, Comparison, Header};
use super::{Generated, GeneratedDataset};
use crate::compile::{DiagnosticCode, PolicySet};
use crate::csv_split::Fields;
use crate::table::{Value, shorten};

/// How a DataSet's column may be filtered.
#[derive(Debug, Clone, Copy)]
enum ColumnLookup {
    Typed(ColumnType),
    /// The schema holds the name twice.
    Ambiguous,
}

/// A policy's identity while rows are merged: its DataSet and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct PolicyKey {
    dataset: usize,
    name: String,
}

/// One filter of a policy while rows are merged.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct FilterKey {
    column: String,
    operator: FilterOperator,
    not: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Values {
    /// "Any of": the rows' values unioned, sorted.
    Any(BTreeSet<String>),
    /// One value, or BETWEEN's two: every row must give the same.
    Fixed(Vec<String>),
}

#[derive(Debug, Clone)]
struct FilterAcc {
    values: Values,
    first_line: u64,
}

/// The filters that the rows of one member set give a policy.
#[derive(Debug, Clone, Default)]
struct FilterSet {
    first_line: u64,
    filters: BTreeMap<FilterKey, FilterAcc>,
}

impl FilterSet {
    fn same_filters(&self, other: &FilterSet) -> bool {
        self.filters.len() == other.filters.len()
            && self.filters.iter().zip(&other.filters).all(|((ka, a), (kb, b))| ka == kb && a.values == b.values)
    }
}

#[derive(Debug, Default)]
struct PolicyAcc {
    all_rows_line: Option<u64>,
    filter_line: Option<u64>,
    /// By member set.
    groups: HashMap<u32, FilterSet>,
}

pub(super) struct Builder<'a> {
    datasets: &'a [&'a Dataset],
    by_id: HashMap<&'a str, usize>,
    columns: Vec<HashMap<&'a str, ColumnLookup>>,
    directory: &'a Directory,
    members: Members<'a>,
    pub(super) one: bool,
    policies: HashMap<PolicyKey, PolicyAcc>,
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
            policies: HashMap::new(),
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
        self.merge(line, PolicyKey { dataset, name: name.to_owned() }, members, filter);
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
    fn merge(&mut self, line: u64, key: PolicyKey, members: u32, filter: Option<(FilterKey, Vec<String>)>) {
        let policy = self.policies.entry(key).or_default();
        let set =
            policy.groups.entry(members).or_insert_with(|| FilterSet { first_line: line, filters: BTreeMap::new() });
        let Some((key, values)) = filter else {
            policy.all_rows_line.get_or_insert(line);
            return;
        };
        policy.filter_line.get_or_insert(line);
        let list = row::is_list(key.operator);
        match set.filters.get_mut(&key) {
            None => {
                let values = if list { Values::Any(values.into_iter().collect()) } else { Values::Fixed(values) };
                set.filters.insert(key, FilterAcc { values, first_line: line });
            }
            Some(existing) => match &mut existing.values {
                Values::Any(all) => all.extend(values),
                Values::Fixed(fixed) if *fixed == values => {}
                Values::Fixed(fixed) => {
                    let first = existing.first_line;
                    let shown = |v: &[String]| {
                        v.iter().map(|s| format!("`{}`", shorten(s.as_bytes()))).collect::<Vec<_>>().join(" & ")
                    };
                    let message = format!(
                        "conflicts with line {first}: both give the same users `{}` {}{} in one policy, line {first} with {} and this line with {} (a policy's filters are ANDed; use two policy names for two ranges)",
                        shorten(key.column.as_bytes()),
                        if key.not { "NOT " } else { "" },
                        key.operator,
                        shown(fixed),
                        shown(&values),
                    );
                    self.problems.push(line, Some(EntitlementField::Value), message);
                }
            },
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
        let mut keys: Vec<PolicyKey> = self.policies.keys().cloned().collect();
        keys.sort();
        let mut out: BTreeMap<usize, Vec<(Policy, Provenance)>> = BTreeMap::new();
        for key in keys {
            let Some(policy) = self.policies.get(&key) else { continue };
            if let Some(built) = build_policy(&key, policy, self.datasets, &self.members, &mut self.problems) {
                out.entry(key.dataset).or_default().push(built);
            }
        }
        let mut generated = Vec::new();
        for (dataset, built) in out {
            let Some(ds) = self.datasets.get(dataset) else { continue };
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

/// The lines a generated policy and each of its filters come from.
#[derive(Debug, Clone)]
struct Provenance {
    line: u64,
    filters: Vec<u64>,
}

/// One policy from its merged rows, or `None` (with problems pushed) when its rows disagree.
fn build_policy(
    key: &PolicyKey,
    policy: &PolicyAcc,
    datasets: &[&Dataset],
    members: &Members<'_>,
    problems: &mut Problems,
) -> Option<(Policy, Provenance)> {
    let name = shorten(key.name.as_bytes());
    let dataset = datasets.get(key.dataset).map_or("", |d| d.id.as_str());
    let of = if datasets.len() > 1 { format!(" of DataSet `{}`", shorten(dataset.as_bytes())) } else { String::new() };
    if let (Some(all), Some(filter)) = (policy.all_rows_line, policy.filter_line) {
        let (first, later, what) = if all < filter {
            (all, filter, "makes it the All Rows policy, and this line gives it a filter")
        } else {
            (filter, all, "gives it a filter, and this line makes it the All Rows policy")
        };
        problems.push(
            later,
            None,
            format!(
                "policy `{name}`{of}: line {first} {what} (the All Rows policy shows every row and has no filters)"
            ),
        );
        return None;
    }
    let mut groups: Vec<(&u32, &FilterSet)> = policy.groups.iter().collect();
    groups.sort_by_key(|(_, set)| set.first_line);
    let (_, reference) = groups.first()?;
    let mut ok = true;
    for (_, set) in groups.iter().skip(1) {
        if !set.same_filters(reference) {
            problems.push(
                set.first_line,
                None,
                format!(
                    "policy `{name}`{of}: this line's users and groups get {}, but line {}'s get {}; a policy's filters apply to all its members, so give them different policy names",
                    describe(set),
                    reference.first_line,
                    describe(reference)
                ),
            );
            ok = false;
        }
    }
    if !ok {
        return None;
    }
    let mut all: BTreeSet<Member> = BTreeSet::new();
    for (set, _) in &groups {
        all.extend(members.set(**set).iter().copied());
    }
    let users = all.iter().filter_map(|m| if let Member::User(id) = m { Some(*id) } else { None }).collect();
    let group_ids = all.iter().filter_map(|m| if let Member::Group(id) = m { Some(*id) } else { None }).collect();
    let filters: Vec<PolicyFilter> = reference
        .filters
        .iter()
        .map(|(key, acc)| PolicyFilter {
            column: key.column.clone(),
            values: match &acc.values {
                Values::Any(set) => set.iter().cloned().collect(),
                Values::Fixed(fixed) => fixed.clone(),
            },
            operator: key.operator,
            not: key.not,
        })
        .collect();
    let provenance = Provenance {
        line: reference.first_line,
        filters: reference.filters.values().map(|acc| acc.first_line).collect(),
    };
    let policy_type = if policy.all_rows_line.is_some() { PolicyType::Open } else { PolicyType::User };
    let policy = Policy {
        id: None,
        policy_type,
        name: key.name.clone(),
        filters,
        users,
        virtual_users: Vec::new(),
        groups: group_ids,
    };
    Some((policy, provenance))
}

/// A filter set in words: `Region EQUALS East|West and Amount LESS_THAN 10`.
fn describe(set: &FilterSet) -> String {
    if set.filters.is_empty() {
        return "every row (All Rows)".to_owned();
    }
    set.filters
        .iter()
        .map(|(key, acc)| {
            let values: Vec<&str> = match &acc.values {
                Values::Any(all) => all.iter().map(String::as_str).collect(),
                Values::Fixed(fixed) => fixed.iter().map(String::as_str).collect(),
            };
            let joiner = if key.operator == FilterOperator::Between { " & " } else { "|" };
            format!(
                "`{}` {}{} `{}`",
                shorten(key.column.as_bytes()),
                if key.not { "NOT " } else { "" },
                key.operator,
                shorten(values.join(joiner).as_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Compiles one DataSet's generated policies, the engine's own check; each error
/// and each warning that would make the policy wrong or refused is a problem at
/// the line the policy or filter comes from.
fn compile_check(
    dataset: &Dataset,
    policies: &[Policy],
    provenance: &[Provenance],
    directory: &Directory,
    problems: &mut Problems,
) {
    // Compiled against the users and groups the policies name, not the whole directory: compiling
    // copies its directory, and a thousand DataSets would copy ten thousand users each.
    let named = named_members(policies, directory);
    let (errors, warnings) = match PolicySet::compile(dataset, policies, &named) {
        Ok(set) => (Vec::new(), set.warnings().to_vec()),
        Err(error) => (error.errors, error.warnings),
    };
    let fatal_warning = |code: DiagnosticCode| {
        matches!(
            code,
            DiagnosticCode::BetweenReversed
                | DiagnosticCode::ValuesTooLong
                | DiagnosticCode::UnknownUser
                | DiagnosticCode::UnknownGroup
        )
    };
    for diagnostic in errors.iter().chain(warnings.iter().filter(|w| fatal_warning(w.code))) {
        let from = diagnostic.policy_index.and_then(|i| provenance.get(i));
        let line = match (from, diagnostic.filter_index) {
            (Some(p), Some(f)) => p.filters.get(f).copied().unwrap_or(p.line),
            (Some(p), None) => p.line,
            (None, _) => 1,
        };
        let hint = if diagnostic.code == DiagnosticCode::ValuesTooLong {
            " (split the policy: fewer values each)"
        } else {
            ""
        };
        problems.push(line, None, format!("DataSet `{}`, {diagnostic}{hint}", shorten(dataset.id.as_str().as_bytes())));
    }
}

/// The directory's entries for the users and groups `policies` name (groups without their members).
fn named_members(policies: &[Policy], directory: &Directory) -> Directory {
    let users: BTreeSet<_> = policies.iter().flat_map(|p| &p.users).copied().collect();
    let groups: BTreeSet<_> = policies.iter().flat_map(|p| &p.groups).copied().collect();
    Directory {
        users: directory.users.iter().filter(|u| users.contains(&u.id)).cloned().collect(),
        groups: directory
            .groups
            .iter()
            .filter(|g| groups.contains(&g.id))
            .map(|g| domo_model::DirectoryGroup { id: g.id, name: g.name.clone(), user_ids: Vec::new() })
            .collect(),
        roles: Vec::new(),
    }
}
