//! DataSets: schemas, create/update requests, full DataSets, list items, import and export options.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{DatasetId, UserId};
use crate::policy::Policy;
use crate::string_enum::string_enum;

string_enum!(strict
    /// A column's type, as Domo names it.
    ColumnType, "column type" {
        /// Text.
        String = "STRING",
        /// An exact decimal number.
        Decimal = "DECIMAL",
        /// A 64-bit signed integer.
        Long = "LONG",
        /// A 64-bit floating point number.
        Double = "DOUBLE",
        /// A calendar date, `YYYY-MM-DD`.
        Date = "DATE",
        /// A date and time, UTC unless an offset is given.
        Datetime = "DATETIME",
    }
);

/// One column of a schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// The column's type.
    #[serde(rename = "type")]
    pub column_type: ColumnType,
    /// The column's name, as it appears in the CSV header and in policy filters.
    pub name: String,
}

impl Column {
    /// A column with this type and name.
    pub fn new(column_type: ColumnType, name: impl Into<String>) -> Self {
        Self { column_type, name: name.into() }
    }
}

/// A DataSet's schema: its columns, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Schema {
    /// The columns, in CSV order.
    pub columns: Vec<Column>,
}

/// The owner of a DataSet. Domo documents `id` as a string but sends a number;
/// both are accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// The owner's user id.
    pub id: UserId,
    /// The owner's display name (absent in update requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `POST /v1/datasets`: the body that creates a DataSet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetCreate {
    /// The DataSet's name.
    pub name: String,
    /// A description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The row count Domo is told (usually 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// The schema.
    pub schema: Schema,
}

/// `PUT /v1/datasets/{id}`: every field is optional; fields left out keep their value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetUpdate {
    /// A new name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A new description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A new schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Schema>,
    /// Turns PDP on or off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdp_enabled: Option<bool>,
    /// A new owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
}

/// A full DataSet, as `GET /v1/datasets/{id}` and create/update return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dataset {
    /// The DataSet's id.
    pub id: DatasetId,
    /// Its name.
    pub name: String,
    /// Its description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How many rows it holds.
    #[serde(default)]
    pub rows: u64,
    /// How many columns it has.
    #[serde(default)]
    pub columns: u64,
    /// Its schema.
    #[serde(default)]
    pub schema: Schema,
    /// Its owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
    /// When it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// When it was last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    /// When its data last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_current_at: Option<Timestamp>,
    /// Whether PDP policies restrict rows. Starts `false` on a new DataSet.
    #[serde(default)]
    pub pdp_enabled: bool,
    /// Its PDP policies, when the response includes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<Policy>>,
}

/// A DataSet as `GET /v1/datasets` lists it: no schema and no policies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetSummary {
    /// The DataSet's id.
    pub id: DatasetId,
    /// Its name.
    pub name: String,
    /// Its description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How many rows it holds.
    #[serde(default)]
    pub rows: u64,
    /// How many columns it has.
    #[serde(default)]
    pub columns: u64,
    /// Its owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
    /// When it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// When it was last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    /// When its data last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_current_at: Option<Timestamp>,
    /// Whether PDP is on, when the listing says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdp_enabled: Option<bool>,
}

impl From<&Dataset> for DatasetSummary {
    fn from(d: &Dataset) -> Self {
        Self {
            id: d.id.clone(),
            name: d.name.clone(),
            description: d.description.clone(),
            rows: d.rows,
            columns: d.columns,
            owner: d.owner.clone(),
            created_at: d.created_at,
            updated_at: d.updated_at,
            data_current_at: d.data_current_at,
            pdp_enabled: Some(d.pdp_enabled),
        }
    }
}

string_enum!(strict
    /// How an import treats the rows already there. On the wire the value is
    /// case-sensitive and Domo treats an unknown value as `REPLACE`; see
    /// [`UpdateMethod::from_query`].
    UpdateMethod, "update method" {
        /// The new rows replace every row.
        Replace = "REPLACE",
        /// The new rows are added after the old ones.
        Append = "APPEND",
    }
);

impl UpdateMethod {
    /// Reads the `updateMethod` query parameter as Domo does: exactly `APPEND`
    /// appends, anything else (including `append` and no value) replaces.
    pub fn from_query(value: Option<&str>) -> Self {
        match value {
            Some("APPEND") => Self::Append,
            _ => Self::Replace,
        }
    }
}

string_enum!(strict
    /// The `sort` parameter of `GET /v1/datasets`.
    Sort, "sort" {
        /// By name, A to Z.
        Name = "name",
        /// By name, Z to A.
        NameDescending = "nameDescending",
        /// Most recently touched first.
        LastTouched = "lastTouched",
        /// Least recently touched first.
        LastTouchedAscending = "lastTouchedAscending",
        /// Most recently updated first.
        LastUpdated = "lastUpdated",
        /// Least recently updated first.
        LastUpdatedAscending = "lastUpdatedAscending",
        /// Newest first.
        CreatedAt = "createdAt",
        /// Oldest first.
        CreatedAtAscending = "createdAtAscending",
        /// Most cards first.
        CardCount = "cardCount",
        /// Fewest cards first.
        CardCountAscending = "cardCountAscending",
        /// Most card views first.
        CardViewCount = "cardViewCount",
        /// Fewest card views first.
        CardViewCountAscending = "cardViewCountAscending",
        /// By error state.
        ErrorState = "errorState",
        /// By error state, reversed.
        ErrorStateDescending = "errorStateDescending",
        /// By data source id.
        DataSourceId = "dataSourceId",
    }
);

/// The query of `GET /v1/datasets`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListDatasets {
    /// Page size; Domo's default and maximum is [`ListDatasets::MAX_LIMIT`].
    pub limit: Option<u32>,
    /// Row offset of the page.
    pub offset: Option<u64>,
    /// Sort order.
    pub sort: Option<Sort>,
    /// Case-insensitive "name contains".
    pub name_like: Option<String>,
}

impl ListDatasets {
    /// Domo's default and largest page size.
    pub const MAX_LIMIT: u32 = 50;

    /// The query parameters as name/value pairs, in Domo's spelling.
    pub fn query_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(limit) = self.limit {
            pairs.push(("limit", limit.to_string()));
        }
        if let Some(offset) = self.offset {
            pairs.push(("offset", offset.to_string()));
        }
        if let Some(sort) = self.sort {
            pairs.push(("sort", sort.as_str().to_owned()));
        }
        if let Some(name_like) = &self.name_like {
            pairs.push(("nameLike", name_like.clone()));
        }
        pairs
    }
}

/// Whether an export starts with a header row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Header {
    /// Rows only, as Domo imports them.
    #[default]
    Omit,
    /// A header row of column names first.
    Include,
}

/// The query of `GET /v1/datasets/{id}/data`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExportOptions {
    /// Whether the CSV starts with a header row (`includeHeader`).
    pub header: Header,
    /// A file name for `Content-Disposition` (`fileName`).
    pub file_name: Option<String>,
}

impl ExportOptions {
    /// The query parameters as name/value pairs, in Domo's spelling.
    pub fn query_pairs(&self) -> Vec<(&'static str, String)> {
        let include = matches!(self.header, Header::Include);
        let mut pairs = vec![("includeHeader", include.to_string())];
        if let Some(name) = &self.file_name {
            pairs.push(("fileName", name.clone()));
        }
        pairs
    }
}
