//! Mutual legal assistance end to end: an emergency preservation request from UA-CERT to
//! RS-MUP through its whole workflow with signed receipts; illegal steps refused with
//! nothing changed; a third agency that can neither see nor touch a request; the Parties
//! rule at submission; two officers acting at once; deadlines on the hub's clock.

use std::time::Duration;

use liaison_client::{AuthChannel, with_purpose};
use liaison_proto::v1::{self, mla_service_client::MlaServiceClient};
use liaison_testkit::{Backend, TestHub, both};
use prost::Message;
use ring::signature::{ED25519, UnparsedPublicKey};
use sha2::{Digest, Sha256};
use tonic::{Code, Status};

use crate::support::{PATIENCE, unique};

both!(
    an_emergency_preservation_request_goes_from_draft_to_closed,
    illegal_steps_are_refused_and_change_nothing,
    a_third_agency_can_neither_see_nor_touch_a_request,
    a_convention_basis_needs_both_states_to_be_parties,
    two_officers_acting_at_once_end_with_one_winner,
    deadlines_pass_on_the_hub_clock_and_show_as_overdue,
    preservation_expires_on_the_hub_clock_unless_extended,
    the_parties_exchange_messages_and_no_one_else_reads_them,
    evidence_streams_verified_and_an_altered_file_is_detected,
);

pub(crate) type Mla = MlaServiceClient<AuthChannel>;

pub(crate) const PURPOSE: &str = "Кримінальне провадження № 12026000000000117";

pub(crate) async fn officer(hub: &TestHub, agency: &str) -> anyhow::Result<Mla> {
    Ok(hub.client(agency, "officer").await?.mla())
}

pub(crate) fn text(text: &str, language: &str) -> Option<v1::LocalizedText> {
    Some(v1::LocalizedText {
        text: text.into(),
        language: language.into(),
    })
}

pub(crate) fn rid() -> String {
    format!("mla-test-{}", unique())
}

/// An Art. 29 emergency preservation request from UA-CERT to `requested`, complete for
/// submission, written in Ukrainian.
pub(crate) fn preservation_content(requested: &str) -> v1::MlaRequestContent {
    v1::MlaRequestContent {
        requested_agency_id: requested.into(),
        legal_basis: v1::MlaLegalBasis::BudapestArt29Preservation as i32,
        urgency: v1::MlaUrgency::Emergency as i32,
        emergency_justification: text(
            "Погрози вбивством свідку; сервер може бути стерто протягом доби",
            "uk",
        ),
        case_reference: format!("КП-2026/{}", unique()),
        requesting_authority: text("Офіс Генерального прокурора України", "uk"),
        offence: Some(v1::MlaOffence {
            description: text("Шахрайство з використанням комп'ютерних систем", "uk"),
            legal_provisions: text("ст. 190 ч. 4 КК України", "uk"),
            convention_offences: vec![v1::MlaConventionOffence::ComputerRelatedFraud as i32],
        }),
        summary_of_facts: text(
            "Фішингова кампанія від імені банку; кошти виведено на рахунки в Сербії",
            "uk",
        ),
        data_sought: vec![v1::MlaDataSought {
            category: v1::MlaDataCategory::Traffic as i32,
            identifiers: vec![v1::MlaIdentifier {
                r#type: v1::MlaIdentifierType::IpAddress as i32,
                value: "203.0.113.7:51234".into(),
                observe_time: Some(prost_types::Timestamp {
                    seconds: 1_760_000_000,
                    nanos: 0,
                }),
                time_zone: "Europe/Kyiv".into(),
                ..v1::MlaIdentifier::default()
            }],
            service_provider: Some(v1::MlaServiceProvider {
                name: "Хостинг д.о.о.".into(),
                country_code: "RS".into(),
                location: text("Београд", "sr-Cyrl"),
            }),
            description: text("Журнали входу з IP-адресами та часом", "uk"),
            relation_to_offence: text("З цієї адреси керували фішинговими сторінками", "uk"),
        }],
        preservation_requested: true,
        preservation_period: Some(prost_types::Duration {
            seconds: 90 * 24 * 3600,
            nanos: 0,
        }),
        preservation_necessity: text("Провайдер зберігає журнали лише 30 днів", "uk"),
        full_request_to_follow: true,
        language: "uk".into(),
        handling_code: v1::MlaHandlingCode::H1 as i32,
        ..v1::MlaRequestContent::default()
    }
}

pub(crate) async fn create(
    mla: &mut Mla,
    content: v1::MlaRequestContent,
) -> anyhow::Result<v1::MlaRequest> {
    Ok(mla
        .create_draft(v1::CreateDraftRequest {
            request_id: rid(),
            content: Some(content),
        })
        .await?
        .into_inner()
        .mla_request
        .expect("a request"))
}

pub(crate) async fn submit(mla: &mut Mla, id: &str) -> Result<v1::SubmitRequestResponse, Status> {
    Ok(mla
        .submit_request(v1::SubmitRequestRequest {
            request_id: rid(),
            mla_request_id: id.into(),
            etag: String::new(),
        })
        .await?
        .into_inner())
}

/// The request in the full view, with a purpose.
pub(crate) async fn get(mla: &mut Mla, id: &str) -> Result<v1::MlaRequest, Status> {
    Ok(mla
        .get_request(with_purpose(
            v1::GetRequestRequest {
                mla_request_id: id.into(),
                view: v1::MlaRequestView::Full as i32,
            },
            PURPOSE,
        ))
        .await?
        .into_inner()
        .mla_request
        .expect("a request"))
}

async fn get_basic(mla: &mut Mla, id: &str) -> Result<v1::MlaRequest, Status> {
    Ok(mla
        .get_request(v1::GetRequestRequest {
            mla_request_id: id.into(),
            view: v1::MlaRequestView::Basic as i32,
        })
        .await?
        .into_inner()
        .mla_request
        .expect("a request"))
}

fn state(request: &v1::MlaRequest) -> v1::MlaState {
    v1::MlaState::try_from(request.state).unwrap_or(v1::MlaState::Unspecified)
}

/// Checks a receipt against the hub's published keys with `ring` alone, as a party
/// would offline, and returns its statement.
pub(crate) fn verify(
    receipt: &v1::MlaReceipt,
    keys: &[v1::MlaReceiptKey],
) -> anyhow::Result<v1::MlaReceiptStatement> {
    let key = keys
        .iter()
        .find(|key| key.key_id == receipt.key_id)
        .ok_or_else(|| anyhow::anyhow!("unknown receipt key"))?;
    UnparsedPublicKey::new(&ED25519, &key.public_key)
        .verify(&receipt.statement, &receipt.signature)
        .map_err(|_| anyhow::anyhow!("bad receipt signature"))?;
    Ok(v1::MlaReceiptStatement::decode(
        receipt.statement.as_slice(),
    )?)
}

