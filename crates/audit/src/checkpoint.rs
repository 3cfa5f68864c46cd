//! Checkpoints of the audit log in the C2SP tlog-checkpoint format
//! (<https://c2sp.org/tlog-checkpoint>), signed as C2SP signed notes.
//!
//! The note text is
//!
//! ```text
//! <origin>
//! <tree size in decimal>
//! <root hash in standard base64>
//! [extension lines]
//! ```
//!
//! each line ending in a newline, followed by a blank line and the signature lines.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::merkle::{HASH_LEN, Hash};
use crate::note::{NoteError, SigningKey, VerifierKey, open_note, sign_note};

/// Why a checkpoint could not be made, or a signed checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The signed note around the checkpoint is malformed or not signed by the key.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// The origin is empty or has a character other than printable ASCII, or a `+`.
    #[error(
        "checkpoint origin {0:?} is invalid: it must be non-empty printable ASCII without spaces or '+'"
    )]
    InvalidOrigin(String),
    /// The checkpoint text does not end with a newline.
    #[error("checkpoint text does not end with a newline")]
    UnterminatedText,
    /// A mandatory line is missing.
    #[error("checkpoint has no {0} line")]
    MissingLine(&'static str),
    /// The tree size is not a canonical decimal `u64` (no sign, no leading zero).
    #[error("checkpoint tree size {0:?} is not a canonical decimal number")]
    InvalidSize(String),
    /// The root hash is not the canonical standard base64 of 32 bytes.
    #[error("checkpoint root hash {0:?} is not the standard base64 encoding of 32 bytes")]
    InvalidRootHash(String),
    /// An extension line is empty or has a control character.
    #[error("checkpoint extension line {0} is empty or has a control character")]
    InvalidExtension(usize),
}

/// A tree head of the audit log: the log's origin, its size and its root hash, plus any
/// extension lines.
///
/// Every value of this type has a valid origin and extensions, so its text and signed
/// note can always be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

impl Checkpoint {
    /// The checkpoint of the tree of `size` leaves with root `root`, for the log named
    /// `origin` (an ASCII name such as `audit.liaison.example`).
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Self, CheckpointError> {
        check_origin(origin)?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        })
    }

    /// This checkpoint with one more extension line (non-empty, no control characters).
    pub fn with_extension(mut self, line: &str) -> Result<Self, CheckpointError> {
        check_extension(line, self.extensions.len() + 1)?;
        self.extensions.push(line.to_owned());
        Ok(self)
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The number of leaves in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash of the tree.
    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// The extension lines, without their newlines.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The note text: origin, size and root hash lines, then the extension lines.
    pub fn text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        );
        for line in &self.extensions {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// Reads a note text (unsigned) as a checkpoint, strictly.
    pub fn parse_text(text: &str) -> Result<Self, CheckpointError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::UnterminatedText)?;
        let mut lines = body.split('\n');
        let origin = lines.next().ok_or(CheckpointError::MissingLine("origin"))?;
        let size = lines
            .next()
            .ok_or(CheckpointError::MissingLine("tree size"))?;
        let root = lines
            .next()
            .ok_or(CheckpointError::MissingLine("root hash"))?;
        let mut checkpoint = Self::new(origin, parse_size(size)?, parse_root(root)?)?;
        for line in lines {
            checkpoint = checkpoint.with_extension(line)?;
        }
        Ok(checkpoint)
    }

    /// The signed note of this checkpoint, with one signature by `key`.
    pub fn sign(&self, key: &SigningKey) -> String {
        sign_note(&self.text(), key)
    }

    /// Reads a signed checkpoint, accepting it only with a valid signature by `key`.
    /// Signatures by other keys (witnesses, say) are ignored when well-formed.
    pub fn verify(note: &str, key: &VerifierKey) -> Result<Self, CheckpointError> {
        let text = open_note(note, key)?;
        Self::parse_text(text)
    }
}

