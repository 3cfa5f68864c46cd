//! Attacks from the December security review (`SECURITY.md` lists each finding with the
//! test that holds it). Each test plays the attacker the review describes — a hostile
//! member agency, an outsider, a curious operator — against a real hub, and fails on the
//! code the review read (`d3e43cc`).

use liaison_audit::{Checkpoint, Hash, Opening, TreeBuilder, VerifierKey, leaf_hash};
use liaison_proto::v1;
use liaison_testkit::{Backend, TestHub, both};

use crate::support::{PATIENCE, all_members, audit_records_as, eventually, fraud_method, publish};

fn by_method<'a>(records: &'a [v1::AuditRecord], method: &str) -> Vec<&'a v1::AuditRecord> {
    records
        .iter()
        .filter(|record| record.method.ends_with(method))
        .collect()
}

fn actor_agency(record: &v1::AuditRecord) -> &str {
    record
        .actor
        .as_ref()
        .and_then(|actor| actor.principal.as_ref())
        .map_or("", |principal| principal.agency_id.as_str())
}

/// The leaves of an export as `agency/name` receives it, checked as `liaisonctl audit
/// verify` checks them: every leaf hash over its data, every opening against its leaf and
/// equal to the record shown, and the whole tree against the signed checkpoint.
async fn verified_export(hub: &TestHub, who: (&str, &str)) -> anyhow::Result<Vec<v1::AuditLeaf>> {
    let mut audit = hub.client(who.0, who.1).await?.audit();
    let key: VerifierKey = audit
        .get_log_keys(v1::GetLogKeysRequest {})
        .await?
        .into_inner()
        .keys[0]
        .verifier_key
        .parse()?;
    let mut stream = audit
        .export_records(v1::ExportRecordsRequest::default())
        .await?
        .into_inner();
    let mut leaves = Vec::new();
    let mut tree = TreeBuilder::new();
    let mut note = None;
    while let Some(message) = stream.message().await? {
        match message.item {
            Some(v1::export_records_response::Item::Leaf(leaf)) => {
                let hash = Hash::try_from(leaf.leaf_hash.as_slice())?;
                if !leaf.leaf_data.is_empty() {
                    anyhow::ensure!(
                        leaf_hash(&leaf.leaf_data) == hash,
                        "leaf {}",
                        leaf.leaf_index
                    );
                }
                if !leaf.opening.is_empty() {
                    let view = Opening::from_json(&leaf.opening)?.verify(&leaf.leaf_data)?;
                    let shown = leaf.record.as_ref().map(|r| r.objects.len());
                    anyhow::ensure!(
                        shown == Some(view.record.objects.len()),
                        "leaf {}: the record shows other objects than the opening proves",
                        leaf.leaf_index
                    );
                }
                tree.push(hash);
                leaves.push(leaf);
            }
            Some(v1::export_records_response::Item::Checkpoint(checkpoint)) => {
                note = Some(checkpoint.signed_note);
            }
            None => {}
        }
    }
    let note = note.ok_or_else(|| anyhow::anyhow!("no checkpoint"))?;
    let checkpoint = Checkpoint::verify(&note, &key)?;
    anyhow::ensure!(checkpoint.size() == tree.size(), "export size");
    anyhow::ensure!(tree.root() == *checkpoint.root(), "export root");
    Ok(leaves)
}

both!(c1_audit_views_never_name_an_anonymous_source_or_anothers_details);

/// C1. UA-CERT publishes an anonymous item; RS-MUP's officer reads it, HU-NNI's officer
/// lists it beside an RS-MUP item, each with a case reference. Then every agency's auditor
/// queries and exports the log: RS-MUP's learns nothing naming UA-CERT (not by the object,
/// not by filtering on the owner, not in an export); UA-CERT's sees who read its item but
/// not their case reference, address, certificate or token, nor the other objects of
/// HU-NNI's page; and each redacted export still verifies against the signed tree.
async fn c1_audit_views_never_name_an_anonymous_source_or_anothers_details(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let ukraine = hub.client("UA-CERT", "officer").await?;
    let secret = ukraine
        .indicators()
        .publish(publish(v1::Indicator {
            anonymous: true,
            scope: Some(all_members()),
            ..fraud_method("Анонімне джерело: шахрайство з інвестиціями")
        }))
        .await?
        .into_inner()
        .indicator
        .unwrap_or_default();
    let serbia = hub.client("RS-MUP", "officer").await?;
    let open = serbia
        .indicators()
        .publish(publish(fraud_method("Лажна банкарска апликација")))
        .await?
        .into_inner()
        .indicator
        .unwrap_or_default();
    let read = serbia
        .indicators()
        .get_indicator(liaison_client::with_purpose(
            v1::GetIndicatorRequest {
                indicator_id: secret.id.clone(),
            },
            "Предмет КТ-77/2026",
        ))
        .await?
        .into_inner()
        .indicator
        .unwrap_or_default();
    assert_eq!(
        read.source_agency_id, "",
        "the item itself hides its source"
    );
    let hungary = hub.client("HU-NNI", "officer").await?;
    let listed = hungary
        .indicators()
        .list_indicators(liaison_client::with_purpose(
            v1::ListIndicatorsRequest::default(),
            "Ügyszám 1234/2026",
        ))
        .await?
        .into_inner()
        .indicators;
    assert!(listed.iter().any(|i| i.id == secret.id) && listed.iter().any(|i| i.id == open.id));
    crate::audit::wait_for_checkpoint(&hub, hub.store().audit_size().await?).await?;

    // RS-MUP's auditor: by the object, the owner is withheld and marked anonymous.
    let by_object = audit_records_as(
        &hub,
        ("RS-MUP", "auditor"),
        v1::QueryRecordsRequest {
            object_id: secret.id.clone(),
            ..v1::QueryRecordsRequest::default()
        },
    )
    .await?;
    let get = by_method(&by_object, "/GetIndicator");
    assert_eq!(get.len(), 1, "{by_object:#?}");
    let object = get[0].objects.iter().find(|o| o.object_id == secret.id);
    assert_eq!(
        object.map(|o| (o.owner_agency_id.as_str(), o.anonymous)),
        Some(("", true)),
        "{:#?}",
        get[0]
    );
    // Its own call's details it does see.
    assert_eq!(get[0].justification, "Предмет КТ-77/2026");
    // Filtering on the owner finds nothing of the anonymous item.
    let by_owner = audit_records_as(
        &hub,
        ("RS-MUP", "auditor"),
        v1::QueryRecordsRequest {
            owner_agency_id: "UA-CERT".into(),
            ..v1::QueryRecordsRequest::default()
        },
    )
    .await?;
    assert!(by_owner.is_empty(), "{by_owner:#?}");
    // Nothing it may see names UA-CERT or HU-NNI's case reference, queried or exported.
    let everything = audit_records_as(&hub, ("RS-MUP", "auditor"), Default::default()).await?;
    let text = format!("{everything:?}");
    assert!(!text.contains("UA-CERT"), "{text}");
    assert!(!text.contains("1234/2026"), "{text}");
    let exported = verified_export(&hub, ("RS-MUP", "auditor")).await?;
    for leaf in &exported {
        let bytes = [leaf.leaf_data.as_slice(), leaf.opening.as_slice()].concat();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("UA-CERT"),
            "leaf {}: {text}",
            leaf.leaf_index
        );
        assert!(
            !text.contains("1234/2026"),
            "leaf {}: {text}",
            leaf.leaf_index
        );
    }
    // HU-NNI's page, as RS-MUP sees it: its own item only, and no details of HU-NNI's call.
    let page = everything
        .iter()
        .find(|r| actor_agency(r) == "HU-NNI" && r.method.ends_with("/ListIndicators"))
        .ok_or_else(|| anyhow::anyhow!("RS-MUP does not see who listed its item"))?;
    let ids: Vec<&str> = page.objects.iter().map(|o| o.object_id.as_str()).collect();
    assert_eq!(ids, [open.id.as_str()]);
    assert!(page.redacted);
    assert_eq!(
        (page.justification.as_str(), page.client_address.as_str()),
        ("", "")
    );

    // UA-CERT's auditor sees RS-MUP's read of its item, but none of RS-MUP's details.
    let mine = audit_records_as(&hub, ("UA-CERT", "auditor"), Default::default()).await?;
    let get = mine
        .iter()
        .find(|r| actor_agency(r) == "RS-MUP" && r.method.ends_with("/GetIndicator"))
        .ok_or_else(|| anyhow::anyhow!("UA-CERT does not see who read its item"))?;
    assert_eq!(get.objects.len(), 1);
    assert_eq!(get.objects[0].owner_agency_id, "UA-CERT");
    let actor = get.actor.clone().unwrap_or_default();
    assert_eq!(
        (
            get.justification.as_str(),
            get.client_address.as_str(),
            actor.certificate_sha256.as_str(),
            actor.token_id.as_str()
        ),
        ("", "", "", "")
    );
    assert!(get.redacted);
    let text = format!("{mine:?}");
    assert!(
        !text.contains(&open.id),
        "another agency's object id: {text}"
    );
    assert!(!text.contains("КТ-77"), "{text}");
    verified_export(&hub, ("UA-CERT", "auditor")).await?;

    // HU-NNI's auditor: its own page names RS-MUP's item's owner, not UA-CERT's.
    let own = audit_records_as(&hub, ("HU-NNI", "auditor"), Default::default()).await?;
    let page = own
        .iter()
        .find(|r| r.method.ends_with("/ListIndicators"))
        .ok_or_else(|| anyhow::anyhow!("HU-NNI does not see its own page"))?;
    let owners: Vec<(&str, &str, bool)> = page
        .objects
        .iter()
        .filter(|o| o.object_id == secret.id || o.object_id == open.id)
        .map(|o| {
            (
                o.object_id.as_str(),
                o.owner_agency_id.as_str(),
                o.anonymous,
            )
        })
        .collect();
    let mut expected = vec![
        (secret.id.as_str(), "", true),
        (open.id.as_str(), "RS-MUP", false),
    ];
    expected.sort();
    let mut owners = owners;
    owners.sort();
    assert_eq!(owners, expected);
    assert_eq!(page.justification, "Ügyszám 1234/2026");

    // Oversight sees the record whole, and its export verifies too.
    let whole = audit_records_as(
        &hub,
        ("INT-HUB", "auditor"),
        v1::QueryRecordsRequest {
            object_id: secret.id.clone(),
            ..v1::QueryRecordsRequest::default()
        },
    )
    .await?;
    assert!(
        whole
            .iter()
            .flat_map(|r| &r.objects)
            .any(|o| o.object_id == secret.id && o.owner_agency_id == "UA-CERT")
    );
    assert!(whole.iter().all(|r| !r.redacted));
    verified_export(&hub, ("INT-HUB", "auditor")).await?;
    hub.stop().await
}

