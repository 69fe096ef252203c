//! `POST /v1/datasets/query/execute/{id}`: SQL over the rows the caller may see, on an in-memory SQLite.
//!
//! Only the caller's visible rows (PDP applied exactly as for the export) are loaded, into a table
//! called `table`; one read-only `SELECT`/`WITH`/`VALUES` statement runs, under a time and a row
//! limit. Bad SQL is a 400 in Domo's shape. `docs/sql-query.md` says why SQLite.

use std::io::{self, Read as _};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use axum::Extension;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use domo_model::{ColumnType, Dataset, DatasetId, QueryColumnMetadata, QueryRequest, QueryResponse};
use rusqlite::types::ValueRef;
use serde_json::Value;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::pdp::Visibility;
use crate::routes::datasets::open_visible;
use crate::routes::strict::read_strict;
use crate::state::App;
use crate::store::Concat;

/// The most rows a query may answer; past it the query is refused, never cut silently.
pub(crate) const MAX_RESULT_ROWS: usize = 100_000;
/// The longest a query may run.
pub(crate) const TIME_LIMIT: Duration = Duration::from_secs(10);
/// The most bytes of visible rows loaded into the query engine.
pub(crate) const MAX_SOURCE_BYTES: usize = 256 * 1024 * 1024;

pub(crate) async fn execute(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<QueryResponse>, ApiError> {
    let (dataset, files, visibility) = open_visible(&app, &id, caller.user)?;
    let (request, _): (QueryRequest, _) = read_strict(&app, body, "query").await?;
    let answer = tokio::task::spawn_blocking(move || {
        let mut visible = Vec::new();
        let rows = Concat::new(files);
        let copied = match visibility {
            Visibility::All => rows.take(MAX_SOURCE_BYTES as u64 + 1).read_to_end(&mut visible).map(|_| ()),
            Visibility::Filtered(filter) => filter.write_visible(rows, &mut Limited(&mut visible)),
        };
        copied.map_err(|err| match err.kind() {
            io::ErrorKind::FileTooLarge => too_large(),
            _ => ApiError::internal("cannot read the DataSet", &err),
        })?;
        if visible.len() > MAX_SOURCE_BYTES {
            return Err(too_large());
        }
        run(&dataset, &visible, &request.sql)
    })
    .await
    .map_err(|err| ApiError::internal("the query failed", &err))??;
    Ok(Json(answer))
}

fn too_large() -> ApiError {
    ApiError::bad_request(format!(
        "This DataSet's rows are too large to query here (more than {} MiB); export them instead",
        MAX_SOURCE_BYTES / (1024 * 1024)
    ))
}

/// A writer that refuses to grow past [`MAX_SOURCE_BYTES`].
struct Limited<'a>(&'a mut Vec<u8>);

impl io::Write for Limited<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.0.len() + buf.len() > MAX_SOURCE_BYTES {
            return Err(io::Error::new(io::ErrorKind::FileTooLarge, "too large"));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn bad_sql(message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("Invalid SQL: {message}"))
}

