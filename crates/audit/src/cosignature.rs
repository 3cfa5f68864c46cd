//! Witness cosignatures in the C2SP tlog-cosignature format
//! (<https://c2sp.org/tlog-cosignature>), Ed25519 `cosignature/v1`.
//!
//! A cosignature is a note signature line on a checkpoint: `— <witness name>
//! base64(key id || timestamp || signature)`, where the key id is the first four bytes of
//! `SHA-256(name || "\n" || 0x04 || public key)`, the timestamp is eight bytes big-endian
//! (POSIX seconds), and the Ed25519 signature covers `cosignature/v1\ntime <timestamp>\n`
//! followed by the checkpoint's whole note text. It says: as of that time, this is the
//! largest checkpoint of the log the witness has seen, and it is consistent with every
//! earlier one the witness cosigned.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::note::{
    ED25519_KEY_LEN, ED25519_SIGNATURE_LEN, KeyError, KeyId, NoteError, SIGNATURE_PREFIX,
    SigningKey, VerifierKey, split_note,
};

/// The signature type byte of Ed25519 `cosignature/v1` keys.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// The largest timestamp a cosignature may carry.
const MAX_TIMESTAMP: u64 = (1 << 63) - 1;

/// Why a cosignature is not there or not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CosignatureError {
    /// The checkpoint is not a well-formed signed note.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// The note has no signature line by this witness.
    #[error("no cosignature by witness {0}")]
    Missing(String),
    /// The witness's signature line is malformed or does not verify.
    #[error("the cosignature by witness {0} does not verify")]
    Invalid(String),
    /// The witness cosigned more than once.
    #[error("more than one cosignature by witness {0}")]
    Duplicate(String),
}

/// The key id of an Ed25519 cosigner key.
pub fn cosigner_key_id(name: &str, public_key: &[u8; ED25519_KEY_LEN]) -> KeyId {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update(b"\n");
    hasher.update([ALG_COSIGNATURE_V1]);
    hasher.update(public_key);
    let digest = hasher.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

fn signed_message(checkpoint_text: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{checkpoint_text}")
}

/// A witness's private key, cosigning checkpoints.
#[derive(Debug)]
pub struct Cosigner {
    key: SigningKey,
    key_id: KeyId,
}

impl Cosigner {
    /// A cosigner with the Ed25519 key and name of `key`.
    pub fn new(key: SigningKey) -> Self {
        let key_id = cosigner_key_id(key.name(), &key.public_key());
        Self { key, key_id }
    }

    /// The witness's name.
    pub fn name(&self) -> &str {
        self.key.name()
    }

    /// The key that verifies this witness's cosignatures.
    pub fn verifier(&self) -> CosignerKey {
        CosignerKey {
            name: self.key.name().to_owned(),
            public_key: self.key.public_key(),
            key_id: self.key_id,
        }
    }

    /// The signature line (newline-terminated) cosigning the checkpoint whose note text
    /// (without signatures) is `checkpoint_text`, at `timestamp` (POSIX seconds, at most
    /// 2^63 - 1; larger values are clamped).
    pub fn cosign(&self, checkpoint_text: &str, timestamp: u64) -> String {
        let timestamp = timestamp.min(MAX_TIMESTAMP);
        let signature = self
            .key
            .sign(signed_message(checkpoint_text, timestamp).as_bytes());
        let mut blob = Vec::with_capacity(4 + 8 + ED25519_SIGNATURE_LEN);
        blob.extend_from_slice(&self.key_id);
        blob.extend_from_slice(&timestamp.to_be_bytes());
        blob.extend_from_slice(&signature);
        format!(
            "{SIGNATURE_PREFIX}{} {}\n",
            self.key.name(),
            STANDARD.encode(blob)
        )
    }
}

/// A witness's public key, as the federation file names it: a C2SP verifier key
/// `<name>+<hex key id>+<base64(0x04 || public key)>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignerKey {
    name: String,
    public_key: [u8; ED25519_KEY_LEN],
    key_id: KeyId,
}

impl CosignerKey {
    /// The key of witness `name` with this Ed25519 public key.
    pub fn new(name: &str, public_key: [u8; ED25519_KEY_LEN]) -> Result<Self, KeyError> {
        // The name rules are those of every note key.
        VerifierKey::new(name, public_key)?;
        Ok(Self {
            name: name.to_owned(),
            key_id: cosigner_key_id(name, &public_key),
            public_key,
        })
    }

