//! Liaison's storage: one database, SQLite by default and PostgreSQL in production, with
//! the same schema and the same queries (`$1` placeholders work on both).
//!
//! Only this crate speaks SQL. Services call typed methods on [`Store`] that take and
//! return `liaison-core` types.
//!
//! Streams are served from the `events` table, whose positions the [`sequencer`] assigns
//! after commit from the `outbox` queue, so that cursor order is commit order.

mod audit;
mod bulk;
mod cbm;
mod directory;
mod error;
mod gauges;
mod idempotency;
mod indicators;
mod kept;
mod lookup;
mod migrate;
mod mla;
mod outbox;
pub mod sequencer;
mod tx;
mod visibility;
mod wal;

use std::{str::FromStr, sync::Arc, time::Duration};

use liaison_core::Timestamp;
use sqlx::{
    postgres::{PgPool, PgPoolOptions},
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
};
use tokio::sync::{Notify, watch};

pub use audit::{AuditLeafRow, AuditQuery, OutcomeClass, StoredCheckpoint};
pub use cbm::checks::CheckAnswer;
pub use cbm::contacts::PocChange;
pub use cbm::notifications::{AckChange, MailboxQuery};
pub use cbm::{CbmEvent, CbmEventKind};
pub use directory::federation::LOAD_FEDERATION_METHOD;
pub use directory::read::{AgencyRecord, Page, StateRecord};
pub use directory::write::{DirectoryChange, DirectoryWrite, SharingGroupRecord};
pub use error::StoreError;
pub use gauges::StoreGauges;
pub use idempotency::WriteOutcome;
pub use indicators::correlations::CorrelationRecord;
pub use indicators::events::{IndicatorEvent, IndicatorEventKind};
pub use indicators::list::{IndicatorFilter, ListPosition};
pub use indicators::publish::{
    AuditRecordFn, BatchChain, BatchOrder, BatchRecordFn, PublishOutcome, RECORD_OBJECTS,
};
pub use indicators::revoke::RevokeOutcome;
pub use indicators::sightings::{SIGHTINGS_PER_AGENCY, SightingRecord};
pub use lookup::Holder;
pub use mla::evidence::MlaEvidenceRow;
pub use mla::messages::MlaMessageRow;
pub use mla::{
    MlaDeadline, MlaEvent, MlaFilter, MlaReceiptRow, MlaRecord, MlaWrite, MlaWriteOutcome,
};
pub use visibility::Viewer;

/// Runs `$body` with `$pool` bound to the concrete pool of the backend in use. The body
/// is compiled once per backend, so one query text serves both.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            $crate::Backend::Sqlite($pool) => $body,
            $crate::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// How long a PostgreSQL connection may sit idle in the pool before it is pinged on
/// acquire.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// Which database a store uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// One SQLite file: a single node.
    Sqlite,
    /// PostgreSQL: one or many replicas.
    Postgres,
}

#[derive(Debug, Clone)]
pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Wake-ups between writers, the sequencer and stream readers in this process.
#[derive(Debug)]
pub(crate) struct Signals {
    /// Signalled after a commit that wrote outbox rows.
    outbox: Notify,
    /// The highest sequenced event position known to this process.
    high_water: watch::Sender<u64>,
    /// The audit log's size as this process last sequenced it.
    audit_size: watch::Sender<u64>,
    /// The largest tree size this process signed or saw signed.
    checkpoint_size: watch::Sender<u64>,
    /// Bumped after every operator write to the directory.
    directory: watch::Sender<u64>,
}

/// A handle on the database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) backend: Backend,
    pub(crate) signals: Arc<Signals>,
    /// The group-commit queue of audit records written on their own (see
    /// `Store::append_audit`), started by the first such write.
    pub(crate) audit_writer: Arc<std::sync::OnceLock<audit::AuditQueue>>,
    /// The queue of Lookup reads (see `lookup`), started by the first Lookup.
    pub(crate) lookup_reader: Arc<std::sync::OnceLock<lookup::ReadQueue>>,
    /// The live tail of the indicator stream, shared by this process's subscribers.
    pub(crate) indicator_tail: Arc<tokio::sync::Mutex<indicators::tail::Tail>>,
    /// Writers of this process take turns (SQLite; see `tx::WriteTurn`).
    pub(crate) write_turn: tx::WriteTurn,
    /// Connections kept out of the pool for the most frequent statements (see `kept`).
    pub(crate) kept: Arc<kept::KeptConnections>,
    /// Wake-ups of the SQLite WAL's checkpointer (see `wal`), started by the first write.
    pub(crate) checkpointer: Arc<std::sync::OnceLock<wal::WalQueue>>,
}

