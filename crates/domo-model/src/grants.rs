//! Grants and the roles that hold them: what the directory file's `roles` list says.

use serde::{Deserialize, Serialize};

use crate::string_enum::string_enum;

string_enum!(strict
    /// A grant: one thing a role allows. An unknown grant in a directory file
    /// is an error, never ignored.
    Grant, "grant" {
        /// Manage every DataSet (write, import, delete, PDP on or off, owner,
        /// policies) and see every row of it despite PDP: Domo's *Manage DataSet*.
        ManageAllDatasets = "dataset.manage.all",
        /// Create DataSets (and streams, which create one). The creator owns
        /// the new DataSet and so may manage it.
        CreateDataset = "dataset.create",
        /// Manage users and groups.
        ManageDirectory = "directory.manage",
    }
);

/// A role's grants as a directory file lists them:
/// `{"name": "Analyst", "grants": ["dataset.manage.all"]}`.
///
/// A definition for `Privileged`, `Editor` or `Participant` replaces that
/// role's built-in grants; `Admin` always holds every grant and cannot be
/// redefined (see [`Directory::problems`](crate::Directory::problems)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleDefinition {
    /// The role's name, as users' `role` gives it (case-sensitive).
    pub name: String,
    /// What the role allows.
    #[serde(default)]
    pub grants: Vec<Grant>,
}
