//! Command-line interface and the merge of flags, environment and configuration file.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};
use liaison::{
    DatabaseConfig, EXAMPLE_FEDERATION, HubConfig, Limits, Secret, TlsFiles,
    config::{ConfigFile, LimitsSection},
    dev::ensure_dev_pki,
};
use liaison_core::Federation;

/// Exit code for bad configuration (sysexits.h `EX_USAGE`).
pub const EX_USAGE: u8 = 64;

const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
const DEFAULT_DATA_DIR: &str = "liaison-data";

/// Liaison: a hub where agencies exchange cyber-cooperation traffic over gRPC with mutual TLS.
#[derive(Debug, Parser)]
#[command(name = "liaison", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the hub: every service in one process on one port.
    ///
    /// Settings come from flags, then LIAISON_* environment variables, then the
    /// configuration file, then defaults. `liaison serve --dev` needs nothing else: it
    /// creates a development PKI in DATA_DIR/pki and loads the example federation.
    Serve(Box<ServeArgs>),
    /// Development tools.
    #[command(subcommand)]
    Dev(DevCommand),
}

#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Write a development PKI: a hub CA, a server certificate for localhost, 127.0.0.1
    /// and ::1, and a client certificate for every principal of the federation.
    Init(DevInitArgs),
    /// Issue a client certificate from a development PKI's CA, for a principal the operator
    /// will then register (`liaisonctl admin certificate register`).
    Issue(DevIssueArgs),
    /// Write the development CA's CRL, revoking the given certificates (replaces crl.pem; a
    /// running hub picks it up within its reload interval).
    Revoke(DevRevokeArgs),
}

#[derive(Debug, Args)]
pub struct DevIssueArgs {
    /// The development PKI directory (e.g. liaison-data/pki).
    #[arg(long)]
    pub dir: PathBuf,
    /// The principal, AGENCY-ID/system/NAME or AGENCY-ID/person/NAME.
    #[arg(long)]
    pub principal: String,
    /// Trust domain of the principal URI.
    #[arg(long, default_value = "liaison.example")]
    pub trust_domain: String,
    /// Days of validity.
    #[arg(long, default_value_t = 365)]
    pub days: u32,
}

