//! Audit tree tiles benchmark (a load binary, not a timed test): for a log of 10 thousand
//! leaves and one of `LIAISON_BENCH_LEAVES` (default 1 million; 10 million takes about
//! 4 GiB of database), on SQLite:
//!
//! - tiling rate: leaves tiled per second from the stored leaf hashes;
//! - the tree's start: resuming the tiler's edge and computing the root, and the resident
//!   memory it adds (it should not grow with the log);
//! - inclusion proofs per second read from tiles;
//! - database bytes per leaf for the tiles.
//!
//! Run with `cargo bench -p liaison-e2e --bench tiles`.

use std::time::Instant;

use liaison_audit_service::Tiler;
use liaison_store::Store;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

/// A log of `leaves` leaves, written straight into the table (the records are stubs: the
/// tiles depend on leaf hashes only).
async fn log_of(dir: &std::path::Path, leaves: u64) -> anyhow::Result<Store> {
    let store = Store::open_sqlite(&dir.join(format!("tiles-{leaves}.db"))).await?;
    store.migrate().await?;
    let mut from = 0;
    while from < leaves {
        let to = leaves.min(from + 500_000);
        store
            .execute_for_tests(&format!(
                "WITH RECURSIVE n(i) AS (SELECT {from} UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {to})
                 INSERT INTO audit_log (leaf_index, record, leaf_hash, sequenced_us, time_us, method, outcome)
                 SELECT i, '', lower(hex(randomblob(32))), 0, 0, 'bench', 0 FROM n;"
            ))
            .await?;
        from = to;
    }
    store
        .execute_for_tests(&format!("UPDATE audit_sequence SET next_leaf = {leaves}"))
        .await?;
    Ok(store)
}

async fn measure(dir: &std::path::Path, leaves: u64) -> anyhow::Result<()> {
    let store = log_of(dir, leaves).await?;
    let started = Instant::now();
    Tiler::new(store.clone()).extend_to(leaves).await?;
    let tiling = started.elapsed();

    // A fresh tiler is what a restarted hub has: it reads the edge, then the root's tiles.
    let before = rss_kib();
    let started = Instant::now();
    let tiler = Tiler::new(store.clone());
    tiler.extend_to(leaves).await?;
    let root = tiler.root(leaves).await?;
    let start = started.elapsed();
    let grown = rss_kib().saturating_sub(before);

    let proofs = 2_000u64;
    let started = Instant::now();
    let mut index = 12_345u64;
    for _ in 0..proofs {
        index = (index * 6_364_136_223_846_793_005 + 1) % leaves;
        tiler
            .inclusion_proof(index, leaves)
            .await
            .map_err(|error| anyhow::anyhow!("{error:?}"))?;
    }
    let proof_rate = proofs as f64 / started.elapsed().as_secs_f64();
    let bytes = store.tiles_bytes().await?;
    println!(
        "{leaves:>10} leaves: tiled {:>9.0} leaves/s; start (edge + root) {:>7.2} ms, +{grown} KiB RSS; \
         {proof_rate:>7.0} inclusion proofs/s; tiles {:.1} bytes/leaf; root {}",
        leaves as f64 / tiling.as_secs_f64(),
        start.as_secs_f64() * 1000.0,
        bytes as f64 / leaves as f64,
        hex::encode(&root[..4]),
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let large: u64 = std::env::var("LIAISON_BENCH_LEAVES")
        .ok()
        .and_then(|leaves| leaves.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    println!(
        "audit tiles on SQLite ({} logical CPUs)",
        std::thread::available_parallelism()?
    );
    for leaves in [10_000, large] {
        measure(dir.path(), leaves).await?;
    }
    Ok(())
}
