//! The Liaison CBM service: confidence-building-measure notifications with
//! acknowledgement tables, escalation of overdue acknowledgements and the watch stream
//! (OSCE Permanent Council Decisions 1106 and 1202).
//!
//! Every RPC is implemented: notifications and acknowledgements (notify.rs), the watch
//! (watch.rs) and the escalator task (escalate.rs), replies on notifications and in
//! consultation threads (replies.rs), consultations (consultations.rs) and communication
//! checks (checks.rs).
//! Each handler asks for the caller (which checks the RPC's gate in
//! `liaison_auth::authorize::RULES`) before it validates anything.

mod checks;
mod consultations;
mod convert;
mod escalate;
mod notify;
mod replies;
mod schedule;
mod watch;

/// Entry points for the fuzz harness (`tests/fuzz`): not a stable interface.
#[doc(hidden)]
pub mod fuzzing {
    use liaison_core::{Violations, cbm::NewNotification};
    use liaison_proto::v1;

    /// What Notify checks of a notification message.
    pub fn validate_notification(
        notification: v1::CbmNotification,
    ) -> Result<NewNotification, Violations> {
        NewNotification::validate(
            crate::convert::draft_from_proto(notification),
            "notification",
        )
    }
}

pub use escalate::spawn_escalator;
use liaison_proto::v1::{self, cbm_service_server};
use liaison_rpc::{AccessControl, Authenticator, Call, Clock, Shutdown};
use liaison_store::Store;
pub use schedule::{CheckSchedule, spawn_check_schedule, start_scheduled_check};
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
        let call = Call::begin(&self.auth, &request).await?;
        let request = request.into_inner();
        let kinds = watch::kinds_from_request(&request)?;
        let watcher = watch::Watcher {
            store: self.store.clone(),
            clock: self.clock.clone(),
            caller: call.caller.clone(),
            kinds,
        };
        Ok(Response::new(
            liaison_rpc::EventStream {
                store: self.store.clone(),
                auth: self.auth.clone(),
                call,
                shutdown: self.shutdown.clone(),
                after: request.after.map_or(0, |cursor| cursor.position),
            }
            .spawn(watcher),
        ))
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
        request: Request<v1::RequestConsultationRequest>,
    ) -> Result<Response<v1::RequestConsultationResponse>, Status> {
        Ok(Response::new(
            self.request_consultation_call(request).await?,
        ))
    }
    async fn acknowledge_consultation(
        &self,
        request: Request<v1::AcknowledgeConsultationRequest>,
    ) -> Result<Response<v1::AcknowledgeConsultationResponse>, Status> {
        Ok(Response::new(
            self.acknowledge_consultation_call(request).await?,
        ))
    }
    async fn schedule_consultation(
        &self,
        request: Request<v1::ScheduleConsultationRequest>,
    ) -> Result<Response<v1::ScheduleConsultationResponse>, Status> {
        Ok(Response::new(
            self.schedule_consultation_call(request).await?,
        ))
    }
    async fn record_consultation_held(
        &self,
        request: Request<v1::RecordConsultationHeldRequest>,
    ) -> Result<Response<v1::RecordConsultationHeldResponse>, Status> {
        Ok(Response::new(self.record_held_call(request).await?))
    }
    async fn close_consultation(
        &self,
        request: Request<v1::CloseConsultationRequest>,
    ) -> Result<Response<v1::CloseConsultationResponse>, Status> {
        Ok(Response::new(self.close_consultation_call(request).await?))
    }
    async fn get_consultation(
        &self,
        request: Request<v1::GetConsultationRequest>,
    ) -> Result<Response<v1::GetConsultationResponse>, Status> {
        Ok(Response::new(self.get_consultation_call(request).await?))
    }
    async fn list_consultations(
        &self,
        request: Request<v1::ListConsultationsRequest>,
    ) -> Result<Response<v1::ListConsultationsResponse>, Status> {
        Ok(Response::new(self.list_consultations_call(request).await?))
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
