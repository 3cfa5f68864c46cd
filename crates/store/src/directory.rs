//! The directory's tables: states, agencies, principals and sharing groups.

use liaison_core::{
    AgencyId, Federation, GroupId, PrincipalId, Role, Timestamp, federation::AgencyKind,
};
use sqlx::Row;

use crate::{Store, StoreError, tx::WritePool, with_pool};

/// A state's treaty position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRecord {
    /// ISO code.
    pub code: String,
    /// English name.
    pub name: String,
    /// Party to the Budapest Convention.
    pub budapest_convention: bool,
    /// Party to its Second Additional Protocol.
    pub second_protocol: bool,
    /// OSCE participating State.
    pub osce_participating_state: bool,
}

/// A stored agency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgencyRecord {
    /// Agency id.
    pub id: AgencyId,
    /// English name.
    pub name: String,
    /// Name in its own language and the language's tag.
    pub native_name: Option<(String, String)>,
    /// What kind of body.
    pub kind: AgencyKind,
    /// Its state, for national agencies.
    pub state: Option<StateRecord>,
    /// Suspended by the operator.
    pub suspended: bool,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<String>,
}

const AGENCY_COLUMNS: &str = "a.id, a.name, a.native_name, a.native_language, a.kind, a.status, \
     s.code, s.name AS state_name, s.budapest_convention, s.second_protocol, s.osce_participating_state";

fn agency_from_row<R>(row: &R) -> Result<AgencyRecord, StoreError>
where
    R: Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let id: String = row.try_get("id")?;
    let kind: String = row.try_get("kind")?;
    let native_name: Option<String> = row.try_get("native_name")?;
    let native_language: Option<String> = row.try_get("native_language")?;
    let state_code: Option<String> = row.try_get("code")?;
    let state = match state_code {
        None => None,
        Some(code) => Some(StateRecord {
            code,
            name: row.try_get("state_name")?,
            budapest_convention: row.try_get("budapest_convention")?,
            second_protocol: row.try_get("second_protocol")?,
            osce_participating_state: row.try_get("osce_participating_state")?,
        }),
    };
    let status: String = row.try_get("status")?;
    Ok(AgencyRecord {
        id: AgencyId::parse(&id).map_err(|_| StoreError::Corrupt(format!("agency id {id:?}")))?,
        name: row.try_get("name")?,
        native_name: native_name.map(|name| (name, native_language.unwrap_or_default())),
        kind: AgencyKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("agency kind {kind:?}")))?,
        state,
        suspended: status == "suspended",
    })
}

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
                .execute(&mut *tx)
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
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                };
                if inserted + updated > 0 {
                    seeded.push(Seeded::new(format!("state:{}", state.code), None));
                }
            }
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
                .execute(&mut *tx)
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
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    let stored: (String, Option<String>) =
                        sqlx::query_as("SELECT kind, state_code FROM agencies WHERE id = $1")
                            .bind(agency.id.as_str())
                            .fetch_one(&mut *tx)
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
                .execute(&mut *tx)
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
                .fetch_one(&mut *tx)
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
            for group in federation.sharing_groups() {
                let inserted = sqlx::query(
                    "INSERT INTO sharing_groups (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                )
                .bind(group.id.as_str())
                .bind(&group.name)
                .execute(&mut *tx)
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
                        .execute(&mut *tx)
                        .await?;
                    }
                    seeded.push(Seeded::new(group.id.to_string(), None));
                    continue;
                }
                let mut stored: Vec<String> = sqlx::query_scalar(
                    "SELECT agency_id FROM sharing_group_members WHERE group_id = $1",
                )
                .bind(group.id.as_str())
                .fetch_all(&mut *tx)
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

    /// Agencies in id order, after `after` (exclusive), at most `limit`.
    pub async fn list_agencies(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<AgencyRecord>, StoreError> {
        let sql = format!(
            "SELECT {AGENCY_COLUMNS} FROM agencies a LEFT JOIN states s ON s.code = a.state_code
             WHERE a.id > $1 ORDER BY a.id LIMIT {}",
            i64::from(limit) + 1
        );
        let mut items = with_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(after.unwrap_or(""))
                .fetch_all(pool)
                .await?;
            rows.iter().map(agency_from_row).collect::<Result<Vec<_>, _>>()?
        });
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|agency| agency.id.to_string())
        } else {
            None
        };
        Ok(Page { items, next })
    }

    /// One agency.
    pub async fn get_agency(&self, id: &AgencyId) -> Result<Option<AgencyRecord>, StoreError> {
        let sql = format!(
            "SELECT {AGENCY_COLUMNS} FROM agencies a LEFT JOIN states s ON s.code = a.state_code WHERE a.id = $1"
        );
        with_pool!(self, pool => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.as_str()).fetch_optional(pool).await?;
            row.as_ref().map(agency_from_row).transpose()
        })
    }

    /// The roles of a principal the directory knows; `None` for an unknown principal.
    pub async fn principal_roles(
        &self,
        principal: &PrincipalId,
    ) -> Result<Option<Vec<Role>>, StoreError> {
        let roles: Option<String> = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT roles FROM principals WHERE agency_id = $1 AND kind = $2 AND name = $3")
                .bind(principal.agency().as_str())
                .bind(principal.kind().as_str())
                .bind(principal.name().as_str())
                .fetch_optional(pool)
                .await?
        });
        roles
            .map(|roles| {
                roles
                    .split(',')
                    .filter(|role| !role.is_empty())
                    .map(|role| {
                        role.parse()
                            .map_err(|_| StoreError::Corrupt(format!("role {role:?}")))
                    })
                    .collect()
            })
            .transpose()
    }

    /// The member agencies of a sharing group; empty for an unknown group.
    pub async fn group_members(&self, group: &GroupId) -> Result<Vec<AgencyId>, StoreError> {
        let ids: Vec<String> = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT agency_id FROM sharing_group_members WHERE group_id = $1 ORDER BY agency_id")
                .bind(group.as_str())
                .fetch_all(pool)
                .await?
        });
        ids.iter()
            .map(|id| {
                AgencyId::parse(id).map_err(|_| StoreError::Corrupt(format!("agency id {id:?}")))
            })
            .collect()
    }

    /// The sharing groups an agency belongs to.
    pub async fn groups_of(&self, agency: &AgencyId) -> Result<Vec<GroupId>, StoreError> {
        let ids: Vec<String> = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT group_id FROM sharing_group_members WHERE agency_id = $1 ORDER BY group_id")
                .bind(agency.as_str())
                .fetch_all(pool)
                .await?
        });
        ids.iter()
            .map(|id| {
                GroupId::parse(id).map_err(|_| StoreError::Corrupt(format!("group id {id:?}")))
            })
            .collect()
    }
}
