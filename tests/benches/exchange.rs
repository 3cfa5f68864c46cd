//! Indicator exchange benchmark (a load binary, not a timed test), over mutual TLS with
//! auditing on, each figure beside a ceiling measured in the same run:
//!
//! - PublishMany throughput (observables/s) on SQLite and PostgreSQL, beside a plain
//!   batched INSERT of the same rows straight through sqlx: into tables shaped as the
//!   hub's (the ceiling the target is set against), and into two bare tables (the
//!   ceiling earlier reports gave);
//! - publish-to-delivery latency p50/p99 with 50 subscribers;
//! - Lookup calls/s beside gRPC health-check calls/s over the same connections.
//!
//! Run with `scripts/with-postgres cargo bench -p liaison-e2e --bench exchange`; without a
//! PostgreSQL (`LIAISON_TEST_DATABASE_URL`) only SQLite is measured. To measure (or
//! profile) part of it, name the parts: `LIAISON_BENCH=publish,latency,lookup` and
//! `LIAISON_BENCH_DATABASES=sqlite,postgres` (both default to everything).

use std::time::{Duration, Instant};

use liaison_proto::v1;
use liaison_testkit::{Backend, Limits, TestHub};

const PUBLISH_ITEMS: usize = 20_000;
const SUBSCRIBERS: usize = 50;
const LATENCY_PUBLICATIONS: usize = 200;
const CALL_WINDOW: Duration = Duration::from_secs(3);
/// Concurrent callers in the Lookup and health-check runs: each rate is measured with each
/// number, and the two compared at their peaks, what the hub serves when enough callers
/// keep it busy, not what a few callers waiting on round trips ask of it. A Lookup waits
/// for two grouped commits (its read and its audit record) where a health check waits for
/// none: with 32 callers the Lookup run left 20–30 % of SQLite's CPU idle while the health
/// checks used all of it, and 64 or 128 callers raised Lookup calls/s by a fifth to a half
/// on both databases while the health-check rate stayed where it was. Each run prints
/// every rate and how busy it kept the CPU.
const CALLERS: [usize; 3] = [32, 64, 128];
/// The PublishMany item whose observable the lookups ask for (10.0.1.44).
const LOOKED_UP: usize = 300;

fn limits() -> Limits {
    Limits {
        // A benchmark is a flood by design.
        rate_limit_per_second: 0,
        max_call_duration: Duration::from_secs(600),
        ..Limits::default()
    }
}

fn item(index: usize) -> v1::Indicator {
    v1::Indicator {
        observables: vec![v1::Observable {
            r#type: v1::ObservableType::Ipv4 as i32,
            value: address(index),
        }],
        language: "en".into(),
        confidence: 60,
        tlp: v1::Tlp::Green as i32,
        scope: Some(v1::Scope {
            target: Some(v1::scope::Target::AllMembers(v1::AllMembers {})),
        }),
        ..v1::Indicator::default()
    }
}

/// PublishMany of PUBLISH_ITEMS one-observable items in one stream.
async fn publish_many(hub: &TestHub) -> anyhow::Result<f64> {
    let client = hub.client("RS-MUP", "feed").await?;
    let requests: Vec<v1::PublishManyRequest> = (0..PUBLISH_ITEMS)
        .map(|index| v1::PublishManyRequest {
            request_id: format!("bench-{index}"),
            indicator: Some(item(index)),
        })
        .collect();
    let started = Instant::now();
    let answers = client
        .indicators()
        .publish_many(tokio_stream::iter(requests))
        .await?
        .into_inner();
    let response = liaison_client::collect_publish_results(answers, |_, _| ()).await?;
    // Sustained: until every event and audit record is sequenced, not only committed.
    hub.drained().await?;
    let elapsed = started.elapsed();
    anyhow::ensure!(
        response.accepted_count as usize == PUBLISH_ITEMS,
        "accepted {}",
        response.accepted_count
    );
    Ok(PUBLISH_ITEMS as f64 / elapsed.as_secs_f64())
}

