//! From arguments to a connected client.

use liaison_client::{Client, ClientConfig, ClientError};

use std::path::PathBuf;

use crate::{
    cli::ConnectionArgs,
    failure::{EXIT_CONFIG, EXIT_UNREACHABLE, Failure},
    profile::Profile,
};

/// The endpoint when neither a flag, a variable nor a profile names one.
const DEFAULT_ENDPOINT: &str = "https://127.0.0.1:50051";

/// How to reach the hub and who to be, after flags, `LIAISON_*` variables and the profile.
#[derive(Debug, Clone)]
pub struct Settings {
    pub endpoint: String,
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub dev: bool,
    pub as_principal: Option<String>,
    pub data_dir: PathBuf,
}

impl Settings {
    /// The settings for a call to `service`: the endpoint given, else the profile's; the
    /// identity given (any of --dev, --ca, --cert, --key), else the profile's whole — never
    /// a mix of the two, so `--dev` is not paired with a profile's files; `--as` picks the
    /// principal of a development profile.
    pub fn resolve(args: &ConnectionArgs, profile: Option<&Profile>, service: &str) -> Self {
        let given = args.dev || args.ca.is_some() || args.cert.is_some() || args.key.is_some();
        let identity = if given { None } else { profile };
        Self {
            endpoint: args
                .endpoint
                .clone()
                .or_else(|| profile.and_then(|p| p.endpoint_for(service).map(str::to_owned)))
                .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned()),
            ca: args
                .ca
                .clone()
                .or_else(|| identity.and_then(|p| p.ca.clone())),
            cert: args
                .cert
                .clone()
                .or_else(|| identity.and_then(|p| p.cert.clone())),
            key: args
                .key
                .clone()
                .or_else(|| identity.and_then(|p| p.key.clone())),
            dev: args.dev || identity.is_some_and(|p| p.dev),
            as_principal: args
                .as_principal
                .clone()
                .or_else(|| identity.and_then(|p| p.as_principal.clone())),
            data_dir: args
                .data_dir
                .clone()
                .or_else(|| profile.and_then(|p| p.data_dir.clone()))
                .unwrap_or_else(|| PathBuf::from("liaison-data")),
        }
    }
}

/// Resolves the certificate, key and CA files and connects.
pub async fn connect(args: &Settings) -> Result<Client, Failure> {
    let (ca, cert, key) = if args.dev {
        let principal = args.as_principal.as_deref().ok_or_else(|| {
            Failure::new(
                EXIT_CONFIG,
                "--dev needs --as AGENCY-ID/name, e.g. --as UA-CERT/officer",
            )
        })?;
        let (agency, name) = principal.split_once('/').ok_or_else(|| {
            Failure::new(
                EXIT_CONFIG,
                format!("--as {principal:?}: expected AGENCY-ID/name, e.g. UA-CERT/officer"),
            )
        })?;
        let pki = args.data_dir.join("pki");
        let principal_dir = pki.join("principals").join(agency);
        if !pki.join("ca.pem").exists() {
            return Err(Failure::new(
                EXIT_CONFIG,
                format!(
                    "{} holds no development PKI: start the hub with `liaison serve --dev --data-dir {}` first",
                    pki.display(),
                    args.data_dir.display()
                ),
            ));
        }
        (
            args.ca.clone().unwrap_or_else(|| pki.join("ca.pem")),
            args.cert
                .clone()
                .unwrap_or_else(|| principal_dir.join(format!("{name}.pem"))),
            args.key
                .clone()
                .unwrap_or_else(|| principal_dir.join(format!("{name}.key"))),
        )
    } else {
        match (&args.ca, &args.cert, &args.key) {
            (Some(ca), Some(cert), Some(key)) => (ca.clone(), cert.clone(), key.clone()),
            _ => {
                return Err(Failure::new(
                    EXIT_CONFIG,
                    "no client certificate: pass --ca, --cert and --key (or LIAISON_CA, LIAISON_CERT, \
                     LIAISON_KEY), or a profile (`liaisonctl config set --help`), or --dev --as \
                     AGENCY-ID/name against a hub started with --dev",
                ));
            }
        }
    };
    let config =
        ClientConfig::from_files(&args.endpoint, &ca, &cert, &key).map_err(
            |error| match error {
                ClientError::File { .. } => Failure::new(EXIT_CONFIG, error.to_string()),
                other => Failure::new(EXIT_CONFIG, other.to_string()),
            },
        )?;
    Client::connect(&config).await.map_err(|error| match error {
        ClientError::Connect(message) => Failure::new(EXIT_UNREACHABLE, message),
        other => Failure::new(EXIT_CONFIG, other.to_string()),
    })
}
