//! Loading a DataSet's CSV into the typed table, per dialect, exactly as the engine reads it.
//!
//! The engine reads an unquoted empty field as NULL and `""` as the empty
//! string, a DATETIME without an offset as UTC, and DECIMAL exactly. Each
//! dialect's loader has its own defaults that differ (Spark turns `""` into
//! NULL and reads timestamps in the session time zone, DuckDB's `read_csv`
//! turns `""` into NULL, PostgreSQL and Snowflake drop the offset of a
//! timestamp read into a column without time zone): the statements here set
//! every option that matters and read every cell as text into a staging table
//! or view, then cast it into the typed table with the offset applied, so that
//! nothing depends on the session's time zone.

use domo_model::{ColumnType, Schema};

use super::{Dialect, RenderSqlError, SqlOptions, Writer, sql_create_table};
use crate::HeaderRow;

/// The text Spark's CSV reader is told stands for NULL (`nullValue`).
///
/// Spark reads an unquoted empty field as its `nullValue` and `""` as its
/// `emptyValue`, then turns any cell equal to `nullValue` into NULL; with the
/// default `nullValue` (the empty string) `""` becomes NULL too. A cell holding
/// exactly this text is read as NULL, which never passes a filter: fewer rows,
/// never more.
pub const SPARK_NULL_SENTINEL: &str = "\u{1}domo-pdp-null\u{1}";

/// The CSV file to load, as the warehouse names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvSource<'a> {
    /// Where the warehouse reads the file: a local path (DuckDB, Spark, PostgreSQL's
    /// server, Snowflake's `PUT`), a `gs://` URI (BigQuery), the folder of Parquet
    /// files in object storage (Trino's Hive table).
    pub path: &'a str,
    /// Whether the file starts with a header row (Domo's export does; its import does not).
    pub header: HeaderRow,
}

/// The statements that create the typed table of [`sql_create_table`] and load
/// the CSV into it, in order, without a closing `;`; an item starting with `--`
/// is a comment line for the person who runs them.
///
/// Every cell is read as text (an unquoted empty field as NULL, `""` as the
/// empty string) and cast into its column: DATETIME with its offset applied
/// (no offset means UTC), DECIMAL exactly. A cell that does not fit its type
/// stops the load with the warehouse's error. Trino cannot load a CSV file: its
/// statements say so and define a Hive table over Parquet files written by the
/// DuckDB load. `docs/sql.md` lists each dialect's traps.
///
/// # Errors
///
/// A NUL character in a name or the path, an empty table name, options out of range.
pub fn sql_load(
    schema: &Schema,
    table: &[&str],
    source: &CsvSource<'_>,
    options: &SqlOptions,
) -> Result<Vec<String>, RenderSqlError> {
    let w = Writer::new(options)?;
    let target = w.table(table)?;
    let last = table.last().copied().unwrap_or_default();
    let staging = w.ident(&format!("{last}__csv"), "table name")?;
    w.no_nul(source.path, "path")?;
    let path = w.string(source.path)?;
    let header = source.header == HeaderRow::Present;
    let create = sql_create_table(schema, table, options)?;
    let text_columns = |ty: &str| -> Vec<String> {
        (0..schema.columns.len()).map(|i| format!("{} {ty}", staging_column(&w, i))).collect()
    };
    let mut casts = Vec::with_capacity(schema.columns.len());
    for (i, column) in schema.columns.iter().enumerate() {
        casts.push(w.load_cast(&staging_column(&w, i), column.column_type));
    }
    let insert = |from: &str| format!("INSERT INTO {target}\nSELECT\n  {}\nFROM {from}", casts.join(",\n  "));
    let mut statements = vec![create];
    match options.dialect {
        Dialect::DuckDb => {
            let columns: Vec<String> = (0..schema.columns.len()).map(|i| format!("'c{i}': 'VARCHAR'")).collect();
            statements.push(insert(&format!(
                "read_csv({path}, header = {header}, delim = ',', quote = '\"', escape = '\"', allow_quoted_nulls = false, auto_detect = false, strict_mode = true, columns = {{{}}})",
                columns.join(", ")
            )));
        }
        Dialect::PostgreSql => {
            statements.push(format!("CREATE TEMPORARY TABLE {staging} ({})", text_columns("TEXT").join(", ")));
            statements.push(format!(
                "COPY {staging} FROM {path} WITH (FORMAT csv, HEADER {header}, DELIMITER ',', QUOTE '\"', ESCAPE '\"', ENCODING 'UTF8')"
            ));
            statements.push(insert(&staging));
            statements.push(format!("DROP TABLE {staging}"));
        }
        Dialect::SparkSql => {
            let null = w.string(SPARK_NULL_SENTINEL)?;
            statements.push(format!(
                "CREATE TEMPORARY VIEW {staging} ({})\nUSING csv\nOPTIONS (path {path}, header '{header}', sep ',', quote '\"', escape '\"', multiLine 'true', nullValue {null}, emptyValue '', ignoreLeadingWhiteSpace 'false', ignoreTrailingWhiteSpace 'false', mode 'FAILFAST', encoding 'UTF-8', timeZone 'UTC')",
                text_columns("STRING").join(", ")
            ));
            statements.push(insert(&staging));
            statements.push(format!("DROP VIEW {staging}"));
        }
        Dialect::Snowflake => {
            let format = w.ident(&format!("{last}__csv_format"), "table name")?;
            let put_path = w.string(&format!("file://{}", source.path))?;
            statements.push(format!("CREATE TEMPORARY TABLE {staging} ({})", text_columns("VARCHAR").join(", ")));
            statements.push(format!(
                "CREATE TEMPORARY FILE FORMAT {format} TYPE = CSV FIELD_DELIMITER = ',' SKIP_HEADER = {} FIELD_OPTIONALLY_ENCLOSED_BY = '\"' ESCAPE = NONE ESCAPE_UNENCLOSED_FIELD = NONE EMPTY_FIELD_AS_NULL = TRUE NULL_IF = () TRIM_SPACE = FALSE ENCODING = 'UTF8' ERROR_ON_COLUMN_COUNT_MISMATCH = TRUE",
                u8::from(header)
            ));
            statements.push("-- PUT runs in SnowSQL or a Snowflake driver, not in a worksheet.".to_owned());
            statements.push(format!("PUT {put_path} @%{staging} AUTO_COMPRESS = TRUE"));
            statements.push(format!(
                "COPY INTO {staging} FROM @%{staging} FILE_FORMAT = (FORMAT_NAME = {format}) ON_ERROR = ABORT_STATEMENT PURGE = TRUE"
            ));
            statements.push(insert(&staging));
            statements.push(format!("DROP TABLE {staging}"));
        }
        Dialect::BigQuery => {
            statements.push(format!(
                "LOAD DATA INTO TEMP TABLE {staging} ({})\nFROM FILES (format = 'CSV', uris = [{path}], skip_leading_rows = {}, field_delimiter = ',', quote = '\"', allow_quoted_newlines = true, encoding = 'UTF-8', preserve_ascii_control_characters = true)",
                text_columns("STRING").join(", "),
                u8::from(header)
            ));
            statements.push(insert(&staging));
        }
        Dialect::Trino => {
            statements = trino_load(schema, table, &path, options)?;
        }
    }
    Ok(statements)
}

