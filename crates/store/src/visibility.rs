//! Visibility in SQL: the predicate that keeps only the indicators a viewer may receive,
//! so that reads apply it before their `LIMIT` (an item the viewer may not see is never a
//! candidate, never counted against a bound, never the source of a page token).
//!
//! It mirrors `liaison_auth::authorize(…, Action::Receive)` (with `agency_may_receive`):
//! hub principals receive nothing; TLP:RED reaches persons only; an agency's own items
//! always; others' items by scope — all members and sharing groups (the viewer's
//! agency a member) below RED, named agencies when the viewer's agency is named. The
//! services still run `authorize` on every row read, as a second guard.

use liaison_core::{AgencyId, GroupId, Scope, Tlp};

use crate::{Backend, Store};

/// Whom a read is for: what `authorize(…, Action::Receive)` decides on.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The viewer's agency.
    pub agency: AgencyId,
    /// Its agency's sharing groups.
    pub groups: Vec<GroupId>,
    /// A person (TLP:RED reaches persons only).
    pub person: bool,
    /// A hub principal (receives no exchange traffic).
    pub hub: bool,
}

impl Viewer {
    /// The groups as one text, comma-separated, for [`receive_sql`].
    pub(crate) fn groups_text(&self) -> String {
        self.groups
            .iter()
            .map(GroupId::as_str)
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Store {
    /// This backend's `position(haystack, needle)`: SQLite's `instr`, PostgreSQL's
    /// `strpos` (same argument order; both match exactly, no wildcards).
    pub(crate) fn position_fn(&self) -> &'static str {
        match &self.backend {
            Backend::Sqlite(_) => "instr",
            Backend::Postgres(_) => "strpos",
        }
    }
}

/// "`needle` is one of the comma-separated `list`" (SQL text expressions).
pub(crate) fn in_list_sql(position: &str, list: &str, needle: &str) -> String {
    format!("{position}(',' || CAST({list} AS TEXT) || ',', ',' || {needle} || ',') > 0")
}

/// The predicate on `indicators i` for a viewer whose agency is the SQL expression
/// `agency`, whose membership of the item's sharing group is `member_of_group` (a SQL
/// condition on `i.scope_value`) and whose being a person is `person` (SQL boolean).
pub(crate) fn receive_sql(
    position: &str,
    agency: &str,
    member_of_group: &str,
    person: &str,
) -> String {
    let named = in_list_sql(position, "i.scope_value", agency);
    format!(
        "(({person}) OR i.tlp <> 'red') AND (i.source_agency_id = {agency}
           OR (i.scope_kind = 'all' AND i.tlp <> 'red')
           OR (i.scope_kind = 'group' AND i.tlp <> 'red' AND {member_of_group})
           OR (i.scope_kind = 'agencies' AND {named}))"
    )
}

/// The predicate for [`Viewer`] bound as `agency` ($n) and its groups as one text
/// (`groups`, $m), [`Viewer::groups_text`].
pub(crate) fn viewer_sql(position: &str, agency: &str, groups: &str, person: &str) -> String {
    receive_sql(
        position,
        agency,
        &in_list_sql(position, groups, "i.scope_value"),
        person,
    )
}

/// "The agency of `i` may receive an item of another agency with this scope and TLP" (the
/// other direction of a correlation): `None` when nobody else may, else the condition and
/// the value to bind as `param` if it uses one.
pub(crate) fn may_receive_from_sql(
    position: &str,
    scope: &Scope,
    tlp: Tlp,
    param: &str,
) -> (String, Option<String>) {
    match scope {
        Scope::AllMembers if tlp != Tlp::Red => ("TRUE".into(), None),
        Scope::SharingGroup(group) if tlp != Tlp::Red => (
            format!(
                "i.source_agency_id IN (SELECT m.agency_id FROM sharing_group_members m WHERE m.group_id = {param})"
            ),
            Some(group.as_str().to_owned()),
        ),
        Scope::Agencies(agencies) => (
            in_list_sql(position, param, "i.source_agency_id"),
            Some(
                agencies
                    .iter()
                    .map(AgencyId::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        ),
        _ => ("FALSE".into(), None),
    }
}
