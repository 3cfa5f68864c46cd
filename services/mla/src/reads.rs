//! The reads: GetRequest (whose first full read by the requested agency records
//! delivery), ListRequests and ListReceipts. Each commits its audit record before data
//! leave the hub; content (the full view) needs an officer and `x-liaison-purpose`.

use liaison_audit::Access;
use liaison_core::mla::Urgency;
use liaison_core::{
    AgencyId, Role,
    mla::{MlaState, MlaStep, Side},
};
use liaison_proto::{domain::ProtoEnum, methods, v1};
use liaison_rpc::{ServiceError, page_size};
use liaison_store::MlaFilter;

use crate::{
    MlaServiceImpl,
    convert::request_to_proto,
    receipts::{ReceiptKind, receipt_to_proto},
    workflow::{Call, Loaded, parse_id, side_of},
};

const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 500;

/// Whether `view` asks for content: GetRequest defaults to the full view, lists to basic.
fn wants_full(view: i32, default_full: bool) -> Result<bool, ServiceError> {
    match v1::MlaRequestView::try_from(view) {
        Ok(v1::MlaRequestView::Unspecified) => Ok(default_full),
        Ok(v1::MlaRequestView::Basic) => Ok(false),
        Ok(v1::MlaRequestView::Full) => Ok(true),
        Err(_) => Err(ServiceError::invalid("view", "unknown view")),
    }
}

/// Content is for the parties' officers, and its reading is justified.
fn check_full_view(call: &Call) -> Result<(), ServiceError> {
    if call.caller.is_hub() || !call.caller.has_role(Role::Officer) {
        return Err(ServiceError::PermissionDenied(liaison_auth::Denied(
            "request content is for the parties' officers; auditors read MLA_REQUEST_VIEW_BASIC",
        )));
    }
    call.audit.require_justification()
}

impl MlaServiceImpl {
    pub(crate) async fn get(
        &self,
        call: &Call,
        message: v1::GetRequestRequest,
    ) -> Result<v1::MlaRequest, ServiceError> {
        let id = parse_id(&message.mla_request_id, "mla_request_id")?;
        let full = wants_full(message.view, true)?;
        let record = self.load_visible(call, &id, true).await?;
        if full {
            check_full_view(call)?;
        }
        let delivers = full
            && record.status.state == MlaState::Submitted
            && side_of(&call.caller, &record) == Some(Side::Requested);
        if delivers {
            match self.deliver(call, &record).await {
                Ok(request) => return Ok(request),
                // Another read of the requested agency delivered it first: a plain read.
                Err(ServiceError::Aborted(_) | ServiceError::FailedPrecondition(_)) => {}
                Err(error) => return Err(error),
            }
        }
        let record = self
            .store
            .get_mla(&id)
            .await?
            .ok_or(ServiceError::NotFound("mla request"))?;
        call.audit
            .touch(record.id.as_str(), Access::Read, Some(&record.requesting));
        call.audit.commit_read(&self.store).await?;
        request_to_proto(&record, full, &self.policy, self.clock.now())
    }

    /// The first full read by the requested agency: SUBMITTED → DELIVERED, with a
    /// retrieval receipt, written with the read's audit record.
    async fn deliver(
        &self,
        call: &Call,
        record: &liaison_store::MlaRecord,
    ) -> Result<v1::MlaRequest, ServiceError> {
        const METHOD: &str = methods::MLA_GET_REQUEST;
        // Delivery is the hub's record of a read: its own idempotency key, per request.
        let key = format!("deliver:{}", record.id);
        let version = record.version.to_string();
        match self
            .load_step(
                call,
                METHOD,
                &key,
                record.id.as_str(),
                &version,
                &MlaStep::Deliver,
            )
            .await?
        {
            Loaded::Retry(current) => self.answer_retry(call, &current).await,
            Loaded::Step(mut decided) => {
                decided.document.deliver_time = Some(liaison_rpc::to_timestamp(decided.now));
                call.audit
                    .touch(record.id.as_str(), Access::Read, Some(&record.requesting));
                self.commit_step(
                    call,
                    METHOD,
                    &key,
                    *decided,
                    v1::MlaAction::Deliver,
                    None,
                    Some(ReceiptKind::Retrieval),
                )
                .await
                .map(|(request, _)| request)
            }
        }
    }