/// Trino has no statement that reads a local file, and the Hive connector's CSV
/// format reads every column as VARCHAR with no NULL: an unquoted empty field and
/// `""` both become the empty string. So the CSV is converted to Parquet by the
/// DuckDB load, and the Hive table reads that, typed.
fn trino_load(
    schema: &Schema,
    table: &[&str],
    path: &str,
    options: &SqlOptions,
) -> Result<Vec<String>, RenderSqlError> {
    let create = sql_create_table(schema, table, options)?;
    let body = create.strip_prefix("CREATE TABLE ").unwrap_or(&create);
    Ok(vec![
        "-- Trino cannot load a CSV file itself, and the Hive connector's CSV format reads every".to_owned(),
        "-- column as VARCHAR and both an unquoted empty field and \"\" as the empty string.".to_owned(),
        "-- Load the CSV with `domo pdp sql --load CSV --dialect duckdb`, write it as Parquet".to_owned(),
        "-- (DuckDB: COPY \"data\" TO 'data.parquet' (FORMAT parquet)), put that file alone in".to_owned(),
        "-- a folder the Hive catalog reads, and give that folder as --load. Set the catalog's".to_owned(),
        "-- hive.timestamp-precision to MICROSECONDS (the default, MILLISECONDS, cuts DATETIMEs).".to_owned(),
        format!("CREATE TABLE {body}\nWITH (format = 'PARQUET', external_location = {path})"),
    ])
}

/// The staging column of the `i`-th CSV field: `c0`, `c1`, … (the DataSet's names stay on the typed table).
fn staging_column(w: &Writer<'_>, i: usize) -> String {
    match w.dialect() {
        Dialect::SparkSql | Dialect::BigQuery => format!("`c{i}`"),
        _ => format!("\"c{i}\""),
    }
}

/// Matches a DATETIME's trailing zone: `Z` or `±HH:MM`.
const ZONE_PATTERN: &str = "(Z|[+-][0-9][0-9]:[0-9][0-9])$";

