//! Log lines on stderr: sentences for people, colour only when allowed, JSON lines when asked.

use std::io::{BufRead as _, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};

/// A port on 127.0.0.1 where nothing listens (bound, then released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `domo` with none of the caller's `DOMO_*`, `RUST_LOG` or colour settings, and a scratch home.
fn domo(home: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_domo"));
    command.args(args);
    clean(&mut command, home);
    command
}

/// Runs from the workspace root without the caller's `DOMO_*`, `RUST_LOG` or colour settings, in a scratch home.
fn clean(command: &mut Command, home: &Path) {
    command.current_dir(crate::root()).stdin(Stdio::null());
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if key_text.starts_with("DOMO_") || ["RUST_LOG", "NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE"].contains(&&*key_text)
        {
            command.env_remove(key);
        }
    }
    command.env("HOME", home).env("XDG_CONFIG_HOME", home.join(".config"));
}

/// `domo datasets list` against a closed port with one retry; returns its stderr.
fn list_against_nothing(envs: &[(&str, &str)], args: &[&str]) -> String {
    let home = tempfile::tempdir().unwrap();
    let host = format!("http://127.0.0.1:{}", closed_port());
    let mut command = domo(home.path(), &["datasets", "list"]);
    command.args(args).env("DOMO_API_HOST", &host).env("DOMO_CLIENT_ID", "app");
    command.env("DOMO_CLIENT_SECRET", "s3cret-never-logged-55").env("DOMO_RETRIES", "1");
    for (key, value) in envs {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!stderr.contains("s3cret-never-logged-55"), "{stderr}");
    stderr
}

#[test]
fn retry_warnings_are_sentences_and_colour_obeys_no_color() {
    // CLICOLOR_FORCE stands in for a terminal: colour is allowed, and NO_COLOR still wins.
    let plain = list_against_nothing(&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")], &[]);
    let first = plain.lines().next().unwrap();
    assert!(
        first.starts_with("warning: retrying POST /oauth/token in ")
            && first.ends_with(" (attempt 2 of 2): cannot connect: Connection refused (os error 111)"),
        "{plain}"
    );
    assert!(!plain.contains('\u{1b}'), "NO_COLOR leaves no ANSI codes: {plain:?}");
    assert!(!plain.contains("request=") && !plain.contains("wait_ms"), "no key=value fields: {plain}");

    let forced = list_against_nothing(&[("CLICOLOR_FORCE", "1")], &[]);
    assert!(forced.starts_with("\u{1b}[1m\u{1b}[33mwarning: \u{1b}[0mretrying POST /oauth/token"), "{forced:?}");
    let piped = list_against_nothing(&[], &[]);
    assert!(piped.starts_with("warning: retrying") && !piped.contains('\u{1b}'), "no colour on a pipe: {piped:?}");
}

#[test]
fn log_format_json_writes_one_object_a_line_with_the_fields() {
    for (envs, args) in [(&[][..], &["--log-format", "json"][..]), (&[("DOMO_LOG_FORMAT", "json")][..], &[][..])] {
        let stderr = list_against_nothing(envs, args);
        let line = stderr.lines().next().unwrap();
        let json: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(json["level"], "warn", "{line}");
        assert_eq!(json["target"], "domo_http::client", "{line}");
        assert_eq!(json["fields"]["request"], "POST /oauth/token", "{line}");
        assert_eq!(json["fields"]["attempt"], 1, "{line}");
        assert!(json["message"].as_str().unwrap().starts_with("retrying POST /oauth/token in "), "{line}");
        assert!(json["time"].as_str().unwrap().ends_with('Z'), "{line}");
    }
}

#[test]
fn log_filters_come_from_domo_log_then_rust_log_and_a_bad_one_is_an_error() {
    let quiet = list_against_nothing(&[("DOMO_LOG", "error"), ("RUST_LOG", "warn")], &[]);
    assert!(!quiet.contains("retrying"), "DOMO_LOG wins: {quiet}");
    let rust = list_against_nothing(&[("RUST_LOG", "error")], &[]);
    assert!(!rust.contains("retrying"), "RUST_LOG filters when DOMO_LOG is unset: {rust}");

    let home = tempfile::tempdir().unwrap();
    let output = domo(home.path(), &["pdp", "matrix", crate::EXAMPLE]).env("DOMO_LOG", "domo_http=[").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with("error: DOMO_LOG is not a log filter such as `warn` or `domo_http=debug`: `domo_http=[`"),
        "{stderr}"
    );
    let output = domo(home.path(), &["pdp", "matrix", crate::EXAMPLE, "--log-format", "yaml"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("invalid value 'yaml' for '--log-format <FORMAT>'"), "{stderr}");
}

/// Starts `domo serve` with `envs`, sends one request without a token, stops it and returns its stderr.
fn serve_log(envs: &[(&str, &str)], args: &[&str]) -> String {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let mut serve = domo(home.path(), &["serve", "--port", "0", "--data-dir", data.to_str().unwrap()]);
    serve.args(args).envs(envs.iter().copied()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut server = serve.spawn().unwrap();
    let mut lines = std::io::BufReader::new(server.stdout.take().unwrap()).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("Domo API emulator listening on http://").map(str::to_owned))
        .unwrap_or_else(|| panic!("domo serve did not start"));
    // Keep reading: a closed stdout stops `domo serve` (as any command), mid-request if it comes late.
    let drain = std::thread::spawn(move || lines.map_while(Result::ok).count());
    let mut stream = TcpStream::connect(&url).unwrap();
    stream.write_all(b"GET /v1/datasets HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 401"), "{reply}");
    // SIGTERM, so that it stops as on Ctrl-C and its log is complete.
    Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    server.wait().unwrap();
    drain.join().unwrap();
    std::io::read_to_string(server.stderr.take().unwrap()).unwrap()
}

