//! Pool connections the store keeps checked out for its most frequent statements.
//!
//! sqlx tests every connection on its way back into the pool with a round trip to the
//! database (a `Sync` on PostgreSQL, a message to the connection's thread on SQLite), in
//! case a query on it was cancelled halfway; that cannot be turned off. A statement that
//! ran to completion leaves its connection in a known state, so for the statements that
//! run once per call — a Lookup's read, a group of audit records — the store keeps a few
//! connections out of the pool and hands them back and forth itself: no test, no task
//! spawned per release. A connection whose statement failed or was cancelled goes back
//! through the pool the ordinary way (dropped, and so tested), and is no longer kept.
//!
//! Kept connections stay counted by the pool (each pool is made larger by
//! [`KEPT_MAX`] for them), and are returned to it when the store closes.

use std::{
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};

use sqlx::{Connection, Database, Pool, pool::PoolConnection};

/// How many connections of a pool the store keeps at most.
pub(crate) const KEPT_MAX: u32 = 8;

/// The kept connections of one pool.
pub(crate) struct Kept<DB: Database> {
    state: Mutex<State<DB>>,
    /// Connections kept, idle or in use.
    count: AtomicUsize,
}

struct State<DB: Database> {
    idle: Vec<(PoolConnection<DB>, Instant)>,
    /// Set when the store closes: connections are returned to the pool, not kept.
    closed: bool,
}

impl<DB: Database> Default for Kept<DB> {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                idle: Vec::new(),
                closed: false,
            }),
            count: AtomicUsize::new(0),
        }
    }
}

impl<DB: Database> std::fmt::Debug for Kept<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kept")
            .field("count", &self.count.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<DB: Database> Kept<DB> {
    /// A connection for one statement: a kept one if one is idle, else one from `pool`
    /// (kept afterwards while fewer than [`KEPT_MAX`] are).
    pub(crate) async fn take(
        &self,
        pool: &Pool<DB>,
    ) -> Result<KeptConnection<'_, DB>, sqlx::Error> {
        while let Some((mut connection, since)) = self.pop() {
            // Tested before use after an idle spell, as the pool tests its own.
            if since.elapsed() <= crate::IDLE_BEFORE_PING || connection.ping().await.is_ok() {
                return Ok(KeptConnection {
                    connection: Some(connection),
                    home: Some(self),
                });
            }
            // Broken while idle: dropped (the pool tests it and closes it), no longer kept.
            self.count.fetch_sub(1, Ordering::AcqRel);
        }
        let connection = pool.acquire().await?;
        let max = usize::try_from(KEPT_MAX).unwrap_or(usize::MAX);
        let keep = self
            .count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |count| {
                (count < max).then_some(count + 1)
            })
            .is_ok();
        Ok(KeptConnection {
            connection: Some(connection),
            home: keep.then_some(self),
        })
    }

    fn pop(&self) -> Option<(PoolConnection<DB>, Instant)> {
        self.state().idle.pop()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State<DB>> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Returns every idle kept connection to the pool and keeps none from now on: the
    /// pool's `close` waits for all its connections.
    pub(crate) fn release_all(&self) {
        let idle = {
            let mut state = self.state();
            state.closed = true;
            std::mem::take(&mut state.idle)
        };
        self.count.fetch_sub(idle.len(), Ordering::AcqRel);
        drop(idle);
    }
}

/// A connection taken for one statement. [`KeptConnection::done`] after the statement
/// completed keeps it; dropped otherwise (an error, a cancelled call), it returns to the
/// pool and is tested there.
pub(crate) struct KeptConnection<'a, DB: Database> {
    connection: Option<PoolConnection<DB>>,
    /// Where it is kept; `None` for a connection of the pool used once.
    home: Option<&'a Kept<DB>>,
}

impl<DB: Database> KeptConnection<'_, DB> {
    /// The statement ran to completion: the connection is kept for the next one.
    pub(crate) fn done(mut self) {
        let (Some(connection), Some(home)) = (self.connection.take(), self.home.take()) else {
            return;
        };
        let mut state = home.state();
        if state.closed {
            drop(state);
            home.count.fetch_sub(1, Ordering::AcqRel);
            drop(connection);
        } else {
            state.idle.push((connection, Instant::now()));
        }
    }
}

