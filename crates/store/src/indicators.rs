//! The indicator tables: publication (with its outbox row, in one transaction), reads and
//! the indicator event stream.

use liaison_core::{
    AgencyId, Evaluation, FraudCategory, FraudMethod, Indicator, NewIndicator, ObjectId,
    Observable, PrincipalId, Scope, Timestamp, Tlp,
};
use sqlx::Row;

use crate::{
    Store, StoreError,
    idempotency::{KeyRows, KeyWrite},
    outbox::{OutboxRow, OutboxWrite},
    tx::WritePool,
    with_pool,
};

mod write;
mod write_pg;
mod write_sqlite;

use write::{IndicatorRow, IndicatorRows, IndicatorWrite};

/// The result of a publication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishOutcome {
    /// Stored now.
    Stored(Indicator),
    /// The request_id was seen before: the first result, nothing stored.
    Duplicate(Indicator),
}

/// What happened to an indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndicatorEventKind {
    /// Published.
    Published,
    /// Revoked by its publisher.
    Revoked,
    /// Another agency published an observable this one holds (see `correlation`).
    Correlation,
}

impl IndicatorEventKind {
    fn as_str(self) -> &'static str {
        match self {
            IndicatorEventKind::Published => "published",
            IndicatorEventKind::Revoked => "revoked",
            IndicatorEventKind::Correlation => "correlation",
        }
    }
}

/// A sequenced event of the indicator stream, with the indicator as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndicatorEvent {
    /// Stream position.
    pub position: u64,
    /// What happened.
    pub kind: IndicatorEventKind,
    /// When it happened.
    pub time: Timestamp,
    /// The indicator; for a correlation, the target agency's own indicator.
    pub indicator: Indicator,
    /// For a correlation event: which agency to tell, and the other indicator.
    pub correlation: Option<crate::CorrelationRecord>,
}

/// Makes the canonical audit record of a write from the object as stored.
pub type AuditRecordFn<'a> = dyn Fn(&Indicator) -> Vec<u8> + Send + Sync + 'a;

/// Makes the canonical audit record of a write of many objects (a PublishMany batch, an
/// import) from the objects as stored: one record names them all, as the records of
/// streams do.
pub type BatchRecordFn<'a> = dyn Fn(&[Indicator]) -> Vec<u8> + Send + Sync + 'a;

/// Most objects one audit record of a batch names.
pub const RECORD_OBJECTS: usize = 500;

/// How long a batch waits for the one before it (see [`BatchOrder`]) before it commits
/// anyway: only a cycle of waits between two streams could make it wait that long.
const ORDER_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Keeps the batches of one stream in order when several are stored at once: a batch
/// writes its rows at once but queues its stream events (and commits) only after the batch
/// before it has ended, so the sequencer, which follows commit order, positions the
/// events in the order they were sent. On SQLite, which lets one writer in at a time, a
/// batch waits before it begins instead. The default orders nothing.
#[derive(Debug, Default)]
pub struct BatchOrder {
    after: Option<tokio::sync::oneshot::Receiver<()>>,
    ended: Option<tokio::sync::oneshot::Sender<()>>,
}

/// The batches of one stream, for [`BatchOrder`]s: each follows the one made before it.
#[derive(Debug, Default)]
pub struct BatchChain {
    last_ended: Option<tokio::sync::oneshot::Receiver<()>>,
}

impl BatchChain {
    /// The order of the next batch: after every batch made before.
    pub fn next_batch(&mut self) -> BatchOrder {
        let (ended, last_ended) = tokio::sync::oneshot::channel();
        BatchOrder {
            after: self.last_ended.replace(last_ended),
            ended: Some(ended),
        }
    }
}

impl BatchOrder {
    /// Waits until the batch before has ended (committed, failed, or given up), once.
    async fn wait(&mut self) {
        let Some(after) = self.after.take() else {
            return;
        };
        if tokio::time::timeout(ORDER_WAIT, after).await.is_err() {
            tracing::warn!(
                "a batch waited too long for the one before it; storing it out of order"
            );
        }
    }

    /// Lets the next batch go on.
    fn end(&mut self) {
        if let Some(ended) = self.ended.take() {
            let _ = ended.send(());
        }
    }

    /// Ends a batch that stored nothing, or whose storing failed: once the batch before
    /// it has ended, the next may go on. (Dropped without this, it lets the next go on at
    /// once.)
    pub async fn finish(&mut self) {
        self.wait().await;
        self.end();
    }
}