both!(h3_an_agency_removed_from_a_group_stops_receiving_it_on_an_open_stream);

/// H3. EU-ENISA's feed subscribes; RS-MUP shares an item with the Belgrade-declaration
/// group, which ENISA receives. The operator then removes ENISA from the group, and RS-MUP
/// shares a second item with it: ENISA's already open stream must not deliver it (on the
/// same node, at once — the stream ends and ENISA subscribes again with its new standing).
async fn h3_an_agency_removed_from_a_group_stops_receiving_it_on_an_open_stream(
    backend: Backend,
) -> anyhow::Result<()> {
    const GROUP: &str = "belgrade-declaration";
    let hub = TestHub::start(backend).await?;
    let enisa = hub.client("EU-ENISA", "feed").await?;
    let mut stream = enisa
        .indicators()
        .subscribe(crate::support::purposeful(crate::support::subscribe_after(
            0,
        )))
        .await?
        .into_inner();
    let serbia = hub.client("RS-MUP", "officer").await?;
    let to_group = |title: &str| v1::Indicator {
        scope: Some(v1::Scope {
            target: Some(v1::scope::Target::SharingGroupId(GROUP.into())),
        }),
        ..fraud_method(title)
    };
    let first = serbia
        .indicators()
        .publish(publish(to_group("Прва превара за групу")))
        .await?
        .into_inner()
        .indicator
        .unwrap_or_default();
    let event = crate::support::next_event(&mut stream).await?;
    assert_eq!(crate::support::published(&event)?.id, first.id);

    let members: Vec<String> = hub
        .store()
        .group_members(&liaison_core::GroupId::parse(GROUP)?)
        .await?
        .into_iter()
        .map(|agency| agency.to_string())
        .filter(|agency| agency != "EU-ENISA")
        .collect();
    hub.client("INT-HUB", "operator")
        .await?
        .directory()
        .update_sharing_group(v1::UpdateSharingGroupRequest {
            request_id: "drop-enisa".into(),
            sharing_group: Some(v1::SharingGroup {
                id: GROUP.into(),
                name: "Belgrade declaration, without ENISA".into(),
                member_agency_ids: members,
            }),
        })
        .await?;
    let second = serbia
        .indicators()
        .publish(publish(to_group("Друга превара, не за ENISA")))
        .await?
        .into_inner()
        .indicator
        .unwrap_or_default();
    let sentinel = serbia
        .indicators()
        .publish(publish(fraud_method("Сви чланови")))
        .await?
        .into_inner()
        .indicator
        .unwrap_or_default();
    // Whatever the stream still delivers before it ends, the second item is not in it.
    loop {
        let message = tokio::time::timeout(PATIENCE, stream.message()).await?;
        match message {
            Ok(Some(response)) => {
                let Some(v1::indicator_event::Event::Published(indicator)) =
                    response.event.and_then(|event| event.event)
                else {
                    continue;
                };
                assert_ne!(indicator.id, second.id, "delivered after the removal");
                if indicator.id == sentinel.id {
                    break;
                }
            }
            Ok(None) => break,
            Err(status) => {
                assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
                break;
            }
        }
    }
    // Subscribing again, ENISA gets what its new standing allows: not the second item.
    let mut again = enisa
        .indicators()
        .subscribe(crate::support::purposeful(crate::support::subscribe_after(
            0,
        )))
        .await?
        .into_inner();
    loop {
        let event = crate::support::next_event(&mut again).await?;
        let Ok(indicator) = crate::support::published(&event) else {
            continue;
        };
        assert_ne!(indicator.id, second.id);
        if indicator.id == sentinel.id {
            break;
        }
    }
    hub.stop().await
}

both!(m6_an_expired_certificate_is_refused_on_an_open_connection);

/// M6. A feed's certificate expires while its connection is open: the handshake checked
/// it once, but the next call on the same connection is refused.
async fn m6_an_expired_certificate_is_refused_on_an_open_connection(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let uris = ["spiffe://liaison.example/agency/UA-CERT/system/feed"];
    let short = hub
        .ca()?
        .issue_client_with_uris(&uris, liaison_pki::Validity::seconds(3))?;
    let client = liaison_client::Client::connect(&hub.client_config_with(&short)?).await?;
    let mut directory = client.directory();
    directory.who_am_i(v1::WhoAmIRequest {}).await?;
    // Wall-clock on purpose: the certificate's own expiry is what is tested, and X.509
    // times have whole seconds, so wait past the end of the window.
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let refused = directory
        .who_am_i(v1::WhoAmIRequest {})
        .await
        .expect_err("an expired certificate was served on its open connection");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
    assert!(refused.message().contains("expired"), "{refused:?}");
    hub.stop().await
}

both!(m6_tls_sessions_are_never_resumed);

/// M6. A client that kept the session of its first connection offers it on the second:
/// the hub makes a full handshake anyway, so the certificate is verified again (a resumed
/// session would skip its validity and revocation checks).
async fn m6_tls_sessions_are_never_resumed(backend: Backend) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let hub = TestHub::start(backend).await?;
    let pki = hub.pki().clone();
    let address = hub.endpoint().trim_start_matches("https://").to_owned();
    let (cert, key) = pki.principal("UA-CERT", "feed");
    let kinds = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<_>> {
        use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject};
        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_file_iter(&pki.ca_cert)? {
            roots.add(ca?)?;
        }
        let chain = CertificateDer::pem_file_iter(&cert)?.collect::<Result<Vec<_>, _>>()?;
        let mut config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, PrivateKeyDer::from_pem_file(&key)?)?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        // The default: remember sessions and offer them again.
        let config = std::sync::Arc::new(config);
        let mut kinds = Vec::new();
        for _ in 0..2 {
            let name = ServerName::try_from("localhost")?;
            let mut connection = rustls::ClientConnection::new(config.clone(), name)?;
            let mut socket = std::net::TcpStream::connect(&address)?;
            socket.set_read_timeout(Some(std::time::Duration::from_secs(2)))?;
            while connection.is_handshaking() {
                connection.complete_io(&mut socket)?;
            }
            // Read what the hub sends after the handshake (session tickets, if any, and
            // its HTTP/2 settings), so that a ticket would be stored.
            connection
                .writer()
                .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")?;
            connection.complete_io(&mut socket)?;
            let mut buffer = [0u8; 1024];
            let _ = connection.complete_io(&mut socket);
            let _ = connection.reader().read(&mut buffer);
            kinds.push(connection.handshake_kind());
        }
        Ok(kinds)
    })
    .await??;
    assert_eq!(
        kinds,
        [
            Some(rustls::HandshakeKind::Full),
            Some(rustls::HandshakeKind::Full)
        ],
        "a TLS session was resumed"
    );
    hub.stop().await
}

both!(h4_open_streams_are_capped_per_principal_and_per_agency);

/// H4. Every open stream writes audit records for as long as it lives, so a member may
/// not hold them without bound: over its principal's or its agency's cap a stream is
/// refused, other agencies still subscribe, and a closed stream gives its permit back.
async fn h4_open_streams_are_capped_per_principal_and_per_agency(
    backend: Backend,
) -> anyhow::Result<()> {
    let limits = liaison_testkit::Limits {
        max_streams_per_principal: 2,
        max_streams_per_agency: 3,
        ..liaison_testkit::Limits::default()
    };
    let hub = TestHub::builder(backend).limits(limits).start().await?;
    async fn open(
        client: &liaison_client::Client,
    ) -> Result<tonic::Streaming<v1::SubscribeResponse>, tonic::Status> {
        client
            .indicators()
            .subscribe(crate::support::purposeful(crate::support::subscribe_after(
                0,
            )))
            .await
            .map(tonic::Response::into_inner)
    }
    let feed = hub.client("UA-CERT", "feed").await?;
    let first = open(&feed).await?;
    let _second = open(&feed).await?;
    let refused = open(&feed)
        .await
        .expect_err("a third stream of one principal");
    assert_eq!(
        refused.code(),
        tonic::Code::ResourceExhausted,
        "{refused:?}"
    );
    assert!(refused.message().contains("principal"), "{refused:?}");
    let officer = hub.client("UA-CERT", "officer").await?;
    let _third = open(&officer).await?;
    let refused = open(&officer)
        .await
        .expect_err("a fourth stream of one agency");
    assert_eq!(
        refused.code(),
        tonic::Code::ResourceExhausted,
        "{refused:?}"
    );
    assert!(refused.message().contains("agency"), "{refused:?}");
    // Another agency is not held back.
    let serbia = hub.client("RS-MUP", "feed").await?;
    let _other = open(&serbia).await?;
    // A closed stream gives its permit back (once the hub has seen it go).
    drop(first);
    let reopened = eventually("the closed stream's permit did not come back", || async {
        Ok(open(&feed).await?)
    })
    .await?;
    drop(reopened);
    hub.stop().await
}

/// A fraud method of `title` holding one domain, for `scope`.
fn method_with_domain(title: &str, domain: &str, scope: v1::Scope) -> v1::Indicator {
    v1::Indicator {
        observables: vec![v1::Observable {
            r#type: v1::ObservableType::Domain as i32,
            value: domain.to_owned(),
        }],
        scope: Some(scope),
        ..fraud_method(title)
    }
}

/// Publishes `items` in one PublishMany stream; every one must be accepted.
async fn publish_many(
    client: &liaison_client::Client,
    items: Vec<v1::Indicator>,
) -> anyhow::Result<()> {
    let count = items.len();
    let requests: Vec<v1::PublishManyRequest> = items
        .into_iter()
        .map(|indicator| v1::PublishManyRequest {
            request_id: format!("many-{}", crate::support::unique()),
            indicator: Some(indicator),
        })
        .collect();
    let answers = client
        .indicators()
        .publish_many(tokio_stream::iter(requests))
        .await?
        .into_inner();
    let response = liaison_client::collect_publish_results(answers, |_, _| {}).await?;
    anyhow::ensure!(response.accepted_count as usize == count, "{response:?}");
    Ok(())
}

both!(m1_list_pages_and_tokens_come_only_from_visible_items);

