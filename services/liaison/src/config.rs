//! The hub's configuration: a typed struct, validated before anything starts.
//!
//! Sources, highest precedence first: command-line flags, `LIAISON_*` environment
//! variables, the TOML file given by `--config`/`LIAISON_CONFIG`, built-in defaults. The
//! merge is done by the binary; this module holds the result and the file's schema.

use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use serde::Deserialize;

/// A value that must never be printed: `Debug` and `Display` show `<redacted>`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where the hub keeps its data.
#[derive(Debug, Clone)]
pub enum DatabaseConfig {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL (it may hold a password).
    Postgres(Secret),
}

/// The hub's TLS material, PEM files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The hub CA: client certificates must chain to it.
    pub ca_cert: PathBuf,
    /// The server certificate (chain).
    pub server_cert: PathBuf,
    /// The server's private key.
    pub server_key: PathBuf,
}

impl TlsFiles {
    /// The files of a dev PKI directory.
    pub fn in_dev_pki(dir: &Path) -> Self {
        let paths = liaison_pki::DevPkiPaths::in_dir(dir);
        Self {
            ca_cert: paths.ca_cert,
            server_cert: paths.server_cert,
            server_key: paths.server_key,
        }
    }
}

/// Tokens and revocation.
#[derive(Debug, Clone)]
pub struct AccessConfig {
    /// The Ed25519 key (PKCS#8 DER file) that signs access tokens.
    pub token_key: PathBuf,
    /// Keys being rotated out: their tokens are still accepted until they expire; nothing
    /// new is signed with them. Keep each for at least the token lifetime after the switch.
    pub previous_token_keys: Vec<PathBuf>,
    /// How long a token lives; at most 15 minutes.
    pub token_lifetime: Duration,
    /// The hub CA's certificate revocation list (PEM or DER), checked at every handshake
    /// and reloaded when the file changes.
    pub crl: Option<PathBuf>,
    /// How often the CRL file is looked at and the directory's revoked certificates are
    /// re-read; also how often open streams re-check their callers. Bounds how long a
    /// revocation made on another node, or by a CRL change, takes to close a stream here.
    pub reload_interval: Duration,
}

impl AccessConfig {
    /// Default token lifetime.
    pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);
    /// Default reload interval.
    pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(5);
}

/// Everything a hub needs to start.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The database.
    pub database: DatabaseConfig,
    /// TLS files.
    pub tls: TlsFiles,
    /// The federation file's text, loaded into the directory at start.
    pub federation_toml: String,
    /// The Ed25519 key (PKCS#8 DER file) that signs audit checkpoints.
    pub audit_key: PathBuf,
    /// The Ed25519 key (PKCS#8 DER file) that signs MLA receipts; `None`: the audit key's
    /// material, under the receipts' own name (and so their own key id).
    pub receipt_key: Option<PathBuf>,
    /// Tokens and revocation.
    pub access: AccessConfig,
    /// How long in-flight calls may run after shutdown begins.
    pub shutdown_grace: Duration,
    /// How long the rest of a TLS handshake may take once its ClientHello has arrived
    /// (`Limits::client_hello_timeout` bounds the wait for that) before the connection is
    /// dropped.
    pub handshake_timeout: Duration,
    /// Record every call in the audit log. Always true for a real hub; false only for
    /// benchmarks that measure what auditing costs (not settable from flags or files).
    pub audit_calls: bool,
    /// Limits against abuse: message sizes, streams, connections, rates, deadlines.
    pub limits: Limits,
    /// The clock deadlines and escalations follow: the system clock, except in tests,
    /// which move a manual one (`liaison_rpc::Clock`).
    pub clock: liaison_rpc::Clock,
    /// Where MLA evidence files are stored, content-addressed by SHA-256
    /// (`<data-dir>/evidence` by default).
    pub evidence_dir: PathBuf,
    /// Communication checks of every member's points of contact, started by the hub on a
    /// schedule; `None`: only the operator starts them.
    pub check_schedule: Option<liaison_cbm::CheckSchedule>,
    /// The plain-HTTP admin listener (`/healthz`, `/readyz`, `/metrics`); `None`: off.
    pub admin_listen: Option<SocketAddr>,
}

