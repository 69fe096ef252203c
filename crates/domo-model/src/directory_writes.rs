//! The bodies of the User and Group APIs' writes: create and update a user or a group.

use serde::{Deserialize, Serialize};

use crate::directory::Role;

/// `POST /v1/users`: `name`, `email` and `role` are required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserCreate {
    /// The display name.
    pub name: String,
    /// The primary email address.
    pub email: String,
    /// The role (`Admin`, `Privileged`, `Participant` or a custom role).
    pub role: Role,
    /// Whether Domo emails an invitation (the emulator sends nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_invite: Option<bool>,
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
    /// An employee number (a string or a number).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::lenient::text_or_number")]
    pub employee_number: Option<String>,
}

/// `PUT /v1/users/{id}`: fields left out keep their value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserUpdate {
    /// A new display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A new email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// A new role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// A new job title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A new alternate email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternate_email: Option<String>,
    /// A new phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// A new location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// A new time zone name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// A new locale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// A new employee number (a string or a number).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::lenient::text_or_number")]
    pub employee_number: Option<String>,
}

/// `POST /v1/groups`: the name is required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupCreate {
    /// The group's name.
    pub name: String,
    /// Whether it is the default group (Domo's own example sends `false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
    /// Whether it is active (pydomo sends the text `"true"`; both forms are read).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::lenient::bool_or_text")]
    pub active: Option<bool>,
}

/// `PUT /v1/groups/{id}`: fields left out keep their value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupUpdate {
    /// A new name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether the group is active (`true`, `false`, or that as text).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::lenient::bool_or_text")]
    pub active: Option<bool>,
}
