//! SQL conformance: real engines running the SQL that `domo-pdp` generates, loads included, return exactly the engine's rows and counts.
//!
//! For each of N seeded random policy sets (all six column types, all ten
//! operators, `not`, NULLs, quoted empty strings, quotes, backslashes and
//! unicode in names and values, DATETIMEs near midnight and in daylight-saving
//! gaps, DECIMALs at full scale, owner, Admins, groups, All Rows, PDP off, no
//! policies) this generates a table, policies and a directory, evaluates them
//! with the engine, and writes the DataSet's CSV and the generated SQL: the
//! load of `domo pdp sql --load`, one `WHERE` per user, one full `SELECT` per
//! set, the whole-DataSet counts (membership inline, and loaded as a table),
//! the rows no user sees, the users who see one row (by a key column), and each
//! user's gained and lost rows against an older policy set.
//! `tests/warehouse/run_queries.py` runs it all in one session of the engine;
//! every row and count must equal the engine's. Engines (`--engine`):
//! `duckdb` (default; the Python package, pinned 2.0.0), `postgres` (a
//! throwaway cluster of the installed server on a private port), `spark`
//! (PySpark in local mode), and `syntax` (Snowflake, BigQuery and Trino SQL
//! parsed by sqlglot: a syntax check only, nothing runs). Exits non-zero on any
//! difference, on a query or load error, or when the engine cannot start.
//!
//! Usage: `sql-conformance [--engine E] [--sets N] [--seed S] [--python PATH] [--keep DIR]`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test program fails loudly"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Instant;

use domo_model::{Column, ColumnType, Dataset, Directory, Policy, Schema};
use domo_pdp::{CsvSource, Dialect, HeaderRow, MembershipSource, PolicySet, Reason, SqlOptions, Table, sql_load};
use serde_json::json;

/// SplitMix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
    fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const STRINGS: &[&str] = &[
    "",
    "a",
    "A",
    "ab",
    "abc",
    "aBc",
    "b",
    "é",
    "e",
    "日本",
    "x_y",
    "x%y",
    "xay",
    "a\\b",
    "it's",
    "\"q\"",
    "line\nbreak",
    " sp ",
    "'); DROP TABLE t; --",
    "Z",
    "zz",
    "😀",
    "\u{FFFF}",
    "a\\",
    "100%",
    "O'Brien",
    "Ab",
    "b%",
    "_",
];
const LIKE_PATTERNS: &[&str] = &[
    "%", "a%", "%b", "_", "a_c", "%\\%%", "x\\_y", "x_y", "%'%", "\\", "a\\", "a\\\\b", "%é%", "_%_", "A%", "", "%\n%",
    "a%c", "x\\%y", "%😀", "__", "\\a%",
];
const LONGS: &[&str] =
    &["0", "1", "-1", "7", "+7", "-5", "100", "-100", "9223372036854775807", "-9223372036854775808", "42"];
const DOUBLES: &[&str] =
    &["0", "0.1", "0.2", "0.30000000000000004", "1.5", "-1.5", "1e300", "2.5e-10", "3", "-0", ".5", "1e3", "-2.75"];
/// DECIMAL cells: at most 9 decimal places, so a `DECIMAL(38, 9)` column holds them exactly.
const DECIMAL_CELLS: &[&str] = &[
    "0",
    "1.5",
    "1.50",
    "-2.25",
    "123456789.123456789",
    "0.000000001",
    "-0.000000001",
    "2",
    "-7.1",
    "79228162514264337593543950335",
    "-79228162514264337593543950335",
    "99999999999999999999.5",
    "9999999999999999999.999999999",
    "-0.999999999",
];
/// DECIMAL filter values: also finer than the column and beyond its range.
const DECIMAL_VALUES: &[&str] = &[
    "1.5",
    "1.50",
    "1.5000000001",
    "0.0000000005",
    "-0.0000000005",
    "2",
    "-2.25",
    "123456789.1234567891",
    "0.000000001",
    "79228162514264337593543950335",
    "-7.1",
    "0",
];
/// DATE cells within years 1 to 9999.
const DATE_CELLS: &[&str] =
    &["0001-01-01", "1970-01-01", "2024-02-29", "2024-03-01", "9999-12-31", "1969-12-31", "2000-01-01"];
