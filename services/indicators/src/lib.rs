//! The Liaison indicator service: fraud methods, countermeasures and observables.
//!
//! Publish, PublishMany (batched transactions, results streamed back per batch),
//! GetIndicator, Subscribe, the exchange (exchange.rs: revocation, lists, sightings,
//! lookups, correlations) and STIX 2.1 export and import (stix.rs).

mod convert;
mod exchange;
mod stix;
mod subscribe;
mod visibility;

/// Entry points for the fuzz harness (`tests/fuzz`): not a stable interface.
#[doc(hidden)]
pub mod fuzzing {
    use liaison_core::{NewIndicator, Violations};
    use liaison_proto::v1;

    /// What Publish (and each PublishMany item) checks of an indicator message.
    pub fn validate_indicator(indicator: v1::Indicator) -> Result<NewIndicator, Violations> {
        NewIndicator::validate(crate::convert::draft_from_proto(indicator), "indicator")
    }

    /// What ImportStix checks of its request before it stores anything.
    pub fn check_import(request: &v1::ImportStixRequest) -> Result<usize, Violations> {
        crate::stix::check_import(request).map(|items| items.len())
    }
}

use liaison_audit::{Access, ObjectAccess};
use liaison_auth::{Action, Caller, authorize};
use liaison_core::{
    Indicator, NewIndicator, ObjectId, ObservableType, Scope, Timestamp, Violations,
};
use liaison_proto::v1::{self, indicator_service_server};
use liaison_rpc::{
    AccessControl, AuditContext, Authenticator, Call, EventStream, ServiceError, Shutdown,
    request_id,
};
use liaison_store::{BatchChain, BatchOrder, PublishOutcome, Store};
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming, codegen::BoxStream};

/// Items of a PublishMany stream stored per transaction.
const PUBLISH_BATCH: usize = 500;
/// How long a partly filled PublishMany batch waits for more items.
const FLUSH_AFTER: std::time::Duration = std::time::Duration::from_millis(20);

/// Most results in one PublishMany answer message (invalid items need no batch, so they
/// could otherwise pile up).
const RESULTS_PER_MESSAGE: usize = 2 * PUBLISH_BATCH;

/// The items of a PublishMany stream since the last batch was handed over: every result
/// in order, the valid items waiting to be stored, and the counts of what is decided.
#[derive(Default)]
struct Batch {
    results: Vec<v1::PublishResult>,
    pending: Vec<(usize, String, NewIndicator)>,
    counts: v1::PublishManyResponse,
}

/// Most batches of one PublishMany stream stored at once: while one transaction waits on
/// the database, the next runs on the other core. Their events still reach subscribers
/// in the order sent ([`BatchOrder`]), and results go back in that order.
const BATCHES_IN_FLIGHT: usize = 2;

/// A batch being stored, and the request ids of its items.
struct InFlight {
    stored: tokio::task::JoinHandle<Result<Batch, ServiceError>>,
    request_ids: std::collections::HashSet<String>,
}

/// The answering side of a PublishMany stream: the batches being stored, oldest first, and
/// the totals of the batches answered.
struct Answers<'a> {
    totals: v1::PublishManyResponse,
    in_flight: std::collections::VecDeque<InFlight>,
    chain: BatchChain,
    sent_any: bool,
    sender: &'a tokio::sync::mpsc::Sender<Result<v1::PublishManyResponse, Status>>,
}

