//! From arguments to a connected client.

use liaison_client::{Client, ClientConfig, ClientError};

use crate::{
    cli::ConnectionArgs,
    failure::{EXIT_CONFIG, EXIT_UNREACHABLE, Failure},
};

/// Resolves the certificate, key and CA files and connects.
pub async fn connect(args: &ConnectionArgs) -> Result<Client, Failure> {
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
                     LIAISON_KEY), or --dev --as AGENCY-ID/name against a hub started with --dev",
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
