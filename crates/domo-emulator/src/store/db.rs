//! The SQLite database behind the store: one row per DataSet, policy, user, group, stream and tombstone.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::Arc;

use domo_model::{Dataset, Directory, DirectoryGroup, Policy, User};
use rusqlite::{Connection, OptionalExtension, ToSql, Transaction, params};
use serde::{Deserialize, Serialize};

use super::model::{LastIds, State, StoredClient, StoredDataset, StoredStream, Tombstone};

/// The layout this version writes; a database with another one is refused.
const SCHEMA_VERSION: i64 = 1;

/// Each table keeps creation order in `seq` and looks rows up by `id`; a
/// policy is keyed by its DataSet and id. Bodies are the JSON the API shows.
const SCHEMA: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE datasets (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL);
CREATE TABLE policies (
    seq INTEGER PRIMARY KEY,
    dataset_id TEXT NOT NULL,
    id INTEGER NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (dataset_id, id)
);
CREATE TABLE users (seq INTEGER PRIMARY KEY, id INTEGER NOT NULL UNIQUE, body TEXT NOT NULL);
CREATE TABLE user_groups (seq INTEGER PRIMARY KEY, id INTEGER NOT NULL UNIQUE, body TEXT NOT NULL);
CREATE TABLE streams (seq INTEGER PRIMARY KEY, id INTEGER NOT NULL UNIQUE, body TEXT NOT NULL);
CREATE TABLE tombstones (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL);
";

const META_VERSION: &str = "version";
const META_LAST_ID: &str = "last_id";
const META_CLIENT: &str = "generated_client";
const META_DIRECTORY_CHANGED: &str = "directory_changed";
const META_ROLES: &str = "roles";
/// Set in the transaction that migrated a `state.json`, so that a start cut
/// short before renaming it knows the file was already read.
const META_MIGRATED: &str = "migrated_from_state_json";

/// What saving or loading the database can fail with.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("row `{key}` of table `{table}`: {source}")]
    Json {
        table: &'static str,
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("policy `{name}` of DataSet `{dataset}` has no id")]
    PolicyWithoutId { dataset: String, name: String },
    #[error("id {0} is too large to store")]
    IdTooLarge(u64),
    #[error("it was written by another version of the emulator (layout {found}, this one reads {SCHEMA_VERSION})")]
    Version { found: String },
}

/// Opens the database with the settings every start uses: WAL, and a full
/// fsync of the log on every commit, so that an answered write survives a
/// crash or a power cut.
pub(crate) fn connect(path: &std::path::Path) -> Result<Connection, DbError> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // Only this process uses the folder (it holds the lock file); a short wait
    // covers a tool reading the database meanwhile.
    conn.busy_timeout(std::time::Duration::from_secs(2))?;
    Ok(conn)
}

/// The layout's version, or `None` for a database nothing was written to yet.
pub(crate) fn version(conn: &Connection) -> Result<Option<String>, DbError> {
    let has_meta: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta')",
        [],
        |row| row.get(0),
    )?;
    if !has_meta {
        return Ok(None);
    }
    Ok(conn.query_row("SELECT value FROM meta WHERE key = ?1", [META_VERSION], |row| row.get(0)).optional()?)
}

/// Creates the tables and writes `state` in one transaction; `migrated` marks
/// a state read from `state.json`.
pub(crate) fn create(conn: &mut Connection, state: &State, migrated: Migrated) -> Result<(), DbError> {
    let tx = conn.transaction()?;
    tx.execute_batch(SCHEMA)?;
    Op::Meta { key: META_VERSION, value: Some(SCHEMA_VERSION.to_string()) }.run(&tx)?;
    if migrated == Migrated::FromStateJson {
        Op::Meta { key: META_MIGRATED, value: Some("true".to_owned()) }.run(&tx)?;
    }
    for op in changes(&State::default(), state)? {
        op.run(&tx)?;
    }
    tx.commit()?;
    Ok(())
}

/// Whether a new database holds a state read from `state.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Migrated {
    FromStateJson,
    No,
}

/// Whether this database was made from a `state.json`.
pub(crate) fn was_migrated(conn: &Connection) -> Result<bool, DbError> {
    Ok(get_meta(conn, META_MIGRATED)?.is_some())
}

/// Clears the mark of a migration once its `state.json` is set aside.
pub(crate) fn forget_migration(conn: &mut Connection) -> Result<(), DbError> {
    let tx = conn.transaction()?;
    Op::Meta { key: META_MIGRATED, value: None }.run(&tx)?;
    tx.commit()?;
    Ok(())
}

