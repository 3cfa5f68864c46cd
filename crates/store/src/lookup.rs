//! Lookup's read: the active items holding a value, and its sightings.
//!
//! A Lookup is one short read. On PostgreSQL most of what it costs is not finding the
//! rows but what comes with any statement: a round trip, waking the server process,
//! binding, starting the executor on the plan, a transaction. So Lookups that run at the
//! same time share one statement: a reader task takes every read queued meanwhile and
//! answers them all with one (as the audit writer groups records, `Store::append_audit`),
//! with at most [`READS_IN_FLIGHT`] statements running, so that one slow read does not
//! hold up every other. A Lookup waits for its own rows only; when no statement is
//! running, its read starts at once. SQLite has no `LATERAL`: there a group is read with
//! one statement per value, on one connection.
//!
//! Two statements in flight rather than one: with one, more of the CPU sat idle while
//! callers queued behind it (figures in docs/performance.md, "Store design measurements").
//!
//! On PostgreSQL the grouped statement runs with its generic plan, forced for that
//! transaction only (`SET LOCAL plan_cache_mode`). Its plan is the same for any group:
//! one pass over the values, index lookups for each. But `UNNEST` of an array parameter
//! is estimated at 10 rows, so the plan cache kept making a custom plan, 0.3 ms of
//! planning, for groups of other sizes.

use liaison_core::{AgencyId, ObjectId, Observable, Scope, Timestamp, Tlp};
use sqlx::Database;
use tokio::sync::{mpsc, oneshot};

use crate::{
    Store, StoreError,
    indicators::sightings::{SightingRecord, sighting_from_row},
    kept::KeptPool,
    with_pool,
};

mod read_pg;
mod read_sqlite;
mod sql;

use sql::{ReadKey, RecordRow};

/// Reads waiting at most; further Lookups wait for room.
const READ_QUEUE: usize = 4_096;
/// Values read by one statement at most.
const READ_BATCH: usize = 64;
/// Statements running at once at most.
const READS_IN_FLIGHT: usize = 2;

/// Reads a group of Lookups; implemented for both pools in `lookup/read_sqlite.rs` and
/// `lookup/read_pg.rs`.
pub(crate) trait ReadRecords: KeptPool {
    /// What Lookups read of the values `keys` , on `connection`:
    /// the rows of all, each numbered (`n`) by its key's place in `keys`, from 1.
    async fn read_records(
        &self,
        connection: &mut <Self::Db as Database>::Connection,
        keys: &[&ReadKey],
        holders: u32,
        sightings: u32,
    ) -> Result<Vec<RecordRow>, sqlx::Error>;
}

/// A read waiting for the reader: the value, the limits of its two parts, and where to
/// send its rows.
pub(crate) struct QueuedRead {
    key: ReadKey,
    limits: (u32, u32),
    reply: oneshot::Sender<Result<Vec<RecordRow>, StoreError>>,
}

/// The sending side of the reader's queue.
pub(crate) type ReadQueue = mpsc::Sender<QueuedRead>;

/// What a Lookup needs of an active item that holds the value looked up: enough to decide
/// who may see it and to answer, not its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The item.
    pub id: ObjectId,
    /// Its source agency (the real one, also when it was published anonymously).
    pub source_agency: AgencyId,
    /// Who may receive it.
    pub scope: Scope,
    /// Its TLP.
    pub tlp: Tlp,
    /// Published anonymously.
    pub anonymous: bool,
    /// A fraud method (not observables published on their own).
    pub fraud_method: bool,
    /// First seen, as the publisher said.
    pub first_seen: Option<Timestamp>,
    /// Stored.
    pub created: Timestamp,
}

fn holder_from_row(row: RecordRow) -> Result<Holder, StoreError> {
    let (_, _, id, agency, tlp, scope_kind, scope_value, anonymous, fraud_method, first, at, ..) =
        row;
    let tlp = tlp.unwrap_or_default();
    let scope_value = scope_value.unwrap_or_default();
    Ok(Holder {
        id: ObjectId::parse(ObjectId::INDICATOR, &id)
            .map_err(|_| StoreError::corrupt("indicator id", &id))?,
        source_agency: AgencyId::parse(&agency)
            .map_err(|_| StoreError::corrupt("agency id", &agency))?,
        scope: Scope::from_storage(&scope_kind.unwrap_or_default(), &scope_value)
            .map_err(|_| StoreError::corrupt("scope", &scope_value))?,
        tlp: tlp
            .parse::<Tlp>()
            .map_err(|_| StoreError::corrupt("tlp", &tlp))?,
        anonymous: anonymous.unwrap_or_default(),
        fraud_method: fraud_method.unwrap_or_default(),
        first_seen: first.map(Timestamp::from_micros),
        created: Timestamp::from_micros(at),
    })
}

