//! SQLite's write-ahead log, checkpointed off the writers' path.
//!
//! A checkpoint copies the pages committed to the WAL back into the database file. By
//! default SQLite runs one inside the commit that takes the WAL past 1,000 pages, and that
//! commit returns only after the copy and its fsyncs: several times what a group of audit
//! records otherwise takes, and it always fell on some audit group that subscribers'
//! deliveries were waiting for, so the slowest publications, which set the delivery p99,
//! were those (figures in docs/performance.md, "Store design measurements").
//!
//! So the hub's connections checkpoint by themselves only as a backstop, at
//! [`BACKSTOP_PAGES`], and a task of the store's own checkpoints [`PAUSE`] after writes,
//! on a pool connection. Its checkpoints are PASSIVE: they copy what no reader still needs
//! and never wait for, or block, a reader or a writer. The writers that tell it are the
//! two every change passes through: the sequencer and the audit writer.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::{Backend, Store};

/// WAL pages at which a committing connection checkpoints by itself: only when this
/// store's checkpoints fall far behind (SQLite's default is 1,000 pages, 4 MiB).
pub(crate) const BACKSTOP_PAGES: u32 = 16_384;

/// How long after a write the checkpoint runs: writes meanwhile share it.
const PAUSE: Duration = Duration::from_millis(100);

/// The sending side of the checkpointer's wake-ups; one pending wake-up at most.
pub(crate) type WalQueue = mpsc::Sender<()>;

impl Store {
    /// Tells the checkpointer (SQLite; started by the first call) that the WAL grew.
    pub(crate) fn wrote(&self) {
        if let Backend::Sqlite(_) = self.backend {
            let queue = self.checkpointer.get_or_init(|| self.start_checkpointer());
            // Full: a wake-up is pending already.
            let _ = queue.try_send(());
        }
    }

    /// The checkpointer: it holds the pool but no handle on the store, so it ends when the
    /// last handle, and with it the queue's sender, is dropped.
    fn start_checkpointer(&self) -> WalQueue {
        let (sender, mut receiver) = mpsc::channel::<()>(1);
        let Backend::Sqlite(pool) = self.backend.clone() else {
            return sender;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return sender;
        };
        runtime.spawn(async move {
            while receiver.recv().await.is_some() {
                tokio::time::sleep(PAUSE).await;
                // Writes until now are in this checkpoint; later ones wake it again.
                let _ = receiver.try_recv();
                let checkpoint: Result<(i64, i64, i64), sqlx::Error> =
                    sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                        .fetch_one(&pool)
                        .await;
                match checkpoint {
                    Ok(_) => {}
                    // The hub is stopping: SQLite checkpoints as its last connection closes.
                    Err(sqlx::Error::PoolClosed) => break,
                    Err(error) => tracing::warn!(%error, "could not checkpoint the SQLite WAL"),
                }
            }
        });
        sender
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use liaison_core::Timestamp;

    use crate::Store;

    fn now() -> Timestamp {
        Timestamp::from_system_time(std::time::SystemTime::now())
    }

    #[tokio::test]
    async fn connections_checkpoint_only_at_the_backstop() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let store = Store::open_sqlite(&dir.path().join("hub.db")).await?;
        let crate::Backend::Sqlite(pool) = &store.backend else {
            anyhow::bail!("not SQLite");
        };
        let pages: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(pool)
            .await?;
        assert_eq!(pages, i64::from(super::BACKSTOP_PAGES));
        Ok(())
    }

    /// Far fewer pages than the backstop are written; the database file still receives
    /// them, from the checkpointer, while the store is open.
    #[tokio::test]
    async fn the_store_checkpoints_what_its_writers_commit() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("hub.db");
        let store = Store::open_sqlite(&path).await?;
        store.migrate().await?;
        // Migrations ran on a connection of their own, which checkpoints by itself.
        let before = std::fs::metadata(&path)?.len();
        let record = "{\"method\":\"/liaison.test/Write\",\"note\":\"Шахраї, lừa đảo, krāpnieki\"}"
            .repeat(8);
        for _ in 0..200 {
            store.append_audit(record.as_bytes(), now()).await?;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut size = std::fs::metadata(&path)?.len();
        while size < before + 64 * 1024 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
            size = std::fs::metadata(&path)?.len();
        }
        assert!(
            size >= before + 64 * 1024,
            "the database file stayed at {size} bytes (from {before}): nothing was checkpointed"
        );
        Ok(())
    }
}