/// The ceilings of a PublishMany run: the same rows inserted straight through sqlx, 500
/// items per multi-row INSERT and transaction (as the hub batches them), in items per
/// second.
struct Ceilings {
    /// Into tables shaped as the hub's `indicators` and `indicator_observables`: the same
    /// columns and values, keys, indexes and (on SQLite) the foreign key to `agencies`. What storing
    /// these rows costs the database, without what the hub adds (validation, idempotency,
    /// events, audit, correlation, gRPC).
    same_tables: f64,
    /// Into two bare tables (a primary key on one, no other index, five and three
    /// columns): the figure earlier reports gave, kept for comparison.
    bare_tables: f64,
}

/// The DDL of the scratch tables: `bench_indicators` and `bench_observables` as
/// migrations 0001, 0004 and 0007 leave `indicators` and `indicator_observables` (on
/// PostgreSQL, migration 8 also drops the foreign key to `agencies`: see
/// [`scratch_tables`]), and the two bare tables.
const SCRATCH_TABLES: &str = "
    CREATE TABLE bench_indicators (
        id TEXT PRIMARY KEY,
        source_agency_id TEXT NOT NULL REFERENCES agencies (id),
        publisher TEXT NOT NULL,
        title TEXT,
        description TEXT,
        countermeasures TEXT,
        category TEXT,
        language TEXT NOT NULL,
        first_seen_us BIGINT,
        valid_until_us BIGINT,
        confidence BIGINT NOT NULL,
        evaluation TEXT,
        tlp TEXT NOT NULL,
        scope_kind TEXT NOT NULL,
        scope_value TEXT NOT NULL,
        anonymous BOOLEAN NOT NULL,
        linked_fraud_method_id TEXT,
        created_us BIGINT NOT NULL,
        revoked_us BIGINT,
        revoke_reason TEXT
    );
    CREATE INDEX bench_indicators_created ON bench_indicators (created_us, id);
    CREATE TABLE bench_observables (
        indicator_id TEXT NOT NULL,
        ordinal BIGINT NOT NULL,
        type TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (indicator_id, ordinal)
    );
    CREATE INDEX bench_observables_value ON bench_observables (type, value);
    CREATE TABLE bare_indicators (id TEXT PRIMARY KEY, source TEXT NOT NULL, tlp TEXT NOT NULL,
        scope TEXT NOT NULL, created_us BIGINT NOT NULL);
    CREATE TABLE bare_observables (indicator_id TEXT NOT NULL, type TEXT NOT NULL, value TEXT NOT NULL)";

/// [`SCRATCH_TABLES`] for the hub's database: on PostgreSQL `bench_indicators` has no
/// foreign key to `agencies`, as `indicators` has none there since migration 8.
fn scratch_tables(hub: &TestHub) -> String {
    match &hub.config().database {
        liaison_testkit::DatabaseConfig::Postgres(_) => {
            SCRATCH_TABLES.replace(" REFERENCES agencies (id)", "")
        }
        liaison_testkit::DatabaseConfig::Sqlite(_) => SCRATCH_TABLES.to_owned(),
    }
}

/// The IPv4 address of PublishMany item `index`, as [`item`] makes it.
fn address(index: usize) -> String {
    format!(
        "10.{}.{}.{}",
        index / 65_536,
        (index / 256) % 256,
        index % 256
    )
}

