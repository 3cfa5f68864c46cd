//! What differs between the two backends, behind one trait so that query code is written once.

use sqlx::{Database, PgPool, SqlitePool, Transaction};

use crate::{audit::Leaf, sequencer::INSERT_CHUNK};

/// Backend-specific operations used inside [`with_pool!`](crate::with_pool) bodies.
pub(crate) trait BackendOps {
    type Db: Database;

    /// Begins a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so two writers never deadlock upgrading read locks.
    async fn begin_write(&self) -> Result<Transaction<'static, Self::Db>, sqlx::Error>;

    /// SQL that, run inside a transaction, tells other replicas on commit that the outbox
    /// has new rows. `None` where there are no other replicas.
    fn notify_outbox_sql(&self) -> Option<&'static str>;

    /// SQL that takes the sequencer's lock until the end of the transaction.
    fn sequencer_lock_sql(&self) -> Option<&'static str>;

    /// Appends audit leaves and their object index inside the sequencer's transaction, in
    /// as few statements as the backend allows.
    async fn insert_leaves(
        &self,
        tx: &mut Transaction<'static, Self::Db>,
        leaves: &[Leaf],
        sequenced_us: i64,
    ) -> Result<(), sqlx::Error>;
}

/// The object index rows of some leaves: (leaf index, object id, owner), each object once
/// per leaf.
fn object_rows(leaves: &[Leaf]) -> Vec<(i64, String, Option<String>)> {
    let mut rows = Vec::new();
    for leaf in leaves {
        let mut seen = std::collections::BTreeSet::new();
        for (object_id, owner) in &leaf.indexed.objects {
            if seen.insert(object_id.as_str()) {
                rows.push((leaf.index, object_id.clone(), owner.clone()));
            }
        }
    }
    rows
}

impl BackendOps for SqlitePool {
    type Db = sqlx::Sqlite;

    async fn begin_write(&self) -> Result<Transaction<'static, Self::Db>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }

    fn notify_outbox_sql(&self) -> Option<&'static str> {
        None
    }

    fn sequencer_lock_sql(&self) -> Option<&'static str> {
        // One node: BEGIN IMMEDIATE already serialises every writer.
        None
    }

    async fn insert_leaves(
        &self,
        tx: &mut Transaction<'static, Self::Db>,
        leaves: &[Leaf],
        sequenced_us: i64,
    ) -> Result<(), sqlx::Error> {
        // Multi-row inserts, in chunks well under SQLite's parameter limit.
        for chunk in leaves.chunks(INSERT_CHUNK) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO audit_log (leaf_index, record, leaf_hash, sequenced_us, time_us, actor_agency, \
                 actor_principal, method, outcome) ",
            );
            insert.push_values(chunk, |mut row, leaf| {
                row.push_bind(leaf.index)
                    .push_bind(leaf.record.clone())
                    .push_bind(leaf.hash.clone())
                    .push_bind(sequenced_us)
                    .push_bind(leaf.indexed.time_us)
                    .push_bind(leaf.indexed.actor_agency.clone())
                    .push_bind(leaf.indexed.actor_principal.clone())
                    .push_bind(leaf.indexed.method.clone())
                    .push_bind(leaf.indexed.outcome);
            });
            insert.build().execute(&mut **tx).await?;
        }
        for chunk in object_rows(leaves).chunks(INSERT_CHUNK) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO audit_objects (leaf_index, object_id, owner_agency) ",
            );
            insert.push_values(chunk, |mut row, (index, object_id, owner)| {
                row.push_bind(*index)
                    .push_bind(object_id.clone())
                    .push_bind(owner.clone());
            });
            insert.build().execute(&mut **tx).await?;
        }
        Ok(())
    }
}

impl BackendOps for PgPool {
    type Db = sqlx::Postgres;

    async fn begin_write(&self) -> Result<Transaction<'static, Self::Db>, sqlx::Error> {
        self.begin().await
    }

    fn notify_outbox_sql(&self) -> Option<&'static str> {
        Some("SELECT pg_notify('liaison_outbox', '')")
    }

    fn sequencer_lock_sql(&self) -> Option<&'static str> {
        // Arbitrary constant key: one sequencer at a time across every replica.
        Some("SELECT pg_advisory_xact_lock(5496701239461658113)")
    }

    async fn insert_leaves(
        &self,
        tx: &mut Transaction<'static, Self::Db>,
        leaves: &[Leaf],
        sequenced_us: i64,
    ) -> Result<(), sqlx::Error> {
        // One statement per table: each column travels as one array parameter.
        sqlx::query(
            "INSERT INTO audit_log (leaf_index, record, leaf_hash, sequenced_us, time_us, actor_agency,
                actor_principal, method, outcome)
             SELECT index, record, hash, $4, time_us, agency, principal, method, outcome
             FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $5::BIGINT[], $6::TEXT[], $7::TEXT[], $8::TEXT[],
                         $9::BIGINT[])
                  AS leaf(index, record, hash, time_us, agency, principal, method, outcome)",
        )
        .bind(leaves.iter().map(|leaf| leaf.index).collect::<Vec<_>>())
        .bind(leaves.iter().map(|leaf| leaf.record.clone()).collect::<Vec<_>>())
        .bind(leaves.iter().map(|leaf| leaf.hash.clone()).collect::<Vec<_>>())
        .bind(sequenced_us)
        .bind(leaves.iter().map(|leaf| leaf.indexed.time_us).collect::<Vec<_>>())
        .bind(leaves.iter().map(|leaf| leaf.indexed.actor_agency.clone()).collect::<Vec<_>>())
        .bind(leaves.iter().map(|leaf| leaf.indexed.actor_principal.clone()).collect::<Vec<_>>())
        .bind(leaves.iter().map(|leaf| leaf.indexed.method.clone()).collect::<Vec<_>>())
        .bind(leaves.iter().map(|leaf| leaf.indexed.outcome).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
        let objects = object_rows(leaves);
        if !objects.is_empty() {
            sqlx::query(
                "INSERT INTO audit_objects (leaf_index, object_id, owner_agency)
                 SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[])",
            )
            .bind(objects.iter().map(|row| row.0).collect::<Vec<_>>())
            .bind(objects.iter().map(|row| row.1.clone()).collect::<Vec<_>>())
            .bind(objects.iter().map(|row| row.2.clone()).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }
}
