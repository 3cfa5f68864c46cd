//! The audit log's tables. A record of a change enters through the outbox, in the
//! transaction of the change, and the sequencer appends it to `audit_log` as a Merkle
//! leaf; a record written on its own (a read, a delivery, a refusal) is appended directly,
//! under the sequencer's lock.

use liaison_audit::Hash;
use sqlx::Database;

use crate::{
    Store, StoreError, Timestamp,
    kept::KeptPool,
    tx::{WritePool, WriteTurn},
    with_pool,
};

mod append_pg;
mod append_sqlite;
mod cosignatures;
pub(crate) mod leaf;

use leaf::Leaf;

/// Topic of audit records in the outbox.
pub(crate) const TOPIC: &str = "audit";

/// A record waiting for the group-commit writer, and where to say it is committed.
type Queued = (
    String,
    Timestamp,
    tokio::sync::oneshot::Sender<Result<(), StoreError>>,
);

/// The sending side of the group-commit writer's queue.
pub(crate) type AuditQueue = tokio::sync::mpsc::Sender<Queued>;

/// Records waiting at most; further writers wait for room.
const AUDIT_QUEUE: usize = 4_096;
/// Records committed in one transaction at most.
const AUDIT_GROUP: usize = 512;

/// Appends a group of records written on their own; implemented for both pools in
/// `audit/append_sqlite.rs` and `audit/append_pg.rs`.
pub(crate) trait AppendGroup: WritePool {
    /// Appends records written on their own (their leaves indexed 0, 1, … within `leaves`)
    /// at the end of the log, under the sequencer's lock, and commits, on `connection`;
    /// returns the log's new size.
    async fn append_group(
        &self,
        connection: &mut <Self::Db as Database>::Connection,
        turn: &WriteTurn,
        leaves: Vec<Leaf>,
        sequenced_us: i64,
    ) -> Result<i64, sqlx::Error>;
}

/// One leaf of the log as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLeafRow {
    /// Leaf index.
    pub index: u64,
    /// The stored record (never shown as is: see [`liaison_audit::Sealed::disclose`]).
    pub record: String,
    /// The stored leaf hash.
    pub leaf_hash: Hash,
}

/// A signed checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
    /// The signed note.
    pub note: String,
}

fn decode_hash(text: &str) -> Result<Hash, StoreError> {
    let bytes = hex::decode(text).map_err(|_| StoreError::Corrupt(format!("hash {text:?}")))?;
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("hash {text:?}")))
}

impl Store {
    /// Commits an audit record on its own (a read, a delivery, a refused call) as the
    /// log's next leaf.
    ///
    /// Records from concurrent calls are committed together (group commit): a single
    /// writer task takes every record queued while its previous transaction ran and
    /// commits them in one statement. On SQLite, where one writer holds the database at a
    /// time, concurrent readers then do not queue for its write lock one transaction
    /// each; on PostgreSQL it saves a transaction, a notification and their round trips
    /// per record (see docs/performance.md, "Store design measurements").
    /// Each call still returns only after its own record is committed.
    pub async fn append_audit(&self, record: &[u8], now: Timestamp) -> Result<(), StoreError> {
        let record = String::from_utf8_lossy(record).into_owned();
        let queue = self.audit_writer.get_or_init(|| self.start_audit_writer());
        let (reply, committed) = tokio::sync::oneshot::channel();
        match queue.send((record, now, reply)).await {
            Ok(()) => committed.await.unwrap_or_else(|_| {
                Err(StoreError::Corrupt(
                    "the audit writer stopped before committing a record".into(),
                ))
            }),
            // The writer's runtime is gone (a store outliving the runtime that started
            // it): write directly.
            Err(tokio::sync::mpsc::error::SendError((record, now, _))) => {
                self.append_audit_now(&record, now).await
            }
        }
    }

    /// The group-commit writer: it holds the pool but not the queue's sender, so it ends
    /// when the last handle on the store is dropped (`Store::detached`).
    fn start_audit_writer(&self) -> AuditQueue {
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<Queued>(AUDIT_QUEUE);
        let writer = self.detached();
        tokio::spawn(async move {
            let mut batch: Vec<Queued> = Vec::new();
            while receiver.recv_many(&mut batch, AUDIT_GROUP).await > 0 {
                // Tasks woken together (subscribers of one new position) send their
                // records a moment apart: one turn for every task that is ready to run
                // first, and what they sent joins this group.
                tokio::task::yield_now().await;
                while batch.len() < AUDIT_GROUP {
                    match receiver.try_recv() {
                        Ok(queued) => batch.push(queued),
                        Err(_) => break,
                    }
                }
                let records: Vec<(&str, Timestamp)> =
                    batch.iter().map(|(r, now, _)| (r.as_str(), *now)).collect();
                if writer.append_audit_group(&records).await.is_ok() {
                    for (_, _, reply) in batch.drain(..) {
                        let _ = reply.send(Ok(()));
                    }
                } else {
                    // Each record on its own, so that each caller gets its own error.
                    for (record, now, reply) in batch.drain(..) {
                        let _ = reply.send(writer.append_audit_now(&record, now).await);
                    }
                }
            }
        });
        sender
    }