/// The rows into the two bare tables, as the ceiling of earlier reports: literal
/// multi-row INSERTs, 500 items a transaction; items/s.
async fn bare_tables(hub: &TestHub) -> anyhow::Result<f64> {
    let store = hub.store();
    let started = Instant::now();
    for chunk_start in (0..PUBLISH_ITEMS).step_by(500) {
        let (indicators, observables): (Vec<String>, Vec<String>) = (chunk_start
            ..(chunk_start + 500).min(PUBLISH_ITEMS))
            .map(|i| {
                (
                    format!("('ind_{i:026}', 'RS-MUP', 'green', 'all', {i})"),
                    format!("('ind_{i:026}', 'ipv4', '{}')", address(i)),
                )
            })
            .unzip();
        store
            .execute_for_tests(&format!(
                "BEGIN; INSERT INTO bare_indicators VALUES {}; INSERT INTO bare_observables VALUES {}; COMMIT",
                indicators.join(","),
                observables.join(",")
            ))
            .await?;
    }
    Ok(PUBLISH_ITEMS as f64 / started.elapsed().as_secs_f64())
}

/// The same rows into the tables shaped as the hub's, the way sqlx inserts in bulk: on
/// PostgreSQL one `INSERT … SELECT FROM UNNEST` of array parameters per table (as the
/// hub's own statements), on SQLite a multi-row `VALUES` of bound parameters
/// (`QueryBuilder::push_values`); one connection, 500 items a transaction; items/s.
/// Not literal `VALUES` on PostgreSQL: parsing 500 rows of 20 literal columns cost more
/// than storing them (about 20,000 rows/s through psql, against 45,000 for the same rows
/// made by the server with `generate_series`), so it measured the parser, not the table.
async fn same_tables(hub: &TestHub) -> anyhow::Result<f64> {
    use sqlx::Connection;
    const INDICATOR_COLUMNS: &str = "INSERT INTO bench_indicators (id, source_agency_id, publisher, \
        language, confidence, tlp, scope_kind, scope_value, anonymous, created_us) ";
    let id = |i: usize| format!("ind_{i:026}");
    let started = Instant::now();
    match &hub.config().database {
        liaison_testkit::DatabaseConfig::Postgres(url) => {
            let mut connection = sqlx::PgConnection::connect(url.expose()).await?;
            for chunk_start in (0..PUBLISH_ITEMS).step_by(500) {
                let range = chunk_start..(chunk_start + 500).min(PUBLISH_ITEMS);
                let n = range.len();
                let ids: Vec<String> = range.clone().map(id).collect();
                let created: Vec<i64> = range.clone().map(|i| i as i64).collect();
                let mut tx = connection.begin().await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{INDICATOR_COLUMNS} SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], \
                     $5::BIGINT[], $6::TEXT[], $7::TEXT[], $8::TEXT[], $9::BOOLEAN[], $10::BIGINT[])"
                )))
                .bind(&ids)
                .bind(vec!["RS-MUP"; n])
                .bind(vec!["RS-MUP/system/feed"; n])
                .bind(vec!["en"; n])
                .bind(vec![60i64; n])
                .bind(vec!["green"; n])
                .bind(vec!["all"; n])
                .bind(vec![""; n])
                .bind(vec![false; n])
                .bind(&created)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO bench_observables (indicator_id, ordinal, type, value) \
                     SELECT * FROM UNNEST($1::TEXT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[])",
                )
                .bind(&ids)
                .bind(vec![0i64; n])
                .bind(vec!["ipv4"; n])
                .bind(range.map(address).collect::<Vec<_>>())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
            }
        }
        liaison_testkit::DatabaseConfig::Sqlite(path) => {
            let url = format!("sqlite://{}", path.display());
            let mut connection = sqlx::SqliteConnection::connect(&url).await?;
            for chunk_start in (0..PUBLISH_ITEMS).step_by(500) {
                let range = chunk_start..(chunk_start + 500).min(PUBLISH_ITEMS);
                let mut tx = connection.begin().await?;
                let mut indicators = sqlx::QueryBuilder::<sqlx::Sqlite>::new(INDICATOR_COLUMNS);
                indicators.push_values(range.clone(), |mut row, i| {
                    row.push_bind(id(i))
                        .push_bind("RS-MUP")
                        .push_bind("RS-MUP/system/feed")
                        .push_bind("en")
                        .push_bind(60i64)
                        .push_bind("green")
                        .push_bind("all")
                        .push_bind("")
                        .push_bind(false)
                        .push_bind(i as i64);
                });
                indicators.build().execute(&mut *tx).await?;
                let mut observables = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                    "INSERT INTO bench_observables (indicator_id, ordinal, type, value) ",
                );
                observables.push_values(range, |mut row, i| {
                    row.push_bind(id(i))
                        .push_bind(0i64)
                        .push_bind("ipv4")
                        .push_bind(address(i));
                });
                observables.build().execute(&mut *tx).await?;
                tx.commit().await?;
            }
        }
    }
    Ok(PUBLISH_ITEMS as f64 / started.elapsed().as_secs_f64())
}

