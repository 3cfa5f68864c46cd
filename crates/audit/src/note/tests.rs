//! Unit tests of the `note` module.

use super::*;

// The example in the documentation of golang.org/x/mod/sumdb/note: a known answer for key
// ids, verifier keys and (Ed25519 being deterministic) the whole signed note.
const GO_SIGNER: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const GO_VERIFIER: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n";
const GO_NOTE: &str = "If you think cryptography is the answer to your problem,\n\
    then you don't know what your problem is.\n\
    \n\
    \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

fn go_signing_key() -> SigningKey {
    // PRIVATE+KEY+<name>+<key id>+<base64(0x01 || seed)>; the base64 may hold a '+'.
    let encoded = GO_SIGNER.splitn(5, '+').nth(4).unwrap();
    let bytes = STANDARD.decode(encoded).unwrap();
    assert_eq!(bytes[0], ALG_ED25519);
    SigningKey::from_seed("PeterNeumann", &bytes[1..].try_into().unwrap()).unwrap()
}

#[test]
fn go_example_key_id_and_verifier_key_match() {
    let key = go_signing_key();
    assert_eq!(hex::encode(key.key_id()), "c74f20a3");
    assert_eq!(key.verifier_key().to_string(), GO_VERIFIER);
    let parsed = VerifierKey::parse(GO_VERIFIER).unwrap();
    assert_eq!(parsed, key.verifier_key());
    assert_eq!(parsed.to_string(), GO_VERIFIER);
    assert_eq!(GO_VERIFIER.parse::<VerifierKey>().unwrap(), parsed);
}

#[test]
fn go_example_note_is_reproduced_byte_for_byte_and_opens() {
    let key = go_signing_key();
    assert_eq!(sign_note(GO_TEXT, &key), GO_NOTE);
    let verifier = VerifierKey::parse(GO_VERIFIER).unwrap();
    assert_eq!(open_note(GO_NOTE, &verifier), Ok(GO_TEXT));
    let altered = GO_NOTE.replace("cryptography", "cryptographY");
    assert_eq!(
        open_note(&altered, &verifier),
        Err(NoteError::InvalidSignature("PeterNeumann".into()))
    );
}

