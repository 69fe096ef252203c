//! Grants and the roles that hold them: what the directory file's `roles` list says.

use serde::{Deserialize, Serialize};

use crate::directory::{Directory, Role, User};
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
/// redefined (see [`Directory::problems`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleDefinition {
    /// The role's name, as users' `role` gives it (case-sensitive).
    pub name: String,
    /// What the role allows.
    #[serde(default)]
    pub grants: Vec<Grant>,
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
mod tests {
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
