//! Who sees every row despite PDP: the owner, Admins, and roles holding `dataset.manage.all`.

use domo_model::{Column, ColumnType, Directory, FilterOperator, Grant, Role, RoleDefinition, Schema, User, UserId};
use domo_pdp::{HeaderRow, ManageAuthority, PolicySet, Reason, Table};

use crate::rules::{dataset, filter, policy};

/// A directory with one user per kind of authority; user 100 owns the DataSet.
fn directory() -> Directory {
    Directory {
        users: vec![
            User::new(UserId(1), "Analyst", Role::from("Analyst")),
            User::new(UserId(2), "Mystery", Role::from("Mystery")),
            User::new(UserId(3), "Privileged", Role::Privileged),
            User::new(UserId(4), "Editor", Role::from("Editor")),
            User::new(UserId(9), "Admin", Role::Admin),
            User::new(UserId(100), "Owner", Role::Participant),
        ],
        groups: vec![],
        roles: vec![
            RoleDefinition { name: "Analyst".into(), grants: vec![Grant::ManageAllDatasets] },
            RoleDefinition { name: "Editor".into(), grants: vec![Grant::CreateDataset] },
        ],
    }
}

/// Each user's row count and reason when one policy gives every user the `east` rows (2 of 4).
#[track_caller]
fn check(directory: &Directory, expected: &[(u64, usize, Reason)]) {
    let schema = Schema { columns: vec![Column::new(ColumnType::String, "region")] };
    let table = Table::from_csv("region\neast\nwest\neast\nnorth\n".as_bytes(), &schema, HeaderRow::Present).unwrap();
    let users: Vec<u64> = directory.users.iter().map(|u| u.id.get()).collect();
    let p = policy(1, vec![filter("region", FilterOperator::Equals, &["east"], false)], &users, &[]);
    let set = PolicySet::compile(&dataset(schema, true), &[p], directory).unwrap();
    let counts = set.evaluate(&table).unwrap().visible_counts();
    let got: Vec<(u64, usize, Reason)> = counts.iter().map(|c| (c.user.get(), c.rows, c.reason)).collect();
    assert_eq!(got, expected);
}

#[test]
fn a_custom_role_with_the_manage_grant_sees_every_row_and_no_other_role_does() {
    check(
        &directory(),
        &[
            (1, 4, Reason::RoleGrant),
            (2, 2, Reason::Policies),
            (3, 2, Reason::Policies),
            (4, 2, Reason::Policies),
            (9, 4, Reason::Admin),
            (100, 4, Reason::Owner),
        ],
    );
}

#[test]
fn without_the_role_definition_the_custom_role_holds_nothing() {
    let mut directory = directory();
    directory.roles.clear();
    check(
        &directory,
        &[
            (1, 2, Reason::Policies),
            (2, 2, Reason::Policies),
            (3, 2, Reason::Policies),
            (4, 2, Reason::Policies),
            (9, 4, Reason::Admin),
            (100, 4, Reason::Owner),
        ],
    );
}

#[test]
fn a_user_listed_twice_gets_the_least_of_their_copies() {
    let mut directory = directory();
    directory.users.push(User::new(UserId(3), "Privileged as Admin", Role::Admin));
    directory.users.push(User::new(UserId(1), "Analyst again", Role::Participant));
    check(
        &directory,
        &[
            (1, 2, Reason::Policies),
            (2, 2, Reason::Policies),
            (3, 2, Reason::Policies),
            (4, 2, Reason::Policies),
            (9, 4, Reason::Admin),
            (100, 4, Reason::Owner),
            (3, 2, Reason::Policies),
            (1, 2, Reason::Policies),
        ],
    );
}

#[test]
fn explain_names_the_role_and_the_grant() {
    let schema = Schema { columns: vec![Column::new(ColumnType::String, "region")] };
    let table = Table::from_csv("region\nwest\n".as_bytes(), &schema, HeaderRow::Present).unwrap();
    let p = policy(1, vec![filter("region", FilterOperator::Equals, &["east"], false)], &[1], &[]);
    let set = PolicySet::compile(&dataset(schema, true), &[p], &directory()).unwrap();
    let why = set.evaluate(&table).unwrap().explain(UserId(1), 0).unwrap();
    assert!(why.visible);
    assert_eq!(why.reason, Reason::RoleGrant);
    let authority = set.manage_authority(UserId(1)).unwrap();
    assert_eq!(*authority, ManageAuthority::RoleGrant(Role::from("Analyst")));
    assert_eq!(authority.to_string(), "role `Analyst` holds the `dataset.manage.all` grant");
    assert_eq!(Reason::RoleGrant.to_string(), "role grant");
    assert_eq!(set.manage_authority(UserId(2)), None);
}
