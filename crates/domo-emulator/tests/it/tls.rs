//! HTTPS: the self-signed certificate made on first start and reused, one's
//! own PEM files, the errors for bad ones, and `domo-http` trusting the
//! certificate as an extra root.

use std::path::Path;

use domo_emulator::{Emulator, StartError, Tls};
use domo_http::{Client, Credentials};
use domo_model::{Scope, UserId};

async fn start_tls(data_dir: &Path, tls: Tls) -> Result<domo_emulator::RunningEmulator, StartError> {
    Emulator::builder().data_dir(data_dir).client("app", "secret", UserId(1)).tls(tls).start().await
}

fn client(base: &str, extra_root: Option<&[u8]>) -> Client {
    let credentials = Credentials::client_credentials("app", "secret", [Scope::Data, Scope::User]);
    let mut builder = Client::builder(credentials).base_url(base);
    if let Some(pem) = extra_root {
        builder = builder.extra_root_certificates(pem);
    }
    builder.build().unwrap()
}

async fn users(client: Client) -> Result<Vec<domo_model::User>, domo_http::Error> {
    use futures_util::TryStreamExt as _;
    client.list_users().try_collect().await
}

/// The whole error chain, as the CLI prints it.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn a_self_signed_certificate_is_made_once_kept_and_trusted_as_an_extra_root() {
    let data = tempfile::tempdir().unwrap();
    let server = start_tls(data.path(), Tls::SelfSigned).await.unwrap();
    let base = server.base_url();
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    let cert_path = server.tls_cert().unwrap().to_owned();
    assert_eq!(cert_path, data.path().join("tls/cert.pem"));
    let cert = std::fs::read(&cert_path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(data.path().join("tls/key.pem")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the key is readable by its owner only");
    }

    // Trusted as an extra root, the client works; without it the handshake fails and says why.
    let listed = users(client(&base, Some(&cert))).await.unwrap();
    assert!(listed.iter().any(|u| u.id == UserId(1)));
    let err = users(client(&base, None)).await.unwrap_err();
    assert!(chain(&err).contains("certificate"), "{}", chain(&err));
    // `localhost` is a name of the certificate too.
    let localhost = base.replace("127.0.0.1", "localhost");
    users(client(&localhost, Some(&cert))).await.unwrap();
    server.shutdown().await;

    // A restart on the same folder reuses the certificate, so clients keep trusting it.
    let again = start_tls(data.path(), Tls::SelfSigned).await.unwrap();
    assert_eq!(std::fs::read(again.tls_cert().unwrap()).unwrap(), cert);
    users(client(&again.base_url(), Some(&cert))).await.unwrap();
    again.shutdown().await;

    // One's own files: here the pair made above, copied elsewhere.
    let own = tempfile::tempdir().unwrap();
    let (own_cert, own_key) = (own.path().join("c.pem"), own.path().join("k.pem"));
    std::fs::copy(data.path().join("tls/cert.pem"), &own_cert).unwrap();
    std::fs::copy(data.path().join("tls/key.pem"), &own_key).unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let files = Tls::Files { cert: own_cert.clone(), key: own_key };
    let server = start_tls(fresh.path(), files).await.unwrap();
    assert_eq!(server.tls_cert(), Some(own_cert.as_path()));
    users(client(&server.base_url(), Some(&cert))).await.unwrap();
    assert!(!fresh.path().join("tls").exists(), "no certificate is made when one is given");
    server.shutdown().await;
}

/// Starting with `tls` fails with exactly `message` (paths relative to `dir` shown as `DIR/…`).
async fn check_start_error(dir: &Path, tls: Tls, message: &str) {
    let data = tempfile::tempdir().unwrap();
    let err = start_tls(data.path(), tls).await.unwrap_err();
    assert_eq!(err.to_string().replace(&dir.display().to_string(), "DIR"), message);
}

