//! Indicator inserts on PostgreSQL: one statement for both tables, each column an array;
//! a single publication in one statement with its key and outbox row.

use sqlx::PgPool;

use super::write::{IndicatorRows, IndicatorWrite};
use crate::{
    bulk::{PgQuery, column},
    idempotency::KeyRows,
    outbox::{OutboxRow, bind_outbox_rows, pg_outbox_insert},
    tx::{WriteTurn, WriteTx},
};

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

impl IndicatorWrite for PgPool {
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
}

#[cfg(test)]
mod tests {
    /// The PostgreSQL batch INSERT stores an observable only with an indicator the same
    /// statement inserts (what the foreign key dropped in migration 7 guaranteed), and an
    /// indicator only with a known source agency (the key dropped in migration 8): a row
    /// that breaks either fails the whole statement, and nothing is stored.
    #[tokio::test]
    async fn a_stray_observable_or_an_unknown_agency_fails_the_postgres_batch() {
        use super::super::write::{IndicatorRow, IndicatorRows, IndicatorWrite};
        use crate::tx::WritePool;
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
