//! `liaisonctl mla upload | download`: evidence files streamed in 1 MiB chunks, their
//! SHA-256 checked on both sides, with a progress bar on a terminal.

use clap::Args;
use liaison_client::{Client, with_purpose};
use liaison_proto::v1;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{
    call::{request_id, required_purpose, text},
    failure::{EXIT_CALL_FAILED, Failure},
    output::{self, OutputFormat, print_json},
    progress::{Progress, Unit},
};

/// `mla upload`.
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// The request (`mla_…`).
    pub id: String,
    /// The file to upload.
    pub file: std::path::PathBuf,
    /// Its IANA media type.
    #[arg(long, default_value = "application/octet-stream")]
    pub media_type: String,
    /// What the file is and how it was obtained (chain of custody).
    #[arg(long)]
    pub description: Option<String>,
    /// The language of the description (BCP 47).
    #[arg(long, default_value = "en")]
    pub lang: String,
}

/// `mla download`.
#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// The evidence file (`evd_…`).
    pub evidence_id: String,
    /// Where to write it; written only once complete and verified.
    #[arg(long)]
    pub out: std::path::PathBuf,
}

/// Uploads a file as evidence, streaming it in 1 MiB chunks with its SHA-256 announced.
pub async fn upload(
    client: &Client,
    format: OutputFormat,
    args: UploadArgs,
) -> Result<(), Failure> {
    use tokio::io::AsyncReadExt;
    use v1::upload_evidence_request::Payload;
    // First pass: the digest the hub must find (it refuses the upload otherwise).
    let (size, sha256) = digest_file(&args.file).await?;
    let file_name = args
        .file
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "evidence".into());
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    let first = v1::UploadEvidenceRequest {
        request_id: request_id(),
        payload: Some(Payload::Metadata(v1::MlaEvidenceUploadMetadata {
            mla_request_id: args.id.clone(),
            file_name,
            media_type: args.media_type.clone(),
            description: args
                .description
                .as_deref()
                .and_then(|d| text(d, &args.lang)),
            size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
            expected_sha256: sha256.clone(),
        })),
    };
    let path = args.file.clone();
    let mut uploading = Progress::new("uploading", size, Unit::Bytes);
    // Second pass, streamed: one chunk in memory at a time. The bar counts what the
    // transport has taken; at most a few chunks wait in between.
    let sending = tokio::spawn(async move {
        if sender.send(first).await.is_err() {
            return;
        }
        let Ok(mut file) = tokio::fs::File::open(&path).await else {
            return;
        };
        let mut buffer = vec![0; 1 << 20];
        let mut sent: u64 = 0;
        while let Ok(read) = file.read(&mut buffer).await {
            if read == 0 {
                break;
            }
            let chunk = v1::UploadEvidenceRequest {
                request_id: String::new(),
                payload: Some(Payload::Chunk(buffer[..read].to_vec())),
            };
            if sender.send(chunk).await.is_err() {
                return;
            }
            sent += read as u64;
            uploading.draw(sent);
        }
        uploading.finish();
    });
    let response = client
        .mla()
        .upload_evidence(tokio_stream::wrappers::ReceiverStream::new(receiver))
        .await
        .map_err(|status| Failure::from_status(client, &status));
    // The bar's last line is written before the result is printed.
    let _ = sending.await;
    let response = response?.into_inner();
    let evidence = response.evidence.unwrap_or_default();
    let receipt = response
        .receipt
        .map(|receipt| receipt.id)
        .unwrap_or_default();
    match format {
        OutputFormat::Json => print_json(&json!({
            "id": evidence.id, "sha256": evidence.sha256, "size_bytes": evidence.size_bytes, "receipt": receipt,
        })),
        OutputFormat::Table => print!(
            "{}",
            output::table(
                &["EVIDENCE", "SIZE", "SHA-256", "RECEIPT"],
                &[vec![
                    evidence.id,
                    evidence.size_bytes.to_string(),
                    evidence.sha256,
                    receipt
                ]]
            )
        ),
    }
    Ok(())
}

