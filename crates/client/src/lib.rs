//! A typed Rust client for Liaison: connects over mutual TLS and hands out the generated
//! service clients. Used by `liaisonctl` and the end-to-end tests.
//!
//! Errors are explained for people: which file failed to load, that nothing listens at the
//! endpoint, that the hub closed the connection before the TLS handshake (busy or refusing
//! connections), that the server refused the client certificate.

use std::{
    error::Error as StdError,
    fmt,
    path::{Path, PathBuf},
};

use liaison_proto::v1::{
    audit_service_client::AuditServiceClient, cbm_service_client::CbmServiceClient,
    directory_service_client::DirectoryServiceClient,
    indicator_service_client::IndicatorServiceClient, mla_service_client::MlaServiceClient,
};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

mod connector;
mod token;

use connector::{ClosedBeforeHandshake, HubConnector};

pub use token::AuthChannel;

/// What a client needs to connect.
#[derive(Clone)]
pub struct ClientConfig {
    /// `https://host:port`.
    pub endpoint: String,
    /// The hub CA, PEM: the server's certificate must chain to it.
    pub ca_pem: String,
    /// The client certificate, PEM.
    pub cert_pem: String,
    /// The client key, PEM.
    pub key_pem: String,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("endpoint", &self.endpoint)
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Why a client could not be set up or a call failed at the transport.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A PEM file could not be read or holds the wrong thing.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The endpoint is not a URL.
    #[error("endpoint {0:?} is not a URL such as https://localhost:50051")]
    Endpoint(String),
    /// The connection failed; the text says why in a person's terms.
    #[error("{0}")]
    Connect(String),
}

impl ClientConfig {
    /// Reads the CA, certificate and key from PEM files.
    pub fn from_files(
        endpoint: &str,
        ca: &Path,
        cert: &Path,
        key: &Path,
    ) -> Result<Self, ClientError> {
        Ok(Self {
            endpoint: endpoint.to_owned(),
            ca_pem: read_pem(ca, "CERTIFICATE", "the hub CA certificate")?,
            cert_pem: read_pem(cert, "CERTIFICATE", "a client certificate")?,
            key_pem: read_pem(key, "PRIVATE KEY", "a private key")?,
        })
    }
}

fn read_pem(path: &Path, label: &str, what: &str) -> Result<String, ClientError> {
    let text = std::fs::read_to_string(path).map_err(|error| ClientError::File {
        path: path.to_owned(),
        reason: format!("cannot read {what}: {error}"),
    })?;
    if !text.contains(&format!("{label}-----")) {
        return Err(ClientError::File {
            path: path.to_owned(),
            reason: format!("does not hold {what} in PEM form"),
        });
    }
    Ok(text)
}

/// A connected client. Calls carry a certificate-bound access token, which the client
/// obtains from the hub's directory and refreshes by itself (see [`AuthChannel`]).
#[derive(Debug, Clone)]
pub struct Client {
    channel: Channel,
    authorized: AuthChannel,
    endpoint: String,
}

impl Client {
    /// Connects and completes the TLS handshake.
    pub async fn connect(config: &ClientConfig) -> Result<Self, ClientError> {
        let endpoint = Endpoint::from_shared(config.endpoint.clone())
            .map_err(|_| ClientError::Endpoint(config.endpoint.clone()))?;
        let host = endpoint
            .uri()
            .host()
            .ok_or_else(|| ClientError::Endpoint(config.endpoint.clone()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&config.ca_pem))
            .identity(Identity::from_pem(&config.cert_pem, &config.key_pem))
            .domain_name(host);
        let channel = endpoint
            .tls_config(tls)
            .map_err(|error| ClientError::Connect(explain(&config.endpoint, &error)))?
            .connect_with_connector(HubConnector)
            .await
            .map_err(|error| ClientError::Connect(explain(&config.endpoint, &error)))?;
        Ok(Self {
            authorized: AuthChannel::new(channel.clone()),
            channel,
            endpoint: config.endpoint.clone(),
        })
    }

    /// The underlying channel, without tokens: for clients of other services (health
    /// checking, say) and for calls that must go out on the certificate alone.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// The channel that adds the access token to every call.
    pub fn authorized_channel(&self) -> AuthChannel {
        self.authorized.clone()
    }

    /// The endpoint connected to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The directory service.
    pub fn directory(&self) -> DirectoryServiceClient<AuthChannel> {
        DirectoryServiceClient::new(self.authorized.clone())
    }

