//! Ed25519 keys and C2SP signed notes (<https://c2sp.org/signed-note>), compatible with Go's
//! `golang.org/x/mod/sumdb/note`.
//!
//! A signed note is its text (non-empty, ending in a newline), a blank line, and one line
//! per signature: `— <key name> <base64(key id || signature)>` with U+2014 EM DASH. An
//! Ed25519 key's id is the first four bytes of `SHA-256(name || "\n" || 0x01 || public key)`
//! and its signature covers the text exactly, final newline included.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use sha2::{Digest, Sha256};

/// The signature type byte of Ed25519 keys in key ids and verifier keys.
pub const ALG_ED25519: u8 = 0x01;

/// Length of an Ed25519 public key, and of the seed of a private key.
pub const ED25519_KEY_LEN: usize = 32;

/// Length of an Ed25519 signature.
pub const ED25519_SIGNATURE_LEN: usize = 64;

/// The largest signed note accepted, in bytes (as Go's `note.Open`).
pub const MAX_NOTE_LEN: usize = 1 << 20;

/// The most signature lines accepted in one note (as Go's `note.Open`).
pub const MAX_SIGNATURES: usize = 100;

/// The first four bytes of the hash that names a key in signature lines.
pub type KeyId = [u8; 4];

/// What starts every signature line: U+2014 EM DASH and a space.
pub(crate) const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Why a key could not be made, parsed or loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The key name is empty or has a space, a `+` or a control character.
    #[error(
        "key name {0:?} is invalid: it must be non-empty, without spaces, '+' or control characters"
    )]
    InvalidName(String),
    /// The verifier key is not three `+`-separated fields.
    #[error("verifier key must have the form <name>+<hex key id>+<base64 key>")]
    VerifierKeyFormat,
    /// The key id field is not eight hexadecimal digits.
    #[error("verifier key id {0:?} is not 8 hexadecimal digits")]
    KeyIdFormat(String),
    /// The key field is not standard base64.
    #[error("verifier key material is not valid standard base64")]
    KeyBase64,
    /// The key field names an algorithm other than Ed25519.
    #[error("key algorithm {0:#04x} is not supported; only Ed25519 (0x01) is")]
    UnsupportedAlgorithm(u8),
    /// The key field has no algorithm byte or a public key of the wrong length.
    #[error("Ed25519 public key has {0} bytes where 32 are expected")]
    PublicKeyLength(usize),
    /// The key id does not belong to the name and public key.
    #[error("verifier key id does not match its name and public key")]
    KeyIdMismatch,
    /// The private key document or seed was rejected.
    #[error("private key rejected: {0}")]
    InvalidPrivateKey(String),
    /// The system random number generator failed.
    #[error("could not generate an Ed25519 key: the random number generator failed")]
    Generation,
}

/// Why a signed note was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The note is longer than [`MAX_NOTE_LEN`].
    #[error("note is {len} bytes long, more than the {max} allowed")]
    TooLarge {
        /// The note's length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The note has a control character other than newline.
    #[error("note contains a control character other than newline at byte {0}")]
    ControlCharacter(usize),
    /// No blank line separates the text from the signatures.
    #[error("note has no blank line between its text and its signatures")]
    MissingBlankLine,
    /// Nothing follows the blank line.
    #[error("note has no signature lines")]
    NoSignatures,
    /// The last signature line has no final newline.
    #[error("note's last signature line does not end with a newline")]
    UnterminatedSignature,
    /// More than [`MAX_SIGNATURES`] signature lines.
    #[error("note has more than {0} signature lines")]
    TooManySignatures(usize),
    /// A signature line does not start with an em dash and a space.
    #[error("signature line {0} does not start with an em dash (U+2014) and a space")]
    SignaturePrefix(usize),
    /// A signature line has no space between the key name and the signature.
    #[error("signature line {0} has no space between key name and signature")]
    SignatureFormat(usize),
    /// A signature line has an invalid key name.
    #[error("signature line {0} has an invalid key name")]
    SignatureKeyName(usize),
    /// A signature line's signature is not standard base64.
    #[error("signature line {0} is not valid standard base64")]
    SignatureBase64(usize),
    /// A signature line's signature is too short to hold a key id and a signature.
    #[error("signature line {0} is too short to hold a key id and a signature")]
    SignatureTooShort(usize),
    /// No signature line carries the expected key's name and id.
    #[error("note is not signed by key {name} ({key_id})")]
    NotSignedByKey {
        /// The expected key's name.
        name: String,
        /// The expected key's id, in hexadecimal.
        key_id: String,
    },
    /// The expected key signed more than once.
    #[error("note has more than one signature by key {0}")]
    DuplicateSignature(String),
    /// The signature by the expected key does not verify: the text was altered.
    #[error("signature by key {0} does not verify")]
    InvalidSignature(String),
}

