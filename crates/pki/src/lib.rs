//! A development and test PKI: a hub CA, a server certificate and one client certificate
//! per principal of a federation, made with rcgen.
//!
//! Production deployments bring their own CA; this crate exists so that a newcomer's
//! `liaison serve --dev` and every end-to-end test run over real mutual TLS.
//!
//! A client certificate names its principal in a URI SAN,
//! `spiffe://<trust-domain>/agency/<AGENCY-ID>/<kind>/<name>`; `liaison-auth` reads it back.

use std::{
    fs,
    path::{Path, PathBuf},
    time::Duration,
};

use liaison_core::{Federation, PrincipalId};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use time::OffsetDateTime;

/// What went wrong issuing or writing certificates.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// rcgen refused the parameters or failed to sign.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `dev init` into a directory that already holds a CA.
    #[error("{0} already holds a CA (ca.pem); choose an empty directory")]
    AlreadyInitialised(PathBuf),
    /// A PEM text that should hold a certificate does not.
    #[error("not a PEM certificate")]
    NotACertificate,
}

/// When a certificate is valid.
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

impl Validity {
    /// From an hour ago (clock skew) for `days` days.
    pub fn days(days: u32) -> Self {
        let now = OffsetDateTime::now_utc();
        Self {
            not_before: now - Duration::from_secs(3600),
            not_after: now + Duration::from_secs(u64::from(days) * 86_400),
        }
    }

    /// From an hour ago for `seconds` seconds from now, for tests of certificates that
    /// expire while their connection is open.
    pub fn seconds(seconds: u64) -> Self {
        let now = OffsetDateTime::now_utc();
        Self {
            not_before: now - Duration::from_secs(3600),
            not_after: now + Duration::from_secs(seconds),
        }
    }

    /// A window that ended yesterday, for tests of expired certificates.
    pub fn expired() -> Self {
        let now = OffsetDateTime::now_utc();
        Self {
            not_before: now - Duration::from_secs(30 * 86_400),
            not_after: now - Duration::from_secs(86_400),
        }
    }
}

/// A certificate and its private key, PEM-encoded.
#[derive(Clone)]
pub struct IssuedCertificate {
    /// The certificate.
    pub cert_pem: String,
    /// The private key (PKCS#8).
    pub key_pem: String,
}

impl std::fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCertificate")
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// A certificate authority that can issue server and client certificates.
pub struct CertificateAuthority {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
    key_pem: String,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// A new self-signed CA, valid for ten years.
    pub fn generate(common_name: &str) -> Result<Self, PkiError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let validity = Validity::days(3650);
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        let cert = params.self_signed(&key)?;
        let key_pem = key.serialize_pem();
        Ok(Self {
            issuer: Issuer::new(params, key),
            cert_pem: cert.pem(),
            key_pem,
        })
    }

    /// Loads a CA written by [`dev_init`] (or any CA certificate and its PKCS#8 key).
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let key = KeyPair::from_pem(key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)?;
        Ok(Self {
            issuer,
            cert_pem: cert_pem.to_owned(),
            key_pem: key_pem.to_owned(),
        })
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA private key, PEM.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// A CRL signed by this CA revoking the certificates (PEM) in `revoked`, valid for 30
    /// days; `number` is the CRL number, which must grow with each CRL issued.
    pub fn crl(&self, revoked: &[&str], number: u64) -> Result<String, PkiError> {
        let now = time::OffsetDateTime::now_utc();
        let mut revoked_certs = Vec::new();
        for pem in revoked {
            let (_, der) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
                .map_err(|_| PkiError::NotACertificate)?;
            let certificate = der.parse_x509().map_err(|_| PkiError::NotACertificate)?;
            revoked_certs.push(rcgen::RevokedCertParams {
                serial_number: rcgen::SerialNumber::from_slice(certificate.raw_serial()),
                revocation_time: now,
                reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                invalidity_date: None,
            });
        }
        let params = rcgen::CertificateRevocationListParams {
            this_update: now - time::Duration::minutes(5),
            next_update: now + time::Duration::days(30),
            crl_number: rcgen::SerialNumber::from_slice(&number.to_be_bytes()),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&self.issuer)?.pem()?)
    }

    /// A TLS server certificate for DNS names and IP addresses.
    pub fn issue_server(
        &self,
        names: &[&str],
        validity: Validity,
    ) -> Result<IssuedCertificate, PkiError> {
        let mut params = CertificateParams::new(
            names
                .iter()
                .map(|name| (*name).to_owned())
                .collect::<Vec<_>>(),
        )?;
        params.distinguished_name =
            distinguished_name(names.first().copied().unwrap_or("liaison hub"));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        self.sign(params, validity)
    }

    /// A TLS client certificate naming `principal` in a URI SAN of `trust_domain`.
    pub fn issue_client(
        &self,
        principal: &PrincipalId,
        trust_domain: &str,
        validity: Validity,
    ) -> Result<IssuedCertificate, PkiError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name(&principal.to_string());
        params.subject_alt_names = vec![SanType::URI(principal.to_uri(trust_domain).try_into()?)];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        self.sign(params, validity)
    }

    /// A client certificate with arbitrary URI SANs (none, several, a foreign trust domain),
    /// for tests of what the hub refuses.
    pub fn issue_client_with_uris(
        &self,
        uris: &[&str],
        validity: Validity,
    ) -> Result<IssuedCertificate, PkiError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name("test client");
        params.subject_alt_names = uris
            .iter()
            .map(|uri| Ok(SanType::URI((*uri).try_into()?)))
            .collect::<Result<_, rcgen::Error>>()?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params, validity)
    }

    fn sign(
        &self,
        mut params: CertificateParams,
        validity: Validity,
    ) -> Result<IssuedCertificate, PkiError> {
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCertificate {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

fn distinguished_name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "Liaison development PKI");
    name.push(DnType::CommonName, common_name);
    name
}

