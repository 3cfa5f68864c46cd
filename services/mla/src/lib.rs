//! The Liaison mla service. Its API is defined in `proto/liaison/v1/mla.proto`; every RPC
//! answers UNIMPLEMENTED until its issue lands, so clients can be written against it now.
//! Each RPC already passes its access gate (`liaison_auth::authorize::RULES`) first, so the
//! authorization matrix covers it and a caller without the role is told so.

use liaison_proto::v1::{self, mla_service_server};
use liaison_rpc::{AccessControl, Authenticator, ServiceError};
use tonic::{Status, codegen::BoxStream};

/// The MlaService implementation.
#[derive(Debug, Clone)]
pub struct MlaServiceImpl {
    auth: Authenticator,
}

impl MlaServiceImpl {
    /// The service over `store`.
    pub fn new(store: liaison_store::Store, access: AccessControl) -> Self {
        Self {
            auth: Authenticator::new(store, access),
        }
    }

    /// The tonic server for this service.
    pub fn into_server(self) -> mla_service_server::MlaServiceServer<Self> {
        mla_service_server::MlaServiceServer::new(self)
    }
}

#[tonic::async_trait]
impl mla_service_server::MlaService for MlaServiceImpl {
    async fn create_draft(
        &self,
        request: tonic::Request<v1::CreateDraftRequest>,
    ) -> Result<tonic::Response<v1::CreateDraftResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/CreateDraft").into())
    }
    async fn update_draft(
        &self,
        request: tonic::Request<v1::UpdateDraftRequest>,
    ) -> Result<tonic::Response<v1::UpdateDraftResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/UpdateDraft").into())
    }
    async fn delete_draft(
        &self,
        request: tonic::Request<v1::DeleteDraftRequest>,
    ) -> Result<tonic::Response<v1::DeleteDraftResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/DeleteDraft").into())
    }
    async fn submit_request(
        &self,
        request: tonic::Request<v1::SubmitRequestRequest>,
    ) -> Result<tonic::Response<v1::SubmitRequestResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/SubmitRequest").into())
    }
    async fn acknowledge_request(
        &self,
        request: tonic::Request<v1::AcknowledgeRequestRequest>,
    ) -> Result<tonic::Response<v1::AcknowledgeRequestResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/AcknowledgeRequest").into())
    }
    async fn start_assessment(
        &self,
        request: tonic::Request<v1::StartAssessmentRequest>,
    ) -> Result<tonic::Response<v1::StartAssessmentResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/StartAssessment").into())
    }
    async fn request_more_information(
        &self,
        request: tonic::Request<v1::RequestMoreInformationRequest>,
    ) -> Result<tonic::Response<v1::RequestMoreInformationResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/RequestMoreInformation").into())
    }
    async fn provide_information(
        &self,
        request: tonic::Request<v1::ProvideInformationRequest>,
    ) -> Result<tonic::Response<v1::ProvideInformationResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/ProvideInformation").into())
    }
    async fn propose_conditions(
        &self,
        request: tonic::Request<v1::ProposeConditionsRequest>,
    ) -> Result<tonic::Response<v1::ProposeConditionsResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/ProposeConditions").into())
    }
    async fn accept_conditions(
        &self,
        request: tonic::Request<v1::AcceptConditionsRequest>,
    ) -> Result<tonic::Response<v1::AcceptConditionsResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/AcceptConditions").into())
    }
    async fn accept_request(
        &self,
        request: tonic::Request<v1::AcceptRequestRequest>,
    ) -> Result<tonic::Response<v1::AcceptRequestResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/AcceptRequest").into())
    }
    async fn start_execution(
        &self,
        request: tonic::Request<v1::StartExecutionRequest>,
    ) -> Result<tonic::Response<v1::StartExecutionResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/StartExecution").into())
    }
    async fn report_execution(
        &self,
        request: tonic::Request<v1::ReportExecutionRequest>,
    ) -> Result<tonic::Response<v1::ReportExecutionResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/ReportExecution").into())
    }
    async fn close_request(
        &self,
        request: tonic::Request<v1::CloseRequestRequest>,
    ) -> Result<tonic::Response<v1::CloseRequestResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/CloseRequest").into())
    }
    async fn refuse_request(
        &self,
        request: tonic::Request<v1::RefuseRequestRequest>,
    ) -> Result<tonic::Response<v1::RefuseRequestResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/RefuseRequest").into())
    }
    async fn postpone_request(
        &self,
        request: tonic::Request<v1::PostponeRequestRequest>,
    ) -> Result<tonic::Response<v1::PostponeRequestResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/PostponeRequest").into())
    }
    async fn resume_assessment(
        &self,
        request: tonic::Request<v1::ResumeAssessmentRequest>,
    ) -> Result<tonic::Response<v1::ResumeAssessmentResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/ResumeAssessment").into())
    }
    async fn withdraw_request(
        &self,
        request: tonic::Request<v1::WithdrawRequestRequest>,
    ) -> Result<tonic::Response<v1::WithdrawRequestResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/WithdrawRequest").into())
    }
    async fn confirm_preservation(
        &self,
        request: tonic::Request<v1::ConfirmPreservationRequest>,
    ) -> Result<tonic::Response<v1::ConfirmPreservationResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/ConfirmPreservation").into())
    }
    async fn request_preservation_extension(
        &self,
        request: tonic::Request<v1::RequestPreservationExtensionRequest>,
    ) -> Result<tonic::Response<v1::RequestPreservationExtensionResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(
            ServiceError::Unimplemented("liaison.v1.MlaService/RequestPreservationExtension")
                .into(),
        )
    }
    async fn extend_preservation(
        &self,
        request: tonic::Request<v1::ExtendPreservationRequest>,
    ) -> Result<tonic::Response<v1::ExtendPreservationResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/ExtendPreservation").into())
    }
    async fn hold_preservation(
        &self,
        request: tonic::Request<v1::HoldPreservationRequest>,
    ) -> Result<tonic::Response<v1::HoldPreservationResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/HoldPreservation").into())
    }
    async fn release_preservation(
        &self,
        request: tonic::Request<v1::ReleasePreservationRequest>,
    ) -> Result<tonic::Response<v1::ReleasePreservationResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/ReleasePreservation").into())
    }
    async fn get_request(
        &self,
        request: tonic::Request<v1::GetRequestRequest>,
    ) -> Result<tonic::Response<v1::GetRequestResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/GetRequest").into())
    }
    async fn list_requests(
        &self,
        request: tonic::Request<v1::ListRequestsRequest>,
    ) -> Result<tonic::Response<v1::ListRequestsResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/ListRequests").into())
    }
    type WatchRequestsStream = BoxStream<v1::WatchRequestsResponse>;
    async fn watch_requests(
        &self,
        request: tonic::Request<v1::WatchRequestsRequest>,
    ) -> Result<tonic::Response<Self::WatchRequestsStream>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/WatchRequests").into())
    }
    async fn post_message(
        &self,
        request: tonic::Request<v1::PostMessageRequest>,
    ) -> Result<tonic::Response<v1::PostMessageResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/PostMessage").into())
    }
    async fn list_messages(
        &self,
        request: tonic::Request<v1::ListMessagesRequest>,
    ) -> Result<tonic::Response<v1::ListMessagesResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/ListMessages").into())
    }
    async fn upload_evidence(
        &self,
        request: tonic::Request<tonic::Streaming<v1::UploadEvidenceRequest>>,
    ) -> Result<tonic::Response<v1::UploadEvidenceResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/UploadEvidence").into())
    }
    type DownloadEvidenceStream = BoxStream<v1::DownloadEvidenceResponse>;
    async fn download_evidence(
        &self,
        request: tonic::Request<v1::DownloadEvidenceRequest>,
    ) -> Result<tonic::Response<Self::DownloadEvidenceStream>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/DownloadEvidence").into())
    }
    async fn list_evidence(
        &self,
        request: tonic::Request<v1::ListEvidenceRequest>,
    ) -> Result<tonic::Response<v1::ListEvidenceResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/ListEvidence").into())
    }
    async fn list_receipts(
        &self,
        request: tonic::Request<v1::ListReceiptsRequest>,
    ) -> Result<tonic::Response<v1::ListReceiptsResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/ListReceipts").into())
    }
    async fn get_receipt_keys(
        &self,
        request: tonic::Request<v1::GetReceiptKeysRequest>,
    ) -> Result<tonic::Response<v1::GetReceiptKeysResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/GetReceiptKeys").into())
    }
}
