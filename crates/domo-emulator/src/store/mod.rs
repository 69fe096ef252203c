//! The on-disk store: a SQLite database (WAL) holding the state, one
//! transaction per change, and immutable CSV row files written to a temporary
//! file, fsynced and renamed into place.

mod db;
mod model;

use std::collections::HashSet;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use rusqlite::Connection;
use tempfile::NamedTempFile;

use crate::error::{ApiError, StartError};

pub(crate) use model::{
    DeletedStream, State, StoredClient, StoredDataset, StoredExecution, StoredPart, StoredStream, Tombstone,
};

/// What a client reads when a change cannot be saved (the cause goes to the log).
const SAVE_FAILED: &str = "cannot save the emulator state";
/// The database, in the data folder.
pub(crate) const DB_FILE: &str = "state.db";
/// The state file of versions before the database: read once, then renamed to [`MIGRATED_FILE`].
const LEGACY_FILE: &str = "state.json";
const MIGRATED_FILE: &str = "state.json.migrated";
const DATA_DIR: &str = "data";
const PARTS_DIR: &str = "parts";
const TMP_DIR: &str = "tmp";
const LOCK_FILE: &str = "lock";
/// How many times (20 ms apart) a busy data folder is tried before giving up.
const LOCK_ATTEMPTS: u32 = 25;

/// The state in memory and the writes waiting for the database.
#[derive(Debug)]
struct Inner {
    /// What reads see: every change the database holds.
    committed: State,
    /// `committed` and the changes queued for the next commit: writers build on it.
    pending: State,
    /// The row writes of each request not yet committed, in order.
    queue: Vec<Queued>,
}

/// A request's row writes, where to tell it how the commit went, and the files it leaves unused.
#[derive(Debug)]
struct Queued {
    ops: Vec<db::Op>,
    outcome: Arc<OnceLock<Result<(), String>>>,
    unused: Vec<String>,
}

/// The data folder, the state held in memory, and the database.
///
/// Writes are committed in groups: a request's changes are queued, and
/// whichever request next gets the database commits everything queued in one
/// transaction with one fsync, then tells each request how it went. Under
/// concurrent writes this pays one fsync for many requests; each request still
/// lands whole or not at all, and is answered only once it is on disk.
#[derive(Debug)]
pub(crate) struct Store {
    root: PathBuf,
    inner: Mutex<Inner>,
    db: Mutex<Connection>,
    /// Transactions committed since the start (each may carry several requests).
    commits: std::sync::atomic::AtomicU64,
    /// Held (locked) while the store is open, so that a second emulator on the
    /// same folder refuses to start instead of overwriting this one's state.
    _lock: File,
}

