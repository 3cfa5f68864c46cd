//! A group of audit records on PostgreSQL: one statement under the sequencer's lock.

use sqlx::PgPool;

use super::{
    AppendGroup,
    leaf::{Leaf, bind_leaf_columns, object_rows},
};
use crate::{
    bulk::column,
    tx::{WriteTurn, sequencer_lock_key},
};

impl AppendGroup for PgPool {
    async fn append_group(
        &self,
        connection: &mut sqlx::PgConnection,
        _turn: &WriteTurn,
        leaves: Vec<Leaf>,
        sequenced_us: i64,
    ) -> Result<i64, sqlx::Error> {
        // One statement, in a transaction of its own: one round trip. The sequencer's lock
        // is taken (`locked`) before the counter row is locked for update; should the
        // sequencer have moved the counter since this statement's snapshot was taken, the
        // update (READ COMMITTED) re-reads the row as committed, so `first` is always the
        // counter as it stands under the lock. Leaves and objects come indexed from 0 within
        // the group and are placed from `first`.
        let objects = object_rows(&leaves);
        let count = i64::try_from(leaves.len()).unwrap_or(i64::MAX);
        let query = sqlx::query_scalar(concat!(
            "WITH locked AS MATERIALIZED (
                 SELECT pg_advisory_xact_lock(",
            sequencer_lock_key!(),
            ")::TEXT AS held
             ), counted AS (
                 UPDATE audit_sequence SET next_leaf = next_leaf + $14
                 WHERE id = 1 AND EXISTS (SELECT 1 FROM locked)
                 RETURNING next_leaf - $14 AS first
             ), logged AS (
                 INSERT INTO audit_log (leaf_index, record, leaf_hash, sequenced_us, time_us, actor_agency,
                     actor_principal, method, outcome)
                 SELECT counted.first + leaf.index, record, hash, $4, time_us, agency, principal, method, outcome
                 FROM counted,
                      UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $5::BIGINT[], $6::TEXT[], $7::TEXT[],
                             $8::TEXT[], $9::BIGINT[])
                      AS leaf(index, record, hash, time_us, agency, principal, method, outcome)
             ), indexed AS (
                 INSERT INTO audit_objects (leaf_index, object_id, owner_agency, anonymous)
                 SELECT counted.first + object.index, object.id, object.owner, object.anonymous
                 FROM counted, UNNEST($10::BIGINT[], $11::TEXT[], $12::TEXT[], $13::BOOLEAN[])
                      AS object(index, id, owner, anonymous)
             )
             SELECT first + $14 FROM counted",
        ));
        bind_leaf_columns!(query, &leaves, &objects, sequenced_us)
            .bind(count)
            .fetch_one(connection)
            .await
    }
}
