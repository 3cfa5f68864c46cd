//! MLA receipts: signed statements of what the hub received, and when.

use liaison_core::{ObjectId, Timestamp};

use super::{MlaReceiptRow, TOPIC, insert_receipt};
use crate::{Store, StoreError, tx::WritePool, with_pool};

impl Store {
    /// The receipts of a request, oldest first.
    pub async fn mla_receipts(&self, id: &ObjectId) -> Result<Vec<MlaReceiptRow>, StoreError> {
        let rows: Vec<(String, String, String, String, String, i64)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, kind, statement, signature, key_id, created_us FROM mla_receipts
                 WHERE request_id = $1 ORDER BY created_us, id",
            )
            .bind(id.as_str())
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(
                |(receipt_id, kind, statement, signature, key_id, created)| {
                    Ok(MlaReceiptRow {
                        statement: hex::decode(&statement)
                            .map_err(|_| StoreError::corrupt("receipt", &receipt_id))?,
                        signature: hex::decode(&signature)
                            .map_err(|_| StoreError::corrupt("receipt", &receipt_id))?,
                        id: receipt_id,
                        request_id: id.clone(),
                        kind,
                        key_id,
                        created: Timestamp::from_micros(created),
                    })
                },
            )
            .collect()
    }

    /// Stores a receipt issued without a change to its request (a rejected submission),
    /// with its stream event and audit record, in one transaction.
    pub async fn add_mla_receipt(
        &self,
        receipt: &MlaReceiptRow,
        audit_record: Vec<u8>,
    ) -> Result<(), StoreError> {
        let now = receipt.created;
        with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            insert_receipt!(tx, receipt);
            crate::outbox::write_outbox!(tx, pool, TOPIC, format!("receipt_issued.{}", receipt.id), receipt.request_id.as_str(), now, None::<String>);
            let audit = String::from_utf8_lossy(&audit_record).into_owned();
            crate::outbox::write_outbox!(tx, pool, crate::audit::TOPIC, "record", receipt.request_id.as_str(), now, Some(audit));
            tx.commit().await?;
        });
        self.signals.outbox.notify_one();
        Ok(())
    }
}
