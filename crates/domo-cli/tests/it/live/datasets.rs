//! `domo datasets …` and `domo data import|export` (plain, gzip, header, append, streams) against the emulator.

use super::support::{EULER_CSV, Live, json};

#[test]
fn datasets_are_created_listed_shown_updated_and_deleted() {
    let live = Live::start();
    let schema = live.path("schema.json");
    std::fs::write(&schema, r#"{"columns": [{"type": "LONG", "name": "n"}, {"type": "STRING", "name": "word"}]}"#)
        .unwrap();
    let numbers = live.ok(&["datasets", "create", "--name", "Numbers", "--schema", schema.to_str().unwrap()]);
    let numbers = numbers.trim();
    // A dataset.json works as a schema file too.
    let party = json(&live.ok(&[
        "datasets",
        "create",
        "--name",
        "Euler Party",
        "--schema",
        "examples/euler-party/dataset.json",
        "--format",
        "json",
    ]));
    assert_eq!(party["schema"]["columns"][1]["name"], "Attending");
    let inferred = live.run(&["datasets", "create", "--name", "Guests", "--infer-schema", EULER_CSV]);
    assert!(
        inferred
            .stderr
            .contains("inferred schema from `examples/euler-party/data.csv`: Friend STRING, Attending STRING"),
        "{}",
        inferred.all()
    );

    let table = live.ok(&["datasets", "list"]);
    assert!(table.contains("Numbers") && table.contains("Euler Party") && table.contains("3 DataSets"), "{table}");
    let named = json(&live.ok(&["datasets", "list", "--name-like", "EULER", "--format", "json"]));
    assert_eq!(named.as_array().unwrap().len(), 1);
    let sorted = json(&live.ok(&["datasets", "list", "--sort", "name", "--limit", "2", "--format", "json"]));
    let names: Vec<&str> = sorted.as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Euler Party", "Guests"]);
    live.run(&["datasets", "list", "--sort", "sideways"]).fails_with("invalid value 'sideways'");

    let shown = live.ok(&["datasets", "get", numbers]);
    assert!(
        shown.contains("name:        Numbers") && shown.contains("LONG") && shown.contains("pdp:         disabled"),
        "{shown}"
    );
    let renamed = json(&live.ok(&[
        "datasets",
        "update",
        numbers,
        "--name",
        "Counting",
        "--description",
        "1 2 3",
        "--format",
        "json",
    ]));
    assert_eq!((renamed["name"].as_str(), renamed["description"].as_str()), (Some("Counting"), Some("1 2 3")));
    live.run(&["datasets", "update", numbers]).fails_with("nothing to update");

    // No terminal on stdin and no --yes: nothing is deleted.
    live.run(&["datasets", "delete", numbers])
        .fails_with("refusing without confirmation because stdin is not a terminal; pass --yes");
    live.ok(&["datasets", "get", numbers]);
    // Declined at the prompt: nothing is deleted, and that is not a success.
    let (code, shown) = super::plan::on_terminal(&live, &["datasets", "delete", numbers], "n\n");
    assert_eq!(code, 1, "{shown}");
    assert!(shown.contains("delete cancelled: nothing deleted"), "{shown}");
    live.ok(&["datasets", "get", numbers]);
    let run = live.run(&["datasets", "delete", numbers, "--yes"]);
    assert!(run.stderr.contains("deleted DataSet"), "{}", run.all());
    live.run(&["datasets", "get", numbers]).fails_with("it was deleted (Domo answered with `deleted: true`)");
}

#[test]
fn data_is_imported_and_exported_with_header_append_and_gzip() {
    let live = Live::start();
    let id = live.euler_party();
    let out = live.path("out.csv");
    let out_arg = out.to_str().unwrap();
    live.ok(&["data", "export", &id, "-o", out_arg, "--header"]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), std::fs::read_to_string(crate::root().join(EULER_CSV)).unwrap());
    let stdout = live.ok(&["data", "export", &id]);
    assert_eq!(stdout.lines().count(), 6);
    assert_eq!(stdout.lines().next(), Some("Pythagoras,FALSE"));

    let more = live.path("more.csv");
    std::fs::write(&more, "Leonhard Euler,TRUE\n\"Bernoulli, Daniel\",FALSE\n").unwrap();
    live.ok(&["data", "import", &id, more.to_str().unwrap(), "--append", "--gzip"]);
    let all = live.ok(&["data", "export", &id]);
    assert_eq!(all.lines().count(), 8, "{all}");
    assert!(all.ends_with("\"Bernoulli, Daniel\",FALSE\n"), "{all}");
    live.ok(&["data", "import", &id, more.to_str().unwrap()]);
    assert_eq!(live.ok(&["data", "export", &id]).lines().count(), 2);

    // Mistakes are caught before anything is sent, with the message a person needs.
    let wrong = live.path("wrong.csv");
    std::fs::write(&wrong, "Name,Coming\nx,y\n").unwrap();
    live.run(&["data", "import", &id, wrong.to_str().unwrap(), "--header"])
        .fails_with("does not match the DataSet's schema: expected `Friend,Attending`, found `Name,Coming`");
    std::fs::write(&wrong, "a,b,c\n").unwrap();
    live.run(&["data", "import", &id, wrong.to_str().unwrap()])
        .fails_with("has 3 fields but the DataSet has 2 columns");
    live.run(&["data", "import", &id, "no-such.csv"]).fails_with("cannot read `no-such.csv`");
    assert_eq!(live.ok(&["data", "export", &id]).lines().count(), 2, "nothing changed");
}

