//! The sequencer: the one place where stream positions are assigned, and the lock under
//! which audit-log leaf indexes are (by the sequencer for records of changes, which come
//! through the outbox, and by the audit writer for records written on their own).
//!
//! Writers put an `outbox` row in the same transaction as their change. The sequencer
//! takes every committed outbox row present — whatever its id — gives each the next
//! position in `events` (a row of a PublishMany batch stands for all its items' events,
//! which take consecutive positions), and deletes it, in one transaction. Positions therefore follow
//! commit order, and a reader that resumes after position N can never miss a row that
//! committed late with a smaller id (DESIGN.md, "Cursor order must be commit order").
//!
//! Exactly one sequencing transaction runs at a time: on PostgreSQL it holds a
//! transaction-scoped advisory lock, so several replicas can run side by side; on SQLite
//! `BEGIN IMMEDIATE` serialises it with every writer.

use std::{future::Future, time::Duration};

use liaison_core::Timestamp;
use tokio::task::JoinHandle;

use crate::{
    Backend, Store, StoreError,
    audit::leaf::Leaf,
    tx::{WritePool, WriteTx},
    with_pool,
};

mod pass_pg;
mod pass_sqlite;

/// Most outbox rows read in one transaction.
const BATCH: i64 = 2_000;

/// Most events and leaves made in one transaction: an outbox row of a PublishMany batch
/// stands for up to 500 events, so rows are taken only up to this many.
const MADE_MAX: usize = 2_000;

/// One sequenced event to insert: position, topic, kind, object id, created.
pub(crate) type EventRow = (i64, String, String, String, i64);

/// What one sequencer pass writes (see [`PassWrite::write_pass`]).
pub(crate) struct Pass<'a> {
    /// The events made, positioned.
    pub(crate) events: &'a [EventRow],
    /// The audit leaves made, indexed.
    pub(crate) leaves: &'a [Leaf],
    /// The log's size after them.
    pub(crate) size: i64,
    /// The outbox rows taken.
    pub(crate) ids: &'a [i64],
    /// The last position given.
    pub(crate) high_water: i64,
    /// When the pass ran.
    pub(crate) sequenced_us: i64,
}

/// Writes a sequencer pass; implemented for both pools in `sequencer/pass_sqlite.rs` and
/// `sequencer/pass_pg.rs`.
pub(crate) trait PassWrite: WritePool {
    /// Writes what a sequencer pass made inside its transaction: the `events`, the audit
    /// `leaves` with their object index (the counter moved to `size`) if any, and the
    /// deletion of the outbox rows `ids`; on PostgreSQL the same statement as the deletion
    /// tells every replica's listener, on commit, that events up to `high_water` are
    /// sequenced. In as few statements as the backend allows.
    async fn write_pass(
        &self,
        tx: &mut WriteTx<Self::Db>,
        pass: &Pass<'_>,
    ) -> Result<(), sqlx::Error>;
}

impl Store {
    /// Moves one batch of committed outbox rows into `events`. Returns how many moved.
    pub async fn sequence_batch(&self, now: Timestamp) -> Result<usize, StoreError> {
        Ok(self.sequence_once(now).await?.0)
    }

