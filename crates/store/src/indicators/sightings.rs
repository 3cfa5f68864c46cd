//! Sightings: agencies' reports that they saw a value, kept per (agency, value).

use liaison_core::{AgencyId, ObjectId, Observable, PrincipalId, Timestamp};

use crate::{Store, StoreError, tx::WritePool, with_pool};

/// Most sightings rows kept per (agency, value): a report past them is added to the
/// agency's newest row, so that one agency cannot crowd out the others' sightings.
pub const SIGHTINGS_PER_AGENCY: usize = 16;

/// A sightings row: agency, count, first and last seen.
pub(crate) type SightingRow = (String, i64, i64, i64);

pub(crate) fn sighting_from_row(
    observable: &Observable,
    (agency, count, first, last): SightingRow,
) -> Result<SightingRecord, StoreError> {
    Ok(SightingRecord {
        observable: observable.clone(),
        agency: AgencyId::parse(&agency).map_err(|_| StoreError::corrupt("agency id", &agency))?,
        count: u32::try_from(count).unwrap_or(u32::MAX),
        first_seen: Timestamp::from_micros(first),
        last_seen: Timestamp::from_micros(last),
    })
}

/// A sighting as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SightingRecord {
    /// The observable seen.
    pub observable: Observable,
    /// The reporting agency.
    pub agency: AgencyId,
    /// How many times.
    pub count: u32,
    /// First and last seen.
    pub first_seen: Timestamp,
    /// Last seen.
    pub last_seen: Timestamp,
}

impl Store {
    /// Stores a sighting with its audit record in one transaction. An agency that has
    /// [`SIGHTINGS_PER_AGENCY`] rows of the value already has this one added to its newest
    /// row (counts summed, saturating at `u32::MAX`; first and last seen widened).
    pub async fn report_sighting(
        &self,
        reporter: &PrincipalId,
        sighting: &SightingRecord,
        now: Timestamp,
        audit_record: &[u8],
    ) -> Result<String, StoreError> {
        let id = ObjectId::generate(ObjectId::SIGHTING).to_string();
        let newest_sql = format!(
            "SELECT id, count, first_seen_us, last_seen_us FROM sightings
             WHERE type = $1 AND value = $2 AND agency_id = $3
             ORDER BY reported_us DESC, id DESC LIMIT {SIGHTINGS_PER_AGENCY}"
        );
        let stored = with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            let kept: Vec<(String, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(newest_sql))
                .bind(sighting.observable.kind().as_str())
                .bind(sighting.observable.value())
                .bind(sighting.agency.as_str())
                .fetch_all(&mut *tx)
                .await?;
            let stored = match kept.first() {
                Some((newest, count, first, last)) if kept.len() >= SIGHTINGS_PER_AGENCY => {
                    let count = count
                        .saturating_add(i64::from(sighting.count))
                        .min(i64::from(u32::MAX));
                    sqlx::query(
                        "UPDATE sightings SET count = $1, first_seen_us = $2, last_seen_us = $3 WHERE id = $4",
                    )
                    .bind(count)
                    .bind((*first).min(sighting.first_seen.as_micros()))
                    .bind((*last).max(sighting.last_seen.as_micros()))
                    .bind(newest)
                    .execute(&mut *tx)
                    .await?;
                    newest.clone()
                }
                _ => {
                    sqlx::query(
                        "INSERT INTO sightings (id, type, value, agency_id, reporter, count, first_seen_us, last_seen_us, reported_us)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(&id)
                    .bind(sighting.observable.kind().as_str())
                    .bind(sighting.observable.value())
                    .bind(sighting.agency.as_str())
                    .bind(reporter.to_string())
                    .bind(i64::from(sighting.count))
                    .bind(sighting.first_seen.as_micros())
                    .bind(sighting.last_seen.as_micros())
                    .bind(now.as_micros())
                    .execute(&mut *tx)
                    .await?;
                    id.clone()
                }
            };
            let record = String::from_utf8_lossy(audit_record).into_owned();
            crate::outbox::write_outbox!(tx, pool, crate::audit::TOPIC, "record", stored.as_str(), now, Some(record));
            tx.commit().await?;
            stored
        });
        self.signals.outbox.notify_one();
        Ok(stored)
    }
}
