//! Publishing and reading indicators: validation, idempotency, visibility.

use liaison_proto::v1;
use liaison_testkit::{Backend, TestHub};
use tonic_types::StatusExt;

use liaison_testkit::both;

use crate::support::{
    fraud_method, named, next_event, publish, publish_method, published, purposeful,
    subscribe_after,
};

both!(
    invalid_input_names_every_field_and_stores_nothing,
    a_retried_request_id_stores_once,
    concurrent_retries_store_once,
    scope_and_tlp_decide_who_receives,
    anonymous_items_hide_their_source,
);

async fn invalid_input_names_every_field_and_stores_nothing(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut indicators = hub.client("UA-CERT", "feed").await?.indicators();
    let mut bad = fraud_method("Фішинг під виглядом банку");
    bad.observables.push(v1::Observable {
        r#type: v1::ObservableType::Iban as i32,
        value: "UA21 3223 1300 0002 6007 2335 6600 2".into(),
    });
    bad.tlp = v1::Tlp::Unspecified as i32;
    bad.confidence = 250;
    let status = indicators
        .publish(publish(bad))
        .await
        .expect_err("invalid input was accepted");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let violations = status
        .get_details_bad_request()
        .expect("field violations")
        .field_violations;
    let fields: Vec<&str> = violations
        .iter()
        .map(|violation| violation.field.as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "indicator.observables[2].value",
            "indicator.confidence",
            "indicator.tlp"
        ]
    );
    assert!(
        violations[0].description.contains("IBAN"),
        "{:?}",
        violations[0]
    );

    let missing_request_id = v1::PublishRequest {
        request_id: String::new(),
        indicator: Some(fraud_method("без request_id")),
    };
    let status = indicators
        .publish(missing_request_id)
        .await
        .expect_err("no request_id");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        status.get_details_bad_request().unwrap().field_violations[0].field,
        "request_id"
    );

    assert_eq!(
        hub.store().indicator_count().await?,
        0,
        "an invalid indicator was stored"
    );
    hub.stop().await
}

async fn a_retried_request_id_stores_once(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut indicators = hub.client("RS-MUP", "feed").await?.indicators();
    let store = hub.store();
    let events_before = store.refresh_high_water().await?;
    let request = publish(fraud_method("Лажна продавница на интернету"));
    let first = indicators.publish(request.clone()).await?.into_inner();
    let second = indicators.publish(request).await?.into_inner();
    assert!(!first.duplicate);
    assert!(second.duplicate);
    assert_eq!(first.indicator.unwrap().id, second.indicator.unwrap().id);
    assert_eq!(store.indicator_count().await?, 1);
    // Nor did the retry queue a second stream event.
    tokio::time::timeout(std::time::Duration::from_secs(10), hub.drained())
        .await
        .map_err(|_| anyhow::anyhow!("the outbox was not sequenced"))??;
    assert_eq!(store.refresh_high_water().await? - events_before, 1);
    hub.stop().await
}

/// Retries sent at once, over several connections, race to claim the request id: one
/// stores, every other answers with its result.
async fn concurrent_retries_store_once(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let request = publish(fraud_method("Krāpnieciska investīciju platforma"));
    let mut calls = Vec::new();
    for _ in 0..8 {
        let mut indicators = hub.client("ME-UP", "feed").await?.indicators();
        let request = request.clone();
        calls.push(tokio::spawn(async move {
            anyhow::Ok(indicators.publish(request).await?.into_inner())
        }));
    }
    let mut stored = 0;
    let mut ids = std::collections::BTreeSet::new();
    for call in calls {
        let response = call.await??;
        stored += usize::from(!response.duplicate);
        ids.insert(response.indicator.map(|indicator| indicator.id));
    }
    assert_eq!(stored, 1, "exactly one retry stores");
    assert_eq!(
        ids.len(),
        1,
        "every retry answers with the same indicator: {ids:?}"
    );
    assert_eq!(hub.store().indicator_count().await?, 1);
    hub.stop().await
}

