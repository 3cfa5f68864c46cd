//! `TestHub`: a real hub on 127.0.0.1 port 0, with a fresh development PKI, the example
//! federation and a fresh database — a SQLite file in a temporary directory, or a new
//! PostgreSQL database on the server named by `LIAISON_TEST_DATABASE_URL` (which
//! `scripts/test` starts). Each test gets its own hub and database; nothing is shared.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use liaison_testkit::{Backend, TestHub};
//! let hub = TestHub::start(Backend::Sqlite).await?;
//! let client = hub.client("UA-CERT", "feed").await?;
//! hub.stop().await?;
//! # Ok(()) }
//! ```

use std::{path::PathBuf, time::Duration};

use anyhow::{Context, bail};
use liaison::{AccessConfig, HubConfig, Secret, dev::ensure_dev_pki};
pub use liaison::{DatabaseConfig, EXAMPLE_FEDERATION, Limits};
use liaison_client::{Client, ClientConfig};
use liaison_core::Federation;
use liaison_pki::{CertificateAuthority, DevPkiPaths, IssuedCertificate};
use liaison_store::Store;
use sqlx::Connection;
use tempfile::TempDir;
use tokio::{sync::oneshot, task::JoinHandle};

/// Runs an async test function `fn(Backend) -> anyhow::Result<()>` on both backends:
/// `both!(name)` makes the tests `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() -> anyhow::Result<()> {
                    super::$name($crate::Backend::Sqlite).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() -> anyhow::Result<()> {
                    super::$name($crate::Backend::Postgres).await
                }
            }
        )*
    };
}

/// The variable naming the PostgreSQL server for tests: an admin URL such as
/// `postgres://postgres@127.0.0.1:5433/postgres`.
pub const POSTGRES_URL_VARIABLE: &str = "LIAISON_TEST_DATABASE_URL";

/// Which database a test hub uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the hub's temporary directory.
    Sqlite,
    /// A fresh database on the test PostgreSQL server.
    Postgres,
}

/// A running hub for one test.
#[derive(Debug)]
pub struct TestHub {
    data_dir: TempDir,
    config: HubConfig,
    endpoint: String,
    pki: DevPkiPaths,
    store: Store,
    start_audit_size: u64,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), liaison::HubError>>>,
    admin_addr: Option<std::net::SocketAddr>,
}

/// A change a test makes to a hub's configuration before it starts.
type ConfigChange = Box<dyn FnOnce(&mut HubConfig) + Send>;

/// How a [`TestHub`] is made: `TestHub::builder(backend)`, then what the test changes,
/// then [`TestHubBuilder::start`]. Everything not set is the default: the example
/// federation, [`TestHub::default_limits`], every call audited.
#[must_use = "a builder does nothing until `start` is called"]
pub struct TestHubBuilder {
    backend: Backend,
    audit_calls: bool,
    limits: Limits,
    federation_toml: String,
    changes: Vec<ConfigChange>,
}

impl std::fmt::Debug for TestHubBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestHubBuilder")
            .field("backend", &self.backend)
            .field("audit_calls", &self.audit_calls)
            .field("changes", &self.changes.len())
            .finish_non_exhaustive()
    }
}

impl TestHubBuilder {
    /// The hub's limits (message sizes, streams, rates, deadlines).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The federation file (the example federation with changes, say a
    /// `[mla_deadlines]` section); `start` fails as the hub does on a bad one.
    pub fn federation(mut self, federation_toml: &str) -> Self {
        federation_toml.clone_into(&mut self.federation_toml);
        self
    }

    /// Whether calls are recorded in the audit log: benchmarks of what auditing costs
    /// turn it off.
    pub fn audit_calls(mut self, audit_calls: bool) -> Self {
        self.audit_calls = audit_calls;
        self
    }

    /// Any other change to the hub's configuration, applied after the PKI and database
    /// are set up, in the order given.
    pub fn configure(mut self, change: impl FnOnce(&mut HubConfig) + Send + 'static) -> Self {
        self.changes.push(Box::new(change));
        self
    }

    /// Starts the hub on a fresh PKI and database.
    pub async fn start(self) -> anyhow::Result<TestHub> {
        TestHub::start_full(self).await
    }
}

