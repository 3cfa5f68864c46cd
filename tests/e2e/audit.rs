//! The audit log: every call leaves a record — allowed, invalid, denied, unauthenticated —
//! and the log is a Merkle tree whose signed checkpoints, inclusion and consistency proofs
//! verify with the key the audit service publishes.

use liaison_audit::{
    Checkpoint, Hash, Sealed, VerifierKey, leaf_hash, verify_consistency, verify_inclusion,
};
use liaison_pki::Validity;
use liaison_proto::v1;
use liaison_testkit::{Backend, TestHub, both};
use serde_json::Value;

use crate::support::{PATIENCE, fraud_method, named, publish, publish_method, purposeful};

both!(
    every_call_leaves_a_record,
    checkpoints_and_proofs_verify,
    only_auditors_use_the_audit_service
);

/// Waits until the log holds at least `size` records after those of the hub's start (the
/// directory seeded from the federation file) and returns them all, parsed.
async fn records_when(hub: &TestHub, size: u64) -> anyhow::Result<Vec<Value>> {
    let size = hub.start_audit_size() + size;
    let mut watch = hub.store().watch_audit_size();
    tokio::time::timeout(PATIENCE, watch.wait_for(|current| *current >= size))
        .await
        .map_err(|_| anyhow::anyhow!("the audit log did not reach {size} records"))??;
    let records = hub.store().audit_records(0, 10_000).await?;
    records
        .into_iter()
        .map(|row| Ok(serde_json::from_str(&row.record)?))
        .collect()
}

fn by_method<'a>(records: &'a [Value], method: &str) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|record| record["method"] == method)
        .collect()
}

async fn every_call_leaves_a_record(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut officer = hub.client("UA-CERT", "officer").await?.indicators();
    let stored = publish_method(&mut officer, "Фішинг через фальшиві SMS").await?;
    let mut invalid = fraud_method("x");
    invalid.tlp = 0;
    officer
        .publish(publish(invalid))
        .await
        .expect_err("invalid");
    let mut feed = hub.client("UA-CERT", "feed").await?.indicators();
    let mut red = fraud_method("RED from a system");
    red.tlp = v1::Tlp::Red as i32;
    red.scope = Some(named(&["RS-MUP"]));
    feed.publish(publish(red)).await.expect_err("denied");
    let mut hungary = hub.client("HU-NNI", "officer").await?.indicators();
    let mut request = tonic::Request::new(v1::GetIndicatorRequest {
        indicator_id: stored.id.clone(),
    });
    request
        .metadata_mut()
        .insert("x-liaison-purpose", "case HU-2026-117".parse()?);
    hungary.get_indicator(request).await?;
    let ghost = hub.ca()?.issue_client_with_uris(
        &["spiffe://liaison.example/agency/UA-CERT/person/ghost"],
        Validity::days(1),
    )?;
    let ghost_client = liaison_client::Client::connect(&hub.client_config_with(&ghost)?).await?;
    ghost_client
        .directory()
        .who_am_i(v1::WhoAmIRequest {})
        .await
        .expect_err("unknown principal");

    // Five calls, four token issues (three granted, the ghost's refused).
    let records = records_when(&hub, 9).await?;
    let publishes = by_method(&records, "/liaison.v1.IndicatorService/Publish");
    let written = publishes
        .iter()
        .find(|r| r["outcome"] == 0)
        .expect("the publication's record");
    assert_eq!(written["objects"][0]["id"], stored.id.as_str());
    assert_eq!(written["objects"][0]["access"], "write");
    assert_eq!(written["objects"][0]["owner"], "UA-CERT");
    assert_eq!(written["actor"]["agency"], "UA-CERT");
    let issued = by_method(&records, "/liaison.v1.DirectoryService/IssueToken");
    assert_eq!(
        written["actor"]["token_id"], issued[0]["actor"]["token_id"],
        "the write names the token it was made with"
    );
    assert_eq!(written["actor"]["roles"], serde_json::json!(["officer"]));
    assert!(
        written["actor"]["certificate_sha256"]
            .as_str()
            .is_some_and(|h| h.len() == 64)
    );
    assert!(
        publishes.iter().any(|r| r["outcome"] == 3),
        "the invalid call left no record"
    );
    let denied = publishes
        .iter()
        .find(|r| r["outcome"] == 7)
        .expect("the denied call's record");
    assert_eq!(denied["actor"]["kind"], "system");
    assert!(
        denied["deny_reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("TLP:RED")),
        "{denied}"
    );

    let reads = by_method(&records, "/liaison.v1.IndicatorService/GetIndicator");
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0]["actor"]["agency"], "HU-NNI");
    assert_eq!(reads[0]["justification"], "case HU-2026-117");
    assert_eq!(
        reads[0]["objects"][0]["owner"], "UA-CERT",
        "the owner's auditors must see the read"
    );

    let unknown = by_method(&records, "/liaison.v1.DirectoryService/WhoAmI");
    assert!(
        unknown
            .iter()
            .any(|r| r["outcome"] == 16 && r["actor"]["name"] == "ghost"),
        "{unknown:?}"
    );
    hub.stop().await
}

