"""Runs generated SQL in DuckDB for the SQL conformance check (`cargo run -p domo-tests --bin sql-conformance`).

Reads a job file (JSON) naming tables to create and load, and queries to run;
writes every query's rows (or its error) as JSON. The Rust side compares them
with the engine. Needs the `duckdb` Python package, pinned to 2.0.0:

    python3 -m pip install duckdb==2.0.0
"""

import json
import sys

PINNED = "2.0.0"


def main() -> int:
    try:
        import duckdb
    except ImportError as err:
        print(f"error: the duckdb Python package is not importable ({err}); "
              f"install it with: python3 -m pip install duckdb=={PINNED}", file=sys.stderr)
        return 3
    if duckdb.__version__ != PINNED:
        print(f"error: duckdb {duckdb.__version__} is installed; the conformance check pins {PINNED} "
              f"(python3 -m pip install duckdb=={PINNED})", file=sys.stderr)
        return 3
    if len(sys.argv) == 2 and sys.argv[1] == "--check":
        print(f"duckdb {duckdb.__version__}")
        return 0
    if len(sys.argv) != 3:
        print("usage: run_queries.py JOB.json RESULTS.json | --check", file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        job = json.load(f)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    results = {}
    for table in job["tables"]:
        con.execute(table["create"])
        columns = {name: "VARCHAR" for name in table["columns"]}
        # Every cell is read as text and cast by INSERT into the column's type;
        # an unquoted empty field is NULL, a quoted one ("") the empty string.
        con.execute(
            f"INSERT INTO {table['quoted']} SELECT * FROM read_csv(?, header = true, delim = ',', quote = '\"', "
            "escape = '\"', allow_quoted_nulls = false, auto_detect = false, columns = ?)",
            [table["csv"], columns],
        )
    for query in job["queries"]:
        try:
            rows = con.execute(query["sql"]).fetchall()
            results[query["id"]] = {"rows": [[cell if isinstance(cell, (int, str)) or cell is None else str(cell)
                                              for cell in row] for row in rows]}
        except Exception as err:  # reported per query; the Rust side fails on it
            results[query["id"]] = {"error": str(err)}
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(results, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
