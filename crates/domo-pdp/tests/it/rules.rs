//! Table tests, one per rule of docs/semantics.md: operators on each type, NULLs, principals, owner, admin, All Rows, PDP off.

use domo_model::{
    Column, ColumnType, Dataset, Directory, DirectoryGroup, FilterOperator, GroupId, Owner, Policy, PolicyFilter,
    PolicyId, PolicyType, Role, Schema, User, UserId,
};
use domo_pdp::{DiagnosticCode, HeaderRow, PolicySet, Principal, Reason, Severity, StreamOptions, Table};

use ColumnType::{Date, Datetime, Decimal, Double, Long, String as Str};
use FilterOperator::*;

pub(crate) fn dataset(schema: Schema, pdp_enabled: bool) -> Dataset {
    Dataset {
        id: "ds".into(),
        name: "test".to_owned(),
        description: None,
        rows: 0,
        columns: schema.columns.len() as u64,
        schema,
        owner: Some(Owner { id: UserId(100), name: None }),
        created_at: None,
        updated_at: None,
        data_current_at: None,
        pdp_enabled,
        policies: None,
    }
}

pub(crate) fn filter(column: &str, operator: FilterOperator, values: &[&str], not: bool) -> PolicyFilter {
    PolicyFilter { column: column.to_owned(), values: values.iter().map(|v| (*v).to_owned()).collect(), operator, not }
}

pub(crate) fn policy(id: u64, filters: Vec<PolicyFilter>, users: &[u64], groups: &[u64]) -> Policy {
    Policy {
        id: Some(PolicyId(id)),
        policy_type: PolicyType::User,
        name: format!("policy {id}"),
        filters,
        users: users.iter().map(|&u| UserId(u)).collect(),
        virtual_users: vec![],
        groups: groups.iter().map(|&g| GroupId(g)).collect(),
    }
}

pub(crate) fn directory() -> Directory {
    Directory {
        users: vec![
            User::new(UserId(1), "one", Role::Participant),
            User::new(UserId(2), "two", Role::Participant),
            User::new(UserId(3), "three", Role::Participant),
            User::new(UserId(9), "admin", Role::Admin),
            User::new(UserId(100), "owner", Role::Participant),
        ],
        groups: vec![
            DirectoryGroup { id: GroupId(1), name: "east".to_owned(), user_ids: vec![UserId(2), UserId(3)] },
            DirectoryGroup { id: GroupId(2), name: "west".to_owned(), user_ids: vec![UserId(3)] },
        ],
        roles: Vec::new(),
    }
}

/// The rows user 1 sees in a one-column table of type `ty` (cells as raw CSV
/// fields, one per line) under one policy with one filter on it.
fn rows(ty: ColumnType, cells: &[&str], operator: FilterOperator, values: &[&str], not: bool) -> Vec<usize> {
    let schema = Schema { columns: vec![Column::new(ty, "x")] };
    let csv: String = cells.iter().map(|c| format!("{c}\n")).collect();
    let table = Table::from_csv(csv.as_bytes(), &schema, HeaderRow::Absent).unwrap();
    let policies = [policy(1, vec![filter("x", operator, values, not)], &[1], &[])];
    let set = PolicySet::compile(&dataset(schema, true), &policies, &directory()).unwrap();
    let evaluation = set.evaluate(&table).unwrap();
    let visible: Vec<usize> = evaluation.visible_rows(UserId(1)).iter().collect();
    // The streaming path must agree with the table path.
    let mut out = Vec::new();
    let options = StreamOptions { input_header: HeaderRow::Absent, output_header: HeaderRow::Absent };
    set.write_visible_csv(UserId(1), csv.as_bytes(), &mut out, options).unwrap();
    let expected: String = visible.iter().map(|&r| format!("{}\n", cells[r])).collect();
    assert_eq!(String::from_utf8(out).unwrap(), expected, "streamed rows");
    visible
}

#[track_caller]
fn check(ty: ColumnType, cells: &[&str], operator: FilterOperator, values: &[&str], not: bool, expected: &[usize]) {
    assert_eq!(rows(ty, cells, operator, values, not), expected, "{ty} {operator} {values:?} not={not} on {cells:?}");
}

