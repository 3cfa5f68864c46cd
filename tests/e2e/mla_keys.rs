//! A separate receipt signing key (`--receipt-key`): after a restart with one, new
//! receipts are signed with it, and the key that signed the earlier receipts (the audit
//! key's material, the default) is still published, as retired, so they still verify.

use liaison_proto::v1;
use liaison_testkit::{Backend, TestHub, both};

use crate::mla::{create, get, officer, preservation_content, submit, verify};

both!(receipts_move_to_their_own_key_and_old_ones_still_verify);

async fn keys(hub: &TestHub) -> anyhow::Result<Vec<v1::MlaReceiptKey>> {
    Ok(officer(hub, "UA-CERT")
        .await?
        .get_receipt_keys(v1::GetReceiptKeysRequest {})
        .await?
        .into_inner()
        .keys)
}

async fn receipts_move_to_their_own_key_and_old_ones_still_verify(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let default_keys = keys(&hub).await?;
    assert_eq!(default_keys.len(), 1);
    let mut ua = officer(&hub, "UA-CERT").await?;
    let draft = create(&mut ua, preservation_content("RS-MUP")).await?;
    let before = submit(&mut ua, &draft.id)
        .await?
        .receipt
        .expect("a submission receipt");
    assert_eq!(before.key_id, default_keys[0].key_id);

    let key_file = hub.data_dir().join("mla-receipts.key");
    liaison_pki::write_audit_key(&key_file)?;
    let hub = hub
        .restart_with(|config| config.receipt_key = Some(key_file))
        .await?;
    let published = keys(&hub).await?;
    assert_eq!(published.len(), 2, "{published:?}");
    let (current, retired) = (&published[0], &published[1]);
    assert!(
        current.retire_time.is_none(),
        "the first key is the current one"
    );
    assert_ne!(current.key_id, before.key_id);
    assert_ne!(current.public_key, retired.public_key);
    assert_eq!(retired.key_id, before.key_id);
    assert!(retired.retire_time.is_some(), "the default key is retired");
    let statement = verify(&before, &published)?;
    assert_eq!(statement.mla_request_id, draft.id);

    // The first retrieval's receipt is signed with the new key (new port: new clients).
    let mut ua = officer(&hub, "UA-CERT").await?;
    let mut rs = officer(&hub, "RS-MUP").await?;
    get(&mut rs, &draft.id).await?;
    let receipts = ua
        .list_receipts(v1::ListReceiptsRequest {
            mla_request_id: draft.id.clone(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .receipts;
    let retrieval = receipts
        .iter()
        .find(|receipt| {
            verify(receipt, &published)
                .is_ok_and(|statement| statement.kind == v1::MlaReceiptKind::Retrieval as i32)
        })
        .expect("a verified retrieval receipt");
    assert_eq!(retrieval.key_id, current.key_id);
    hub.stop().await
}
