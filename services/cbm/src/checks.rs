//! Communication checks: the operator starts one; an officer of each agency checked answers
//! with the check's challenge within the window; reports say who answered, late or not at
//! all, and how fast. Outcomes are computed from the stored times and the deadline clock.
//!
//! Who sees what: the hub's operator and oversight auditors see every agency's row; an
//! agency's officers and auditors see checks of their own agency and its own row only;
//! anything else is NOT_FOUND. Every read commits its record, naming the checks it
//! returns, before its data leave the hub.

use liaison_audit::{Access, ObjectAccess};
use liaison_auth::Caller;
use liaison_core::{
    AgencyId, ObjectId, Role, Scope, Timestamp, Violations,
    cbm::{
        CHECK_PREFIX, CHECK_WINDOW_MAX, CheckOutcome, CheckResult, CommunicationCheck,
        ContactLevel, LocalizedText, POC_PREFIX,
    },
    indicator::is_language_tag,
};
use liaison_proto::{
    domain::{check_contact_level, principal_ref},
    v1,
};
use liaison_rpc::{Call, ServiceError, from_timestamp, page_size, request_id, to_timestamp};
use liaison_store::{CheckAnswer, WriteOutcome};
use tonic::Request;

use crate::{CbmServiceImpl, convert};

/// True for callers who see every agency's results: the hub's operator and oversight
/// auditors. An agency's auditors see their own agency's, like its officers.
fn sees_all(caller: &Caller) -> bool {
    caller.is_hub() && (caller.has_role(Role::OversightAuditor) || caller.has_role(Role::Operator))
}

fn level_to_proto(level: Option<ContactLevel>) -> i32 {
    match level {
        None => v1::CbmContactLevel::All as i32,
        Some(ContactLevel::Policy) => v1::CbmContactLevel::Policy as i32,
        Some(ContactLevel::Technical) => v1::CbmContactLevel::Technical as i32,
    }
}

fn outcome_to_proto(outcome: CheckOutcome) -> i32 {
    match outcome {
        CheckOutcome::Pending => v1::CbmCheckOutcome::Pending as i32,
        CheckOutcome::Answered => v1::CbmCheckOutcome::Answered as i32,
        CheckOutcome::Late => v1::CbmCheckOutcome::Late as i32,
        CheckOutcome::NoAnswer => v1::CbmCheckOutcome::NoAnswer as i32,
    }
}

pub(crate) fn result_to_proto(result: &CheckResult, now: Timestamp) -> v1::CbmCheckResult {
    v1::CbmCheckResult {
        check_id: result.check.to_string(),
        check_start_time: Some(to_timestamp(result.check_started)),
        agency_id: result.agency.to_string(),
        outcome: outcome_to_proto(result.outcome(now)),
        respond_time: result.responded.map(to_timestamp),
        response_time: result.response_time().map(convert::duration_to_proto),
        responder: result.responder.as_ref().map(principal_ref),
        point_of_contact_id: result
            .point_of_contact
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        comment: result.comment.as_ref().map(convert::text_to_proto),
    }
}

fn summary(results: &[CheckResult], now: Timestamp) -> v1::CbmCheckSummary {
    let count = |outcome: CheckOutcome| {
        i32::try_from(results.iter().filter(|r| r.outcome(now) == outcome).count())
            .unwrap_or(i32::MAX)
    };
    let mut times: Vec<_> = results
        .iter()
        .filter_map(CheckResult::response_time)
        .collect();
    times.sort_unstable();
    v1::CbmCheckSummary {
        agencies: i32::try_from(results.len()).unwrap_or(i32::MAX),
        answered: count(CheckOutcome::Answered),
        late: count(CheckOutcome::Late),
        no_answer: count(CheckOutcome::NoAnswer),
        pending: count(CheckOutcome::Pending),
        median_response_time: times
            .get(times.len() / 2)
            .copied()
            .map(convert::duration_to_proto),
    }
}