/// The ceilings, measured after the PublishMany run on the same database. Ids are as
/// long as the hub's and ascend, as its ULIDs do.
async fn plain_insert(hub: &TestHub) -> anyhow::Result<Ceilings> {
    hub.store().execute_for_tests(&scratch_tables(hub)).await?;
    let same_tables = same_tables(hub).await?;
    let bare_tables = bare_tables(hub).await?;
    Ok(Ceilings {
        same_tables,
        bare_tables,
    })
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// p50 and p99 from a Publish call's start to each of SUBSCRIBERS receiving it.
async fn delivery_latency(hub: &TestHub) -> anyhow::Result<(Duration, Duration)> {
    let agencies = [
        "HU-NNI",
        "TR-EGM",
        "AL-ASP",
        "BA-MSB",
        "MK-MVR",
        "ME-UP",
        "SI-POLICIJA",
    ];
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let mut tasks = Vec::new();
    // Subscribers start at the live tail: the earlier PublishMany run is not replayed.
    let tail = *hub.store().watch_high_water().borrow();
    for index in 0..SUBSCRIBERS {
        let client = hub.client(agencies[index % agencies.len()], "feed").await?;
        let mut stream = client
            .indicators()
            .subscribe(v1::SubscribeRequest {
                after: Some(v1::Cursor { position: tail }),
                observable_types: vec![v1::ObservableType::Ipv4 as i32],
                ..v1::SubscribeRequest::default()
            })
            .await?
            .into_inner();
        let sender = sender.clone();
        tasks.push(tokio::spawn(async move {
            let _client = client;
            while let Ok(Some(message)) = stream.message().await {
                if let Some(v1::indicator_event::Event::Published(indicator)) =
                    message.event.and_then(|event| event.event)
                {
                    let _ = sender.send((indicator.id, Instant::now()));
                }
            }
        }));
    }
    drop(sender);
    let publisher = hub.client("RO-IGPR", "feed").await?;
    let mut indicators = publisher.indicators();
    // A first publication every subscriber must receive before timing starts.
    let warm_up = indicators
        .publish(v1::PublishRequest {
            request_id: "latency-warm-up".into(),
            indicator: Some(item(999_999)),
        })
        .await?
        .into_inner()
        .indicator
        .map(|indicator| indicator.id)
        .unwrap_or_default();
    let mut ready = 0;
    while ready < SUBSCRIBERS {
        let (got, _) = tokio::time::timeout(Duration::from_secs(60), receiver.recv())
            .await?
            .ok_or_else(|| anyhow::anyhow!("subscribers ended"))?;
        if got == warm_up {
            ready += 1;
        }
    }
    let mut latencies = Vec::with_capacity(LATENCY_PUBLICATIONS * SUBSCRIBERS);
    for index in 0..LATENCY_PUBLICATIONS {
        let started = Instant::now();
        let id = indicators
            .publish(v1::PublishRequest {
                request_id: format!("latency-{index}"),
                indicator: Some(item(1_000_000 + index)),
            })
            .await?
            .into_inner()
            .indicator
            .map(|indicator| indicator.id)
            .unwrap_or_default();
        let mut received = 0;
        while received < SUBSCRIBERS {
            let (got, at) = tokio::time::timeout(Duration::from_secs(30), receiver.recv())
                .await?
                .ok_or_else(|| anyhow::anyhow!("subscribers ended"))?;
            if got == id {
                latencies.push(at - started);
                received += 1;
            }
        }
    }
    for task in tasks {
        task.abort();
    }
    latencies.sort();
    Ok((percentile(&latencies, 0.5), percentile(&latencies, 0.99)))
}

/// Calls per second of `call` from `callers` tasks over `clients`' connections, counting
/// the time until the audit records they wrote are sequenced.
async fn rate<F, Fut>(
    hub: &TestHub,
    clients: &[liaison_client::Client],
    callers: usize,
    call: F,
) -> anyhow::Result<Rate>
where
    F: Fn(liaison_client::Client) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let cpu = CpuTime::now();
    let started = Instant::now();
    let deadline = started + CALL_WINDOW;
    let mut tasks = Vec::new();
    for index in 0..callers {
        let client = clients[index % clients.len()].clone();
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut count = 0u64;
            while Instant::now() < deadline {
                call(client.clone()).await?;
                count += 1;
            }
            anyhow::Ok(count)
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await??;
    }
    hub.drained().await?;
    Ok(Rate {
        per_second: total as f64 / started.elapsed().as_secs_f64(),
        busy: cpu.and_then(|before| Some(CpuTime::now()?.busy_since(&before))),
    })
}

