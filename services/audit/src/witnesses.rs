//! Witnessing: every new checkpoint goes to each witness of the federation with a
//! consistency proof from the last size that witness cosigned; the cosignatures that come
//! back are checked against the witness's key from the federation file and stored, to be
//! served with the checkpoint (GetCheckpoint).
//!
//! A witness that is down or refuses costs only its own cosignature: the others are asked
//! at once and independently, and it is asked again with the next checkpoint. Nothing the
//! witnesses answer is audited as a record: a record per cosignature would grow the log,
//! make a new checkpoint and so another round, for ever; the stored cosignature is itself
//! the evidence, verifiable by anyone.

use std::{collections::HashMap, sync::Arc, time::Duration};

use liaison_audit::{AddCheckpoint, CosignerKey};
use liaison_core::Timestamp;
use liaison_rpc::Shutdown;
use liaison_store::Store;
use liaison_witness::client::{self, SubmitError};
use tokio::{sync::Mutex, task::JoinHandle};

use crate::AuditServiceImpl;

/// How long a witness has to answer one submission.
const SUBMIT_TIMEOUT: Duration = Duration::from_secs(5);

/// One witness of the federation, as the hub submits to it.
#[derive(Debug, Clone)]
pub struct WitnessPeer {
    /// The agency that runs it.
    pub agency: String,
    /// Its key (and name).
    pub key: CosignerKey,
    /// `http://HOST:PORT[/PREFIX]`.
    pub endpoint: String,
}

/// Starts submitting checkpoints to `witnesses`; stops with `shutdown`.
pub fn spawn_witnessing(
    service: AuditServiceImpl,
    witnesses: Vec<WitnessPeer>,
    mut shutdown: Shutdown,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        if witnesses.is_empty() {
            return;
        }
        let store = service.store.clone();
        let mut sizes = store.watch_checkpoint_size();
        // What each witness holds, as far as this hub knows (learnt from the store, then
        // from the witness's own answers).
        let held: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
        loop {
            let mut round = tokio::task::JoinSet::new();
            for witness in &witnesses {
                round.spawn(submit_latest(
                    service.clone(),
                    witness.clone(),
                    held.clone(),
                ));
            }
            // A round ends when every witness answered or timed out.
            while round.join_next().await.is_some() {}
            tokio::select! {
                changed = sizes.changed() => if changed.is_err() { return },
                () = shutdown.wait() => return,
            }
        }
    })
}

/// Submits the latest checkpoint to `witness` and stores its cosignature.
async fn submit_latest(
    service: AuditServiceImpl,
    witness: WitnessPeer,
    held: Arc<Mutex<HashMap<String, u64>>>,
) {
    if let Err(reason) = try_submit(&service, &witness, &held).await {
        tracing::warn!(witness = witness.key.name(), agency = witness.agency, %reason, "no cosignature");
    }
}

async fn try_submit(
    service: &AuditServiceImpl,
    witness: &WitnessPeer,
    held: &Mutex<HashMap<String, u64>>,
) -> Result<(), String> {
    let store: &Store = &service.store;
    let Some(checkpoint) = store.latest_checkpoint().await.map_err(|e| e.to_string())? else {
        return Ok(());
    };
    let name = witness.key.name().to_owned();
    let known = held.lock().await.get(&name).copied();
    let mut old = match known {
        Some(size) => size,
        None => store
            .last_cosigned_size(&name)
            .await
            .map_err(|e| e.to_string())?
            .unwrap_or(0),
    };
    if old == checkpoint.size && known.is_some() {
        return Ok(());
    }
    // At most two tries: the second from the size the witness says it holds.
    for _ in 0..2 {
        if old > checkpoint.size {
            return Err(format!(
                "the witness holds size {old}, more than this log's {}: another history?",
                checkpoint.size
            ));
        }
        let proof = service
            .consistency(old, checkpoint.size)
            .await
            .map_err(|e| e.to_string())?;
        let request = AddCheckpoint {
            old_size: old,
            proof,
            checkpoint: checkpoint.note.clone(),
        };
        match client::add_checkpoint(&witness.endpoint, &request, SUBMIT_TIMEOUT).await {
            Ok(lines) => {
                // Only a line that verifies under the key the federation names is kept.
                let line = lines
                    .lines()
                    .find(|line| {
                        let cosigned = format!("{}{line}\n", checkpoint.note);
                        witness.key.verify_note(&cosigned).is_ok()
                    })
                    .ok_or("the witness answered no valid cosignature")?;
                store
                    .save_cosignature(
                        checkpoint.size,
                        &name,
                        &format!("{line}\n"),
                        Timestamp::from_system_time(std::time::SystemTime::now()),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                held.lock().await.insert(name, checkpoint.size);
                return Ok(());
            }
            Err(SubmitError::Conflict(size)) => old = size,
            Err(error) => return Err(error.to_string()),
        }
    }
    Err("the witness's size kept changing".into())
}
