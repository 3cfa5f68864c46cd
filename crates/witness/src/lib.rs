//! A witness of the hub's audit log, run by a member agency: the C2SP tlog-witness
//! protocol (<https://c2sp.org/tlog-witness>) over HTTP, cosignatures in the C2SP
//! tlog-cosignature format, and the client the hub submits its checkpoints with.
//!
//! - [`Witness`]: the decision ([`liaison_audit::AddCheckpoint::decide`]), taken one request
//!   at a time and persisted ([`state`]) before the cosignature is returned, so two racing
//!   requests can never roll the witness back.
//! - [`server`]: `POST <prefix>/add-checkpoint`, with bounded bodies, connections and time.
//! - [`client`]: one submission, as the hub makes it.
//!
//! The witness trusts nothing but signatures: a checkpoint counts only if the log's key
//! signed it, and it is cosigned only if it extends, by a verified consistency proof, the
//! last one this witness cosigned. It holds no secret of the hub's and sees no record.

pub mod client;
pub mod server;
pub mod state;

use std::path::PathBuf;

use liaison_audit::{AddCheckpoint, Cosigner, CosignerKey, VerifierKey, WitnessRefusal, Witnessed};
use tokio::sync::Mutex;

/// A witness: its key, the logs it follows and where it keeps what it cosigned.
#[derive(Debug)]
pub struct Witness {
    cosigner: Cosigner,
    logs: Vec<VerifierKey>,
    state: state::StateDir,
    /// One decision at a time: check and persist are one step.
    turn: Mutex<()>,
}

impl Witness {
    /// A witness cosigning with `cosigner` the checkpoints of the logs whose keys are
    /// `logs` (each key's name is its log's origin), keeping its state in `state_dir`.
    pub fn new(
        cosigner: Cosigner,
        logs: Vec<VerifierKey>,
        state_dir: PathBuf,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(!logs.is_empty(), "a witness needs at least one log key");
        Ok(Self {
            cosigner,
            logs,
            state: state::StateDir::open(state_dir)?,
            turn: Mutex::new(()),
        })
    }

    /// The key that verifies this witness's cosignatures (for the federation file).
    pub fn verifier(&self) -> CosignerKey {
        self.cosigner.verifier()
    }

    /// Answers an `add-checkpoint` body: the cosignature lines, or the refusal.
    pub async fn add_checkpoint(&self, body: &str, now: u64) -> Result<String, Refusal> {
        let request = AddCheckpoint::parse(body).map_err(Refusal::Protocol)?;
        let _turn = self.turn.lock().await;
        let origin = request.checkpoint.lines().next().unwrap_or_default();
        let held = self.state.load(origin).map_err(Refusal::Storage)?;
        let keys: Vec<VerifierKey> = self
            .logs
            .iter()
            .filter(|key| key.name() == origin)
            .cloned()
            .collect();
        let decided = request.decide(|_| !keys.is_empty(), &keys, held.map(|held| held.witnessed));
        let checkpoint = match decided {
            Ok(checkpoint) => checkpoint,
            Err(refusal) => {
                if matches!(
                    refusal,
                    WitnessRefusal::BadProof | WitnessRefusal::RootConflict(_)
                ) {
                    // Signed by the log and inconsistent with what was cosigned: evidence.
                    self.state.record_refused(origin, body);
                    tracing::warn!(origin, %refusal, "refused a checkpoint inconsistent with the cosigned history");
                }
                return Err(Refusal::Protocol(refusal));
            }
        };
        let text = checkpoint.text();
        let witnessed = Witnessed {
            size: checkpoint.size(),
            root: *checkpoint.root(),
        };
        self.state
            .store(origin, witnessed, &request.checkpoint)
            .map_err(Refusal::Storage)?;
        Ok(self.cosigner.cosign(&text, now))
    }
}

/// Why a witness did not cosign.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// A refusal of the protocol, with its HTTP status.
    #[error(transparent)]
    Protocol(WitnessRefusal),
    /// The witness could not read or persist its state: nothing was cosigned.
    #[error("witness state: {0}")]
    Storage(std::io::Error),
}

/// POSIX seconds now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