/// Reads the whole state.
pub(crate) fn load(conn: &Connection) -> Result<State, DbError> {
    match version(conn)? {
        Some(v) if v == SCHEMA_VERSION.to_string() => {}
        found => return Err(DbError::Version { found: found.unwrap_or_else(|| "none".to_owned()) }),
    }
    let mut policies: HashMap<String, Vec<Policy>> = HashMap::new();
    for (dataset, body) in rows(conn, "SELECT dataset_id, body FROM policies ORDER BY seq")? {
        let policy: Policy = parse("policies", &dataset, &body)?;
        policies.entry(dataset).or_default().push(policy);
    }
    let mut datasets = Vec::new();
    for (id, body) in rows(conn, "SELECT id, body FROM datasets ORDER BY seq")? {
        let row: DatasetRow = parse("datasets", &id, &body)?;
        let mut dataset = row.dataset;
        dataset.policies = Some(policies.remove(&id).unwrap_or_default());
        datasets.push(Arc::new(StoredDataset { dataset, segments: row.segments }));
    }
    let streams = rows(conn, "SELECT id, body FROM streams ORDER BY seq")?
        .into_iter()
        .map(|(id, body)| parse::<StoredStream>("streams", &id, &body).map(Arc::new))
        .collect::<Result<_, _>>()?;
    let deleted = rows(conn, "SELECT id, body FROM tombstones ORDER BY seq")?
        .into_iter()
        .map(|(id, body)| parse::<Tombstone>("tombstones", &id, &body).map(Arc::new))
        .collect::<Result<_, _>>()?;
    let users = rows(conn, "SELECT id, body FROM users ORDER BY seq")?
        .into_iter()
        .map(|(id, body)| parse::<User>("users", &id, &body))
        .collect::<Result<_, _>>()?;
    let groups = rows(conn, "SELECT id, body FROM user_groups ORDER BY seq")?
        .into_iter()
        .map(|(id, body)| parse::<DirectoryGroup>("user_groups", &id, &body))
        .collect::<Result<_, _>>()?;
    let roles = meta_json(conn, META_ROLES)?.unwrap_or_default();
    Ok(State {
        datasets,
        streams,
        directory: Arc::new(Directory { users, groups, roles }),
        generated_client: meta_json::<StoredClient>(conn, META_CLIENT)?,
        last_id: meta_json::<LastIds>(conn, META_LAST_ID)?.unwrap_or_default(),
        directory_changed: meta_json::<bool>(conn, META_DIRECTORY_CHANGED)?.unwrap_or(false),
        deleted,
    })
}

/// Writes what changed from `old` to `new` in one transaction: all of it or,
/// on any error, none of it.
#[cfg(test)]
pub(crate) fn save(conn: &mut Connection, old: &State, new: &State) -> Result<(), DbError> {
    let ops = changes(old, new)?;
    commit(conn, [ops.as_slice()])
}

/// Runs the row writes of several requests in one transaction, committed (and
/// fsynced) once: all of them land or, on any error, none.
pub(crate) fn commit<'a>(conn: &mut Connection, batches: impl IntoIterator<Item = &'a [Op]>) -> Result<(), DbError> {
    let tx = conn.transaction()?;
    for op in batches.into_iter().flatten() {
        op.run(&tx)?;
    }
    tx.commit()?;
    Ok(())
}

