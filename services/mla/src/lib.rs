//! The Liaison mla service: requests for the preservation and disclosure of electronic
//! evidence between two agencies (`proto/liaison/v1/mla.proto`).
//!
//! Implemented: drafts (create, update, delete), submission with the Parties rule, every
//! workflow and preservation step (`steps.rs`, decided by `liaison_core::mla::step`),
//! GetRequest (the requested agency's first full read records delivery), ListRequests
//! (with the overdue filter), WatchRequests with deadline events from the hub clock
//! (`watch.rs`), signed receipts (`receipts.rs`), ListReceipts and GetReceiptKeys.
//! PostMessage and ListMessages (`messages.rs`), evidence upload, download and listing
//! (`evidence.rs`). Every RPC passes its access gate first.

mod convert;
mod evidence;
mod messages;
mod reads;
pub mod receipts;
mod steps;
mod watch;
mod workflow;

/// Entry points for the fuzz harness (`tests/fuzz`): not a stable interface.
#[doc(hidden)]
pub mod fuzzing {
    use liaison_core::{AgencyId, Violations, mla::check_submission};
    use liaison_proto::v1;

    /// What CreateDraft and UpdateDraft check of a request's content (whether it may be a
    /// draft of agency `own`), and what SubmitRequest then checks of it.
    pub fn check_content(content: &v1::MlaRequestContent, own: &AgencyId) -> (bool, Violations) {
        let draft = crate::steps::check_draft(content, own).is_ok();
        let facts = crate::convert::submission_facts(content);
        let _ = crate::convert::categories(content);
        let _ = crate::convert::requested_agency(content);
        (draft, check_submission(&facts))
    }
}

use std::{path::PathBuf, sync::Arc};

use liaison_audit::SigningKey;
use liaison_core::mla::DeadlinePolicy;
use liaison_proto::v1::{self, mla_service_server};
use liaison_rpc::{AccessControl, Authenticator, Clock, Shutdown};
use liaison_store::Store;
use tonic::{Request, Response, Status, codegen::BoxStream};

pub use receipts::{ReceiptError, ReceiptSigner, verify_receipt};
pub use watch::spawn_deadline_scanner;

use crate::workflow::Call;

/// What the MLA service needs besides the store and access control.
#[derive(Debug, Clone)]
pub struct MlaSettings {
    /// The clock deadlines follow (manual in tests).
    pub clock: Clock,
    /// The key that signs receipts.
    pub receipt_key: Arc<SigningKey>,
    /// Keys that signed receipts before `receipt_key`, with when they stopped: published
    /// by GetReceiptKeys so that older receipts still verify.
    pub retired_receipt_keys: Vec<(Arc<SigningKey>, liaison_core::Timestamp)>,
    /// The federation's deadline settings.
    pub policy: DeadlinePolicy,
    /// Ends open WatchRequests streams.
    pub shutdown: Shutdown,
    /// Where evidence files are stored, content-addressed by SHA-256.
    pub evidence_dir: PathBuf,
    /// How long an upload may wait for its next message (the hub's call cap): uploads
    /// are exempt from the whole-call cap ([`UPLOAD_EVIDENCE_PATH`]), so this bounds a
    /// stalled client instead.
    pub upload_idle: std::time::Duration,
    /// How much evidence may be stored.
    pub evidence_quota: EvidenceQuota,
}

/// How much evidence may be stored: per request, per uploading agency, and the free
/// space the evidence directory's filesystem must keep. Uploads past any of them are
/// refused RESOURCE_EXHAUSTED and store nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvidenceQuota {
    /// Bytes on one request, all parties' files together.
    pub per_request: u64,
    /// Bytes one agency uploaded, over all requests.
    pub per_agency: u64,
    /// Free bytes the filesystem keeps.
    pub free_reserve: u64,
}

/// The path of `UploadEvidence`, for [`liaison_rpc::DeadlineLayer::paced_uploads`].
pub const UPLOAD_EVIDENCE_PATH: &str = "/liaison.v1.MlaService/UploadEvidence";

/// The MlaService implementation.
#[derive(Debug, Clone)]
pub struct MlaServiceImpl {
    store: Store,
    auth: Authenticator,
    clock: Clock,
    policy: DeadlinePolicy,
    receipts: ReceiptSigner,
    retired_receipt_keys: Vec<v1::MlaReceiptKey>,
    shutdown: Shutdown,
    evidence_dir: PathBuf,
    upload_idle: std::time::Duration,
    evidence_quota: EvidenceQuota,
    /// Stored files whose digest was checked, by path: their size, modification time and
    /// inode then (see `evidence.rs`).
    verified: Arc<std::sync::Mutex<std::collections::HashMap<PathBuf, evidence::FileStamp>>>,
}

