//! Compiled filters: values parsed by column type, and the test each applies to one non-NULL cell.

use domo_model::{ColumnType, FilterOperator, PolicyFilter};
use rust_decimal::Decimal;

use crate::like::LikePattern;
use crate::parse;
use crate::table::{Cell, format_hint, shorten};

/// An order comparison with one bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Gt,
    Lt,
    Ge,
    Le,
}

impl Cmp {
    fn holds<T: PartialOrd>(self, cell: &T, bound: &T) -> bool {
        match self {
            Cmp::Gt => cell > bound,
            Cmp::Lt => cell < bound,
            Cmp::Ge => cell >= bound,
            Cmp::Le => cell <= bound,
        }
    }
}

/// A test on an ordered value (numbers, dates, and strings in byte order).
#[derive(Debug, Clone)]
pub(crate) enum OrdTest<T> {
    AnyOf(Vec<T>),
    Cmp(Cmp, T),
    Between(T, T),
}

impl<T: PartialOrd> OrdTest<T> {
    pub(crate) fn test(&self, cell: &T) -> bool {
        match self {
            OrdTest::AnyOf(values) => values.iter().any(|v| v == cell),
            OrdTest::Cmp(cmp, bound) => cmp.holds(cell, bound),
            OrdTest::Between(low, high) => cell >= low && cell <= high,
        }
    }
}

/// A text test on a STRING cell.
#[derive(Debug, Clone)]
pub(crate) enum TextTest {
    Like(Vec<LikePattern>),
    BeginsWith(Vec<String>),
    EndsWith(Vec<String>),
    Contains(Vec<String>),
}

/// What a filter tests, by column type.
#[derive(Debug, Clone)]
pub(crate) enum Test {
    String(OrdTest<String>),
    Text(TextTest),
    Long(OrdTest<i64>),
    Double(OrdTest<f64>),
    Decimal(OrdTest<Decimal>),
    Date(OrdTest<i32>),
    Datetime(OrdTest<i128>),
}

impl Test {
    /// The filter's test on a STRING cell, before `not`.
    pub(crate) fn test_str(&self, cell: &str) -> bool {
        match self {
            Test::String(t) => match t {
                OrdTest::AnyOf(values) => values.iter().any(|v| v == cell),
                OrdTest::Cmp(cmp, bound) => cmp.holds(&cell, &bound.as_str()),
                OrdTest::Between(low, high) => cell >= low.as_str() && cell <= high.as_str(),
            },
            Test::Text(TextTest::Like(patterns)) => patterns.iter().any(|p| p.matches(cell)),
            Test::Text(TextTest::BeginsWith(values)) => values.iter().any(|v| cell.starts_with(v.as_str())),
            Test::Text(TextTest::EndsWith(values)) => values.iter().any(|v| cell.ends_with(v.as_str())),
            Test::Text(TextTest::Contains(values)) => values.iter().any(|v| cell.contains(v.as_str())),
            _ => false,
        }
    }

    /// Whether a typed cell passes the filter, `not` included; NULL never passes.
    pub(crate) fn passes(&self, cell: &Cell<'_>, not: bool) -> bool {
        let result = match (self, cell) {
            (_, Cell::Null) => return false,
            (Test::String(_) | Test::Text(_), Cell::Str(s)) => self.test_str(s),
            (Test::Long(t), Cell::Long(v)) => t.test(v),
            (Test::Double(t), Cell::Double(v)) => t.test(v),
            (Test::Decimal(t), Cell::Decimal(v)) => t.test(v),
            (Test::Date(t), Cell::Date(v)) => t.test(v),
            (Test::Datetime(t), Cell::Datetime(v)) => t.test(v),
            _ => return false,
        };
        result != not
    }
}

/// A filter compiled against the schema.
///
/// Two compiled filters are equal when they read the same column of the same
/// type with the same filter as written (operator, values, `not`): compiled
/// against one schema, such filters admit the same rows. They hash and order
/// by the same parts, so that equal filters can be found without comparing
/// their text.
#[derive(Debug, Clone)]
pub struct CompiledFilter {
    pub(crate) column: usize,
    pub(crate) column_type: ColumnType,
    pub(crate) filter: PolicyFilter,
    pub(crate) test: Test,
}

impl CompiledFilter {
    /// What equality, hashing and ordering look at.
    fn identity(&self) -> (usize, ColumnType, &PolicyFilter) {
        (self.column, self.column_type, &self.filter)
    }
}

impl PartialEq for CompiledFilter {
    fn eq(&self, other: &Self) -> bool {
        self.identity() == other.identity()
    }
}

impl Eq for CompiledFilter {}

impl std::hash::Hash for CompiledFilter {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.identity().hash(state);
    }
}

impl PartialOrd for CompiledFilter {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for CompiledFilter {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.identity().cmp(&other.identity())
    }
}

impl CompiledFilter {
    /// The index of the column the filter reads, in schema order.
    pub fn column(&self) -> usize {
        self.column
    }

    /// The column's type.
    pub fn column_type(&self) -> ColumnType {
        self.column_type
    }

    /// The filter as written in the policy.
    pub fn source(&self) -> &PolicyFilter {
        &self.filter
    }

    /// Whether the filter is negated.
    pub fn not(&self) -> bool {
        self.filter.not
    }