impl Store {
    /// Opens (or creates) the data folder, migrating a `state.json` of an
    /// older version and removing what a killed process left half done.
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
        let (db, state) = open_db(root)?;
        let inner = Inner { committed: state.clone(), pending: state, queue: Vec::new() };
        let store = Self {
            root: root.to_owned(),
            inner: Mutex::new(inner),
            db: Mutex::new(db),
            commits: std::sync::atomic::AtomicU64::new(0),
            _lock: lock,
        };
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
        let inner = self.lock();
        let referenced = inner.committed.files();
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

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the state half changed:
        // writers change a copy and swap it in whole.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads the state as the database holds it.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.lock().committed)
    }

    /// Changes the state: `f` works on a copy of the latest state (which
    /// shares every DataSet, stream and the directory until `f` changes one),
    /// and the rows that differ are written to the database in one transaction
    /// (shared with the requests queued at the same time); only once that
    /// commits does the change become visible to reads and this return. An
    /// error from `f` or from the database changes nothing; a failed commit
    /// fails every request queued with it or since, since they built on it.
    /// Files the changed rows no longer refer to are removed afterwards.
    /// Blocks on fsync: call from a blocking thread (see [`Store::write_blocking`]).
    pub(crate) fn write<R>(&self, f: impl FnOnce(&mut State) -> Result<R, ApiError>) -> Result<R, ApiError> {
        let outcome = Arc::new(OnceLock::new());
        let result = {
            let mut inner = self.lock();
            let mut next = inner.pending.clone();
            let result = f(&mut next)?;
            let ops = db::changes(&inner.pending, &next).map_err(|err| ApiError::internal(SAVE_FAILED, &err))?;
            let unused = unused_files(&inner.pending, &next);
            inner.pending = next;
            // Queued even with no row to write: what `f` saw may still be waiting for its commit.
            inner.queue.push(Queued { ops, outcome: Arc::clone(&outcome), unused });
            result
        };
        let mut db = self.db.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if outcome.get().is_none() {
            // Nobody committed this request meanwhile: commit everything queued.
            let (batch, state) = {
                let mut inner = self.lock();
                (std::mem::take(&mut inner.queue), inner.pending.clone())
            };
            let committed = db::commit(&mut db, batch.iter().map(|q| q.ops.as_slice()));
            self.commits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut inner = self.lock();
            let unused: Vec<String> = match committed {
                Ok(()) => {
                    inner.committed = state;
                    for queued in &batch {
                        let _ = queued.outcome.set(Ok(()));
                    }
                    batch.into_iter().flat_map(|q| q.unused).collect()
                }
                Err(err) => {
                    inner.pending = inner.committed.clone();
                    let built_on_it = std::mem::take(&mut inner.queue);
                    for queued in batch.iter().chain(&built_on_it) {
                        let _ = queued.outcome.set(Err(err.to_string()));
                    }
                    Vec::new()
                }
            };
            drop(inner);
            for rel in unused {
                // An export may still read the file; on Unix it keeps its handle. Anything
                // left here is removed at the next start.
                let _ = fs::remove_file(self.root.join(rel));
            }
        }
        drop(db);
        match outcome.get() {
            Some(Ok(())) => Ok(result),
            Some(Err(cause)) => Err(ApiError::internal(SAVE_FAILED, &io::Error::other(cause.clone()))),
            None => Err(ApiError::internal(SAVE_FAILED, &io::Error::other("the commit was never made"))),
        }
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

/// Opens the database, creating it (from a `state.json` of an older version
/// when there is one) on first start, and reads the state.
fn open_db(root: &Path) -> Result<(Connection, State), StartError> {
    let db_path = root.join(DB_FILE);
    let legacy_path = root.join(LEGACY_FILE);
    let corrupt = |path: &Path| {
        let path = path.to_owned();
        move |err: db::DbError| StartError::CorruptState { path, message: err.to_string() }
    };
    create_private(&db_path).map_err(|source| StartError::DataDir { path: db_path.clone(), source })?;
    // A database made readable by others (a backup restored with a wider mode) is made private again,
    // with the log files SQLite made with its mode, before anything is read from it.
    for file in [DB_FILE, "state.db-wal", "state.db-shm", LEGACY_FILE, MIGRATED_FILE] {
        let path = root.join(file);
        make_private(&path).map_err(|source| StartError::DataDir { path, source })?;
    }
    let mut conn = db::connect(&db_path).map_err(corrupt(&db_path))?;
    if db::version(&conn).map_err(corrupt(&db_path))?.is_none() {
        let legacy = match fs::read(&legacy_path) {
            Ok(bytes) => Some(
                serde_json::from_slice::<model::LegacyState>(&bytes)
                    .map_err(|err| StartError::CorruptState { path: legacy_path.clone(), message: err.to_string() })?,
            ),
            Err(err) if err.kind() == io::ErrorKind::NotFound => None,
            Err(source) => return Err(StartError::DataDir { path: legacy_path, source }),
        };
        match legacy {
            Some(legacy) => {
                let state = State::from(legacy);
                db::create(&mut conn, &state, db::Migrated::FromStateJson).map_err(corrupt(&legacy_path))?;
                tracing::info!("migrated `{LEGACY_FILE}` into `{DB_FILE}`; the old file is kept as `{MIGRATED_FILE}`");
            }
            None => {
                // Row files without the state that names them: starting afresh
                // would remove them as leftovers. Refuse instead.
                for sub in [DATA_DIR, PARTS_DIR] {
                    let path = root.join(sub);
                    let mut entries =
                        fs::read_dir(&path).map_err(|source| StartError::DataDir { path: path.clone(), source })?;
                    if entries.next().is_some() {
                        return Err(StartError::CorruptState {
                            path: db_path,
                            message: format!(
                                "it is missing, yet `{sub}` holds row files; restore it or empty the folder"
                            ),
                        });
                    }
                }
                db::create(&mut conn, &State::default(), db::Migrated::No).map_err(corrupt(&db_path))?;
            }
        }
    }
    if legacy_path.exists() {
        if !db::was_migrated(&conn).map_err(corrupt(&db_path))? {
            return Err(StartError::CorruptState {
                path: legacy_path,
                message: format!(
                    "the data folder holds both `{DB_FILE}` and a `{LEGACY_FILE}` it was not made from; \
                     move one of them away"
                ),
            });
        }
        // Migrated (maybe by a start that stopped right after): set the old file aside.
        let migrated = root.join(MIGRATED_FILE);
        fs::rename(&legacy_path, &migrated)
            .and_then(|()| sync_dir(root))
            .map_err(|source| StartError::DataDir { path: legacy_path.clone(), source })?;
        // From now on a `state.json` that appears is one this database was not made from.
        db::forget_migration(&mut conn).map_err(corrupt(&db_path))?;
    }
    let state = db::load(&conn).map_err(corrupt(&db_path))?;
    Ok((conn, state))
}

/// Creates the database file readable by its owner only, since it holds the
/// generated client's secret; SQLite gives its log files the same mode.
fn create_private(path: &Path) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err),
    }
}

