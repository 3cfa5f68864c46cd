//! The write RPCs: drafts, submission and every workflow and preservation step. Each
//! validates its own inputs, then goes through `workflow.rs` (load, authorize, etag, the
//! machine, one versioned write with its audit record).

use std::time::Duration;

use liaison_audit::{Access, ObjectAccess};
use liaison_core::mla::{DataCategory, LegalBasis, Urgency};
use liaison_core::{
    AgencyId, ObjectId, Timestamp, Violations,
    mla::{
        DeadlineKind, MlaStatus, MlaStep, REQUEST_ID_PREFIX, Reasons, TreatyPosition,
        check_parties, check_submission, deadlines::after, preservation_until,
    },
};
use liaison_proto::{
    domain::{ProtoEnum, principal_ref},
    methods, v1,
};
use liaison_rpc::{ServiceError, from_timestamp, request_id, to_timestamp};
use liaison_store::{MlaRecord, MlaWrite, MlaWriteOutcome};
use prost::Message;

use crate::{
    MlaServiceImpl,
    convert::{self, request_to_proto, requested_agency, submission_facts},
    receipts::ReceiptKind,
    workflow::{Call, Decided, Loaded, cancel_deadlines, meet_deadline, parse_id, set_deadline},
};

type StepResult = Result<(v1::MlaRequest, Option<v1::MlaReceipt>), ServiceError>;

/// Longest case reference, in characters.
const CASE_REFERENCE_MAX: usize = 200;

fn text(value: Option<&v1::LocalizedText>) -> Option<&str> {
    value
        .map(|text| text.text.trim())
        .filter(|text| !text.is_empty())
}

fn required(
    value: Option<v1::LocalizedText>,
    field: &str,
    why: &str,
) -> Result<v1::LocalizedText, ServiceError> {
    if text(value.as_ref()).is_some() {
        Ok(value.unwrap_or_default())
    } else {
        Err(ServiceError::invalid(field, why))
    }
}

fn reasons(value: &Option<v1::LocalizedText>, field: &str) -> Result<Reasons, ServiceError> {
    Reasons::parse(value.as_ref().map_or("", |text| text.text.as_str()))
        .map_err(|error| ServiceError::invalid(field, error.to_string()))
}

fn timestamp(
    value: Option<&prost_types::Timestamp>,
    field: &str,
) -> Result<Option<Timestamp>, ServiceError> {
    value
        .map(|time| {
            from_timestamp(time).ok_or_else(|| ServiceError::invalid(field, "not a valid time"))
        })
        .transpose()
}

/// What a draft may hold: anything incomplete, nothing malformed.
pub(crate) fn check_draft(
    content: &v1::MlaRequestContent,
    own: &AgencyId,
) -> Result<(), ServiceError> {
    let mut violations = Violations::new();
    if !content.requested_agency_id.is_empty() {
        match AgencyId::parse(&content.requested_agency_id) {
            Err(error) => violations.add("content.requested_agency_id", error.to_string()),
            Ok(agency) if &agency == own => violations.add(
                "content.requested_agency_id",
                "a request is addressed to another agency",
            ),
            Ok(_) => {}
        }
    }
    if content.legal_basis != 0 && LegalBasis::from_proto(content.legal_basis).is_none() {
        violations.add("content.legal_basis", "unknown legal basis");
    }
    if content.urgency != 0 && Urgency::from_proto(content.urgency).is_none() {
        violations.add("content.urgency", "unknown urgency");
    }
    if content.case_reference.chars().count() > CASE_REFERENCE_MAX {
        violations.add(
            "content.case_reference",
            format!("at most {CASE_REFERENCE_MAX} characters"),
        );
    }
    for (index, item) in content.data_sought.iter().enumerate() {
        if item.category != 0 && DataCategory::from_proto(item.category).is_none() {
            violations.add(
                format!("content.data_sought[{index}].category"),
                "unknown data category",
            );
        }
        for (position, identifier) in item.identifiers.iter().enumerate() {
            let field = format!("content.data_sought[{index}].identifiers[{position}]");
            if identifier.value.trim().is_empty() {
                violations.add(format!("{field}.value"), "the identifier is required");
            }
            if identifier
                .observe_time
                .as_ref()
                .is_some_and(|time| from_timestamp(time).is_none())
            {
                violations.add(format!("{field}.observe_time"), "not a valid time");
            }
        }
    }
    if let Some(period) = &content.preservation_period
        && (period.seconds < 0 || period.nanos < 0)
    {
        violations.add("content.preservation_period", "must not be negative");
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(violations.into())
    }
}

