//! The on-disk store: one JSON state file and immutable CSV segment files, all
//! written to a temporary file, fsynced and renamed into place.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use domo_model::{Dataset, DatasetId, Directory, Execution, Secret, StreamId, Timestamp, UpdateMethod, UserId};
use serde::{Deserialize, Serialize};
use tempfile::NamedTempFile;

use crate::error::{ApiError, StartError};

const STATE_FILE: &str = "state.json";
const DATA_DIR: &str = "data";
const PARTS_DIR: &str = "parts";
const TMP_DIR: &str = "tmp";
const LOCK_FILE: &str = "lock";
/// How many times (20 ms apart) a busy data folder is tried before giving up.
const LOCK_ATTEMPTS: u32 = 25;

/// Everything the emulator remembers across restarts except the CSV rows.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct State {
    /// DataSets in creation order.
    #[serde(default)]
    pub(crate) datasets: Vec<StoredDataset>,
    /// Streams in creation order.
    #[serde(default)]
    pub(crate) streams: Vec<StoredStream>,
    /// Users and groups.
    #[serde(default)]
    pub(crate) directory: Directory,
    /// The client made on first start when none was given.
    #[serde(default)]
    pub(crate) generated_client: Option<StoredClient>,
    /// The last ids handed out.
    #[serde(default)]
    pub(crate) last_id: LastIds,
    /// Whether users or groups were changed through the API since the
    /// directory was seeded: a later start with a directory file is then
    /// refused rather than losing those changes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) directory_changed: bool,
    /// What is left of deleted DataSets and their streams: a GET of one
    /// answers 200 with these fields and `deleted: true`, as Domo documents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) deleted: Vec<Tombstone>,
}

/// A deleted DataSet: the fields a GET still shows, and its streams. Its rows and policies are gone.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeletedStream {
    pub(crate) id: StreamId,
    pub(crate) update_method: UpdateMethod,
    pub(crate) created_at: Timestamp,
}

/// The last numeric ids handed out; ids are never reused.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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
        self.datasets.iter().find(|d| d.dataset.id.as_str() == id)
    }

    pub(crate) fn dataset_mut(&mut self, id: &str) -> Option<&mut StoredDataset> {
        self.datasets.iter_mut().find(|d| d.dataset.id.as_str() == id)
    }

    /// Every file the state refers to.
    fn files(&self) -> HashSet<&str> {
        let segments = self.datasets.iter().flat_map(|d| d.segments.iter().map(String::as_str));
        let parts =
            self.streams.iter().flat_map(|s| &s.executions).flat_map(|e| e.parts.values().map(|p| p.file.as_str()));
        segments.chain(parts).collect()
    }
}

/// The data folder and the state held in memory.
#[derive(Debug)]
pub(crate) struct Store {
    root: PathBuf,
    state: Mutex<State>,
    /// Held (locked) while the store is open, so that a second emulator on the
    /// same folder refuses to start instead of overwriting this one's state.
    _lock: File,
}

impl Store {
    /// Opens (or creates) the data folder, removing what a killed process left half done.
    pub(crate) fn open(root: &Path) -> Result<Self, StartError> {
        let dir_err = |path: &Path| {
            let path = path.to_owned();
            move |source| StartError::DataDir { path, source }
        };
        for sub in [DATA_DIR, PARTS_DIR, TMP_DIR] {
            let path = root.join(sub);
            fs::create_dir_all(&path).map_err(dir_err(&path))?;
        }
        let lock_path = root.join(LOCK_FILE);
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(dir_err(&lock_path))?;
        // A process forked elsewhere in this program (to run a child) holds a copy
        // of a just-closed lock for a moment, until its exec: retry briefly.
        let mut attempts = 0;
        loop {
            match lock.try_lock() {
                Ok(()) => break,
                Err(fs::TryLockError::WouldBlock) if attempts < LOCK_ATTEMPTS => {
                    attempts += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(fs::TryLockError::WouldBlock) => return Err(StartError::InUse { path: root.to_owned() }),
                Err(fs::TryLockError::Error(err)) => return Err(dir_err(&lock_path)(err)),
            }
        }
        let state_path = root.join(STATE_FILE);
        let state = match fs::read(&state_path) {
            Ok(bytes) => serde_json::from_slice::<State>(&bytes)
                .map_err(|err| StartError::CorruptState { path: state_path.clone(), message: err.to_string() })?,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                // Row files without the state that names them: starting afresh
                // would remove them as leftovers. Refuse instead.
                for sub in [DATA_DIR, PARTS_DIR] {
                    let path = root.join(sub);
                    if fs::read_dir(&path).map_err(dir_err(&path))?.next().is_some() {
                        return Err(StartError::CorruptState {
                            path: state_path,
                            message: format!(
                                "it is missing, yet `{sub}` holds row files; restore it or empty the folder"
                            ),
                        });
                    }
                }
                State::default()
            }
            Err(err) => return Err(dir_err(&state_path)(err)),
        };
        let store = Self { root: root.to_owned(), state: Mutex::new(state), _lock: lock };
        store.remove_leftovers().map_err(dir_err(root))?;
        Ok(store)
    }

