//! Listing and the visibility probes: what a viewer may see is decided in SQL before any
//! limit ([`crate::visibility`]); the services check every row again with
//! `liaison_auth::authorize`.

use liaison_core::{
    AgencyId, FraudCategory, Indicator, Observable, ObservableType, Timestamp, Tlp,
};

use super::{INDICATOR_COLUMNS, active_sql, indicator_from_row, load_observables_of, member_sql};
use crate::{
    Store, StoreError,
    visibility::{Viewer, receive_sql, viewer_sql},
    with_pool,
};

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

/// The filters of `filter` with a fixed set of values (categories, TLPs, observable
/// types) as SQL: server-made fragments of known names only; values a caller chose are
/// bound instead.
fn fixed_filters_sql(filter: &IndicatorFilter) -> String {
    let mut sql = String::new();
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
    sql
}

impl Store {
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
        sql.push_str(&fixed_filters_sql(filter));
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
