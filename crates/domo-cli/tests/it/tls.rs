//! `domo serve --tls` and `domo --ca-cert`: HTTPS with the emulator's own certificate, trusted by `domo` only when told.

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Command, Stdio};

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

/// Runs `domo` and returns its exit code and its stderr.
fn fails(command: &mut Command) -> (Option<i32>, String) {
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "it should have failed:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    (output.status.code(), stderr)
}

#[test]
fn serve_refuses_bad_tls_files_naming_the_file() {
    let temp = tempfile::tempdir().unwrap();
    let home = temp.path();
    let notes = home.join("notes.txt");
    std::fs::write(&notes, "not PEM\n").unwrap();
    let notes = notes.to_str().unwrap();
    let missing = home.join("missing.pem");
    let missing = missing.to_str().unwrap();
    let data = home.join("data");
    let data = data.to_str().unwrap();
    let check = |extra: &[&str], code: i32, expected: &str| {
        let mut serve = domo(home, &["serve", "--port", "0", "--data-dir", data]);
        let (got, stderr) = fails(serve.args(extra));
        assert_eq!(got, Some(code), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}\nlacks: {expected}");
    };
    check(&["--tls-cert", notes], 2, "the following required arguments were not provided:\n  --tls-key <PATH>");
    check(&["--tls-key", notes], 2, "--tls-cert <PATH>");
    check(
        &["--tls-cert", missing, "--tls-key", notes],
        2,
        &format!("cannot serve HTTPS with `{missing}`: no certificate could be read"),
    );
    check(
        &["--tls-cert", notes, "--tls-key", notes],
        2,
        &format!("cannot serve HTTPS with `{notes}`: the file holds no PEM certificate"),
    );
    // A refused start made no client: the state is as it was.
    // The emulator's database names the key of a generated client only once it holds one.
    for file in ["data/state.db", "data/state.db-wal"] {
        let state = std::fs::read(home.join(file)).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&state).contains("generated_client"), "{file} holds a client");
    }
}

#[test]
fn domo_trusts_serve_tls_only_through_ca_cert() {
    let temp = tempfile::tempdir().unwrap();
    let home = temp.path();
    let data = home.join("data");
    let mut serve = domo(home, &["serve", "--tls", "--port", "0", "--data-dir", data.to_str().unwrap()]);
    serve.args(["--directory", "examples/euler-party/directory.json"]);
    serve.env("DOMO_SERVE_CLIENT", "tls-app:tls-secret:1001").stdout(Stdio::piped()).stderr(Stdio::null());
    let mut server = serve.spawn().unwrap();
    let mut printed = String::new();
    for line in std::io::BufReader::new(server.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if line == "Ctrl-C stops it." {
            break;
        }
    }
    let url = printed.lines().find_map(|l| l.strip_prefix("Domo API emulator listening on ")).unwrap().to_owned();
    assert!(url.starts_with("https://127.0.0.1:"), "{printed}");
    let cert = data.join("tls/cert.pem");
    assert!(printed.contains(&format!("certificate: {}", cert.display())), "{printed}");
    assert!(printed.contains(&format!("DOMO_CA_CERT='{}'", cert.display())), "{printed}");
    assert!(printed.contains(&format!("curl -s --cacert '{}' -u 'tls-app:SECRET'", cert.display())), "{printed}");

    let auth_check = || {
        let mut command = domo(home, &["auth", "check", "--retries", "0"]);
        command.env("DOMO_API_HOST", &url).env("DOMO_CLIENT_ID", "tls-app").env("DOMO_CLIENT_SECRET", "tls-secret");
        command
    };
    // Not trusted by default: the certificate is the emulator's own.
    let (_, stderr) = fails(&mut auth_check());
    assert!(stderr.contains("TLS handshake failed") && stderr.contains("UnknownIssuer"), "{stderr}");
    // Trusted through the environment, the flag, or a profile.
    let output = auth_check().env("DOMO_CA_CERT", &cert).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success() && stdout.contains("acts as:   user 1001 `Leonhard Euler`"), "{stdout}");
    let output = auth_check().arg("--ca-cert").arg(&cert).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let profiles = home.join("profiles.toml");
    std::fs::write(&profiles, format!("[profiles.tls]\nca_cert = \"{}\"\n", cert.display())).unwrap();
    let output = auth_check().env("DOMO_CONFIG", &profiles).env("DOMO_PROFILE", "tls").output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    // Bad CA files are named.
    let missing = home.join("missing.pem");
    let (_, stderr) = fails(auth_check().env("DOMO_CA_CERT", &missing));
    assert!(stderr.contains(&format!("cannot read the CA certificate file `{}`", missing.display())), "{stderr}");
    let (_, stderr) = fails(auth_check().env("DOMO_CA_CERT", "examples/euler-party/data.csv"));
    assert!(stderr.contains("extra root certificates: no `BEGIN CERTIFICATE` block in the PEM text"), "{stderr}");

    server.kill().unwrap();
    server.wait().unwrap();
}
