//! The text of Lookup's read, for both backends: one value per statement (SQLite) or a
//! group of values in one (PostgreSQL), and the row both return.

/// One value to read, the time its items must still be valid at, and whom it is read for
/// (the [`crate::Viewer`]: its agency, its groups as one text, whether a person), so that
/// only items the viewer may see are read.
#[derive(Debug)]
pub(crate) struct ReadKey {
    pub(crate) kind: &'static str,
    pub(crate) value: String,
    pub(crate) now_us: i64,
    pub(crate) agency: String,
    pub(crate) groups: String,
    pub(crate) person: bool,
}

/// What a Lookup reads of one value ($1 type, $2 value, $3 now), for one viewer ($5 agency,
/// $6 its groups as one text, $7 a person), in one statement (SQLite; PostgreSQL reads
/// many values in one, [`observable_records_sql`]): the active items holding it that the
/// viewer may see (decided before the limit: `crate::visibility`), newest first (`part`
/// 0, of `Holder`'s columns only), and its sightings, oldest first, at most
/// [`crate::SIGHTINGS_PER_AGENCY`] per reporting agency (`part` 1). Every row carries $4
/// as `n`, the value's number within its group.
///
/// A part's rows come from its own ordered, limited subquery, and the statement does not
/// order the union: the order within a part is restored from `at_us` and `id` after the
/// read (an outer sort over numbered rows cost PostgreSQL more to set up for each call
/// than the read itself). Columns a part lacks are NULL, typed so that both backends read
/// them alike. The two subqueries' layouts:
///
/// | column | holders | sightings |
/// |---|---|---|
/// | `id` | item id | sighting id |
/// | `agency` | source agency | reporting agency |
/// | `first_us` | first seen (nullable) | first seen |
/// | `at_us` | stored | reported |
/// | `count`, `last_us` | NULL | count, last seen |
pub(crate) fn observable_record_sql(holders: u32, sightings: u32) -> String {
    let (holders, sightings) = parts(
        "instr",
        ["$1", "$2", "$3", "$5", "$6", "$7"],
        holders,
        sightings,
    );
    format!(
        "SELECT CAST($4 AS BIGINT) AS n, holders.* FROM ({holders}) AS holders
         UNION ALL
         SELECT CAST($4 AS BIGINT), sightings.* FROM ({sightings}) AS sightings"
    )
}

/// What Lookups read of many values at once (PostgreSQL): for each value of the arrays
/// $1 (types), $2 (values) and $3 (now, µs), each for its viewer of $4 (agencies), $5
/// (their groups) and $6 (persons), numbered `n` from 1 in their order, the rows
/// [`observable_record_sql`] reads of it alone, each part limited per value.
pub(crate) fn observable_records_sql(holders: u32, sightings: u32) -> String {
    let (holders, sightings) = parts(
        "strpos",
        [
            "q.type", "q.value", "q.now_us", "q.agency", "q.groups", "q.person",
        ],
        holders,
        sightings,
    );
    format!(
        "SELECT q.n, r.* FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::TEXT[], $5::TEXT[], $6::BOOLEAN[])
           WITH ORDINALITY AS q(type, value, now_us, agency, groups, person, n)
         CROSS JOIN LATERAL (({holders}) UNION ALL ({sightings})) AS r"
    )
}

/// The two parts of a Lookup's read of the value `[type, value, now]` (SQL expressions),
/// each ordered and limited by itself: `part`, then the columns of the table in
/// [`observable_record_sql`]. Both statements are made of them.
fn parts(
    position: &str,
    [kind, value, now, agency, groups, person]: [&str; 6],
    holders: u32,
    sightings: u32,
) -> (String, String) {
    let visible = crate::visibility::viewer_sql(position, agency, groups, person);
    let per_agency = crate::SIGHTINGS_PER_AGENCY;
    (
        format!(
            "SELECT CAST(0 AS BIGINT) AS part, i.id AS id, i.source_agency_id AS agency, i.tlp AS tlp,
                    i.scope_kind AS scope_kind, i.scope_value AS scope_value, i.anonymous AS anonymous,
                    CAST(i.title IS NOT NULL AS BOOLEAN) AS fraud_method, i.first_seen_us AS first_us,
                    i.created_us AS at_us, CAST(NULL AS BIGINT) AS count, CAST(NULL AS BIGINT) AS last_us
             FROM indicators i
             WHERE i.id IN (SELECT o.indicator_id FROM indicator_observables o
                            WHERE o.type = {kind} AND o.value = {value})
               AND i.revoked_us IS NULL AND (i.valid_until_us IS NULL OR i.valid_until_us > {now})
               AND {visible}
             ORDER BY i.created_us DESC, i.id DESC LIMIT {holders}"
        ),
        format!(
            "SELECT CAST(1 AS BIGINT), s.id, s.agency_id, CAST(NULL AS TEXT), CAST(NULL AS TEXT),
                    CAST(NULL AS TEXT), CAST(NULL AS BOOLEAN), CAST(NULL AS BOOLEAN), s.first_seen_us,
                    s.reported_us, s.count, s.last_seen_us
             FROM (SELECT s.*, ROW_NUMBER() OVER (PARTITION BY s.agency_id ORDER BY s.reported_us, s.id) AS nth
                   FROM sightings s WHERE s.type = {kind} AND s.value = {value}) s
             WHERE s.nth <= {per_agency}
             ORDER BY s.reported_us, s.id LIMIT {sightings}"
        ),
    )
}

/// A row of [`observable_record_sql`] or [`observable_records_sql`], either part: `n`,
/// `part`, then the columns of the table above.
pub(crate) type RecordRow = (
    i64,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<bool>,
    Option<bool>,
    Option<i64>,
    i64,
    Option<i64>,
    Option<i64>,
);
