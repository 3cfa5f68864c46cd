//! Correlations: another agency published a value an agency holds, and each may see the
//! other's item; the target agency is told through the indicator stream.

use liaison_core::{AgencyId, Indicator, ObjectId, Observable, Timestamp};

use super::{INDICATOR_COLUMNS, TOPIC, active_sql, indicator_from_row, member_sql};
use crate::{
    Store, StoreError,
    tx::WritePool,
    visibility::{may_receive_from_sql, receive_sql},
    with_pool,
};

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
