//! The Liaison audit service: signed checkpoints of the audit log, inclusion and
//! consistency proofs, the log's public key, and the signer that makes checkpoints.
//!
//! Checkpoints, proofs and the log's keys reveal no record content (leaves commit to
//! salted hashes) and are open to every principal the hub knows, so that any agency's
//! system can act as a witness. Records are for auditors only: oversight auditors see
//! every record whole; an agency's
//! auditors see the records whose actor is their agency and those of access to objects
//! their agency owns, redacted for them as `liaison_audit::disclosure` decides (in exports,
//! other leaves come with their hash only, and redacted ones with an opening of what they
//! may see, so the tree still verifies).

mod convert;
mod export;
mod query;
mod signer;
pub mod tiler;
mod witnesses;

use std::sync::Arc;

use liaison_audit::{Checkpoint, SigningKey, VerifierKey};
use liaison_auth::{Action, authorize};
use liaison_proto::v1::{self, audit_service_server};
use liaison_rpc::{AccessControl, AuditContext, Authenticator, Call, ServiceError, Shutdown};
use liaison_store::Store;
use tonic::{Request, Response, Status, codegen::BoxStream};

pub use signer::{sign_new_records, spawn_signer};
pub use tiler::{ProveError, Tiler};
pub use witnesses::{WitnessPeer, spawn_witnessing};

/// The audit service.
#[derive(Debug, Clone)]
pub struct AuditServiceImpl {
    store: Store,
    auth: Authenticator,
    verifier: VerifierKey,
    shutdown: Shutdown,
    /// The log's tree as tiles in the store, for roots and proofs in `O(log n)` reads.
    tiler: tiler::Tiler,
}

impl AuditServiceImpl {
    /// An audit service over `store`, publishing the public half of `key`; followed
    /// exports end when `shutdown` fires.
    pub fn new(
        store: Store,
        access: AccessControl,
        key: &Arc<SigningKey>,
        shutdown: Shutdown,
    ) -> Self {
        Self {
            auth: Authenticator::new(store.clone(), access),
            tiler: tiler::Tiler::new(store.clone()),
            store,
            verifier: key.verifier_key(),
            shutdown,
        }
    }

    /// The tonic server for this service.
    pub fn into_server(self) -> audit_service_server::AuditServiceServer<Self> {
        audit_service_server::AuditServiceServer::new(self)
    }

    /// The caller, if an auditor, and whose records it may see: `None` for oversight
    /// auditors (every record), the agency for an agency's auditors.
    async fn auditor<T>(&self, request: &Request<T>) -> Result<Option<String>, ServiceError> {
        let caller = self.auth.caller(request).await?;
        if authorize(&caller, Action::ReadAllAudit).is_ok() {
            Ok(None)
        } else {
            authorize(
                &caller,
                Action::ReadAuditOf {
                    agency: caller.agency(),
                },
            )?;
            Ok(Some(caller.agency().to_string()))
        }
    }

    /// Refuses a tree size past the log before any tile is read (review L2).
    async fn check_size(&self, size: u64, field: &str) -> Result<(), ServiceError> {
        if size > self.store.audit_size().await? {
            return Err(ServiceError::invalid(
                field,
                "tree size is larger than the log",
            ));
        }
        Ok(())
    }

    fn proof_error(error: tiler::ProveError, field: &str) -> ServiceError {
        match error {
            tiler::ProveError::Request(error) => ServiceError::invalid(field, error.to_string()),
            tiler::ProveError::Store(error) => ServiceError::from(error),
        }
    }

    /// The consistency proof from `old` to `new` leaves, for the witnesses.
    pub(crate) async fn consistency(
        &self,
        old: u64,
        new: u64,
    ) -> Result<Vec<liaison_audit::Hash>, ServiceError> {
        if old == 0 || old == new {
            return Ok(Vec::new());
        }
        self.check_size(new, "new_tree_size").await?;
        self.tiler
            .consistency_proof(old, new)
            .await
            .map_err(|error| Self::proof_error(error, "old_tree_size"))
    }
}

#[tonic::async_trait]
impl audit_service_server::AuditService for AuditServiceImpl {
    async fn get_checkpoint(
        &self,
        request: Request<v1::GetCheckpointRequest>,
    ) -> Result<Response<v1::GetCheckpointResponse>, Status> {
        Call::begin(&self.auth, &request)
            .await?
            .audit
            .commit_read(&self.store)
            .await?;
        let stored = self
            .store
            .latest_checkpoint()
            .await
            .map_err(ServiceError::from)?
            .ok_or(ServiceError::NotFound("checkpoint"))?;
        let checkpoint = Checkpoint::verify(&stored.note, &self.verifier).map_err(|error| {
            ServiceError::Store(liaison_store::StoreError::Corrupt(error.to_string()))
        })?;
        // The witnesses' cosignatures, checked when they came, as further signature lines.
        let mut note = stored.note;
        for line in self
            .store
            .cosignatures(checkpoint.size())
            .await
            .map_err(ServiceError::from)?
        {
            note.push_str(&line);
        }
        Ok(Response::new(v1::GetCheckpointResponse {
            checkpoint: Some(v1::AuditCheckpoint {
                signed_note: note,
                origin: checkpoint.origin().to_owned(),
                tree_size: checkpoint.size(),
                root_hash: checkpoint.root().to_vec(),
                ..v1::AuditCheckpoint::default()
            }),
        }))
    }