    /// Appends records written on their own straight to the log, in one transaction under
    /// the sequencer's lock: they describe no change that must commit with them, so the
    /// outbox — a row written, read back and deleted — would only add a second
    /// transaction and a wait for the sequencer before the caller may go on.
    async fn append_audit_group(&self, records: &[(&str, Timestamp)]) -> Result<(), StoreError> {
        // Appended when the newest of them was written.
        let Some(now) = records.iter().map(|(_, now)| *now).max() else {
            return Ok(());
        };
        // Indexed within the group; the backend places them at the end of the log.
        let leaves: Vec<Leaf> = records
            .iter()
            .zip(0..)
            .map(|((record, _), index)| Leaf::new(index, (*record).to_owned()))
            .collect();
        let size = with_pool!(self, pool => {
            let mut connection = pool.kept(&self.kept).take(pool).await?;
            let size = pool
                .append_group(&mut connection, &self.write_turn, leaves, now.as_micros())
                .await?;
            connection.done();
            size
        });
        self.wrote();
        self.raise_audit_size(u64::try_from(size).unwrap_or(0));
        Ok(())
    }

    async fn append_audit_now(&self, record: &str, now: Timestamp) -> Result<(), StoreError> {
        self.append_audit_group(&[(record, now)]).await
    }

    /// Commits many audit records in one transaction (imports, benchmarks).
    pub async fn append_audit_batch(
        &self,
        records: &[Vec<u8>],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let records: Vec<String> = records
            .iter()
            .map(|record| String::from_utf8_lossy(record).into_owned())
            .collect();
        let records: Vec<(&str, Timestamp)> = records
            .iter()
            .map(|record| (record.as_str(), now))
            .collect();
        self.append_audit_group(&records).await
    }

    /// How many records the log holds.
    pub async fn audit_size(&self) -> Result<u64, StoreError> {
        let size: i64 = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT next_leaf FROM audit_sequence WHERE id = 1").fetch_one(pool).await?
        });
        Ok(u64::try_from(size).unwrap_or(0))
    }

    /// The leaf hashes of records `from..to`, in order.
    pub async fn audit_leaf_hashes(&self, from: u64, to: u64) -> Result<Vec<Hash>, StoreError> {
        let from = i64::try_from(from).unwrap_or(i64::MAX);
        let to = i64::try_from(to).unwrap_or(i64::MAX);
        let hashes: Vec<String> = with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT leaf_hash FROM audit_log WHERE leaf_index >= $1 AND leaf_index < $2 ORDER BY leaf_index",
            )
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await?
        });
        hashes.iter().map(|hash| decode_hash(hash)).collect()
    }

    /// Records from leaf `from`, at most `limit`, with their indexes and leaf hashes.
    pub async fn audit_records(
        &self,
        from: u64,
        limit: u32,
    ) -> Result<Vec<AuditLeafRow>, StoreError> {
        let from = i64::try_from(from).unwrap_or(i64::MAX);
        let rows: Vec<(i64, String, String)> = with_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT leaf_index, record, leaf_hash FROM audit_log WHERE leaf_index >= $1 ORDER BY leaf_index LIMIT {limit}"
            )))
            .bind(from)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(index, record, hash)| {
                Ok(AuditLeafRow {
                    index: u64::try_from(index).unwrap_or(0),
                    record,
                    leaf_hash: decode_hash(&hash)?,
                })
            })
            .collect()
    }

    /// The checkpoint of the largest tree signed so far.
    pub async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row: Option<(i64, String, String)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT tree_size, root_hash, note FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1")
                .fetch_optional(pool)
                .await?
        });
        row.map(|(size, root, note)| {
            Ok(StoredCheckpoint {
                size: u64::try_from(size).unwrap_or(0),
                root: decode_hash(&root)?,
                note,
            })
        })
        .transpose()
    }

    /// Stores a signed checkpoint; a second one for the same size is ignored.
    pub async fn save_checkpoint(
        &self,
        checkpoint: &StoredCheckpoint,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let size = i64::try_from(checkpoint.size).unwrap_or(i64::MAX);
        with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            sqlx::query(
                "INSERT INTO audit_checkpoints (tree_size, root_hash, note, signed_us) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (tree_size) DO NOTHING",
            )
            .bind(size)
            .bind(hex::encode(checkpoint.root))
            .bind(&checkpoint.note)
            .bind(now.as_micros())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        let size = checkpoint.size;
        self.signals.checkpoint_size.send_if_modified(|current| {
            let grew = size > *current;
            if grew {
                *current = size;
            }
            grew
        });
        Ok(())
    }
}

/// Which outcomes a query wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutcomeClass {
    /// Any outcome.
    #[default]
    Any,
    /// Succeeded (OK).
    Ok,
    /// Refused: PERMISSION_DENIED or UNAUTHENTICATED.
    Denied,
    /// Failed otherwise.
    Failed,
}

