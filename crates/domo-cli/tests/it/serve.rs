//! `domo serve`: API clients from a file and from the environment, so that secrets stay out of `ps`.

use std::io::BufRead as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Stdio};

const FILE_SECRET: &str = "file-s3cret-never-shown-41";
const ENV_SECRET: &str = "env-s3cret-never-shown-97";

/// `domo` from the workspace root, with none of the caller's `DOMO_*` and a scratch home.
fn domo(home: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_domo"));
    command.args(args).current_dir(crate::root()).stdin(Stdio::null());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("DOMO_") {
            command.env_remove(key);
        }
    }
    command.env("HOME", home).env("XDG_CONFIG_HOME", home.join(".config")).env("NO_COLOR", "1");
    command
}

fn write_client_file(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn serve_takes_clients_from_a_file_and_the_environment_and_keeps_their_secrets_out_of_ps_and_output() {
    let temp = tempfile::tempdir().unwrap();
    let clients = temp.path().join("clients.txt");
    write_client_file(&clients, &format!("# the owner of the example\n\nfile-app:{FILE_SECRET}:1001\n"), 0o600);
    let data = temp.path().join("data");
    let (clients, data) = (clients.to_str().unwrap(), data.to_str().unwrap());
    let directory = "examples/euler-party/directory.json";
    let mut serve = domo(temp.path(), &["serve", "--port", "0", "--data-dir", data, "--directory", directory]);
    serve.args(["--client-file", clients]).env("DOMO_SERVE_CLIENT", format!("env-app:{ENV_SECRET}:27"));
    let mut server = serve.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", server.id())).unwrap_or_default();
    let mut lines = std::io::BufReader::new(server.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line == "Ctrl-C stops it.";
        printed.push(line);
        if done {
            break;
        }
    }
    let printed = printed.join("\n");
    let url = printed
        .lines()
        .find_map(|l| l.strip_prefix("Domo API emulator listening on "))
        .unwrap_or_else(|| panic!("domo serve did not start:\n{printed}"))
        .to_owned();
    assert!(printed.contains("client `file-app` acts as user 1001"), "{printed}");
    assert!(printed.contains("client `env-app` acts as user 27"), "{printed}");

    let check = |id: &str, secret: &str, acts_as: &str| {
        let output = domo(temp.path(), &["auth", "check"])
            .env("DOMO_API_HOST", &url)
            .env("DOMO_CLIENT_ID", id)
            .env("DOMO_CLIENT_SECRET", secret)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains(acts_as),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    check("file-app", FILE_SECRET, "acts as:   user 1001 `Leonhard Euler`");
    check("env-app", ENV_SECRET, "acts as:   user 27 `DomoSupport`");

    server.kill().unwrap();
    server.wait().unwrap();
    let stderr = std::io::read_to_string(server.stderr.take().unwrap()).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline);
    for secret in [FILE_SECRET, ENV_SECRET] {
        assert!(!cmdline.contains(secret) && !printed.contains(secret) && !stderr.contains(secret), "{secret} shown");
    }
    assert!(!stderr.contains("--client` shows the client secret"), "no warning without --client: {stderr}");
}

#[test]
fn serve_refuses_bad_client_files_and_entries_naming_the_place_never_the_secret() {
    let temp = tempfile::tempdir().unwrap();
    let file = temp.path().join("clients.txt");
    let data = temp.path().join("data");
    let shown = file.display().to_string();
    let check = |text: &str, mode: u32, env: Option<&str>, expected: &str| {
        write_client_file(&file, text, mode);
        let mut serve = domo(temp.path(), &["serve", "--port", "0", "--data-dir", data.to_str().unwrap()]);
        serve.args(["--client-file", file.to_str().unwrap()]);
        if let Some(env) = env {
            serve.env("DOMO_SERVE_CLIENT", env);
        }
        let output = serve.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}\nlacks {expected}");
        assert!(!stderr.contains("hunter2") && output.stdout.is_empty(), "{stderr}");
    };
    let not_shown = "expected `ID:SECRET:USER_ID` with a numeric user id (the entry is not shown: it holds a secret)";
    check(
        "app:hunter2:1\n",
        0o644,
        None,
        &format!(
            "`{shown}` holds client secrets and other users may read or write it (mode 644); run `chmod 600 {shown}`"
        ),
    );
    check("app:hunter2:1\n", 0o620, None, "(mode 620)");
    check("# ok\napp:pw:1\nhunter2\n", 0o600, None, &format!("`{shown}` line 3: {not_shown}"));
    check("app:hunter2:Bob\n", 0o600, None, &format!("`{shown}` line 1: {not_shown}"));
    check("app:pw:1\n", 0o600, Some("env:x:2,hunter2:27"), &format!("DOMO_SERVE_CLIENT entry 2: {not_shown}"));
    check("app:pw:1\n", 0o600, Some("app:hunter2:2"), "the client id `app` is given twice");
    std::fs::remove_file(&file).unwrap();
    let output =
        domo(temp.path(), &["serve", "--port", "0", "--client-file", file.to_str().unwrap()]).output().unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains(&format!("cannot read `{shown}`")));
}

