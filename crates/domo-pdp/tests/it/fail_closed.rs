//! Odd input that could show more rows than meant must not compile, and its messages stay short.

use domo_model::{Column, ColumnType, FilterOperator, Schema};
use domo_pdp::{DiagnosticCode, PolicySet};

use crate::rules::{dataset, directory, filter, policy};

/// Compiles one policy with one filter over `schema`; returns each error's code and text.
fn check(schema: Schema, column: &str, values: &[&str], expected: &[(DiagnosticCode, &str)]) {
    let p = policy(1, vec![filter(column, FilterOperator::Equals, values, false)], &[1], &[]);
    let err = PolicySet::compile(&dataset(schema, true), &[p], &directory()).unwrap_err();
    let found: Vec<(DiagnosticCode, String)> = err.errors.iter().map(|d| (d.code, d.to_string())).collect();
    let expected: Vec<(DiagnosticCode, String)> = expected.iter().map(|(c, t)| (*c, (*t).to_owned())).collect();
    assert_eq!(found, expected);
}

#[test]
fn a_filter_on_a_column_the_schema_holds_twice_is_an_error() {
    // Before, the filter tested the first `Region` and could pass rows the second one would refuse.
    let schema = Schema {
        columns: vec![
            Column::new(ColumnType::String, "Region"),
            Column::new(ColumnType::String, "Friend"),
            Column::new(ColumnType::String, "Region"),
        ],
    };
    check(
        schema,
        "Region",
        &["West"],
        &[(
            DiagnosticCode::AmbiguousColumn,
            "policy 1 `policy 1`, filters[0]: column `Region` appears more than once in the schema (columns 1 and 3), so the filter is ambiguous",
        )],
    );
}

#[test]
fn messages_about_huge_names_and_values_stay_short() {
    let schema = Schema { columns: vec![Column::new(ColumnType::Long, "Age")] };
    let huge = "9".repeat(1_000_000);
    let p = policy(1, vec![filter("Age", FilterOperator::Equals, &[&format!("x{huge}")], false)], &[1], &[]);
    let err = PolicySet::compile(&dataset(schema.clone(), true), &[p], &directory()).unwrap_err();
    let text = err.errors[0].to_string();
    assert!(text.len() < 300, "{} bytes", text.len());
    assert!(text.starts_with("policy 1 `policy 1`, filters[0]: `x999"), "{text}");
    let column = "A".repeat(1_000_000);
    let p = policy(1, vec![filter(&column, FilterOperator::Equals, &["1"], false)], &[1], &[]);
    let err = PolicySet::compile(&dataset(schema, true), &[p], &directory()).unwrap_err();
    let text = err.errors[0].to_string();
    assert!(text.len() < 300, "{} bytes", text.len());
    assert_eq!(err.errors[0].code, DiagnosticCode::UnknownColumn);
}

#[test]
fn diff_sees_users_beyond_the_directory_and_virtual_users() {
    use domo_model::UserId;
    use domo_pdp::{HeaderRow, Table};
    let schema = Schema { columns: vec![Column::new(ColumnType::String, "Region")] };
    let table = Table::from_csv("East\nWest\n".as_bytes(), &schema, HeaderRow::Absent).unwrap();
    let east = filter("Region", FilterOperator::Equals, &["East"], false);
    let old = [policy(1, vec![east.clone()], &[1], &[])];
    let mut widened = policy(1, vec![east], &[1, 777], &[]);
    widened.virtual_users = vec!["portal".to_owned()];
    let new = [widened];
    let data = dataset(schema, true);
    let old_set = PolicySet::compile(&data, &old, &directory()).unwrap();
    let new_set = PolicySet::compile(&data, &new, &directory()).unwrap();
    let (old_eval, new_eval) = (old_set.evaluate(&table).unwrap(), new_set.evaluate(&table).unwrap());
    let diff = domo_pdp::diff_policies(&old_eval, &new_eval);
    assert!(diff.grants_new_access());
    let users: Vec<(UserId, Vec<usize>)> = diff.users.iter().map(|u| (u.user, u.gained.first.clone())).collect();
    assert_eq!(users, [(UserId(777), vec![0])]);
    let virtual_users: Vec<(&str, Vec<usize>)> =
        diff.virtual_users.iter().map(|v| (v.name.as_str(), v.gained.first.clone())).collect();
    assert_eq!(virtual_users, [("portal", vec![0])]);
}

#[test]
fn lint_suggestions_stay_cheap_on_huge_cells_and_many_values() {
    use domo_pdp::{HeaderRow, Table};
    // One 4 MB cell and 20,000 distinct values; 50 EQUALS values absent from the data each
    // looked for a "did you mean" against every value, the huge cell included.
    let schema = Schema { columns: vec![Column::new(ColumnType::String, "Name")] };
    let mut csv = format!("{}\n", "n".repeat(4 << 20));
    for i in 0..20_000 {
        csv.push_str(&format!("name{i}\n"));
    }
    let table = Table::from_csv(csv.as_bytes(), &schema, HeaderRow::Absent).unwrap();
    let missing: Vec<String> = (0..50).map(|i| format!("nmae{i}")).collect();
    let values: Vec<&str> = missing.iter().map(String::as_str).collect();
    let p = policy(1, vec![filter("Name", FilterOperator::Equals, &values, false)], &[1], &[]);
    let start = std::time::Instant::now();
    let report = domo_pdp::lint(&dataset(schema, true), &[p], &directory(), &table);
    assert!(start.elapsed() < std::time::Duration::from_secs(20), "took {:?}", start.elapsed());
    let first = report.findings.iter().find(|f| f.message.starts_with("EQUALS `nmae0`")).unwrap();
    assert_eq!(first.message, "EQUALS `nmae0`: no row has this value in `Name` (did you mean `name0`?)");
}

