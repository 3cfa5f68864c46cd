//! Hub-signed receipts (modelled on e-CODEX evidences): an Ed25519 signature over the
//! serialized `MlaReceiptStatement` — request id, kind, state, content version and digest,
//! evidence digests, actor, parties and time — kept byte for byte as signed, so either
//! party can later prove what was sent, when, and that the other side opened it.

use std::sync::Arc;

use liaison_audit::SigningKey;
use liaison_core::{ObjectId, PrincipalId, Timestamp, mla::RECEIPT_ID_PREFIX};
use liaison_proto::{
    domain::{ProtoEnum, principal_ref},
    v1,
};
use liaison_rpc::to_timestamp;
use liaison_store::MlaReceiptRow;
use prost::Message;
use sha2::{Digest, Sha256};

/// What a receipt attests, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptKind {
    /// The hub accepted the submission.
    SubmissionAccepted,
    /// The hub rejected the submission.
    SubmissionRejected,
    /// The requested agency retrieved the request for the first time.
    Retrieval,
    /// The requested agency acknowledged it.
    Acknowledgement,
    /// An evidence file reached the hub.
    EvidenceSubmission,
    /// The other party retrieved an evidence file for the first time.
    EvidenceRetrieval,
}

impl ReceiptKind {
    fn as_str(self) -> &'static str {
        match self {
            ReceiptKind::SubmissionAccepted => "submission_accepted",
            ReceiptKind::SubmissionRejected => "submission_rejected",
            ReceiptKind::Retrieval => "retrieval",
            ReceiptKind::Acknowledgement => "acknowledgement",
            ReceiptKind::EvidenceSubmission => "evidence_submission",
            ReceiptKind::EvidenceRetrieval => "evidence_retrieval",
        }
    }

    fn to_proto(self) -> v1::MlaReceiptKind {
        match self {
            ReceiptKind::SubmissionAccepted => v1::MlaReceiptKind::SubmissionAccepted,
            ReceiptKind::SubmissionRejected => v1::MlaReceiptKind::SubmissionRejected,
            ReceiptKind::Retrieval => v1::MlaReceiptKind::Retrieval,
            ReceiptKind::Acknowledgement => v1::MlaReceiptKind::Acknowledgement,
            ReceiptKind::EvidenceSubmission => v1::MlaReceiptKind::EvidenceSubmission,
            ReceiptKind::EvidenceRetrieval => v1::MlaReceiptKind::EvidenceRetrieval,
        }
    }
}

/// Signs receipts with the hub's receipt key.
#[derive(Debug, Clone)]
pub struct ReceiptSigner {
    key: Arc<SigningKey>,
}

/// The SHA-256 of a request's content as a receipt attests it: of the content's protobuf
/// encoding (prost writes fields in number order, so the encoding is deterministic).
pub fn content_sha256(content: Option<&v1::MlaRequestContent>) -> String {
    let bytes = content.map(Message::encode_to_vec).unwrap_or_default();
    hex::encode(Sha256::digest(bytes))
}

impl ReceiptSigner {
    /// A signer with `key`.
    pub fn new(key: Arc<SigningKey>) -> Self {
        Self { key }
    }

    /// The key's id as receipts name it: lowercase hex.
    pub fn key_id(&self) -> String {
        hex::encode(self.key.key_id())
    }

    /// The public key, as GetReceiptKeys lists it.
    pub fn public_key(&self) -> v1::MlaReceiptKey {
        v1::MlaReceiptKey {
            key_id: self.key_id(),
            public_key: self.key.public_key().to_vec(),
            not_before: None,
            retire_time: None,
        }
    }

    /// Issues a receipt of `kind` for `request` (as it is after the step, full view).
    pub fn issue(
        &self,
        kind: ReceiptKind,
        request: &v1::MlaRequest,
        request_id: &ObjectId,
        state: liaison_core::mla::MlaState,
        actor: &PrincipalId,
        now: Timestamp,
    ) -> (MlaReceiptRow, v1::MlaReceipt) {
        self.issue_with_evidence(kind, request, request_id, state, actor, now, Vec::new())
    }

    /// Issues a receipt that also attests evidence files and their digests.
    #[allow(clippy::too_many_arguments)]
    pub fn issue_with_evidence(
        &self,
        kind: ReceiptKind,
        request: &v1::MlaRequest,
        request_id: &ObjectId,
        state: liaison_core::mla::MlaState,
        actor: &PrincipalId,
        now: Timestamp,
        evidence: Vec<v1::MlaEvidenceDigest>,
    ) -> (MlaReceiptRow, v1::MlaReceipt) {
        self.sign(
            kind,
            request,
            request_id,
            state,
            actor,
            now,
            evidence,
            String::new(),
        )
    }

