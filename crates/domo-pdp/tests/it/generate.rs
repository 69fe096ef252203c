//! Policies generated from an entitlements table: the layout, merging, users and groups, every bad row located.

use domo_model::{Dataset, Directory, DirectoryGroup, GroupId, Role, User, UserId};
use domo_pdp::{CsvLimits, GeneratePoliciesError, Generated, Targets, generate_policies};
use proptest::prelude::*;

fn dataset(id: &str) -> Dataset {
    serde_json::from_value(serde_json::json!({
        "id": id, "name": id, "pdpEnabled": true, "owner": {"id": 1},
        "schema": {"columns": [
            {"type": "STRING", "name": "Region"},
            {"type": "LONG", "name": "Amount"},
            {"type": "DATE", "name": "Day"},
            {"type": "DECIMAL", "name": "Price"},
            {"type": "STRING", "name": "Twice"},
            {"type": "STRING", "name": "Twice"}
        ]}
    }))
    .unwrap()
}

fn user(id: u64, name: &str, email: &str) -> User {
    User { email: Some(email.to_owned()), ..User::new(UserId(id), name, Role::Participant) }
}

/// Users 27, 31 and 40, two users named `Alex`, and groups 7 `Planners` and 40 `Gauss Fans` (id shared with a user).
fn directory() -> Directory {
    Directory {
        users: vec![
            user(27, "DomoSupport", "support@example.com"),
            user(31, "Ada Lovelace", "Ada@Example.com"),
            user(40, "Carl Gauss", "gauss@example.com"),
            user(41, "Alex", "alex1@example.com"),
            user(42, "Alex", "alex2@example.com"),
        ],
        groups: vec![
            DirectoryGroup { id: GroupId(7), name: "Planners".to_owned(), user_ids: vec![UserId(31)] },
            DirectoryGroup { id: GroupId(40), name: "Gauss Fans".to_owned(), user_ids: vec![UserId(40)] },
        ],
        roles: vec![],
    }
}

const SALES: &str = "sales";
const SCHOOLS: &str = "schools";

fn generate(table: &str) -> Result<Generated, GeneratePoliciesError> {
    let datasets = [dataset(SALES), dataset(SCHOOLS)];
    generate_policies(table.as_bytes(), Targets::Many(&datasets), &directory(), CsvLimits::default())
}

/// The generated policies, one line each: `dataset/name [type]: filters; users; groups`.
fn render(generated: &Generated) -> Vec<String> {
    let mut lines = Vec::new();
    for dataset in &generated.datasets {
        for policy in &dataset.policies {
            let filters: Vec<String> = policy
                .filters
                .iter()
                .map(|f| {
                    format!("{} {}{} {}", f.column, if f.not { "NOT " } else { "" }, f.operator, f.values.join("|"))
                })
                .collect();
            let users: Vec<String> = policy.users.iter().map(ToString::to_string).collect();
            let groups: Vec<String> = policy.groups.iter().map(ToString::to_string).collect();
            lines.push(format!(
                "{}/{} [{}]: {}; users {}; groups {}",
                dataset.id,
                policy.name,
                policy.policy_type,
                filters.join(" AND "),
                users.join(","),
                groups.join(",")
            ));
        }
    }
    lines
}

