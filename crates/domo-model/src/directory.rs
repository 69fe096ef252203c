//! Users, groups, roles and the grants each holds: the directory file that local previews read.

use serde::{Deserialize, Serialize};

use crate::grants::{Grant, RoleDefinition};
use crate::ids::{GroupId, UserId};
use crate::string_enum::string_enum;

string_enum!(open
    /// A user's role. Admins see every row whatever the policies say. Custom
    /// roles are kept by name.
    Role {
        /// Sees every row of every DataSet.
        Admin = "Admin",
        /// A privileged user.
        Privileged = "Privileged",
        /// An ordinary user.
        Participant = "Participant",
    }
);

/// A group a user belongs to, as `GET /v1/users/{id}` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRef {
    /// The group's id.
    pub id: GroupId,
    /// The group's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A Domo user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The user's id.
    pub id: UserId,
    /// The display name.
    pub name: String,
    /// The email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The role; `Participant` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// The job title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// An alternate email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternate_email: Option<String>,
    /// A phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// A location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// A time zone name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// A locale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// An employee number. The reference types it as a string and its examples
    /// show a number: both are read, and kept as text.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::lenient::text_or_number")]
    pub employee_number: Option<String>,
    /// When the user was created, as Domo wrote it. Kept as text: nothing
    /// decides on it, and one malformed date (the reference's own example has
    /// `017-06-12T20:23:57Z`) must not make a whole user list unreadable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// When the user was last changed, as Domo wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// The groups the user is in (only `GET /v1/users/{id}` fills this).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<GroupRef>>,
}

impl User {
    /// A user with only an id, a name and a role.
    pub fn new(id: UserId, name: impl Into<String>, role: Role) -> Self {
        Self {
            id,
            name: name.into(),
            email: None,
            role: Some(role),
            title: None,
            alternate_email: None,
            phone: None,
            location: None,
            timezone: None,
            locale: None,
            employee_number: None,
            created_at: None,
            updated_at: None,
            groups: None,
        }
    }

    /// Whether the user's role is `Admin`.
    pub fn is_admin(&self) -> bool {
        self.role == Some(Role::Admin)
    }
}

/// A group, as `GET /v1/groups` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// The group's id.
    pub id: GroupId,
    /// The group's name.
    pub name: String,
    /// Whether it is the default group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
    /// Whether it is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// How many members it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_count: Option<u64>,
    /// Who created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_id: Option<UserId>,
}

/// A group in a directory file: its id, name and members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryGroup {
    /// The group's id.
    pub id: GroupId,
    /// The group's name.
    pub name: String,
    /// The members' user ids.
    #[serde(default)]
    pub user_ids: Vec<UserId>,
}

/// The directory file that local previews read:
/// `{"users": [User…], "groups": [{"id", "name", "userIds": […]}], "roles": [{"name", "grants": […]}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Directory {
    /// Every user.
    #[serde(default)]
    pub users: Vec<User>,
    /// Every group with its members.
    #[serde(default)]
    pub groups: Vec<DirectoryGroup>,
    /// Custom roles and their grants (see [`crate::Grant`]); optional.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RoleDefinition>,
}

impl Directory {
    /// The user with this id.
    pub fn user(&self, id: UserId) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    /// The group with this id.
    pub fn group(&self, id: GroupId) -> Option<&DirectoryGroup> {
        self.groups.iter().find(|g| g.id == id)
    }
}

