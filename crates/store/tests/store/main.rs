//! Store tests against a real PostgreSQL (from `scripts/test`): the sequencer gives a row
//! that commits late — after a row with a larger id was already sequenced — a later
//! position, so a reader resuming from its cursor still receives it.

use liaison_core::Timestamp;
use liaison_store::Store;
use sqlx::{Connection, PgConnection};

/// Creates a fresh database on the test server, migrated, and returns its URL.
async fn fresh_database() -> anyhow::Result<String> {
    let admin = std::env::var("LIAISON_TEST_DATABASE_URL").map_err(|_| {
        anyhow::anyhow!("LIAISON_TEST_DATABASE_URL is not set: run the suite with scripts/test")
    })?;
    let name = format!(
        "liaison_store_{}",
        ulid::Ulid::new().to_string().to_ascii_lowercase()
    );
    let mut connection = PgConnection::connect(&admin).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut connection)
        .await?;
    let (server, _) = admin.rsplit_once('/').expect("URL ends with /DATABASE");
    Ok(format!("{server}/{name}"))
}

fn now() -> Timestamp {
    Timestamp::from_system_time(std::time::SystemTime::now())
}

async fn positions(url: &str) -> anyhow::Result<Vec<(i64, String)>> {
    let mut connection = PgConnection::connect(url).await?;
    Ok(
        sqlx::query_as("SELECT position, object_id FROM events ORDER BY position")
            .fetch_all(&mut connection)
            .await?,
    )
}

#[tokio::test]
async fn a_row_that_commits_late_gets_a_later_position() -> anyhow::Result<()> {
    let url = fresh_database().await?;
    let store = Store::connect_postgres(&url).await?;
    store.migrate().await?;

    // Writer A takes the smaller outbox id but has not committed yet.
    let mut slow = PgConnection::connect(&url).await?;
    let mut slow_tx = slow.begin().await?;
    sqlx::query("INSERT INTO outbox (topic, event_kind, object_id, created_us) VALUES ('t', 'k', 'slow', 0)")
        .execute(&mut *slow_tx)
        .await?;
    // Writer B takes a larger id and commits first.
    let mut fast = PgConnection::connect(&url).await?;
    sqlx::query("INSERT INTO outbox (topic, event_kind, object_id, created_us) VALUES ('t', 'k', 'fast', 0)")
        .execute(&mut fast)
        .await?;

    assert_eq!(
        store.sequence_batch(now()).await?,
        1,
        "only the committed row is sequenced"
    );
    assert_eq!(positions(&url).await?, [(1, "fast".to_owned())]);
    let reader_cursor = 1;

    slow_tx.commit().await?;
    assert_eq!(store.sequence_batch(now()).await?, 1);
    let all = positions(&url).await?;
    assert_eq!(all, [(1, "fast".to_owned()), (2, "slow".to_owned())]);
    // The reader that had passed position 1 before A committed still gets A's row.
    assert!(
        all.iter()
            .any(|(position, id)| *position > reader_cursor && id == "slow")
    );
    assert_eq!(store.sequence_batch(now()).await?, 0, "the outbox is empty");
    Ok(())
}

#[tokio::test]
async fn two_sequencers_never_assign_one_position_twice() -> anyhow::Result<()> {
    let url = fresh_database().await?;
    let first = Store::connect_postgres(&url).await?;
    first.migrate().await?;
    // A second replica's store on the same database.
    let second = Store::connect_postgres(&url).await?;
    let mut writer = PgConnection::connect(&url).await?;
    for round in 0..200 {
        sqlx::query("INSERT INTO outbox (topic, event_kind, object_id, created_us) VALUES ('t', 'k', $1, 0)")
            .bind(format!("row-{round}"))
            .execute(&mut writer)
            .await?;
        if round % 20 == 19 {
            let (a, b) = tokio::join!(first.sequence_batch(now()), second.sequence_batch(now()));
            a?;
            b?;
        }
    }
    let all = positions(&url).await?;
    assert_eq!(all.len(), 200, "a row was lost or sequenced twice");
    let expected: Vec<i64> = (1..=200).collect();
    assert_eq!(
        all.iter()
            .map(|(position, _)| *position)
            .collect::<Vec<_>>(),
        expected
    );
    Ok(())
}