/// One write to a row (or a DataSet's policies, or a whole table).
pub(crate) enum Op {
    Upsert { table: &'static Table, key: Key, scope: Option<String>, body: String },
    Remove { table: &'static Table, key: Key, scope: Option<String> },
    Clear { table: &'static Table, scope: Option<String> },
    Meta { key: &'static str, value: Option<String> },
}

/// Names the table and row only: a body may hold the generated client's secret.
impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Upsert { table, key, .. } => write!(f, "Upsert({}, {key:?})", table.name),
            Self::Remove { table, key, .. } => write!(f, "Remove({}, {key:?})", table.name),
            Self::Clear { table, .. } => write!(f, "Clear({})", table.name),
            Self::Meta { key, .. } => write!(f, "Meta({key})"),
        }
    }
}

impl Op {
    fn run(&self, tx: &Transaction<'_>) -> Result<(), DbError> {
        match self {
            Self::Upsert { table, key, scope, body } => {
                let name = table.name;
                match (table.scope, scope) {
                    (Some(column), Some(scope)) => tx
                        .prepare_cached(&format!(
                            "INSERT INTO {name} (id, body, {column}) VALUES (?1, ?2, ?3) \
                             ON CONFLICT ({column}, id) DO UPDATE SET body = excluded.body"
                        ))?
                        .execute(params![key, body, scope])?,
                    _ => tx
                        .prepare_cached(&format!(
                            "INSERT INTO {name} (id, body) VALUES (?1, ?2) ON CONFLICT (id) DO UPDATE SET body = excluded.body"
                        ))?
                        .execute(params![key, body])?,
                };
            }
            Self::Remove { table, key, scope } => {
                let name = table.name;
                match (table.scope, scope) {
                    (Some(column), Some(scope)) => tx
                        .prepare_cached(&format!("DELETE FROM {name} WHERE id = ?1 AND {column} = ?2"))?
                        .execute(params![key, scope])?,
                    _ => tx.prepare_cached(&format!("DELETE FROM {name} WHERE id = ?1"))?.execute(params![key])?,
                };
            }
            Self::Clear { table, scope } => {
                let name = table.name;
                match (table.scope, scope) {
                    (Some(column), Some(scope)) => {
                        tx.execute(&format!("DELETE FROM {name} WHERE {column} = ?1"), [scope])?
                    }
                    _ => tx.execute(&format!("DELETE FROM {name}"), [])?,
                };
            }
            Self::Meta { key, value: Some(value) } => {
                tx.prepare_cached(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )?
                .execute([key, value.as_str()])?;
            }
            Self::Meta { key, value: None } => {
                tx.execute("DELETE FROM meta WHERE key = ?1", [key])?;
            }
        }
        Ok(())
    }
}

/// The row writes that turn `old` into `new`: only the rows that changed.
pub(crate) fn changes(old: &State, new: &State) -> Result<Vec<Op>, DbError> {
    let mut ops = Vec::new();
    let datasets = diff(&old.datasets, &new.datasets, |d| d.dataset.id.as_str().to_owned(), Arc::ptr_eq);
    apply(&mut ops, &Table::DATASETS, None, &datasets, &new.datasets, |d| {
        let row = DatasetRow { dataset: without_policies(&d.dataset), segments: d.segments.clone() };
        json("datasets", d.dataset.id.as_str(), &row)
    })?;
    for change in &datasets.changes {
        match change {
            Change::Upsert { old, new } => {
                let before = old.and_then(|d| d.dataset.policies.as_deref()).unwrap_or_default();
                let after = new.dataset.policies.as_deref().unwrap_or_default();
                policy_changes(&mut ops, new.dataset.id.as_str(), before, after)?;
            }
            Change::Remove(gone) => ops.push(Op::Clear { table: &Table::POLICIES, scope: Some(gone.clone()) }),
        }
    }
    let streams = diff(&old.streams, &new.streams, |s| s.id.get(), Arc::ptr_eq);
    apply(&mut ops, &Table::STREAMS, None, &streams, &new.streams, |s| json("streams", &s.id.to_string(), &**s))?;
    let deleted = diff(&old.deleted, &new.deleted, |t| t.id.as_str().to_owned(), Arc::ptr_eq);
    apply(&mut ops, &Table::TOMBSTONES, None, &deleted, &new.deleted, |t| json("tombstones", t.id.as_str(), &**t))?;
    if !Arc::ptr_eq(&old.directory, &new.directory) {
        let (before, after) = (&old.directory, &new.directory);
        let users = diff(&before.users, &after.users, |u| u.id.get(), |a, b| a == b);
        apply(&mut ops, &Table::USERS, None, &users, &after.users, |u| json("users", &u.id.to_string(), u))?;
        let groups = diff(&before.groups, &after.groups, |g| g.id.get(), |a, b| a == b);
        apply(&mut ops, &Table::GROUPS, None, &groups, &after.groups, |g| json("user_groups", &g.id.to_string(), g))?;
        if before.roles != after.roles {
            ops.push(Op::Meta { key: META_ROLES, value: Some(json("meta", META_ROLES, &after.roles)?) });
        }
    }
    if old.last_id != new.last_id {
        ops.push(Op::Meta { key: META_LAST_ID, value: Some(json("meta", META_LAST_ID, &new.last_id)?) });
    }
    if old.directory_changed != new.directory_changed {
        let value = json("meta", META_DIRECTORY_CHANGED, &new.directory_changed)?;
        ops.push(Op::Meta { key: META_DIRECTORY_CHANGED, value: Some(value) });
    }
    let same_client = match (&old.generated_client, &new.generated_client) {
        (None, None) => true,
        (Some(a), Some(b)) => a.id == b.id && a.user == b.user && a.secret.expose() == b.secret.expose(),
        _ => false,
    };
    if !same_client {
        let value = new.generated_client.as_ref().map(|client| json("meta", META_CLIENT, client)).transpose()?;
        ops.push(Op::Meta { key: META_CLIENT, value });
    }
    Ok(ops)
}

fn policy_changes(ops: &mut Vec<Op>, dataset: &str, before: &[Policy], after: &[Policy]) -> Result<(), DbError> {
    for policy in after {
        if policy.id.is_none() {
            return Err(DbError::PolicyWithoutId { dataset: dataset.to_owned(), name: policy.name.clone() });
        }
    }
    let key = |p: &Policy| p.id.map_or(0, |id| id.0);
    let policies = diff(before, after, key, |a, b| a == b);
    apply(ops, &Table::POLICIES, Some(dataset), &policies, after, |p| json("policies", &key(p).to_string(), p))
}

/// A DataSet row: the DataSet without its policies (they have their own table) and its row files.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DatasetRow {
    dataset: Dataset,
    #[serde(default)]
    segments: Vec<String>,
}

