//! Export and import together: what goes out comes back, and what cannot be read is
//! refused by object id.

use proptest::prelude::*;
use serde_json::Value;

use super::{Source, export, import, tlp_marking_id};
use crate::{
    AgencyId, FraudCategory, FraudMethod, Indicator, NewIndicator, ObjectId, Observable,
    ObservableType, PrincipalId, PrincipalKind, PrincipalName, Scope, ScopeDraft, Timestamp, Tlp,
    indicator::Evaluation,
};

fn every_observable() -> Vec<Observable> {
    let samples = [
        (ObservableType::Domain, "Пример.СРБ"),
        (
            ObservableType::Url,
            "https://ngân-hàng.vn/đăng-nhập?ref='x'",
        ),
        (ObservableType::Ipv4, "203.0.113.7"),
        (ObservableType::Ipv6, "2001:db8::1"),
        (ObservableType::Email, "o'brien@šveicarijas-banka.lv"),
        (ObservableType::Phone, "+381 11 306 2000"),
        (ObservableType::Iban, "LV80BANK0000435195001"),
        (
            ObservableType::CryptoWallet,
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        ),
        (ObservableType::Sha256, &"ab".repeat(32)),
        (ObservableType::Sha1, &"cd".repeat(20)),
        (ObservableType::Md5, &"ef".repeat(16)),
        (ObservableType::CardBin, "45717360"),
        (ObservableType::MessengerHandle, r"telegram:@it's\me"),
    ];
    let mut observables: Vec<Observable> = samples
        .iter()
        .map(|(kind, value)| Observable::parse(*kind, value).unwrap())
        .collect();
    observables.sort();
    observables
}

fn stored(content: NewIndicator) -> Indicator {
    let agency = AgencyId::parse("RS-MUP").unwrap();
    Indicator {
        id: ObjectId::generate(ObjectId::INDICATOR),
        source_agency: agency.clone(),
        publisher: PrincipalId::new(
            agency,
            PrincipalKind::Person,
            PrincipalName::parse("officer").unwrap(),
        ),
        content,
        linked_fraud_method: None,
        created: Timestamp::from_micros(1_764_100_000_123_456),
        revoked: None,
    }
}

fn method(title: &str, description: &str, countermeasures: &str, language: &str) -> NewIndicator {
    NewIndicator {
        fraud_method: Some(FraudMethod {
            title: title.into(),
            description: description.into(),
            countermeasures: countermeasures.into(),
            category: FraudCategory::InvestmentFraud,
        }),
        observables: every_observable(),
        language: language.into(),
        first_seen: Some(Timestamp::from_micros(1_760_000_000_000_001)),
        valid_until: Some(Timestamp::from_micros(1_790_000_000_000_000)),
        confidence: 85,
        evaluation: Evaluation::new('B', 2),
        tlp: Tlp::Amber,
        scope: Scope::AllMembers,
        anonymous: false,
    }
}

fn objects(bundle: &str) -> Vec<Value> {
    let bundle: Value = serde_json::from_str(bundle).unwrap();
    bundle["objects"].as_array().unwrap().clone()
}

fn round_trip(content: NewIndicator, scope: ScopeDraft) -> Vec<NewIndicator> {
    let item = stored(content);
    let bundle = export(&item, Source::of(&item));
    import(&bundle, None, &scope)
        .unwrap_or_else(|violations| panic!("{violations}\n{bundle}"))
        .into_iter()
        .map(|imported| imported.indicator)
        .collect()
}

