//! The engine agrees with the reference evaluator on all four questions, and on streamed CSV, for generated DataSets.

use domo_model::{
    Column, ColumnType, Dataset, Directory, DirectoryGroup, FilterOperator, GroupId, GroupRef, Owner, Policy,
    PolicyFilter, PolicyId, PolicyType, Role, Schema, User, UserId,
};
use domo_pdp::{HeaderRow, PolicySet, Reason, StreamOptions, Table};
use proptest::prelude::*;

use crate::reference::{RawCell, Reference};

pub(crate) fn pool(column_type: ColumnType) -> &'static [&'static str] {
    match column_type {
        ColumnType::String => &["a", "ab", "b", "A", "abc", "a%b", "a_b", "é", "b\\c", "x,y", "q\"t", "line\nbreak"],
        ColumnType::Long => &["-2", "0", "1", "7", "+7", "007", "9223372036854775807"],
        ColumnType::Double => &["1.5", "1.50", "-0.0", "0", "2e1", "20", "3.25", "-7"],
        ColumnType::Decimal => &["1.5", "1.50", "-1", "0", "0.00", "2.25", "10", "-0.5"],
        ColumnType::Date => &["2024-01-01", "2024-02-29", "1999-12-31", "2024-01-02"],
        ColumnType::Datetime => &[
            "2024-01-01T00:00:00Z",
            "2024-01-01 02:00:00+02:00",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00.5Z",
            "2023-12-31 23:59:59",
            "2023-12-31T20:00:00-04:00",
        ],
    }
}

const LIKE_POOL: &[&str] = &["a%", "%b", "_", "a\\%b", "%", "a_b", "%é%", "A%", "a\\_b", "%\\\\%", "%\n%"];
const TEXT_POOL: &[&str] = &["a", "b", "", "ab", "é", "\\", "A", "%"];

fn column_type() -> impl Strategy<Value = ColumnType> {
    prop::sample::select(ColumnType::ALL.to_vec())
}

fn cell(column_type: ColumnType) -> impl Strategy<Value = RawCell> {
    let values = pool(column_type);
    // Skewed: the first value is common, the others rare, so that filters on
    // them take the engine's posting-list paths as well as its full scans.
    let common = values[0];
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(String::new())),
        6 => Just(Some(common.to_owned())),
        6 => prop::sample::select(values).prop_map(|s| Some(s.to_owned())),
    ]
}

fn filter(schema: &Schema) -> impl Strategy<Value = PolicyFilter> + use<> {
    let columns = schema.columns.clone();
    (0..columns.len(), prop::sample::select(FilterOperator::ALL.to_vec()), any::<bool>(), 1usize..4).prop_flat_map(
        move |(index, operator, not, many)| {
            let column = columns[index].clone();
            let text_operator = matches!(
                operator,
                FilterOperator::Like | FilterOperator::BeginsWith | FilterOperator::EndsWith | FilterOperator::Contains
            );
            // Text operators only apply to STRING columns: use EQUALS elsewhere.
            let operator = if text_operator && column.column_type != ColumnType::String {
                FilterOperator::Equals
            } else {
                operator
            };
            let count = match operator {
                FilterOperator::Between => 2,
                FilterOperator::GreaterThan
                | FilterOperator::LessThan
                | FilterOperator::GreaterThanEqual
                | FilterOperator::LessThanEqual => 1,
                _ => many,
            };
            let pool: &'static [&'static str] = match operator {
                FilterOperator::Like => LIKE_POOL,
                FilterOperator::BeginsWith | FilterOperator::EndsWith | FilterOperator::Contains => TEXT_POOL,
                _ => pool(column.column_type),
            };
            prop::collection::vec(prop::sample::select(pool), count).prop_map(move |values| PolicyFilter {
                column: column.name.clone(),
                values: values.into_iter().map(str::to_owned).collect(),
                operator,
                not,
            })
        },
    )
}

fn policy(schema: &Schema, filters: std::ops::Range<usize>) -> impl Strategy<Value = Policy> + use<> {
    (
        prop::collection::vec(filter(schema), filters),
        prop_oneof![8 => Just(PolicyType::User), 1 => Just(PolicyType::Open)],
        prop::collection::vec(1u64..9, 0..3),
        prop::collection::vec(1u64..5, 0..2),
        prop::collection::vec(prop::sample::select(vec!["v1", "v2"]), 0..2),
    )
        .prop_map(|(filters, policy_type, users, groups, virtual_users)| Policy {
            id: None,
            policy_type,
            name: String::new(),
            filters,
            users: users.into_iter().map(UserId).collect(),
            virtual_users: virtual_users.into_iter().map(str::to_owned).collect(),
            groups: groups.into_iter().map(GroupId).collect(),
        })
}

