//! Receipts kept as files and verified offline: `mla receipts ID --out DIR` saves each
//! receipt (`DIR/rct_….json`) with the hub's receipt keys (`DIR/receipt-keys.json`);
//! `mla verify-receipt FILE` checks the Ed25519 signature over the exact signed bytes —
//! against `--keys FILE`, without contacting the hub, or against the keys the hub
//! publishes — and, with `--evidence PATH`, that a file is the one the receipt names.
//!
//! A receipt file holds the signed statement as base64, never a parsed copy: what is
//! shown is decoded from the bytes that verified.

use std::path::{Path, PathBuf};

use base64::{Engine, engine::general_purpose::STANDARD};
use clap::Args;
use liaison_proto::v1;
use prost::Message;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::view::state_name;
use crate::{
    failure::{EXIT_CALL_FAILED, EXIT_USAGE, Failure},
    output::{self, OutputFormat, print_json, short_name},
};

/// The `format` of a receipt file.
const RECEIPT_FORMAT: &str = "liaison-mla-receipt/1";
/// The `format` of a receipt keys file.
const KEYS_FORMAT: &str = "liaison-mla-receipt-keys/1";
/// The keys file `mla receipts --out` writes beside the receipts.
pub const KEYS_FILE: &str = "receipt-keys.json";

/// `mla verify-receipt`.
#[derive(Debug, Args)]
pub struct VerifyReceiptArgs {
    /// A receipt file saved by `mla receipts ID --out DIR` (`DIR/rct_….json`).
    pub file: PathBuf,
    /// The hub's receipt keys, as saved by `mla receipts --out` (`receipt-keys.json`):
    /// verifies offline, without contacting the hub. Without it, the keys are fetched
    /// from the hub (GetReceiptKeys).
    #[arg(long, value_name = "KEYS_FILE")]
    pub keys: Option<PathBuf>,
    /// An evidence file to check against the receipt: its SHA-256 must be a digest the
    /// receipt attests.
    #[arg(long, value_name = "PATH")]
    pub evidence: Option<PathBuf>,
}

fn unreadable(path: &Path, error: impl std::fmt::Display) -> Failure {
    Failure::new(EXIT_USAGE, format!("{}: {error}", path.display()))
}

fn refused(message: impl Into<String>) -> Failure {
    Failure::new(EXIT_CALL_FAILED, message)
}

/// Writes `receipt` to `dir/<id>.json`; returns the path.
pub fn save_receipt(dir: &Path, receipt: &v1::MlaReceipt) -> Result<PathBuf, Failure> {
    let path = dir.join(format!("{}.json", receipt.id));
    let value = json!({
        "format": RECEIPT_FORMAT,
        "receipt_id": receipt.id,
        "key_id": receipt.key_id,
        "statement": STANDARD.encode(&receipt.statement),
        "signature": STANDARD.encode(&receipt.signature),
    });
    write_json(&path, &value)?;
    Ok(path)
}

/// Writes the hub's receipt keys to `dir/receipt-keys.json`.
pub fn save_keys(dir: &Path, keys: &[v1::MlaReceiptKey]) -> Result<PathBuf, Failure> {
    let path = dir.join(KEYS_FILE);
    let value = json!({
        "format": KEYS_FORMAT,
        "keys": keys.iter().map(|key| json!({
            "key_id": key.key_id,
            "public_key": STANDARD.encode(&key.public_key),
            "not_before": output::time(key.not_before.as_ref()),
            "retire_time": key.retire_time.as_ref().map(|time| output::time(Some(time))),
        })).collect::<Vec<_>>(),
    });
    write_json(&path, &value)?;
    Ok(path)
}

fn write_json(path: &Path, value: &Value) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).unwrap_or_default() + "\n";
    std::fs::write(path, text).map_err(|error| unreadable(path, error))
}

fn read_json(path: &Path, format: &str) -> Result<Value, Failure> {
    let text = std::fs::read_to_string(path).map_err(|error| unreadable(path, error))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|error| unreadable(path, format!("not a JSON file: {error}")))?;
    if value["format"] != format {
        return Err(unreadable(
            path,
            format!("not a {format} file (\"format\" is {})", value["format"]),
        ));
    }
    Ok(value)
}

fn base64_field(path: &Path, value: &Value, field: &str) -> Result<Vec<u8>, Failure> {
    value[field]
        .as_str()
        .and_then(|text| STANDARD.decode(text).ok())
        .ok_or_else(|| unreadable(path, format!("\"{field}\" is not base64")))
}

