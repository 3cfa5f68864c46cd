//! The indicator exchange beyond publication: revocation, listing, sightings, lookups and
//! correlations. What a viewer may see is decided in SQL before any limit
//! ([`crate::visibility`]); the services check every row again with
//! `liaison_auth::authorize`.

use liaison_core::{
    AgencyId, FraudCategory, Indicator, ObjectId, Observable, ObservableType, PrincipalId,
    Timestamp, Tlp,
};
use sqlx::Row;

use crate::{
    Store, StoreError,
    indicators::{INDICATOR_COLUMNS, TOPIC, indicator_from_row, load_observables_of},
    tx::WritePool,
    visibility::{Viewer, may_receive_from_sql, receive_sql, viewer_sql},
    with_pool,
};

/// Most sightings rows kept per (agency, value): a report past them is added to the
/// agency's newest row, so that one agency cannot crowd out the others' sightings.
pub const SIGHTINGS_PER_AGENCY: usize = 16;

/// "The agency `$n` is a member of the item's sharing group", from the directory.
fn member_sql(agency: &str) -> String {
    format!(
        "i.scope_value IN (SELECT m.group_id FROM sharing_group_members m WHERE m.agency_id = {agency})"
    )
}

/// "The item `i` is active at `now`" (not revoked, not expired).
fn active_sql(now: &str) -> String {
    format!("i.revoked_us IS NULL AND (i.valid_until_us IS NULL OR i.valid_until_us > {now})")
}

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

/// What a revocation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeOutcome {
    /// Revoked now (the indicator as stored after).
    Revoked(Indicator),
    /// It was revoked already: nothing changed.
    AlreadyRevoked(Indicator),
}

/// Narrowing filters of a list (visibility is the [`Viewer`]'s).
#[derive(Debug, Clone)]
pub struct IndicatorFilter {
    /// Any of these categories.
    pub categories: Vec<FraudCategory>,
    /// Holding an observable of any of these types.
    pub observable_types: Vec<ObservableType>,
    /// Of any of these source agencies (never matching others' anonymous items).
    pub source_agencies: Vec<AgencyId>,
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
                crate::outbox::write_outbox!(tx, pool, TOPIC, "revoked", id.as_str(), now, None::<String>);
                let record = String::from_utf8_lossy(audit_record).into_owned();
                crate::outbox::write_outbox!(tx, pool, crate::audit::TOPIC, "record", id.as_str(), now, Some(record));
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