/// Every step RPC, each called on `id` with the fields its validation needs, so that
/// only the workflow (or visibility) can refuse it. Returns the code of each.
async fn every_step(mla: &mut Mla, id: &str) -> Vec<(&'static str, Code)> {
    let id = id.to_owned();
    let reasons = text("Причини", "uk");
    let code = |result: Result<(), Status>| result.err().map_or(Code::Ok, |status| status.code());
    macro_rules! step {
        ($method:ident, $message:expr) => {
            (
                stringify!($method),
                code(mla.$method($message).await.map(|_| ())),
            )
        };
    }
    vec![
        step!(
            update_draft,
            v1::UpdateDraftRequest {
                request_id: rid(),
                mla_request_id: id.clone(),
                etag: String::new(),
                content: Some(v1::MlaRequestContent::default())
            }
        ),
        step!(
            delete_draft,
            v1::DeleteDraftRequest {
                request_id: rid(),
                mla_request_id: id.clone(),
                etag: String::new()
            }
        ),
        step!(
            submit_request,
            v1::SubmitRequestRequest {
                request_id: rid(),
                mla_request_id: id.clone(),
                etag: String::new()
            }
        ),
        step!(
            acknowledge_request,
            v1::AcknowledgeRequestRequest {
                request_id: rid(),
                mla_request_id: id.clone(),
                ..Default::default()
            }
        ),
        step!(
            start_assessment,
            v1::StartAssessmentRequest {
                request_id: rid(),
                mla_request_id: id.clone(),
                ..Default::default()
            }
        ),
        step!(
            request_more_information,
            v1::RequestMoreInformationRequest {
                request_id: rid(),
                mla_request_id: id.clone(),
                questions: reasons.clone(),
                ..Default::default()
            }
        ),
        step!(
            provide_information,
            v1::ProvideInformationRequest {
                request_id: rid(),
                mla_request_id: id.clone(),
                answer: reasons.clone(),
                ..Default::default()
            }
        ),
        step!(
            propose_conditions,
            v1::ProposeConditionsRequest {
                request_id: rid(),
                mla_request_id: id.clone(),
                conditions: Some(v1::MlaConditions {
                    confidentiality: true,
                    ..Default::default()
                }),
                ..Default::default()
            }
        ),
        step!(
            accept_conditions,
            v1::AcceptConditionsRequest {
                request_id: rid(),
                mla_request_id: id.clone(),
                ..Default::default()
            }
        ),
        step!(
            accept_request,
            v1::AcceptRequestRequest {
                request_id: rid(),
                mla_request_id: id.clone(),
                ..Default::default()
            }
        ),
        step!(
            start_execution,
            v1::StartExecutionRequest {
                request_id: rid(),
                mla_request_id: id.clone(),
                ..Default::default()
            }
        ),
        step!(
            report_execution,
            v1::ReportExecutionRequest {
                request_id: rid(),
                mla_request_id: id.clone(),
                summary: reasons.clone(),
                ..Default::default()
            }
        ),
        step!(
            close_request,
            v1::CloseRequestRequest {
                request_id: rid(),
                mla_request_id: id.clone(),
                ..Default::default()
            }
        ),
        step!(
            refuse_request,
            v1::RefuseRequestRequest {
                request_id: rid(),
                mla_request_id: id.clone(),
                grounds: vec![v1::MlaRefusalGround::Other as i32],
                reasons: reasons.clone(),
                ..Default::default()
            }
        ),
        step!(
            postpone_request,
            v1::PostponeRequestRequest {
                request_id: rid(),
                mla_request_id: id.clone(),
                reasons: reasons.clone(),
                ..Default::default()
            }
        ),
        step!(
            resume_assessment,
            v1::ResumeAssessmentRequest {
                request_id: rid(),
                mla_request_id: id.clone(),
                ..Default::default()
            }
        ),
        step!(
            withdraw_request,
            v1::WithdrawRequestRequest {
                request_id: rid(),
                mla_request_id: id.clone(),
                ..Default::default()
            }
        ),
        step!(
            confirm_preservation,
            v1::ConfirmPreservationRequest {
                request_id: rid(),
                mla_request_id: id.clone(),
                ..Default::default()
            }
        ),
        step!(
            request_preservation_extension,
            v1::RequestPreservationExtensionRequest {
                request_id: rid(),
                mla_request_id: id.clone(),
                extension: Some(prost_types::Duration {
                    seconds: 86_400,
                    nanos: 0
                }),
                reason: reasons.clone(),
                ..Default::default()
            }
        ),
        step!(
            extend_preservation,
            v1::ExtendPreservationRequest {
                request_id: rid(),
                mla_request_id: id.clone(),
                preserve_until: Some(prost_types::Timestamp {
                    seconds: 4_000_000_000,
                    nanos: 0
                }),
                ..Default::default()
            }
        ),
        step!(
            release_preservation,
            v1::ReleasePreservationRequest {
                request_id: rid(),
                mla_request_id: id.clone(),
                reason: reasons.clone(),
                ..Default::default()
            }
        ),
    ]
}

