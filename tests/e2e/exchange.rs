//! The indicator exchange beyond publication: revocation reaching subscribers, listing
//! with filters and paging, sightings, lookups and correlations — and that whoever may not
//! see an item learns nothing derived from it.

use liaison_client::Client;
use liaison_proto::v1;
use liaison_testkit::{Backend, TestHub, both};
use tonic::Code;

use crate::support::{
    all_members, fraud_method, named, next_event, publish, published, purposeful, subscribe_after,
};

both!(
    the_owner_revokes_and_subscribers_are_told,
    list_filters_pages_and_hides_what_the_caller_may_not_see,
    lookups_sightings_and_correlations_stay_within_visibility,
    publish_many_in_batches_delivers_each_item_once,
    a_hundred_thousand_arrive_once_past_a_stalled_subscriber,
    standalone_observables_are_linked_to_a_method_by_their_owner,
    concurrent_lookups_each_get_their_own_value,
);

fn observable(kind: v1::ObservableType, value: &str) -> v1::Observable {
    v1::Observable {
        r#type: kind as i32,
        value: value.to_owned(),
    }
}

/// A fraud method holding one domain.
fn with_domain(title: &str, domain: &str, scope: v1::Scope) -> v1::Indicator {
    let mut indicator = fraud_method(title);
    indicator.observables = vec![observable(v1::ObservableType::Domain, domain)];
    indicator.scope = Some(scope);
    indicator
}

async fn publish_as(client: &Client, indicator: v1::Indicator) -> anyhow::Result<v1::Indicator> {
    Ok(client
        .indicators()
        .publish(publish(indicator))
        .await?
        .into_inner()
        .indicator
        .unwrap_or_default())
}

async fn lookup(client: &Client, domain: &str) -> anyhow::Result<v1::LookupResponse> {
    Ok(client
        .indicators()
        .lookup(v1::LookupRequest {
            observable: Some(observable(v1::ObservableType::Domain, domain)),
        })
        .await?
        .into_inner())
}

async fn the_owner_revokes_and_subscribers_are_told(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let ukraine = hub.client("UA-CERT", "officer").await?;
    let mut stream = hub
        .client("SI-POLICIJA", "officer")
        .await?
        .indicators()
        .subscribe(purposeful(subscribe_after(0)))
        .await?
        .into_inner();
    let stored = publish_as(
        &ukraine,
        fraud_method("Лжебанк: дзвінки від «служби безпеки»"),
    )
    .await?;
    assert_eq!(published(&next_event(&mut stream).await?)?.id, stored.id);

    // Another agency that sees it may not revoke it; one that does not see it is told
    // nothing exists.
    let mut hungary = hub.client("HU-NNI", "officer").await?.indicators();
    let denied = hungary
        .revoke_indicator(v1::RevokeIndicatorRequest {
            request_id: "hu-revoke".into(),
            indicator_id: stored.id.clone(),
            reason: "Nem a miénk".into(),
        })
        .await
        .expect_err("another agency revoked it");
    assert_eq!(denied.code(), Code::PermissionDenied);

    let revoked = ukraine
        .indicators()
        .revoke_indicator(v1::RevokeIndicatorRequest {
            request_id: "ua-revoke".into(),
            indicator_id: stored.id.clone(),
            reason: "Хибна тривога: домен належить банку".into(),
        })
        .await?
        .into_inner()
        .indicator
        .unwrap_or_default();
    assert!(revoked.revoke_time.is_some());

    let event = next_event(&mut stream).await?;
    let Some(v1::indicator_event::Event::Revoked(told)) = event.event else {
        anyhow::bail!("expected a revocation, got {event:?}");
    };
    assert_eq!(told.id, stored.id);
    assert_eq!(told.revoke_reason, "Хибна тривога: домен належить банку");
    assert_eq!(
        told.observables.len(),
        2,
        "the subscriber can act on what it holds"
    );

    // Gone from lists by default; there with include_inactive.
    let mut slovenia = hub.client("SI-POLICIJA", "officer").await?.indicators();
    let active = slovenia
        .list_indicators(purposeful(v1::ListIndicatorsRequest::default()))
        .await?
        .into_inner();
    assert!(active.indicators.iter().all(|i| i.id != stored.id));
    let all = slovenia
        .list_indicators(purposeful(v1::ListIndicatorsRequest {
            include_inactive: true,
            ..v1::ListIndicatorsRequest::default()
        }))
        .await?
        .into_inner();
    assert!(all.indicators.iter().any(|i| i.id == stored.id));
    hub.stop().await
}

