//! Publication (`publish_one`, the batch insert), the outbox, a sequencer pass and
//! `events_after`.

use liaison_core::Indicator;
use liaison_store::{BatchOrder, IndicatorEventKind, PublishOutcome, Store};

use crate::database::{new_indicator, now, principal, record};

const PUBLISH: &str = "liaison.v1.IndicatorService/Publish";
const PUBLISH_MANY: &str = "liaison.v1.IndicatorService/PublishMany";

pub async fn a_publication_is_sequenced_into_its_event_and_its_record(
    store: Store,
) -> anyhow::Result<()> {
    let size = store.audit_size().await?;
    let feed = principal("RS-MUP/system/feed");
    let audit =
        |indicator: &Indicator| record(PUBLISH, indicator.id.as_str(), "RS-MUP", indicator.created);
    let PublishOutcome::Stored(stored) = store
        .publish_indicator(
            &feed,
            "req-1",
            new_indicator(&["prevara.example"]),
            now(),
            &audit,
        )
        .await?
    else {
        anyhow::bail!("nothing stored");
    };
    // Its stream event and its audit record wait in the outbox until a pass takes them.
    assert_eq!(store.outbox_backlog().await?, 2);
    assert!(store.indicator_events_after(0, 10).await?.is_empty());
    assert_eq!(store.sequence_batch(now()).await?, 2);
    assert_eq!(store.outbox_backlog().await?, 0);
    assert_eq!(
        store.sequence_batch(now()).await?,
        0,
        "nothing left to take"
    );

    let events = store.indicator_events_after(0, 10).await?;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].kind, IndicatorEventKind::Published);
    assert_eq!(events[0].indicator, stored);
    assert_eq!(store.refresh_high_water().await?, events[0].position);
    // The record became the next leaf, and its object is indexed.
    assert_eq!(store.audit_size().await?, size + 1);
    let leaves = store.audit_records(size, 10).await?;
    assert_eq!(leaves.len(), 1);
    let sealed = liaison_audit::Sealed::parse(leaves[0].record.as_bytes());
    assert_eq!(sealed.record().method, PUBLISH, "the record as committed");
    assert_eq!(sealed.record().objects[0].id, stored.id.as_str());
    let by_object = store
        .query_audit(&liaison_store::AuditQuery {
            object_id: Some(stored.id.to_string()),
            limit: 10,
            ..liaison_store::AuditQuery::default()
        })
        .await?;
    assert_eq!(
        by_object.iter().map(|row| row.0).collect::<Vec<_>>(),
        [size]
    );
    Ok(())
}

pub async fn a_batch_stores_each_first_use_once_in_order(store: Store) -> anyhow::Result<()> {
    let feed = principal("RS-MUP/system/feed");
    let single =
        |indicator: &Indicator| record(PUBLISH, indicator.id.as_str(), "RS-MUP", indicator.created);
    let PublishOutcome::Stored(earlier) = store
        .publish_indicator(
            &feed,
            "req-0",
            new_indicator(&["staro.example"]),
            now(),
            &single,
        )
        .await?
    else {
        anyhow::bail!("nothing stored");
    };
    let items: Vec<(String, liaison_core::NewIndicator)> = [
        ("req-1", "jedan.example"),
        ("req-0", "ponovo.example"),
        ("req-2", "dva.example"),
        ("req-1", "opet.example"),
        ("req-3", "tri.example"),
    ]
    .into_iter()
    .map(|(request_id, value)| {
        (
            request_id.to_owned(),
            new_indicator(&[value, "zajednicko.example"]),
        )
    })
    .collect();
    let batch = |indicators: &[Indicator]| {
        record(
            PUBLISH_MANY,
            indicators[0].id.as_str(),
            "RS-MUP",
            indicators[0].created,
        )
    };
    let outcomes = store
        .publish_indicators(&feed, &items, now(), &batch, &mut BatchOrder::default())
        .await?;
    let outcomes: Vec<PublishOutcome> = outcomes.into_iter().collect::<Result<_, _>>()?;
    let stored: Vec<&Indicator> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            PublishOutcome::Stored(indicator) => Some(indicator),
            PublishOutcome::Duplicate(_) => None,
        })
        .collect();
    assert_eq!(stored.len(), 3, "{outcomes:?}");
    assert_eq!(outcomes[1], PublishOutcome::Duplicate(earlier.clone()));
    assert_eq!(outcomes[3], PublishOutcome::Duplicate(stored[0].clone()));
    assert_eq!(store.indicator_count().await?, 4);
    for indicator in &stored {
        let read = store.get_indicator(&indicator.id).await?;
        assert_eq!(read.as_ref(), Some(*indicator), "observables in order");
    }

    while store.sequence_batch(now()).await? > 0 {}
    let events = store.indicator_events_after(0, 100).await?;
    let ids: Vec<_> = events
        .iter()
        .map(|event| event.indicator.id.clone())
        .collect();
    let mut expected = vec![earlier.id.clone()];
    expected.extend(stored.iter().map(|indicator| indicator.id.clone()));
    assert_eq!(ids, expected, "one event per item, in the order sent");
    let positions: Vec<u64> = events.iter().map(|event| event.position).collect();
    assert!(
        positions.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "{positions:?}"
    );
    Ok(())
}

pub async fn events_after_reads_one_topic_after_a_position(store: Store) -> anyhow::Result<()> {
    let feed = principal("RS-MUP/system/feed");
    let audit =
        |indicator: &Indicator| record(PUBLISH, indicator.id.as_str(), "RS-MUP", indicator.created);
    for n in 0..5 {
        store
            .publish_indicator(
                &feed,
                &format!("req-{n}"),
                new_indicator(&[&format!("domen{n}.example")]),
                now(),
                &audit,
            )
            .await?;
    }
    while store.sequence_batch(now()).await? > 0 {}
    let all = store.indicator_events_after(0, 100).await?;
    assert_eq!(all.len(), 5);
    let after = store.indicator_events_after(all[1].position, 2).await?;
    assert_eq!(after, all[2..4], "after the position, at most the limit");
    // Other streams' topics hold none of them.
    assert!(store.cbm_events_after(0, 100).await?.is_empty());
    assert!(store.mla_events_after(0, 100).await?.is_empty());
    Ok(())
}
