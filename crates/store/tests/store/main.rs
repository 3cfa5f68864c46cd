//! Store tests against a real PostgreSQL (from `scripts/test`): the sequencer gives a row
//! that commits late — after a row with a larger id was already sequenced — a later
//! position, so a reader resuming from its cursor still receives it; two replicas never
//! assign one position or one leaf index twice.

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

/// An outbox row that stands for a batch's events (its payload lists the ids after its
/// own) gives each id its own position, in order, before the next row's; a transaction
/// stops taking rows once it made 2,000 events, and the rest wait for the next.
#[tokio::test]
async fn a_batch_row_gives_each_of_its_objects_a_position() -> anyhow::Result<()> {
    let url = fresh_database().await?;
    let store = Store::connect_postgres(&url).await?;
    store.migrate().await?;
    let mut writer = PgConnection::connect(&url).await?;
    let insert = "INSERT INTO outbox (topic, event_kind, object_id, created_us, payload) VALUES ('t', 'k', $1, 0, $2)";
    let big: Vec<String> = (1..2_500).map(|i| format!("big-{i}")).collect();
    for (object, payload) in [
        ("a", Some("b\nc".to_owned())),
        ("d", None),
        ("big-0", Some(big.join("\n"))),
        ("z", None),
    ] {
        sqlx::query(insert)
            .bind(object)
            .bind(payload)
            .execute(&mut writer)
            .await?;
    }
    // a (with b and c) and d make 4 events; the big row makes 2,500: past the limit, so
    // z waits.
    assert_eq!(store.sequence_batch(now()).await?, 3);
    let all = positions(&url).await?;
    assert_eq!(all.len(), 2_504);
    let first: Vec<&str> = all[..5].iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(first, ["a", "b", "c", "d", "big-0"]);
    assert_eq!(all[2_503].1, "big-2499");
    assert_eq!(store.sequence_batch(now()).await?, 1);
    let all = positions(&url).await?;
    assert_eq!(all.last(), Some(&(2_505, "z".to_owned())));
    let expected: Vec<i64> = (1..=2_505).collect();
    assert_eq!(
        all.iter()
            .map(|(position, _)| *position)
            .collect::<Vec<_>>(),
        expected
    );
    assert_eq!(store.sequence_batch(now()).await?, 0, "the outbox is empty");
    Ok(())
}

/// Records written on their own by two replicas at once (each a one-statement append that
/// takes the sequencer's lock), while both replicas' sequencers move records of changes
/// from the outbox: every record becomes exactly one leaf, the indexes run 0, 1, 2, …
/// without a gap, the counter stands at the log's size, and every object row points at
/// the leaf whose record names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_of_two_replicas_and_their_sequencers_leave_no_gap() -> anyhow::Result<()> {
    const READS: usize = 300;
    const CHANGES: usize = 60;
    let url = fresh_database().await?;
    let first = Store::connect_postgres(&url).await?;
    first.migrate().await?;
    let second = Store::connect_postgres(&url).await?;
    let record = |kind: &str, n: usize| {
        format!(
            r#"{{"v":1,"time_us":1,"actor":{{"agency":"RS-MUP","kind":"system","name":"feed"}},"method":"/test/{kind}","objects":[{{"id":"{kind}-{n}","access":"read","owner":"UA-CERT"}}],"outcome":0}}"#
        )
    };
    let reads = |store: Store, replica: &'static str| async move {
        let mut calls = Vec::new();
        for n in 0..READS {
            let store = store.clone();
            let text = record(replica, n);
            calls.push(tokio::spawn(async move {
                store.append_audit(text.as_bytes(), now()).await
            }));
        }
        for call in calls {
            call.await??;
        }
        anyhow::Ok(())
    };
    let changes = async {
        let mut writer = PgConnection::connect(&url).await?;
        for n in 0..CHANGES {
            sqlx::query("INSERT INTO outbox (topic, event_kind, object_id, created_us, payload) VALUES ('audit', 'record', $1, 0, $2)")
                .bind(format!("change-{n}"))
                .bind(record("change", n))
                .execute(&mut writer)
                .await?;
            if n % 2 == 1 {
                let (a, b) =
                    tokio::join!(first.sequence_batch(now()), second.sequence_batch(now()));
                a?;
                b?;
            }
        }
        anyhow::Ok(())
    };
    let (a, b, c) = tokio::join!(
        reads(first.clone(), "first"),
        reads(second.clone(), "second"),
        changes
    );
    a?;
    b?;
    c?;

    let total = 2 * READS + CHANGES;
    let mut connection = PgConnection::connect(&url).await?;
    let leaves: Vec<(i64, String)> =
        sqlx::query_as("SELECT leaf_index, record FROM audit_log ORDER BY leaf_index")
            .fetch_all(&mut connection)
            .await?;
    let indexes: Vec<i64> = leaves.iter().map(|(index, _)| *index).collect();
    assert_eq!(indexes, (0..total as i64).collect::<Vec<_>>());
    let mut records: Vec<&str> = leaves.iter().map(|(_, record)| record.as_str()).collect();
    records.sort_unstable();
    records.dedup();
    assert_eq!(records.len(), total, "a record was logged twice");
    let next: i64 = sqlx::query_scalar("SELECT next_leaf FROM audit_sequence WHERE id = 1")
        .fetch_one(&mut connection)
        .await?;
    assert_eq!(next, total as i64);
    assert_eq!(first.audit_size().await?, total as u64);
    let objects: Vec<(i64, String)> =
        sqlx::query_as("SELECT leaf_index, object_id FROM audit_objects ORDER BY leaf_index")
            .fetch_all(&mut connection)
            .await?;
    assert_eq!(objects.len(), total);
    for (index, object) in objects {
        let record = &leaves[usize::try_from(index)?].1;
        assert!(
            record.contains(&format!("\"id\":\"{object}\"")),
            "leaf {index} does not name {object}"
        );
    }
    Ok(())
}