    /// [`Store::sequence_batch`], and whether rows may be left that it did not take.
    async fn sequence_once(&self, now: Timestamp) -> Result<(usize, bool), StoreError> {
        let (moved, more, high_water, audit_size) = with_pool!(self, pool => {
            let mut tx = pool.begin_sequencing(&self.write_turn).await?;
            // One statement, one snapshot: the high-water mark, the log's size and the
            // queued rows (none: one row of NULLs after the first two columns).
            type Row = (i64, i64, Option<i64>, Option<String>, Option<String>, Option<String>, Option<i64>, Option<String>);
            let read: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT s.high_water, s.next_leaf, o.id, o.topic, o.event_kind, o.object_id, o.created_us, o.payload
                 FROM (SELECT (SELECT COALESCE(MAX(position), 0) FROM events) AS high_water,
                              (SELECT next_leaf FROM audit_sequence WHERE id = 1) AS next_leaf) AS s
                 LEFT JOIN (SELECT id, topic, event_kind, object_id, created_us, payload
                            FROM outbox ORDER BY id LIMIT {BATCH}) AS o ON 1 = 1
                 ORDER BY o.id"
            )))
            .fetch_all(&mut *tx)
            .await?;
            let (high_water, audit_size) = read
                .first()
                .map(|row| (row.0, row.1))
                .ok_or_else(|| StoreError::Corrupt("the sequencer's read returned no row".into()))?;
            let rows: Vec<(i64, String, String, String, i64, Option<String>)> = read
                .into_iter()
                .filter_map(|(_, _, id, topic, kind, object_id, created_us, payload)| {
                    Some((id?, topic?, kind?, object_id?, created_us?, payload))
                })
                .collect();
            if rows.is_empty() {
                tx.rollback().await?;
                (0, false, high_water, audit_size)
            } else {
                let mut position = high_water;
                let mut leaf_index = audit_size;
                let mut events = Vec::new();
                let mut leaves = Vec::new();
                let mut taken = 0;
                for (_, topic, kind, object_id, created_us, payload) in &rows {
                    if events.len() + leaves.len() >= MADE_MAX {
                        break;
                    }
                    taken += 1;
                    if topic == crate::audit::TOPIC {
                        // Audit records become leaves of the Merkle log, in sequencing order.
                        let record = payload.clone().unwrap_or_default();
                        leaves.push(Leaf::new(leaf_index, record));
                        leaf_index += 1;
                    } else {
                        let more = payload.as_deref().into_iter().flat_map(|ids| ids.split('\n'));
                        for id in std::iter::once(object_id.as_str()).chain(more) {
                            position += 1;
                            events.push((position, topic.clone(), kind.clone(), id.to_owned(), *created_us));
                        }
                    }
                }
                let more = rows.len() as i64 == BATCH || taken < rows.len();
                let rows = &rows[..taken];
                // Delete exactly the rows taken: a row that committed meanwhile stays queued.
                let ids: Vec<i64> = rows.iter().map(|row| row.0).collect();
                let pass = Pass {
                    events: &events,
                    leaves: &leaves,
                    size: leaf_index,
                    ids: &ids,
                    high_water: position,
                    sequenced_us: now.as_micros(),
                };
                pool.write_pass(&mut tx, &pass).await?;
                tx.commit().await?;
                (rows.len(), more, position, leaf_index)
            }
        });
        if moved > 0 {
            self.wrote();
        }
        self.raise_high_water(u64::try_from(high_water).unwrap_or(0));
        self.raise_audit_size(u64::try_from(audit_size).unwrap_or(0));
        Ok((moved, more))
    }

    /// Tells waiters (the signer, `audit_size` watchers) that the log holds `size` leaves.
    pub(crate) fn raise_audit_size(&self, size: u64) {
        self.signals.audit_size.send_if_modified(|current| {
            let grew = size > *current;
            if grew {
                *current = size;
            }
            grew
        });
    }

    /// How many committed outbox rows (events and audit records) wait for the sequencer.
    pub async fn outbox_backlog(&self) -> Result<u64, StoreError> {
        let count: i64 = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox").fetch_one(pool).await?
        });
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Reads the highest sequenced position from the database.
    pub async fn refresh_high_water(&self) -> Result<u64, StoreError> {
        let high_water: i64 = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) FROM events").fetch_one(pool).await?
        });
        let high_water = u64::try_from(high_water).unwrap_or(0);
        self.raise_high_water(high_water);
        Ok(high_water)
    }

    fn raise_high_water(&self, position: u64) {
        self.signals.high_water.send_if_modified(|current| {
            let higher = position > *current;
            if higher {
                *current = position;
            }
            higher
        });
    }

    /// Starts the sequencer (and, on PostgreSQL, the listener that hears other replicas'
    /// commits). Both stop when `shutdown` completes.
    pub fn spawn_sequencer(
        &self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> JoinHandle<()> {
        let store = self.clone();
        tokio::spawn(async move {
            let listener = match &store.backend {
                Backend::Postgres(pool) => {
                    Some(tokio::spawn(listen_postgres(store.clone(), pool.clone())))
                }
                Backend::Sqlite(_) => None,
            };
            tokio::pin!(shutdown);
            loop {
                let now = Timestamp::from_system_time(std::time::SystemTime::now());
                match store.sequence_once(now).await {
                    Ok((_, true)) => continue,
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "sequencer failed; retrying"),
                }
                tokio::select! {
                    () = store.signals.outbox.notified() => {}
                    // A backstop only: commits wake the sequencer through notifications.
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    () = &mut shutdown => break,
                }
            }
            if let Some(listener) = listener {
                listener.abort();
            }
        })
    }
}

/// Relays PostgreSQL notifications: new outbox rows wake the sequencer; new positions
/// raise the high-water mark that stream readers wait on.
async fn listen_postgres(store: Store, pool: sqlx::PgPool) {
    loop {
        let result: Result<(), StoreError> = async {
            let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
            listener
                .listen_all(["liaison_outbox", "liaison_events"])
                .await?;
            store.refresh_high_water().await?;
            loop {
                let notification = listener.recv().await?;
                match notification.channel() {
                    "liaison_outbox" => store.signals.outbox.notify_one(),
                    _ => {
                        if let Ok(position) = notification.payload().parse::<u64>() {
                            store.raise_high_water(position);
                        }
                    }
                }
            }
        }
        .await;
        if let Err(error) = result {
            tracing::warn!(%error, "lost the PostgreSQL notification listener; reconnecting");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
