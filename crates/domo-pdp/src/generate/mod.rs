//! Policies generated from an entitlements table in the layout of Domo's PDP Automation config DataSet.
//!
//! One row per filter: `target_ds` (the DataSet), `policy_name`, `policy_column`,
//! `user_group` (users by id, email or name, groups by id or name, `|`-separated),
//! `value` (`a|b|c`, BETWEEN as `low & high`), and two optional columns, `operator`
//! (any of the ten, EQUALS when empty, `NOT ` before it negates) and `not`. Rows
//! of one policy are merged: filters on different columns are ANDed, the values
//! of the rows of one filter are unioned (one policy for a user's whole value
//! list), users and groups are unioned. Rows that would give one policy's users
//! different filters are an error naming both lines: a policy's filters apply
//! to every one of its members. The output is deterministic: DataSets by id,
//! policies by name, filters by column, operator and `not`, values, users and
//! groups sorted.

mod error;
mod members;
mod merge;
mod row;

use std::io::Read;

use domo_model::{Dataset, DatasetId, Directory, Policy};

pub use error::{EntitlementField, EntitlementProblem, GeneratePoliciesError};

use crate::csv_split::{Fields, SplitError, Splitter, SyntaxError};
use crate::table::CsvLimits;
use merge::Builder;
use row::Header;

/// The DataSets an entitlements table may name.
#[derive(Debug, Clone, Copy)]
pub enum Targets<'a> {
    /// Every DataSet of an instance tree: the table's `target_ds` column is
    /// required, and a row naming a DataSet not in the list is an error.
    Many(&'a [Dataset]),
    /// One DataSet: `target_ds` may be left out or empty; rows naming another
    /// DataSet are skipped (and counted in [`Generated::skipped`]).
    One(&'a Dataset),
}

/// The policies generated for one DataSet, in a stable order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedDataset {
    /// The DataSet's id.
    pub id: DatasetId,
    /// Its policies, sorted by name, without ids (as a policies.json a person writes).
    pub policies: Vec<Policy>,
}

/// Everything an entitlements table generates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// Every DataSet the table names, by id.
    pub datasets: Vec<GeneratedDataset>,
    /// The table's rows read (blank ones excepted).
    pub rows: u64,
    /// Rows skipped because they name another DataSet ([`Targets::One`] only).
    pub skipped: u64,
}

impl Generated {
    /// How many policies were generated in all.
    pub fn policies(&self) -> usize {
        self.datasets.iter().map(|d| d.policies.len()).sum()
    }

    /// How many filters were generated in all.
    pub fn filters(&self) -> usize {
        self.datasets.iter().flat_map(|d| &d.policies).map(|p| p.filters.len()).sum()
    }
}

/// Generates the policies of every DataSet an entitlements table names.
///
/// Every value is checked against its DataSet's schema (the column exists, the
/// operator suits its type, each value parses as it), users and groups against
/// the directory, and each DataSet's policies are compiled before they are
/// returned. Nothing is returned when anything is wrong.
///
/// # Errors
///
/// [`GeneratePoliciesError::Problems`] lists every problem found (up to
/// [`GeneratePoliciesError::PROBLEMS_KEPT`]), each at its line and column of the table.
///
/// ```
/// use domo_model::{Dataset, Directory, Role, User, UserId};
/// use domo_pdp::{CsvLimits, Targets, generate_policies};
///
/// let dataset: Dataset = serde_json::from_value(serde_json::json!({
///     "id": "sales", "name": "Sales", "pdpEnabled": true,
///     "schema": {"columns": [{"type": "STRING", "name": "Region"}, {"type": "LONG", "name": "Amount"}]}
/// }))?;
/// let directory = Directory { users: vec![User::new(UserId(27), "Guest", Role::Participant)], ..Directory::default() };
/// let table = "policy_name,policy_column,user_group,operator,value\n\
///              East,Region,Guest,,East|North-East\n\
///              East,Amount,27,LESS_THAN,1000\n";
/// let generated = generate_policies(table.as_bytes(), Targets::One(&dataset), &directory, CsvLimits::default())?;
/// let policy = &generated.datasets[0].policies[0];
/// assert_eq!(policy.name, "East");
/// assert_eq!(policy.filters.len(), 2);
/// // Filters in column order: `Amount`, then `Region`.
/// assert_eq!(policy.filters[1].values, ["East", "North-East"]);
/// assert_eq!(policy.users, [UserId(27)]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn generate_policies<R: Read>(
    reader: R,
    targets: Targets<'_>,
    directory: &Directory,
    limits: CsvLimits,
) -> Result<Generated, GeneratePoliciesError> {
    let datasets: Vec<&Dataset> = match targets {
        Targets::Many(all) => all.iter().collect(),
        Targets::One(one) => vec![one],
    };
    let mut builder = Builder::new(&datasets, directory, matches!(targets, Targets::One(_)));
    let mut splitter = Splitter::new(reader, limits.max_record_bytes, MAX_FIELDS);
    let mut fields = Fields::default();
    let mut line: u64 = 1;
    match splitter.next_record(&mut fields) {
        Ok(true) => {}
        Ok(false) => return Err(GeneratePoliciesError::Empty),
        Err(error) => {
            builder.problems.push(line, None, split_problem(error, limits)?);
            return Err(builder.into_error());
        }
    }
    line += newlines(splitter.raw());
    let names: Vec<Option<&str>> = (0..fields.len())
        .map(|i| {
            let bytes = fields.get(i).map_or(&[][..], |(b, _)| b);
            let bytes = if i == 0 { bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes) } else { bytes };
            std::str::from_utf8(bytes).ok()
        })
        .collect();
    let header = Header::read(&names, !builder.one, &mut builder.problems);
    if !builder.problems.is_empty() {
        return Err(builder.into_error());
    }
    loop {
        let at = line;
        match splitter.next_record(&mut fields) {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => {
                builder.problems.push(at, None, split_problem(error, limits)?);
                return Err(builder.into_error());
            }
        }
        line += newlines(splitter.raw());
        builder.row(at, &header, &fields);
    }
    builder.finish()
}

/// The most fields a row may have (the layout has seven columns).
const MAX_FIELDS: usize = 256;

fn newlines(raw: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', raw).count() as u64
}

fn split_problem(error: SplitError, limits: CsvLimits) -> Result<String, GeneratePoliciesError> {
    Ok(match error {
        SplitError::Io(e) => return Err(GeneratePoliciesError::Read(e)),
        SplitError::RecordTooLarge(_) => {
            format!(
                "the row is longer than {} bytes (a missing line break, or a file that is not CSV)",
                limits.max_record_bytes
            )
        }
        SplitError::TooManyFields(limit) => format!("the row has more than {limit} fields"),
        SplitError::Syntax(e) => match e {
            SyntaxError::UnterminatedQuote => "a quoted field is never closed",
            SyntaxError::TextAfterQuote => "text follows a closing quote",
            SyntaxError::QuoteInUnquotedField => {
                "a quote inside an unquoted field (quote the field and double the quote)"
            }
            SyntaxError::LoneCarriageReturn => "a carriage return outside quotes does not end the row",
            SyntaxError::TooManyFields => "far more fields than the header has columns",
        }
        .to_owned(),
    })
}