/// Applies a draft's content to its record's columns.
fn apply_content(record: &mut MlaRecord, content: &v1::MlaRequestContent) {
    record.requested = requested_agency(content);
    record.urgency = Urgency::from_proto(content.urgency);
    record.case_reference = content.case_reference.clone();
}

fn preservation_period(content: Option<&v1::MlaRequestContent>) -> Option<Duration> {
    content
        .and_then(|content| content.preservation_period.as_ref())
        .and_then(|period| u64::try_from(period.seconds).ok())
        .map(Duration::from_secs)
}

impl MlaServiceImpl {
    /// Loads, decides, applies `effect`, commits; a retry answers the request as it is.
    #[allow(clippy::too_many_arguments)]
    async fn step_with(
        &self,
        call: &Call,
        method: &'static str,
        client_request_id: &str,
        mla_request_id: &str,
        etag: &str,
        step_taken: MlaStep,
        action: v1::MlaAction,
        comment: Option<v1::LocalizedText>,
        receipt: Option<ReceiptKind>,
        effect: impl FnOnce(&mut Decided) -> Result<(), ServiceError>,
    ) -> StepResult {
        match self
            .load_step(
                call,
                method,
                client_request_id,
                mla_request_id,
                etag,
                &step_taken,
            )
            .await?
        {
            Loaded::Retry(record) => Ok((self.answer_retry(call, &record).await?, None)),
            Loaded::Step(mut decided) => {
                effect(&mut decided)?;
                self.commit_step(
                    call,
                    method,
                    client_request_id,
                    *decided,
                    action,
                    comment,
                    receipt,
                )
                .await
            }
        }
    }