async fn list_filters_pages_and_hides_what_the_caller_may_not_see(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let serbia = hub.client("RS-MUP", "officer").await?;
    for index in 0..5 {
        let mut indicator = with_domain(
            &format!("Investīciju krāpšana {index}"),
            &format!("invest-{index}.example"),
            all_members(),
        );
        indicator.language = "lv".into();
        if let Some(method) = indicator.fraud_method.as_mut() {
            method.category = v1::FraudCategory::InvestmentFraud as i32;
            method.description = "Viltus investīciju platforma sola lielu peļņu.".into();
        }
        publish_as(&serbia, indicator).await?;
    }
    let secret = publish_as(
        &serbia,
        with_domain(
            "Tajno: samo za Ukrajinu",
            "tajno.example",
            named(&["UA-CERT"]),
        ),
    )
    .await?;
    let phishing = publish_as(
        &serbia,
        with_domain(
            "Lažni bankarski pozivi",
            "banka-pomoc.example",
            all_members(),
        ),
    )
    .await?;

    let mut hungary = hub.client("HU-NNI", "officer").await?.indicators();
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = hungary
            .list_indicators(purposeful(v1::ListIndicatorsRequest {
                page_size: 2,
                page_token: token.clone(),
                ..v1::ListIndicatorsRequest::default()
            }))
            .await?
            .into_inner();
        assert!(page.indicators.len() <= 2);
        seen.extend(page.indicators.into_iter().map(|i| i.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        seen.len(),
        6,
        "five investment methods and the phishing one: {seen:?}"
    );
    assert!(
        !seen.contains(&secret.id),
        "a named item leaked into another agency's list"
    );
    assert!(seen.contains(&phishing.id));
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "a page repeated an item");

    let by_category = hungary
        .list_indicators(purposeful(v1::ListIndicatorsRequest {
            categories: vec![v1::FraudCategory::InvestmentFraud as i32],
            ..v1::ListIndicatorsRequest::default()
        }))
        .await?
        .into_inner();
    assert_eq!(by_category.indicators.len(), 5);
    let by_text = hungary
        .list_indicators(purposeful(v1::ListIndicatorsRequest {
            text: "peļņu".into(),
            ..v1::ListIndicatorsRequest::default()
        }))
        .await?
        .into_inner();
    assert_eq!(by_text.indicators.len(), 5, "Latvian text is found");
    // Case does not matter beyond ASCII (SQLite's LOWER() folds ASCII only), each word may
    // be in any of the texts, and an item the caller may not see is not found.
    for (text, found) in [
        ("PEĻŅU", 5),
        ("investīciju PLATFORMA", 5),
        ("шахраї", 1),
        ("ШАХРАЇ смс", 0),
        ("шахраї sms", 1),
    ] {
        let page = hungary
            .list_indicators(purposeful(v1::ListIndicatorsRequest {
                text: text.into(),
                ..v1::ListIndicatorsRequest::default()
            }))
            .await?
            .into_inner();
        assert_eq!(page.indicators.len(), found, "search {text:?}");
    }
    let ukraine_sees = hub
        .client("UA-CERT", "officer")
        .await?
        .indicators()
        .list_indicators(purposeful(v1::ListIndicatorsRequest::default()))
        .await?
        .into_inner();
    assert!(ukraine_sees.indicators.iter().any(|i| i.id == secret.id));
    let bad = hungary
        .list_indicators(v1::ListIndicatorsRequest {
            page_token: "forged".into(),
            ..v1::ListIndicatorsRequest::default()
        })
        .await
        .expect_err("a forged page token was accepted");
    assert_eq!(bad.code(), Code::InvalidArgument);
    hub.stop().await
}