/// The table (a header is added when `table` has none of the layout's names on its first line) generates `expected`.
fn check(table: &str, expected: &[&str]) {
    let generated = generate(&with_header(table)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(render(&generated), expected);
}

/// The table fails with exactly these problems.
fn check_err(table: &str, expected: &[&str]) {
    let error = generate(&with_header(table)).unwrap_err();
    let GeneratePoliciesError::Problems { problems, .. } = &error else { panic!("{error}") };
    let found: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(found, expected);
}

const HEADER: &str = "target_ds,policy_name,policy_column,user_group,operator,value\n";

fn with_header(table: &str) -> String {
    let first = table.lines().next().unwrap_or_default().to_lowercase();
    if first.contains("policy_") { table.to_owned() } else { format!("{HEADER}{table}") }
}

#[test]
fn each_operator_makes_its_filter() {
    check("sales,P,Region,27,,East", &["sales/P [user]: Region EQUALS East; users 27; groups "]);
    check("sales,P,Region,27,EQUALS,East|West", &["sales/P [user]: Region EQUALS East|West; users 27; groups "]);
    check("sales,P,Region,27,like,E%|_est", &["sales/P [user]: Region LIKE E%|_est; users 27; groups "]);
    check("sales,P,Amount,27,GREATER_THAN,10", &["sales/P [user]: Amount GREATER_THAN 10; users 27; groups "]);
    check("sales,P,Amount,27,LESS_THAN,10", &["sales/P [user]: Amount LESS_THAN 10; users 27; groups "]);
    check(
        "sales,P,Day,27,GREATER_THAN_EQUAL,2024-01-01",
        &["sales/P [user]: Day GREATER_THAN_EQUAL 2024-01-01; users 27; groups "],
    );
    check("sales,P,Price,27,less than equal,9.50", &["sales/P [user]: Price LESS_THAN_EQUAL 9.50; users 27; groups "]);
    check("sales,P,Region,27,BEGINS_WITH,No|So", &["sales/P [user]: Region BEGINS_WITH No|So; users 27; groups "]);
    check("sales,P,Region,27,ENDS_WITH,st", &["sales/P [user]: Region ENDS_WITH st; users 27; groups "]);
    check("sales,P,Region,27,Contains,as", &["sales/P [user]: Region CONTAINS as; users 27; groups "]);
}

#[test]
fn between_takes_low_and_high() {
    check("sales,P,Amount,27,BETWEEN,10 & 20", &["sales/P [user]: Amount BETWEEN 10|20; users 27; groups "]);
    check(
        "sales,P,Day,27,between,2024-01-01&2024-12-31",
        &["sales/P [user]: Day BETWEEN 2024-01-01|2024-12-31; users 27; groups "],
    );
    check_err("sales,P,Amount,27,BETWEEN,10", &["line 2, value: BETWEEN takes `low & high`, not `10`"]);
    check_err("sales,P,Amount,27,BETWEEN,1 & 2 & 3", &["line 2, value: BETWEEN takes `low & high`, not `1 & 2 & 3`"]);
    check_err(
        "sales,P,Amount,27,BETWEEN,1 & 2|3 & 4",
        &[
            "line 2, value: BETWEEN takes one range `low & high`, not a list (`1 & 2|3 & 4`): write one row per range, each its own policy",
        ],
    );
    check_err(
        "sales,P,Amount,27,BETWEEN,20 & 10",
        &[
            "line 2: DataSet `sales`, policy #1 `P`, filters[0]: BETWEEN `20` and `10`: the low bound is above the high bound, so the filter matches no row",
        ],
    );
}

#[test]
fn not_comes_from_the_not_column_or_a_not_prefix() {
    let table = "target_ds,policy_name,policy_column,user_group,operator,not,value\n\
                 sales,P,Region,27,NOT EQUALS,,East\n\
                 sales,P,Amount,27,LESS_THAN,true,0\n\
                 sales,P,Day,27,not_greater_than,FALSE,2024-01-01\n";
    check(
        table,
        &[
            "sales/P [user]: Amount NOT LESS_THAN 0 AND Day NOT GREATER_THAN 2024-01-01 AND Region NOT EQUALS East; users 27; groups ",
        ],
    );
    check_err(
        "target_ds,policy_name,policy_column,user_group,operator,not,value\nsales,P,Region,27,NOT EQUALS,yes,East",
        &["line 2, operator: `NOT EQUALS` is negated twice (by `NOT` and by the `not` column): negate once"],
    );
    check_err(
        "target_ds,policy_name,policy_column,user_group,operator,not,value\nsales,P,Region,27,,maybe,East",
        &["line 2, not: `maybe` is not a yes or no: write `true` or `false` (or leave it empty)"],
    );
}

#[test]
fn rows_of_one_policy_merge() {
    // A user's value list over many rows is one policy; columns are ANDed; members unioned.
    check(
        "sales,East,Region,27,,East\nsales,East,Region,27,,North|East\nsales,East,Amount,27,LESS_THAN,100",
        &["sales/East [user]: Amount LESS_THAN 100 AND Region EQUALS East|North; users 27; groups "],
    );
    // Each member's values are gathered from every row naming it, whatever else the row names.
    check(
        "sales,East,Region,27,,East\nsales,East,Region,31,,East\nsales,East,Region,27|31,,North",
        &["sales/East [user]: Region EQUALS East|North; users 27,31; groups "],
    );
    check(
        "sales,East,Region,27,,East\nsales,East,Region,31,,East\nsales,East,Region,Planners,,East",
        &["sales/East [user]: Region EQUALS East; users 27,31; groups 7"],
    );
    // Policies sorted by name, per DataSet; DataSets by id.
    check(
        "schools,B,Region,27,,x\nsales,B,Region,27,,y\nsales,A,Region,27,,z",
        &[
            "sales/A [user]: Region EQUALS z; users 27; groups ",
            "sales/B [user]: Region EQUALS y; users 27; groups ",
            "schools/B [user]: Region EQUALS x; users 27; groups ",
        ],
    );
}

#[test]
fn rows_that_would_give_one_policys_members_different_filters_are_an_error() {
    check_err(
        "sales,East,Region,27,,East\nsales,East,Region,31,,West",
        &[
            "line 3: policy `East` of DataSet `sales`: user 31 `Ada Lovelace` gets `Region` EQUALS `West`, but user 27 `DomoSupport` (line 2) gets `Region` EQUALS `East`; a policy's filters apply to all its members, so give them different policy names",
        ],
    );
    check_err(
        "sales,East,Region,27,,East\nsales,East,Region,31|Planners|Carl Gauss,,West\nsales,East,Amount,27|31|Planners|Carl Gauss,LESS_THAN,5",
        &[
            "line 3: policy `East` of DataSet `sales`: user 31 `Ada Lovelace` gets `Amount` LESS_THAN `5` and `Region` EQUALS `West`, but user 27 `DomoSupport` (line 2) gets `Amount` LESS_THAN `5` and `Region` EQUALS `East` (and 2 more members differ); a policy's filters apply to all its members, so give them different policy names",
        ],
    );
    check_err(
        "sales,P,Amount,27,GREATER_THAN,1\nsales,P,Amount,27,GREATER_THAN,2",
        &[
            "line 3, value: conflicts with line 2: both give the same users `Amount` GREATER_THAN in one policy, line 2 with `1` and this line with `2` (a policy's filters are ANDed; use two policy names for two ranges)",
        ],
    );
    check_err(
        "sales,P,All Rows,27,,All Rows\nsales,P,Region,27,,East",
        &[
            "line 3: policy `P` of DataSet `sales`: line 2 makes it the All Rows policy, and this line gives it a filter (the All Rows policy shows every row and has no filters)",
        ],
    );
}

#[test]
fn all_rows_rows_fill_the_all_rows_policy() {
    check(
        "sales,All Rows,All Rows,27|Planners,,All Rows\nsales,All Rows,all rows,31,,",
        &["sales/All Rows [open]: ; users 27,31; groups 7"],
    );
    check_err(
        "sales,All Rows,All Rows,27,EQUALS,East",
        &[
            "line 2, operator: an All Rows row shows every row and takes no operator or `not`",
            "line 2, value: `East` with policy_column `All Rows`: an All Rows row shows every row and takes no value (write `All Rows` or leave it empty)",
        ],
    );
}

#[test]
fn users_and_groups_by_id_email_or_name() {
    check(
        "sales,P,Region,27|ada@example.com|Carl Gauss|Planners|group:Gauss Fans|user:42,,East",
        &["sales/P [user]: Region EQUALS East; users 27,31,40,42; groups 7,40"],
    );
    check_err(
        "sales,P,Region,Alex,,East",
        &[
            "line 2, user_group: `Alex` is ambiguous: it names user 41 `Alex` and user 42 `Alex` (write `user:ID` or `group:ID` to pick one)",
        ],
    );
    check_err(
        "sales,P,Region,40,,East",
        &[
            "line 2, user_group: `40` is ambiguous: it names user 40 `Carl Gauss` and group 40 `Gauss Fans` (write `user:ID` or `group:ID` to pick one)",
        ],
    );
    check("sales,P,Region,group:40|user:40,,East", &["sales/P [user]: Region EQUALS East; users 40; groups 40"]);
    check_err(
        "sales,P,Region,nobody@example.com|group:DomoSupport|27||,,East",
        &[
            "line 2, user_group: entry 4 is empty (`nobody@example.com|group:DomoSupport|27||`)",
            "line 2, user_group: entry 5 is empty (`nobody@example.com|group:DomoSupport|27||`)",
            "line 2, user_group: unknown group `group:DomoSupport`: no group in the directory has this id or name",
            "line 2, user_group: unknown user or group `nobody@example.com`: no user or group in the directory has this id, email or name",
        ],
    );
    check_err(
        "sales,P,Region,,,East",
        &[
            "line 2, user_group: no user or group: name at least one (users by id, email or name, groups by id or name, `|`-separated)",
        ],
    );
}

#[test]
fn every_bad_row_is_reported_at_its_line() {
    check_err(
        "sales,P,Regio,27,,East\n\
         unknown,P,Region,27,,East\n\
         ,P,Region,27,,East\n\
         sales,,Region,27,,East\n\
         sales,P,,27,,East\n\
         sales,P,Twice,27,,East\n\
         sales,P,Amount,27,,ten\n\
         sales,P,Amount,27,LIKE,1%\n\
         sales,P,Region,27,EQAULS,East\n\
         sales,P,Region,27,,\n\
         sales,P,Region,27,,East||West\n\
         sales,P,Amount,27,GREATER_THAN,1|2\n\
         sales,P,Region,27\n\
         \"sales\",\"P\",\"Region\",\"27\",\"\",\"multi\nline\"\n\
         sales,P,Day,27,,2024-13-01",
        &[
            "line 2, policy_column: DataSet `sales` has no column `Regio` (did you mean `Region`?)",
            "line 3, target_ds: DataSet `unknown` is not in the tree (no folder `datasets/unknown` with a dataset.json)",
            "line 4, target_ds: no DataSet id",
            "line 5, policy_name: no policy name",
            "line 6, policy_column: no column (name a column of the DataSet, or `All Rows`)",
            "line 7, policy_column: column `Twice` appears more than once in the DataSet's schema, so a filter on it is ambiguous",
            "line 8, value: column `Amount`: `ten` is not a valid LONG (expected an integer such as `-42`)",
            "line 9, operator: LIKE reads text, and column `Amount` is LONG",
            "line 10, operator: unknown operator `EQAULS` (did you mean `EQUALS`?); the operators are EQUALS, LIKE, GREATER_THAN, LESS_THAN, GREATER_THAN_EQUAL, LESS_THAN_EQUAL, BETWEEN, BEGINS_WITH, ENDS_WITH, CONTAINS, each optionally after `NOT `",
            "line 11, value: no value: EQUALS needs one or more values, `|`-separated",
            "line 12, value: value 2 of `East||West` is empty (values are `|`-separated; an empty one would match only empty cells)",
            "line 13, value: GREATER_THAN takes one value, not a list (`1|2`)",
            "line 14: the row has 4 fields, the header has 6",
            "line 17, value: column `Day`: `2024-13-01` is not a valid DATE (expected `YYYY-MM-DD`)",
        ],
    );
}

#[test]
fn header_problems_are_reported_before_any_row() {
    check_err(
        "target_ds,policy_nme,policy_column,user_group,value,value,delete_options\n",
        &[
            "line 1: unknown column `delete_options` (generate writes each named DataSet's whole policies.json; `domo pdp plan` shows what it deletes); the columns are target_ds, policy_name, policy_column, user_group, operator, not, value",
            "line 1: unknown column `policy_nme` (did you mean `policy_name`?); the columns are target_ds, policy_name, policy_column, user_group, operator, not, value",
            "line 1, policy_name: the header has no `policy_name` column",
            "line 1, value: the column appears twice in the header (columns 5 and 6)",
        ],
    );
    // Column names in any case, a byte-order mark, and the aliases.
    check(
        "\u{feff}Dataset_ID,POLICY_NAME,Policy_Column,User_Group,Values\nsales,P,Region,27,East",
        &["sales/P [user]: Region EQUALS East; users 27; groups "],
    );
    check_err(
        "policy_name,policy_column,user_group,value\nP,Region,27,East",
        &[
            "line 1, target_ds: the header has no `target_ds` column (it names the DataSet of each row; with one DataSet folder it may be left out)",
        ],
    );
    check_err(
        "target_ds,policy_name,policy_column,user_group,value\n",
        &["line 1: the table has no rows: nothing to generate"],
    );
    assert!(matches!(generate(""), Err(GeneratePoliciesError::Empty)));
}

#[test]
fn policies_over_domos_value_limit_are_an_error() {
    let values: Vec<String> = (0..30).map(|i| format!("Region number {i:02}")).collect();
    check_err(
        &format!("sales,P,Region,27,,{}", values.join("|")),
        &[
            "line 2: DataSet `sales`, policy #1 `P`: the values add up to 510 characters (one separator per value); Domo requires under 255 (split the policy: fewer values each)",
        ],
    );
}

#[test]
fn one_dataset_takes_its_rows_and_skips_the_others() {
    let table = "target_ds,policy_name,policy_column,user_group,value\nsales,P,Region,27,East\nschools,Q,Region,27,West\n,R,Region,27,North\n";
    let one = dataset(SALES);
    let generated =
        generate_policies(table.as_bytes(), Targets::One(&one), &directory(), CsvLimits::default()).unwrap();
    assert_eq!(
        render(&generated),
        [
            "sales/P [user]: Region EQUALS East; users 27; groups ",
            "sales/R [user]: Region EQUALS North; users 27; groups ",
        ]
    );
    assert_eq!((generated.rows, generated.skipped), (3, 1));
    // A row without a DataSet id is for the one DataSet; a table with no row for it is an error.
    let other = dataset("elsewhere");
    let generated =
        generate_policies(table.as_bytes(), Targets::One(&other), &directory(), CsvLimits::default()).unwrap();
    assert_eq!(render(&generated), ["elsewhere/R [user]: Region EQUALS North; users 27; groups "]);
    let table = "target_ds,policy_name,policy_column,user_group,value\nsales,P,Region,27,East\n";
    let error =
        generate_policies(table.as_bytes(), Targets::One(&other), &directory(), CsvLimits::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "1 problem:\n  line 1, target_ds: no row is for DataSet `elsewhere`: nothing to generate"
    );
}

#[test]
fn problems_are_capped() {
    let mut table = HEADER.to_owned();
    for _ in 0..1000 {
        table.push_str("sales,P,Nope,27,,x\n");
    }
    let error = generate(&table).unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with("1000 problems:\n  line 2, policy_column: DataSet `sales` has no column `Nope`"),
        "{text}"
    );
    assert!(text.ends_with("\n  … and 950 more"), "{text}");
}

