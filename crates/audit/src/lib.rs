//! The cryptographic core of Liaison's tamper-evident audit log; no I/O.
//!
//! - [`merkle`]: RFC 6962 / RFC 9162 Merkle tree hashing with SHA-256 (leaf prefix `0x00`,
//!   node prefix `0x01`), the root of a list of leaves and an incremental [`TreeBuilder`].
//! - [`proof`]: inclusion and consistency proofs, generated and verified as RFC 9162
//!   §2.1.3 and §2.1.4 describe.
//! - [`note`]: Ed25519 signing and verifier keys and C2SP signed notes, compatible with
//!   Go's `golang.org/x/mod/sumdb/note`.
//! - [`checkpoint`]: signed tree heads in the C2SP tlog-checkpoint format.
//! - [`cosignature`]: witness cosignatures (C2SP tlog-cosignature, Ed25519 v1).
//! - [`witness`]: the C2SP tlog-witness `add-checkpoint` request and a witness's decision.
//! - [`record`]: the audit record and its stored encoding.
//! - [`disclosure`]: the committed form a leaf holds (withheld parts as salted hashes),
//!   and per-viewer openings that verify against it.
//! - [`tree`]: [`ProofTree`], the tree kept level by level for fast proofs.
//! - [`tiles`]: the tree as C2SP tlog-tiles, for storage: which tiles an operation needs,
//!   roots and proofs from them, and the [`TileEdge`] a sequencer appends through.
//!
//! A sequencer hashes each record's committed form ([`Sealed::leaf_data`]) with [`leaf_hash`], appends it to a
//! [`TreeBuilder`] and signs a [`Checkpoint`] of the new size and root. A reviewer checks
//! the checkpoint with the hub's [`VerifierKey`], a record with [`verify_inclusion`], and
//! that a newer checkpoint extends an older one with [`verify_consistency`].

pub mod checkpoint;
pub mod cosignature;
pub mod disclosure;
pub mod merkle;
pub mod note;
pub mod proof;
pub mod record;
pub mod tiles;
pub mod tree;
pub mod witness;

pub use checkpoint::{Checkpoint, CheckpointError};
pub use cosignature::{CosignatureError, Cosigner, CosignerKey};
pub use disclosure::{Disclosure, Opening, OpeningError, Sealed, View, Viewer};
pub use merkle::{HASH_LEN, Hash, TreeBuilder, empty_root, leaf_hash, node_hash, root};
pub use note::{KeyError, KeyId, NoteError, SigningKey, VerifierKey};
pub use proof::{
    ProofError, consistency_proof, inclusion_proof, root_from_inclusion_proof, verify_consistency,
    verify_inclusion,
};
pub use record::{Access, Actor, AuditRecord, ObjectAccess};
pub use tiles::{TileEdge, TileError, TileId, TileSet};
pub use tree::ProofTree;
pub use witness::{AddCheckpoint, WitnessRefusal, Witnessed};
