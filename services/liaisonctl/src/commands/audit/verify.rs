//! `liaisonctl audit export | verify`: the log's records as JSON lines with the signed
//! checkpoint that covers them, and their verification — offline from such a file, or
//! live — with a witness's memory of the last checkpoint verified for the hub.

use std::{
    io::{BufRead, Write},
    path::{Path, PathBuf},
};

use clap::Args;
use liaison_audit::{
    Checkpoint, Hash, Opening, TreeBuilder, VerifierKey, leaf_hash, verify_consistency,
};
use liaison_client::Client;
use liaison_proto::v1;
use serde_json::{Value, json};

use crate::{
    failure::{EXIT_CALL_FAILED, EXIT_USAGE, Failure, failed},
    output::{OutputFormat, print_json},
};

/// Exit code: the log failed verification.
const EXIT_VERIFY_FAILED: u8 = 1;

#[derive(Debug, Args)]
pub struct AuditExportArgs {
    /// First leaf index.
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// Write to this file instead of standard output.
    #[arg(long = "file", short = 'f')]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    /// An exported file to verify offline; without it the live log is verified.
    pub file: Option<PathBuf>,
    /// The hub's log verifier key (`name+keyid+base64`, from the operator or
    /// GetLogKeys); default: the key this client pinned for the hub on first use. (Not
    /// `--key`, which is the client's private key.)
    #[arg(long = "log-key", value_name = "VERIFIER_KEY")]
    pub log_key: Option<String>,
    /// Where the witness state (pinned key, last verified checkpoint) is kept
    /// [default: $XDG_STATE_HOME/liaisonctl or ~/.local/state/liaisonctl]
    #[arg(long, env = "LIAISON_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
}

/// One line of an export file: the leaf's index, hash and data (`record`), and the
/// opening of the parts of it the exporting auditor may see.
fn leaf_line(leaf: &v1::AuditLeaf) -> Value {
    json!({
        "leaf_index": leaf.leaf_index,
        "leaf_hash": hex::encode(&leaf.leaf_hash),
        "record": (!leaf.leaf_data.is_empty()).then(|| String::from_utf8_lossy(&leaf.leaf_data).into_owned()),
        "opening": (!leaf.opening.is_empty()).then(|| String::from_utf8_lossy(&leaf.opening).into_owned()),
    })
}

/// A leaf of an export, as the verifier reads it.
struct ExportedLeaf {
    index: u64,
    hash: Hash,
    /// The leaf's bytes, when the exporting auditor may see the record.
    data: Option<String>,
    /// The opening of what that auditor may see of it.
    opening: Option<String>,
}

pub async fn export(client: &Client, args: AuditExportArgs) -> Result<(), Failure> {
    let request = v1::ExportRecordsRequest {
        start_index: args.from,
        ..v1::ExportRecordsRequest::default()
    };
    let mut stream = client
        .audit()
        .export_records(request)
        .await
        .map_err(failed(client))?
        .into_inner();
    let mut out: Box<dyn Write> = match &args.file {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|error| {
                Failure::new(EXIT_USAGE, format!("{}: {error}", path.display()))
            })?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut count = 0u64;
    while let Some(message) = stream.message().await.map_err(failed(client))? {
        let line = match message.item {
            Some(v1::export_records_response::Item::Leaf(leaf)) => {
                count += 1;
                if count.is_multiple_of(10_000) {
                    eprintln!("exported {count} records…");
                }
                leaf_line(&leaf)
            }
            Some(v1::export_records_response::Item::Checkpoint(checkpoint)) => {
                json!({ "checkpoint": checkpoint.signed_note })
            }
            None => continue,
        };
        writeln!(out, "{line}").map_err(|error| {
            Failure::new(EXIT_CALL_FAILED, format!("writing the export: {error}"))
        })?;
    }
    out.flush()
        .map_err(|error| Failure::new(EXIT_CALL_FAILED, format!("writing the export: {error}")))?;
    eprintln!("exported {count} records");
    Ok(())
}

/// An exported log read back.
struct Export {
    leaves: Vec<ExportedLeaf>,
    checkpoint: Option<String>,
}