/// The declared type of a column in SQLite: its affinity first (`TEXT`, `INTEGER`, `REAL`), then
/// Domo's type, read back for the answer's `metadata`.
fn declared(column_type: ColumnType) -> &'static str {
    match column_type {
        ColumnType::String => "TEXT_STRING",
        ColumnType::Long => "INTEGER_LONG",
        ColumnType::Double => "REAL_DOUBLE",
        ColumnType::Decimal => "REAL_DECIMAL",
        ColumnType::Date => "TEXT_DATE",
        ColumnType::Datetime => "TEXT_DATETIME",
    }
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Loads the visible rows and runs the query.
fn run(dataset: &Dataset, csv: &[u8], sql: &str) -> Result<QueryResponse, ApiError> {
    let internal = |err: rusqlite::Error| ApiError::internal("the query engine failed", &err);
    let mut conn = rusqlite::Connection::open_in_memory().map_err(internal)?;
    let columns = &dataset.schema.columns;
    let definition: Vec<String> =
        columns.iter().map(|c| format!("{} {}", quoted(&c.name), declared(c.column_type))).collect();
    conn.execute_batch(&format!("CREATE TABLE \"table\" ({})", definition.join(", "))).map_err(internal)?;
    {
        let tx = conn.transaction().map_err(internal)?;
        {
            let marks = vec!["?"; columns.len()].join(", ");
            let mut insert = tx.prepare(&format!("INSERT INTO \"table\" VALUES ({marks})")).map_err(internal)?;
            for record in Records::new(csv) {
                let values: Vec<rusqlite::types::Value> = columns
                    .iter()
                    .zip(record.iter().map(Some).chain(std::iter::repeat(None)))
                    .map(|(column, field)| typed(column.column_type, field.and_then(Option::as_deref)))
                    .collect();
                insert.execute(rusqlite::params_from_iter(values)).map_err(internal)?;
            }
        }
        tx.commit().map_err(internal)?;
    }
    conn.execute_batch("PRAGMA query_only = 1").map_err(internal)?;

    let sql = quote_table_word(sql);
    if !starts_with_query_keyword(&sql) {
        return Err(bad_sql("only one SELECT (or WITH … SELECT) statement is allowed"));
    }
    if more_than_one_statement(&sql) {
        return Err(bad_sql("only one SELECT (or WITH … SELECT) statement is allowed"));
    }
    let mut statement = conn.prepare(&sql).map_err(bad_sql)?;
    if !statement.readonly() {
        return Err(bad_sql("only one SELECT (or WITH … SELECT) statement is allowed"));
    }
    let names: Vec<String> = statement.column_names().into_iter().map(str::to_owned).collect();
    let declared_types: Vec<Option<String>> =
        statement.columns().iter().map(|c| c.decl_type().map(str::to_owned)).collect();

    // A watchdog interrupts the query when the time is up.
    let interrupt = conn.get_interrupt_handle();
    let (done, stop) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(TIME_LIMIT) {
            interrupt.interrupt();
        }
    });
    let collected = collect(&mut statement, names.len());
    let _ = done.send(());
    let _ = watchdog.join();
    let rows = collected.map_err(|err| match err {
        Collect::TooMany => {
            bad_sql(format!("the query answers more than {MAX_RESULT_ROWS} rows; add a LIMIT or aggregate"))
        }
        Collect::Sql(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::OperationInterrupted => {
            bad_sql(format!("the query ran longer than {} seconds", TIME_LIMIT.as_secs()))
        }
        Collect::Sql(err) => bad_sql(err),
    })?;

    let source = DatasetId::from(dataset.id.as_str());
    let metadata = (0..names.len())
        .map(|i| QueryColumnMetadata {
            column_type: Some(result_type(declared_types.get(i).cloned().flatten().as_deref(), &rows, i).to_owned()),
            data_source_id: Some(source.clone()),
            max_length: Some(-1),
            min_length: Some(-1),
            period_index: Some(0),
            aggregated: None,
        })
        .collect();
    Ok(QueryResponse {
        datasource: source,
        num_rows: rows.len() as u64,
        num_columns: names.len() as u64,
        columns: names,
        metadata,
        rows,
        fromcache: false,
    })
}

enum Collect {
    TooMany,
    Sql(rusqlite::Error),
}

fn collect(statement: &mut rusqlite::Statement<'_>, width: usize) -> Result<Vec<Vec<Value>>, Collect> {
    let mut rows = statement.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(Collect::Sql)? {
        if out.len() == MAX_RESULT_ROWS {
            return Err(Collect::TooMany);
        }
        let mut values = Vec::with_capacity(width);
        for i in 0..width {
            values.push(json_value(row.get_ref(i).map_err(Collect::Sql)?));
        }
        out.push(values);
    }
    Ok(out)
}

fn json_value(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        ValueRef::Text(t) | ValueRef::Blob(t) => Value::from(String::from_utf8_lossy(t).into_owned()),
    }
}

/// Domo's type of a result column: the DataSet column's when the result is one, else by its values.
fn result_type(declared: Option<&str>, rows: &[Vec<Value>], column: usize) -> &'static str {
    if let Some(domo) = declared.and_then(|d| d.split_once('_')).map(|(_, domo)| domo) {
        return match domo {
            "LONG" => "LONG",
            "DOUBLE" => "DOUBLE",
            "DECIMAL" => "DECIMAL",
            "DATE" => "DATE",
            "DATETIME" => "DATETIME",
            _ => "STRING",
        };
    }
    match rows.iter().filter_map(|r| r.get(column)).find(|v| !v.is_null()) {
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => "LONG",
        Some(Value::Number(_)) => "DOUBLE",
        _ => "STRING",
    }
}