/// Limits against abuse, each settable as a flag, a `LIAISON_*` variable or a key of the
/// configuration file's `[limits]` section. The defaults suit a production hub serving a
/// few dozen agencies' systems and officers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest request message accepted, in bytes, measured **after** decompression: a
    /// gzip-compressed message that inflates past it is refused (RESOURCE_EXHAUSTED), an
    /// uncompressed one larger than it OUT_OF_RANGE, before it is buffered. Default 4 MiB.
    pub max_decoded_message_bytes: usize,
    /// Largest response message sent, in bytes (before compression); a larger one ends
    /// the call with OUT_OF_RANGE. Default 4 MiB, what gRPC clients accept by default.
    pub max_encoded_message_bytes: usize,
    /// HTTP/2 streams (calls) open at once on one connection
    /// (SETTINGS_MAX_CONCURRENT_STREAMS); a client's further calls wait. Default 100.
    pub max_concurrent_streams: u32,
    /// Verified connections open at once. A connection takes one of these only once its
    /// client certificate has been verified; over it the connection is closed after the
    /// handshake (an HTTP/2 GOAWAY). Default 1024.
    pub max_connections: usize,
    /// Verified connections one principal (the client certificate's) may hold open at
    /// once; a further one is closed after the handshake. Default 32.
    pub max_connections_per_principal: usize,
    /// Verified connections one source address may hold open at once (an IPv6 address
    /// counts by its /64 prefix); a further one is closed after the handshake. Default 128.
    pub max_connections_per_address: usize,
    /// TLS handshakes in progress at once, over all clients; a further connection is
    /// closed as soon as it is accepted. Default 256.
    pub max_handshakes: usize,
    /// TLS handshakes in progress at once from one source address (an IPv6 address counts
    /// by its /64 prefix); a further connection from it is closed as soon as it is
    /// accepted. Default 8.
    pub max_handshakes_per_address: usize,
    /// How long a new connection has to send its whole TLS ClientHello; a silent one or
    /// one that sends part of it is closed then. The rest of the handshake has the hub's
    /// handshake timeout (10 s). Default 2 s.
    pub client_hello_timeout: Duration,
    /// How long a verified connection may stay open at all. Then the hub sends an HTTP/2
    /// GOAWAY: no new calls on it, open calls and streams may finish, clients reconnect.
    /// Default 24 h.
    pub max_connection_age: Duration,
    /// How long a verified connection may stay open without a call (PINGs do not count);
    /// then the hub closes it. Default 10 min.
    pub idle_timeout: Duration,
    /// Server streams (Subscribe, WatchInbox, WatchRequests, ExportRecords, …) one
    /// principal may hold open at once; a further one is refused RESOURCE_EXHAUSTED.
    /// Default 16.
    pub max_streams_per_principal: usize,
    /// Server streams the principals of one agency may hold open at once together.
    /// Default 64.
    pub max_streams_per_agency: usize,
    /// Calls a second one principal may make in the long run; 0 turns the rate limit
    /// off. Calls over it are answered RESOURCE_EXHAUSTED with a RetryInfo. Default 50.
    pub rate_limit_per_second: u32,
    /// Calls one principal may make at once above the sustained rate (the token bucket's
    /// size). Default 100.
    pub rate_limit_burst: u32,
    /// Longest a call may take to answer: the whole call for unary and client-streaming
    /// calls, the time until the stream starts for server-streaming ones. A client's
    /// shorter grpc-timeout wins. Answered DEADLINE_EXCEEDED. Default 60 s.
    pub max_call_duration: Duration,
    /// How long a connection may be silent before the hub sends an HTTP/2 PING. Default
    /// 30 s.
    pub keepalive_interval: Duration,
    /// How long the hub waits for the PING's acknowledgement before it closes the
    /// connection (a dead peer, or one that stopped reading). Default 10 s.
    pub keepalive_timeout: Duration,
    /// Streams a client may open and reset before the hub accepted them, before the
    /// connection is closed with GOAWAY (the HTTP/2 rapid-reset attack, CVE-2023-44487).
    /// Default 32.
    pub max_pending_reset_streams: usize,
    /// Largest header block of a request, in bytes (SETTINGS_MAX_HEADER_LIST_SIZE).
    /// Default 16 KiB.
    pub max_header_list_bytes: u32,
    /// Largest HTTP/2 frame the hub accepts, in bytes (SETTINGS_MAX_FRAME_SIZE), between
    /// 16 384 and 16 777 215. Default 16 384.
    pub max_frame_bytes: u32,
    /// MLA evidence stored on one request, all parties' files together, in bytes; an
    /// upload that would pass it is refused RESOURCE_EXHAUSTED, nothing stored. Default
    /// 16 GiB.
    pub max_evidence_bytes_per_request: u64,
    /// MLA evidence one agency may have uploaded, over all requests, in bytes; refused
    /// likewise. Default 64 GiB.
    pub max_evidence_bytes_per_agency: u64,
    /// Free space the evidence directory's filesystem keeps (it usually holds the
    /// database and the audit log too): an upload that would leave less is refused
    /// RESOURCE_EXHAUSTED, before and while it streams. Default 1 GiB.
    pub min_evidence_free_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_decoded_message_bytes: 4 * 1024 * 1024,
            max_encoded_message_bytes: 4 * 1024 * 1024,
            max_concurrent_streams: 100,
            max_connections: 1024,
            max_connections_per_principal: 32,
            max_connections_per_address: 128,
            max_handshakes: 256,
            max_handshakes_per_address: 8,
            client_hello_timeout: Duration::from_secs(2),
            max_connection_age: Duration::from_secs(24 * 3600),
            idle_timeout: Duration::from_secs(600),
            max_streams_per_principal: 16,
            max_streams_per_agency: 64,
            rate_limit_per_second: 50,
            rate_limit_burst: 100,
            max_call_duration: Duration::from_secs(60),
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
            max_pending_reset_streams: 32,
            max_header_list_bytes: 16 * 1024,
            max_frame_bytes: 16 * 1024,
            max_evidence_bytes_per_request: 16 << 30,
            max_evidence_bytes_per_agency: 64 << 30,
            min_evidence_free_bytes: 1 << 30,
        }
    }
}