#[test]
fn equals_on_each_type() {
    check(Str, &["a", "b", "\"\"", "", "a"], Equals, &["a"], false, &[0, 4]);
    check(Str, &["a", "b", "c"], Equals, &["a", "c"], false, &[0, 2]);
    check(Long, &["1", "2", "+1", "01", ""], Equals, &["1"], false, &[0, 2, 3]);
    check(Double, &["1.5", "1.50", "15e-1", "2", ""], Equals, &["1.5"], false, &[0, 1, 2]);
    check(Decimal, &["1.5", "1.50", "1.05", ""], Equals, &["1.500"], false, &[0, 1]);
    check(Date, &["2024-01-01", "2024-01-02", ""], Equals, &["2024-01-01"], false, &[0]);
    check(
        Datetime,
        &["2024-01-01T00:00:00Z", "2024-01-01 01:00:00+01:00", "2024-01-01T00:00:01"],
        Equals,
        &["2024-01-01 00:00:00"],
        false,
        &[0, 1],
    );
}

#[test]
fn comparisons_on_each_type() {
    check(Long, &["-5", "0", "5", "10"], GreaterThan, &["0"], false, &[2, 3]);
    check(Long, &["-5", "0", "5", "10"], GreaterThanEqual, &["0"], false, &[1, 2, 3]);
    check(Long, &["-5", "0", "5", "10"], LessThan, &["5"], false, &[0, 1]);
    check(Long, &["-5", "0", "5", "10"], LessThanEqual, &["5"], false, &[0, 1, 2]);
    check(Double, &["-0.5", "0.25", "9"], GreaterThan, &["0"], false, &[1, 2]);
    check(Decimal, &["-0.5", "0.25", "9", "10.0"], LessThan, &["10"], false, &[0, 1, 2]);
    check(Date, &["2023-12-31", "2024-01-01", "2024-06-30"], GreaterThanEqual, &["2024-01-01"], false, &[1, 2]);
    check(
        Datetime,
        &["2024-01-01T00:00:00Z", "2024-01-01T00:00:00.001Z"],
        GreaterThan,
        &["2024-01-01 00:00:00"],
        false,
        &[1],
    );
}

#[test]
fn between_is_inclusive() {
    check(Long, &["1", "2", "3", "4", "5"], Between, &["2", "4"], false, &[1, 2, 3]);
    check(Long, &["1", "2", "3", "4", "5"], Between, &["2", "4"], true, &[0, 4]);
    check(Date, &["2024-01-01", "2024-01-15", "2024-02-01"], Between, &["2024-01-01", "2024-01-31"], false, &[0, 1]);
    check(Str, &["a", "b", "c", "ca"], Between, &["b", "c"], false, &[1, 2]);
}

#[test]
fn decimal_compares_exactly() {
    check(Decimal, &["1.50", "1.5", "1.500000000000000000001"], Equals, &["1.5"], false, &[0, 1]);
    check(Decimal, &["0.1", "0.3"], Between, &["0.1", "0.2"], false, &[0]);
    // Literals with more decimals than any cell, or beyond every cell, still compare exactly.
    let cells = ["1.5", "1.6", "-1.5", ""];
    check(Decimal, &cells, Equals, &["1.55"], false, &[]);
    check(Decimal, &cells, Equals, &["1.55"], true, &[0, 1, 2]);
    check(Decimal, &cells, GreaterThan, &["1.55"], false, &[1]);
    check(Decimal, &cells, GreaterThanEqual, &["1.55"], false, &[1]);
    check(Decimal, &cells, LessThan, &["1.55"], false, &[0, 2]);
    check(Decimal, &cells, LessThanEqual, &["1.55"], false, &[0, 2]);
    check(Decimal, &cells, GreaterThan, &["-1.55"], false, &[0, 1, 2]);
    check(Decimal, &cells, LessThan, &["-1.45"], false, &[2]);
    check(Decimal, &cells, Between, &["1.45", "1.55"], false, &[0]);
    check(Decimal, &cells, Between, &["-1.55", "1.59"], false, &[0, 2]);
    check(Decimal, &cells, GreaterThan, &["99999999999999999999999999"], false, &[]);
    check(Decimal, &cells, LessThan, &["99999999999999999999999999"], false, &[0, 1, 2]);
    check(Decimal, &cells, GreaterThanEqual, &["-99999999999999999999999999"], false, &[0, 1, 2]);
    check(Decimal, &cells, Between, &["-99999999999999999999999999", "1.5"], false, &[0, 2]);
}

