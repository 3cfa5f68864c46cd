//! The command line: `Cli`, how to reach the hub (`ConnectionArgs`) and the top-level
//! `Command`. Each group's subcommands are defined next to their code in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::{
    commands::{
        admin::AdminCommand, audit::AuditCommand, cbm::CbmCommand, config::ConfigCommand,
        directory::AgenciesCommand, inbox::InboxArgs, indicators::IndicatorsCommand,
        mla::MlaCommand,
    },
    output::OutputFormat,
};

/// liaisonctl: talk to a Liaison hub over mutual TLS.
///
/// Connection settings come from flags or LIAISON_* environment variables, else from
/// a profile (`liaisonctl config --help`; --profile NAME or LIAISON_PROFILE). With
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
    /// [default: the profile's, else table]
    #[arg(long, short = 'o', global = true, value_enum, env = "LIAISON_OUTPUT")]
    pub output: Option<OutputFormat>,
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
    /// The profile to use (see `liaisonctl config`) [default: the configuration's default]
    #[arg(long, global = true, env = "LIAISON_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
    /// Hub endpoint [default: the profile's, else https://127.0.0.1:50051]
    #[arg(long, global = true, env = "LIAISON_ENDPOINT")]
    pub endpoint: Option<String>,
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
    /// With --dev: the hub's data directory [default: the profile's, else liaison-data]
    #[arg(long, global = true, env = "LIAISON_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// What needs your agency now: MLA steps (overdue first), notifications to
    /// acknowledge, checks to answer, consultations — each with its command.
    Inbox(InboxArgs),
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
    Cbm(CbmCommand),
    /// The hub operator's commands: agencies, certificates, roles, sharing groups.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Mutual legal assistance requests: new, steps, messages, the overdue list, receipts.
    #[command(subcommand)]
    Mla(MlaCommand),
    /// Hub profiles: endpoint(s), CA, certificate, key and output format, kept in the
    /// XDG config directory so that no connection flags are needed.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print a shell completion script: `liaisonctl completions bash > …` (see docs/cli.md).
    Completions {
        /// bash, zsh or fish.
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Write the man pages (liaisonctl.1 and one per subcommand) to --out DIR, or print
    /// the main page.
    Man {
        /// The directory to write them to, e.g. ~/.local/share/man/man1.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// The shells `completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}