/// The files [`dev_init`] wrote.
#[derive(Debug, Clone)]
pub struct DevPkiPaths {
    /// The directory.
    pub dir: PathBuf,
    /// Hub CA certificate.
    pub ca_cert: PathBuf,
    /// Hub CA key (development only: production CAs keep their key elsewhere).
    pub ca_key: PathBuf,
    /// Server certificate.
    pub server_cert: PathBuf,
    /// Server key.
    pub server_key: PathBuf,
    /// The audit log's Ed25519 signing key (PKCS#8 DER).
    pub audit_key: PathBuf,
    /// The Ed25519 key that signs access tokens (PKCS#8 DER).
    pub token_key: PathBuf,
    /// The CA's certificate revocation list (PEM), empty at first.
    pub crl: PathBuf,
    /// How many principal certificates were written.
    pub principals: usize,
}

impl DevPkiPaths {
    /// The paths of a dev PKI in `dir`, whether or not it exists yet.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            ca_cert: dir.join("ca.pem"),
            ca_key: dir.join("ca.key"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            audit_key: dir.join("audit-log.key"),
            token_key: dir.join("token-signing.key"),
            crl: dir.join("crl.pem"),
            principals: 0,
        }
    }

    /// Certificate and key of a principal: `principals/<AGENCY-ID>/<name>.pem` and `.key`.
    pub fn principal(&self, agency: &str, name: &str) -> (PathBuf, PathBuf) {
        let base = self.dir.join("principals").join(agency);
        (
            base.join(format!("{name}.pem")),
            base.join(format!("{name}.key")),
        )
    }
}