#[test]
fn serve_warns_that_a_client_flag_shows_its_secret_in_ps() {
    let temp = tempfile::tempdir().unwrap();
    // A port that is taken makes serve stop right after reading its options.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let data = temp.path().join("data");
    let output = domo(temp.path(), &["serve", "--port", &port, "--data-dir", data.to_str().unwrap()])
        .args(["--client", "app:pw:1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "warning: `--client` shows the client secret in the process list; prefer DOMO_SERVE_CLIENT or --client-file"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("cannot listen on"), "{stderr}");
}

#[test]
fn serve_help_names_the_safe_forms_and_never_shows_the_environment_s_secret() {
    let temp = tempfile::tempdir().unwrap();
    let output = domo(temp.path(), &["serve", "--help"])
        .env("DOMO_SERVE_CLIENT", format!("app:{ENV_SECRET}:1"))
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(output.status.success(), "{help}");
    assert!(help.contains("DOMO_SERVE_CLIENT") && help.contains("--client-file <FILE>"), "{help}");
    assert!(help.contains("prefer DOMO_SERVE_CLIENT or --client-file"), "{help}");
    assert!(!help.contains(ENV_SECRET), "{help}");
}

/// Starts `serve`, reads its start-up lines, and returns the process and those lines.
fn start(mut serve: Command) -> (std::process::Child, String) {
    let mut server = serve.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut printed = Vec::new();
    for line in std::io::BufReader::new(server.stdout.take().unwrap()).lines().map_while(Result::ok) {
        let done = line == "Ctrl-C stops it.";
        printed.push(line);
        if done {
            break;
        }
    }
    (server, printed.join("\n"))
}

/// Stops a server as Ctrl-C would.
fn stop(mut server: std::process::Child) {
    Command::new("kill").args(["-INT", &server.id().to_string()]).status().unwrap();
    assert!(server.wait().unwrap().success());
}

#[test]
fn serve_keeps_the_directory_but_not_the_clients_given_at_a_start() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let data_arg = data.to_str().unwrap();
    let directory = "examples/euler-party/directory.json";
    let mut first = domo(temp.path(), &["serve", "--port", "0", "--data-dir", data_arg, "--directory", directory]);
    first.env("DOMO_SERVE_CLIENT", format!("env-app:{ENV_SECRET}:1001"));
    let (server, printed) = start(first);
    assert!(printed.contains(&format!("directory: `{directory}` (kept in the data folder)")), "{printed}");
    assert!(printed.contains("client `env-app` acts as user 1001 (for this start only: clients are not kept)"));
    stop(server);
    // The emulator's database (and its write-ahead log, if one is left) holds text as is.
    let mut state = std::fs::read(data.join("state.db")).unwrap();
    state.extend(std::fs::read(data.join("state.db-wal")).unwrap_or_default());
    assert!(!String::from_utf8_lossy(&state).contains(ENV_SECRET), "a given client's secret is never written to disk");
    let mode = std::fs::metadata(data.join("state.db")).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "the state, which holds the generated client's secret, is private: {mode:o}");

    let (server, printed) = start(domo(temp.path(), &["serve", "--port", "0", "--data-dir", data_arg]));
    assert!(printed.contains("directory: the one kept in the data folder"), "{printed}");
    let url = printed.lines().find_map(|l| l.strip_prefix("Domo API emulator listening on ")).unwrap().to_owned();
    let line = |prefix: &str| printed.lines().find_map(|l| l.strip_prefix(prefix)).unwrap().trim().to_owned();
    let (id, secret) = (line("client id:"), line("client secret:"));
    let run = |id: &str, secret: &str, args: &[&str]| {
        domo(temp.path(), args)
            .env("DOMO_API_HOST", &url)
            .env("DOMO_CLIENT_ID", id)
            .env("DOMO_CLIENT_SECRET", secret)
            .env("DOMO_RETRIES", "0")
            .output()
            .unwrap()
    };
    let left_out = run("env-app", ENV_SECRET, &["auth", "check"]);
    assert_eq!(left_out.status.code(), Some(2), "a client left out of a restart is no longer let in");
    let users = run(&id, &secret, &["users", "list"]);
    let users_text = String::from_utf8_lossy(&users.stdout);
    assert!(users.status.success() && users_text.contains("Leonhard Euler"), "the directory was kept: {users_text}");
    stop(server);
}

#[test]
fn serve_ephemeral_cannot_be_given_a_data_folder() {
    let temp = tempfile::tempdir().unwrap();
    let output = domo(temp.path(), &["serve", "--ephemeral", "--data-dir", "x"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the argument '--ephemeral' cannot be used with '--data-dir <DIR>'"), "{stderr}");
    assert!(!temp.path().join("x").exists());
}