/// Downloads an evidence file to `--out`, checking its SHA-256; nothing is left at
/// `--out` unless the whole file arrived and matched.
pub async fn download(
    client: &Client,
    format: OutputFormat,
    purpose: Option<&str>,
    args: DownloadArgs,
) -> Result<(), Failure> {
    use tokio::io::AsyncWriteExt;
    use v1::download_evidence_response::Payload;
    let purpose = required_purpose(purpose, "downloading evidence")?;
    let mut stream = client
        .mla()
        .download_evidence(with_purpose(
            v1::DownloadEvidenceRequest {
                evidence_id: args.evidence_id.clone(),
                offset: 0,
            },
            purpose,
        ))
        .await
        .map_err(|status| Failure::from_status(client, &status))?
        .into_inner();
    let partial = args.out.with_extension("part");
    let unwritable =
        |error: std::io::Error| Failure::usage(format!("{}: {error}", partial.display()));
    let mut file = tokio::fs::File::create(&partial)
        .await
        .map_err(unwritable)?;
    let mut hasher = Sha256::new();
    let (mut expected, mut receipt, mut size) = (String::new(), String::new(), 0u64);
    let mut downloading: Option<Progress> = None;
    loop {
        match stream.message().await {
            Ok(Some(message)) => match message.payload {
                Some(Payload::Metadata(metadata)) => {
                    let total = u64::try_from(metadata.size_bytes).unwrap_or(0);
                    downloading = Some(Progress::new("downloading", total, Unit::Bytes));
                    expected = metadata.sha256;
                }
                Some(Payload::Chunk(chunk)) => {
                    Digest::update(&mut hasher, &chunk);
                    size += chunk.len() as u64;
                    file.write_all(&chunk).await.map_err(unwritable)?;
                    if let Some(bar) = downloading.as_mut() {
                        bar.draw(size);
                    }
                }
                Some(Payload::Receipt(issued)) => receipt = issued.id,
                None => {}
            },
            Ok(None) => break,
            Err(status) => {
                let _ = tokio::fs::remove_file(&partial).await;
                return Err(Failure::from_status(client, &status));
            }
        }
    }
    if let Some(bar) = &downloading {
        bar.finish();
    }
    file.flush().await.map_err(unwritable)?;
    drop(file);
    let sha256 = hex::encode(Digest::finalize(hasher));
    if sha256 != expected {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(Failure::new(
            EXIT_CALL_FAILED,
            "the file received does not match its SHA-256; nothing was kept",
        ));
    }
    tokio::fs::rename(&partial, &args.out)
        .await
        .map_err(unwritable)?;
    match format {
        OutputFormat::Json => print_json(&json!({
            "file": args.out.display().to_string(), "sha256": sha256, "size_bytes": size, "receipt": receipt,
        })),
        OutputFormat::Table => print!(
            "{}",
            output::table(
                &["FILE", "SIZE", "SHA-256", "RECEIPT"],
                &[vec![
                    args.out.display().to_string(),
                    size.to_string(),
                    sha256,
                    receipt
                ]]
            )
        ),
    }
    Ok(())
}

/// The size and SHA-256 (hex) of a file, with a progress bar on a terminal.
async fn digest_file(path: &std::path::Path) -> Result<(u64, String), Failure> {
    use tokio::io::AsyncReadExt;
    let unreadable = |error: std::io::Error| Failure::usage(format!("{}: {error}", path.display()));
    let mut file = tokio::fs::File::open(path).await.map_err(unreadable)?;
    let length = file.metadata().await.map_err(unreadable)?.len();
    let mut hashing = Progress::new("hashing", length, Unit::Bytes);
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 20];
    let mut size: u64 = 0;
    loop {
        let read = file.read(&mut buffer).await.map_err(unreadable)?;
        if read == 0 {
            break;
        }
        Digest::update(&mut hasher, &buffer[..read]);
        size += read as u64;
        hashing.draw(size);
    }
    hashing.finish();
    Ok((size, hex::encode(Digest::finalize(hasher))))
}
