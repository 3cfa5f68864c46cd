//! An audit-log leaf as both writers store it (the sequencer for records of changes, the
//! audit writer for records written on their own): its row, its object index rows, and
//! the statements or parameters that insert them on each backend.

use crate::bulk::CHUNK_MAX;

/// The fields of a record the log keeps in columns for queries.
#[derive(Debug, Default)]
pub(crate) struct Indexed {
    pub(crate) time_us: i64,
    pub(crate) actor_agency: Option<String>,
    pub(crate) actor_principal: Option<String>,
    pub(crate) method: String,
    pub(crate) outcome: i64,
    /// (id, owner, anonymous) of each object.
    pub(crate) objects: Vec<(String, Option<String>, bool)>,
}

impl Indexed {
    /// The query fields of a stored record.
    pub(crate) fn of(record: &liaison_audit::AuditRecord) -> Self {
        let actor = &record.actor;
        let actor_principal = match (&actor.agency, &actor.kind, &actor.name) {
            (Some(agency), Some(kind), Some(name)) => Some(format!("{agency}/{kind}/{name}")),
            _ => None,
        };
        Self {
            time_us: record.time_us,
            actor_agency: actor.agency.clone(),
            actor_principal,
            method: record.method.clone(),
            outcome: i64::from(record.outcome),
            objects: record
                .objects
                .iter()
                .map(|object| {
                    (
                        object.id.clone(),
                        object.owner_agency.clone(),
                        object.anonymous,
                    )
                })
                .collect(),
        }
    }
}

/// A record about to become a leaf.
#[derive(Debug)]
pub(crate) struct Leaf {
    pub(crate) index: i64,
    pub(crate) hash: String,
    pub(crate) indexed: Indexed,
    pub(crate) record: String,
}

impl Leaf {
    /// The leaf of a stored record: its hash is that of the record's committed form
    /// ([`liaison_audit::Sealed::leaf_data`]). A record that does not parse is still logged
    /// (its own bytes are what the tree commits to), with empty query fields.
    pub(crate) fn new(index: i64, record: String) -> Self {
        let sealed = liaison_audit::Sealed::parse(record.as_bytes());
        Self {
            index,
            hash: hex::encode(liaison_audit::leaf_hash(&sealed.leaf_data())),
            indexed: Indexed::of(sealed.record()),
            record,
        }
    }
}

/// The object index rows of some leaves: (leaf index, object id, owner, anonymous), each
/// object once per leaf (anonymous if any access to it in the record was).
pub(crate) fn object_rows(leaves: &[Leaf]) -> Vec<(i64, String, Option<String>, bool)> {
    let mut rows = Vec::new();
    for leaf in leaves {
        let mut seen = std::collections::BTreeMap::new();
        for (object_id, owner, anonymous) in &leaf.indexed.objects {
            seen.entry(object_id.as_str())
                .and_modify(|(_, any): &mut (&Option<String>, bool)| *any |= *anonymous)
                .or_insert((owner, *anonymous));
        }
        for (object_id, (owner, anonymous)) in seen {
            rows.push((leaf.index, object_id.to_owned(), owner.clone(), anonymous));
        }
    }
    rows
}

/// Binds the columns of `$leaves` and of their object index rows `$objects` to `$query`
/// as PostgreSQL arrays: $1 index, $2 record, $3 hash, $4 `$sequenced_us`, $5 time,
/// $6 agency, $7 principal, $8 method, $9 outcome; $10–$12 object leaf index, id, owner,
/// $13 object anonymous ($14 and on are the statement's own).
macro_rules! bind_leaf_columns {
    ($query:expr, $leaves:expr, $objects:expr, $sequenced_us:expr) => {{
        let (leaves, objects) = ($leaves, $objects);
        $query
            .bind(column(leaves, |leaf| leaf.index))
            .bind(column(leaves, |leaf| leaf.record.as_str()))
            .bind(column(leaves, |leaf| leaf.hash.as_str()))
            .bind($sequenced_us)
            .bind(column(leaves, |leaf| leaf.indexed.time_us))
            .bind(column(leaves, |leaf| leaf.indexed.actor_agency.as_deref()))
            .bind(column(leaves, |leaf| {
                leaf.indexed.actor_principal.as_deref()
            }))
            .bind(column(leaves, |leaf| leaf.indexed.method.as_str()))
            .bind(column(leaves, |leaf| leaf.indexed.outcome))
            .bind(column(objects, |row| row.0))
            .bind(column(objects, |row| row.1.as_str()))
            .bind(column(objects, |row| row.2.as_deref()))
            .bind(column(objects, |row| row.3))
    }};
}
pub(crate) use bind_leaf_columns;

/// The statements that insert `leaves` and their object index rows on SQLite, after those
/// of `query`, each leaf at `base` (an SQL expression) plus its index, each statement
/// ended by `;`: for one query with more statements after them. All run in one turn of the connection's thread — a
/// group of records is waited for by the calls that wrote them, and each statement sent
/// on its own would be a hand-over to that thread and back. Parameters are bound in order
/// across the statements. The text differs with the row counts, so the query is not to be
/// kept prepared (`persistent(false)`: it would push others out of the statement cache).
pub(crate) fn sqlite_leaf_inserts(
    mut query: sqlx::QueryBuilder<sqlx::Sqlite>,
    leaves: &[Leaf],
    base: &str,
    sequenced_us: i64,
) -> sqlx::QueryBuilder<sqlx::Sqlite> {
    for chunk in leaves.chunks(CHUNK_MAX) {
        query.push(format!(
            "INSERT INTO audit_log (leaf_index, record, leaf_hash, sequenced_us, time_us, \
             actor_agency, actor_principal, method, outcome) \
             SELECT {base} + column1, column2, column3, column4, column5, column6, column7, \
             column8, column9 FROM ("
        ));
        query.push_values(chunk, |mut row, leaf| {
            row.push_bind(leaf.index)
                .push_bind(leaf.record.clone())
                .push_bind(leaf.hash.clone())
                .push_bind(sequenced_us)
                .push_bind(leaf.indexed.time_us)
                .push_bind(leaf.indexed.actor_agency.clone())
                .push_bind(leaf.indexed.actor_principal.clone())
                .push_bind(leaf.indexed.method.clone())
                .push_bind(leaf.indexed.outcome);
        });
        query.push(");\n");
    }
    for chunk in object_rows(leaves).chunks(CHUNK_MAX) {
        query.push(format!(
            "INSERT INTO audit_objects (leaf_index, object_id, owner_agency, anonymous) \
             SELECT {base} + column1, column2, column3, column4 FROM ("
        ));
        query.push_values(chunk, |mut row, (index, object_id, owner, anonymous)| {
            row.push_bind(*index)
                .push_bind(object_id.clone())
                .push_bind(owner.clone())
                .push_bind(*anonymous);
        });
        query.push(");\n");
    }
    query
}
