//! The C2SP tlog-witness protocol (<https://c2sp.org/tlog-witness>), without I/O: the
//! `add-checkpoint` request body, and the decision a witness takes on it.
//!
//! A witness keeps, per log, the last checkpoint it cosigned. It cosigns a new one only if
//! the log's key signed it, the request's old size is the size it holds, and the
//! consistency proof leads from the root it holds to the new root. So once a witness has
//! cosigned a checkpoint, no rewritten or forked history of that log gets its cosignature.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::{
    Checkpoint, CheckpointError, HASH_LEN, Hash, VerifierKey, empty_root, verify_consistency,
};

/// The most consistency proof lines a request may carry.
pub const MAX_PROOF_LINES: usize = 63;

/// An `add-checkpoint` request: the size the submitter believes the witness holds, the
/// consistency proof from it, and the signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the last checkpoint the witness cosigned, as the submitter knows it.
    pub old_size: u64,
    /// The consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note.
    pub checkpoint: String,
}

/// What a witness answers instead of a cosignature, with its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessRefusal {
    /// The body is not an `add-checkpoint` request, or the old size exceeds the new one:
    /// 400.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// The witness does not follow the checkpoint's origin: 404.
    #[error("unknown log {0}")]
    UnknownLog(String),
    /// No trusted key of the log signed the checkpoint: 403.
    #[error("the checkpoint is not signed by the log's key")]
    BadSignature,
    /// The witness holds another size for the log: 409, with that size.
    #[error("the witness holds size {0}")]
    SizeConflict(u64),
    /// The witness holds this size with another root: a fork. 409.
    #[error("the witness holds another root hash for size {0}")]
    RootConflict(u64),
    /// The consistency proof does not lead from the held root to the new one: 422.
    #[error("the consistency proof does not verify")]
    BadProof,
}

impl WitnessRefusal {
    /// The HTTP status code the protocol gives this refusal.
    pub fn status(&self) -> u16 {
        match self {
            WitnessRefusal::Malformed(_) => 400,
            WitnessRefusal::UnknownLog(_) => 404,
            WitnessRefusal::BadSignature => 403,
            WitnessRefusal::SizeConflict(_) | WitnessRefusal::RootConflict(_) => 409,
            WitnessRefusal::BadProof => 422,
        }
    }
}

/// What a witness holds for one log: the size and root of the last checkpoint it cosigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Witnessed {
    /// The tree size.
    pub size: u64,
    /// The root hash.
    pub root: Hash,
}

impl AddCheckpoint {
    /// The request body.
    pub fn body(&self) -> String {
        let mut body = format!("old {}\n", self.old_size);
        for hash in &self.proof {
            body.push_str(&STANDARD.encode(hash));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&self.checkpoint);
        body
    }

    /// Parses a request body strictly.
    pub fn parse(body: &str) -> Result<Self, WitnessRefusal> {
        let malformed = |what: &str| WitnessRefusal::Malformed(what.to_owned());
        let (head, checkpoint) = body
            .split_once("\n\n")
            .ok_or_else(|| malformed("no empty line before the checkpoint"))?;
        let mut lines = head.split('\n');
        let old = lines
            .next()
            .and_then(|line| line.strip_prefix("old "))
            .ok_or_else(|| malformed("the first line is not `old <size>`"))?;
        let canonical = !old.is_empty()
            && old.bytes().all(|byte| byte.is_ascii_digit())
            && (old == "0" || !old.starts_with('0'));
        let old_size = canonical
            .then(|| old.parse::<u64>().ok())
            .flatten()
            .ok_or_else(|| malformed("the old size is not a decimal without leading zeros"))?;
        let mut proof = Vec::new();
        for line in lines {
            if proof.len() == MAX_PROOF_LINES {
                return Err(malformed("more than 63 consistency proof lines"));
            }
            let hash = STANDARD
                .decode(line)
                .ok()
                .and_then(|bytes| <[u8; HASH_LEN]>::try_from(bytes).ok())
                .ok_or_else(|| malformed("a proof line is not a base64 SHA-256 hash"))?;
            proof.push(hash);
        }
        Ok(Self {
            old_size,
            proof,
            checkpoint: checkpoint.to_owned(),
        })
    }

