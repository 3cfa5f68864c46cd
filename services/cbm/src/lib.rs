//! The Liaison cbm service. Its API is defined in `proto/liaison/v1/cbm.proto`; every RPC
//! answers UNIMPLEMENTED until its issue lands, so clients can be written against it now.

use liaison_proto::v1::{self, cbm_service_server};
use liaison_rpc::ServiceError;
use tonic::{Status, codegen::BoxStream};

/// The CbmService implementation.
#[derive(Debug, Clone, Default)]
pub struct CbmServiceImpl;

impl CbmServiceImpl {
    /// The tonic server for this service.
    pub fn into_server(self) -> cbm_service_server::CbmServiceServer<Self> {
        cbm_service_server::CbmServiceServer::new(self)
    }
}

#[tonic::async_trait]
impl cbm_service_server::CbmService for CbmServiceImpl {
    async fn notify(
        &self,
        _request: tonic::Request<v1::NotifyRequest>,
    ) -> Result<tonic::Response<v1::NotifyResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/Notify").into())
    }
    async fn get_notification(
        &self,
        _request: tonic::Request<v1::GetNotificationRequest>,
    ) -> Result<tonic::Response<v1::GetNotificationResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/GetNotification").into())
    }
    async fn list_notifications(
        &self,
        _request: tonic::Request<v1::ListNotificationsRequest>,
    ) -> Result<tonic::Response<v1::ListNotificationsResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/ListNotifications").into())
    }
    async fn acknowledge_notification(
        &self,
        _request: tonic::Request<v1::AcknowledgeNotificationRequest>,
    ) -> Result<tonic::Response<v1::AcknowledgeNotificationResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/AcknowledgeNotification").into())
    }
    async fn post_reply(
        &self,
        _request: tonic::Request<v1::PostReplyRequest>,
    ) -> Result<tonic::Response<v1::PostReplyResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/PostReply").into())
    }
    async fn list_replies(
        &self,
        _request: tonic::Request<v1::ListRepliesRequest>,
    ) -> Result<tonic::Response<v1::ListRepliesResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/ListReplies").into())
    }
    async fn request_consultation(
        &self,
        _request: tonic::Request<v1::RequestConsultationRequest>,
    ) -> Result<tonic::Response<v1::RequestConsultationResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/RequestConsultation").into())
    }
    async fn acknowledge_consultation(
        &self,
        _request: tonic::Request<v1::AcknowledgeConsultationRequest>,
    ) -> Result<tonic::Response<v1::AcknowledgeConsultationResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/AcknowledgeConsultation").into())
    }
    async fn schedule_consultation(
        &self,
        _request: tonic::Request<v1::ScheduleConsultationRequest>,
    ) -> Result<tonic::Response<v1::ScheduleConsultationResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/ScheduleConsultation").into())
    }
    async fn record_consultation_held(
        &self,
        _request: tonic::Request<v1::RecordConsultationHeldRequest>,
    ) -> Result<tonic::Response<v1::RecordConsultationHeldResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/RecordConsultationHeld").into())
    }
    async fn close_consultation(
        &self,
        _request: tonic::Request<v1::CloseConsultationRequest>,
    ) -> Result<tonic::Response<v1::CloseConsultationResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/CloseConsultation").into())
    }
    async fn get_consultation(
        &self,
        _request: tonic::Request<v1::GetConsultationRequest>,
    ) -> Result<tonic::Response<v1::GetConsultationResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/GetConsultation").into())
    }
    async fn list_consultations(
        &self,
        _request: tonic::Request<v1::ListConsultationsRequest>,
    ) -> Result<tonic::Response<v1::ListConsultationsResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/ListConsultations").into())
    }
    type WatchInboxStream = BoxStream<v1::WatchInboxResponse>;
    async fn watch_inbox(
        &self,
        _request: tonic::Request<v1::WatchInboxRequest>,
    ) -> Result<tonic::Response<Self::WatchInboxStream>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/WatchInbox").into())
    }
    async fn start_communication_check(
        &self,
        _request: tonic::Request<v1::StartCommunicationCheckRequest>,
    ) -> Result<tonic::Response<v1::StartCommunicationCheckResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/StartCommunicationCheck").into())
    }
    async fn respond_to_communication_check(
        &self,
        _request: tonic::Request<v1::RespondToCommunicationCheckRequest>,
    ) -> Result<tonic::Response<v1::RespondToCommunicationCheckResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/RespondToCommunicationCheck").into())
    }
    async fn get_communication_check_report(
        &self,
        _request: tonic::Request<v1::GetCommunicationCheckReportRequest>,
    ) -> Result<tonic::Response<v1::GetCommunicationCheckReportResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/GetCommunicationCheckReport").into())
    }
    async fn list_communication_checks(
        &self,
        _request: tonic::Request<v1::ListCommunicationChecksRequest>,
    ) -> Result<tonic::Response<v1::ListCommunicationChecksResponse>, Status> {
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/ListCommunicationChecks").into())
    }
    async fn list_communication_check_results(
        &self,
        _request: tonic::Request<v1::ListCommunicationCheckResultsRequest>,
    ) -> Result<tonic::Response<v1::ListCommunicationCheckResultsResponse>, Status> {
        Err(
            ServiceError::Unimplemented("liaison.v1.CbmService/ListCommunicationCheckResults")
                .into(),
        )
    }
}
