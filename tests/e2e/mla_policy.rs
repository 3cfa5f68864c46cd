//! The federation's MLA deadline policy (`[mla_deadlines]` in the federation file): a
//! federation that shortens the emergency acknowledgement and response times gives a
//! request earlier due dates than the defaults, and its deadlines pass on its own
//! schedule; a policy out of range stops the hub with the key at fault.

use std::time::Duration;

use liaison_proto::v1;
use liaison_testkit::{Backend, EXAMPLE_FEDERATION, TestHub, both};

use crate::mla::{Mla, create, officer, preservation_content, submit};

both!(a_federation_sets_its_own_deadline_policy);

/// The acknowledgement and response windows of a freshly submitted emergency
/// preservation request on `hub`, from its submission time.
async fn windows(hub: &TestHub) -> anyhow::Result<(String, Duration, Duration)> {
    let mut ua: Mla = officer(hub, "UA-CERT").await?;
    let draft = create(&mut ua, preservation_content("RS-MUP")).await?;
    let submitted = submit(&mut ua, &draft.id)
        .await?
        .mla_request
        .expect("a request");
    let start = submitted.submit_time.expect("a submit time").seconds;
    let window = |kind: v1::MlaDeadlineKind| {
        let due = submitted
            .deadlines
            .iter()
            .find(|deadline| deadline.kind == kind as i32)
            .and_then(|deadline| deadline.due_time.as_ref())
            .map(|time| time.seconds)
            .expect("the deadline is set");
        Duration::from_secs(u64::try_from(due - start).expect("due after submission"))
    };
    Ok((
        draft.id,
        window(v1::MlaDeadlineKind::Acknowledgement),
        window(v1::MlaDeadlineKind::Response),
    ))
}

async fn overdue(hub: &TestHub) -> anyhow::Result<Vec<String>> {
    let mut ua: Mla = officer(hub, "UA-CERT").await?;
    Ok(ua
        .list_requests(v1::ListRequestsRequest {
            overdue_only: true,
            ..Default::default()
        })
        .await?
        .into_inner()
        .mla_requests
        .into_iter()
        .map(|request| request.id)
        .collect())
}

async fn a_federation_sets_its_own_deadline_policy(backend: Backend) -> anyhow::Result<()> {
    const HOUR: u64 = 3600;
    let standard = TestHub::start(backend).await?;
    let (_, ack, response) = windows(&standard).await?;
    assert_eq!(ack, Duration::from_secs(4 * HOUR), "the default: 4 hours");
    assert_eq!(
        response,
        Duration::from_secs(4 * 24 * HOUR),
        "the default: 4 days"
    );
    standard.stop().await?;

    let federation = format!(
        "{EXAMPLE_FEDERATION}\n[mla_deadlines]\n\
         acknowledgement_hours = {{ emergency = 1 }}\n\
         response_days = {{ emergency = 2 }}\n"
    );
    let strict = TestHub::builder(backend)
        .federation(&federation)
        .start()
        .await?;
    let (id, ack, response) = windows(&strict).await?;
    assert_eq!(ack, Duration::from_secs(HOUR));
    assert_eq!(response, Duration::from_secs(2 * 24 * HOUR));
    // An hour and a second later the acknowledgement is overdue here (it would not be
    // under the defaults).
    assert!(overdue(&strict).await?.is_empty());
    strict.clock().advance(Duration::from_secs(HOUR + 1));
    assert_eq!(overdue(&strict).await?, [id]);
    strict.stop().await?;

    // A policy out of range: the hub does not start, and says which key is wrong.
    let swapped = format!(
        "{EXAMPLE_FEDERATION}\n[mla_deadlines]\nacknowledgement_hours = {{ emergency = 48 }}\n"
    );
    let error = TestHub::builder(backend)
        .federation(&swapped)
        .start()
        .await
        .expect_err("a hub started with a swapped policy");
    assert!(
        format!("{error:#}").contains("mla_deadlines.acknowledgement_hours"),
        "{error:#}"
    );
    Ok(())
}