    /// The indicator service.
    pub fn indicators(&self) -> IndicatorServiceClient<AuthChannel> {
        IndicatorServiceClient::new(self.authorized.clone())
    }

    /// The MLA service.
    pub fn mla(&self) -> MlaServiceClient<AuthChannel> {
        MlaServiceClient::new(self.authorized.clone())
    }

    /// The CBM service.
    pub fn cbm(&self) -> CbmServiceClient<AuthChannel> {
        CbmServiceClient::new(self.authorized.clone())
    }

    /// The audit service.
    pub fn audit(&self) -> AuditServiceClient<AuthChannel> {
        AuditServiceClient::new(self.authorized.clone())
    }
}

/// The metadata key of a call's justification: a case reference or legal basis. Reads of
/// personal data and MLA content need one; the hub's audit log keeps it.
pub const PURPOSE_HEADER: &str = "x-liaison-purpose";

/// A request carrying a justification. Text that is not printable ASCII is sent
/// percent-encoded (UTF-8), since metadata values are ASCII; the hub decodes it.
pub fn with_purpose<T>(message: T, purpose: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let mut encoded = String::with_capacity(purpose.len());
    for byte in purpose.bytes() {
        if (0x20..0x7f).contains(&byte) && byte != b'%' {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    if let Ok(value) = encoded.parse() {
        request.metadata_mut().insert(PURPOSE_HEADER, value);
    }
    request
}

/// Reads PublishMany's answer to its end: every result in order, with the final totals.
/// `progress` is called after each message with the results so far and the totals, for a
/// progress display.
pub async fn collect_publish_results(
    mut answers: tonic::Streaming<liaison_proto::v1::PublishManyResponse>,
    mut progress: impl FnMut(
        &[liaison_proto::v1::PublishResult],
        &liaison_proto::v1::PublishManyResponse,
    ),
) -> Result<liaison_proto::v1::PublishManyResponse, tonic::Status> {
    let mut all = liaison_proto::v1::PublishManyResponse::default();
    while let Some(message) = answers.message().await? {
        all.results.extend(message.results);
        all.accepted_count = message.accepted_count;
        all.duplicate_count = message.duplicate_count;
        all.invalid_count = message.invalid_count;
        progress(&all.results, &all);
    }
    Ok(all)
}

/// What kind of failure an error is, for exit codes and retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Nothing listens at the endpoint.
    NotListening,
    /// The hub refused the client certificate.
    CertificateRefused,
    /// The hub closed the connection before the TLS handshake completed, or refused it
    /// after the handshake as over a connection limit: it is busy or refusing
    /// connections; the client certificate is not in question.
    HubBusy,
    /// The hub's certificate is not trusted by this client.
    ServerUntrusted,
    /// Another transport failure.
    Transport,
    /// The hub answered with an error status.
    Status,
}

/// Explains a failed call or connection in a person's terms, from the error's causes.
pub fn explain(endpoint: &str, error: &(dyn StdError + 'static)) -> String {
    classify(endpoint, error).1
}

/// Classifies and explains a failure from its chain of causes.
pub fn classify(endpoint: &str, error: &(dyn StdError + 'static)) -> (FailureKind, String) {
    let refused = || {
        (
            FailureKind::CertificateRefused,
            format!(
                "the hub at {endpoint} closed the connection after the TLS handshake: it most likely refused the client certificate \
                 (not issued by the hub's CA, expired or revoked), or this principal or address holds too many connections"
            ),
        )
    };
    let busy = || {
        (
            FailureKind::HubBusy,
            format!(
                "the hub at {endpoint} closed the connection before the TLS handshake completed: \
                 the hub is busy or refusing connections (this is not about the client certificate; \
                 try again later)"
            ),
        )
    };
    let mut causes = Vec::new();
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(cause) = current {
        if cause.downcast_ref::<ClosedBeforeHandshake>().is_some() {
            return busy();
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<ClosedBeforeHandshake>().is_some())
            {
                return busy();
            }
            if let Some(tls) = io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                return explain_tls(endpoint, tls);
            }
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    return (
                        FailureKind::NotListening,
                        format!(
                            "nothing is listening at {endpoint}: is the hub running, and is the endpoint right?"
                        ),
                    );
                }
                std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::UnexpectedEof => {
                    return refused();
                }
                _ => {}
            }
        }
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return explain_tls(endpoint, tls);
        }
        let text = cause.to_string();
        // The hub admitted the handshake but is over a connection limit: it answers with
        // an HTTP/2 GOAWAY (ENHANCE_YOUR_CALM) naming the limit.
        if text.contains("too many connections") || text.contains("connection limit") {
            return (
                FailureKind::HubBusy,
                format!(
                    "the hub at {endpoint} accepted the client certificate but refused the connection: \
                     {text} (close other connections, or try again later)"
                ),
            );
        }
        // TLS 1.3 clients learn that their certificate was refused only when the hub closes
        // the connection after the handshake; the words differ with timing.
        const REFUSAL_SIGNS: [&str; 5] = [
            "connection closed",
            "connection reset",
            "received fatal alert",
            "broken pipe",
            "unexpected eof",
        ];
        let lower = text.to_ascii_lowercase();
        if REFUSAL_SIGNS.iter().any(|sign| lower.contains(sign)) {
            return refused();
        }
        causes.push(text);
        current = cause.source();
    }
    causes.dedup();
    (
        FailureKind::Transport,
        format!("cannot reach the hub at {endpoint}: {}", causes.join(": ")),
    )
}

