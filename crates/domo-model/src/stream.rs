//! Streams: large uploads in parts, each stream feeding one DataSet.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::dataset::{DatasetCreate, DatasetSummary, UpdateMethod};
use crate::ids::{ExecutionId, StreamId};
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
    /// The DataSet it feeds.
    #[serde(rename = "dataSet")]
    pub dataset: DatasetSummary,
    /// How a committed execution treats the rows already there.
    pub update_method: UpdateMethod,
    /// When it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// When it was last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_at: Option<Timestamp>,
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
