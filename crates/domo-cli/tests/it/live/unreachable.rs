//! An API that cannot be reached: the error says which host was tried, where it came from, and what to do.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::process::{Command, Stdio};

/// `domo ARGS` with none of the caller's `DOMO_*`, a scratch home, and demo credentials; returns exit code and stderr.
fn domo(args: &[&str], envs: &[(&str, &str)]) -> (Option<i32>, String) {
    let home = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_domo"));
    command.args(args).current_dir(crate::root()).stdin(Stdio::null());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("DOMO_") {
            command.env_remove(key);
        }
    }
    command.env("HOME", home.path()).env("XDG_CONFIG_HOME", home.path().join(".config")).env("NO_COLOR", "1");
    command.env("DOMO_CLIENT_ID", "app").env("DOMO_CLIENT_SECRET", "s3cret-not-in-hints-8").env("DOMO_RETRIES", "0");
    let output = command.envs(envs.iter().copied()).output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!stderr.contains("s3cret-not-in-hints-8"), "{stderr}");
    (output.status.code(), stderr)
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The last line of stderr, which holds the hint.
fn hint(stderr: &str) -> &str {
    stderr.lines().last().unwrap_or_default()
}

#[test]
fn a_server_that_is_down_gets_a_hint_naming_the_host_its_origin_and_domo_serve() {
    let port = closed_port();
    let host = format!("http://127.0.0.1:{port}");
    let (code, stderr) = domo(&["datasets", "list"], &[("DOMO_API_HOST", &host)]);
    assert_eq!(code, Some(2));
    assert!(stderr.starts_with("error: POST /oauth/token: cannot connect\n"), "{stderr}");
    assert_eq!(
        hint(&stderr),
        format!(
            "hint: nothing answered at {host} (from DOMO_API_HOST); is the emulator running? Start it with \
             `domo serve` (it prints the URL to use), or fix DOMO_API_HOST"
        )
    );

    let (code, stderr) = domo(&["auth", "check", "--api-host", &host], &[]);
    assert_eq!(code, Some(2));
    assert!(hint(&stderr).contains("(from --api-host)") && hint(&stderr).ends_with("or fix --api-host"), "{stderr}");

    let config = tempfile::tempdir().unwrap();
    let file = config.path().join("profiles.toml");
    std::fs::write(&file, format!("[profiles.emu]\napi_host = \"{host}\"\n")).unwrap();
    let (code, stderr) = domo(&["users", "list", "--profile", "emu"], &[("DOMO_CONFIG", file.to_str().unwrap())]);
    assert_eq!(code, Some(2));
    assert!(
        hint(&stderr).contains(&format!("(from `api_host` of profile `emu` in `{}`)", file.display()))
            && hint(&stderr).ends_with("or fix the profile's `api_host`"),
        "{stderr}"
    );
}

/// A server on 127.0.0.1 that answers every request with a plain-HTTP 400, as `domo serve` without --tls speaks.
fn plain_http_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    addr
}

#[test]
fn a_bare_host_that_speaks_plain_http_gets_the_http_hint() {
    let addr = plain_http_server();
    let (code, stderr) = domo(&["datasets", "list"], &[("DOMO_API_HOST", &addr.to_string())]);
    assert_eq!(code, Some(2));
    assert!(stderr.starts_with("error: POST /oauth/token: TLS handshake failed\n"), "{stderr}");
    assert_eq!(
        hint(&stderr),
        format!(
            "hint: `{addr}` has no scheme, so https:// was used, but https://{addr} (from DOMO_API_HOST) answers \
             in plain HTTP, as `domo serve` does without --tls: set DOMO_API_HOST to http://{addr}"
        )
    );
}

#[test]
fn an_answer_from_the_server_gets_no_connection_hint() {
    let addr = plain_http_server();
    let (code, stderr) = domo(&["datasets", "list"], &[("DOMO_API_HOST", &format!("http://{addr}"))]);
    assert_eq!(code, Some(2));
    assert!(stderr.starts_with("error: POST /oauth/token: Domo answered 400"), "{stderr}");
    assert!(!stderr.contains("hint:"), "{stderr}");
}
