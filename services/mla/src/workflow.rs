//! One step of a request, the same way for every step RPC:
//! load the stored request → `authorize(caller, Action::MlaParty{…})` (NOT_FOUND for
//! anyone else, exactly as for an id that does not exist) → the etag (ABORTED when
//! stale) → the state machine (`liaison_core::mla::step`: PERMISSION_DENIED for the wrong
//! party, FAILED_PRECONDITION from the wrong state, nothing changed) → the step's own
//! changes → one write with the audit record, which applies only if the request is still
//! at the version the decision was taken on (else ABORTED: one winner, no lost update).

use liaison_audit::{Access, ObjectAccess};
use liaison_auth::{Action, Caller, Denied, authorize};
use liaison_core::{
    ObjectId, Role, Timestamp,
    mla::{DeadlineKind, MlaStatus, MlaStep, REQUEST_ID_PREFIX, Side, StepError, step},
};
use liaison_proto::{
    domain::{ProtoEnum, principal_ref},
    v1,
};
use liaison_rpc::{ServiceError, request_id, to_timestamp};
use liaison_store::{MlaDeadline, MlaRecord, MlaWrite, MlaWriteOutcome};
use prost::Message;

use crate::{
    MlaServiceImpl,
    convert::{decode_document, request_to_proto},
    receipts::ReceiptKind,
};

pub(crate) use liaison_rpc::Call;

/// A step decided by the machine, to be completed by its handler and committed.
pub(crate) struct Decided {
    /// The request as read.
    pub record: MlaRecord,
    /// Its document, to be changed by the handler.
    pub document: v1::MlaRequest,
    /// The status after the step.
    pub after: MlaStatus,
    /// The deadlines, to be changed by the handler.
    pub deadlines: Vec<MlaDeadline>,
    /// The hub clock's time of the step.
    pub now: Timestamp,
}

/// What a loaded step turned out to be.
pub(crate) enum Loaded {
    /// A new step, decided.
    Step(Box<Decided>),
    /// A retry of a step already taken: the request as it is now.
    Retry(Box<MlaRecord>),
}

/// The side of `caller` on `record`, if a party (drafts: the requesting agency only).
pub(crate) fn side_of(caller: &Caller, record: &MlaRecord) -> Option<Side> {
    if caller.is_hub() {
        return None;
    }
    if caller.agency() == &record.requesting {
        Some(Side::Requesting)
    } else if record.requested.as_ref() == Some(caller.agency())
        && record.status.state != liaison_core::mla::MlaState::Draft
    {
        Some(Side::Requested)
    } else {
        None
    }
}

/// Parses a request id field.
pub(crate) fn parse_id(value: &str, field: &str) -> Result<ObjectId, ServiceError> {
    ObjectId::parse(REQUEST_ID_PREFIX, value)
        .map_err(|error| ServiceError::invalid(field, error.to_string()))
}

fn step_error(error: StepError) -> ServiceError {
    match error {
        StepError::WrongParty { needed, .. } => {
            ServiceError::PermissionDenied(Denied(match needed {
                Side::Requesting => "only the requesting agency may take this step",
                Side::Requested => "only the requested agency may take this step",
                Side::Hub => "only the hub takes this step",
            }))
        }
        StepError::NotOfficer(_) => {
            ServiceError::PermissionDenied(Denied("only officers take steps on a request"))
        }
        other => ServiceError::FailedPrecondition(other.to_string()),
    }
}

/// Sets (or replaces) a running deadline, set at `now`.
pub(crate) fn set_deadline(
    deadlines: &mut Vec<MlaDeadline>,
    kind: DeadlineKind,
    now: Timestamp,
    due: Timestamp,
) {
    deadlines.retain(|deadline| deadline.kind != kind);
    deadlines.push(MlaDeadline::running(kind, now, due));
}

/// Marks a running deadline met.
pub(crate) fn meet_deadline(deadlines: &mut [MlaDeadline], kind: DeadlineKind, now: Timestamp) {
    for deadline in deadlines.iter_mut() {
        if deadline.kind == kind && deadline.is_running() {
            deadline.met = Some(now);
        }
    }
}

/// Cancels running deadlines of `kinds` (all when empty).
pub(crate) fn cancel_deadlines(deadlines: &mut [MlaDeadline], kinds: &[DeadlineKind]) {
    for deadline in deadlines.iter_mut() {
        if deadline.is_running() && (kinds.is_empty() || kinds.contains(&deadline.kind)) {
            deadline.cancelled = true;
        }
    }
}

impl MlaServiceImpl {
    /// Loads request `id` for `call`, refusing NOT_FOUND unless the caller's agency is a
    /// party (or, where `oversight` is allowed, a hub oversight auditor).
    pub(crate) async fn load_visible(
        &self,
        call: &Call,
        id: &ObjectId,
        oversight: bool,
    ) -> Result<MlaRecord, ServiceError> {
        let record = self
            .store
            .get_mla(id)
            .await?
            .ok_or(ServiceError::NotFound("mla request"))?;
        let requested = record
            .requested
            .clone()
            .unwrap_or_else(|| record.requesting.clone());
        let party = authorize(
            &call.caller,
            Action::MlaParty {
                requesting: &record.requesting,
                requested: &requested,
            },
        )
        .is_ok();
        let visible = match side_of(&call.caller, &record) {
            Some(_) => party,
            None => {
                oversight
                    && party
                    && call.caller.is_hub()
                    && call.caller.has_role(Role::OversightAuditor)
                    && record.status.state != liaison_core::mla::MlaState::Draft
            }
        };
        if !visible {
            return Err(ServiceError::NotFound("mla request"));
        }
        Ok(record)
    }

