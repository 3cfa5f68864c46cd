//! The sequencer, and the one way stream positions and audit-log leaf indexes are
//! assigned: [`append_in_order!`], inside a transaction that holds the sequencer's lock.
//!
//! Most writers put `outbox` rows in the same transaction as their change. The sequencer
//! takes every committed outbox row present — whatever its id — gives each the next
//! position in `events` (or, for an audit record, the next leaf of the log), and deletes
//! it, in one transaction. Positions therefore follow commit order, and a reader that
//! resumes after position N can never miss a row that committed late with a smaller id
//! (DESIGN.md, "Cursor order must be commit order").
//!
//! Two writers append directly instead, taking the lock only for their last statements:
//! a PublishMany batch (thousands of events and records, which the outbox would make the
//! database write, read back and delete again) and the audit writer (records of reads,
//! which describe no change). Holding the lock until commit, they too append in commit
//! order.
//!
//! One transaction holds the lock at a time: on PostgreSQL a transaction-scoped advisory
//! lock, so several replicas can run side by side; on SQLite `BEGIN IMMEDIATE`, which
//! serialises every writer anyway.

use std::{future::Future, time::Duration};

use liaison_core::Timestamp;
use tokio::task::JoinHandle;

use crate::{Backend, Store, StoreError, backend::BackendOps, with_pool};

/// Most outbox rows moved in one transaction.
const BATCH: i64 = 2_000;

/// Inserts an outbox row inside transaction `$tx` of pool `$pool`, and on PostgreSQL
/// queues the notification that wakes the sequencer of every replica on commit.
macro_rules! write_outbox {
    ($tx:ident, $pool:ident, $topic:expr, $kind:expr, $object_id:expr, $now:expr, $payload:expr) => {{
        sqlx::query(
            "INSERT INTO outbox (topic, event_kind, object_id, created_us, payload) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind($topic)
        .bind($kind)
        .bind($object_id)
        .bind($now.as_micros())
        .bind($payload)
        .execute(&mut *$tx)
        .await?;
        if let Some(sql) = $pool.notify_outbox_sql() {
            sqlx::query(sql).execute(&mut *$tx).await?;
        }
    }};
}
pub(crate) use write_outbox;

/// Inside transaction `$tx` of pool `$pool`, which holds the sequencer's lock (it ran
/// `sequencer_setup_sql`): gives `$events` — (topic, kind, object id, created µs) — the
/// next stream positions and `$records` — canonical audit records — the next leaf indexes
/// of the log, from the durable `audit_sequence` counter, and inserts both. Evaluates to
/// the new high-water mark (`None` without events) and the log's new size (`None`
/// without records), to raise once the transaction has committed. The sequencer appends
/// outbox rows this way; writers that may hold the lock briefly append their own.
macro_rules! append_in_order {
    ($tx:ident, $pool:ident, $events:expr, $records:expr, $now:expr) => {{
        let events: Vec<(&str, &str, &str, i64)> = $events;
        let records: Vec<String> = $records;
        let mut high_water: Option<i64> = None;
        if !events.is_empty() {
            let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) FROM events")
                .fetch_one(&mut *$tx)
                .await?;
            let rows: Vec<$crate::backend::EventRow> = events
                .iter()
                .zip(last + 1..)
                .map(|((topic, kind, object_id, created_us), position)| {
                    (
                        position,
                        (*topic).to_owned(),
                        (*kind).to_owned(),
                        (*object_id).to_owned(),
                        *created_us,
                    )
                })
                .collect();
            $pool
                .insert_events(&mut $tx, &rows, $now.as_micros())
                .await?;
            let position = last + i64::try_from(rows.len()).unwrap_or(i64::MAX);
            if let Some(sql) = $pool.notify_events_sql() {
                sqlx::query(sql)
                    .bind(position.to_string())
                    .execute(&mut *$tx)
                    .await?;
            }
            high_water = Some(position);
        }
        let mut audit_size: Option<i64> = None;
        if !records.is_empty() {
            let first: i64 =
                sqlx::query_scalar("SELECT next_leaf FROM audit_sequence WHERE id = 1")
                    .fetch_one(&mut *$tx)
                    .await?;
            let leaves: Vec<$crate::audit::Leaf> = records
                .into_iter()
                .zip(first..)
                .map(|(record, index)| $crate::audit::Leaf::new(index, record))
                .collect();
            let size = first + i64::try_from(leaves.len()).unwrap_or(i64::MAX);
            $pool
                .insert_leaves(&mut $tx, &leaves, $now.as_micros())
                .await?;
            sqlx::query("UPDATE audit_sequence SET next_leaf = $1 WHERE id = 1")
                .bind(size)
                .execute(&mut *$tx)
                .await?;
            audit_size = Some(size);
        }
        (high_water, audit_size)
    }};
}
pub(crate) use append_in_order;

impl Store {
    /// Moves one batch of committed outbox rows into `events`. Returns how many moved.
    pub async fn sequence_batch(&self, now: Timestamp) -> Result<usize, StoreError> {
        let (moved, high_water, audit_size) = with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            for sql in pool.sequencer_setup_sql() {
                sqlx::query(*sql).execute(&mut *tx).await?;
            }
            let rows: Vec<(i64, String, String, String, i64, Option<String>)> = sqlx::query_as(
                sqlx::AssertSqlSafe(format!(
                    "SELECT id, topic, event_kind, object_id, created_us, payload FROM outbox ORDER BY id LIMIT {BATCH}"
                )),
            )
            .fetch_all(&mut *tx)
            .await?;
            if rows.is_empty() {
                // Nothing to move: report where the stream and the log stand (at start-up
                // this is how waiters learn it).
                let high_water: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) FROM events")
                    .fetch_one(&mut *tx)
                    .await?;
                let audit_size: i64 = sqlx::query_scalar("SELECT next_leaf FROM audit_sequence WHERE id = 1")
                    .fetch_one(&mut *tx)
                    .await?;
                tx.rollback().await?;
                (0, Some(high_water), Some(audit_size))
            } else {
                let events = rows
                    .iter()
                    .filter(|row| row.1 != crate::audit::TOPIC)
                    .map(|(_, topic, kind, object_id, created_us, _)| {
                        (topic.as_str(), kind.as_str(), object_id.as_str(), *created_us)
                    })
                    .collect();
                // Audit records become leaves of the Merkle log, in sequencing order.
                let records = rows
                    .iter()
                    .filter(|row| row.1 == crate::audit::TOPIC)
                    .map(|row| row.5.clone().unwrap_or_default())
                    .collect();
                let (high_water, audit_size) = append_in_order!(tx, pool, events, records, now);
                // Delete exactly the rows taken: a row that committed meanwhile stays queued.
                let ids: Vec<i64> = rows.iter().map(|row| row.0).collect();
                pool.delete_outbox(&mut tx, &ids).await?;
                tx.commit().await?;
                (rows.len(), high_water, audit_size)
            }
        });
        self.raise_sequenced(high_water, audit_size);
        Ok(moved)
    }

    /// After a commit that appended in order: wakes stream readers and log waiters.
    pub(crate) fn raise_sequenced(&self, high_water: Option<i64>, audit_size: Option<i64>) {
        if let Some(position) = high_water {
            self.raise_high_water(u64::try_from(position).unwrap_or(0));
        }
        if let Some(size) = audit_size {
            self.raise_audit_size(u64::try_from(size).unwrap_or(0));
        }
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
                match store.sequence_batch(now).await {
                    Ok(moved) if moved as i64 == BATCH => continue,
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