#[derive(Debug, Args)]
pub struct DevRevokeArgs {
    /// The development PKI directory (e.g. liaison-data/pki).
    #[arg(long)]
    pub dir: PathBuf,
    /// Certificates (PEM files) to list as revoked; none writes an empty CRL.
    pub certificates: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DevInitArgs {
    /// Directory to write ca.pem, server.pem, server.key and principals/<AGENCY-ID>/<name>.{pem,key} into.
    #[arg(long)]
    pub dir: PathBuf,
    /// Federation file naming the principals [default: the example federation]
    #[arg(long, env = "LIAISON_FEDERATION")]
    pub federation: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML configuration file (see deploy/liaison.example.toml).
    #[arg(long, env = "LIAISON_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:50051]
    #[arg(long, env = "LIAISON_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Plain-HTTP admin listener for orchestrators: /healthz, /readyz and /metrics
    /// (Prometheus text). Off unless set; bind it to localhost or the pod address only.
    #[arg(long, env = "LIAISON_ADMIN_LISTEN")]
    pub admin_listen: Option<SocketAddr>,
    /// Data directory: the SQLite database and, with --dev, the development PKI [default: ./liaison-data]
    #[arg(long, env = "LIAISON_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL (postgres://user@host/db); SQLite in the data directory when unset.
    #[arg(long, env = "LIAISON_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Federation file: agencies, principals, sharing groups [default with --dev: the example federation]
    #[arg(long, env = "LIAISON_FEDERATION")]
    pub federation: Option<PathBuf>,
    /// Ed25519 key (PKCS#8 DER) that signs audit checkpoints [default with --dev: DATA_DIR/pki/audit-log.key]
    #[arg(long, env = "LIAISON_AUDIT_KEY")]
    pub audit_key: Option<PathBuf>,
    /// Ed25519 key (PKCS#8 DER) that signs MLA receipts [default: the audit key's material, under its own key id]
    #[arg(long, env = "LIAISON_RECEIPT_KEY")]
    pub receipt_key: Option<PathBuf>,
    /// Hub CA certificate (PEM) that client certificates must chain to.
    #[arg(long, env = "LIAISON_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
    /// Server certificate (PEM).
    #[arg(long, env = "LIAISON_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// Server private key (PEM).
    #[arg(long, env = "LIAISON_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Ed25519 key (PKCS#8 DER) that signs access tokens [default with --dev: DATA_DIR/pki/token-signing.key]
    #[arg(long, env = "LIAISON_TOKEN_KEY")]
    pub token_key: Option<PathBuf>,
    /// Token keys being rotated out, comma-separated: their tokens stay valid until they expire.
    #[arg(long, env = "LIAISON_TOKEN_PREVIOUS_KEYS", value_delimiter = ',')]
    pub token_previous_key: Vec<PathBuf>,
    /// How long an access token lives, in seconds (at most 900) [default: 900]
    #[arg(long, env = "LIAISON_TOKEN_LIFETIME_SECONDS")]
    pub token_lifetime_seconds: Option<u64>,
    /// The hub CA's certificate revocation list (PEM or DER), reloaded when it changes [default with --dev: DATA_DIR/pki/crl.pem]
    #[arg(long, env = "LIAISON_TLS_CRL")]
    pub tls_crl: Option<PathBuf>,
    /// Seconds between CRL file checks, revoked-certificate refreshes and stream re-checks [default: 5]
    #[arg(long, env = "LIAISON_REVOCATION_RELOAD_SECONDS")]
    pub revocation_reload_seconds: Option<u64>,
    /// Start a communication check of every member's points of contact this often, in hours [default: off]
    #[arg(long, env = "LIAISON_COMMUNICATION_CHECK_EVERY_HOURS")]
    pub communication_check_every_hours: Option<u64>,
    /// How long contacts have to answer a scheduled check, in hours (at most 720) [default: 24]
    #[arg(long, env = "LIAISON_COMMUNICATION_CHECK_WINDOW_HOURS")]
    pub communication_check_window_hours: Option<u64>,
    /// Development mode: create DATA_DIR/pki on first start and load the example federation.
    #[arg(long, env = "LIAISON_DEV")]
    pub dev: bool,
    /// Log line format.
    #[arg(long, env = "LIAISON_LOG_FORMAT", value_enum, default_value_t = LogFormatArg::Text)]
    pub log_format: LogFormatArg,
    #[command(flatten)]
    pub limits: Box<LimitArgs>,
}

/// Limits against abuse; each is also a key of the configuration file's `[limits]`
/// section (without the leading dashes, with underscores).
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Limits against abuse")]
pub struct LimitArgs {
    /// Largest request message in bytes, after decompression [default: 4194304]
    #[arg(long, env = "LIAISON_MAX_DECODED_MESSAGE_BYTES")]
    pub max_decoded_message_bytes: Option<usize>,
    /// Largest response message in bytes [default: 4194304]
    #[arg(long, env = "LIAISON_MAX_ENCODED_MESSAGE_BYTES")]
    pub max_encoded_message_bytes: Option<usize>,
    /// HTTP/2 streams (calls) open at once per connection [default: 100]
    #[arg(long, env = "LIAISON_MAX_CONCURRENT_STREAMS")]
    pub max_concurrent_streams: Option<u32>,
    /// Verified connections open at once; further ones are closed after the handshake [default: 1024]
    #[arg(long, env = "LIAISON_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Verified connections one principal may hold open at once [default: 32]
    #[arg(long, env = "LIAISON_MAX_CONNECTIONS_PER_PRINCIPAL")]
    pub max_connections_per_principal: Option<usize>,
    /// Verified connections one source address (IPv6: its /64) may hold open at once [default: 128]
    #[arg(long, env = "LIAISON_MAX_CONNECTIONS_PER_ADDRESS")]
    pub max_connections_per_address: Option<usize>,
    /// TLS handshakes in progress at once; further connections are closed when accepted [default: 256]
    #[arg(long, env = "LIAISON_MAX_HANDSHAKES")]
    pub max_handshakes: Option<usize>,
    /// TLS handshakes in progress at once from one source address (IPv6: its /64) [default: 8]
    #[arg(long, env = "LIAISON_MAX_HANDSHAKES_PER_ADDRESS")]
    pub max_handshakes_per_address: Option<usize>,
    /// Seconds a new connection has to send its TLS ClientHello [default: 2]
    #[arg(long, env = "LIAISON_CLIENT_HELLO_TIMEOUT_SECONDS")]
    pub client_hello_timeout_seconds: Option<u64>,
    /// Seconds a connection may stay open before the hub asks the client to reconnect (HTTP/2 GOAWAY) [default: 86400]
    #[arg(long, env = "LIAISON_MAX_CONNECTION_AGE_SECONDS")]
    pub max_connection_age_seconds: Option<u64>,
    /// Seconds a connection may stay open without a call before the hub closes it [default: 600]
    #[arg(long, env = "LIAISON_IDLE_TIMEOUT_SECONDS")]
    pub idle_timeout_seconds: Option<u64>,
    /// Server streams (Subscribe, Watch…, ExportRecords) one principal may hold open at once [default: 16]
    #[arg(long, env = "LIAISON_MAX_STREAMS_PER_PRINCIPAL")]
    pub max_streams_per_principal: Option<usize>,
    /// Server streams one agency's principals may hold open at once together [default: 64]
    #[arg(long, env = "LIAISON_MAX_STREAMS_PER_AGENCY")]
    pub max_streams_per_agency: Option<usize>,
    /// Calls per second per principal, sustained; 0 turns the rate limit off [default: 50]
    #[arg(long, env = "LIAISON_RATE_LIMIT_PER_SECOND")]
    pub rate_limit_per_second: Option<u32>,
    /// Calls per principal at once above the sustained rate [default: 100]
    #[arg(long, env = "LIAISON_RATE_LIMIT_BURST")]
    pub rate_limit_burst: Option<u32>,
    /// Seconds a call may take to answer (a unary call: all of it) [default: 60]
    #[arg(long, env = "LIAISON_MAX_CALL_SECONDS")]
    pub max_call_seconds: Option<u64>,
    /// Seconds of silence before the hub pings a connection (HTTP/2 PING) [default: 30]
    #[arg(long, env = "LIAISON_KEEPALIVE_INTERVAL_SECONDS")]
    pub keepalive_interval_seconds: Option<u64>,
    /// Seconds to wait for a ping's answer before closing the connection [default: 10]
    #[arg(long, env = "LIAISON_KEEPALIVE_TIMEOUT_SECONDS")]
    pub keepalive_timeout_seconds: Option<u64>,
    /// Streams a client may open and reset before they are accepted, then GOAWAY (CVE-2023-44487) [default: 32]
    #[arg(long, env = "LIAISON_MAX_PENDING_RESET_STREAMS")]
    pub max_pending_reset_streams: Option<usize>,
    /// Largest request header block in bytes [default: 16384]
    #[arg(long, env = "LIAISON_MAX_HEADER_LIST_BYTES")]
    pub max_header_list_bytes: Option<u32>,
    /// Largest HTTP/2 frame accepted in bytes, 16384 to 16777215 [default: 16384]
    #[arg(long, env = "LIAISON_MAX_FRAME_BYTES")]
    pub max_frame_bytes: Option<u32>,
    /// MLA evidence stored on one request, in bytes [default: 17179869184]
    #[arg(long, env = "LIAISON_MAX_EVIDENCE_BYTES_PER_REQUEST")]
    pub max_evidence_bytes_per_request: Option<u64>,
    /// MLA evidence one agency may have uploaded, in bytes [default: 68719476736]
    #[arg(long, env = "LIAISON_MAX_EVIDENCE_BYTES_PER_AGENCY")]
    pub max_evidence_bytes_per_agency: Option<u64>,
    /// Free bytes the evidence directory's filesystem keeps; uploads that would leave less are refused [default: 1073741824]
    #[arg(long, env = "LIAISON_MIN_EVIDENCE_FREE_BYTES")]
    pub min_evidence_free_bytes: Option<u64>,
}

/// Merges the limits from flags and environment over the file's `[limits]` over the
/// defaults, and checks them.
pub fn limits_config(args: LimitArgs, file: LimitsSection) -> Result<Limits, String> {
    macro_rules! pick {
        ($($key:ident),*) => {
            LimitsSection { $($key: args.$key.or(file.$key)),* }
        };
    }
    pick!(
        max_decoded_message_bytes,
        max_encoded_message_bytes,
        max_concurrent_streams,
        max_connections,
        max_connections_per_principal,
        max_connections_per_address,
        max_handshakes,
        max_handshakes_per_address,
        client_hello_timeout_seconds,
        max_connection_age_seconds,
        idle_timeout_seconds,
        max_streams_per_principal,
        max_streams_per_agency,
        rate_limit_per_second,
        rate_limit_burst,
        max_call_seconds,
        keepalive_interval_seconds,
        keepalive_timeout_seconds,
        max_pending_reset_streams,
        max_header_list_bytes,
        max_frame_bytes,
        max_evidence_bytes_per_request,
        max_evidence_bytes_per_agency,
        min_evidence_free_bytes
    )
    .limits()
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

impl From<LogFormatArg> for liaison_telemetry::LogFormat {
    fn from(format: LogFormatArg) -> Self {
        match format {
            LogFormatArg::Text => liaison_telemetry::LogFormat::Text,
            LogFormatArg::Json => liaison_telemetry::LogFormat::Json,
        }
    }
}

/// Merges flags and environment (already merged by clap) over the file over defaults.
pub fn serve_config(args: Box<ServeArgs>) -> Result<HubConfig, String> {
    let args = *args;
    let file = match &args.config {
        Some(path) => ConfigFile::load(path)?,
        None => ConfigFile::default(),
    };
    let listen = match args.listen.or(file.listen) {
        Some(listen) => listen,
        None => DEFAULT_LISTEN
            .parse()
            .map_err(|_| "bad default listen address".to_owned())?,
    };
    let data_dir = args
        .data_dir
        .or(file.data_dir)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    let database = match args.database_url.map(Secret::new).or(file.database_url) {
        None => DatabaseConfig::Sqlite(data_dir.join("liaison.db")),
        Some(url)
            if url.expose().starts_with("postgres://")
                || url.expose().starts_with("postgresql://") =>
        {
            DatabaseConfig::Postgres(url)
        }
        Some(url) => match url.expose().strip_prefix("sqlite://") {
            Some(path) => DatabaseConfig::Sqlite(PathBuf::from(path)),
            None => {
                return Err(
                    "database URL must start with postgres://, postgresql:// or sqlite://".into(),
                );
            }
        },
    };
    let limits = limits_config(*args.limits, file.limits)?;
    let federation_toml =
        match args.federation.or(file.federation) {
            Some(path) => std::fs::read_to_string(&path)
                .map_err(|error| format!("{}: {error}", path.display()))?,
            None if args.dev => EXAMPLE_FEDERATION.to_owned(),
            None => return Err(
                "no federation file: pass --federation FILE, or --dev for the example federation"
                    .into(),
            ),
        };
    let federation = Federation::from_toml(&federation_toml).map_err(|error| error.to_string())?;
    let audit_key = args.audit_key.or(file.audit_key);
    let receipt_key = args.receipt_key.or(file.receipt_key);
    let (tls, audit_key) = match (
        args.tls_ca.or(file.tls.ca),
        args.tls_cert.or(file.tls.cert),
        args.tls_key.or(file.tls.key),
    ) {
        (Some(ca_cert), Some(server_cert), Some(server_key)) => {
            let audit_key = match audit_key {
                Some(path) => path,
                None if args.dev => {
                    let (_, dev_key, _) = ensure_dev_pki(&data_dir, &federation)
                        .map_err(|error| error.to_string())?;
                    dev_key
                }
                None => return Err("no audit signing key: pass --audit-key FILE (or --dev)".into()),
            };
            let files = TlsFiles {
                ca_cert,
                server_cert,
                server_key,
            };
            (files, audit_key)
        }
        (None, None, None) if args.dev => {
            let (files, dev_key, created) =
                ensure_dev_pki(&data_dir, &federation).map_err(|error| error.to_string())?;
            if created {
                eprintln!(
                    "liaison: created a development PKI in {} (client certificates under principals/)",
                    data_dir.join("pki").display()
                );
            }
            (files, audit_key.unwrap_or(dev_key))
        }
        _ => {
            return Err(
                "TLS needs --tls-ca, --tls-cert and --tls-key (or --dev for a development PKI)"
                    .into(),
            );
        }
    };
    let dev_pki = liaison_pki::DevPkiPaths::in_dir(&data_dir.join("pki"));
    let token_key = match args.token_key.or(file.token_key) {
        Some(path) => path,
        None if args.dev => dev_pki.token_key.clone(),
        None => return Err("no token signing key: pass --token-key FILE (or --dev)".into()),
    };
    let crl = match args.tls_crl.or(file.tls.crl) {
        Some(path) => Some(path),
        None if args.dev && dev_pki.crl.exists() => Some(dev_pki.crl.clone()),
        None => None,
    };
    let token_lifetime = args
        .token_lifetime_seconds
        .or(file.token_lifetime_seconds)
        .map_or(
            liaison::AccessConfig::DEFAULT_TOKEN_LIFETIME,
            Duration::from_secs,
        );
    if token_lifetime.is_zero() || token_lifetime > liaison::AccessConfig::DEFAULT_TOKEN_LIFETIME {
        return Err("token lifetime must be 1 to 900 seconds".into());
    }
    let reload_interval = args
        .revocation_reload_seconds
        .or(file.revocation_reload_seconds)
        .map_or(
            liaison::AccessConfig::DEFAULT_RELOAD_INTERVAL,
            Duration::from_secs,
        );
    if reload_interval.is_zero() {
        return Err("the revocation reload interval must be at least 1 second".into());
    }
    let check_schedule = match args
        .communication_check_every_hours
        .or(file.communication_check_every_hours)
    {
        None => None,
        Some(0) => return Err("communication_check_every_hours must be at least 1".into()),
        Some(every) => {
            let window = args
                .communication_check_window_hours
                .or(file.communication_check_window_hours)
                .unwrap_or(24);
            if window == 0 || window > 720 || window > every {
                return Err(
                    "communication_check_window_hours must be 1 to 720 and not above the interval"
                        .into(),
                );
            }
            Some(liaison_cbm::CheckSchedule {
                every: Duration::from_secs(every * 3600),
                window: Duration::from_secs(window * 3600),
            })
        }
    };
    let mut previous_token_keys = args.token_previous_key;
    if previous_token_keys.is_empty() {
        previous_token_keys = file.token_previous_keys;
    }
    Ok(HubConfig {
        listen,
        database,
        tls,
        federation_toml,
        audit_key,
        receipt_key,
        access: liaison::AccessConfig {
            token_key,
            previous_token_keys,
            token_lifetime,
            crl,
            reload_interval,
        },
        shutdown_grace: Duration::from_secs(file.shutdown_grace_seconds.unwrap_or(20)),
        handshake_timeout: Duration::from_secs(10),
        audit_calls: true,
        clock: liaison_rpc::Clock::system(),
        limits,
        evidence_dir: data_dir.join("evidence"),
        check_schedule,
        admin_listen: args.admin_listen.or(file.admin_listen),
    })
}

/// `liaison dev init`.
pub fn dev_init(args: DevInitArgs) -> Result<String, String> {
    let text = match &args.federation {
        Some(path) => {
            std::fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))?
        }
        None => EXAMPLE_FEDERATION.to_owned(),
    };
    let federation = Federation::from_toml(&text).map_err(|error| error.to_string())?;
    let paths = liaison_pki::dev_init(&args.dir, &federation).map_err(|error| error.to_string())?;
    Ok(format!(
        "wrote a development PKI to {}:\n  CA certificate      {}\n  server certificate  {} (localhost, 127.0.0.1, ::1)\n  server key          {}\n  {} client certificates under {}/principals/<AGENCY-ID>/<name>.pem and .key",
        paths.dir.display(),
        paths.ca_cert.display(),
        paths.server_cert.display(),
        paths.server_key.display(),
        paths.principals,
        paths.dir.display(),
    ))
}