    /// The operator.
    pub fn operator(&self) -> FilterOperator {
        self.filter.operator
    }
}

/// Why a filter does not compile, before the policy and filter are named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FilterProblem {
    EmptyValues,
    ValueCount { expected: &'static str, found: usize },
    TextOperatorOnNonString,
    BadValue { value: String },
}

impl FilterProblem {
    pub(crate) fn message(&self, filter: &PolicyFilter, column_type: ColumnType) -> String {
        match self {
            FilterProblem::EmptyValues => format!("`{}` has no values", filter.operator),
            FilterProblem::ValueCount { expected, found } => {
                format!("`{}` takes {expected}, found {found}", filter.operator)
            }
            FilterProblem::TextOperatorOnNonString => format!(
                "`{}` applies to STRING columns only; `{}` is {column_type}",
                filter.operator,
                shorten(filter.column.as_bytes())
            ),
            FilterProblem::BadValue { value } => format!(
                "`{}` is not a valid {column_type} for column `{}`{}",
                shorten(value.as_bytes()),
                shorten(filter.column.as_bytes()),
                format_hint(column_type)
            ),
        }
    }
}

fn parse_all<T>(values: &[String], parse: impl Fn(&[u8]) -> Option<T>) -> Result<Vec<T>, FilterProblem> {
    values.iter().map(|v| parse(v.as_bytes()).ok_or_else(|| FilterProblem::BadValue { value: v.clone() })).collect()
}

fn ord_test<T: Clone>(operator: FilterOperator, values: Vec<T>) -> Option<OrdTest<T>> {
    let single = |cmp| values.first().cloned().map(|v| OrdTest::Cmp(cmp, v));
    match operator {
        FilterOperator::Equals => Some(OrdTest::AnyOf(values)),
        FilterOperator::GreaterThan => single(Cmp::Gt),
        FilterOperator::LessThan => single(Cmp::Lt),
        FilterOperator::GreaterThanEqual => single(Cmp::Ge),
        FilterOperator::LessThanEqual => single(Cmp::Le),
        FilterOperator::Between => match values.as_slice() {
            [low, high] => Some(OrdTest::Between(low.clone(), high.clone())),
            _ => None,
        },
        _ => None,
    }
}

/// Whether BETWEEN's low bound is above its high bound (the filter then matches nothing).
pub(crate) fn between_reversed(test: &Test) -> bool {
    match test {
        Test::String(OrdTest::Between(l, h)) => l > h,
        Test::Long(OrdTest::Between(l, h)) => l > h,
        Test::Double(OrdTest::Between(l, h)) => l > h,
        Test::Decimal(OrdTest::Between(l, h)) => l > h,
        Test::Date(OrdTest::Between(l, h)) => l > h,
        Test::Datetime(OrdTest::Between(l, h)) => l > h,
        _ => false,
    }
}

/// Compiles one filter on a column of a known type.
pub(crate) fn compile_test(filter: &PolicyFilter, column_type: ColumnType) -> Result<Test, FilterProblem> {
    use FilterOperator as Op;
    let values = &filter.values;
    if values.is_empty() {
        return Err(FilterProblem::EmptyValues);
    }
    let expected = match filter.operator {
        Op::GreaterThan | Op::LessThan | Op::GreaterThanEqual | Op::LessThanEqual => Some((1, "exactly one value")),
        Op::Between => Some((2, "exactly two values, low and high")),
        _ => None,
    };
    if let Some((count, text)) = expected
        && values.len() != count
    {
        return Err(FilterProblem::ValueCount { expected: text, found: values.len() });
    }
    let text_operator = matches!(filter.operator, Op::Like | Op::BeginsWith | Op::EndsWith | Op::Contains);
    if text_operator {
        if column_type != ColumnType::String {
            return Err(FilterProblem::TextOperatorOnNonString);
        }
        let values = values.clone();
        return Ok(Test::Text(match filter.operator {
            Op::Like => TextTest::Like(values.iter().map(|v| LikePattern::new(v)).collect()),
            Op::BeginsWith => TextTest::BeginsWith(values),
            Op::EndsWith => TextTest::EndsWith(values),
            _ => TextTest::Contains(values),
        }));
    }
    let unexpected = || FilterProblem::ValueCount { expected: "a different number of values", found: values.len() };
    let test = match column_type {
        ColumnType::String => Test::String(ord_test(filter.operator, values.clone()).ok_or_else(unexpected)?),
        ColumnType::Long => {
            Test::Long(ord_test(filter.operator, parse_all(values, parse::parse_long)?).ok_or_else(unexpected)?)
        }
        ColumnType::Double => {
            Test::Double(ord_test(filter.operator, parse_all(values, parse::parse_double)?).ok_or_else(unexpected)?)
        }
        ColumnType::Decimal => {
            Test::Decimal(ord_test(filter.operator, parse_all(values, parse::parse_decimal)?).ok_or_else(unexpected)?)
        }
        ColumnType::Date => {
            Test::Date(ord_test(filter.operator, parse_all(values, parse::parse_date)?).ok_or_else(unexpected)?)
        }
        ColumnType::Datetime => {
            Test::Datetime(ord_test(filter.operator, parse_all(values, parse::parse_datetime)?).ok_or_else(unexpected)?)
        }
    };
    Ok(test)
}
