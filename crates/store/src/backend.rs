//! What differs between the two backends, behind one trait so that query code is written once.

use std::{sync::Arc, time::Duration};

use sqlx::{Database, PgPool, SqlitePool, Transaction};

use crate::{
    audit::Leaf,
    kept::{Kept, KeptConnections},
    lookup::{ReadKey, RecordRow, observable_record_sql, observable_records_sql},
};

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

/// This process's turn to write to its SQLite file. SQLite lets one writer in at a time;
/// a writer that finds the file locked sleeps in SQLite's busy handler (1 ms, 2 ms, 5 ms,
/// …) and retries, so writers that collide — the audit group commit, the sequencer, a
/// publication — lost milliseconds each time. Taking turns here first, in arrival order,
/// leaves the busy handler to writers of other processes. PostgreSQL needs no turn.
#[derive(Debug, Clone, Default)]
pub(crate) struct WriteTurn(Arc<tokio::sync::Mutex<()>>);

impl WriteTurn {
    async fn take(&self) -> Result<tokio::sync::OwnedMutexGuard<()>, sqlx::Error> {
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

/// Backend-specific operations used inside [`with_pool!`](crate::with_pool) bodies.
pub(crate) trait BackendOps {
    type Db: Database;

    /// Begins a transaction that will write. On SQLite it waits for this process's
    /// `turn`, then takes the write lock at once (`BEGIN IMMEDIATE`), so two writers never
    /// deadlock upgrading read locks.
    async fn begin_write(&self, turn: &WriteTurn) -> Result<WriteTx<Self::Db>, sqlx::Error>;

    /// SQL that, run inside a transaction, tells other replicas on commit that the outbox
    /// has new rows. `None` where there are no other replicas.
    fn notify_outbox_sql(&self) -> Option<&'static str>;

    /// Begins a write transaction that holds the sequencer's lock until it ends: the only
    /// kind in which positions and leaf indexes are assigned.
    async fn begin_sequencing(&self, turn: &WriteTurn) -> Result<WriteTx<Self::Db>, sqlx::Error>;

    /// Inserts outbox rows, in order, in one statement of fixed text; on PostgreSQL the
    /// same statement queues the notification of [`BackendOps::notify_outbox_sql`].
    async fn insert_outbox(
        &self,
        tx: &mut WriteTx<Self::Db>,
        rows: &[OutboxRow<'_>],
    ) -> Result<(), sqlx::Error>;

    /// Records the idempotency keys of `rows` where the publisher has not used the request id before; returns the request ids
    /// recorded now. One statement per chunk instead of a look-up and then an insert.
    /// `keys` must not repeat a request id.
    async fn claim_keys(
        &self,
        tx: &mut WriteTx<Self::Db>,
        rows: &KeyRows<'_>,
    ) -> Result<Vec<String>, sqlx::Error>;

    /// Records the idempotency keys of `rows`, all expected new: fails with a unique
    /// violation if the publisher used one of the request ids before (or a concurrent
    /// transaction did and commits). What a batch tries first: on PostgreSQL a plain insert
    /// costs about half of a claim, whose `ON CONFLICT` looks for each key before it
    /// inserts it. `keys` must not repeat a request id.
    async fn insert_keys(
        &self,
        tx: &mut WriteTx<Self::Db>,
        rows: &KeyRows<'_>,
    ) -> Result<(), sqlx::Error>;

    /// Inserts new indicators and their observables: a few statements per batch, not
    /// several per item.
    async fn insert_indicators(
        &self,
        tx: &mut WriteTx<Self::Db>,
        rows: &IndicatorRows<'_>,
    ) -> Result<(), sqlx::Error>;

    /// Stores one new indicator in one transaction: claims its idempotency key and, if
    /// it was free, inserts the indicator (`rows`) and the `outbox` rows. Returns whether
    /// the key was free; if not, nothing is written.
    async fn publish_one(
        &self,
        turn: &WriteTurn,
        keys: &KeyRows<'_>,
        rows: &IndicatorRows<'_>,
        outbox: &[OutboxRow<'_>],
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin_write(turn).await?;
        if self.claim_keys(&mut tx, keys).await?.is_empty() {
            tx.rollback().await?;
            return Ok(false);
        }
        self.insert_indicators(&mut tx, rows).await?;
        self.insert_outbox(&mut tx, outbox).await?;
        tx.commit().await?;
        Ok(true)
    }

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

    /// This backend's kept connections (see [`crate::kept`]).
    fn kept<'a>(&self, all: &'a KeptConnections) -> &'a Kept<Self::Db>;

    /// What Lookups read of the values `keys` (see [`crate::lookup`]), on `connection`:
    /// the rows of all, each numbered (`n`) by its key's place in `keys`, from 1.
    async fn read_records(
        &self,
        connection: &mut <Self::Db as Database>::Connection,
        keys: &[&ReadKey],
        holders: u32,
        sightings: u32,
    ) -> Result<Vec<RecordRow>, sqlx::Error>;
}

/// One outbox row to insert.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutboxRow<'a> {
    pub(crate) topic: &'a str,
    pub(crate) kind: &'a str,
    pub(crate) object_id: &'a str,
    pub(crate) created_us: i64,
    pub(crate) payload: Option<&'a str>,
}

/// One new indicator's row.
#[derive(Debug)]
pub(crate) struct IndicatorRow<'a> {
    pub(crate) id: &'a str,
    pub(crate) source: &'a str,
    pub(crate) title: Option<&'a str>,
    pub(crate) description: Option<&'a str>,
    pub(crate) countermeasures: Option<&'a str>,
    /// The three texts above as search matches them (see `indicators::search_text`).
    pub(crate) search_text: Option<String>,
    pub(crate) category: Option<&'a str>,
    pub(crate) language: &'a str,
    pub(crate) first_seen_us: Option<i64>,
    pub(crate) valid_until_us: Option<i64>,
    pub(crate) confidence: i64,
    pub(crate) evaluation: Option<String>,
    pub(crate) tlp: &'a str,
    pub(crate) scope_kind: &'a str,
    pub(crate) scope_value: String,
    pub(crate) anonymous: bool,
}

/// A batch of new indicators of one publisher: their rows and their observables
/// (indicator id, ordinal, type, value).
#[derive(Debug)]
pub(crate) struct IndicatorRows<'a> {
    pub(crate) publisher: &'a str,
    pub(crate) created_us: i64,
    pub(crate) indicators: Vec<IndicatorRow<'a>>,
    pub(crate) observables: Vec<(&'a str, i64, &'a str, &'a str)>,
}

/// The idempotency keys of one publisher's batch: (request id, object id) per write.
#[derive(Debug)]
pub(crate) struct KeyRows<'a> {
    pub(crate) publisher: &'a str,
    pub(crate) method: &'a str,
    pub(crate) created_us: i64,
    pub(crate) keys: Vec<(&'a str, &'a str)>,
}

