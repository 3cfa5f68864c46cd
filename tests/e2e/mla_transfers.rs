//! Large and slow evidence transfers through a real hub over mutual TLS, on both
//! databases.
//!
//! A 1 GiB file is uploaded through `UploadEvidence` and downloaded through
//! `DownloadEvidence`, its SHA-256 checked both ways, while the test process — hub and
//! client alike, since the hub runs in it — grows by less than [`MEMORY_BOUND`]. A hub
//! (or client) that buffered the file would grow by a gibibyte and fail. The file is
//! never held anywhere but on the hub's disk: the client generates it chunk by chunk from
//! a seed and hashes what it sends and what it receives.
//!
//! An upload slower than the hub's call cap still completes, as long as each message
//! comes within the cap; one that stalls ends DEADLINE_EXCEEDED.

use std::time::{Duration, Instant};

use liaison_proto::v1;
use liaison_testkit::{Backend, Limits, TestHub, both};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;

use crate::mla::{PURPOSE, create, get, officer, preservation_content, rid, submit, text};

both!(
    a_gibibyte_of_evidence_streams_through_in_bounded_memory,
    a_slow_upload_outlasts_the_call_cap_and_a_stalled_one_ends,
);

/// The file's size: 1 GiB.
const FILE_BYTES: u64 = 1 << 30;
/// The client's chunk size, the largest the hub accepts.
const CHUNK_BYTES: usize = 1 << 20;
/// How much the process's peak resident memory may exceed its resident memory before the
/// transfers. What the transfers legitimately hold is a few chunks in channels, hyper's
/// buffers and the TLS records: single megabytes.
const MEMORY_BOUND: u64 = 64 << 20;

/// Chunk `index` of the file: a fixed pseudo-random megabyte with the chunk's index
/// written over its first eight bytes, so that no two chunks are equal and a chunk lost,
/// repeated or reordered changes the digest.
fn chunk(base: &[u8], index: u64) -> Vec<u8> {
    let mut chunk = base.to_vec();
    chunk[..8].copy_from_slice(&index.to_le_bytes());
    chunk
}

/// The fixed megabyte: a xorshift64 sequence from a fixed seed.
fn base_chunk() -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut bytes = Vec::with_capacity(CHUNK_BYTES);
    while bytes.len() < CHUNK_BYTES {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes
}

/// A field of `/proc/self/status` in bytes (`VmRSS`, `VmHWM`: the resident set now and
/// its peak since the process started).
fn memory(field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|line| line.starts_with(field))
        .ok_or_else(|| anyhow::anyhow!("no {field} in /proc/self/status"))?;
    let kib: u64 = line
        .trim_start_matches(field)
        .trim_start_matches(':')
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kib * 1024)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

async fn a_gibibyte_of_evidence_streams_through_in_bounded_memory(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut ua = officer(&hub, "UA-CERT").await?;
    let mut rs = officer(&hub, "RS-MUP").await?;
    let draft = create(&mut ua, preservation_content("RS-MUP")).await?;
    submit(&mut ua, &draft.id).await?;
    get(&mut rs, &draft.id).await?;
    let base = base_chunk();
    let before = memory("VmRSS")?;

    // Upload: a task generates the chunks into a channel of two and hashes what it sends.
    let started = Instant::now();
    let (sender, receiver) = mpsc::channel(2);
    let mla_request_id = draft.id.clone();
    let generator = tokio::spawn(async move {
        use v1::upload_evidence_request::Payload;
        let metadata = v1::UploadEvidenceRequest {
            request_id: rid(),
            payload: Some(Payload::Metadata(v1::MlaEvidenceUploadMetadata {
                mla_request_id,
                file_name: "disk-image.raw".into(),
                media_type: "application/octet-stream".into(),
                description: text("Образ диска сервера", "uk"),
                size_bytes: FILE_BYTES as i64,
                expected_sha256: String::new(),
            })),
        };
        if sender.send(metadata).await.is_err() {
            return None;
        }
        let mut hasher = Sha256::new();
        for index in 0..FILE_BYTES / CHUNK_BYTES as u64 {
            let bytes = chunk(&base, index);
            hasher.update(&bytes);
            let message = v1::UploadEvidenceRequest {
                request_id: String::new(),
                payload: Some(Payload::Chunk(bytes)),
            };
            if sender.send(message).await.is_err() {
                return None;
            }
        }
        Some(hex::encode(hasher.finalize()))
    });
    let uploaded = rs
        .upload_evidence(ReceiverStream::new(receiver))
        .await?
        .into_inner();
    let sent = generator.await?.expect("the upload took every chunk");
    let upload_time = started.elapsed();
    let evidence = uploaded.evidence.expect("evidence");
    assert_eq!(evidence.sha256, sent, "the hub hashed what the client sent");
    assert_eq!(evidence.size_bytes as u64, FILE_BYTES);
    let stored = hub.data_dir().join("evidence").join(&sent[..2]).join(&sent);
    assert_eq!(std::fs::metadata(&stored)?.len(), FILE_BYTES);

    // Download by the other party, hashing as the chunks arrive and keeping none.
    let started = Instant::now();
    let mut stream = ua
        .download_evidence(liaison_client::with_purpose(
            v1::DownloadEvidenceRequest {
                evidence_id: evidence.id.clone(),
                offset: 0,
            },
            PURPOSE,
        ))
        .await?
        .into_inner();
    let (mut hasher, mut received, mut receipt) = (Sha256::new(), 0_u64, None);
    while let Some(message) = stream.message().await? {
        use v1::download_evidence_response::Payload;
        match message.payload {
            Some(Payload::Chunk(bytes)) => {
                received += bytes.len() as u64;
                hasher.update(&bytes);
            }
            Some(Payload::Receipt(issued)) => receipt = Some(issued),
            _ => {}
        }
    }
    let download_time = started.elapsed();
    assert_eq!(received, FILE_BYTES);
    assert_eq!(
        hex::encode(hasher.finalize()),
        sent,
        "the client got the bytes it sent"
    );
    let receipt = receipt.expect("a retrieval receipt");
    let statement =
        <v1::MlaReceiptStatement as prost::Message>::decode(receipt.statement.as_slice())?;
    assert_eq!(statement.evidence[0].sha256, sent);

    let peak = memory("VmHWM")?;
    let growth = peak.saturating_sub(before);
    eprintln!(
        "1 GiB evidence ({backend:?}): upload {upload_time:.1?}, download {download_time:.1?}; \
         resident before {:.1} MiB, peak {:.1} MiB, growth {:.1} MiB",
        mib(before),
        mib(peak),
        mib(growth),
    );
    assert!(
        growth < MEMORY_BOUND,
        "the process grew by {:.1} MiB moving 1 GiB (bound {:.0} MiB): something buffered the file",
        mib(growth),
        mib(MEMORY_BOUND),
    );
    hub.stop().await
}

