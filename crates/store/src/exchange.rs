//! The indicator exchange beyond publication: revocation, listing, sightings, lookups and
//! correlations. Visibility is decided by the caller (`liaison_auth::authorize`) on the
//! stored indicators these queries return; SQL only narrows the candidates.

use liaison_core::{
    AgencyId, FraudCategory, Indicator, ObjectId, Observable, PrincipalId, Timestamp, Tlp,
};
use sqlx::Row;

use crate::{
    Store, StoreError,
    backend::BackendOps,
    indicators::{INDICATOR_COLUMNS, TOPIC, corrupt, indicator_from_row, load_observables},
    with_pool,
};

/// Active indicators holding a value ($1 type, $2 value), valid at $3, of any agency but
/// $4, newest first.
fn holders_sql(limit: u32) -> String {
    format!(
        "SELECT {INDICATOR_COLUMNS} FROM indicators i
         WHERE i.id IN (SELECT indicator_id FROM indicator_observables WHERE type = $1 AND value = $2)
           AND i.revoked_us IS NULL AND (i.valid_until_us IS NULL OR i.valid_until_us > $3)
           AND i.source_agency_id <> $4
         ORDER BY i.created_us DESC, i.id DESC LIMIT {limit}"
    )
}

/// Sightings of a value ($1 type, $2 value), oldest first.
fn sightings_sql(limit: u32) -> String {
    format!(
        "SELECT agency_id, count, first_seen_us, last_seen_us FROM sightings
         WHERE type = $1 AND value = $2 ORDER BY reported_us, id LIMIT {limit}"
    )
}

/// A sightings row: agency, count, first and last seen.
pub(crate) type SightingRow = (String, i64, i64, i64);

pub(crate) fn sighting_from_row(
    observable: &Observable,
    (agency, count, first, last): SightingRow,
) -> Result<SightingRecord, StoreError> {
    Ok(SightingRecord {
        observable: observable.clone(),
        agency: AgencyId::parse(&agency).map_err(|_| corrupt("agency id", &agency))?,
        count: u32::try_from(count).unwrap_or(u32::MAX),
        first_seen: Timestamp::from_micros(first),
        last_seen: Timestamp::from_micros(last),
    })
}

/// What a revocation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeOutcome {
    /// Revoked now (the indicator as stored after).
    Revoked(Indicator),
    /// It was revoked already: nothing changed.
    AlreadyRevoked(Indicator),
}

/// Narrowing filters of a list; visibility is decided afterwards.
#[derive(Debug, Clone)]
pub struct IndicatorFilter {
    /// Any of these categories.
    pub categories: Vec<FraudCategory>,
    /// Any of these TLPs.
    pub tlps: Vec<Tlp>,
    /// Words that must all appear in the title, description or countermeasures.
    pub text: Vec<String>,
    /// Include revoked and expired indicators.
    pub include_inactive: bool,
    /// Now, for expiry.
    pub now: Timestamp,
}

/// Where a list page starts: strictly older than this (created time, id).
pub type ListPosition = (i64, String);

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

/// A correlation to be told to `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrelationRecord {
    /// Id (`cor_…`).
    pub id: String,
    /// The agency told.
    pub target: AgencyId,
    /// The target agency's indicator holding the observable.
    pub own_indicator: ObjectId,
    /// The other agency's indicator.
    pub other_indicator: ObjectId,
    /// The shared observable.
    pub observable: Observable,
}

