//! The write turn and the write transaction: how a writer begins on each backend.
//!
//! SQLite lets one writer in at a time, so this process's writers take turns
//! ([`WriteTurn`]) before `BEGIN IMMEDIATE`; PostgreSQL needs no turn. The sequencer's
//! transaction additionally holds a PostgreSQL advisory lock, one sequencer across every
//! replica ([`sequencer_lock_key`]).

use std::{sync::Arc, time::Duration};

use sqlx::{Database, PgPool, SqlitePool, Transaction};

/// How long a writer waits for its turn before it gives up, as long as SQLite's own busy
/// timeout: a writer that would wait longer gets an error, never hangs.
const TURN_WAIT: Duration = Duration::from_secs(10);

/// The key of the sequencer's PostgreSQL advisory lock: an arbitrary constant, one
/// sequencer at a time across every replica. A macro, so that SQL texts can `concat!` it.
macro_rules! sequencer_lock_key {
    () => {
        "5496701239461658113"
    };
}
pub(crate) use sequencer_lock_key;

/// This process's turn to write to its SQLite file. SQLite lets one writer in at a time;
/// a writer that finds the file locked sleeps in SQLite's busy handler (1 ms, 2 ms, 5 ms,
/// …) and retries, so writers that collide — the audit group commit, the sequencer, a
/// publication — lost milliseconds each time. Taking turns here first, in arrival order,
/// leaves the busy handler to writers of other processes. PostgreSQL needs no turn.
#[derive(Debug, Clone, Default)]
pub(crate) struct WriteTurn(Arc<tokio::sync::Mutex<()>>);

impl WriteTurn {
    pub(crate) async fn take(&self) -> Result<tokio::sync::OwnedMutexGuard<()>, sqlx::Error> {
        tokio::time::timeout(TURN_WAIT, Arc::clone(&self.0).lock_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)
    }
}

/// A write transaction, holding the writer's turn (on SQLite) until it ends. It derefs to
/// the connection, like [`Transaction`].
pub(crate) struct WriteTx<DB: Database> {
    tx: Transaction<'static, DB>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl<DB: Database> WriteTx<DB> {
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl<DB: Database> std::ops::Deref for WriteTx<DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl<DB: Database> std::ops::DerefMut for WriteTx<DB> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

/// How a writer begins on each backend; implemented for both pools below.
pub(crate) trait WritePool {
    type Db: Database;

    /// Begins a transaction that will write. On SQLite it waits for this process's
    /// `turn`, then takes the write lock at once (`BEGIN IMMEDIATE`), so two writers never
    /// deadlock upgrading read locks.
    async fn begin_write(&self, turn: &WriteTurn) -> Result<WriteTx<Self::Db>, sqlx::Error>;

    /// SQL that, run inside a transaction, tells other replicas on commit that the outbox
    /// has new rows. `None` where there are no other replicas.
    fn notify_outbox_sql(&self) -> Option<&'static str>;

    /// Whether one writer at a time holds the database (SQLite): a writer that must wait
    /// for its turn in some order of its own (a batch of a stream) waits before it begins.
    fn one_writer(&self) -> bool;

    /// Begins a write transaction that holds the sequencer's lock until it ends: the only
    /// kind in which positions and leaf indexes are assigned.
    async fn begin_sequencing(&self, turn: &WriteTurn) -> Result<WriteTx<Self::Db>, sqlx::Error>;
}

impl WritePool for SqlitePool {
    type Db = sqlx::Sqlite;

    async fn begin_write(&self, turn: &WriteTurn) -> Result<WriteTx<Self::Db>, sqlx::Error> {
        let turn = turn.take().await?;
        Ok(WriteTx {
            tx: self.begin_with("BEGIN IMMEDIATE").await?,
            _turn: Some(turn),
        })
    }

    fn notify_outbox_sql(&self) -> Option<&'static str> {
        None
    }

    fn one_writer(&self) -> bool {
        true
    }

    async fn begin_sequencing(&self, turn: &WriteTurn) -> Result<WriteTx<Self::Db>, sqlx::Error> {
        // One node: BEGIN IMMEDIATE already serialises every writer.
        self.begin_write(turn).await
    }
}

impl WritePool for PgPool {
    type Db = sqlx::Postgres;

    async fn begin_write(&self, _turn: &WriteTurn) -> Result<WriteTx<Self::Db>, sqlx::Error> {
        Ok(WriteTx {
            tx: self.begin().await?,
            _turn: None,
        })
    }

    fn notify_outbox_sql(&self) -> Option<&'static str> {
        Some("SELECT pg_notify('liaison_outbox', '')")
    }

    fn one_writer(&self) -> bool {
        false
    }

    async fn begin_sequencing(&self, _turn: &WriteTurn) -> Result<WriteTx<Self::Db>, sqlx::Error> {
        // One round trip. The outbox is a queue: between vacuums it is mostly dead
        // rows, and a plan made while it looked empty would scan them all; its primary key
        // is the way. An error in any of the three fails the BEGIN.
        Ok(WriteTx {
            tx: self
                .begin_with(concat!(
                    "BEGIN; SELECT pg_advisory_xact_lock(",
                    sequencer_lock_key!(),
                    "); SET LOCAL enable_seqscan = off"
                ))
                .await?,
            _turn: None,
        })
    }
}