/// A copy of the DataSet's fields but its policies, which are not cloned.
fn without_policies(dataset: &Dataset) -> Dataset {
    // Listed in full, so that a field added to `Dataset` is a compile error here, not a field lost.
    let Dataset {
        id,
        name,
        description,
        rows,
        columns,
        schema,
        owner,
        created_at,
        updated_at,
        data_current_at,
        pdp_enabled,
        policies: _,
    } = dataset;
    Dataset {
        id: id.clone(),
        name: name.clone(),
        description: description.clone(),
        rows: *rows,
        columns: *columns,
        schema: schema.clone(),
        owner: owner.clone(),
        created_at: *created_at,
        updated_at: *updated_at,
        data_current_at: *data_current_at,
        pdp_enabled: *pdp_enabled,
        policies: None,
    }
}

/// A table of `(seq, id, body)` rows, maybe scoped by a DataSet.
#[derive(Debug)]
pub(crate) struct Table {
    name: &'static str,
    scope: Option<&'static str>,
}

impl Table {
    const DATASETS: Self = Self { name: "datasets", scope: None };
    const POLICIES: Self = Self { name: "policies", scope: Some("dataset_id") };
    const USERS: Self = Self { name: "users", scope: None };
    const GROUPS: Self = Self { name: "user_groups", scope: None };
    const STREAMS: Self = Self { name: "streams", scope: None };
    const TOMBSTONES: Self = Self { name: "tombstones", scope: None };
}

/// What changed between two lists of rows.
pub(crate) struct Diff<'a, T, K> {
    pub(crate) changes: Vec<Change<'a, T, K>>,
    /// Rows kept by both lists but in another order: the table is rewritten in the new order.
    pub(crate) reordered: bool,
}

pub(crate) enum Change<'a, T, K> {
    Upsert { old: Option<&'a T>, new: &'a T },
    Remove(K),
}

/// Compares two lists keyed by `key` (`same` rows have the same key): rows at
/// the same place that are `same` cost one comparison, so a push, an edit or a removal in a long list finds
/// its one change without hashing the rest.
pub(crate) fn diff<'a, T, K: Eq + Hash + Clone>(
    old: &'a [T],
    new: &'a [T],
    key: impl Fn(&T) -> K,
    same: impl Fn(&T, &T) -> bool,
) -> Diff<'a, T, K> {
    // `same` rows have the same key: the ends of the lists are compared without computing keys.
    let unchanged = |a: &T, b: &T| same(a, b);
    let prefix = old.iter().zip(new).take_while(|(a, b)| unchanged(a, b)).count();
    let (old_rest, new_rest) = (old.get(prefix..).unwrap_or_default(), new.get(prefix..).unwrap_or_default());
    let suffix = old_rest.iter().rev().zip(new_rest.iter().rev()).take_while(|(a, b)| unchanged(a, b)).count();
    let old_mid = old_rest.get(..old_rest.len() - suffix).unwrap_or_default();
    let new_mid = new_rest.get(..new_rest.len() - suffix).unwrap_or_default();
    let before: HashMap<K, &T> = old_mid.iter().map(|item| (key(item), item)).collect();
    let after: HashSet<K> = new_mid.iter().map(&key).collect();
    let mut changes = Vec::new();
    for item in new_mid {
        match before.get(&key(item)) {
            Some(previous) if same(previous, item) => {}
            previous => changes.push(Change::Upsert { old: previous.copied(), new: item }),
        }
    }
    for item in old_mid {
        let k = key(item);
        if !after.contains(&k) {
            changes.push(Change::Remove(k));
        }
    }
    let kept_old: Vec<K> = old_mid.iter().map(&key).filter(|k| after.contains(k)).collect();
    let kept_new: Vec<K> = new_mid.iter().map(&key).filter(|k| before.contains_key(k)).collect();
    Diff { changes, reordered: kept_old != kept_new }
}