#[test]
fn a_fraud_method_comes_back_as_it_went_out() {
    for (title, description, countermeasures, language) in [
        (
            "Лажни позиви у име банке",
            "Позивалац се представља као службеник банке и тражи код из SMS-а.",
            "Банка никада не тражи PIN телефоном.",
            "sr-Cyrl",
        ),
        (
            "Giả mạo cuộc gọi ngân hàng",
            "Kẻ lừa đảo gọi điện, xưng là nhân viên ngân hàng và yêu cầu mã OTP.",
            "Ngân hàng không bao giờ hỏi mã OTP qua điện thoại.",
            "vi",
        ),
        (
            "Viltus investīciju platforma",
            "Krāpnieki piedāvā ieguldījumus ar \"garantētu\" peļņu; ' un \\ arī.",
            "Pārbaudiet licenci FKTK reģistrā.",
            "lv",
        ),
    ] {
        let content = method(title, description, countermeasures, language);
        assert_eq!(
            round_trip(content.clone(), ScopeDraft::AllMembers),
            [content]
        );
    }
}

#[test]
fn standalone_observables_come_back_as_one_item() {
    let mut content = method("x", "", "", "en");
    content.fraud_method = None;
    content.evaluation = None;
    content.tlp = Tlp::Red;
    content.scope = Scope::agencies(vec![AgencyId::parse("UA-CERT").unwrap()]).unwrap();
    let back = round_trip(
        content.clone(),
        ScopeDraft::Agencies(vec!["UA-CERT".into()]),
    );
    assert_eq!(back, [content]);
}