#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub(crate) dataset: Dataset,
    pub(crate) policies: Vec<Policy>,
    pub(crate) directory: Directory,
    pub(crate) rows: Vec<Vec<RawCell>>,
    /// Per cell of non-empty text: whether to quote it in the CSV.
    pub(crate) quote: Vec<bool>,
}

fn directory() -> impl Strategy<Value = Directory> {
    (
        prop::collection::vec(prop_oneof![4 => Just(Role::Participant), 1 => Just(Role::Admin)], 7),
        prop::collection::vec(prop::collection::vec(1u64..9, 0..4), 3),
        prop::collection::vec(prop::option::of(1u64..5), 7),
    )
        .prop_map(|(roles, groups, user_group)| Directory {
            users: roles
                .into_iter()
                .zip(user_group)
                .enumerate()
                .map(|(i, (role, group))| {
                    let mut user = User::new(UserId(i as u64 + 1), format!("user {}", i + 1), role);
                    user.groups = group.map(|g| vec![GroupRef { id: GroupId(g), name: None }]);
                    user
                })
                .collect(),
            groups: groups
                .into_iter()
                .enumerate()
                .map(|(i, members)| DirectoryGroup {
                    id: GroupId(i as u64 + 1),
                    name: format!("group {}", i + 1),
                    user_ids: members.into_iter().map(UserId).collect(),
                })
                .collect(),
            roles: Vec::new(),
        })
}

pub(crate) fn case() -> impl Strategy<Value = Case> {
    case_with_rows(0..25, 0..4)
}

/// Cases with this many rows.
pub(crate) fn case_with_rows(
    rows: std::ops::Range<usize>,
    filters: std::ops::Range<usize>,
) -> impl Strategy<Value = Case> {
    prop::collection::vec(column_type(), 1..5)
        .prop_flat_map(move |types| {
            let schema =
                Schema { columns: types.iter().enumerate().map(|(i, t)| Column::new(*t, format!("c{i}"))).collect() };
            let row = types.iter().map(|t| cell(*t)).collect::<Vec<_>>();
            (
                Just(schema.clone()),
                prop::collection::vec(row, rows.clone()),
                prop::collection::vec(policy(&schema, filters.clone()), 0..6),
                directory(),
                prop::option::of(1u64..10),
                prop_oneof![6 => Just(true), 1 => Just(false)],
                prop::collection::vec(any::<bool>(), 100),
            )
        })
        .prop_map(|(schema, rows, mut policies, directory, owner, pdp_enabled, quote)| {
            for (i, p) in policies.iter_mut().enumerate() {
                p.id = Some(PolicyId(i as u64 + 1));
                p.name = format!("policy {}", i + 1);
            }
            let dataset = Dataset {
                id: "ds".into(),
                name: "generated".to_owned(),
                description: None,
                rows: rows.len() as u64,
                columns: schema.columns.len() as u64,
                schema,
                owner: owner.map(|id| Owner { id: UserId(id), name: None }),
                created_at: None,
                updated_at: None,
                data_current_at: None,
                pdp_enabled,
                policies: None,
            };
            Case { dataset, policies, directory, rows, quote }
        })
}

/// Writes the rows as CSV: NULL unquoted and empty, other cells quoted or not as `quote` says
/// (always quoted when they must be).
pub(crate) fn to_csv(case: &Case, header: HeaderRow) -> String {
    let mut out = String::new();
    if header == HeaderRow::Present {
        let names: Vec<&str> = case.dataset.schema.columns.iter().map(|c| c.name.as_str()).collect();
        out.push_str(&names.join(","));
        out.push('\n');
    }
    let mut k = 0;
    for row in &case.rows {
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            if let Some(text) = cell {
                k += 1;
                let must = text.is_empty() || text.contains([',', '"', '\n', '\r']);
                if must || case.quote[k % case.quote.len()] {
                    out.push('"');
                    out.push_str(&text.replace('"', "\"\""));
                    out.push('"');
                } else {
                    out.push_str(text);
                }
            }
        }
        // A record of one NULL cell is a blank line; with one column that is still a row.
        out.push_str(if k % 3 == 0 { "\r\n" } else { "\n" });
    }
    out
}

fn sorted_via(via: &[domo_pdp::Membership]) -> Vec<String> {
    let mut v: Vec<String> = via.iter().map(|m| format!("{m:?}")).collect();
    v.sort();
    v
}