#[tokio::test]
async fn bad_certificate_or_key_files_are_refused_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let made = tempfile::tempdir().unwrap();
    start_tls(made.path(), Tls::SelfSigned).await.unwrap().shutdown().await;
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::copy(made.path().join("tls/cert.pem"), &cert).unwrap();
    std::fs::copy(made.path().join("tls/key.pem"), &key).unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a certificate\n").unwrap();
    let missing = dir.path().join("missing.pem");
    let files = |cert: &Path, key: &Path| Tls::Files { cert: cert.to_owned(), key: key.to_owned() };

    check_start_error(
        dir.path(),
        files(&missing, &key),
        "cannot serve HTTPS with `DIR/missing.pem`: no certificate could be read: I/O error: No such file or directory (os error 2)",
    )
    .await;
    check_start_error(
        dir.path(),
        files(&text, &key),
        "cannot serve HTTPS with `DIR/notes.txt`: the file holds no PEM certificate",
    )
    .await;
    check_start_error(
        dir.path(),
        files(&cert, &text),
        "cannot serve HTTPS with `DIR/notes.txt`: the file holds no PEM private key",
    )
    .await;
    // A key that is not the certificate's.
    let other = tempfile::tempdir().unwrap();
    start_tls(other.path(), Tls::SelfSigned).await.unwrap().shutdown().await;
    let other_key = other.path().join("tls/key.pem");
    let err = start_tls(tempfile::tempdir().unwrap().path(), files(&cert, &other_key)).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot serve HTTPS with `{}`: the private key `{}` is not this certificate's",
            cert.display(),
            other_key.display()
        )
    );

    // Half a kept pair is reported, never silently replaced.
    let half = tempfile::tempdir().unwrap();
    start_tls(half.path(), Tls::SelfSigned).await.unwrap().shutdown().await;
    std::fs::remove_file(half.path().join("tls/cert.pem")).unwrap();
    let err = start_tls(half.path(), Tls::SelfSigned).await.unwrap_err().to_string();
    let shown = err.replace(&half.path().display().to_string(), "DATA");
    assert_eq!(
        shown,
        "cannot serve HTTPS with `DATA/tls/cert.pem`: it is missing while `DATA/tls/key.pem` exists; \
         remove both to have a new self-signed certificate made"
    );
}

#[test]
fn extra_root_certificates_that_are_not_pem_are_refused() {
    let build = |pem: &str| {
        Client::builder(Credentials::token("t"))
            .extra_root_certificates(pem)
            .build()
            .map(drop)
            .map_err(|e| e.to_string())
    };
    assert_eq!(
        build("hello"),
        Err("cannot build the client: extra root certificates: no `BEGIN CERTIFICATE` block in the PEM text".to_owned())
    );
    assert!(build("").is_ok(), "no text adds no root");
}

/// A TLS connection to `server` trusting its certificate, as a raw stream.
async fn tls_connect(
    server: &domo_emulator::RunningEmulator,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    use rustls::pki_types::pem::PemObject as _;
    let cert = rustls::pki_types::CertificateDer::from_pem_file(server.tls_cert().unwrap()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.unwrap()
}

/// Everything the server sends until it closes (or 5 s pass).
async fn read_to_close(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> Vec<u8> {
    use tokio::io::AsyncReadExt as _;
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read_to_end(&mut bytes)).await;
    assert!(read.is_ok(), "the server did not close the connection: {}", String::from_utf8_lossy(&bytes));
    bytes
}

#[tokio::test]
async fn over_tls_the_transport_rules_hold_and_nothing_is_served_in_clear() {
    use tokio::io::AsyncWriteExt as _;
    let data = tempfile::tempdir().unwrap();
    let server = Emulator::builder()
        .data_dir(data.path())
        .client("app", "secret", UserId(1))
        .tls(Tls::SelfSigned)
        .header_read_timeout(std::time::Duration::from_millis(300))
        .start()
        .await
        .unwrap();

    // A request hyper cannot parse still gets Domo's JSON error, inside TLS.
    let mut stream = tls_connect(&server).await;
    stream.write_all(b"NOT HTTP AT ALL\r\n\r\n").await.unwrap();
    let reply = String::from_utf8_lossy(&read_to_close(&mut stream).await).into_owned();
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(reply.contains("\"statusReason\":\"Bad Request\"") && reply.contains("\"toe\""), "{reply}");

    // A client that opens a connection and never shakes hands is dropped after the head timeout.
    let started = std::time::Instant::now();
    let mut silent = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    assert!(read_to_close(&mut silent).await.is_empty());
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "{:?}", started.elapsed());

    // Plain HTTP on the HTTPS port gets no HTTP answer: nothing is served in clear.
    let mut plain = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    plain.write_all(b"GET /v1/users HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
    let answer = read_to_close(&mut plain).await;
    assert!(!answer.starts_with(b"HTTP/"), "{}", String::from_utf8_lossy(&answer));
    server.shutdown().await;
}