/// One sequenced event to insert: position, topic, kind, object id, created.
pub(crate) type EventRow = (i64, String, String, String, i64);

/// What one sequencer pass writes (see [`BackendOps::write_pass`]).
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

/// Values as one JSON array: SQLite reads it back with `json_each`, so a statement over
/// any number of them has one text, and its prepared form stays cached.
fn json_rows<R: serde::Serialize>(rows: impl Iterator<Item = R>) -> String {
    serde_json::to_string(&rows.collect::<Vec<R>>()).unwrap_or_else(|_| "[]".to_owned())
}

/// Largest chunk of a multi-row insert on SQLite.
const CHUNK_MAX: usize = 256;

/// `rows` in chunks whose sizes are powers of two up to `CHUNK_MAX`: a multi-row `VALUES`
/// statement over them has one of nine texts whatever the row count, so all stay in the
/// statement cache (a text per row count would be prepared anew each time and push others
/// out). SQLite reads bound values; rows passed as JSON it would re-parse per column.
fn power_chunks<T>(rows: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = CHUNK_MAX.min(1 << (usize::BITS - 1 - rest.len().leading_zeros()));
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        Some(chunk)
    })
}

/// Binds the columns of `$leaves` and of their object index rows `$objects` to `$query`
/// as PostgreSQL arrays: $1 index, $2 record, $3 hash, $4 `$sequenced_us`, $5 time,
/// $6 agency, $7 principal, $8 method, $9 outcome; $10–$12 object leaf index, id, owner,
/// $13 object anonymous ($14 and on are the statement's own).
macro_rules! bind_leaf_columns {
    ($query:expr, $leaves:expr, $objects:expr, $sequenced_us:expr) => {{
        let (leaves, objects) = ($leaves, $objects);
        $query
            .bind(column(leaves, |leaf| leaf.index))
            .bind(column(leaves, |leaf| leaf.record.as_str()))
            .bind(column(leaves, |leaf| leaf.hash.as_str()))
            .bind($sequenced_us)
            .bind(column(leaves, |leaf| leaf.indexed.time_us))
            .bind(column(leaves, |leaf| leaf.indexed.actor_agency.as_deref()))
            .bind(column(leaves, |leaf| {
                leaf.indexed.actor_principal.as_deref()
            }))
            .bind(column(leaves, |leaf| leaf.indexed.method.as_str()))
            .bind(column(leaves, |leaf| leaf.indexed.outcome))
            .bind(column(objects, |row| row.0))
            .bind(column(objects, |row| row.1.as_str()))
            .bind(column(objects, |row| row.2.as_deref()))
            .bind(column(objects, |row| row.3))
    }};
}

/// One column of `rows`, to bind as a PostgreSQL array.
fn column<'a, T, U>(rows: &'a [T], value: impl Fn(&'a T) -> U) -> Vec<U> {
    rows.iter().map(value).collect()
}

