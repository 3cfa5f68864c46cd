//! The federation load: at every start the hub seeds the directory from the federation
//! file, creating what it does not hold and never overwriting what the operator manages.

use liaison_core::{AgencyId, Federation, Timestamp};

use crate::{Store, StoreError, tx::WritePool, with_pool};

/// The audit method of the directory changes the hub makes itself at start, when it
/// seeds the directory from the federation file (actor: none, like the hub's other own
/// steps).
pub const LOAD_FEDERATION_METHOD: &str = "liaison.hub/directory/LoadFederation";

/// One row the federation load inserted or changed: the object its audit record names
/// (ids as the operator's RPCs name them) and the agency that owns it.
struct Seeded {
    object: String,
    owner: Option<String>,
}

impl Seeded {
    fn new(object: String, owner: Option<&AgencyId>) -> Self {
        Self {
            object,
            owner: owner.map(ToString::to_string),
        }
    }

    /// The stored audit record of this change: hub actor, one object written.
    fn record(&self, now: Timestamp, trace_id: &str) -> String {
        let record = liaison_audit::AuditRecord {
            time_us: now.as_micros(),
            method: LOAD_FEDERATION_METHOD.to_owned(),
            objects: vec![liaison_audit::ObjectAccess::new(
                self.object.clone(),
                liaison_audit::Access::Write,
                self.owner.clone(),
            )],
            trace_id: trace_id.to_owned(),
            ..liaison_audit::AuditRecord::default()
        };
        String::from_utf8_lossy(&record.seal()).into_owned()
    }
}

/// A stored role list (comma-separated) as a sorted set, to compare with the file's.
fn role_set(text: &str) -> Vec<String> {
    let mut roles: Vec<String> = text
        .split(',')
        .filter(|role| !role.is_empty())
        .map(str::to_owned)
        .collect();
    roles.sort();
    roles.dedup();
    roles
}

/// Inserts the file's states not yet stored and updates the treaty positions of the
/// others, inside transaction `$tx`; pushes each row changed onto `$seeded`.
macro_rules! seed_states {
    ($tx:ident, $seeded:ident, $federation:expr) => {{
        let (tx, seeded, federation) = (&mut $tx, &mut $seeded, $federation);
        for state in federation.states() {
            let inserted = sqlx::query(
                "INSERT INTO states (code, name, budapest_convention, second_protocol, osce_participating_state)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (code) DO NOTHING",
            )
            .bind(&state.code)
            .bind(&state.name)
            .bind(state.budapest_convention)
            .bind(state.second_protocol)
            .bind(state.osce_participating_state)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            let updated = if inserted > 0 {
                0
            } else {
                sqlx::query(
                    "UPDATE states SET name = $2, budapest_convention = $3, second_protocol = $4,
                        osce_participating_state = $5
                     WHERE code = $1 AND (name IS DISTINCT FROM $2
                        OR budapest_convention IS DISTINCT FROM $3
                        OR second_protocol IS DISTINCT FROM $4
                        OR osce_participating_state IS DISTINCT FROM $5)",
                )
                .bind(&state.code)
                .bind(&state.name)
                .bind(state.budapest_convention)
                .bind(state.second_protocol)
                .bind(state.osce_participating_state)
                .execute(&mut **tx)
                .await?
                .rows_affected()
            };
            if inserted + updated > 0 {
                seeded.push(Seeded::new(format!("state:{}", state.code), None));
            }
        }
    }};
}