/// Names the server certificate of the dev PKI covers.
pub const DEV_SERVER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Writes a hub CA, a server certificate for `localhost`, `127.0.0.1` and `::1`, and a
/// client certificate for every principal of `federation` into `dir`. Refuses a directory
/// that already holds a CA, so an existing PKI is never overwritten.
pub fn dev_init(dir: &Path, federation: &Federation) -> Result<DevPkiPaths, PkiError> {
    let mut paths = DevPkiPaths::in_dir(dir);
    if paths.ca_cert.exists() {
        return Err(PkiError::AlreadyInitialised(dir.to_owned()));
    }
    let ca = CertificateAuthority::generate("Liaison development hub CA")?;
    let server = ca.issue_server(&DEV_SERVER_NAMES, Validity::days(825))?;
    write_file(&paths.ca_key, ca.key_pem(), true)?;
    write_audit_key(&paths.audit_key)?;
    write_audit_key(&paths.token_key)?;
    write_file(&paths.crl, &ca.crl(&[], 1)?, false)?;
    write_file(&paths.server_cert, &server.cert_pem, false)?;
    write_file(&paths.server_key, &server.key_pem, true)?;
    for (principal, _) in federation.principals() {
        let issued = ca.issue_client(&principal, federation.trust_domain(), Validity::days(365))?;
        let (cert_path, key_path) =
            paths.principal(principal.agency().as_str(), principal.name().as_str());
        write_file(&cert_path, &issued.cert_pem, false)?;
        write_file(&key_path, &issued.key_pem, true)?;
        paths.principals += 1;
    }
    // The CA certificate last: its presence marks a complete PKI.
    write_file(&paths.ca_cert, ca.cert_pem(), false)?;
    Ok(paths)
}

/// Writes a new Ed25519 key (PKCS#8 DER, owner-only): for signing audit checkpoints or
/// access tokens.
pub fn write_audit_key(path: &Path) -> Result<(), PkiError> {
    let (_, pkcs8) =
        liaison_audit::SigningKey::generate("liaison").map_err(|error| PkiError::Io {
            path: path.to_owned(),
            source: std::io::Error::other(error.to_string()),
        })?;
    write_bytes(path, &pkcs8, true)
}

/// Writes `contents` to `path`, creating parent directories; private keys are readable by
/// the owner only.
pub fn write_file(path: &Path, contents: &str, private: bool) -> Result<(), PkiError> {
    write_bytes(path, contents.as_bytes(), private)
}

fn write_bytes(path: &Path, contents: &[u8], private: bool) -> Result<(), PkiError> {
    let io_error = |source| PkiError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io_error)?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(path).map_err(io_error)?;
    std::io::Write::write_all(&mut file, contents).map_err(io_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FEDERATION: &str = r#"
trust_domain = "liaison.test"
[[states]]
code = "UA"
name = "Ukraine"
budapest_convention = true
second_protocol = false
osce_participating_state = true
[[agencies]]
id = "UA-CERT"
name = "CERT-UA"
kind = "cert"
state = "UA"
principals = [
  { kind = "system", name = "feed", roles = ["system"] },
  { kind = "person", name = "officer", roles = ["officer"] },
]
"#;

    #[test]
    fn dev_init_writes_every_file_with_the_principal_uri() {
        let dir = tempfile::tempdir().unwrap();
        let federation = Federation::from_toml(FEDERATION).unwrap();
        let paths = dev_init(dir.path(), &federation).unwrap();
        assert_eq!(paths.principals, 2);
        for path in [
            &paths.ca_cert,
            &paths.ca_key,
            &paths.server_cert,
            &paths.server_key,
        ] {
            assert!(path.exists(), "{}", path.display());
        }
        let (cert, key) = paths.principal("UA-CERT", "feed");
        assert!(key.exists());
        let pem = fs::read_to_string(cert).unwrap();
        let der = rustls_pem_to_der(&pem);
        let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
        let san = parsed.subject_alternative_name().unwrap().unwrap();
        let uris: Vec<String> = san
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                x509_parser::extensions::GeneralName::URI(uri) => Some((*uri).to_owned()),
                _ => None,
            })
            .collect();
        assert_eq!(uris, ["spiffe://liaison.test/agency/UA-CERT/system/feed"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&paths.server_key)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "private key readable by others");
        }
        assert!(matches!(
            dev_init(dir.path(), &federation),
            Err(PkiError::AlreadyInitialised(_))
        ));
    }

    #[test]
    fn a_ca_reloaded_from_pem_issues_certificates() {
        let ca = CertificateAuthority::generate("test CA").unwrap();
        let reloaded = CertificateAuthority::from_pem(ca.cert_pem(), ca.key_pem()).unwrap();
        let issued = reloaded
            .issue_server(&["localhost"], Validity::days(1))
            .unwrap();
        assert!(issued.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    }

    fn rustls_pem_to_der(pem: &str) -> Vec<u8> {
        let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
        parsed.contents
    }
}