/// M1. UA-CERT's feed holds 5,100 items scoped to itself that mention a codename, newer
/// than RS-MUP's three items that mention it to all members. HU-NNI lists the codename a
/// page of one at a time: every page holds only RS-MUP's items, every page token names one
/// of them, and there are exactly three pages — as many as if UA-CERT held nothing (the
/// old scan stopped after 5,000 invisible rows and answered an empty page whose token was
/// the last invisible row).
async fn m1_list_pages_and_tokens_come_only_from_visible_items(
    backend: Backend,
) -> anyhow::Result<()> {
    const HIDDEN: usize = 5_100;
    let hub = TestHub::start(backend).await?;
    let serbia = hub.client("RS-MUP", "officer").await?;
    let mut visible = std::collections::BTreeSet::new();
    for n in 0..3 {
        let stored = serbia
            .indicators()
            .publish(publish(method_with_domain(
                &format!("Операција Соко {n}: лажни позиви"),
                &format!("soko-{n}.example"),
                all_members(),
            )))
            .await?
            .into_inner()
            .indicator
            .unwrap_or_default();
        visible.insert(stored.id);
    }
    let ukraine = hub.client("UA-CERT", "feed").await?;
    let hidden: Vec<v1::Indicator> = (0..HIDDEN)
        .map(|n| {
            method_with_domain(
                &format!("Операція СОКО {n}: лише для UA-CERT"),
                &format!("soko-ua-{n}.example"),
                crate::support::named(&["UA-CERT"]),
            )
        })
        .collect();
    publish_many(&ukraine, hidden).await?;

    let mut hungary = hub.client("HU-NNI", "officer").await?.indicators();
    let mut pages = 0;
    let mut shown = std::collections::BTreeSet::new();
    let mut token = String::new();
    loop {
        let page = hungary
            .list_indicators(crate::support::purposeful(v1::ListIndicatorsRequest {
                text: "соко".into(),
                page_size: 1,
                page_token: token.clone(),
                ..v1::ListIndicatorsRequest::default()
            }))
            .await?
            .into_inner();
        pages += 1;
        for indicator in &page.indicators {
            assert!(visible.contains(&indicator.id), "listed {}", indicator.id);
            shown.insert(indicator.id.clone());
        }
        if page.next_page_token.is_empty() {
            break;
        }
        let (_, id) = page
            .next_page_token
            .split_once('.')
            .ok_or_else(|| anyhow::anyhow!("token {:?}", page.next_page_token))?;
        assert!(
            visible.contains(id),
            "a page token names {id}, an item HU-NNI may not see"
        );
        token = page.next_page_token;
        anyhow::ensure!(pages <= 10, "more pages than visible items");
    }
    assert_eq!(shown, visible);
    assert_eq!(pages, 3, "the number of pages depends on invisible items");
    hub.stop().await
}

both!(m2_another_agencys_flood_of_hidden_holders_hides_nobody);

/// M2. RS-MUP shares a domain with all members. HU-NNI then publishes 1,001 items holding
/// it, scoped to itself, and reports 202 sightings of it; TR-EGM reports one sighting with
/// a count near `u32::MAX`. UA-CERT still finds RS-MUP's item (Lookup, ReportSighting),
/// sees TR-EGM's sighting, gets a saturated count instead of a wrapped one or a panic, and
/// is told of the correlation when it publishes the domain itself. HU-NNI's sightings
/// take at most `SIGHTINGS_PER_AGENCY` rows.
async fn m2_another_agencys_flood_of_hidden_holders_hides_nobody(
    backend: Backend,
) -> anyhow::Result<()> {
    const DOMAIN: &str = "lazna-banka.example";
    let hub = TestHub::start(backend).await?;
    let serbia = hub.client("RS-MUP", "officer").await?;
    let shared = serbia
        .indicators()
        .publish(publish(method_with_domain(
            "Лажна банка: позиви у име службе безбедности",
            DOMAIN,
            all_members(),
        )))
        .await?
        .into_inner()
        .indicator
        .unwrap_or_default();
    let hungary_feed = hub.client("HU-NNI", "feed").await?;
    let flood: Vec<v1::Indicator> = (0..1_001)
        .map(|n| {
            method_with_domain(
                &format!("Hamis bank {n}"),
                DOMAIN,
                crate::support::named(&["HU-NNI"]),
            )
        })
        .collect();
    publish_many(&hungary_feed, flood).await?;
    let sighting = |count: u32, request_id: String| v1::ReportSightingRequest {
        request_id,
        sighting: Some(v1::Sighting {
            observable: Some(v1::Observable {
                r#type: v1::ObservableType::Domain as i32,
                value: DOMAIN.into(),
            }),
            count,
            ..v1::Sighting::default()
        }),
    };
    let hungary_officer = hub.client("HU-NNI", "officer").await?;
    for n in 0..101 {
        for client in [&hungary_feed, &hungary_officer] {
            client
                .indicators()
                .report_sighting(sighting(
                    1,
                    format!("hu-sighting-{n}-{}", crate::support::unique()),
                ))
                .await?;
        }
    }
    let turkey = hub.client("TR-EGM", "officer").await?;
    turkey
        .indicators()
        .report_sighting(sighting(u32::MAX - 1, "tr-sighting".into()))
        .await?;

    let ukraine = hub.client("UA-CERT", "officer").await?;
    let found = ukraine
        .indicators()
        .lookup(v1::LookupRequest {
            observable: Some(v1::Observable {
                r#type: v1::ObservableType::Domain as i32,
                value: DOMAIN.into(),
            }),
        })
        .await?
        .into_inner();
    assert_eq!(found.fraud_method_ids, vec![shared.id.clone()]);
    assert_eq!(found.reporting_agency_count, 1);
    assert!(
        found.sightings.iter().any(|s| s.agency_id == "TR-EGM"),
        "TR-EGM's sighting is hidden: {:?}",
        found.sightings
    );
    let from_hungary = found
        .sightings
        .iter()
        .filter(|s| s.agency_id == "HU-NNI")
        .count();
    // `liaison_store::SIGHTINGS_PER_AGENCY`, written out so that the test also builds on
    // the code the review read.
    assert!(
        from_hungary <= 16,
        "{from_hungary} rows of HU-NNI's sightings"
    );
    assert_eq!(found.sighting_count, u32::MAX, "the count wrapped");
    ukraine
        .indicators()
        .report_sighting(sighting(2, "ua-sighting".into()))
        .await?;

    // UA-CERT publishes the domain too: it is told of RS-MUP's item.
    let mut stream = ukraine
        .indicators()
        .subscribe(crate::support::purposeful(crate::support::subscribe_after(
            0,
        )))
        .await?
        .into_inner();
    let mine = ukraine
        .indicators()
        .publish(publish(method_with_domain(
            "Фальшивий банк: дзвінки «служби безпеки»",
            DOMAIN,
            all_members(),
        )))
        .await?
        .into_inner()
        .indicator
        .unwrap_or_default();
    loop {
        let event = crate::support::next_event(&mut stream).await?;
        if let Some(v1::indicator_event::Event::Correlation(matched)) = event.event {
            assert_eq!(matched.own_indicator_id, mine.id);
            assert_eq!(matched.other_indicator_id, shared.id);
            break;
        }
    }
    hub.stop().await
}

both!(m4_subscribe_without_a_purpose_never_delivers_personal_data);

/// M4. TR-EGM subscribes to domains without stating a purpose. UA-CERT publishes a fraud
/// method holding a phone number and a domain, and its phone number matches one TR-EGM
/// published: TR-EGM receives the method with its domain only, and no correlation on the
/// phone number.
async fn m4_subscribe_without_a_purpose_never_delivers_personal_data(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let turkey = hub.client("TR-EGM", "officer").await?;
    turkey
        .indicators()
        .publish(publish(v1::Indicator {
            fraud_method: None,
            observables: vec![v1::Observable {
                r#type: v1::ObservableType::Phone as i32,
                value: "+380 44 123 45 67".into(),
            }],
            ..fraud_method("")
        }))
        .await?;
    let mut stream = turkey
        .indicators()
        .subscribe(v1::SubscribeRequest {
            observable_types: vec![v1::ObservableType::Domain as i32],
            ..crate::support::subscribe_after(0)
        })
        .await?
        .into_inner();
    let ukraine = hub.client("UA-CERT", "officer").await?;
    let method = ukraine
        .indicators()
        .publish(publish(fraud_method("Дзвінки від «служби безпеки банку»")))
        .await?
        .into_inner()
        .indicator
        .unwrap_or_default();
    let sentinel = ukraine
        .indicators()
        .publish(publish(method_with_domain(
            "Вартовий",
            "vartovyi.example",
            all_members(),
        )))
        .await?
        .into_inner()
        .indicator
        .unwrap_or_default();
    let mut delivered = false;
    loop {
        let event = crate::support::next_event(&mut stream).await?;
        match event.event {
            Some(v1::indicator_event::Event::Published(indicator)) => {
                for observable in &indicator.observables {
                    assert_ne!(
                        observable.r#type,
                        v1::ObservableType::Phone as i32,
                        "a phone number was delivered without a purpose: {indicator:?}"
                    );
                }
                if indicator.id == method.id {
                    assert_eq!(indicator.observables.len(), 1, "{indicator:?}");
                    delivered = true;
                }
                if indicator.id == sentinel.id {
                    break;
                }
            }
            Some(v1::indicator_event::Event::Correlation(matched)) => {
                panic!("a correlation on a phone number was delivered: {matched:?}")
            }
            _ => {}
        }
    }
    assert!(delivered, "the method holding a domain was not delivered");
    hub.stop().await
}

both!(h4_repeated_filter_values_are_capped_and_deduplicated);

