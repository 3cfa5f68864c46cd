//! Publication: one indicator, or a batch of one publisher's stream, each stored with its
//! idempotency key, its stream event and its audit record in one transaction.

use liaison_core::{Evaluation, Indicator, NewIndicator, ObjectId, PrincipalId, Timestamp};

use super::{
    TOPIC,
    events::IndicatorEventKind,
    search_text,
    write::{IndicatorRow, IndicatorRows, IndicatorWrite},
};
use crate::{
    Store, StoreError,
    idempotency::{KeyRows, KeyWrite},
    outbox::{OutboxRow, OutboxWrite},
    tx::WritePool,
    with_pool,
};

/// The result of a publication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishOutcome {
    /// Stored now.
    Stored(Indicator),
    /// The request_id was seen before: the first result, nothing stored.
    Duplicate(Indicator),
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

const METHOD_PUBLISH: &str = "liaison.v1.IndicatorService/Publish";

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
        // Made before the transaction, so that the write turn is not held for it.
        let (candidates, uses) = batch_candidates(publisher, items, now);
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
            let outcomes = batch_outcomes(&uses, &candidates, &claimed, &earlier)?;
            // The stored indicators, in the order sent.
            let fresh: Vec<Indicator> = candidates
                .into_iter()
                .filter(|(request_id, _)| claimed.contains(*request_id))
                .map(|(_, indicator)| indicator)
                .collect();
            let ids: Vec<String> = fresh.iter().map(|indicator| indicator.id.to_string()).collect();
            let rows = indicator_rows(&principal_key, now, &fresh, &ids);
            pool.insert_indicators(&mut tx, &rows).await?;
            let outbox = batch_outbox(&fresh, audit_record);
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
}

/// The candidates of a batch (each request id's first use with its new indicator), and
/// per item its candidate and whether it is the request id's first use.
type Candidates<'a> = (Vec<(&'a str, Indicator)>, Vec<(usize, bool)>);

/// A new indicator for the first use of each request id in a batch, and per item its
/// candidate and whether it is the request id's first use: a repeat within the batch is a
/// duplicate of that first use.
fn batch_candidates<'a>(
    publisher: &PrincipalId,
    items: &'a [(String, NewIndicator)],
    now: Timestamp,
) -> Candidates<'a> {
    let mut first_use: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut candidates: Vec<(&str, Indicator)> = Vec::new();
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
    (candidates, uses)
}

/// Each item's outcome: `Ok(indicator)` stored now, `Err(id)` a duplicate of `id` (of an
/// earlier item of the batch, or of the first use of a key `claimed` did not get, whose
/// `earlier` method and object decide it).
fn batch_outcomes(
    uses: &[(usize, bool)],
    candidates: &[(&str, Indicator)],
    claimed: &std::collections::HashSet<String>,
    earlier: &std::collections::HashMap<String, (String, String)>,
) -> Result<Vec<Result<Indicator, ObjectId>>, StoreError> {
    let mut outcomes = Vec::with_capacity(uses.len());
    for &(candidate, first) in uses {
        let (request_id, indicator) = &candidates[candidate];
        if claimed.contains(*request_id) {
            outcomes.push(if first {
                Ok(indicator.clone())
            } else {
                Err(indicator.id.clone())
            });
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
    Ok(outcomes)
}

/// The outbox rows of a batch's stored indicators `fresh`: the stream events of every
/// item in one row (the sequencer gives each id its own event, in order), then the audit
/// records naming them, [`RECORD_OBJECTS`] at most each.
fn batch_outbox(
    fresh: &[Indicator],
    audit_record: &BatchRecordFn<'_>,
) -> Vec<(&'static str, &'static str, String, Option<String>)> {
    let mut outbox = Vec::new();
    if let Some((first, rest)) = fresh.split_first() {
        let more = crate::outbox::more_objects(rest.iter().map(|indicator| indicator.id.as_str()));
        outbox.push((
            TOPIC,
            IndicatorEventKind::Published.as_str(),
            first.id.to_string(),
            more,
        ));
    }
    for chunk in fresh.chunks(RECORD_OBJECTS) {
        let record = String::from_utf8_lossy(&audit_record(chunk)).into_owned();
        outbox.push((
            crate::audit::TOPIC,
            "record",
            chunk[0].id.to_string(),
            Some(record),
        ));
    }
    outbox
}
