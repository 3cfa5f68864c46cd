//! A sequencer pass's writes on PostgreSQL: each column an array parameter, the
//! notification of the new high-water mark on the same statement as the deletion.

use sqlx::PgPool;

use super::{Pass, PassWrite};
use crate::{
    audit::leaf::{bind_leaf_columns, object_rows},
    bulk::column,
    tx::WriteTx,
};

impl PassWrite for PgPool {
    async fn write_pass(
        &self,
        tx: &mut WriteTx<Self::Db>,
        pass: &Pass<'_>,
    ) -> Result<(), sqlx::Error> {
        if !pass.events.is_empty() {
            sqlx::query(
                "INSERT INTO events (position, topic, event_kind, object_id, created_us, sequenced_us)
                 SELECT position, topic, kind, object_id, created_us, $6
                 FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::BIGINT[])
                      AS row(position, topic, kind, object_id, created_us)",
            )
            .bind(column(pass.events, |row| row.0))
            .bind(column(pass.events, |row| row.1.as_str()))
            .bind(column(pass.events, |row| row.2.as_str()))
            .bind(column(pass.events, |row| row.3.as_str()))
            .bind(column(pass.events, |row| row.4))
            .bind(pass.sequenced_us)
            .execute(&mut **tx)
            .await?;
        }
        if !pass.leaves.is_empty() {
            // One statement: each column travels as one array parameter, and the object index
            // and the counter are written by the same statement's data-modifying parts.
            let objects = object_rows(pass.leaves);
            let query = sqlx::query(include_str!("pass_pg_leaves.sql"));
            bind_leaf_columns!(query, pass.leaves, &objects, pass.sequenced_us)
                .bind(pass.size)
                .execute(&mut **tx)
                .await?;
        }
        // The range lets the planner walk the primary key: a queue table holds mostly
        // dead rows between vacuums, and a sequential scan would read every one of them.
        let (Some(first), Some(last)) = (pass.ids.iter().min(), pass.ids.iter().max()) else {
            return Ok(());
        };
        // The notification rides on the same statement: one round trip fewer per pass.
        sqlx::query(
            "WITH deleted AS (DELETE FROM outbox WHERE id BETWEEN $1 AND $2 AND id = ANY($3))
             SELECT pg_notify('liaison_events', $4)",
        )
        .bind(first)
        .bind(last)
        .bind(pass.ids)
        .bind(pass.high_water.to_string())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}