pub(crate) async fn wait_for_checkpoint(hub: &TestHub, size: u64) -> anyhow::Result<()> {
    let mut watch = hub.store().watch_checkpoint_size();
    tokio::time::timeout(PATIENCE, watch.wait_for(|current| *current >= size))
        .await
        .map_err(|_| anyhow::anyhow!("no checkpoint of size {size}"))??;
    Ok(())
}

fn hash(bytes: &[u8]) -> anyhow::Result<Hash> {
    Ok(bytes.try_into()?)
}

async fn checkpoints_and_proofs_verify(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut officer = hub.client("RS-MUP", "officer").await?.indicators();
    for round in 0..3 {
        officer
            .publish(publish(fraud_method(&format!("Превара број {round}"))))
            .await?;
    }
    records_when(&hub, 3).await?;
    wait_for_checkpoint(&hub, hub.start_audit_size() + 3).await?;
    let mut audit = hub.client("INT-HUB", "auditor").await?.audit();
    let keys = audit
        .get_log_keys(v1::GetLogKeysRequest {})
        .await?
        .into_inner()
        .keys;
    let key: VerifierKey = keys[0].verifier_key.parse()?;
    let first = audit
        .get_checkpoint(v1::GetCheckpointRequest {})
        .await?
        .into_inner()
        .checkpoint
        .unwrap();
    let old = Checkpoint::verify(&first.signed_note, &key)?;
    assert!(old.size() >= 3);
    assert_eq!(old.origin(), "liaison.example/audit");

    // Every record in the signed tree is included in it.
    let records = hub.store().audit_records(0, 10_000).await?;
    for row in records.iter().take(old.size() as usize) {
        let (index, text) = (&row.index, &row.record);
        let proof = audit
            .get_inclusion_proof(v1::GetInclusionProofRequest {
                leaf_index: *index,
                tree_size: old.size(),
            })
            .await?
            .into_inner();
        let hashes: Vec<Hash> = proof
            .hashes
            .iter()
            .map(|h| hash(h))
            .collect::<Result<_, _>>()?;
        verify_inclusion(
            &leaf_hash(&Sealed::parse(text.as_bytes()).leaf_data()),
            *index,
            old.size(),
            &hashes,
            old.root(),
        )?;
        // An edited record is not.
        let edited = text.replace("\"outcome\":0", "\"outcome\":1");
        assert!(
            verify_inclusion(
                &leaf_hash(&Sealed::parse(edited.as_bytes()).leaf_data()),
                *index,
                old.size(),
                &hashes,
                old.root()
            )
            .is_err()
        );
    }

    // More calls, a newer checkpoint, and a proof that it extends the old one.
    officer
        .publish(publish(fraud_method("Још једна превара")))
        .await?;
    wait_for_checkpoint(&hub, old.size() + 1).await?;
    let second = audit
        .get_checkpoint(v1::GetCheckpointRequest {})
        .await?
        .into_inner()
        .checkpoint
        .unwrap();
    let new = Checkpoint::verify(&second.signed_note, &key)?;
    assert!(new.size() > old.size());
    let proof = audit
        .get_consistency_proof(v1::GetConsistencyProofRequest {
            old_tree_size: old.size(),
            new_tree_size: new.size(),
        })
        .await?
        .into_inner();
    let hashes: Vec<Hash> = proof
        .hashes
        .iter()
        .map(|h| hash(h))
        .collect::<Result<_, _>>()?;
    verify_consistency(old.size(), new.size(), old.root(), new.root(), &hashes)?;

    let too_big = audit
        .get_inclusion_proof(v1::GetInclusionProofRequest {
            leaf_index: 0,
            tree_size: 1_000_000,
        })
        .await
        .expect_err("a proof for a tree that does not exist");
    assert_eq!(too_big.code(), tonic::Code::InvalidArgument);
    hub.stop().await
}

