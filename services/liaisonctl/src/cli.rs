//! Arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// liaisonctl: talk to a Liaison hub over mutual TLS.
///
/// Connection settings come from flags or LIAISON_* environment variables. With
/// `--dev --as AGENCY-ID/name`, the certificate, key and CA are taken from the
/// development PKI that `liaison serve --dev` created in its data directory.
///
/// Exit codes: 0 success; 1 the hub refused or failed the call; 2 bad arguments;
/// 64 bad configuration (a file that cannot be read); 69 the hub cannot be reached;
/// 77 the hub does not accept this identity or denies the action; 141 whoever read the
/// output stopped reading (`liaisonctl … | head`), as for a program killed by SIGPIPE.
#[derive(Debug, Parser)]
#[command(name = "liaisonctl", version, about, long_about)]
pub struct Cli {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Output format: tables for people, JSON for scripts.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = OutputFormat::Table, env = "LIAISON_OUTPUT")]
    pub output: OutputFormat,
    /// Why you are reading: a case reference or legal basis. Required to read personal data
    /// (e-mail addresses, phone numbers, IBANs, messenger handles); kept in the audit log.
    #[arg(long, global = true, env = "LIAISON_PURPOSE")]
    pub purpose: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// How to reach the hub and who to be.
#[derive(Debug, Args)]
pub struct ConnectionArgs {
    /// Hub endpoint.
    #[arg(
        long,
        global = true,
        env = "LIAISON_ENDPOINT",
        default_value = "https://127.0.0.1:50051"
    )]
    pub endpoint: String,
    /// Hub CA certificate (PEM).
    #[arg(long, global = true, env = "LIAISON_CA")]
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM).
    #[arg(long, global = true, env = "LIAISON_CERT")]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM).
    #[arg(long, global = true, env = "LIAISON_KEY")]
    pub key: Option<PathBuf>,
    /// Use the development PKI of the hub's data directory (see --as and --data-dir).
    #[arg(long, global = true, env = "LIAISON_DEV")]
    pub dev: bool,
    /// With --dev: the principal to act as, AGENCY-ID/name (e.g. UA-CERT/officer).
    #[arg(
        long = "as",
        global = true,
        env = "LIAISON_AS",
        value_name = "AGENCY-ID/NAME"
    )]
    pub as_principal: Option<String>,
    /// With --dev: the hub's data directory.
    #[arg(
        long,
        global = true,
        env = "LIAISON_DATA_DIR",
        default_value = "liaison-data"
    )]
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show who the hub thinks you are: principal, agency, roles, certificate.
    Whoami,
    /// Member agencies.
    #[command(subcommand)]
    Agencies(AgenciesCommand),
    /// Fraud-method indicators.
    #[command(subcommand)]
    Indicators(IndicatorsCommand),
    /// The audit log: query, export, verify and follow it (auditors only).
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Confidence-building measures: notifications, acknowledgements, replies, the watch,
    /// communication checks and points of contact.
    #[command(subcommand)]
    Cbm(crate::cbm::CbmCommand),
    /// The hub operator's commands: agencies, certificates, roles, sharing groups.
    #[command(subcommand)]
    Admin(crate::admin::AdminCommand),
    /// Mutual legal assistance requests: new, steps, messages, the overdue list, receipts.
    #[command(subcommand)]
    Mla(crate::mla::MlaCommand),
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Search audit records. Agency auditors see their agency's actions and the access to
    /// what their agency owns; oversight auditors see everything.
    Query(AuditQueryArgs),
    /// Write the log's records as JSON lines, ending with the signed checkpoint that
    /// covers them, for `audit verify FILE`.
    Export(AuditExportArgs),
    /// Verify an exported file, or the live log, against a signed checkpoint and the
    /// hub's public key. Also checks, as a witness, that the log extends the last
    /// checkpoint this client verified for the hub: a rewritten or forked history fails.
    Verify(AuditVerifyArgs),
    /// Follow new audit records as they are logged (Ctrl-C to stop).
    Tail(AuditTailArgs),
}

