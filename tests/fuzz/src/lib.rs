//! Fuzz targets: every parser that takes outside input, each a `fn(&[u8])` that must never
//! panic, whatever the bytes. The stable harness (`tests/fuzz.rs`, proptest) and the
//! cargo-fuzz targets (`cargo-fuzz/`, nightly) call these same functions. Where it is cheap,
//! a target also checks a property of what parsed (a normalised value normalises to
//! itself, a verified checkpoint re-serialises to its note, …): a broken property panics
//! too. Text parsers read the bytes as UTF-8, lossily, so that every input reaches them.

pub mod seeds;

use std::borrow::Cow;

use liaison_audit::{Checkpoint, Opening, Sealed, SigningKey, VerifierKey, Viewer};
use liaison_core::{
    AgencyId, Federation, Observable, ObservableType, Tlp, indicator::ScopeDraft, stix,
};
use liaison_proto::v1;
use prost::Message;

/// A target: takes any bytes, panics only on a bug.
pub type Target = fn(&[u8]);

/// Every target, by the name of its corpus directory (`corpus/<name>/`).
pub const TARGETS: &[(&str, Target)] = &[
    ("observable", observable),
    ("stix_bundle", stix_bundle),
    ("publish_json", publish_json),
    ("publish_csv", publish_csv),
    ("federation_toml", federation_toml),
    ("hub_config_toml", hub_config_toml),
    ("signed_note", signed_note),
    ("audit_disclosure", audit_disclosure),
    ("request", request),
];