#[test]
fn re_export_is_byte_for_byte_stable_and_ids_are_uuid_v5() {
    let item = stored(method("Title", "Description", "Counter", "en"));
    let first = export(&item, Source::of(&item));
    assert_eq!(first, export(&item, Source::of(&item)));
    let objects = objects(&first);
    // identity, marking, attack-pattern, course-of-action, 13 indicators, 14 relationships
    assert_eq!(objects.len(), 4 + 13 + 14);
    for object in &objects {
        let id = object["id"].as_str().unwrap();
        if !id.starts_with("marking-definition--") {
            assert_eq!(&id.split("--").nth(1).unwrap()[14..15], "5", "{id}");
        }
        if object["type"] != "marking-definition" && object["type"] != "identity" {
            assert_eq!(object["object_marking_refs"][0], tlp_marking_id(Tlp::Amber));
        }
    }
    let kinds: Vec<&str> = objects
        .iter()
        .map(|o| o["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        &kinds[..4],
        [
            "identity",
            "marking-definition",
            "attack-pattern",
            "course-of-action"
        ]
    );
    let relationships: Vec<&str> = objects
        .iter()
        .filter_map(|o| o["relationship_type"].as_str())
        .collect();
    assert_eq!(
        relationships.iter().filter(|r| **r == "indicates").count(),
        13
    );
    assert_eq!(
        relationships.iter().filter(|r| **r == "mitigates").count(),
        1
    );
}

#[test]
fn patterns_quote_and_escape_values() {
    let item = stored(method("T", "", "", "en"));
    let bundle = export(&item, Source::of(&item));
    let patterns: Vec<String> = objects(&bundle)
        .iter()
        .filter_map(|o| o["pattern"].as_str().map(str::to_owned))
        .collect();
    assert!(
        patterns
            .contains(&r"[x-liaison-messenger-handle:value = 'telegram:@it\'s\\me']".to_owned()),
        "{patterns:?}"
    );
    assert!(patterns.contains(&"[domain-name:value = 'xn--e1afmkfd.xn--90a3ac']".to_owned()));
    assert!(patterns.contains(&format!("[file:hashes.'SHA-256' = '{}']", "ab".repeat(32))));
    assert!(patterns.contains(&"[x-liaison-phone-number:value = '+381113062000']".to_owned()));
}

#[test]
fn an_anonymous_item_names_no_agency() {
    let mut content = method("T", "D", "C", "en");
    content.anonymous = true;
    let item = stored(content);
    let bundle = export(&item, Source::of(&item));
    assert!(!bundle.contains("RS-MUP"), "{bundle}");
    let identity = &objects(&bundle)[0];
    assert_eq!(identity["name"], "a member agency");
    // Every anonymous item names the same identity.
    let other = stored(method("Other", "D", "C", "en"));
    let mut other_content = other.content.clone();
    other_content.anonymous = true;
    let other = Indicator {
        content: other_content,
        ..other
    };
    assert_eq!(
        objects(&export(&other, Source::of(&other)))[0]["id"],
        identity["id"]
    );
}

#[test]
fn a_revoked_item_is_marked_revoked_and_is_not_imported() {
    let mut item = stored(method("T", "D", "C", "en"));
    item.revoked = Some((
        Timestamp::from_micros(1_764_200_000_000_000),
        "wrong".into(),
    ));
    let bundle = export(&item, Source::of(&item));
    assert!(
        objects(&bundle)
            .iter()
            .filter(|o| o["type"] == "indicator")
            .all(|o| o["revoked"] == true)
    );
    let violations = import(&bundle, None, &ScopeDraft::AllMembers).unwrap_err();
    assert!(violations.to_string().contains("revoked"), "{violations}");
}

fn bundle(objects: Value) -> String {
    serde_json::json!({"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d", "objects": objects}).to_string()
}

fn indicator(id: &str, pattern: &str) -> Value {
    serde_json::json!({
        "type": "indicator", "spec_version": "2.1", "id": id,
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "pattern": pattern, "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
    })
}

#[test]
fn what_cannot_be_read_is_refused_by_object_id_with_the_reason() {
    let text = bundle(serde_json::json!([
        indicator("indicator--00000000-0000-4000-8000-000000000001", "[domain-name:value = 'a.example'] OR [url:value = 'https://b.example/']"),
        indicator("indicator--00000000-0000-4000-8000-000000000002", "[process:name = 'evil.exe']"),
        indicator("indicator--00000000-0000-4000-8000-000000000003", "[x-liaison-iban:value = 'RS35260005601001611378']"),
        {"type": "indicator", "id": "indicator--00000000-0000-4000-8000-000000000004", "pattern": "alert tcp any any", "pattern_type": "snort", "valid_from": "2026-01-01T00:00:00Z"},
        {"type": "malware", "id": "malware--00000000-0000-4000-8000-000000000005", "name": "x", "is_family": false},
        indicator("indicator--00000000-0000-4000-8000-000000000006", "[domain-name:value = 'fine.example']"),
    ]));
    let violations = import(&text, Some(Tlp::Green), &ScopeDraft::AllMembers).unwrap_err();
    let found: Vec<(String, String)> = violations
        .into_iter()
        .map(|v| (v.field, v.description))
        .collect();
    let fields: Vec<&str> = found.iter().map(|(field, _)| field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "bundle_json.indicator--00000000-0000-4000-8000-000000000001",
            "bundle_json.indicator--00000000-0000-4000-8000-000000000002",
            "bundle_json.indicator--00000000-0000-4000-8000-000000000003",
            "bundle_json.indicator--00000000-0000-4000-8000-000000000004",
            "bundle_json.malware--00000000-0000-4000-8000-000000000005",
        ],
        "{found:?}"
    );
    assert!(found[0].1.contains("one comparison"));
    assert!(found[1].1.contains("process:name"));
    assert!(found[2].1.contains("IBAN"));
    assert!(!found[2].1.contains("RS35"), "reasons never echo values");
    assert!(found[3].1.contains("snort"));
    assert!(found[4].1.contains("malware"));
}

#[test]
fn tlp_comes_from_markings_or_the_default() {
    let plain = bundle(serde_json::json!([indicator(
        "indicator--00000000-0000-4000-8000-000000000001",
        "[domain-name:value = 'a.example']"
    )]));
    let violations = import(&plain, None, &ScopeDraft::AllMembers).unwrap_err();
    assert!(
        violations.to_string().contains("default_tlp"),
        "{violations}"
    );
    let imported = import(&plain, Some(Tlp::AmberStrict), &ScopeDraft::AllMembers).unwrap();
    assert_eq!(imported[0].indicator.tlp, Tlp::AmberStrict);
    assert_eq!(
        imported[0].stix_id,
        "indicator--00000000-0000-4000-8000-000000000001"
    );

    // A TLP 1.0 marking by its predefined id wins over the default.
    let mut marked = indicator(
        "indicator--00000000-0000-4000-8000-000000000001",
        "[domain-name:value = 'a.example']",
    );
    marked["object_marking_refs"] =
        serde_json::json!(["marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"]);
    let imported = import(
        &bundle(serde_json::json!([marked])),
        Some(Tlp::Clear),
        &ScopeDraft::Agencies(vec!["UA-CERT".into()]),
    )
    .unwrap();
    assert_eq!(imported[0].indicator.tlp, Tlp::Red);
}

