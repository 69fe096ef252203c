//! The workspace's own client, `domo-http`, against the emulator: the seed's
//! three steps (create, import, policy) plus export, list, update, delete,
//! users, groups, streams and token renewal.

use std::time::Duration;

use domo_http::{Client, Compression, Credentials, CsvSource, ImportOptions, PartUploadOptions};
use domo_model::{
    Column, ColumnType, DatasetCreate, DatasetUpdate, ExportOptions, FilterOperator, Header, ListDatasets, Policy,
    PolicyFilter, PolicyType, Schema, Scope, StreamCreate, UpdateMethod, UserId,
};
use futures_util::TryStreamExt;

use crate::support::{WEST, builder, start_with};

fn client(base: &str, name: &str) -> Client {
    let credentials =
        Credentials::client_credentials(format!("{name}-app"), format!("{name}-secret"), [Scope::Data, Scope::User]);
    Client::new(base, credentials).unwrap()
}

async fn export(client: &Client, id: &domo_model::DatasetId, header: Header) -> String {
    let mut out = Vec::new();
    client.export_data(id, &ExportOptions { header, file_name: None }, &mut out, None).await.unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn the_seed_steps_and_the_rest_through_domo_http() {
    let server = start_with(builder().token_ttl(Duration::from_secs(1))).await;
    let base = server.base();
    let owner = client(&base, "owner");
    let west = client(&base, "west");

    let create = DatasetCreate {
        name: "Leonhard Euler Party".to_owned(),
        description: Some("Mathematician Guest List".to_owned()),
        rows: Some(0),
        schema: Schema {
            columns: vec![Column::new(ColumnType::String, "Friend"), Column::new(ColumnType::String, "Attending")],
        },
    };
    let dataset = owner.create_dataset(&create).await.unwrap();
    assert!(!dataset.pdp_enabled);
    let csv = "Pythagoras,FALSE\nAlan Turing,TRUE\nGottfried Leibniz,FALSE\n";
    owner
        .import_data(&dataset.id, UpdateMethod::Replace, CsvSource::bytes(csv), &ImportOptions::default())
        .await
        .unwrap();
    let gzipped = ImportOptions { compression: Compression::Gzip, progress: None };
    owner.import_data(&dataset.id, UpdateMethod::Append, CsvSource::bytes("Euclid,TRUE\n"), &gzipped).await.unwrap();
    let attendees = Policy {
        id: None,
        policy_type: PolicyType::User,
        name: "Only Show Attendees".to_owned(),
        filters: vec![PolicyFilter {
            column: "Attending".to_owned(),
            values: vec!["TRUE".to_owned()],
            operator: FilterOperator::Equals,
            not: false,
        }],
        users: vec![UserId(WEST)],
        virtual_users: vec![],
        groups: vec![],
    };
    let policy = owner.create_policy(&dataset.id, &attendees).await.unwrap();
    let update = DatasetUpdate { pdp_enabled: Some(true), ..DatasetUpdate::default() };
    assert!(owner.update_dataset(&dataset.id, &update).await.unwrap().pdp_enabled);

    assert_eq!(export(&owner, &dataset.id, Header::Omit).await, format!("{csv}Euclid,TRUE\n"));
    assert_eq!(export(&west, &dataset.id, Header::Include).await, "Friend,Attending\nAlan Turing,TRUE\nEuclid,TRUE\n");
    let policies = owner.list_policies(&dataset.id).await.unwrap();
    assert_eq!(policies.len(), 2);
    assert_eq!(owner.get_policy(&dataset.id, policy.id.unwrap()).await.unwrap().name, "Only Show Attendees");

    // Tokens live one second here: the client renews them on its own.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let listed: Vec<_> = owner.list_datasets(&ListDatasets::default()).try_collect().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(owner.find_datasets_by_name("Leonhard Euler Party").await.unwrap().len(), 1);
    let directory = owner.directory().await.unwrap();
    assert_eq!(directory.users.len(), 5);
    assert_eq!(directory.group(domo_model::GroupId(5)).unwrap().user_ids, [UserId(WEST)]);

    let answer = owner.query(&dataset.id, "SELECT * FROM table").await.unwrap();
    assert_eq!((answer.columns.len(), answer.num_rows), (2, 4));

    let stream = owner
        .create_stream(&StreamCreate {
            dataset: DatasetCreate { name: "Streamed".to_owned(), ..create.clone() },
            update_method: UpdateMethod::Replace,
        })
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("guests.csv");
    let rows: String = (0..5000).map(|i| format!("Guest {i},TRUE\n")).collect();
    std::fs::write(&file, &rows).unwrap();
    let options = PartUploadOptions { part_size: 16 * 1024, ..PartUploadOptions::default() };
    let summary = owner.upload_csv_file(stream.id, &file, &options).await.unwrap();
    assert!(summary.parts > 1);
    assert_eq!(export(&owner, &stream.dataset.id, Header::Omit).await, rows);
    assert_eq!(owner.find_streams_by_dataset(&stream.dataset.id).await.unwrap().len(), 1);

    owner.delete_policy(&dataset.id, policy.id.unwrap()).await.unwrap();
    owner.delete_dataset(&dataset.id).await.unwrap();
    // Domo answers a deleted DataSet with `deleted: true`: the client calls it gone, never live.
    let err = owner.get_dataset(&dataset.id).await.unwrap_err();
    assert!(err.is_deleted(), "{err}");
    assert_eq!(
        err.to_string(),
        format!("GET /v1/datasets/{}: it was deleted (Domo answered with `deleted: true`)", dataset.id)
    );
    owner.delete_dataset(&stream.dataset.id).await.unwrap();
    let err = owner.get_stream(stream.id).await.unwrap_err();
    assert!(err.is_deleted(), "{err}");
    let err = owner
        .export_data(&dataset.id, &ExportOptions { header: Header::Omit, file_name: None }, &mut Vec::new(), None)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
}

#[tokio::test]
async fn users_groups_and_members_are_written_through_domo_http() {
    use domo_model::{GroupCreate, GroupId, GroupUpdate, Role, UserCreate, UserUpdate};

    let server = start_with(builder()).await;
    let admin = client(&server.base(), "admin");
    let create = UserCreate {
        name: "Emmy Noether".to_owned(),
        email: "noether@example.com".to_owned(),
        role: Role::Participant,
        send_invite: None,
        title: None,
        alternate_email: None,
        phone: None,
        location: None,
        timezone: None,
        locale: None,
        employee_number: Some("7".to_owned()),
    };
    let user = admin.create_user(&create).await.unwrap();
    assert_eq!((user.name.as_str(), user.employee_number.as_deref()), ("Emmy Noether", Some("7")));
    let update = UserUpdate { title: Some("Professor".to_owned()), ..Default::default() };
    assert_eq!(admin.update_user(user.id, &update).await.unwrap().title.as_deref(), Some("Professor"));

    let group =
        admin.create_group(&GroupCreate { name: "Algebraists".to_owned(), default: None, active: None }).await.unwrap();
    admin.add_group_member(group.id, user.id).await.unwrap();
    let members: Vec<UserId> = admin.list_group_members(group.id).try_collect().await.unwrap();
    assert_eq!(members, [user.id]);
    let renamed = GroupUpdate { name: Some("Ring theorists".to_owned()), active: None };
    assert_eq!(admin.update_group(group.id, &renamed).await.unwrap().name, "Ring theorists");
    admin.remove_group_member(group.id, user.id).await.unwrap();
    assert_eq!(admin.get_group(group.id).await.unwrap().member_count, Some(0));
    admin.delete_group(group.id).await.unwrap();
    admin.delete_user(user.id).await.unwrap();
    assert_eq!(admin.get_user(user.id).await.unwrap_err().status(), Some(404));

    // A Participant is refused, and the error says why.
    let owner = client(&server.base(), "owner");
    let error = owner.add_group_member(GroupId(5), UserId(29)).await.unwrap_err();
    assert_eq!(error.status(), Some(403));
    assert!(error.to_string().contains("does not hold the `directory.manage` grant"), "{error}");
}

#[tokio::test]
async fn a_query_through_domo_http_sees_only_the_callers_rows() {
    let server = start_with(builder()).await;
    let owner = client(&server.base(), "owner");
    let schema =
        Schema { columns: vec![Column::new(ColumnType::String, "Region"), Column::new(ColumnType::Long, "Amount")] };
    let create = DatasetCreate { name: "Sales".to_owned(), description: None, rows: None, schema };
    let dataset = owner.create_dataset(&create).await.unwrap();
    let rows = CsvSource::bytes("West,10\nWest,20\nEast,300\n");
    owner.import_data(&dataset.id, UpdateMethod::Replace, rows, &ImportOptions::default()).await.unwrap();
    let filter = PolicyFilter {
        column: "Region".to_owned(),
        values: vec!["West".to_owned()],
        operator: FilterOperator::Equals,
        not: false,
    };
    let policy = Policy {
        id: None,
        policy_type: PolicyType::User,
        name: "West".to_owned(),
        filters: vec![filter],
        users: vec![UserId(WEST)],
        virtual_users: Vec::new(),
        groups: Vec::new(),
    };
    owner.create_policy(&dataset.id, &policy).await.unwrap();
    owner.update_dataset(&dataset.id, &DatasetUpdate { pdp_enabled: Some(true), ..Default::default() }).await.unwrap();

    let sql = "SELECT SUM(Amount) FROM table";
    let all = owner.query(&dataset.id, sql).await.unwrap();
    let west = client(&server.base(), "west").query(&dataset.id, sql).await.unwrap();
    assert_eq!((all.rows[0][0].as_i64(), west.rows[0][0].as_i64()), (Some(330), Some(30)));
    assert_eq!(west.metadata[0].column_type.as_deref(), Some("LONG"));
    let error = owner.query(&dataset.id, "SELECT FROM").await.unwrap_err();
    assert_eq!(error.status(), Some(400));
    assert!(error.to_string().contains("Invalid SQL"), "{error}");
}

#[tokio::test]
async fn streams_are_searched_by_owner_and_the_current_execution_aborted_through_domo_http() {
    use domo_model::{ExecutionState, StreamId};

    let server = start_with(builder()).await;
    let owner = client(&server.base(), "owner");
    let schema = Schema { columns: vec![Column::new(ColumnType::String, "k")] };
    let dataset = DatasetCreate { name: "S".to_owned(), description: None, rows: None, schema };
    let stream = owner.create_stream(&StreamCreate { dataset, update_method: UpdateMethod::Append }).await.unwrap();
    let found = owner.find_streams_by_owner(UserId(crate::support::OWNER)).await.unwrap();
    assert_eq!(found.iter().map(|s| s.id).collect::<Vec<_>>(), [stream.id]);
    assert!(owner.find_streams_by_owner(UserId(crate::support::ADMIN)).await.unwrap().is_empty());

    let execution = owner.create_execution(stream.id).await.unwrap();
    owner.abort_current_execution(stream.id).await.unwrap();
    let aborted = owner.get_execution(stream.id, execution.id).await.unwrap();
    assert_eq!(aborted.current_state, ExecutionState::Aborted);
    // Nothing active: still a success, and nothing changes.
    owner.abort_current_execution(stream.id).await.unwrap();
    assert_eq!(owner.abort_current_execution(StreamId(999)).await.unwrap_err().status(), Some(404));
}
