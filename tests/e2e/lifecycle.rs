//! Health checking and graceful shutdown of open streams.

use std::time::Duration;

use prost::Message as _;

use liaison_testkit::{Backend, TestHub};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use liaison_testkit::both;

use crate::support::{purposeful, subscribe_after};

both!(
    health_reports_serving,
    shutdown_ends_open_streams_with_unavailable
);

async fn health_reports_serving(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let client = hub.client("EU-ENISA", "feed").await?;
    let mut health = HealthClient::new(client.channel());
    // The hub as a whole, and every service of the API (from the descriptor set, so that
    // a new service is checked too).
    let set = prost_types::FileDescriptorSet::decode(liaison_proto::FILE_DESCRIPTOR_SET)?;
    let mut services = vec![String::new()];
    for file in set.file {
        for service in &file.service {
            services.push(format!("{}.{}", file.package(), service.name()));
        }
    }
    assert!(services.len() > 1, "no service in the descriptor set");
    for service in services {
        let answer = health
            .check(HealthCheckRequest {
                service: service.clone(),
            })
            .await?
            .into_inner();
        assert_eq!(answer.status, ServingStatus::Serving as i32, "{service:?}");
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "liaison.v1.NoSuchService".into(),
        })
        .await
        .expect_err("unknown service reported healthy");
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    hub.stop().await
}

async fn shutdown_ends_open_streams_with_unavailable(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut stream = hub
        .client("INT-SELEC", "feed")
        .await?
        .indicators()
        .subscribe(purposeful(subscribe_after(0)))
        .await?
        .into_inner();
    let stopping = tokio::spawn(hub.stop());
    let ended = tokio::time::timeout(Duration::from_secs(20), stream.message()).await?;
    let status = ended.expect_err("the stream ended without a status");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert!(status.message().contains("resume"), "{status:?}");
    tokio::time::timeout(Duration::from_secs(20), stopping).await???;
    Ok(())
}
