//! Subscriptions: live delivery, catch-up from a cursor, and resumption that neither
//! loses nor repeats, also with many concurrent writers.

use std::collections::BTreeSet;

use liaison_testkit::{Backend, TestHub};

use liaison_testkit::both;

use crate::support::{next_event, publish_method, published, purposeful, subscribe_after};

both!(
    subscribers_before_and_after_both_receive,
    resuming_from_the_last_cursor_loses_and_repeats_nothing,
    concurrent_writers_and_a_resuming_reader,
);

async fn subscribers_before_and_after_both_receive(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut early = hub
        .client("RS-MUP", "feed")
        .await?
        .indicators()
        .subscribe(purposeful(subscribe_after(0)))
        .await?
        .into_inner();

    let mut publisher = hub.client("UA-CERT", "officer").await?.indicators();
    let sent = publish_method(&mut publisher, "Шахрайство з онлайн-купівлею").await?;
    assert_eq!(sent.source_agency_id, "UA-CERT");
    assert_eq!(
        sent.observables[0].value, "privat-bezpeka.example",
        "domain not normalised"
    );
    assert_eq!(
        sent.observables[1].value, "+380441234567",
        "phone not normalised to E.164"
    );

    let event = next_event(&mut early).await?;
    let received = published(&event)?;
    assert_eq!(received.id, sent.id);
    assert_eq!(
        received.fraud_method.as_ref().unwrap().title,
        "Шахрайство з онлайн-купівлею"
    );
    assert!(event.cursor.unwrap().position > 0);

    let mut late = hub
        .client("HU-NNI", "feed")
        .await?
        .indicators()
        .subscribe(purposeful(subscribe_after(0)))
        .await?
        .into_inner();
    let event = next_event(&mut late).await?;
    assert_eq!(published(&event)?.id, sent.id);
    hub.stop().await
}

async fn resuming_from_the_last_cursor_loses_and_repeats_nothing(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut publisher = hub.client("SI-POLICIJA", "feed").await?.indicators();
    let mut expected = Vec::new();
    for round in 0..5 {
        let title = format!("Spletna goljufija št. {round}");
        let indicator = publish_method(&mut publisher, &title).await?;
        expected.push(indicator.id);
    }
    let mut reader = hub.client("ME-UP", "feed").await?.indicators();
    let mut stream = reader
        .subscribe(purposeful(subscribe_after(0)))
        .await?
        .into_inner();
    let mut received = Vec::new();
    let mut cursor = 0;
    for _ in 0..2 {
        let event = next_event(&mut stream).await?;
        cursor = event.cursor.unwrap().position;
        received.push(published(&event)?.id.clone());
    }
    drop(stream);
    for round in 5..8 {
        let title = format!("Spletna goljufija št. {round}");
        let indicator = publish_method(&mut publisher, &title).await?;
        expected.push(indicator.id);
    }
    let mut stream = reader
        .subscribe(purposeful(subscribe_after(cursor)))
        .await?
        .into_inner();
    while received.len() < expected.len() {
        let event = next_event(&mut stream).await?;
        assert!(
            event.cursor.unwrap().position > cursor,
            "cursor went backwards"
        );
        cursor = event.cursor.unwrap().position;
        received.push(published(&event)?.id.clone());
    }
    assert_eq!(received, expected);
    hub.stop().await
}

async fn concurrent_writers_and_a_resuming_reader(backend: Backend) -> anyhow::Result<()> {
    const WRITERS: usize = 4;
    const EACH: usize = 15;
    let hub = TestHub::start(backend).await?;
    let mut writers = Vec::new();
    for agency in ["UA-CERT", "RS-MUP", "HU-NNI", "AL-ASP"]
        .into_iter()
        .take(WRITERS)
    {
        let mut client = hub.client(agency, "feed").await?.indicators();
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for round in 0..EACH {
                let title = format!("{agency} concurrent {round}");
                let indicator = publish_method(&mut client, &title).await?;
                ids.push(indicator.id);
            }
            anyhow::Ok(ids)
        }));
    }
    // The reader reconnects every 7 events from its last cursor while writers write.
    let mut reader = hub.client("EU-EUROPOL", "feed").await?.indicators();
    let mut received = Vec::new();
    let mut cursor = 0;
    while received.len() < WRITERS * EACH {
        let mut stream = reader
            .subscribe(purposeful(subscribe_after(cursor)))
            .await?
            .into_inner();
        for _ in 0..7 {
            if received.len() == WRITERS * EACH {
                break;
            }
            let event = next_event(&mut stream).await?;
            let position = event.cursor.unwrap().position;
            assert!(position > cursor, "position {position} after {cursor}");
            cursor = position;
            received.push(published(&event)?.id.clone());
        }
    }
    let mut written = BTreeSet::new();
    for writer in writers {
        written.extend(writer.await??);
    }
    let unique: BTreeSet<String> = received.iter().cloned().collect();
    assert_eq!(unique.len(), received.len(), "an event was delivered twice");
    assert_eq!(unique, written, "delivered and written differ");
    hub.stop().await
}
