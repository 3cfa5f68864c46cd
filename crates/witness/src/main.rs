//! `liaison-witness`: a witness of a Liaison hub's audit log, run by a member agency.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode, sync::Arc};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use liaison_audit::{Cosigner, SigningKey, VerifierKey};
use liaison_witness::Witness;

/// A C2SP tlog-witness for a Liaison hub's audit log.
///
/// The hub submits each new checkpoint of its audit log with a consistency proof; the
/// witness cosigns it only if it extends the last checkpoint it cosigned. Agencies that
/// run witnesses make a rewritten or forked log history detectable: `liaisonctl audit
/// verify --witnesses K` requires K cosignatures.
#[derive(Debug, Parser)]
#[command(name = "liaison-witness", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Creates the witness's Ed25519 key and prints the line for the federation file.
    Init {
        /// The witness's name: a schema-less URL, e.g. `witness.cert.gov.ua/liaison`.
        #[arg(long)]
        name: String,
        /// Where to write the private key (PKCS#8, mode 0600); must not exist.
        #[arg(long)]
        key_file: PathBuf,
    },
    /// Serves `POST /add-checkpoint` until interrupted.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "LIAISON_WITNESS_LISTEN", default_value = "127.0.0.1:7380")]
        listen: SocketAddr,
        /// The witness's name, as given to `init`.
        #[arg(long, env = "LIAISON_WITNESS_NAME")]
        name: String,
        /// The private key written by `init`.
        #[arg(long, env = "LIAISON_WITNESS_KEY_FILE")]
        key_file: PathBuf,
        /// The hub's audit log key (`liaisonctl audit log-key`); repeat for several logs.
        #[arg(long = "log-key", required = true)]
        log_keys: Vec<String>,
        /// Where the witness keeps the last checkpoint it cosigned of each log.
        #[arg(
            long,
            env = "LIAISON_WITNESS_STATE_DIR",
            default_value = "./witness-state"
        )]
        state_dir: PathBuf,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    liaison_telemetry::init(liaison_telemetry::LogFormat::Text, "info");
    match run(Cli::parse().command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("liaison-witness: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Init { name, key_file } => {
            let (key, pkcs8) = SigningKey::generate(&name)?;
            write_private(&key_file, &pkcs8)?;
            println!("{}", Cosigner::new(key).verifier());
            Ok(())
        }
        Command::Serve {
            listen,
            name,
            key_file,
            log_keys,
            state_dir,
        } => {
            let pkcs8 = std::fs::read(&key_file)
                .with_context(|| format!("reading {}", key_file.display()))?;
            let cosigner = Cosigner::new(SigningKey::from_pkcs8(&name, &pkcs8)?);
            let logs = log_keys
                .iter()
                .map(|key| VerifierKey::parse(key).with_context(|| format!("log key {key:?}")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let witness = Arc::new(Witness::new(cosigner, logs, state_dir)?);
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("listening on {listen}"))?;
            eprintln!(
                "liaison-witness: {} listening on http://{}",
                witness.verifier(),
                listener.local_addr()?
            );
            liaison_witness::server::serve(listener, witness, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
            Ok(())
        }
    }
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}
