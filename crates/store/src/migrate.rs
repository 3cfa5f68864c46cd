//! Schema migrations, embedded in the binary, applied in order, each in its own
//! transaction, recorded in `schema_migrations`.
//!
//! One SQL text serves both backends: it is written in the common subset of SQLite and
//! PostgreSQL, and [`for_postgres`] rewrites the few SQLite spellings that differ.

use sqlx::AssertSqlSafe;

use crate::{Store, StoreError, with_pool};

struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sql: include_str!("../migrations/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "audit log",
        sql: include_str!("../migrations/0002_audit_log.sql"),
    },
    Migration {
        version: 3,
        name: "access control",
        sql: include_str!("../migrations/0003_access.sql"),
    },
    Migration {
        version: 4,
        name: "indicator exchange",
        sql: include_str!("../migrations/0004_indicator_exchange.sql"),
    },
    Migration {
        version: 5,
        name: "confidence-building measures",
        sql: include_str!("../migrations/0005_cbm.sql"),
    },
    Migration {
        version: 6,
        name: "mutual legal assistance",
        sql: include_str!("../migrations/0006_mla.sql"),
    },
];

/// SQLite spellings and their PostgreSQL equivalents.
const POSTGRES_SPELLINGS: &[(&str, &str)] =
    &[("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY")];

/// The PostgreSQL text of a migration.
fn for_postgres(sql: &str) -> String {
    POSTGRES_SPELLINGS
        .iter()
        .fold(sql.to_owned(), |sql, (sqlite, postgres)| {
            sql.replace(sqlite, postgres)
        })
}

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
                let sql = if is_postgres {
                    for_postgres(migration.sql)
                } else {
                    migration.sql.to_owned()
                };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_text_has_no_sqlite_spellings() {
        for migration in MIGRATIONS {
            let postgres = for_postgres(migration.sql);
            assert!(
                !postgres.contains("AUTOINCREMENT"),
                "migration {}",
                migration.version
            );
        }
        assert!(for_postgres(MIGRATIONS[0].sql).contains("id BIGSERIAL PRIMARY KEY"));
    }
}
