//! A restart on the same data directory and database keeps everything.

use liaison_proto::v1;
use liaison_testkit::{Backend, TestHub};

use liaison_testkit::both;

use crate::support::{
    fraud_method, next_event, publish, publish_method, published, purposeful, subscribe_after,
};

both!(a_restart_keeps_everything);

async fn a_restart_keeps_everything(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut publisher = hub.client("MK-MVR", "officer").await?.indicators();
    let mut method = fraud_method("Лажни повици во име на полицијата");
    method.language = "mk".into();
    let sent = publisher
        .publish(publish(method))
        .await?
        .into_inner()
        .indicator
        .unwrap();
    let mut stream = hub
        .client("BA-MSB", "feed")
        .await?
        .indicators()
        .subscribe(purposeful(subscribe_after(0)))
        .await?
        .into_inner();
    let cursor = next_event(&mut stream).await?.cursor.unwrap().position;
    drop(stream);

    let hub = hub.restart().await?;
    let mut reader = hub.client("BA-MSB", "feed").await?.indicators();
    let again = reader
        .get_indicator(purposeful(v1::GetIndicatorRequest {
            indicator_id: sent.id.clone(),
        }))
        .await?
        .into_inner();
    assert_eq!(
        again.indicator.unwrap().fraud_method.unwrap().title,
        "Лажни повици во име на полицијата"
    );
    let mut stream = reader
        .subscribe(purposeful(subscribe_after(0)))
        .await?
        .into_inner();
    let event = next_event(&mut stream).await?;
    assert_eq!(published(&event)?.id, sent.id);
    assert_eq!(
        event.cursor.unwrap().position,
        cursor,
        "positions changed across the restart"
    );

    // New events continue after the old positions.
    let later = publisher_after_restart(&hub).await?;
    let event = next_event(&mut stream).await?;
    assert_eq!(published(&event)?.id, later);
    assert!(event.cursor.unwrap().position > cursor);
    hub.stop().await
}

async fn publisher_after_restart(hub: &TestHub) -> anyhow::Result<String> {
    let mut publisher = hub.client("MK-MVR", "officer").await?.indicators();
    Ok(publish_method(&mut publisher, "По рестартот").await?.id)
}
