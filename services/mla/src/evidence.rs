//! Evidence files: uploaded as a client stream (metadata, then chunks), hashed with
//! SHA-256 as they arrive and stored content-addressed (`<evidence-dir>/<ab>/<sha256>`);
//! downloaded as a server stream that re-hashes the stored file and ends with DATA_LOSS if
//! it no longer matches. Each upload and each first retrieval by the other party gets a
//! signed receipt. Memory per transfer is one chunk: nothing buffers a whole file.
//!
//! An upload is not capped as a whole (a 1 GiB file takes as long as the line needs):
//! each message must arrive within the hub's call cap instead (`upload_idle`). It must fit
//! the request's and the agency's quotas and leave the filesystem its free-space reserve
//! ([`crate::EvidenceQuota`]), checked before any byte is written and while it streams.
//!
//! A download from the start hashes every byte it sends. One from an offset trusts an
//! earlier check of the same file (same size, modification time and inode) and reads
//! only what it sends; without one it hashes the whole file first. A download from the
//! end sends the metadata only and reads nothing.

use std::path::{Path, PathBuf};

use liaison_audit::{Access, ObjectAccess};
use liaison_core::{
    ObjectId,
    mla::{MlaState, Side},
};
use liaison_proto::{domain::principal_ref, methods, v1};
use liaison_rpc::{ServiceError, next_within, request_id, to_timestamp};
use liaison_store::{MlaEvidenceRow, MlaWriteOutcome};
use prost::Message;
use sha2::{Digest, Sha256};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    sync::mpsc,
};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming, codegen::BoxStream};

use crate::{
    MlaServiceImpl,
    convert::decode_document,
    receipts::ReceiptKind,
    workflow::{Call, parse_id, side_of},
};

/// Largest evidence file accepted.
const MAX_FILE_BYTES: u64 = 4 << 30;
/// Largest chunk of an upload.
const MAX_CHUNK_BYTES: usize = 1 << 20;
/// Chunk size of a download.
const DOWNLOAD_CHUNK_BYTES: usize = 256 << 10;
/// How often an upload checks the free space again, in bytes received.
const FREE_SPACE_EVERY_BYTES: u64 = 64 << 20;
/// Verified files remembered; the memory is cleared when full.
const VERIFIED_MAX: usize = 4096;

/// What identifies a stored file's state: a file whose digest was checked and whose
/// stamp has not changed since need not be hashed again for a download from an offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileStamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    inode: u64,
}

impl FileStamp {
    fn of(metadata: &std::fs::Metadata) -> Self {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(metadata);
        #[cfg(not(unix))]
        let inode = 0;
        Self {
            len: metadata.len(),
            modified: metadata.modified().ok(),
            inode,
        }
    }
}

/// Refused for lack of room: the filesystem would keep less than its reserve.
fn no_room() -> ServiceError {
    ServiceError::ResourceExhausted(
        "the hub's evidence storage has no room for this file now; nothing was stored \
         (ask the hub operator)"
            .into(),
    )
}

/// Where the bytes with `sha256` are stored.
fn stored_path(dir: &Path, sha256: &str) -> PathBuf {
    dir.join(&sha256[..2]).join(sha256)
}

fn storage_error(error: std::io::Error) -> ServiceError {
    tracing::error!(%error, "evidence storage failed");
    ServiceError::Store(liaison_store::StoreError::Corrupt(
        "evidence storage failed".into(),
    ))
}

/// Removes a partial upload unless it was kept.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

pub(crate) fn evidence_to_proto(row: &MlaEvidenceRow) -> Result<v1::MlaEvidence, ServiceError> {
    let mut evidence = v1::MlaEvidence::decode(row.document.as_slice()).map_err(|_| {
        ServiceError::Store(liaison_store::StoreError::Corrupt(format!(
            "evidence {}",
            row.id
        )))
    })?;
    evidence.first_retrieve_time = row.first_retrieved.map(to_timestamp);
    Ok(evidence)
}

