//! MLA evidence: files attached to a request, their retrieval, and the space they use.

use liaison_core::{AgencyId, ObjectId, PrincipalId, Timestamp, mla::REQUEST_ID_PREFIX};

use super::{MlaReceiptRow, MlaWriteOutcome, TOPIC, insert_receipt};
use crate::{Store, StoreError, idempotency::seen_request, tx::WritePool, with_pool};

type EvidenceTuple = (
    String,
    String,
    String,
    String,
    i64,
    String,
    i64,
    Option<i64>,
);

/// A stored evidence file's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlaEvidenceRow {
    /// The evidence id (`evd_…`).
    pub id: String,
    /// The request.
    pub request_id: ObjectId,
    /// The uploader's agency.
    pub uploader_agency: AgencyId,
    /// SHA-256 of the bytes, lowercase hex: also where they are stored.
    pub sha256: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// The service's encoding of the metadata.
    pub document: Vec<u8>,
    /// Uploaded.
    pub created: Timestamp,
    /// First complete retrieval by the other party.
    pub first_retrieved: Option<Timestamp>,
}

fn evidence_from_row(
    (id, request_id, uploader, sha256, size_bytes, document, created, retrieved): EvidenceTuple,
) -> Result<MlaEvidenceRow, StoreError> {
    Ok(MlaEvidenceRow {
        request_id: ObjectId::parse(REQUEST_ID_PREFIX, &request_id)
            .map_err(|_| StoreError::corrupt("mla id", &request_id))?,
        uploader_agency: AgencyId::parse(&uploader)
            .map_err(|_| StoreError::corrupt("agency", &uploader))?,
        document: hex::decode(&document).map_err(|_| StoreError::corrupt("evidence", &id))?,
        sha256,
        size_bytes,
        created: Timestamp::from_micros(created),
        first_retrieved: retrieved.map(Timestamp::from_micros),
        id,
    })
}

impl Store {
    /// Records an uploaded evidence file (its bytes already stored) with its receipt,
    /// idempotency key, stream events and audit record, in one transaction.
    pub async fn add_mla_evidence(
        &self,
        principal: &PrincipalId,
        request_id: &str,
        evidence: &MlaEvidenceRow,
        receipt: &MlaReceiptRow,
        audit_record: Vec<u8>,
    ) -> Result<MlaWriteOutcome, StoreError> {
        const METHOD: &str = "liaison.v1.MlaService/UploadEvidence";
        let principal = principal.to_string();
        let now = evidence.created;
        let outcome = with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            seen_request!(tx, &principal, request_id, METHOD, MlaWriteOutcome::Duplicate);
            sqlx::query(
                "INSERT INTO mla_evidence (id, request_id, uploader_agency_id, sha256, size_bytes, document, created_us)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&evidence.id)
            .bind(evidence.request_id.as_str())
            .bind(evidence.uploader_agency.as_str())
            .bind(&evidence.sha256)
            .bind(evidence.size_bytes)
            .bind(hex::encode(&evidence.document))
            .bind(now.as_micros())
            .execute(&mut *tx)
            .await?;
            insert_receipt!(tx, receipt);
            sqlx::query(
                "INSERT INTO idempotency_keys (principal, request_id, method, object_id, created_us)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&principal)
            .bind(request_id)
            .bind(METHOD)
            .bind(&evidence.id)
            .bind(now.as_micros())
            .execute(&mut *tx)
            .await?;
            crate::outbox::write_outbox!(tx, pool, TOPIC, format!("evidence_added.{}", evidence.id), evidence.request_id.as_str(), now, None::<String>);
            crate::outbox::write_outbox!(tx, pool, TOPIC, format!("receipt_issued.{}", receipt.id), evidence.request_id.as_str(), now, None::<String>);
            let audit = String::from_utf8_lossy(&audit_record).into_owned();
            crate::outbox::write_outbox!(tx, pool, crate::audit::TOPIC, "record", evidence.request_id.as_str(), now, Some(audit));
            tx.commit().await?;
            MlaWriteOutcome::Written
        });
        self.signals.outbox.notify_one();
        Ok(outcome)
    }

    /// Records the first complete retrieval of an evidence file by the other party, with
    /// its receipt and audit record; `false` (nothing written) when it was retrieved
    /// before.
    pub async fn mark_mla_evidence_retrieved(
        &self,
        evidence_id: &str,
        receipt: &MlaReceiptRow,
        audit_record: Vec<u8>,
    ) -> Result<bool, StoreError> {
        let now = receipt.created;
        let first = with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            let changed = sqlx::query(
                "UPDATE mla_evidence SET first_retrieve_us = $1 WHERE id = $2 AND first_retrieve_us IS NULL",
            )
            .bind(now.as_micros())
            .bind(evidence_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            insert_receipt!(tx, receipt);
            crate::outbox::write_outbox!(tx, pool, TOPIC, format!("receipt_issued.{}", receipt.id), receipt.request_id.as_str(), now, None::<String>);
            let audit = String::from_utf8_lossy(&audit_record).into_owned();
            crate::outbox::write_outbox!(tx, pool, crate::audit::TOPIC, "record", receipt.request_id.as_str(), now, Some(audit));
            tx.commit().await?;
            true
        });
        self.signals.outbox.notify_one();
        Ok(first)
    }

    /// One evidence file's record.
    pub async fn get_mla_evidence(&self, id: &str) -> Result<Option<MlaEvidenceRow>, StoreError> {
        let row: Option<EvidenceTuple> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, request_id, uploader_agency_id, sha256, size_bytes, document, created_us, first_retrieve_us
                 FROM mla_evidence WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        row.map(evidence_from_row).transpose()
    }

    /// The evidence files of a request, oldest first.
    pub async fn list_mla_evidence(
        &self,
        request: &ObjectId,
    ) -> Result<Vec<MlaEvidenceRow>, StoreError> {
        let rows: Vec<EvidenceTuple> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, request_id, uploader_agency_id, sha256, size_bytes, document, created_us, first_retrieve_us
                 FROM mla_evidence WHERE request_id = $1 ORDER BY created_us, id",
            )
            .bind(request.as_str())
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(evidence_from_row).collect()
    }

    /// Bytes of evidence stored on `request` (all parties' files), and bytes `agency`
    /// uploaded over all requests: what the evidence quotas count.
    pub async fn mla_evidence_usage(
        &self,
        request: &ObjectId,
        agency: &AgencyId,
    ) -> Result<(u64, u64), StoreError> {
        let (on_request, by_agency): (i64, i64) = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT
                   (SELECT CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) FROM mla_evidence WHERE request_id = $1),
                   (SELECT CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) FROM mla_evidence WHERE uploader_agency_id = $2)",
            )
            .bind(request.as_str())
            .bind(agency.as_str())
            .fetch_one(pool)
            .await?
        });
        Ok((
            u64::try_from(on_request).unwrap_or(0),
            u64::try_from(by_agency).unwrap_or(0),
        ))
    }
}
