//! Which rows an export shows: everything, or one user's rows under PDP, with
//! the `domo-pdp` engine.

use std::io::{self, Read, Write};

use domo_model::{Dataset, Directory, Policy, Schema, UserId};
use domo_pdp::{HeaderRow, PolicySet, StreamCsvError, StreamOptions};

use crate::error::ApiError;

/// What an export shows the caller.
#[derive(Debug)]
pub(crate) enum Visibility {
    /// Every row, copied byte for byte.
    All,
    /// The rows the caller's policies admit.
    Filtered(Box<RowFilter>),
}

/// Compiled policies and the user whose rows they select.
#[derive(Debug)]
pub(crate) struct RowFilter {
    policies: PolicySet,
    user: UserId,
}

impl RowFilter {
    /// Streams the visible rows of a header-less CSV, each record byte-exact.
    pub(crate) fn write_visible<R: Read, W: Write>(&self, rows: R, out: &mut W) -> io::Result<()> {
        let options = StreamOptions { input_header: HeaderRow::Absent, output_header: HeaderRow::Absent };
        match self.policies.write_visible_csv(self.user, rows, out, options) {
            Ok(_) => Ok(()),
            Err(StreamCsvError::Write(err)) => Err(err),
            Err(err) => Err(io::Error::new(io::ErrorKind::InvalidData, err.to_string())),
        }
    }
}

/// Those who may manage the DataSet (its owner, Admins, roles granted
/// `dataset.manage.all`: [`domo_pdp::manage_authority`], the rule that also
/// decides who may write to it) see every row; with PDP off (or no policy
/// left), so does everyone. Anyone else sees what the DataSet's policies give them.
pub(crate) fn visibility(dataset: &Dataset, directory: &Directory, user: UserId) -> Result<Visibility, ApiError> {
    let manages = domo_pdp::manage_authority(dataset.owner.as_ref().map(|o| o.id), directory, user).is_some();
    let policies = dataset.policies.as_deref().unwrap_or_default();
    if !dataset.pdp_enabled || policies.is_empty() || manages {
        return Ok(Visibility::All);
    }
    // Fail closed, and keep the compile error (column names, user ids) in the log, not in the reply.
    let policies = PolicySet::compile(dataset, policies, directory)
        .map_err(|err| ApiError::internal("the DataSet's policies no longer compile against the directory", &err))?;
    Ok(Visibility::Filtered(Box::new(RowFilter { policies, user })))
}

/// Compiles one policy against a schema and directory with the engine that
/// exports use, so that a policy the API accepts always applies. Only the
/// part of the directory the policy names is compiled (its users, its groups
/// and their members, every role), so that the check costs the same in a
/// directory of ten users or ten thousand.
pub(crate) fn compile_one(schema: &Schema, directory: &Directory, policy: &Policy) -> Result<(), String> {
    let groups: Vec<_> = directory.groups.iter().filter(|g| policy.groups.contains(&g.id)).cloned().collect();
    let named: std::collections::HashSet<UserId> =
        policy.users.iter().chain(groups.iter().flat_map(|g| &g.user_ids)).copied().collect();
    let directory = Directory {
        users: directory.users.iter().filter(|u| named.contains(&u.id)).cloned().collect(),
        groups,
        roles: directory.roles.clone(),
    };
    let dataset = Dataset {
        id: "policy-check".into(),
        name: String::new(),
        description: None,
        rows: 0,
        columns: schema.columns.len() as u64,
        schema: schema.clone(),
        owner: None,
        created_at: None,
        updated_at: None,
        data_current_at: None,
        pdp_enabled: true,
        policies: None,
    };
    PolicySet::compile(&dataset, std::slice::from_ref(policy), &directory)
        .map(|_| ())
        .map_err(|err| err.errors.first().map_or_else(|| err.to_string(), |d| d.message.clone()))
}
