//! ExportRecords: the log's leaves in order, then the signed checkpoint that covers them;
//! with `follow`, new leaves and checkpoints as they come.

use liaison_auth::Caller;
use liaison_proto::v1;
use liaison_rpc::{Authenticator, ServiceError, Shutdown};
use liaison_store::{AuditQuery, Store, StoredCheckpoint};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, codegen::BoxStream};

use crate::convert;

/// Leaves read from the store per query.
const PAGE: u32 = 500;

/// How often a long export re-checks its caller between pages (from the directory
/// cache) when nothing in this process said the directory changed.
const RECHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

pub(crate) fn spawn(
    store: Store,
    caller: (Authenticator, Caller),
    visible_to: Option<String>,
    request: v1::ExportRecordsRequest,
    shutdown: Shutdown,
) -> BoxStream<v1::ExportRecordsResponse> {
    let (sender, receiver) = mpsc::channel(64);
    tokio::spawn(async move {
        if let Err(status) = export(&store, caller, visible_to, request, shutdown, &sender).await {
            let _ = sender.send(Err(status)).await;
        }
    });
    Box::pin(ReceiverStream::new(receiver))
}

type Sender = mpsc::Sender<Result<v1::ExportRecordsResponse, Status>>;

async fn export(
    store: &Store,
    (auth, caller): (Authenticator, Caller),
    visible_to: Option<String>,
    request: v1::ExportRecordsRequest,
    mut shutdown: Shutdown,
    sender: &Sender,
) -> Result<(), Status> {
    let mut next = request.start_index;
    let mut checkpoints = store.watch_checkpoint_size();
    let mut access = auth.watch_access();
    let mut checked = std::time::Instant::now();
    loop {
        // Export up to the latest signed size, so that the stream ends with the checkpoint
        // that covers every leaf it sent.
        let checkpoint = store
            .latest_checkpoint()
            .await
            .map_err(ServiceError::from)?;
        let signed = checkpoint.as_ref().map_or(0, |checkpoint| checkpoint.size);
        let end = if request.end_index == 0 {
            signed
        } else {
            request.end_index.min(signed)
        };
        while next < end {
            // A long export re-checks its caller as it goes, not only once caught up: a
            // revoked or suspended auditor stops at the next page (review L1).
            if access.take_change() || checked.elapsed() >= RECHECK_EVERY {
                auth.recheck(&caller).await?;
                checked = std::time::Instant::now();
            }
            let rows = store
                .audit_records(next, PAGE)
                .await
                .map_err(ServiceError::from)?;
            // Leaves past `end` wait for the checkpoint that covers them; a gap (a row removed
            // behind the hub's back) is left for the verifier to name.
            let rows: Vec<_> = rows.into_iter().filter(|row| row.index < end).collect();
            if rows.is_empty() {
                break;
            }
            let until = rows.last().map_or(next, |row| row.index + 1);
            let visible = visible_leaves(store, &visible_to, next, until).await?;
            for row in &rows {
                let show = visible
                    .as_ref()
                    .is_none_or(|visible| visible.contains(&row.index));
                let disclosure = show.then(|| {
                    convert::disclose(&row.record, convert::viewer(visible_to.as_deref()))
                });
                let leaf = v1::AuditLeaf {
                    leaf_index: row.index,
                    leaf_hash: row.leaf_hash.to_vec(),
                    leaf_data: disclosure
                        .as_ref()
                        .and_then(|d| d.leaf_data.clone())
                        .unwrap_or_default(),
                    record: disclosure.as_ref().map(|d| convert::record(row.index, d)),
                    opening: disclosure
                        .as_ref()
                        .and_then(|d| d.opening.as_ref())
                        .map(liaison_audit::Opening::to_json)
                        .unwrap_or_default(),
                };
                send(sender, v1::export_records_response::Item::Leaf(leaf)).await?;
                next = row.index + 1;
            }
        }
        next = next.max(end);
        if let Some(checkpoint) = checkpoint.filter(|checkpoint| checkpoint.size == end) {
            send(
                sender,
                v1::export_records_response::Item::Checkpoint(checkpoint_message(checkpoint)),
            )
            .await?;
        }
        if !request.follow || (request.end_index != 0 && next >= request.end_index) {
            return Ok(());
        }
        let current = signed;
        tokio::select! {
            changed = async { checkpoints.wait_for(|size| *size > current).await.is_ok() } => {
                if !changed {
                    return Ok(());
                }
            }
            () = sender.closed() => return Ok(()),
            () = shutdown.wait() => {
                return Err(Status::unavailable("the hub is shutting down; resume from the next leaf index"));
            }
            () = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
            // Revoked, suspended or the auditor role withdrawn: the tail ends.
            () = access.changed() => auth.recheck(&caller).await?,
        }
    }
}

/// For an agency's auditors, which of the leaves `from..until` they may read.
async fn visible_leaves(
    store: &Store,
    visible_to: &Option<String>,
    from: u64,
    until: u64,
) -> Result<Option<Vec<u64>>, Status> {
    let Some(agency) = visible_to else {
        return Ok(None);
    };
    let query = AuditQuery {
        visible_to: Some(agency.clone()),
        after: from.checked_sub(1),
        limit: u32::try_from(until.saturating_sub(from)).unwrap_or(u32::MAX),
        ..AuditQuery::default()
    };
    let rows = store
        .query_audit(&query)
        .await
        .map_err(ServiceError::from)?;
    Ok(Some(
        rows.into_iter()
            .map(|(index, _)| index)
            .filter(|index| *index < until)
            .collect(),
    ))
}

async fn send(sender: &Sender, item: v1::export_records_response::Item) -> Result<(), Status> {
    sender
        .send(Ok(v1::ExportRecordsResponse { item: Some(item) }))
        .await
        .map_err(|_| Status::cancelled("the client went away"))
}

fn checkpoint_message(checkpoint: StoredCheckpoint) -> v1::AuditCheckpoint {
    v1::AuditCheckpoint {
        signed_note: checkpoint.note,
        tree_size: checkpoint.size,
        root_hash: checkpoint.root.to_vec(),
        ..v1::AuditCheckpoint::default()
    }
}
