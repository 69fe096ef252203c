//! Documented API examples parse, and re-serialise to the same JSON.

use std::path::PathBuf;

use domo_model::{
    ColumnType, Dataset, DatasetCreate, DatasetSummary, ErrorBody, Execution, ExecutionState, FilterOperator, GroupId,
    Policy, PolicyType, QueryResponse, Role, Stream, TokenResponse, UpdateMethod, User, UserId,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test_data").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Parses a fixture and checks that writing it back gives exactly the same JSON.
fn check_exact<T: DeserializeOwned + Serialize>(name: &str) -> T {
    let text = fixture(name);
    let parsed: T = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let original: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(serde_json::to_value(&parsed).unwrap(), original, "{name} does not round-trip");
    parsed
}

/// Parses a fixture and checks that writing it back and reading again gives the same value.
fn check_stable<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(name: &str) -> T {
    let parsed: T = serde_json::from_str(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let again: T = serde_json::from_str(&serde_json::to_string(&parsed).unwrap()).unwrap();
    assert_eq!(again, parsed);
    parsed
}

#[test]
fn euler_party_create_request() {
    let request: DatasetCreate = check_exact("dataset_create_request.json");
    assert_eq!(request.name, "Leonhard Euler Party");
    let types: Vec<_> = request.schema.columns.iter().map(|c| (c.name.as_str(), c.column_type)).collect();
    assert_eq!(types, [("Friend", ColumnType::String), ("Attending", ColumnType::String)]);
}

#[test]
fn euler_party_create_response() {
    let dataset: Dataset = check_exact("dataset_create_response.json");
    assert_eq!(dataset.id.as_str(), "4405ff58-1957-45f0-82bd-914d989a3ea3");
    assert_eq!(dataset.owner.as_ref().map(|o| o.id), Some(UserId(27)));
    assert!(!dataset.pdp_enabled);
    assert_eq!(dataset.created_at.map(|t| t.as_second()), Some(1_455_898_881));
}

#[test]
fn only_show_attendees_request_fills_defaults() {
    let policy: Policy = check_stable("policy_create_request.json");
    assert_eq!(policy.id, None);
    assert_eq!(policy.policy_type, PolicyType::User);
    let filter = &policy.filters[0];
    assert_eq!((filter.operator, filter.not), (FilterOperator::Equals, false));
    // Written back, the request gains the documented defaults and nothing else.
    let written = serde_json::to_value(&policy).unwrap();
    let response: Value = serde_json::from_str(&fixture("policy_create_response.json")).unwrap();
    let mut expected = response.clone();
    expected.as_object_mut().unwrap().remove("id");
    assert_eq!(written, expected);
}

#[test]
fn only_show_attendees_response() {
    let policy: Policy = check_exact("policy_create_response.json");
    assert_eq!(policy.id.map(|id| id.get()), Some(8));
    assert_eq!(policy.users, [UserId(27)]);
}

#[test]
fn dataset_list_response() {
    let list: Vec<DatasetSummary> = check_exact("dataset_list_response.json");
    assert_eq!(list.len(), 2);
    assert_eq!(list[1].pdp_enabled, Some(true));
    assert_eq!(list[1].created_at.map(|t| t.subsec_millisecond()), Some(123));
}

#[test]
fn policies_list_keeps_unknown_type_and_string_group_ids() {
    let list: Vec<Policy> = check_stable("policies_list_response.json");
    assert!(list[0].is_all_rows());
    assert_eq!(list[1].groups, [GroupId(1_324_037_627)]);
    assert_eq!(list[2].policy_type, PolicyType::Other("somethingNew".into()));
    assert_eq!(serde_json::to_value(&list[2]).unwrap()["type"], "somethingNew");
    assert_eq!(list[2].virtual_users, ["vu-1"]);
}

#[test]
fn error_body() {
    let body: ErrorBody = check_exact("error_body.json");
    assert_eq!(body.status, 400);
    assert_eq!(
        body.to_string(),
        "400 Bad Request: Invalid CSV provided during upload. msg=There are too many columns. Expected 2. \
         Row 1, column 3. (toe 4RUB7BVSV4-KC7LS-GSOL7)"
    );
}

#[test]
fn token_response_hides_token_in_debug() {
    let token: TokenResponse = check_exact("token_response.json");
    assert_eq!(token.expires_in, 3599);
    let debug = format!("{token:?}");
    assert!(!debug.contains("eyJ"), "token leaked into Debug: {debug}");
    assert!(debug.contains("[redacted]"));
}

#[test]
fn user_response_tolerates_unknown_fields() {
    let user: User = serde_json::from_str(&fixture("user_response.json")).unwrap();
    assert_eq!(user.role, Some(Role::Admin));
    assert_eq!(user.groups.as_ref().map(Vec::len), Some(1));
    assert!(user.is_admin());
}

#[test]
fn stream_and_execution() {
    let stream: Stream = check_exact("stream_response.json");
    assert_eq!(stream.update_method, UpdateMethod::Append);
    let execution: Execution = check_exact("execution_response.json");
    assert_eq!(execution.current_state, ExecutionState::Active);
}

#[test]
fn query_response() {
    let response: QueryResponse = check_exact("query_response.json");
    assert_eq!(response.num_rows, 2);
    assert_eq!(response.rows[1][0], "Alan Turing");
}

#[test]
fn owner_id_accepts_number_or_string() {
    let a: Dataset = serde_json::from_str(r#"{"id":"x","name":"n","owner":{"id":"27"}}"#).unwrap();
    let b: Dataset = serde_json::from_str(r#"{"id":"x","name":"n","owner":{"id":27}}"#).unwrap();
    assert_eq!(a, b);
}

#[test]
fn negative_or_fractional_ids_are_rejected() {
    for bad in [r#"{"id":-1,"name":"n"}"#, r#"{"id":1.5,"name":"n"}"#, r#"{"id":"","name":"n"}"#] {
        assert!(serde_json::from_str::<User>(bad).is_err(), "{bad} was accepted");
    }
}

#[test]
fn update_method_query_is_case_sensitive_and_defaults_to_replace() {
    let cases = [
        (Some("APPEND"), UpdateMethod::Append),
        (Some("append"), UpdateMethod::Replace),
        (Some("REPLACE"), UpdateMethod::Replace),
        (Some("bogus"), UpdateMethod::Replace),
        (None, UpdateMethod::Replace),
    ];
    for (query, expected) in cases {
        assert_eq!(UpdateMethod::from_query(query), expected, "{query:?}");
    }
}

#[test]
fn all_sort_values_round_trip() {
    assert_eq!(domo_model::Sort::ALL.len(), 15);
    for sort in domo_model::Sort::ALL {
        assert_eq!(sort.as_str().parse::<domo_model::Sort>(), Ok(*sort));
    }
}

#[test]
fn all_operators_round_trip() {
    assert_eq!(FilterOperator::ALL.len(), 10);
    for op in FilterOperator::ALL {
        let json = serde_json::to_string(op).unwrap();
        assert_eq!(serde_json::from_str::<FilterOperator>(&json).unwrap(), *op);
    }
}
