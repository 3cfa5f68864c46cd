//! The Liaison mla service. Its API is defined in `proto/liaison/v1/mla.proto`; every RPC
//! answers UNIMPLEMENTED until its issue lands, so clients can be written against it now.

use liaison_proto::v1::{self, mla_service_server};
use liaison_rpc::ServiceError;
use tonic::{Status, codegen::BoxStream};

/// The MlaService implementation.
#[derive(Debug, Clone, Default)]
pub struct MlaServiceImpl;

impl MlaServiceImpl {
    /// The tonic server for this service.
    pub fn into_server(self) -> mla_service_server::MlaServiceServer<Self> {
        mla_service_server::MlaServiceServer::new(self)
    }
}

#[tonic::async_trait]
impl mla_service_server::MlaService for MlaServiceImpl {
    async fn create_draft(
        &self,
        _request: tonic::Request<v1::CreateDraftRequest>,
    ) -> Result<tonic::Response<v1::CreateDraftResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/CreateDraft").into())
    }
    async fn update_draft(
        &self,
        _request: tonic::Request<v1::UpdateDraftRequest>,
    ) -> Result<tonic::Response<v1::UpdateDraftResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/UpdateDraft").into())
    }
    async fn delete_draft(
        &self,
        _request: tonic::Request<v1::DeleteDraftRequest>,
    ) -> Result<tonic::Response<v1::DeleteDraftResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/DeleteDraft").into())
    }
    async fn submit_request(
        &self,
        _request: tonic::Request<v1::SubmitRequestRequest>,
    ) -> Result<tonic::Response<v1::SubmitRequestResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/SubmitRequest").into())
    }
    async fn acknowledge_request(
        &self,
        _request: tonic::Request<v1::AcknowledgeRequestRequest>,
    ) -> Result<tonic::Response<v1::AcknowledgeRequestResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/AcknowledgeRequest").into())
    }
    async fn start_assessment(
        &self,
        _request: tonic::Request<v1::StartAssessmentRequest>,
    ) -> Result<tonic::Response<v1::StartAssessmentResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/StartAssessment").into())
    }
    async fn request_more_information(
        &self,
        _request: tonic::Request<v1::RequestMoreInformationRequest>,
    ) -> Result<tonic::Response<v1::RequestMoreInformationResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/RequestMoreInformation").into())
    }
    async fn provide_information(
        &self,
        _request: tonic::Request<v1::ProvideInformationRequest>,
    ) -> Result<tonic::Response<v1::ProvideInformationResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/ProvideInformation").into())
    }
    async fn propose_conditions(
        &self,
        _request: tonic::Request<v1::ProposeConditionsRequest>,
    ) -> Result<tonic::Response<v1::ProposeConditionsResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/ProposeConditions").into())
    }
    async fn accept_conditions(
        &self,
        _request: tonic::Request<v1::AcceptConditionsRequest>,
    ) -> Result<tonic::Response<v1::AcceptConditionsResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/AcceptConditions").into())
    }
    async fn accept_request(
        &self,
        _request: tonic::Request<v1::AcceptRequestRequest>,
    ) -> Result<tonic::Response<v1::AcceptRequestResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/AcceptRequest").into())
    }
    async fn start_execution(
        &self,
        _request: tonic::Request<v1::StartExecutionRequest>,
    ) -> Result<tonic::Response<v1::StartExecutionResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/StartExecution").into())
    }
    async fn report_execution(
        &self,
        _request: tonic::Request<v1::ReportExecutionRequest>,
    ) -> Result<tonic::Response<v1::ReportExecutionResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/ReportExecution").into())
    }
    async fn close_request(
        &self,
        _request: tonic::Request<v1::CloseRequestRequest>,
    ) -> Result<tonic::Response<v1::CloseRequestResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/CloseRequest").into())
    }
    async fn refuse_request(
        &self,
        _request: tonic::Request<v1::RefuseRequestRequest>,
    ) -> Result<tonic::Response<v1::RefuseRequestResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/RefuseRequest").into())
    }
    async fn postpone_request(
        &self,
        _request: tonic::Request<v1::PostponeRequestRequest>,
    ) -> Result<tonic::Response<v1::PostponeRequestResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/PostponeRequest").into())
    }
    async fn resume_assessment(
        &self,
        _request: tonic::Request<v1::ResumeAssessmentRequest>,
    ) -> Result<tonic::Response<v1::ResumeAssessmentResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/ResumeAssessment").into())
    }
    async fn withdraw_request(
        &self,
        _request: tonic::Request<v1::WithdrawRequestRequest>,
    ) -> Result<tonic::Response<v1::WithdrawRequestResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/WithdrawRequest").into())
    }
    async fn confirm_preservation(
        &self,
        _request: tonic::Request<v1::ConfirmPreservationRequest>,
    ) -> Result<tonic::Response<v1::ConfirmPreservationResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/ConfirmPreservation").into())
    }
    async fn request_preservation_extension(
        &self,
        _request: tonic::Request<v1::RequestPreservationExtensionRequest>,
    ) -> Result<tonic::Response<v1::RequestPreservationExtensionResponse>, Status> {
        Err(
            ServiceError::Unimplemented("liaison.v1.MlaService/RequestPreservationExtension")
                .into(),
        )
    }
    async fn extend_preservation(
        &self,
        _request: tonic::Request<v1::ExtendPreservationRequest>,
    ) -> Result<tonic::Response<v1::ExtendPreservationResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/ExtendPreservation").into())
    }
    async fn hold_preservation(
        &self,
        _request: tonic::Request<v1::HoldPreservationRequest>,
    ) -> Result<tonic::Response<v1::HoldPreservationResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/HoldPreservation").into())
    }
    async fn release_preservation(
        &self,
        _request: tonic::Request<v1::ReleasePreservationRequest>,
    ) -> Result<tonic::Response<v1::ReleasePreservationResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/ReleasePreservation").into())
    }
    async fn get_request(
        &self,
        _request: tonic::Request<v1::GetRequestRequest>,
    ) -> Result<tonic::Response<v1::GetRequestResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/GetRequest").into())
    }
    async fn list_requests(
        &self,
        _request: tonic::Request<v1::ListRequestsRequest>,
    ) -> Result<tonic::Response<v1::ListRequestsResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/ListRequests").into())
    }
    type WatchRequestsStream = BoxStream<v1::WatchRequestsResponse>;
    async fn watch_requests(
        &self,
        _request: tonic::Request<v1::WatchRequestsRequest>,
    ) -> Result<tonic::Response<Self::WatchRequestsStream>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/WatchRequests").into())
    }
    async fn post_message(
        &self,
        _request: tonic::Request<v1::PostMessageRequest>,
    ) -> Result<tonic::Response<v1::PostMessageResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/PostMessage").into())
    }
    async fn list_messages(
        &self,
        _request: tonic::Request<v1::ListMessagesRequest>,
    ) -> Result<tonic::Response<v1::ListMessagesResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/ListMessages").into())
    }
    async fn upload_evidence(
        &self,
        _request: tonic::Request<tonic::Streaming<v1::UploadEvidenceRequest>>,
    ) -> Result<tonic::Response<v1::UploadEvidenceResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/UploadEvidence").into())
    }
    type DownloadEvidenceStream = BoxStream<v1::DownloadEvidenceResponse>;
    async fn download_evidence(
        &self,
        _request: tonic::Request<v1::DownloadEvidenceRequest>,
    ) -> Result<tonic::Response<Self::DownloadEvidenceStream>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/DownloadEvidence").into())
    }
    async fn list_evidence(
        &self,
        _request: tonic::Request<v1::ListEvidenceRequest>,
    ) -> Result<tonic::Response<v1::ListEvidenceResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/ListEvidence").into())
    }
    async fn list_receipts(
        &self,
        _request: tonic::Request<v1::ListReceiptsRequest>,
    ) -> Result<tonic::Response<v1::ListReceiptsResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/ListReceipts").into())
    }
    async fn get_receipt_keys(
        &self,
        _request: tonic::Request<v1::GetReceiptKeysRequest>,
    ) -> Result<tonic::Response<v1::GetReceiptKeysResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.MlaService/GetReceiptKeys").into())
    }
}