    /// Temporary files of uploads that never finished, and segment files that a
    /// crash left written but never recorded in the state, are removed.
    fn remove_leftovers(&self) -> io::Result<()> {
        let tmp = self.root.join(TMP_DIR);
        for entry in fs::read_dir(&tmp)? {
            let path = entry?.path();
            if path.is_file() {
                fs::remove_file(&path)?;
            }
        }
        let state = self.lock();
        let referenced = state.files();
        for sub in [DATA_DIR, PARTS_DIR] {
            for entry in fs::read_dir(self.root.join(sub))? {
                let name = entry?.file_name();
                let rel = format!("{sub}/{}", name.to_string_lossy());
                if !referenced.contains(rel.as_str()) {
                    tracing::info!(file = %rel, "removing `{rel}`, which no DataSet refers to");
                    fs::remove_file(self.root.join(&rel))?;
                }
            }
        }
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half changed:
        // writers change a copy and swap it in only after it is on disk.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads the state.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.lock())
    }

    /// Changes the state: `f` works on a copy, which is written to disk
    /// atomically and only then becomes the state. Files the old state referred
    /// to and the new one does not are removed afterwards. Blocks on fsync: call
    /// from a blocking thread (see [`Store::write_blocking`]).
    pub(crate) fn write<R>(&self, f: impl FnOnce(&mut State) -> Result<R, ApiError>) -> Result<R, ApiError> {
        let mut guard = self.lock();
        let mut next = guard.clone();
        let result = f(&mut next)?;
        self.save(&next).map_err(|err| ApiError::internal("cannot save the emulator state", &err))?;
        let unused: Vec<String> = {
            let still = next.files();
            guard.files().into_iter().filter(|f| !still.contains(f)).map(str::to_owned).collect()
        };
        *guard = next;
        drop(guard);
        for rel in unused {
            // An export may still read the file; on Unix it keeps its handle. Anything
            // left here is removed at the next start.
            let _ = fs::remove_file(self.root.join(rel));
        }
        Ok(result)
    }

    /// [`Store::write`] on a blocking thread.
    pub(crate) async fn write_blocking<R: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut State) -> Result<R, ApiError> + Send + 'static,
    ) -> Result<R, ApiError> {
        let store = Arc::clone(self);
        tokio::task::spawn_blocking(move || store.write(f))
            .await
            .unwrap_or_else(|err| Err(ApiError::internal("a state update failed", &err)))
    }

    fn save(&self, state: &State) -> io::Result<()> {
        let bytes = serde_json::to_vec_pretty(state).map_err(io::Error::other)?;
        let mut tmp = NamedTempFile::new_in(self.root.join(TMP_DIR))?;
        tmp.write_all(&bytes)?;
        tmp.as_file().sync_all()?;
        tmp.persist(self.root.join(STATE_FILE)).map_err(|e| e.error)?;
        sync_dir(&self.root)
    }

    /// A new temporary file in the data folder's `tmp`, on the same file system
    /// as the segments so that it can be renamed into place.
    pub(crate) fn temp_file(&self) -> io::Result<NamedTempFile> {
        NamedTempFile::new_in(self.root.join(TMP_DIR))
    }

    /// Fsyncs a finished temporary file and renames it into `data` (or `parts`),
    /// returning its path relative to the data folder. It is not yet part of any
    /// DataSet: a [`Store::write`] records it, and a crash before that leaves an
    /// unreferenced file that the next start removes.
    pub(crate) fn keep(&self, file: NamedTempFile, kind: FileKind) -> io::Result<String> {
        file.as_file().sync_all()?;
        let sub = match kind {
            FileKind::Segment => DATA_DIR,
            FileKind::Part => PARTS_DIR,
        };
        let rel = format!("{sub}/{}.csv", crate::random::uuid());
        file.persist(self.root.join(&rel)).map_err(|e| e.error)?;
        sync_dir(&self.root.join(sub))?;
        Ok(rel)
    }

    /// Removes a kept file that did not make it into the state.
    pub(crate) fn discard(&self, rel: &str) {
        let _ = fs::remove_file(self.root.join(rel));
    }

    /// Opens files by their relative paths. Called under the state lock (see
    /// [`Store::read`]) so that a concurrent REPLACE cannot remove them first.
    pub(crate) fn open_files(&self, rels: &[String]) -> io::Result<Vec<File>> {
        rels.iter().map(|rel| File::open(self.root.join(rel))).collect()
    }
}

/// Where a kept file goes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FileKind {
    /// Rows of a DataSet.
    Segment,
    /// An uploaded stream part, not yet committed.
    Part,
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Reads several files one after another as one stream.
#[derive(Debug)]
pub(crate) struct Concat {
    files: std::vec::IntoIter<File>,
    current: Option<File>,
}

impl Concat {
    pub(crate) fn new(files: Vec<File>) -> Self {
        let mut files = files.into_iter();
        let current = files.next();
        Self { files, current }
    }
}

impl io::Read for Concat {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while let Some(file) = &mut self.current {
            let n = file.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            self.current = self.files.next();
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_client_secret_is_kept_in_the_state_file_and_out_of_debug() {
        let client = StoredClient { id: "app".into(), secret: Secret::new("s3cret-41"), user: UserId(1) };
        let state = State { generated_client: Some(client), ..State::default() };
        assert!(!format!("{state:?}").contains("s3cret-41"));
        let json = serde_json::to_value(&state).unwrap();
        assert_eq!(json["generatedClient"]["secret"], "s3cret-41");
        let back: State = serde_json::from_value(json).unwrap();
        assert_eq!(back.generated_client.unwrap().secret.expose(), "s3cret-41");
    }
}