    /// Validates the common fields, checks the idempotency key, loads the request and lets
    /// the machine decide `step_taken`.
    pub(crate) async fn load_step(
        &self,
        call: &Call,
        method: &'static str,
        client_request_id: &str,
        mla_request_id: &str,
        etag: &str,
        step_taken: &MlaStep,
    ) -> Result<Loaded, ServiceError> {
        request_id(client_request_id, "request_id")?;
        let id = parse_id(mla_request_id, "mla_request_id")?;
        let record = self.load_visible(call, &id, false).await?;
        if let Some((earlier, object)) = self
            .store
            .earlier_request(call.caller.principal(), client_request_id)
            .await?
        {
            if earlier != method || object != id.as_str() {
                return Err(ServiceError::Store(
                    liaison_store::StoreError::RequestIdReused(earlier),
                ));
            }
            return Ok(Loaded::Retry(Box::new(record)));
        }
        if !etag.is_empty() && etag != record.version.to_string() {
            return Err(ServiceError::Aborted(
                "the request changed since it was read (stale etag); read it again".into(),
            ));
        }
        let side = side_of(&call.caller, &record).ok_or(ServiceError::NotFound("mla request"))?;
        let actor = liaison_core::mla::Actor {
            side,
            officer: call.caller.has_role(Role::Officer),
        };
        let after = step(record.status, step_taken, actor).map_err(step_error)?;
        let document = decode_document(&record)?;
        Ok(Loaded::Step(Box::new(Decided {
            deadlines: record.deadlines.clone(),
            document,
            after,
            now: self.clock.now(),
            record,
        })))
    }

    /// Commits a decided step: history entry, new version, receipt, events and the audit
    /// record, in one write that applies only at the version read.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn commit_step(
        &self,
        call: &Call,
        method: &'static str,
        client_request_id: &str,
        decided: Decided,
        action: v1::MlaAction,
        comment: Option<v1::LocalizedText>,
        receipt: Option<ReceiptKind>,
    ) -> Result<(v1::MlaRequest, Option<v1::MlaReceipt>), ServiceError> {
        let Decided {
            record,
            mut document,
            after,
            deadlines,
            now,
        } = decided;
        document.history.push(v1::MlaHistoryEntry {
            time: Some(to_timestamp(now)),
            actor: Some(principal_ref(call.caller.principal())),
            action: action as i32,
            from_state: record.status.state.to_proto(),
            to_state: after.state.to_proto(),
            preservation_state: after.preservation.map_or(0, ProtoEnum::to_proto),
            comment,
            content_version: document.content_version,
        });
        let mut updated = MlaRecord {
            status: after,
            version: record.version + 1,
            updated: now,
            deadlines,
            document: Vec::new(),
            ..record.clone()
        };
        document.meta.get_or_insert_default().update_time = Some(to_timestamp(now));
        updated.document = document.encode_to_vec();
        let mut receipts = Vec::new();
        let mut receipt_message = None;
        if let Some(kind) = receipt {
            let (row, message) = self.receipts.issue(
                kind,
                &document,
                &record.id,
                after.state,
                call.caller.principal(),
                now,
            );
            receipts.push(row);
            receipt_message = Some(message);
        }
        // Each event names what it is about: the history entry, the receipt.
        let entry = document.history.len().saturating_sub(1);
        let mut events = vec![if action == v1::MlaAction::Submit {
            format!("submitted.{entry}")
        } else {
            format!("state_changed.{entry}")
        }];
        if let Some(row) = receipts.first() {
            events.push(format!("receipt_issued.{}", row.id));
        }
        let audit_record = call.audit.write_record(ObjectAccess {
            id: record.id.to_string(),
            access: Access::Write,
            owner_agency: Some(record.requesting.to_string()),
            anonymous: false,
        });
        let outcome = self
            .store
            .write_mla(MlaWrite {
                principal: Some(call.caller.principal()),
                request_id: client_request_id,
                method,
                record: &updated,
                expected_version: Some(record.version),
                receipts: &receipts,
                events: &events,
                audit_record,
                now,
            })
            .await?;
        match outcome {
            MlaWriteOutcome::Written => {
                call.audit.mark_recorded();
                tracing::info!(mla = %record.id, agency = %call.caller.agency(), action = action.as_str_name(), "mla step");
                Ok((
                    request_to_proto(&updated, true, &self.policy, now)?,
                    receipt_message,
                ))
            }
            MlaWriteOutcome::Conflict => Err(ServiceError::Aborted(
                "another change to the request committed first; read it again".into(),
            )),
            MlaWriteOutcome::Duplicate(_) => {
                let current = self
                    .store
                    .get_mla(&record.id)
                    .await?
                    .ok_or(ServiceError::NotFound("mla request"))?;
                self.answer_retry(call, &current)
                    .await
                    .map(|request| (request, None))
            }
        }
    }

    /// The answer to a retried step: the request as it is now, recorded as a read.
    pub(crate) async fn answer_retry(
        &self,
        call: &Call,
        record: &MlaRecord,
    ) -> Result<v1::MlaRequest, ServiceError> {
        call.audit
            .touch(record.id.as_str(), Access::Read, Some(&record.requesting));
        call.audit.commit_read(&self.store).await?;
        request_to_proto(record, true, &self.policy, self.clock.now())
    }
}