#[test]
fn datetimes_compare_as_instants() {
    let cells =
        ["2024-01-01T10:00:00Z", "2024-01-01 12:00:00+02:00", "2024-01-01T05:00:00-05:00", "2024-01-01T10:00:00"];
    check(Datetime, &cells, Equals, &["2024-01-01T10:00:00Z"], false, &[0, 1, 2, 3]);
    check(Datetime, &cells, LessThan, &["2024-01-01T10:00:00.000000001Z"], false, &[0, 1, 2, 3]);
    // Far from 1970 (outside 1677..2262 nanoseconds fit in 64 bits), in cells and in literals.
    let far = ["1500-01-01 00:00:00", "2024-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z"];
    check(Datetime, &far, GreaterThan, &["1600-01-01T00:00:00Z"], false, &[1, 2]);
    check(Datetime, &far, LessThan, &["2300-01-01T00:00:00Z"], false, &[0, 1]);
    check(Datetime, &far, Equals, &["1500-01-01T00:00:00Z"], false, &[0]);
    let near = ["2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z", ""];
    check(Datetime, &near, GreaterThan, &["1600-01-01T00:00:00Z"], false, &[0, 1]);
    check(Datetime, &near, LessThan, &["1600-01-01T00:00:00Z"], false, &[]);
    check(Datetime, &near, Between, &["1600-01-01 00:00:00", "2300-01-01 00:00:00"], false, &[0, 1]);
    check(Datetime, &near, Between, &["2024-06-01 00:00:00", "2300-01-01 00:00:00"], false, &[1]);
    check(Datetime, &near, Equals, &["2300-01-01 00:00:00", "2024-01-01 00:00:00"], false, &[0]);
    check(Datetime, &near, GreaterThanEqual, &["2300-01-01 00:00:00"], true, &[0, 1]);
}

#[test]
fn strings_compare_in_byte_order() {
    check(Str, &["B", "a", "é", "z"], GreaterThan, &["Z"], false, &[1, 2, 3]);
    check(Str, &["B", "a", "é", "z"], LessThan, &["a"], false, &[0]);
}

#[test]
fn like_wildcards_and_escapes() {
    let cells = ["abc", "a%c", "a_c", "ac", "xabc", "a\\c", "äbc"];
    check(Str, &cells, Like, &["a%"], false, &[0, 1, 2, 3, 5]);
    check(Str, &cells, Like, &["a_c"], false, &[0, 1, 2, 5]);
    check(Str, &cells, Like, &["a\\%c"], false, &[1]);
    check(Str, &cells, Like, &["a\\_c"], false, &[2]);
    check(Str, &cells, Like, &["a\\\\c"], false, &[5]);
    check(Str, &cells, Like, &["_bc"], false, &[0, 6]);
    check(Str, &cells, Like, &["%bc", "ac"], false, &[0, 3, 4, 6]);
}

#[test]
fn text_operators() {
    let cells = ["apple", "pineapple", "apricot", "\"\""];
    check(Str, &cells, BeginsWith, &["ap"], false, &[0, 2]);
    check(Str, &cells, EndsWith, &["apple"], false, &[0, 1]);
    check(Str, &cells, Contains, &["pl", "ric"], false, &[0, 1, 2]);
    check(Str, &cells, BeginsWith, &["ap"], true, &[1, 3]);
}

#[test]
fn matching_is_case_sensitive() {
    check(Str, &["East", "east", "EAST"], Equals, &["East"], false, &[0]);
    check(Str, &["East", "east"], Like, &["e%"], false, &[1]);
    check(Str, &["East", "east"], Contains, &["AS"], false, &[]);
}

#[test]
fn null_never_passes() {
    for ty in [Str, Long, Double, Decimal, Date, Datetime] {
        let value = crate::agreement::pool(ty)[0];
        let value = if ty == Str { "a" } else { value };
        let cells = ["", value];
        check(ty, &cells, Equals, &[value], false, &[1]);
        check(ty, &cells, Equals, &[value], true, &[]);
    }
    check(Long, &["", "1"], GreaterThan, &["5"], true, &[1]);
    check(Str, &["", "a"], Like, &["%"], true, &[]);
}

#[test]
fn not_negates_non_null_cells() {
    check(Str, &["a", "b", "\"\""], Equals, &["a"], true, &[1, 2]);
    check(Long, &["1", "2", "3"], GreaterThan, &["1"], true, &[0]);
}

#[test]
fn quoted_empty_is_empty_string_unquoted_is_null() {
    // In STRING, `""` is the empty string (it passes EQUALS ""), an empty field is NULL.
    check(Str, &["\"\"", "", "a"], Equals, &[""], false, &[0]);
    // In other types both are NULL.
    check(Long, &["\"\"", "", "1"], Equals, &["1"], true, &[]);
}

