//! The Liaison CBM service: confidence-building-measure notifications with
//! acknowledgement tables, escalation of overdue acknowledgements and the watch stream
//! (OSCE Permanent Council Decisions 1106 and 1202).
//!
//! Implemented: `Notify`, `GetNotification`, `ListNotifications`,
//! `AcknowledgeNotification`, `WatchInbox`, the escalator task and communication checks
//! (`StartCommunicationCheck`, `RespondToCommunicationCheck`, `GetCommunicationCheckReport`,
//! `ListCommunicationChecks`, `ListCommunicationCheckResults`), replies on notifications
//! (`PostReply`, `ListReplies`). Consultations pass their
//! access gate (`liaison_auth::authorize::RULES`) first, then answers UNIMPLEMENTED.

mod checks;
mod convert;
mod escalate;
mod notify;
mod replies;
mod watch;

pub use escalate::spawn_escalator;
use liaison_proto::v1::{self, cbm_service_server};
use liaison_rpc::{AccessControl, Authenticator, Clock, ServiceError, Shutdown};
use liaison_store::Store;
use tonic::{Request, Response, Status, codegen::BoxStream};

/// The CbmService implementation.
#[derive(Debug, Clone)]
pub struct CbmServiceImpl {
    store: Store,
    auth: Authenticator,
    /// The deadline clock: creation, due and escalation times follow it.
    clock: Clock,
    shutdown: Shutdown,
}

impl CbmServiceImpl {
    /// The service over `store`; deadlines follow `clock`; open watches end with `shutdown`.
    pub fn new(store: Store, access: AccessControl, clock: Clock, shutdown: Shutdown) -> Self {
        Self {
            auth: Authenticator::new(store.clone(), access),
            store,
            clock,
            shutdown,
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
        request: Request<v1::NotifyRequest>,
    ) -> Result<Response<v1::NotifyResponse>, Status> {
        Ok(Response::new(self.notify_call(request).await?))
    }
    async fn get_notification(
        &self,
        request: Request<v1::GetNotificationRequest>,
    ) -> Result<Response<v1::GetNotificationResponse>, Status> {
        Ok(Response::new(self.get_notification_call(request).await?))
    }
    async fn list_notifications(
        &self,
        request: Request<v1::ListNotificationsRequest>,
    ) -> Result<Response<v1::ListNotificationsResponse>, Status> {
        Ok(Response::new(self.list_notifications_call(request).await?))
    }
    async fn acknowledge_notification(
        &self,
        request: Request<v1::AcknowledgeNotificationRequest>,
    ) -> Result<Response<v1::AcknowledgeNotificationResponse>, Status> {
        Ok(Response::new(self.acknowledge_call(request).await?))
    }
    type WatchInboxStream = BoxStream<v1::WatchInboxResponse>;
    async fn watch_inbox(
        &self,
        request: Request<v1::WatchInboxRequest>,
    ) -> Result<Response<Self::WatchInboxStream>, Status> {
        let caller = self.auth.caller(&request).await?;
        let audit = liaison_rpc::AuditContext::of(&request);
        let request = request.into_inner();
        let kinds = watch::kinds_from_request(&request)?;
        let after = request.after.map_or(0, |cursor| cursor.position);
        Ok(Response::new(watch::spawn(
            watch::Watcher {
                store: self.store.clone(),
                auth: self.auth.clone(),
                clock: self.clock.clone(),
                caller,
                audit,
                kinds,
            },
            after,
            self.shutdown.clone(),
        )))
    }
    async fn post_reply(
        &self,
        request: Request<v1::PostReplyRequest>,
    ) -> Result<Response<v1::PostReplyResponse>, Status> {
        Ok(Response::new(self.post_reply_call(request).await?))
    }
    async fn list_replies(
        &self,
        request: Request<v1::ListRepliesRequest>,
    ) -> Result<Response<v1::ListRepliesResponse>, Status> {
        Ok(Response::new(self.list_replies_call(request).await?))
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
    async fn start_communication_check(
        &self,
        request: Request<v1::StartCommunicationCheckRequest>,
    ) -> Result<Response<v1::StartCommunicationCheckResponse>, Status> {
        Ok(Response::new(self.start_check_call(request).await?))
    }
    async fn respond_to_communication_check(
        &self,
        request: Request<v1::RespondToCommunicationCheckRequest>,
    ) -> Result<Response<v1::RespondToCommunicationCheckResponse>, Status> {
        Ok(Response::new(self.respond_call(request).await?))
    }
    async fn get_communication_check_report(
        &self,
        request: Request<v1::GetCommunicationCheckReportRequest>,
    ) -> Result<Response<v1::GetCommunicationCheckReportResponse>, Status> {
        Ok(Response::new(self.report_call(request).await?))
    }
    async fn list_communication_checks(
        &self,
        request: Request<v1::ListCommunicationChecksRequest>,
    ) -> Result<Response<v1::ListCommunicationChecksResponse>, Status> {
        Ok(Response::new(self.list_checks_call(request).await?))
    }
    async fn list_communication_check_results(
        &self,
        request: Request<v1::ListCommunicationCheckResultsRequest>,
    ) -> Result<Response<v1::ListCommunicationCheckResultsResponse>, Status> {
        Ok(Response::new(self.list_results_call(request).await?))
    }
}