async fn only_auditors_use_the_audit_service(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    for (agency, name) in [("UA-CERT", "feed"), ("INT-HUB", "operator")] {
        let mut audit = hub.client(agency, name).await?.audit();
        let status = audit
            .query_records(v1::QueryRecordsRequest::default())
            .await
            .expect_err("not an auditor");
        assert_eq!(
            status.code(),
            tonic::Code::PermissionDenied,
            "{agency}/{name}"
        );
        // Checkpoints, proofs and keys reveal no record: anyone may witness the log.
        audit.get_log_keys(v1::GetLogKeysRequest {}).await?;
    }
    let mut agency_auditor = hub.client("UA-CERT", "auditor").await?.audit();
    agency_auditor
        .query_records(v1::QueryRecordsRequest::default())
        .await?;
    hub.stop().await
}

both!(agency_auditors_see_their_agency_and_who_read_its_data);

async fn query_as(
    hub: &TestHub,
    agency: &str,
    name: &str,
    query: v1::QueryRecordsRequest,
) -> anyhow::Result<Vec<v1::AuditRecord>> {
    let mut audit = hub.client(agency, name).await?.audit();
    Ok(audit.query_records(query).await?.into_inner().records)
}

async fn agency_auditors_see_their_agency_and_who_read_its_data(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut ukraine = hub.client("UA-CERT", "officer").await?.indicators();
    let shared = publish_method(&mut ukraine, "Шахрайство з криптовалютою").await?;
    let mut hungary = hub.client("HU-NNI", "officer").await?.indicators();
    hungary
        .get_indicator(purposeful(v1::GetIndicatorRequest {
            indicator_id: shared.id.clone(),
        }))
        .await?;
    hub.client("RS-MUP", "officer")
        .await?
        .directory()
        .who_am_i(v1::WhoAmIRequest {})
        .await?;
    // Three calls, each after its client's token issue.
    records_when(&hub, 6).await?;

    // Audit queries and token issues are recorded too; they may or may not be sequenced
    // yet, so leave them out, and the hub's own records of its start (the directory
    // seeded from the federation file), checked below.
    let methods = |records: Vec<v1::AuditRecord>| -> Vec<(String, String)> {
        records
            .into_iter()
            .filter(|record| {
                !record.method.contains("AuditService")
                    && !record.method.ends_with("/IssueToken")
                    && record.method != liaison_store::LOAD_FEDERATION_METHOD
            })
            .map(|record| {
                let agency = record
                    .actor
                    .and_then(|actor| actor.principal)
                    .map(|p| p.agency_id)
                    .unwrap_or_default();
                (
                    agency,
                    record.method.trim_start_matches("/liaison.v1.").to_owned(),
                )
            })
            .collect()
    };
    let query = v1::QueryRecordsRequest::default();
    // The seeding of Ukraine's own directory entries: the agency and its two principals.
    let seeding = v1::QueryRecordsRequest {
        method: liaison_store::LOAD_FEDERATION_METHOD.into(),
        ..v1::QueryRecordsRequest::default()
    };
    let seeded = query_as(&hub, "UA-CERT", "auditor", seeding.clone()).await?;
    let mut objects: Vec<String> = seeded
        .iter()
        .flat_map(|record| record.objects.iter().map(|object| object.object_id.clone()))
        .collect();
    objects.sort();
    assert_eq!(
        objects,
        [
            "UA-CERT",
            "principal:UA-CERT/person/auditor",
            "principal:UA-CERT/person/officer",
            "principal:UA-CERT/system/feed"
        ]
    );
    let all_seeded = query_as(
        &hub,
        "INT-HUB",
        "auditor",
        v1::QueryRecordsRequest {
            page_size: 1_000,
            ..seeding
        },
    )
    .await?;
    assert_eq!(all_seeded.len() as u64, hub.start_audit_size());
    let ua = query_as(&hub, "UA-CERT", "auditor", query.clone()).await?;
    assert_eq!(
        methods(ua),
        [
            ("UA-CERT".to_owned(), "IndicatorService/Publish".to_owned()),
            (
                "HU-NNI".to_owned(),
                "IndicatorService/GetIndicator".to_owned()
            ),
        ],
        "Ukraine's auditors see their own action and who read their indicator"
    );
    let hu = query_as(&hub, "HU-NNI", "auditor", query.clone()).await?;
    assert_eq!(
        methods(hu),
        [(
            "HU-NNI".to_owned(),
            "IndicatorService/GetIndicator".to_owned()
        )]
    );
    let everything = v1::QueryRecordsRequest {
        page_size: 1_000,
        ..query
    };
    let oversight = query_as(&hub, "INT-HUB", "auditor", everything).await?;
    assert_eq!(methods(oversight).len(), 3);

    let by_object = v1::QueryRecordsRequest {
        object_id: shared.id.clone(),
        ..v1::QueryRecordsRequest::default()
    };
    let touching = query_as(&hub, "INT-HUB", "auditor", by_object).await?;
    assert_eq!(touching.len(), 2);
    hub.stop().await
}