impl Writer<'_> {
    /// The cast of one text cell into its column's type, as the engine reads it.
    fn load_cast(&self, cell: &str, column_type: ColumnType) -> String {
        let ty = self.column_type(column_type);
        match column_type {
            ColumnType::String => cell.to_owned(),
            ColumnType::Datetime => self.datetime_cast(cell, &ty),
            _ => format!("CAST({cell} AS {ty})"),
        }
    }

    /// A DATETIME cell with its offset applied (none means UTC), whatever the session's time zone.
    fn datetime_cast(&self, c: &str, ty: &str) -> String {
        let zone = ZONE_PATTERN;
        match self.dialect() {
            Dialect::DuckDb => {
                let local = format!("regexp_replace({c}, '{zone}', '')");
                let offset = format!(
                    "CASE WHEN regexp_matches({c}, '[+-][0-9][0-9]:[0-9][0-9]$') THEN (CASE WHEN substr({c}, -6, 1) = '-' THEN -1 ELSE 1 END) * (CAST(substr({c}, -5, 2) AS BIGINT) * 3600 + CAST(substr({c}, -2, 2) AS BIGINT) * 60) ELSE 0 END"
                );
                if self.options.timestamp_digits > 6 {
                    // TIMESTAMP_NS minus an INTERVAL is a TIMESTAMP (microseconds): count nanoseconds instead.
                    format!(
                        "make_timestamp_ns(epoch_ns(CAST({local} AS TIMESTAMP_NS)) - ({offset}) * CAST(1000000000 AS BIGINT))"
                    )
                } else {
                    format!("CAST({local} AS TIMESTAMP) - to_seconds({offset})")
                }
            }
            Dialect::PostgreSql => format!(
                "CAST(CAST({c} || CASE WHEN {c} ~ '{zone}' THEN '' ELSE '+00:00' END AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS {ty})"
            ),
            Dialect::SparkSql => {
                format!("CAST(CASE WHEN {c} RLIKE '{zone}' THEN {c} ELSE concat({c}, '+00:00') END AS {ty})")
            }
            Dialect::Snowflake => format!(
                "CAST(CONVERT_TIMEZONE('UTC', TO_TIMESTAMP_TZ(IFF(REGEXP_LIKE({c}, '.*{zone}'), {c}, {c} || '+00:00'))) AS {ty})"
            ),
            // BigQuery reads a timestamp without offset as UTC.
            Dialect::BigQuery | Dialect::Trino => format!("CAST({c} AS {ty})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use domo_model::{Column, ColumnType, Schema};

    use super::*;

    fn schema() -> Schema {
        Schema {
            columns: vec![
                Column::new(ColumnType::String, "Region"),
                Column::new(ColumnType::Decimal, "it's"),
                Column::new(ColumnType::Datetime, "At"),
            ],
        }
    }

    fn check(dialect: Dialect, path: &str) -> String {
        let source = CsvSource { path, header: HeaderRow::Present };
        sql_load(&schema(), &["sales"], &source, &SqlOptions::new(dialect)).unwrap().join("\n")
    }

    #[test]
    fn every_dialect_reads_quoted_empty_strings_and_offsets_as_the_engine_does() {
        assert!(check(Dialect::DuckDb, "a.csv").contains("allow_quoted_nulls = false"));
        let spark = check(Dialect::SparkSql, "a.csv");
        assert!(spark.contains("nullValue '\\u0001domo-pdp-null\\u0001'"), "{spark}");
        assert!(spark.contains("escape '\"'"), "{spark}");
        assert!(spark.contains("concat(`c2`, '+00:00')"), "{spark}");
        assert!(check(Dialect::PostgreSql, "a.csv").contains("AT TIME ZONE 'UTC'"));
        assert!(check(Dialect::Snowflake, "a.csv").contains("NULL_IF = ()"));
        let trino = check(Dialect::Trino, "s3://bucket/sales/");
        assert!(trino.contains("external_location = 's3://bucket/sales/'"), "{trino}");
        assert!(trino.starts_with("-- Trino cannot load a CSV file itself"), "{trino}");
    }

    #[test]
    fn the_path_is_a_quoted_literal() {
        let sql = check(Dialect::PostgreSql, "/tmp/it's\\here.csv");
        assert!(sql.contains("FROM E'/tmp/it''s\\\\here.csv'"), "{sql}");
        let err = sql_load(
            &schema(),
            &["sales"],
            &CsvSource { path: "a\0b", header: HeaderRow::Absent },
            &SqlOptions::new(Dialect::DuckDb),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "path `a\\0b` holds a NUL character, which DuckDB cannot quote");
    }
}
