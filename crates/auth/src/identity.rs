//! The principal from a client certificate's URI SAN.

use liaison_core::{PrincipalId, Timestamp};
use sha2::{Digest, Sha256};
use x509_parser::{extensions::GeneralName, prelude::FromDer};

/// The DER of every PEM `CERTIFICATE` block in `pem`, in order; other blocks are skipped.
pub fn pem_certificates(pem: &str) -> impl Iterator<Item = Vec<u8>> {
    x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes())
        .map_while(Result::ok)
        .filter(|block| block.label == "CERTIFICATE")
        .map(|block| block.contents)
}

/// Why a certificate that passed TLS verification names no usable principal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The connection presented no client certificate.
    #[error("no client certificate was presented")]
    NoCertificate,
    /// The certificate could not be parsed.
    #[error("the client certificate could not be parsed")]
    Malformed,
    /// No URI SAN of the federation's trust domain.
    #[error(
        "the client certificate names no principal of this hub (a spiffe:// URI SAN is required)"
    )]
    NoPrincipal,
    /// More than one principal URI: ambiguous.
    #[error("the client certificate names more than one principal")]
    AmbiguousPrincipal,
    /// A URI SAN of the trust domain that is not a valid principal.
    #[error("the client certificate's principal URI is malformed: {0}")]
    BadPrincipal(String),
}

/// The identity a verified client certificate proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    principal: PrincipalId,
    certificate_sha256: String,
    not_before: Timestamp,
    not_after: Timestamp,
    issuer: Vec<u8>,
    serial: Vec<u8>,
}

impl PeerIdentity {
    /// Reads the principal from a DER certificate that TLS already verified against the
    /// hub CA. Exactly one URI SAN in `trust_domain` must name it.
    pub fn from_certificate(der: &[u8], trust_domain: &str) -> Result<Self, IdentityError> {
        let (_, certificate) = x509_parser::certificate::X509Certificate::from_der(der)
            .map_err(|_| IdentityError::Malformed)?;
        let san = certificate
            .subject_alternative_name()
            .map_err(|_| IdentityError::Malformed)?
            .ok_or(IdentityError::NoPrincipal)?;
        let prefix = format!("spiffe://{trust_domain}/");
        let mut uris = san
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                GeneralName::URI(uri) if uri.starts_with(&prefix) => Some(*uri),
                _ => None,
            });
        let uri = uris.next().ok_or(IdentityError::NoPrincipal)?;
        if uris.next().is_some() {
            return Err(IdentityError::AmbiguousPrincipal);
        }
        let principal = PrincipalId::from_uri(uri, trust_domain)
            .map_err(|error| IdentityError::BadPrincipal(error.to_string()))?;
        let not_after = Timestamp::from_micros(
            certificate
                .validity()
                .not_after
                .timestamp()
                .saturating_mul(1_000_000),
        );
        let not_before = Timestamp::from_micros(
            certificate
                .validity()
                .not_before
                .timestamp()
                .saturating_mul(1_000_000),
        );
        Ok(Self {
            principal,
            certificate_sha256: hex::encode(Sha256::digest(der)),
            not_before,
            not_after,
            issuer: certificate.issuer().as_raw().to_vec(),
            serial: certificate.raw_serial().to_vec(),
        })
    }

    /// The principal.
    pub fn principal(&self) -> &PrincipalId {
        &self.principal
    }

    /// SHA-256 of the DER certificate, lowercase hex: what audit records and the
    /// revocation list name.
    pub fn certificate_sha256(&self) -> &str {
        &self.certificate_sha256
    }

    /// The issuer's distinguished name (DER) and the certificate's serial number (raw
    /// bytes): what a CRL names.
    pub fn issuer_and_serial(&self) -> (&[u8], &[u8]) {
        (&self.issuer, &self.serial)
    }

    /// When the certificate expires.
    pub fn not_after(&self) -> Timestamp {
        self.not_after
    }

    /// True when the certificate is valid at `now` (its validity window holds it): checked
    /// per call, since a TLS connection outlives the handshake that checked it.
    pub fn valid_at(&self, now: Timestamp) -> bool {
        self.not_before <= now && now <= self.not_after
    }
}

#[cfg(test)]
mod tests {
    use liaison_core::{AgencyId, PrincipalKind, PrincipalName};
    use liaison_pki::{CertificateAuthority, Validity};

    use super::*;

    fn der(pem: &str) -> Vec<u8> {
        x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .unwrap()
            .1
            .contents
    }

    #[test]
    fn reads_the_principal_and_fingerprint() {
        let ca = CertificateAuthority::generate("test").unwrap();
        let principal = PrincipalId::new(
            AgencyId::parse("VN-BCA").unwrap(),
            PrincipalKind::Person,
            PrincipalName::parse("officer").unwrap(),
        );
        let issued = ca
            .issue_client(&principal, "liaison.test", Validity::days(1))
            .unwrap();
        let certificate = der(&issued.cert_pem);
        let identity = PeerIdentity::from_certificate(&certificate, "liaison.test").unwrap();
        assert_eq!(identity.principal(), &principal);
        assert_eq!(identity.certificate_sha256().len(), 64);
        assert!(identity.not_after().as_micros() > 0);
    }

    #[test]
    fn refuses_certificates_without_exactly_one_principal() {
        let ca = CertificateAuthority::generate("test").unwrap();
        let cases: [(&[&str], IdentityError); 4] = [
            (&[], IdentityError::NoPrincipal),
            (
                &["spiffe://other.test/agency/RS-MUP/system/feed"],
                IdentityError::NoPrincipal,
            ),
            (
                &[
                    "spiffe://liaison.test/agency/RS-MUP/system/feed",
                    "spiffe://liaison.test/agency/HU-NNI/system/feed",
                ],
                IdentityError::AmbiguousPrincipal,
            ),
            (
                &["spiffe://liaison.test/agency/RS-MUP/robot/feed"],
                IdentityError::BadPrincipal(String::new()),
            ),
        ];
        for (uris, expected) in cases {
            let issued = ca.issue_client_with_uris(uris, Validity::days(1)).unwrap();
            let error =
                PeerIdentity::from_certificate(&der(&issued.cert_pem), "liaison.test").unwrap_err();
            assert_eq!(
                std::mem::discriminant(&error),
                std::mem::discriminant(&expected),
                "{uris:?}"
            );
        }
    }
}