impl Answers<'_> {
    /// Answers the oldest batch in flight, if any: waits for it to be stored and sends its
    /// results.
    async fn finish_oldest(&mut self) -> Result<(), Status> {
        let Some(in_flight) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let mut done = in_flight
            .stored
            .await
            .map_err(|_| Status::internal("storing a batch of the stream failed"))??;
        self.totals.accepted_count += done.counts.accepted_count;
        self.totals.duplicate_count += done.counts.duplicate_count;
        self.totals.invalid_count += done.counts.invalid_count;
        self.send(std::mem::take(&mut done.results)).await
    }

    /// Answers every batch in flight, in order.
    async fn finish(&mut self) -> Result<(), Status> {
        while !self.in_flight.is_empty() {
            self.finish_oldest().await?;
        }
        Ok(())
    }

    /// Answers what is in flight; a stream that sent nothing yet still gets its totals.
    async fn close(&mut self) -> Result<(), Status> {
        self.finish().await?;
        if self.sent_any {
            return Ok(());
        }
        self.send(Vec::new()).await
    }

    /// Sends `results` with the running totals.
    async fn send(&mut self, results: Vec<v1::PublishResult>) -> Result<(), Status> {
        let message = v1::PublishManyResponse {
            results,
            ..self.totals.clone()
        };
        self.sender
            .send(Ok(message))
            .await
            .map_err(|_| Status::cancelled("the client went away"))?;
        self.sent_any = true;
        Ok(())
    }

    /// Starts storing `batch` (if it holds anything), once fewer than
    /// [`BATCHES_IN_FLIGHT`] are: the oldest is answered first if need be.
    async fn hand_over(
        &mut self,
        service: &IndicatorService,
        caller: &Caller,
        audit: &AuditContext,
        batch: &mut Batch,
    ) -> Result<(), Status> {
        if batch.results.is_empty() {
            return Ok(());
        }
        let request_ids: std::collections::HashSet<String> = batch
            .pending
            .iter()
            .map(|(_, request_id, _)| request_id.clone())
            .collect();
        // A batch that repeats a request id of a batch in flight starts after it: both
        // would claim the key, and the later one must find it taken, not take it first
        // and then wait for the earlier one to end.
        if self
            .in_flight
            .iter()
            .any(|other| !other.request_ids.is_disjoint(&request_ids))
        {
            self.finish().await?;
        }
        if self.in_flight.len() >= BATCHES_IN_FLIGHT {
            self.finish_oldest().await?;
        }
        let batch = std::mem::take(batch);
        let mut order = self.chain.next_batch();
        let (service, caller, audit) = (service.clone(), caller.clone(), audit.clone());
        let stored = tokio::spawn(async move {
            let stored = service
                .store_batch(&caller, &audit, batch, &mut order)
                .await;
            // Whatever became of it, the next batch goes on only after the ones before.
            order.finish().await;
            stored
        });
        self.in_flight.push_back(InFlight {
            stored,
            request_ids,
        });
        Ok(())
    }
}

/// Commits the records of reads of `indicators` (the first results that retries of a
/// stream return), [`liaison_store::RECORD_OBJECTS`] at most to a record.
async fn record_reads(
    store: &Store,
    audit: &AuditContext,
    indicators: &[Indicator],
) -> Result<(), ServiceError> {
    for chunk in indicators.chunks(liaison_store::RECORD_OBJECTS) {
        let read = audit.fork();
        for indicator in chunk {
            read.touch_sourced(
                indicator.id.as_str(),
                Access::Read,
                Some(&indicator.source_agency),
                indicator.content.anonymous,
            );
        }
        read.commit_read(store).await?;
    }
    Ok(())
}

/// The indicator service.
#[derive(Debug, Clone)]
pub struct IndicatorService {
    store: Store,
    auth: Authenticator,
    shutdown: Shutdown,
}

impl IndicatorService {
    /// An indicator service over `store`; open subscriptions end when `shutdown` fires.
    pub fn new(store: Store, access: AccessControl, shutdown: Shutdown) -> Self {
        Self {
            auth: Authenticator::new(store.clone(), access),
            store,
            shutdown,
        }
    }

    /// The tonic server for this service.
    pub fn into_server(self) -> indicator_service_server::IndicatorServiceServer<Self> {
        indicator_service_server::IndicatorServiceServer::new(self)
    }

    /// Validates one indicator for `caller`: its fields, its handling (TLP, scope) and the
    /// agencies its scope names.
    async fn prepare(
        &self,
        caller: &Caller,
        request_id_value: &str,
        indicator: Option<v1::Indicator>,
    ) -> Result<NewIndicator, ServiceError> {
        request_id(request_id_value, "request_id")?;
        let indicator =
            indicator.ok_or_else(|| ServiceError::invalid("indicator", "indicator is required"))?;
        let content = NewIndicator::validate(convert::draft_from_proto(indicator), "indicator")?;
        authorize(
            caller,
            Action::Publish {
                tlp: content.tlp,
                scope: &content.scope,
            },
        )?;
        self.check_scope_members(&content.scope, "indicator.scope")
            .await?;
        Ok(content)
    }