fn text(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// Observable values (`Observable::parse`: IDNA domains, URLs, e-mail, phone, IBAN,
/// wallets, hashes, messenger handles…). Input `type=value` (as `liaisonctl --observable`
/// takes it) parses as that type; the whole input is also parsed as every type. A value
/// that parses is its own normal form, and reads back from storage as itself.
pub fn observable(data: &[u8]) {
    let text = text(data);
    let mut tries: Vec<(ObservableType, &str)> = ObservableType::ALL
        .iter()
        .map(|&kind| (kind, &*text))
        .collect();
    if let Some((kind, value)) = text.split_once('=')
        && let Ok(kind) = kind.parse::<ObservableType>()
    {
        tries.push((kind, value));
    }
    for (kind, value) in tries {
        let Ok(parsed) = Observable::parse(kind, value) else {
            continue;
        };
        assert_eq!(parsed.kind(), kind);
        assert_eq!(
            Observable::parse(kind, parsed.value()).as_ref(),
            Ok(&parsed),
            "normalising {value:?} as {kind} is not idempotent"
        );
        assert_eq!(
            Observable::from_stored(kind.as_str(), parsed.value()).as_ref(),
            Ok(&parsed),
            "{kind} {:?} does not read back from storage",
            parsed.value()
        );
        // The STIX pattern of any valid observable can be built.
        let _ = stix::pattern_for(&parsed);
    }
}

/// STIX 2.1 bundles, as ImportStix and `liaisonctl indicators publish --file` read them
/// (`liaison_core::stix::read` and `import`, patterns included). `import` accepts exactly
/// what `read` reads without a violation.
pub fn stix_bundle(data: &[u8]) {
    let text = text(data);
    let (items, violations) = stix::read(&text, Some(Tlp::Green), &ScopeDraft::AllMembers);
    let imported = stix::import(&text, Some(Tlp::Green), &ScopeDraft::AllMembers);
    match &imported {
        Ok(imported) => {
            assert!(violations.is_empty());
            assert_eq!(imported.len(), items.len());
        }
        Err(_) => assert!(!violations.is_empty()),
    }
    let _ = stix::read(
        &text,
        None,
        &ScopeDraft::SharingGroup("grp_0000000000000000000000000".into()),
    );
}

/// `liaisonctl indicators publish --file items.json`: JSON items, or a STIX bundle when
/// the content is one (the format is detected, as the command does).
pub fn publish_json(data: &[u8]) {
    let _ = liaisonctl::fuzzing::publish_file_rows("items.json", &text(data), None);
}

/// `liaisonctl indicators publish --file items.csv`: the RFC 4180 reader and the rows.
pub fn publish_csv(data: &[u8]) {
    let text = text(data);
    let _ = liaisonctl::fuzzing::publish_file_rows("items.csv", &text, Some("csv"));
}

/// The federation file (`Federation::from_toml`).
pub fn federation_toml(data: &[u8]) {
    let _ = Federation::from_toml(&text(data));
}

/// The hub's configuration file (`liaison serve --config`), its `[limits]` checked.
pub fn hub_config_toml(data: &[u8]) {
    if let Ok(file) = liaison::config::ConfigFile::from_toml(&text(data)) {
        let _ = file.limits.limits();
    }
}

/// The name of the key that signs the `signed_note` seeds.
pub const NOTE_KEY_NAME: &str = "liaison.example/audit";

/// The key that signs the `signed_note` seeds (a fixed seed: the corpus is reproducible).
pub fn note_key() -> SigningKey {
    SigningKey::from_seed(NOTE_KEY_NAME, &[7; 32]).expect("a valid key name")
}

/// Signed notes and checkpoints: `Checkpoint::verify` against the seeds' key, the note's
/// text as a checkpoint (`Checkpoint::parse_text`), verifier keys (`VerifierKey::parse`,
/// each line). A checkpoint that verifies is the note's text and re-signs to a note that
/// verifies as itself; a parsed text or key prints back as it was.
pub fn signed_note(data: &[u8]) {
    let note = text(data);
    let key = note_key();
    let verifier = key.verifier_key();
    if let Ok(checkpoint) = Checkpoint::verify(&note, &verifier) {
        let text = checkpoint.text();
        assert!(
            note.starts_with(&text) && note[text.len()..].starts_with('\n'),
            "the checkpoint {text:?} is not the text of its note {note:?}"
        );
        assert_eq!(
            Checkpoint::verify(&checkpoint.sign(&key), &verifier).as_ref(),
            Ok(&checkpoint)
        );
    }
    let body = note.split_once("\n\n").map_or(&*note, |(body, _)| body);
    for text in [&*note, &format!("{body}\n")] {
        if let Ok(checkpoint) = Checkpoint::parse_text(text) {
            assert_eq!(checkpoint.text(), *text, "parse_text is not strict");
        }
    }
    for line in note.lines() {
        if let Ok(parsed) = VerifierKey::parse(line) {
            assert_eq!(parsed.to_string(), line, "a verifier key prints otherwise");
        }
    }
}

/// A version-2 stored record, whose leaf `audit_disclosure` also opens arbitrary openings
/// against.
pub const COMMITTED_RECORD: &str = r#"{"v":2,"seed":"0707070707070707070707070707070707070707070707070707070707070707","time_us":1700000000000000,"actor":{"agency":"UA-CERT","kind":"officer","name":"olena","certificate_sha256":"ab","roles":["liaison-officer"]},"method":"/liaison.v1.IndicatorService/GetIndicator","objects":[{"id":"ind_01","access":"read","anonymous":true,"owner":"LV-CERT"},{"id":"ind_02","access":"write","anonymous":false,"owner":"VN-CERT"}],"outcome":0,"justification":"Розслідування 12/2024","trace_id":"t"}"#;

/// Audit records as stored (`Sealed::parse`), disclosed to each viewer, and openings
/// (`Opening::from_json` + `verify`). A disclosure's opening verifies against the leaf
/// as the view disclosed, also after a JSON round trip; an opening read from JSON
/// prints back as one that reads the same.
pub fn audit_disclosure(data: &[u8]) {
    let sealed = Sealed::parse(data);
    let leaf = sealed.leaf_data();
    let record = sealed.record();
    let mut agencies: Vec<&str> = vec!["XX-OTHER"];
    agencies.extend(record.actor.agency.as_deref());
    agencies.extend(
        record
            .objects
            .iter()
            .filter_map(|object| object.owner_agency.as_deref()),
    );
    let viewers =
        std::iter::once(Viewer::Oversight).chain(agencies.into_iter().map(Viewer::Agency));
    for viewer in viewers {
        let disclosure = sealed.disclose(viewer);
        if let Some(leaf_data) = &disclosure.leaf_data {
            assert_eq!(leaf_data, &leaf, "disclosed leaf data is not the leaf");
        }
        if let Some(opening) = &disclosure.opening {
            assert_eq!(
                opening.verify(&leaf).as_ref(),
                Ok(&disclosure.view),
                "the opening for {viewer:?} does not verify as its view"
            );
            let read = Opening::from_json(&opening.to_json()).expect("an opening reads back");
            assert_eq!(&read, opening, "an opening changes in JSON");
            assert_eq!(read.verify(&leaf).as_ref(), Ok(&disclosure.view));
        }
    }
    if let Ok(opening) = Opening::from_json(data) {
        let committed = Sealed::parse(COMMITTED_RECORD.as_bytes()).leaf_data();
        let _ = opening.verify(&committed);
        let _ = opening.verify(data);
        assert_eq!(
            Opening::from_json(&opening.to_json()).as_ref(),
            Ok(&opening),
            "an opening changes in JSON"
        );
    }
}

/// Decodes a message, checks that it encodes back to a message that decodes the same.
fn decode<M: Message + Default + PartialEq>(bytes: &[u8]) -> Option<M> {
    let message = M::decode(bytes).ok()?;
    let again = M::decode(message.encode_to_vec().as_slice()).expect("re-encoded decodes");
    assert!(again == message, "a message changes when re-encoded");
    Some(message)
}

macro_rules! decode_only {
    ($($name:ident),* $(,)?) => {
        &[$((stringify!($name), |bytes| { decode::<v1::$name>(bytes); })),*]
    };
}

fn publish(request_id: &str, indicator: Option<v1::Indicator>) {
    let _ = liaison_rpc::request_id(request_id, "request_id");
    if let Some(indicator) = indicator {
        let _ = liaison_indicators::fuzzing::validate_indicator(indicator);
    }
}

fn mla_content(request_id: &str, content: Option<&v1::MlaRequestContent>) {
    let _ = liaison_rpc::request_id(request_id, "request_id");
    if let Some(content) = content {
        let own = AgencyId::parse("UA-CERT").expect("a valid agency id");
        let _ = liaison_mla::fuzzing::check_content(content, &own);
    }
}

/// Request messages with the checks their services run on them after decoding.
const VALIDATED: &[(&str, Target)] = &[
    ("PublishRequest", |bytes| {
        if let Some(r) = decode::<v1::PublishRequest>(bytes) {
            publish(&r.request_id, r.indicator);
        }
    }),
    ("PublishManyRequest", |bytes| {
        if let Some(r) = decode::<v1::PublishManyRequest>(bytes) {
            publish(&r.request_id, r.indicator);
        }
    }),
    ("ImportStixRequest", |bytes| {
        if let Some(r) = decode::<v1::ImportStixRequest>(bytes) {
            let _ = liaison_indicators::fuzzing::check_import(&r);
        }
    }),
    ("NotifyRequest", |bytes| {
        if let Some(r) = decode::<v1::NotifyRequest>(bytes) {
            let _ = liaison_rpc::request_id(&r.request_id, "request_id");
            if let Some(notification) = r.notification {
                let _ = liaison_cbm::fuzzing::validate_notification(notification);
            }
        }
    }),
    ("SetPointOfContactRequest", |bytes| {
        if let Some(r) = decode::<v1::SetPointOfContactRequest>(bytes) {
            let _ = liaison_rpc::request_id(&r.request_id, "request_id");
            if let Some(poc) = &r.point_of_contact {
                let _ = liaison_directory::fuzzing::validate_point_of_contact(poc);
            }
        }
    }),
    ("CreateDraftRequest", |bytes| {
        if let Some(r) = decode::<v1::CreateDraftRequest>(bytes) {
            mla_content(&r.request_id, r.content.as_ref());
        }
    }),
    ("UpdateDraftRequest", |bytes| {
        if let Some(r) = decode::<v1::UpdateDraftRequest>(bytes) {
            mla_content(&r.request_id, r.content.as_ref());
        }
    }),
    ("LookupRequest", |bytes| {
        if let Some(r) = decode::<v1::LookupRequest>(bytes)
            && let Some(observable) = r.observable
        {
            let indicator = v1::Indicator {
                observables: vec![observable],
                ..v1::Indicator::default()
            };
            let _ = liaison_indicators::fuzzing::validate_indicator(indicator);
        }
    }),
    ("ListIndicatorsRequest", |bytes| {
        if let Some(r) = decode::<v1::ListIndicatorsRequest>(bytes) {
            let _ = liaison_rpc::page_offset(&r.page_token);
            let _ = liaison_rpc::page_size(r.page_size, 50, 500);
        }
    }),
];

/// Every other request message: decoded (and re-encoded) only.
const DECODED: &[(&str, Target)] = decode_only![
    AcceptConditionsRequest,
    AcceptRequestRequest,
    AcknowledgeConsultationRequest,
    AcknowledgeNotificationRequest,
    AcknowledgeRequestRequest,
    AssignRolesRequest,
    CloseConsultationRequest,
    CloseRequestRequest,
    ConfirmPreservationRequest,
    CreateSharingGroupRequest,
    DeleteDraftRequest,
    DeletePointOfContactRequest,
    DownloadEvidenceRequest,
    ExportRecordsRequest,
    ExportStixRequest,
    ExtendPreservationRequest,
    GetAgencyRequest,
    GetCheckpointRequest,
    GetCommunicationCheckReportRequest,
    GetConsistencyProofRequest,
    GetConsultationRequest,
    GetInclusionProofRequest,
    GetIndicatorRequest,
    GetLogKeysRequest,
    GetNotificationRequest,
    GetReceiptKeysRequest,
    GetRequestRequest,
    GetSharingGroupRequest,
    GetTokenKeysRequest,
    HoldPreservationRequest,
    IssueTokenRequest,
    LinkObservablesRequest,
    ListAgenciesRequest,
    ListCommunicationCheckResultsRequest,
    ListCommunicationChecksRequest,
    ListConsultationsRequest,
    ListEvidenceRequest,
    ListMessagesRequest,
    ListNotificationsRequest,
    ListPointsOfContactRequest,
    ListReceiptsRequest,
    ListRepliesRequest,
    ListRequestsRequest,
    ListSharingGroupsRequest,
    PostMessageRequest,
    PostReplyRequest,
    PostponeRequestRequest,
    ProposeConditionsRequest,
    ProvideInformationRequest,
    QueryRecordsRequest,
    RecordConsultationHeldRequest,
    RefuseRequestRequest,
    RegisterAgencyRequest,
    RegisterCertificateRequest,
    ReinstateAgencyRequest,
    ReleasePreservationRequest,
    ReportExecutionRequest,
    ReportSightingRequest,
    RequestConsultationRequest,
    RequestMoreInformationRequest,
    RequestPreservationExtensionRequest,
    RespondToCommunicationCheckRequest,
    ResumeAssessmentRequest,
    RevokeCertificateRequest,
    RevokeIndicatorRequest,
    ScheduleConsultationRequest,
    StartAssessmentRequest,
    StartCommunicationCheckRequest,
    StartExecutionRequest,
    SubmitRequestRequest,
    SubscribeRequest,
    SuspendAgencyRequest,
    UpdateSharingGroupRequest,
    UploadEvidenceRequest,
    WatchInboxRequest,
    WatchRequestsRequest,
    WhoAmIRequest,
    WithdrawRequestRequest,
];

/// The request message types, in the order the first byte of a `request` input picks.
pub fn request_types() -> impl Iterator<Item = &'static (&'static str, Target)> {
    VALIDATED.iter().chain(DECODED)
}

/// The decode + validate path of every request message: the first byte picks the
/// message type (modulo their number, in [`request_types`] order), the rest is the
/// protobuf encoding. What decodes encodes back to itself, and goes through the checks
/// its service runs before anything else (Publish, Notify, SetPointOfContact, drafts…).
pub fn request(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let count = VALIDATED.len() + DECODED.len();
    let (_, target) = request_types()
        .nth(usize::from(selector) % count)
        .expect("in range");
    target(bytes);
}
