//! The indicator tables: publication (with its outbox row, in one transaction), reads and
//! the indicator event stream.

use liaison_core::{
    AgencyId, Evaluation, FraudCategory, FraudMethod, Indicator, NewIndicator, ObjectId,
    Observable, PrincipalId, Scope, Timestamp, Tlp,
};
use sqlx::Row;

use crate::{Store, StoreError, with_pool};

pub(crate) mod correlations;
pub(crate) mod events;
pub(crate) mod list;
pub(crate) mod publish;
pub(crate) mod revoke;
pub(crate) mod sightings;
pub(crate) mod tail;
mod write;
mod write_pg;
mod write_sqlite;

/// Topic of indicator events in `outbox` and `events`.
pub(crate) const TOPIC: &str = "indicators";

pub(crate) const INDICATOR_COLUMNS: &str = "i.id, i.source_agency_id, i.publisher, i.title, i.description, i.countermeasures, \
     i.category, i.language, i.first_seen_us, i.valid_until_us, i.confidence, i.evaluation, i.tlp, \
     i.scope_kind, i.scope_value, i.anonymous, i.linked_fraud_method_id, i.created_us, i.revoked_us, i.revoke_reason";

/// Decodes the indicator columns; observables are loaded separately.
pub(crate) fn indicator_from_row<R>(row: &R) -> Result<Indicator, StoreError>
where
    R: Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let id: String = row.try_get("id")?;
    let source: String = row.try_get("source_agency_id")?;
    let publisher: String = row.try_get("publisher")?;
    let title: Option<String> = row.try_get("title")?;
    let category: Option<String> = row.try_get("category")?;
    let tlp: String = row.try_get("tlp")?;
    let scope_kind: String = row.try_get("scope_kind")?;
    let scope_value: String = row.try_get("scope_value")?;
    let evaluation: Option<String> = row.try_get("evaluation")?;
    let confidence: i64 = row.try_get("confidence")?;
    let linked: Option<String> = row.try_get("linked_fraud_method_id")?;
    let revoked_us: Option<i64> = row.try_get("revoked_us")?;
    let fraud_method = match title {
        None => None,
        Some(title) => {
            let category = category.unwrap_or_default();
            Some(FraudMethod {
                title,
                description: row
                    .try_get::<Option<String>, _>("description")?
                    .unwrap_or_default(),
                countermeasures: row
                    .try_get::<Option<String>, _>("countermeasures")?
                    .unwrap_or_default(),
                category: FraudCategory::parse(&category)
                    .ok_or_else(|| StoreError::corrupt("category", &category))?,
            })
        }
    };
    Ok(Indicator {
        id: ObjectId::parse(ObjectId::INDICATOR, &id)
            .map_err(|_| StoreError::corrupt("indicator id", &id))?,
        source_agency: AgencyId::parse(&source)
            .map_err(|_| StoreError::corrupt("agency id", &source))?,
        publisher: parse_principal(&publisher)?,
        content: NewIndicator {
            fraud_method,
            observables: Vec::new(),
            language: row.try_get("language")?,
            first_seen: row
                .try_get::<Option<i64>, _>("first_seen_us")?
                .map(Timestamp::from_micros),
            valid_until: row
                .try_get::<Option<i64>, _>("valid_until_us")?
                .map(Timestamp::from_micros),
            confidence: u8::try_from(confidence)
                .map_err(|_| StoreError::corrupt("confidence", &confidence.to_string()))?,
            evaluation: evaluation
                .map(|code| {
                    Evaluation::parse(&code).ok_or_else(|| StoreError::corrupt("evaluation", &code))
                })
                .transpose()?,
            tlp: tlp
                .parse::<Tlp>()
                .map_err(|_| StoreError::corrupt("tlp", &tlp))?,
            scope: Scope::from_storage(&scope_kind, &scope_value)
                .map_err(|_| StoreError::corrupt("scope", &scope_value))?,
            anonymous: row.try_get("anonymous")?,
        },
        linked_fraud_method: linked
            .map(|id| {
                ObjectId::parse(ObjectId::INDICATOR, &id)
                    .map_err(|_| StoreError::corrupt("indicator id", &id))
            })
            .transpose()?,
        created: Timestamp::from_micros(row.try_get("created_us")?),
        revoked: match revoked_us {
            None => None,
            Some(micros) => Some((
                Timestamp::from_micros(micros),
                row.try_get::<Option<String>, _>("revoke_reason")?
                    .unwrap_or_default(),
            )),
        },
    })
}

/// Principals are stored as `AGENCY/kind/name`.
fn parse_principal(text: &str) -> Result<PrincipalId, StoreError> {
    let mut parts = text.splitn(3, '/');
    let (Some(agency), Some(kind), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(StoreError::corrupt("principal", text));
    };
    Ok(PrincipalId::new(
        AgencyId::parse(agency).map_err(|_| StoreError::corrupt("principal", text))?,
        kind.parse()
            .map_err(|_| StoreError::corrupt("principal", text))?,
        liaison_core::PrincipalName::parse(name)
            .map_err(|_| StoreError::corrupt("principal", text))?,
    ))
}