    /// The witness's decision: the checkpoint to cosign and hold from now on, or why not.
    /// `log_keys` are the keys the witness trusts for the log (checked after the origin),
    /// `held` what it holds for that origin (`None`: never cosigned one).
    pub fn decide(
        &self,
        origin_known: impl Fn(&str) -> bool,
        log_keys: &[VerifierKey],
        held: Option<Witnessed>,
    ) -> Result<Checkpoint, WitnessRefusal> {
        let origin = self
            .checkpoint
            .lines()
            .next()
            .filter(|origin| !origin.is_empty())
            .ok_or_else(|| WitnessRefusal::Malformed("the checkpoint has no origin".into()))?;
        if !origin_known(origin) {
            return Err(WitnessRefusal::UnknownLog(origin.to_owned()));
        }
        let checkpoint = log_keys
            .iter()
            .find_map(|key| Checkpoint::verify(&self.checkpoint, key).ok())
            .ok_or(WitnessRefusal::BadSignature)?;
        if checkpoint.origin() != origin {
            return Err(WitnessRefusal::BadSignature);
        }
        if self.old_size > checkpoint.size() {
            return Err(WitnessRefusal::Malformed(
                "the old size is larger than the checkpoint's".into(),
            ));
        }
        let held = held.unwrap_or(Witnessed {
            size: 0,
            root: empty_root(),
        });
        if self.old_size != held.size {
            return Err(WitnessRefusal::SizeConflict(held.size));
        }
        if held.size == checkpoint.size() {
            return if held.root == *checkpoint.root() {
                Ok(checkpoint)
            } else {
                Err(WitnessRefusal::RootConflict(held.size))
            };
        }
        if held.size == 0 {
            return if self.proof.is_empty() {
                Ok(checkpoint)
            } else {
                Err(WitnessRefusal::BadProof)
            };
        }
        verify_consistency(
            held.size,
            checkpoint.size(),
            &held.root,
            checkpoint.root(),
            &self.proof,
        )
        .map_err(|_| WitnessRefusal::BadProof)?;
        Ok(checkpoint)
    }
}

impl From<CheckpointError> for WitnessRefusal {
    fn from(_: CheckpointError) -> Self {
        WitnessRefusal::BadSignature
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SigningKey, consistency_proof, leaf_hash, root};

    const ORIGIN: &str = "audit.liaison.test";

    fn leaves(n: usize, salt: &str) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("{salt} {i}").as_bytes()))
            .collect()
    }

    fn log() -> SigningKey {
        SigningKey::from_seed(ORIGIN, &[3; 32]).unwrap()
    }

    fn request(held: u64, all: &[Hash]) -> AddCheckpoint {
        let checkpoint = Checkpoint::new(ORIGIN, all.len() as u64, root(all))
            .unwrap()
            .sign(&log());
        AddCheckpoint {
            old_size: held,
            proof: if held == 0 {
                Vec::new()
            } else {
                consistency_proof(all, held).unwrap()
            },
            checkpoint,
        }
    }

    fn decide(request: &AddCheckpoint, held: Option<Witnessed>) -> Result<u64, WitnessRefusal> {
        request
            .decide(|origin| origin == ORIGIN, &[log().verifier_key()], held)
            .map(|checkpoint| checkpoint.size())
    }

    #[test]
    fn a_consistent_history_is_followed_and_a_fork_refused() {
        let history = leaves(30, "record");
        let first = request(0, &history[..10]);
        assert_eq!(AddCheckpoint::parse(&first.body()), Ok(first.clone()));
        assert_eq!(decide(&first, None), Ok(10));
        let held = Some(Witnessed {
            size: 10,
            root: root(&history[..10]),
        });
        let next = request(10, &history);
        assert_eq!(AddCheckpoint::parse(&next.body()), Ok(next.clone()));
        assert_eq!(decide(&next, held), Ok(30));

        // The operator rewrites record 5 and signs the new history with the log's key.
        let mut forked = history.clone();
        forked[5] = leaf_hash(b"rewritten");
        let fork = request(10, &forked);
        assert_eq!(decide(&fork, held), Err(WitnessRefusal::BadProof));
        // Even with a proof from the forked tree's own prefix.
        let same_size = request(0, &forked[..10]);
        assert_eq!(
            decide(
                &AddCheckpoint {
                    old_size: 10,
                    ..same_size
                },
                held
            ),
            Err(WitnessRefusal::RootConflict(10))
        );
    }

    #[test]
    fn the_protocol_refusals() {
        let history = leaves(8, "record");
        let held = Some(Witnessed {
            size: 4,
            root: root(&history[..4]),
        });
        let stale = request(2, &history);
        assert_eq!(decide(&stale, held), Err(WitnessRefusal::SizeConflict(4)));
        assert_eq!(WitnessRefusal::SizeConflict(4).status(), 409);
        let other_key = SigningKey::from_seed(ORIGIN, &[4; 32]).unwrap();
        let mut unsigned = request(4, &history);
        unsigned.checkpoint = Checkpoint::new(ORIGIN, 8, root(&history))
            .unwrap()
            .sign(&other_key);
        assert_eq!(decide(&unsigned, held), Err(WitnessRefusal::BadSignature));
        let unknown = request(4, &history);
        assert_eq!(
            unknown.decide(|_| false, &[log().verifier_key()], held),
            Err(WitnessRefusal::UnknownLog(ORIGIN.into()))
        );
        let backwards = AddCheckpoint {
            old_size: 9,
            ..request(4, &history)
        };
        assert_eq!(decide(&backwards, held).map_err(|e| e.status()), Err(400));
        for bad in [
            "old 01\n\nx",
            "old 1\nnot base64\n\nx",
            "old 1\n",
            "new 1\n\nx",
        ] {
            assert!(
                matches!(AddCheckpoint::parse(bad), Err(WitnessRefusal::Malformed(_))),
                "{bad:?}"
            );
        }
        let too_long = format!(
            "old 1\n{}\n{}",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n".repeat(64),
            "x"
        );
        assert!(AddCheckpoint::parse(&too_long).is_err());
    }
}
