//! Attacks from the December security review (`SECURITY.md` lists each finding with the
//! test that holds it). Each test plays the attacker the review describes — a hostile
//! member agency, an outsider, a curious operator — against a real hub, and fails on the
//! code the review read (`d3e43cc`).

use liaison_audit::{Checkpoint, Hash, Opening, TreeBuilder, VerifierKey, leaf_hash};
use liaison_proto::v1;
use liaison_testkit::{Backend, TestHub, both};

use crate::support::{PATIENCE, all_members, fraud_method, publish};

/// Every record `agency/name` may query, oldest first.
async fn all_records(
    hub: &TestHub,
    who: (&str, &str),
    query: v1::QueryRecordsRequest,
) -> anyhow::Result<Vec<v1::AuditRecord>> {
    let mut audit = hub.client(who.0, who.1).await?.audit();
    let mut records = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = audit
            .query_records(v1::QueryRecordsRequest {
                page_token: page_token.clone(),
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

async fn signed_to_the_end(hub: &TestHub) -> anyhow::Result<()> {
    let size = hub.store().audit_size().await?;
    let mut watch = hub.store().watch_checkpoint_size();
    tokio::time::timeout(PATIENCE, watch.wait_for(|current| *current >= size))
        .await
        .map_err(|_| anyhow::anyhow!("no checkpoint of size {size}"))??;
    Ok(())
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
    signed_to_the_end(&hub).await?;

    // RS-MUP's auditor: by the object, the owner is withheld and marked anonymous.
    let by_object = all_records(
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
    let by_owner = all_records(
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
    let everything = all_records(&hub, ("RS-MUP", "auditor"), Default::default()).await?;
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
    let mine = all_records(&hub, ("UA-CERT", "auditor"), Default::default()).await?;
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
    let own = all_records(&hub, ("HU-NNI", "auditor"), Default::default()).await?;
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
    let whole = all_records(
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