#[test]
fn an_unknown_policy_type_is_a_warning_and_its_filters_still_apply() {
    use domo_model::PolicyType;
    let schema = Schema { columns: vec![Column::new(ColumnType::String, "Region")] };
    let mut p = policy(1, vec![filter("Region", FilterOperator::Equals, &["East"], false)], &[1], &[]);
    p.policy_type = PolicyType::from("OPEN");
    let set = PolicySet::compile(&dataset(schema, true), &[p], &directory()).unwrap();
    let warnings: Vec<(DiagnosticCode, String)> = set.warnings().iter().map(|d| (d.code, d.to_string())).collect();
    assert_eq!(
        warnings,
        [(
            DiagnosticCode::UnknownPolicyType,
            "policy 1 `policy 1`: unknown policy type `OPEN`: its filters apply as for a `user` policy (types are case-sensitive: the All Rows policy is `open`)".to_owned()
        )]
    );
    assert_eq!(set.access(domo_model::UserId(1)).reason, domo_pdp::Reason::Policies);
}

#[test]
fn a_lint_finding_of_a_compile_problem_is_the_compile_diagnostic() {
    use domo_pdp::{HeaderRow, PolicyHandle, Severity, Table};
    let schema = Schema { columns: vec![Column::new(ColumnType::String, "Region")] };
    let table = Table::from_csv("East\n".as_bytes(), &schema, HeaderRow::Absent).unwrap();
    let typo = policy(1, vec![filter("Regoin", FilterOperator::Equals, &["East"], false)], &[1], &[]);
    let fine = policy(2, vec![filter("Region", FilterOperator::Equals, &["West"], false)], &[1], &[]);
    let policies = [typo, fine];
    let err = PolicySet::compile(&dataset(schema.clone(), true), &policies, &directory()).unwrap_err();
    let report = domo_pdp::lint(&dataset(schema, true), &policies, &directory(), &table);
    let compile = report.findings.iter().find(|f| f.code.is_compile()).unwrap();
    assert_eq!(compile, &err.errors[0]);
    assert_eq!(
        (compile.severity, compile.code, compile.kind()),
        (Severity::Error, DiagnosticCode::UnknownColumn, "compile-error")
    );
    assert_eq!(compile.policy.as_ref().map(|p| p.handle), Some(PolicyHandle::from_index(0)));
    assert_eq!(
        compile.to_string(),
        "policy 1 `policy 1`, filters[0]: unknown column `Regoin` (did you mean `Region`?)"
    );
    // Lint's own analyses have codes of their own, named as their kind.
    let value = report.findings.iter().find(|f| f.code == DiagnosticCode::ValueNotInData).unwrap();
    assert_eq!((value.kind(), value.policy.as_ref().map(|p| p.handle.index())), ("value-not-in-data", Some(1)));
}

#[test]
fn a_grants_policy_handle_names_the_policy_and_its_rows() {
    use domo_pdp::{HeaderRow, PolicyHandle, Table};
    let schema = Schema { columns: vec![Column::new(ColumnType::String, "Region")] };
    let table = Table::from_csv("East\nWest\nWest\n".as_bytes(), &schema, HeaderRow::Absent).unwrap();
    let east = policy(7, vec![filter("Region", FilterOperator::Equals, &["East"], false)], &[2], &[]);
    let west = policy(9, vec![filter("Region", FilterOperator::Equals, &["West"], false)], &[1], &[]);
    let set = PolicySet::compile(&dataset(schema, true), &[east, west], &directory()).unwrap();
    let evaluation = set.evaluate(&table).unwrap();
    let why = evaluation.explain(domo_model::UserId(1), 2).unwrap();
    let handle = why.grants.first().unwrap().policy;
    assert_eq!(handle, PolicyHandle::from_index(1));
    assert_eq!(set.policies().get(handle.index()).map(|p| p.name()), Some("policy 9"));
    assert_eq!(evaluation.policy_rows(handle).map(|rows| rows.iter().collect::<Vec<_>>()), Some(vec![1, 2]));
    // A handle beyond the set names nothing rather than panicking.
    assert!(evaluation.policy_rows(PolicyHandle::from_index(5)).is_none());
}

/// One diagnostic, one text: a policy without an id is named by its place (`#2`), a long name is
/// cut, and a diagnostic about no policy is its message alone, in compile errors as in lint.
#[test]
fn diagnostics_name_a_policy_the_same_way_in_compile_and_lint() {
    use domo_pdp::{HeaderRow, Table};
    let schema = Schema { columns: vec![Column::new(ColumnType::String, "Region")] };
    let table = Table::from_csv("East\n".as_bytes(), &schema, HeaderRow::Absent).unwrap();
    let fine = policy(1, vec![filter("Region", FilterOperator::Equals, &["East"], false)], &[1], &[]);
    let mut unsaved = policy(2, vec![filter("Regoin", FilterOperator::Equals, &["East"], false)], &[1], &[]);
    unsaved.id = None;
    unsaved.name = "n".repeat(100);
    let policies = [fine, unsaved];
    let err = PolicySet::compile(&dataset(schema.clone(), true), &policies, &directory()).unwrap_err();
    let expected =
        format!("policy #2 `{}…`, filters[0]: unknown column `Regoin` (did you mean `Region`?)", "n".repeat(80));
    assert_eq!(err.to_string(), expected);
    let report = domo_pdp::lint(&dataset(schema.clone(), true), &policies, &directory(), &table);
    assert_eq!(report.findings[0].to_string(), expected);

    let set = PolicySet::compile(&dataset(schema, true), &[], &directory()).unwrap();
    assert_eq!(
        set.warnings()[0].to_string(),
        "PDP is enabled but there are no policies: PDP is off and everyone sees every row"
    );
}
