//! A fresh database for one test, on either backend, seeded with a small federation.

use liaison_core::{Federation, PrincipalId, Timestamp};
use liaison_store::Store;

/// Two agencies of one state and a sharing group of one of them.
pub const FEDERATION: &str = r#"
trust_domain = "liaison.test"

[[states]]
code = "RS"
name = "Serbia"
budapest_convention = true
second_protocol = true
osce_participating_state = true

[[agencies]]
id = "RS-MUP"
name = "Ministry of Interior of the Republic of Serbia"
native_name = "Министарство унутрашњих послова Републике Србије"
native_language = "sr-Cyrl"
kind = "ministry"
state = "RS"
principals = [
  { kind = "system", name = "feed", roles = ["system"] },
  { kind = "person", name = "officer", roles = ["officer"] },
]

[[agencies]]
id = "RS-CERT"
name = "National CERT of the Republic of Serbia"
kind = "cert"
state = "RS"
principals = [{ kind = "person", name = "analyst", roles = ["officer"] }]

[[agencies]]
id = "INT-HUB"
name = "Liaison hub"
kind = "hub"
principals = [{ kind = "person", name = "operator", roles = ["operator"] }]

[[sharing_groups]]
id = "belgrade-declaration"
name = "Belgrade declaration signatories"
members = ["RS-MUP"]
"#;

/// Where a test's database lives; dropped with the test (the SQLite file's directory).
pub enum Database {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Database {
    pub async fn sqlite() -> anyhow::Result<Self> {
        Ok(Self::Sqlite(tempfile::tempdir()?))
    }

    /// A fresh database on the server of `LIAISON_TEST_DATABASE_URL`. Without it the test
    /// fails, as every PostgreSQL test does: `scripts/with-postgres` starts a server.
    pub async fn postgres() -> anyhow::Result<Self> {
        use sqlx::Connection;
        let Ok(admin) = std::env::var("LIAISON_TEST_DATABASE_URL") else {
            anyhow::bail!(
                "LIAISON_TEST_DATABASE_URL is not set: PostgreSQL tests need a server; run them \
                 under scripts/with-postgres (scripts/test does)"
            );
        };
        let name = format!(
            "liaison_contract_{}",
            ulid::Ulid::new().to_string().to_ascii_lowercase()
        );
        let mut connection = sqlx::PgConnection::connect(&admin).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut connection)
            .await?;
        let (server, _) = admin
            .rsplit_once('/')
            .ok_or_else(|| anyhow::anyhow!("the URL ends with /DATABASE"))?;
        Ok(Self::Postgres(format!("{server}/{name}")))
    }

    /// The store on this database, migrated and seeded with [`FEDERATION`].
    pub async fn store(&self) -> anyhow::Result<Store> {
        let store = match self {
            Self::Sqlite(dir) => Store::open_sqlite(&dir.path().join("liaison.db")).await?,
            Self::Postgres(url) => Store::connect_postgres(url).await?,
        };
        store.migrate().await?;
        store
            .load_federation(&Federation::from_toml(FEDERATION)?, now())
            .await?;
        // The federation load's audit records, sequenced: tests start from an empty outbox.
        while store.sequence_batch(now()).await? > 0 {}
        Ok(store)
    }
}

pub fn now() -> Timestamp {
    Timestamp::from_system_time(std::time::SystemTime::now())
}

pub fn principal(text: &str) -> PrincipalId {
    let mut parts = text.splitn(3, '/');
    let (agency, kind, name) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    PrincipalId::new(
        liaison_core::AgencyId::parse(agency).expect("agency"),
        kind.parse().expect("principal kind"),
        liaison_core::PrincipalName::parse(name).expect("principal name"),
    )
}

/// The sealed audit record of a write of `object` owned by `owner` at `now`.
pub fn record(method: &str, object: &str, owner: &str, now: Timestamp) -> Vec<u8> {
    liaison_audit::AuditRecord {
        time_us: now.as_micros(),
        method: method.to_owned(),
        objects: vec![liaison_audit::ObjectAccess::new(
            object.to_owned(),
            liaison_audit::Access::Write,
            Some(owner.to_owned()),
        )],
        trace_id: format!("{:032x}", now.as_micros()),
        ..liaison_audit::AuditRecord::default()
    }
    .seal()
}

/// A new observable indicator holding `values` (domains), for every member, TLP:GREEN.
pub fn new_indicator(values: &[&str]) -> liaison_core::NewIndicator {
    liaison_core::NewIndicator {
        fraud_method: None,
        observables: values
            .iter()
            .map(|value| {
                liaison_core::Observable::parse(liaison_core::ObservableType::Domain, value)
                    .expect("a domain")
            })
            .collect(),
        language: "sr-Latn".to_owned(),
        first_seen: None,
        valid_until: None,
        confidence: 60,
        evaluation: None,
        tlp: liaison_core::Tlp::Green,
        scope: liaison_core::Scope::AllMembers,
        anonymous: false,
    }
}
