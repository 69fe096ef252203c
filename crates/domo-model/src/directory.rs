//! Users, groups, and the directory file that local previews read.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

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
    /// An employee number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_number: Option<String>,
    /// When the user was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// When the user was last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
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
    pub roles: Vec<crate::grants::RoleDefinition>,
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