fn principals_case() -> (Table, Dataset, Directory) {
    let schema = Schema { columns: vec![Column::new(Str, "region"), Column::new(Long, "amount")] };
    let csv = "region,amount\neast,10\nwest,20\neast,30\nnorth,40\n";
    let table = Table::from_csv(csv.as_bytes(), &schema, HeaderRow::Present).unwrap();
    (table, dataset(schema, true), directory())
}

fn visible(set: &PolicySet, table: &Table, who: Principal<'_>) -> Vec<usize> {
    set.evaluate(table).unwrap().visible_rows(who).iter().collect()
}

#[test]
fn filters_in_a_policy_are_anded() {
    let (table, dataset, directory) = principals_case();
    let p = policy(
        1,
        vec![filter("region", Equals, &["east"], false), filter("amount", GreaterThan, &["15"], false)],
        &[1],
        &[],
    );
    let set = PolicySet::compile(&dataset, &[p], &directory).unwrap();
    assert_eq!(visible(&set, &table, UserId(1).into()), [2]);
}

#[test]
fn policies_of_a_user_are_ored() {
    let (table, dataset, directory) = principals_case();
    let a = policy(1, vec![filter("region", Equals, &["west"], false)], &[1], &[]);
    let b = policy(2, vec![filter("amount", GreaterThanEqual, &["40"], false)], &[1], &[]);
    let set = PolicySet::compile(&dataset, &[a, b], &directory).unwrap();
    assert_eq!(visible(&set, &table, UserId(1).into()), [1, 3]);
}

#[test]
fn policy_applies_to_users_groups_and_virtual_users() {
    let (table, dataset, directory) = principals_case();
    let mut p = policy(1, vec![filter("region", Equals, &["east"], false)], &[1], &[1]);
    p.virtual_users = vec!["robot".to_owned()];
    let set = PolicySet::compile(&dataset, &[p], &directory).unwrap();
    assert_eq!(visible(&set, &table, UserId(1).into()), [0, 2]);
    assert_eq!(visible(&set, &table, UserId(2).into()), [0, 2], "member of group 1");
    assert_eq!(visible(&set, &table, Principal::Virtual("robot")), [0, 2]);
    assert_eq!(visible(&set, &table, Principal::Virtual("other")), Vec::<usize>::new());
    let evaluation = set.evaluate(&table).unwrap();
    let why = evaluation.explain(UserId(2), 0).unwrap();
    assert_eq!(why.grants[0].via, [domo_pdp::Membership::Group(GroupId(1))]);
}

#[test]
fn user_in_two_groups_gets_both() {
    let (table, dataset, directory) = principals_case();
    let east = policy(1, vec![filter("region", Equals, &["east"], false)], &[], &[1]);
    let west = policy(2, vec![filter("region", Equals, &["west"], false)], &[], &[2]);
    let set = PolicySet::compile(&dataset, &[east, west], &directory).unwrap();
    assert_eq!(visible(&set, &table, UserId(3).into()), [0, 1, 2], "user 3 is in groups 1 and 2");
    assert_eq!(visible(&set, &table, UserId(2).into()), [0, 2]);
}

#[test]
fn all_rows_policy_admits_every_row() {
    let (table, dataset, directory) = principals_case();
    let mut open = policy(1, vec![], &[1], &[]);
    open.policy_type = PolicyType::Open;
    let other = policy(2, vec![filter("region", Equals, &["east"], false)], &[2], &[]);
    let set = PolicySet::compile(&dataset, &[open, other], &directory).unwrap();
    let evaluation = set.evaluate(&table).unwrap();
    let counts = evaluation.visible_counts();
    assert_eq!((counts[0].rows, counts[0].reason), (4, Reason::AllRows));
    assert_eq!((counts[1].rows, counts[1].reason), (2, Reason::Policies));
}

#[test]
fn owner_sees_every_row() {
    let (table, dataset, directory) = principals_case();
    let p = policy(1, vec![filter("region", Equals, &["east"], false)], &[100], &[]);
    let set = PolicySet::compile(&dataset, &[p], &directory).unwrap();
    let counts = set.evaluate(&table).unwrap().visible_counts();
    assert_eq!((counts[4].user, counts[4].rows, counts[4].reason), (UserId(100), 4, Reason::Owner));
}

#[test]
fn admin_sees_every_row() {
    let (table, dataset, directory) = principals_case();
    let p = policy(1, vec![filter("region", Equals, &["east"], false)], &[9], &[]);
    let set = PolicySet::compile(&dataset, &[p], &directory).unwrap();
    let counts = set.evaluate(&table).unwrap().visible_counts();
    assert_eq!((counts[3].rows, counts[3].reason), (4, Reason::Admin));
}