/// The metadata message of an upload of `size_bytes` to request `id`.
fn metadata(id: &str, size_bytes: i64) -> v1::UploadEvidenceRequest {
    v1::UploadEvidenceRequest {
        request_id: rid(),
        payload: Some(v1::upload_evidence_request::Payload::Metadata(
            v1::MlaEvidenceUploadMetadata {
                mla_request_id: id.into(),
                file_name: "slow-line.bin".into(),
                media_type: "application/octet-stream".into(),
                description: text("Over a slow line", "en"),
                size_bytes,
                expected_sha256: String::new(),
            },
        )),
    }
}

async fn a_slow_upload_outlasts_the_call_cap_and_a_stalled_one_ends(
    backend: Backend,
) -> anyhow::Result<()> {
    const CAP: Duration = Duration::from_secs(2);
    let limits = Limits {
        max_call_duration: CAP,
        ..TestHub::default_limits()
    };
    let hub = TestHub::builder(backend).limits(limits).start().await?;
    let mut ua = officer(&hub, "UA-CERT").await?;
    let mut rs = officer(&hub, "RS-MUP").await?;
    let draft = create(&mut ua, preservation_content("RS-MUP")).await?;
    submit(&mut ua, &draft.id).await?;
    get(&mut rs, &draft.id).await?;

    // Six chunks half a second apart: 3 s in all, longer than the 2 s cap, but never
    // 2 s without a message. (The pauses are the slow line being simulated.)
    let (sender, receiver) = mpsc::channel(1);
    let id = draft.id.clone();
    let line = tokio::spawn(async move {
        sender.send(metadata(&id, 6)).await?;
        for byte in 0..6_u8 {
            // A slow line (wall-clock on purpose: pacing is what is tested).
            tokio::time::sleep(CAP / 4).await;
            sender
                .send(v1::UploadEvidenceRequest {
                    request_id: String::new(),
                    payload: Some(v1::upload_evidence_request::Payload::Chunk(vec![byte])),
                })
                .await?;
        }
        anyhow::Ok(())
    });
    let started = Instant::now();
    let uploaded = rs
        .upload_evidence(ReceiverStream::new(receiver))
        .await?
        .into_inner();
    line.await??;
    assert!(started.elapsed() > CAP, "the upload did outlast the cap");
    let evidence = uploaded.evidence.expect("evidence");
    assert_eq!(
        evidence.sha256,
        hex::encode(Sha256::digest([0, 1, 2, 3, 4, 5]))
    );

    // The metadata, then nothing: the hub gives up after the cap, stores nothing, and
    // says why.
    let (sender, receiver) = mpsc::channel(1);
    sender.send(metadata(&draft.id, 6)).await?;
    let started = Instant::now();
    let status = rs
        .upload_evidence(ReceiverStream::new(receiver))
        .await
        .expect_err("a stalled upload succeeded");
    drop(sender);
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(status.message().contains("no message within"), "{status:?}");
    assert!(started.elapsed() >= CAP);
    let listed = ua
        .list_evidence(v1::ListEvidenceRequest {
            mla_request_id: draft.id.clone(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .evidence;
    assert_eq!(listed.len(), 1, "only the slow upload was stored");
    hub.stop().await
}