const DATE_VALUES: &[&str] =
    &["0001-01-01", "1970-01-01", "2024-02-29", "2024-03-01", "9999-12-31", "0000-06-01", "2000-01-01", "1969-12-31"];
/// DATETIME cells: microsecond precision, offsets normalised by the engine.
const DATETIME_CELLS: &[&str] = &[
    "2024-01-05 10:00:00",
    "2024-01-05T12:00:00+02:00",
    "2024-01-05T10:00:00.5Z",
    "2024-01-05T10:00:00.123456",
    "1970-01-01T00:00:00Z",
    "1969-12-31 23:59:59.999999",
    "0001-01-01 00:00:00",
    "9999-12-30 12:00:00.999999",
    "2024-01-05T09:00:00-01:00",
    "2024-01-05T10:00:00.000001",
    "2024-01-05T23:30:00-02:00",
    "2024-01-06T00:30:00+02:00",
    "2024-01-05T23:59:59.999999",
    "2024-03-10 02:30:00",
    "2024-11-03 01:30:00",
];
/// DATETIME filter values: also nanoseconds and instants outside years 1 to 9999.
const DATETIME_VALUES: &[&str] = &[
    "2024-01-05 10:00:00",
    "2024-01-05T10:00:00.0000005",
    "2024-01-05T10:00:00.123456789",
    "1969-12-31T23:59:59.9999995",
    "0000-01-01T00:00:00",
    "9999-12-31T23:59:59.9999999-01:00",
    "2024-01-05T11:00:00+01:00",
    "1970-01-01 00:00:00",
    "2024-01-05T10:00:00.5",
    "0001-01-01 00:00:00",
    "2024-01-06 00:00:00",
    "2024-01-06T00:00:00-05:00",
];
const NAMES: &[&str] = &[
    "name",
    "Amount",
    "x\"); DROP TABLE t; --",
    "it's \"quoted\"",
    "with space",
    "back\\slash",
    "ünï",
    "select",
    "a.b",
    "`tick`",
];

struct Generated {
    dataset: Dataset,
    policies: Vec<Policy>,
    directory: Directory,
    csv: String,
    /// Each record's text (a record may span lines: quoted newlines).
    records: Vec<String>,
}

fn column_type(i: usize) -> ColumnType {
    [
        ColumnType::String,
        ColumnType::Long,
        ColumnType::Double,
        ColumnType::Decimal,
        ColumnType::Date,
        ColumnType::Datetime,
    ][i % 6]
}

fn cell_pool(t: ColumnType) -> &'static [&'static str] {
    match t {
        ColumnType::String => STRINGS,
        ColumnType::Long => LONGS,
        ColumnType::Double => DOUBLES,
        ColumnType::Decimal => DECIMAL_CELLS,
        ColumnType::Date => DATE_CELLS,
        ColumnType::Datetime => DATETIME_CELLS,
    }
}

/// DECIMAL cells with 10 to 12 decimal places, for `DECIMAL(38, 12)` columns.
const DECIMAL_FINE_CELLS: &[&str] = &["1.5000000001", "-0.000000000001", "1.000000000001"];
/// DATETIME cells with nanoseconds, for `TIMESTAMP_NS` columns.
const DATETIME_NANO_CELLS: &[&str] =
    &["2024-01-05T10:00:00.000000001", "1969-12-31T23:59:59.999999999", "2024-01-05T10:00:00.0000005"];

