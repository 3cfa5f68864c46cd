//! A restart on the same data directory and database keeps everything.

use liaison_core::{
    AgencyId, Federation, GroupId, PrincipalId, PrincipalKind, PrincipalName, Role,
};
use liaison_proto::v1;
use liaison_store::LOAD_FEDERATION_METHOD;
use liaison_testkit::{Backend, EXAMPLE_FEDERATION, TestHub};

use liaison_testkit::both;

use crate::support::{
    fraud_method, next_event, publish, publish_method, published, purposeful, subscribe_after,
};

both!(
    a_restart_keeps_everything,
    a_restart_keeps_a_withdrawn_role_withdrawn,
    a_restart_keeps_a_sharing_group_as_the_operator_left_it,
    the_federation_file_seeds_the_directory_with_audited_changes_only,
);

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

fn principal(agency: &str, kind: PrincipalKind, name: &str) -> anyhow::Result<PrincipalId> {
    Ok(PrincipalId::new(
        AgencyId::parse(agency)?,
        kind,
        PrincipalName::parse(name)?,
    ))
}

/// The records of the federation load, parsed, in log order.
async fn load_records(hub: &TestHub) -> anyhow::Result<Vec<serde_json::Value>> {
    hub.drained().await?;
    let mut records = Vec::new();
    for row in hub.store().audit_records(0, 100_000).await? {
        let record: serde_json::Value = serde_json::from_str(&row.record)?;
        if record["method"] == LOAD_FEDERATION_METHOD {
            records.push(record);
        }
    }
    Ok(records)
}

/// The operator withdraws a role that the federation file grants; a restart on the same
/// file does not grant it again (finding H2).
async fn a_restart_keeps_a_withdrawn_role_withdrawn(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let officer = principal("UA-CERT", PrincipalKind::Person, "officer")?;
    assert_eq!(
        hub.store().principal_roles(&officer).await?,
        Some(vec![Role::Officer])
    );
    hub.client("INT-HUB", "operator")
        .await?
        .directory()
        .assign_roles(v1::AssignRolesRequest {
            request_id: "withdraw-officer".into(),
            principal: Some(v1::PrincipalRef {
                agency_id: "UA-CERT".into(),
                kind: v1::PrincipalKind::Person as i32,
                name: "officer".into(),
            }),
            // The officer moves to audit duty: `officer` withdrawn, `auditor` granted.
            roles: vec![v1::Role::Auditor as i32],
        })
        .await?;
    assert_eq!(
        hub.store().principal_roles(&officer).await?,
        Some(vec![Role::Auditor])
    );

    let hub = hub.restart().await?;
    assert_eq!(
        hub.store().principal_roles(&officer).await?,
        Some(vec![Role::Auditor]),
        "the restart gave the withdrawn role back"
    );
    let me = hub
        .client("UA-CERT", "officer")
        .await?
        .directory()
        .who_am_i(v1::WhoAmIRequest {})
        .await?
        .into_inner();
    assert_eq!(
        me.principal.map(|principal| principal.roles),
        Some(vec![v1::Role::Auditor as i32])
    );
    hub.stop().await
}

/// The operator removes an agency from a sharing group of the federation file; a
/// restart on the same file does not put it back (finding H2).
async fn a_restart_keeps_a_sharing_group_as_the_operator_left_it(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let group = GroupId::parse("eu-ukraine-cyber-dialogue")?;
    let ids = |members: Vec<AgencyId>| -> Vec<String> {
        members.iter().map(ToString::to_string).collect()
    };
    assert_eq!(
        ids(hub.store().group_members(&group).await?),
        ["EU-EEAS", "EU-ENISA", "EU-EUROPOL", "UA-CERT"]
    );
    hub.client("INT-HUB", "operator")
        .await?
        .directory()
        .update_sharing_group(v1::UpdateSharingGroupRequest {
            request_id: "drop-eeas".into(),
            sharing_group: Some(v1::SharingGroup {
                id: group.to_string(),
                name: "EU-Ukraine cyber dialogue (working level)".into(),
                member_agency_ids: vec!["UA-CERT".into(), "EU-EUROPOL".into(), "EU-ENISA".into()],
            }),
        })
        .await?;

    let hub = hub.restart().await?;
    assert_eq!(
        ids(hub.store().group_members(&group).await?),
        ["EU-ENISA", "EU-EUROPOL", "UA-CERT"],
        "the restart put the removed agency back"
    );
    assert_eq!(
        hub.store()
            .get_sharing_group(&group)
            .await?
            .map(|group| group.name)
            .as_deref(),
        Some("EU-Ukraine cyber dialogue (working level)")
    );
    let mut eeas = hub.client("EU-EEAS", "officer").await?.directory();
    let hidden = eeas
        .get_sharing_group(v1::GetSharingGroupRequest {
            sharing_group_id: group.to_string(),
        })
        .await
        .expect_err("the removed agency sees the group again");
    assert_eq!(hidden.code(), tonic::Code::NotFound);
    hub.stop().await
}