    pub(crate) async fn create(
        &self,
        call: &Call,
        message: v1::CreateDraftRequest,
    ) -> Result<v1::MlaRequest, ServiceError> {
        const METHOD: &str = methods::MLA_CREATE_DRAFT;
        request_id(&message.request_id, "request_id")?;
        let content = message
            .content
            .ok_or_else(|| ServiceError::invalid("content", "content is required"))?;
        check_draft(&content, call.caller.agency())?;
        if let Some((earlier, object)) = self
            .store
            .earlier_request(call.caller.principal(), &message.request_id)
            .await?
        {
            if earlier != METHOD {
                return Err(liaison_store::StoreError::RequestIdReused(earlier).into());
            }
            let id = parse_id(&object, "request_id")?;
            let record = self.load_visible(call, &id, false).await?;
            return self.answer_retry(call, &record).await;
        }
        let now = self.clock.now();
        let id = ObjectId::generate(REQUEST_ID_PREFIX);
        let document = v1::MlaRequest {
            id: id.to_string(),
            requesting_agency_id: call.caller.agency().to_string(),
            content_version: 1,
            meta: Some(v1::RecordMeta {
                creator: Some(principal_ref(call.caller.principal())),
                ..v1::RecordMeta::default()
            }),
            history: vec![v1::MlaHistoryEntry {
                time: Some(to_timestamp(now)),
                actor: Some(principal_ref(call.caller.principal())),
                action: v1::MlaAction::CreateDraft as i32,
                to_state: v1::MlaState::Draft as i32,
                content_version: 1,
                ..v1::MlaHistoryEntry::default()
            }],
            content: Some(content),
            ..v1::MlaRequest::default()
        };
        let content = document.content.as_ref().cloned().unwrap_or_default();
        let mut record = MlaRecord {
            id,
            requesting: call.caller.agency().clone(),
            requested: None,
            status: MlaStatus::draft(content.preservation_requested),
            urgency: None,
            case_reference: String::new(),
            version: 1,
            document: document.encode_to_vec(),
            created: now,
            updated: now,
            submitted: None,
            deadlines: Vec::new(),
        };
        apply_content(&mut record, &content);
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
                request_id: &message.request_id,
                method: METHOD,
                record: &record,
                expected_version: None,
                receipts: &[],
                events: &[],
                audit_record,
                now,
            })
            .await?;
        match outcome {
            MlaWriteOutcome::Written => {
                call.audit.mark_recorded();
                request_to_proto(&record, true, &self.policy, now)
            }
            // A concurrent retry with the same key won.
            _ => Err(ServiceError::Aborted(
                "a concurrent call with this request_id is being written; retry it".into(),
            )),
        }
    }

    pub(crate) async fn update(&self, call: &Call, message: v1::UpdateDraftRequest) -> StepResult {
        let content = message
            .content
            .ok_or_else(|| ServiceError::invalid("content", "content is required"))?;
        check_draft(&content, call.caller.agency())?;
        self.step_with(
            call,
            methods::MLA_UPDATE_DRAFT,
            &message.request_id,
            &message.mla_request_id,
            &message.etag,
            MlaStep::UpdateDraft,
            v1::MlaAction::UpdateDraft,
            None,
            None,
            |decided| {
                apply_content(&mut decided.record, &content);
                decided.after = MlaStatus::draft(content.preservation_requested);
                decided.document.content = Some(content);
                Ok(())
            },
        )
        .await
    }

    pub(crate) async fn delete(
        &self,
        call: &Call,
        message: v1::DeleteDraftRequest,
    ) -> Result<(), ServiceError> {
        const METHOD: &str = methods::MLA_DELETE_DRAFT;
        let loaded = self
            .load_step(
                call,
                METHOD,
                &message.request_id,
                &message.mla_request_id,
                &message.etag,
                &MlaStep::DeleteDraft,
            )
            .await;
        let decided = match loaded {
            Ok(Loaded::Step(decided)) => decided,
            Ok(Loaded::Retry(_)) => return Ok(()),
            // A retry after the draft is gone.
            Err(ServiceError::NotFound(_)) => {
                let earlier = self
                    .store
                    .earlier_request(call.caller.principal(), &message.request_id)
                    .await?;
                if earlier.is_some_and(|(method, object)| {
                    method == METHOD && object == message.mla_request_id
                }) {
                    return Ok(());
                }
                return Err(ServiceError::NotFound("mla request"));
            }
            Err(error) => return Err(error),
        };
        let record = &decided.record;
        let audit_record = call.audit.write_record(ObjectAccess {
            id: record.id.to_string(),
            access: Access::Write,
            owner_agency: Some(record.requesting.to_string()),
            anonymous: false,
        });
        match self
            .store
            .delete_mla_draft(
                call.caller.principal(),
                &message.request_id,
                METHOD,
                record,
                audit_record,
                decided.now,
            )
            .await?
        {
            MlaWriteOutcome::Written => {
                call.audit.mark_recorded();
                Ok(())
            }
            MlaWriteOutcome::Duplicate(_) => Ok(()),
            MlaWriteOutcome::Conflict => Err(ServiceError::Aborted(
                "the draft changed since it was read; read it again".into(),
            )),
        }
    }

    pub(crate) async fn submit(
        &self,
        call: &Call,
        message: v1::SubmitRequestRequest,
    ) -> StepResult {
        const METHOD: &str = methods::MLA_SUBMIT_REQUEST;
        let loaded = self
            .load_step(
                call,
                METHOD,
                &message.request_id,
                &message.mla_request_id,
                &message.etag,
                &MlaStep::Submit,
            )
            .await?;
        let mut decided = match loaded {
            Loaded::Retry(record) => return Ok((self.answer_retry(call, &record).await?, None)),
            Loaded::Step(decided) => decided,
        };
        let content = decided.document.content.clone().unwrap_or_default();
        let facts = submission_facts(&content);
        let mut violations = check_submission(&facts);
        let requested = match requested_agency(&content) {
            Some(agency) => self.store.get_agency(&agency).await?,
            None => None,
        };
        if requested.is_none() {
            violations.add(
                "content.requested_agency_id",
                "name the member agency the request is addressed to",
            );
        }
        if !violations.is_empty() {
            return Err(violations.into());
        }
        let (Some(requested), Some(basis), Some(urgency)) = (requested, facts.basis, facts.urgency)
        else {
            return Err(ServiceError::invalid("content", "incomplete request"));
        };
        let requesting = self.store.get_agency(&decided.record.requesting).await?;
        let position = |state: Option<&liaison_store::StateRecord>| {
            state.map(|state| TreatyPosition {
                budapest_convention: state.budapest_convention,
                second_protocol: state.second_protocol,
            })
        };
        if let Err(error) = check_parties(
            basis,
            position(requesting.as_ref().and_then(|agency| agency.state.as_ref())),
            position(requested.state.as_ref()),
        ) {
            // The rejection is attested too (found through ListReceipts); the draft stays.
            let mut document = decided.document.clone();
            document.requesting_agency_id = decided.record.requesting.to_string();
            let (row, _) = self.receipts.reject(
                &document,
                &decided.record.id,
                call.caller.principal(),
                decided.now,
                error.to_string(),
            );
            let audit_record = call.audit.fork().write_record(ObjectAccess {
                id: decided.record.id.to_string(),
                access: Access::Write,
                owner_agency: Some(decided.record.requesting.to_string()),
                anonymous: false,
            });
            self.store.add_mla_receipt(&row, audit_record).await?;
            return Err(ServiceError::FailedPrecondition(error.to_string()));
        }
        let response_due = match timestamp(
            content.requested_response_time.as_ref(),
            "content.requested_response_time",
        )? {
            Some(due) if due > decided.now => due,
            Some(_) => {
                return Err(ServiceError::invalid(
                    "content.requested_response_time",
                    "the requested response date has passed",
                ));
            }
            None => self.policy.default_response_due(
                basis,
                urgency,
                &convert::categories(&content),
                decided.now,
            ),
        };
        let now = decided.now;
        set_deadline(
            &mut decided.deadlines,
            DeadlineKind::Acknowledgement,
            now,
            self.policy.acknowledgement_due(urgency, now),
        );
        set_deadline(
            &mut decided.deadlines,
            DeadlineKind::Response,
            now,
            response_due,
        );
        decided.record.submitted = Some(now);
        decided.document.submit_time = Some(to_timestamp(now));
        self.commit_step(
            call,
            METHOD,
            &message.request_id,
            *decided,
            v1::MlaAction::Submit,
            None,
            Some(ReceiptKind::SubmissionAccepted),
        )
        .await
    }

    pub(crate) async fn acknowledge(
        &self,
        call: &Call,
        message: v1::AcknowledgeRequestRequest,
    ) -> StepResult {
        self.step_with(
            call,
            methods::MLA_ACKNOWLEDGE_REQUEST,
            &message.request_id,
            &message.mla_request_id,
            &message.etag,
            MlaStep::Acknowledge,
            v1::MlaAction::Acknowledge,
            message.comment,
            Some(ReceiptKind::Acknowledgement),
            |decided| {
                meet_deadline(
                    &mut decided.deadlines,
                    DeadlineKind::Acknowledgement,
                    decided.now,
                );
                Ok(())
            },
        )
        .await
    }

    pub(crate) async fn start_assessment_step(
        &self,
        call: &Call,
        message: v1::StartAssessmentRequest,
    ) -> StepResult {
        self.step_with(
            call,
            methods::MLA_START_ASSESSMENT,
            &message.request_id,
            &message.mla_request_id,
            &message.etag,
            MlaStep::StartAssessment,
            v1::MlaAction::StartAssessment,
            message.comment,
            None,
            |_| Ok(()),
        )
        .await
    }

    pub(crate) async fn request_information(
        &self,
        call: &Call,
        message: v1::RequestMoreInformationRequest,
    ) -> StepResult {
        let questions = required(message.questions, "questions", "state the questions")?;
        let due = timestamp(message.answer_due_time.as_ref(), "answer_due_time")?;
        let policy = self.policy.clone();
        self.step_with(
            call,
            methods::MLA_REQUEST_MORE_INFORMATION,
            &message.request_id,
            &message.mla_request_id,
            &message.etag,
            MlaStep::RequestMoreInformation,
            v1::MlaAction::RequestMoreInformation,
            Some(questions),
            None,
            |decided| {
                let due = due.unwrap_or_else(|| after(decided.now, policy.information));
                set_deadline(
                    &mut decided.deadlines,
                    DeadlineKind::Information,
                    decided.now,
                    due,
                );
                Ok(())
            },
        )
        .await
    }

    pub(crate) async fn provide_information_step(
        &self,
        call: &Call,
        message: v1::ProvideInformationRequest,
    ) -> StepResult {
        let answer = required(message.answer, "answer", "answer the questions")?;
        if !message.evidence_ids.is_empty() {
            return Err(ServiceError::invalid(
                "evidence_ids",
                "name the evidence files in a message (PostMessage) or the execution report",
            ));
        }
        let amended = message.amended_content;
        // Amended content is held to the rules of a submission: complete, an emergency
        // justified, the requested response date not in the past.
        let mut amended_response_due = None;
        if let Some(content) = &amended {
            check_draft(content, call.caller.agency())?;
            let violations = check_submission(&submission_facts(content));
            if !violations.is_empty() {
                return Err(violations.into());
            }
            amended_response_due = timestamp(
                content.requested_response_time.as_ref(),
                "content.requested_response_time",
            )?;
        }
        let policy = self.policy.clone();
        self.step_with(
            call,
            methods::MLA_PROVIDE_INFORMATION,
            &message.request_id,
            &message.mla_request_id,
            &message.etag,
            MlaStep::ProvideInformation,
            v1::MlaAction::ProvideInformation,
            Some(answer),
            None,
            |decided| {
                meet_deadline(&mut decided.deadlines, DeadlineKind::Information, decided.now);
                if let Some(content) = amended {
                    let current = decided.document.content.as_ref();
                    let unchanged = |current: &v1::MlaRequestContent| {
                        current.requested_agency_id == content.requested_agency_id
                            && current.legal_basis == content.legal_basis
                    };
                    if !current.is_some_and(unchanged) {
                        return Err(ServiceError::invalid(
                            "amended_content",
                            "the requested agency and the legal basis cannot change after submission",
                        ));
                    }
                    let now = decided.now;
                    if amended_response_due.is_some_and(|due| due <= now) {
                        return Err(ServiceError::invalid(
                            "content.requested_response_time",
                            "the requested response date has passed",
                        ));
                    }
                    // Deadlines still running follow the amended urgency and data
                    // sought, counted from the submission, as if submitted so.
                    let facts = submission_facts(&content);
                    if let (Some(basis), Some(urgency)) = (facts.basis, facts.urgency) {
                        let submitted = decided.record.submitted.unwrap_or(now);
                        let running = |deadlines: &[liaison_store::MlaDeadline],
                                       kind: DeadlineKind| {
                            deadlines
                                .iter()
                                .any(|deadline| deadline.kind == kind && deadline.is_running())
                        };
                        if running(&decided.deadlines, DeadlineKind::Acknowledgement) {
                            let due = policy.acknowledgement_due(urgency, submitted);
                            set_deadline(
                                &mut decided.deadlines,
                                DeadlineKind::Acknowledgement,
                                now,
                                due,
                            );
                        }
                        if running(&decided.deadlines, DeadlineKind::Response) {
                            let due = amended_response_due.unwrap_or_else(|| {
                                policy.default_response_due(
                                    basis,
                                    urgency,
                                    &convert::categories(&content),
                                    submitted,
                                )
                            });
                            set_deadline(&mut decided.deadlines, DeadlineKind::Response, now, due);
                        }
                    }
                    decided.record.case_reference = content.case_reference.clone();
                    decided.record.urgency = Urgency::from_proto(content.urgency);
                    decided.document.content = Some(content);
                    decided.document.content_version += 1;
                }
                Ok(())
            },
        )
        .await
    }

    pub(crate) async fn propose(
        &self,
        call: &Call,
        message: v1::ProposeConditionsRequest,
    ) -> StepResult {
        let mut conditions = message
            .conditions
            .filter(|conditions| {
                conditions
                    .conditions
                    .iter()
                    .any(|condition| !condition.text.trim().is_empty())
                    || conditions.confidentiality
                    || conditions.use_limited_to_stated_investigation
                    || text(conditions.partial_grant.as_ref()).is_some()
            })
            .ok_or_else(|| ServiceError::invalid("conditions", "state the conditions"))?;
        self.step_with(
            call,
            methods::MLA_PROPOSE_CONDITIONS,
            &message.request_id,
            &message.mla_request_id,
            &message.etag,
            MlaStep::ProposeConditions,
            v1::MlaAction::ProposeConditions,
            None,
            None,
            |decided| {
                conditions.propose_time = Some(to_timestamp(decided.now));
                conditions.accept_time = None;
                decided.document.conditions = Some(conditions);
                Ok(())
            },
        )
        .await
    }

    pub(crate) async fn accept_conditions_step(
        &self,
        call: &Call,
        message: v1::AcceptConditionsRequest,
    ) -> StepResult {
        self.step_with(
            call,
            methods::MLA_ACCEPT_CONDITIONS,
            &message.request_id,
            &message.mla_request_id,
            &message.etag,
            MlaStep::AcceptConditions,
            v1::MlaAction::AcceptConditions,
            message.comment,
            None,
            |decided| {
                if let Some(conditions) = decided.document.conditions.as_mut() {
                    conditions.accept_time = Some(to_timestamp(decided.now));
                }
                Ok(())
            },
        )
        .await
    }

    pub(crate) async fn accept(
        &self,
        call: &Call,
        message: v1::AcceptRequestRequest,
    ) -> StepResult {
        self.step_with(
            call,
            methods::MLA_ACCEPT_REQUEST,
            &message.request_id,
            &message.mla_request_id,
            &message.etag,
            MlaStep::Accept,
            v1::MlaAction::Accept,
            message.comment,
            None,
            |_| Ok(()),
        )
        .await
    }

    pub(crate) async fn start_execution_step(
        &self,
        call: &Call,
        message: v1::StartExecutionRequest,
    ) -> StepResult {
        self.step_with(
            call,
            methods::MLA_START_EXECUTION,
            &message.request_id,
            &message.mla_request_id,
            &message.etag,
            MlaStep::StartExecution,
            v1::MlaAction::StartExecution,
            message.comment,
            None,
            |_| Ok(()),
        )
        .await
    }

    pub(crate) async fn report(
        &self,
        call: &Call,
        message: v1::ReportExecutionRequest,
    ) -> StepResult {
        let summary = required(message.summary, "summary", "summarise what was done")?;
        let not_executed = if message.partial {
            Some(required(
                message.not_executed_reasons,
                "not_executed_reasons",
                "a partial execution states what was not done and why",
            )?)
        } else {
            None
        };
        self.check_evidence(
            call,
            &message.mla_request_id,
            &message.evidence_ids,
            Some(liaison_core::mla::Side::Requested),
        )
        .await?;
        let evidence_ids = message.evidence_ids;
        let partial = message.partial;
        self.step_with(
            call,
            methods::MLA_REPORT_EXECUTION,
            &message.request_id,
            &message.mla_request_id,
            &message.etag,
            MlaStep::ReportExecution { partial },
            v1::MlaAction::ReportExecution,
            None,
            None,
            |decided| {
                meet_deadline(&mut decided.deadlines, DeadlineKind::Response, decided.now);
                decided.document.execution_report = Some(v1::MlaExecutionReport {
                    partial,
                    summary: Some(summary),
                    not_executed_reasons: not_executed,
                    evidence_ids,
                    report_time: Some(to_timestamp(decided.now)),
                });
                Ok(())
            },
        )
        .await
    }

    pub(crate) async fn close(&self, call: &Call, message: v1::CloseRequestRequest) -> StepResult {
        self.step_with(
            call,
            methods::MLA_CLOSE_REQUEST,
            &message.request_id,
            &message.mla_request_id,
            &message.etag,
            MlaStep::Close,
            v1::MlaAction::Close,
            message.comment,
            None,
            |decided| {
                // Preservation (held data, say) outlives the closing; the rest ends.
                cancel_deadlines(
                    &mut decided.deadlines,
                    &[
                        DeadlineKind::Acknowledgement,
                        DeadlineKind::Response,
                        DeadlineKind::Information,
                        DeadlineKind::PostponementEnd,
                    ],
                );
                Ok(())
            },
        )
        .await
    }

    pub(crate) async fn refuse(
        &self,
        call: &Call,
        message: v1::RefuseRequestRequest,
    ) -> StepResult {
        let given = reasons(&message.reasons, "reasons")?;
        if message.grounds.is_empty()
            || message.grounds.iter().any(|ground| {
                v1::MlaRefusalGround::try_from(*ground)
                    .map_or(true, |ground| ground == v1::MlaRefusalGround::Unspecified)
            })
        {
            return Err(ServiceError::invalid(
                "grounds",
                "state at least one ground for refusal (Art. 25(4), Art. 27(4), Art. 29(5))",
            ));
        }
        let grounds = message.grounds;
        let reasons_text = message.reasons;
        self.step_with(
            call,
            methods::MLA_REFUSE_REQUEST,
            &message.request_id,
            &message.mla_request_id,
            &message.etag,
            MlaStep::Refuse(given),
            v1::MlaAction::Refuse,
            reasons_text.clone(),
            None,
            |decided| {
                meet_deadline(&mut decided.deadlines, DeadlineKind::Response, decided.now);
                cancel_deadlines(&mut decided.deadlines, &[]);
                decided.document.refusal = Some(v1::MlaRefusal {
                    grounds,
                    reasons: reasons_text,
                    refuse_time: Some(to_timestamp(decided.now)),
                });
                Ok(())
            },
        )
        .await
    }

    pub(crate) async fn postpone(
        &self,
        call: &Call,
        message: v1::PostponeRequestRequest,
    ) -> StepResult {
        let given = reasons(&message.reasons, "reasons")?;
        let until = timestamp(message.postpone_until.as_ref(), "postpone_until")?;
        let reasons_text = message.reasons;
        self.step_with(
            call,
            methods::MLA_POSTPONE_REQUEST,
            &message.request_id,
            &message.mla_request_id,
            &message.etag,
            MlaStep::Postpone(given),
            v1::MlaAction::Postpone,
            reasons_text.clone(),
            None,
            |decided| {
                if let Some(until) = until {
                    if until <= decided.now {
                        return Err(ServiceError::invalid(
                            "postpone_until",
                            "must be in the future",
                        ));
                    }
                    set_deadline(
                        &mut decided.deadlines,
                        DeadlineKind::PostponementEnd,
                        decided.now,
                        until,
                    );
                }
                decided.document.postponement = Some(v1::MlaPostponement {
                    reasons: reasons_text,
                    postpone_until: until.map(to_timestamp),
                    postpone_time: Some(to_timestamp(decided.now)),
                });
                Ok(())
            },
        )
        .await
    }

    pub(crate) async fn resume(
        &self,
        call: &Call,
        message: v1::ResumeAssessmentRequest,
    ) -> StepResult {
        self.step_with(
            call,
            methods::MLA_RESUME_ASSESSMENT,
            &message.request_id,
            &message.mla_request_id,
            &message.etag,
            MlaStep::ResumeAssessment,
            v1::MlaAction::ResumeAssessment,
            message.comment,
            None,
            |decided| {
                meet_deadline(
                    &mut decided.deadlines,
                    DeadlineKind::PostponementEnd,
                    decided.now,
                );
                Ok(())
            },
        )
        .await
    }

    pub(crate) async fn withdraw(
        &self,
        call: &Call,
        message: v1::WithdrawRequestRequest,
    ) -> StepResult {
        self.step_with(
            call,
            methods::MLA_WITHDRAW_REQUEST,
            &message.request_id,
            &message.mla_request_id,
            &message.etag,
            MlaStep::Withdraw,
            v1::MlaAction::Withdraw,
            message.reason,
            None,
            |decided| {
                cancel_deadlines(&mut decided.deadlines, &[]);
                Ok(())
            },
        )
        .await
    }

    pub(crate) async fn confirm_preservation_step(
        &self,
        call: &Call,
        message: v1::ConfirmPreservationRequest,
    ) -> StepResult {
        let requested_date = timestamp(message.preserve_until.as_ref(), "preserve_until")?;
        let note = message.note;
        self.step_with(
            call,
            methods::MLA_CONFIRM_PRESERVATION,
            &message.request_id,
            &message.mla_request_id,
            &message.etag,
            MlaStep::ConfirmPreservation,
            v1::MlaAction::ConfirmPreservation,
            note.clone(),
            None,
            |decided| {
                let period = preservation_period(decided.document.content.as_ref());
                let until =
                    preservation_until(decided.now, requested_date, period).map_err(|_| {
                        ServiceError::invalid(
                            "preserve_until",
                            "data are preserved for at least 60 days (Art. 29(7))",
                        )
                    })?;
                set_deadline(
                    &mut decided.deadlines,
                    DeadlineKind::PreservationExpiry,
                    decided.now,
                    until,
                );
                let preservation = decided.document.preservation.get_or_insert_default();
                preservation.preserve_until = Some(to_timestamp(until));
                preservation.confirm_time = Some(to_timestamp(decided.now));
                preservation.note = note;
                Ok(())
            },
        )
        .await
    }

    pub(crate) async fn request_extension(
        &self,
        call: &Call,
        message: v1::RequestPreservationExtensionRequest,
    ) -> StepResult {
        let reason = required(
            message.reason,
            "reason",
            "state why the data are still needed",
        )?;
        let extension = message
            .extension
            .filter(|extension| extension.seconds > 0 && extension.nanos >= 0)
            .ok_or_else(|| {
                ServiceError::invalid("extension", "state the additional period sought")
            })?;
        self.step_with(
            call,
            methods::MLA_REQUEST_PRESERVATION_EXTENSION,
            &message.request_id,
            &message.mla_request_id,
            &message.etag,
            MlaStep::RequestPreservationExtension,
            v1::MlaAction::RequestPreservationExtension,
            Some(reason),
            None,
            |decided| {
                decided
                    .document
                    .preservation
                    .get_or_insert_default()
                    .extension_requested = Some(extension);
                Ok(())
            },
        )
        .await
    }

    pub(crate) async fn extend(
        &self,
        call: &Call,
        message: v1::ExtendPreservationRequest,
    ) -> StepResult {
        let until = timestamp(message.preserve_until.as_ref(), "preserve_until")?
            .ok_or_else(|| ServiceError::invalid("preserve_until", "the new end is required"))?;
        let note = message.note;
        self.step_with(
            call,
            methods::MLA_EXTEND_PRESERVATION,
            &message.request_id,
            &message.mla_request_id,
            &message.etag,
            MlaStep::ExtendPreservation,
            v1::MlaAction::ExtendPreservation,
            note,
            None,
            |decided| {
                let preservation = decided.document.preservation.get_or_insert_default();
                let current = preservation
                    .preserve_until
                    .as_ref()
                    .and_then(from_timestamp)
                    .unwrap_or(decided.now);
                if until <= current {
                    return Err(ServiceError::invalid(
                        "preserve_until",
                        "the new end must be later than the current one",
                    ));
                }
                preservation.preserve_until = Some(to_timestamp(until));
                preservation.extension_requested = None;
                set_deadline(
                    &mut decided.deadlines,
                    DeadlineKind::PreservationExpiry,
                    decided.now,
                    until,
                );
                Ok(())
            },
        )
        .await
    }

    pub(crate) async fn hold(
        &self,
        call: &Call,
        message: v1::HoldPreservationRequest,
    ) -> StepResult {
        let follow_up = parse_id(
            &message.follow_up_mla_request_id,
            "follow_up_mla_request_id",
        )?;
        // The follow-up must be a request the caller's agency can see, not this one.
        let follow = self
            .load_visible(call, &follow_up, false)
            .await
            .map_err(|_| {
                ServiceError::invalid("follow_up_mla_request_id", "no such submitted request")
            })?;
        if follow.status.state == liaison_core::mla::MlaState::Draft
            || follow.id.as_str() == message.mla_request_id
        {
            return Err(ServiceError::invalid(
                "follow_up_mla_request_id",
                "name the submitted follow-up request",
            ));
        }
        self.step_with(
            call,
            methods::MLA_HOLD_PRESERVATION,
            &message.request_id,
            &message.mla_request_id,
            &message.etag,
            MlaStep::HoldPreservation,
            v1::MlaAction::HoldPreservation,
            message.note,
            None,
            |decided| {
                cancel_deadlines(&mut decided.deadlines, &[DeadlineKind::PreservationExpiry]);
                decided
                    .document
                    .preservation
                    .get_or_insert_default()
                    .follow_up_mla_request_id = follow_up.to_string();
                if !decided
                    .document
                    .follow_up_mla_request_ids
                    .contains(&follow_up.to_string())
                {
                    decided
                        .document
                        .follow_up_mla_request_ids
                        .push(follow_up.to_string());
                }
                Ok(())
            },
        )
        .await
    }

    pub(crate) async fn release(
        &self,
        call: &Call,
        message: v1::ReleasePreservationRequest,
    ) -> StepResult {
        let reason = required(message.reason, "reason", "state why preservation ends")?;
        self.step_with(
            call,
            methods::MLA_RELEASE_PRESERVATION,
            &message.request_id,
            &message.mla_request_id,
            &message.etag,
            MlaStep::ReleasePreservation,
            v1::MlaAction::ReleasePreservation,
            Some(reason),
            None,
            |decided| {
                cancel_deadlines(&mut decided.deadlines, &[DeadlineKind::PreservationExpiry]);
                Ok(())
            },
        )
        .await
    }
}