fn read_export(path: &Path) -> Result<Export, Failure> {
    let file = std::fs::File::open(path)
        .map_err(|error| Failure::new(EXIT_USAGE, format!("{}: {error}", path.display())))?;
    let mut export = Export {
        leaves: Vec::new(),
        checkpoint: None,
    };
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let bad = |why: &str| {
            Failure::new(
                EXIT_VERIFY_FAILED,
                format!("{} line {}: {why}", path.display(), number + 1),
            )
        };
        let line = line.map_err(|error| bad(&error.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value =
            serde_json::from_str(&line).map_err(|_| bad("not a JSON line of an audit export"))?;
        if let Some(note) = value["checkpoint"].as_str() {
            export.checkpoint = Some(note.to_owned());
            continue;
        }
        let index = value["leaf_index"]
            .as_u64()
            .ok_or_else(|| bad("no leaf_index"))?;
        let hash = value["leaf_hash"]
            .as_str()
            .and_then(|text| hex::decode(text).ok())
            .and_then(|bytes| Hash::try_from(bytes).ok())
            .ok_or_else(|| bad("no valid leaf_hash"))?;
        export.leaves.push(ExportedLeaf {
            index,
            hash,
            data: value["record"].as_str().map(str::to_owned),
            opening: value["opening"].as_str().map(str::to_owned),
        });
    }
    Ok(export)
}

/// The name a witness remembers a hub by: the host of its endpoint, lowercased, without
/// scheme or port (`https://Hub.Example:50051` is `hub.example`).
fn witness_name(endpoint: &str) -> String {
    let rest = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host),
    };
    format!("host-{}", host.to_ascii_lowercase())
}

/// What the client remembers of a log: the pinned key and the last verified checkpoint.
struct Witness {
    path: PathBuf,
    state: Option<Value>,
}

impl Witness {
    fn open(state_dir: Option<PathBuf>, name: &str) -> Self {
        let dir = state_dir
            .or_else(|| {
                std::env::var_os("XDG_STATE_HOME").map(|dir| PathBuf::from(dir).join("liaisonctl"))
            })
            .or_else(|| {
                std::env::var_os("HOME")
                    .map(|home| PathBuf::from(home).join(".local/state/liaisonctl"))
            })
            .unwrap_or_else(|| PathBuf::from(".liaisonctl"));
        let name: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join("witness").join(format!("{name}.json"));
        let state = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok());
        Self { path, state }
    }

    fn key(&self) -> Option<String> {
        self.state.as_ref()?["key"].as_str().map(str::to_owned)
    }

    /// The origin of the log last verified here (its checkpoints' first line).
    fn origin(&self) -> Option<String> {
        let note = self.state.as_ref()?["note"].as_str()?;
        note.lines().next().map(str::to_owned)
    }

    fn last(&self) -> Option<(u64, Hash)> {
        let state = self.state.as_ref()?;
        let size = state["size"].as_u64()?;
        let root = hex::decode(state["root"].as_str()?).ok()?.try_into().ok()?;
        Some((size, root))
    }

    fn save(&self, key: &str, checkpoint: &Checkpoint, note: &str) -> Result<(), Failure> {
        let state = json!({
            "key": key,
            "size": checkpoint.size(),
            "root": hex::encode(checkpoint.root()),
            "note": note,
        });
        let write = || -> std::io::Result<()> {
            if let Some(parent) = self.path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&self.path, serde_json::to_vec_pretty(&state)?)
        };
        write().map_err(|error| {
            Failure::new(
                EXIT_CALL_FAILED,
                format!("{}: {error}", self.path.display()),
            )
        })
    }
}

/// Checks leaves from index 0 against a checkpoint; returns the root of every prefix the
/// witness needs (its last verified size).
fn check_leaves(
    leaves: &[ExportedLeaf],
    checkpoint: &Checkpoint,
    witness_size: Option<u64>,
) -> Result<Option<Hash>, Failure> {
    let fail = |message: String| Failure::new(EXIT_VERIFY_FAILED, message);
    let mut tree = TreeBuilder::new();
    let mut witness_root = None;
    for (position, leaf) in leaves.iter().enumerate() {
        let (index, hash) = (leaf.index, &leaf.hash);
        if index != position as u64 {
            return Err(fail(format!(
                "record {position} is missing: the export jumps to leaf {index} (records removed or reordered)"
            )));
        }
        if let Some(record) = &leaf.data
            && leaf_hash(record.as_bytes()) != *hash
        {
            return Err(fail(format!(
                "record {index} was altered: its content does not match its leaf hash"
            )));
        }
        // What the record shows of its withheld parts must be what the leaf committed to.
        if let Some(opening) = &leaf.opening {
            let opened = leaf
                .data
                .as_ref()
                .ok_or_else(|| fail(format!("record {index} has an opening but no leaf data")))
                .and_then(|record| {
                    Opening::from_json(opening.as_bytes())
                        .and_then(|opening| opening.verify(record.as_bytes()))
                        .map_err(|error| fail(format!("record {index} was altered: {error}")))
                });
            opened?;
        }
        if witness_size == Some(tree.size()) {
            witness_root = Some(tree.root());
        }
        if tree.size() == checkpoint.size() {
            break;
        }
        tree.push(*hash);
    }
    if witness_size == Some(tree.size()) {
        witness_root = Some(tree.root());
    }
    if tree.size() < checkpoint.size() {
        return Err(fail(format!(
            "record {} is missing: the export ends after {} records but the checkpoint covers {}",
            tree.size(),
            tree.size(),
            checkpoint.size()
        )));
    }
    if tree.root() != *checkpoint.root() {
        return Err(fail(format!(
            "the {} records do not hash to the signed root: the log was altered after it was signed",
            checkpoint.size()
        )));
    }
    Ok(witness_root)
}

