//! `domo pdp generate`: an entitlements table written as the policies.json of each DataSet of a tree, all or nothing.

use std::path::Path;

/// Two DataSets of a tree and their ids.
const SALES: &str = "11111111-1111-4111-8111-111111111111";
const SCHOOLS: &str = "22222222-2222-4222-8222-222222222222";

/// An instance tree: directory.json (users 27, 31, 40; group 7 `Planners`) and the two DataSets.
fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("directory.json"),
        r#"{
  "users": [
    {"id": 27, "name": "DomoSupport", "email": "support@example.com", "role": "Participant"},
    {"id": 31, "name": "Ada Lovelace", "email": "ada@example.com", "role": "Participant"},
    {"id": 40, "name": "Carl Gauss", "email": "gauss@example.com", "role": "Participant"}
  ],
  "groups": [{"id": 7, "name": "Planners", "userIds": [31]}]
}
"#,
    )
    .unwrap();
    for (id, name, columns) in [
        (
            SALES,
            "Sales",
            r#"[{"type": "STRING", "name": "Region"}, {"type": "LONG", "name": "Amount"}, {"type": "DATE", "name": "Day"}]"#,
        ),
        (SCHOOLS, "Schools", r#"[{"type": "STRING", "name": "School"}, {"type": "LONG", "name": "Grade"}]"#),
    ] {
        let folder = root.join("datasets").join(id);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(
            folder.join("dataset.json"),
            format!(r#"{{"id": "{id}", "name": "{name}", "pdpEnabled": true, "owner": {{"id": 1}}, "schema": {{"columns": {columns}}}}}"#),
        )
        .unwrap();
    }
    dir
}

/// Every file of the tree's DataSets but dataset.json, with its text.
fn files(dir: &Path) -> String {
    let mut text = String::new();
    for id in [SALES, SCHOOLS] {
        let folder = dir.join("datasets").join(id);
        let mut names: Vec<String> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "dataset.json")
            .collect();
        names.sort();
        for name in names {
            text.push_str(&format!("=== datasets/{id}/{name}\n"));
            text.push_str(&std::fs::read_to_string(folder.join(&name)).unwrap());
        }
    }
    text
}

/// Writes `table` as entitlements.csv in a fresh tree, runs `domo pdp generate entitlements.csv . ARGS`,
/// and returns the transcript followed by the files it left.
fn generate(table: &str, args: &[&str]) -> String {
    let dir = tree();
    std::fs::write(dir.path().join("entitlements.csv"), table).unwrap();
    let mut all = vec!["pdp", "generate", "entitlements.csv", "."];
    all.extend_from_slice(args);
    let mut text = crate::run_in(dir.path(), &all);
    text.push_str(&files(dir.path()));
    text
}

macro_rules! check {
    ($name:literal, $table:expr) => {
        insta::assert_snapshot!($name, generate($table, &[]))
    };
    ($name:literal, $table:expr, $args:expr) => {
        insta::assert_snapshot!($name, generate($table, $args))
    };
}

#[test]
fn a_table_for_two_datasets_writes_both() {
    check!(
        "generate_two_datasets",
        &format!(
            "target_ds,policy_name,policy_column,user_group,operator,value\n\
             {SALES},East,Region,ada@example.com|27,,East|North-East\n\
             {SALES},East,Amount,ada@example.com|27,BETWEEN,0 & 1000\n\
             {SALES},East,Region,Planners,,East|North-East\n\
             {SALES},East,Amount,Planners,BETWEEN,0 & 1000\n\
             {SALES},Not West,Region,Carl Gauss,NOT ENDS_WITH,West\n\
             {SALES},Recent,Day,40,GREATER_THAN_EQUAL,2024-01-01\n\
             {SCHOOLS},Primary,Grade,27,LESS_THAN_EQUAL,6\n\
             {SCHOOLS},Primary,School,27,CONTAINS,Elementary|Primary\n\
             {SCHOOLS},All Rows,All Rows,31,,All Rows\n"
        )
    );
}

#[test]
fn bad_rows_are_all_reported_and_nothing_is_written() {
    check!(
        "generate_bad_rows",
        &format!(
            "target_ds,policy_name,policy_column,user_group,operator,value\n\
             {SALES},East,Region,27,,East\n\
             {SALES},East,Regoin,27,,East\n\
             {SALES},East,Amount,27,,lots\n\
             {SALES},East,Region,nobody@example.com,,East\n\
             {SALES},East,Region,27,GREATER,East\n\
             {SALES},Range,Amount,27,BETWEEN,10\n\
             {SALES},West,Region,27,,West\n\
             {SALES},West,Region,31,,East\n\
             33333333-3333-4333-8333-333333333333,East,Region,27,,East\n\
             {SCHOOLS},Primary,Grade,27,,6\n"
        )
    );
}

