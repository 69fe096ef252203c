//! `domo auth check`, configuration (flags, environment, profile file), secrets kept out of output, users and groups.

use super::support::{CLIENT, GUEST, GUEST_SECRET, Live, SECRET, json};

#[test]
fn auth_check_shows_who_the_credentials_act_as_and_never_the_secret() {
    let live = Live::start();
    let run = live.run(&["auth", "check"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains(&format!("api:       {}", live.url)), "{}", run.all());
    assert!(run.stdout.contains(&format!("client id: {CLIENT}")), "{}", run.all());
    assert!(run.stdout.contains("acts as:   user 1001 `Leonhard Euler` (Participant)"), "{}", run.all());
    assert!(run.stdout.contains("scopes:    data user"), "{}", run.all());
    assert!(!run.all().contains(SECRET));

    let identity = json(&live.ok(&["auth", "check", "--format", "json"]));
    assert_eq!(identity["userId"], 1001);
    assert_eq!(identity["userName"], "Leonhard Euler");
    assert!(!identity.to_string().contains(SECRET));

    // Flags win over the environment.
    let guest = live.ok(&["auth", "check", "--client-id", GUEST, "--client-secret", GUEST_SECRET]);
    assert!(guest.contains("acts as:   user 27 `DomoSupport`"), "{guest}");
}

#[test]
fn a_wrong_secret_fails_with_the_cause_and_without_the_secret() {
    let live = Live::start();
    let wrong = "wrong-secret-5e5e5e";
    let run = live.run(&["auth", "check", "--client-secret", wrong]);
    run.fails_with("error: POST /oauth/token: Domo answered 401");
    assert!(!run.all().contains(wrong) && !run.all().contains(SECRET), "{}", run.all());

    let run = live.run(&["datasets", "list", "--client-secret", wrong]);
    run.fails_with("401");
    assert!(!run.all().contains(wrong), "{}", run.all());
}

#[test]
fn missing_credentials_and_hosts_are_explained() {
    let live = Live::start();
    let mut command = live.command(&["auth", "check"]);
    command.env_remove("DOMO_CLIENT_ID").env_remove("DOMO_CLIENT_SECRET");
    super::support::Run::of(command.output().unwrap())
        .fails_with("no credentials: set DOMO_CLIENT_ID and DOMO_CLIENT_SECRET");

    let mut command = live.command(&["auth", "check"]);
    command.env_remove("DOMO_CLIENT_SECRET");
    super::support::Run::of(command.output().unwrap()).fails_with("a client id but no client secret");

    live.run(&["auth", "check", "--api-host", "http://example.invalid:1"])
        .fails_with("plain http is allowed only for a loopback host");
}

#[test]
fn help_never_shows_secret_values_from_the_environment() {
    let live = Live::start();
    let run = live.run(&["datasets", "--help"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("DOMO_CLIENT_SECRET"), "{}", run.stdout);
    assert!(!run.stdout.contains(SECRET), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("DOMO_CLIENT_ID={CLIENT}")), "{}", run.stdout);
}

#[test]
fn a_profile_file_configures_host_credentials_timeouts_and_retries() {
    let live = Live::start();
    let config = live.path("profiles.toml");
    std::fs::write(
        &config,
        format!(
            "default_profile = \"guest\"\n\n[profiles.emulator]\napi_host = \"{}\"\nclient_id = \"{CLIENT}\"\n\
             client_secret = \"{SECRET}\"\ntimeout = \"30s\"\nretries = 1\n\n[profiles.guest]\napi_host = \"{}\"\n\
             client_id = \"{GUEST}\"\nclient_secret = \"{GUEST_SECRET}\"\n",
            live.url, live.url
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let without_env = |args: &[&str]| {
        let mut command = live.command(args);
        command.env_remove("DOMO_API_HOST").env_remove("DOMO_CLIENT_ID").env_remove("DOMO_CLIENT_SECRET");
        super::support::Run::of(command.output().unwrap())
    };
    let run = without_env(&["auth", "check", "--config", config, "--profile", "emulator"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("profile:   emulator") && run.stdout.contains("user 1001"), "{}", run.all());
    assert!(!run.all().contains(SECRET));

    // The default profile, and a warning because others can read the secret.
    std::fs::set_permissions(config, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let run = without_env(&["auth", "check", "--config", config]);
    assert!(run.stdout.contains("user 27 `DomoSupport`"), "{}", run.all());
    assert!(run.stderr.contains("holds a secret and others can read it"), "{}", run.all());
    std::fs::set_permissions(config, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let run = without_env(&["auth", "check", "--config", config]);
    assert!(!run.stderr.contains("others can read it"), "{}", run.all());

    // The default place: $XDG_CONFIG_HOME/domo/profiles.toml.
    let home_config = live.path("home/.config/domo/profiles.toml");
    std::fs::create_dir_all(home_config.parent().unwrap()).unwrap();
    std::fs::copy(config, &home_config).unwrap();
    let run = without_env(&["auth", "check", "--profile", "emulator"]);
    assert!(run.stdout.contains("user 1001"), "{}", run.all());

    without_env(&["auth", "check", "--config", config, "--profile", "prod"]).fails_with("no profile `prod` in");
    std::fs::write(&home_config, format!("[profiles.emulator]\nclient_secret = \"{SECRET}\"\nbogus = 1\n")).unwrap();
    let run = without_env(&["auth", "check", "--profile", "emulator"]);
    run.fails_with("is not valid (line 3)");
    assert!(!run.all().contains(SECRET), "{}", run.all());
}

#[test]
fn users_and_groups_are_listed_as_tables_and_json() {
    let live = Live::start();
    let table = live.ok(&["users", "list"]);
    assert!(
        table.contains("Ada Lovelace") && table.contains("noether@example.com") && table.contains("6 users"),
        "{table}"
    );
    let users = json(&live.ok(&["users", "list", "--format", "json"]));
    assert_eq!(users.as_array().unwrap().len(), 6);
    assert_eq!(users[0]["id"], 1001);

    let groups = live.ok(&["groups", "list"]);
    assert!(groups.contains("1324037627") && groups.contains("Party Planners"), "{groups}");
    let groups = json(&live.ok(&["groups", "list", "--format", "json"]));
    assert_eq!(groups[0]["name"], "Party Planners");

    let members = live.ok(&["groups", "members", "1324037627"]);
    assert!(members.contains("Ada Lovelace") && members.contains("Sophie Germain"), "{members}");
    let members = json(&live.ok(&["groups", "members", "1324037627", "--format", "json"]));
    assert_eq!(members, serde_json::json!([{"id": 31, "name": "Ada Lovelace"}, {"id": 35, "name": "Sophie Germain"}]));

    live.run(&["groups", "members", "999"]).fails_with("404");
}

#[test]
fn timeouts_and_retries_follow_the_flags() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    // A server that accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let addr = listener.local_addr().unwrap();
    let accepted = std::sync::Arc::new(AtomicUsize::new(0));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (counter, stopping) = (accepted.clone(), stop.clone());
    let server = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            if stopping.load(Ordering::SeqCst) {
                break;
            }
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    let live = Live::start();
    let silent = |args: &[&str]| {
        let mut command = live.command(args);
        command.env("DOMO_API_HOST", &url).env("DOMO_TIMEOUT", "300ms");
        super::support::Run::of(command.output().unwrap())
    };
    // The accepting thread may lag behind the connections the kernel took.
    let settled = |expected: usize| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while accepted.load(Ordering::SeqCst) < expected && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        accepted.load(Ordering::SeqCst)
    };
    silent(&["auth", "check"]).fails_with("error: POST /oauth/token timed out after 300ms");
    assert_eq!(settled(1), 1, "DOMO_RETRIES=0: one attempt");
    let started = std::time::Instant::now();
    silent(&["auth", "check", "--retries", "2", "--timeout", "200ms"]).fails_with("timed out after 200ms");
    assert_eq!(settled(4), 4, "two retries: three attempts");
    assert!(started.elapsed() >= std::time::Duration::from_millis(600));
    stop.store(true, Ordering::SeqCst);
    drop(std::net::TcpStream::connect(addr));
    server.join().unwrap();
}

#[test]
fn a_ready_access_token_works_and_is_never_printed() {
    let live = Live::start();
    let credentials = domo_http::Credentials::client_credentials(CLIENT, SECRET, [domo_model::Scope::Data]);
    let client = domo_http::Client::new(&live.url, credentials).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let token = runtime.block_on(client.authenticate()).unwrap().unwrap().access_token;
    let token = token.expose();

    // The token flag wins over the client id and secret in the environment.
    let run = live.run(&["auth", "check", "--access-token", token]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("token:     a ready access token (valid)"), "{}", run.all());
    assert!(!run.all().contains(token) && !run.all().contains(SECRET), "{}", run.all());
    let mut command = live.command(&["datasets", "list", "--format", "json"]);
    command.env_remove("DOMO_CLIENT_ID").env_remove("DOMO_CLIENT_SECRET").env("DOMO_ACCESS_TOKEN", token);
    let run = super::support::Run::of(command.output().unwrap());
    assert_eq!((run.code, run.stdout.trim()), (0, "[]"), "{}", run.all());

    let run = live.run(&["auth", "check", "--access-token", "not-a-token-4242"]);
    run.fails_with("401");
    assert!(!run.all().contains("not-a-token-4242"), "{}", run.all());
}