    /// Issues a submission-rejected receipt, saying why.
    pub fn reject(
        &self,
        request: &v1::MlaRequest,
        request_id: &ObjectId,
        actor: &PrincipalId,
        now: Timestamp,
        reason: String,
    ) -> (MlaReceiptRow, v1::MlaReceipt) {
        self.sign(
            ReceiptKind::SubmissionRejected,
            request,
            request_id,
            liaison_core::mla::MlaState::Draft,
            actor,
            now,
            Vec::new(),
            reason,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn sign(
        &self,
        kind: ReceiptKind,
        request: &v1::MlaRequest,
        request_id: &ObjectId,
        state: liaison_core::mla::MlaState,
        actor: &PrincipalId,
        now: Timestamp,
        evidence: Vec<v1::MlaEvidenceDigest>,
        rejection_reason: String,
    ) -> (MlaReceiptRow, v1::MlaReceipt) {
        let id = ObjectId::generate(RECEIPT_ID_PREFIX);
        let content = request.content.as_ref();
        let statement = v1::MlaReceiptStatement {
            receipt_id: id.to_string(),
            kind: kind.to_proto() as i32,
            mla_request_id: request_id.to_string(),
            state: state.to_proto(),
            content_version: request.content_version,
            content_sha256: content_sha256(content),
            evidence,
            actor: Some(principal_ref(actor)),
            requesting_agency_id: request.requesting_agency_id.clone(),
            requested_agency_id: content
                .map(|content| content.requested_agency_id.clone())
                .unwrap_or_default(),
            event_time: Some(to_timestamp(now)),
            rejection_reason,
        };
        let bytes = statement.encode_to_vec();
        let signature = self.key.sign(&bytes).to_vec();
        let row = MlaReceiptRow {
            id: id.to_string(),
            request_id: request_id.clone(),
            kind: kind.as_str().to_owned(),
            statement: bytes,
            signature,
            key_id: self.key_id(),
            created: now,
        };
        let receipt = receipt_to_proto(&row);
        (row, receipt)
    }
}

/// A stored receipt as the API shows it.
pub fn receipt_to_proto(row: &MlaReceiptRow) -> v1::MlaReceipt {
    v1::MlaReceipt {
        id: row.id.clone(),
        statement: row.statement.clone(),
        parsed_statement: v1::MlaReceiptStatement::decode(row.statement.as_slice()).ok(),
        signature: row.signature.clone(),
        key_id: row.key_id.clone(),
    }
}

/// Why a receipt does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// No key with the receipt's key id.
    #[error("no receipt key {0}")]
    UnknownKey(String),
    /// The signature does not match the statement.
    #[error("the signature does not match the statement")]
    BadSignature,
    /// The statement does not parse, or names another receipt.
    #[error("the statement is malformed")]
    Malformed,
}

/// Verifies a receipt against the hub's receipt keys (from GetReceiptKeys) and returns
/// the statement it attests — parsed from the signed bytes, never from
/// `parsed_statement`.
pub fn verify_receipt(
    receipt: &v1::MlaReceipt,
    keys: &[v1::MlaReceiptKey],
) -> Result<v1::MlaReceiptStatement, ReceiptError> {
    let key = keys
        .iter()
        .find(|key| key.key_id == receipt.key_id)
        .ok_or_else(|| ReceiptError::UnknownKey(receipt.key_id.clone()))?;
    let public_key =
        <[u8; 32]>::try_from(key.public_key.as_slice()).map_err(|_| ReceiptError::Malformed)?;
    let verifier = liaison_audit::VerifierKey::new("mla-receipts", public_key)
        .map_err(|_| ReceiptError::Malformed)?;
    if !verifier.verify(&receipt.statement, &receipt.signature) {
        return Err(ReceiptError::BadSignature);
    }
    let statement = v1::MlaReceiptStatement::decode(receipt.statement.as_slice())
        .map_err(|_| ReceiptError::Malformed)?;
    if statement.receipt_id != receipt.id {
        return Err(ReceiptError::Malformed);
    }
    Ok(statement)
}

#[cfg(test)]
mod tests {
    use liaison_core::{AgencyId, PrincipalKind, PrincipalName, mla::MlaState};

    use super::*;

    #[test]
    fn a_receipt_verifies_and_any_change_is_detected() {
        let (key, _) = SigningKey::generate("liaison.test/mla-receipts").unwrap();
        let signer = ReceiptSigner::new(Arc::new(key));
        let request = v1::MlaRequest {
            requesting_agency_id: "UA-CERT".into(),
            content_version: 1,
            content: Some(v1::MlaRequestContent {
                requested_agency_id: "RS-MUP".into(),
                case_reference: "КП-2026/117".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let id = ObjectId::generate(liaison_core::mla::REQUEST_ID_PREFIX);
        let actor = PrincipalId::new(
            AgencyId::parse("UA-CERT").unwrap(),
            PrincipalKind::Person,
            PrincipalName::parse("officer").unwrap(),
        );
        let (_, receipt) = signer.issue(
            ReceiptKind::SubmissionAccepted,
            &request,
            &id,
            MlaState::Submitted,
            &actor,
            Timestamp::from_micros(1_764_000_000_000_000),
        );
        let keys = [signer.public_key()];
        let statement = verify_receipt(&receipt, &keys).unwrap();
        assert_eq!(statement.mla_request_id, id.to_string());
        assert_eq!(
            statement.content_sha256,
            content_sha256(request.content.as_ref())
        );
        assert_eq!(statement.requested_agency_id, "RS-MUP");

        let mut altered = receipt.clone();
        let last = altered.statement.len() - 1;
        altered.statement[last] ^= 1;
        assert_eq!(
            verify_receipt(&altered, &keys),
            Err(ReceiptError::BadSignature)
        );
        let mut unknown = receipt.clone();
        unknown.key_id = "00000000".into();
        assert!(matches!(
            verify_receipt(&unknown, &keys),
            Err(ReceiptError::UnknownKey(_))
        ));
        let (other, _) = SigningKey::generate("liaison.test/mla-receipts").unwrap();
        let other_keys = [v1::MlaReceiptKey {
            key_id: receipt.key_id.clone(),
            public_key: other.public_key().to_vec(),
            ..Default::default()
        }];
        assert_eq!(
            verify_receipt(&receipt, &other_keys),
            Err(ReceiptError::BadSignature)
        );
    }
}