async fn an_emergency_preservation_request_goes_from_draft_to_closed(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut ua = officer(&hub, "UA-CERT").await?;
    let mut rs = officer(&hub, "RS-MUP").await?;
    let keys = ua
        .get_receipt_keys(v1::GetReceiptKeysRequest {})
        .await?
        .into_inner()
        .keys;

    let draft = create(&mut ua, preservation_content("RS-MUP")).await?;
    assert_eq!(state(&draft), v1::MlaState::Draft);
    assert!(draft.id.starts_with("mla_"));
    // The requested agency does not see a draft.
    assert_eq!(
        get(&mut rs, &draft.id).await.unwrap_err().code(),
        Code::NotFound
    );

    let submitted = submit(&mut ua, &draft.id).await?;
    let request = submitted.mla_request.expect("a request");
    assert_eq!(state(&request), v1::MlaState::Submitted);
    let ack_deadline = request
        .deadlines
        .iter()
        .find(|deadline| deadline.kind == v1::MlaDeadlineKind::Acknowledgement as i32)
        .expect("an acknowledgement deadline");
    let submit_time = request.submit_time.expect("submitted");
    assert_eq!(
        ack_deadline.due_time.expect("due").seconds - submit_time.seconds,
        4 * 3600,
        "an emergency is acknowledged within hours"
    );
    let statement = verify(&submitted.receipt.expect("a submission receipt"), &keys)?;
    assert_eq!(
        statement.kind,
        v1::MlaReceiptKind::SubmissionAccepted as i32
    );
    assert_eq!(statement.mla_request_id, draft.id);
    assert_eq!(statement.requested_agency_id, "RS-MUP");
    assert_eq!(statement.requesting_agency_id, "UA-CERT");
    let content_digest = hex::encode(Sha256::digest(
        request.content.as_ref().expect("content").encode_to_vec(),
    ));
    assert_eq!(statement.content_sha256, content_digest);

    // A basic read records no delivery; the first full read by the requested agency does.
    assert_eq!(
        state(&get_basic(&mut rs, &draft.id).await?),
        v1::MlaState::Submitted
    );
    let delivered = get(&mut rs, &draft.id).await?;
    assert_eq!(state(&delivered), v1::MlaState::Delivered);
    assert!(delivered.deliver_time.is_some());
    assert_eq!(
        delivered
            .content
            .as_ref()
            .expect("content")
            .summary_of_facts,
        request.content.as_ref().expect("content").summary_of_facts
    );
    assert_eq!(
        state(&get(&mut rs, &draft.id).await?),
        v1::MlaState::Delivered
    );

    let acknowledged = rs
        .acknowledge_request(v1::AcknowledgeRequestRequest {
            request_id: rid(),
            mla_request_id: draft.id.clone(),
            etag: delivered.etag.clone(),
            comment: text("Запримљено, хитно поступамо", "sr-Cyrl"),
        })
        .await?
        .into_inner();
    let ack_statement = verify(
        &acknowledged.receipt.expect("an acknowledgement receipt"),
        &keys,
    )?;
    assert_eq!(
        ack_statement.kind,
        v1::MlaReceiptKind::Acknowledgement as i32
    );
    assert_eq!(ack_statement.actor.expect("actor").agency_id, "RS-MUP");
    let acknowledged = acknowledged.mla_request.expect("a request");
    assert!(acknowledged.deadlines.iter().any(|deadline| {
        deadline.kind == v1::MlaDeadlineKind::Acknowledgement as i32
            && deadline.status == v1::MlaDeadlineStatus::Met as i32
    }));

    rs.start_assessment(v1::StartAssessmentRequest {
        request_id: rid(),
        mla_request_id: draft.id.clone(),
        ..Default::default()
    })
    .await?;
    let preserved = rs
        .confirm_preservation(v1::ConfirmPreservationRequest {
            request_id: rid(),
            mla_request_id: draft.id.clone(),
            note: text("Провајдер потврдио, реф. 2026-77", "sr-Cyrl"),
            ..Default::default()
        })
        .await?
        .into_inner()
        .mla_request
        .expect("a request");
    let preservation = preserved.preservation.expect("preservation");
    assert_eq!(
        preservation.state,
        v1::MlaPreservationState::Preserved as i32
    );
    let kept_for = preservation.preserve_until.expect("until").seconds
        - preservation.confirm_time.expect("confirmed").seconds;
    assert_eq!(
        kept_for,
        90 * 24 * 3600,
        "the requested 90 days (at least 60)"
    );

    rs.request_more_information(v1::RequestMoreInformationRequest {
        request_id: rid(),
        mla_request_id: draft.id.clone(),
        questions: text("Наведите тачно време (UTC) сваког приступа", "sr-Cyrl"),
        ..Default::default()
    })
    .await?;
    let mut amended = preservation_content("RS-MUP");
    amended.case_reference = request
        .content
        .as_ref()
        .expect("content")
        .case_reference
        .clone();
    amended.summary_of_facts = text("Доповнено: час доступу 2025-10-09T08:53:20Z", "uk");
    let answered = ua
        .provide_information(v1::ProvideInformationRequest {
            request_id: rid(),
            mla_request_id: draft.id.clone(),
            answer: text("Час зазначено в UTC", "uk"),
            amended_content: Some(amended),
            ..Default::default()
        })
        .await?
        .into_inner()
        .mla_request
        .expect("a request");
    assert_eq!(state(&answered), v1::MlaState::UnderAssessment);
    assert_eq!(answered.content_version, 2);

    for step in ["accept", "start", "report"] {
        match step {
            "accept" => {
                rs.accept_request(v1::AcceptRequestRequest {
                    request_id: rid(),
                    mla_request_id: draft.id.clone(),
                    ..Default::default()
                })
                .await?;
            }
            "start" => {
                rs.start_execution(v1::StartExecutionRequest {
                    request_id: rid(),
                    mla_request_id: draft.id.clone(),
                    ..Default::default()
                })
                .await?;
            }
            _ => {
                // The evidence goes with the execution report; a file the requester
                // uploaded cannot be reported as the requested agency's.
                let log = "2025-10-09T08:53:20Z;203.0.113.7;вхід\n".repeat(1_000);
                let digest = hex::encode(Sha256::digest(log.as_bytes()));
                let evidence = rs
                    .upload_evidence(tokio_stream::iter(upload_messages(
                        &draft.id,
                        log.as_bytes(),
                        &digest,
                    )))
                    .await?
                    .into_inner()
                    .evidence
                    .expect("evidence");
                let foreign = ua
                    .upload_evidence(tokio_stream::iter(upload_messages(
                        &draft.id,
                        b"requester's own notes",
                        "",
                    )))
                    .await?
                    .into_inner()
                    .evidence
                    .expect("evidence");
                let refused = rs
                    .report_execution(v1::ReportExecutionRequest {
                        request_id: rid(),
                        mla_request_id: draft.id.clone(),
                        summary: text("Подаци сачувани и достављени", "sr-Cyrl"),
                        evidence_ids: vec![foreign.id],
                        ..Default::default()
                    })
                    .await
                    .unwrap_err();
                assert_eq!(refused.code(), Code::InvalidArgument);
                let reported = rs
                    .report_execution(v1::ReportExecutionRequest {
                        request_id: rid(),
                        mla_request_id: draft.id.clone(),
                        summary: text("Подаци сачувани и достављени", "sr-Cyrl"),
                        evidence_ids: vec![evidence.id.clone()],
                        ..Default::default()
                    })
                    .await?
                    .into_inner()
                    .mla_request
                    .expect("a request");
                assert_eq!(
                    reported.execution_report.expect("a report").evidence_ids,
                    [evidence.id]
                );
            }
        }
    }
    let closed = ua
        .close_request(v1::CloseRequestRequest {
            request_id: rid(),
            mla_request_id: draft.id.clone(),
            comment: text("Дякуємо", "uk"),
            etag: String::new(),
        })
        .await?
        .into_inner()
        .mla_request
        .expect("a request");
    assert_eq!(state(&closed), v1::MlaState::Closed);
    // Preservation outlives closing until a party releases it.
    let released = ua
        .release_preservation(v1::ReleasePreservationRequest {
            request_id: rid(),
            mla_request_id: draft.id.clone(),
            reason: text("Дані отримано", "uk"),
            etag: String::new(),
        })
        .await?
        .into_inner()
        .mla_request
        .expect("a request");
    assert_eq!(
        released.preservation.expect("preservation").state,
        v1::MlaPreservationState::Released as i32
    );

    let history: Vec<i32> = get(&mut ua, &draft.id)
        .await?
        .history
        .iter()
        .map(|entry| entry.action)
        .collect();
    use v1::MlaAction as A;
    let expected: Vec<i32> = [
        A::CreateDraft,
        A::Submit,
        A::Deliver,
        A::Acknowledge,
        A::StartAssessment,
        A::ConfirmPreservation,
        A::RequestMoreInformation,
        A::ProvideInformation,
        A::Accept,
        A::StartExecution,
        A::ReportExecution,
        A::Close,
        A::ReleasePreservation,
    ]
    .iter()
    .map(|action| *action as i32)
    .collect();
    assert_eq!(history, expected);

    let receipts = rs
        .list_receipts(v1::ListReceiptsRequest {
            mla_request_id: draft.id.clone(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .receipts;
    let kinds: Vec<i32> = receipts
        .iter()
        .map(|receipt| verify(receipt, &keys).map(|statement| statement.kind))
        .collect::<anyhow::Result<_>>()?;
    assert_eq!(
        kinds,
        [
            v1::MlaReceiptKind::SubmissionAccepted as i32,
            v1::MlaReceiptKind::Retrieval as i32,
            v1::MlaReceiptKind::Acknowledgement as i32,
            v1::MlaReceiptKind::EvidenceSubmission as i32,
            v1::MlaReceiptKind::EvidenceSubmission as i32,
        ]
    );
    hub.stop().await
}

async fn illegal_steps_are_refused_and_change_nothing(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut ua = officer(&hub, "UA-CERT").await?;
    let mut rs = officer(&hub, "RS-MUP").await?;
    let mut content = preservation_content("RS-MUP");
    content.legal_basis = v1::MlaLegalBasis::BudapestArt31AccessToStoredData as i32;
    content.urgency = v1::MlaUrgency::Routine as i32;
    content.preservation_requested = false;
    let draft = create(&mut ua, content).await?;
    submit(&mut ua, &draft.id).await?;
    let before = get(&mut ua, &draft.id).await?;
    assert_eq!(state(&before), v1::MlaState::Submitted);

    // From SUBMITTED, the requested agency may take no step (delivery is the hub's, on
    // its first read), and the requester may only withdraw.
    for (step, code) in every_step(&mut rs, &draft.id).await {
        let expected = match step {
            "update_draft"
            | "delete_draft"
            | "submit_request"
            | "provide_information"
            | "accept_conditions"
            | "close_request"
            | "withdraw_request"
            | "request_preservation_extension" => Code::PermissionDenied,
            _ => Code::FailedPrecondition,
        };
        assert_eq!(
            code, expected,
            "{step} by the requested agency from SUBMITTED"
        );
    }
    // The state machine, not visibility, refused: reads by the requested agency were
    // basic or refused, so the request is still undelivered and unchanged.
    let after = get(&mut ua, &draft.id).await?;
    assert_eq!(after.etag, before.etag);
    assert_eq!(after.history.len(), before.history.len());
    assert_eq!(state(&after), v1::MlaState::Submitted);

    for (step, code) in every_step(&mut ua, &draft.id).await {
        let expected = match step {
            // Allowed: the one step the requester has from SUBMITTED; it runs last.
            "withdraw_request" => Code::Ok,
            "update_draft"
            | "delete_draft"
            | "submit_request"
            | "provide_information"
            | "accept_conditions"
            | "close_request"
            | "request_preservation_extension"
            | "release_preservation" => Code::FailedPrecondition,
            _ => Code::PermissionDenied,
        };
        assert_eq!(
            code, expected,
            "{step} by the requesting agency from SUBMITTED"
        );
    }
    let withdrawn = get(&mut ua, &draft.id).await?;
    assert_eq!(state(&withdrawn), v1::MlaState::Withdrawn);
    assert_eq!(withdrawn.history.len(), before.history.len() + 1);
    // Nothing leaves WITHDRAWN.
    for (step, code) in every_step(&mut ua, &draft.id).await {
        assert_ne!(code, Code::Ok, "{step} after withdrawal");
    }
    assert_eq!(get(&mut ua, &draft.id).await?.etag, withdrawn.etag);

    // Inputs are checked before the state: a refusal needs reasons (Art. 27(7)).
    let error = rs
        .refuse_request(v1::RefuseRequestRequest {
            request_id: rid(),
            mla_request_id: draft.id.clone(),
            grounds: vec![v1::MlaRefusalGround::EssentialInterests as i32],
            reasons: text("   ", "sr-Latn"),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    hub.stop().await
}

async fn a_third_agency_can_neither_see_nor_touch_a_request(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut ua = officer(&hub, "UA-CERT").await?;
    let mut hu = officer(&hub, "HU-NNI").await?;
    let draft = create(&mut ua, preservation_content("RS-MUP")).await?;
    submit(&mut ua, &draft.id).await?;
    let before = get(&mut ua, &draft.id).await?;

    let missing = format!("mla_{}", "0".repeat(26));
    let unseen = get(&mut hu, &draft.id).await.unwrap_err();
    let absent = get(&mut hu, &missing).await.unwrap_err();
    assert_eq!(unseen.code(), Code::NotFound);
    assert_eq!(
        unseen.message(),
        absent.message(),
        "indistinguishable from a missing id"
    );
    assert_eq!(
        get_basic(&mut hu, &draft.id).await.unwrap_err().code(),
        Code::NotFound
    );
    for (step, code) in every_step(&mut hu, &draft.id).await {
        assert_eq!(code, Code::NotFound, "{step} by a third agency");
    }
    let receipts = hu
        .list_receipts(v1::ListReceiptsRequest {
            mla_request_id: draft.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(receipts.code(), Code::NotFound);
    let listed = hu
        .list_requests(v1::ListRequestsRequest::default())
        .await?
        .into_inner()
        .mla_requests;
    assert!(listed.iter().all(|request| request.id != draft.id));
    assert_eq!(get(&mut ua, &draft.id).await?.etag, before.etag);

    // The hub's oversight auditor reads metadata, never content.
    let mut oversight = hub.client("INT-HUB", "auditor").await?.mla();
    let basic = get_basic(&mut oversight, &draft.id).await?;
    assert_eq!(state(&basic), v1::MlaState::Submitted);
    assert!(basic.history.is_empty());
    let content = basic.content.expect("basic content");
    assert!(content.summary_of_facts.is_none() && content.data_sought.is_empty());
    assert_eq!(content.requested_agency_id, "RS-MUP");
    assert_eq!(
        get(&mut oversight, &draft.id).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    // Content needs a purpose.
    let no_purpose = ua
        .get_request(v1::GetRequestRequest {
            mla_request_id: draft.id.clone(),
            view: v1::MlaRequestView::Full as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(no_purpose.code(), Code::InvalidArgument);
    hub.stop().await
}

async fn a_convention_basis_needs_both_states_to_be_parties(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut ua = officer(&hub, "UA-CERT").await?;
    let mut vn = officer(&hub, "VN-BCA").await?;
    let mut content = preservation_content("VN-BCA");
    content.language = "en".into();
    content.response_languages = vec!["vi".into(), "en".into()];
    let draft = create(&mut ua, content.clone()).await?;
    let refused = submit(&mut ua, &draft.id).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("Budapest Convention"),
        "{}",
        refused.message()
    );
    let unchanged = get(&mut ua, &draft.id).await?;
    assert_eq!(state(&unchanged), v1::MlaState::Draft);
    assert_eq!(unchanged.etag, draft.etag);
    assert_eq!(
        get(&mut vn, &draft.id).await.unwrap_err().code(),
        Code::NotFound
    );
    // The rejection is attested by a signed receipt, found through ListReceipts.
    let keys = ua
        .get_receipt_keys(v1::GetReceiptKeysRequest {})
        .await?
        .into_inner()
        .keys;
    let receipts = ua
        .list_receipts(v1::ListReceiptsRequest {
            mla_request_id: draft.id.clone(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .receipts;
    assert_eq!(receipts.len(), 1);
    let rejection = verify(&receipts[0], &keys)?;
    assert_eq!(
        rejection.kind,
        v1::MlaReceiptKind::SubmissionRejected as i32
    );
    assert_eq!(rejection.state, v1::MlaState::Draft as i32);
    assert_eq!(rejection.requested_agency_id, "VN-BCA");
    assert!(
        rejection.rejection_reason.contains("Budapest Convention"),
        "{}",
        rejection.rejection_reason
    );

    // Viet Nam is not a Party: the same request on a bilateral treaty goes through.
    content.legal_basis = v1::MlaLegalBasis::BilateralTreaty as i32;
    let missing_treaty = ua
        .update_draft(v1::UpdateDraftRequest {
            request_id: rid(),
            mla_request_id: draft.id.clone(),
            etag: draft.etag.clone(),
            content: Some(content.clone()),
        })
        .await?
        .into_inner()
        .mla_request
        .expect("a request");
    let invalid = submit(&mut ua, &draft.id).await.unwrap_err();
    assert_eq!(
        invalid.code(),
        Code::InvalidArgument,
        "the treaty must be named"
    );
    content.bilateral_treaty = text(
        "Hiệp định tương trợ tư pháp về hình sự giữa Việt Nam và Ukraine",
        "vi",
    );
    ua.update_draft(v1::UpdateDraftRequest {
        request_id: rid(),
        mla_request_id: draft.id.clone(),
        etag: missing_treaty.etag,
        content: Some(content),
    })
    .await?;
    let submitted = submit(&mut ua, &draft.id).await?;
    assert_eq!(
        state(&submitted.mla_request.expect("a request")),
        v1::MlaState::Submitted
    );
    assert_eq!(
        state(&get(&mut vn, &draft.id).await?),
        v1::MlaState::Delivered
    );
    hub.stop().await
}

async fn two_officers_acting_at_once_end_with_one_winner(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut ua = officer(&hub, "UA-CERT").await?;
    let mut rs = officer(&hub, "RS-MUP").await?;
    let draft = create(&mut ua, preservation_content("RS-MUP")).await?;
    submit(&mut ua, &draft.id).await?;
    get(&mut rs, &draft.id).await?;
    for step in 0..2 {
        let message = (rid(), draft.id.clone());
        if step == 0 {
            rs.acknowledge_request(v1::AcknowledgeRequestRequest {
                request_id: message.0,
                mla_request_id: message.1,
                ..Default::default()
            })
            .await?;
        } else {
            rs.start_assessment(v1::StartAssessmentRequest {
                request_id: message.0,
                mla_request_id: message.1,
                ..Default::default()
            })
            .await?;
        }
    }
    let current = get(&mut rs, &draft.id).await?;
    assert_eq!(state(&current), v1::MlaState::UnderAssessment);

    // A stale etag is refused outright.
    let stale = rs
        .accept_request(v1::AcceptRequestRequest {
            request_id: rid(),
            mla_request_id: draft.id.clone(),
            etag: draft.etag.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);

    // Two officers' clients act on the same version at once, many times over: accept
    // and refuse race; exactly one wins each round.
    for round in 0..4 {
        let draft = create(&mut ua, preservation_content("RS-MUP")).await?;
        submit(&mut ua, &draft.id).await?;
        let mut first = officer(&hub, "RS-MUP").await?;
        let mut second = officer(&hub, "RS-MUP").await?;
        get(&mut first, &draft.id).await?;
        for step in 0..2 {
            if step == 0 {
                first
                    .acknowledge_request(v1::AcknowledgeRequestRequest {
                        request_id: rid(),
                        mla_request_id: draft.id.clone(),
                        ..Default::default()
                    })
                    .await?;
            } else {
                first
                    .start_assessment(v1::StartAssessmentRequest {
                        request_id: rid(),
                        mla_request_id: draft.id.clone(),
                        ..Default::default()
                    })
                    .await?;
            }
        }
        let etag = get(&mut first, &draft.id).await?.etag;
        let accept = first.accept_request(v1::AcceptRequestRequest {
            request_id: rid(),
            mla_request_id: draft.id.clone(),
            etag: if round % 2 == 0 {
                etag.clone()
            } else {
                String::new()
            },
            comment: text("Прихваћено", "sr-Cyrl"),
        });
        let refuse = second.refuse_request(v1::RefuseRequestRequest {
            request_id: rid(),
            mla_request_id: draft.id.clone(),
            etag: if round % 2 == 0 {
                etag.clone()
            } else {
                String::new()
            },
            grounds: vec![v1::MlaRefusalGround::DataNotAvailable as i32],
            reasons: text("Podaci više ne postoje", "sr-Latn"),
        });
        let (accepted, refused) = tokio::join!(accept, refuse);
        let outcomes = [
            accepted.as_ref().err().map_or(Code::Ok, Status::code),
            refused.as_ref().err().map_or(Code::Ok, Status::code),
        ];
        let winners = outcomes.iter().filter(|code| **code == Code::Ok).count();
        assert_eq!(winners, 1, "round {round}: {outcomes:?}");
        assert!(
            outcomes
                .iter()
                .all(|code| matches!(code, Code::Ok | Code::Aborted | Code::FailedPrecondition)),
            "{outcomes:?}"
        );
        let after = get(&mut first, &draft.id).await?;
        let expected = if outcomes[0] == Code::Ok {
            v1::MlaState::Accepted
        } else {
            v1::MlaState::Refused
        };
        assert_eq!(state(&after), expected);
        let decisions = after
            .history
            .iter()
            .filter(|entry| {
                entry.action == v1::MlaAction::Accept as i32
                    || entry.action == v1::MlaAction::Refuse as i32
            })
            .count();
        assert_eq!(decisions, 1, "no lost update, no double decision");
    }
    hub.stop().await
}

async fn deadlines_pass_on_the_hub_clock_and_show_as_overdue(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut ua = officer(&hub, "UA-CERT").await?;
    let mut rs = officer(&hub, "RS-MUP").await?;
    let mut watch = rs
        .watch_requests(v1::WatchRequestsRequest::default())
        .await?
        .into_inner();
    let draft = create(&mut ua, preservation_content("RS-MUP")).await?;
    submit(&mut ua, &draft.id).await?;
    let overdue = |mla: &mut Mla| {
        let mut mla = mla.clone();
        async move {
            Ok::<_, Status>(
                mla.list_requests(v1::ListRequestsRequest {
                    overdue_only: true,
                    ..Default::default()
                })
                .await?
                .into_inner()
                .mla_requests
                .into_iter()
                .map(|request| request.id)
                .collect::<Vec<_>>(),
            )
        }
    };
    assert!(overdue(&mut rs).await?.is_empty());

    let mut next_kind = async || -> anyhow::Result<v1::MlaEvent> {
        let message = tokio::time::timeout(PATIENCE, watch.message())
            .await
            .map_err(|_| anyhow::anyhow!("no event within {PATIENCE:?}"))??
            .ok_or_else(|| anyhow::anyhow!("the stream ended"))?;
        message.event.ok_or_else(|| anyhow::anyhow!("empty event"))
    };
    let first = next_kind().await?;
    assert_eq!(first.kind, v1::MlaEventKind::Submitted as i32);
    assert_eq!(first.mla_request_id, draft.id);
    let ack_status = |request: &v1::MlaRequest| {
        request
            .deadlines
            .iter()
            .find(|deadline| deadline.kind == v1::MlaDeadlineKind::Acknowledgement as i32)
            .map(|deadline| deadline.status)
    };
    let pending = get_basic(&mut rs, &draft.id).await?;
    assert_eq!(
        ack_status(&pending),
        Some(v1::MlaDeadlineStatus::Pending as i32)
    );

    // Emergency: acknowledgement due in 4 hours. After 3½ it approaches, after 4 it passes.
    hub.clock().advance(Duration::from_secs(3 * 3600 + 1800));
    let approaching = loop {
        let event = next_kind().await?;
        if event.kind != v1::MlaEventKind::ReceiptIssued as i32 {
            break event;
        }
    };
    assert_eq!(
        approaching.kind,
        v1::MlaEventKind::DeadlineApproaching as i32
    );
    assert_eq!(
        approaching.deadline.expect("deadline").kind,
        v1::MlaDeadlineKind::Acknowledgement as i32
    );
    assert_eq!(
        ack_status(&get_basic(&mut rs, &draft.id).await?),
        Some(v1::MlaDeadlineStatus::Approaching as i32)
    );
    assert!(overdue(&mut rs).await?.is_empty());

    hub.clock().advance(Duration::from_secs(3600));
    let passed = next_kind().await?;
    assert_eq!(passed.kind, v1::MlaEventKind::DeadlinePassed as i32);
    let deadline = passed.deadline.expect("deadline");
    assert_eq!(deadline.kind, v1::MlaDeadlineKind::Acknowledgement as i32);
    assert_eq!(deadline.status, v1::MlaDeadlineStatus::Overdue as i32);
    assert!(passed.mla_request.expect("request").overdue);
    assert_eq!(overdue(&mut rs).await?, std::slice::from_ref(&draft.id));
    assert_eq!(overdue(&mut ua).await?, std::slice::from_ref(&draft.id));

    // Acknowledging late meets the deadline: no longer overdue.
    get(&mut rs, &draft.id).await?;
    rs.acknowledge_request(v1::AcknowledgeRequestRequest {
        request_id: rid(),
        mla_request_id: draft.id.clone(),
        ..Default::default()
    })
    .await?;
    assert!(overdue(&mut rs).await?.is_empty());
    hub.stop().await
}

async fn preservation_expires_on_the_hub_clock_unless_extended(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut ua = officer(&hub, "UA-CERT").await?;
    let mut rs = officer(&hub, "RS-MUP").await?;
    let mut content = preservation_content("RS-MUP");
    content.preservation_period = None;
    let draft = create(&mut ua, content).await?;
    submit(&mut ua, &draft.id).await?;
    get(&mut rs, &draft.id).await?;
    rs.acknowledge_request(v1::AcknowledgeRequestRequest {
        request_id: rid(),
        mla_request_id: draft.id.clone(),
        ..Default::default()
    })
    .await?;
    // A preservation date under 60 days is refused; none means 60 days.
    let soon = hub.clock().now().as_micros() / 1_000_000 + 59 * 86_400;
    let short = rs
        .confirm_preservation(v1::ConfirmPreservationRequest {
            request_id: rid(),
            mla_request_id: draft.id.clone(),
            preserve_until: Some(prost_types::Timestamp {
                seconds: soon,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(short.code(), Code::InvalidArgument);
    let confirmed = rs
        .confirm_preservation(v1::ConfirmPreservationRequest {
            request_id: rid(),
            mla_request_id: draft.id.clone(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .mla_request
        .expect("a request");
    let preservation = confirmed.preservation.expect("preservation");
    assert_eq!(
        preservation.preserve_until.expect("until").seconds
            - preservation.confirm_time.expect("confirmed").seconds,
        60 * 86_400
    );

    let mut watch = ua
        .watch_requests(v1::WatchRequestsRequest {
            mla_request_ids: vec![draft.id.clone()],
            kinds: vec![v1::MlaEventKind::DeadlinePassed as i32],
            ..Default::default()
        })
        .await?
        .into_inner();
    // The acknowledgement was met and the response (7 days for Art. 29) is not; after 61
    // days both the response and the preservation period have passed.
    hub.clock().advance(Duration::from_secs(61 * 86_400));
    let mut passed = Vec::new();
    while passed.len() < 2 {
        let message = tokio::time::timeout(PATIENCE, watch.message())
            .await
            .map_err(|_| anyhow::anyhow!("no event within {PATIENCE:?}"))??
            .ok_or_else(|| anyhow::anyhow!("the stream ended"))?;
        let event = message.event.expect("an event");
        assert_eq!(event.kind, v1::MlaEventKind::DeadlinePassed as i32);
        passed.push(event.deadline.expect("deadline").kind);
    }
    passed.sort();
    assert_eq!(
        passed,
        [
            v1::MlaDeadlineKind::Response as i32,
            v1::MlaDeadlineKind::PreservationExpiry as i32
        ]
    );
    // The hub expires the preservation itself (after announcing the deadline); wait for
    // its state change on the stream rather than polling.
    let mut changes = ua
        .watch_requests(v1::WatchRequestsRequest {
            mla_request_ids: vec![draft.id.clone()],
            kinds: vec![v1::MlaEventKind::StateChanged as i32],
            ..Default::default()
        })
        .await?
        .into_inner();
    let expired = loop {
        let message = tokio::time::timeout(PATIENCE, changes.message())
            .await
            .map_err(|_| anyhow::anyhow!("no expiry within {PATIENCE:?}"))??
            .ok_or_else(|| anyhow::anyhow!("the stream ended"))?;
        let request = message
            .event
            .and_then(|event| event.mla_request)
            .expect("a request");
        if request.preservation.as_ref().map(|p| p.state)
            == Some(v1::MlaPreservationState::Expired as i32)
        {
            break request;
        }
    };
    // Only the response is overdue: a preservation period that ran out was not missed.
    let overdue: Vec<i32> = expired
        .deadlines
        .iter()
        .filter(|deadline| deadline.status == v1::MlaDeadlineStatus::Overdue as i32)
        .map(|deadline| deadline.kind)
        .collect();
    assert_eq!(overdue, [v1::MlaDeadlineKind::Response as i32]);
    let last = get(&mut ua, &draft.id)
        .await?
        .history
        .pop()
        .expect("history");
    assert_eq!(last.action, v1::MlaAction::ExpirePreservation as i32);
    assert!(last.actor.is_none(), "the hub's own step");
    // Nothing more to preserve: an extension is refused.
    let late = rs
        .extend_preservation(v1::ExtendPreservationRequest {
            request_id: rid(),
            mla_request_id: draft.id.clone(),
            preserve_until: Some(prost_types::Timestamp {
                seconds: 4_000_000_000,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition);
    hub.stop().await
}

pub(crate) async fn post(
    mla: &mut Mla,
    id: &str,
    body: &str,
    language: &str,
) -> Result<v1::MlaMessage, Status> {
    Ok(mla
        .post_message(v1::PostMessageRequest {
            request_id: rid(),
            mla_request_id: id.into(),
            body: text(body, language),
            evidence_ids: Vec::new(),
        })
        .await?
        .into_inner()
        .message
        .expect("a message"))
}

pub(crate) async fn messages(mla: &mut Mla, id: &str) -> Result<Vec<v1::MlaMessage>, Status> {
    Ok(mla
        .list_messages(with_purpose(
            v1::ListMessagesRequest {
                mla_request_id: id.into(),
                ..Default::default()
            },
            PURPOSE,
        ))
        .await?
        .into_inner()
        .messages)
}

async fn the_parties_exchange_messages_and_no_one_else_reads_them(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut ua = officer(&hub, "UA-CERT").await?;
    let mut rs = officer(&hub, "RS-MUP").await?;
    let mut hu = officer(&hub, "HU-NNI").await?;
    let draft = create(&mut ua, preservation_content("RS-MUP")).await?;
    let on_draft = post(&mut ua, &draft.id, "Чернетка", "uk")
        .await
        .unwrap_err();
    assert_eq!(on_draft.code(), Code::FailedPrecondition);
    submit(&mut ua, &draft.id).await?;

    let mut watch = rs
        .watch_requests(v1::WatchRequestsRequest {
            kinds: vec![v1::MlaEventKind::MessagePosted as i32],
            ..Default::default()
        })
        .await?
        .into_inner();
    let question = post(
        &mut ua,
        &draft.id,
        "Чи отримали ви запит? Справа термінова.",
        "uk",
    )
    .await?;
    assert!(question.id.starts_with("msg_"));
    let event = tokio::time::timeout(PATIENCE, watch.message())
        .await
        .map_err(|_| anyhow::anyhow!("no event within {PATIENCE:?}"))??
        .and_then(|message| message.event)
        .expect("an event");
    assert_eq!(event.kind, v1::MlaEventKind::MessagePosted as i32);
    assert_eq!(event.mla_request_id, draft.id);

    post(&mut rs, &draft.id, "Primljeno, radimo na tome.", "sr-Latn").await?;
    let unknown_file = rs
        .post_message(v1::PostMessageRequest {
            request_id: rid(),
            mla_request_id: draft.id.clone(),
            body: text("Prilog", "sr-Latn"),
            evidence_ids: vec![format!("evd_{}", "0".repeat(26))],
        })
        .await
        .unwrap_err();
    assert_eq!(unknown_file.code(), Code::InvalidArgument);
    let listed = messages(&mut rs, &draft.id).await?;
    let bodies: Vec<&str> = listed
        .iter()
        .map(|message| message.body.as_ref().map_or("", |body| body.text.as_str()))
        .collect();
    assert_eq!(
        bodies,
        [
            "Чи отримали ви запит? Справа термінова.",
            "Primljeno, radimo na tome."
        ]
    );
    // RS-MUP has now read UA-CERT's message; its own stays unread until UA-CERT lists.
    let seen_by_ua = messages(&mut ua, &draft.id).await?;
    assert!(seen_by_ua[0].read_time.is_some());
    let again = messages(&mut rs, &draft.id).await?;
    assert!(again[1].read_time.is_some());

    assert_eq!(
        post(&mut hu, &draft.id, "Hello", "en")
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        messages(&mut hu, &draft.id).await.unwrap_err().code(),
        Code::NotFound
    );
    let no_purpose = ua
        .list_messages(v1::ListMessagesRequest {
            mla_request_id: draft.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(no_purpose.code(), Code::InvalidArgument);
    hub.stop().await
}

pub(crate) fn upload_messages(
    id: &str,
    bytes: &[u8],
    expected_sha256: &str,
) -> Vec<v1::UploadEvidenceRequest> {
    use v1::upload_evidence_request::Payload;
    let mut messages = vec![v1::UploadEvidenceRequest {
        request_id: rid(),
        payload: Some(Payload::Metadata(v1::MlaEvidenceUploadMetadata {
            mla_request_id: id.into(),
            file_name: "журнал_доступу.csv".into(),
            media_type: "text/csv".into(),
            description: text("Izvod iz dnevnika provajdera, overen", "sr-Latn"),
            size_bytes: i64::try_from(bytes.len()).expect("small"),
            expected_sha256: expected_sha256.into(),
        })),
    }];
    for chunk in bytes.chunks(1 << 20) {
        messages.push(v1::UploadEvidenceRequest {
            request_id: String::new(),
            payload: Some(Payload::Chunk(chunk.to_vec())),
        });
    }
    messages
}

/// Downloads a file: its bytes, the receipt if one came, or the status it ended with.
pub(crate) async fn download(
    mla: &mut Mla,
    id: &str,
) -> anyhow::Result<(Vec<u8>, Option<v1::MlaReceipt>, Option<Status>)> {
    use v1::download_evidence_response::Payload;
    let mut stream = mla
        .download_evidence(with_purpose(
            v1::DownloadEvidenceRequest {
                evidence_id: id.into(),
                offset: 0,
            },
            PURPOSE,
        ))
        .await?
        .into_inner();
    let (mut bytes, mut receipt) = (Vec::new(), None);
    loop {
        match tokio::time::timeout(PATIENCE, stream.message()).await? {
            Ok(Some(message)) => match message.payload {
                Some(Payload::Chunk(chunk)) => bytes.extend_from_slice(&chunk),
                Some(Payload::Receipt(issued)) => receipt = Some(issued),
                _ => {}
            },
            Ok(None) => return Ok((bytes, receipt, None)),
            Err(status) => return Ok((bytes, receipt, Some(status))),
        }
    }
}

async fn evidence_streams_verified_and_an_altered_file_is_detected(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut ua = officer(&hub, "UA-CERT").await?;
    let mut rs = officer(&hub, "RS-MUP").await?;
    let mut hu = officer(&hub, "HU-NNI").await?;
    let keys = ua
        .get_receipt_keys(v1::GetReceiptKeysRequest {})
        .await?
        .into_inner()
        .keys;
    let draft = create(&mut ua, preservation_content("RS-MUP")).await?;
    submit(&mut ua, &draft.id).await?;
    get(&mut rs, &draft.id).await?;

    // 3.5 MiB over four chunks, with Cyrillic lines.
    let line = "2025-10-09T08:53:20Z;203.0.113.7:51234;вхід;користувач_17\n";
    let bytes: Vec<u8> = line
        .as_bytes()
        .iter()
        .copied()
        .cycle()
        .take(3_500_000)
        .collect();
    let sha256 = hex::encode(Sha256::digest(&bytes));

    let wrong = rs
        .upload_evidence(tokio_stream::iter(upload_messages(
            &draft.id,
            &bytes,
            &"0".repeat(64),
        )))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::DataLoss);

    let uploaded = rs
        .upload_evidence(tokio_stream::iter(upload_messages(
            &draft.id, &bytes, &sha256,
        )))
        .await?
        .into_inner();
    let evidence = uploaded.evidence.expect("evidence");
    assert_eq!(evidence.sha256, sha256);
    assert_eq!(evidence.size_bytes, 3_500_000);
    let statement = verify(&uploaded.receipt.expect("a receipt"), &keys)?;
    assert_eq!(
        statement.kind,
        v1::MlaReceiptKind::EvidenceSubmission as i32
    );
    assert_eq!(statement.evidence[0].sha256, sha256);
    let listed = ua
        .list_evidence(v1::ListEvidenceRequest {
            mla_request_id: draft.id.clone(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .evidence;
    assert_eq!(listed.len(), 1, "the refused upload stored nothing");

    let (received, receipt, status) = download(&mut ua, &evidence.id).await?;
    assert!(status.is_none(), "{status:?}");
    assert_eq!(hex::encode(Sha256::digest(&received)), sha256);
    let statement = verify(&receipt.expect("a retrieval receipt"), &keys)?;
    assert_eq!(statement.kind, v1::MlaReceiptKind::EvidenceRetrieval as i32);
    assert_eq!(statement.actor.expect("actor").agency_id, "UA-CERT");
    let (_, again, _) = download(&mut ua, &evidence.id).await?;
    assert!(
        again.is_none(),
        "one retrieval receipt, for the first retrieval"
    );

    // A third agency learns nothing.
    let hidden = hu
        .download_evidence(with_purpose(
            v1::DownloadEvidenceRequest {
                evidence_id: evidence.id.clone(),
                offset: 0,
            },
            PURPOSE,
        ))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);

    // Someone with access to the disk alters the stored file: the download says so.
    let stored = hub
        .data_dir()
        .join("evidence")
        .join(&sha256[..2])
        .join(&sha256);
    let mut altered = std::fs::read(&stored)?;
    altered[1_000_000] ^= 0x01;
    std::fs::write(&stored, &altered)?;
    let (_, _, status) = download(&mut ua, &evidence.id).await?;
    assert_eq!(status.expect("the stream fails").code(), Code::DataLoss);
    hub.stop().await
}