impl Store {
    /// Revokes an indicator with its stream event and audit record in one transaction.
    /// The caller has checked that it may (the stored owner).
    pub async fn revoke_indicator(
        &self,
        id: &ObjectId,
        reason: &str,
        now: Timestamp,
        audit_record: &[u8],
    ) -> Result<Option<RevokeOutcome>, StoreError> {
        let changed: bool = with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            let done = sqlx::query(
                "UPDATE indicators SET revoked_us = $1, revoke_reason = $2 WHERE id = $3 AND revoked_us IS NULL",
            )
            .bind(now.as_micros())
            .bind(reason)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                tx.rollback().await?;
                false
            } else {
                crate::sequencer::write_outbox!(tx, pool, TOPIC, "revoked", id.as_str(), now, None::<String>);
                let record = String::from_utf8_lossy(audit_record).into_owned();
                crate::sequencer::write_outbox!(tx, pool, crate::audit::TOPIC, "record", id.as_str(), now, Some(record));
                tx.commit().await?;
                true
            }
        });
        if changed {
            self.signals.outbox.notify_one();
        }
        let Some(indicator) = self.get_indicator(id).await? else {
            return Ok(None);
        };
        Ok(Some(if changed {
            RevokeOutcome::Revoked(indicator)
        } else {
            RevokeOutcome::AlreadyRevoked(indicator)
        }))
    }

    /// Up to `limit` candidate indicators older than `before`, newest first, narrowed by
    /// `filter`; the caller keeps those the principal may see.
    pub async fn list_indicators(
        &self,
        filter: &IndicatorFilter,
        before: Option<&ListPosition>,
        limit: u32,
    ) -> Result<Vec<Indicator>, StoreError> {
        let mut sql = format!(
            "SELECT {INDICATOR_COLUMNS} FROM indicators i WHERE (i.created_us < $1 OR (i.created_us = $1 AND i.id < $2))"
        );
        let mut texts: Vec<String> = Vec::new();
        if !filter.include_inactive {
            sql.push_str(
                " AND i.revoked_us IS NULL AND (i.valid_until_us IS NULL OR i.valid_until_us > $3)",
            );
        } else {
            sql.push_str(" AND $3 = $3");
        }
        // Fixed, server-made fragments only; values are bound.
        if !filter.categories.is_empty() {
            let list: Vec<String> = filter
                .categories
                .iter()
                .map(|category| format!("'{}'", category.as_str()))
                .collect();
            sql.push_str(&format!(" AND i.category IN ({})", list.join(", ")));
        }
        if !filter.tlps.is_empty() {
            let list: Vec<String> = filter
                .tlps
                .iter()
                .map(|tlp| format!("'{}'", tlp.as_str()))
                .collect();
            sql.push_str(&format!(" AND i.tlp IN ({})", list.join(", ")));
        }
        for (index, word) in filter.text.iter().enumerate() {
            let n = 4 + index;
            // The texts as stored lowercased by the hub (`search_text`), and the word
            // lowercased the same way: SQLite's LOWER() folds ASCII letters only.
            sql.push_str(&format!(" AND i.search_text LIKE ${n}"));
            // LIKE wildcards in the words are dropped, not interpreted.
            let escaped = word.to_lowercase().replace(['\\', '%', '_'], "");
            texts.push(format!("%{escaped}%"));
        }
        sql.push_str(&format!(
            " ORDER BY i.created_us DESC, i.id DESC LIMIT {limit}"
        ));
        let (before_us, before_id) = before.cloned().unwrap_or((i64::MAX, String::new()));
        // With no position, `id < ''` never holds, so compare against the largest id.
        let before_id = if before.is_none() {
            "~".to_owned()
        } else {
            before_id
        };
        with_pool!(self, pool => {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(before_us)
                .bind(before_id)
                .bind(filter.now.as_micros());
            for text in &texts {
                query = query.bind(text.clone());
            }
            let rows = query.fetch_all(pool).await?;
            let mut indicators = Vec::with_capacity(rows.len());
            for row in &rows {
                let mut indicator = indicator_from_row(row)?;
                load_observables!(pool, indicator);
                indicators.push(indicator);
            }
            Ok(indicators)
        })
    }

    /// Active indicators holding `observable`, newest first, at most `limit`, without
    /// their observables (the caller knows the one that matters). `except` leaves out one
    /// agency's items (a publisher's own, when looking for matches).
    pub async fn indicators_with_observable(
        &self,
        observable: &Observable,
        except: Option<&AgencyId>,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<Indicator>, StoreError> {
        with_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(holders_sql(limit)))
                .bind(observable.kind().as_str())
                .bind(observable.value())
                .bind(now.as_micros())
                .bind(except.map(AgencyId::as_str).unwrap_or(""))
                .fetch_all(pool)
                .await?;
            rows.iter().map(indicator_from_row).collect()
        })
    }

    /// Stores a sighting with its audit record in one transaction.
    pub async fn report_sighting(
        &self,
        reporter: &PrincipalId,
        sighting: &SightingRecord,
        now: Timestamp,
        audit_record: &[u8],
    ) -> Result<String, StoreError> {
        let id = ObjectId::generate(ObjectId::SIGHTING).to_string();
        with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
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
            let record = String::from_utf8_lossy(audit_record).into_owned();
            crate::sequencer::write_outbox!(tx, pool, crate::audit::TOPIC, "record", id.as_str(), now, Some(record));
            tx.commit().await?;
        });
        self.signals.outbox.notify_one();
        Ok(id)
    }

    /// Sightings of an observable, oldest first, at most `limit`.
    pub async fn sightings_of(
        &self,
        observable: &Observable,
        limit: u32,
    ) -> Result<Vec<SightingRecord>, StoreError> {
        let rows: Vec<SightingRow> = with_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sightings_sql(limit)))
                .bind(observable.kind().as_str())
                .bind(observable.value())
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(|row| sighting_from_row(observable, row))
            .collect()
    }

    /// Stores correlations, each with its stream event, in one transaction.
    pub async fn record_correlations(
        &self,
        correlations: &[CorrelationRecord],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        if correlations.is_empty() {
            return Ok(());
        }
        with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            for correlation in correlations {
                sqlx::query(
                    "INSERT INTO correlations (id, target_agency_id, own_indicator_id, other_indicator_id, type, value, created_us)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&correlation.id)
                .bind(correlation.target.as_str())
                .bind(correlation.own_indicator.as_str())
                .bind(correlation.other_indicator.as_str())
                .bind(correlation.observable.kind().as_str())
                .bind(correlation.observable.value())
                .bind(now.as_micros())
                .execute(&mut *tx)
                .await?;
                crate::sequencer::write_outbox!(tx, pool, TOPIC, "correlation", correlation.id.as_str(), now, None::<String>);
            }
            tx.commit().await?;
        });
        self.signals.outbox.notify_one();
        Ok(())
    }

    /// One correlation.
    pub(crate) async fn get_correlation(
        &self,
        id: &str,
    ) -> Result<Option<CorrelationRecord>, StoreError> {
        let row: Option<(String, String, String, String, String)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT target_agency_id, own_indicator_id, other_indicator_id, type, value
                 FROM correlations WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        let Some((target, own, other, kind, value)) = row else {
            return Ok(None);
        };
        let indicator_id = |text: &str| {
            ObjectId::parse(ObjectId::INDICATOR, text).map_err(|_| corrupt("indicator id", text))
        };
        Ok(Some(CorrelationRecord {
            id: id.to_owned(),
            target: AgencyId::parse(&target).map_err(|_| corrupt("agency id", &target))?,
            own_indicator: indicator_id(&own)?,
            other_indicator: indicator_id(&other)?,
            observable: Observable::from_stored(&kind, &value)
                .map_err(|_| corrupt("observable", &kind))?,
        }))
    }
}