both!(a_write_whose_audit_record_fails_leaves_no_data);

/// Triggers make every audit insert fail — into the outbox, where a change's record goes
/// with it, and into the log, where a read's record goes: the write fails and stores
/// nothing, and a read releases nothing.
async fn a_write_whose_audit_record_fails_leaves_no_data(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut officer = hub.client("TR-EGM", "officer").await?.indicators();
    let earlier = publish_method(&mut officer, "Sahte yatırım sitesi").await?;
    // The reader fetches its access token now: issuing one is recorded too, and would fail
    // once the fault is in.
    let mut reader = hub.client("RO-IGPR", "officer").await?.indicators();
    reader
        .get_indicator(purposeful(v1::GetIndicatorRequest {
            indicator_id: earlier.id.clone(),
        }))
        .await?;
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

    let failed = officer
        .publish(publish(fraud_method("Kayıtsız yazma")))
        .await
        .expect_err("written without its record");
    assert_eq!(failed.code(), tonic::Code::Internal, "{failed:?}");
    assert!(
        !failed.message().contains("injected"),
        "the cause leaked to the client: {failed:?}"
    );
    assert_eq!(
        hub.store().indicator_count().await?,
        1,
        "the write left data behind"
    );

    let read = reader
        .get_indicator(purposeful(v1::GetIndicatorRequest {
            indicator_id: earlier.id,
        }))
        .await
        .expect_err("a read was released without its record");
    assert_eq!(read.code(), tonic::Code::Internal);
    hub.stop().await
}

both!(inclusion_proofs_verify_for_random_leaves_of_a_10000_record_log);

async fn inclusion_proofs_verify_for_random_leaves_of_a_10000_record_log(
    backend: Backend,
) -> anyhow::Result<()> {
    const SIZE: u64 = 10_000;
    let hub = TestHub::start(backend).await?;
    let records: Vec<Vec<u8>> = (0..SIZE)
        .map(|index| {
            liaison_audit::AuditRecord {
                time_us: 1_764_000_000_000_000 + i64::try_from(index).unwrap_or_default(),
                method: "/liaison.v1.IndicatorService/GetIndicator".into(),
                trace_id: format!("bulk-{index}"),
                justification: Some(format!("Lieta Nr. {index}/2026")),
                ..liaison_audit::AuditRecord::default()
            }
            .seal()
        })
        .collect();
    let now = liaison_core::Timestamp::from_system_time(std::time::SystemTime::now());
    for chunk in records.chunks(1_000) {
        hub.store().append_audit_batch(chunk, now).await?;
    }
    // The bulk follows the records of the hub's start.
    let base = hub.start_audit_size();
    wait_for_checkpoint(&hub, base + SIZE).await?;
    let mut audit = hub.client("INT-HUB", "auditor").await?.audit();
    let key: VerifierKey = audit
        .get_log_keys(v1::GetLogKeysRequest {})
        .await?
        .into_inner()
        .keys[0]
        .verifier_key
        .parse()?;
    let note = audit
        .get_checkpoint(v1::GetCheckpointRequest {})
        .await?
        .into_inner()
        .checkpoint
        .unwrap()
        .signed_note;
    let checkpoint = Checkpoint::verify(&note, &key)?;
    assert!(checkpoint.size() >= base + SIZE);
    // A fixed pseudo-random sequence of leaves (linear congruential), so failures repeat.
    let mut state: u64 = 0x5eed;
    for _ in 0..25 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let index = (state >> 33) % SIZE;
        let proof = audit
            .get_inclusion_proof(v1::GetInclusionProofRequest {
                leaf_index: base + index,
                tree_size: checkpoint.size(),
            })
            .await?
            .into_inner();
        let hashes: Vec<Hash> = proof
            .hashes
            .iter()
            .map(|h| hash(h))
            .collect::<Result<_, _>>()?;
        let leaf = leaf_hash(&Sealed::parse(&records[usize::try_from(index)?]).leaf_data());
        verify_inclusion(
            &leaf,
            base + index,
            checkpoint.size(),
            &hashes,
            checkpoint.root(),
        )?;
        assert!(
            verify_inclusion(
                &leaf,
                base + (index + 1) % SIZE,
                checkpoint.size(),
                &hashes,
                checkpoint.root()
            )
            .is_err()
        );
    }
    hub.stop().await
}