/// A check as a message; the challenge only for persons and the hub (systems never
/// answer, so they never need it).
pub(crate) fn check_to_proto(
    check: &CommunicationCheck,
    results: &[CheckResult],
    caller: &Caller,
    now: Timestamp,
) -> v1::CbmCommunicationCheck {
    let person = caller.principal().kind() == liaison_core::PrincipalKind::Person;
    v1::CbmCommunicationCheck {
        id: check.id.to_string(),
        started_by: check.started_by.as_ref().map(principal_ref),
        schedule_name: String::new(),
        scope: Some(convert::scope_to_proto(&check.scope)),
        contact_level: level_to_proto(check.contact_level),
        start_time: Some(to_timestamp(check.started)),
        response_window: Some(convert::duration_to_proto(check.window)),
        due_time: Some(to_timestamp(check.due())),
        state: if check.is_open(now) {
            v1::CbmCheckState::Open as i32
        } else {
            v1::CbmCheckState::Closed as i32
        },
        message: Some(convert::text_to_proto(&check.message)),
        challenge: if person {
            check.challenge.clone()
        } else {
            String::new()
        },
        summary: Some(summary(results, now)),
    }
}

fn parse_check_id(value: &str, field: &str) -> Result<ObjectId, ServiceError> {
    ObjectId::parse(CHECK_PREFIX, value)
        .map_err(|error| ServiceError::invalid(field, error.to_string()))
}

fn time_range(
    start: Option<&prost_types::Timestamp>,
    end: Option<&prost_types::Timestamp>,
) -> Result<(Option<Timestamp>, Option<Timestamp>), ServiceError> {
    let mut violations = Violations::new();
    let start = start.map(|time| {
        let parsed = from_timestamp(time);
        if parsed.is_none() {
            violations.add("start_time", "out of range");
        }
        parsed
    });
    let end = end.map(|time| {
        let parsed = from_timestamp(time);
        if parsed.is_none() {
            violations.add("end_time", "out of range");
        }
        parsed
    });
    violations
        .into_result(|| (start.flatten(), end.flatten()))
        .map_err(ServiceError::from)
}

/// A short code a person must read and type back: not guessable from the id.
pub(crate) fn new_challenge() -> String {
    let id = ObjectId::generate(CHECK_PREFIX);
    // The last characters of a ULID are its random part.
    id.as_str()[id.as_str().len() - 6..].to_ascii_uppercase()
}

impl CbmServiceImpl {
    /// The check and the results `caller` may see; NOT_FOUND when it may see none.
    async fn visible_check(
        &self,
        caller: &Caller,
        id: &ObjectId,
    ) -> Result<(CommunicationCheck, Vec<CheckResult>), ServiceError> {
        let check = self
            .store
            .get_check(id)
            .await?
            .ok_or(ServiceError::NotFound("communication check"))?;
        let mut results = self.store.check_results(id).await?;
        if !sees_all(caller) {
            results.retain(|result| &result.agency == caller.agency());
            if results.is_empty() {
                return Err(ServiceError::NotFound("communication check"));
            }
        }
        Ok((check, results))
    }

    pub(crate) async fn start_check_call(
        &self,
        request: Request<v1::StartCommunicationCheckRequest>,
    ) -> Result<v1::StartCommunicationCheckResponse, ServiceError> {
        let Call { caller, audit } = Call::begin(&self.auth, &request).await?;
        let request = request.into_inner();
        let mut violations = Violations::new();
        liaison_rpc::check_request_id(&mut violations, &request.request_id, "request_id");
        let scope = match request.scope {
            None => Some(Scope::AllMembers),
            Some(scope) => {
                let draft = convert::scope_draft(Some(scope));
                let checked = liaison_core::cbm::validate_scope(draft, "scope", &mut violations);
                if let Some(Scope::SharingGroup(group)) = &checked
                    && self.store.group_members(group).await?.is_empty()
                {
                    violations.add("scope.sharing_group_id", "no such sharing group");
                }
                if let Some(Scope::Agencies(agencies)) = &checked {
                    for agency in agencies {
                        let member = self.store.get_agency(agency).await?.is_some_and(|record| {
                            record.kind != liaison_core::federation::AgencyKind::Hub
                        });
                        if !member {
                            violations.add(
                                "scope.agencies.agency_ids",
                                format!("{agency} is not a member agency"),
                            );
                        }
                    }
                }
                checked
            }
        };
        let contact_level = match check_contact_level(request.contact_level) {
            Some(level) => level,
            None => {
                violations.add("contact_level", "unknown contact level");
                None
            }
        };
        let window = match convert::duration_from_proto(request.response_window) {
            Some(Some(window)) if !window.is_zero() && window <= CHECK_WINDOW_MAX => Some(window),
            _ => {
                violations.add(
                    "response_window",
                    "response_window is required: positive, at most 30 days",
                );
                None
            }
        };
        let message = convert::text_from_proto(request.message).unwrap_or_else(|| LocalizedText {
            text: "Communication check: please confirm that this point of contact is reachable."
                .into(),
            language: "en".into(),
        });
        if message.text.chars().count() > liaison_core::cbm::limits::BODY_CHARS
            || !is_language_tag(&message.language)
        {
            violations.add(
                "message",
                "at most 20000 characters, with a BCP 47 language tag",
            );
        }
        let (Some(scope), Some(window)) = (scope, window) else {
            return Err(violations.into());
        };
        if !violations.is_empty() {
            return Err(violations.into());
        }
        let check = CommunicationCheck {
            id: ObjectId::generate(CHECK_PREFIX),
            started_by: Some(caller.principal().clone()),
            scope,
            contact_level,
            started: self.clock.now(),
            window,
            message,
            challenge: new_challenge(),
        };
        let record = audit.write_record(ObjectAccess {
            id: check.id.to_string(),
            access: Access::Write,
            owner_agency: None,
            anonymous: false,
        });
        let id = match self
            .store
            .start_check(&check, &request.request_id, &record)
            .await?
        {
            WriteOutcome::Stored(()) => {
                audit.mark_recorded();
                check.id.clone()
            }
            WriteOutcome::Duplicate(first) => {
                let first = parse_check_id(&first, "request_id")?;
                audit.touch(first.as_str(), Access::Read, None);
                audit.commit_read(&self.store).await?;
                first
            }
        };
        let (check, results) = self.visible_check(&caller, &id).await?;
        Ok(v1::StartCommunicationCheckResponse {
            communication_check: Some(check_to_proto(&check, &results, &caller, self.clock.now())),
        })
    }