/// The object index rows of some leaves: (leaf index, object id, owner, anonymous), each
/// object once per leaf (anonymous if any access to it in the record was).
fn object_rows(leaves: &[Leaf]) -> Vec<(i64, String, Option<String>, bool)> {
    let mut rows = Vec::new();
    for leaf in leaves {
        let mut seen = std::collections::BTreeMap::new();
        for (object_id, owner, anonymous) in &leaf.indexed.objects {
            seen.entry(object_id.as_str())
                .and_modify(|(_, any): &mut (&Option<String>, bool)| *any |= *anonymous)
                .or_insert((owner, *anonymous));
        }
        for (object_id, (owner, anonymous)) in seen {
            rows.push((leaf.index, object_id.to_owned(), owner.clone(), anonymous));
        }
    }
    rows
}

impl BackendOps for SqlitePool {
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

    async fn begin_sequencing(&self, turn: &WriteTurn) -> Result<WriteTx<Self::Db>, sqlx::Error> {
        // One node: BEGIN IMMEDIATE already serialises every writer.
        self.begin_write(turn).await
    }

    async fn insert_indicators(
        &self,
        tx: &mut WriteTx<Self::Db>,
        rows: &IndicatorRows<'_>,
    ) -> Result<(), sqlx::Error> {
        // Multi-row VALUES: a batch is mostly full (500 rows, one text), and SQLite reads
        // bound values faster than it re-parses a JSON object once per column.
        const ROWS: usize = 500;
        for chunk in rows.indicators.chunks(ROWS) {
            let mut query = sqlx::QueryBuilder::new(
                "INSERT INTO indicators (id, source_agency_id, publisher, title, description, countermeasures,
                    category, language, first_seen_us, valid_until_us, confidence, evaluation, tlp,
                    scope_kind, scope_value, anonymous, created_us, search_text) ",
            );
            query.push_values(chunk, |mut row, item| {
                row.push_bind(item.id.to_owned())
                    .push_bind(item.source.to_owned())
                    .push_bind(rows.publisher.to_owned())
                    .push_bind(item.title.map(str::to_owned))
                    .push_bind(item.description.map(str::to_owned))
                    .push_bind(item.countermeasures.map(str::to_owned))
                    .push_bind(item.category.map(str::to_owned))
                    .push_bind(item.language.to_owned())
                    .push_bind(item.first_seen_us)
                    .push_bind(item.valid_until_us)
                    .push_bind(item.confidence)
                    .push_bind(item.evaluation.clone())
                    .push_bind(item.tlp.to_owned())
                    .push_bind(item.scope_kind.to_owned())
                    .push_bind(item.scope_value.clone())
                    .push_bind(item.anonymous)
                    .push_bind(rows.created_us)
                    .push_bind(item.search_text.clone());
            });
            query.build().execute(&mut **tx).await?;
        }
        for chunk in rows.observables.chunks(ROWS) {
            let mut query = sqlx::QueryBuilder::new(
                "INSERT INTO indicator_observables (indicator_id, ordinal, type, value) ",
            );
            query.push_values(chunk, |mut row, (id, ordinal, kind, value)| {
                row.push_bind(id.to_string())
                    .push_bind(*ordinal)
                    .push_bind(kind.to_string())
                    .push_bind(value.to_string());
            });
            query.build().execute(&mut **tx).await?;
        }
        Ok(())
    }

    async fn insert_keys(
        &self,
        tx: &mut WriteTx<Self::Db>,
        rows: &KeyRows<'_>,
    ) -> Result<(), sqlx::Error> {
        for chunk in rows.keys.chunks(SQLITE_KEY_ROWS) {
            sqlite_key_insert(rows, chunk)
                .build()
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    async fn claim_keys(
        &self,
        tx: &mut WriteTx<Self::Db>,
        rows: &KeyRows<'_>,
    ) -> Result<Vec<String>, sqlx::Error> {
        let mut claimed = Vec::with_capacity(rows.keys.len());
        for chunk in rows.keys.chunks(SQLITE_KEY_ROWS) {
            let mut query = sqlite_key_insert(rows, chunk);
            query.push(" ON CONFLICT (principal, request_id) DO NOTHING RETURNING request_id");
            claimed.extend(
                query
                    .build_query_scalar::<String>()
                    .fetch_all(&mut **tx)
                    .await?,
            );
        }
        Ok(claimed)
    }

    async fn insert_outbox(
        &self,
        tx: &mut WriteTx<Self::Db>,
        rows: &[OutboxRow<'_>],
    ) -> Result<(), sqlx::Error> {
        for chunk in power_chunks(rows) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO outbox (topic, event_kind, object_id, created_us, payload) ",
            );
            insert.push_values(chunk, |mut row, item| {
                row.push_bind(item.topic.to_owned())
                    .push_bind(item.kind.to_owned())
                    .push_bind(item.object_id.to_owned())
                    .push_bind(item.created_us)
                    .push_bind(item.payload.map(str::to_owned));
            });
            insert.build().execute(&mut **tx).await?;
        }
        Ok(())
    }

    async fn write_pass(
        &self,
        tx: &mut WriteTx<Self::Db>,
        pass: &Pass<'_>,
    ) -> Result<(), sqlx::Error> {
        // One query of several statements, which the connection's thread runs in one turn
        // (each statement sent on its own would be a hand-over to that thread and back, on
        // the way of every delivery). Its text varies with the row counts: not kept
        // prepared.
        let mut query = sqlite_leaf_inserts(
            sqlite_event_inserts(pass.events, pass.sequenced_us),
            pass.leaves,
            "0",
            pass.sequenced_us,
        );
        if !pass.leaves.is_empty() {
            query.push("UPDATE audit_sequence SET next_leaf = ");
            query.push_bind(pass.size);
            query.push(" WHERE id = 1;\n");
        }
        query.push("DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(");
        query.push_bind(json_rows(pass.ids.iter()));
        query.push("))");
        query.build().persistent(false).execute(&mut **tx).await?;
        Ok(())
    }

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

    fn kept<'a>(&self, all: &'a KeptConnections) -> &'a Kept<Self::Db> {
        &all.sqlite
    }

    async fn read_records(
        &self,
        connection: &mut sqlx::SqliteConnection,
        keys: &[&ReadKey],
        holders: u32,
        sightings: u32,
    ) -> Result<Vec<RecordRow>, sqlx::Error> {
        // No LATERAL: a statement per value, on the one connection.
        let sql = observable_record_sql(holders, sightings);
        let mut all = Vec::new();
        for (key, n) in keys.iter().zip(1_i64..) {
            let rows: Vec<RecordRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(key.kind)
                .bind(key.value.as_str())
                .bind(key.now_us)
                .bind(n)
                .bind(key.agency.as_str())
                .bind(key.groups.as_str())
                .bind(key.person)
                .fetch_all(&mut *connection)
                .await?;
            all.extend(rows);
        }
        Ok(all)
    }
}