#[derive(Debug, Args)]
pub struct AuditQueryArgs {
    /// Only records of this acting agency.
    #[arg(long)]
    pub agency: Option<String>,
    /// Only records of this principal, AGENCY-ID/kind/name.
    #[arg(long)]
    pub principal: Option<String>,
    /// Only this method, e.g. /liaison.v1.IndicatorService/GetIndicator.
    #[arg(long)]
    pub method: Option<String>,
    /// Only records that touched this object (ind_…, an agency id, …).
    #[arg(long)]
    pub object: Option<String>,
    /// Only records that touched objects owned by this agency.
    #[arg(long)]
    pub owner: Option<String>,
    /// Only outcomes of this class: ok, denied or failed.
    #[arg(long)]
    pub outcome: Option<String>,
    /// From this time, RFC 3339.
    #[arg(long)]
    pub since: Option<String>,
    /// Before this time, RFC 3339.
    #[arg(long)]
    pub until: Option<String>,
    /// Newest records first.
    #[arg(long)]
    pub newest_first: bool,
    /// At most this many records.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct AuditExportArgs {
    /// First leaf index.
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// Write to this file instead of standard output.
    #[arg(long = "file", short = 'f')]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    /// An exported file to verify offline; without it the live log is verified.
    pub file: Option<PathBuf>,
    /// The hub's log verifier key (`name+keyid+base64`, from the operator or
    /// GetLogKeys); default: the key this client pinned for the hub on first use. (Not
    /// `--key`, which is the client's private key.)
    #[arg(long = "log-key", value_name = "VERIFIER_KEY")]
    pub log_key: Option<String>,
    /// Where the witness state (pinned key, last verified checkpoint) is kept
    /// [default: $XDG_STATE_HOME/liaisonctl or ~/.local/state/liaisonctl]
    #[arg(long, env = "LIAISON_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AuditTailArgs {
    /// Stop after this many records.
    #[arg(long)]
    pub limit: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum AgenciesCommand {
    /// List every member agency.
    List,
}

#[derive(Debug, Subcommand)]
pub enum IndicatorsCommand {
    /// Publish a fraud method and/or observables, or every item of a JSON, CSV or STIX file.
    ///
    /// With --file, every item of the file goes to the hub over one PublishMany stream, with a
    /// progress bar on standard error when it is a terminal, and a summary at the end: how
    /// many were accepted, were duplicates (published before with the same request id; running
    /// the same file again publishes nothing twice) or were rejected, and each rejected item —
    /// by line (CSV), item number (JSON) or STIX object id — with the reason. Items that cannot
    /// even be read are reported the same way; the others are still sent. The command exits 1
    /// if anything was rejected.
    ///
    /// File formats (by --format, else by content and extension: a JSON file holding a STIX
    /// bundle is read as STIX, .csv as CSV):
    ///
    ///   JSON: one item or an array of items, each an object with the fields
    ///   title, description, countermeasures, category, observables ([{"type": "domain",
    ///   "value": "…"}, …]), language, tlp, scope, confidence, evaluation, anonymous,
    ///   valid_until (RFC 3339); fields left out take the values of the flags below.
    ///
    ///   CSV: a header row naming the columns, then one indicator per row: type and value
    ///   (one observable) are required; title, description, countermeasures, category,
    ///   language, tlp, scope, confidence, evaluation, anonymous (true/false) and valid_until
    ///   are optional, empty cells take the flags' values. Quote cells holding commas,
    ///   quotes or line breaks ("…", with "" for a quote).
    ///
    ///   STIX: a STIX 2.1 bundle, read as ImportStix reads it: indicators with single-comparison
    ///   patterns, attack-patterns as fraud methods, courses of action as countermeasures; the
    ///   TLP of its markings, else --tlp; --scope for all.
    #[command(verbatim_doc_comment)]
    Publish(Box<PublishArgs>),
    /// Show one indicator.
    Get {
        /// Indicator id (ind_…).
        id: String,
    },
    /// Follow new indicators as they are published (Ctrl-C to stop).
    Watch(WatchArgs),
    /// Search the indicators you may see, newest first.
    Search(crate::exchange::SearchArgs),
    /// What the federation knows of one value: agencies, dates, fraud methods, sightings.
    Lookup {
        /// The observable, TYPE=VALUE (domain=example.com, phone=+380…).
        observable: String,
    },
    /// Revoke one of your agency's indicators; subscribers are told.
    Revoke {
        /// Indicator id (ind_…).
        id: String,
        /// Why, for the recipients and the audit log.
        #[arg(long)]
        reason: String,
    },
    /// Report that you saw an observable (count and time).
    Sight(crate::exchange::SightArgs),
    /// Export an indicator you may see as a STIX 2.1 bundle (JSON).
    ///
    /// Each observable becomes an indicator with a STIX pattern, the fraud method an
    /// attack-pattern and its countermeasures a course-of-action; the TLP is the TLP 2.0
    /// marking definition; an anonymous item names "a member agency" as its source.
    Export {
        /// Indicator id (ind_…).
        id: String,
        /// STIX 2.1, the one export format.
        #[arg(long, required = true)]
        stix: bool,
        /// Write the bundle to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// The formats `indicators publish --file` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FileFormat {
    Json,
    Csv,
    Stix,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Publish the items of this file (JSON, CSV or a STIX bundle) instead of one indicator.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["title", "observables"])]
    pub file: Option<PathBuf>,
    /// The format of --file [default: from its content and extension]
    #[arg(long, value_enum, requires = "file")]
    pub format: Option<FileFormat>,
    /// Title of the fraud method; omit to publish observables on their own.
    #[arg(long)]
    pub title: Option<String>,
    /// How the fraud works.
    #[arg(long, default_value = "")]
    pub description: String,
    /// Countermeasures.
    #[arg(long, default_value = "")]
    pub countermeasures: String,
    /// Category of the fraud method: phishing, business-email-compromise,
    /// investment-fraud, romance-fraud, tech-support-fraud, sim-swap,
    /// card-not-present-fraud, ransomware-extortion, crypto-asset-fraud, fake-online-shop,
    /// other.
    #[arg(long, default_value = "other")]
    pub category: String,
    /// An observable, TYPE=VALUE (repeatable). Types: domain, url, ipv4, ipv6, email,
    /// phone, iban, crypto-wallet, sha256, sha1, md5, card-bin, messenger.
    #[arg(long = "observable", value_name = "TYPE=VALUE")]
    pub observables: Vec<String>,
    /// BCP 47 language of the texts (uk, sr-Cyrl, vi, lv, en, …).
    #[arg(long, default_value = "en")]
    pub language: String,
    /// TLP 2.0 marking: clear, green, amber, amber+strict, red.
    #[arg(long, default_value = "green")]
    pub tlp: String,
    /// Who receives it: all, group:GROUP-ID, or agencies:ID,ID,…
    #[arg(long, default_value = "all")]
    pub scope: String,
    /// Confidence, 0 to 100.
    #[arg(long, default_value_t = 50)]
    pub confidence: u32,
    /// Evaluation code: source reliability A, B, C or X and accuracy 1-4, e.g. B2.
    #[arg(long)]
    pub evaluation: Option<String>,
    /// Hide the source agency from recipients.
    #[arg(long)]
    pub anonymous: bool,
    /// Expiry, RFC 3339 (2027-01-31T00:00:00Z).
    #[arg(long)]
    pub valid_until: Option<String>,
    /// Idempotency key; a retry with the same key stores nothing twice [default: random;
    /// with --file, derived from the file's content, suffixed with each item's number]
    #[arg(long)]
    pub request_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Resume after this cursor (the last one printed); 0 replays everything you may see.
    #[arg(long, default_value_t = 0)]
    pub after: u64,
    /// Only these categories (repeatable), as for `publish --category`.
    #[arg(long = "category")]
    pub categories: Vec<String>,
    /// Only these TLP markings (repeatable).
    #[arg(long = "tlp")]
    pub tlps: Vec<String>,
    /// Stop after this many events.
    #[arg(long)]
    pub limit: Option<u64>,
}