/// How a batch records its idempotency keys.
#[derive(Debug, Clone, Copy)]
enum Keys {
    /// All expected new: one plain insert, which fails the batch on a key used before.
    New,
    /// Each claimed if free; a key used before makes its item a duplicate.
    Claim,
}

/// Topic of indicator events in `outbox` and `events`.
pub(crate) const TOPIC: &str = "indicators";
const METHOD_PUBLISH: &str = "liaison.v1.IndicatorService/Publish";

pub(crate) const INDICATOR_COLUMNS: &str = "i.id, i.source_agency_id, i.publisher, i.title, i.description, i.countermeasures, \
     i.category, i.language, i.first_seen_us, i.valid_until_us, i.confidence, i.evaluation, i.tlp, \
     i.scope_kind, i.scope_value, i.anonymous, i.linked_fraud_method_id, i.created_us, i.revoked_us, i.revoke_reason";

/// A new indicator of `publisher`, with a fresh id, as it will be stored.
fn new_indicator(publisher: &PrincipalId, content: NewIndicator, now: Timestamp) -> Indicator {
    Indicator {
        id: ObjectId::generate(ObjectId::INDICATOR),
        source_agency: publisher.agency().clone(),
        publisher: publisher.clone(),
        content,
        linked_fraud_method: None,
        created: now,
        revoked: None,
    }
}

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
                let id: String = row.try_get("indicator_id")?;
                let kind: String = row.try_get("type")?;
                let value: String = row.try_get("value")?;
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

/// What search matches of a fraud method (`indicators.search_text`, migration 9): its
/// texts joined by spaces, which no search word holds, and lowercased here, as the
/// search's words are, since SQLite's `LOWER()` folds ASCII letters only.
pub(crate) fn search_text(title: &str, description: &str, countermeasures: &str) -> String {
    [title, description, countermeasures]
        .join(" ")
        .to_lowercase()
}

/// The rows of new indicators `fresh` (ids `ids`, as text) of one publisher, stored at
/// `now`, and of their observables, for [`IndicatorWrite::insert_indicators`].
fn indicator_rows<'a>(
    publisher: &'a str,
    now: Timestamp,
    fresh: &'a [Indicator],
    ids: &'a [String],
) -> IndicatorRows<'a> {
    IndicatorRows {
        publisher,
        created_us: now.as_micros(),
        indicators: fresh
            .iter()
            .zip(ids)
            .map(|(indicator, id)| {
                let content = &indicator.content;
                let method = content.fraud_method.as_ref();
                let (scope_kind, scope_value) = content.scope.to_storage();
                IndicatorRow {
                    id,
                    source: indicator.source_agency.as_str(),
                    title: method.map(|m| m.title.as_str()),
                    description: method.map(|m| m.description.as_str()),
                    countermeasures: method.map(|m| m.countermeasures.as_str()),
                    search_text: method
                        .map(|m| search_text(&m.title, &m.description, &m.countermeasures)),
                    category: method.map(|m| m.category.as_str()),
                    language: &content.language,
                    first_seen_us: content.first_seen.map(Timestamp::as_micros),
                    valid_until_us: content.valid_until.map(Timestamp::as_micros),
                    confidence: i64::from(content.confidence),
                    evaluation: content.evaluation.map(Evaluation::code),
                    tlp: content.tlp.as_str(),
                    scope_kind,
                    scope_value,
                    anonymous: content.anonymous,
                }
            })
            .collect(),
        observables: fresh
            .iter()
            .zip(ids)
            .flat_map(|(indicator, id)| {
                indicator.content.observables.iter().enumerate().map(
                    move |(ordinal, observable)| {
                        (
                            id.as_str(),
                            ordinal as i64,
                            observable.kind().as_str(),
                            observable.value(),
                        )
                    },
                )
            })
            .collect(),
    }
}

impl Store {
    /// Stores a new indicator with its outbox row in one transaction; a repeated
    /// `request_id` of the same publisher returns the first result and stores nothing.
    ///
    /// `audit_record` makes the audit record of the publication from the stored indicator;
    /// it is committed in the same transaction, so no indicator exists without its record.
    pub async fn publish_indicator(
        &self,
        publisher: &PrincipalId,
        request_id: &str,
        content: NewIndicator,
        now: Timestamp,
        audit_record: &AuditRecordFn<'_>,
    ) -> Result<PublishOutcome, StoreError> {
        let attempt =
            self.try_publish_indicator(publisher, request_id, &content, now, audit_record);
        match attempt.await {
            // Two concurrent retries with one request_id: the loser finds the winner's row.
            Err(error) if error.is_unique_violation() => {
                self.try_publish_indicator(publisher, request_id, &content, now, audit_record)
                    .await
            }
            other => other,
        }
    }