    pub(crate) async fn respond_call(
        &self,
        request: Request<v1::RespondToCommunicationCheckRequest>,
    ) -> Result<v1::RespondToCommunicationCheckResponse, ServiceError> {
        let Call { caller, audit } = Call::begin(&self.auth, &request).await?;
        let request = request.into_inner();
        request_id(&request.request_id, "request_id")?;
        let id = parse_check_id(&request.check_id, "check_id")?;
        let poc = if request.point_of_contact_id.is_empty() {
            None
        } else {
            Some(
                ObjectId::parse(POC_PREFIX, &request.point_of_contact_id).map_err(|error| {
                    ServiceError::invalid("point_of_contact_id", error.to_string())
                })?,
            )
        };
        let comment = convert::text_from_proto(request.comment);
        let check = self
            .store
            .get_check(&id)
            .await?
            .ok_or(ServiceError::NotFound("communication check"))?;
        let current = self
            .store
            .check_results(&id)
            .await?
            .into_iter()
            .find(|result| &result.agency == caller.agency())
            .ok_or(ServiceError::NotFound("communication check"))?;
        // Only an agency the check addresses gets this far. The point of contact named
        // must be its own, and of the level the check addresses.
        let stored_poc = match &poc {
            Some(poc) => Some(
                self.store
                    .get_point_of_contact(poc)
                    .await?
                    .filter(|stored| &stored.agency == caller.agency())
                    .ok_or_else(|| {
                        ServiceError::invalid(
                            "point_of_contact_id",
                            "not a point of contact of the caller's agency",
                        )
                    })?,
            ),
            None => None,
        };
        if let Some(level) = check.contact_level
            && stored_poc
                .as_ref()
                .is_none_or(|stored| stored.content.level != level)
        {
            let level = level.as_str();
            return Err(ServiceError::invalid(
                "point_of_contact_id",
                format!(
                    "this check addresses {level} points of contact: name the {level} point \
                     of contact of your agency who answers"
                ),
            ));
        }
        if !request
            .challenge
            .trim()
            .eq_ignore_ascii_case(&check.challenge)
        {
            return Err(ServiceError::invalid(
                "challenge",
                "the challenge does not match the check's",
            ));
        }
        if current.responded.is_none() {
            let record = audit.write_record(ObjectAccess {
                id: id.to_string(),
                access: Access::Write,
                owner_agency: Some(caller.agency().to_string()),
                anonymous: false,
            });
            let outcome = self
                .store
                .answer_check(CheckAnswer {
                    check: &id,
                    agency: caller.agency(),
                    responder: caller.principal(),
                    point_of_contact: poc.as_ref(),
                    comment,
                    now: self.clock.now(),
                    request_id: &request.request_id,
                    audit_record: record,
                })
                .await?;
            if let WriteOutcome::Stored(()) = outcome {
                audit.mark_recorded();
            }
        }
        let result = self
            .store
            .check_results(&id)
            .await?
            .into_iter()
            .find(|result| &result.agency == caller.agency())
            .ok_or(ServiceError::NotFound("communication check"))?;
        Ok(v1::RespondToCommunicationCheckResponse {
            result: Some(result_to_proto(&result, self.clock.now())),
        })
    }