#[test]
fn pdp_disabled_shows_everything() {
    let (table, mut dataset, directory) = principals_case();
    dataset.pdp_enabled = false;
    let p = policy(1, vec![filter("region", Equals, &["east"], false)], &[1], &[]);
    let set = PolicySet::compile(&dataset, &[p], &directory).unwrap();
    let counts = set.evaluate(&table).unwrap().visible_counts();
    assert!(counts.iter().all(|c| c.rows == 4 && c.reason == Reason::PdpDisabled));
}

#[test]
fn no_policies_means_pdp_off() {
    let (table, dataset, directory) = principals_case();
    let set = PolicySet::compile(&dataset, &[], &directory).unwrap();
    assert_eq!(set.warnings()[0].code, DiagnosticCode::NoPolicies);
    let counts = set.evaluate(&table).unwrap().visible_counts();
    assert!(counts.iter().all(|c| c.rows == 4 && c.reason == Reason::PdpDisabled));
}

#[test]
fn user_in_no_policy_sees_nothing() {
    let (table, dataset, directory) = principals_case();
    let p = policy(1, vec![filter("region", Equals, &["east"], false)], &[1], &[]);
    let set = PolicySet::compile(&dataset, &[p], &directory).unwrap();
    let evaluation = set.evaluate(&table).unwrap();
    let counts = evaluation.visible_counts();
    assert_eq!((counts[1].rows, counts[1].reason), (0, Reason::NoPolicy));
    assert!(evaluation.visible_rows(UserId(555)).is_empty(), "a user missing from the directory");
    assert_eq!(evaluation.viewers(0), [UserId(1), UserId(9), UserId(100)]);
}

#[test]
fn policy_without_filters_admits_every_row() {
    let (table, dataset, directory) = principals_case();
    let p = policy(1, vec![], &[1], &[]);
    let set = PolicySet::compile(&dataset, &[p], &directory).unwrap();
    assert_eq!(set.warnings()[0].code, DiagnosticCode::NoFilters);
    assert_eq!(visible(&set, &table, UserId(1).into()), [0, 1, 2, 3]);
}

#[test]
fn explain_names_the_first_failing_filter() {
    let (table, dataset, directory) = principals_case();
    let p = policy(
        7,
        vec![filter("amount", GreaterThan, &["5"], false), filter("region", Equals, &["west", "north"], false)],
        &[1],
        &[1],
    );
    let set = PolicySet::compile(&dataset, &[p], &directory).unwrap();
    let evaluation = set.evaluate(&table).unwrap();
    let why = evaluation.explain(UserId(1), 0).unwrap();
    assert!(!why.visible);
    let refusal = &why.refusals[0];
    assert_eq!((refusal.filter, refusal.column.as_str(), refusal.cell.as_deref()), (1, "region", Some("east")));
    assert_eq!(refusal.expected, ["west", "north"]);
    let why = evaluation.explain(UserId(1), 1).unwrap();
    assert!(why.visible);
    assert_eq!(why.grants[0].via, [domo_pdp::Membership::Direct]);
    assert!(evaluation.explain(UserId(1), 4).is_none(), "row out of range");
}

fn compile_messages(schema: Schema, policies: &[Policy]) -> (Vec<String>, Vec<String>) {
    match PolicySet::compile(&dataset(schema, true), policies, &directory()) {
        Ok(set) => (vec![], set.warnings().iter().map(ToString::to_string).collect()),
        Err(e) => {
            (e.errors.iter().map(ToString::to_string).collect(), e.warnings.iter().map(ToString::to_string).collect())
        }
    }
}

#[test]
fn compile_errors_name_policy_and_filter() {
    let schema =
        Schema { columns: vec![Column::new(Str, "Attending"), Column::new(Long, "Age"), Column::new(Date, "Day")] };
    let policies = [
        policy(8, vec![filter("Atending", Equals, &["TRUE"], false)], &[1], &[]),
        policy(9, vec![filter("Age", GreaterThan, &["1", "2"], false)], &[1], &[]),
        policy(10, vec![filter("Age", Equals, &["1.5"], false)], &[1], &[]),
        policy(11, vec![filter("Day", Equals, &["2024-13-01"], false)], &[1], &[]),
        policy(12, vec![filter("Age", Equals, &[], false)], &[1], &[]),
        policy(13, vec![filter("Age", Like, &["1%"], false)], &[1], &[]),
        policy(14, vec![filter("Age", Between, &["1"], false)], &[1], &[]),
        policy(15, vec![filter("attending", Equals, &["x"], false)], &[1], &[]),
    ];
    let (errors, _) = compile_messages(schema, &policies);
    assert_eq!(
        errors,
        [
            "policy 8 `policy 8`, filters[0]: unknown column `Atending` (did you mean `Attending`?)",
            "policy 9 `policy 9`, filters[0]: `GREATER_THAN` takes exactly one value, found 2",
            "policy 10 `policy 10`, filters[0]: `1.5` is not a valid LONG for column `Age` (expected an integer such as `-42`)",
            "policy 11 `policy 11`, filters[0]: `2024-13-01` is not a valid DATE for column `Day` (expected `YYYY-MM-DD`)",
            "policy 12 `policy 12`, filters[0]: `EQUALS` has no values",
            "policy 13 `policy 13`, filters[0]: `LIKE` applies to STRING columns only; `Age` is LONG",
            "policy 14 `policy 14`, filters[0]: `BETWEEN` takes exactly two values, low and high, found 1",
            "policy 15 `policy 15`, filters[0]: unknown column `attending` (did you mean `Attending`?)",
        ]
    );
}