/// The receipt in a file saved by [`save_receipt`].
pub fn load_receipt(path: &Path) -> Result<v1::MlaReceipt, Failure> {
    let value = read_json(path, RECEIPT_FORMAT)?;
    Ok(v1::MlaReceipt {
        id: value["receipt_id"].as_str().unwrap_or_default().to_owned(),
        key_id: value["key_id"].as_str().unwrap_or_default().to_owned(),
        statement: base64_field(path, &value, "statement")?,
        signature: base64_field(path, &value, "signature")?,
        parsed_statement: None,
    })
}

/// The keys in a file saved by [`save_keys`].
pub fn load_keys(path: &Path) -> Result<Vec<v1::MlaReceiptKey>, Failure> {
    let value = read_json(path, KEYS_FORMAT)?;
    value["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|key| {
            Ok(v1::MlaReceiptKey {
                key_id: key["key_id"].as_str().unwrap_or_default().to_owned(),
                public_key: base64_field(path, key, "public_key")?,
                ..v1::MlaReceiptKey::default()
            })
        })
        .collect()
}

/// Checks the signature of `receipt` with the key it names among `keys`; returns the
/// statement decoded from the signed bytes.
pub fn verify(
    receipt: &v1::MlaReceipt,
    keys: &[v1::MlaReceiptKey],
) -> Result<v1::MlaReceiptStatement, Failure> {
    let key = keys
        .iter()
        .find(|key| key.key_id == receipt.key_id)
        .ok_or_else(|| {
            refused(format!(
                "the receipt names key {:?}, which is not among the hub's receipt keys",
                receipt.key_id
            ))
        })?;
    let verified = <[u8; 32]>::try_from(key.public_key.as_slice())
        .ok()
        .and_then(|public_key| liaison_audit::VerifierKey::new("mla-receipts", public_key).ok())
        .is_some_and(|verifier| verifier.verify(&receipt.statement, &receipt.signature));
    if !verified {
        return Err(refused(
            "the receipt's signature does not verify: its statement or signature was altered, \
             or another key signed it",
        ));
    }
    let statement = v1::MlaReceiptStatement::decode(receipt.statement.as_slice())
        .map_err(|_| refused("the signed statement is not a receipt statement"))?;
    if statement.receipt_id != receipt.id {
        return Err(refused(format!(
            "the file says receipt {} but the signed statement is receipt {}",
            receipt.id, statement.receipt_id
        )));
    }
    Ok(statement)
}

/// What the hub attests with a receipt of `kind`, in a sentence.
fn attestation(statement: &v1::MlaReceiptStatement) -> String {
    let actor = statement.actor.as_ref().map_or_else(
        || "the hub".to_owned(),
        |a| format!("{}/{}", a.agency_id, a.name),
    );
    let time = output::time(statement.event_time.as_ref());
    let request = &statement.mla_request_id;
    let files = statement
        .evidence
        .iter()
        .map(|digest| format!("{} (SHA-256 {})", digest.evidence_id, digest.sha256))
        .collect::<Vec<_>>()
        .join(", ");
    match v1::MlaReceiptKind::try_from(statement.kind) {
        Ok(v1::MlaReceiptKind::SubmissionAccepted) => format!(
            "at {time} the hub accepted {actor}'s submission of request {request} to {}, \
             with content version {} (SHA-256 {})",
            statement.requested_agency_id, statement.content_version, statement.content_sha256
        ),
        Ok(v1::MlaReceiptKind::SubmissionRejected) => format!(
            "at {time} the hub rejected {actor}'s submission of request {request}: {}",
            statement.rejection_reason
        ),
        Ok(v1::MlaReceiptKind::Retrieval) => format!(
            "at {time} {actor} of the requested agency retrieved request {request} \
             (content version {}, SHA-256 {}) for the first time",
            statement.content_version, statement.content_sha256
        ),
        Ok(v1::MlaReceiptKind::Acknowledgement) => {
            format!("at {time} {actor} acknowledged request {request}")
        }
        Ok(v1::MlaReceiptKind::EvidenceSubmission) => {
            format!("at {time} {actor} delivered {files} to the hub on request {request}")
        }
        Ok(v1::MlaReceiptKind::EvidenceRetrieval) => format!(
            "at {time} {actor} retrieved {files} of request {request} completely, \
             for the first time"
        ),
        _ => format!("an event of an unknown kind on request {request} at {time}"),
    }
}

