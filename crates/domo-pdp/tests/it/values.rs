//! One typed value: `Value::parse` by column type, and compiled filters compared as values, not text.

use domo_model::{Column, ColumnType, FilterOperator, Schema};
use domo_pdp::{Datetime, Decimal, PolicySet, Value};

use crate::rules::{dataset, directory, filter, policy};

/// Parses `text` as `column_type` and compares with the value, or with the error a user sees.
fn check(column_type: ColumnType, text: &str, expected: Result<Value<'_>, &str>) {
    let parsed = Value::parse(column_type, text).map_err(|e| e.to_string());
    assert_eq!(parsed, expected.map_err(str::to_owned), "{column_type} `{text}`");
}

#[test]
fn values_parse_by_column_type_as_cells_do() {
    check(ColumnType::String, "", Ok(Value::String("")));
    check(ColumnType::String, "West", Ok(Value::String("West")));
    check(ColumnType::Long, "-42", Ok(Value::Long(-42)));
    check(ColumnType::Double, "2e3", Ok(Value::Double(2000.0)));
    check(ColumnType::Decimal, "1.50", Ok(Value::Decimal(Decimal::new(150, 2))));
    check(ColumnType::Date, "2024-02-29", Ok(Value::Date(domo_pdp::Date::constant(2024, 2, 29))));
    check(ColumnType::Datetime, "1970-01-01 00:00:01Z", Ok(Value::Datetime(Datetime::from_nanosecond(1_000_000_000))));
}

#[test]
fn text_that_is_not_a_value_of_the_type_is_an_error_naming_text_and_type() {
    check(ColumnType::Long, "", Err("`` is not a valid LONG (expected an integer such as `-42`)"));
    check(ColumnType::Long, "12x", Err("`12x` is not a valid LONG (expected an integer such as `-42`)"));
    check(
        ColumnType::Long,
        "9223372036854775808",
        Err("`9223372036854775808` is not a valid LONG (expected an integer such as `-42`)"),
    );
    check(
        ColumnType::Double,
        "NaN",
        Err("`NaN` is not a valid DOUBLE (expected a finite number such as `1.5` or `2e3`)"),
    );
    check(
        ColumnType::Decimal,
        "1e5",
        Err("`1e5` is not a valid DECIMAL (expected a decimal such as `-1.50`, no exponent)"),
    );
    check(ColumnType::Date, "2023-02-29", Err("`2023-02-29` is not a valid DATE (expected `YYYY-MM-DD`)"));
    check(
        ColumnType::Datetime,
        "2024-02-29T24:00:00Z",
        Err(
            "`2024-02-29T24:00:00Z` is not a valid DATETIME (expected `YYYY-MM-DD HH:MM:SS[.fraction][Z|+HH:MM]`, `T` or a space between)",
        ),
    );
}

#[test]
fn compiled_filters_are_equal_when_they_test_the_same_column_the_same_way() {
    let schema =
        Schema { columns: vec![Column::new(ColumnType::String, "Region"), Column::new(ColumnType::Long, "Age")] };
    let west = filter("Region", FilterOperator::Equals, &["West"], false);
    let adult = filter("Age", FilterOperator::GreaterThanEqual, &["18"], false);
    let policies = [
        policy(1, vec![west.clone(), adult.clone()], &[1], &[]),
        policy(2, vec![adult.clone(), west.clone()], &[2], &[]),
        policy(3, vec![filter("Region", FilterOperator::Equals, &["West"], true)], &[3], &[]),
    ];
    let set = PolicySet::compile(&dataset(schema, true), &policies, &directory()).unwrap();
    let filters: Vec<_> = set.policies().iter().map(|p| p.filters()).collect();
    assert_eq!(filters[0][0], filters[1][1], "the same filter in two policies");
    assert_eq!(filters[0][1], filters[1][0]);
    assert_ne!(filters[0][0], filters[0][1], "different columns");
    assert_ne!(filters[0][0], filters[2][0], "negated");
    let distinct: std::collections::HashSet<_> = filters.iter().flat_map(|f| f.iter()).collect();
    assert_eq!(distinct.len(), 3);
}