    pub(crate) async fn list(
        &self,
        call: &Call,
        message: v1::ListRequestsRequest,
    ) -> Result<v1::ListRequestsResponse, ServiceError> {
        let limit = page_size(message.page_size, DEFAULT_PAGE, MAX_PAGE)?;
        let full = wants_full(message.view, false)?;
        let mut filter = MlaFilter {
            limit,
            ..MlaFilter::default()
        };
        filter.side = match v1::MlaPartyRole::try_from(message.party_role) {
            Ok(v1::MlaPartyRole::Unspecified) => None,
            Ok(v1::MlaPartyRole::Requesting) => Some(Side::Requesting),
            Ok(v1::MlaPartyRole::Requested) => Some(Side::Requested),
            Err(_) => return Err(ServiceError::invalid("party_role", "unknown party role")),
        };
        if !message.counterpart_agency_id.is_empty() {
            filter.counterpart = Some(AgencyId::parse(&message.counterpart_agency_id).map_err(
                |error| ServiceError::invalid("counterpart_agency_id", error.to_string()),
            )?);
        }
        for state in &message.states {
            filter.states.push(
                MlaState::from_proto(*state)
                    .ok_or_else(|| ServiceError::invalid("states", "unknown state"))?,
            );
        }
        for urgency in &message.urgencies {
            filter.urgencies.push(
                Urgency::from_proto(*urgency)
                    .ok_or_else(|| ServiceError::invalid("urgencies", "unknown urgency"))?,
            );
        }
        if !message.case_reference.is_empty() {
            filter.case_reference = Some(message.case_reference.clone());
        }
        if !message.page_token.is_empty() {
            let valid = message
                .page_token
                .split_once(':')
                .is_some_and(|(micros, id)| micros.parse::<i64>().is_ok() && !id.is_empty());
            if !valid {
                return Err(ServiceError::invalid(
                    "page_token",
                    "not a token of this list",
                ));
            }
            filter.after = Some(message.page_token.clone());
        }
        let now = self.clock.now();
        if message.overdue_only {
            filter.overdue_at = Some(now);
        }
        let oversight = call.caller.is_hub() && call.caller.has_role(Role::OversightAuditor);
        if oversight {
            if filter.side.is_some() {
                return Err(ServiceError::invalid(
                    "party_role",
                    "the hub is party to no request",
                ));
            }
        } else if call.caller.is_hub() {
            return Err(ServiceError::PermissionDenied(liaison_auth::Denied(
                "only oversight auditors list requests for the hub",
            )));
        } else {
            filter.agency = Some(call.caller.agency().clone());
        }
        if full {
            check_full_view(call)?;
        }
        let page = self.store.list_mla(&filter).await?;
        let mut requests = Vec::with_capacity(page.items.len());
        for record in &page.items {
            call.audit
                .touch(record.id.as_str(), Access::Read, Some(&record.requesting));
            // The requested agency's first read of the content is its delivery, with a
            // signed Retrieval receipt: only GetRequest takes that step, so a list shows
            // a request not yet delivered to the caller's agency in the basic view.
            let undelivered = record.status.state == MlaState::Submitted
                && side_of(&call.caller, record) == Some(Side::Requested);
            requests.push(request_to_proto(
                record,
                full && !undelivered,
                &self.policy,
                now,
            )?);
        }
        call.audit.commit_read(&self.store).await?;
        Ok(v1::ListRequestsResponse {
            mla_requests: requests,
            next_page_token: page.next.unwrap_or_default(),
        })
    }

    pub(crate) async fn receipts_of(
        &self,
        call: &Call,
        message: v1::ListReceiptsRequest,
    ) -> Result<v1::ListReceiptsResponse, ServiceError> {
        let id = parse_id(&message.mla_request_id, "mla_request_id")?;
        let limit = page_size(message.page_size, DEFAULT_PAGE, MAX_PAGE)? as usize;
        let start =
            usize::try_from(liaison_rpc::page_offset(&message.page_token)?).unwrap_or(usize::MAX);
        let record = self.load_visible(call, &id, true).await?;
        let rows = self.store.mla_receipts(&record.id).await?;
        let end = rows.len().min(start.saturating_add(limit));
        let receipts = rows
            .get(start..end)
            .unwrap_or_default()
            .iter()
            .map(receipt_to_proto)
            .collect();
        call.audit
            .touch(record.id.as_str(), Access::Read, Some(&record.requesting));
        call.audit.commit_read(&self.store).await?;
        Ok(v1::ListReceiptsResponse {
            receipts,
            next_page_token: if end < rows.len() {
                end.to_string()
            } else {
                String::new()
            },
        })
    }
}
