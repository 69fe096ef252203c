//! What the emulator remembers: DataSets, policies, streams, the directory, tombstones, ids.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use domo_model::{Dataset, DatasetId, Directory, Execution, Secret, StreamId, Timestamp, UpdateMethod, UserId};
use serde::{Deserialize, Serialize};

/// Everything the emulator remembers across restarts except the CSV rows.
///
/// Each DataSet, stream and tombstone sits behind an [`Arc`], and so does the
/// directory: a write works on a copy of the state that shares everything it
/// does not change (copying it costs one reference count per DataSet), and
/// saving compares the copy with the state pointer by pointer to write only
/// the rows that changed.
#[derive(Debug, Clone, Default)]
pub(crate) struct State {
    /// DataSets in creation order.
    pub(crate) datasets: Vec<Arc<StoredDataset>>,
    /// Streams in creation order.
    pub(crate) streams: Vec<Arc<StoredStream>>,
    /// Users and groups.
    pub(crate) directory: Arc<Directory>,
    /// The client made on first start when none was given.
    pub(crate) generated_client: Option<StoredClient>,
    /// The last ids handed out.
    pub(crate) last_id: LastIds,
    /// Whether users or groups were changed through the API since the
    /// directory was seeded: a later start with a directory file is then
    /// refused rather than losing those changes.
    pub(crate) directory_changed: bool,
    /// What is left of deleted DataSets and their streams: a GET of one
    /// answers 200 with these fields and `deleted: true`, as Domo documents.
    pub(crate) deleted: Vec<Arc<Tombstone>>,
}

/// A deleted DataSet: the fields a GET still shows, and its streams. Its rows and policies are gone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Tombstone {
    pub(crate) id: DatasetId,
    pub(crate) name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) owner: Option<domo_model::Owner>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) created_at: Option<Timestamp>,
    pub(crate) deleted_at: Timestamp,
    /// The streams that fed it: id, update method and creation time.
    #[serde(default)]
    pub(crate) streams: Vec<DeletedStream>,
}

/// A stream whose DataSet was deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeletedStream {
    pub(crate) id: StreamId,
    pub(crate) update_method: UpdateMethod,
    pub(crate) created_at: Timestamp,
}

/// The last numeric ids handed out; ids are never reused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LastIds {
    #[serde(default)]
    pub(crate) policy: u64,
    #[serde(default)]
    pub(crate) stream: u64,
    #[serde(default)]
    pub(crate) execution: u64,
    #[serde(default)]
    pub(crate) user: u64,
    #[serde(default)]
    pub(crate) group: u64,
}

/// A DataSet and the files holding its rows, in order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredDataset {
    /// The DataSet as the API shows it, `policies` always filled.
    pub(crate) dataset: Dataset,
    /// Paths relative to the data folder of header-less CSV files, each ending in a newline.
    #[serde(default)]
    pub(crate) segments: Vec<String>,
}

/// A stream and its executions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredStream {
    pub(crate) id: StreamId,
    pub(crate) dataset_id: DatasetId,
    pub(crate) update_method: UpdateMethod,
    pub(crate) created_at: Timestamp,
    pub(crate) modified_at: Timestamp,
    #[serde(default)]
    pub(crate) executions: Vec<StoredExecution>,
}

/// An execution and the parts uploaded so far.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredExecution {
    pub(crate) execution: Execution,
    #[serde(default)]
    pub(crate) parts: BTreeMap<u64, StoredPart>,
}

/// One uploaded part: its file and row count.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredPart {
    pub(crate) file: String,
    pub(crate) rows: u64,
}

/// A persisted client id and secret (kept out of `Debug`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredClient {
    pub(crate) id: String,
    pub(crate) secret: Secret,
    pub(crate) user: UserId,
}

impl State {
    pub(crate) fn dataset(&self, id: &str) -> Option<&StoredDataset> {
        self.datasets.iter().find(|d| d.dataset.id.as_str() == id).map(|d| &**d)
    }

    /// The DataSet for a change: copied first if an older state still shares it.
    pub(crate) fn dataset_mut(&mut self, id: &str) -> Option<&mut StoredDataset> {
        self.datasets.iter_mut().find(|d| d.dataset.id.as_str() == id).map(Arc::make_mut)
    }

    /// The directory for a change: copied first if an older state still shares it.
    pub(crate) fn directory_mut(&mut self) -> &mut Directory {
        Arc::make_mut(&mut self.directory)
    }

    /// Every file the state refers to.
    pub(crate) fn files(&self) -> HashSet<&str> {
        self.datasets.iter().flat_map(|d| d.files()).chain(self.streams.iter().flat_map(|s| s.files())).collect()
    }
}

impl StoredDataset {
    /// The row files, relative to the data folder.
    pub(crate) fn files(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().map(String::as_str)
    }
}

impl StoredStream {
    /// The files of uploaded parts not yet committed, relative to the data folder.
    pub(crate) fn files(&self) -> impl Iterator<Item = &str> {
        self.executions.iter().flat_map(|e| e.parts.values().map(|p| p.file.as_str()))
    }
}

/// The state as `state.json` held it before the database (and as it is still
/// read once, to migrate a data folder).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LegacyState {
    #[serde(default)]
    pub(crate) datasets: Vec<StoredDataset>,
    #[serde(default)]
    pub(crate) streams: Vec<StoredStream>,
    #[serde(default)]
    pub(crate) directory: Directory,
    #[serde(default)]
    pub(crate) generated_client: Option<StoredClient>,
    #[serde(default)]
    pub(crate) last_id: LastIds,
    #[serde(default)]
    pub(crate) directory_changed: bool,
    #[serde(default)]
    pub(crate) deleted: Vec<Tombstone>,
}

impl From<LegacyState> for State {
    fn from(legacy: LegacyState) -> Self {
        Self {
            datasets: legacy.datasets.into_iter().map(Arc::new).collect(),
            streams: legacy.streams.into_iter().map(Arc::new).collect(),
            directory: Arc::new(legacy.directory),
            generated_client: legacy.generated_client,
            last_id: legacy.last_id,
            directory_changed: legacy.directory_changed,
            deleted: legacy.deleted.into_iter().map(Arc::new).collect(),
        }
    }
}
