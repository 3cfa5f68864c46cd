//! Schema migrations, embedded in the binary, applied in order, each in its own
//! transaction, recorded in `schema_migrations`.
//!
//! One SQL text serves both backends: it is written in the common subset of SQLite and
//! PostgreSQL, and [`for_postgres`] rewrites the few SQLite spellings that differ. A
//! migration only PostgreSQL needs is recorded on SQLite without running anything.

use sqlx::AssertSqlSafe;

use crate::{Store, StoreError, with_pool};

struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
    /// Run on PostgreSQL only (still recorded as applied on SQLite).
    postgres_only: bool,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sql: include_str!("../migrations/0001_foundation.sql"),
        postgres_only: false,
    },
    Migration {
        version: 2,
        name: "audit log",
        sql: include_str!("../migrations/0002_audit_log.sql"),
        postgres_only: false,
    },
    Migration {
        version: 3,
        name: "access control",
        sql: include_str!("../migrations/0003_access.sql"),
        postgres_only: false,
    },
    Migration {
        version: 4,
        name: "indicator exchange",
        sql: include_str!("../migrations/0004_indicator_exchange.sql"),
        postgres_only: false,
    },
    Migration {
        version: 5,
        name: "confidence-building measures",
        sql: include_str!("../migrations/0005_cbm.sql"),
        postgres_only: false,
    },
    Migration {
        version: 6,
        name: "mutual legal assistance",
        sql: include_str!("../migrations/0006_mla.sql"),
        postgres_only: false,
    },
    Migration {
        version: 7,
        name: "observables without a foreign key",
        sql: include_str!("../migrations/0007_observables_without_foreign_key.sql"),
        postgres_only: false,
    },
    Migration {
        version: 8,
        name: "indicators without the foreign key to agencies on PostgreSQL",
        sql: include_str!("../migrations/0008_indicators_without_agency_foreign_key.sql"),
        postgres_only: true,
    },
    Migration {
        version: 9,
        name: "indicator search text",
        sql: include_str!("../migrations/0009_indicator_search_text.sql"),
        postgres_only: false,
    },
    Migration {
        version: 10,
        name: "anonymity of audited objects",
        sql: include_str!("../migrations/0010_audit_object_anonymity.sql"),
        postgres_only: false,
    },
    Migration {
        version: 11,
        name: "consultation versions",
        sql: include_str!("../migrations/0011_consultation_version.sql"),
        postgres_only: false,
    },
    Migration {
        version: 12,
        name: "audit cosignatures",
        sql: include_str!("../migrations/0012_audit_cosignatures.sql"),
        postgres_only: false,
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

/// The version of the newest migration this build knows.
pub(crate) fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |migration| migration.version)
}

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
                if is_postgres || !migration.postgres_only {
                    sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *tx).await.map_err(failed)?;
                }
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

    /// An in-memory SQLite database with the migrations before `version` applied (as the
    /// runner applies them on SQLite), then the rows `seed`, then migration `version`.
    async fn sqlite_migrated_over(version: i64, seed: &'static str) -> sqlx::SqlitePool {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        let apply = |sql: &'static str| sqlx::raw_sql(AssertSqlSafe(sql)).execute(&pool);
        for migration in MIGRATIONS
            .iter()
            .filter(|migration| migration.version < version)
        {
            if !migration.postgres_only {
                apply(migration.sql).await.unwrap();
            }
        }
        apply(seed).await.unwrap();
        let migration = MIGRATIONS
            .iter()
            .find(|migration| migration.version == version)
            .expect("a migration of that version");
        apply(migration.sql).await.unwrap();
        pool
    }

    /// Migration 7 rebuilds `indicator_observables` without its foreign key: a database
    /// made by the earlier migrations keeps every observable, and its lookup index.
    #[tokio::test]
    async fn observables_survive_the_rebuild_without_the_foreign_key() {
        let pool = sqlite_migrated_over(
            7,
            "INSERT INTO agencies (id, name, kind) VALUES ('LV-CERT', 'CERT.LV', 'cert');
             INSERT INTO indicators (id, source_agency_id, publisher, language, confidence, tlp,
                 scope_kind, scope_value, anonymous, created_us)
             VALUES ('ind_lv', 'LV-CERT', 'LV-CERT/feed', 'lv', 70, 'green', 'all', '', FALSE, 1);
             INSERT INTO indicator_observables (indicator_id, ordinal, type, value) VALUES
                 ('ind_lv', 0, 'domain', 'xn--latvijas-pasts-7nb.example'),
                 ('ind_lv', 1, 'phone', '+37120000000')",
        )
        .await;
        let rows: Vec<(String, i64, String, String)> = sqlx::query_as(
            "SELECT indicator_id, ordinal, type, value FROM indicator_observables ORDER BY ordinal",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(
            rows,
            [
                (
                    "ind_lv".to_owned(),
                    0,
                    "domain".to_owned(),
                    "xn--latvijas-pasts-7nb.example".to_owned()
                ),
                (
                    "ind_lv".to_owned(),
                    1,
                    "phone".to_owned(),
                    "+37120000000".to_owned()
                ),
            ]
        );
        let keys: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pragma_foreign_key_list('indicator_observables')",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(keys, 0);
        let indexes: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'indicator_observables'
             AND sql IS NOT NULL",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(indexes, ["indicator_observables_value"]);
    }

    /// Migration 9 folds the texts of indicators stored before it into `search_text` with
    /// the database's LOWER() (on SQLite ASCII letters only); one without texts has none.
    #[tokio::test]
    async fn search_text_is_filled_for_earlier_indicators() {
        let pool = sqlite_migrated_over(
            9,
            "INSERT INTO agencies (id, name, kind) VALUES ('LV-CERT', 'CERT.LV', 'cert');
             INSERT INTO indicators (id, source_agency_id, publisher, title, description, countermeasures,
                 language, confidence, tlp, scope_kind, scope_value, anonymous, created_us)
             VALUES ('ind_method', 'LV-CERT', 'LV-CERT/feed', 'Phishing Kit', 'Viltus SMS', NULL, 'lv', 70,
                     'green', 'all', '', FALSE, 1),
                    ('ind_bare', 'LV-CERT', 'LV-CERT/feed', NULL, NULL, NULL, 'lv', 70, 'green', 'all', '',
                     FALSE, 2)",
        )
        .await;
        let rows: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT id, search_text FROM indicators ORDER BY id")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(
            rows,
            [
                ("ind_bare".to_owned(), None),
                (
                    "ind_method".to_owned(),
                    Some("phishing kit viltus sms ".to_owned())
                ),
            ]
        );
    }
}