fn check_metadata(metadata: &v1::MlaEvidenceUploadMetadata) -> Result<(), ServiceError> {
    let mut violations = liaison_core::Violations::new();
    let name = &metadata.file_name;
    if name.trim().is_empty()
        || name.chars().count() > 255
        || name.contains(['/', '\\', '\0'])
        || name == ".."
    {
        violations.add(
            "metadata.file_name",
            "a file name without a path, at most 255 characters",
        );
    }
    if metadata.media_type.trim().is_empty() || !metadata.media_type.contains('/') {
        violations.add(
            "metadata.media_type",
            "an IANA media type, such as application/pdf",
        );
    }
    if metadata.size_bytes < 0 {
        violations.add("metadata.size_bytes", "must not be negative");
    }
    let expected = &metadata.expected_sha256;
    if !expected.is_empty()
        && (expected.len() != 64
            || !expected
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
    {
        violations.add("metadata.expected_sha256", "64 lowercase hex digits");
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(violations.into())
    }
}

impl MlaServiceImpl {
    pub(crate) async fn upload(
        &self,
        call: &Call,
        mut stream: Streaming<v1::UploadEvidenceRequest>,
    ) -> Result<v1::UploadEvidenceResponse, Status> {
        const METHOD: &str = methods::MLA_UPLOAD_EVIDENCE;
        let first = next_within(&mut stream, self.upload_idle)
            .await?
            .unwrap_or_default();
        request_id(&first.request_id, "request_id")?;
        let Some(v1::upload_evidence_request::Payload::Metadata(metadata)) = first.payload else {
            return Err(ServiceError::invalid(
                "metadata",
                "the first message carries the metadata",
            )
            .into());
        };
        check_metadata(&metadata)?;
        let id = parse_id(&metadata.mla_request_id, "metadata.mla_request_id")?;
        if metadata.size_bytes as u64 > MAX_FILE_BYTES {
            return Err(ServiceError::ResourceExhausted(format!(
                "evidence files are at most {MAX_FILE_BYTES} bytes"
            ))
            .into());
        }
        let record = self.load_visible(call, &id, false).await?;
        if side_of(&call.caller, &record).is_none() {
            return Err(ServiceError::NotFound("mla request").into());
        }
        if matches!(
            record.status.state,
            MlaState::Draft | MlaState::Closed | MlaState::Refused | MlaState::Withdrawn
        ) {
            return Err(ServiceError::FailedPrecondition(format!(
                "no evidence on a request that is {}",
                record.status.state
            ))
            .into());
        }
        if let Some((method, object)) = self
            .store
            .earlier_request(call.caller.principal(), &first.request_id)
            .await
            .map_err(ServiceError::from)?
        {
            if method != METHOD {
                return Err(
                    ServiceError::from(liaison_store::StoreError::RequestIdReused(method)).into(),
                );
            }
            let row = self
                .store
                .get_mla_evidence(&object)
                .await
                .map_err(ServiceError::from)?
                .ok_or(ServiceError::NotFound("evidence"))?;
            call.audit
                .touch(&row.id, Access::Read, Some(&row.uploader_agency));
            call.audit.commit_read(&self.store).await?;
            return Ok(v1::UploadEvidenceResponse {
                evidence: Some(evidence_to_proto(&row)?),
                receipt: None,
            });
        }

        let announced = u64::try_from(metadata.size_bytes).unwrap_or(0);
        let room = self.quota_room(&record.id, call, announced).await?;
        // Stream the bytes to a temporary file, hashing as they come.
        let temp_dir = self.evidence_dir.join("tmp");
        tokio::fs::create_dir_all(&temp_dir)
            .await
            .map_err(storage_error)?;
        self.check_free_space(announced)?;
        let temp_path = temp_dir.join(ObjectId::generate("tmp").as_str());
        let mut temp = TempFile(Some(temp_path.clone()));
        let mut file = tokio::fs::File::create(&temp_path)
            .await
            .map_err(storage_error)?;
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let limit = if metadata.size_bytes > 0 {
            metadata.size_bytes as u64
        } else {
            MAX_FILE_BYTES
        };
        let mut next_free_check = FREE_SPACE_EVERY_BYTES;
        while let Some(message) = next_within(&mut stream, self.upload_idle).await? {
            let Some(v1::upload_evidence_request::Payload::Chunk(chunk)) = message.payload else {
                return Err(
                    ServiceError::invalid("chunk", "after the metadata, only chunks").into(),
                );
            };
            if chunk.len() > MAX_CHUNK_BYTES {
                return Err(ServiceError::invalid("chunk", "at most 1 MiB per message").into());
            }
            size += chunk.len() as u64;
            if size > limit {
                return Err(if limit == MAX_FILE_BYTES {
                    ServiceError::ResourceExhausted(format!(
                        "evidence files are at most {MAX_FILE_BYTES} bytes"
                    ))
                } else {
                    ServiceError::invalid("metadata.size_bytes", "more bytes than announced")
                }
                .into());
            }
            if size > room {
                return Err(ServiceError::ResourceExhausted(
                    "the file is larger than the evidence quota leaves; nothing was stored".into(),
                )
                .into());
            }
            if size >= next_free_check {
                next_free_check = size + FREE_SPACE_EVERY_BYTES;
                self.check_free_space(FREE_SPACE_EVERY_BYTES)?;
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await.map_err(storage_error)?;
        }
        file.flush().await.map_err(storage_error)?;
        file.sync_all().await.map_err(storage_error)?;
        drop(file);
        let sha256 = hex::encode(hasher.finalize());
        if metadata.size_bytes > 0 && size != metadata.size_bytes as u64 {
            return Err(
                ServiceError::invalid("metadata.size_bytes", "fewer bytes than announced").into(),
            );
        }
        if !metadata.expected_sha256.is_empty() && metadata.expected_sha256 != sha256 {
            return Err(ServiceError::DataLoss(
                "the file received does not have the SHA-256 announced; nothing was stored".into(),
            )
            .into());
        }
        // Uploads running at once were checked against the same usage: check again.
        self.quota_room(&record.id, call, size).await?;
        let path = stored_path(&self.evidence_dir, &sha256);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(storage_error)?;
        }
        if tokio::fs::try_exists(&path).await.map_err(storage_error)? {
            // The same bytes are stored already: content addressing keeps one copy.
        } else {
            tokio::fs::rename(&temp_path, &path)
                .await
                .map_err(storage_error)?;
            temp.0 = None;
        }

        let now = self.clock.now();
        let evidence = v1::MlaEvidence {
            id: ObjectId::generate(ObjectId::MLA_EVIDENCE).to_string(),
            mla_request_id: record.id.to_string(),
            uploader: Some(principal_ref(call.caller.principal())),
            file_name: metadata.file_name,
            media_type: metadata.media_type,
            size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
            sha256: sha256.clone(),
            description: metadata.description,
            create_time: Some(to_timestamp(now)),
            first_retrieve_time: None,
        };
        let document = decode_document(&record)?;
        let (receipt_row, receipt) = self.receipts.issue_with_evidence(
            ReceiptKind::EvidenceSubmission,
            &document,
            &record.id,
            record.status.state,
            call.caller.principal(),
            now,
            vec![v1::MlaEvidenceDigest {
                evidence_id: evidence.id.clone(),
                sha256: sha256.clone(),
            }],
        );
        let row = MlaEvidenceRow {
            id: evidence.id.clone(),
            request_id: record.id.clone(),
            uploader_agency: call.caller.agency().clone(),
            sha256,
            size_bytes: evidence.size_bytes,
            document: evidence.encode_to_vec(),
            created: now,
            first_retrieved: None,
        };
        // The request is the requesting agency's; the file is the uploader's, whose
        // auditors then see every access to it.
        let audit_record = call.audit.write_record_of([
            ObjectAccess::new(
                record.id.to_string(),
                Access::Write,
                Some(record.requesting.to_string()),
            ),
            ObjectAccess::new(
                row.id.clone(),
                Access::Write,
                Some(row.uploader_agency.to_string()),
            ),
        ]);
        match self
            .store
            .add_mla_evidence(
                call.caller.principal(),
                &first.request_id,
                &row,
                &receipt_row,
                audit_record,
            )
            .await
            .map_err(ServiceError::from)?
        {
            MlaWriteOutcome::Written => {
                call.audit.mark_recorded();
                tracing::info!(mla = %record.id, evidence = %row.id, size, "evidence stored");
                Ok(v1::UploadEvidenceResponse {
                    evidence: Some(evidence),
                    receipt: Some(receipt),
                })
            }
            _ => Err(ServiceError::Aborted(
                "a concurrent upload with this request_id won; retry to read its result".into(),
            )
            .into()),
        }
    }

    pub(crate) async fn download(
        &self,
        call: Call,
        message: v1::DownloadEvidenceRequest,
    ) -> Result<BoxStream<v1::DownloadEvidenceResponse>, Status> {
        ObjectId::parse(ObjectId::MLA_EVIDENCE, &message.evidence_id)
            .map_err(|error| ServiceError::invalid("evidence_id", error.to_string()))?;
        let row = self
            .store
            .get_mla_evidence(&message.evidence_id)
            .await
            .map_err(ServiceError::from)?
            .ok_or(ServiceError::NotFound("evidence"))?;
        let record = self
            .load_visible(&call, &row.request_id, false)
            .await
            .map_err(|_| ServiceError::NotFound("evidence"))?;
        call.audit.require_justification()?;
        let offset = u64::try_from(message.offset)
            .ok()
            .filter(|offset| *offset <= row.size_bytes as u64)
            .ok_or_else(|| ServiceError::invalid("offset", "between 0 and the file's size"))?;
        let metadata = evidence_to_proto(&row)?;
        call.audit
            .touch(&row.id, Access::Read, Some(&row.uploader_agency));
        call.audit.commit_read(&self.store).await?;
        let (sender, receiver) = mpsc::channel(4);
        let service = self.clone();
        tokio::spawn(async move {
            let result = service
                .send_file(&call, &record, &row, metadata, offset, &sender)
                .await;
            if let Err(status) = result {
                let _ = sender.send(Err(status)).await;
            }
        });
        Ok(Box::pin(ReceiverStream::new(receiver)))
    }

    async fn send_file(
        &self,
        call: &Call,
        record: &liaison_store::MlaRecord,
        row: &MlaEvidenceRow,
        metadata: v1::MlaEvidence,
        offset: u64,
        sender: &mpsc::Sender<Result<v1::DownloadEvidenceResponse, Status>>,
    ) -> Result<(), Status> {
        use v1::download_evidence_response::Payload;
        let send = |payload| async {
            sender
                .send(Ok(v1::DownloadEvidenceResponse {
                    payload: Some(payload),
                }))
                .await
                .map_err(|_| Status::cancelled("the client went away"))
        };
        send(Payload::Metadata(metadata)).await?;
        if offset == row.size_bytes as u64 && offset > 0 {
            // Nothing left to send, nothing to check.
            return Ok(());
        }
        let altered = || {
            Status::data_loss(
                "the stored file no longer matches its SHA-256: discard what was received",
            )
        };
        let path = stored_path(&self.evidence_dir, &row.sha256);
        let mut file = tokio::fs::File::open(&path).await.map_err(|_| altered())?;
        let stamp = FileStamp::of(&file.metadata().await.map_err(|_| altered())?);
        let trusted = offset > 0 && self.verified_stamp(&path) == Some(stamp);
        if trusted {
            // Checked before and unchanged since: read only what is sent.
            use tokio::io::AsyncSeekExt;
            file.seek(std::io::SeekFrom::Start(offset))
                .await
                .map_err(|_| altered())?;
            let mut buffer = vec![0; DOWNLOAD_CHUNK_BYTES];
            let mut position = offset;
            loop {
                let read = file.read(&mut buffer).await.map_err(|_| altered())?;
                if read == 0 {
                    break;
                }
                position += read as u64;
                send(Payload::Chunk(buffer[..read].to_vec())).await?;
            }
            if position != row.size_bytes as u64 {
                return Err(altered());
            }
            return Ok(());
        }
        let mut hasher = Sha256::new();
        let mut position: u64 = 0;
        let mut buffer = vec![0; DOWNLOAD_CHUNK_BYTES];
        loop {
            let read = file.read(&mut buffer).await.map_err(|_| altered())?;
            if read == 0 {
                break;
            }
            let bytes = &buffer[..read];
            hasher.update(bytes);
            let end = position + read as u64;
            if end > offset {
                let start = usize::try_from(offset.saturating_sub(position)).unwrap_or(0);
                send(Payload::Chunk(bytes[start..].to_vec())).await?;
            }
            position = end;
        }
        if hex::encode(hasher.finalize()) != row.sha256 || position != row.size_bytes as u64 {
            tracing::error!(evidence = %row.id, "stored evidence no longer matches its digest");
            self.forget_verified(&path);
            return Err(altered());
        }
        self.remember_verified(path, stamp);
        // The other party's first complete retrieval earns a receipt.
        if offset == 0
            && row.first_retrieved.is_none()
            && &row.uploader_agency != call.caller.agency()
        {
            let now = self.clock.now();
            let document = decode_document(record)?;
            let (receipt_row, receipt) = self.receipts.issue_with_evidence(
                ReceiptKind::EvidenceRetrieval,
                &document,
                &record.id,
                record.status.state,
                call.caller.principal(),
                now,
                vec![v1::MlaEvidenceDigest {
                    evidence_id: row.id.clone(),
                    sha256: row.sha256.clone(),
                }],
            );
            let audit = call.audit.fork().write_record(ObjectAccess::new(
                row.id.clone(),
                Access::Write,
                Some(row.uploader_agency.to_string()),
            ));
            let first = self
                .store
                .mark_mla_evidence_retrieved(&row.id, &receipt_row, audit)
                .await
                .map_err(ServiceError::from)?;
            if first {
                send(Payload::Receipt(receipt)).await?;
            }
        }
        Ok(())
    }

    /// How many bytes an upload to `request` by the caller's agency may still store;
    /// RESOURCE_EXHAUSTED, naming the quota, if `size` more would pass one.
    async fn quota_room(
        &self,
        request: &ObjectId,
        call: &Call,
        size: u64,
    ) -> Result<u64, ServiceError> {
        let quota = self.evidence_quota;
        let (on_request, by_agency) = self
            .store
            .mla_evidence_usage(request, call.caller.agency())
            .await?;
        if on_request.saturating_add(size) > quota.per_request {
            return Err(ServiceError::ResourceExhausted(format!(
                "this request holds {on_request} bytes of evidence; {size} more would pass its \
                 quota of {} bytes (max_evidence_bytes_per_request); nothing was stored",
                quota.per_request
            )));
        }
        if by_agency.saturating_add(size) > quota.per_agency {
            return Err(ServiceError::ResourceExhausted(format!(
                "your agency has uploaded {by_agency} bytes of evidence; {size} more would pass \
                 its quota of {} bytes (max_evidence_bytes_per_agency); nothing was stored",
                quota.per_agency
            )));
        }
        Ok((quota.per_request - on_request).min(quota.per_agency - by_agency))
    }

    /// Refuses when writing `more` bytes would leave the evidence directory's filesystem
    /// less than its reserve.
    fn check_free_space(&self, more: u64) -> Result<(), ServiceError> {
        let stats = rustix::fs::statvfs(&self.evidence_dir).map_err(|error| {
            storage_error(std::io::Error::from_raw_os_error(error.raw_os_error()))
        })?;
        let free = stats.f_bavail.saturating_mul(stats.f_frsize);
        if free < self.evidence_quota.free_reserve.saturating_add(more) {
            tracing::warn!(
                free,
                reserve = self.evidence_quota.free_reserve,
                "evidence upload refused: the filesystem is nearly full"
            );
            return Err(no_room());
        }
        Ok(())
    }

    fn verified_stamp(&self, path: &Path) -> Option<FileStamp> {
        self.verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(path)
            .copied()
    }

    fn remember_verified(&self, path: PathBuf, stamp: FileStamp) {
        let mut verified = self
            .verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if verified.len() >= VERIFIED_MAX {
            verified.clear();
        }
        verified.insert(path, stamp);
    }

    fn forget_verified(&self, path: &Path) {
        self.verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(path);
    }

    pub(crate) async fn evidence_of(
        &self,
        call: &Call,
        message: v1::ListEvidenceRequest,
    ) -> Result<v1::ListEvidenceResponse, ServiceError> {
        let id = parse_id(&message.mla_request_id, "mla_request_id")?;
        let limit = liaison_rpc::page_size(message.page_size, 100, 500)? as usize;
        let start =
            usize::try_from(liaison_rpc::page_offset(&message.page_token)?).unwrap_or(usize::MAX);
        let record = self.load_visible(call, &id, false).await?;
        let rows = self.store.list_mla_evidence(&record.id).await?;
        let end = rows.len().min(start.saturating_add(limit));
        let evidence = rows
            .get(start..end)
            .unwrap_or_default()
            .iter()
            .map(evidence_to_proto)
            .collect::<Result<Vec<_>, _>>()?;
        call.audit
            .touch(record.id.as_str(), Access::Read, Some(&record.requesting));
        call.audit.commit_read(&self.store).await?;
        Ok(v1::ListEvidenceResponse {
            evidence,
            next_page_token: if end < rows.len() {
                end.to_string()
            } else {
                String::new()
            },
        })
    }

    /// Checks that every id in `ids` names an evidence file on request `mla_request_id`
    /// (uploaded by the agency on side `by`, when given); loads the request first, so a
    /// caller who may not see it gets NOT_FOUND, not a hint about its files.
    pub(crate) async fn check_evidence(
        &self,
        call: &Call,
        mla_request_id: &str,
        ids: &[String],
        by: Option<Side>,
    ) -> Result<(), ServiceError> {
        if ids.is_empty() {
            return Ok(());
        }
        let id = parse_id(mla_request_id, "mla_request_id")?;
        let record = self.load_visible(call, &id, false).await?;
        let stored = self.store.list_mla_evidence(&record.id).await?;
        let uploader = match by {
            Some(Side::Requesting) => Some(&record.requesting),
            Some(Side::Requested) => record.requested.as_ref(),
            Some(Side::Hub) | None => None,
        };
        let mut violations = liaison_core::Violations::new();
        for (index, evidence_id) in ids.iter().enumerate() {
            let found = stored.iter().find(|row| &row.id == evidence_id);
            let ok = match (found, by) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(row), Some(_)) => uploader == Some(&row.uploader_agency),
            };
            if !ok {
                violations.add(
                    format!("evidence_ids[{index}]"),
                    if by.is_some() {
                        "no such evidence file uploaded to this request by the agency reporting"
                    } else {
                        "no such evidence file on this request"
                    },
                );
            }
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(violations.into())
        }
    }
}
