//! The Liaison cbm service. Its API is defined in `proto/liaison/v1/cbm.proto`; every RPC
//! answers UNIMPLEMENTED until its issue lands, so clients can be written against it now.
//! Each RPC already passes its access gate (`liaison_auth::authorize::RULES`) first, so the
//! authorization matrix covers it and a caller without the role is told so.

use liaison_proto::v1::{self, cbm_service_server};
use liaison_rpc::{AccessControl, Authenticator, ServiceError};
use tonic::{Status, codegen::BoxStream};

/// The CbmService implementation.
#[derive(Debug, Clone)]
pub struct CbmServiceImpl {
    auth: Authenticator,
}

impl CbmServiceImpl {
    /// The service over `store`.
    pub fn new(store: liaison_store::Store, access: AccessControl) -> Self {
        Self {
            auth: Authenticator::new(store, access),
        }
    }

    /// The tonic server for this service.
    pub fn into_server(self) -> cbm_service_server::CbmServiceServer<Self> {
        cbm_service_server::CbmServiceServer::new(self)
    }
}

#[tonic::async_trait]
impl cbm_service_server::CbmService for CbmServiceImpl {
    async fn notify(
        &self,
        request: tonic::Request<v1::NotifyRequest>,
    ) -> Result<tonic::Response<v1::NotifyResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/Notify").into())
    }
    async fn get_notification(
        &self,
        request: tonic::Request<v1::GetNotificationRequest>,
    ) -> Result<tonic::Response<v1::GetNotificationResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/GetNotification").into())
    }
    async fn list_notifications(
        &self,
        request: tonic::Request<v1::ListNotificationsRequest>,
    ) -> Result<tonic::Response<v1::ListNotificationsResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/ListNotifications").into())
    }
    async fn acknowledge_notification(
        &self,
        request: tonic::Request<v1::AcknowledgeNotificationRequest>,
    ) -> Result<tonic::Response<v1::AcknowledgeNotificationResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/AcknowledgeNotification").into())
    }
    async fn post_reply(
        &self,
        request: tonic::Request<v1::PostReplyRequest>,
    ) -> Result<tonic::Response<v1::PostReplyResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/PostReply").into())
    }
    async fn list_replies(
        &self,
        request: tonic::Request<v1::ListRepliesRequest>,
    ) -> Result<tonic::Response<v1::ListRepliesResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/ListReplies").into())
    }
    async fn request_consultation(
        &self,
        request: tonic::Request<v1::RequestConsultationRequest>,
    ) -> Result<tonic::Response<v1::RequestConsultationResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/RequestConsultation").into())
    }
    async fn acknowledge_consultation(
        &self,
        request: tonic::Request<v1::AcknowledgeConsultationRequest>,
    ) -> Result<tonic::Response<v1::AcknowledgeConsultationResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/AcknowledgeConsultation").into())
    }
    async fn schedule_consultation(
        &self,
        request: tonic::Request<v1::ScheduleConsultationRequest>,
    ) -> Result<tonic::Response<v1::ScheduleConsultationResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/ScheduleConsultation").into())
    }
    async fn record_consultation_held(
        &self,
        request: tonic::Request<v1::RecordConsultationHeldRequest>,
    ) -> Result<tonic::Response<v1::RecordConsultationHeldResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/RecordConsultationHeld").into())
    }
    async fn close_consultation(
        &self,
        request: tonic::Request<v1::CloseConsultationRequest>,
    ) -> Result<tonic::Response<v1::CloseConsultationResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/CloseConsultation").into())
    }
    async fn get_consultation(
        &self,
        request: tonic::Request<v1::GetConsultationRequest>,
    ) -> Result<tonic::Response<v1::GetConsultationResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/GetConsultation").into())
    }
    async fn list_consultations(
        &self,
        request: tonic::Request<v1::ListConsultationsRequest>,
    ) -> Result<tonic::Response<v1::ListConsultationsResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/ListConsultations").into())
    }
    type WatchInboxStream = BoxStream<v1::WatchInboxResponse>;
    async fn watch_inbox(
        &self,
        request: tonic::Request<v1::WatchInboxRequest>,
    ) -> Result<tonic::Response<Self::WatchInboxStream>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/WatchInbox").into())
    }
    async fn start_communication_check(
        &self,
        request: tonic::Request<v1::StartCommunicationCheckRequest>,
    ) -> Result<tonic::Response<v1::StartCommunicationCheckResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/StartCommunicationCheck").into())
    }
    async fn respond_to_communication_check(
        &self,
        request: tonic::Request<v1::RespondToCommunicationCheckRequest>,
    ) -> Result<tonic::Response<v1::RespondToCommunicationCheckResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/RespondToCommunicationCheck").into())
    }
    async fn get_communication_check_report(
        &self,
        request: tonic::Request<v1::GetCommunicationCheckReportRequest>,
    ) -> Result<tonic::Response<v1::GetCommunicationCheckReportResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/GetCommunicationCheckReport").into())
    }
    async fn list_communication_checks(
        &self,
        request: tonic::Request<v1::ListCommunicationChecksRequest>,
    ) -> Result<tonic::Response<v1::ListCommunicationChecksResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(ServiceError::Unimplemented("liaison.v1.CbmService/ListCommunicationChecks").into())
    }
    async fn list_communication_check_results(
        &self,
        request: tonic::Request<v1::ListCommunicationCheckResultsRequest>,
    ) -> Result<tonic::Response<v1::ListCommunicationCheckResultsResponse>, Status> {
        self.auth.caller(&request).await?;
        Err(
            ServiceError::Unimplemented("liaison.v1.CbmService/ListCommunicationCheckResults")
                .into(),
        )
    }
}
