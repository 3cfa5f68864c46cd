//! A sequencer pass's writes on SQLite: one query of several statements.

use sqlx::SqlitePool;

use super::{EventRow, Pass, PassWrite};
use crate::{
    audit::leaf::sqlite_leaf_inserts,
    bulk::{CHUNK_MAX, json_rows},
    tx::WriteTx,
};

impl PassWrite for SqlitePool {
    async fn write_pass(
        &self,
        tx: &mut WriteTx<Self::Db>,
        pass: &Pass<'_>,
    ) -> Result<(), sqlx::Error> {
        // One query of several statements, which the connection's thread runs in one turn
        // (each statement sent on its own would be a hand-over to that thread and back, on
        // the way of every delivery). Its text varies with the row counts: not kept
        // prepared.
        let mut query = sqlite_leaf_inserts(
            sqlite_event_inserts(pass.events, pass.sequenced_us),
            pass.leaves,
            "0",
            pass.sequenced_us,
        );
        if !pass.leaves.is_empty() {
            query.push("UPDATE audit_sequence SET next_leaf = ");
            query.push_bind(pass.size);
            query.push(" WHERE id = 1;\n");
        }
        query.push("DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(");
        query.push_bind(json_rows(pass.ids.iter()));
        query.push("))");
        query.build().persistent(false).execute(&mut **tx).await?;
        Ok(())
    }
}

/// The statements that insert sequenced `events` on SQLite, multi-row `VALUES` of at
/// most [`CHUNK_MAX`] rows, each ended by `;`: the start of a query with more statements
/// after them (see [`sqlite_leaf_inserts`]).
fn sqlite_event_inserts(
    events: &[EventRow],
    sequenced_us: i64,
) -> sqlx::QueryBuilder<sqlx::Sqlite> {
    let mut query = sqlx::QueryBuilder::new("");
    for chunk in events.chunks(CHUNK_MAX) {
        query.push(
            "INSERT INTO events (position, topic, event_kind, object_id, created_us, sequenced_us) ",
        );
        query.push_values(
            chunk,
            |mut row, (position, topic, kind, object_id, created_us)| {
                row.push_bind(*position)
                    .push_bind(topic.clone())
                    .push_bind(kind.clone())
                    .push_bind(object_id.clone())
                    .push_bind(*created_us)
                    .push_bind(sequenced_us);
            },
        );
        query.push(";\n");
    }
    query
}
