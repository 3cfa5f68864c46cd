//! The audit writer's append group: records written on their own, grouped, placed at the
//! end of the log under the sequencer's lock, with their object index.

use liaison_store::{AuditQuery, Store};

use crate::database::{now, record};

pub async fn a_group_of_records_gets_consecutive_leaves_and_its_objects(
    store: Store,
) -> anyhow::Result<()> {
    let size = store.audit_size().await?;
    let records: Vec<Vec<u8>> = (0..40)
        .map(|n| {
            record(
                "liaison.v1.IndicatorService/Lookup",
                &format!("obj_{n:02}"),
                "RS-MUP",
                now(),
            )
        })
        .collect();
    // Written at once, they commit in groups (one transaction each).
    let mut writes = tokio::task::JoinSet::new();
    for record in records.clone() {
        let store = store.clone();
        writes.spawn(async move { store.append_audit(&record, now()).await });
    }
    while let Some(written) = writes.join_next().await {
        written??;
    }
    // And a batch, after them.
    store.append_audit_batch(&records[..3], now()).await?;
    assert_eq!(store.audit_size().await?, size + 43);
    let leaves = store.audit_records(size, 100).await?;
    let indexes: Vec<u64> = leaves.iter().map(|leaf| leaf.index).collect();
    assert_eq!(
        indexes,
        (size..size + 43).collect::<Vec<_>>(),
        "no gap, no repeat"
    );
    let mut bodies: Vec<&str> = leaves[..40]
        .iter()
        .map(|leaf| leaf.record.as_str())
        .collect();
    bodies.sort_unstable();
    let mut sent: Vec<String> = records
        .iter()
        .map(|record| String::from_utf8_lossy(record).into_owned())
        .collect();
    sent.sort_unstable();
    assert_eq!(bodies, sent, "each record once");
    let hashes = store.audit_leaf_hashes(size, size + 43).await?;
    for (leaf, hash) in leaves.iter().zip(&hashes) {
        let sealed = liaison_audit::Sealed::parse(leaf.record.as_bytes());
        assert_eq!(*hash, liaison_audit::leaf_hash(&sealed.leaf_data()));
        assert_eq!(leaf.leaf_hash, *hash);
    }
    // The object index names each record's object, with its owner.
    let of_one = store
        .query_audit(&AuditQuery {
            object_id: Some("obj_07".to_owned()),
            owner_agency: Some("RS-MUP".to_owned()),
            limit: 10,
            ..AuditQuery::default()
        })
        .await?;
    assert_eq!(of_one.len(), 1, "{of_one:?}");
    Ok(())
}