/// Takes away the access of others to an existing file (a missing one is fine).
#[cfg(unix)]
fn make_private(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = match fs::metadata(path) {
        Ok(meta) => meta.permissions().mode(),
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err),
    };
    if mode & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o700))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn make_private(_path: &Path) -> io::Result<()> {
    Ok(())
}

/// Files that rows changed from `old` to `new` referred to and no row refers to now.
fn unused_files(old: &State, new: &State) -> Vec<String> {
    let datasets = db::diff(&old.datasets, &new.datasets, |d| d.dataset.id.as_str().to_owned(), Arc::ptr_eq);
    let streams = db::diff(&old.streams, &new.streams, |s| s.id.get(), Arc::ptr_eq);
    let mut dropped: HashSet<&str> = HashSet::new();
    let old_datasets = |key: &str| old.datasets.iter().find(|d| d.dataset.id.as_str() == key);
    let old_streams = |key: u64| old.streams.iter().find(|s| s.id.get() == key);
    for change in &datasets.changes {
        match change {
            db::Change::Upsert { old: Some(before), new: after } => {
                let kept: HashSet<&str> = after.files().collect();
                dropped.extend(before.files().filter(|f| !kept.contains(f)));
            }
            db::Change::Upsert { old: None, .. } => {}
            db::Change::Remove(key) => dropped.extend(old_datasets(key).into_iter().flat_map(|d| d.files())),
        }
    }
    for change in &streams.changes {
        match change {
            db::Change::Upsert { old: Some(before), new: after } => {
                let kept: HashSet<&str> = after.files().collect();
                dropped.extend(before.files().filter(|f| !kept.contains(f)));
            }
            db::Change::Upsert { old: None, .. } => {}
            db::Change::Remove(key) => dropped.extend(old_streams(*key).into_iter().flat_map(|s| s.files())),
        }
    }
    if dropped.is_empty() {
        return Vec::new();
    }
    // A file can move (a committed part becomes a row file): only what nothing names is unused.
    let still = new.files();
    dropped.into_iter().filter(|f| !still.contains(f)).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests;
