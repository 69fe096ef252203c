//! DuckDB's typed load of the same file (`CREATE TABLE … AS SELECT * FROM read_csv(…)` with the schema's types), timed inside Python: the reference of issue 14's 10M-row goal.

use std::path::{Path, PathBuf};
use std::process::Command;

use domo_model::{ColumnType, Schema};

use crate::Result;
use crate::watch;

/// The Python to run DuckDB with: the CI virtual environment's if present, else `python3`.
pub(crate) fn python(target: &Path) -> PathBuf {
    let venv = target.join("ci-venv").join("bin").join("python");
    if venv.exists() { venv } else { PathBuf::from("python3") }
}

/// DuckDB's type for a column. The generated DECIMAL cells have two decimals;
/// a DATETIME cell's `Z` is read as UTC.
fn duckdb_type(column_type: ColumnType) -> &'static str {
    match column_type {
        ColumnType::String => "VARCHAR",
        ColumnType::Long => "BIGINT",
        ColumnType::Decimal => "DECIMAL(18,2)",
        ColumnType::Double => "DOUBLE",
        ColumnType::Date => "DATE",
        ColumnType::Datetime => "TIMESTAMP",
    }
}

/// `'name': 'TYPE', …`, the `columns` argument of `read_csv`.
fn columns(schema: &Schema) -> String {
    let quote = |s: &str| s.replace('\'', "''");
    schema
        .columns
        .iter()
        .map(|c| format!("'{}': '{}'", quote(&c.name), duckdb_type(c.column_type)))
        .collect::<Vec<_>>()
        .join(", ")
}

const SCRIPT: &str = r#"
import sys, time
try:
    import duckdb
except ImportError:
    print("missing=duckdb")
    sys.exit(0)
path, columns, runs, memory_limit, temp = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
con = duckdb.connect()
con.execute(f"SET memory_limit = '{memory_limit}'")
con.execute(f"SET temp_directory = '{temp}'")
sql = ("CREATE OR REPLACE TABLE t AS SELECT * FROM read_csv('" + path.replace("'", "''") + "', header = true, "
       "delim = ',', quote = '\"', escape = '\"', auto_detect = false, columns = {" + columns + "})")
best = float("inf")
for _ in range(runs):
    started = time.perf_counter()
    con.execute(sql)
    best = min(best, time.perf_counter() - started)
rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
print(f"seconds={best} rows={rows} threads={threads} version={duckdb.__version__}")
"#;

/// What DuckDB's load took.
#[derive(Debug, Clone)]
pub(crate) struct Load {
    pub(crate) seconds: f64,
    pub(crate) threads: String,
    pub(crate) version: String,
    /// The Python process's largest resident memory seen (polled every 20 ms), in bytes.
    pub(crate) peak_bytes: u64,
}

/// Why there is no DuckDB time.
#[derive(Debug, Clone)]
pub(crate) enum Missing {
    /// No Python or no `duckdb` package: nothing to compare with.
    NotInstalled(String),
    /// The load failed or passed the memory cap.
    Failed(String),
}

/// Times DuckDB's typed load of `csv` (`rows` rows), best of `runs`, under a memory cap of `cap` bytes.
pub(crate) fn load(
    python: &Path,
    csv: &Path,
    schema: &Schema,
    rows: u64,
    runs: u32,
    cap: u64,
) -> Result<std::result::Result<Load, Missing>> {
    let temp = csv.with_extension("duckdb-tmp");
    let mut command = Command::new(python);
    command
        .arg("-c")
        .arg(SCRIPT)
        .arg(csv)
        .arg(columns(schema))
        .arg(runs.max(1).to_string())
        // DuckDB stays under the cap by itself, spilling to disk; the watch is the backstop.
        .arg(format!("{}MiB", cap / 2 / (1 << 20)))
        .arg(&temp);
    let watched = match watch::run(command, cap) {
        Ok(watched) => watched,
        Err(e) => return Ok(Err(Missing::NotInstalled(e.to_string()))),
    };
    let _ = std::fs::remove_dir_all(&temp);
    if watched.stdout.trim() == "missing=duckdb" {
        return Ok(Err(Missing::NotInstalled(format!("no `duckdb` package for `{}`", python.display()))));
    }
    if let Some(rss) = watched.stopped_at {
        return Ok(Err(Missing::Failed(format!("stopped at {:.0} MB, over the memory cap", rss as f64 / 1e6))));
    }
    if !watched.status.success() {
        let last = watched.stderr.lines().last().unwrap_or_default().to_owned();
        return Ok(Err(Missing::Failed(format!("the load failed: {last}"))));
    }
    let field = |key: &str| {
        watched.stdout.split_whitespace().find_map(|pair| pair.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
    };
    let loaded: u64 = field("rows").ok_or("DuckDB printed no row count")?.parse()?;
    if loaded != rows {
        return Ok(Err(Missing::Failed(format!("DuckDB loaded {loaded} rows, not {rows}"))));
    }
    Ok(Ok(Load {
        seconds: field("seconds").ok_or("DuckDB printed no time")?.parse()?,
        threads: field("threads").unwrap_or("?").to_owned(),
        version: field("version").unwrap_or("?").to_owned(),
        peak_bytes: watched.max_rss,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_is_read_with_its_schemas_type() {
        assert_eq!(
            columns(&domo_benches::Workload::schema()),
            "'order_id': 'BIGINT', 'salesperson': 'VARCHAR', 'region': 'VARCHAR', 'country': 'VARCHAR', \
             'product': 'VARCHAR', 'amount': 'DECIMAL(18,2)', 'discount': 'DOUBLE', 'order_date': 'DATE', \
             'updated_at': 'TIMESTAMP'"
        );
    }
}