/// H4 (4). A filter that repeats a value a thousand times is refused, naming the field;
/// one that repeats it twice is answered as if it named it once.
async fn h4_repeated_filter_values_are_capped_and_deduplicated(
    backend: Backend,
) -> anyhow::Result<()> {
    use tonic_types::StatusExt;
    let hub = TestHub::start(backend).await?;
    let serbia = hub.client("RS-MUP", "officer").await?;
    let stored = serbia
        .indicators()
        .publish(publish(fraud_method(
            "Viltus banka: zvani no «drošības dienesta»",
        )))
        .await?
        .into_inner()
        .indicator
        .unwrap_or_default();
    let mut hungary = hub.client("HU-NNI", "officer").await?.indicators();
    let refused = hungary
        .list_indicators(crate::support::purposeful(v1::ListIndicatorsRequest {
            categories: vec![v1::FraudCategory::Phishing as i32; 1_000],
            ..v1::ListIndicatorsRequest::default()
        }))
        .await
        .expect_err("a thousand repeated categories were accepted");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
    let fields: Vec<String> = refused
        .get_details_bad_request()
        .map(|bad| bad.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default();
    assert!(fields.iter().any(|f| f == "categories"), "{fields:?}");
    let refused = hungary
        .subscribe(crate::support::purposeful(v1::SubscribeRequest {
            tlps: vec![v1::Tlp::Green as i32; 6],
            ..v1::SubscribeRequest::default()
        }))
        .await
        .expect_err("six TLPs were accepted");
    let fields: Vec<String> = refused
        .get_details_bad_request()
        .map(|bad| bad.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default();
    assert!(fields.iter().any(|f| f == "tlps"), "{fields:?}");
    let twice = hungary
        .list_indicators(crate::support::purposeful(v1::ListIndicatorsRequest {
            categories: vec![v1::FraudCategory::Phishing as i32; 2],
            tlps: vec![v1::Tlp::Green as i32; 2],
            ..v1::ListIndicatorsRequest::default()
        }))
        .await?
        .into_inner();
    let ids: Vec<&str> = twice.indicators.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, vec![stored.id.as_str()]);
    hub.stop().await
}

both!(l8_correlation_first_pass_counts_only_active_items_the_publisher_may_see);

/// L8. What makes a publication slower (the first pass of correlation finding a value
/// held by another agency) counts only active items the publisher's agency may see: not
/// UA-CERT's item scoped to itself, not its revoked one.
async fn l8_correlation_first_pass_counts_only_active_items_the_publisher_may_see(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let ukraine = hub.client("UA-CERT", "officer").await?;
    ukraine
        .indicators()
        .publish(publish(method_with_domain(
            "Лише для UA-CERT",
            "tajemne.example",
            crate::support::named(&["UA-CERT"]),
        )))
        .await?;
    let revoked = ukraine
        .indicators()
        .publish(publish(method_with_domain(
            "Відкликане",
            "vidklykane.example",
            all_members(),
        )))
        .await?
        .into_inner()
        .indicator
        .unwrap_or_default();
    ukraine
        .indicators()
        .revoke_indicator(v1::RevokeIndicatorRequest {
            request_id: "l8-revoke".into(),
            indicator_id: revoked.id,
            reason: "Помилка".into(),
        })
        .await?;
    ukraine
        .indicators()
        .publish(publish(method_with_domain(
            "Для всіх",
            "dlya-vsikh.example",
            all_members(),
        )))
        .await?;
    let domain = |value: &str| {
        liaison_core::Observable::parse(liaison_core::ObservableType::Domain, value)
            .map_err(|error| anyhow::anyhow!("{error:?}"))
    };
    let held = hub
        .store()
        .observables_held_by_others(
            &liaison_core::AgencyId::parse("RS-MUP")?,
            &[
                domain("tajemne.example")?,
                domain("vidklykane.example")?,
                domain("dlya-vsikh.example")?,
            ],
        )
        .await?;
    let values: Vec<&str> = held.iter().map(|(_, value)| value.as_str()).collect();
    assert_eq!(values, vec!["dlya-vsikh.example"]);
    hub.stop().await
}

both!(l11_whether_a_list_needs_a_purpose_does_not_depend_on_what_it_finds);

/// L11. Without a purpose, ListIndicators is refused before anything is read, on an empty
/// hub as on one with phone numbers, so the refusal tells nothing of the items; filtered
/// to domains it is answered, without the phone numbers the items hold.
async fn l11_whether_a_list_needs_a_purpose_does_not_depend_on_what_it_finds(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut vietnam = hub.client("VN-BCA", "officer").await?.indicators();
    let empty = vietnam
        .list_indicators(v1::ListIndicatorsRequest::default())
        .await
        .expect_err("a list without a purpose was answered");
    assert_eq!(empty.code(), tonic::Code::InvalidArgument, "{empty:?}");
    let ukraine = hub.client("UA-CERT", "officer").await?;
    let stored = ukraine
        .indicators()
        .publish(publish(fraud_method("Lừa đảo qua điện thoại ngân hàng")))
        .await?
        .into_inner()
        .indicator
        .unwrap_or_default();
    let full = vietnam
        .list_indicators(v1::ListIndicatorsRequest::default())
        .await
        .expect_err("a list without a purpose was answered");
    assert_eq!(
        (full.code(), full.message()),
        (empty.code(), empty.message())
    );
    let domains = vietnam
        .list_indicators(v1::ListIndicatorsRequest {
            observable_types: vec![v1::ObservableType::Domain as i32],
            ..v1::ListIndicatorsRequest::default()
        })
        .await?
        .into_inner();
    assert_eq!(domains.indicators.len(), 1);
    let listed = &domains.indicators[0];
    assert_eq!(listed.id, stored.id);
    assert!(
        listed
            .observables
            .iter()
            .all(|o| o.r#type == v1::ObservableType::Domain as i32),
        "{listed:?}"
    );
    hub.stop().await
}

both!(m3_another_agencys_anonymous_item_shows_no_exact_time_and_no_link);

/// M3. Items of one batch share their publication time, so an anonymous item published
/// beside named ones of its source could be told apart by the microsecond; a link names
/// both ends' common owner. Another agency sees an anonymous item's day only, and a link
/// between an anonymous item and a named one cannot be made.
async fn m3_another_agencys_anonymous_item_shows_no_exact_time_and_no_link(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let serbia = hub.client("RS-MUP", "feed").await?;
    let mut stream = serbia
        .indicators()
        .subscribe(crate::support::purposeful(crate::support::subscribe_after(
            0,
        )))
        .await?
        .into_inner();
    let ukraine = hub.client("UA-CERT", "officer").await?;
    let publish_one = |indicator: v1::Indicator| {
        let ukraine = ukraine.clone();
        async move {
            anyhow::Ok(
                ukraine
                    .indicators()
                    .publish(publish(indicator))
                    .await?
                    .into_inner()
                    .indicator
                    .unwrap_or_default(),
            )
        }
    };
    let named = publish_one(fraud_method("Фішинг від імені «Нової пошти»")).await?;
    let observable = v1::Indicator {
        fraud_method: None,
        anonymous: true,
        ..fraud_method("")
    };
    let anonymous = publish_one(observable).await?;
    // Another agency sees the day only, and no source.
    let seen = serbia
        .indicators()
        .get_indicator(crate::support::purposeful(v1::GetIndicatorRequest {
            indicator_id: anonymous.id.clone(),
        }))
        .await?
        .into_inner()
        .indicator
        .unwrap_or_default();
    assert_eq!(seen.source_agency_id, "");
    let time = seen.create_time.unwrap_or_default();
    assert_eq!((time.seconds % 86_400, time.nanos), (0, 0), "{time:?}");
    loop {
        let event = crate::support::next_event(&mut stream).await?;
        let Ok(indicator) = crate::support::published(&event) else {
            continue;
        };
        if indicator.id == anonymous.id {
            let time = event.event_time.unwrap_or_default();
            assert_eq!((time.seconds % 86_400, time.nanos), (0, 0), "{time:?}");
            break;
        }
    }
    // A link between the anonymous item and its source's named fraud method is refused.
    let refused = ukraine
        .indicators()
        .link_observables(v1::LinkObservablesRequest {
            request_id: "link-across-anonymity".into(),
            fraud_method_id: named.id.clone(),
            indicator_ids: vec![anonymous.id.clone()],
        })
        .await
        .expect_err("an anonymous item was linked to a named one");
    assert_eq!(
        refused.code(),
        tonic::Code::FailedPrecondition,
        "{refused:?}"
    );
    hub.stop().await
}

// ---- MLA and CBM findings (M4b, M5, M7, M10, M11, L4, L5, L7) ----

/// A full list of `agency`'s requests, with a purpose.
async fn mla_list_full(
    mla: &mut crate::mla::Mla,
    party_role: v1::MlaPartyRole,
) -> Result<Vec<v1::MlaRequest>, tonic::Status> {
    Ok(mla
        .list_requests(liaison_client::with_purpose(
            v1::ListRequestsRequest {
                party_role: party_role as i32,
                view: v1::MlaRequestView::Full as i32,
                ..Default::default()
            },
            crate::mla::PURPOSE,
        ))
        .await?
        .into_inner()
        .mla_requests)
}

/// The receipts of a request, as `mla` sees them.
async fn mla_receipt_kinds(mla: &mut crate::mla::Mla, id: &str) -> anyhow::Result<Vec<i32>> {
    let receipts = mla
        .list_receipts(v1::ListReceiptsRequest {
            mla_request_id: id.into(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .receipts;
    receipts
        .iter()
        .map(|receipt| {
            use prost::Message;
            Ok(v1::MlaReceiptStatement::decode(receipt.statement.as_slice())?.kind)
        })
        .collect()
}

both!(m5_a_list_never_delivers_a_submitted_request_without_its_receipt);

/// M5. RS-MUP, the requested agency, lists its requests in the full view before it ever
/// read the new one: it gets the basic view of that request (no facts, no data sought,
/// no history), the request stays SUBMITTED and no retrieval receipt is owed. The
/// content comes only through GetRequest, which delivers it and signs the receipt.
async fn m5_a_list_never_delivers_a_submitted_request_without_its_receipt(
    backend: Backend,
) -> anyhow::Result<()> {
    use crate::mla::{create, get, officer, preservation_content, submit};
    let hub = TestHub::start(backend).await?;
    let mut ua = officer(&hub, "UA-CERT").await?;
    let mut rs = officer(&hub, "RS-MUP").await?;
    let draft = create(&mut ua, preservation_content("RS-MUP")).await?;
    submit(&mut ua, &draft.id).await?;

    let listed = mla_list_full(&mut rs, v1::MlaPartyRole::Requested).await?;
    let seen = listed
        .iter()
        .find(|request| request.id == draft.id)
        .expect("the request is listed");
    assert_eq!(seen.state, v1::MlaState::Submitted as i32);
    let content = seen.content.as_ref().expect("the basic content");
    assert!(
        content.summary_of_facts.is_none() && content.data_sought.is_empty(),
        "the requested agency read the content of a request not delivered to it: {content:?}"
    );
    assert!(seen.history.is_empty(), "history of an undelivered request");
    assert_eq!(
        content.case_reference,
        draft.content.as_ref().unwrap().case_reference
    );
    let retrieval = v1::MlaReceiptKind::Retrieval as i32;
    assert!(
        !mla_receipt_kinds(&mut rs, &draft.id)
            .await?
            .contains(&retrieval)
    );

    // The requesting agency wrote it and lists it in full.
    let own = mla_list_full(&mut ua, v1::MlaPartyRole::Requesting).await?;
    let own = own.iter().find(|request| request.id == draft.id).unwrap();
    assert!(own.content.as_ref().unwrap().summary_of_facts.is_some());

    // GetRequest delivers it with its receipt; from then on the list shows it in full.
    let delivered = get(&mut rs, &draft.id).await?;
    assert_eq!(delivered.state, v1::MlaState::Delivered as i32);
    assert!(
        mla_receipt_kinds(&mut rs, &draft.id)
            .await?
            .contains(&retrieval)
    );
    let listed = mla_list_full(&mut rs, v1::MlaPartyRole::Requested).await?;
    let seen = listed
        .iter()
        .find(|request| request.id == draft.id)
        .unwrap();
    assert!(seen.content.as_ref().unwrap().summary_of_facts.is_some());
    hub.stop().await
}

both!(m11_agency_auditors_see_only_their_own_agency_checks);

/// M11. An agency's auditor is no overseer: HU-NNI's auditor neither lists nor reads a
/// communication check of RS-MUP, nor RS-MUP's results (with their challenge codes);
/// RS-MUP's auditor sees its own agency's row only; the hub's operator and oversight
/// auditor see every row.
async fn m11_agency_auditors_see_only_their_own_agency_checks(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut operator = hub.client("INT-HUB", "operator").await?.cbm();
    let started = operator
        .start_communication_check(v1::StartCommunicationCheckRequest {
            request_id: format!("m11-{}", crate::support::unique()),
            scope: Some(crate::support::named(&["RS-MUP", "ME-UP"])),
            response_window: Some(prost_types::Duration {
                seconds: 3_600,
                nanos: 0,
            }),
            message: Some(v1::LocalizedText {
                text: "Провера везе: потврдите да сте доступни.".into(),
                language: "sr-Cyrl".into(),
            }),
            ..Default::default()
        })
        .await?
        .into_inner()
        .communication_check
        .unwrap_or_default();
    let report = |id: &str| v1::GetCommunicationCheckReportRequest {
        check_id: id.to_owned(),
    };
    let results_of = |agency: &str| v1::ListCommunicationCheckResultsRequest {
        agency_id: agency.to_owned(),
        ..Default::default()
    };

    let mut third = hub.client("HU-NNI", "auditor").await?.cbm();
    let listed = third
        .list_communication_checks(v1::ListCommunicationChecksRequest::default())
        .await?
        .into_inner()
        .communication_checks;
    assert!(
        listed.is_empty(),
        "HU-NNI's auditor listed other agencies' checks: {listed:?}"
    );
    let hidden = third
        .get_communication_check_report(report(&started.id))
        .await
        .expect_err("HU-NNI's auditor read RS-MUP's check");
    assert_eq!(hidden.code(), tonic::Code::NotFound, "{hidden:?}");
    let denied = third
        .list_communication_check_results(results_of("RS-MUP"))
        .await
        .expect_err("HU-NNI's auditor read RS-MUP's results");
    assert_eq!(denied.code(), tonic::Code::PermissionDenied, "{denied:?}");

    let mut own = hub.client("RS-MUP", "auditor").await?.cbm();
    let seen = own
        .get_communication_check_report(report(&started.id))
        .await?
        .into_inner();
    let agencies: Vec<_> = seen.results.iter().map(|r| r.agency_id.as_str()).collect();
    assert_eq!(agencies, ["RS-MUP"]);
    assert_eq!(
        own.list_communication_check_results(results_of(""))
            .await?
            .into_inner()
            .results
            .len(),
        1
    );
    let denied = own
        .list_communication_check_results(results_of("ME-UP"))
        .await
        .expect_err("RS-MUP's auditor read ME-UP's results");
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);

    for (agency, name) in [("INT-HUB", "auditor"), ("INT-HUB", "operator")] {
        let mut hub_side = hub.client(agency, name).await?.cbm();
        let all = hub_side
            .get_communication_check_report(report(&started.id))
            .await?
            .into_inner();
        assert_eq!(all.results.len(), 2, "{name}");
        assert_eq!(
            hub_side
                .list_communication_check_results(results_of("ME-UP"))
                .await?
                .into_inner()
                .results
                .len(),
            1,
            "{name}"
        );
    }
    hub.stop().await
}

both!(m11_contact_and_check_lists_commit_their_record_naming_what_they_return);

/// M11. ListPointsOfContact, ListCommunicationChecks and ListCommunicationCheckResults
/// commit their read record, naming every object returned, before they answer: the
/// record is there, with the ids, the moment the answer arrives.
async fn m11_contact_and_check_lists_commit_their_record_naming_what_they_return(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let poc = hub
        .client("RS-MUP", "officer")
        .await?
        .directory()
        .set_point_of_contact(v1::SetPointOfContactRequest {
            request_id: format!("m11-poc-{}", crate::support::unique()),
            point_of_contact: Some(v1::PointOfContact {
                level: v1::point_of_contact::Level::Technical as i32,
                function: "Дежурни официр 24/7, Одељење за ВТК".into(),
                channels: vec![v1::ContactChannel {
                    kind: v1::contact_channel::Kind::Phone as i32,
                    address: "+381 11 306 2000".into(),
                }],
                languages: vec!["sr-Cyrl".into(), "en".into()],
                around_the_clock: true,
                ..Default::default()
            }),
        })
        .await?
        .into_inner()
        .point_of_contact
        .unwrap_or_default();
    let check = hub
        .client("INT-HUB", "operator")
        .await?
        .cbm()
        .start_communication_check(v1::StartCommunicationCheckRequest {
            request_id: format!("m11-chk-{}", crate::support::unique()),
            scope: Some(crate::support::named(&["RS-MUP"])),
            response_window: Some(prost_types::Duration {
                seconds: 3_600,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await?
        .into_inner()
        .communication_check
        .unwrap_or_default();

    let reader = hub.client("RS-MUP", "auditor").await?;
    let contacts = reader
        .directory()
        .list_points_of_contact(v1::ListPointsOfContactRequest::default())
        .await?
        .into_inner()
        .points_of_contact;
    assert_eq!(contacts.len(), 1);
    let checks = reader
        .cbm()
        .list_communication_checks(v1::ListCommunicationChecksRequest::default())
        .await?
        .into_inner()
        .communication_checks;
    assert_eq!(checks.len(), 1);
    let results = reader
        .cbm()
        .list_communication_check_results(v1::ListCommunicationCheckResultsRequest::default())
        .await?
        .into_inner()
        .results;
    assert_eq!(results.len(), 1);

    // No waiting: a record written at the end of the call, after the answer, would name
    // no object anyway.
    for (method, object) in [
        ("DirectoryService/ListPointsOfContact", &poc.id),
        ("CbmService/ListCommunicationChecks", &check.id),
        ("CbmService/ListCommunicationCheckResults", &check.id),
    ] {
        let records = audit_records_as(
            &hub,
            ("INT-HUB", "auditor"),
            v1::QueryRecordsRequest {
                object_id: object.clone(),
                ..Default::default()
            },
        )
        .await?;
        let reads = by_method(&records, method);
        assert_eq!(
            reads.len(),
            1,
            "{method} returned {object} with no record naming it"
        );
        assert_eq!(actor_agency(reads[0]), "RS-MUP");
    }
    hub.stop().await
}

/// Makes every audit insert fail — into the outbox and into the log — until
/// [`lift_audit_fault`].
async fn inject_audit_fault(hub: &TestHub) -> anyhow::Result<()> {
    let fault = match hub.store().backend_kind() {
        liaison_store::BackendKind::Sqlite => {
            "CREATE TRIGGER inject_audit_fault BEFORE INSERT ON outbox WHEN NEW.topic = 'audit'
             BEGIN SELECT RAISE(ABORT, 'injected audit fault'); END;
             CREATE TRIGGER inject_log_fault BEFORE INSERT ON audit_log
             BEGIN SELECT RAISE(ABORT, 'injected audit fault'); END;"
        }
        liaison_store::BackendKind::Postgres => {
            "CREATE FUNCTION inject_audit_fault() RETURNS trigger AS $$
             BEGIN IF NEW.topic = 'audit' THEN RAISE EXCEPTION 'injected audit fault'; END IF; RETURN NEW; END
             $$ LANGUAGE plpgsql;
             CREATE TRIGGER inject_audit_fault BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION inject_audit_fault();
             CREATE FUNCTION inject_log_fault() RETURNS trigger AS $$
             BEGIN RAISE EXCEPTION 'injected audit fault'; END
             $$ LANGUAGE plpgsql;
             CREATE TRIGGER inject_log_fault BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION inject_log_fault();"
        }
    };
    hub.store().execute_for_tests(fault).await?;
    Ok(())
}

async fn lift_audit_fault(hub: &TestHub) -> anyhow::Result<()> {
    let lift = match hub.store().backend_kind() {
        liaison_store::BackendKind::Sqlite => {
            "DROP TRIGGER inject_audit_fault; DROP TRIGGER inject_log_fault;"
        }
        liaison_store::BackendKind::Postgres => {
            "DROP TRIGGER inject_audit_fault ON outbox; DROP TRIGGER inject_log_fault ON audit_log;"
        }
    };
    hub.store().execute_for_tests(lift).await?;
    Ok(())
}

/// A request UA-CERT submitted to RS-MUP and RS-MUP received, with three messages from
/// UA-CERT.
async fn mla_with_three_messages(
    hub: &TestHub,
) -> anyhow::Result<(crate::mla::Mla, crate::mla::Mla, String, Vec<String>)> {
    use crate::mla::{create, get, officer, post, preservation_content, submit};
    let mut ua = officer(hub, "UA-CERT").await?;
    let mut rs = officer(hub, "RS-MUP").await?;
    let draft = create(&mut ua, preservation_content("RS-MUP")).await?;
    submit(&mut ua, &draft.id).await?;
    get(&mut rs, &draft.id).await?;
    let mut ids = Vec::new();
    for body in [
        "Просимо підтвердити отримання запиту.",
        "Додаємо уточнення щодо IP-адреси: 203.0.113.7.",
        "Чи потрібен переклад сербською?",
    ] {
        ids.push(post(&mut ua, &draft.id, body, "uk").await?.id);
    }
    Ok((ua, rs, draft.id, ids))
}

both!(m10_a_page_of_one_message_marks_one_message_read_with_its_record);

/// M10. RS-MUP lists one message of three: only that one is marked read (a read mark is
/// a legally meaningful receipt), and the read's record names it and no other.
async fn m10_a_page_of_one_message_marks_one_message_read_with_its_record(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let (mut ua, mut rs, id, messages) = mla_with_three_messages(&hub).await?;
    let page = rs
        .list_messages(liaison_client::with_purpose(
            v1::ListMessagesRequest {
                mla_request_id: id.clone(),
                page_size: 1,
                ..Default::default()
            },
            crate::mla::PURPOSE,
        ))
        .await?
        .into_inner();
    assert_eq!(page.messages.len(), 1);
    assert_eq!(page.messages[0].id, messages[0]);
    assert!(page.messages[0].read_time.is_some(), "returned as read");

    let seen_by_sender = crate::mla::messages(&mut ua, &id).await?;
    let read: Vec<bool> = seen_by_sender
        .iter()
        .map(|message| message.read_time.is_some())
        .collect();
    assert_eq!(
        read,
        [true, false, false],
        "messages RS-MUP never received were marked read"
    );

    for (message, expected) in [(&messages[0], 1), (&messages[1], 0)] {
        let records = audit_records_as(
            &hub,
            ("INT-HUB", "auditor"),
            v1::QueryRecordsRequest {
                object_id: message.clone(),
                ..Default::default()
            },
        )
        .await?;
        let reads: Vec<_> = by_method(&records, "MlaService/ListMessages")
            .into_iter()
            .filter(|record| actor_agency(record) == "RS-MUP")
            .collect();
        assert_eq!(
            reads.len(),
            expected,
            "records of RS-MUP's read of {message}"
        );
    }
    hub.stop().await
}

both!(m10_no_read_mark_or_delivery_stamp_without_its_audit_record);

/// M10. While audit records cannot be written, ListMessages, GetNotification and
/// WatchInbox fail — and leave no read mark and no deliver time behind: those commit
/// with their record or not at all.
async fn m10_no_read_mark_or_delivery_stamp_without_its_audit_record(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let (mut ua, mut rs, id, _) = mla_with_three_messages(&hub).await?;
    let mut sender = hub.client("RS-MUP", "officer").await?.cbm();
    let sent = sender
        .notify(v1::NotifyRequest {
            request_id: format!("m10-{}", crate::support::unique()),
            notification: Some(v1::CbmNotification {
                kind: v1::CbmNotificationKind::Incident as i32,
                severity: v1::CbmSeverity::High as i32,
                title: Some(v1::LocalizedText {
                    text: "Uzbrukums banku sistēmām".into(),
                    language: "lv".into(),
                }),
                body: Some(v1::LocalizedText {
                    text: "Konstatēts pikšķerēšanas uzbrukums bankas klientiem.".into(),
                    language: "lv".into(),
                }),
                tlp: v1::Tlp::Green as i32,
                scope: Some(crate::support::named(&["HU-NNI", "UA-CERT"])),
                ..Default::default()
            }),
        })
        .await?
        .into_inner()
        .notification
        .unwrap_or_default();
    // Tokens first: issuing one is recorded too.
    let mut reader = hub.client("HU-NNI", "officer").await?.cbm();
    let mut watcher = hub.client("UA-CERT", "officer").await?.cbm();
    reader
        .list_notifications(v1::ListNotificationsRequest::default())
        .await?;
    watcher
        .list_notifications(v1::ListNotificationsRequest::default())
        .await?;
    crate::mla::messages(&mut ua, &id).await?;

    inject_audit_fault(&hub).await?;
    let failed = rs
        .list_messages(liaison_client::with_purpose(
            v1::ListMessagesRequest {
                mla_request_id: id.clone(),
                ..Default::default()
            },
            crate::mla::PURPOSE,
        ))
        .await
        .expect_err("messages were released without a record");
    assert_eq!(failed.code(), tonic::Code::Internal, "{failed:?}");
    let failed = reader
        .get_notification(v1::GetNotificationRequest {
            notification_id: sent.id.clone(),
        })
        .await
        .expect_err("a notification was released without a record");
    assert_eq!(failed.code(), tonic::Code::Internal, "{failed:?}");
    let mut stream = watcher
        .watch_inbox(v1::WatchInboxRequest::default())
        .await?
        .into_inner();
    let ended = tokio::time::timeout(PATIENCE, stream.message())
        .await
        .map_err(|_| anyhow::anyhow!("the watch neither delivered nor failed"))?;
    assert!(
        ended.is_err(),
        "a page was delivered without a record: {ended:?}"
    );
    lift_audit_fault(&hub).await?;

    let unread = crate::mla::messages(&mut ua, &id).await?;
    assert!(
        unread.iter().all(|message| message.read_time.is_none()),
        "read marks without a record: {unread:?}"
    );
    let table = sender
        .get_notification(v1::GetNotificationRequest {
            notification_id: sent.id.clone(),
        })
        .await?
        .into_inner()
        .notification
        .unwrap_or_default();
    for row in &table.acknowledgements {
        assert!(
            row.deliver_time.is_none(),
            "delivered to {} without a record",
            row.agency_id
        );
    }
    hub.stop().await
}

both!(m10_an_escalation_commits_its_audit_record);

/// M10. The escalator's writes are the hub's own steps: each escalation commits, in its
/// transaction, a record naming the late agency's acknowledgement.
async fn m10_an_escalation_commits_its_audit_record(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut sender = hub.client("RS-MUP", "officer").await?.cbm();
    let sent = sender
        .notify(v1::NotifyRequest {
            request_id: format!("m10-{}", crate::support::unique()),
            notification: Some(v1::CbmNotification {
                kind: v1::CbmNotificationKind::Incident as i32,
                severity: v1::CbmSeverity::High as i32,
                title: Some(v1::LocalizedText {
                    text: "Tấn công lừa đảo qua tin nhắn".into(),
                    language: "vi".into(),
                }),
                body: Some(v1::LocalizedText {
                    text: "Kẻ gian giả danh ngân hàng để lấy mã OTP.".into(),
                    language: "vi".into(),
                }),
                tlp: v1::Tlp::Green as i32,
                scope: Some(crate::support::named(&["UA-CERT"])),
                ack_within: Some(prost_types::Duration {
                    seconds: 3_600,
                    nanos: 0,
                }),
                ..Default::default()
            }),
        })
        .await?
        .into_inner()
        .notification
        .unwrap_or_default();
    hub.clock()
        .advance(std::time::Duration::from_secs(2 * 3_600));
    let object = format!("{}:UA-CERT", sent.id);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let records = audit_records_as(
            &hub,
            ("INT-HUB", "auditor"),
            v1::QueryRecordsRequest {
                object_id: object.clone(),
                ..Default::default()
            },
        )
        .await?;
        if !by_method(&records, "cbm/Escalate").is_empty() {
            break;
        }
        let table = sender
            .get_notification(v1::GetNotificationRequest {
                notification_id: sent.id.clone(),
            })
            .await?
            .into_inner()
            .notification
            .unwrap_or_default();
        let escalated = table
            .acknowledgements
            .iter()
            .any(|row| row.escalate_time.is_some());
        assert!(
            !escalated || tokio::time::Instant::now() < deadline,
            "escalated with no audit record"
        );
        assert!(tokio::time::Instant::now() < deadline, "never escalated");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    hub.stop().await
}

/// Events of a watch until it has `count` of them.
async fn mla_events(
    stream: &mut tonic::Streaming<v1::WatchRequestsResponse>,
    count: usize,
) -> anyhow::Result<Vec<v1::MlaEvent>> {
    let mut events = Vec::new();
    while events.len() < count {
        let message = tokio::time::timeout(PATIENCE, stream.message())
            .await
            .map_err(|_| anyhow::anyhow!("no event within {PATIENCE:?}"))??
            .ok_or_else(|| anyhow::anyhow!("the watch ended"))?;
        events.extend(message.event);
    }
    Ok(events)
}

both!(m4_a_watch_without_a_purpose_gets_no_message_bodies_or_comments);

/// M4. ListMessages and GetRequest(FULL) need a purpose; WatchRequests delivered the
/// same message bodies and step comments without one. Now a watch with no purpose gets
/// the ids, kinds, senders and states, and one with a purpose gets the text.
async fn m4_a_watch_without_a_purpose_gets_no_message_bodies_or_comments(
    backend: Backend,
) -> anyhow::Result<()> {
    use crate::mla::{create, get, officer, post, preservation_content, submit};
    let hub = TestHub::start(backend).await?;
    let mut ua = officer(&hub, "UA-CERT").await?;
    let mut rs = officer(&hub, "RS-MUP").await?;
    let draft = create(&mut ua, preservation_content("RS-MUP")).await?;
    submit(&mut ua, &draft.id).await?;
    get(&mut rs, &draft.id).await?;
    let watch = |purpose: Option<&str>| {
        let request = v1::WatchRequestsRequest {
            after: None,
            mla_request_ids: vec![draft.id.clone()],
            kinds: vec![
                v1::MlaEventKind::MessagePosted as i32,
                v1::MlaEventKind::StateChanged as i32,
            ],
        };
        match purpose {
            Some(purpose) => liaison_client::with_purpose(request, purpose),
            None => tonic::Request::new(request),
        }
    };
    let mut blind = ua.watch_requests(watch(None)).await?.into_inner();
    let mut justified = ua
        .watch_requests(watch(Some(crate::mla::PURPOSE)))
        .await?
        .into_inner();

    let body = "Primili smo zahtev; IP adresa 203.0.113.7 pripada korisniku iz Novog Sada.";
    let note = "Naš broj predmeta: KT-1234/2026, tužilac Jovanović";
    rs.acknowledge_request(v1::AcknowledgeRequestRequest {
        request_id: crate::mla::rid(),
        mla_request_id: draft.id.clone(),
        etag: String::new(),
        comment: crate::mla::text(note, "sr-Latn"),
    })
    .await?;
    let posted = post(&mut rs, &draft.id, body, "sr-Latn").await?;

    let text_of = |events: &[v1::MlaEvent]| {
        let mut texts = Vec::new();
        for event in events {
            if let Some(entry) = &event.transition {
                texts.extend(entry.comment.as_ref().map(|c| c.text.clone()));
            }
            if let Some(message) = &event.message {
                texts.extend(message.body.as_ref().map(|b| b.text.clone()));
            }
        }
        texts
    };
    // Both streams replay the delivery and then see the acknowledgement and the message.
    let seen = mla_events(&mut blind, 3).await?;
    assert!(
        text_of(&seen).is_empty(),
        "a watch without a purpose delivered content: {:?}",
        text_of(&seen)
    );
    let message = seen
        .iter()
        .find_map(|event| event.message.as_ref())
        .expect("the message event");
    assert_eq!(message.id, posted.id);
    assert_eq!(
        message.sender.as_ref().map(|s| s.agency_id.as_str()),
        Some("RS-MUP")
    );
    let acknowledged = seen
        .iter()
        .filter_map(|event| event.transition.as_ref())
        .any(|entry| entry.action == v1::MlaAction::Acknowledge as i32);
    assert!(acknowledged, "{seen:?}");

    let seen = mla_events(&mut justified, 3).await?;
    assert_eq!(text_of(&seen), [note, body]);
    hub.stop().await
}

/// A request UA-CERT submitted to RS-MUP, delivered.
async fn mla_delivered(
    hub: &TestHub,
) -> anyhow::Result<(crate::mla::Mla, crate::mla::Mla, String)> {
    use crate::mla::{create, get, officer, preservation_content, submit};
    let mut ua = officer(hub, "UA-CERT").await?;
    let mut rs = officer(hub, "RS-MUP").await?;
    let draft = create(&mut ua, preservation_content("RS-MUP")).await?;
    submit(&mut ua, &draft.id).await?;
    get(&mut rs, &draft.id).await?;
    Ok((ua, rs, draft.id))
}

/// `size` bytes of a provider's log, distinct per `seed`.
fn evidence_bytes(size: usize, seed: u8) -> (Vec<u8>, String) {
    use sha2::Digest;
    let line =
        format!("2026-10-0{seed}T08:53:20Z;203.0.113.{seed}:51234;đăng nhập;người_dùng_17\n");
    let bytes: Vec<u8> = line.bytes().cycle().take(size).collect();
    let sha256 = hex::encode(sha2::Sha256::digest(&bytes));
    (bytes, sha256)
}

/// The files stored under the evidence directory (the temporary ones left out).
fn stored_evidence_files(hub: &TestHub) -> anyhow::Result<usize> {
    let root = hub.data_dir().join("evidence");
    let mut count = 0;
    if !root.exists() {
        return Ok(0);
    }
    for entry in std::fs::read_dir(&root)? {
        let entry = entry?;
        if entry.file_name() == "tmp" || !entry.file_type()?.is_dir() {
            continue;
        }
        count += std::fs::read_dir(entry.path())?.count();
    }
    Ok(count)
}

both!(m7_evidence_past_the_quotas_or_the_free_space_reserve_stores_nothing);

/// M7. An agency filled the disk with evidence. Now a request holds at most
/// `max_evidence_bytes_per_request`, an agency at most `max_evidence_bytes_per_agency`,
/// and no upload may leave the filesystem less than `min_evidence_free_bytes`: past any
/// of them the upload is RESOURCE_EXHAUSTED, naming the quota, and stores nothing.
async fn m7_evidence_past_the_quotas_or_the_free_space_reserve_stores_nothing(
    backend: Backend,
) -> anyhow::Result<()> {
    use crate::mla::upload_messages;
    let limits = liaison_testkit::Limits {
        max_evidence_bytes_per_request: 1_000_000,
        max_evidence_bytes_per_agency: 1_500_000,
        ..TestHub::default_limits()
    };
    let hub = TestHub::builder(backend).limits(limits).start().await?;
    let (mut ua, mut rs, id) = mla_delivered(&hub).await?;
    let (first, first_sha) = evidence_bytes(600_000, 1);
    rs.upload_evidence(tokio_stream::iter(upload_messages(&id, &first, &first_sha)))
        .await?;
    let (second, second_sha) = evidence_bytes(600_000, 2);
    let refused = ua
        .upload_evidence(tokio_stream::iter(upload_messages(
            &id,
            &second,
            &second_sha,
        )))
        .await
        .expect_err("the request's evidence quota was passed");
    assert_eq!(
        refused.code(),
        tonic::Code::ResourceExhausted,
        "{refused:?}"
    );
    assert!(
        refused.message().contains("max_evidence_bytes_per_request"),
        "{refused:?}"
    );
    // Unannounced size: refused once the bytes pass the quota.
    let mut unannounced = upload_messages(&id, &second, "");
    if let Some(v1::upload_evidence_request::Payload::Metadata(metadata)) =
        unannounced[0].payload.as_mut()
    {
        metadata.size_bytes = 0;
    }
    let refused = ua
        .upload_evidence(tokio_stream::iter(unannounced))
        .await
        .expect_err("an unannounced file passed the quota");
    assert_eq!(
        refused.code(),
        tonic::Code::ResourceExhausted,
        "{refused:?}"
    );
    let listed = ua
        .list_evidence(v1::ListEvidenceRequest {
            mla_request_id: id.clone(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .evidence;
    assert_eq!(listed.len(), 1, "a refused upload was stored");
    assert_eq!(stored_evidence_files(&hub)?, 1);

    // RS-MUP's agency quota counts its files on every request.
    let (_, mut rs_again, other) = mla_delivered(&hub).await?;
    let (third, third_sha) = evidence_bytes(950_000, 3);
    let refused = rs_again
        .upload_evidence(tokio_stream::iter(upload_messages(
            &other, &third, &third_sha,
        )))
        .await
        .expect_err("the agency's evidence quota was passed");
    assert_eq!(
        refused.code(),
        tonic::Code::ResourceExhausted,
        "{refused:?}"
    );
    assert!(
        refused.message().contains("max_evidence_bytes_per_agency"),
        "{refused:?}"
    );
    assert_eq!(stored_evidence_files(&hub)?, 1);
    hub.stop().await?;

    // A reserve larger than any disk: nothing fits.
    let limits = liaison_testkit::Limits {
        min_evidence_free_bytes: u64::MAX / 2,
        ..TestHub::default_limits()
    };
    let hub = TestHub::builder(backend).limits(limits).start().await?;
    let (_, mut rs, id) = mla_delivered(&hub).await?;
    let refused = rs
        .upload_evidence(tokio_stream::iter(upload_messages(&id, &first, &first_sha)))
        .await
        .expect_err("an upload ate into the free-space reserve");
    assert_eq!(
        refused.code(),
        tonic::Code::ResourceExhausted,
        "{refused:?}"
    );
    assert_eq!(stored_evidence_files(&hub)?, 0);
    hub.stop().await
}

both!(m7_a_download_from_the_end_reads_nothing);

/// M7. DownloadEvidence at `offset == size` re-hashed the whole file to send nothing.
/// Now it answers with the metadata at once: the stored file is not even opened (here
/// it is gone, which a read would report as DATA_LOSS). A download from an offset after
/// a verified one reads only what it sends.
async fn m7_a_download_from_the_end_reads_nothing(backend: Backend) -> anyhow::Result<()> {
    use crate::mla::{PURPOSE, upload_messages};
    use v1::download_evidence_response::Payload;
    let hub = TestHub::start(backend).await?;
    let (mut ua, mut rs, id) = mla_delivered(&hub).await?;
    let (bytes, sha256) = evidence_bytes(700_000, 4);
    let evidence = rs
        .upload_evidence(tokio_stream::iter(upload_messages(&id, &bytes, &sha256)))
        .await?
        .into_inner()
        .evidence
        .expect("evidence");
    let from = |offset: i64| {
        liaison_client::with_purpose(
            v1::DownloadEvidenceRequest {
                evidence_id: evidence.id.clone(),
                offset,
            },
            PURPOSE,
        )
    };
    let collect = |mut stream: tonic::Streaming<v1::DownloadEvidenceResponse>| async move {
        let mut received = Vec::new();
        let mut metadata = 0;
        while let Some(message) = tokio::time::timeout(PATIENCE, stream.message()).await?? {
            match message.payload {
                Some(Payload::Chunk(chunk)) => received.extend(chunk),
                Some(Payload::Metadata(_)) => metadata += 1,
                _ => {}
            }
        }
        anyhow::Ok((metadata, received))
    };
    // A full download verifies the file; one from the middle then reads only its tail.
    let (_, whole) = collect(ua.download_evidence(from(0)).await?.into_inner()).await?;
    assert_eq!(whole, bytes);
    let (_, tail) = collect(ua.download_evidence(from(500_000)).await?.into_inner()).await?;
    assert_eq!(tail, bytes[500_000..]);

    let stored = hub
        .data_dir()
        .join("evidence")
        .join(&sha256[..2])
        .join(&sha256);
    std::fs::rename(&stored, stored.with_extension("away"))?;
    let size = i64::try_from(bytes.len())?;
    let (metadata, nothing) = collect(ua.download_evidence(from(size)).await?.into_inner())
        .await
        .map_err(|error| anyhow::anyhow!("a download from the end read the file: {error}"))?;
    assert_eq!((metadata, nothing.len()), (1, 0));
    // Any download that sends bytes still needs the file.
    let missing = collect(ua.download_evidence(from(size - 1)).await?.into_inner()).await;
    assert!(missing.is_err(), "bytes were sent with no file");
    hub.stop().await
}

both!(l7_the_agency_that_shared_a_file_sees_who_read_it);

/// L7. Every MLA record named the requesting agency as owner, so RS-MUP's auditors,
/// the requested side, never saw UA-CERT's accesses to the evidence and messages RS-MUP
/// shared. The owner of a file or message is now the agency that shared it.
async fn l7_the_agency_that_shared_a_file_sees_who_read_it(backend: Backend) -> anyhow::Result<()> {
    use crate::mla::{download, messages, post, upload_messages};
    let hub = TestHub::start(backend).await?;
    let (mut ua, mut rs, id) = mla_delivered(&hub).await?;
    let (bytes, sha256) = evidence_bytes(300_000, 5);
    let evidence = rs
        .upload_evidence(tokio_stream::iter(upload_messages(&id, &bytes, &sha256)))
        .await?
        .into_inner()
        .evidence
        .expect("evidence");
    let (received, _, status) = download(&mut ua, &evidence.id).await?;
    assert!(status.is_none() && received == bytes, "{status:?}");
    let message = post(&mut rs, &id, "Dostavljamo izvod iz dnevnika.", "sr-Latn").await?;
    messages(&mut ua, &id).await?;

    for (object, method) in [
        (&evidence.id, "MlaService/DownloadEvidence"),
        (&message.id, "MlaService/ListMessages"),
    ] {
        let records = audit_records_as(
            &hub,
            ("RS-MUP", "auditor"),
            v1::QueryRecordsRequest {
                object_id: object.clone(),
                ..Default::default()
            },
        )
        .await?;
        let theirs: Vec<_> = by_method(&records, method)
            .into_iter()
            .filter(|record| actor_agency(record) == "UA-CERT")
            .collect();
        assert!(
            !theirs.is_empty(),
            "RS-MUP's auditor does not see UA-CERT's {method} of {object}"
        );
    }
    hub.stop().await
}

/// The due time of a request's deadline of `kind`, in seconds.
fn due_of(request: &v1::MlaRequest, kind: v1::MlaDeadlineKind) -> Option<i64> {
    request
        .deadlines
        .iter()
        .find(|deadline| deadline.kind == kind as i32)
        .and_then(|deadline| deadline.due_time.as_ref())
        .map(|due| due.seconds)
}

both!(l5_amended_content_is_checked_like_a_submission);

/// L5. ProvideInformation checked amended content as a draft only: UA-CERT could turn
/// a routine request into an EMERGENCY with no justification, drop the facts, and keep
/// the routine deadlines. Amended content is now held to the submission rules, and the
/// deadlines still running are recomputed from the submission.
async fn l5_amended_content_is_checked_like_a_submission(backend: Backend) -> anyhow::Result<()> {
    use crate::mla::{create, get, officer, preservation_content, rid, submit, text};
    let hub = TestHub::start(backend).await?;
    let mut ua = officer(&hub, "UA-CERT").await?;
    let mut rs = officer(&hub, "RS-MUP").await?;
    let mut routine = preservation_content("RS-MUP");
    routine.urgency = v1::MlaUrgency::Routine as i32;
    routine.emergency_justification = None;
    let draft = create(&mut ua, routine.clone()).await?;
    submit(&mut ua, &draft.id).await?;
    get(&mut rs, &draft.id).await?;
    rs.acknowledge_request(v1::AcknowledgeRequestRequest {
        request_id: rid(),
        mla_request_id: draft.id.clone(),
        ..Default::default()
    })
    .await?;
    rs.start_assessment(v1::StartAssessmentRequest {
        request_id: rid(),
        mla_request_id: draft.id.clone(),
        ..Default::default()
    })
    .await?;
    rs.request_more_information(v1::RequestMoreInformationRequest {
        request_id: rid(),
        mla_request_id: draft.id.clone(),
        questions: text("Navedite tačno vreme svakog pristupa (UTC)", "sr-Latn"),
        ..Default::default()
    })
    .await?;
    let before = get(&mut ua, &draft.id).await?;
    let routine_due = due_of(&before, v1::MlaDeadlineKind::Response).expect("a response date");
    let provide = |content: v1::MlaRequestContent| v1::ProvideInformationRequest {
        request_id: rid(),
        mla_request_id: draft.id.clone(),
        answer: text("Час зазначено в UTC", "uk"),
        amended_content: Some(content),
        ..Default::default()
    };

    let mut unjustified = routine.clone();
    unjustified.urgency = v1::MlaUrgency::Emergency as i32;
    let mut no_facts = routine.clone();
    no_facts.summary_of_facts = None;
    for (content, what) in [
        (unjustified, "an emergency without a justification"),
        (no_facts, "no summary of facts"),
    ] {
        let refused = ua
            .provide_information(provide(content))
            .await
            .expect_err(what);
        assert_eq!(
            refused.code(),
            tonic::Code::InvalidArgument,
            "{what}: {refused:?}"
        );
    }
    let unchanged = get(&mut ua, &draft.id).await?;
    assert_eq!(
        unchanged.content_version, 1,
        "a refused amendment changed the request"
    );
    assert_eq!(
        unchanged.state,
        v1::MlaState::MoreInformationRequested as i32
    );

    // A justified emergency: the response date moves to the emergency's.
    let mut emergency = routine;
    emergency.urgency = v1::MlaUrgency::Emergency as i32;
    emergency.emergency_justification =
        text("Свідок отримує погрози; журнали буде стерто за добу", "uk");
    let answered = ua
        .provide_information(provide(emergency))
        .await?
        .into_inner()
        .mla_request
        .expect("a request");
    assert_eq!(answered.content_version, 2);
    let emergency_due = due_of(&answered, v1::MlaDeadlineKind::Response).expect("a response date");
    assert!(
        emergency_due < routine_due,
        "the response date stayed the routine one ({routine_due}) after the request became an emergency"
    );
    hub.stop().await
}

both!(l4_concurrent_acknowledgements_of_a_consultation_are_never_lost);

/// L4. Consultation steps were read-modify-write with no version check: acknowledgements
/// sent at once overwrote each other, and a Schedule racing a Close could reopen it.
/// Now a step is stored only over the version it was decided on; the loser of a race
/// gets ABORTED and changes nothing, so every acknowledgement answered OK is kept.
async fn l4_concurrent_acknowledgements_of_a_consultation_are_never_lost(
    backend: Backend,
) -> anyhow::Result<()> {
    let invited = [
        "HU-NNI", "UA-CERT", "ME-UP", "MK-MVR", "AL-ASP", "BA-MSB", "TR-EGM", "RO-IGPR",
    ];
    let hub = TestHub::start(backend).await?;
    let mut requester = hub.client("RS-MUP", "officer").await?.cbm();
    let consultation = requester
        .request_consultation(v1::RequestConsultationRequest {
            request_id: format!("l4-{}", crate::support::unique()),
            agency_ids: invited.iter().map(|agency| (*agency).to_owned()).collect(),
            subject: Some(v1::LocalizedText {
                text: "Phối hợp xử lý chiến dịch lừa đảo xuyên biên giới".into(),
                language: "vi".into(),
            }),
            tlp: v1::Tlp::Green as i32,
            ..Default::default()
        })
        .await?
        .into_inner()
        .consultation
        .unwrap_or_default();
    let mut clients = Vec::new();
    for agency in invited {
        clients.push((agency, hub.client(agency, "officer").await?.cbm()));
    }
    // Every invited agency acknowledges at once, retrying only what was ABORTED.
    let acknowledge = |agency: &'static str,
                       mut client: liaison_proto::v1::cbm_service_client::CbmServiceClient<
        liaison_client::AuthChannel,
    >,
                       id: String| async move {
        let mut aborted = 0;
        loop {
            match client
                .acknowledge_consultation(v1::AcknowledgeConsultationRequest {
                    request_id: format!("l4-{}", crate::support::unique()),
                    consultation_id: id.clone(),
                    comment: None,
                })
                .await
            {
                Ok(_) => return anyhow::Ok((agency, aborted)),
                Err(status) if status.code() == tonic::Code::Aborted => aborted += 1,
                Err(status) => anyhow::bail!("{agency}: {status:?}"),
            }
        }
    };
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|(agency, client)| tokio::spawn(acknowledge(agency, client, consultation.id.clone())))
        .collect();
    for task in tasks {
        task.await??;
    }
    let stored = requester
        .get_consultation(v1::GetConsultationRequest {
            consultation_id: consultation.id.clone(),
        })
        .await?
        .into_inner()
        .consultation
        .unwrap_or_default();
    let missing: Vec<_> = stored
        .participants
        .iter()
        .filter(|participant| !participant.requester && participant.acknowledge_time.is_none())
        .map(|participant| participant.agency_id.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledgements answered OK were lost: {missing:?}"
    );
    hub.stop().await
}

both!(h4_audit_bytes_per_call_are_bounded);

/// H4. What one admitted call can add to the permanent log is bounded: a method path the
/// hub does not serve (up to the 16 KiB header limit) is recorded as a fixed token with
/// its length, and a Lookup of a value 600 visible items hold is logged as records of at
/// most 500 objects each.
async fn h4_audit_bytes_per_call_are_bounded(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let path = format!("/liaison.v1.IndicatorService/{}", "x".repeat(12_000));
    let (sender, connection) =
        crate::limits::h2_connect(&hub, "UA-CERT", "feed", &h2::client::Builder::new()).await?;
    tokio::spawn(connection);
    let (code, _) = crate::limits::raw_call(&hub, &sender, &path, &[]).await?;
    assert_ne!(code, 0, "an unknown method answered OK");

    let ukraine = hub.client("UA-CERT", "feed").await?;
    let items: Vec<v1::Indicator> = (0..600)
        .map(|index| {
            method_with_domain(
                &format!("Шахрайська розсилка № {index}"),
                "bezpeka-pryvat.example",
                all_members(),
            )
        })
        .collect();
    publish_many(&ukraine, items).await?;
    let lookup = hub
        .client("RS-MUP", "feed")
        .await?
        .indicators()
        .lookup(v1::LookupRequest {
            observable: Some(v1::Observable {
                r#type: v1::ObservableType::Domain as i32,
                value: "bezpeka-pryvat.example".into(),
            }),
        })
        .await?
        .into_inner();
    assert!(lookup.reporting_agency_count >= 1, "{lookup:?}");

    let records: Vec<liaison_audit::AuditRecord> = hub
        .store()
        .audit_records(0, 100_000)
        .await?
        .iter()
        .map(|row| {
            liaison_audit::Sealed::parse(row.record.as_bytes())
                .record()
                .clone()
        })
        .collect();
    let unknown: Vec<&liaison_audit::AuditRecord> = records
        .iter()
        .filter(|r| {
            r.actor.agency.as_deref() == Some("UA-CERT")
                && !r.method.starts_with("/liaison.v1.DirectoryService")
        })
        .filter(|r| !r.method.ends_with("/PublishMany"))
        .collect();
    assert!(
        unknown
            .iter()
            .any(|r| r.method == "(unknown method, 12029 bytes)"),
        "{:?}",
        unknown.iter().map(|r| r.method.len()).collect::<Vec<_>>()
    );
    assert!(records.iter().all(|r| r.method.len() < 200));
    let lookups: Vec<usize> = records
        .iter()
        .filter(|r| r.method.ends_with("/Lookup"))
        .map(|r| r.objects.len())
        .collect();
    assert!(lookups.iter().all(|count| *count <= 500), "{lookups:?}");
    assert_eq!(lookups.iter().sum::<usize>(), 600, "{lookups:?}");
    hub.stop().await
}
