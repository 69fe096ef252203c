//! Streams: large uploads in parts, each stream feeding one DataSet.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::dataset::{DatasetCreate, DatasetSummary, Owner, UpdateMethod};
use crate::ids::{DatasetId, ExecutionId, StreamId};
use crate::string_enum::string_enum;

/// `POST /v1/streams`: creates a stream and its DataSet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamCreate {
    /// The DataSet to create.
    #[serde(rename = "dataSet")]
    pub dataset: DatasetCreate,
    /// How each committed execution treats the rows already there.
    pub update_method: UpdateMethod,
}

/// A stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stream {
    /// The stream's id.
    pub id: StreamId,
    /// The DataSet it feeds. Domo's list and search answers carry only its id
    /// and `pdpEnabled`; a single stream carries the DataSet's summary.
    #[serde(rename = "dataSet")]
    pub dataset: StreamDataset,
    /// How a committed execution treats the rows already there.
    pub update_method: UpdateMethod,
    /// When it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// When it was last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_at: Option<Timestamp>,
}

/// The DataSet a stream feeds, as a stream shows it. Only `id` is guaranteed:
/// the reference's list and search examples carry nothing else but `pdpEnabled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamDataset {
    /// The DataSet's id.
    pub id: DatasetId,
    /// Its name, when the answer carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How many rows it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// How many columns it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<u64>,
    /// Its owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
    /// When it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// When it was last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    /// Whether PDP is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdp_enabled: Option<bool>,
}

impl StreamDataset {
    /// Only the fields the reference's list and search examples show: the id and `pdpEnabled`.
    pub fn minimal(&self) -> Self {
        Self {
            id: self.id.clone(),
            name: None,
            description: None,
            rows: None,
            columns: None,
            owner: None,
            created_at: None,
            updated_at: None,
            pdp_enabled: self.pdp_enabled,
        }
    }
}

impl From<DatasetSummary> for StreamDataset {
    fn from(d: DatasetSummary) -> Self {
        Self {
            id: d.id,
            name: Some(d.name),
            description: d.description,
            rows: Some(d.rows),
            columns: Some(d.columns),
            owner: d.owner,
            created_at: d.created_at,
            updated_at: d.updated_at,
            pdp_enabled: d.pdp_enabled,
        }
    }
}

string_enum!(open
    /// The state of an upload execution.
    ExecutionState {
        /// Parts may be uploaded.
        Active = "ACTIVE",
        /// Committed.
        Success = "SUCCESS",
        /// Failed.
        Error = "ERROR",
        /// Aborted.
        Aborted = "ABORTED",
    }
);

/// One upload of a stream: parts, then a commit or an abort.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    /// The execution's id.
    pub id: ExecutionId,
    /// Its state.
    pub current_state: ExecutionState,
    /// When it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    /// When it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// When it was last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_at: Option<Timestamp>,
    /// How the commit treats the rows already there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_method: Option<UpdateMethod>,
}