/// A query over the audit log. Empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Records at or after this time (microseconds).
    pub start_us: Option<i64>,
    /// Records before this time.
    pub end_us: Option<i64>,
    /// The acting agency.
    pub actor_agency: Option<String>,
    /// The acting principal, `AGENCY/kind/name`.
    pub actor_principal: Option<String>,
    /// The full method.
    pub method: Option<String>,
    /// An object touched.
    pub object_id: Option<String>,
    /// The owner of an object touched.
    pub owner_agency: Option<String>,
    /// Outcome class.
    pub outcome: OutcomeClass,
    /// Exact gRPC codes.
    pub codes: Vec<i64>,
    /// For an agency's auditors: only records whose actor is this agency or that touched
    /// an object it owns.
    pub visible_to: Option<String>,
    /// Paging: strictly after (or, newest first, before) this leaf index.
    pub after: Option<u64>,
    /// Newest first.
    pub newest_first: bool,
    /// Most records returned.
    pub limit: u32,
}

impl Store {
    /// Records matching `query`, with their leaf indexes.
    pub async fn query_audit(&self, query: &AuditQuery) -> Result<Vec<(u64, String)>, StoreError> {
        let rows: Vec<(i64, String)> = with_pool!(self, pool => {
            let mut sql = sqlx::QueryBuilder::new("SELECT l.leaf_index, l.record FROM audit_log l WHERE 1 = 1");
            if let Some(start) = query.start_us {
                sql.push(" AND l.time_us >= ").push_bind(start);
            }
            if let Some(end) = query.end_us {
                sql.push(" AND l.time_us < ").push_bind(end);
            }
            if let Some(agency) = &query.actor_agency {
                sql.push(" AND l.actor_agency = ").push_bind(agency.clone());
            }
            if let Some(principal) = &query.actor_principal {
                sql.push(" AND l.actor_principal = ").push_bind(principal.clone());
            }
            if let Some(method) = &query.method {
                sql.push(" AND l.method = ").push_bind(method.clone());
            }
            // For an agency's auditors, the object filters match only entries it may see
            // (as `liaison_audit::disclosure` shows them): objects its agency owns, and, in
            // records of its own agency's calls, the others — by owner only where the object
            // was not anonymous.
            if let Some(object) = &query.object_id {
                sql.push(" AND EXISTS (SELECT 1 FROM audit_objects o WHERE o.leaf_index = l.leaf_index AND o.object_id = ")
                    .push_bind(object.clone());
                if let Some(agency) = &query.visible_to {
                    sql.push(" AND (o.owner_agency = ")
                        .push_bind(agency.clone())
                        .push(" OR l.actor_agency = ")
                        .push_bind(agency.clone())
                        .push(")");
                }
                sql.push(")");
            }
            if let Some(owner) = &query.owner_agency {
                sql.push(" AND EXISTS (SELECT 1 FROM audit_objects o WHERE o.leaf_index = l.leaf_index AND o.owner_agency = ")
                    .push_bind(owner.clone());
                if let Some(agency) = &query.visible_to {
                    sql.push(" AND (o.owner_agency = ")
                        .push_bind(agency.clone())
                        .push(" OR (l.actor_agency = ")
                        .push_bind(agency.clone())
                        .push(" AND NOT o.anonymous))");
                }
                sql.push(")");
            }
            if let Some(agency) = &query.visible_to {
                sql.push(" AND (l.actor_agency = ")
                    .push_bind(agency.clone())
                    .push(" OR EXISTS (SELECT 1 FROM audit_objects o WHERE o.leaf_index = l.leaf_index AND o.owner_agency = ")
                    .push_bind(agency.clone())
                    .push("))");
            }
            match query.outcome {
                OutcomeClass::Any => {}
                OutcomeClass::Ok => {
                    sql.push(" AND l.outcome = 0");
                }
                OutcomeClass::Denied => {
                    sql.push(" AND l.outcome IN (7, 16)");
                }
                OutcomeClass::Failed => {
                    sql.push(" AND l.outcome NOT IN (0, 7, 16)");
                }
            }
            if !query.codes.is_empty() {
                sql.push(" AND l.outcome IN (");
                let mut codes = sql.separated(", ");
                for code in &query.codes {
                    codes.push_bind(*code);
                }
                sql.push(")");
            }
            if let Some(after) = query.after {
                let after = i64::try_from(after).unwrap_or(i64::MAX);
                sql.push(if query.newest_first { " AND l.leaf_index < " } else { " AND l.leaf_index > " })
                    .push_bind(after);
            }
            sql.push(if query.newest_first { " ORDER BY l.leaf_index DESC" } else { " ORDER BY l.leaf_index" });
            sql.push(format!(" LIMIT {}", query.limit));
            sql.build_query_as().fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|(index, record)| (u64::try_from(index).unwrap_or(0), record))
            .collect())
    }
}

#[cfg(feature = "test-support")]
impl Store {
    /// Runs raw SQL against the database, bypassing every rule: for tests that play an
    /// attacker with database access (tampering with the log) or inject faults (a trigger
    /// that makes audit inserts fail). Compiled only with the `test-support` feature.
    pub async fn execute_for_tests(&self, sql: &str) -> Result<(), StoreError> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        with_pool!(self, pool => {
            sqlx::raw_sql(sql).execute(pool).await?;
        });
        Ok(())
    }
}