impl TestHub {
    /// Starts a hub on a fresh PKI and database, with every default.
    pub async fn start(backend: Backend) -> anyhow::Result<Self> {
        Self::builder(backend).start().await
    }

    /// A hub to be started with changes to its defaults.
    pub fn builder(backend: Backend) -> TestHubBuilder {
        TestHubBuilder {
            backend,
            audit_calls: true,
            limits: Self::default_limits(),
            federation_toml: EXAMPLE_FEDERATION.to_owned(),
            changes: Vec::new(),
        }
    }

    /// The hub's default limits, but no free-space reserve for evidence: test hubs share
    /// one disk, and the reserve is tested on its own.
    pub fn default_limits() -> Limits {
        Limits {
            min_evidence_free_bytes: 0,
            ..Limits::default()
        }
    }

    async fn start_full(builder: TestHubBuilder) -> anyhow::Result<Self> {
        let TestHubBuilder {
            backend,
            audit_calls,
            limits,
            federation_toml,
            changes,
        } = builder;
        if std::env::var_os("LIAISON_LOG").is_some() {
            liaison_telemetry::init(liaison_telemetry::LogFormat::Text, "info");
        }
        let data_dir = tempfile::tempdir().context("temporary data directory")?;
        let federation = Federation::from_toml(&federation_toml)?;
        let (tls, audit_key, _) = ensure_dev_pki(data_dir.path(), &federation)?;
        let database = match backend {
            Backend::Sqlite => DatabaseConfig::Sqlite(data_dir.path().join("liaison.db")),
            Backend::Postgres => {
                DatabaseConfig::Postgres(Secret::new(fresh_postgres_database().await?))
            }
        };
        let mut config = HubConfig {
            listen: "127.0.0.1:0".parse()?,
            database,
            tls,
            federation_toml,
            audit_key,
            receipt_key: None,
            access: AccessConfig {
                token_key: PathBuf::new(),
                previous_token_keys: Vec::new(),
                token_lifetime: AccessConfig::DEFAULT_TOKEN_LIFETIME,
                crl: None,
                // Short, so that tests of CRL reloads and cross-node revocation are quick.
                reload_interval: Duration::from_millis(200),
            },
            shutdown_grace: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(5),
            audit_calls,
            // Deadline logic follows a clock the test moves (`TestHub::clock`); it starts
            // at the real time.
            clock: liaison_rpc::Clock::manual(liaison_core::Timestamp::from_system_time(
                std::time::SystemTime::now(),
            )),
            limits,
            evidence_dir: data_dir.path().join("evidence"),
            check_schedule: None,
            admin_listen: None,
        };
        let pki = DevPkiPaths::in_dir(&data_dir.path().join("pki"));
        config.access.token_key = pki.token_key.clone();
        config.access.crl = Some(pki.crl.clone());
        for change in changes {
            change(&mut config);
        }
        Self::launch(data_dir, config, pki).await
    }

    async fn launch(
        data_dir: TempDir,
        config: HubConfig,
        pki: DevPkiPaths,
    ) -> anyhow::Result<Self> {
        let hub = liaison::Hub::bind(config.clone()).await?;
        let endpoint = format!("https://127.0.0.1:{}", hub.local_addr().port());
        let store = hub.store().clone();
        let admin_addr = hub.admin_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(hub.serve(async move {
            let _ = stopped.await;
        }));
        let mut hub = Self {
            data_dir,
            config,
            endpoint,
            pki,
            store,
            start_audit_size: 0,
            stop: Some(stop),
            task: Some(task),
            admin_addr,
        };
        // What the start itself logged (the federation file's seeding of the directory)
        // is sequenced before the test makes its first call.
        hub.drained().await?;
        hub.start_audit_size = hub.store.audit_size().await?;
        Ok(hub)
    }

    /// How many records the audit log held once this hub had started: the records of
    /// earlier runs and those of the start itself (the directory seeded from the
    /// federation file). A test's own records follow.
    pub fn start_audit_size(&self) -> u64 {
        self.start_audit_size
    }

    /// The hub's deadline clock: move it with [`liaison_rpc::Clock::advance`] to make
    /// deadlines pass without sleeping.
    pub fn clock(&self) -> &liaison_rpc::Clock {
        &self.config.clock
    }

    /// The admin listener's address, when the hub was configured with one.
    pub fn admin_addr(&self) -> Option<std::net::SocketAddr> {
        self.admin_addr
    }