impl Limits {
    /// Checks that every limit leaves the hub usable; names the first that does not.
    pub fn validate(&self) -> Result<(), String> {
        let at_least = |name: &str, value: u64, minimum: u64| {
            if value < minimum {
                Err(format!("{name} must be at least {minimum} (it is {value})"))
            } else {
                Ok(())
            }
        };
        let bytes = |value: usize| u64::try_from(value).unwrap_or(u64::MAX);
        at_least(
            "max_decoded_message_bytes",
            bytes(self.max_decoded_message_bytes),
            4096,
        )?;
        at_least(
            "max_encoded_message_bytes",
            bytes(self.max_encoded_message_bytes),
            4096,
        )?;
        at_least(
            "max_concurrent_streams",
            self.max_concurrent_streams.into(),
            1,
        )?;
        at_least("max_connections", bytes(self.max_connections), 1)?;
        at_least(
            "max_connections_per_principal",
            bytes(self.max_connections_per_principal),
            1,
        )?;
        at_least(
            "max_connections_per_address",
            bytes(self.max_connections_per_address),
            1,
        )?;
        at_least("max_handshakes", bytes(self.max_handshakes), 1)?;
        at_least(
            "max_handshakes_per_address",
            bytes(self.max_handshakes_per_address),
            1,
        )?;
        at_least(
            "client_hello_timeout_seconds",
            self.client_hello_timeout.as_secs(),
            1,
        )?;
        at_least(
            "max_connection_age_seconds",
            self.max_connection_age.as_secs(),
            1,
        )?;
        at_least("idle_timeout_seconds", self.idle_timeout.as_secs(), 1)?;
        at_least(
            "max_streams_per_principal",
            bytes(self.max_streams_per_principal),
            1,
        )?;
        at_least(
            "max_streams_per_agency",
            bytes(self.max_streams_per_agency),
            1,
        )?;
        if self.rate_limit_per_second > 0 {
            at_least("rate_limit_burst", self.rate_limit_burst.into(), 1)?;
        }
        at_least("max_call_seconds", self.max_call_duration.as_secs(), 1)?;
        at_least(
            "keepalive_interval_seconds",
            self.keepalive_interval.as_secs(),
            1,
        )?;
        at_least(
            "keepalive_timeout_seconds",
            self.keepalive_timeout.as_secs(),
            1,
        )?;
        at_least(
            "max_pending_reset_streams",
            bytes(self.max_pending_reset_streams),
            1,
        )?;
        at_least(
            "max_header_list_bytes",
            self.max_header_list_bytes.into(),
            4096,
        )?;
        at_least(
            "max_evidence_bytes_per_request",
            self.max_evidence_bytes_per_request,
            1,
        )?;
        at_least(
            "max_evidence_bytes_per_agency",
            self.max_evidence_bytes_per_agency,
            1,
        )?;
        if !(16_384..=16_777_215).contains(&self.max_frame_bytes) {
            return Err(format!(
                "max_frame_bytes must be between 16384 and 16777215 (it is {})",
                self.max_frame_bytes
            ));
        }
        Ok(())
    }
}