fn check_case(case: &Case) {
    let reference =
        Reference { dataset: &case.dataset, policies: &case.policies, directory: &case.directory, rows: &case.rows };
    let csv = to_csv(case, HeaderRow::Present);
    let table = Table::from_csv(csv.as_bytes(), &case.dataset.schema, HeaderRow::Present).unwrap();
    assert_eq!(table.row_count(), case.rows.len(), "{csv:?}");
    let set = PolicySet::compile(&case.dataset, &case.policies, &case.directory).unwrap();
    let evaluation = set.evaluate(&table).unwrap();
    let mut users: Vec<UserId> = case.directory.users.iter().map(|u| u.id).collect();
    users.push(UserId(8)); // named by policies, missing from the directory
    for &user in &users {
        // 1. visible rows
        let expected = reference.visible_rows(user);
        let got: Vec<usize> = evaluation.visible_rows(user).iter().collect();
        assert_eq!(got, expected, "visible rows of user {user}\n{csv}");
        // Streaming agrees with visible rows.
        let mut out = Vec::new();
        let summary = set.write_visible_csv(user, csv.as_bytes(), &mut out, StreamOptions::default()).unwrap();
        assert_eq!(summary.rows_written as usize, expected.len(), "streamed rows of user {user}");
        let streamed = Table::from_csv(out.as_slice(), &case.dataset.schema, HeaderRow::Present).unwrap();
        for (i, &row) in expected.iter().enumerate() {
            for c in 0..case.dataset.schema.columns.len() {
                assert_eq!(streamed.value(i, c), table.value(row, c));
            }
        }
        // 4. explain, for every row
        for row in 0..case.rows.len() {
            let why = evaluation.explain(user, row).unwrap();
            assert_eq!(why.visible, reference.sees(user, row), "explain visible, user {user} row {row}");
            assert_eq!(why.reason, reference.reason(user));
            let memberships = reference.memberships(user);
            let mut grants = Vec::new();
            let mut refusals = Vec::new();
            for (p, via) in &memberships {
                let policy = &case.policies[*p];
                if reference.policy_admits(policy, row) {
                    grants.push((*p, sorted_via(via)));
                } else {
                    let failing = reference.first_failing(policy, row).unwrap();
                    let cell_is_null = {
                        let column = case
                            .dataset
                            .schema
                            .columns
                            .iter()
                            .position(|c| c.name == policy.filters[failing].column)
                            .unwrap();
                        let raw = &case.rows[row][column];
                        raw.is_none()
                            || (raw.as_deref() == Some("")
                                && case.dataset.schema.columns[column].column_type != ColumnType::String)
                    };
                    refusals.push((*p, sorted_via(via), failing, cell_is_null));
                }
            }
            let got_grants: Vec<_> = why.grants.iter().map(|g| (g.policy.index(), sorted_via(&g.via))).collect();
            let got_refusals: Vec<_> = why
                .refusals
                .iter()
                .map(|r| (r.policy.index(), sorted_via(&r.via), r.filter, r.cell.is_none()))
                .collect();
            assert_eq!(got_grants, grants, "grants, user {user} row {row}");
            assert_eq!(got_refusals, refusals, "refusals, user {user} row {row}");
        }
    }
    // 2. visible counts
    let counts = evaluation.visible_counts();
    assert_eq!(counts.len(), case.directory.users.len());
    for count in &counts {
        assert_eq!(count.rows, reference.visible_rows(count.user).len(), "count of user {}", count.user);
        assert_eq!(count.reason, reference.reason(count.user));
        if count.reason == Reason::NoPolicy {
            assert_eq!(count.rows, 0);
        }
    }
    // 3. viewers
    for row in 0..case.rows.len() {
        assert_eq!(evaluation.viewers(row), reference.viewers(row), "viewers of row {row}");
    }
    // Each policy's row set.
    for (p, policy) in case.policies.iter().enumerate() {
        let expected: Vec<usize> = (0..case.rows.len()).filter(|&r| reference.policy_admits(policy, r)).collect();
        let got: Vec<usize> = evaluation.policy_rows(domo_pdp::PolicyHandle::from_index(p)).unwrap().iter().collect();
        if policy.filters.is_empty() || policy.policy_type == PolicyType::Open {
            assert_eq!(got.len(), case.rows.len());
        } else {
            assert_eq!(got, expected, "rows of policy {p}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn engine_agrees_with_reference(case in case()) {
        check_case(&case);
    }

    /// Without a header the same CSV loads to the same table.
    #[test]
    fn header_absent_loads_the_same_rows(case in case()) {
        let with = Table::from_csv(to_csv(&case, HeaderRow::Present).as_bytes(), &case.dataset.schema, HeaderRow::Present).unwrap();
        let without = Table::from_csv(to_csv(&case, HeaderRow::Absent).as_bytes(), &case.dataset.schema, HeaderRow::Absent).unwrap();
        prop_assert_eq!(with.row_count(), without.row_count());
        for r in 0..with.row_count() {
            for c in 0..case.dataset.schema.columns.len() {
                prop_assert_eq!(with.value(r, c), without.value(r, c));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Larger tables reach the engine's posting-list paths (selective filters checked row by row).
    #[test]
    fn engine_agrees_with_reference_on_larger_tables(case in case_with_rows(100..300, 2..5)) {
        check_case(&case);
    }
}