#[test]
fn not_a_bundle_is_refused_whole() {
    for text in [
        "",
        "{",
        "[]",
        r#"{"type":"bundle"}"#,
        r#"{"type":"report","objects":[]}"#,
    ] {
        let violations = import(text, Some(Tlp::Green), &ScopeDraft::AllMembers).unwrap_err();
        assert_eq!(violations.as_slice()[0].field, "bundle_json", "{text}");
    }
    let empty = import(
        &bundle(serde_json::json!([])),
        Some(Tlp::Green),
        &ScopeDraft::AllMembers,
    )
    .unwrap_err();
    assert!(empty.to_string().contains("no indicator"));
}

fn text_in(alphabet: &'static str) -> impl Strategy<Value = String> {
    let chars: Vec<char> = alphabet.chars().collect();
    proptest::collection::vec(proptest::sample::select(chars), 1..60)
        .prop_map(|chars| chars.into_iter().collect::<String>())
        .prop_filter("a title needs a letter", |text| !text.trim().is_empty())
}

fn multilingual() -> impl Strategy<Value = (String, &'static str)> {
    prop_oneof![
        text_in("абвгдђежзијклљмнњопрстћуфхцчџшАБВГЂЖЉЊЋЏШ '\\\"").prop_map(|t| (t, "sr-Cyrl")),
        text_in("ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệ ĂÂĐ '\\\"").prop_map(|t| (t, "vi")),
        text_in("āčēģīķļņšūžĀČĒĢĪĶĻŅŠŪŽ abc '\\\"").prop_map(|t| (t, "lv")),
        text_in("абвгґдеєжзиіїйклмнопрстуфхцчшщьюяЄІЇҐ '\\\"").prop_map(|t| (t, "uk")),
    ]
}

proptest! {
    #[test]
    fn any_method_round_trips(
        (title, language) in multilingual(),
        (description, _) in multilingual(),
        (countermeasures, _) in multilingual(),
        tlp in proptest::sample::select(Tlp::ALL.to_vec()),
        confidence in 0u8..=100,
        keep in proptest::collection::vec(any::<bool>(), 13),
        category in proptest::sample::select(FraudCategory::ALL.to_vec()),
    ) {
        let mut content = method(title.trim(), &description, &countermeasures, language);
        content.fraud_method.as_mut().unwrap().category = category;
        content.observables = every_observable().into_iter().zip(&keep).filter(|(_, k)| **k).map(|(o, _)| o).collect();
        content.confidence = confidence;
        content.tlp = tlp;
        let scope = if tlp == Tlp::Red {
            content.scope = Scope::agencies(vec![AgencyId::parse("UA-CERT").unwrap()]).unwrap();
            ScopeDraft::Agencies(vec!["UA-CERT".into()])
        } else {
            ScopeDraft::AllMembers
        };
        let back = round_trip(content.clone(), scope);
        // Without indicators a method has no confidence to carry.
        if content.observables.is_empty() {
            content.confidence = back[0].confidence;
            content.first_seen = None;
            content.valid_until = None;
        }
        prop_assert_eq!(back, vec![content]);
    }
}

