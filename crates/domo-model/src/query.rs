//! `POST /v1/datasets/query/execute/{id}`: SQL against one DataSet.

use serde::{Deserialize, Serialize};

use crate::ids::DatasetId;

/// The body of a query: `{"sql": "SELECT … FROM table"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryRequest {
    /// The SQL; the DataSet is called `table`.
    pub sql: String,
}

/// Type information for one result column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryColumnMetadata {
    /// The column's type.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub column_type: Option<String>,
    /// The DataSet it came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_source_id: Option<DatasetId>,
    /// Longest value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<i64>,
    /// Shortest value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<i64>,
    /// Period index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_index: Option<i64>,
    /// Whether the column is aggregated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregated: Option<bool>,
}

/// The result of a query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryResponse {
    /// The DataSet queried.
    pub datasource: DatasetId,
    /// Result column names.
    #[serde(default)]
    pub columns: Vec<String>,
    /// Result column types.
    #[serde(default)]
    pub metadata: Vec<QueryColumnMetadata>,
    /// The rows, each an array of JSON values.
    #[serde(default)]
    pub rows: Vec<Vec<serde_json::Value>>,
    /// Row count.
    #[serde(default)]
    pub num_rows: u64,
    /// Column count.
    #[serde(default)]
    pub num_columns: u64,
    /// Whether Domo answered from its cache.
    #[serde(default)]
    pub fromcache: bool,
}