    /// Parses a verifier key of type 0x04.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let mut fields = text.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(KeyError::VerifierKeyFormat);
        };
        let mut key_id = [0; 4];
        if id.len() != 8 || hex::decode_to_slice(id, &mut key_id).is_err() {
            return Err(KeyError::KeyIdFormat(id.to_owned()));
        }
        let bytes = STANDARD.decode(key).map_err(|_| KeyError::KeyBase64)?;
        let public_key = match bytes.split_first() {
            Some((&ALG_COSIGNATURE_V1, rest)) => <[u8; ED25519_KEY_LEN]>::try_from(rest)
                .map_err(|_| KeyError::PublicKeyLength(rest.len()))?,
            Some((&alg, _)) => return Err(KeyError::UnsupportedAlgorithm(alg)),
            None => return Err(KeyError::PublicKeyLength(0)),
        };
        let parsed = Self::new(name, public_key)?;
        if parsed.key_id != key_id {
            return Err(KeyError::KeyIdMismatch);
        }
        Ok(parsed)
    }

    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id its signature lines carry.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The time of this witness's cosignature on the signed checkpoint `note`, if the note
    /// carries one that verifies. Other signature lines are ignored.
    pub fn verify_note(&self, note: &str) -> Result<u64, CosignatureError> {
        let (text, lines) = split_note(note)?;
        let mut found = None;
        for line in lines {
            if line.name != self.name || line.key_id != self.key_id {
                continue;
            }
            if found.is_some() {
                return Err(CosignatureError::Duplicate(self.name.clone()));
            }
            let timestamp = self
                .verify_signature(text, &line.signature)
                .ok_or_else(|| CosignatureError::Invalid(self.name.clone()))?;
            found = Some(timestamp);
        }
        found.ok_or_else(|| CosignatureError::Missing(self.name.clone()))
    }

    fn verify_signature(&self, text: &str, blob: &[u8]) -> Option<u64> {
        if blob.len() != 8 + ED25519_SIGNATURE_LEN {
            return None;
        }
        let (timestamp, signature) = blob.split_at(8);
        let timestamp = u64::from_be_bytes(timestamp.try_into().ok()?);
        if timestamp > MAX_TIMESTAMP {
            return None;
        }
        let message = signed_message(text, timestamp);
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, self.public_key)
            .verify(message.as_bytes(), signature)
            .ok()
            .map(|()| timestamp)
    }
}

impl fmt::Display for CosignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut material = Vec::with_capacity(1 + ED25519_KEY_LEN);
        material.push(ALG_COSIGNATURE_V1);
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

impl std::str::FromStr for CosignerKey {
    type Err = KeyError;

    fn from_str(text: &str) -> Result<Self, KeyError> {
        Self::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Checkpoint;

    fn witness(name: &str, seed: u8) -> Cosigner {
        Cosigner::new(SigningKey::from_seed(name, &[seed; 32]).unwrap())
    }

    fn signed_checkpoint(size: u64) -> String {
        let log = SigningKey::from_seed("audit.liaison.test", &[7; 32]).unwrap();
        Checkpoint::new("audit.liaison.test", size, [size as u8; 32])
            .unwrap()
            .sign(&log)
    }

    #[test]
    fn a_cosignature_verifies_and_carries_its_time() {
        let cert_ua = witness("witness.cert.gov.ua/liaison", 1);
        let note = signed_checkpoint(20);
        let text = &note[..note.rfind("\n\n").unwrap() + 1];
        let cosigned = format!("{note}{}", cert_ua.cosign(text, 1_765_000_000));
        assert_eq!(cert_ua.verifier().verify_note(&cosigned), Ok(1_765_000_000));
        // The verifier key round-trips as text, with the cosignature type byte.
        let key: CosignerKey = cert_ua.verifier().to_string().parse().unwrap();
        assert_eq!(key, cert_ua.verifier());
        assert!(VerifierKey::parse(&key.to_string()).is_err());
    }

    #[test]
    fn another_checkpoint_another_witness_or_time_does_not_verify() {
        let a = witness("witness.a.example", 1);
        let b = witness("witness.b.example", 2);
        let note = signed_checkpoint(20);
        let text = &note[..note.rfind("\n\n").unwrap() + 1];
        let line = a.cosign(text, 100);
        // Moved onto another checkpoint.
        let other = signed_checkpoint(21);
        assert_eq!(
            a.verifier().verify_note(&format!("{other}{line}")),
            Err(CosignatureError::Invalid("witness.a.example".into()))
        );
        // Not b's.
        assert_eq!(
            b.verifier().verify_note(&format!("{note}{line}")),
            Err(CosignatureError::Missing("witness.b.example".into()))
        );
        // The time changed in the signature line.
        let mut blob = STANDARD
            .decode(line.trim_end().rsplit(' ').next().unwrap())
            .unwrap();
        blob[11] ^= 1;
        let forged = format!("\u{2014} witness.a.example {}\n", STANDARD.encode(&blob));
        assert_eq!(
            a.verifier().verify_note(&format!("{note}{forged}")),
            Err(CosignatureError::Invalid("witness.a.example".into()))
        );
    }

    #[test]
    fn the_key_id_is_that_of_the_specification() {
        // SHA-256(name || "\n" || 0x04 || key)[:4], computed independently.
        let key = [9u8; 32];
        let mut input = b"w.example\n\x04".to_vec();
        input.extend_from_slice(&key);
        let digest = Sha256::digest(&input);
        assert_eq!(cosigner_key_id("w.example", &key), digest[..4]);
        assert_ne!(
            cosigner_key_id("w.example", &key),
            crate::note::key_id("w.example", &key)
        );
    }
}
