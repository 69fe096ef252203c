//! The reference evaluator: row by row, straight from the wire types, re-parsing strings every time.
//!
//! Deliberately naive and independent of the engine: dates and datetimes parse
//! with `jiff`, LIKE becomes a regular expression, nothing is cached or indexed.

use std::str::FromStr;

use domo_model::{ColumnType, Dataset, Directory, FilterOperator, GroupId, Policy, PolicyFilter, PolicyType, UserId};
use domo_pdp::{Membership, Reason};
use rust_decimal::Decimal;

/// A cell as the CSV holds it: `None` is an unquoted empty field, `Some("")` a quoted one.
pub(crate) type RawCell = Option<String>;

pub(crate) struct Reference<'a> {
    pub(crate) dataset: &'a Dataset,
    pub(crate) policies: &'a [Policy],
    pub(crate) directory: &'a Directory,
    pub(crate) rows: &'a [Vec<RawCell>],
}

fn parse_date(text: &str) -> Option<jiff::civil::Date> {
    if text.len() != 10 {
        return None;
    }
    jiff::civil::Date::from_str(text).ok()
}

fn parse_datetime(text: &str) -> Option<i128> {
    let has_zone = text.ends_with('Z') || text.get(19..).is_some_and(|rest| rest.contains(['+', '-']));
    if has_zone {
        jiff::Timestamp::from_str(text).ok().map(|t| t.as_nanosecond())
    } else {
        let dt = jiff::civil::DateTime::from_str(text).ok()?;
        jiff::tz::TimeZone::UTC.to_timestamp(dt).ok().map(|t| t.as_nanosecond())
    }
}

fn like_regex(pattern: &str) -> regex::Regex {
    let mut re = String::from("(?s)^");
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => re.push_str(".*"),
            '_' => re.push('.'),
            '\\' => re.push_str(&regex::escape(&chars.next().unwrap_or('\\').to_string())),
            other => re.push_str(&regex::escape(&other.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).unwrap()
}

fn compare<T: PartialOrd>(op: FilterOperator, cell: T, values: &[T]) -> bool {
    match op {
        FilterOperator::Equals => values.contains(&cell),
        FilterOperator::GreaterThan => cell > values[0],
        FilterOperator::LessThan => cell < values[0],
        FilterOperator::GreaterThanEqual => cell >= values[0],
        FilterOperator::LessThanEqual => cell <= values[0],
        FilterOperator::Between => cell >= values[0] && cell <= values[1],
        _ => unreachable!("text operators are handled before"),
    }
}

fn typed<T: PartialOrd>(op: FilterOperator, cell: &str, values: &[String], parse: impl Fn(&str) -> Option<T>) -> bool {
    let cell = parse(cell).expect("generated cells parse");
    let values: Vec<T> = values.iter().map(|v| parse(v).expect("generated values parse")).collect();
    compare(op, cell, &values)
}

/// Whether a filter admits a cell.
pub(crate) fn filter_admits(column_type: ColumnType, filter: &PolicyFilter, cell: &RawCell) -> bool {
    let Some(text) = cell else { return false };
    if column_type != ColumnType::String && text.is_empty() {
        return false;
    }
    let values = &filter.values;
    let result = match filter.operator {
        FilterOperator::Like => values.iter().any(|p| like_regex(p).is_match(text)),
        FilterOperator::BeginsWith => values.iter().any(|v| text.starts_with(v.as_str())),
        FilterOperator::EndsWith => values.iter().any(|v| text.ends_with(v.as_str())),
        FilterOperator::Contains => values.iter().any(|v| text.contains(v.as_str())),
        op => match column_type {
            ColumnType::String => typed(op, text, values, |s| Some(s.to_owned())),
            ColumnType::Long => typed(op, text, values, |s| s.parse::<i64>().ok()),
            ColumnType::Double => typed(op, text, values, |s| s.parse::<f64>().ok()),
            ColumnType::Decimal => typed(op, text, values, |s| Decimal::from_str(s).ok()),
            ColumnType::Date => typed(op, text, values, parse_date),
            ColumnType::Datetime => typed(op, text, values, parse_datetime),
        },
    };
    result != filter.not
}

impl Reference<'_> {
    fn column(&self, name: &str) -> (usize, ColumnType) {
        let index = self.dataset.schema.columns.iter().position(|c| c.name == name).unwrap();
        (index, self.dataset.schema.columns[index].column_type)
    }

    /// The index of the first filter of `policy` that does not admit `row`.
    pub(crate) fn first_failing(&self, policy: &Policy, row: usize) -> Option<usize> {
        policy.filters.iter().position(|f| {
            let (index, column_type) = self.column(&f.column);
            !filter_admits(column_type, f, &self.rows[row][index])
        })
    }

    fn groups_of(&self, user: UserId) -> Vec<GroupId> {
        let mut groups: Vec<GroupId> =
            self.directory.groups.iter().filter(|g| g.user_ids.contains(&user)).map(|g| g.id).collect();
        if let Some(u) = self.directory.user(user) {
            for g in u.groups.iter().flatten() {
                groups.push(g.id);
            }
        }
        groups
    }

    /// The policies that apply to a user (by index) and how.
    pub(crate) fn memberships(&self, user: UserId) -> Vec<(usize, Vec<Membership>)> {
        let groups = self.groups_of(user);
        let mut out = Vec::new();
        for (index, policy) in self.policies.iter().enumerate() {
            let mut via = Vec::new();
            if policy.users.contains(&user) {
                via.push(Membership::Direct);
            }
            for g in &groups {
                if policy.groups.contains(g) && !via.contains(&Membership::Group(*g)) {
                    via.push(Membership::Group(*g));
                }
            }
            if !via.is_empty() {
                out.push((index, via));
            }
        }
        out
    }

    pub(crate) fn reason(&self, user: UserId) -> Reason {
        if !self.dataset.pdp_enabled || self.policies.is_empty() {
            return Reason::PdpDisabled;
        }
        if self.dataset.owner.as_ref().is_some_and(|o| o.id == user) {
            return Reason::Owner;
        }
        if self.directory.user(user).is_some_and(|u| u.is_admin()) {
            return Reason::Admin;
        }
        let memberships = self.memberships(user);
        if memberships.iter().any(|(p, _)| {
            let policy = &self.policies[*p];
            policy.policy_type == PolicyType::Open || policy.filters.is_empty()
        }) {
            return Reason::AllRows;
        }
        if memberships.is_empty() { Reason::NoPolicy } else { Reason::Policies }
    }

    /// Whether a policy admits a row (filters only).
    pub(crate) fn policy_admits(&self, policy: &Policy, row: usize) -> bool {
        policy.policy_type == PolicyType::Open || self.first_failing(policy, row).is_none()
    }

    pub(crate) fn sees(&self, user: UserId, row: usize) -> bool {
        match self.reason(user) {
            Reason::Policies => self.memberships(user).iter().any(|(p, _)| self.policy_admits(&self.policies[*p], row)),
            Reason::NoPolicy => false,
            _ => true,
        }
    }

    pub(crate) fn visible_rows(&self, user: UserId) -> Vec<usize> {
        (0..self.rows.len()).filter(|&row| self.sees(user, row)).collect()
    }

    pub(crate) fn viewers(&self, row: usize) -> Vec<UserId> {
        self.directory.users.iter().map(|u| u.id).filter(|&u| self.sees(u, row)).collect()
    }
}
