//! Schema migrations, embedded in the binary: one list per backend, applied in order, each
//! in its own transaction, recorded in `schema_migrations`.

use sqlx::AssertSqlSafe;

use crate::{Store, StoreError, with_pool};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "foundation",
    sqlite: include_str!("../migrations/sqlite/0001_foundation.sql"),
    postgres: include_str!("../migrations/postgres/0001_foundation.sql"),
}];

/// Arbitrary key of the PostgreSQL advisory lock that serialises migrations.
const MIGRATION_LOCK_KEY: i64 = 0x4c49_4149_534f_4e01;

pub(crate) async fn run(store: &Store) -> Result<(), StoreError> {
    let is_postgres = matches!(store.backend, crate::Backend::Postgres(_));
    with_pool!(store, pool => {
        let mut conn = pool.acquire().await?;
        if is_postgres {
            sqlx::query("SELECT pg_advisory_lock($1)").bind(MIGRATION_LOCK_KEY).execute(&mut *conn).await?;
        }
        let result = async {
            sqlx::query(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                    version BIGINT PRIMARY KEY,
                    name TEXT NOT NULL,
                    applied_us BIGINT NOT NULL
                )",
            )
            .execute(&mut *conn)
            .await?;
            let current: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
                .fetch_one(&mut *conn)
                .await?;
            let current = current.unwrap_or(0);
            let latest = MIGRATIONS.last().map_or(0, |migration| migration.version);
            if current > latest {
                return Err(StoreError::NewerSchema(current));
            }
            for migration in MIGRATIONS.iter().filter(|migration| migration.version > current) {
                let sql = if is_postgres { migration.postgres } else { migration.sqlite };
                let failed = |source| StoreError::Migration {
                    version: migration.version,
                    name: migration.name,
                    source,
                };
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *tx).await.map_err(failed)?;
                sqlx::query("INSERT INTO schema_migrations (version, name, applied_us) VALUES ($1, $2, $3)")
                    .bind(migration.version)
                    .bind(migration.name)
                    .bind(liaison_core::Timestamp::from_system_time(std::time::SystemTime::now()).as_micros())
                    .execute(&mut *tx)
                    .await
                    .map_err(failed)?;
                tx.commit().await.map_err(failed)?;
                tracing::info!(version = migration.version, name = migration.name, "applied migration");
            }
            Ok(())
        }
        .await;
        if is_postgres {
            sqlx::query("SELECT pg_advisory_unlock($1)").bind(MIGRATION_LOCK_KEY).execute(&mut *conn).await?;
        }
        result
    })
}