/// The cells a column of this type can hold exactly under `options`: the
/// warehouse column must be at least as fine as the data, and wide enough.
fn cells_for(t: ColumnType, options: &SqlOptions) -> Vec<&'static str> {
    let mut cells: Vec<&'static str> = cell_pool(t).to_vec();
    match t {
        ColumnType::Decimal => {
            let integer_digits = |c: &str| c.trim_start_matches('-').split('.').next().map_or(0, str::len);
            cells.retain(|c| integer_digits(c) <= 38 - usize::from(options.decimal_scale));
            if options.decimal_scale >= 12 {
                cells.extend(DECIMAL_FINE_CELLS);
            }
        }
        ColumnType::Datetime if options.timestamp_digits > 6 => {
            // DuckDB's TIMESTAMP_NS holds 1677-09-22 to 2262-04-11.
            cells.retain(|c| c.starts_with("19") || c.starts_with("20"));
            cells.extend(DATETIME_NANO_CELLS);
        }
        _ => {}
    }
    cells
}

fn value_pool(t: ColumnType) -> &'static [&'static str] {
    match t {
        ColumnType::Decimal => DECIMAL_VALUES,
        ColumnType::Date => DATE_VALUES,
        ColumnType::Datetime => DATETIME_VALUES,
        other => cell_pool(other),
    }
}

fn quote_csv(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

fn generate(rng: &mut Rng, set: usize, options: &SqlOptions) -> Generated {
    // Six typed columns, in a shuffled order, plus sometimes a second STRING column.
    let mut types: Vec<ColumnType> = (0..6).map(column_type).collect();
    if rng.percent(50) {
        types.push(ColumnType::String);
    }
    for i in (1..types.len()).rev() {
        let j = rng.below(i + 1);
        types.swap(i, j);
    }
    let offset = rng.below(NAMES.len());
    let columns: Vec<Column> = types
        .iter()
        .enumerate()
        .map(|(i, t)| Column::new(*t, format!("{} {i}", NAMES[(offset + i) % NAMES.len()])))
        .collect();
    let schema = Schema { columns: columns.clone() };

    let rows = 10 + rng.below(40);
    let mut csv = String::new();
    let mut records = Vec::with_capacity(rows);
    csv.push_str(&columns.iter().map(|c| quote_csv(&c.name)).collect::<Vec<_>>().join(","));
    csv.push('\n');
    for _ in 0..rows {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| {
                if rng.percent(15) {
                    return String::new();
                }
                let text = *rng.pick(&cells_for(c.column_type, options));
                if c.column_type == ColumnType::String { quote_csv(text) } else { text.to_owned() }
            })
            .collect();
        records.push(cells.join(","));
        csv.push_str(&cells.join(","));
        csv.push('\n');
    }

    let users = 4 + rng.below(8);
    let groups = rng.below(3);
    let mut group_json = Vec::new();
    for g in 0..groups {
        let members: Vec<u64> = (1..=users as u64).filter(|_| rng.percent(35)).collect();
        group_json.push(json!({"id": 100 + g, "name": format!("group {g}"), "userIds": members}));
    }
    let admin = rng.percent(30).then(|| 1 + rng.below(users) as u64);
    let user_json: Vec<_> = (1..=users as u64)
        .map(|id| {
            let role = if Some(id) == admin { "Admin" } else { "Participant" };
            json!({"id": id, "name": format!("user {id}"), "role": role})
        })
        .collect();
    let directory: Directory = serde_json::from_value(json!({"users": user_json, "groups": group_json})).unwrap();

    // Every 50th set has 60 to 119 policies, so the counts query nests its CONCAT.
    let policy_count = if set % 50 == 49 {
        60 + rng.below(60)
    } else if rng.percent(3) {
        0
    } else {
        1 + rng.below(5)
    };
    let mut policies = Vec::new();
    for p in 0..policy_count {
        let kind = rng.below(100);
        let mut filters = Vec::new();
        let open = kind < 6;
        if !open && kind >= 9 {
            for _ in 0..1 + rng.below(3) {
                filters.push(random_filter(rng, &columns));
            }
        }
        let members: Vec<u64> = (1..=users as u64).filter(|_| rng.percent(30)).collect();
        let member_groups: Vec<u64> = (0..groups as u64).filter(|_| rng.percent(40)).map(|g| 100 + g).collect();
        policies.push(
            serde_json::from_value(json!({
                "id": p + 1,
                "type": if open { "open" } else { "user" },
                "name": format!("policy {p}"),
                "filters": filters,
                "users": members,
                "groups": member_groups,
                "virtualUsers": [],
            }))
            .unwrap(),
        );
    }
    let owner = if rng.percent(70) { 1 } else { 999 };
    let dataset: Dataset = serde_json::from_value(json!({
        "id": format!("set-{set}"),
        "name": format!("set {set}"),
        "pdpEnabled": !rng.percent(5),
        "owner": {"id": owner},
        "schema": schema,
    }))
    .unwrap();
    Generated { dataset, policies, directory, csv, records }
}