    /// `https://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The hub's store, to check what was (not) written.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Waits until the sequencer has moved every committed outbox row (stream events and
    /// audit records): the backlog is checked again whenever the sequencer has moved a
    /// batch (new events or new audit leaves).
    pub async fn drained(&self) -> anyhow::Result<()> {
        let store = self.store();
        let mut events = store.watch_high_water();
        let mut leaves = store.watch_audit_size();
        events.borrow_and_update();
        leaves.borrow_and_update();
        while store.outbox_backlog().await? > 0 {
            tokio::select! {
                changed = events.changed() => changed?,
                changed = leaves.changed() => changed?,
            }
        }
        Ok(())
    }

    /// The development PKI's files.
    pub fn pki(&self) -> &DevPkiPaths {
        &self.pki
    }

    /// The hub's configuration.
    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// The hub's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.path().to_owned()
    }

    /// The hub CA, to issue further certificates (expired ones, odd ones).
    pub fn ca(&self) -> anyhow::Result<CertificateAuthority> {
        let cert = std::fs::read_to_string(&self.pki.ca_cert)?;
        let key = std::fs::read_to_string(&self.pki.ca_key)?;
        Ok(CertificateAuthority::from_pem(&cert, &key)?)
    }

    /// Client settings for a principal of the example federation.
    pub fn client_config(&self, agency: &str, name: &str) -> anyhow::Result<ClientConfig> {
        let (cert, key) = self.pki.principal(agency, name);
        Ok(ClientConfig::from_files(
            &self.endpoint,
            &self.pki.ca_cert,
            &cert,
            &key,
        )?)
    }

    /// Client settings for a certificate issued by the test.
    pub fn client_config_with(&self, issued: &IssuedCertificate) -> anyhow::Result<ClientConfig> {
        Ok(ClientConfig {
            endpoint: self.endpoint.clone(),
            ca_pem: std::fs::read_to_string(&self.pki.ca_cert)?,
            cert_pem: issued.cert_pem.clone(),
            key_pem: issued.key_pem.clone(),
        })
    }

    /// A connected client for a principal of the example federation (`UA-CERT`, `feed`).
    pub async fn client(&self, agency: &str, name: &str) -> anyhow::Result<Client> {
        Ok(Client::connect(&self.client_config(agency, name)?).await?)
    }

    /// Stops the hub gracefully and waits for it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown().await
    }

    async fn shutdown(&mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.context("hub task panicked")??;
        }
        Ok(())
    }

    /// Stops the hub and starts a new one on the same data directory and database (on a
    /// new port).
    pub async fn restart(self) -> anyhow::Result<Self> {
        self.restart_with(|_| {}).await
    }

    /// Like [`TestHub::restart`], with a changed configuration (rotated keys, say).
    pub async fn restart_with(
        mut self,
        change: impl FnOnce(&mut HubConfig),
    ) -> anyhow::Result<Self> {
        self.shutdown().await?;
        let mut config = self.config.clone();
        change(&mut config);
        let pki = self.pki.clone();
        let data_dir = tempfile::tempdir()?;
        let data_dir = std::mem::replace(&mut self.data_dir, data_dir);
        Self::launch(data_dir, config, pki).await
    }
}

impl Drop for TestHub {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Creates a new database on the test server and returns its URL.
async fn fresh_postgres_database() -> anyhow::Result<String> {
    let Ok(admin_url) = std::env::var(POSTGRES_URL_VARIABLE) else {
        bail!(
            "{POSTGRES_URL_VARIABLE} is not set: PostgreSQL tests need a server. Run the suite with \
             scripts/test, which starts a throwaway PostgreSQL"
        );
    };
    let name = format!(
        "liaison_test_{}",
        ulid::Ulid::new().to_string().to_ascii_lowercase()
    );
    let mut connection = sqlx::PgConnection::connect(&admin_url)
        .await
        .with_context(|| {
            format!("connecting to the test PostgreSQL named by {POSTGRES_URL_VARIABLE}")
        })?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut connection)
        .await?;
    connection.close().await?;
    let Some((server, _)) = admin_url.rsplit_once('/') else {
        bail!("{POSTGRES_URL_VARIABLE} must end with /DATABASE");
    };
    Ok(format!("{server}/{name}"))
}