/// A CSV field as SQLite stores it: an unquoted empty field is NULL, numbers are numbers.
fn typed(column_type: ColumnType, field: Option<&str>) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    let Some(text) = field else { return V::Null };
    match column_type {
        ColumnType::Long => text.trim().parse::<i64>().map_or_else(|_| V::Text(text.to_owned()), V::Integer),
        ColumnType::Double | ColumnType::Decimal => {
            text.trim().parse::<f64>().map_or_else(|_| V::Text(text.to_owned()), V::Real)
        }
        _ => V::Text(text.to_owned()),
    }
}

/// Whether the statement starts (after spaces and comments) with `SELECT`, `WITH` or `VALUES`.
fn starts_with_query_keyword(sql: &str) -> bool {
    let mut rest = sql.trim_start();
    loop {
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r).trim_start();
        } else {
            break;
        }
    }
    let word: String = rest.chars().take_while(|c| c.is_ascii_alphabetic()).collect::<String>().to_ascii_uppercase();
    matches!(word.as_str(), "SELECT" | "WITH" | "VALUES")
}

/// Whether a `;` outside strings, quoted names and comments is followed by anything but spaces,
/// comments and more `;` (SQLite would silently run only the first statement).
fn more_than_one_statement(sql: &str) -> bool {
    let mut code = String::new();
    scan(sql, |piece| {
        if let Piece::Code(text) = piece {
            code.push_str(text);
        } else if let Piece::Quoted = piece {
            code.push('x');
        }
    });
    let code = code.trim_end().trim_end_matches(|c: char| c == ';' || c.is_whitespace());
    code.contains(';')
}

/// A piece of SQL text, as [`scan`] cuts it.
enum Piece<'a> {
    /// Anything outside strings, quoted names and comments.
    Code(&'a str),
    /// A string or a quoted name.
    Quoted,
    /// A comment.
    Comment,
}

/// Cuts SQL into code, quoted text and comments.
fn scan<'a>(sql: &'a str, mut each: impl FnMut(Piece<'a>)) {
    let mut rest = sql;
    while !rest.is_empty() {
        let next = rest.find(['\'', '"', '`', '[', '-', '/']).unwrap_or(rest.len());
        let (code, tail) = rest.split_at(next);
        if !code.is_empty() {
            each(Piece::Code(code));
        }
        rest = tail;
        let Some(first) = rest.chars().next() else { break };
        let end = match first {
            '\'' | '"' | '`' | '[' => {
                let close = if first == '[' { ']' } else { first };
                rest.get(1..).and_then(|r| r.find(close)).map_or(rest.len(), |i| i + 2)
            }
            '-' if rest.starts_with("--") => rest.find('\n').map_or(rest.len(), |i| i + 1),
            '/' if rest.starts_with("/*") => rest.get(2..).and_then(|r| r.find("*/")).map_or(rest.len(), |i| i + 4),
            _ => {
                each(Piece::Code(rest.get(..1).unwrap_or_default()));
                rest = rest.get(1..).unwrap_or_default();
                continue;
            }
        };
        let tail = rest.get(end.min(rest.len())..).unwrap_or_default();
        each(if first == '-' || first == '/' { Piece::Comment } else { Piece::Quoted });
        rest = tail;
    }
}