fn random_filter(rng: &mut Rng, columns: &[Column]) -> serde_json::Value {
    // Text operators only apply to STRING columns: pick one of those more often.
    let strings: Vec<&Column> = columns.iter().filter(|c| c.column_type == ColumnType::String).collect();
    let column = if rng.percent(40) { *rng.pick(&strings) } else { rng.pick(columns) };
    let t = column.column_type;
    let ops: &[&str] = if t == ColumnType::String {
        &[
            "EQUALS",
            "LIKE",
            "GREATER_THAN",
            "LESS_THAN",
            "GREATER_THAN_EQUAL",
            "LESS_THAN_EQUAL",
            "BETWEEN",
            "BEGINS_WITH",
            "ENDS_WITH",
            "CONTAINS",
        ]
    } else {
        &["EQUALS", "GREATER_THAN", "LESS_THAN", "GREATER_THAN_EQUAL", "LESS_THAN_EQUAL", "BETWEEN"]
    };
    let op = if t == ColumnType::String && rng.percent(50) {
        *rng.pick(&["LIKE", "BEGINS_WITH", "ENDS_WITH", "CONTAINS"])
    } else {
        *rng.pick(ops)
    };
    let pool = if op == "LIKE" { LIKE_PATTERNS } else { value_pool(t) };
    let count = match op {
        "BETWEEN" => 2,
        "GREATER_THAN" | "LESS_THAN" | "GREATER_THAN_EQUAL" | "LESS_THAN_EQUAL" => 1,
        _ => 1 + rng.below(3),
    };
    let values: Vec<&str> = (0..count).map(|_| *rng.pick(pool)).collect();
    json!({"column": column.name, "operator": op, "values": values, "not": rng.percent(30)})
}

/// Which warehouse runs the generated SQL.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Engine {
    DuckDb,
    Postgres,
    Spark,
    /// Snowflake, BigQuery and Trino: parsed by sqlglot only.
    Syntax,
}

impl Engine {
    fn runner_name(self) -> &'static str {
        match self {
            Engine::DuckDb => "duckdb",
            Engine::Postgres => "postgres",
            Engine::Spark => "spark",
            Engine::Syntax => "sqlglot",
        }
    }
    fn dialect(self) -> Dialect {
        match self {
            Engine::DuckDb | Engine::Syntax => Dialect::DuckDb,
            Engine::Postgres => Dialect::PostgreSql,
            Engine::Spark => Dialect::SparkSql,
        }
    }
}

struct Check {
    set: usize,
    what: String,
    expected: serde_json::Value,
}

const USAGE: &str =
    "usage: sql-conformance [--engine duckdb|postgres|spark|syntax] [--sets N] [--seed S] [--python PATH] [--keep DIR]";

/// The membership table's columns, loaded like any DataSet.
fn membership_schema() -> Schema {
    Schema {
        columns: vec![
            Column::new(ColumnType::Long, "seq_no"),
            Column::new(ColumnType::Long, "user_id"),
            Column::new(ColumnType::String, "reason"),
            Column::new(ColumnType::Long, "access_class"),
            Column::new(ColumnType::Long, "policy_index"),
        ],
    }
}