fn explain_tls(endpoint: &str, error: &rustls::Error) -> (FailureKind, String) {
    match error {
        rustls::Error::AlertReceived(alert) => (
            FailureKind::CertificateRefused,
            format!(
                "the hub at {endpoint} refused the client certificate ({alert:?}): it must be issued by the \
                 hub's CA, unexpired and not revoked"
            ),
        ),
        rustls::Error::InvalidCertificate(reason) => (
            FailureKind::ServerUntrusted,
            format!(
                "the hub at {endpoint} presented a certificate this client does not trust ({reason:?}): check the CA file"
            ),
        ),
        other => (
            FailureKind::Transport,
            format!("TLS with the hub at {endpoint} failed: {other}"),
        ),
    }
}

/// Explains a failed call: transport failures through [`classify`], statuses by their code.
pub fn explain_status(endpoint: &str, status: &tonic::Status) -> (FailureKind, String) {
    if let Some(source) = status.source() {
        return classify(endpoint, source);
    }
    let message = status.message();
    let text = match status.code() {
        tonic::Code::Unauthenticated => format!("the hub does not know this client: {message}"),
        tonic::Code::PermissionDenied => format!("not allowed: {message}"),
        tonic::Code::NotFound => format!("not found: {message}"),
        tonic::Code::InvalidArgument => "the hub refused the request as invalid".to_owned(),
        tonic::Code::Unimplemented => format!("the hub does not offer this yet: {message}"),
        tonic::Code::Unavailable => format!("the hub is unavailable: {message}"),
        code => format!("{code:?}: {message}"),
    };
    (FailureKind::Status, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HUB: &str = "https://hub.example:50051";

    #[test]
    fn a_close_before_the_handshake_is_not_blamed_on_the_certificate() {
        for kind in [
            std::io::ErrorKind::UnexpectedEof,
            std::io::ErrorKind::ConnectionReset,
        ] {
            let error = std::io::Error::new(kind, ClosedBeforeHandshake);
            let (failure, text) = classify(HUB, &error);
            assert_eq!(failure, FailureKind::HubBusy, "{text}");
            assert!(text.contains("busy or refusing connections"), "{text}");
        }
        // The same words without the marker: the hub closed after the handshake.
        let error = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let (failure, text) = classify(HUB, &error);
        assert_eq!(failure, FailureKind::CertificateRefused, "{text}");
    }

    #[test]
    fn an_alert_is_a_refused_certificate_and_a_goaway_names_the_limit() {
        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired);
        let error = std::io::Error::new(std::io::ErrorKind::InvalidData, alert);
        let (failure, text) = classify(HUB, &error);
        assert_eq!(failure, FailureKind::CertificateRefused, "{text}");
        assert!(text.contains("refused the client certificate"), "{text}");

        let goaway = std::io::Error::other(
            "connection error received: detected excessive load generating behavior \
             (b\"too many connections for this principal\")",
        );
        let (failure, text) = classify(HUB, &goaway);
        assert_eq!(failure, FailureKind::HubBusy, "{text}");
        assert!(
            text.contains("too many connections for this principal"),
            "{text}"
        );
    }
}