/// Whether `name` may name a key: non-empty, no whitespace, `+` or control characters.
pub(crate) fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '+')
}

/// The id of the Ed25519 key with this name and public key.
pub fn key_id(name: &str, public_key: &[u8; ED25519_KEY_LEN]) -> KeyId {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update(b"\n");
    hasher.update([ALG_ED25519]);
    hasher.update(public_key);
    let digest = hasher.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// An Ed25519 signing key with the name its signatures carry.
pub struct SigningKey {
    name: String,
    pair: Ed25519KeyPair,
    key_id: KeyId,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the private key.
        f.debug_struct("SigningKey")
            .field("name", &self.name)
            .field("key_id", &hex::encode(self.key_id))
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new random key, and its PKCS#8 v2 document to store (secret) and load again with
    /// [`SigningKey::from_pkcs8`].
    pub fn generate(name: &str) -> Result<(Self, Vec<u8>), KeyError> {
        check_name(name)?;
        let document = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| KeyError::Generation)?;
        let key = Self::from_pkcs8(name, document.as_ref())?;
        Ok((key, document.as_ref().to_vec()))
    }

    /// The key stored in a PKCS#8 document (v2 as [`SigningKey::generate`] writes, or v1).
    pub fn from_pkcs8(name: &str, pkcs8: &[u8]) -> Result<Self, KeyError> {
        check_name(name)?;
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
            .map_err(|e| KeyError::InvalidPrivateKey(e.to_string()))?;
        Ok(Self::with_pair(name, pair))
    }

    /// The key with this 32-byte seed (the RFC 8032 private key), as Go's note signer keys
    /// hold it.
    pub fn from_seed(name: &str, seed: &[u8; ED25519_KEY_LEN]) -> Result<Self, KeyError> {
        check_name(name)?;
        let pair = Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|e| KeyError::InvalidPrivateKey(e.to_string()))?;
        Ok(Self::with_pair(name, pair))
    }

    fn with_pair(name: &str, pair: Ed25519KeyPair) -> Self {
        let mut public_key = [0; ED25519_KEY_LEN];
        public_key.copy_from_slice(pair.public_key().as_ref());
        Self {
            name: name.to_owned(),
            key_id: key_id(name, &public_key),
            pair,
        }
    }

    /// The key name that signature lines carry.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> [u8; ED25519_KEY_LEN] {
        let mut public_key = [0; ED25519_KEY_LEN];
        public_key.copy_from_slice(self.pair.public_key().as_ref());
        public_key
    }

    /// The key id that signature lines carry.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The verifier key of this key, to publish.
    pub fn verifier_key(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            public_key: self.public_key(),
            key_id: self.key_id,
        }
    }

    /// The Ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; ED25519_SIGNATURE_LEN] {
        let mut signature = [0; ED25519_SIGNATURE_LEN];
        signature.copy_from_slice(self.pair.sign(message).as_ref());
        signature
    }
}

fn check_name(name: &str) -> Result<(), KeyError> {
    if is_valid_key_name(name) {
        Ok(())
    } else {
        Err(KeyError::InvalidName(name.to_owned()))
    }
}

/// The public half of a [`SigningKey`], in text form `<name>+<hex key id>+<base64(0x01 ||
/// public key)>` as Go's `note.NewVerifier` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    public_key: [u8; ED25519_KEY_LEN],
    key_id: KeyId,
}

impl VerifierKey {
    /// The verifier key of the Ed25519 public key with this name.
    pub fn new(name: &str, public_key: [u8; ED25519_KEY_LEN]) -> Result<Self, KeyError> {
        check_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            key_id: key_id(name, &public_key),
            public_key,
        })
    }

    /// Reads the text form, checking that the key id belongs to the name and key.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let mut fields = text.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(KeyError::VerifierKeyFormat);
        };
        check_name(name)?;
        let mut key_id = [0; 4];
        if id.len() != 8 || hex::decode_to_slice(id, &mut key_id).is_err() {
            return Err(KeyError::KeyIdFormat(id.to_owned()));
        }
        let bytes = STANDARD.decode(key).map_err(|_| KeyError::KeyBase64)?;
        let public_key = match bytes.split_first() {
            Some((&ALG_ED25519, rest)) => <[u8; ED25519_KEY_LEN]>::try_from(rest)
                .map_err(|_| KeyError::PublicKeyLength(rest.len()))?,
            Some((&alg, _)) => return Err(KeyError::UnsupportedAlgorithm(alg)),
            None => return Err(KeyError::PublicKeyLength(0)),
        };
        let verifier = Self::new(name, public_key)?;
        if verifier.key_id != key_id {
            return Err(KeyError::KeyIdMismatch);
        }
        Ok(verifier)
    }

    /// The key name that signature lines carry.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> [u8; ED25519_KEY_LEN] {
        self.public_key
    }

    /// The key id that signature lines carry.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// Whether `signature` is this key's Ed25519 signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.public_key)
            .verify(message, signature)
            .is_ok()
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut material = Vec::with_capacity(1 + ED25519_KEY_LEN);
        material.push(ALG_ED25519);
        material.extend_from_slice(&self.public_key);
        write!(
            f,
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_id),
            STANDARD.encode(material)
        )
    }
}

