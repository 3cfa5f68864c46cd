//! The checkpoint signer: at least once a second while the log grows, it signs a C2SP
//! checkpoint of the log's current size and root.

use std::{sync::Arc, time::Duration};

use liaison_audit::{Checkpoint, SigningKey, TreeBuilder};
use liaison_core::Timestamp;
use liaison_rpc::Shutdown;
use liaison_store::{Store, StoreError, StoredCheckpoint};
use tokio::task::JoinHandle;

/// How often the signer looks for new records.
const INTERVAL: Duration = Duration::from_millis(500);

/// Starts the signer; it stops with `shutdown`.
pub fn spawn_signer(
    store: Store,
    key: Arc<SigningKey>,
    origin: String,
    mut shutdown: Shutdown,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tree = TreeBuilder::new();
        loop {
            if let Err(error) = sign_new_records(&store, &key, &origin, &mut tree).await {
                tracing::warn!(%error, "could not sign an audit checkpoint; retrying");
            }
            tokio::select! {
                () = tokio::time::sleep(INTERVAL) => {}
                () = shutdown.wait() => return,
            }
        }
    })
}

/// Extends `tree` with the records added since, and signs a checkpoint if it grew.
pub async fn sign_new_records(
    store: &Store,
    key: &SigningKey,
    origin: &str,
    tree: &mut TreeBuilder,
) -> Result<(), StoreError> {
    let size = store.audit_size().await?;
    if size <= tree.size() {
        return Ok(());
    }
    let hashes = store.audit_leaf_hashes(tree.size(), size).await?;
    if hashes.len() as u64 != size - tree.size() {
        // A gap: rows were removed behind the hub's back. Never sign over it.
        return Err(StoreError::Corrupt(format!(
            "the audit log is missing leaves between {} and {size}; not signing",
            tree.size()
        )));
    }
    for hash in hashes {
        tree.push(hash);
    }
    let root = tree.root();
    let checkpoint = Checkpoint::new(origin, size, root)
        .map_err(|error| StoreError::Corrupt(format!("checkpoint origin: {error}")))?;
    let stored = StoredCheckpoint {
        size,
        root,
        note: checkpoint.sign(key),
    };
    store
        .save_checkpoint(
            &stored,
            Timestamp::from_system_time(std::time::SystemTime::now()),
        )
        .await
}
