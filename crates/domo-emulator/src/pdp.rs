//! Which rows an export shows: everything, or one user's rows under PDP.

use std::io::{self, Read, Write};

use domo_model::{Dataset, Directory, UserId};

use crate::error::ApiError;

/// What an export shows the caller.
#[derive(Debug)]
pub(crate) enum Visibility {
    All,
    Filtered(RowFilter),
}

/// PENDING domo-pdp.
#[derive(Debug)]
pub(crate) struct RowFilter;

impl RowFilter {
    pub(crate) fn write_visible<R: Read, W: Write>(self, _rows: R, _out: &mut W) -> io::Result<()> {
        Err(io::Error::other("pending"))
    }
}

/// The owner and Admins see every row; with PDP off, so does everyone.
pub(crate) fn visibility(dataset: &Dataset, directory: &Directory, user: UserId) -> Result<Visibility, ApiError> {
    let is_owner = dataset.owner.as_ref().is_some_and(|o| o.id == user);
    let is_admin = directory.user(user).is_some_and(domo_model::User::is_admin);
    if !dataset.pdp_enabled || is_owner || is_admin {
        return Ok(Visibility::All);
    }
    Ok(Visibility::Filtered(RowFilter))
}