    /// Up to `limit` indicators older than `before` that `viewer` may receive
    /// ([`crate::Viewer`], decided in SQL before the limit), newest first, narrowed by
    /// `filter`, with their observables (one query per page).
    pub async fn list_indicators(
        &self,
        viewer: &Viewer,
        filter: &IndicatorFilter,
        before: Option<&ListPosition>,
        limit: u32,
    ) -> Result<Vec<Indicator>, StoreError> {
        if viewer.hub {
            return Ok(Vec::new());
        }
        let position = self.position_fn();
        let person = if viewer.person { "TRUE" } else { "FALSE" };
        let mut sql = format!(
            "SELECT {INDICATOR_COLUMNS} FROM indicators i WHERE (i.created_us < $1 OR (i.created_us = $1 AND i.id < $2)) AND {}",
            crate::visibility::viewer_sql(position, "$4", "$5", person)
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
        if !filter.observable_types.is_empty() {
            let list: Vec<String> = filter
                .observable_types
                .iter()
                .map(|kind| format!("'{}'", kind.as_str()))
                .collect();
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM indicator_observables o WHERE o.indicator_id = i.id AND o.type IN ({}))",
                list.join(", ")
            ));
        }
        let mut n = 6;
        for word in &filter.text {
            // The texts as stored lowercased by the hub (`search_text`), and the word
            // lowercased the same way: SQLite's LOWER() folds ASCII letters only.
            sql.push_str(&format!(" AND i.search_text LIKE ${n}"));
            n += 1;
            // LIKE wildcards in the words are dropped, not interpreted.
            let escaped = word.to_lowercase().replace(['\\', '%', '_'], "");
            texts.push(format!("%{escaped}%"));
        }
        if !filter.source_agencies.is_empty() {
            // Filtering by source must not reveal the source of anonymous items.
            let list: Vec<String> = (0..filter.source_agencies.len())
                .map(|index| format!("${}", n + index))
                .collect();
            sql.push_str(&format!(
                " AND i.source_agency_id IN ({}) AND (NOT i.anonymous OR i.source_agency_id = $4)",
                list.join(", ")
            ));
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
                .bind(filter.now.as_micros())
                .bind(viewer.agency.as_str())
                .bind(viewer.groups_text());
            for text in &texts {
                query = query.bind(text.clone());
            }
            for agency in &filter.source_agencies {
                query = query.bind(agency.as_str());
            }
            let rows = query.fetch_all(pool).await?;
            let mut indicators = rows
                .iter()
                .map(indicator_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            load_observables_of!(pool, indicators);
            Ok(indicators)
        })
    }

    /// Whether an active indicator that `viewer` may receive holds `observable`.
    pub async fn visible_holder_exists(
        &self,
        viewer: &Viewer,
        observable: &Observable,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        if viewer.hub {
            return Ok(false);
        }
        let person = if viewer.person { "TRUE" } else { "FALSE" };
        let sql = format!(
            "SELECT i.id FROM indicators i
             WHERE i.id IN (SELECT indicator_id FROM indicator_observables WHERE type = $1 AND value = $2)
               AND {} AND {}
             LIMIT 1",
            active_sql("$3"),
            viewer_sql(self.position_fn(), "$4", "$5", person)
        );
        let found: Option<String> = with_pool!(self, pool => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(observable.kind().as_str())
                .bind(observable.value())
                .bind(now.as_micros())
                .bind(viewer.agency.as_str())
                .bind(viewer.groups_text())
                .fetch_optional(pool)
                .await?
        });
        Ok(found.is_some())
    }

    /// What a publication of `published` correlates with on `observable`: for each other
    /// agency, its newest active indicator holding the value where each agency may see
    /// the other's item (decided in SQL, so that no other item counts), without
    /// observables.
    pub async fn correlation_candidates(
        &self,
        published: &Indicator,
        observable: &Observable,
        now: Timestamp,
    ) -> Result<Vec<Indicator>, StoreError> {
        let position = self.position_fn();
        let (they_see_mine, bound) = may_receive_from_sql(
            position,
            &published.content.scope,
            published.content.tlp,
            "$5",
        );
        let sql = format!(
            "SELECT * FROM (
               SELECT {INDICATOR_COLUMNS},
                      ROW_NUMBER() OVER (PARTITION BY i.source_agency_id ORDER BY i.created_us DESC, i.id DESC) AS newest
               FROM indicators i
               WHERE i.id IN (SELECT indicator_id FROM indicator_observables WHERE type = $1 AND value = $2)
                 AND {} AND i.source_agency_id <> $4 AND {} AND {they_see_mine}
             ) c WHERE c.newest = 1 ORDER BY c.created_us DESC, c.id DESC",
            active_sql("$3"),
            receive_sql(position, "$4", &member_sql("$4"), "TRUE"),
        );
        with_pool!(self, pool => {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(observable.kind().as_str())
                .bind(observable.value())
                .bind(now.as_micros())
                .bind(published.source_agency.as_str());
            if let Some(bound) = bound {
                query = query.bind(bound);
            }
            let rows = query.fetch_all(pool).await?;
            rows.iter().map(indicator_from_row).collect()
        })
    }

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
                crate::outbox::write_outbox!(tx, pool, TOPIC, "correlation", correlation.id.as_str(), now, None::<String>);
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
            ObjectId::parse(ObjectId::INDICATOR, text)
                .map_err(|_| StoreError::corrupt("indicator id", text))
        };
        Ok(Some(CorrelationRecord {
            id: id.to_owned(),
            target: AgencyId::parse(&target)
                .map_err(|_| StoreError::corrupt("agency id", &target))?,
            own_indicator: indicator_id(&own)?,
            other_indicator: indicator_id(&other)?,
            observable: Observable::from_stored(&kind, &value)
                .map_err(|_| StoreError::corrupt("observable", &kind))?,
        }))
    }
}

impl Store {
    /// Which of `observables` another agency than `agency` holds in an active indicator
    /// that `agency` may see: a cheap first pass before looking for correlations item by
    /// item. Revoked, expired and invisible items count for nothing, so the time a
    /// publication takes tells only what a Lookup by the publisher's agency could.
    pub async fn observables_held_by_others(
        &self,
        agency: &AgencyId,
        observables: &[Observable],
    ) -> Result<std::collections::HashSet<(String, String)>, StoreError> {
        let now = Timestamp::from_system_time(std::time::SystemTime::now());
        let visible = receive_sql(self.position_fn(), "$1", &member_sql("$1"), "TRUE");
        let mut held = std::collections::HashSet::new();
        for chunk in observables.chunks(500) {
            // Both columns of the (type, value) index are constrained, so it is used; the
            // pairs of a type with another type's value are dropped below.
            let mut kinds: Vec<&str> = chunk.iter().map(|o| o.kind().as_str()).collect();
            kinds.sort_unstable();
            kinds.dedup();
            let type_list: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 3)).collect();
            let value_list: Vec<String> = (0..chunk.len())
                .map(|i| format!("${}", i + 3 + kinds.len()))
                .collect();
            let sql = format!(
                "SELECT DISTINCT io.type, io.value FROM indicator_observables io
                 JOIN indicators i ON i.id = io.indicator_id
                 WHERE i.source_agency_id <> $1 AND {} AND {visible}
                   AND io.type IN ({}) AND io.value IN ({})",
                active_sql("$2"),
                type_list.join(", "),
                value_list.join(", ")
            );
            let rows: Vec<(String, String)> = with_pool!(self, pool => {
                let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(agency.as_str())
                    .bind(now.as_micros());
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
            crate::outbox::write_outbox!(tx, pool, crate::audit::TOPIC, "record", fraud_method.as_str(), now, Some(record));
            tx.commit().await?;
        });
        self.signals.outbox.notify_one();
        Ok(())
    }
}
