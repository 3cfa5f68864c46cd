//! Reads of the directory: states, agencies, principals' roles and sharing groups' members.

use liaison_core::{AgencyId, GroupId, PrincipalId, Role, federation::AgencyKind};
use sqlx::Row;

use crate::{Store, StoreError, with_pool};

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

impl Store {
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
