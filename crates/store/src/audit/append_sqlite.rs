//! A group of audit records on SQLite: BEGIN IMMEDIATE, the inserts, the counter and the
//! COMMIT in one query.

use sqlx::SqlitePool;

use super::{
    AppendGroup,
    leaf::{Leaf, sqlite_leaf_inserts},
};
use crate::tx::WriteTurn;

impl AppendGroup for SqlitePool {
    async fn append_group(
        &self,
        connection: &mut sqlx::SqliteConnection,
        turn: &WriteTurn,
        leaves: Vec<Leaf>,
        sequenced_us: i64,
    ) -> Result<i64, sqlx::Error> {
        // As `begin_sequencing`, on the given connection, with the transaction's BEGIN
        // IMMEDIATE and COMMIT in the same query as its work: each statement sqlx hands to
        // the connection's thread costs a hand-over (a few hundred microseconds on a busy
        // machine), and a group is written one at a time. The leaves are placed from the
        // counter as it stands in the transaction, and the counter moved.
        let _turn = turn.take().await?;
        let count = i64::try_from(leaves.len()).unwrap_or(i64::MAX);
        let mut query = sqlite_leaf_inserts(
            sqlx::QueryBuilder::new("BEGIN IMMEDIATE;\n"),
            &leaves,
            "(SELECT next_leaf FROM audit_sequence WHERE id = 1)",
            sequenced_us,
        );
        query.push("UPDATE audit_sequence SET next_leaf = next_leaf + ");
        query.push_bind(count);
        query.push(" WHERE id = 1 RETURNING next_leaf;\nCOMMIT");
        // `fetch_all`: every statement, the COMMIT too, runs before the one row is read.
        let written = query
            .build_query_scalar::<i64>()
            .persistent(false)
            .fetch_all(&mut *connection)
            .await;
        match written {
            Ok(sizes) => sizes.last().copied().ok_or(sqlx::Error::RowNotFound),
            Err(error) => {
                // Whatever ran of it is undone now, while this writer's turn is held, so
                // that no write lock outlives the turn (the connection is then dropped,
                // not kept). With no transaction open (BEGIN itself failed) the ROLLBACK
                // fails, and that is fine.
                let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *connection).await;
                Err(error)
            }
        }
    }
}