/// The TOML configuration file. Every key is optional; unknown keys are an error, so a
/// typo is caught at start rather than silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `listen = "127.0.0.1:50051"`.
    pub listen: Option<SocketAddr>,
    /// `admin_listen = "127.0.0.1:9090"`: health and metrics over plain HTTP.
    pub admin_listen: Option<SocketAddr>,
    /// `data_dir = "/var/lib/liaison"`.
    pub data_dir: Option<PathBuf>,
    /// `database_url = "postgres://…"`.
    pub database_url: Option<Secret>,
    /// `federation = "/etc/liaison/federation.toml"`.
    pub federation: Option<PathBuf>,
    /// `audit_key = "/etc/liaison/audit-log.key"`: signs audit checkpoints.
    pub audit_key: Option<PathBuf>,
    /// `receipt_key = "/etc/liaison/mla-receipts.key"`: signs MLA receipts.
    pub receipt_key: Option<PathBuf>,
    /// `token_key = "/etc/liaison/token-signing.key"`: signs access tokens.
    pub token_key: Option<PathBuf>,
    /// `token_previous_keys = ["/etc/liaison/token-signing.old.key"]`: keys being rotated out.
    #[serde(default)]
    pub token_previous_keys: Vec<PathBuf>,
    /// `token_lifetime_seconds = 900` (at most 900).
    pub token_lifetime_seconds: Option<u64>,
    /// `revocation_reload_seconds = 5`: CRL file checks, revoked-certificate refresh and
    /// stream re-checks.
    pub revocation_reload_seconds: Option<u64>,
    /// `communication_check_every_hours = 168`: the hub starts a communication check of
    /// every member's points of contact this often (off when unset).
    pub communication_check_every_hours: Option<u64>,
    /// `communication_check_window_hours = 24`: how long contacts have to answer a
    /// scheduled check.
    pub communication_check_window_hours: Option<u64>,
    /// `[tls]` section.
    #[serde(default)]
    pub tls: TlsSection,
    /// `shutdown_grace_seconds = 20`.
    pub shutdown_grace_seconds: Option<u64>,
    /// `[limits]` section.
    #[serde(default)]
    pub limits: LimitsSection,
}

/// The `[limits]` section of the configuration file; see [`Limits`] for each key's
/// meaning and default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    /// Bytes, after decompression.
    pub max_decoded_message_bytes: Option<usize>,
    /// Bytes.
    pub max_encoded_message_bytes: Option<usize>,
    /// Streams per connection.
    pub max_concurrent_streams: Option<u32>,
    /// Connections.
    pub max_connections: Option<usize>,
    /// Connections per principal.
    pub max_connections_per_principal: Option<usize>,
    /// Connections per source address.
    pub max_connections_per_address: Option<usize>,
    /// Handshakes in progress.
    pub max_handshakes: Option<usize>,
    /// Handshakes in progress per source address.
    pub max_handshakes_per_address: Option<usize>,
    /// Open server streams per principal.
    pub max_streams_per_principal: Option<usize>,
    /// Open server streams per agency.
    pub max_streams_per_agency: Option<usize>,
    /// Seconds.
    pub client_hello_timeout_seconds: Option<u64>,
    /// Seconds.
    pub max_connection_age_seconds: Option<u64>,
    /// Seconds.
    pub idle_timeout_seconds: Option<u64>,
    /// Calls per second per principal; 0 turns the rate limit off.
    pub rate_limit_per_second: Option<u32>,
    /// Calls.
    pub rate_limit_burst: Option<u32>,
    /// Seconds.
    pub max_call_seconds: Option<u64>,
    /// Seconds.
    pub keepalive_interval_seconds: Option<u64>,
    /// Seconds.
    pub keepalive_timeout_seconds: Option<u64>,
    /// Streams.
    pub max_pending_reset_streams: Option<usize>,
    /// Bytes.
    pub max_header_list_bytes: Option<u32>,
    /// Bytes.
    pub max_frame_bytes: Option<u32>,
    /// Bytes.
    pub max_evidence_bytes_per_request: Option<u64>,
    /// Bytes.
    pub max_evidence_bytes_per_agency: Option<u64>,
    /// Bytes.
    pub min_evidence_free_bytes: Option<u64>,
}