impl Store {
    /// What a Lookup by `viewer` reads of `observable`: at most `holders` of the active
    /// indicators holding it that `viewer` may see, newest first, and at most `sightings`
    /// of its sightings, oldest first, at most [`crate::SIGHTINGS_PER_AGENCY`] of each
    /// reporting agency (which sightings the viewer may learn of the service decides).
    /// Read together with the other Lookups running (see this module).
    pub async fn observable_record(
        &self,
        viewer: &crate::Viewer,
        observable: &Observable,
        now: Timestamp,
        holders: u32,
        sightings: u32,
    ) -> Result<(Vec<Holder>, Vec<SightingRecord>), StoreError> {
        if viewer.hub {
            return Ok((Vec::new(), Vec::new()));
        }
        let key = ReadKey {
            kind: observable.kind().as_str(),
            value: observable.value().to_owned(),
            now_us: now.as_micros(),
            agency: viewer.agency.as_str().to_owned(),
            groups: viewer.groups_text(),
            person: viewer.person,
        };
        let queue = self
            .lookup_reader
            .get_or_init(|| self.start_lookup_reader());
        let (reply, read) = oneshot::channel();
        let queued = QueuedRead {
            key,
            limits: (holders, sightings),
            reply,
        };
        let rows = match queue.send(queued).await {
            Ok(()) => read.await.unwrap_or_else(|_| {
                Err(StoreError::Corrupt(
                    "the lookup reader stopped before answering a read".into(),
                ))
            })?,
            // The reader's runtime is gone (a store outliving the runtime that started
            // it): read directly.
            Err(mpsc::error::SendError(queued)) => self
                .read_values(&[&queued.key], holders, sightings)
                .await?
                .pop()
                .unwrap_or_default(),
        };
        record_from_rows(observable, rows)
    }

    /// Reads `keys` in one statement (PostgreSQL) or one per value (SQLite), on one
    /// connection; the rows of each key, in the order of `keys`.
    async fn read_values(
        &self,
        keys: &[&ReadKey],
        holders: u32,
        sightings: u32,
    ) -> Result<Vec<Vec<RecordRow>>, StoreError> {
        let rows = with_pool!(self, pool => {
            let mut connection = pool.kept(&self.kept).take(pool).await?;
            let rows = pool.read_records(&mut connection, keys, holders, sightings).await?;
            connection.done();
            rows
        });
        let mut all: Vec<Vec<RecordRow>> = keys.iter().map(|_| Vec::new()).collect();
        for row in rows {
            let n = row.0;
            usize::try_from(n - 1)
                .ok()
                .and_then(|index| all.get_mut(index))
                .ok_or_else(|| StoreError::Corrupt(format!("a lookup row for value {n}")))?
                .push(row);
        }
        Ok(all)
    }

    /// The reader: it holds the pool but not the queue's sender, so it ends when the last
    /// handle on the store is dropped (`Store::detached`).
    fn start_lookup_reader(&self) -> ReadQueue {
        let (sender, mut receiver) = mpsc::channel::<QueuedRead>(READ_QUEUE);
        let reader = self.detached();
        tokio::spawn(async move {
            let mut running = tokio::task::JoinSet::new();
            let mut batch: Vec<QueuedRead> = Vec::new();
            loop {
                if running.len() >= READS_IN_FLIGHT {
                    running.join_next().await;
                    continue;
                }
                tokio::select! {
                    received = receiver.recv_many(&mut batch, READ_BATCH) => {
                        if received == 0 {
                            break;
                        }
                    }
                    Some(_) = running.join_next(), if !running.is_empty() => continue,
                }
                // One statement per pair of limits (the service asks with one pair).
                while let Some(first) = batch.first() {
                    let limits = first.limits;
                    let (group, rest): (Vec<QueuedRead>, Vec<QueuedRead>) =
                        batch.drain(..).partition(|queued| queued.limits == limits);
                    batch = rest;
                    let reader = reader.clone();
                    running.spawn(async move { reader.answer(group, limits).await });
                }
            }
        });
        sender
    }

    /// Reads the values of `group` and sends each its rows.
    async fn answer(&self, group: Vec<QueuedRead>, (holders, sightings): (u32, u32)) {
        let keys: Vec<&ReadKey> = group.iter().map(|queued| &queued.key).collect();
        match self.read_values(&keys, holders, sightings).await {
            Ok(rows) => {
                for (queued, rows) in group.into_iter().zip(rows) {
                    let _ = queued.reply.send(Ok(rows));
                }
            }
            Err(error) if group.len() == 1 => {
                if let Some(queued) = group.into_iter().next() {
                    let _ = queued.reply.send(Err(error));
                }
            }
            // Each value on its own, so that each caller gets its own error.
            Err(_) => {
                for queued in group {
                    let rows = self
                        .read_values(&[&queued.key], holders, sightings)
                        .await
                        .map(|mut rows| rows.pop().unwrap_or_default());
                    let _ = queued.reply.send(rows);
                }
            }
        }
    }
}

/// A Lookup's holders and sightings from the rows read of its value.
fn record_from_rows(
    observable: &Observable,
    rows: Vec<RecordRow>,
) -> Result<(Vec<Holder>, Vec<SightingRecord>), StoreError> {
    let (mut holder_rows, mut sighting_rows): (Vec<RecordRow>, Vec<RecordRow>) =
        rows.into_iter().partition(|row| row.1 == 0);
    // Newest first; oldest first (see `observable_record_sql`).
    holder_rows.sort_by(|a, b| (b.10, &b.2).cmp(&(a.10, &a.2)));
    sighting_rows.sort_by(|a, b| (a.10, &a.2).cmp(&(b.10, &b.2)));
    let holders = holder_rows
        .into_iter()
        .map(holder_from_row)
        .collect::<Result<_, _>>()?;
    let sightings = sighting_rows
        .into_iter()
        .map(|(_, _, _, agency, .., first, _, count, last)| {
            sighting_from_row(
                observable,
                (
                    agency,
                    count.unwrap_or_default(),
                    first.unwrap_or_default(),
                    last.unwrap_or_default(),
                ),
            )
        })
        .collect::<Result<_, _>>()?;
    Ok((holders, sightings))
}
