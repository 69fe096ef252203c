//! The one rule that decides who may manage a DataSet, and so sees every row of it despite PDP.

use std::fmt;

use domo_model::{Directory, Grant, Role, User, UserId, role_of};

/// Why a user may manage a DataSet: write to it, import into it, delete it,
/// turn PDP on or off, change its owner, create, change and delete its
/// policies. The same users see every row of it whatever PDP says.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ManageAuthority {
    /// The DataSet's owner.
    Owner,
    /// An `Admin`, who holds every grant.
    Admin,
    /// The user's role holds [`Grant::ManageAllDatasets`] (`dataset.manage.all`).
    RoleGrant(Role),
}

impl fmt::Display for ManageAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManageAuthority::Owner => f.write_str("the DataSet's owner"),
            ManageAuthority::Admin => f.write_str("an Admin"),
            ManageAuthority::RoleGrant(role) => {
                write!(f, "role `{role}` holds the `{}` grant", Grant::ManageAllDatasets)
            }
        }
    }
}

/// Whether `user` may manage a DataSet owned by `owner`, and why: the owner,
/// an Admin, or a user whose role holds `dataset.manage.all` in `directory`
/// ([`Directory::grants_of`]). Everyone else may not (`None`), and PDP
/// restricts what they see.
///
/// Fails closed: a user missing from the directory is no one but possibly the
/// owner; a user without a role is a `Participant`; a custom role the
/// directory does not define holds no grant; a user listed more than once
/// gets the least that any copy gives.
///
/// ```
/// use domo_model::{Directory, Role, RoleDefinition, Grant, User, UserId};
/// use domo_pdp::{ManageAuthority, manage_authority};
///
/// let directory = Directory {
///     users: vec![User::new(UserId(7), "Ann", Role::from("Analyst")), User::new(UserId(8), "Bo", Role::Participant)],
///     groups: vec![],
///     roles: vec![RoleDefinition { name: "Analyst".into(), grants: vec![Grant::ManageAllDatasets] }],
/// };
/// let owner = Some(UserId(8));
/// assert_eq!(manage_authority(owner, &directory, UserId(8)), Some(ManageAuthority::Owner));
/// assert_eq!(manage_authority(owner, &directory, UserId(7)), Some(ManageAuthority::RoleGrant(Role::from("Analyst"))));
/// assert_eq!(manage_authority(None, &directory, UserId(8)), None);
/// ```
pub fn manage_authority(owner: Option<UserId>, directory: &Directory, user: UserId) -> Option<ManageAuthority> {
    let entries: Vec<&User> = directory.users.iter().filter(|u| u.id == user).collect();
    authority_of(owner, user, &entries, directory)
}

/// [`manage_authority`] with the user's directory entries already looked up
/// (the engine computes every user's at once).
pub(crate) fn authority_of(
    owner: Option<UserId>,
    user: UserId,
    entries: &[&User],
    directory: &Directory,
) -> Option<ManageAuthority> {
    if owner == Some(user) {
        return Some(ManageAuthority::Owner);
    }
    let mut least = None;
    for entry in entries {
        let role = role_of(entry);
        let authority = if role == Role::Admin {
            ManageAuthority::Admin
        } else if directory.role_has(&role, Grant::ManageAllDatasets) {
            ManageAuthority::RoleGrant(role)
        } else {
            return None;
        };
        least.get_or_insert(authority);
    }
    least
}

/// The role by which `user` holds `grant` in `directory`, or `None`: not in
/// the directory, or some copy of them lacks it (fail closed).
pub fn grant_holder(directory: &Directory, user: UserId, grant: Grant) -> Option<Role> {
    let mut held = None;
    for entry in directory.users.iter().filter(|u| u.id == user) {
        let role = role_of(entry);
        if !directory.role_has(&role, grant) {
            return None;
        }
        held.get_or_insert(role);
    }
    held
}

#[cfg(test)]
mod tests {
    use domo_model::RoleDefinition;

    use super::*;

    fn directory() -> Directory {
        Directory {
            users: vec![
                User::new(UserId(1), "Owner", Role::Participant),
                User::new(UserId(2), "Admin", Role::Admin),
                User::new(UserId(3), "Analyst", Role::from("Analyst")),
                User::new(UserId(4), "Mystery", Role::from("Mystery")),
                User::new(UserId(5), "Privileged", Role::Privileged),
                User::new(UserId(6), "Twice", Role::Participant),
                User::new(UserId(6), "Twice as Admin", Role::Admin),
                User { role: None, ..User::new(UserId(7), "No role", Role::Participant) },
            ],
            groups: vec![],
            roles: vec![RoleDefinition { name: "Analyst".into(), grants: vec![Grant::ManageAllDatasets] }],
        }
    }

    #[track_caller]
    fn check(user: u64, expected: Option<ManageAuthority>) {
        assert_eq!(manage_authority(Some(UserId(1)), &directory(), UserId(user)), expected, "user {user}");
    }

    #[test]
    fn who_may_manage() {
        check(1, Some(ManageAuthority::Owner));
        check(2, Some(ManageAuthority::Admin));
        check(3, Some(ManageAuthority::RoleGrant(Role::from("Analyst"))));
        check(4, None);
        check(5, None);
        check(6, None);
        check(7, None);
        check(99, None);
    }

    #[test]
    fn who_may_create() {
        let d = directory();
        assert_eq!(grant_holder(&d, UserId(1), Grant::CreateDataset), Some(Role::Participant));
        assert_eq!(grant_holder(&d, UserId(3), Grant::CreateDataset), None, "Analyst holds only what it lists");
        assert_eq!(grant_holder(&d, UserId(4), Grant::CreateDataset), None);
        assert_eq!(grant_holder(&d, UserId(6), Grant::ManageAllDatasets), None);
        assert_eq!(grant_holder(&d, UserId(99), Grant::CreateDataset), None);
    }

    #[test]
    fn reasons_read_well() {
        assert_eq!(
            ManageAuthority::RoleGrant(Role::from("Analyst")).to_string(),
            "role `Analyst` holds the `dataset.manage.all` grant"
        );
    }
}
