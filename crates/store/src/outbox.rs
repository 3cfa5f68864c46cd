//! The outbox: a writer's change and its stream event (or audit record) commit together.
//!
//! Writers put `outbox` rows in the same transaction as their change; the sequencer
//! (`sequencer.rs`) later gives each its stream position. On PostgreSQL every
//! insert also queues the notification that wakes every replica's sequencer on commit.
//! Readers of a stream read the sequenced rows back with [`Store::events_after`].

use sqlx::{PgPool, SqlitePool};

use crate::{
    Store, StoreError,
    bulk::{PgQuery, column, power_chunks},
    tx::{WritePool, WriteTx},
    with_pool,
};

/// One outbox row to insert.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutboxRow<'a> {
    pub(crate) topic: &'a str,
    pub(crate) kind: &'a str,
    pub(crate) object_id: &'a str,
    pub(crate) created_us: i64,
    pub(crate) payload: Option<&'a str>,
}

/// The `payload` of an outbox row of an event topic that stands for the events of several
/// objects: the ids after the row's own `object_id`, in order, one per line; `None` when
/// there are none. Used by batches (PublishMany), so that a batch adds one outbox row
/// rather than one per item.
pub(crate) fn more_objects<'a>(ids: impl Iterator<Item = &'a str>) -> Option<String> {
    let ids: Vec<&str> = ids.collect();
    (!ids.is_empty()).then(|| ids.join("\n"))
}

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

/// Inserts many outbox rows in one statement; implemented for both pools below.
pub(crate) trait OutboxWrite: WritePool {
    /// Inserts outbox rows, in order, in one statement of fixed text; on PostgreSQL the
    /// same statement queues the notification of [`WritePool::notify_outbox_sql`].
    async fn insert_outbox(
        &self,
        tx: &mut WriteTx<Self::Db>,
        rows: &[OutboxRow<'_>],
    ) -> Result<(), sqlx::Error>;
}

impl OutboxWrite for SqlitePool {
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
}

impl OutboxWrite for PgPool {
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
}

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
pub(crate) use pg_outbox_insert;

/// Binds `rows` to a statement that inserts them into `outbox` from five arrays (topic,
/// kind, object id, created, payload), as its next five parameters.
pub(crate) fn bind_outbox_rows<'q>(query: PgQuery<'q>, rows: &[OutboxRow<'q>]) -> PgQuery<'q> {
    query
        .bind(column(rows, |row| row.topic))
        .bind(column(rows, |row| row.kind))
        .bind(column(rows, |row| row.object_id))
        .bind(column(rows, |row| row.created_us))
        .bind(column(rows, |row| row.payload))
}

/// A sequenced event as read back: position, kind, object id, created (µs).
pub(crate) type EventRead = (i64, String, String, i64);

impl Store {
    /// The sequenced events of stream `topic` after position `after`, in position order,
    /// at most `limit` (written into the text: see `no_limit_is_a_bound_parameter`). Each
    /// stream decodes its own kinds.
    pub(crate) async fn events_after(
        &self,
        topic: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<EventRead>, StoreError> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        Ok(with_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT position, event_kind, object_id, created_us FROM events
                 WHERE topic = $1 AND position > $2 ORDER BY position LIMIT {limit}"
            )))
            .bind(topic)
            .bind(after)
            .fetch_all(pool)
            .await?
        }))
    }
}