impl MlaServiceImpl {
    /// The service over `store`.
    pub fn new(store: Store, access: AccessControl, settings: MlaSettings) -> Self {
        Self {
            auth: Authenticator::new(store.clone(), access),
            store,
            clock: settings.clock,
            policy: settings.policy,
            receipts: ReceiptSigner::new(settings.receipt_key),
            retired_receipt_keys: settings
                .retired_receipt_keys
                .into_iter()
                .map(|(key, retired)| v1::MlaReceiptKey {
                    retire_time: Some(liaison_rpc::to_timestamp(retired)),
                    ..ReceiptSigner::new(key).public_key()
                })
                .collect(),
            shutdown: settings.shutdown,
            evidence_dir: settings.evidence_dir,
            upload_idle: settings.upload_idle,
            evidence_quota: settings.evidence_quota,
            verified: Arc::default(),
        }
    }

    /// The tonic server for this service.
    pub fn into_server(self) -> mla_service_server::MlaServiceServer<Self> {
        mla_service_server::MlaServiceServer::new(self)
    }
}

/// Runs a step handler of `steps.rs`: `$handler(call, message)` returns
/// `(MlaRequest, Option<MlaReceipt>)`, answered as `$response`. Written out in the shape
/// `async_trait` gives trait methods, since it does not look inside macros.
macro_rules! step_rpc {
    ($name:ident, $request:ty, $response:ident, $handler:ident) => {
        fn $name<'life0, 'async_trait>(
            &'life0 self,
            request: Request<$request>,
        ) -> std::pin::Pin<
            Box<
                dyn std::future::Future<Output = Result<Response<v1::$response>, Status>>
                    + Send
                    + 'async_trait,
            >,
        >
        where
            'life0: 'async_trait,
            Self: 'async_trait,
        {
            Box::pin(async move {
                let call = Call::begin(&self.auth, &request).await?;
                let (mla_request, receipt) = self.$handler(&call, request.into_inner()).await?;
                Ok(Response::new(v1::$response {
                    mla_request: Some(mla_request),
                    receipt,
                }))
            })
        }
    };
}

#[tonic::async_trait]
impl mla_service_server::MlaService for MlaServiceImpl {
    async fn create_draft(
        &self,
        request: Request<v1::CreateDraftRequest>,
    ) -> Result<Response<v1::CreateDraftResponse>, Status> {
        let call = Call::begin(&self.auth, &request).await?;
        let mla_request = self.create(&call, request.into_inner()).await?;
        Ok(Response::new(v1::CreateDraftResponse {
            mla_request: Some(mla_request),
        }))
    }

    async fn update_draft(
        &self,
        request: Request<v1::UpdateDraftRequest>,
    ) -> Result<Response<v1::UpdateDraftResponse>, Status> {
        let call = Call::begin(&self.auth, &request).await?;
        let (mla_request, _) = self.update(&call, request.into_inner()).await?;
        Ok(Response::new(v1::UpdateDraftResponse {
            mla_request: Some(mla_request),
        }))
    }

    async fn delete_draft(
        &self,
        request: Request<v1::DeleteDraftRequest>,
    ) -> Result<Response<v1::DeleteDraftResponse>, Status> {
        let call = Call::begin(&self.auth, &request).await?;
        self.delete(&call, request.into_inner()).await?;
        Ok(Response::new(v1::DeleteDraftResponse {}))
    }

    step_rpc!(
        submit_request,
        v1::SubmitRequestRequest,
        SubmitRequestResponse,
        submit
    );
    step_rpc!(
        acknowledge_request,
        v1::AcknowledgeRequestRequest,
        AcknowledgeRequestResponse,
        acknowledge
    );
    step_rpc!(
        start_assessment,
        v1::StartAssessmentRequest,
        StartAssessmentResponse,
        start_assessment_step
    );
    step_rpc!(
        request_more_information,
        v1::RequestMoreInformationRequest,
        RequestMoreInformationResponse,
        request_information
    );
    step_rpc!(
        provide_information,
        v1::ProvideInformationRequest,
        ProvideInformationResponse,
        provide_information_step
    );
    step_rpc!(
        propose_conditions,
        v1::ProposeConditionsRequest,
        ProposeConditionsResponse,
        propose
    );
    step_rpc!(
        accept_conditions,
        v1::AcceptConditionsRequest,
        AcceptConditionsResponse,
        accept_conditions_step
    );
    step_rpc!(
        accept_request,
        v1::AcceptRequestRequest,
        AcceptRequestResponse,
        accept
    );
    step_rpc!(
        start_execution,
        v1::StartExecutionRequest,
        StartExecutionResponse,
        start_execution_step
    );
    step_rpc!(
        report_execution,
        v1::ReportExecutionRequest,
        ReportExecutionResponse,
        report
    );
    step_rpc!(
        close_request,
        v1::CloseRequestRequest,
        CloseRequestResponse,
        close
    );
    step_rpc!(
        refuse_request,
        v1::RefuseRequestRequest,
        RefuseRequestResponse,
        refuse
    );
    step_rpc!(
        postpone_request,
        v1::PostponeRequestRequest,
        PostponeRequestResponse,
        postpone
    );
    step_rpc!(
        resume_assessment,
        v1::ResumeAssessmentRequest,
        ResumeAssessmentResponse,
        resume
    );
    step_rpc!(
        withdraw_request,
        v1::WithdrawRequestRequest,
        WithdrawRequestResponse,
        withdraw
    );
    step_rpc!(
        confirm_preservation,
        v1::ConfirmPreservationRequest,
        ConfirmPreservationResponse,
        confirm_preservation_step
    );
    step_rpc!(
        request_preservation_extension,
        v1::RequestPreservationExtensionRequest,
        RequestPreservationExtensionResponse,
        request_extension
    );
    step_rpc!(
        extend_preservation,
        v1::ExtendPreservationRequest,
        ExtendPreservationResponse,
        extend
    );
    step_rpc!(
        hold_preservation,
        v1::HoldPreservationRequest,
        HoldPreservationResponse,
        hold
    );
    step_rpc!(
        release_preservation,
        v1::ReleasePreservationRequest,
        ReleasePreservationResponse,
        release
    );

