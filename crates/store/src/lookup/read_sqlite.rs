//! Lookup's read on SQLite: no `LATERAL`, so one statement per value, on one connection.

use sqlx::SqlitePool;

use super::{
    ReadRecords,
    sql::{ReadKey, RecordRow, observable_record_sql},
};

impl ReadRecords for SqlitePool {
    async fn read_records(
        &self,
        connection: &mut sqlx::SqliteConnection,
        keys: &[&ReadKey],
        holders: u32,
        sightings: u32,
    ) -> Result<Vec<RecordRow>, sqlx::Error> {
        // No LATERAL: a statement per value, on the one connection.
        let sql = observable_record_sql(holders, sightings);
        let mut all = Vec::new();
        for (key, n) in keys.iter().zip(1_i64..) {
            let rows: Vec<RecordRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(key.kind)
                .bind(key.value.as_str())
                .bind(key.now_us)
                .bind(n)
                .bind(key.agency.as_str())
                .bind(key.groups.as_str())
                .bind(key.person)
                .fetch_all(&mut *connection)
                .await?;
            all.extend(rows);
        }
        Ok(all)
    }
}
