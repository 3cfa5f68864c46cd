//! Witnesses the agencies run: two `liaison-witness` servers named in the federation file
//! cosign the hub's checkpoints; the hub serves them with the checkpoint; a forked
//! history signed with the hub's own key gets no cosignature from either; a witness that
//! is down lowers the count and the others go on.

use std::sync::Arc;

use liaison_audit::{
    AddCheckpoint, Checkpoint, Cosigner, CosignerKey, SigningKey, consistency_proof, leaf_hash,
    root,
};
use liaison_proto::v1;
use liaison_testkit::{Backend, EXAMPLE_FEDERATION, TestHub, both};
use liaison_witness::{Witness, client, client::SubmitError, server};
use tokio::{net::TcpListener, sync::oneshot};

use crate::support::{PATIENCE, eventually};

both!(agency_witnesses_cosign_checkpoints_and_refuse_a_fork);

/// A witness whose listener is bound before the hub starts (so the federation file can
/// name it) and that serves once it knows the hub's log key.
struct Peer {
    name: &'static str,
    agency: &'static str,
    cosigner: Option<Cosigner>,
    listener: Option<TcpListener>,
    endpoint: String,
    key: CosignerKey,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    state: tempfile::TempDir,
}

impl Peer {
    async fn bind(name: &'static str, agency: &'static str, seed: u8) -> anyhow::Result<Self> {
        let cosigner = Cosigner::new(SigningKey::from_seed(name, &[seed; 32])?);
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        Ok(Self {
            name,
            agency,
            endpoint: format!("http://{}", listener.local_addr()?),
            key: cosigner.verifier(),
            cosigner: Some(cosigner),
            listener: Some(listener),
            stop: None,
            task: None,
            state: tempfile::tempdir()?,
        })
    }

    fn federation_entry(&self) -> String {
        format!(
            "\n[[witnesses]]\nagency = \"{}\"\nkey = \"{}\"\nendpoint = \"{}\"\n",
            self.agency, self.key, self.endpoint
        )
    }

    fn serve(&mut self, log_key: liaison_audit::VerifierKey) -> anyhow::Result<()> {
        let witness = Witness::new(
            self.cosigner.take().expect("served once"),
            vec![log_key],
            self.state.path().to_owned(),
        )?;
        let (stop, stopped) = oneshot::channel::<()>();
        self.task = Some(tokio::spawn(server::serve(
            self.listener.take().expect("served once"),
            Arc::new(witness),
            async {
                let _ = stopped.await;
            },
        )));
        self.stop = Some(stop);
        Ok(())
    }

    /// Stops the witness: once this returns it accepts no more submissions.
    async fn stop(&mut self) -> anyhow::Result<()> {
        let _ = self.stop.take().expect("running").send(());
        self.task.take().expect("running").await??;
        Ok(())
    }
}

/// The latest checkpoint the hub serves, once it carries a valid cosignature from every
/// witness of `want` (and returns it), as an auditor's client sees it.
async fn cosigned_by(hub: &TestHub, want: &[&Peer]) -> anyhow::Result<String> {
    let auditor = hub.client("INT-HUB", "auditor").await?;
    eventually(
        "the checkpoint was not cosigned by every witness",
        || async {
            let note = auditor
                .audit()
                .get_checkpoint(v1::GetCheckpointRequest {})
                .await?
                .into_inner()
                .checkpoint
                .ok_or_else(|| anyhow::anyhow!("no checkpoint"))?
                .signed_note;
            for peer in want {
                peer.key
                    .verify_note(&note)
                    .map_err(|error| anyhow::anyhow!("{}: {error}", peer.name))?;
            }
            Ok(note)
        },
    )
    .await
}

async fn agency_witnesses_cosign_checkpoints_and_refuse_a_fork(
    backend: Backend,
) -> anyhow::Result<()> {
    let mut ua = Peer::bind("witness.cert.gov.ua/liaison", "UA-CERT", 11).await?;
    let mut rs = Peer::bind("witness.mup.gov.rs/liaison", "RS-MUP", 12).await?;
    let federation = format!(
        "{EXAMPLE_FEDERATION}{}{}",
        ua.federation_entry(),
        rs.federation_entry()
    );
    let hub = TestHub::builder(backend)
        .federation(&federation)
        .start()
        .await?;
    let log_key = SigningKey::from_pkcs8(
        "liaison.example/audit",
        &std::fs::read(&hub.pki().audit_key)?,
    )?;
    ua.serve(log_key.verifier_key())?;
    rs.serve(log_key.verifier_key())?;

    // Calls make records, records make checkpoints, and both witnesses cosign them.
    let feed = hub.client("UA-CERT", "feed").await?;
    feed.directory().who_am_i(v1::WhoAmIRequest {}).await?;
    let note = cosigned_by(&hub, &[&ua, &rs]).await?;
    let first = Checkpoint::verify(&note, &log_key.verifier_key())?;
    // The log keeps growing; the witnesses follow it by consistency proofs.
    feed.directory().who_am_i(v1::WhoAmIRequest {}).await?;
    let later = eventually("no larger cosigned checkpoint", || async {
        let note = cosigned_by(&hub, &[&ua, &rs]).await?;
        let checkpoint = Checkpoint::verify(&note, &log_key.verifier_key())?;
        anyhow::ensure!(checkpoint.size() > first.size(), "not yet");
        Ok(checkpoint)
    })
    .await?;

    // A history rewritten by whoever holds the hub's key: same key, another tree. Neither
    // witness cosigns it, whether it claims to extend what they hold or to start over.
    let forged: Vec<_> = (0..later.size() + 5)
        .map(|i| leaf_hash(format!("переписано {i}").as_bytes()))
        .collect();
    let fork = Checkpoint::new("liaison.example/audit", forged.len() as u64, root(&forged))?
        .sign(&log_key);
    for peer in [&ua, &rs] {
        let held = eventually("the witness did not report its size", || async {
            let probe = AddCheckpoint {
                old_size: 0,
                proof: Vec::new(),
                checkpoint: fork.clone(),
            };
            match client::add_checkpoint(&peer.endpoint, &probe, PATIENCE).await {
                Err(SubmitError::Conflict(size)) => Ok(size),
                other => anyhow::bail!("{other:?}"),
            }
        })
        .await?;
        assert!(held >= later.size(), "{}: holds {held}", peer.name);
        let extending = AddCheckpoint {
            old_size: held,
            proof: consistency_proof(&forged, held)?,
            checkpoint: fork.clone(),
        };
        let refused = client::add_checkpoint(&peer.endpoint, &extending, PATIENCE).await;
        assert!(
            matches!(refused, Err(SubmitError::Refused { status: 422, .. })),
            "{}: {refused:?}",
            peer.name
        );
    }

    // RS-MUP's witness goes down: UA-CERT's still cosigns new checkpoints, RS-MUP's
    // cosignature is missing from them, and the hub goes on serving.
    rs.stop().await?;
    // A checkpoint larger than the log is now was signed after the stop.
    let before = hub.store().audit_size().await?;
    feed.directory().who_am_i(v1::WhoAmIRequest {}).await?;
    let note = eventually("no checkpoint past the witness's stop", || async {
        let note = cosigned_by(&hub, &[&ua]).await?;
        let checkpoint = Checkpoint::verify(&note, &log_key.verifier_key())?;
        anyhow::ensure!(checkpoint.size() > before, "not yet");
        Ok(note)
    })
    .await?;
    assert!(
        rs.key.verify_note(&note).is_err(),
        "a stopped witness cosigned: {note}"
    );
    ua.stop().await?;
    hub.stop().await
}
