//! Indicator inserts on SQLite: multi-row `VALUES`.

use sqlx::SqlitePool;

use super::write::{IndicatorRows, IndicatorWrite};
use crate::tx::WriteTx;

impl IndicatorWrite for SqlitePool {
    async fn insert_indicators(
        &self,
        tx: &mut WriteTx<Self::Db>,
        rows: &IndicatorRows<'_>,
    ) -> Result<(), sqlx::Error> {
        // Multi-row VALUES: a batch is mostly full (500 rows, one text), and SQLite reads
        // bound values faster than it re-parses a JSON object once per column.
        const ROWS: usize = 500;
        for chunk in rows.indicators.chunks(ROWS) {
            let mut query = sqlx::QueryBuilder::new(
                "INSERT INTO indicators (id, source_agency_id, publisher, title, description, countermeasures,
                    category, language, first_seen_us, valid_until_us, confidence, evaluation, tlp,
                    scope_kind, scope_value, anonymous, created_us, search_text) ",
            );
            query.push_values(chunk, |mut row, item| {
                row.push_bind(item.id.to_owned())
                    .push_bind(item.source.to_owned())
                    .push_bind(rows.publisher.to_owned())
                    .push_bind(item.title.map(str::to_owned))
                    .push_bind(item.description.map(str::to_owned))
                    .push_bind(item.countermeasures.map(str::to_owned))
                    .push_bind(item.category.map(str::to_owned))
                    .push_bind(item.language.to_owned())
                    .push_bind(item.first_seen_us)
                    .push_bind(item.valid_until_us)
                    .push_bind(item.confidence)
                    .push_bind(item.evaluation.clone())
                    .push_bind(item.tlp.to_owned())
                    .push_bind(item.scope_kind.to_owned())
                    .push_bind(item.scope_value.clone())
                    .push_bind(item.anonymous)
                    .push_bind(rows.created_us)
                    .push_bind(item.search_text.clone());
            });
            query.build().execute(&mut **tx).await?;
        }
        for chunk in rows.observables.chunks(ROWS) {
            let mut query = sqlx::QueryBuilder::new(
                "INSERT INTO indicator_observables (indicator_id, ordinal, type, value) ",
            );
            query.push_values(chunk, |mut row, (id, ordinal, kind, value)| {
                row.push_bind(id.to_string())
                    .push_bind(*ordinal)
                    .push_bind(kind.to_string())
                    .push_bind(value.to_string());
            });
            query.build().execute(&mut **tx).await?;
        }
        Ok(())
    }
}