    async fn try_publish_indicator(
        &self,
        publisher: &PrincipalId,
        request_id: &str,
        content: &NewIndicator,
        now: Timestamp,
        audit_record: &AuditRecordFn<'_>,
    ) -> Result<PublishOutcome, StoreError> {
        let principal_key = publisher.to_string();
        let indicator = new_indicator(publisher, content.clone(), now);
        let id = indicator.id.to_string();
        let record = String::from_utf8_lossy(&audit_record(&indicator)).into_owned();
        // Its stream event and its audit record; on PostgreSQL the statement also wakes
        // every replica's sequencer on commit.
        let outbox = [
            (TOPIC, IndicatorEventKind::Published.as_str(), None),
            (crate::audit::TOPIC, "record", Some(record.as_str())),
        ]
        .map(|(topic, kind, payload)| OutboxRow {
            topic,
            kind,
            object_id: &id,
            created_us: now.as_micros(),
            payload,
        });
        let keys = KeyRows {
            publisher: &principal_key,
            method: METHOD_PUBLISH,
            created_us: now.as_micros(),
            keys: vec![(request_id, id.as_str())],
        };
        let rows = indicator_rows(
            &principal_key,
            now,
            std::slice::from_ref(&indicator),
            std::slice::from_ref(&id),
        );
        let stored = with_pool!(self, pool => {
            pool.publish_one(&self.write_turn, &keys, &rows, &outbox).await?
        });
        if !stored {
            // Used before (the claim waited for any concurrent first use to commit): the
            // first result.
            let first = self
                .published_by_request(publisher, request_id)
                .await?
                .ok_or_else(|| StoreError::corrupt("idempotency key", request_id))?;
            return Ok(PublishOutcome::Duplicate(first));
        }
        self.signals.outbox.notify_one();
        Ok(PublishOutcome::Stored(indicator))
    }

    /// Stores many new indicators of one publisher in one transaction, each with its
    /// idempotency key and stream event, and audit records (from `audit_record`) that name
    /// the stored indicators, [`RECORD_OBJECTS`] at most per record; an item whose
    /// request_id was seen (before, or earlier in the batch) comes back as a duplicate. If
    /// the batch fails as a whole (a concurrent retry of one of its request_ids, a reused
    /// request_id), it is retried item by item, so each item gets its own outcome (and its
    /// own record).
    pub async fn publish_indicators(
        &self,
        publisher: &PrincipalId,
        items: &[(String, NewIndicator)],
        now: Timestamp,
        audit_record: &BatchRecordFn<'_>,
        order: &mut BatchOrder,
    ) -> Result<Vec<Result<PublishOutcome, StoreError>>, StoreError> {
        let mut attempt = self
            .try_publish_batch(publisher, items, now, audit_record, order, Keys::New)
            .await;
        if matches!(&attempt, Err(error) if error.is_unique_violation()) {
            // A request id used before (a stream sent again) or by a concurrent retry: the
            // batch again, claiming each key, so that the used ones answer as duplicates.
            attempt = self
                .try_publish_batch(publisher, items, now, audit_record, order, Keys::Claim)
                .await;
        }
        match attempt {
            Ok(outcomes) => {
                order.end();
                self.signals.outbox.notify_one();
                let mut results = Vec::with_capacity(outcomes.len());
                for outcome in outcomes {
                    results.push(Ok(match outcome {
                        Ok(stored) => PublishOutcome::Stored(stored),
                        Err(id) => {
                            PublishOutcome::Duplicate(self.get_indicator(&id).await?.ok_or_else(
                                || StoreError::corrupt("missing indicator", id.as_str()),
                            )?)
                        }
                    }));
                }
                Ok(results)
            }
            Err(error) if error.is_unavailable() => Err(error),
            Err(_) => {
                order.wait().await;
                let mut results = Vec::with_capacity(items.len());
                for (request_id, content) in items {
                    results.push(
                        self.publish_indicator(
                            publisher,
                            request_id,
                            content.clone(),
                            now,
                            &|indicator| audit_record(std::slice::from_ref(indicator)),
                        )
                        .await,
                    );
                }
                Ok(results)
            }
        }
    }