#[test]
fn read_keeps_what_it_understood() {
    let text = bundle(serde_json::json!([
        indicator(
            "indicator--00000000-0000-4000-8000-000000000001",
            "[process:name = 'x']"
        ),
        indicator(
            "indicator--00000000-0000-4000-8000-000000000002",
            "[domain-name:value = 'fine.example']"
        ),
    ]));
    let (items, violations) = super::read(&text, Some(Tlp::Green), &ScopeDraft::AllMembers);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].indicator.observables[0].value(), "fine.example");
    assert_eq!(violations.as_slice().len(), 1);
    assert!(import(&text, Some(Tlp::Green), &ScopeDraft::AllMembers).is_err());
}

/// The bundle of a fixed item, checked in: any change to the mapping, the ids or the
/// markings shows in review as a change to `golden-bundle.json`, and a re-export by a
/// newer hub keeps its ids unless someone meant to change them. To accept a change, run
/// the test with `LIAISON_UPDATE_GOLDEN=1` and review the file's diff.
#[test]
fn the_bundle_of_a_fixed_item_is_the_checked_in_one() {
    let mut content = method(
        "Лажни позиви у име банке",
        "Позивалац се представља као службеник банке.",
        "Банка никада не тражи PIN телефоном.",
        "sr-Cyrl",
    );
    content.tlp = Tlp::AmberStrict;
    let mut item = stored(content);
    item.id = ObjectId::parse(ObjectId::INDICATOR, "ind_01jbz3k7q8r9s0t1v2w3x4y5z6").unwrap();
    let bundle = export(&item, Source::of(&item)) + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/stix/golden-bundle.json");
    if std::env::var_os("LIAISON_UPDATE_GOLDEN").is_some() {
        std::fs::write(path, &bundle).unwrap();
    }
    let golden = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        golden == bundle,
        "the exported bundle differs from {path}; if intended, run with LIAISON_UPDATE_GOLDEN=1 and review the diff"
    );
}

#[test]
fn markings_may_come_after_their_objects_and_a_refusal_is_reported_once() {
    let mut marked = indicator(
        "indicator--00000000-0000-4000-8000-000000000001",
        "[domain-name:value = 'a.example']",
    );
    marked["object_marking_refs"] =
        serde_json::json!(["marking-definition--00000000-0000-4000-8000-0000000000aa"]);
    let text = bundle(serde_json::json!([
        marked,
        {
            "type": "marking-definition", "spec_version": "2.1",
            "id": "marking-definition--00000000-0000-4000-8000-0000000000aa",
            "created": "2017-01-20T00:00:00.000Z",
            "definition_type": "tlp", "definition": {"tlp": "amber"}
        },
    ]));
    let imported = import(&text, Some(Tlp::Clear), &ScopeDraft::AllMembers).unwrap();
    assert_eq!(imported[0].indicator.tlp, Tlp::Amber);

    let text = bundle(serde_json::json!([
        {"type": "attack-pattern", "id": "attack-pattern--00000000-0000-4000-8000-000000000002", "name": "Method"},
        indicator("indicator--00000000-0000-4000-8000-000000000003", "[process:name = 'x']"),
        {"type": "relationship", "id": "relationship--00000000-0000-4000-8000-000000000004",
         "relationship_type": "indicates",
         "source_ref": "indicator--00000000-0000-4000-8000-000000000003",
         "target_ref": "attack-pattern--00000000-0000-4000-8000-000000000002"},
        {"type": "relationship", "id": "relationship--00000000-0000-4000-8000-000000000005",
         "relationship_type": "uses",
         "source_ref": "attack-pattern--00000000-0000-4000-8000-000000000002",
         "target_ref": "attack-pattern--00000000-0000-4000-8000-000000000002"},
    ]));
    let violations = import(&text, Some(Tlp::Green), &ScopeDraft::AllMembers).unwrap_err();
    let fields: Vec<String> = violations.into_iter().map(|v| v.field).collect();
    assert_eq!(
        fields,
        [
            "bundle_json.indicator--00000000-0000-4000-8000-000000000003",
            "bundle_json.relationship--00000000-0000-4000-8000-000000000005",
        ]
    );
}