fn check_origin(origin: &str) -> Result<(), CheckpointError> {
    let valid = !origin.is_empty() && origin.bytes().all(|b| b.is_ascii_graphic() && b != b'+');
    if valid {
        Ok(())
    } else {
        Err(CheckpointError::InvalidOrigin(origin.to_owned()))
    }
}

fn check_extension(line: &str, number: usize) -> Result<(), CheckpointError> {
    if line.is_empty() || line.chars().any(char::is_control) {
        Err(CheckpointError::InvalidExtension(number))
    } else {
        Ok(())
    }
}

fn parse_size(line: &str) -> Result<u64, CheckpointError> {
    let invalid = || CheckpointError::InvalidSize(line.to_owned());
    let canonical = !line.is_empty()
        && line.bytes().all(|b| b.is_ascii_digit())
        && (line == "0" || !line.starts_with('0'));
    if !canonical {
        return Err(invalid());
    }
    line.parse().map_err(|_| invalid())
}

fn parse_root(line: &str) -> Result<Hash, CheckpointError> {
    let invalid = || CheckpointError::InvalidRootHash(line.to_owned());
    let bytes = STANDARD.decode(line).map_err(|_| invalid())?;
    let root = <[u8; HASH_LEN]>::try_from(bytes.as_slice()).map_err(|_| invalid())?;
    // The engine already refuses missing padding and stray bits; this makes sure.
    if STANDARD.encode(root) != line {
        return Err(invalid());
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{empty_root, leaf_hash, root};

    const ORIGIN: &str = "audit.liaison.test";
    const SEED: [u8; 32] = [0x42; 32];

    fn key() -> SigningKey {
        SigningKey::from_seed(ORIGIN, &SEED).unwrap()
    }

    fn sample() -> Checkpoint {
        let leaves: Vec<Hash> = (0..5u8).map(|i| leaf_hash(&[i])).collect();
        Checkpoint::new(ORIGIN, 5, root(&leaves)).unwrap()
    }

    #[test]
    fn signed_note_has_the_c2sp_layout() {
        let checkpoint = sample();
        let note = checkpoint.sign(&key());
        let root_b64 = STANDARD.encode(checkpoint.root());
        let (text, signatures) = note.split_once("\n\n").unwrap();
        assert_eq!(text, format!("audit.liaison.test\n5\n{root_b64}"));
        assert_eq!(root_b64.len(), 44);
        assert!(root_b64.ends_with('='));

        let line = signatures.strip_suffix('\n').unwrap();
        assert!(!line.contains('\n'), "one signature line");
        let rest = line.strip_prefix("\u{2014} ").unwrap();
        assert!(line.starts_with("\u{2014} audit.liaison.test "));
        assert_eq!(line.as_bytes()[..4], [0xe2, 0x80, 0x94, b' ']);
        let (name, blob) = rest.split_once(' ').unwrap();
        assert_eq!(name, ORIGIN);
        let blob = STANDARD.decode(blob).unwrap();
        assert_eq!(blob.len(), 4 + 64);
        assert_eq!(blob[..4], key().key_id());
        let body = format!("{text}\n");
        assert!(key().verifier_key().verify(body.as_bytes(), &blob[4..]));
    }

    #[test]
    fn signing_is_deterministic_for_a_fixed_key() {
        let a = sample().sign(&key());
        let b = sample().sign(&SigningKey::from_seed(ORIGIN, &SEED).unwrap());
        assert_eq!(a, b);
    }

    #[test]
    fn sign_then_verify_round_trips() {
        let key = key();
        for checkpoint in [
            sample(),
            Checkpoint::new(ORIGIN, 0, empty_root()).unwrap(),
            Checkpoint::new("example.com/log", u64::MAX, [0xff; 32]).unwrap(),
            sample()
                .with_extension("timestamp 1700000000")
                .unwrap()
                .with_extension("witness-count 0")
                .unwrap(),
        ] {
            let note = checkpoint.sign(&key);
            assert_eq!(
                Checkpoint::verify(&note, &key.verifier_key()),
                Ok(checkpoint)
            );
        }
    }

    #[test]
    fn verifies_with_a_parsed_verifier_key() {
        let key = key();
        let published = key.verifier_key().to_string();
        let verifier = VerifierKey::parse(&published).unwrap();
        assert_eq!(
            Checkpoint::verify(&sample().sign(&key), &verifier),
            Ok(sample())
        );
    }

    #[test]
    fn note_signed_by_another_key_fails() {
        let other = SigningKey::from_seed(ORIGIN, &[7; 32]).unwrap();
        let note = sample().sign(&other);
        assert!(matches!(
            Checkpoint::verify(&note, &key().verifier_key()),
            Err(CheckpointError::Note(NoteError::NotSignedByKey { .. }))
        ));
        // The same private key under another name has another key id.
        let renamed = SigningKey::from_seed("other.liaison.test", &SEED).unwrap();
        assert!(matches!(
            Checkpoint::verify(&sample().sign(&renamed), &key().verifier_key()),
            Err(CheckpointError::Note(NoteError::NotSignedByKey { .. }))
        ));
    }

    #[test]
    fn edited_size_or_root_fails() {
        let key = key();
        let note = sample().sign(&key);
        let root_b64 = STANDARD.encode(sample().root());
        let mut other_root = *sample().root();
        other_root[0] ^= 1;
        let edits = [
            note.replacen("\n5\n", "\n6\n", 1),
            note.replacen("\n5\n", "\n4\n", 1),
            note.replacen(&root_b64, &STANDARD.encode(other_root), 1),
            note.replacen(ORIGIN, "audit.liaison.tesT", 1),
            note.replacen("\n\n", "\nextra line\n\n", 1),
        ];
        for edited in edits {
            assert_ne!(edited, note);
            assert_eq!(
                Checkpoint::verify(&edited, &key.verifier_key()),
                Err(CheckpointError::Note(NoteError::InvalidSignature(
                    ORIGIN.into()
                ))),
                "{edited}"
            );
        }
    }

    #[test]
    fn invalid_origins_are_refused() {
        for origin in [
            "",
            "audit liaison",
            "audit\nliaison",
            "rīga.liaison.lv",
            "аудит.liaison",
            "a+b",
            "tab\there",
        ] {
            assert_eq!(
                Checkpoint::new(origin, 1, [0; 32]),
                Err(CheckpointError::InvalidOrigin(origin.into())),
                "{origin:?}"
            );
        }
    }

    #[test]
    fn malformed_texts_are_refused() {
        let r = STANDARD.encode([0u8; 32]);
        let short = STANDARD.encode([0u8; 31]);
        let unpadded = r.trim_end_matches('=').to_owned();
        // Last character 'B' leaves a stray bit set in the final byte.
        let stray_bits = format!("{}B=", &r[..42]);
        let url_safe = r.replace('A', "_");
        let cases: Vec<(String, CheckpointError)> = vec![
            (format!("o\n1\n{r}"), CheckpointError::UnterminatedText),
            ("o\n".into(), CheckpointError::MissingLine("tree size")),
            ("o\n1\n".into(), CheckpointError::MissingLine("root hash")),
            (
                format!("o\n01\n{r}\n"),
                CheckpointError::InvalidSize("01".into()),
            ),
            (
                format!("o\n00\n{r}\n"),
                CheckpointError::InvalidSize("00".into()),
            ),
            (
                format!("o\n+1\n{r}\n"),
                CheckpointError::InvalidSize("+1".into()),
            ),
            (
                format!("o\n-1\n{r}\n"),
                CheckpointError::InvalidSize("-1".into()),
            ),
            (
                format!("o\n1 \n{r}\n"),
                CheckpointError::InvalidSize("1 ".into()),
            ),
            (
                format!("o\n\n{r}\n"),
                CheckpointError::InvalidSize(String::new()),
            ),
            (
                format!("o\n0x1\n{r}\n"),
                CheckpointError::InvalidSize("0x1".into()),
            ),
            (
                format!("o\n18446744073709551616\n{r}\n"),
                CheckpointError::InvalidSize("18446744073709551616".into()),
            ),
            (
                format!("o\n1\n{short}\n"),
                CheckpointError::InvalidRootHash(short),
            ),
            (
                format!("o\n1\n{unpadded}\n"),
                CheckpointError::InvalidRootHash(unpadded),
            ),
            (
                format!("o\n1\n{stray_bits}\n"),
                CheckpointError::InvalidRootHash(stray_bits),
            ),
            (
                format!("o\n1\n{url_safe}\n"),
                CheckpointError::InvalidRootHash(url_safe),
            ),
            (
                format!("o\n1\n{r} \n"),
                CheckpointError::InvalidRootHash(format!("{r} ")),
            ),
            (
                format!("o\n1\n{r}\n\n"),
                CheckpointError::InvalidExtension(1),
            ),
            (
                format!("o\n1\n{r}\next\n\n"),
                CheckpointError::InvalidExtension(2),
            ),
            (
                format!(" o\n1\n{r}\n"),
                CheckpointError::InvalidOrigin(" o".into()),
            ),
            (
                format!("\n1\n{r}\n"),
                CheckpointError::InvalidOrigin(String::new()),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(Checkpoint::parse_text(&text), Err(expected), "{text:?}");
        }
        assert_eq!(
            Checkpoint::parse_text(&format!("o\n18446744073709551615\n{r}\n")).map(|c| c.size()),
            Ok(u64::MAX)
        );
        assert_eq!(
            Checkpoint::parse_text(&format!("o\n0\n{r}\n")).map(|c| c.size()),
            Ok(0)
        );
    }

    #[test]
    fn malformed_signed_notes_are_refused() {
        let key = key();
        let note = sample().sign(&key);
        let verifier = key.verifier_key();
        assert_eq!(
            Checkpoint::verify(&note.replacen("\n\n", "\n", 1), &verifier),
            Err(CheckpointError::Note(NoteError::MissingBlankLine))
        );
        assert_eq!(
            Checkpoint::verify(&sample().text(), &verifier),
            Err(CheckpointError::Note(NoteError::MissingBlankLine))
        );
        assert_eq!(
            Checkpoint::verify(&note.replacen('\u{2014}', "--", 1), &verifier),
            Err(CheckpointError::Note(NoteError::SignaturePrefix(1)))
        );
        let (text, line) = note.split_once("\n\n").unwrap();
        let (head, blob) = line.rsplit_once(' ').unwrap();
        let bad_b64 = format!("{text}\n\n{head} !{}", &blob[1..]);
        assert_eq!(
            Checkpoint::verify(&bad_b64, &verifier),
            Err(CheckpointError::Note(NoteError::SignatureBase64(1)))
        );
    }

    #[test]
    fn a_validly_signed_note_that_is_no_checkpoint_is_refused() {
        let key = key();
        let note = sign_note("just one line\n", &key);
        assert_eq!(
            Checkpoint::verify(&note, &key.verifier_key()),
            Err(CheckpointError::MissingLine("tree size"))
        );
        let note = sign_note("o\n007\nAAAA\n", &key);
        assert_eq!(
            Checkpoint::verify(&note, &key.verifier_key()),
            Err(CheckpointError::InvalidSize("007".into()))
        );
    }

    #[test]
    fn extensions_must_be_non_empty_without_control_characters() {
        assert_eq!(
            sample().with_extension(""),
            Err(CheckpointError::InvalidExtension(1))
        );
        assert_eq!(
            sample().with_extension("a").unwrap().with_extension("b\nc"),
            Err(CheckpointError::InvalidExtension(2))
        );
        assert_eq!(sample().with_extension("ok").unwrap().extensions(), ["ok"]);
    }
}