#[test]
fn verifier_key_manglings_are_refused() {
    assert_eq!(
        VerifierKey::parse("PeterNeumann+c74f20a3"),
        Err(KeyError::VerifierKeyFormat)
    );
    assert!(matches!(
        VerifierKey::parse("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(KeyError::InvalidName(_))
    ));
    assert!(matches!(
        VerifierKey::parse("PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(KeyError::KeyIdFormat(_))
    ));
    assert!(matches!(
        VerifierKey::parse("PeterNeumann+c74f20ag+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(KeyError::KeyIdFormat(_))
    ));
    assert_eq!(
        VerifierKey::parse("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(KeyError::KeyIdMismatch)
    );
    assert_eq!(
        VerifierKey::parse("Peter+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(KeyError::KeyIdMismatch)
    );
    assert_eq!(
        VerifierKey::parse("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T"),
        Err(KeyError::KeyBase64)
    );
    assert_eq!(
        VerifierKey::parse("PeterNeumann+c74f20a3+Alpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(KeyError::UnsupportedAlgorithm(0x02))
    );
    assert_eq!(
        VerifierKey::parse("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy"),
        Err(KeyError::PublicKeyLength(29))
    );
    assert_eq!(
        VerifierKey::parse("PeterNeumann+c74f20a3+"),
        Err(KeyError::PublicKeyLength(0))
    );
}

#[test]
fn invalid_key_names_are_refused() {
    for name in ["", "a b", "a+b", "a\nb", "a\u{2003}b", "tab\t"] {
        assert_eq!(
            SigningKey::from_seed(name, &[1; 32]).map(|_| ()),
            Err(KeyError::InvalidName(name.into())),
            "{name:?}"
        );
    }
    assert!(SigningKey::from_seed("audit.liaison.example/v1", &[1; 32]).is_ok());
}

#[test]
fn generated_key_round_trips_through_pkcs8() {
    let (key, pkcs8) = SigningKey::generate("hub.liaison.test").unwrap();
    let loaded = SigningKey::from_pkcs8("hub.liaison.test", &pkcs8).unwrap();
    assert_eq!(loaded.public_key(), key.public_key());
    assert_eq!(loaded.key_id(), key.key_id());
    let signature = loaded.sign(b"message");
    assert!(key.verifier_key().verify(b"message", &signature));
    assert!(!key.verifier_key().verify(b"messagE", &signature));
    assert!(matches!(
        SigningKey::from_pkcs8("hub.liaison.test", &pkcs8[..pkcs8.len() - 1]),
        Err(KeyError::InvalidPrivateKey(_))
    ));
}

#[test]
fn debug_does_not_print_the_private_key() {
    let key = go_signing_key();
    let debug = format!("{key:?}");
    assert_eq!(
        debug,
        "SigningKey { name: \"PeterNeumann\", key_id: \"c74f20a3\", .. }"
    );
}

#[test]
fn other_signatures_are_ignored_and_the_expected_one_is_required() {
    let peter = go_signing_key();
    let other = SigningKey::from_seed("Other", &[9; 32]).unwrap();
    let with_both = format!(
        "{}{}",
        sign_note(GO_TEXT, &other),
        sign_note(GO_TEXT, &peter).split_once("\n\n").unwrap().1
    );
    assert_eq!(open_note(&with_both, &peter.verifier_key()), Ok(GO_TEXT));
    assert_eq!(open_note(&with_both, &other.verifier_key()), Ok(GO_TEXT));
    let only_other = sign_note(GO_TEXT, &other);
    assert_eq!(
        open_note(&only_other, &peter.verifier_key()),
        Err(NoteError::NotSignedByKey {
            name: "PeterNeumann".into(),
            key_id: "c74f20a3".into()
        })
    );
    let twice = format!("{GO_NOTE}{}", GO_NOTE.split_once("\n\n").unwrap().1);
    assert_eq!(
        open_note(&twice, &peter.verifier_key()),
        Err(NoteError::DuplicateSignature("PeterNeumann".into()))
    );
}

#[test]
fn malformed_notes_are_refused() {
    let key = VerifierKey::parse(GO_VERIFIER).unwrap();
    let sig_line = GO_NOTE.split_once("\n\n").unwrap().1;
    let cases: Vec<(String, NoteError)> = vec![
        (
            GO_NOTE.replacen("\n\n", "\n", 1),
            NoteError::MissingBlankLine,
        ),
        (format!("{GO_TEXT}\n"), NoteError::NoSignatures),
        (
            GO_NOTE.trim_end_matches('\n').to_owned(),
            NoteError::UnterminatedSignature,
        ),
        (
            GO_NOTE.replace('\u{2014}', "-"),
            NoteError::SignaturePrefix(1),
        ),
        (
            GO_NOTE.replace("\u{2014} ", "\u{2014}"),
            NoteError::SignaturePrefix(1),
        ),
        (
            GO_NOTE.replace("PeterNeumann x08", "PeterNeumannx08"),
            NoteError::SignatureFormat(1),
        ),
        (
            GO_NOTE.replace("PeterNeumann x08", "Peter+Neumann x08"),
            NoteError::SignatureKeyName(1),
        ),
        (
            GO_NOTE.replace("JnAM=", "JnAM"),
            NoteError::SignatureBase64(1),
        ),
        (
            format!("{GO_TEXT}\n\u{2014} PeterNeumann AAAA\n"),
            NoteError::SignatureTooShort(1),
        ),
        (format!("{GO_NOTE}garbage\n"), NoteError::SignaturePrefix(2)),
        (
            GO_NOTE.replace("problem,", "problem,\r"),
            NoteError::ControlCharacter(GO_TEXT.find(',').unwrap() + 1),
        ),
        (
            GO_NOTE.replace("problem,", "problem,\u{85}"),
            NoteError::ControlCharacter(GO_TEXT.find(',').unwrap() + 1),
        ),
        (
            format!("{GO_TEXT}\n{}", sig_line.repeat(MAX_SIGNATURES + 1)),
            NoteError::TooManySignatures(MAX_SIGNATURES),
        ),
        (
            format!("{}\n{sig_line}", "a\n".repeat(MAX_NOTE_LEN / 2)),
            NoteError::TooLarge {
                len: MAX_NOTE_LEN + 1 + sig_line.len(),
                max: MAX_NOTE_LEN,
            },
        ),
    ];
    for (note, expected) in cases {
        assert_eq!(open_note(&note, &key), Err(expected), "{note:?}");
    }
}

#[test]
fn error_messages_are_lowercase_sentences() {
    let message = NoteError::InvalidSignature("k".into()).to_string();
    assert_eq!(message, "signature by key k does not verify");
    assert_eq!(
        KeyError::UnsupportedAlgorithm(4).to_string(),
        "key algorithm 0x04 is not supported; only Ed25519 (0x01) is"
    );
}
