//! What a witness keeps: per log, the last checkpoint it cosigned, in a file of its own
//! written whole and renamed into place (so a crash leaves the old or the new state, never
//! half of one), and an append-only file of the signed checkpoints it refused as
//! inconsistent — evidence of a log that forked or rewrote its history.

use std::{
    fs,
    io::{self, Write as _},
    path::{Path, PathBuf},
};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use liaison_audit::Witnessed;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The directory of a witness's state.
#[derive(Debug)]
pub struct StateDir {
    dir: PathBuf,
}

/// One log's held state, as stored.
#[derive(Debug, Clone)]
pub struct Held {
    /// Size and root.
    pub witnessed: Witnessed,
    /// The signed checkpoint note it was cosigned on.
    pub note: String,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    origin: String,
    size: u64,
    root: String,
    note: String,
}

impl StateDir {
    /// Opens (creating) the state directory.
    pub fn open(dir: PathBuf) -> io::Result<Self> {
        fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    fn file(&self, origin: &str) -> PathBuf {
        // Origins are URLs without a scheme: hashed, any origin is a safe file name.
        let name = hex::encode(&Sha256::digest(origin.as_bytes())[..16]);
        self.dir.join(format!("{name}.json"))
    }

    /// What the witness holds for `origin`, if it ever cosigned one of its checkpoints.
    pub fn load(&self, origin: &str) -> io::Result<Option<Held>> {
        let text = match fs::read_to_string(self.file(origin)) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        let corrupt = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
        let stored: Stored =
            serde_json::from_str(&text).map_err(|_| corrupt("state file is not JSON"))?;
        if stored.origin != origin {
            return Err(corrupt("state file of another origin"));
        }
        let root = STANDARD
            .decode(&stored.root)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or_else(|| corrupt("state file root is not a hash"))?;
        Ok(Some(Held {
            witnessed: Witnessed {
                size: stored.size,
                root,
            },
            note: stored.note,
        }))
    }

    /// Replaces what the witness holds for `origin`, durably, before it answers.
    pub fn store(&self, origin: &str, witnessed: Witnessed, note: &str) -> io::Result<()> {
        let stored = Stored {
            origin: origin.to_owned(),
            size: witnessed.size,
            root: STANDARD.encode(witnessed.root),
            note: note.to_owned(),
        };
        let path = self.file(origin);
        let temporary = path.with_extension("json.new");
        write_synced(
            &temporary,
            serde_json::to_string_pretty(&stored)?.as_bytes(),
        )?;
        fs::rename(&temporary, &path)?;
        fs::File::open(&self.dir)?.sync_all()
    }

    /// Appends a refused request (signed by the log, inconsistent with what was
    /// cosigned); failures are logged, never fatal.
    pub fn record_refused(&self, origin: &str, body: &str) {
        let line = serde_json::json!({ "origin": origin, "time": crate::now(), "request": body });
        let appended = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("refused.jsonl"))
            .and_then(|mut file| writeln!(file, "{line}").and_then(|()| file.sync_all()));
        if let Err(error) = appended {
            tracing::error!(%error, "could not record a refused checkpoint");
        }
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