fn main() -> ExitCode {
    let started = Instant::now();
    let mut sets = 200usize;
    let mut seed = 1u64;
    let mut python = "python3".to_owned();
    let mut keep: Option<PathBuf> = None;
    let mut engine = Engine::DuckDb;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--sets" => sets = value().parse().expect("--sets takes a number"),
            "--seed" => seed = value().parse().expect("--seed takes a number"),
            "--python" => python = value(),
            "--keep" => keep = Some(PathBuf::from(value())),
            "--engine" => {
                engine = match value().as_str() {
                    "duckdb" => Engine::DuckDb,
                    "postgres" => Engine::Postgres,
                    "spark" => Engine::Spark,
                    "syntax" => Engine::Syntax,
                    other => panic!("unknown engine `{other}`\n{USAGE}"),
                }
            }
            other => panic!("unknown argument `{other}`\n{USAGE}"),
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let runner = root.join("warehouse/run_queries.py");
    let status = Command::new(&python).arg(&runner).arg(engine.runner_name()).arg("--check").status();
    match status {
        Ok(s) if s.success() => {}
        Ok(_) => {
            eprintln!(
                "sql-conformance: {} is not usable from `{python}` (see above); `cargo xtask provision` installs it",
                engine.runner_name()
            );
            return ExitCode::FAILURE;
        }
        Err(err) => {
            eprintln!("sql-conformance: cannot run `{python}`: {err}");
            return ExitCode::FAILURE;
        }
    }
    // The work folder (CSV files, and PostgreSQL's throwaway cluster) lives under the
    // cargo target folder this program was built in, else in the temporary folder.
    let scratch = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(|target| target.join("tmp")))
        .unwrap_or_else(std::env::temp_dir);
    let dir = keep.clone().unwrap_or_else(|| {
        scratch.join(format!("domo-sql-conformance-{}-{}", engine.runner_name(), std::process::id()))
    });
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Paths handed to a server (PostgreSQL's COPY, Spark) must be absolute.
    let dir = std::fs::canonicalize(&dir).unwrap();

    let dialect = engine.dialect();
    let mut rng = Rng(seed);
    let mut scales: BTreeMap<String, usize> = BTreeMap::new();
    let mut tables = Vec::new();
    let mut queries = Vec::new();
    let mut checks: BTreeMap<String, Check> = BTreeMap::new();
    let (mut total_rows, mut users_checked, mut policies_total, mut filters_total) = (0usize, 0usize, 0usize, 0usize);
    let mut operators: BTreeMap<String, usize> = BTreeMap::new();
    for set in 0..sets {
        // Most sets use the defaults, DECIMAL(38, 9) and TIMESTAMP; some a finer
        // DECIMAL(38, 12) or (DuckDB) TIMESTAMP_NS, where other values need rewriting.
        let mut options = SqlOptions::new(dialect);
        if set % 4 == 1 {
            options.decimal_scale = 12;
        }
        if set % 3 == 2 && dialect == Dialect::DuckDb && engine == Engine::DuckDb {
            options.timestamp_digits = 9;
        }
        *scales
            .entry(format!("DECIMAL(38, {}) and {} fractional digits", options.decimal_scale, options.timestamp_digits))
            .or_default() += 1;
        let g = generate(&mut rng, set, &options);
        for policy in &g.policies {
            policies_total += 1;
            for f in &policy.filters {
                filters_total += 1;
                *operators.entry(format!("{}{}", if f.not { "not " } else { "" }, f.operator)).or_default() += 1;
            }
        }
        // The DataSet's own CSV (quoted empty strings, NULLs, offsets) with a row number
        // in front (a LONG column no policy names: the key of the row), loaded by the
        // statements of `domo pdp sql --load`.
        let name = format!("t{set}");
        let mut load_schema = g.dataset.schema.clone();
        load_schema.columns.insert(0, Column::new(ColumnType::Long, "__row"));
        let mut load_csv = load_schema.columns.iter().map(|c| quote_csv(&c.name)).collect::<Vec<_>>().join(",");
        load_csv.push('\n');
        for (row, record) in g.records.iter().enumerate() {
            let _ = writeln!(load_csv, "{row},{record}");
        }
        let mut dataset = g.dataset.clone();
        dataset.schema = load_schema.clone();
        let table = Table::from_csv(load_csv.as_bytes(), &load_schema, HeaderRow::Present)
            .unwrap_or_else(|e| panic!("set {set}: the generated CSV does not load: {e}"));
        let compiled = PolicySet::compile(&dataset, &g.policies, &g.directory)
            .unwrap_or_else(|e| panic!("set {set}: the generated policies do not compile: {e}"));
        let evaluation = compiled.evaluate(&table).unwrap();
        total_rows += table.row_count();
        // The "old" policies of the diff: some dropped, one filter negated.
        let mut old_policies: Vec<Policy> =
            g.policies.iter().enumerate().filter(|(i, _)| i % 3 != set % 3).map(|(_, p)| p.clone()).collect();
        if let Some(filter) = old_policies.iter_mut().flat_map(|p| p.filters.iter_mut()).next() {
            filter.not = !filter.not;
        }
        let old_compiled = PolicySet::compile(&dataset, &old_policies, &g.directory).unwrap();
        let old_evaluation = old_compiled.evaluate(&table).unwrap();
        let csv_path = dir.join(format!("{name}.csv"));
        std::fs::write(&csv_path, &load_csv).unwrap();
        std::fs::write(dir.join(format!("{name}.engine.csv")), &g.csv).unwrap();
        std::fs::write(dir.join(format!("{name}.policies.json")), serde_json::to_string_pretty(&g.policies).unwrap())
            .unwrap();
        let path_text = csv_path.to_str().unwrap();
        let source = CsvSource { path: path_text, header: HeaderRow::Present };

        if engine == Engine::Syntax {
            for d in [Dialect::Snowflake, Dialect::BigQuery, Dialect::Trino] {
                let options = SqlOptions { dialect: d, ..options };
                let mut statements = sql_load(&load_schema, &[&name], &source, &options).unwrap();
                for user in &g.directory.users {
                    statements.push(compiled.sql_select(user.id, &[&name], &options).unwrap());
                }
                let counts = compiled.sql_visible_counts(&[&name], MembershipSource::Inline, &options).unwrap();
                statements.push(counts.sql);
                let loaded = compiled.sql_visible_counts(&[&name], MembershipSource::Table(&["m"]), &options).unwrap();
                statements.push(loaded.sql);
                statements.extend(sql_load(&membership_schema(), &["m"], &source, &options).unwrap());
                statements.push(compiled.sql_hidden_rows(&[&name], &options).unwrap());
                statements.push(compiled.sql_viewers(&[&name], "__row", "0", &options).unwrap());
                statements.push(compiled.sql_diff(&old_compiled, &[&name], &options).unwrap());
                let id = format!("s{set}-{}", d.name());
                let n = statements.iter().filter(|s| !s.starts_with("--")).count();
                queries.push(json!({"id": id, "dialect": d.name(), "statements": statements}));
                checks.insert(id, Check { set, what: format!("{d} syntax"), expected: json!([["parsed", n]]) });
            }
            continue;
        }

        let load = sql_load(&load_schema, &[&name], &source, &options).unwrap();
        tables.push(json!({"load": load}));

        // One WHERE per user.
        for user in &g.directory.users {
            let predicate = compiled.sql_predicate(user.id, &options).unwrap();
            let expected: Vec<usize> = evaluation.visible_rows(user.id).iter().collect();
            let id = format!("s{set}-u{}", user.id);
            let q = if dialect == Dialect::SparkSql { "`" } else { "\"" };
            queries.push(
                json!({"id": id, "sql": format!("SELECT {q}__row{q} FROM {q}{name}{q} WHERE {predicate} ORDER BY 1")}),
            );
            checks.insert(
                id,
                Check {
                    set,
                    what: format!("rows of user {}:\n{predicate}", user.id),
                    expected: json!(expected.iter().map(|r| vec![*r]).collect::<Vec<_>>()),
                },
            );
            users_checked += 1;
        }
        // The full SELECT for one user.
        if let Some(user) = g.directory.users.get(set % g.directory.users.len().max(1)) {
            let select = compiled.sql_select(user.id, &[&name], &options).unwrap();
            let id = format!("s{set}-select");
            queries.push(json!({"id": id, "sql": format!("SELECT COUNT(*) FROM ({select}) AS s")}));
            let count = evaluation.visible_rows(user.id).len();
            checks.insert(
                id,
                Check { set, what: format!("SELECT for user {}:\n{select}", user.id), expected: json!([[count]]) },
            );
        }
        // Rows no user sees.
        {
            let hidden = compiled.sql_hidden_rows(&[&name], &options).unwrap();
            // As `domo pdp lint`: rows no one sees but those who see every row by privilege.
            let mut seen = BTreeSet::new();
            let mut everything = false;
            for user in &g.directory.users {
                match compiled.access(user.id).reason {
                    Reason::PdpDisabled | Reason::AllRows => everything = true,
                    Reason::Policies => seen.extend(evaluation.visible_rows(user.id).iter()),
                    _ => {}
                }
            }
            let expected: Vec<Vec<usize>> =
                (0..table.row_count()).filter(|r| !everything && !seen.contains(r)).map(|r| vec![r]).collect();

            let q = if dialect == Dialect::SparkSql { "`" } else { "\"" };
            let id = format!("s{set}-hidden");
            queries.push(json!({"id": id, "sql": format!("SELECT {q}__row{q} FROM ({hidden}) AS h ORDER BY 1")}));
            checks.insert(id, Check { set, what: format!("hidden rows:\n{hidden}"), expected: json!(expected) });
        }
        // Who sees one row, by its key.
        {
            let row = set % table.row_count().max(1);
            let viewers = compiled.sql_viewers(&[&name], "__row", &row.to_string(), &options).unwrap();
            let expected: Vec<serde_json::Value> = evaluation
                .viewers(row)
                .into_iter()
                .map(|u| json!([u.get(), domo_reason(compiled.access(u).reason), 1]))
                .collect();
            let id = format!("s{set}-viewers");
            queries.push(json!({"id": id, "sql": viewers}));
            checks.insert(
                id,
                Check { set, what: format!("viewers of row {row}:\n{viewers}"), expected: json!(expected) },
            );
        }
        // Each user's gained and lost rows between the old and the new policies.
        {
            let diff = compiled.sql_diff(&old_compiled, &[&name], &options).unwrap();
            let expected: Vec<serde_json::Value> = g
                .directory
                .users
                .iter()
                .map(|u| {
                    let before: BTreeSet<usize> = old_evaluation.visible_rows(u.id).iter().collect();
                    let after: BTreeSet<usize> = evaluation.visible_rows(u.id).iter().collect();
                    json!([
                        u.id.get(),
                        domo_reason(old_compiled.access(u.id).reason),
                        domo_reason(compiled.access(u.id).reason),
                        before.len(),
                        after.len(),
                        after.difference(&before).count(),
                        before.difference(&after).count()
                    ])
                })
                .collect();
            let id = format!("s{set}-diff");
            queries.push(json!({"id": id, "sql": diff}));
            checks.insert(id, Check { set, what: format!("diff:\n{diff}"), expected: json!(expected) });
        }
        // The whole-DataSet counts, membership inline and (every other set) as a loaded table.
        let counts = evaluation.visible_counts();
        let expected: Vec<serde_json::Value> =
            counts.iter().map(|c| json!([c.user.get(), domo_reason(c.reason), c.rows])).collect();
        let inline = compiled.sql_visible_counts(&[&name], MembershipSource::Inline, &options).unwrap();
        let id = format!("s{set}-counts");
        queries.push(json!({"id": id, "sql": inline.sql}));
        checks.insert(id, Check { set, what: format!("counts (inline):\n{}", inline.sql), expected: json!(expected) });
        if set % 2 == 0 {
            let membership = format!("m{set}");
            let loaded =
                compiled.sql_visible_counts(&[&name], MembershipSource::Table(&[&membership]), &options).unwrap();
            let path = dir.join(format!("{membership}.csv"));
            std::fs::write(&path, loaded.membership_csv()).unwrap();
            let source = CsvSource { path: path.to_str().unwrap(), header: HeaderRow::Present };
            tables.push(json!({"load": sql_load(&membership_schema(), &[&membership], &source, &options).unwrap()}));
            let id = format!("s{set}-counts-table");
            queries.push(json!({"id": id, "sql": loaded.sql}));
            checks.insert(
                id,
                Check { set, what: format!("counts (membership table):\n{}", loaded.sql), expected: json!(expected) },
            );
        }
    }
    let generated = started.elapsed();
    let job = dir.join("job.json");
    let results_path = dir.join("results.json");
    std::fs::write(&job, serde_json::to_string(&json!({"tables": tables, "queries": queries})).unwrap()).unwrap();
    let status = Command::new(&python)
        .arg(&runner)
        .arg(engine.runner_name())
        .arg(&job)
        .arg(&results_path)
        .arg(&dir)
        .status()
        .unwrap();
    if !status.success() {
        eprintln!("sql-conformance: the {} runner failed (job in {})", engine.runner_name(), dir.display());
        return ExitCode::FAILURE;
    }
    let results: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&results_path).unwrap()).unwrap();
    let mut failures = 0usize;
    let mut report = String::new();
    let mut commands: BTreeMap<String, usize> = BTreeMap::new();
    for (id, check) in &checks {
        let result = results.get(id);
        for command in result.and_then(|r| r.get("commands")).and_then(|c| c.as_array()).into_iter().flatten() {
            *commands.entry(command.as_str().unwrap_or("?").to_owned()).or_default() += 1;
        }
        let ok = result.and_then(|r| r.get("rows")) == Some(&check.expected);
        if !ok {
            failures += 1;
            if failures <= 5 {
                let _ = writeln!(
                    report,
                    "\n--- set {} ({id}): {}\nexpected: {}\ngot:      {}",
                    check.set,
                    check.what,
                    check.expected,
                    result.map_or_else(|| "no result".to_owned(), ToString::to_string)
                );
            }
        }
    }
    let what = match engine {
        Engine::Syntax => {
            "Snowflake, BigQuery and Trino, parsed by sqlglot only (a syntax check: nothing ran)".to_owned()
        }
        _ => dialect.to_string(),
    };
    let summary = format!(
        "sql-conformance: {sets} policy sets ({policies_total} policies, {filters_total} filters), {total_rows} rows, {users_checked} users' rows, {} queries in {what}; generated in {:.1?}, total {:.1?}",
        queries.len(),
        generated,
        started.elapsed()
    );
    eprintln!("{summary}");
    eprintln!("options: {}", scales.iter().map(|(k, v)| format!("{k}: {v} sets")).collect::<Vec<_>>().join(", "));
    eprintln!("operators: {}", operators.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "));
    if !commands.is_empty() {
        eprintln!(
            "statements sqlglot does not parse beyond their first word (kept as commands): {}",
            commands.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
        );
    }
    if failures > 0 {
        eprintln!(
            "{report}\nsql-conformance: {failures} of {} checks differ from the engine; files in {}",
            checks.len(),
            dir.display()
        );
        return ExitCode::FAILURE;
    }
    if keep.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    if engine == Engine::Syntax {
        eprintln!("sql-conformance: sqlglot parses all {} statement lists (syntax only)", checks.len());
    } else {
        eprintln!("sql-conformance: all {} checks agree with the engine", checks.len());
    }
    ExitCode::SUCCESS
}

fn domo_reason(reason: domo_pdp::Reason) -> &'static str {
    use domo_pdp::Reason as R;
    match reason {
        R::PdpDisabled => "pdp-disabled",
        R::Owner => "owner",
        R::Admin => "admin",
        R::RoleGrant => "role-grant",
        R::AllRows => "all-rows",
        R::Policies => "policies",
        R::NoPolicy => "no-policy",
    }
}
