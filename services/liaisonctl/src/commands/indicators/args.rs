//! The arguments of `liaisonctl indicators publish | watch | search | sight`, shared by the
//! commands and the file readers.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

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

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words to find in titles, descriptions and countermeasures (any script).
    pub text: Option<String>,
    /// Only these categories (repeatable), as for `publish --category`.
    #[arg(long = "category")]
    pub categories: Vec<String>,
    /// Only these TLP markings (repeatable).
    #[arg(long = "tlp")]
    pub tlps: Vec<String>,
    /// Only from these agencies (repeatable).
    #[arg(long = "source")]
    pub sources: Vec<String>,
    /// Include revoked and expired indicators.
    #[arg(long)]
    pub all: bool,
    /// At most this many results.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct SightArgs {
    /// The observable seen, TYPE=VALUE.
    pub observable: String,
    /// How many times.
    #[arg(long, default_value_t = 1)]
    pub count: u32,
    /// First seen, RFC 3339 [default: now]
    #[arg(long)]
    pub first_seen: Option<String>,
    /// Last seen, RFC 3339 [default: now]
    #[arg(long)]
    pub last_seen: Option<String>,
}
