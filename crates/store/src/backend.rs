//! What differs between the two backends, behind one trait so that query code is written once.

use sqlx::{Database, PgPool, SqlitePool, Transaction};

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
}