#[test]
fn serve_logs_requests_as_plain_lines_without_colour_under_no_color() {
    let stderr = serve_log(&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")], &[]);
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    let request = stderr.lines().find(|l| l.starts_with("GET /v1/datasets 401 ")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(request.ends_with(" ms"), "{request}");
    assert!(!stderr.contains("INFO") && !stderr.contains("domo_emulator::"), "no level names or targets: {stderr}");

    let json = serve_log(&[], &["--log-format", "json"]);
    let line = json.lines().find(|l| l.contains("GET /v1/datasets 401")).unwrap_or_else(|| panic!("{json}"));
    let value: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(value["level"], "info");
    assert_eq!(value["target"], "domo_emulator::requests");
}

/// Runs `command` (a shell command line) on a terminal, through util-linux's `script`; returns what the terminal showed.
fn on_a_terminal(command: &str, envs: &[(&str, &str)]) -> String {
    let home = tempfile::tempdir().unwrap();
    let mut script = Command::new("script");
    script.args(["-qec", command, "/dev/null"]);
    clean(&mut script, home.path());
    let output = script
        .envs(envs.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("util-linux `script` runs a command on a terminal: {e}"));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn on_a_terminal_log_lines_are_coloured_unless_no_color_is_set() {
    let domo = env!("CARGO_BIN_EXE_domo");
    let command = format!("{domo} datasets list --api-host http://127.0.0.1:{} --retries 1", closed_port());
    let creds = [("DOMO_CLIENT_ID", "app"), ("DOMO_CLIENT_SECRET", "pw")];
    let coloured = on_a_terminal(&command, &creds);
    assert!(coloured.contains("\u{1b}[1m\u{1b}[33mwarning: \u{1b}[0mretrying POST /oauth/token"), "{coloured:?}");
    let plain = on_a_terminal(&command, &[creds[0], creds[1], ("NO_COLOR", "1")]);
    assert!(plain.contains("warning: retrying POST /oauth/token") && !plain.contains('\u{1b}'), "{plain:?}");

    // domo serve's request lines: a request while it runs on the terminal, stopped by `timeout`.
    let data = tempfile::tempdir().unwrap();
    let port = closed_port();
    let serve = format!("timeout -s INT 3 {domo} serve --port {port} --data-dir {}", data.path().display());
    let request = std::thread::spawn(move || {
        for _ in 0..100 {
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
                stream.write_all(b"GET /v1/groups HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
                let _ = stream.read_to_end(&mut Vec::new());
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    });
    let shown = on_a_terminal(&serve, &[("NO_COLOR", "1")]);
    request.join().unwrap();
    assert!(shown.contains("GET /v1/groups 401 "), "{shown:?}");
    assert!(!shown.contains('\u{1b}'), "NO_COLOR leaves no ANSI codes on a terminal: {shown:?}");
}