    /// Validates and stores one indicator for `caller`, with its audit record in the same
    /// transaction; a repeated request_id is recorded as a read of the first result.
    async fn publish_one(
        &self,
        caller: &Caller,
        audit: &AuditContext,
        request_id_value: &str,
        indicator: Option<v1::Indicator>,
    ) -> Result<PublishOutcome, ServiceError> {
        let content = self.prepare(caller, request_id_value, indicator).await?;
        let now = Timestamp::from_system_time(std::time::SystemTime::now());
        let record = |indicator: &Indicator| {
            audit.write_record(ObjectAccess {
                id: indicator.id.to_string(),
                access: Access::Write,
                owner_agency: Some(indicator.source_agency.to_string()),
                anonymous: indicator.content.anonymous,
            })
        };
        let outcome = self
            .store
            .publish_indicator(caller.principal(), request_id_value, content, now, &record)
            .await?;
        match &outcome {
            PublishOutcome::Stored(stored) => {
                audit.mark_recorded();
                // The publication stands even if telling of matches fails; it is logged.
                if let Err(error) = exchange::correlate(&self.store, stored).await {
                    tracing::error!(indicator = %stored.id, %error, "correlation failed");
                }
            }
            PublishOutcome::Duplicate(first) => {
                audit.touch_sourced(
                    first.id.as_str(),
                    Access::Read,
                    Some(&first.source_agency),
                    first.content.anonymous,
                );
                audit.commit_read(&self.store).await?;
            }
        }
        Ok(outcome)
    }

    /// The work of one PublishMany stream: items are validated as they come, stored in
    /// batches, and their results sent back after each batch with the running totals.
    ///
    /// Up to [`BATCHES_IN_FLIGHT`] batches are stored while the next is read and
    /// validated, so the database and the hub work side by side; results still go out in
    /// order, a batch at a time.
    async fn publish_stream(
        &self,
        caller: &Caller,
        audit: &AuditContext,
        mut items: Streaming<v1::PublishManyRequest>,
        sender: &tokio::sync::mpsc::Sender<Result<v1::PublishManyResponse, Status>>,
    ) -> Result<(), Status> {
        let mut answers = Answers {
            totals: v1::PublishManyResponse::default(),
            in_flight: std::collections::VecDeque::new(),
            chain: BatchChain::default(),
            sent_any: false,
            sender,
        };
        let mut batch = Batch::default();
        let mut index: u32 = 0;
        loop {
            // Items wait for their batch to fill, but never long: when the client pauses,
            // what has come is stored at once and every result sent.
            let next = if batch.results.is_empty() && answers.in_flight.is_empty() {
                items.next().await
            } else {
                match tokio::time::timeout(FLUSH_AFTER, items.next()).await {
                    Ok(next) => next,
                    Err(_) => {
                        answers.hand_over(self, caller, audit, &mut batch).await?;
                        answers.finish().await?;
                        continue;
                    }
                }
            };
            let Some(item) = next else { break };
            let item = item?;
            let slot = batch.results.len();
            batch.results.push(v1::PublishResult {
                index,
                request_id: item.request_id.clone(),
                ..v1::PublishResult::default()
            });
            index = index.saturating_add(1);
            match self.prepare(caller, &item.request_id, item.indicator).await {
                Ok(content) => batch.pending.push((slot, item.request_id, content)),
                Err(ServiceError::InvalidArgument(violations)) => {
                    let result = &mut batch.results[slot];
                    result.outcome = v1::publish_result::Outcome::Invalid as i32;
                    result.violations = violations
                        .into_iter()
                        .map(|violation| v1::FieldViolation {
                            field: violation.field,
                            description: violation.description,
                        })
                        .collect();
                    batch.counts.invalid_count += 1;
                }
                Err(error) => return Err(error.into()),
            }
            if batch.pending.len() >= PUBLISH_BATCH || batch.results.len() >= RESULTS_PER_MESSAGE {
                answers.hand_over(self, caller, audit, &mut batch).await?;
            }
        }
        answers.hand_over(self, caller, audit, &mut batch).await?;
        answers.close().await
    }

    /// Stores items of `caller` in one transaction (PublishMany batches, STIX imports),
    /// with audit records that name the stored indicators as written, many to a record as
    /// for other streams.
    async fn store_items(
        &self,
        caller: &Caller,
        audit: &AuditContext,
        items: &[(String, NewIndicator)],
        order: &mut BatchOrder,
    ) -> Result<Vec<Result<PublishOutcome, liaison_store::StoreError>>, ServiceError> {
        let now = Timestamp::from_system_time(std::time::SystemTime::now());
        let record = |stored: &[Indicator]| {
            audit
                .fork()
                .write_record_of(stored.iter().map(|indicator| ObjectAccess {
                    id: indicator.id.to_string(),
                    access: Access::Write,
                    owner_agency: Some(indicator.source_agency.to_string()),
                    anonymous: indicator.content.anonymous,
                }))
        };
        Ok(self
            .store
            .publish_indicators(caller.principal(), items, now, &record, order)
            .await?)
    }