    /// One transaction for a batch: `Ok(indicator)` stored, `Err(id)` a duplicate of `id`.
    /// A handful of multi-row statements per batch rather than several per item.
    async fn try_publish_batch(
        &self,
        publisher: &PrincipalId,
        items: &[(String, NewIndicator)],
        now: Timestamp,
        audit_record: &BatchRecordFn<'_>,
        order: &mut BatchOrder,
        keys: Keys,
    ) -> Result<Vec<Result<Indicator, ObjectId>>, StoreError> {
        let principal_key = publisher.to_string();
        // Rows per multi-row INSERT: well under both backends' bind-parameter limits.
        const ROWS: usize = 500;
        // A new indicator for the first use of each request id in the batch; a repeat
        // within the batch is a duplicate of that first use. Made before the transaction,
        // so that the write turn is not held for it.
        let mut first_use: std::collections::HashMap<&str, usize> =
            std::collections::HashMap::new();
        let mut candidates: Vec<(&str, Indicator)> = Vec::new();
        // Per item: its candidate, and whether it is the request id's first use.
        let mut uses: Vec<(usize, bool)> = Vec::with_capacity(items.len());
        for (request_id, content) in items {
            match first_use.entry(request_id.as_str()) {
                std::collections::hash_map::Entry::Occupied(entry) => {
                    uses.push((*entry.get(), false));
                }
                std::collections::hash_map::Entry::Vacant(entry) => {
                    entry.insert(candidates.len());
                    uses.push((candidates.len(), true));
                    candidates.push((
                        request_id.as_str(),
                        new_indicator(publisher, content.clone(), now),
                    ));
                }
            }
        }
        let candidate_ids: Vec<String> = candidates
            .iter()
            .map(|(_, indicator)| indicator.id.to_string())
            .collect();
        with_pool!(self, pool => {
            if pool.one_writer() {
                order.wait().await;
            }
            let mut tx = pool.begin_write(&self.write_turn).await?;
            let key_rows = KeyRows {
                publisher: &principal_key,
                method: METHOD_PUBLISH,
                created_us: now.as_micros(),
                keys: candidates
                    .iter()
                    .zip(&candidate_ids)
                    .map(|((request_id, _), id)| (*request_id, id.as_str()))
                    .collect(),
            };
            let claimed: std::collections::HashSet<String> = match keys {
                Keys::New => {
                    pool.insert_keys(&mut tx, &key_rows).await?;
                    candidates.iter().map(|(request_id, _)| request_id.to_string()).collect()
                }
                Keys::Claim => pool.claim_keys(&mut tx, &key_rows).await?.into_iter().collect(),
            };
            // The first results of request ids used before (retries: usually none).
            let taken: Vec<&str> = candidates
                .iter()
                .map(|(request_id, _)| *request_id)
                .filter(|request_id| !claimed.contains(*request_id))
                .collect();
            let mut earlier = std::collections::HashMap::new();
            for chunk in taken.chunks(ROWS) {
                let mut query = sqlx::QueryBuilder::new(
                    "SELECT request_id, method, object_id FROM idempotency_keys WHERE principal = ",
                );
                query.push_bind(principal_key.clone()).push(" AND request_id IN (");
                let mut list = query.separated(", ");
                for request_id in chunk {
                    list.push_bind(request_id.to_string());
                }
                list.push_unseparated(")");
                let rows: Vec<(String, String, String)> =
                    query.build_query_as().fetch_all(&mut *tx).await?;
                for (request_id, method, object_id) in rows {
                    earlier.insert(request_id, (method, object_id));
                }
            }
            let mut outcomes = Vec::with_capacity(items.len());
            for (candidate, first) in uses {
                let (request_id, indicator) = &candidates[candidate];
                if claimed.contains(*request_id) {
                    outcomes.push(if first { Ok(indicator.clone()) } else { Err(indicator.id.clone()) });
                    continue;
                }
                let (method, object_id) = earlier
                    .get(*request_id)
                    .ok_or_else(|| StoreError::corrupt("idempotency key", request_id))?;
                if method != METHOD_PUBLISH {
                    return Err(StoreError::RequestIdReused(method.clone()));
                }
                let id = ObjectId::parse(ObjectId::INDICATOR, object_id)
                    .map_err(|_| StoreError::corrupt("indicator id", object_id))?;
                outcomes.push(Err(id));
            }
            // The stored indicators, in the order sent.
            let fresh: Vec<Indicator> = candidates
                .into_iter()
                .filter(|(request_id, _)| claimed.contains(*request_id))
                .map(|(_, indicator)| indicator)
                .collect();
            let ids: Vec<String> = fresh.iter().map(|indicator| indicator.id.to_string()).collect();
            let rows = indicator_rows(&principal_key, now, &fresh, &ids);
            pool.insert_indicators(&mut tx, &rows).await?;
            // The stream events of every item, in one outbox row (the sequencer gives each
            // id its own event, in order), then the audit records naming them.
            let mut outbox: Vec<(&'static str, &'static str, String, Option<String>)> = Vec::new();
            if let Some((first, rest)) = fresh.split_first() {
                let more = crate::outbox::more_objects(rest.iter().map(|indicator| indicator.id.as_str()));
                outbox.push((TOPIC, IndicatorEventKind::Published.as_str(), first.id.to_string(), more));
            }
            for chunk in fresh.chunks(RECORD_OBJECTS) {
                let record = String::from_utf8_lossy(&audit_record(chunk)).into_owned();
                outbox.push((crate::audit::TOPIC, "record", chunk[0].id.to_string(), Some(record)));
            }
            let rows: Vec<OutboxRow<'_>> = outbox
                .iter()
                .map(|(topic, kind, id, payload)| OutboxRow {
                    topic,
                    kind,
                    object_id: id,
                    created_us: now.as_micros(),
                    payload: payload.as_deref(),
                })
                .collect();
            order.wait().await;
            pool.insert_outbox(&mut tx, &rows).await?;
            tx.commit().await?;
            Ok(outcomes)
        })
    }

