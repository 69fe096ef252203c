//! Who may change what: `domo_pdp::manage_authority` (the rule that also decides who
//! sees every row despite PDP) and the directory's grants, answered with 403 in Domo's shape.

use domo_model::{Dataset, Grant, UserId};
use domo_pdp::{ManageAuthority, grant_holder, manage_authority};
use http::StatusCode;

use crate::error::ApiError;
use crate::store::State as Stored;

fn forbidden(message: String) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, message)
}

/// The caller may manage the DataSet (owner, Admin, or a role granted
/// `dataset.manage.all`), or 403 naming what was refused and who may do it.
/// `action` completes "may not …", e.g. "delete".
pub(crate) fn require_manage(
    state: &Stored,
    dataset: &Dataset,
    user: UserId,
    action: &str,
) -> Result<ManageAuthority, ApiError> {
    let owner = dataset.owner.as_ref().map(|o| o.id);
    manage_authority(owner, &state.directory, user).ok_or_else(|| {
        forbidden(format!(
            "User {user} may not {action} DataSet `{}`: only its owner, Admins and roles granted `{}` may manage it",
            dataset.id,
            Grant::ManageAllDatasets
        ))
    })
}

/// The caller holds `grant` through their role, or 403.
pub(crate) fn require_grant(state: &Stored, user: UserId, grant: Grant, action: &str) -> Result<(), ApiError> {
    match grant_holder(&state.directory, user, grant) {
        Some(_) => Ok(()),
        None => Err(forbidden(format!("User {user} may not {action}: their role does not hold the `{grant}` grant"))),
    }
}
