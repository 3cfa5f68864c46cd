//! Lookup's read on PostgreSQL: many values in one statement, with its generic plan.

use sqlx::PgPool;

use super::{
    ReadRecords,
    sql::{ReadKey, RecordRow, observable_records_sql},
};
use crate::bulk::column;

impl ReadRecords for PgPool {
    async fn read_records(
        &self,
        connection: &mut sqlx::PgConnection,
        keys: &[&ReadKey],
        holders: u32,
        sightings: u32,
    ) -> Result<Vec<RecordRow>, sqlx::Error> {
        use sqlx::Connection;
        // The generic plan for this transaction only: see the module docs of `lookup`.
        let mut tx = connection
            .begin_with("BEGIN READ ONLY; SET LOCAL plan_cache_mode = force_generic_plan")
            .await?;
        let rows = sqlx::query_as(sqlx::AssertSqlSafe(observable_records_sql(
            holders, sightings,
        )))
        .bind(column(keys, |key| key.kind))
        .bind(column(keys, |key| key.value.as_str()))
        .bind(column(keys, |key| key.now_us))
        .bind(column(keys, |key| key.agency.as_str()))
        .bind(column(keys, |key| key.groups.as_str()))
        .bind(column(keys, |key| key.person))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows)
    }
}