/// The first start's seeding is in the audit log, one hub-actor record per row; a restart
/// on the same file adds none; a changed file adds what is new (and a name), never a role
/// or a member.
async fn the_federation_file_seeds_the_directory_with_audited_changes_only(
    backend: Backend,
) -> anyhow::Result<()> {
    let federation = Federation::from_toml(EXAMPLE_FEDERATION)?;
    let rows = federation.states().count()
        + federation.agencies().len()
        + federation.principals().count()
        + federation.sharing_groups().len();
    let hub = TestHub::start(backend).await?;
    let first = load_records(&hub).await?;
    assert_eq!(first.len(), rows, "one record per seeded row");
    assert_eq!(
        hub.start_audit_size(),
        rows as u64,
        "the seeding is all a fresh start logs"
    );
    let trace = first[0]["trace_id"].clone();
    for record in &first {
        assert_eq!(
            record["actor"],
            serde_json::json!({"roles": []}),
            "not a hub-actor record: {record}"
        );
        assert_eq!(record["outcome"], 0, "{record}");
        assert_eq!(record["trace_id"], trace, "one load, one trace: {record}");
        assert_eq!(
            record["objects"].as_array().map(Vec::len),
            Some(1),
            "{record}"
        );
    }
    let object = |id: &str| {
        first
            .iter()
            .find(|record| record["objects"][0]["id"] == id)
            .map(|record| record["objects"][0].clone())
    };
    assert_eq!(
        object("principal:UA-CERT/person/officer"),
        Some(
            serde_json::json!({"id": "principal:UA-CERT/person/officer", "access": "write", "owner": "UA-CERT"})
        )
    );
    assert_eq!(
        object("UA-CERT").map(|o| o["owner"].clone()),
        Some("UA-CERT".into())
    );
    assert!(object("eu-ukraine-cyber-dialogue").is_some());
    assert!(object("state:UA").is_some());
    // The oversight auditor finds them through the API, as hub-actor writes.
    let found = hub
        .client("INT-HUB", "auditor")
        .await?
        .audit()
        .query_records(v1::QueryRecordsRequest {
            method: LOAD_FEDERATION_METHOD.into(),
            object_id: "principal:UA-CERT/person/officer".into(),
            ..v1::QueryRecordsRequest::default()
        })
        .await?
        .into_inner()
        .records;
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0]
            .actor
            .as_ref()
            .is_none_or(|actor| actor.principal.is_none())
    );

    // The same file again: nothing changes, nothing is logged.
    let hub = hub.restart().await?;
    assert_eq!(
        load_records(&hub).await?.len(),
        rows,
        "an unchanged file was logged again"
    );

    // A changed file: a new principal and a new name are written and logged; another
    // role list and another member list are not applied.
    let changed = EXAMPLE_FEDERATION
        .replace(
            "name = \"Computer Emergency Response Team of Ukraine (CERT-UA)\"",
            "name = \"CERT-UA\"",
        )
        .replace(
            "state = \"UA\"\nprincipals = [\n",
            "state = \"UA\"\nprincipals = [\n  { kind = \"person\", name = \"analyst\", roles = [\"officer\"] },\n",
        )
        .replace(
            "state = \"RS\"\nprincipals = [\n  { kind = \"system\", name = \"feed\", roles = [\"system\"] },\n  { kind = \"person\", name = \"officer\", roles = [\"officer\"] },",
            "state = \"RS\"\nprincipals = [\n  { kind = \"system\", name = \"feed\", roles = [\"system\"] },\n  { kind = \"person\", name = \"officer\", roles = [\"officer\", \"auditor\"] },",
        )
        .replace(
            "members = [\"VN-BCA\", \"NL-NCSC\", \"EU-EEAS\"]",
            "members = [\"VN-BCA\", \"EU-EEAS\"]",
        );
    let edited = Federation::from_toml(&changed)?;
    assert_eq!(
        edited.principals().count(),
        federation.principals().count() + 1
    );
    assert_ne!(edited.agencies(), federation.agencies());
    assert_ne!(edited.sharing_groups(), federation.sharing_groups());
    let hub = hub
        .restart_with(|config| config.federation_toml = changed.clone())
        .await?;
    let records = load_records(&hub).await?;
    let objects: Vec<&serde_json::Value> = records[rows..]
        .iter()
        .map(|record| &record["objects"][0]["id"])
        .collect();
    assert_eq!(objects, ["UA-CERT", "principal:UA-CERT/person/analyst"]);
    assert_eq!(
        hub.store()
            .get_agency(&AgencyId::parse("UA-CERT")?)
            .await?
            .map(|agency| agency.name)
            .as_deref(),
        Some("CERT-UA")
    );
    assert_eq!(
        hub.store()
            .principal_roles(&principal("UA-CERT", PrincipalKind::Person, "analyst")?)
            .await?,
        Some(vec![Role::Officer])
    );
    assert_eq!(
        hub.store()
            .principal_roles(&principal("RS-MUP", PrincipalKind::Person, "officer")?)
            .await?,
        Some(vec![Role::Officer])
    );
    assert_eq!(
        hub.store()
            .group_members(&GroupId::parse("eu-vietnam-cyber-dialogue")?)
            .await?
            .len(),
        3
    );
    hub.stop().await
}