impl LimitsSection {
    /// These limits over the defaults, checked.
    pub fn limits(self) -> Result<Limits, String> {
        let default = Limits::default();
        let seconds =
            |value: Option<u64>, default: Duration| value.map_or(default, Duration::from_secs);
        let limits = Limits {
            max_decoded_message_bytes: self
                .max_decoded_message_bytes
                .unwrap_or(default.max_decoded_message_bytes),
            max_encoded_message_bytes: self
                .max_encoded_message_bytes
                .unwrap_or(default.max_encoded_message_bytes),
            max_concurrent_streams: self
                .max_concurrent_streams
                .unwrap_or(default.max_concurrent_streams),
            max_connections: self.max_connections.unwrap_or(default.max_connections),
            max_connections_per_principal: self
                .max_connections_per_principal
                .unwrap_or(default.max_connections_per_principal),
            max_connections_per_address: self
                .max_connections_per_address
                .unwrap_or(default.max_connections_per_address),
            max_handshakes: self.max_handshakes.unwrap_or(default.max_handshakes),
            max_handshakes_per_address: self
                .max_handshakes_per_address
                .unwrap_or(default.max_handshakes_per_address),
            client_hello_timeout: seconds(
                self.client_hello_timeout_seconds,
                default.client_hello_timeout,
            ),
            max_connection_age: seconds(
                self.max_connection_age_seconds,
                default.max_connection_age,
            ),
            idle_timeout: seconds(self.idle_timeout_seconds, default.idle_timeout),
            max_streams_per_principal: self
                .max_streams_per_principal
                .unwrap_or(default.max_streams_per_principal),
            max_streams_per_agency: self
                .max_streams_per_agency
                .unwrap_or(default.max_streams_per_agency),
            rate_limit_per_second: self
                .rate_limit_per_second
                .unwrap_or(default.rate_limit_per_second),
            rate_limit_burst: self.rate_limit_burst.unwrap_or(default.rate_limit_burst),
            max_call_duration: seconds(self.max_call_seconds, default.max_call_duration),
            keepalive_interval: seconds(
                self.keepalive_interval_seconds,
                default.keepalive_interval,
            ),
            keepalive_timeout: seconds(self.keepalive_timeout_seconds, default.keepalive_timeout),
            max_pending_reset_streams: self
                .max_pending_reset_streams
                .unwrap_or(default.max_pending_reset_streams),
            max_header_list_bytes: self
                .max_header_list_bytes
                .unwrap_or(default.max_header_list_bytes),
            max_frame_bytes: self.max_frame_bytes.unwrap_or(default.max_frame_bytes),
            max_evidence_bytes_per_request: self
                .max_evidence_bytes_per_request
                .unwrap_or(default.max_evidence_bytes_per_request),
            max_evidence_bytes_per_agency: self
                .max_evidence_bytes_per_agency
                .unwrap_or(default.max_evidence_bytes_per_agency),
            min_evidence_free_bytes: self
                .min_evidence_free_bytes
                .unwrap_or(default.min_evidence_free_bytes),
        };
        limits
            .validate()
            .map_err(|error| format!("limits: {error}"))?;
        Ok(limits)
    }
}

/// The `[tls]` section of the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// CA certificate path.
    pub ca: Option<PathBuf>,
    /// Server certificate path.
    pub cert: Option<PathBuf>,
    /// Server key path.
    pub key: Option<PathBuf>,
    /// The hub CA's CRL path.
    pub crl: Option<PathBuf>,
}

impl ConfigFile {
    /// Reads and parses a configuration file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("{}: {error}", path.display()))?;
        Self::from_toml(&text).map_err(|error| format!("{}: {error}", path.display()))
    }

    /// Parses the text of a configuration file.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|error| error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let config = DatabaseConfig::Postgres(Secret::new("postgres://liaison:hunter2@db/liaison"));
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn config_file_parses_and_refuses_unknown_keys() {
        let file: ConfigFile = toml::from_str(
            "listen = \"0.0.0.0:443\"\ndatabase_url = \"postgres://x\"\n[tls]\nca = \"/etc/liaison/ca.pem\"\n",
        )
        .unwrap();
        assert_eq!(file.listen.unwrap().port(), 443);
        assert_eq!(file.tls.ca.unwrap(), PathBuf::from("/etc/liaison/ca.pem"));
        assert!(toml::from_str::<ConfigFile>("listne = \"0.0.0.0:443\"").is_err());
    }

    #[test]
    fn the_example_configuration_in_deploy_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/liaison.example.toml");
        ConfigFile::load(&path).unwrap();
    }

    #[test]
    fn the_example_federation_is_valid() {
        let federation = liaison_core::Federation::from_toml(crate::EXAMPLE_FEDERATION).unwrap();
        // 9 signatory states, 8 bodies, 4 dialogue partners, the hub.
        assert_eq!(federation.agencies().len(), 22);
        assert!(!federation.state("VN").unwrap().budapest_convention);
    }
}
