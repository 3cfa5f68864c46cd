//! The checkpoint signer: at least once a second while the log grows, it signs a C2SP
//! checkpoint of the log's current size and root.

use std::{sync::Arc, time::Duration};

use liaison_audit::{Checkpoint, SigningKey};
use liaison_core::Timestamp;
use liaison_rpc::Shutdown;
use liaison_store::{Store, StoreError, StoredCheckpoint};
use tokio::task::JoinHandle;

use crate::tiler::Tiler;

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
        let tiler = Tiler::new(store.clone());
        loop {
            if let Err(error) = sign_new_records(&store, &key, &origin, &tiler).await {
                tracing::warn!(%error, "could not sign an audit checkpoint; retrying");
            }
            tokio::select! {
                () = tokio::time::sleep(INTERVAL) => {}
                () = shutdown.wait() => return,
            }
        }
    })
}

/// Tiles the records added since the latest checkpoint and signs one of the new size, if
/// the log grew. A gap in the leaves stops the tiler, so nothing is signed over it.
pub async fn sign_new_records(
    store: &Store,
    key: &SigningKey,
    origin: &str,
    tiler: &Tiler,
) -> Result<(), StoreError> {
    let size = store.audit_size().await?;
    let signed = store
        .latest_checkpoint()
        .await?
        .map_or(0, |checkpoint| checkpoint.size);
    if size <= signed {
        return Ok(());
    }
    let root = tracing::Instrument::instrument(
        async {
            tiler.extend_to(size).await?;
            tiler.root(size).await
        },
        tracing::info_span!("audit.sign_checkpoint", size),
    )
    .await?;
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