#[test]
fn a_syntax_error_stops_at_its_line() {
    check_err("sales,P,Region,27,,East\nsales,P,\"Region,27,,East\n", &["line 3: a quoted field is never closed"]);
}

/// A row of a generated table: (dataset, policy, operator, values).
type Row = (usize, usize, usize, Vec<usize>);

fn rows() -> impl Strategy<Value = Vec<Row>> {
    prop::collection::vec((0..2usize, 0..3usize, 0..3usize, prop::collection::vec(0..4usize, 1..3)), 1..25)
}

fn table(rows: &[Row]) -> String {
    const USERS: [&str; 3] = ["27", "ada@example.com", "Planners"];
    const OPERATORS: [&str; 3] = ["EQUALS", "NOT CONTAINS", "BEGINS_WITH"];
    let mut text = HEADER.to_owned();
    for (dataset, policy, operator, values) in rows {
        let values: Vec<String> = values.iter().map(|v| format!("v{v}")).collect();
        // One member set per policy, so that rows never disagree on a policy's filters.
        text.push_str(&format!(
            "{},P{policy},Region,{},{},{}\n",
            [SALES, SCHOOLS][*dataset],
            USERS[*policy],
            OPERATORS[*operator],
            values.join("|")
        ));
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The output depends on the rows, not their order, and every row's values reach its policy.
    #[test]
    fn output_is_independent_of_row_order(rows in rows(), seed in any::<u64>()) {
        let generated = generate(&table(&rows)).unwrap();
        let mut shuffled = rows.clone();
        // A deterministic shuffle from the seed.
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(&generate(&table(&shuffled)).unwrap(), &generated);
        for (dataset, policy, operator, values) in &rows {
            let id = [SALES, SCHOOLS][*dataset];
            let out = generated.datasets.iter().find(|d| d.id.as_str() == id).unwrap();
            let p = out.policies.iter().find(|p| p.name == format!("P{policy}")).unwrap();
            let op = ["EQUALS", "CONTAINS", "BEGINS_WITH"][*operator];
            let f = p.filters.iter().find(|f| f.operator.as_str() == op && f.not == (*operator == 1)).unwrap();
            for v in values {
                let value = format!("v{v}");
                prop_assert!(f.values.contains(&value));
            }
            let mut sorted = f.values.clone();
            sorted.sort();
            sorted.dedup();
            prop_assert_eq!(&sorted, &f.values);
        }
    }
}

#[test]
fn a_large_table_gives_every_member_its_values() {
    // 100 DataSets x 10 policies x 20 rows: each policy's 5 members (by id, email, name, group) get 4 values,
    // one row per member and value, in an order that interleaves DataSets and policies.
    let datasets: Vec<Dataset> = (0..100).map(|d| dataset(&format!("ds{d:03}"))).collect();
    let members = ["27", "ada@example.com", "Carl Gauss", "Planners", "user:42"];
    let mut table = HEADER.to_owned();
    for value in 0..4 {
        for member in members {
            for d in 0..100 {
                for p in 0..10 {
                    table.push_str(&format!("ds{d:03},P{p},Region,{member},,R{}\n", p * 10 + value));
                }
            }
        }
    }
    let generated =
        generate_policies(table.as_bytes(), Targets::Many(&datasets), &directory(), CsvLimits::default()).unwrap();
    assert_eq!(
        (generated.rows, generated.datasets.len(), generated.policies(), generated.filters()),
        (20_000, 100, 1000, 1000)
    );
    for dataset in &generated.datasets {
        for (p, policy) in dataset.policies.iter().enumerate() {
            assert_eq!(policy.name, format!("P{p}"));
            let expected: Vec<String> = (0..4).map(|v| format!("R{}", p * 10 + v)).collect();
            assert_eq!(policy.filters[0].values, expected);
            assert_eq!(policy.users, [UserId(27), UserId(31), UserId(40), UserId(42)]);
            assert_eq!(policy.groups, [GroupId(7)]);
        }
    }
}