#[test]
fn a_built_in_policy_with_members_that_the_table_leaves_out_is_warned_about() {
    let dir = tree();
    let policies = dir.path().join("datasets").join(SALES).join("policies.json");
    std::fs::write(
        &policies,
        r#"[{"id": 1, "type": "open", "name": "All Rows", "filters": [], "users": [40], "groups": [], "virtualUsers": []}]"#,
    )
    .unwrap();
    let schools = dir.path().join("datasets").join(SCHOOLS).join("policies.json");
    std::fs::write(&schools, r#"[{"id": 2, "type": "open", "name": "All Rows", "filters": [], "users": []}]"#).unwrap();
    let table = format!(
        "target_ds,policy_name,policy_column,user_group,value
{SALES},East,Region,27,East
{SCHOOLS},P,School,27,x
"
    );
    std::fs::write(dir.path().join("entitlements.csv"), table).unwrap();
    let out = crate::run_in(dir.path(), &["pdp", "generate", "entitlements.csv", "."]);
    assert!(out.contains("exit: 0"), "{out}");
    assert!(
        out.contains(&format!(
            "warning: `./datasets/{SALES}/policies.json`: the built-in policy `All Rows` is not in the table, so it \
             leaves policies.json; a plan never deletes Domo's built-in policies, so its members keep seeing every \
             row"
        )),
        "{out}"
    );
    assert!(!out.contains(&format!("datasets/{SCHOOLS}/policies.json`: the built-in")), "no members: {out}");
    // Given rows, it is the table's, and nothing is said.
    let table = format!(
        "target_ds,policy_name,policy_column,user_group,value
{SALES},East,Region,27,East
{SALES},All Rows,All Rows,40,
"
    );
    std::fs::write(&policies, r#"[{"id": 1, "type": "open", "name": "All Rows", "filters": [], "users": [40]}]"#)
        .unwrap();
    std::fs::write(dir.path().join("entitlements.csv"), table).unwrap();
    let out = crate::run_in(dir.path(), &["pdp", "generate", "entitlements.csv", "."]);
    assert!(out.contains("exit: 0") && !out.contains("warning"), "{out}");
}

#[test]
fn a_run_with_an_error_keeps_the_files_as_they_were() {
    let dir = tree();
    let policies = dir.path().join("datasets").join(SALES).join("policies.json");
    std::fs::write(&policies, "[]\n").unwrap();
    let table = format!(
        "target_ds,policy_name,policy_column,user_group,value\n{SALES},East,Region,27,East\n{SCHOOLS},P,Nope,27,x\n"
    );
    std::fs::write(dir.path().join("entitlements.csv"), table).unwrap();
    let out = crate::run_in(dir.path(), &["pdp", "generate", "entitlements.csv", "."]);
    assert!(out.contains("exit: 2"), "{out}");
    assert_eq!(std::fs::read_to_string(&policies).unwrap(), "[]\n");
    assert!(!dir.path().join("datasets").join(SCHOOLS).join("policies.json").exists());
    let leftovers: Vec<_> = std::fs::read_dir(policies.parent().unwrap()).unwrap().collect();
    assert_eq!(leftovers.len(), 2, "only dataset.json and policies.json: {leftovers:?}");
}

#[test]
fn the_same_table_in_any_row_order_gives_the_same_bytes_and_check_passes() {
    let rows = [
        format!("{SALES},East,Region,ada@example.com,,East"),
        format!("{SALES},East,Region,27,,East"),
        format!("{SALES},East,Region,27|ada@example.com,,North"),
        format!("{SALES},Big,Amount,40,GREATER_THAN,100"),
        format!("{SCHOOLS},P,School,Planners,BEGINS_WITH,St"),
    ];
    let header = "target_ds,policy_name,policy_column,user_group,operator,value\n";
    let dir = tree();
    let table = dir.path().join("entitlements.csv");
    std::fs::write(&table, format!("{header}{}\n", rows.join("\n"))).unwrap();
    let first = crate::run_in(dir.path(), &["pdp", "generate", "entitlements.csv", "."]);
    assert!(first.contains("2 files written, 0 unchanged"), "{first}");
    let written = files(dir.path());
    let mut reversed = rows.clone();
    reversed.reverse();
    std::fs::write(&table, format!("{header}{}\n", reversed.join("\n"))).unwrap();
    let again = crate::run_in(dir.path(), &["pdp", "generate", "entitlements.csv", "."]);
    assert!(again.contains("0 files written, 2 unchanged"), "{again}");
    assert_eq!(files(dir.path()), written);
    insta::assert_snapshot!(
        "generate_check_up_to_date",
        crate::run_in(dir.path(), &["pdp", "generate", "entitlements.csv", ".", "--check"])
    );
}

#[test]
fn check_fails_when_a_file_would_change_and_writes_nothing() {
    let dir = tree();
    let policies = dir.path().join("datasets").join(SALES).join("policies.json");
    std::fs::write(&policies, "[]\n").unwrap();
    std::fs::write(
        dir.path().join("entitlements.csv"),
        format!("target_ds,policy_name,policy_column,user_group,value\n{SALES},East,Region,27,East\n"),
    )
    .unwrap();
    insta::assert_snapshot!(
        "generate_check_would_change",
        crate::run_in(dir.path(), &["pdp", "generate", "entitlements.csv", ".", "--check"]).replace(SALES, "SALES")
    );
    assert_eq!(std::fs::read_to_string(&policies).unwrap(), "[]\n");
}

#[test]
fn one_dataset_folder_takes_its_rows_and_the_trees_directory() {
    let dir = tree();
    std::fs::write(
        dir.path().join("entitlements.csv"),
        format!(
            "target_ds,policy_name,policy_column,user_group,value\n{SALES},East,Region,27,East\n{SCHOOLS},P,School,27,x\n"
        ),
    )
    .unwrap();
    let folder = format!("datasets/{SALES}");
    let out = crate::run_in(dir.path(), &["pdp", "generate", "entitlements.csv", "--dataset", &folder]);
    insta::assert_snapshot!("generate_one_dataset", format!("{out}{}", files(dir.path())).replace(SALES, "SALES"));
}

#[test]
fn input_errors_name_the_place() {
    let dir = tree();
    std::fs::write(dir.path().join("entitlements.csv"), "").unwrap();
    std::fs::create_dir(dir.path().join("not-a-tree")).unwrap();
    let wrong = dir.path().join("datasets").join("renamed");
    std::fs::create_dir(&wrong).unwrap();
    std::fs::copy(dir.path().join("datasets").join(SALES).join("dataset.json"), wrong.join("dataset.json")).unwrap();
    let mut text = String::new();
    text.push_str(&crate::run_in(dir.path(), &["pdp", "generate", "entitlements.csv", "not-a-tree"]));
    text.push_str(&crate::run_in(dir.path(), &["pdp", "generate", "entitlements.csv", "."]));
    std::fs::remove_dir_all(&wrong).unwrap();
    text.push_str(&crate::run_in(dir.path(), &["pdp", "generate", "entitlements.csv", "."]));
    text.push_str(&crate::run_in(dir.path(), &["pdp", "generate", "missing.csv", "."]));
    insta::assert_snapshot!("generate_input_errors", text.replace(SALES, "SALES"));
}

#[test]
fn a_generated_folder_previews_as_the_table_says() {
    // The bundled example, its policies replaced by those of a table without target_ds:
    // what `domo pdp matrix` then shows is what the table grants.
    let dir = tempfile::tempdir().unwrap();
    let party = dir.path().join("party");
    std::fs::create_dir(&party).unwrap();
    for file in ["dataset.json", "data.csv", "directory.json"] {
        std::fs::copy(super::root().join(super::EXAMPLE).join(file), party.join(file)).unwrap();
    }
    std::fs::write(
        dir.path().join("entitlements.csv"),
        "Policy_Name,Policy_Column,User_Group,Operator,Value\n\
         Attendees,Attending,DomoSupport|ada@example.com,,TRUE\n\
         Not Pascal,Friend,Party Planners,NOT BEGINS_WITH,Blaise|Pyth\n\
         Everyone,All Rows,gauss@example.com,,All Rows\n",
    )
    .unwrap();
    let mut text = crate::run_in(dir.path(), &["pdp", "generate", "entitlements.csv", "--dataset", "party"]);
    text.push_str(&crate::run_in(dir.path(), &["pdp", "matrix", "party"]));
    insta::assert_snapshot!("generate_then_matrix", text);
}