    async fn get_inclusion_proof(
        &self,
        request: Request<v1::GetInclusionProofRequest>,
    ) -> Result<Response<v1::GetInclusionProofResponse>, Status> {
        Call::begin(&self.auth, &request)
            .await?
            .audit
            .commit_read(&self.store)
            .await?;
        let request = request.into_inner();
        self.check_size(request.tree_size, "leaf_index").await?;
        let proof = self
            .tiler
            .inclusion_proof(request.leaf_index, request.tree_size)
            .await
            .map_err(|error| Self::proof_error(error, "leaf_index"))?;
        let leaf = self
            .store
            .audit_leaf_hashes(request.leaf_index, request.leaf_index + 1)
            .await
            .map_err(ServiceError::from)?
            .first()
            .copied();
        Ok(Response::new(v1::GetInclusionProofResponse {
            leaf_index: request.leaf_index,
            tree_size: request.tree_size,
            leaf_hash: leaf.map(|hash| hash.to_vec()).unwrap_or_default(),
            hashes: proof.iter().map(|hash| hash.to_vec()).collect(),
        }))
    }

    async fn get_consistency_proof(
        &self,
        request: Request<v1::GetConsistencyProofRequest>,
    ) -> Result<Response<v1::GetConsistencyProofResponse>, Status> {
        Call::begin(&self.auth, &request)
            .await?
            .audit
            .commit_read(&self.store)
            .await?;
        let request = request.into_inner();
        self.check_size(request.new_tree_size, "old_tree_size")
            .await?;
        let proof = self
            .tiler
            .consistency_proof(request.old_tree_size, request.new_tree_size)
            .await
            .map_err(|error| Self::proof_error(error, "old_tree_size"))?;
        Ok(Response::new(v1::GetConsistencyProofResponse {
            old_tree_size: request.old_tree_size,
            new_tree_size: request.new_tree_size,
            hashes: proof.iter().map(|hash| hash.to_vec()).collect(),
        }))
    }

    async fn get_log_keys(
        &self,
        request: Request<v1::GetLogKeysRequest>,
    ) -> Result<Response<v1::GetLogKeysResponse>, Status> {
        Call::begin(&self.auth, &request)
            .await?
            .audit
            .commit_read(&self.store)
            .await?;
        Ok(Response::new(v1::GetLogKeysResponse {
            keys: vec![v1::AuditLogKey {
                key_name: self.verifier.name().to_owned(),
                verifier_key: self.verifier.to_string(),
                public_key: self.verifier.public_key().to_vec(),
                key_hash: self.verifier.key_id().to_vec(),
                ..v1::AuditLogKey::default()
            }],
        }))
    }

    async fn query_records(
        &self,
        request: Request<v1::QueryRecordsRequest>,
    ) -> Result<Response<v1::QueryRecordsResponse>, Status> {
        let visible_to = self.auditor(&request).await?;
        AuditContext::of(&request).commit_read(&self.store).await?;
        let request = request.into_inner();
        let viewer_agency = visible_to.clone();
        let viewer = convert::viewer(viewer_agency.as_deref());
        let query = query::from_request(&request, visible_to)?;
        let limit = query.limit as usize;
        let rows = self
            .store
            .query_audit(&query)
            .await
            .map_err(ServiceError::from)?;
        let next_page_token = if rows.len() == limit {
            rows.last()
                .map(|(index, _)| index.to_string())
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(v1::QueryRecordsResponse {
            records: rows
                .iter()
                .map(|(index, text)| convert::record(*index, &convert::disclose(text, viewer)))
                .collect(),
            next_page_token,
        }))
    }

    type ExportRecordsStream = BoxStream<v1::ExportRecordsResponse>;

    async fn export_records(
        &self,
        request: Request<v1::ExportRecordsRequest>,
    ) -> Result<Response<Self::ExportRecordsStream>, Status> {
        let caller = self.auth.caller(&request).await?;
        let visible_to = self.auditor(&request).await?;
        AuditContext::of(&request).commit_read(&self.store).await?;
        let request = request.into_inner();
        if request.end_index != 0 && request.end_index < request.start_index {
            return Err(ServiceError::invalid(
                "end_index",
                "end_index must not be below start_index",
            )
            .into());
        }
        Ok(Response::new(export::spawn(
            self.store.clone(),
            (self.auth.clone(), caller),
            visible_to,
            request,
            self.shutdown.clone(),
        )))
    }
}