async fn scope_and_tlp_decide_who_receives(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut officer_ua = hub.client("UA-CERT", "officer").await?.indicators();
    let mut named_amber = fraud_method("Інвестиційне шахрайство через месенджер");
    named_amber.tlp = v1::Tlp::Amber as i32;
    named_amber.scope = Some(named(&["RS-MUP"]));
    let amber = officer_ua
        .publish(publish(named_amber))
        .await?
        .into_inner()
        .indicator
        .unwrap();
    let mut red = fraud_method("Підміна SIM-картки");
    red.tlp = v1::Tlp::Red as i32;
    red.scope = Some(named(&["RS-MUP"]));
    let red = officer_ua
        .publish(publish(red))
        .await?
        .into_inner()
        .indicator
        .unwrap();
    let public = publish_method(&mut officer_ua, "Фальшива технічна підтримка").await?;

    // What each principal receives from the start of the stream, up to the public marker.
    let mut received = std::collections::BTreeMap::new();
    for (agency, name) in [
        ("RS-MUP", "officer"),
        ("RS-MUP", "feed"),
        ("HU-NNI", "officer"),
        ("UA-CERT", "feed"),
    ] {
        let mut stream = hub
            .client(agency, name)
            .await?
            .indicators()
            .subscribe(purposeful(subscribe_after(0)))
            .await?
            .into_inner();
        let mut ids = Vec::new();
        loop {
            let event = next_event(&mut stream).await?;
            let id = published(&event)?.id.clone();
            let done = id == public.id;
            ids.push(id);
            if done {
                break;
            }
        }
        received.insert(format!("{agency}/{name}"), ids);
    }
    assert_eq!(
        received["RS-MUP/officer"],
        [amber.id.clone(), red.id.clone(), public.id.clone()]
    );
    assert_eq!(
        received["RS-MUP/feed"],
        [amber.id.clone(), public.id.clone()],
        "TLP:RED reached a system"
    );
    assert_eq!(
        received["HU-NNI/officer"],
        std::slice::from_ref(&public.id),
        "a named scope leaked"
    );
    assert_eq!(
        received["UA-CERT/feed"],
        [amber.id.clone(), public.id.clone()],
        "own RED went to a system"
    );

    // Get answers NOT_FOUND for what the caller may not see, as for what does not exist.
    let mut hungary = hub.client("HU-NNI", "officer").await?.indicators();
    let hidden = hungary
        .get_indicator(purposeful(v1::GetIndicatorRequest {
            indicator_id: amber.id.clone(),
        }))
        .await
        .expect_err("HU-NNI read an item scoped to RS-MUP");
    assert_eq!(hidden.code(), tonic::Code::NotFound);
    let mut serbia = hub.client("RS-MUP", "officer").await?.indicators();
    let visible = serbia
        .get_indicator(purposeful(v1::GetIndicatorRequest {
            indicator_id: red.id.clone(),
        }))
        .await?
        .into_inner();
    assert_eq!(
        visible.indicator.unwrap().fraud_method.unwrap().title,
        "Підміна SIM-картки"
    );

    // A system may not publish TLP:RED.
    let mut feed = hub.client("UA-CERT", "feed").await?.indicators();
    let mut red_from_feed = fraud_method("RED from a feed");
    red_from_feed.tlp = v1::Tlp::Red as i32;
    red_from_feed.scope = Some(named(&["RS-MUP"]));
    let denied = feed
        .publish(publish(red_from_feed))
        .await
        .expect_err("a system published RED");
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    hub.stop().await
}

async fn anonymous_items_hide_their_source(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut vietnam = hub.client("VN-BCA", "officer").await?.indicators();
    let mut anonymous = fraud_method("Lừa đảo đầu tư tiền ảo qua mạng xã hội");
    anonymous.language = "vi".into();
    anonymous.anonymous = true;
    let id = vietnam
        .publish(publish(anonymous))
        .await?
        .into_inner()
        .indicator
        .unwrap()
        .id;

    let own = vietnam
        .get_indicator(purposeful(v1::GetIndicatorRequest {
            indicator_id: id.clone(),
        }))
        .await?
        .into_inner();
    assert_eq!(own.indicator.unwrap().source_agency_id, "VN-BCA");
    let mut netherlands = hub.client("NL-NCSC", "feed").await?.indicators();
    let other = netherlands
        .get_indicator(purposeful(v1::GetIndicatorRequest { indicator_id: id }))
        .await?
        .into_inner();
    let other = other.indicator.unwrap();
    assert!(other.anonymous);
    assert_eq!(
        other.source_agency_id, "",
        "the source of an anonymous item was revealed"
    );

    // Filtering by source must not reveal it either.
    let by_source = v1::SubscribeRequest {
        source_agency_ids: vec!["VN-BCA".into()],
        ..subscribe_after(0)
    };
    let mut stream = netherlands
        .subscribe(purposeful(by_source))
        .await?
        .into_inner();
    let marker = publish_method(&mut vietnam, "Marker, not anonymous").await?;
    let first = next_event(&mut stream).await?;
    assert_eq!(
        published(&first)?.id,
        marker.id,
        "the anonymous item matched a source filter"
    );
    hub.stop().await
}

both!(reading_personal_data_needs_a_stated_purpose);

async fn reading_personal_data_needs_a_stated_purpose(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut publisher = hub.client("EU-EUROPOL", "officer").await?.indicators();
    // The fixture carries a phone number: personal data.
    let personal = publish_method(&mut publisher, "Money-mule recruitment").await?;
    let mut domains_only = fraud_method("Fake shop domains");
    domains_only
        .observables
        .retain(|observable| observable.r#type == v1::ObservableType::Domain as i32);
    let impersonal = publisher
        .publish(publish(domains_only))
        .await?
        .into_inner()
        .indicator
        .unwrap();

    let mut reader = hub.client("NL-NCSC", "officer").await?.indicators();
    let refused = reader
        .get_indicator(v1::GetIndicatorRequest {
            indicator_id: personal.id.clone(),
        })
        .await
        .expect_err("personal data read without a purpose");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    let violations = refused
        .get_details_bad_request()
        .expect("field violations")
        .field_violations;
    assert_eq!(violations[0].field, "x-liaison-purpose");
    reader
        .get_indicator(purposeful(v1::GetIndicatorRequest {
            indicator_id: personal.id,
        }))
        .await?;
    reader
        .get_indicator(v1::GetIndicatorRequest {
            indicator_id: impersonal.id,
        })
        .await?;

    let refused = reader
        .subscribe(subscribe_after(0))
        .await
        .expect_err("a feed of personal data without a purpose");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    let domains = v1::SubscribeRequest {
        observable_types: vec![v1::ObservableType::Domain as i32],
        ..subscribe_after(0)
    };
    reader.subscribe(domains).await?;
    hub.stop().await
}
