//! The idempotency claim: a request id is done once, and serves one method only.

use liaison_core::{AgencyId, Indicator};
use liaison_store::{DirectoryChange, DirectoryWrite, PublishOutcome, Store, StoreError};

use crate::database::{new_indicator, now, principal, record};

const PUBLISH: &str = "liaison.v1.IndicatorService/Publish";

pub async fn a_retry_answers_with_the_first_result(store: Store) -> anyhow::Result<()> {
    let feed = principal("RS-MUP/system/feed");
    let audit =
        |indicator: &Indicator| record(PUBLISH, indicator.id.as_str(), "RS-MUP", indicator.created);
    let first = store
        .publish_indicator(
            &feed,
            "req-1",
            new_indicator(&["prevara.example"]),
            now(),
            &audit,
        )
        .await?;
    let PublishOutcome::Stored(stored) = first else {
        anyhow::bail!("the first use stored nothing: {first:?}");
    };
    // Again, with other content: the first result, nothing stored.
    let again = store
        .publish_indicator(
            &feed,
            "req-1",
            new_indicator(&["drugo.example"]),
            now(),
            &audit,
        )
        .await?;
    assert_eq!(again, PublishOutcome::Duplicate(stored.clone()));
    assert_eq!(store.indicator_count().await?, 1);
    assert_eq!(
        store.earlier_request(&feed, "req-1").await?,
        Some((PUBLISH.to_owned(), stored.id.to_string()))
    );
    assert_eq!(
        store.published_by_request(&feed, "req-1").await?,
        Some(stored)
    );
    // Keys are per principal: another principal's same request id is its own.
    let officer = principal("RS-MUP/person/officer");
    let other = store
        .publish_indicator(
            &officer,
            "req-1",
            new_indicator(&["drugo.example"]),
            now(),
            &audit,
        )
        .await?;
    assert!(matches!(other, PublishOutcome::Stored(_)), "{other:?}");
    assert_eq!(store.indicator_count().await?, 2);
    Ok(())
}

pub async fn a_request_id_serves_one_method_only(store: Store) -> anyhow::Result<()> {
    let operator = principal("INT-HUB/person/operator");
    let agency = AgencyId::parse("RS-CERT")?;
    let change = |method: &'static str| DirectoryChange {
        actor: &operator,
        request_id: "req-suspend",
        method,
        object_id: agency.to_string(),
        audit_record: record(method, agency.as_str(), "RS-CERT", now()),
        now: now(),
    };
    let suspend = "liaison.v1.DirectoryService/SuspendAgency";
    assert_eq!(
        store
            .set_agency_suspended(&change(suspend), &agency, true)
            .await?,
        DirectoryWrite::Done
    );
    // The retry changes nothing twice; the same id for another method is refused.
    assert_eq!(
        store
            .set_agency_suspended(&change(suspend), &agency, true)
            .await?,
        DirectoryWrite::Repeated
    );
    let reused = store
        .set_agency_suspended(
            &change("liaison.v1.DirectoryService/ReinstateAgency"),
            &agency,
            false,
        )
        .await;
    assert!(
        matches!(&reused, Err(StoreError::RequestIdReused(method)) if method == suspend),
        "{reused:?}"
    );
    assert!(
        store
            .get_agency(&agency)
            .await?
            .is_some_and(|a| a.suspended)
    );
    Ok(())
}