#[test]
fn compile_warnings_do_not_fail() {
    let schema = Schema { columns: vec![Column::new(Long, "Age")] };
    let policies = [
        policy(1, vec![filter("Age", Between, &["9", "1"], false)], &[1, 77], &[55]),
        policy(2, vec![filter("Age", Equals, &[&"1".repeat(18), &"2".repeat(18)], false)], &[1], &[]),
    ];
    let (errors, warnings) = compile_messages(schema.clone(), &policies);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        warnings,
        [
            "policy 1 `policy 1`, filters[0]: BETWEEN `9` and `1`: the low bound is above the high bound, so the filter matches no row",
            "policy 1 `policy 1`: user `77` is not in the directory",
            "policy 1 `policy 1`: group `55` is not in the directory",
        ]
    );
    let too_long = [
        policy(4, vec![filter("Age", Equals, &[&"1".repeat(200), &"2".repeat(60)], false)], &[1], &[]),
        policy(5, vec![filter("Age", Equals, &["x"], false)], &[1], &[]),
    ];
    let set = PolicySet::compile(&dataset(schema, true), &too_long, &directory());
    // 200 digits do not fit in a LONG: errors fail the compile, the warning is still reported.
    let e = set.unwrap_err();
    assert_eq!(e.warnings[0].code, DiagnosticCode::ValuesTooLong);
    assert_eq!(e.warnings[0].severity, Severity::Warning);
    assert!(e.to_string().contains("(and 1 more errors)"), "{e}");
}

fn load_error(schema: &Schema, csv: &str, header: HeaderRow) -> String {
    Table::from_csv(csv.as_bytes(), schema, header).unwrap_err().to_string()
}

#[test]
fn load_errors_name_row_column_and_text() {
    let schema =
        Schema { columns: vec![Column::new(Str, "Friend"), Column::new(Long, "Age"), Column::new(Datetime, "Seen")] };
    let h = HeaderRow::Present;
    assert_eq!(
        load_error(&schema, "Friend,Age,Seen\nLeonhard,12x,\n", h),
        "row 2, column `Age`: `12x` is not a valid LONG (expected an integer such as `-42`)"
    );
    assert_eq!(
        load_error(&schema, "Leonhard,1,2024-01-01\n", HeaderRow::Absent),
        "row 1, column `Seen`: `2024-01-01` is not a valid DATETIME (expected `YYYY-MM-DD HH:MM:SS[.fraction][Z|+HH:MM]`, `T` or a space between)"
    );
    assert_eq!(
        load_error(&schema, "Friend,Age,Seen\na,1,\nb,2\n", h),
        "row 3: expected 3 fields (one per schema column), found 2"
    );
    assert_eq!(
        load_error(&schema, "Friend,Age,Seen\n\"a,1,\n", h),
        "row 2: broken quoting: a quoted field is never closed"
    );
    assert_eq!(
        load_error(&schema, "Friend,Age,Seen\n\"a\"b,1,\n", h),
        "row 2: broken quoting: text follows a closing quote"
    );
    let bad_utf8 = Table::from_csv(&b"a\xff,1,\n"[..], &schema, HeaderRow::Absent).unwrap_err().to_string();
    assert_eq!(bad_utf8, "row 1, column `Friend`: the cell is not valid UTF-8: `a\u{fffd}`");
    // Only new strings are checked for UTF-8: a broken cell sharing bytes with a
    // string already seen (`é` is C3 A9) is still new, and still refused.
    let after_valid = Table::from_csv(&b"\xc3\xa9,1,\n\xc3\xa9,2,\n\xc3,3,\n"[..], &schema, HeaderRow::Absent);
    assert_eq!(after_valid.unwrap_err().to_string(), "row 3, column `Friend`: the cell is not valid UTF-8: `\u{fffd}`");
    // A quoted newline does not start a new row number.
    assert_eq!(
        load_error(&schema, "Friend,Age,Seen\n\"two\nlines\",1,\nx,y,\n", h),
        "row 3, column `Age`: `y` is not a valid LONG (expected an integer such as `-42`)"
    );
}