/// Calls per second, and the share of the machine's CPU time that was busy meanwhile.
struct Rate {
    per_second: f64,
    busy: Option<f64>,
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:>8.0} calls/s", self.per_second)?;
        match self.busy {
            Some(busy) => write!(f, " (CPU {:.0} % busy)", 100.0 * busy),
            None => Ok(()),
        }
    }
}

/// The machine's CPU time so far, busy and in all, from the first line of `/proc/stat`
/// (Linux; `None` elsewhere): user, nice, system, irq and softirq count as busy; idle,
/// iowait and steal do not.
struct CpuTime {
    busy: u64,
    total: u64,
}

impl CpuTime {
    fn now() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let ticks: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .take(8)
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        let [user, nice, system, idle, iowait, irq, softirq, steal] = ticks[..] else {
            return None;
        };
        Some(Self {
            busy: user + nice + system + irq + softirq,
            total: user + nice + system + idle + iowait + irq + softirq + steal,
        })
    }

    fn busy_since(&self, before: &Self) -> f64 {
        let total = self.total.saturating_sub(before.total).max(1);
        self.busy.saturating_sub(before.busy) as f64 / total as f64
    }
}

/// Lookup and health-check rates, each with each number of CALLERS, in that order.
async fn lookups(hub: &TestHub) -> anyhow::Result<(Vec<Rate>, Vec<Rate>)> {
    let mut clients = Vec::new();
    for agency in ["HU-NNI", "TR-EGM", "AL-ASP", "BA-MSB"] {
        clients.push(hub.client(agency, "feed").await?);
    }
    hub.drained().await?;
    // Health first: the lookups' audit records must not be sequenced during its windows.
    let health = rates(hub, &clients, |client: liaison_client::Client| async move {
        tonic_health::pb::health_client::HealthClient::new(client.channel())
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await?;
        Ok(())
    })
    .await?;
    let observable = item(LOOKED_UP).observables.pop();
    let lookup = rates(hub, &clients, move |client: liaison_client::Client| {
        let observable = observable.clone();
        async move {
            client
                .indicators()
                .lookup(v1::LookupRequest { observable })
                .await?;
            Ok(())
        }
    })
    .await?;
    Ok((lookup, health))
}