    /// Stores one PublishMany batch in one transaction and fills in its results.
    async fn store_batch(
        &self,
        caller: &Caller,
        audit: &AuditContext,
        mut batch: Batch,
        order: &mut BatchOrder,
    ) -> Result<Batch, ServiceError> {
        if batch.pending.is_empty() {
            return Ok(batch);
        }
        let pending = std::mem::take(&mut batch.pending);
        let items: Vec<(String, NewIndicator)> = pending
            .iter()
            .map(|(_, request_id, content)| (request_id.clone(), content.clone()))
            .collect();
        let outcomes = self.store_items(caller, audit, &items, order).await?;
        let mut stored = Vec::new();
        // The first publications that duplicates return are read.
        let mut read = Vec::new();
        for ((slot, _, _), outcome) in pending.iter().zip(outcomes) {
            let result = &mut batch.results[*slot];
            match outcome {
                Ok(PublishOutcome::Stored(indicator)) => {
                    result.outcome = v1::publish_result::Outcome::Accepted as i32;
                    result.indicator_id = indicator.id.to_string();
                    batch.counts.accepted_count += 1;
                    stored.push(indicator);
                }
                Ok(PublishOutcome::Duplicate(first)) => {
                    result.outcome = v1::publish_result::Outcome::Duplicate as i32;
                    result.indicator_id = first.id.to_string();
                    batch.counts.duplicate_count += 1;
                    read.push(first);
                }
                Err(liaison_store::StoreError::RequestIdReused(_)) => {
                    result.outcome = v1::publish_result::Outcome::Invalid as i32;
                    result.violations = vec![v1::FieldViolation {
                        field: "request_id".into(),
                        description: "request_id was already used for a different call".into(),
                    }];
                    batch.counts.invalid_count += 1;
                }
                Err(error) => return Err(error.into()),
            }
        }
        record_reads(&self.store, audit, &read).await?;
        if let Err(error) = exchange::correlate_batch(&self.store, &stored).await {
            tracing::error!(%error, "correlation of a batch failed");
        }
        Ok(batch)
    }

    /// Every agency a scope names must be a member; `field` is the scope's path.
    async fn check_scope_members(&self, scope: &Scope, field: &str) -> Result<(), ServiceError> {
        if let Scope::Agencies(agencies) = scope {
            let mut violations = Violations::new();
            for agency in agencies {
                if self.store.get_agency(agency).await?.is_none() {
                    violations.add(
                        format!("{field}.agencies.agency_ids"),
                        format!("{agency} is not a member agency"),
                    );
                }
            }
            if !violations.is_empty() {
                return Err(violations.into());
            }
        }
        Ok(())
    }
}

#[tonic::async_trait]
impl indicator_service_server::IndicatorService for IndicatorService {
    async fn publish(
        &self,
        request: Request<v1::PublishRequest>,
    ) -> Result<Response<v1::PublishResponse>, Status> {
        let Call { caller, audit } = Call::begin(&self.auth, &request).await?;
        let request = request.into_inner();
        let outcome = self
            .publish_one(&caller, &audit, &request.request_id, request.indicator)
            .await?;
        let (indicator, duplicate) = match outcome {
            PublishOutcome::Stored(indicator) => (indicator, false),
            PublishOutcome::Duplicate(indicator) => (indicator, true),
        };
        tracing::info!(indicator = %indicator.id, agency = %caller.agency(), duplicate, "indicator published");
        Ok(Response::new(v1::PublishResponse {
            indicator: Some(convert::indicator_to_proto(&indicator, &caller)),
            duplicate,
        }))
    }

    type PublishManyStream = BoxStream<v1::PublishManyResponse>;

    async fn publish_many(
        &self,
        request: Request<Streaming<v1::PublishManyRequest>>,
    ) -> Result<Response<Self::PublishManyStream>, Status> {
        let Call { caller, audit } = Call::begin(&self.auth, &request).await?;
        let items = request.into_inner();
        // A few answers in flight: a client that does not read them stops this task, which
        // stops reading its items, so HTTP/2 flow control slows the client down.
        let (sender, receiver) = tokio::sync::mpsc::channel(4);
        let service = self.clone();
        tokio::spawn(async move {
            if let Err(status) = service
                .publish_stream(&caller, &audit, items, &sender)
                .await
            {
                let _ = sender.send(Err(status)).await;
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        )))
    }