#[test]
fn the_first_problem_is_the_one_reported() {
    let schema = Schema { columns: vec![Column::new(Str, "Friend"), Column::new(Long, "Age")] };
    let h = HeaderRow::Present;
    // A bad cell before a wrong field count, and before broken quoting, in the same batch.
    assert_eq!(
        load_error(&schema, "Friend,Age\na,1\nb,x\nc\n", h),
        "row 3, column `Age`: `x` is not a valid LONG (expected an integer such as `-42`)"
    );
    assert_eq!(
        load_error(&schema, "Friend,Age\nb,x\n\"c,1\n", h),
        "row 2, column `Age`: `x` is not a valid LONG (expected an integer such as `-42`)"
    );
    // Within a row, the leftmost bad cell.
    let two = Schema { columns: vec![Column::new(Long, "a"), Column::new(Str, "s"), Column::new(Date, "d")] };
    let err = Table::from_csv(&b"x,\xff,y\n"[..], &two, HeaderRow::Absent).unwrap_err().to_string();
    assert_eq!(err, "row 1, column `a`: `x` is not a valid LONG (expected an integer such as `-42`)");
    // Far apart: a bad cell in row 9000 comes before a wrong field count in row 9001.
    let mut csv = String::from("Friend,Age\n");
    for i in 0..8998 {
        csv.push_str(&format!("f{i},{i}\n"));
    }
    csv.push_str("bad,x\nshort\n");
    assert_eq!(
        load_error(&schema, &csv, h),
        "row 9000, column `Age`: `x` is not a valid LONG (expected an integer such as `-42`)"
    );
}

#[test]
fn header_mismatch_names_the_columns() {
    let schema = Schema { columns: vec![Column::new(Str, "Friend"), Column::new(Str, "Attending")] };
    assert_eq!(
        load_error(&schema, "Frend,Attending,Extra\n", HeaderRow::Present),
        "row 1: the header does not match the schema: it has 3 columns, the schema has 2; column 1 is `Frend`, the schema says `Friend`; column 3 `Extra` is not in the schema"
    );
}

#[test]
fn blank_lines_are_skipped_except_with_one_column() {
    let two = Schema { columns: vec![Column::new(Str, "a"), Column::new(Str, "b")] };
    let table = Table::from_csv("x,y\n\n\nz,w\n".as_bytes(), &two, HeaderRow::Absent).unwrap();
    assert_eq!(table.row_count(), 2);
    let one = Schema { columns: vec![Column::new(Str, "a")] };
    let table = Table::from_csv("x\n\ny\n".as_bytes(), &one, HeaderRow::Absent).unwrap();
    assert_eq!(table.row_count(), 3);
    assert!(table.value(1, 0).unwrap().is_null());
}

#[test]
fn double_rejects_nan_and_infinity() {
    let schema = Schema { columns: vec![Column::new(Double, "d")] };
    for text in ["NaN", "inf", "-infinity", "1,5"] {
        let csv = format!("\"{text}\"\n");
        assert!(Table::from_csv(csv.as_bytes(), &schema, HeaderRow::Absent).is_err(), "{text}");
    }
}

#[test]
fn streamed_rows_are_byte_exact() {
    let schema = Schema { columns: vec![Column::new(Str, "name"), Column::new(Decimal, "amount")] };
    let csv = "name,amount\r\n\"Smith, J\",1.50\r\n\"\"\"Q\"\"\",\"2.0\"\nplain,3\n";
    let p = policy(1, vec![filter("amount", GreaterThanEqual, &["1.5"], false)], &[1], &[]);
    let set = PolicySet::compile(&dataset(schema.clone(), true), &[p], &directory()).unwrap();
    let mut out = Vec::new();
    let summary = set.write_visible_csv(UserId(1), csv.as_bytes(), &mut out, StreamOptions::default()).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), csv);
    assert_eq!((summary.rows_read, summary.rows_written), (3, 3));
    // Without an input header, a header made from the schema.
    let mut out = Vec::new();
    let options = StreamOptions { input_header: HeaderRow::Absent, output_header: HeaderRow::Present };
    set.write_visible_csv(UserId(2), "a,1\n".as_bytes(), &mut out, options).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "name,amount\n");
    // A bad cell in a column the filters read is an error with its row.
    let err = set.write_visible_csv(UserId(1), "name,amount\nx,abc\n".as_bytes(), Vec::new(), StreamOptions::default());
    assert_eq!(
        err.unwrap_err().to_string(),
        "row 2, column `amount`: `abc` is not a valid DECIMAL (expected a decimal such as `-1.50`, no exponent)"
    );
}