/// One thing wrong with a directory file, naming the entry by its position
/// (`users[3]`, `groups[1].userIds[0]`) so that a person can find it.
///
/// A directory with problems must not be used to decide who sees what: a user
/// listed twice could be read as either copy (a Participant listed again as an
/// Admin), and a group that names unknown users hides a mistake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryProblem {
    /// The same user id appears twice in `users`.
    #[error("users[{index}]: user {id} `{name}` is listed again (first at users[{first}])")]
    DuplicateUser {
        /// The later entry's position in `users`.
        index: usize,
        /// The first entry's position in `users`.
        first: usize,
        /// The user id.
        id: UserId,
        /// The later entry's name (shortened if very long).
        name: String,
    },
    /// The same group id appears twice in `groups`.
    #[error("groups[{index}]: group {id} `{name}` is listed again (first at groups[{first}])")]
    DuplicateGroup {
        /// The later entry's position in `groups`.
        index: usize,
        /// The first entry's position in `groups`.
        first: usize,
        /// The group id.
        id: GroupId,
        /// The later entry's name (shortened if very long).
        name: String,
    },
    /// A group lists a user id that is not in `users`.
    #[error(
        "groups[{group_index}].userIds[{member_index}]: group {group} `{name}` lists user {user}, who is not in `users`"
    )]
    UnknownMember {
        /// The group's position in `groups`.
        group_index: usize,
        /// The member's position in the group's `userIds`.
        member_index: usize,
        /// The group id.
        group: GroupId,
        /// The group's name (shortened if very long).
        name: String,
        /// The unknown user id.
        user: UserId,
    },
    /// A group lists its own id among its members (groups hold users, not groups).
    #[error(
        "groups[{group_index}].userIds[{member_index}]: group {group} `{name}` lists its own id among its members (`userIds` holds user ids, and groups cannot hold groups)"
    )]
    GroupInItself {
        /// The group's position in `groups`.
        group_index: usize,
        /// The member's position in the group's `userIds`.
        member_index: usize,
        /// The group id.
        group: GroupId,
        /// The group's name (shortened if very long).
        name: String,
    },
    /// A `roles` entry without a name.
    #[error("roles[{index}]: a role needs a name")]
    UnnamedRole {
        /// The entry's position in `roles`.
        index: usize,
    },
    /// A `roles` entry that tries to redefine `Admin`.
    #[error("roles[{index}]: `Admin` always holds every grant and cannot be redefined")]
    AdminRedefined {
        /// The entry's position in `roles`.
        index: usize,
    },
    /// The same role defined twice in `roles`.
    #[error("roles[{index}]: the role `{name}` is already defined at roles[{first}]")]
    DuplicateRole {
        /// The later entry's position in `roles`.
        index: usize,
        /// The first entry's position in `roles`.
        first: usize,
        /// The role's name (shortened if very long).
        name: String,
    },
}

/// Names longer than this many characters are shortened in problems.
const NAME_SHOWN: usize = 80;

fn shown_name(name: &str) -> String {
    match name.char_indices().nth(NAME_SHOWN) {
        Some((at, _)) => format!("{}…", name.get(..at).unwrap_or_default()),
        None => name.to_owned(),
    }
}

impl Directory {
    /// Every problem that makes the directory unfit to decide who sees what:
    /// a user id or a group id listed twice, a group listing a user that is
    /// not in `users`, a group listing its own id, a role defined twice, without
    /// a name, or redefining `Admin`. Empty when the directory is sound.
    /// Problems come in file order: users, then groups, then roles.
    ///
    /// ```
    /// use domo_model::{Directory, Role, User, UserId};
    ///
    /// let directory = Directory {
    ///     users: vec![
    ///         User::new(UserId(31), "Guest", Role::Participant),
    ///         User::new(UserId(31), "Guest", Role::Admin),
    ///     ],
    ///     ..Directory::default()
    /// };
    /// let problems: Vec<String> = directory.problems().iter().map(ToString::to_string).collect();
    /// assert_eq!(problems, ["users[1]: user 31 `Guest` is listed again (first at users[0])"]);
    /// ```
    pub fn problems(&self) -> Vec<DirectoryProblem> {
        use std::collections::HashMap;
        let mut problems = Vec::new();
        let mut users: HashMap<UserId, usize> = HashMap::with_capacity(self.users.len());
        for (index, user) in self.users.iter().enumerate() {
            if let Some(&first) = users.get(&user.id) {
                problems.push(DirectoryProblem::DuplicateUser {
                    index,
                    first,
                    id: user.id,
                    name: shown_name(&user.name),
                });
            } else {
                users.insert(user.id, index);
            }
        }
        let mut groups: HashMap<GroupId, usize> = HashMap::with_capacity(self.groups.len());
        for (index, group) in self.groups.iter().enumerate() {
            if let Some(&first) = groups.get(&group.id) {
                problems.push(DirectoryProblem::DuplicateGroup {
                    index,
                    first,
                    id: group.id,
                    name: shown_name(&group.name),
                });
            } else {
                groups.insert(group.id, index);
            }
        }
        for (group_index, group) in self.groups.iter().enumerate() {
            for (member_index, &user) in group.user_ids.iter().enumerate() {
                if user.get() == group.id.get() {
                    problems.push(DirectoryProblem::GroupInItself {
                        group_index,
                        member_index,
                        group: group.id,
                        name: shown_name(&group.name),
                    });
                } else if !users.contains_key(&user) {
                    problems.push(DirectoryProblem::UnknownMember {
                        group_index,
                        member_index,
                        group: group.id,
                        name: shown_name(&group.name),
                        user,
                    });
                }
            }
        }
        let mut roles: HashMap<&str, usize> = HashMap::with_capacity(self.roles.len());
        for (index, definition) in self.roles.iter().enumerate() {
            if definition.name.trim().is_empty() {
                problems.push(DirectoryProblem::UnnamedRole { index });
                continue;
            }
            if definition.name == Role::Admin.as_str() {
                problems.push(DirectoryProblem::AdminRedefined { index });
            }
            if let Some(&first) = roles.get(definition.name.as_str()) {
                problems.push(DirectoryProblem::DuplicateRole { index, first, name: shown_name(&definition.name) });
            } else {
                roles.insert(definition.name.as_str(), index);
            }
        }
        problems
    }
}

