//! Messages between the two parties on a request: PostMessage (not on a draft, not on a
//! closed request) and ListMessages (content: needs `x-liaison-purpose`; listing marks the
//! other party's messages it returns read, with its audit record).

use liaison_audit::{Access, ObjectAccess};
use liaison_core::{ObjectId, mla::MlaState};
use liaison_proto::{domain::principal_ref, v1};
use liaison_rpc::{ServiceError, page_size, request_id, to_timestamp};
use liaison_store::{MlaMessageRow, MlaWriteOutcome};
use prost::Message;

use crate::{
    MlaServiceImpl,
    workflow::{Call, parse_id, side_of},
};

/// Longest message, in characters.
const BODY_MAX: usize = 20_000;

pub(crate) fn message_to_proto(row: &MlaMessageRow) -> Result<v1::MlaMessage, ServiceError> {
    let mut message = v1::MlaMessage::decode(row.document.as_slice()).map_err(|_| {
        ServiceError::Store(liaison_store::StoreError::Corrupt(format!(
            "mla message {}",
            row.id
        )))
    })?;
    message.read_time = row.read.map(to_timestamp);
    Ok(message)
}

impl MlaServiceImpl {
    pub(crate) async fn post(
        &self,
        call: &Call,
        message: v1::PostMessageRequest,
    ) -> Result<v1::MlaMessage, ServiceError> {
        request_id(&message.request_id, "request_id")?;
        let id = parse_id(&message.mla_request_id, "mla_request_id")?;
        let body = message
            .body
            .filter(|body| !body.text.trim().is_empty())
            .ok_or_else(|| ServiceError::invalid("body", "the text is required"))?;
        if body.text.chars().count() > BODY_MAX {
            return Err(ServiceError::invalid(
                "body",
                format!("at most {BODY_MAX} characters"),
            ));
        }
        let record = self.load_visible(call, &id, false).await?;
        self.check_evidence(call, &message.mla_request_id, &message.evidence_ids, None)
            .await?;
        if side_of(&call.caller, &record).is_none() {
            return Err(ServiceError::NotFound("mla request"));
        }
        if matches!(record.status.state, MlaState::Draft | MlaState::Closed) {
            return Err(ServiceError::FailedPrecondition(format!(
                "no messages on a request that is {}",
                record.status.state
            )));
        }
        let now = self.clock.now();
        let stored = v1::MlaMessage {
            id: ObjectId::generate(ObjectId::MLA_MESSAGE).to_string(),
            mla_request_id: record.id.to_string(),
            sender: Some(principal_ref(call.caller.principal())),
            body: Some(body),
            evidence_ids: message.evidence_ids,
            action: v1::MlaAction::Unspecified as i32,
            create_time: Some(to_timestamp(now)),
            read_time: None,
        };
        let row = MlaMessageRow {
            id: stored.id.clone(),
            request_id: record.id.clone(),
            sender_agency: call.caller.agency().clone(),
            document: stored.encode_to_vec(),
            created: now,
            read: None,
        };
        // The request is the requesting agency's; the message is its sender's.
        let audit_record = call.audit.write_record_of([
            ObjectAccess::new(
                record.id.to_string(),
                Access::Write,
                Some(record.requesting.to_string()),
            ),
            ObjectAccess::new(
                row.id.clone(),
                Access::Write,
                Some(row.sender_agency.to_string()),
            ),
        ]);
        match self
            .store
            .post_mla_message(
                call.caller.principal(),
                &message.request_id,
                &row,
                audit_record,
            )
            .await?
        {
            MlaWriteOutcome::Written => {
                call.audit.mark_recorded();
                Ok(stored)
            }
            MlaWriteOutcome::Duplicate(first) => {
                let first = self
                    .store
                    .get_mla_message(&first)
                    .await?
                    .ok_or(ServiceError::NotFound("message"))?;
                call.audit
                    .touch(record.id.as_str(), Access::Read, Some(&record.requesting));
                call.audit
                    .touch(&first.id, Access::Read, Some(&first.sender_agency));
                call.audit.commit_read(&self.store).await?;
                message_to_proto(&first)
            }
            MlaWriteOutcome::Conflict => Err(ServiceError::Aborted("retry".into())),
        }
    }

    pub(crate) async fn messages(
        &self,
        call: &Call,
        message: v1::ListMessagesRequest,
    ) -> Result<v1::ListMessagesResponse, ServiceError> {
        let id = parse_id(&message.mla_request_id, "mla_request_id")?;
        let limit = page_size(message.page_size, 100, 500)?;
        let offset = liaison_rpc::page_offset(&message.page_token)?;
        let record = self.load_visible(call, &id, false).await?;
        call.audit.require_justification()?;
        let reader = side_of(&call.caller, &record).map(|_| call.caller.agency());
        let mut rows = self
            .store
            .list_mla_messages(&record.id, offset, limit + 1)
            .await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        call.audit
            .touch(record.id.as_str(), Access::Read, Some(&record.requesting));
        for row in &rows {
            call.audit
                .touch(&row.id, Access::Read, Some(&row.sender_agency));
        }
        // A party's read marks the other party's messages it returns — these only — read,
        // in the transaction of the read's record.
        let unread: Vec<String> = match reader {
            Some(reader) => rows
                .iter()
                .filter(|row| &row.sender_agency != reader && row.read.is_none())
                .map(|row| row.id.clone())
                .collect(),
            None => Vec::new(),
        };
        match reader {
            Some(reader) if !unread.is_empty() => {
                let now = self.clock.now();
                let record_bytes = call.audit.write_record_of(std::iter::empty());
                let marked = self
                    .store
                    .mark_mla_messages_read(&record.id, reader, &unread, now, record_bytes)
                    .await?;
                call.audit.mark_recorded();
                for row in &mut rows {
                    if marked.contains(&row.id) {
                        row.read = Some(now);
                    }
                }
            }
            _ => call.audit.commit_read(&self.store).await?,
        }
        let messages = rows
            .iter()
            .map(message_to_proto)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(v1::ListMessagesResponse {
            next_page_token: if more {
                (offset + u64::from(limit)).to_string()
            } else {
                String::new()
            },
            messages,
        })
    }
}