#[test]
fn distinct_values_and_cells() {
    let schema = Schema { columns: vec![Column::new(Str, "s"), Column::new(Decimal, "d")] };
    let table = Table::from_csv("b,1.5\na,1.50\nb,\n".as_bytes(), &schema, HeaderRow::Absent).unwrap();
    let strings: Vec<(String, usize)> =
        table.distinct_values(0).unwrap().into_iter().map(|(v, n)| (v.to_string(), n)).collect();
    assert_eq!(strings, [("b".to_owned(), 2), ("a".to_owned(), 1)]);
    let decimals = table.distinct_values(1).unwrap();
    assert_eq!(decimals.len(), 1);
    assert_eq!(decimals[0].1, 2);
    assert_eq!(table.value(1, 1).unwrap().to_string(), "1.50");
    assert!(table.value(3, 0).is_none());
}

#[test]
fn datetime_cells_read_back_as_utc_instants_even_past_jiffs_range() {
    let schema = Schema { columns: vec![Column::new(Datetime, "at")] };
    let csv = "2024-05-01 14:30:00.250+02:00\n9999-12-31 23:59:59\n0000-01-01T00:00:00+01:00\n1970-01-01T00:00:00Z\n\n";
    let table = Table::from_csv(csv.as_bytes(), &schema, HeaderRow::Absent).unwrap();
    let shown: Vec<String> = (0..table.row_count()).map(|row| table.value(row, 0).unwrap().to_string()).collect();
    // The end-of-time sentinel is a real value, not NULL; a year before 0000 is written as jiff writes it;
    // with one column a blank line is a NULL cell.
    let expected =
        ["2024-05-01T12:30:00.25Z", "9999-12-31T23:59:59Z", "-000001-12-31T23:00:00Z", "1970-01-01T00:00:00Z", "NULL"];
    assert_eq!(shown, expected);
    for row in [0, 3] {
        let domo_pdp::Value::Datetime(at) = table.value(row, 0).unwrap() else { panic!("not a DATETIME") };
        assert_eq!(at.to_timestamp().map(|t| t.to_string()), Some(at.to_string()), "same text as jiff");
    }
}

#[test]
fn a_byte_order_mark_before_the_header_is_not_part_of_its_first_name() {
    // Excel's "CSV UTF-8" starts the file with a byte-order mark (U+FEFF), which no person sees.
    let schema = Schema { columns: vec![Column::new(Str, "Friend"), Column::new(Str, "Attending")] };
    for csv in ["\u{feff}Friend,Attending\nAda,TRUE\n", "\u{feff}\"Friend\",Attending\r\nAda,TRUE\r\n"] {
        let table =
            Table::from_csv(csv.as_bytes(), &schema, HeaderRow::Present).unwrap_or_else(|e| panic!("{csv:?}: {e}"));
        assert_eq!(table.row_count(), 1, "{csv:?}");
        let options = domo_pdp::BatchOptions { header: HeaderRow::Present, batch_rows: 1, ..Default::default() };
        let rows = Table::map_batches(
            csv.as_bytes(),
            &schema,
            options,
            |b| Ok::<_, domo_pdp::LoadCsvError>(b.table().row_count()),
            |_| Ok(()),
        );
        assert_eq!(rows.map_err(|e| e.to_string()), Ok(1), "{csv:?}");
    }
    // Without a header, the mark is not part of the first cell either; elsewhere it is text.
    let table = Table::from_csv("\u{feff}Ada,\u{feff}x\n".as_bytes(), &schema, HeaderRow::Absent).unwrap();
    assert_eq!(table.value(0, 0).unwrap().to_string(), "Ada");
    assert_eq!(table.value(0, 1).unwrap().to_string(), "\u{feff}x");
    // A file of the mark alone reads as an empty file.
    for header in [HeaderRow::Present, HeaderRow::Absent] {
        assert_eq!(Table::from_csv("\u{feff}".as_bytes(), &schema, header).map(|t| t.row_count()).ok(), Some(0));
    }
}