/// The [`rate`] of `call` with each number of CALLERS, in that order.
async fn rates<F, Fut>(
    hub: &TestHub,
    clients: &[liaison_client::Client],
    call: F,
) -> anyhow::Result<Vec<Rate>>
where
    F: Fn(liaison_client::Client) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let mut rates = Vec::new();
    for callers in CALLERS {
        rates.push(rate(hub, clients, callers, call.clone()).await?);
    }
    Ok(rates)
}

/// CALLERS as printed: "32 / 64 / 128".
fn callers_list() -> String {
    CALLERS.map(|callers| callers.to_string()).join(" / ")
}

/// The highest of `rates`, per second.
fn peak(rates: &[Rate]) -> f64 {
    rates.iter().map(|rate| rate.per_second).fold(0.0, f64::max)
}

/// True when the comma-separated list in `variable` names `part`, or is unset.
fn selected(variable: &str, part: &str) -> bool {
    std::env::var(variable).map_or(true, |list| {
        list.split(',')
            .any(|item| item.trim().eq_ignore_ascii_case(part))
    })
}

async fn run(backend: Backend, name: &str) -> anyhow::Result<()> {
    let hub = TestHub::builder(backend).limits(limits()).start().await?;
    if selected("LIAISON_BENCH", "publish") {
        let published = publish_many(&hub).await?;
        let ceilings = plain_insert(&hub).await?;
        println!(
            "{name:9} PublishMany: {published:>8.0} observables/s   plain batched INSERT, same tables: {:>8.0} rows/s ({:.0} %); bare tables: {:>8.0} rows/s ({:.0} %)",
            ceilings.same_tables,
            100.0 * published / ceilings.same_tables,
            ceilings.bare_tables,
            100.0 * published / ceilings.bare_tables,
        );
    }
    if selected("LIAISON_BENCH", "latency") {
        let (p50, p99) = delivery_latency(&hub).await?;
        println!(
            "{name:9} publish-to-delivery, {SUBSCRIBERS} subscribers: p50 {:.2} ms, p99 {:.2} ms",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
    }
    if selected("LIAISON_BENCH", "lookup") {
        if !selected("LIAISON_BENCH", "publish") {
            // The value looked up is one the PublishMany run stores.
            hub.client("RS-MUP", "feed")
                .await?
                .indicators()
                .publish(v1::PublishRequest {
                    request_id: format!("bench-{LOOKED_UP}"),
                    indicator: Some(item(LOOKED_UP)),
                })
                .await?;
        }
        let (lookup, health) = lookups(&hub).await?;
        let callers = callers_list();
        let list = |rates: &[Rate]| {
            rates
                .iter()
                .map(Rate::to_string)
                .collect::<Vec<_>>()
                .join(" | ")
        };
        println!(
            "{name:9} Lookup, {callers} callers:       {}",
            list(&lookup)
        );
        println!(
            "{name:9} health check, {callers} callers: {}",
            list(&health)
        );
        println!(
            "{name:9} Lookup at its peak: {:>8.0} calls/s   health check at its peak: {:>8.0} calls/s   ({:.0} %)",
            peak(&lookup),
            peak(&health),
            100.0 * peak(&lookup) / peak(&health)
        );
    }
    hub.stop().await
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    println!(
        "exchange benchmark: {PUBLISH_ITEMS} items in one PublishMany; {LATENCY_PUBLICATIONS} publications to {SUBSCRIBERS} subscribers; {} callers for {} s each",
        callers_list(),
        CALL_WINDOW.as_secs()
    );
    if selected("LIAISON_BENCH_DATABASES", "sqlite") {
        run(Backend::Sqlite, "SQLite").await?;
    }
    if !selected("LIAISON_BENCH_DATABASES", "postgres") {
        return Ok(());
    }
    if std::env::var_os(liaison_testkit::POSTGRES_URL_VARIABLE).is_some() {
        run(Backend::Postgres, "Postgres").await?;
    } else {
        println!("PostgreSQL skipped: set LIAISON_TEST_DATABASE_URL (scripts/with-postgres does)");
    }
    Ok(())
}