fn dev_ca(dir: &std::path::Path) -> Result<liaison_pki::CertificateAuthority, String> {
    let paths = liaison_pki::DevPkiPaths::in_dir(dir);
    let read = |path: &PathBuf| {
        std::fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))
    };
    liaison_pki::CertificateAuthority::from_pem(&read(&paths.ca_cert)?, &read(&paths.ca_key)?)
        .map_err(|error| error.to_string())
}

/// `liaison dev issue`.
pub fn dev_issue(args: DevIssueArgs) -> Result<String, String> {
    let principal = liaison_core::PrincipalId::from_uri(
        &format!("spiffe://{}/agency/{}", args.trust_domain, args.principal),
        &args.trust_domain,
    )
    .map_err(|_| {
        format!(
            "principal {:?} must be AGENCY-ID/system/NAME or AGENCY-ID/person/NAME",
            args.principal
        )
    })?;
    let issued = dev_ca(&args.dir)?
        .issue_client(
            &principal,
            &args.trust_domain,
            liaison_pki::Validity::days(args.days),
        )
        .map_err(|error| error.to_string())?;
    let paths = liaison_pki::DevPkiPaths::in_dir(&args.dir);
    let (cert, key) = paths.principal(principal.agency().as_str(), principal.name().as_str());
    liaison_pki::write_file(&cert, &issued.cert_pem, false).map_err(|error| error.to_string())?;
    liaison_pki::write_file(&key, &issued.key_pem, true).map_err(|error| error.to_string())?;
    Ok(format!(
        "issued {}\n  certificate  {}\n  key          {}",
        principal.to_uri(&args.trust_domain),
        cert.display(),
        key.display()
    ))
}

