"""Runs generated SQL for the SQL conformance check (`cargo run -p domo-tests --bin sql-conformance`).

Reads a job file (JSON) naming tables to create and load, and queries to run;
writes every query's rows (or its error) as JSON. The Rust side compares them
with the engine. DuckDB needs the `duckdb` Python package, pinned to 2.0.0:

    python3 -m pip install duckdb==2.0.0

With `--postgres CONNINFO` the job runs in PostgreSQL instead, through `psql`
(in a schema `domo_sql_conformance`, dropped and created again); any SQL error
stops the run.
"""

import json
import sys

PINNED = "2.0.0"


def run_postgres(job, conninfo: str, results_path: str) -> int:
    import subprocess
    import tempfile

    script = ["\\set ON_ERROR_STOP on", "SET client_min_messages = warning;",
              "DROP SCHEMA IF EXISTS domo_sql_conformance CASCADE;", "CREATE SCHEMA domo_sql_conformance;",
              "SET search_path = domo_sql_conformance;", "SET TimeZone = 'UTC';"]
    for table in job["tables"]:
        script.append(table["create"] + ";")
        script.append(f"\\copy {table['quoted']} FROM '{table['csv']}' WITH (FORMAT csv, HEADER true)")
    for query in job["queries"]:
        script.append(f"\\echo @@@ {query['id']}")
        script.append(query["sql"] + ";")
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False, encoding="utf-8") as f:
        f.write("\n".join(script) + "\n")
        path = f.name
    run = subprocess.run(["psql", conninfo, "-X", "-q", "-A", "-t", "-F", "|", "-f", path],
                         capture_output=True, text=True, encoding="utf-8")
    if run.returncode != 0:
        print(f"error: psql failed ({run.returncode}); script in {path}:\n{run.stderr}", file=sys.stderr)
        return 1
    results, current = {}, None
    for line in run.stdout.split("\n"):
        if line.startswith("@@@ "):
            current = line[4:]
            results[current] = {"rows": []}
        elif current is not None and line != "":
            results[current]["rows"].append([int(c) if c.lstrip("-").isdigit() else c for c in line.split("|")])
    with open(results_path, "w", encoding="utf-8") as f:
        json.dump(results, f)
    return 0


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[3] == "--postgres":
        with open(sys.argv[1], encoding="utf-8") as f:
            return run_postgres(json.load(f), sys.argv[4], sys.argv[2])
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
