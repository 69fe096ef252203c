//! HTTPS: a self-signed certificate made on first start and kept in the data folder, or the operator's own PEM files.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::error::StartError;

/// How the emulator serves HTTPS (see [`EmulatorBuilder::tls`](crate::EmulatorBuilder::tls)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    /// A self-signed certificate for `localhost`, `127.0.0.1` and `::1`, made
    /// on first start and kept in the data folder (`tls/cert.pem` and
    /// `tls/key.pem`, the key readable by its owner only), then reused, so that
    /// a client told to trust it once keeps trusting it.
    SelfSigned,
    /// The operator's own certificate chain and private key, in PEM files.
    Files {
        /// The certificate chain, leaf first.
        cert: PathBuf,
        /// The private key (PKCS#8, PKCS#1 or SEC1).
        key: PathBuf,
    },
}

/// The names the self-signed certificate is valid for.
const SELF_SIGNED_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// What serving HTTPS needs: the acceptor and the certificate clients must trust.
#[derive(Clone)]
pub(crate) struct Https {
    pub(crate) acceptor: TlsAcceptor,
    pub(crate) cert: PathBuf,
}

impl std::fmt::Debug for Https {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Https").field("cert", &self.cert).finish_non_exhaustive()
    }
}

/// Loads (or first makes) the certificate and key and builds the TLS acceptor.
pub(crate) fn setup(tls: &Tls, data_dir: &Path) -> Result<Https, StartError> {
    let (cert, key) = match tls {
        Tls::Files { cert, key } => (cert.clone(), key.clone()),
        Tls::SelfSigned => {
            let dir = data_dir.join("tls");
            let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
            match (cert.exists(), key.exists()) {
                (true, true) => {}
                (false, false) => make_self_signed(&dir, &cert, &key)?,
                (true, false) => return Err(half_pair(&key, &cert)),
                (false, true) => return Err(half_pair(&cert, &key)),
            }
            (cert, key)
        }
    };
    let chain = read_chain(&cert)?;
    let private_key = PrivateKeyDer::from_pem_file(&key).map_err(|err| StartError::Tls {
        path: key.clone(),
        reason: match err {
            rustls::pki_types::pem::Error::NoItemsFound => "the file holds no PEM private key".to_owned(),
            other => format!("no private key could be read: {other}"),
        },
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(chain, private_key))
        .map_err(|err| StartError::Tls {
            path: cert.clone(),
            reason: match err {
                rustls::Error::InconsistentKeys(_) => {
                    format!("the private key `{}` is not this certificate's", key.display())
                }
                other => format!("the certificate and key cannot be used: {other}"),
            },
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Https { acceptor: TlsAcceptor::from(Arc::new(config)), cert })
}

fn half_pair(missing: &Path, present: &Path) -> StartError {
    StartError::Tls {
        path: missing.to_owned(),
        reason: format!(
            "it is missing while `{}` exists; remove both to have a new self-signed certificate made",
            present.display()
        ),
    }
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, StartError> {
    let bad = |reason: String| StartError::Tls { path: path.to_owned(), reason };
    let chain = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|err| bad(format!("no certificate could be read: {err}")))?;
    if chain.is_empty() {
        return Err(bad("the file holds no PEM certificate".to_owned()));
    }
    Ok(chain)
}

/// Makes a self-signed certificate and its key, each written whole (temporary
/// file, then rename), the key readable by its owner only.
fn make_self_signed(dir: &Path, cert_path: &Path, key_path: &Path) -> Result<(), StartError> {
    let failed = |reason: String| StartError::Tls { path: cert_path.to_owned(), reason };
    let names: Vec<String> = SELF_SIGNED_NAMES.iter().map(|n| (*n).to_owned()).collect();
    let mut params = rcgen::CertificateParams::new(names)
        .map_err(|err| failed(format!("cannot make a self-signed certificate: {err}")))?;
    params.distinguished_name.push(rcgen::DnType::CommonName, "domo serve (local Domo API emulator)");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = rcgen::KeyPair::generate().map_err(|err| failed(format!("cannot make a key: {err}")))?;
    let cert = params.self_signed(&key).map_err(|err| failed(format!("cannot sign the certificate: {err}")))?;
    let write = |path: &Path, text: &str, private: bool| -> io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut file = tempfile::Builder::new().prefix(".tls-").tempfile_in(dir)?;
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::PermissionsExt as _;
            file.as_file().set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        #[cfg(not(unix))]
        let _ = private;
        io::Write::write_all(&mut file, text.as_bytes())?;
        file.as_file().sync_all()?;
        file.persist(path).map_err(|err| err.error)?;
        Ok(())
    };
    // A crash between the two writes leaves a key without its certificate,
    // which `setup` reports (and asks to remove) instead of guessing.
    write(key_path, &key.serialize_pem(), true)
        .map_err(|source| StartError::DataDir { path: key_path.to_owned(), source })?;
    write(cert_path, &cert.pem(), false)
        .map_err(|source| StartError::DataDir { path: cert_path.to_owned(), source })?;
    tracing::info!(cert = %cert_path.display(), "made a self-signed certificate: `{}`", cert_path.display());
    Ok(())
}