impl FromStr for VerifierKey {
    type Err = KeyError;

    fn from_str(text: &str) -> Result<Self, KeyError> {
        Self::parse(text)
    }
}

/// The signed note of `text` with one signature by `key`. `text` must be a valid note text
/// (non-empty, ending in a newline, no control characters but newlines, no blank line).
pub(crate) fn sign_note(text: &str, key: &SigningKey) -> String {
    debug_assert!(text.ends_with('\n') && !text.contains("\n\n"));
    let mut blob = Vec::with_capacity(4 + ED25519_SIGNATURE_LEN);
    blob.extend_from_slice(&key.key_id);
    blob.extend_from_slice(&key.sign(text.as_bytes()));
    format!(
        "{text}\n{SIGNATURE_PREFIX}{} {}\n",
        key.name,
        STANDARD.encode(blob)
    )
}

/// One signature line of a note: the key name and the decoded `key id || signature`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignatureLine<'a> {
    pub(crate) name: &'a str,
    pub(crate) key_id: KeyId,
    pub(crate) signature: Vec<u8>,
}

/// Splits a signed note into its text (final newline included) and its well-formed
/// signature lines, refusing a note that is not one.
pub(crate) fn split_note(note: &str) -> Result<(&str, Vec<SignatureLine<'_>>), NoteError> {
    if note.len() > MAX_NOTE_LEN {
        return Err(NoteError::TooLarge {
            len: note.len(),
            max: MAX_NOTE_LEN,
        });
    }
    if let Some((at, _)) = note
        .char_indices()
        .find(|&(_, c)| c.is_control() && c != '\n')
    {
        return Err(NoteError::ControlCharacter(at));
    }
    // Signature lines are never empty, so the last blank line is the separator.
    let split = note.rfind("\n\n").ok_or(NoteError::MissingBlankLine)?;
    let (text, signatures) = (&note[..=split], &note[split + 2..]);
    if signatures.is_empty() {
        return Err(NoteError::NoSignatures);
    }
    let Some(signatures) = signatures.strip_suffix('\n') else {
        return Err(NoteError::UnterminatedSignature);
    };

    if signatures.split('\n').count() > MAX_SIGNATURES {
        return Err(NoteError::TooManySignatures(MAX_SIGNATURES));
    }

    let mut lines = Vec::new();
    for (i, line) in signatures.split('\n').enumerate() {
        let number = i + 1;
        let rest = line
            .strip_prefix(SIGNATURE_PREFIX)
            .ok_or(NoteError::SignaturePrefix(number))?;
        let (name, encoded) = rest
            .split_once(' ')
            .ok_or(NoteError::SignatureFormat(number))?;
        if !is_valid_key_name(name) {
            return Err(NoteError::SignatureKeyName(number));
        }
        let blob = STANDARD
            .decode(encoded)
            .map_err(|_| NoteError::SignatureBase64(number))?;
        if blob.len() < 5 {
            return Err(NoteError::SignatureTooShort(number));
        }
        let (id, signature) = blob.split_at(4);
        lines.push(SignatureLine {
            name,
            key_id: [id[0], id[1], id[2], id[3]],
            signature: signature.to_vec(),
        });
    }
    Ok((text, lines))
}

/// Checks a signed note and returns its text (final newline included) when it carries one
/// valid signature by `key`. Well-formed signatures by other keys are ignored.
pub(crate) fn open_note<'a>(note: &'a str, key: &VerifierKey) -> Result<&'a str, NoteError> {
    let (text, lines) = split_note(note)?;
    let mut found = false;
    for line in lines {
        if line.name != key.name || line.key_id != key.key_id {
            continue;
        }
        if found {
            return Err(NoteError::DuplicateSignature(key.name.clone()));
        }
        if !key.verify(text.as_bytes(), &line.signature) {
            return Err(NoteError::InvalidSignature(key.name.clone()));
        }
        found = true;
    }
    if found {
        Ok(text)
    } else {
        Err(NoteError::NotSignedByKey {
            name: key.name.clone(),
            key_id: hex::encode(key.key_id),
        })
    }
}

#[cfg(test)]
mod tests;