#[test]
fn the_header_row_is_decided_from_the_schema_and_said() {
    let live = Live::start();
    let id = live.euler_party();
    let count = || live.ok(&["data", "export", &id]).lines().count();
    // A first row of the column names is a header, left out.
    let run = live.run(&["data", "import", &id, EULER_CSV]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains(&format!(
            "`{EULER_CSV}` starts with the DataSet's column names: its first row is a header and is left out \
             (the server decides the same way)"
        )),
        "{}",
        run.all()
    );
    assert_eq!(count(), 6);
    // Any other first row is data.
    let rows = live.path("rows.csv");
    std::fs::write(&rows, "Pascal,TRUE\nFermat,FALSE\n").unwrap();
    let run = live.run(&["data", "import", &id, rows.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains(
            "does not start with the DataSet's column names (`Friend,Attending`): every row is imported as data \
             (--header if its first row is a header)"
        ),
        "{}",
        run.all()
    );
    assert_eq!(count(), 2);
    // Forced either way.
    // The server drops a first row of the column names too, so it cannot be forced in as data.
    live.run(&["data", "import", &id, EULER_CSV, "--no-header"]).fails_with(&format!(
        "the first row of `{EULER_CSV}` is the DataSet's column names, which the server takes for a header row and \
         leaves out: it cannot be imported as data; nothing was sent"
    ));
    assert_eq!(count(), 2, "nothing changed");
    live.ok(&["data", "import", &id, EULER_CSV, "--header"]);
    assert_eq!(count(), 6, "the header left out");
    live.run(&["data", "import", &id, EULER_CSV, "--header", "--no-header"]).fails_with("cannot be used with");
    // A header with a typo is neither taken for the header nor slipped in as a row.
    std::fs::write(&rows, "friend,Atending\nPascal,TRUE\n").unwrap();
    live.run(&["data", "import", &id, rows.to_str().unwrap()]).fails_with(&format!(
        "the first row of `{}` (`friend,Atending`) looks like a header but is not the DataSet's column names \
         (`Friend,Attending`): fix the names and it is left out, or pass --no-header to import it as data; nothing \
         was sent",
        rows.display()
    ));
    assert_eq!(count(), 6, "nothing changed");
}

#[test]
fn a_failed_export_leaves_no_file_behind_and_the_old_one_intact() {
    let live = Live::start();
    let dir = live.path("exports");
    std::fs::create_dir_all(&dir).unwrap();
    let target = dir.join("gone.csv");
    live.run(&["data", "export", "no-such-dataset", "-o", target.to_str().unwrap()]).fails_with("404");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "no file and no temporary file");

    // A server that promises a megabyte and hangs up after ten kilobytes (one attempt: no retries).
    use std::io::{BufRead as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 2 {
            line.clear();
        }
        let mut stream = stream;
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: 1000000\r\n\r\n";
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&[b'x'; 10_000]).unwrap();
    });
    std::fs::write(&target, "the previous export\n").unwrap();
    let mut command = live.command(&["data", "export", "d1", "-o", target.to_str().unwrap()]);
    command.env("DOMO_API_HOST", &url).env("DOMO_ACCESS_TOKEN", "t");
    let run = super::support::Run::of(command.output().unwrap());
    run.fails_with("cut short");
    server.join().unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "the previous export\n", "the old file is untouched");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file is left");
}