impl Store {
    /// Opens (creating if needed) the SQLite database at `path`.
    pub async fn open_sqlite(path: &std::path::Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // The store checkpoints off the writers' path (see `wal`).
            .pragma("wal_autocheckpoint", wal::BACKSTOP_PAGES.to_string());
        let pool = SqlitePoolOptions::new()
            .max_connections(8 + kept::KEPT_MAX)
            // A connection is a thread over a local file: it does not drop while idle, and
            // sqlx pings it on release anyway. A ping on acquire too cost every query one
            // more round trip to that thread.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        Ok(Self::with_backend(Backend::Sqlite(pool)))
    }

    /// Connects to PostgreSQL at `url` (`postgres://user:password@host/database`).
    pub async fn connect_postgres(url: &str) -> Result<Self, StoreError> {
        let options = sqlx::postgres::PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(16 + kept::KEPT_MAX)
            .acquire_timeout(Duration::from_secs(10))
            // sqlx pings every connection as it returns to the pool; one that returned
            // moments ago was alive then, and a ping on acquire too would cost each use of
            // the pool a second round trip. Connections idle for longer are pinged.
            .test_before_acquire(false)
            .before_acquire(|connection, meta| {
                Box::pin(async move {
                    if meta.idle_for > IDLE_BEFORE_PING {
                        sqlx::Connection::ping(connection).await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options)
            .await?;
        Ok(Self::with_backend(Backend::Postgres(pool)))
    }

    /// Opens the database a URL names: `postgres://…`/`postgresql://…`, or `sqlite://PATH`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::connect_postgres(url).await
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            Self::open_sqlite(std::path::Path::new(path)).await
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }

    fn with_backend(backend: Backend) -> Self {
        Self {
            backend,
            signals: Arc::new(Signals {
                outbox: Notify::new(),
                high_water: watch::channel(0).0,
                audit_size: watch::channel(0).0,
                checkpoint_size: watch::channel(0).0,
                directory: watch::channel(0).0,
            }),
            audit_writer: Arc::default(),
            lookup_reader: Arc::default(),
            indicator_tail: Arc::default(),
            write_turn: tx::WriteTurn::default(),
            kept: Arc::default(),
            checkpointer: Arc::default(),
        }
    }

    /// A handle for a task of the store's own (the audit writer, the lookup reader): it
    /// shares the database, but not the queues, so that the task, which holds it, does not
    /// keep its own queue open; it ends when the last handle on the store is dropped.
    fn detached(&self) -> Self {
        Self {
            backend: self.backend.clone(),
            signals: self.signals.clone(),
            audit_writer: Arc::default(),
            lookup_reader: Arc::default(),
            indicator_tail: Arc::default(),
            write_turn: self.write_turn.clone(),
            kept: self.kept.clone(),
            // Its writes wake the same checkpointer, which holds no handle on the store.
            checkpointer: self.checkpointer.clone(),
        }
    }

    /// Which database this is.
    pub fn backend_kind(&self) -> BackendKind {
        match self.backend {
            Backend::Sqlite(_) => BackendKind::Sqlite,
            Backend::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// Applies the migrations not yet applied. Safe to run from several replicas at once
    /// on PostgreSQL (they serialise on an advisory lock).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migrate::run(self).await
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        with_pool!(self, pool => {
            kept::KeptPool::kept(pool, &self.kept).release_all();
            pool.close().await
        })
    }

    /// Follows the sequenced high-water mark: readers wait on it for new events.
    pub fn watch_high_water(&self) -> watch::Receiver<u64> {
        self.signals.high_water.subscribe()
    }

    /// Follows the audit log's size as sequenced by this process.
    pub fn watch_audit_size(&self) -> watch::Receiver<u64> {
        self.signals.audit_size.subscribe()
    }

    /// Follows the size of the latest checkpoint saved by this process.
    pub fn watch_checkpoint_size(&self) -> watch::Receiver<u64> {
        self.signals.checkpoint_size.subscribe()
    }
}