/// Inserts the file's agencies not yet stored and updates the names of the others (kind
/// and state stay the directory's), inside `$tx`; pushes each row changed onto `$seeded`.
macro_rules! seed_agencies {
    ($tx:ident, $seeded:ident, $federation:expr) => {{
        let (tx, seeded, federation) = (&mut $tx, &mut $seeded, $federation);
        for agency in federation.agencies() {
            let inserted = sqlx::query(
                "INSERT INTO agencies (id, name, native_name, native_language, kind, state_code)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(agency.id.as_str())
            .bind(&agency.name)
            .bind(&agency.native_name)
            .bind(&agency.native_language)
            .bind(agency.kind.as_str())
            .bind(&agency.state)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            let renamed = if inserted > 0 {
                0
            } else {
                // Names only: descriptive, not a security decision, and no RPC edits them.
                let renamed = sqlx::query(
                    "UPDATE agencies SET name = $2, native_name = $3, native_language = $4
                     WHERE id = $1 AND (name IS DISTINCT FROM $2
                        OR native_name IS DISTINCT FROM $3
                        OR native_language IS DISTINCT FROM $4)",
                )
                .bind(agency.id.as_str())
                .bind(&agency.name)
                .bind(&agency.native_name)
                .bind(&agency.native_language)
                .execute(&mut **tx)
                .await?
                .rows_affected();
                let stored: (String, Option<String>) =
                    sqlx::query_as("SELECT kind, state_code FROM agencies WHERE id = $1")
                        .bind(agency.id.as_str())
                        .fetch_one(&mut **tx)
                        .await?;
                if stored.0 != agency.kind.as_str() || stored.1 != agency.state {
                    tracing::warn!(
                        agency = %agency.id,
                        "the federation file gives this agency another kind or state than the directory; \
                         the directory's stays (the file only seeds)"
                    );
                }
                renamed
            };
            if inserted + renamed > 0 {
                seeded.push(Seeded::new(agency.id.to_string(), Some(&agency.id)));
            }
        }
    }};
}

/// Inserts the file's principals not yet stored (an existing one keeps its roles), inside
/// `$tx`; pushes each row inserted onto `$seeded`.
macro_rules! seed_principals {
    ($tx:ident, $seeded:ident, $federation:expr) => {{
        let (tx, seeded, federation) = (&mut $tx, &mut $seeded, $federation);
        for (principal, entry) in federation.principals() {
            let roles: Vec<&str> = entry.roles.iter().map(|role| role.as_str()).collect();
            let roles = roles.join(",");
            let inserted = sqlx::query(
                "INSERT INTO principals (agency_id, kind, name, roles) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (agency_id, kind, name) DO NOTHING",
            )
            .bind(principal.agency().as_str())
            .bind(principal.kind().as_str())
            .bind(principal.name().as_str())
            .bind(&roles)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if inserted > 0 {
                seeded.push(Seeded::new(format!("principal:{principal}"), Some(principal.agency())));
                continue;
            }
            let stored: String = sqlx::query_scalar(
                "SELECT roles FROM principals WHERE agency_id = $1 AND kind = $2 AND name = $3",
            )
            .bind(principal.agency().as_str())
            .bind(principal.kind().as_str())
            .bind(principal.name().as_str())
            .fetch_one(&mut **tx)
            .await?;
            if role_set(&stored) != role_set(&roles) {
                tracing::warn!(
                    %principal,
                    directory = %stored,
                    file = %roles,
                    "the federation file lists other roles for this principal; the directory's stay \
                     (the file only seeds: change roles with AssignRoles)"
                );
            }
        }
    }};
}

/// Inserts the file's sharing groups not yet stored with their first members (an
/// existing one keeps its members), inside `$tx`; pushes each group inserted onto `$seeded`.
macro_rules! seed_groups {
    ($tx:ident, $seeded:ident, $federation:expr) => {{
        let (tx, seeded, federation) = (&mut $tx, &mut $seeded, $federation);
        for group in federation.sharing_groups() {
            let inserted = sqlx::query(
                "INSERT INTO sharing_groups (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
            )
            .bind(group.id.as_str())
            .bind(&group.name)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if inserted > 0 {
                for member in &group.members {
                    sqlx::query(
                        "INSERT INTO sharing_group_members (group_id, agency_id) VALUES ($1, $2)
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(group.id.as_str())
                    .bind(member.as_str())
                    .execute(&mut **tx)
                    .await?;
                }
                seeded.push(Seeded::new(group.id.to_string(), None));
                continue;
            }
            let mut stored: Vec<String> = sqlx::query_scalar(
                "SELECT agency_id FROM sharing_group_members WHERE group_id = $1",
            )
            .bind(group.id.as_str())
            .fetch_all(&mut **tx)
            .await?;
            stored.sort();
            let mut listed: Vec<String> = group.members.iter().map(ToString::to_string).collect();
            listed.sort();
            listed.dedup();
            if stored != listed {
                tracing::warn!(
                    group = %group.id,
                    "the federation file lists other members for this sharing group; the directory's \
                     stay (the file only seeds: change members with UpdateSharingGroup)"
                );
            }
        }
    }};
}

impl Store {
    /// Seeds the directory from the federation file, at every start.
    ///
    /// The file creates what the directory does not hold yet: states, agencies,
    /// principals with their roles, sharing groups with their first members. What the
    /// operator manages through the API is never overwritten: an existing principal keeps
    /// its roles (AssignRoles) and an existing sharing group its name and members
    /// (UpdateSharingGroup), whatever the file says, so that a restart cannot undo a
    /// withdrawal; a difference is logged as a warning. An existing agency's kind and
    /// state are kept too (they decide hub roles and treaty rules), and its status
    /// (suspension) is never touched. Nothing is deleted.
    ///
    /// Two things do follow the file: an agency's names (English and native), which are
    /// descriptive and which no RPC edits — not a security decision — and the states'
    /// treaty positions, which only the file records (no RPC changes them).
    ///
    /// Every row inserted or changed gets its audit record (actor: none, method
    /// [`LOAD_FEDERATION_METHOD`]) in the same transaction; a start with an unchanged file
    /// writes nothing. Returns how many rows changed.
    pub async fn load_federation(
        &self,
        federation: &Federation,
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        let trace_id = format!("{:032x}", now.as_micros());
        let changed = with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            let mut seeded: Vec<Seeded> = Vec::new();
            seed_states!(tx, seeded, federation);
            seed_agencies!(tx, seeded, federation);
            seed_principals!(tx, seeded, federation);
            seed_groups!(tx, seeded, federation);
            for change in &seeded {
                let record = change.record(now, &trace_id);
                crate::outbox::write_outbox!(
                    tx, pool, crate::audit::TOPIC, "record", change.object.as_str(), now, Some(record)
                );
            }
            tx.commit().await?;
            seeded.len()
        });
        if changed > 0 {
            self.signals.outbox.notify_one();
            self.signals.directory.send_modify(|version| *version += 1);
        }
        Ok(changed)
    }
}