impl Store {
    /// Which of `observables` another agency than `agency` holds in any indicator: a cheap
    /// first pass before looking for correlations item by item.
    pub async fn observables_held_by_others(
        &self,
        agency: &AgencyId,
        observables: &[Observable],
    ) -> Result<std::collections::HashSet<(String, String)>, StoreError> {
        let mut held = std::collections::HashSet::new();
        for chunk in observables.chunks(500) {
            // Both columns of the (type, value) index are constrained, so it is used; the
            // pairs of a type with another type's value are dropped below.
            let mut kinds: Vec<&str> = chunk.iter().map(|o| o.kind().as_str()).collect();
            kinds.sort_unstable();
            kinds.dedup();
            let type_list: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 2)).collect();
            let value_list: Vec<String> = (0..chunk.len())
                .map(|i| format!("${}", i + 2 + kinds.len()))
                .collect();
            let sql = format!(
                "SELECT DISTINCT io.type, io.value FROM indicator_observables io
                 JOIN indicators i ON i.id = io.indicator_id
                 WHERE i.source_agency_id <> $1 AND io.type IN ({}) AND io.value IN ({})",
                type_list.join(", "),
                value_list.join(", ")
            );
            let rows: Vec<(String, String)> = with_pool!(self, pool => {
                let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(agency.as_str());
                for kind in &kinds {
                    query = query.bind(*kind);
                }
                for observable in chunk {
                    query = query.bind(observable.value());
                }
                query.fetch_all(pool).await?
            });
            let asked: std::collections::HashSet<(&str, &str)> = chunk
                .iter()
                .map(|o| (o.kind().as_str(), o.value()))
                .collect();
            held.extend(
                rows.into_iter()
                    .filter(|(kind, value)| asked.contains(&(kind.as_str(), value.as_str()))),
            );
        }
        Ok(held)
    }
}

impl Store {
    /// Links standalone observable indicators to a fraud method, with the audit record, in
    /// one transaction. The caller has checked ownership of every item.
    pub async fn link_observables(
        &self,
        fraud_method: &ObjectId,
        observables: &[ObjectId],
        now: Timestamp,
        audit_record: &[u8],
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            for id in observables {
                sqlx::query("UPDATE indicators SET linked_fraud_method_id = $1 WHERE id = $2")
                    .bind(fraud_method.as_str())
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            let record = String::from_utf8_lossy(audit_record).into_owned();
            crate::sequencer::write_outbox!(tx, pool, crate::audit::TOPIC, "record", fraud_method.as_str(), now, Some(record));
            tx.commit().await?;
        });
        self.signals.outbox.notify_one();
        Ok(())
    }
}