/// `liaison dev revoke`.
pub fn dev_revoke(args: DevRevokeArgs) -> Result<String, String> {
    let ca = dev_ca(&args.dir)?;
    let pems = args
        .certificates
        .iter()
        .map(|path| {
            std::fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let refs: Vec<&str> = pems.iter().map(String::as_str).collect();
    // The CRL number grows with time, so that a newer CRL always has a larger one.
    let number = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |elapsed| elapsed.as_secs());
    let crl = ca.crl(&refs, number).map_err(|error| error.to_string())?;
    let path = liaison_pki::DevPkiPaths::in_dir(&args.dir).crl;
    liaison_pki::write_file(&path, &crl, false).map_err(|error| error.to_string())?;
    Ok(format!(
        "wrote {} revoking {} certificate(s)",
        path.display(),
        refs.len()
    ))
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

#[cfg(test)]
mod tests {
    //! The deployment files must agree with the binary: every `LIAISON_*` variable they set
    //! exists, embedded configuration parses, and every port is the one the hub listens on.

    use std::{collections::BTreeSet, path::Path};

    use clap::CommandFactory;

    use super::*;

    fn deploy_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
    }

    fn deploy_files() -> Vec<(PathBuf, String)> {
        let mut files = Vec::new();
        let mut pending = vec![deploy_dir()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    let text = std::fs::read_to_string(&path).unwrap();
                    files.push((path, text));
                }
            }
        }
        files
    }

    fn known_variables() -> BTreeSet<String> {
        let command = Cli::command();
        let mut names: BTreeSet<String> = command
            .get_subcommands()
            .flat_map(|sub| {
                sub.get_arguments()
                    .chain(sub.get_subcommands().flat_map(|s| s.get_arguments()))
            })
            .filter_map(|arg| arg.get_env().map(|env| env.to_string_lossy().into_owned()))
            .collect();
        names.insert("LIAISON_LOG".into());
        names
    }

    #[test]
    fn deployment_files_use_only_variables_the_hub_reads() {
        let known = known_variables();
        assert!(known.contains("LIAISON_DATABASE_URL"));
        for (path, text) in deploy_files() {
            for word in text.split(|c: char| !(c.is_ascii_uppercase() || c == '_')) {
                if word.starts_with("LIAISON_") && word.len() > "LIAISON_".len() {
                    assert!(
                        known.contains(word),
                        "{} sets {word}, which liaison does not read",
                        path.display()
                    );
                }
            }
        }
    }

    #[test]
    fn kubernetes_configuration_parses_and_ports_agree() {
        let manifest =
            std::fs::read_to_string(deploy_dir().join("kubernetes/liaison.yaml")).unwrap();
        let embedded: String = manifest
            .split("liaison.toml: |\n")
            .nth(1)
            .expect("ConfigMap with liaison.toml")
            .lines()
            .take_while(|line| line.is_empty() || line.starts_with("    "))
            .map(|line| format!("{}\n", line.trim_start()))
            .collect();
        let config: ConfigFile = toml::from_str(&embedded).expect("embedded liaison.toml parses");
        let port = config.listen.expect("listen").port();
        assert!(manifest.contains(&format!("containerPort: {port}")));
        // The probes ask the admin port, which the configuration opens.
        let admin = config.admin_listen.expect("admin_listen").port();
        assert!(manifest.contains(&format!(
            "name: admin\n              containerPort: {admin}"
        )));
        for path in ["/healthz", "/readyz"] {
            assert!(manifest.contains(&format!("path: {path}\n              port: admin")));
        }
        let compose = std::fs::read_to_string(deploy_dir().join("compose.yaml")).unwrap();
        assert!(compose.contains(&format!("\"{port}:{port}\"")));
        assert!(compose.contains(&format!("0.0.0.0:{port}")));
        let dockerfile = std::fs::read_to_string(deploy_dir().join("Dockerfile")).unwrap();
        assert!(dockerfile.contains(&format!("EXPOSE {port}")));
    }

    #[test]
    fn flags_beat_the_file_and_dev_needs_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("liaison.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:7000\"\nshutdown_grace_seconds = 3\n",
        )
        .unwrap();
        let cli = Cli::try_parse_from([
            "liaison",
            "serve",
            "--dev",
            "--config",
            file.to_str().unwrap(),
            "--listen",
            "127.0.0.1:7001",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("serve")
        };
        let config = serve_config(args).unwrap();
        assert_eq!(
            config.listen.port(),
            7001,
            "the flag must win over the file"
        );
        assert_eq!(
            config.shutdown_grace,
            Duration::from_secs(3),
            "the file must win over the default"
        );
        assert!(config.tls.ca_cert.exists(), "--dev creates the PKI");
        assert!(matches!(config.database, DatabaseConfig::Sqlite(_)));
    }

    const LIMIT_COUNT: usize = 24;

    /// Every limit: its `[limits]` key, a value other than the default, and where the
    /// value lands in [`Limits`].
    const LIMIT_KEYS: [&str; LIMIT_COUNT] = [
        "max_decoded_message_bytes",
        "max_encoded_message_bytes",
        "max_concurrent_streams",
        "max_connections",
        "max_connections_per_principal",
        "max_connections_per_address",
        "max_handshakes",
        "max_handshakes_per_address",
        "client_hello_timeout_seconds",
        "max_connection_age_seconds",
        "idle_timeout_seconds",
        "max_streams_per_principal",
        "max_streams_per_agency",
        "rate_limit_per_second",
        "rate_limit_burst",
        "max_call_seconds",
        "keepalive_interval_seconds",
        "keepalive_timeout_seconds",
        "max_pending_reset_streams",
        "max_header_list_bytes",
        "max_frame_bytes",
        "max_evidence_bytes_per_request",
        "max_evidence_bytes_per_agency",
        "min_evidence_free_bytes",
    ];

    /// Distinct non-default values, the n-th for the n-th key (`seed` shifts them).
    fn limit_value(index: usize, seed: u64) -> u64 {
        let base = match LIMIT_KEYS[index] {
            "max_frame_bytes" => 20_000,
            "max_decoded_message_bytes" | "max_encoded_message_bytes" => 5_000_000,
            "max_header_list_bytes" => 5_000,
            _ => 3,
        };
        base + seed * 100 + index as u64
    }

    fn limits_as_numbers(limits: &Limits) -> [u64; LIMIT_COUNT] {
        [
            limits.max_decoded_message_bytes as u64,
            limits.max_encoded_message_bytes as u64,
            limits.max_concurrent_streams.into(),
            limits.max_connections as u64,
            limits.max_connections_per_principal as u64,
            limits.max_connections_per_address as u64,
            limits.max_handshakes as u64,
            limits.max_handshakes_per_address as u64,
            limits.client_hello_timeout.as_secs(),
            limits.max_connection_age.as_secs(),
            limits.idle_timeout.as_secs(),
            limits.max_streams_per_principal as u64,
            limits.max_streams_per_agency as u64,
            limits.rate_limit_per_second.into(),
            limits.rate_limit_burst.into(),
            limits.max_call_duration.as_secs(),
            limits.keepalive_interval.as_secs(),
            limits.keepalive_timeout.as_secs(),
            limits.max_pending_reset_streams as u64,
            limits.max_header_list_bytes.into(),
            limits.max_frame_bytes.into(),
            limits.max_evidence_bytes_per_request,
            limits.max_evidence_bytes_per_agency,
            limits.min_evidence_free_bytes,
        ]
    }

    fn limits_from(cli: &[String], file: &str) -> Result<Limits, String> {
        let mut argv = vec!["liaison".to_owned(), "serve".to_owned()];
        argv.extend(cli.iter().cloned());
        let cli = Cli::try_parse_from(argv).map_err(|error| error.to_string())?;
        let Command::Serve(args) = cli.command else {
            panic!("serve")
        };
        let file: ConfigFile = toml::from_str(file).map_err(|error| error.to_string())?;
        limits_config(*args.limits, file.limits)
    }

    #[test]
    fn every_limit_has_a_flag_an_environment_variable_and_a_key() {
        let command = Cli::command();
        let serve = command.find_subcommand("serve").unwrap();
        for key in LIMIT_KEYS {
            let flag = key.replace('_', "-");
            let arg = serve
                .get_arguments()
                .find(|arg| arg.get_long() == Some(flag.as_str()))
                .unwrap_or_else(|| panic!("no --{flag}"));
            let variable = format!("LIAISON_{}", key.to_ascii_uppercase());
            assert_eq!(
                arg.get_env().map(|env| env.to_string_lossy().into_owned()),
                Some(variable)
            );
            let text = format!("[limits]\n{key} = 5\n");
            toml::from_str::<ConfigFile>(&text).unwrap_or_else(|error| panic!("{key}: {error}"));
        }
        assert!(
            toml::from_str::<ConfigFile>("[limits]\nmax_conections = 5\n").is_err(),
            "a misspelt limit must be refused"
        );
    }

    #[test]
    fn the_example_configuration_shows_the_default_limits() {
        let file = ConfigFile::load(&deploy_dir().join("liaison.example.toml")).unwrap();
        let limits = limits_config(LimitArgs::default(), file.limits).unwrap();
        assert_eq!(limits, Limits::default());
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        assert_eq!(limits_from(&[], "").unwrap(), Limits::default());
        let limits = Limits::default();
        assert_eq!(limits.max_decoded_message_bytes, 4 * 1024 * 1024);
        assert_eq!(limits.max_concurrent_streams, 100);
        assert_eq!(limits.rate_limit_per_second, 50);
        assert_eq!(limits.max_call_duration, Duration::from_secs(60));
        limits.validate().unwrap();
    }

    #[test]
    fn each_limit_comes_from_the_file_and_each_flag_beats_the_file() {
        let file: String = std::iter::once("[limits]\n".to_owned())
            .chain(
                LIMIT_KEYS
                    .iter()
                    .enumerate()
                    .map(|(index, key)| format!("{key} = {}\n", limit_value(index, 0))),
            )
            .collect();
        let from_file = limits_from(&[], &file).unwrap();
        let expected: Vec<u64> = (0..LIMIT_COUNT)
            .map(|index| limit_value(index, 0))
            .collect();
        assert_eq!(limits_as_numbers(&from_file).to_vec(), expected);
        assert_ne!(from_file, Limits::default());

        let flags: Vec<String> = LIMIT_KEYS
            .iter()
            .enumerate()
            .flat_map(|(index, key)| {
                [
                    format!("--{}", key.replace('_', "-")),
                    limit_value(index, 1).to_string(),
                ]
            })
            .collect();
        let from_flags = limits_from(&flags, &file).unwrap();
        let expected: Vec<u64> = (0..LIMIT_COUNT)
            .map(|index| limit_value(index, 1))
            .collect();
        assert_eq!(limits_as_numbers(&from_flags).to_vec(), expected);
    }

    #[test]
    fn each_limit_comes_from_the_environment_between_flags_and_file() {
        // clap reads the real environment and std::env::set_var is banned here, so the
        // test runs itself again as a child process with the variables set.
        const CHILD: &str = "LIAISON_TEST_LIMITS_CHILD";
        const NAME: &str =
            "cli::tests::each_limit_comes_from_the_environment_between_flags_and_file";
        if std::env::var_os(CHILD).is_some() {
            // The file sets every limit; the environment every one but the first; a flag
            // the second.
            let file: String = std::iter::once("[limits]\n".to_owned())
                .chain(
                    LIMIT_KEYS
                        .iter()
                        .enumerate()
                        .map(|(index, key)| format!("{key} = {}\n", limit_value(index, 0))),
                )
                .collect();
            let flags = [
                "--max-encoded-message-bytes".to_owned(),
                limit_value(1, 2).to_string(),
            ];
            let limits = limits_from(&flags, &file).unwrap();
            let mut expected: Vec<u64> = (0..LIMIT_COUNT)
                .map(|index| limit_value(index, 1))
                .collect();
            expected[0] = limit_value(0, 0);
            expected[1] = limit_value(1, 2);
            assert_eq!(limits_as_numbers(&limits).to_vec(), expected);
            println!("{CHILD}: checked");
            return;
        }
        let mut child = std::process::Command::new(std::env::current_exe().unwrap());
        child.args(["--exact", NAME, "--nocapture", "--test-threads=1"]);
        child.env(CHILD, "1");
        for (index, key) in LIMIT_KEYS.iter().enumerate() {
            let variable = format!("LIAISON_{}", key.to_ascii_uppercase());
            if index == 0 {
                child.env_remove(variable);
            } else {
                child.env(variable, limit_value(index, 1).to_string());
            }
        }
        let output = child.output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stdout}\n{stderr}");
        assert!(
            stdout.contains(&format!("{CHILD}: checked")),
            "the child test did not run:\n{stdout}\n{stderr}"
        );
    }

    #[test]
    fn limits_out_of_range_are_named() {
        for (flag, value, named) in [
            (
                "--max-decoded-message-bytes",
                "100",
                "max_decoded_message_bytes",
            ),
            ("--max-concurrent-streams", "0", "max_concurrent_streams"),
            ("--max-connections", "0", "max_connections"),
            (
                "--max-connections-per-principal",
                "0",
                "max_connections_per_principal",
            ),
            (
                "--max-handshakes-per-address",
                "0",
                "max_handshakes_per_address",
            ),
            (
                "--client-hello-timeout-seconds",
                "0",
                "client_hello_timeout_seconds",
            ),
            ("--idle-timeout-seconds", "0", "idle_timeout_seconds"),
            ("--rate-limit-burst", "0", "rate_limit_burst"),
            ("--max-call-seconds", "0", "max_call_seconds"),
            (
                "--keepalive-interval-seconds",
                "0",
                "keepalive_interval_seconds",
            ),
            ("--max-frame-bytes", "1000", "max_frame_bytes"),
            ("--max-frame-bytes", "16777216", "max_frame_bytes"),
            ("--max-header-list-bytes", "10", "max_header_list_bytes"),
        ] {
            let error = limits_from(&[flag.to_owned(), value.to_owned()], "").unwrap_err();
            assert!(error.contains(named), "{flag} {value}: {error}");
        }
        // A rate of zero turns the limit off, and then the burst does not matter.
        let off = limits_from(
            &[
                "--rate-limit-per-second".into(),
                "0".into(),
                "--rate-limit-burst".into(),
                "0".into(),
            ],
            "",
        )
        .unwrap();
        assert_eq!(off.rate_limit_per_second, 0);
        // Not a number: clap names the flag.
        let error = limits_from(&["--max-connections".into(), "many".into()], "").unwrap_err();
        assert!(error.contains("--max-connections"), "{error}");
    }

    #[test]
    fn missing_pieces_are_named() {
        let cli = Cli::try_parse_from(["liaison", "serve", "--data-dir", "/nonexistent"]).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("serve")
        };
        let error = serve_config(args).unwrap_err();
        assert!(error.contains("--federation"), "{error}");
        let cli = Cli::try_parse_from(["liaison", "serve", "--dev", "--database-url", "mysql://x"])
            .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("serve")
        };
        assert!(serve_config(args).unwrap_err().contains("postgres://"));
    }

    #[test]
    fn token_and_revocation_settings() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().to_str().unwrap();
        let parse = |extra: &[&str]| {
            let mut args = vec!["liaison", "serve", "--dev", "--data-dir", data_dir];
            args.extend_from_slice(extra);
            let Command::Serve(args) = Cli::try_parse_from(args).unwrap().command else {
                panic!("serve")
            };
            serve_config(args)
        };
        let config = parse(&[]).unwrap();
        assert!(config.access.token_key.ends_with("pki/token-signing.key"));
        assert_eq!(
            config.receipt_key, None,
            "receipts: the audit key by default"
        );
        let config = parse(&["--receipt-key", "/k/mla-receipts.key"]).unwrap();
        assert_eq!(
            config.receipt_key.as_deref(),
            Some(std::path::Path::new("/k/mla-receipts.key"))
        );
        assert!(config.access.crl.as_ref().unwrap().ends_with("pki/crl.pem"));
        assert_eq!(config.access.token_lifetime, Duration::from_secs(900));
        let config = parse(&[
            "--token-previous-key",
            "/k/old1.key,/k/old2.key",
            "--token-lifetime-seconds",
            "300",
            "--revocation-reload-seconds",
            "2",
        ])
        .unwrap();
        assert_eq!(config.access.previous_token_keys.len(), 2);
        assert_eq!(config.access.token_lifetime, Duration::from_secs(300));
        assert_eq!(config.access.reload_interval, Duration::from_secs(2));
        let error = parse(&["--token-lifetime-seconds", "3600"]).unwrap_err();
        assert!(error.contains("900"), "{error}");
        let error = parse(&["--revocation-reload-seconds", "0"]).unwrap_err();
        assert!(error.contains("reload"), "{error}");
        // Outside development mode the token key must be named.
        let federation = dir.path().join("federation.toml");
        std::fs::write(&federation, EXAMPLE_FEDERATION).unwrap();
        let cli = Cli::try_parse_from([
            "liaison",
            "serve",
            "--federation",
            federation.to_str().unwrap(),
            "--tls-ca",
            "a",
            "--tls-cert",
            "b",
            "--tls-key",
            "c",
            "--audit-key",
            "d",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("serve")
        };
        let error = serve_config(args).unwrap_err();
        assert!(
            error.contains("--token-key") || error.contains("federation"),
            "{error}"
        );
    }

    #[test]
    fn dev_issue_and_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let pki = dir.path().join("pki");
        dev_init(DevInitArgs {
            dir: pki.clone(),
            federation: None,
        })
        .unwrap();
        let summary = dev_issue(DevIssueArgs {
            dir: pki.clone(),
            principal: "UA-CERT/person/analyst".into(),
            trust_domain: "liaison.example".into(),
            days: 30,
        })
        .unwrap();
        assert!(summary.contains("spiffe://liaison.example/agency/UA-CERT/person/analyst"));
        let cert = pki.join("principals/UA-CERT/analyst.pem");
        assert!(cert.exists());
        assert!(
            dev_issue(DevIssueArgs {
                dir: pki.clone(),
                principal: "UA-CERT/robot/x".into(),
                trust_domain: "liaison.example".into(),
                days: 30,
            })
            .unwrap_err()
            .contains("AGENCY-ID/person/NAME")
        );
        dev_revoke(DevRevokeArgs {
            dir: pki.clone(),
            certificates: vec![cert],
        })
        .unwrap();
        let pem = std::fs::read(pki.join("crl.pem")).unwrap();
        let (_, block) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
        let (_, crl) = <x509_parser::revocation_list::CertificateRevocationList<'_> as x509_parser::prelude::FromDer<'_, _>>::from_der(&block.contents).unwrap();
        assert_eq!(crl.iter_revoked_certificates().count(), 1);
    }

    #[test]
    fn communication_check_schedule() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().to_str().unwrap();
        let parse = |extra: &[&str]| {
            let mut args = vec!["liaison", "serve", "--dev", "--data-dir", data_dir];
            args.extend_from_slice(extra);
            let Command::Serve(args) = Cli::try_parse_from(args).unwrap().command else {
                panic!("serve")
            };
            serve_config(args)
        };
        assert!(parse(&[]).unwrap().check_schedule.is_none());
        let schedule = parse(&["--communication-check-every-hours", "168"])
            .unwrap()
            .check_schedule
            .unwrap();
        assert_eq!(schedule.every, Duration::from_secs(168 * 3600));
        assert_eq!(schedule.window, Duration::from_secs(24 * 3600));
        let error = parse(&[
            "--communication-check-every-hours",
            "12",
            "--communication-check-window-hours",
            "24",
        ])
        .unwrap_err();
        assert!(
            error.contains("communication_check_window_hours"),
            "{error}"
        );
    }
}
