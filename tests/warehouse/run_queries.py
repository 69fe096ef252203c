"""Runs generated SQL for the SQL conformance check (`cargo run -p domo-tests --bin sql-conformance`).

Reads a job file (JSON): tables, each a list of load statements (the output of
`domo pdp sql --load`), and queries to run; writes every query's rows (or its
error) as JSON. The Rust side compares them with the engine. Engines:

- `duckdb`: the `duckdb` Python package, pinned to 2.0.0.
- `postgres`: a throwaway PostgreSQL cluster (initdb in the work folder, as the
  `postgres` user when run as root), on a private port of 127.0.0.1, stopped at
  the end even on failure; queries through `psql`.
- `spark`: PySpark (pinned 4.3.0) in local mode, UI off, bound to 127.0.0.1,
  one session for the whole job.
- `sqlglot`: no engine: each statement is only parsed in its dialect (a syntax
  check); a statement sqlglot does not know is reported, not hidden.

Every engine runs with its session time zone set to America/New_York, so a
load that depended on it would show. Usage:

    run_queries.py ENGINE --check
    run_queries.py ENGINE JOB.json RESULTS.json WORKDIR
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

PINNED = {"duckdb": "2.0.0", "pyspark": "4.3.0", "sqlglot": "30.30.0"}
SESSION_ZONE = "America/New_York"
PG_BIN = os.environ.get("DOMO_PG_BIN", "/usr/lib/postgresql/15/bin")


def fail(message: str, code: int = 3) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def check_version(module_name: str):
    try:
        module = __import__(module_name)
    except ImportError as err:
        return None, f"the {module_name} Python package is not importable ({err}); " \
                     f"install it with: python3 -m pip install {module_name}=={PINNED[module_name]}"
    if module.__version__ != PINNED[module_name]:
        return None, f"{module_name} {module.__version__} is installed; the conformance check pins " \
                     f"{PINNED[module_name]} (python3 -m pip install {module_name}=={PINNED[module_name]})"
    return module, None


def cell(value):
    if value is None or isinstance(value, (int, str)):
        return value
    return str(value)


def run_duckdb(job, workdir):
    duckdb, err = check_version("duckdb")
    if err:
        raise RuntimeError(err)
    con = duckdb.connect()
    con.execute(f"SET TimeZone = '{SESSION_ZONE}'")
    for table in job["tables"]:
        for statement in table["load"]:
            if not statement.startswith("--"):
                try:
                    con.execute(statement)
                except Exception as err:
                    raise RuntimeError(f"the load failed: {err}\n{statement}") from err
    results = {}
    for query in job["queries"]:
        try:
            rows = con.execute(query["sql"]).fetchall()
            results[query["id"]] = {"rows": [[cell(c) for c in row] for row in rows]}
        except Exception as err:  # reported per query; the Rust side fails on it
            results[query["id"]] = {"error": str(err)}
    return results


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_postgres(argv):
    """Runs a server binary as the `postgres` system user when we are root (initdb refuses root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + argv
    return argv


def run_postgres(job, workdir):
    data = os.path.join(workdir, "pgdata")
    log = os.path.join(workdir, "postgres.log")
    shutil.rmtree(data, ignore_errors=True)
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
        for name in os.listdir(workdir):
            shutil.chown(os.path.join(workdir, name), "postgres")
    init = subprocess.run(as_postgres([f"{PG_BIN}/initdb", "-D", data, "-A", "trust", "-U", "postgres",
                                       "--no-sync", "-E", "UTF8", "--locale", "C.UTF-8"]),
                          capture_output=True, text=True)
    if init.returncode != 0:
        raise RuntimeError(f"initdb failed:\n{init.stdout}{init.stderr}")
    port = free_port()
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='' -c fsync=off"
    start = subprocess.run(as_postgres([f"{PG_BIN}/pg_ctl", "-D", data, "-l", log, "-w", "-t", "60",
                                        "-o", options, "start"]), capture_output=True, text=True)
    try:
        if start.returncode != 0:
            logged = open(log, encoding="utf-8", errors="replace").read() if os.path.exists(log) else ""
            raise RuntimeError(f"PostgreSQL did not start:\n{start.stdout}{start.stderr}{logged}")
        return postgres_job(job, f"host=127.0.0.1 port={port} user=postgres dbname=postgres", workdir)
    finally:
        subprocess.run(as_postgres([f"{PG_BIN}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"]),
                       capture_output=True, text=True)
        shutil.rmtree(data, ignore_errors=True)


def postgres_job(job, conninfo, workdir):
    # A database whose default collation orders 'a' before 'B' (ICU en-US), which is what COLLATE "C" is for.
    setup = subprocess.run([f"{PG_BIN}/psql", conninfo, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                            "CREATE DATABASE conformance TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' "
                            "LOCALE 'C.UTF-8' ENCODING 'UTF8'"], capture_output=True, text=True)
    if setup.returncode != 0:
        raise RuntimeError(f"cannot create the database:\n{setup.stderr}")
    conninfo = conninfo.replace("dbname=postgres", "dbname=conformance")
    script = ["\\set ON_ERROR_STOP on", "SET client_min_messages = warning;", f"SET TimeZone = '{SESSION_ZONE}';"]
    for table in job["tables"]:
        script.extend(s + ";" for s in table["load"] if not s.startswith("--"))
    for query in job["queries"]:
        script.append(f"\\echo @@@ {query['id']}")
        script.append(query["sql"] + ";")
    path = os.path.join(workdir, "job.sql")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(script) + "\n")
    run = subprocess.run([f"{PG_BIN}/psql", conninfo, "-X", "-q", "-A", "-t", "-F", "\x1f", "-f", path],
                         capture_output=True, text=True, encoding="utf-8")
    if run.returncode != 0:
        raise RuntimeError(f"psql failed ({run.returncode}); script in {path}:\n{run.stderr[-4000:]}")
    # The queries return numbers and reason names only: one line per row.
    results, current = {}, None
    for line in run.stdout.split("\n"):
        if line.startswith("@@@ "):
            current = line[4:]
            results[current] = {"rows": []}
        elif current is not None and line != "":
            results[current]["rows"].append([int(c) if c.lstrip("-").isdigit() else c for c in line.split("\x1f")])
    return results


