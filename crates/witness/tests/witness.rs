//! Two witnesses over real HTTP: they follow a growing log, refuse a fork and a rewritten
//! history, keep their state across a restart, and a stopped one is reported unreachable.

use std::{sync::Arc, time::Duration};

use liaison_audit::{
    AddCheckpoint, Checkpoint, Cosigner, CosignerKey, Hash, SigningKey, consistency_proof,
    leaf_hash, root,
};
use liaison_witness::{Witness, client, client::SubmitError, server};
use tokio::sync::oneshot;

const ORIGIN: &str = "audit.liaison.example";
const TIMEOUT: Duration = Duration::from_secs(10);

fn log_key() -> SigningKey {
    SigningKey::from_seed(ORIGIN, &[5; 32]).unwrap()
}

fn records(n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("Ієрархія запису № {i}").as_bytes()))
        .collect()
}

fn submission(held: u64, leaves: &[Hash]) -> AddCheckpoint {
    AddCheckpoint {
        old_size: held,
        proof: if held == 0 || held == leaves.len() as u64 {
            Vec::new()
        } else {
            consistency_proof(leaves, held).unwrap()
        },
        checkpoint: Checkpoint::new(ORIGIN, leaves.len() as u64, root(leaves))
            .unwrap()
            .sign(&log_key()),
    }
}

struct Running {
    endpoint: String,
    key: CosignerKey,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(name: &str, seed: u8, state: &std::path::Path) -> Running {
    let cosigner = Cosigner::new(SigningKey::from_seed(name, &[seed; 32]).unwrap());
    let witness =
        Arc::new(Witness::new(cosigner, vec![log_key().verifier_key()], state.into()).unwrap());
    let key = witness.verifier();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server::serve(listener, witness, async {
        let _ = stopped.await;
    }));
    Running {
        endpoint,
        key,
        stop,
        task,
    }
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

/// The checkpoint note with the witness's answer appended, as the hub serves it.
async fn cosigned(witness: &Running, request: &AddCheckpoint) -> Result<String, SubmitError> {
    let lines = client::add_checkpoint(&witness.endpoint, request, TIMEOUT).await?;
    Ok(format!("{}{lines}", request.checkpoint))
}

#[tokio::test]
async fn witnesses_cosign_a_growing_log_and_refuse_a_fork() {
    let dir = tempfile::tempdir().unwrap();
    let ua = start("witness.cert.gov.ua/liaison", 1, &dir.path().join("ua")).await;
    let rs = start("witness.mup.gov.rs/liaison", 2, &dir.path().join("rs")).await;
    let history = records(700);

    for witness in [&ua, &rs] {
        let note = cosigned(witness, &submission(0, &history[..300]))
            .await
            .unwrap();
        assert!(witness.key.verify_note(&note).is_ok(), "{note}");
        let note = cosigned(witness, &submission(300, &history)).await.unwrap();
        assert!(witness.key.verify_note(&note).is_ok(), "{note}");
        // The same checkpoint again is cosigned again.
        assert!(cosigned(witness, &submission(700, &history)).await.is_ok());
    }
    // Cosignatures of one witness do not pass for the other's.
    let note = cosigned(&ua, &submission(700, &history)).await.unwrap();
    assert!(rs.key.verify_note(&note).is_err());

    // The operator rewrites one record and signs the new history with the log's key.
    let mut forked = history.clone();
    forked[123] = leaf_hash(b"rewritten");
    forked.extend(records(710)[700..].iter().copied());
    for witness in [&ua, &rs] {
        let refused = cosigned(witness, &submission(700, &forked)).await;
        assert!(
            matches!(refused, Err(SubmitError::Refused { status: 422, .. })),
            "{refused:?}"
        );
        // Pretending to start over is a conflict, naming what the witness holds.
        let refused = cosigned(witness, &submission(0, &forked)).await;
        assert_eq!(refused, Err(SubmitError::Conflict(700)));
        // The forked tree at the held size is another root.
        let refused = cosigned(witness, &submission(700, &forked[..700])).await;
        assert!(
            matches!(refused, Err(SubmitError::Refused { status: 409, .. })),
            "{refused:?}"
        );
    }
    // The refused requests are kept as evidence.
    let evidence = std::fs::read_to_string(dir.path().join("ua/refused.jsonl")).unwrap();
    assert_eq!(evidence.lines().count(), 2);

    // A witness restarted keeps what it cosigned.
    ua.stop().await;
    let ua = start("witness.cert.gov.ua/liaison", 1, &dir.path().join("ua")).await;
    assert_eq!(
        cosigned(&ua, &submission(0, &history)).await,
        Err(SubmitError::Conflict(700))
    );
    let longer = [history.clone(), records(800)[700..].to_vec()].concat();
    assert!(cosigned(&ua, &submission(700, &longer)).await.is_ok());

    // A witness that is down is unreachable, not a refusal.
    let endpoint = rs.endpoint.clone();
    rs.stop().await;
    let down = client::add_checkpoint(&endpoint, &submission(700, &longer), TIMEOUT).await;
    assert!(matches!(down, Err(SubmitError::Unreachable(_))), "{down:?}");
    ua.stop().await;
}

#[tokio::test]
async fn the_door_refuses_what_is_not_a_submission() {
    let dir = tempfile::tempdir().unwrap();
    let witness = start("witness.example", 3, dir.path()).await;
    let unsigned = AddCheckpoint {
        checkpoint: Checkpoint::new(ORIGIN, 1, root(&records(1)))
            .unwrap()
            .sign(&SigningKey::from_seed(ORIGIN, &[6; 32]).unwrap()),
        ..submission(0, &records(1))
    };
    let refused = cosigned(&witness, &unsigned).await;
    assert!(
        matches!(refused, Err(SubmitError::Refused { status: 403, .. })),
        "{refused:?}"
    );
    let other_log = AddCheckpoint {
        checkpoint: Checkpoint::new("other.example", 1, root(&records(1)))
            .unwrap()
            .sign(&SigningKey::from_seed("other.example", &[5; 32]).unwrap()),
        ..submission(0, &records(1))
    };
    let refused = cosigned(&witness, &other_log).await;
    assert!(
        matches!(refused, Err(SubmitError::Refused { status: 404, .. })),
        "{refused:?}"
    );
    // An oversized body is refused before it is read whole.
    let huge = AddCheckpoint {
        checkpoint: format!(
            "{}{}",
            submission(0, &records(1)).checkpoint,
            "x".repeat(70_000)
        ),
        ..submission(0, &records(1))
    };
    let refused = cosigned(&witness, &huge).await;
    assert!(
        matches!(refused, Err(SubmitError::Refused { status: 413, .. })),
        "{refused:?}"
    );
    witness.stop().await;
}