impl Role {
    /// The grants a built-in role holds when the directory does not redefine
    /// it. Custom roles hold none unless the directory lists them.
    ///
    /// - `Admin`: every grant.
    /// - `Privileged`: create DataSets, manage users and groups.
    /// - `Editor`, `Participant`: create DataSets (the creator owns it).
    /// - any other role: nothing.
    pub fn default_grants(&self) -> &'static [Grant] {
        match self.as_str() {
            "Admin" => Grant::ALL,
            "Privileged" => &[Grant::CreateDataset, Grant::ManageDirectory],
            "Editor" | "Participant" => &[Grant::CreateDataset],
            _ => &[],
        }
    }
}

/// The role a user has: their `role`, or `Participant` when the directory gives none.
pub fn role_of(user: &User) -> Role {
    user.role.clone().unwrap_or(Role::Participant)
}

impl Directory {
    /// The grants of a role: every grant for `Admin`; else the directory's
    /// definition of the role if it has exactly one; else the built-in grants.
    /// A role defined more than once holds nothing (fail closed until the
    /// file is fixed; [`Directory::problems`] reports it).
    pub fn grants_of(&self, role: &Role) -> Vec<Grant> {
        if *role == Role::Admin {
            return Grant::ALL.to_vec();
        }
        let mut definitions = self.roles.iter().filter(|d| d.name == role.as_str());
        match (definitions.next(), definitions.next()) {
            (Some(only), None) => only.grants.clone(),
            (Some(_), Some(_)) => Vec::new(),
            (None, _) => role.default_grants().to_vec(),
        }
    }

    /// Whether a role holds a grant.
    pub fn role_has(&self, role: &Role, grant: Grant) -> bool {
        self.grants_of(role).contains(&grant)
    }
}

#[cfg(test)]
mod grant_tests {
    use super::*;
    use crate::read_user_file;

    fn directory(roles: &str) -> Directory {
        read_user_file("d.json", &format!(r#"{{"users": [], "roles": {roles}}}"#)).expect("valid directory")
    }

    #[test]
    fn built_in_roles_hold_their_default_grants_and_custom_roles_nothing() {
        let d = directory("[]");
        assert_eq!(d.grants_of(&Role::Admin), Grant::ALL);
        assert!(!d.role_has(&Role::Privileged, Grant::ManageAllDatasets));
        assert!(d.role_has(&Role::Participant, Grant::CreateDataset));
        assert!(d.role_has(&Role::from("Editor"), Grant::CreateDataset));
        assert_eq!(d.grants_of(&Role::from("Analyst")), []);
    }

    #[test]
    fn the_directory_defines_custom_roles_and_redefines_built_in_ones() {
        let d = directory(
            r#"[{"name": "Analyst", "grants": ["dataset.manage.all"]}, {"name": "Participant", "grants": []}]"#,
        );
        assert_eq!(d.grants_of(&Role::from("Analyst")), [Grant::ManageAllDatasets]);
        assert_eq!(d.grants_of(&Role::Participant), []);
        assert_eq!(d.grants_of(&Role::from("analyst")), [], "role names are case-sensitive");
    }

    #[test]
    fn a_role_defined_twice_holds_nothing_and_is_reported() {
        let d = directory(r#"[{"name": "Analyst", "grants": ["dataset.manage.all"]}, {"name": "Analyst"}]"#);
        assert_eq!(d.grants_of(&Role::from("Analyst")), []);
        assert_eq!(
            d.problems().iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["roles[1]: the role `Analyst` is already defined at roles[0]"]
        );
        let d = directory(r#"[{"name": "Admin", "grants": []}, {"name": " "}]"#);
        assert_eq!(d.grants_of(&Role::Admin), Grant::ALL);
        assert_eq!(
            d.problems().iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["roles[0]: `Admin` always holds every grant and cannot be redefined", "roles[1]: a role needs a name"]
        );
    }

    #[test]
    fn unknown_grants_and_fields_are_errors() {
        let err = read_user_file::<Directory>("d.json", r#"{"roles": [{"name": "A", "grants": ["dataset.manage"]}]}"#)
            .expect_err("unknown grant");
        assert!(err.to_string().contains("unknown grant `dataset.manage`"), "{err}");
        let err = read_user_file::<Directory>("d.json", r#"{"roles": [{"name": "A", "grant": []}]}"#)
            .expect_err("unknown field");
        assert_eq!(err.to_string(), "`d.json` at `roles[0]`: unknown field `grant` (did you mean `grants`?)");
    }
}