/// Loads the observables of an indicator read without them.
macro_rules! load_observables {
    ($executor:expr, $indicator:expr) => {{
        let rows = sqlx::query("SELECT type, value FROM indicator_observables WHERE indicator_id = $1 ORDER BY ordinal")
            .bind($indicator.id.as_str())
            .fetch_all($executor)
            .await?;
        for row in &rows {
            let kind: String = row.try_get("type")?;
            let value: String = row.try_get("value")?;
            let observable = Observable::from_stored(&kind, &value).map_err(|_| StoreError::corrupt("observable", &kind))?;
            $indicator.content.observables.push(observable);
        }
    }};
}

/// Loads the observables of indicators read without them: one query per 500 of them.
macro_rules! load_observables_of {
    ($executor:expr, $indicators:expr) => {{
        let indicators: &mut [liaison_core::Indicator] = &mut $indicators;
        let at: std::collections::HashMap<String, usize> = indicators
            .iter()
            .enumerate()
            .map(|(index, indicator)| (indicator.id.to_string(), index))
            .collect();
        let ids: Vec<String> = indicators.iter().map(|i| i.id.to_string()).collect();
        for chunk in ids.chunks(500) {
            let mut query = sqlx::QueryBuilder::new(
                "SELECT indicator_id, type, value FROM indicator_observables WHERE indicator_id IN (",
            );
            let mut list = query.separated(", ");
            for id in chunk {
                list.push_bind(id.as_str());
            }
            list.push_unseparated(") ORDER BY indicator_id, ordinal");
            for row in query.build().fetch_all($executor).await? {
                let id: String = sqlx::Row::try_get(&row, "indicator_id")?;
                let kind: String = sqlx::Row::try_get(&row, "type")?;
                let value: String = sqlx::Row::try_get(&row, "value")?;
                let observable = Observable::from_stored(&kind, &value)
                    .map_err(|_| StoreError::corrupt("observable", &kind))?;
                if let Some(index) = at.get(&id) {
                    indicators[*index].content.observables.push(observable);
                }
            }
        }
    }};
}
pub(crate) use load_observables_of;

/// "The agency `$n` is a member of the item's sharing group", from the directory.
pub(crate) fn member_sql(agency: &str) -> String {
    format!(
        "i.scope_value IN (SELECT m.group_id FROM sharing_group_members m WHERE m.agency_id = {agency})"
    )
}

/// "The item `i` is active at `now`" (not revoked, not expired).
pub(crate) fn active_sql(now: &str) -> String {
    format!("i.revoked_us IS NULL AND (i.valid_until_us IS NULL OR i.valid_until_us > {now})")
}

/// What search matches of a fraud method (`indicators.search_text`, migration 9): its
/// texts joined by spaces, which no search word holds, and lowercased here, as the
/// search's words are, since SQLite's `LOWER()` folds ASCII letters only.
pub(crate) fn search_text(title: &str, description: &str, countermeasures: &str) -> String {
    [title, description, countermeasures]
        .join(" ")
        .to_lowercase()
}

impl Store {
    /// How many indicators are stored, revoked ones included.
    pub async fn indicator_count(&self) -> Result<u64, StoreError> {
        let count: i64 = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM indicators").fetch_one(pool).await?
        });
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// One indicator, with its observables.
    pub async fn get_indicator(&self, id: &ObjectId) -> Result<Option<Indicator>, StoreError> {
        let sql = format!("SELECT {INDICATOR_COLUMNS} FROM indicators i WHERE i.id = $1");
        with_pool!(self, pool => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.as_str()).fetch_optional(pool).await?;
            match row {
                None => Ok(None),
                Some(row) => {
                    let mut indicator = indicator_from_row(&row)?;
                    load_observables!(pool, indicator);
                    Ok(Some(indicator))
                }
            }
        })
    }

    /// Several indicators with their observables, in two queries per 500 ids; ids not
    /// stored are missing from the map.
    pub async fn get_indicators(
        &self,
        ids: &[ObjectId],
    ) -> Result<std::collections::HashMap<ObjectId, Indicator>, StoreError> {
        let mut found = std::collections::HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            with_pool!(self, pool => {
                let mut query = sqlx::QueryBuilder::new(format!(
                    "SELECT {INDICATOR_COLUMNS} FROM indicators i WHERE i.id IN ("
                ));
                let mut list = query.separated(", ");
                for id in chunk {
                    list.push_bind(id.as_str());
                }
                list.push_unseparated(")");
                for row in query.build().fetch_all(pool).await? {
                    let indicator = indicator_from_row(&row)?;
                    found.insert(indicator.id.clone(), indicator);
                }
                let mut query = sqlx::QueryBuilder::new(
                    "SELECT indicator_id, type, value FROM indicator_observables WHERE indicator_id IN (",
                );
                let mut list = query.separated(", ");
                for id in chunk {
                    list.push_bind(id.as_str());
                }
                list.push_unseparated(") ORDER BY indicator_id, ordinal");
                for row in query.build().fetch_all(pool).await? {
                    let id: String = row.try_get("indicator_id")?;
                    let kind: String = row.try_get("type")?;
                    let value: String = row.try_get("value")?;
                    let id = ObjectId::parse(ObjectId::INDICATOR, &id)
                        .map_err(|_| StoreError::corrupt("indicator id", &id))?;
                    let observable = Observable::from_stored(&kind, &value)
                        .map_err(|_| StoreError::corrupt("observable", &kind))?;
                    if let Some(indicator) = found.get_mut(&id) {
                        indicator.content.observables.push(observable);
                    }
                }
            });
        }
        Ok(found)
    }
}