/// Runs `mla verify-receipt` with `keys` (from `--keys` or the hub).
pub fn verify_file(
    format: OutputFormat,
    args: &VerifyReceiptArgs,
    keys: &[v1::MlaReceiptKey],
    keys_from: &str,
) -> Result<(), Failure> {
    let receipt = load_receipt(&args.file)?;
    let statement = verify(&receipt, keys).map_err(|failure| {
        refused(format!(
            "{}: NOT VERIFIED: {}",
            args.file.display(),
            failure.message
        ))
    })?;
    let matched = match &args.evidence {
        Some(path) => Some(attested_file(&args.file, path, &statement)?),
        None => None,
    };
    let kind = short_name(
        v1::MlaReceiptKind::try_from(statement.kind)
            .ok()
            .map(|k| k.as_str_name()),
        "MLA_RECEIPT_KIND_",
    );
    let proves = attestation(&statement);
    match format {
        OutputFormat::Json => print_json(&json!({
            "verified": true,
            "receipt_id": statement.receipt_id,
            "key_id": receipt.key_id,
            "keys_from": keys_from,
            "kind": kind,
            "mla_request_id": statement.mla_request_id,
            "requesting_agency_id": statement.requesting_agency_id,
            "requested_agency_id": statement.requested_agency_id,
            "state": state_name(statement.state),
            "content_version": statement.content_version,
            "content_sha256": statement.content_sha256,
            "evidence": statement.evidence.iter().map(|d| json!({"evidence_id": d.evidence_id, "sha256": d.sha256})).collect::<Vec<_>>(),
            "actor": statement.actor.as_ref().map(|a| format!("{}/{}", a.agency_id, a.name)),
            "time": output::time(statement.event_time.as_ref()),
            "evidence_file": matched.as_ref().map(|(path, id, sha256)| json!({"path": path, "evidence_id": id, "sha256": sha256})),
            "proves": proves,
        })),
        OutputFormat::Table => {
            let mut rows = vec![
                vec!["receipt".into(), statement.receipt_id.clone()],
                vec![
                    "signature".into(),
                    format!(
                        "valid: Ed25519, hub receipt key {} ({keys_from})",
                        receipt.key_id
                    ),
                ],
                vec!["attests".into(), kind],
                vec![
                    "request".into(),
                    format!(
                        "{} ({} → {})",
                        statement.mla_request_id,
                        statement.requesting_agency_id,
                        statement.requested_agency_id
                    ),
                ],
                vec!["state".into(), state_name(statement.state)],
                vec![
                    "content".into(),
                    format!(
                        "version {}, SHA-256 {}",
                        statement.content_version, statement.content_sha256
                    ),
                ],
            ];
            for digest in &statement.evidence {
                rows.push(vec![
                    "evidence".into(),
                    format!("{} SHA-256 {}", digest.evidence_id, digest.sha256),
                ]);
            }
            rows.push(vec![
                "actor".into(),
                statement
                    .actor
                    .as_ref()
                    .map_or_else(|| "-".into(), |a| format!("{}/{}", a.agency_id, a.name)),
            ]);
            rows.push(vec![
                "time".into(),
                output::time(statement.event_time.as_ref()),
            ]);
            if let Some((path, id, _)) = &matched {
                rows.push(vec![
                    "file".into(),
                    format!("{path} is {id}: SHA-256 matches"),
                ]);
            }
            print!("{}", output::table(&["FIELD", "VALUE"], &rows));
            crate::output::say!("VERIFIED: {proves}.");
        }
    }
    Ok(())
}

/// The evidence file at `path` matched against the files `statement` attests: its path,
/// evidence id and SHA-256, or why it is not one of them.
fn attested_file(
    receipt_path: &Path,
    path: &Path,
    statement: &v1::MlaReceiptStatement,
) -> Result<(String, String, String), Failure> {
    let mut file = std::fs::File::open(path).map_err(|error| unreadable(path, error))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(|error| unreadable(path, error))?;
    let sha256 = hex::encode(hasher.finalize());
    let Some(digest) = statement.evidence.iter().find(|d| d.sha256 == sha256) else {
        return Err(refused(format!(
            "{}: the receipt verifies, but {} is not a file it attests: its SHA-256 is {sha256}, \
         the receipt names {}",
            receipt_path.display(),
            path.display(),
            if statement.evidence.is_empty() {
                "no evidence file".to_owned()
            } else {
                statement
                    .evidence
                    .iter()
                    .map(|d| d.sha256.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )));
    };
    Ok((
        path.display().to_string(),
        digest.evidence_id.clone(),
        sha256,
    ))
}