/// Writes a diff: removed rows deleted, changed and new rows upserted (a
/// changed row keeps its place), or the whole table rewritten when rows moved.
fn apply<T: KeyOf<K>, K: ToKey>(
    ops: &mut Vec<Op>,
    table: &'static Table,
    scope: Option<&str>,
    diff: &Diff<'_, T, K>,
    all: &[T],
    body: impl Fn(&T) -> Result<String, DbError>,
) -> Result<(), DbError> {
    let scope = scope.map(str::to_owned);
    let upsert = |ops: &mut Vec<Op>, item: &T| -> Result<(), DbError> {
        ops.push(Op::Upsert { table, key: item.key_of().to_key()?, scope: scope.clone(), body: body(item)? });
        Ok(())
    };
    if diff.reordered {
        ops.push(Op::Clear { table, scope: scope.clone() });
        for item in all {
            upsert(ops, item)?;
        }
        return Ok(());
    }
    for change in &diff.changes {
        match change {
            Change::Upsert { new, .. } => upsert(ops, new)?,
            Change::Remove(key) => ops.push(Op::Remove { table, key: key.to_key()?, scope: scope.clone() }),
        }
    }
    Ok(())
}

/// A row's key as SQLite stores it.
#[derive(Debug)]
pub(crate) enum Key {
    Text(String),
    Integer(i64),
}

impl ToSql for Key {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Self::Text(text) => text.to_sql(),
            Self::Integer(n) => n.to_sql(),
        }
    }
}

trait ToKey {
    fn to_key(&self) -> Result<Key, DbError>;
}

impl ToKey for String {
    fn to_key(&self) -> Result<Key, DbError> {
        Ok(Key::Text(self.clone()))
    }
}

impl ToKey for u64 {
    fn to_key(&self) -> Result<Key, DbError> {
        i64::try_from(*self).map(Key::Integer).map_err(|_| DbError::IdTooLarge(*self))
    }
}

/// The key of a row, as [`diff`] was given it.
trait KeyOf<K> {
    fn key_of(&self) -> K;
}

impl KeyOf<String> for Arc<StoredDataset> {
    fn key_of(&self) -> String {
        self.dataset.id.as_str().to_owned()
    }
}

impl KeyOf<String> for Arc<Tombstone> {
    fn key_of(&self) -> String {
        self.id.as_str().to_owned()
    }
}

impl KeyOf<u64> for Arc<StoredStream> {
    fn key_of(&self) -> u64 {
        self.id.get()
    }
}

impl KeyOf<u64> for Policy {
    fn key_of(&self) -> u64 {
        self.id.map_or(0, |id| id.0)
    }
}

impl KeyOf<u64> for User {
    fn key_of(&self) -> u64 {
        self.id.get()
    }
}

impl KeyOf<u64> for DirectoryGroup {
    fn key_of(&self) -> u64 {
        self.id.get()
    }
}

fn json<T: Serialize + ?Sized>(table: &'static str, key: &str, value: &T) -> Result<String, DbError> {
    serde_json::to_string(value).map_err(|source| DbError::Json { table, key: key.to_owned(), source })
}

fn parse<T: for<'de> Deserialize<'de>>(table: &'static str, key: &str, body: &str) -> Result<T, DbError> {
    serde_json::from_str(body).map_err(|source| DbError::Json { table, key: key.to_owned(), source })
}

fn rows(conn: &Connection, sql: &str) -> Result<Vec<(String, String)>, DbError> {
    let mut statement = conn.prepare(sql)?;
    let rows = statement.query_map([], |row| {
        let key: rusqlite::types::Value = row.get(0)?;
        let key = match key {
            rusqlite::types::Value::Integer(n) => n.to_string(),
            rusqlite::types::Value::Text(text) => text,
            other => format!("{other:?}"),
        };
        Ok((key, row.get::<_, String>(1)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn get_meta(conn: &Connection, key: &str) -> Result<Option<String>, DbError> {
    Ok(conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| row.get(0)).optional()?)
}

fn meta_json<T: for<'de> Deserialize<'de>>(conn: &Connection, key: &'static str) -> Result<Option<T>, DbError> {
    get_meta(conn, key)?.map(|value| parse("meta", key, &value)).transpose()
}