    async fn get_indicator(
        &self,
        request: Request<v1::GetIndicatorRequest>,
    ) -> Result<Response<v1::GetIndicatorResponse>, Status> {
        let caller = self.auth.caller(&request).await?;
        let id = ObjectId::parse(ObjectId::INDICATOR, &request.get_ref().indicator_id)
            .map_err(|error| ServiceError::invalid("indicator_id", error.to_string()))?;
        let indicator = self
            .store
            .get_indicator(&id)
            .await
            .map_err(ServiceError::from)?;
        // Not found and not visible answer alike, so ids reveal nothing.
        let indicator = indicator
            .filter(|indicator| {
                let content = &indicator.content;
                authorize(
                    &caller,
                    Action::Receive {
                        source: &indicator.source_agency,
                        scope: &content.scope,
                        tlp: content.tlp,
                    },
                )
                .is_ok()
            })
            .ok_or(ServiceError::NotFound("indicator"))?;
        let audit = AuditContext::of(&request);
        if indicator
            .observable_types()
            .any(ObservableType::is_personal_data)
        {
            audit.require_justification()?;
        }
        audit.touch_sourced(
            indicator.id.as_str(),
            Access::Read,
            Some(&indicator.source_agency),
            indicator.content.anonymous,
        );
        audit.commit_read(&self.store).await?;
        Ok(Response::new(v1::GetIndicatorResponse {
            indicator: Some(convert::indicator_to_proto(&indicator, &caller)),
        }))
    }

    type SubscribeStream = BoxStream<v1::SubscribeResponse>;

    async fn subscribe(
        &self,
        request: Request<v1::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let call = Call::begin(&self.auth, &request).await?;
        let request = request.into_inner();
        let filter = visibility::Filter::from_request(&request)?;
        if filter.may_deliver_personal_data() {
            call.audit.require_justification()?;
        }
        let stream = EventStream {
            store: self.store.clone(),
            auth: self.auth.clone(),
            call,
            shutdown: self.shutdown.clone(),
            after: request.after.map_or(0, |cursor| cursor.position),
        }
        .spawn(subscribe::Subscription {
            store: self.store.clone(),
            filter,
        });
        Ok(Response::new(stream))
    }

    async fn list_indicators(
        &self,
        request: tonic::Request<v1::ListIndicatorsRequest>,
    ) -> Result<tonic::Response<v1::ListIndicatorsResponse>, Status> {
        let Call { caller, audit } = Call::begin(&self.auth, &request).await?;
        let response = exchange::list(&self.store, &caller, &audit, request.into_inner()).await?;
        Ok(Response::new(response))
    }
    async fn revoke_indicator(
        &self,
        request: tonic::Request<v1::RevokeIndicatorRequest>,
    ) -> Result<tonic::Response<v1::RevokeIndicatorResponse>, Status> {
        let Call { caller, audit } = Call::begin(&self.auth, &request).await?;
        let response = exchange::revoke(&self.store, &caller, &audit, request.into_inner()).await?;
        Ok(Response::new(response))
    }
    async fn link_observables(
        &self,
        request: tonic::Request<v1::LinkObservablesRequest>,
    ) -> Result<tonic::Response<v1::LinkObservablesResponse>, Status> {
        let Call { caller, audit } = Call::begin(&self.auth, &request).await?;
        let response = exchange::link(&self.store, &caller, &audit, request.into_inner()).await?;
        Ok(tonic::Response::new(response))
    }
    async fn report_sighting(
        &self,
        request: tonic::Request<v1::ReportSightingRequest>,
    ) -> Result<tonic::Response<v1::ReportSightingResponse>, Status> {
        let Call { caller, audit } = Call::begin(&self.auth, &request).await?;
        let response =
            exchange::report_sighting(&self.store, &caller, &audit, request.into_inner()).await?;
        Ok(Response::new(response))
    }
    async fn lookup(
        &self,
        request: tonic::Request<v1::LookupRequest>,
    ) -> Result<tonic::Response<v1::LookupResponse>, Status> {
        let Call { caller, audit } = Call::begin(&self.auth, &request).await?;
        let response = exchange::lookup(&self.store, &caller, &audit, request.into_inner()).await?;
        Ok(Response::new(response))
    }
    async fn export_stix(
        &self,
        request: tonic::Request<v1::ExportStixRequest>,
    ) -> Result<tonic::Response<v1::ExportStixResponse>, Status> {
        let Call { caller, audit } = Call::begin(&self.auth, &request).await?;
        let response = stix::export(&self.store, &caller, &audit, request.into_inner()).await?;
        Ok(Response::new(response))
    }
    async fn import_stix(
        &self,
        request: tonic::Request<v1::ImportStixRequest>,
    ) -> Result<tonic::Response<v1::ImportStixResponse>, Status> {
        let Call { caller, audit } = Call::begin(&self.auth, &request).await?;
        let response = stix::import(self, &caller, &audit, request.into_inner()).await?;
        Ok(Response::new(response))
    }
}
