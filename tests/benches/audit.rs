//! Audit benchmark (a load binary, not a timed test):
//!
//! - records sequenced per second (outbox to Merkle log), on SQLite and PostgreSQL;
//! - inclusion and consistency proofs generated per second;
//! - the latency auditing adds to a unary call (WhoAmI over mutual TLS), p50 and p99,
//!   with and without auditing.
//!
//! Run with `scripts/with-postgres cargo bench -p liaison-e2e --bench audit`; without a
//! PostgreSQL (`LIAISON_TEST_DATABASE_URL`) only SQLite is measured.

use std::time::{Duration, Instant};

use liaison_audit::{AuditRecord, ProofTree};
use liaison_core::Timestamp;
use liaison_proto::v1;
use liaison_store::Store;
use liaison_testkit::{Backend, Limits, TestHub};
use sqlx::Connection;

const RECORDS: usize = 50_000;
const CALLS: usize = 2_000;

fn now() -> Timestamp {
    Timestamp::from_system_time(std::time::SystemTime::now())
}

fn records(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|index| {
            AuditRecord {
                time_us: 1_764_000_000_000_000 + index as i64,
                method: "/liaison.v1.IndicatorService/GetIndicator".into(),
                objects: vec![liaison_audit::ObjectAccess {
                    id: format!("ind_{index:026}"),
                    access: liaison_audit::Access::Read,
                    owner_agency: Some("UA-CERT".into()),
                    anonymous: false,
                }],
                trace_id: format!("bench-{index}"),
                ..AuditRecord::default()
            }
            .seal()
        })
        .collect()
}

async fn postgres_database() -> anyhow::Result<Option<String>> {
    let Ok(admin) = std::env::var("LIAISON_TEST_DATABASE_URL") else {
        return Ok(None);
    };
    let name = format!("liaison_bench_{}", std::process::id());
    let mut connection = sqlx::PgConnection::connect(&admin).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name}"
    )))
    .execute(&mut connection)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut connection)
        .await?;
    let (server, _) = admin.rsplit_once('/').unwrap_or((&admin, ""));
    Ok(Some(format!("{server}/{name}")))
}

/// Appends RECORDS records to the outbox (untimed), then times the sequencer moving them.
async fn sequencing(store: &Store) -> anyhow::Result<f64> {
    store.migrate().await?;
    let batch = records(RECORDS);
    for chunk in batch.chunks(1_000) {
        store.append_audit_batch(chunk, now()).await?;
    }
    let started = Instant::now();
    let mut moved = 0;
    loop {
        let count = store.sequence_batch(now()).await?;
        if count == 0 {
            break;
        }
        moved += count;
    }
    let elapsed = started.elapsed();
    assert_eq!(moved, RECORDS);
    Ok(RECORDS as f64 / elapsed.as_secs_f64())
}

/// Builds the level-by-level tree once (as the audit service keeps it), then times proofs.
fn proofs(store_hashes: &[liaison_audit::Hash]) -> (Duration, f64, f64) {
    let size = store_hashes.len() as u64;
    let started = Instant::now();
    let tree = ProofTree::new(store_hashes.to_vec());
    let build = started.elapsed();
    let count = 20_000u64;
    let started = Instant::now();
    for step in 0..count {
        let index = (step * 7_919) % size;
        let _ = tree.inclusion_proof(index, size);
    }
    let inclusion = count as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    for step in 1..=count {
        let old = (step * 241) % size + 1;
        let _ = tree.consistency_proof(old, size);
    }
    let consistency = count as f64 / started.elapsed().as_secs_f64();
    (build, inclusion, consistency)
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index]
}

/// WhoAmI latency over mutual TLS, p50 and p99.
async fn latency(backend: Backend, audit_calls: bool) -> anyhow::Result<(Duration, Duration)> {
    // One principal makes every call: no rate limit here.
    let limits = Limits {
        rate_limit_per_second: 0,
        ..Limits::default()
    };
    let hub = TestHub::builder(backend)
        .audit_calls(audit_calls)
        .limits(limits)
        .start()
        .await?;
    let mut directory = hub.client("UA-CERT", "feed").await?.directory();
    for _ in 0..200 {
        directory.who_am_i(v1::WhoAmIRequest {}).await?;
    }
    let mut samples = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let started = Instant::now();
        directory.who_am_i(v1::WhoAmIRequest {}).await?;
        samples.push(started.elapsed());
    }
    samples.sort();
    hub.stop().await?;
    Ok((percentile(&samples, 0.5), percentile(&samples, 0.99)))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut backends = vec![(
        "sqlite",
        Store::open_sqlite(&dir.path().join("bench.db")).await?,
        Backend::Sqlite,
    )];
    if let Some(url) = postgres_database().await? {
        backends.push((
            "postgres",
            Store::connect_postgres(&url).await?,
            Backend::Postgres,
        ));
    }
    println!("audit benchmark: {RECORDS} records, {CALLS} calls per latency run");
    for (name, store, backend) in backends {
        let per_second = sequencing(&store).await?;
        println!("{name:9} sequencing: {per_second:>9.0} records/s");
        let hashes = store.audit_leaf_hashes(0, RECORDS as u64).await?;
        let (build, inclusion, consistency) = proofs(&hashes);
        println!(
            "{name:9} proofs over {RECORDS} leaves: tree built in {build:?}; {inclusion:>9.0} inclusion/s, {consistency:>9.0} consistency/s"
        );
        let (with_p50, with_p99) = latency(backend, true).await?;
        let (without_p50, without_p99) = latency(backend, false).await?;
        println!(
            "{name:9} WhoAmI latency: audited p50 {with_p50:?} p99 {with_p99:?}; unaudited p50 {without_p50:?} p99 {without_p99:?}; added at p50 {:?}",
            with_p50.saturating_sub(without_p50)
        );
    }
    Ok(())
}