    pub(crate) async fn report_call(
        &self,
        request: Request<v1::GetCommunicationCheckReportRequest>,
    ) -> Result<v1::GetCommunicationCheckReportResponse, ServiceError> {
        let Call { caller, audit } = Call::begin(&self.auth, &request).await?;
        let id = parse_check_id(&request.get_ref().check_id, "check_id")?;
        let (check, results) = self.visible_check(&caller, &id).await?;
        audit.touch(id.as_str(), Access::Read, None);
        audit.commit_read(&self.store).await?;
        let now = self.clock.now();
        Ok(v1::GetCommunicationCheckReportResponse {
            communication_check: Some(check_to_proto(&check, &results, &caller, now)),
            results: results
                .iter()
                .map(|result| result_to_proto(result, now))
                .collect(),
        })
    }

    pub(crate) async fn list_checks_call(
        &self,
        request: Request<v1::ListCommunicationChecksRequest>,
    ) -> Result<v1::ListCommunicationChecksResponse, ServiceError> {
        let Call { caller, audit } = Call::begin(&self.auth, &request).await?;
        let request = request.into_inner();
        let limit = page_size(request.page_size, 100, 500)?;
        let offset = liaison_rpc::page_offset(&request.page_token)?;
        let range = time_range(request.start_time.as_ref(), request.end_time.as_ref())?;
        let agency = (!sees_all(&caller)).then(|| caller.agency().clone());
        let checks = self
            .store
            .list_checks(agency.as_ref(), range, offset, limit)
            .await?;
        let now = self.clock.now();
        let mut found = Vec::with_capacity(checks.len());
        for check in &checks {
            let mut results = self.store.check_results(&check.id).await?;
            if let Some(agency) = &agency {
                results.retain(|result| &result.agency == agency);
            }
            audit.touch(check.id.as_str(), Access::Read, None);
            found.push(check_to_proto(check, &results, &caller, now));
        }
        audit.commit_read(&self.store).await?;
        Ok(v1::ListCommunicationChecksResponse {
            next_page_token: if checks.len() == limit as usize {
                (offset + u64::from(limit)).to_string()
            } else {
                String::new()
            },
            communication_checks: found,
        })
    }

    pub(crate) async fn list_results_call(
        &self,
        request: Request<v1::ListCommunicationCheckResultsRequest>,
    ) -> Result<v1::ListCommunicationCheckResultsResponse, ServiceError> {
        let Call { caller, audit } = Call::begin(&self.auth, &request).await?;
        let request = request.into_inner();
        let agency = if request.agency_id.is_empty() {
            if caller.is_hub() {
                return Err(ServiceError::invalid(
                    "agency_id",
                    "agency_id is required for the hub's principals",
                ));
            }
            caller.agency().clone()
        } else {
            AgencyId::parse(&request.agency_id)
                .map_err(|error| ServiceError::invalid("agency_id", error.to_string()))?
        };
        if &agency != caller.agency() && !sees_all(&caller) {
            return Err(ServiceError::PermissionDenied(liaison_auth::Denied(
                "other agencies' results are for the hub's operator and oversight auditors",
            )));
        }
        let limit = page_size(request.page_size, 100, 500)?;
        let offset = liaison_rpc::page_offset(&request.page_token)?;
        let range = time_range(request.start_time.as_ref(), request.end_time.as_ref())?;
        let results = self
            .store
            .agency_check_results(&agency, range, offset, limit)
            .await?;
        for result in &results {
            audit.touch(result.check.as_str(), Access::Read, Some(&result.agency));
        }
        audit.commit_read(&self.store).await?;
        let now = self.clock.now();
        Ok(v1::ListCommunicationCheckResultsResponse {
            next_page_token: if results.len() == limit as usize {
                (offset + u64::from(limit)).to_string()
            } else {
                String::new()
            },
            results: results
                .iter()
                .map(|result| result_to_proto(result, now))
                .collect(),
        })
    }
}