/// Domo's SQL names the DataSet `table`, a reserved word in SQLite: every bare `table` outside
/// strings, quoted names and comments becomes `"table"`.
fn quote_table_word(sql: &str) -> String {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len() + 8);
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let closing = match c {
            '\'' => Some('\''),
            '"' => Some('"'),
            '`' => Some('`'),
            '[' => Some(']'),
            _ => None,
        };
        if let Some(close) = closing {
            out.push(c);
            i += 1;
            while let Some(&d) = chars.get(i) {
                out.push(d);
                i += 1;
                if d == close {
                    break;
                }
            }
        } else if c == '-' && chars.get(i + 1) == Some(&'-') {
            while let Some(&d) = chars.get(i) {
                out.push(d);
                i += 1;
                if d == '\n' {
                    break;
                }
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            out.push_str("/*");
            i += 2;
            while let Some(&d) = chars.get(i) {
                out.push(d);
                i += 1;
                if d == '/' && out.ends_with("*/") && out.len() > 3 {
                    break;
                }
            }
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while chars.get(i).is_some_and(|d| d.is_alphanumeric() || *d == '_' || *d == '$') {
                i += 1;
            }
            let word: String = chars.get(start..i).unwrap_or_default().iter().collect();
            if word.eq_ignore_ascii_case("table") {
                out.push_str("\"table\"");
            } else {
                out.push_str(&word);
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Header-less CSV records whose fields keep the difference between an unquoted empty field
/// (`None`, NULL) and a quoted one (`Some("")`, the empty string).
struct Records<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Records<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }
}

impl Iterator for Records<'_> {
    type Item = Vec<Option<String>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.bytes.len() {
            return None;
        }
        let mut fields = Vec::new();
        let mut field = Vec::new();
        let mut quoted = false;
        let mut in_quotes = false;
        let finish = |field: &mut Vec<u8>, quoted: bool| -> Option<String> {
            let text = String::from_utf8_lossy(field).into_owned();
            field.clear();
            if text.is_empty() && !quoted { None } else { Some(text) }
        };
        while let Some(&b) = self.bytes.get(self.at) {
            self.at += 1;
            if in_quotes {
                if b == b'"' {
                    if self.bytes.get(self.at) == Some(&b'"') {
                        field.push(b'"');
                        self.at += 1;
                    } else {
                        in_quotes = false;
                    }
                } else {
                    field.push(b);
                }
                continue;
            }
            match b {
                b'"' => {
                    in_quotes = true;
                    quoted = true;
                }
                b',' => {
                    fields.push(finish(&mut field, quoted));
                    quoted = false;
                }
                b'\r' if self.bytes.get(self.at) == Some(&b'\n') => {}
                b'\n' => {
                    fields.push(finish(&mut field, quoted));
                    return Some(fields);
                }
                _ => field.push(b),
            }
        }
        fields.push(finish(&mut field, quoted));
        Some(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_table_words_are_quoted_and_nothing_else() {
        let cases = [
            ("SELECT * FROM table", "SELECT * FROM \"table\""),
            ("select sum(x) from TABLE where y = 'table'", "select sum(x) from \"table\" where y = 'table'"),
            ("SELECT \"table\" FROM table -- table\n", "SELECT \"table\" FROM \"table\" -- table\n"),
            ("SELECT tables FROM table_x", "SELECT tables FROM table_x"),
        ];
        for (sql, expected) in cases {
            assert_eq!(quote_table_word(sql), expected, "{sql}");
        }
    }

    #[test]
    fn records_keep_null_apart_from_the_empty_string() {
        let records: Vec<_> = Records::new(b"a,,\"\"\n\"x,\"\"y\"\"\nz\",2\n").collect();
        assert_eq!(
            records,
            [vec![Some("a".into()), None, Some(String::new())], vec![Some("x,\"y\"\nz".into()), Some("2".into())]]
        );
    }

    #[test]
    fn a_second_statement_is_seen_outside_strings_and_comments() {
        for one in ["SELECT 1", "SELECT 1;", "SELECT ';' ; ", "SELECT 1 -- ; x\n", "SELECT \"a;b\" FROM t /* ; */;"] {
            assert!(!more_than_one_statement(one), "{one}");
        }
        for two in ["SELECT 1; DELETE FROM t", "SELECT 1;;SELECT 2", "SELECT ';'; x"] {
            assert!(more_than_one_statement(two), "{two}");
        }
    }

    #[test]
    fn only_queries_pass_the_first_keyword_check() {
        for ok in ["SELECT 1", "  with x as (select 1) select * from x", "/* c */ -- d\nVALUES (1)"] {
            assert!(starts_with_query_keyword(ok), "{ok}");
        }
        for bad in ["ATTACH 'x' AS y", "PRAGMA query_only = 0", "DELETE FROM table", ""] {
            assert!(!starts_with_query_keyword(bad), "{bad}");
        }
    }
}