#[test]
fn stream_imports_upload_parts_in_parallel() {
    let live = Live::start();
    let id = live.ok(&["datasets", "create", "--name", "Streamed", "--infer-schema", EULER_CSV, "--stream"]);
    let id = id.trim();
    let file = live.path("rows.csv");
    let mut csv = String::from("Friend,Attending\n");
    for n in 0..2000 {
        csv.push_str(&format!("\"Guest, number {n}\",{}\n", if n % 3 == 0 { "TRUE" } else { "FALSE" }));
    }
    std::fs::write(&file, &csv).unwrap();
    let run = live.run(&[
        "data",
        "import",
        id,
        file.to_str().unwrap(),
        "--stream",
        "--header",
        "--part-size",
        "4K",
        "--parallel",
        "3",
        "--gzip",
    ]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stderr.contains("parts through stream"), "{}", run.all());
    let exported = live.ok(&["data", "export", id, "--header"]);
    assert_eq!(exported, csv);

    live.run(&["data", "import", id, file.to_str().unwrap(), "--stream", "--header", "--append"])
        .fails_with("is set to REPLACE, but this import would append");
    let plain = live.euler_party();
    live.run(&["data", "import", &plain, file.to_str().unwrap(), "--stream", "--header"])
        .fails_with("has no stream: the Streams API uploads only to DataSets created as streams");
}

#[test]
fn a_progress_bar_with_bytes_and_rate_shows_only_on_a_terminal() {
    let live = Live::start();
    let id = live.ok(&["datasets", "create", "--name", "Guests", "--infer-schema", EULER_CSV]);
    let id = id.trim();
    let file = live.path("guests.csv");
    let rows: String = (0..200_000).map(|n| format!("Guest {n},TRUE\n")).collect();
    std::fs::write(&file, rows).unwrap();
    let plain = live.run(&["data", "import", id, file.to_str().unwrap()]);
    assert_eq!(plain.code, 0, "{}", plain.all());
    assert!(!plain.stderr.contains("importing guests.csv"), "no bar without a terminal: {}", plain.all());

    // `script` runs the command on a pseudo-terminal.
    let domo = env!("CARGO_BIN_EXE_domo");
    let command = live.command(&[]);
    let mut script = std::process::Command::new("script");
    script
        .args(["-qec", &format!("{domo} data import {id} {}", file.display()), "/dev/null"])
        .current_dir(crate::root())
        .stdin(std::process::Stdio::null());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => script.env(key, value),
            None => script.env_remove(key),
        };
    }
    let shown = super::support::Run::of(script.output().unwrap());
    assert_eq!(shown.code, 0, "{}", shown.all());
    let screen = format!("{}{}", shown.stdout, shown.stderr);
    assert!(screen.contains("importing guests.csv ["), "{screen}");
    assert!(screen.contains("/s, "), "a rate: {screen}");
    assert!(screen.contains("KiB/") || screen.contains("MiB/"), "bytes: {screen}");
}

#[test]
fn listings_page_through_more_than_fifty_datasets() {
    let live = Live::start();
    let client = live.client();
    live.block_on(async {
        for n in 0..55 {
            let create = domo_model::DatasetCreate {
                name: format!("Table {n:02}"),
                description: None,
                rows: None,
                schema: domo_model::Schema {
                    columns: vec![domo_model::Column::new(domo_model::ColumnType::Long, "n")],
                },
            };
            client.create_dataset(&create).await.unwrap();
        }
    });
    let all = json(&live.ok(&["datasets", "list", "--format", "json"]));
    assert_eq!(all.as_array().unwrap().len(), 55);
    let some = json(&live.ok(&["datasets", "list", "--limit", "52", "--sort", "name", "--format", "json"]));
    let names: Vec<&str> = some.as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!((names.len(), names[0], names[51]), (52, "Table 00", "Table 51"));
    let rest = json(&live.ok(&["datasets", "list", "--offset", "50", "--sort", "name", "--format", "json"]));
    let names: Vec<&str> = rest.as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Table 50", "Table 51", "Table 52", "Table 53", "Table 54"]);
    assert!(live.ok(&["datasets", "list", "--name-like", "table 5"]).contains("5 DataSets"));
}
