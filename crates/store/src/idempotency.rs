//! Idempotency keys: a write with a `request_id` is done once.
//!
//! Every write RPC carries a request id. Inside its write transaction the store claims
//! the key `(principal, request_id)` in `idempotency_keys`; a key used before means the
//! call is a retry, answered with the first result's object id and nothing written.
//! Single writes check and record with [`seen_request!`] and [`record_request!`]; batches
//! claim or insert many keys in one statement per backend ([`KeyWrite`]).

use sqlx::{PgPool, SqlitePool};

use crate::{
    bulk::{PgQuery, column},
    tx::{WritePool, WriteTx},
};

/// The result of a write with an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome<T> {
    /// Written now.
    Stored(T),
    /// The request_id was seen before: nothing written; the id of the first result.
    Duplicate(String),
}

/// Checks an idempotency key inside a write transaction: when the key was used for
/// `$method` before, rolls back and returns `$duplicate` (by default
/// `WriteOutcome::Duplicate`) of the first result's object id; when it was used for another
/// method, `StoreError::RequestIdReused`.
macro_rules! seen_request {
    ($tx:ident, $principal:expr, $request_id:expr, $method:expr) => {
        $crate::idempotency::seen_request!($tx, $principal, $request_id, $method, $crate::WriteOutcome::Duplicate)
    };
    ($tx:ident, $principal:expr, $request_id:expr, $method:expr, $duplicate:path) => {{
        let earlier: Option<(String, String)> = sqlx::query_as(
            "SELECT method, object_id FROM idempotency_keys WHERE principal = $1 AND request_id = $2",
        )
        .bind($principal)
        .bind($request_id)
        .fetch_optional(&mut *$tx)
        .await?;
        if let Some((method, object_id)) = earlier {
            $tx.rollback().await?;
            if method != $method {
                return Err(StoreError::RequestIdReused(method));
            }
            return Ok($duplicate(object_id));
        }
    }};
}
pub(crate) use seen_request;

macro_rules! record_request {
    ($tx:ident, $principal:expr, $request_id:expr, $method:expr, $object_id:expr, $now:expr) => {{
        sqlx::query(
            "INSERT INTO idempotency_keys (principal, request_id, method, object_id, created_us)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind($principal)
        .bind($request_id)
        .bind($method)
        .bind($object_id)
        .bind($now.as_micros())
        .execute(&mut *$tx)
        .await?;
    }};
}
pub(crate) use record_request;

/// The idempotency keys of one publisher's batch: (request id, object id) per write.
#[derive(Debug)]
pub(crate) struct KeyRows<'a> {
    pub(crate) publisher: &'a str,
    pub(crate) method: &'a str,
    pub(crate) created_us: i64,
    pub(crate) keys: Vec<(&'a str, &'a str)>,
}

/// Claims or inserts many keys of one principal in one statement; implemented for both
/// pools below.
pub(crate) trait KeyWrite: WritePool {
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
}

impl KeyWrite for SqlitePool {
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

impl KeyWrite for PgPool {
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

/// The statement `sql` (of [`concat_key_insert`]) with the idempotency keys of `rows`.
fn pg_key_insert<'q>(sql: &'static str, rows: &KeyRows<'q>) -> PgQuery<'q> {
    sqlx::query(sql)
        .bind(column(&rows.keys, |row| row.0))
        .bind(column(&rows.keys, |row| row.1))
        .bind(rows.publisher)
        .bind(rows.method)
        .bind(rows.created_us)
}