impl<DB: Database> Drop for KeptConnection<'_, DB> {
    fn drop(&mut self) {
        if let (Some(_), Some(home)) = (&self.connection, self.home) {
            home.count.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl<DB: Database> std::ops::Deref for KeptConnection<'_, DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &Self::Target {
        // Present until `done` or drop, both of which take `self`.
        self.connection
            .as_deref()
            .unwrap_or_else(|| unreachable!("a kept connection is used after it was returned"))
    }
}

impl<DB: Database> std::ops::DerefMut for KeptConnection<'_, DB> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.connection
            .as_deref_mut()
            .unwrap_or_else(|| unreachable!("a kept connection is used after it was returned"))
    }
}

/// The kept connections of a store, of whichever backend it uses.
#[derive(Debug, Default)]
pub(crate) struct KeptConnections {
    pub(crate) sqlite: Kept<sqlx::Sqlite>,
    pub(crate) postgres: Kept<sqlx::Postgres>,
}

/// A pool's kept connections; implemented for both pools below.
pub(crate) trait KeptPool {
    type Db: Database;

    /// This backend's kept connections.
    fn kept<'a>(&self, all: &'a KeptConnections) -> &'a Kept<Self::Db>;
}

impl KeptPool for sqlx::SqlitePool {
    type Db = sqlx::Sqlite;

    fn kept<'a>(&self, all: &'a KeptConnections) -> &'a Kept<Self::Db> {
        &all.sqlite
    }
}

impl KeptPool for sqlx::PgPool {
    type Db = sqlx::Postgres;

    fn kept<'a>(&self, all: &'a KeptConnections) -> &'a Kept<Self::Db> {
        &all.postgres
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::atomic::Ordering, time::Duration};

    use sqlx::{Sqlite, SqlitePool, sqlite::SqlitePoolOptions};

    use super::Kept;

    /// Each connection of an in-memory SQLite pool has a database of its own: a table
    /// made on one is missing on the others, which tells connections apart.
    async fn pool() -> SqlitePool {
        SqlitePoolOptions::new()
            .max_connections(2)
            .connect("sqlite::memory:")
            .await
            .expect("an in-memory SQLite pool")
    }

    async fn mark(kept: &Kept<Sqlite>, pool: &SqlitePool) {
        let mut connection = kept.take(pool).await.expect("a connection");
        sqlx::query("CREATE TABLE marker (x INTEGER)")
            .execute(&mut *connection)
            .await
            .expect("the marker table");
        connection.done();
    }

    #[tokio::test]
    async fn a_connection_whose_statement_completed_is_kept_and_used_again() {
        let pool = pool().await;
        let kept = Kept::default();
        mark(&kept, &pool).await;
        let (mut connection, _) = kept.pop().expect("the marked connection, kept");
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM marker")
            .fetch_one(&mut *connection)
            .await
            .expect("the marker table on the kept connection");
        assert_eq!(count, 0);
        // And a take finds it there, not in the pool.
        kept.state()
            .idle
            .push((connection, std::time::Instant::now()));
        let mut again = kept.take(&pool).await.expect("a connection");
        sqlx::query("SELECT count(*) FROM marker")
            .fetch_one(&mut *again)
            .await
            .expect("the marked connection again");
        again.done();
        assert_eq!(kept.count.load(Ordering::Acquire), 1);
    }

    #[tokio::test]
    async fn a_connection_whose_statement_failed_is_not_kept() {
        let pool = pool().await;
        let kept = Kept::default();
        mark(&kept, &pool).await;
        let mut connection = kept.take(&pool).await.expect("a connection");
        let failed = sqlx::query("SELECT * FROM no_such_table")
            .execute(&mut *connection)
            .await;
        assert!(failed.is_err());
        drop(connection);
        assert_eq!(kept.count.load(Ordering::Acquire), 0);
        assert!(kept.pop().is_none());
    }

    #[tokio::test]
    async fn the_pool_closes_with_connections_kept_and_in_use() {
        let pool = pool().await;
        let kept = Kept::default();
        mark(&kept, &pool).await;
        let in_use = kept.take(&pool).await.expect("a connection");
        let second = kept.take(&pool).await.expect("a second connection");
        kept.release_all();
        // Returned after the store closed: given back to the pool, not kept.
        in_use.done();
        drop(second);
        assert_eq!(kept.count.load(Ordering::Acquire), 0);
        tokio::time::timeout(Duration::from_secs(10), pool.close())
            .await
            .expect("the pool closes: no connection is held back");
    }
}
