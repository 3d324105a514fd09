//! TLS material: the PEM files of the `tls_*` options, read and checked at start-up.
//!
//! redis-rs parses the files again when it builds its client; reading them here first lets every
//! problem (a missing file, no certificate in it, a key that does not match its certificate) fail
//! start-up with an error naming the option, instead of failing each connection attempt later.
//! The contents of the files are never printed: a key's parse error is reported without detail.

use std::path::Path;
use std::sync::Arc;

use redis::{ClientTlsConfig, TlsCertificates};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};
use session_core::ConfigError;

/// The `tls_*` file options of one configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Files<'a> {
    pub(crate) ca: Option<&'a Path>,
    pub(crate) client_cert: Option<&'a Path>,
    pub(crate) client_key: Option<&'a Path>,
}

/// Makes ring the process's default rustls crypto provider, unless one is installed already.
///
/// redis-rs builds its TLS settings with the process default provider. When the application
/// compiles in more than one provider (ring and aws-lc-rs, say) and installs none, rustls
/// cannot choose and would panic at the first connection; when it compiles in only ring, rustls
/// would install ring itself at that point. Installing it at start-up gives the same result in
/// the second case and avoids the panic in the first.
pub(crate) fn ensure_crypto_provider() {
    if CryptoProvider::get_default().is_none() {
        // Another thread may have installed one in the meantime: either way one is installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Reads and checks the files; `None` when none is configured (the public CAs are trusted).
pub(crate) fn load(
    section: &str,
    files: Files<'_>,
) -> Result<Option<TlsCertificates>, ConfigError> {
    let option = |name: &str| format!("{section}.{name}");
    let read = |name: &str, path: &Path| {
        std::fs::read(path).map_err(|e| {
            ConfigError::new(option(name), format!("cannot read {}: {e}", path.display()))
                .with_source(e)
        })
    };
    let mut roots = RootCertStore::empty();
    let root_cert = match files.ca {
        None => None,
        Some(path) => {
            let pem = read("tls_ca_file", path)?;
            let certs = certificates(&pem).map_err(|m| {
                ConfigError::new(option("tls_ca_file"), format!("{}: {m}", path.display()))
            })?;
            for cert in certs {
                roots.add(cert).map_err(|e| {
                    ConfigError::new(
                        option("tls_ca_file"),
                        format!("{}: not a usable CA certificate: {e}", path.display()),
                    )
                    .with_source(e)
                })?;
            }
            Some(pem)
        }
    };
    let client_tls = match (files.client_cert, files.client_key) {
        (None, None) => None,
        (Some(_), None) => return Err(ConfigError::new(
            option("tls_client_key_file"),
            "`tls_client_cert_file` is set, so the client certificate's private key is needed too",
        )),
        (None, Some(_)) => {
            return Err(ConfigError::new(
                option("tls_client_cert_file"),
                "`tls_client_key_file` is set, so the client certificate is needed too",
            ))
        }
        (Some(cert_path), Some(key_path)) => {
            let cert_pem = read("tls_client_cert_file", cert_path)?;
            let chain = certificates(&cert_pem).map_err(|m| {
                ConfigError::new(
                    option("tls_client_cert_file"),
                    format!("{}: {m}", cert_path.display()),
                )
            })?;
            let key_pem = read("tls_client_key_file", key_path)?;
            // The parse error may quote a line of the file: it is not passed on.
            let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| {
                ConfigError::new(
                    option("tls_client_key_file"),
                    format!(
                        "{}: holds no PEM private key (PKCS#8, PKCS#1 or SEC1, unencrypted)",
                        key_path.display()
                    ),
                )
            })?;
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| ConfigError::new(option("tls_client_key_file"), e.to_string()))?
                .with_root_certificates(roots)
                .with_client_auth_cert(chain, key)
                .map_err(|e| {
                    ConfigError::new(
                        option("tls_client_key_file"),
                        format!(
                            "{}: not usable with the certificate of `tls_client_cert_file`: {e}",
                            key_path.display()
                        ),
                    )
                })?;
            Some(ClientTlsConfig {
                client_cert: cert_pem,
                client_key: key_pem,
            })
        }
    };
    if root_cert.is_none() && client_tls.is_none() {
        return Ok(None);
    }
    Ok(Some(TlsCertificates {
        client_tls,
        root_cert,
    }))
}

/// The certificates of a PEM file: at least one.
fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a PEM certificate file: {e}"))?;
    if certs.is_empty() {
        return Err("holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)".to_owned());
    }
    Ok(certs)
}