    /// The indicator that `publisher`'s earlier publication with `request_id` stored, if
    /// any: how a write that stores several indicators under derived keys (ImportStix)
    /// answers a retry with its first result.
    pub async fn published_by_request(
        &self,
        publisher: &PrincipalId,
        request_id: &str,
    ) -> Result<Option<Indicator>, StoreError> {
        let principal_key = publisher.to_string();
        let earlier: Option<(String, String)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT method, object_id FROM idempotency_keys WHERE principal = $1 AND request_id = $2",
            )
            .bind(&principal_key)
            .bind(request_id)
            .fetch_optional(pool)
            .await?
        });
        let Some((method, object_id)) = earlier else {
            return Ok(None);
        };
        if method != METHOD_PUBLISH {
            return Err(StoreError::RequestIdReused(method));
        }
        let id = ObjectId::parse(ObjectId::INDICATOR, &object_id)
            .map_err(|_| StoreError::corrupt("indicator id", &object_id))?;
        self.get_indicator(&id).await
    }

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

    /// The indicator events after position `after`, oldest first, at most `limit`, read
    /// from the database. Only sequenced (hence committed) events exist to be read.
    pub(crate) async fn load_indicator_events_after(
        &self,
        after: u64,
        limit: u32,
    ) -> Result<Vec<IndicatorEvent>, StoreError> {
        let rows = self.events_after(TOPIC, after, limit).await?;
        // Each row's kind, indicator and correlation; the indicators are read together.
        let mut parsed = Vec::with_capacity(rows.len());
        for (position, kind, object_id, created_us) in rows {
            let kind = match kind.as_str() {
                "published" => IndicatorEventKind::Published,
                "revoked" => IndicatorEventKind::Revoked,
                "correlation" => IndicatorEventKind::Correlation,
                _ => return Err(StoreError::corrupt("event kind", &kind)),
            };
            let (indicator_id, correlation) = if kind == IndicatorEventKind::Correlation {
                let correlation = self
                    .get_correlation(&object_id)
                    .await?
                    .ok_or_else(|| StoreError::corrupt("correlation", &object_id))?;
                (correlation.own_indicator.clone(), Some(correlation))
            } else {
                let id = ObjectId::parse(ObjectId::INDICATOR, &object_id)
                    .map_err(|_| StoreError::corrupt("indicator id", &object_id))?;
                (id, None)
            };
            let position = u64::try_from(position)
                .map_err(|_| StoreError::corrupt("position", &position.to_string()))?;
            parsed.push((position, kind, created_us, indicator_id, correlation));
        }
        let ids: Vec<ObjectId> = parsed.iter().map(|row| row.3.clone()).collect();
        let indicators = self.get_indicators(&ids).await?;
        parsed
            .into_iter()
            .map(|(position, kind, created_us, indicator_id, correlation)| {
                let indicator = indicators.get(&indicator_id).cloned().ok_or_else(|| {
                    StoreError::corrupt("missing indicator", indicator_id.as_str())
                })?;
                Ok(IndicatorEvent {
                    position,
                    kind,
                    time: Timestamp::from_micros(created_us),
                    indicator,
                    correlation,
                })
            })
            .collect()
    }
}