/// `audit verify`: an exported file (`client` is `None`) or the live log, against a signed
/// checkpoint and the hub's key, and as a witness against the last checkpoint verified
/// for the hub at `endpoint`.
pub async fn verify(
    client: Option<&Client>,
    endpoint: &str,
    format: OutputFormat,
    args: AuditVerifyArgs,
) -> Result<(), Failure> {
    let (leaves, note, live_key) = match (&args.file, client) {
        (Some(path), _) => {
            let export = read_export(path)?;
            let note = export.checkpoint.ok_or_else(|| {
                Failure::new(
                    EXIT_VERIFY_FAILED,
                    format!("{}: no signed checkpoint in the export", path.display()),
                )
            })?;
            (export.leaves, note, None)
        }
        (None, Some(client)) => live_leaves(client).await?,
        (None, None) => return Err(Failure::new(EXIT_USAGE, "nothing to verify")),
    };
    // A witness remembers a hub by the host it reaches it at, not by the origin the
    // checkpoint names: the origin is the hub's own, unverified claim, and a hub that
    // changed it would otherwise get a fresh trust-on-first-use memory. The same hub
    // verified live or from a file (under the same --endpoint or profile), on any port,
    // shares one memory; the origin it showed is remembered, and a change is refused.
    let origin = note.lines().next().unwrap_or_default();
    let witness = Witness::open(args.state_dir.clone(), &witness_name(endpoint));
    if let Some(remembered) = witness.origin()
        && remembered != origin
    {
        return Err(Failure::new(
            EXIT_VERIFY_FAILED,
            format!(
                "the hub at {endpoint} now signs its log as {origin:?}, not as {remembered:?} \
                 as before: another log, or one started afresh to hide its history; refusing. \
                 If the hub's operator has announced a new log, check it with them, then \
                 remove {} to remember it anew",
                witness.path.display()
            ),
        ));
    }
    let (key_text, key) = trusted_key(&witness, args.log_key.as_deref(), live_key.as_deref())?;
    let pinned_now = args.log_key.is_none() && witness.key().is_none();
    let checkpoint = Checkpoint::verify(&note, &key).map_err(|error| {
        Failure::new(
            EXIT_VERIFY_FAILED,
            format!("the checkpoint does not verify with the hub's key: {error}"),
        )
    })?;
    let last = witness.last();
    extends_last(client, &leaves, &checkpoint, last).await?;
    witness.save(&key_text, &checkpoint, &note)?;
    print_verified(format, &checkpoint, last, &key_text, pinned_now);
    Ok(())
}

/// The key to verify with: `--log-key`, else the key pinned for the hub, else the key the
/// live hub publishes (pinned on first use); refused when the live key is not the pinned one.
fn trusted_key(
    witness: &Witness,
    log_key: Option<&str>,
    live_key: Option<&str>,
) -> Result<(String, VerifierKey), Failure> {
    let key_text = log_key
        .map(str::to_owned)
        .or_else(|| witness.key())
        .or_else(|| live_key.map(str::to_owned))
        .ok_or_else(|| {
            Failure::new(
                EXIT_USAGE,
                "no hub key: pass --log-key, or verify the live log once to pin it",
            )
        })?;
    let key: VerifierKey = key_text
        .parse()
        .map_err(|error| Failure::new(EXIT_USAGE, format!("--log-key: {error}")))?;
    if let (Some(live), Some(pinned)) = (live_key, witness.key())
        && *live != pinned
    {
        return Err(Failure::new(
            EXIT_VERIFY_FAILED,
            format!(
                "the hub now publishes key {live}, not the key pinned for it ({pinned}); refusing. \
                 If the hub's operator has announced this key (a rotated key, or a new \
                 development hub), check it with them, then remove {} to pin it anew",
                witness.path.display()
            ),
        ));
    }
    Ok((key_text, key))
}

