//! Lookup's grouped read, and the kept connections it shares with the audit writer.

use liaison_core::{AgencyId, GroupId, Indicator, Observable, ObservableType, Scope};
use liaison_store::{PublishOutcome, SightingRecord, Store, Viewer};

use crate::database::{new_indicator, now, principal, record};

const PUBLISH: &str = "liaison.v1.IndicatorService/Publish";

fn viewer(agency: &str, groups: &[&str]) -> anyhow::Result<Viewer> {
    Ok(Viewer {
        agency: AgencyId::parse(agency)?,
        groups: groups
            .iter()
            .map(|group| GroupId::parse(group))
            .collect::<Result<_, _>>()?,
        person: true,
        hub: false,
    })
}

/// Two indicators hold the value: one for every member, one for a group `RS-CERT` is not in.
async fn publish_two(store: &Store) -> anyhow::Result<(Indicator, Indicator, Observable)> {
    let feed = principal("RS-MUP/system/feed");
    let audit =
        |indicator: &Indicator| record(PUBLISH, indicator.id.as_str(), "RS-MUP", indicator.created);
    let value = Observable::parse(ObservableType::Domain, "lazna-banka.example")?;
    let mut stored = Vec::new();
    for (request_id, scope) in [
        ("req-all", Scope::AllMembers),
        (
            "req-group",
            Scope::SharingGroup(GroupId::parse("belgrade-declaration")?),
        ),
    ] {
        let mut content = new_indicator(&[value.value()]);
        content.scope = scope;
        let PublishOutcome::Stored(indicator) = store
            .publish_indicator(&feed, request_id, content, now(), &audit)
            .await?
        else {
            anyhow::bail!("nothing stored");
        };
        stored.push(indicator);
    }
    let group = stored.pop().unwrap_or_else(|| unreachable!());
    let all = stored.pop().unwrap_or_else(|| unreachable!());
    Ok((all, group, value))
}

pub async fn a_lookup_reads_only_what_the_viewer_may_see(store: Store) -> anyhow::Result<()> {
    let (all, group, value) = publish_two(&store).await?;
    store
        .report_sighting(
            &principal("RS-CERT/person/analyst"),
            &SightingRecord {
                observable: value.clone(),
                agency: AgencyId::parse("RS-CERT")?,
                count: 3,
                first_seen: now(),
                last_seen: now(),
            },
            now(),
            &record(
                "liaison.v1.IndicatorService/ReportSighting",
                "sig",
                "RS-CERT",
                now(),
            ),
        )
        .await?;
    let member = viewer("RS-MUP", &["belgrade-declaration"])?;
    let (holders, sightings) = store
        .observable_record(&member, &value, now(), 10, 10)
        .await?;
    let ids: Vec<_> = holders.iter().map(|holder| holder.id.clone()).collect();
    assert_eq!(ids, [group.id.clone(), all.id.clone()], "newest first");
    assert_eq!(sightings.len(), 1);
    assert_eq!(sightings[0].count, 3);

    let outsider = viewer("RS-CERT", &[])?;
    let (holders, _) = store
        .observable_record(&outsider, &value, now(), 10, 10)
        .await?;
    let ids: Vec<_> = holders.iter().map(|holder| holder.id.clone()).collect();
    assert_eq!(ids, std::slice::from_ref(&all.id), "not the group's item");
    // The limit applies after visibility.
    let (holders, _) = store
        .observable_record(&member, &value, now(), 1, 0)
        .await?;
    assert_eq!(holders.len(), 1);
    let unknown = Observable::parse(ObservableType::Domain, "nepoznato.example")?;
    let (holders, sightings) = store
        .observable_record(&member, &unknown, now(), 10, 10)
        .await?;
    assert!(holders.is_empty() && sightings.is_empty());
    Ok(())
}

pub async fn lookups_at_once_share_kept_connections(store: Store) -> anyhow::Result<()> {
    let (all, group, value) = publish_two(&store).await?;
    let member = viewer("RS-MUP", &["belgrade-declaration"])?;
    let outsider = viewer("RS-CERT", &[])?;
    // Many Lookups and audit records at once: they are read in groups, on kept
    // connections, and each caller gets its own answer.
    let mut calls = tokio::task::JoinSet::new();
    for n in 0..64 {
        let (store, value) = (store.clone(), value.clone());
        let who = if n % 2 == 0 {
            member.clone()
        } else {
            outsider.clone()
        };
        calls.spawn(async move {
            let (holders, _) = store.observable_record(&who, &value, now(), 10, 10).await?;
            store
                .append_audit(
                    &record(
                        "liaison.v1.IndicatorService/Lookup",
                        "lookup",
                        "RS-MUP",
                        now(),
                    ),
                    now(),
                )
                .await?;
            anyhow::Ok((n, holders.len()))
        });
    }
    while let Some(answer) = calls.join_next().await {
        let (n, holders) = answer??;
        assert_eq!(holders, if n % 2 == 0 { 2 } else { 1 }, "call {n}");
    }
    assert!(!all.id.as_str().is_empty() && !group.id.as_str().is_empty());
    // The pool closes with connections kept.
    tokio::time::timeout(std::time::Duration::from_secs(30), store.close())
        .await
        .map_err(|_| anyhow::anyhow!("the pool did not close"))?;
    Ok(())
}