async fn lookups_sightings_and_correlations_stay_within_visibility(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let ukraine = hub.client("UA-CERT", "officer").await?;
    let serbia = hub.client("RS-MUP", "officer").await?;
    let turkey = hub.client("TR-EGM", "officer").await?;
    let vietnam = hub.client("VN-BCA", "officer").await?;
    let mut ukraine_stream = ukraine
        .indicators()
        .subscribe(purposeful(subscribe_after(0)))
        .await?
        .into_inner();
    let mut turkey_stream = turkey
        .indicators()
        .subscribe(purposeful(subscribe_after(0)))
        .await?
        .into_inner();

    // Ukraine shares a domain with Serbia only; Turkey later publishes the same domain to
    // all members. Turkey may not see Ukraine's item, so neither is told of a match, and
    // Turkey's lookup counts only what it may see.
    let domain = "Ngân-Hàng-Hỗ-Trợ.example";
    let secret = publish_as(
        &ukraine,
        with_domain("Для Сербії", domain, named(&["RS-MUP"])),
    )
    .await?;
    let open = publish_as(
        &turkey,
        with_domain("Sahte banka desteği", domain, all_members()),
    )
    .await?;
    assert_eq!(
        published(&next_event(&mut ukraine_stream).await?)?.id,
        secret.id
    );
    assert_eq!(
        published(&next_event(&mut ukraine_stream).await?)?.id,
        open.id
    );
    assert_eq!(
        published(&next_event(&mut turkey_stream).await?)?.id,
        open.id
    );

    let for_turkey = lookup(&turkey, domain).await?;
    assert_eq!(for_turkey.reporting_agency_count, 1);
    assert_eq!(for_turkey.fraud_method_ids, std::slice::from_ref(&open.id));
    let for_serbia = lookup(&serbia, domain).await?;
    assert_eq!(for_serbia.reporting_agency_count, 2);
    let normal = |response: &v1::LookupResponse| {
        response
            .observable
            .as_ref()
            .map(|o| o.value.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        normal(&for_serbia),
        normal(&for_turkey),
        "one normal form for both"
    );
    assert!(
        normal(&for_turkey).starts_with("xn--"),
        "{}",
        normal(&for_turkey)
    );

    // Serbia now publishes it to all members too: Serbia and Turkey see each other's items,
    // so both are told; Ukraine's item stays out of it.
    let serbian = publish_as(
        &serbia,
        with_domain("Lažna podrška banke", domain, all_members()),
    )
    .await?;
    assert_eq!(
        published(&next_event(&mut turkey_stream).await?)?.id,
        serbian.id
    );
    let event = next_event(&mut turkey_stream).await?;
    let Some(v1::indicator_event::Event::Correlation(matched)) = event.event else {
        anyhow::bail!("expected a correlation for Turkey, got {event:?}");
    };
    assert_eq!(matched.own_indicator_id, open.id);
    assert_eq!(matched.other_indicator_id, serbian.id);
    assert_eq!(matched.other_agency_id, "RS-MUP");
    // Ukraine sees Serbia's item and Serbia sees Ukraine's: they are told too.
    assert_eq!(
        published(&next_event(&mut ukraine_stream).await?)?.id,
        serbian.id
    );
    let event = next_event(&mut ukraine_stream).await?;
    let Some(v1::indicator_event::Event::Correlation(matched)) = event.event else {
        anyhow::bail!("expected a correlation for Ukraine, got {event:?}");
    };
    assert_eq!(matched.own_indicator_id, secret.id);
    assert_eq!(matched.other_indicator_id, serbian.id);
    // Turkey was never told of Ukraine's item: its next event is Vietnam's below, not a
    // match with `secret`.
    let lookup_turkey = lookup(&turkey, domain).await?;
    assert_eq!(lookup_turkey.reporting_agency_count, 2);
    assert!(!lookup_turkey.fraud_method_ids.contains(&secret.id));

    // Sightings: by a member that may see the value; others are told it does not exist.
    turkey
        .indicators()
        .report_sighting(v1::ReportSightingRequest {
            request_id: "tr-sighting".into(),
            sighting: Some(v1::Sighting {
                observable: Some(observable(v1::ObservableType::Domain, domain)),
                count: 12,
                ..v1::Sighting::default()
            }),
        })
        .await?;
    let secret_only = "samo-srbija.example";
    publish_as(
        &ukraine,
        with_domain("Лише для Сербії", secret_only, named(&["RS-MUP"])),
    )
    .await?;
    let hidden = vietnam
        .indicators()
        .report_sighting(v1::ReportSightingRequest {
            request_id: "vn-sighting".into(),
            sighting: Some(v1::Sighting {
                observable: Some(observable(v1::ObservableType::Domain, secret_only)),
                count: 1,
                ..v1::Sighting::default()
            }),
        })
        .await
        .expect_err("a sighting of a value the caller may not see was accepted");
    assert_eq!(hidden.code(), Code::NotFound);
    let for_vietnam = lookup(&vietnam, secret_only).await?;
    assert_eq!(for_vietnam.reporting_agency_count, 0);
    assert!(for_vietnam.first_seen_time.is_none() && for_vietnam.sightings.is_empty());
    let for_serbia = lookup(&serbia, domain).await?;
    assert_eq!(for_serbia.sighting_count, 12);
    assert_eq!(for_serbia.sightings[0].agency_id, "TR-EGM");

    // A Vietnamese item with the value reaches Turkey as a publication, then a match.
    let vietnamese = publish_as(
        &vietnam,
        with_domain("Giả mạo ngân hàng hỗ trợ", domain, all_members()),
    )
    .await?;
    assert_eq!(
        published(&next_event(&mut turkey_stream).await?)?.id,
        vietnamese.id
    );
    let event = next_event(&mut turkey_stream).await?;
    let Some(v1::indicator_event::Event::Correlation(matched)) = event.event else {
        anyhow::bail!("expected a correlation, got {event:?}");
    };
    assert_eq!(matched.other_indicator_id, vietnamese.id);

    // Bad input is named.
    let bad = turkey
        .indicators()
        .lookup(v1::LookupRequest {
            observable: Some(observable(v1::ObservableType::Domain, "not a domain")),
        })
        .await
        .expect_err("accepted");
    assert_eq!(bad.code(), Code::InvalidArgument);
    hub.stop().await
}

/// A PublishMany stream of several batches (two are stored at once): one result per item,
/// a retry answered with the first result (also while the first is in the batch being
/// stored), each item delivered once and in the order sent, and every stored item named
/// as written in the audit log, by records of at most 500 objects.
async fn publish_many_in_batches_delivers_each_item_once(backend: Backend) -> anyhow::Result<()> {
    const ITEMS: usize = 3_000;
    let hub = TestHub::start(backend).await?;
    let feed = hub.client("ME-UP", "feed").await?;
    let mut stream = hub
        .client("AL-ASP", "feed")
        .await?
        .indicators()
        .subscribe(v1::SubscribeRequest {
            after: Some(v1::Cursor { position: 0 }),
            observable_types: vec![v1::ObservableType::Ipv4 as i32],
            ..v1::SubscribeRequest::default()
        })
        .await?
        .into_inner();
    let mut items: Vec<v1::PublishManyRequest> = (0..ITEMS)
        .map(|index| {
            let mut indicator = fraud_method(&format!("Botnet C2 {index}"));
            indicator.observables = vec![observable(
                v1::ObservableType::Ipv4,
                &format!("198.51.{}.{}", index / 250, index % 250),
            )];
            v1::PublishManyRequest {
                request_id: format!("me-feed-{index}"),
                indicator: Some(indicator),
            }
        })
        .collect();
    // Retries of earlier items inside the same stream (the second of an item of the batch
    // stored just before this one's), and one invalid item.
    items.push(v1::PublishManyRequest {
        request_id: "me-feed-7".into(),
        indicator: items[7].indicator.clone(),
    });
    items.push(v1::PublishManyRequest {
        request_id: format!("me-feed-{}", ITEMS - 1),
        indicator: items[ITEMS - 1].indicator.clone(),
    });
    let mut invalid = fraud_method("Bad address");
    invalid.observables = vec![observable(v1::ObservableType::Ipv4, "198.51.100.300")];
    items.push(v1::PublishManyRequest {
        request_id: "me-feed-invalid".into(),
        indicator: Some(invalid),
    });
    let answers = feed
        .indicators()
        .publish_many(tokio_stream::iter(items))
        .await?
        .into_inner();
    let mut messages = 0;
    let response = liaison_client::collect_publish_results(answers, |_, _| messages += 1).await?;
    assert!(messages > 1, "the results came in one message");
    assert_eq!(response.accepted_count as usize, ITEMS);
    assert_eq!(response.duplicate_count, 2);
    assert_eq!(response.invalid_count, 1);
    assert_eq!(response.results.len(), ITEMS + 3);
    assert!(
        response
            .results
            .iter()
            .enumerate()
            .all(|(i, r)| r.index as usize == i)
    );
    assert_eq!(
        response.results[ITEMS].indicator_id,
        response.results[7].indicator_id
    );
    assert_eq!(
        response.results[ITEMS + 1].indicator_id,
        response.results[ITEMS - 1].indicator_id
    );
    assert_eq!(
        response.results[ITEMS + 2].violations[0].field,
        "indicator.observables[0].value"
    );

    // Delivered once each, in the order sent.
    let sent: Vec<String> = response.results[..ITEMS]
        .iter()
        .map(|result| result.indicator_id.clone())
        .collect();
    let mut delivered = Vec::new();
    while delivered.len() < ITEMS {
        let event = next_event(&mut stream).await?;
        delivered.push(published(&event)?.id.clone());
    }
    assert!(
        delivered == sent,
        "delivered out of order or twice: first difference at {:?}",
        delivered.iter().zip(&sent).position(|(a, b)| a != b)
    );

    // Audited: every stored item written, the first results that the retries returned
    // read, by Montenegro's feed, in records of at most 500 objects.
    let method = "/liaison.v1.IndicatorService/PublishMany";
    let mut size = hub.store().watch_audit_size();
    let (written, read) = loop {
        let mut written = std::collections::HashSet::new();
        let mut read = std::collections::HashSet::new();
        for row in hub.store().audit_records(0, 10_000).await? {
            let record: serde_json::Value = serde_json::from_str(&row.record)?;
            if record["method"] != method {
                continue;
            }
            assert_eq!(record["actor"]["agency"], "ME-UP", "{record}");
            let objects = record["objects"].as_array().cloned().unwrap_or_default();
            assert!(
                objects.len() <= 500,
                "a record of {} objects",
                objects.len()
            );
            for object in objects {
                assert_eq!(object["owner"], "ME-UP", "{object}");
                let id = object["id"].as_str().unwrap_or_default().to_owned();
                match object["access"].as_str() {
                    Some("write") => assert!(written.insert(id), "written twice"),
                    Some("read") => {
                        read.insert(id);
                    }
                    other => panic!("unexpected access {other:?}"),
                }
            }
        }
        if written.len() >= ITEMS && read.len() >= 2 {
            break (written, read);
        }
        tokio::time::timeout(crate::support::PATIENCE, size.changed())
            .await
            .map_err(|_| anyhow::anyhow!("the log names {} of the writes", written.len()))??;
    };
    assert_eq!(written, sent.iter().cloned().collect());
    assert_eq!(
        read,
        [&sent[7], &sent[ITEMS - 1]].into_iter().cloned().collect()
    );
    hub.stop().await
}

/// 100,000 observables in one PublishMany stream — 10,000 items of ten IPv4 addresses
/// each, every address different — all reach a subscriber exactly once, while another
/// subscriber reads nothing: it holds up neither the publisher nor the reader, and
/// afterwards catches up from the store, also exactly once. (The benchmark publishes
/// one-observable items; here the per-item cost would make the test minutes long in a
/// debug build.)
async fn a_hundred_thousand_arrive_once_past_a_stalled_subscriber(
    backend: Backend,
) -> anyhow::Result<()> {
    const ITEMS: u32 = 10_000;
    const PER_ITEM: u32 = 10;
    const OBSERVABLES: usize = (ITEMS * PER_ITEM) as usize;
    let hub = TestHub::start(backend).await?;
    let ipv4_only = || v1::SubscribeRequest {
        after: Some(v1::Cursor { position: 0 }),
        observable_types: vec![v1::ObservableType::Ipv4 as i32],
        ..v1::SubscribeRequest::default()
    };
    let mut reader = hub
        .client("AL-ASP", "feed")
        .await?
        .indicators()
        .subscribe(ipv4_only())
        .await?
        .into_inner();
    let mut stalled = hub
        .client("HU-NNI", "feed")
        .await?
        .indicators()
        .subscribe(ipv4_only())
        .await?
        .into_inner();
    let feed = hub.client("ME-UP", "feed").await?;
    let items = (0..ITEMS).map(|index| {
        let observables = (0..PER_ITEM)
            .map(|n| {
                let [_, a, b, c] = (index * PER_ITEM + n).to_be_bytes();
                observable(v1::ObservableType::Ipv4, &format!("10.{a}.{b}.{c}"))
            })
            .collect();
        v1::PublishManyRequest {
            request_id: format!("me-bulk-{index}"),
            indicator: Some(v1::Indicator {
                observables,
                language: "sr-Latn".into(),
                confidence: 60,
                tlp: v1::Tlp::Green as i32,
                scope: Some(all_members()),
                ..v1::Indicator::default()
            }),
        }
    });
    let publishing = tokio::spawn({
        let mut client = feed.indicators();
        async move {
            let answers = client
                .publish_many(tokio_stream::iter(items))
                .await?
                .into_inner();
            liaison_client::collect_publish_results(answers, |_, _| ()).await
        }
    });

    // Every address once, in items that were each delivered once.
    async fn read_all(
        stream: &mut tonic::Streaming<v1::SubscribeResponse>,
    ) -> anyhow::Result<(
        std::collections::HashSet<String>,
        std::collections::HashSet<String>,
    )> {
        let mut items = std::collections::HashSet::new();
        let mut values = std::collections::HashSet::new();
        while values.len() < OBSERVABLES {
            let event = next_event(stream).await?;
            let indicator = published(&event)?;
            assert!(items.insert(indicator.id.clone()), "an item arrived twice");
            for observable in &indicator.observables {
                assert!(
                    values.insert(observable.value.clone()),
                    "{} arrived twice",
                    observable.value
                );
            }
        }
        Ok((items, values))
    }
    let (items, _) = read_all(&mut reader).await?;
    let response = publishing.await??;
    assert_eq!(response.accepted_count, ITEMS);
    let ids: std::collections::HashSet<String> = response
        .results
        .into_iter()
        .map(|result| result.indicator_id)
        .collect();
    assert_eq!(ids, items, "the subscriber received what was stored");

    // Nothing more follows: the next event after all of them is a new publication.
    let mut last = fraud_method("Botnet C2");
    last.observables = vec![observable(v1::ObservableType::Ipv4, "192.0.2.1")];
    let last = publish_as(&feed, last).await?;
    assert_eq!(published(&next_event(&mut reader).await?)?.id, last.id);

    // The stalled subscriber, reading at last, catches up: every item once, then the last.
    let (caught_up, _) = read_all(&mut stalled).await?;
    assert_eq!(caught_up, ids);
    assert_eq!(published(&next_event(&mut stalled).await?)?.id, last.id);
    hub.stop().await
}

async fn standalone_observables_are_linked_to_a_method_by_their_owner(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let ukraine = hub.client("UA-CERT", "officer").await?;
    let mut standalone = fraud_method("unused");
    standalone.fraud_method = None;
    standalone.observables = vec![observable(
        v1::ObservableType::Domain,
        "oschadbank-bonus.example",
    )];
    let observable_item = publish_as(&ukraine, standalone).await?;
    let method = publish_as(&ukraine, fraud_method("Фальшиві бонуси від банку")).await?;

    let mut hungary = hub.client("HU-NNI", "officer").await?.indicators();
    let denied = hungary
        .link_observables(v1::LinkObservablesRequest {
            request_id: "hu-link".into(),
            fraud_method_id: method.id.clone(),
            indicator_ids: vec![observable_item.id.clone()],
        })
        .await
        .expect_err("another agency linked Ukraine's items");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let wrong_kind = ukraine
        .indicators()
        .link_observables(v1::LinkObservablesRequest {
            request_id: "ua-link-wrong".into(),
            fraud_method_id: method.id.clone(),
            indicator_ids: vec![method.id.clone()],
        })
        .await
        .expect_err("a fraud method was linked as an observable");
    assert_eq!(wrong_kind.code(), Code::FailedPrecondition);

    ukraine
        .indicators()
        .link_observables(v1::LinkObservablesRequest {
            request_id: "ua-link".into(),
            fraud_method_id: method.id.clone(),
            indicator_ids: vec![observable_item.id.clone()],
        })
        .await?;
    let linked = hungary
        .get_indicator(purposeful(v1::GetIndicatorRequest {
            indicator_id: observable_item.id.clone(),
        }))
        .await?
        .into_inner()
        .indicator
        .unwrap_or_default();
    assert_eq!(linked.linked_fraud_method_id, method.id);
    hub.stop().await
}

/// Lookups that run at the same time share one read (PostgreSQL: one statement for many
/// values): each still gets exactly the items and sightings of its own value, and a value
/// asked by several at once is answered to each.
async fn concurrent_lookups_each_get_their_own_value(backend: Backend) -> anyhow::Result<()> {
    const VALUES: usize = 12;
    let hub = TestHub::start(backend).await?;
    let serbia = hub.client("RS-MUP", "officer").await?;
    let ukraine = hub.client("UA-CERT", "officer").await?;
    let domain = |value: usize| format!("spilna-{value}.example");
    // Value v: held by v % 3 + 1 of Serbia's methods, and sighted by Ukraine v % 4 times
    // (one sighting each), so that no two neighbours look alike.
    let mut methods: Vec<Vec<String>> = Vec::new();
    for value in 0..VALUES {
        let mut ids = Vec::new();
        for copy in 0..value % 3 + 1 {
            let title = format!("Лажна инвестиција {value}.{copy}");
            ids.push(
                publish_as(&serbia, with_domain(&title, &domain(value), all_members()))
                    .await?
                    .id,
            );
        }
        ids.sort();
        methods.push(ids);
        for sighting in 0..value % 4 {
            ukraine
                .indicators()
                .report_sighting(v1::ReportSightingRequest {
                    request_id: format!("sighting-{value}-{sighting}"),
                    sighting: Some(v1::Sighting {
                        observable: Some(observable(v1::ObservableType::Domain, &domain(value))),
                        count: 1,
                        ..v1::Sighting::default()
                    }),
                })
                .await?;
        }
    }
    let turkey = hub.client("TR-EGM", "officer").await?;
    // Every value four times over, all at once, plus one value nobody holds.
    let asked: Vec<Option<usize>> = (0..4 * VALUES)
        .map(|n| Some(n % VALUES))
        .chain([None])
        .collect();
    let mut calls = tokio::task::JoinSet::new();
    for (n, value) in asked.iter().enumerate() {
        let name = value.map_or_else(|| "niemand.example".to_owned(), domain);
        let turkey = turkey.clone();
        calls.spawn(async move { (n, lookup(&turkey, &name).await) });
    }
    let mut answers: Vec<Option<v1::LookupResponse>> = vec![None; asked.len()];
    while let Some(joined) = calls.join_next().await {
        let (n, answer) = joined?;
        answers[n] = Some(answer?);
    }
    for (value, answer) in asked.iter().zip(answers) {
        let answer = answer.ok_or_else(|| anyhow::anyhow!("lookup {value:?} not answered"))?;
        let mut ids = answer.fraud_method_ids.clone();
        ids.sort();
        match value {
            Some(value) => {
                assert_eq!(ids, methods[*value], "value {value}: methods");
                assert_eq!(
                    answer.sighting_count,
                    u32::try_from(value % 4)?,
                    "value {value}: sightings"
                );
                // Sightings do not count as reports: one agency published.
                assert_eq!(answer.reporting_agency_count, 1, "value {value}: agencies");
            }
            None => {
                assert!(ids.is_empty() && answer.sighting_count == 0);
                assert_eq!(answer.reporting_agency_count, 0);
            }
        }
    }
    hub.stop().await
}