/// Checks the leaves against the checkpoint and that the log extends the checkpoint
/// `last` verified before (locally, and live with the hub's consistency proof).
async fn extends_last(
    client: Option<&Client>,
    leaves: &[ExportedLeaf],
    checkpoint: &Checkpoint,
    last: Option<(u64, Hash)>,
) -> Result<(), Failure> {
    if let Some((size, _)) = last
        && size > checkpoint.size()
    {
        return Err(Failure::new(
            EXIT_VERIFY_FAILED,
            format!(
                "this checkpoint (size {}) is older than one already verified for this hub (size {size}): \
                 the hub rolled its log back, or the export is stale",
                checkpoint.size()
            ),
        ));
    }
    let witness_root = check_leaves(leaves, checkpoint, last.map(|(size, _)| size))?;
    let Some((size, root)) = last else {
        return Ok(());
    };
    // The export starts at leaf 0, so the earlier tree is recomputed locally; a live
    // verification also asks the hub for a consistency proof.
    if witness_root != Some(root) {
        return Err(Failure::new(
            EXIT_VERIFY_FAILED,
            format!(
                "the log does not extend the checkpoint of size {size} verified before: its history was rewritten or forked"
            ),
        ));
    }
    let Some(client) = client else {
        return Ok(());
    };
    let proof = client
        .audit()
        .get_consistency_proof(v1::GetConsistencyProofRequest {
            old_tree_size: size,
            new_tree_size: checkpoint.size(),
        })
        .await
        .map_err(failed(client))?
        .into_inner();
    let hashes: Vec<Hash> = proof
        .hashes
        .iter()
        .filter_map(|h| Hash::try_from(h.as_slice()).ok())
        .collect();
    verify_consistency(size, checkpoint.size(), &root, checkpoint.root(), &hashes).map_err(
        |error| {
            Failure::new(
                EXIT_VERIFY_FAILED,
                format!("the hub's consistency proof from size {size} fails: {error}"),
            )
        },
    )
}

fn print_verified(
    format: OutputFormat,
    checkpoint: &Checkpoint,
    last: Option<(u64, Hash)>,
    key_text: &str,
    pinned_now: bool,
) {
    match format {
        OutputFormat::Json => print_json(&json!({
            "verified": true,
            "tree_size": checkpoint.size(),
            "root": hex::encode(checkpoint.root()),
            "previous_size": last.map(|(size, _)| size),
            "key": key_text,
        })),
        OutputFormat::Table => {
            println!(
                "verified: {} records, root {}",
                checkpoint.size(),
                hex::encode(checkpoint.root())
            );
            if let Some((size, _)) = last {
                println!("consistent with the checkpoint of size {size} verified before");
            }
            if pinned_now {
                println!(
                    "pinned the hub's key {key_text}: compare it with the operator's published key"
                );
            }
        }
    }
}

/// Every leaf from 0 and the checkpoint covering them, from the live hub, with its key.
async fn live_leaves(
    client: &Client,
) -> Result<(Vec<ExportedLeaf>, String, Option<String>), Failure> {
    let mut audit = client.audit();
    let keys = audit
        .get_log_keys(v1::GetLogKeysRequest {})
        .await
        .map_err(failed(client))?
        .into_inner()
        .keys;
    let key = keys.first().map(|key| key.verifier_key.clone());
    let mut stream = audit
        .export_records(v1::ExportRecordsRequest::default())
        .await
        .map_err(failed(client))?
        .into_inner();
    let mut leaves = Vec::new();
    let mut note = None;
    while let Some(message) = stream.message().await.map_err(failed(client))? {
        match message.item {
            Some(v1::export_records_response::Item::Leaf(leaf)) => {
                let hash = Hash::try_from(leaf.leaf_hash.as_slice()).map_err(|_| {
                    Failure::new(
                        EXIT_VERIFY_FAILED,
                        format!("leaf {} has no valid hash", leaf.leaf_index),
                    )
                })?;
                let text = |bytes: &[u8]| {
                    (!bytes.is_empty()).then(|| String::from_utf8_lossy(bytes).into_owned())
                };
                leaves.push(ExportedLeaf {
                    index: leaf.leaf_index,
                    hash,
                    data: text(&leaf.leaf_data),
                    opening: text(&leaf.opening),
                });
            }
            Some(v1::export_records_response::Item::Checkpoint(checkpoint)) => {
                note = Some(checkpoint.signed_note)
            }
            None => {}
        }
    }
    // A new log: the hub signs its first checkpoint within a second of its first records.
    let note = note.ok_or_else(|| {
        Failure::new(
            EXIT_VERIFY_FAILED,
            "the hub has signed no checkpoint of its log yet (it signs one within a second \
             of new records): run the command again in a moment",
        )
    })?;
    Ok((leaves, note, key))
}