/// The statements that insert sequenced `events` on SQLite, multi-row `VALUES` of at
/// most [`CHUNK_MAX`] rows, each ended by `;`: the start of a query with more statements
/// after them (see [`sqlite_leaf_inserts`]).
fn sqlite_event_inserts(
    events: &[EventRow],
    sequenced_us: i64,
) -> sqlx::QueryBuilder<sqlx::Sqlite> {
    let mut query = sqlx::QueryBuilder::new("");
    for chunk in events.chunks(CHUNK_MAX) {
        query.push(
            "INSERT INTO events (position, topic, event_kind, object_id, created_us, sequenced_us) ",
        );
        query.push_values(
            chunk,
            |mut row, (position, topic, kind, object_id, created_us)| {
                row.push_bind(*position)
                    .push_bind(topic.clone())
                    .push_bind(kind.clone())
                    .push_bind(object_id.clone())
                    .push_bind(*created_us)
                    .push_bind(sequenced_us);
            },
        );
        query.push(";\n");
    }
    query
}

/// The statements that insert `leaves` and their object index rows on SQLite, after those
/// of `query`, each leaf at `base` (an SQL expression) plus its index, each statement
/// ended by `;`: for one query with more statements after them. All run in one turn of the connection's thread — a
/// group of records is waited for by the calls that wrote them, and each statement sent
/// on its own would be a hand-over to that thread and back. Parameters are bound in order
/// across the statements. The text differs with the row counts, so the query is not to be
/// kept prepared (`persistent(false)`: it would push others out of the statement cache).
fn sqlite_leaf_inserts(
    mut query: sqlx::QueryBuilder<sqlx::Sqlite>,
    leaves: &[Leaf],
    base: &str,
    sequenced_us: i64,
) -> sqlx::QueryBuilder<sqlx::Sqlite> {
    for chunk in leaves.chunks(CHUNK_MAX) {
        query.push(format!(
            "INSERT INTO audit_log (leaf_index, record, leaf_hash, sequenced_us, time_us, \
             actor_agency, actor_principal, method, outcome) \
             SELECT {base} + column1, column2, column3, column4, column5, column6, column7, \
             column8, column9 FROM ("
        ));
        query.push_values(chunk, |mut row, leaf| {
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
        query.push(");\n");
    }
    for chunk in object_rows(leaves).chunks(CHUNK_MAX) {
        query.push(format!(
            "INSERT INTO audit_objects (leaf_index, object_id, owner_agency, anonymous) \
             SELECT {base} + column1, column2, column3, column4 FROM ("
        ));
        query.push_values(chunk, |mut row, (index, object_id, owner, anonymous)| {
            row.push_bind(*index)
                .push_bind(object_id.clone())
                .push_bind(owner.clone())
                .push_bind(*anonymous);
        });
        query.push(");\n");
    }
    query
}

/// Most idempotency keys in one SQLite INSERT (five parameters each).
const SQLITE_KEY_ROWS: usize = 500;

/// A multi-row INSERT of the idempotency keys `chunk` of `rows`, on SQLite.
fn sqlite_key_insert(
    rows: &KeyRows<'_>,
    chunk: &[(&str, &str)],
) -> sqlx::QueryBuilder<sqlx::Sqlite> {
    let mut query = sqlx::QueryBuilder::new(
        "INSERT INTO idempotency_keys (principal, request_id, method, object_id, created_us) ",
    );
    query.push_values(chunk, |mut row, (request_id, id)| {
        row.push_bind(rows.publisher.to_owned())
            .push_bind(request_id.to_string())
            .push_bind(rows.method.to_owned())
            .push_bind(id.to_string())
            .push_bind(rows.created_us);
    });
    query
}

/// The statement that inserts idempotency keys on PostgreSQL (see [`pg_key_insert`]),
/// followed by `$suffix`.
macro_rules! concat_key_insert {
    ($($suffix:literal)?) => {
        concat!(
            "INSERT INTO idempotency_keys (principal, request_id, method, object_id, created_us) \
             SELECT $3, request_id, $4, object_id, $5 FROM UNNEST($1::TEXT[], $2::TEXT[]) AS row(request_id, object_id)"
            $(, $suffix)?
        )
    };
}

/// The statement `sql` (of [`concat_key_insert`]) with the idempotency keys of `rows`.
fn pg_key_insert<'q>(sql: &'static str, rows: &KeyRows<'q>) -> PgQuery<'q> {
    sqlx::query(sql)
        .bind(column(&rows.keys, |row| row.0))
        .bind(column(&rows.keys, |row| row.1))
        .bind(rows.publisher)
        .bind(rows.method)
        .bind(rows.created_us)
}

/// A PostgreSQL statement with its parameters.
type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// The CTE (`queued`) that inserts rows into `outbox` on PostgreSQL from the five arrays
/// (topic, kind, object id, created, payload) bound as the parameters named, where
/// `$guard` (a `WHERE` clause, or nothing) holds, bound by [`bind_outbox_rows`]. Ids
/// follow the array order: the rows are inserted in it.
macro_rules! pg_outbox_insert {
    ($topic:literal, $kind:literal, $object:literal, $created:literal, $payload:literal, $guard:literal) => {
        concat!(
            "queued AS (
                 INSERT INTO outbox (topic, event_kind, object_id, created_us, payload)
                 SELECT topic, kind, object_id, created_us, payload
                 FROM UNNEST(",
            $topic,
            "::TEXT[], ",
            $kind,
            "::TEXT[], ",
            $object,
            "::TEXT[], ",
            $created,
            "::BIGINT[], ",
            $payload,
            "::TEXT[]) WITH ORDINALITY
                      AS row(topic, kind, object_id, created_us, payload, n) ",
            $guard,
            " ORDER BY n
             )"
        )
    };
}

/// The two CTEs (`inserted`, `observed`) that insert indicators and their observables on
/// PostgreSQL, each row only where `$guard` (a `WHERE` clause, or nothing) holds; the
/// values are bound by [`bind_indicator_rows`] as `$1` to `$22`.
///
/// Each observable takes its indicator id from the rows the statement inserted (LEFT
/// JOIN, so one that names any other indicator gets NULL and fails the NOT NULL
/// constraint): what the foreign key dropped in migration 7 guaranteed, without locking
/// each indicator row once per observable. Each indicator takes its source agency from
/// `agencies` the same way, for the key dropped in migration 8, without a trigger and a
/// row lock per indicator.
macro_rules! pg_indicator_inserts {
    ($guard:literal) => {
        concat!(
            "inserted AS (
                INSERT INTO indicators (id, source_agency_id, publisher, title, description, countermeasures,
                    category, language, first_seen_us, valid_until_us, confidence, evaluation, tlp,
                    scope_kind, scope_value, anonymous, created_us, search_text)
                SELECT row.id, agencies.id, $16, title, description, countermeasures, category, language,
                    first_seen, valid_until, confidence, evaluation, tlp, scope_kind, scope_value, anonymous, $17,
                    search_text
                FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::TEXT[],
                            $8::BIGINT[], $9::BIGINT[], $10::BIGINT[], $11::TEXT[], $12::TEXT[], $13::TEXT[],
                            $14::TEXT[], $15::BOOLEAN[], $22::TEXT[])
                     AS row(id, source, title, description, countermeasures, category, language, first_seen,
                            valid_until, confidence, evaluation, tlp, scope_kind, scope_value, anonymous,
                            search_text)
                LEFT JOIN agencies ON agencies.id = row.source ",
            $guard,
            " RETURNING id
             ), observed AS (
                INSERT INTO indicator_observables (indicator_id, ordinal, type, value)
                SELECT inserted.id, o.ordinal, o.type, o.value
                FROM UNNEST($18::TEXT[], $19::BIGINT[], $20::TEXT[], $21::TEXT[]) AS o(indicator_id, ordinal, type, value)
                LEFT JOIN inserted ON inserted.id = o.indicator_id ",
            $guard,
            ")"
        )
    };
}

/// Binds `rows` to a statement of [`pg_indicator_inserts`], as `$1` to `$22`.
fn bind_indicator_rows<'q>(query: PgQuery<'q>, rows: &IndicatorRows<'q>) -> PgQuery<'q> {
    let items = &rows.indicators;
    let observables = &rows.observables;
    query
        .bind(column(items, |row| row.id))
        .bind(column(items, |row| row.source))
        .bind(column(items, |row| row.title))
        .bind(column(items, |row| row.description))
        .bind(column(items, |row| row.countermeasures))
        .bind(column(items, |row| row.category))
        .bind(column(items, |row| row.language))
        .bind(column(items, |row| row.first_seen_us))
        .bind(column(items, |row| row.valid_until_us))
        .bind(column(items, |row| row.confidence))
        .bind(column(items, |row| row.evaluation.as_deref()))
        .bind(column(items, |row| row.tlp))
        .bind(column(items, |row| row.scope_kind))
        .bind(column(items, |row| row.scope_value.as_str()))
        .bind(column(items, |row| row.anonymous))
        .bind(rows.publisher)
        .bind(rows.created_us)
        .bind(column(observables, |row| row.0))
        .bind(column(observables, |row| row.1))
        .bind(column(observables, |row| row.2))
        .bind(column(observables, |row| row.3))
        .bind(column(items, |row| row.search_text.as_deref()))
}

/// Binds `rows` to a statement that inserts them into `outbox` from five arrays (topic,
/// kind, object id, created, payload), as its next five parameters.
fn bind_outbox_rows<'q>(query: PgQuery<'q>, rows: &[OutboxRow<'q>]) -> PgQuery<'q> {
    query
        .bind(column(rows, |row| row.topic))
        .bind(column(rows, |row| row.kind))
        .bind(column(rows, |row| row.object_id))
        .bind(column(rows, |row| row.created_us))
        .bind(column(rows, |row| row.payload))
}

impl BackendOps for PgPool {
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

    async fn insert_indicators(
        &self,
        tx: &mut WriteTx<Self::Db>,
        rows: &IndicatorRows<'_>,
    ) -> Result<(), sqlx::Error> {
        if rows.indicators.is_empty() {
            return Ok(());
        }
        // One statement for both tables (see `pg_indicator_inserts`).
        let query = sqlx::query(concat!("WITH ", pg_indicator_inserts!(""), " SELECT 1"));
        bind_indicator_rows(query, rows).execute(&mut **tx).await?;
        Ok(())
    }

    async fn publish_one(
        &self,
        _turn: &WriteTurn,
        keys: &KeyRows<'_>,
        rows: &IndicatorRows<'_>,
        outbox: &[OutboxRow<'_>],
    ) -> Result<bool, sqlx::Error> {
        // One statement and no explicit transaction: one round trip instead of five
        // (BEGIN, claim, indicator, outbox, COMMIT). A statement is atomic on its own, and
        // its parts see one snapshot; every insert after the claim is guarded by it, so a
        // key used before writes nothing. The claim waits for a concurrent first use of
        // the key to commit, as `claim_keys` does.
        let [key] = keys.keys.as_slice() else {
            return Err(sqlx::Error::Protocol("publish_one takes one key".into()));
        };
        let query = sqlx::query(concat!(
            "WITH claimed AS (
                 INSERT INTO idempotency_keys (principal, request_id, method, object_id, created_us)
                 VALUES ($23, $24, $25, $26, $27)
                 ON CONFLICT (principal, request_id) DO NOTHING RETURNING request_id
             ), ",
            pg_indicator_inserts!("WHERE EXISTS (SELECT 1 FROM claimed)"),
            ", ",
            pg_outbox_insert!(
                "$28",
                "$29",
                "$30",
                "$31",
                "$32",
                "WHERE EXISTS (SELECT 1 FROM claimed)"
            ),
            " SELECT EXISTS (SELECT 1 FROM claimed) FROM (SELECT pg_notify('liaison_outbox', '')) AS notified"
        ));
        let query = bind_indicator_rows(query, rows)
            .bind(keys.publisher)
            .bind(key.0)
            .bind(keys.method)
            .bind(key.1)
            .bind(keys.created_us);
        let row = bind_outbox_rows(query, outbox).fetch_one(self).await?;
        sqlx::Row::try_get(&row, 0)
    }

    async fn insert_keys(
        &self,
        tx: &mut WriteTx<Self::Db>,
        rows: &KeyRows<'_>,
    ) -> Result<(), sqlx::Error> {
        pg_key_insert(concat_key_insert!(), rows)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn claim_keys(
        &self,
        tx: &mut WriteTx<Self::Db>,
        rows: &KeyRows<'_>,
    ) -> Result<Vec<String>, sqlx::Error> {
        // A key that a concurrent transaction inserted but has not committed makes this
        // wait for it: then it is either taken (not returned) or free (claimed).
        let claim = concat_key_insert!(
            " ON CONFLICT (principal, request_id) DO NOTHING RETURNING request_id"
        );
        pg_key_insert(claim, rows)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|row| sqlx::Row::try_get(row, 0))
            .collect()
    }

    async fn insert_outbox(
        &self,
        tx: &mut WriteTx<Self::Db>,
        rows: &[OutboxRow<'_>],
    ) -> Result<(), sqlx::Error> {
        if rows.is_empty() {
            return Ok(());
        }
        // The same statement queues the notification that wakes every replica's
        // sequencer on commit.
        let query = sqlx::query(concat!(
            "WITH ",
            pg_outbox_insert!("$1", "$2", "$3", "$4", "$5", ""),
            " SELECT pg_notify('liaison_outbox', '')"
        ));
        bind_outbox_rows(query, rows).execute(&mut **tx).await?;
        Ok(())
    }

    async fn write_pass(
        &self,
        tx: &mut WriteTx<Self::Db>,
        pass: &Pass<'_>,
    ) -> Result<(), sqlx::Error> {
        if !pass.events.is_empty() {
            sqlx::query(
                "INSERT INTO events (position, topic, event_kind, object_id, created_us, sequenced_us)
                 SELECT position, topic, kind, object_id, created_us, $6
                 FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::BIGINT[])
                      AS row(position, topic, kind, object_id, created_us)",
            )
            .bind(column(pass.events, |row| row.0))
            .bind(column(pass.events, |row| row.1.as_str()))
            .bind(column(pass.events, |row| row.2.as_str()))
            .bind(column(pass.events, |row| row.3.as_str()))
            .bind(column(pass.events, |row| row.4))
            .bind(pass.sequenced_us)
            .execute(&mut **tx)
            .await?;
        }
        if !pass.leaves.is_empty() {
            // One statement: each column travels as one array parameter, and the object index
            // and the counter are written by the same statement's data-modifying parts.
            let objects = object_rows(pass.leaves);
            let query = sqlx::query(
                "WITH logged AS (
                     INSERT INTO audit_log (leaf_index, record, leaf_hash, sequenced_us, time_us, actor_agency,
                         actor_principal, method, outcome)
                     SELECT index, record, hash, $4, time_us, agency, principal, method, outcome
                     FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $5::BIGINT[], $6::TEXT[], $7::TEXT[],
                                 $8::TEXT[], $9::BIGINT[])
                          AS leaf(index, record, hash, time_us, agency, principal, method, outcome)
                 ), counted AS (
                     UPDATE audit_sequence SET next_leaf = $14 WHERE id = 1
                 )
                 INSERT INTO audit_objects (leaf_index, object_id, owner_agency, anonymous)
                 SELECT * FROM UNNEST($10::BIGINT[], $11::TEXT[], $12::TEXT[], $13::BOOLEAN[])",
            );
            bind_leaf_columns!(query, pass.leaves, &objects, pass.sequenced_us)
                .bind(pass.size)
                .execute(&mut **tx)
                .await?;
        }
        // The range lets the planner walk the primary key: a queue table holds mostly
        // dead rows between vacuums, and a sequential scan would read every one of them.
        let (Some(first), Some(last)) = (pass.ids.iter().min(), pass.ids.iter().max()) else {
            return Ok(());
        };
        // The notification rides on the same statement: one round trip fewer per pass.
        sqlx::query(
            "WITH deleted AS (DELETE FROM outbox WHERE id BETWEEN $1 AND $2 AND id = ANY($3))
             SELECT pg_notify('liaison_events', $4)",
        )
        .bind(first)
        .bind(last)
        .bind(pass.ids)
        .bind(pass.high_water.to_string())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

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

    fn kept<'a>(&self, all: &'a KeptConnections) -> &'a Kept<Self::Db> {
        &all.postgres
    }

    async fn read_records(
        &self,
        connection: &mut sqlx::PgConnection,
        keys: &[&ReadKey],
        holders: u32,
        sightings: u32,
    ) -> Result<Vec<RecordRow>, sqlx::Error> {
        use sqlx::Connection;
        // The generic plan for this transaction only: see the module docs of `lookup`.
        let mut tx = connection
            .begin_with("BEGIN READ ONLY; SET LOCAL plan_cache_mode = force_generic_plan")
            .await?;
        let rows = sqlx::query_as(sqlx::AssertSqlSafe(observable_records_sql(
            holders, sightings,
        )))
        .bind(column(keys, |key| key.kind))
        .bind(column(keys, |key| key.value.as_str()))
        .bind(column(keys, |key| key.now_us))
        .bind(column(keys, |key| key.agency.as_str()))
        .bind(column(keys, |key| key.groups.as_str()))
        .bind(column(keys, |key| key.person))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn chunks_are_powers_of_two_and_cover_every_row_in_order() {
        for count in [0usize, 1, 2, 3, 37, 255, 256, 257, 1000, 2000] {
            let rows: Vec<usize> = (0..count).collect();
            let chunks: Vec<&[usize]> = super::power_chunks(&rows).collect();
            assert!(
                chunks
                    .iter()
                    .all(|chunk| chunk.len().is_power_of_two() && chunk.len() <= super::CHUNK_MAX)
            );
            let joined: Vec<usize> = chunks.concat();
            assert_eq!(joined, rows);
        }
    }

    /// SQLite plans with the value of a bound `LIMIT` and so marks the statement expired
    /// whenever that parameter is bound again: it is re-prepared on every run. Limits are
    /// server-chosen integers, written into the text.
    #[test]
    fn no_limit_is_a_bound_parameter() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for (number, line) in text.lines().enumerate() {
                let squeezed: String = line.split_whitespace().collect::<Vec<_>>().join(" ");
                if squeezed.contains(&["LIMIT", " $"].concat())
                    || squeezed.contains(&["LIMIT", " \").push_bind"].concat())
                {
                    found.push(format!("{}:{}", path.display(), number + 1));
                }
            }
        }
        assert!(found.is_empty(), "bound LIMIT at {found:?}");
    }

    /// The PostgreSQL batch INSERT stores an observable only with an indicator the same
    /// statement inserts (what the foreign key dropped in migration 7 guaranteed), and an
    /// indicator only with a known source agency (the key dropped in migration 8): a row
    /// that breaks either fails the whole statement, and nothing is stored.
    #[tokio::test]
    async fn a_stray_observable_or_an_unknown_agency_fails_the_postgres_batch() {
        use super::{BackendOps, IndicatorRow, IndicatorRows};
        use sqlx::Connection;
        let admin = std::env::var("LIAISON_TEST_DATABASE_URL")
            .expect("LIAISON_TEST_DATABASE_URL is not set: run the suite with scripts/test");
        let name = format!(
            "liaison_backend_{}",
            ulid::Ulid::new().to_string().to_ascii_lowercase()
        );
        let mut connection = sqlx::PgConnection::connect(&admin).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut connection)
            .await
            .unwrap();
        let (server, _) = admin.rsplit_once('/').expect("URL ends with /DATABASE");
        let store = crate::Store::connect_postgres(&format!("{server}/{name}"))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let crate::Backend::Postgres(pool) = &store.backend else {
            unreachable!("a PostgreSQL store")
        };
        sqlx::query(
            "INSERT INTO agencies (id, name, kind) VALUES ('RS-MUP', 'МУП Републике Србије', 'police')",
        )
        .execute(pool)
        .await
        .unwrap();
        let row = |id| IndicatorRow {
            id,
            source: if id == "ind_unknown" {
                "XX-NONE"
            } else {
                "RS-MUP"
            },
            title: Some("Лажна продавница"),
            description: None,
            countermeasures: None,
            search_text: Some("лажна продавница".to_owned()),
            category: Some("fake_online_shop"),
            language: "sr-Cyrl",
            first_seen_us: None,
            valid_until_us: None,
            confidence: 60,
            evaluation: None,
            tlp: "green",
            scope_kind: "all",
            scope_value: String::new(),
            anonymous: false,
        };
        let batch_of = |indicators: &[&'static str], observables| IndicatorRows {
            publisher: "RS-MUP/feed",
            created_us: 1,
            indicators: indicators.iter().map(|id| row(id)).collect(),
            observables,
        };
        let batch = |observables| batch_of(&["ind_a", "ind_b"], observables);
        let stored = || async {
            sqlx::query_as::<_, (i64, i64)>(
                "SELECT (SELECT count(*) FROM indicators), (SELECT count(*) FROM indicator_observables)",
            )
            .fetch_one(pool)
            .await
            .unwrap()
        };

        let refused = [
            (
                "an observable of no inserted indicator",
                batch(vec![
                    ("ind_a", 0, "domain", "prodavnica.example"),
                    ("ind_elsewhere", 0, "domain", "drugo.example"),
                ]),
            ),
            (
                "an indicator of an unknown agency",
                batch_of(
                    &["ind_a", "ind_unknown"],
                    vec![
                        ("ind_a", 0, "domain", "prodavnica.example"),
                        ("ind_unknown", 0, "domain", "nepoznato.example"),
                    ],
                ),
            ),
        ];
        for (what, rows) in refused {
            let mut tx = pool.begin_write(&store.write_turn).await.unwrap();
            let error = pool
                .insert_indicators(&mut tx, &rows)
                .await
                .expect_err(&format!("{what} was stored"));
            assert!(
                matches!(&error, sqlx::Error::Database(error) if error.code().as_deref() == Some("23502")),
                "{what}: {error:?}"
            );
            tx.rollback().await.unwrap();
            assert_eq!(stored().await, (0, 0), "{what}");
        }

        let mut tx = pool.begin_write(&store.write_turn).await.unwrap();
        pool.insert_indicators(
            &mut tx,
            &batch(vec![
                ("ind_a", 0, "domain", "prodavnica.example"),
                ("ind_a", 1, "ipv4", "203.0.113.7"),
                ("ind_b", 0, "domain", "drugo.example"),
            ]),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(stored().await, (2, 3));
    }
}