    async fn get_request(
        &self,
        request: Request<v1::GetRequestRequest>,
    ) -> Result<Response<v1::GetRequestResponse>, Status> {
        let call = Call::begin(&self.auth, &request).await?;
        let mla_request = self.get(&call, request.into_inner()).await?;
        Ok(Response::new(v1::GetRequestResponse {
            mla_request: Some(mla_request),
        }))
    }

    async fn list_requests(
        &self,
        request: Request<v1::ListRequestsRequest>,
    ) -> Result<Response<v1::ListRequestsResponse>, Status> {
        let call = Call::begin(&self.auth, &request).await?;
        Ok(Response::new(self.list(&call, request.into_inner()).await?))
    }

    type WatchRequestsStream = BoxStream<v1::WatchRequestsResponse>;
    async fn watch_requests(
        &self,
        request: Request<v1::WatchRequestsRequest>,
    ) -> Result<Response<Self::WatchRequestsStream>, Status> {
        let call = Call::begin(&self.auth, &request).await?;
        Ok(Response::new(self.watch(call, request.into_inner())?))
    }

    async fn post_message(
        &self,
        request: Request<v1::PostMessageRequest>,
    ) -> Result<Response<v1::PostMessageResponse>, Status> {
        let call = Call::begin(&self.auth, &request).await?;
        let message = self.post(&call, request.into_inner()).await?;
        Ok(Response::new(v1::PostMessageResponse {
            message: Some(message),
        }))
    }
    async fn list_messages(
        &self,
        request: Request<v1::ListMessagesRequest>,
    ) -> Result<Response<v1::ListMessagesResponse>, Status> {
        let call = Call::begin(&self.auth, &request).await?;
        Ok(Response::new(
            self.messages(&call, request.into_inner()).await?,
        ))
    }
    async fn upload_evidence(
        &self,
        request: Request<tonic::Streaming<v1::UploadEvidenceRequest>>,
    ) -> Result<Response<v1::UploadEvidenceResponse>, Status> {
        let call = Call::begin(&self.auth, &request).await?;
        Ok(Response::new(
            self.upload(&call, request.into_inner()).await?,
        ))
    }
    type DownloadEvidenceStream = BoxStream<v1::DownloadEvidenceResponse>;
    async fn download_evidence(
        &self,
        request: Request<v1::DownloadEvidenceRequest>,
    ) -> Result<Response<Self::DownloadEvidenceStream>, Status> {
        let call = Call::begin(&self.auth, &request).await?;
        Ok(Response::new(
            self.download(call, request.into_inner()).await?,
        ))
    }
    async fn list_evidence(
        &self,
        request: Request<v1::ListEvidenceRequest>,
    ) -> Result<Response<v1::ListEvidenceResponse>, Status> {
        let call = Call::begin(&self.auth, &request).await?;
        Ok(Response::new(
            self.evidence_of(&call, request.into_inner()).await?,
        ))
    }

    async fn list_receipts(
        &self,
        request: Request<v1::ListReceiptsRequest>,
    ) -> Result<Response<v1::ListReceiptsResponse>, Status> {
        let call = Call::begin(&self.auth, &request).await?;
        Ok(Response::new(
            self.receipts_of(&call, request.into_inner()).await?,
        ))
    }

    async fn get_receipt_keys(
        &self,
        request: Request<v1::GetReceiptKeysRequest>,
    ) -> Result<Response<v1::GetReceiptKeysResponse>, Status> {
        self.auth.caller(&request).await?;
        let mut keys = vec![self.receipts.public_key()];
        keys.extend(self.retired_receipt_keys.iter().cloned());
        Ok(Response::new(v1::GetReceiptKeysResponse { keys }))
    }
}