def run_spark(job, workdir):
    pyspark, err = check_version("pyspark")
    if err:
        raise RuntimeError(err)
    from pyspark.sql import SparkSession

    started = time.monotonic()

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if "JAVA_HOME" not in os.environ and os.path.isdir("/usr/lib/jvm/java-17-openjdk-amd64"):
        os.environ["JAVA_HOME"] = "/usr/lib/jvm/java-17-openjdk-amd64"
    spark = (SparkSession.builder.master("local[1]").appName("domo-sql-conformance")
             .config("spark.ui.enabled", "false")
             .config("spark.driver.host", "127.0.0.1")
             .config("spark.driver.bindAddress", "127.0.0.1")
             .config("spark.sql.warehouse.dir", os.path.join(workdir, "spark-warehouse"))
             .config("spark.local.dir", os.path.join(workdir, "spark-local"))
             .config("spark.sql.session.timeZone", SESSION_ZONE)
             .config("spark.sql.shuffle.partitions", "1")
             .config("spark.default.parallelism", "1")
             .config("spark.sql.adaptive.enabled", "false")
             .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={workdir}")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    try:
        print(f"spark: session started in {time.monotonic() - started:.1f}s", file=sys.stderr)
        for table in job["tables"]:
            for statement in table["load"]:
                if not statement.startswith("--"):
                    try:
                        spark.sql(statement)
                    except Exception as err:
                        raise RuntimeError(f"the load failed: {str(err)[:3000]}\n{statement}") from err
        results = {}
        for query in job["queries"]:
            try:
                rows = spark.sql(query["sql"]).collect()
                results[query["id"]] = {"rows": [[cell(c) for c in row] for row in rows]}
            except Exception as err:  # reported per query; the Rust side fails on it
                results[query["id"]] = {"error": str(err)[:2000]}
        return results
    finally:
        spark.stop()


def run_sqlglot(job, workdir):
    sqlglot, err = check_version("sqlglot")
    if err:
        raise RuntimeError(err)
    from sqlglot import exp
    from sqlglot.errors import ErrorLevel

    results = {}
    for query in job["queries"]:
        statements = [s for s in query["statements"] if not s.startswith("--")]
        try:
            commands = []
            for statement in statements:
                for tree in sqlglot.parse(statement, read=query["dialect"], error_level=ErrorLevel.RAISE):
                    if isinstance(tree, exp.Command):
                        commands.append(statement.split()[0].upper())
            results[query["id"]] = {"rows": [["parsed", len(statements)]], "commands": commands}
        except Exception as err:
            results[query["id"]] = {"error": str(err)[:2000]}
    return results


ENGINES = {"duckdb": run_duckdb, "postgres": run_postgres, "spark": run_spark, "sqlglot": run_sqlglot}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ENGINES:
        return fail(f"usage: run_queries.py {{{','.join(ENGINES)}}} (--check | JOB.json RESULTS.json WORKDIR)", 2)
    engine = sys.argv[1]
    if sys.argv[2:] == ["--check"]:
        if engine == "postgres":
            missing = [b for b in ("initdb", "pg_ctl", "psql") if not os.path.exists(f"{PG_BIN}/{b}")]
            if missing:
                return fail(f"PostgreSQL's {', '.join(missing)} are missing from {PG_BIN}: "
                            "install postgresql (apt-get install postgresql) or set DOMO_PG_BIN")
            print(f"postgres from {PG_BIN}")
            return 0
        module, err = check_version({"spark": "pyspark"}.get(engine, engine))
        if err:
            return fail(err)
        print(f"{engine} {module.__version__}")
        return 0
    if len(sys.argv) != 5:
        return fail("usage: run_queries.py ENGINE JOB.json RESULTS.json WORKDIR", 2)
    # A terminated run still stops its PostgreSQL cluster and Spark session (the `finally` blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(f"{engine}: terminated"))
    with open(sys.argv[2], encoding="utf-8") as f:
        job = json.load(f)
    started = time.monotonic()
    try:
        results = ENGINES[engine](job, sys.argv[4])
    except Exception as err:  # an engine that cannot start fails the check, it is never skipped
        return fail(f"{engine}: {str(err)[:4000]}", 1)
    with open(sys.argv[3], "w", encoding="utf-8") as f:
        json.dump(results, f)
    print(f"{engine}: {len(results)} queries in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
