//! Helpers shared by the end-to-end tests.

use std::time::Duration;

use liaison_client::AuthChannel;
use liaison_proto::v1::{self, indicator_service_client::IndicatorServiceClient};
use tonic::Streaming;

/// How long a test waits for something that should happen at once.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// How often [`eventually`] tries again.
const RETRY: Duration = Duration::from_millis(20);

/// Tries `attempt` until it succeeds, for at most [`PATIENCE`], and returns what it gave;
/// past that, fails with `what` and the last attempt's error. For what no event announces
/// to a test (a connection slot freed by the hub, a counter moved by another task); where
/// the hub has a watch to wait on (`TestHub::drained`, a stream), wait on that instead.
pub async fn eventually<T, F, Fut>(what: &str, mut attempt: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(error) if tokio::time::Instant::now() >= deadline => {
                return Err(error.context(format!("{what} (after {PATIENCE:?})")));
            }
            Err(_) => tokio::time::sleep(RETRY).await,
        }
    }
}

/// A fraud method in Ukrainian, scoped to all members, TLP:GREEN.
pub fn fraud_method(title: &str) -> v1::Indicator {
    v1::Indicator {
        fraud_method: Some(v1::FraudMethod {
            title: title.to_owned(),
            description: "Шахраї телефонують від імені служби безпеки банку й просять назвати код з SMS.".into(),
            countermeasures: "Банк ніколи не просить коди з SMS. Покладіть слухавку й передзвоніть на офіційний номер."
                .into(),
            category: v1::FraudCategory::Phishing as i32,
        }),
        observables: vec![
            v1::Observable {
                r#type: v1::ObservableType::Phone as i32,
                value: "+380 44 123 45 67".into(),
            },
            v1::Observable {
                r#type: v1::ObservableType::Domain as i32,
                value: "Privat-Bezpeka.example".into(),
            },
        ],
        language: "uk".into(),
        confidence: 80,
        evaluation: Some(v1::Evaluation {
            source_reliability: v1::evaluation::SourceReliability::B as i32,
            information_accuracy: v1::evaluation::InformationAccuracy::InformationAccuracy2 as i32,
        }),
        tlp: v1::Tlp::Green as i32,
        scope: Some(all_members()),
        ..v1::Indicator::default()
    }
}

/// The all-members scope.
pub fn all_members() -> v1::Scope {
    v1::Scope {
        target: Some(v1::scope::Target::AllMembers(v1::AllMembers {})),
    }
}

/// A scope naming agencies.
pub fn named(agencies: &[&str]) -> v1::Scope {
    v1::Scope {
        target: Some(v1::scope::Target::Agencies(v1::AgencyList {
            agency_ids: agencies.iter().map(|id| (*id).to_owned()).collect(),
        })),
    }
}

/// A publish request with a fresh request id.
pub fn publish(indicator: v1::Indicator) -> v1::PublishRequest {
    v1::PublishRequest {
        request_id: format!("req-{}", unique()),
        indicator: Some(indicator),
    }
}

/// A process-unique number.
pub fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The next event of a subscription, failing the test after [`PATIENCE`].
pub async fn next_event(
    stream: &mut Streaming<v1::SubscribeResponse>,
) -> anyhow::Result<v1::IndicatorEvent> {
    let message = tokio::time::timeout(PATIENCE, stream.message())
        .await
        .map_err(|_| anyhow::anyhow!("no event within {PATIENCE:?}"))??
        .ok_or_else(|| anyhow::anyhow!("the stream ended"))?;
    message.event.ok_or_else(|| anyhow::anyhow!("empty event"))
}

/// The published indicator of an event.
pub fn published(event: &v1::IndicatorEvent) -> anyhow::Result<&v1::Indicator> {
    match &event.event {
        Some(v1::indicator_event::Event::Published(indicator)) => Ok(indicator),
        other => anyhow::bail!("expected a published event, got {other:?}"),
    }
}

/// Subscribes after `position`.
pub fn subscribe_after(position: u64) -> v1::SubscribeRequest {
    v1::SubscribeRequest {
        after: Some(v1::Cursor { position }),
        ..v1::SubscribeRequest::default()
    }
}

/// Publishes a fraud method with `title` and returns the stored indicator.
pub async fn publish_method(
    client: &mut IndicatorServiceClient<AuthChannel>,
    title: &str,
) -> anyhow::Result<v1::Indicator> {
    let response = client
        .publish(publish(fraud_method(title)))
        .await?
        .into_inner();
    response
        .indicator
        .ok_or_else(|| anyhow::anyhow!("no indicator in the response"))
}

/// A request with a justification, as reads of personal data (the phone numbers in
/// [`fraud_method`]) require.
pub fn purposeful<T>(message: T) -> tonic::Request<T> {
    liaison_client::with_purpose(message, "Справа № 42/2026 (end-to-end test)")
}

/// Every audit record `agency/name` may query with `query`, oldest first, page by page.
pub async fn audit_records_as(
    hub: &liaison_testkit::TestHub,
    (agency, name): (&str, &str),
    query: v1::QueryRecordsRequest,
) -> anyhow::Result<Vec<v1::AuditRecord>> {
    let mut audit = hub.client(agency, name).await?.audit();
    let mut records = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = audit
            .query_records(v1::QueryRecordsRequest {
                page_token,
                page_size: 1_000,
                ..query.clone()
            })
            .await?
            .into_inner();
        records.extend(page.records);
        if page.next_page_token.is_empty() {
            return Ok(records);
        }
        page_token = page.next_page_token;
    }
}
