//! Access control end to end: certificate-bound tokens and what is refused of them, key
//! rotation, the operator's changes, suspension and revocation (by the operator and by the
//! CA's CRL) cutting off calls and open streams.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use liaison_auth::{TokenAuthority, TokenKey};
use liaison_client::{Client, FailureKind};
use liaison_core::{AgencyId, PrincipalId, PrincipalKind, PrincipalName, Role, Timestamp};
use liaison_pki::Validity;
use liaison_proto::v1::{
    self, directory_service_client::DirectoryServiceClient,
    indicator_service_client::IndicatorServiceClient,
};
use liaison_testkit::{Backend, TestHub, both};
use tonic::{Code, Request, transport::Channel};

use crate::support::{fraud_method, publish, purposeful, subscribe_after, unique};

both!(
    persons_need_a_token_for_their_roles,
    forged_and_misused_tokens_are_refused,
    token_keys_rotate_with_an_overlap,
    operator_registers_agencies_certificates_roles_and_groups,
    suspension_cuts_off_calls_and_open_streams,
    revoked_certificate_is_refused_at_the_handshake_and_its_stream_ends,
    a_changed_crl_applies_without_a_restart,
    operator_requests_are_validated_field_by_field,
    the_client_refreshes_its_token_before_it_expires,
);

/// How long a stream may take to end after a revocation: generous, not a timing assertion.
const STREAM_END: Duration = Duration::from_secs(15);

/// A WhoAmI over the raw channel (no automatic token) with `token` as the bearer.
async fn who_am_i_with(channel: Channel, token: &str) -> Result<v1::WhoAmIResponse, tonic::Status> {
    let mut request = Request::new(v1::WhoAmIRequest {});
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ASCII"),
    );
    Ok(DirectoryServiceClient::new(channel)
        .who_am_i(request)
        .await?
        .into_inner())
}

async fn issue_token(client: &Client) -> anyhow::Result<String> {
    Ok(DirectoryServiceClient::new(client.channel())
        .issue_token(v1::IssueTokenRequest::default())
        .await?
        .into_inner()
        .token)
}

fn roles(response: &v1::WhoAmIResponse) -> Vec<i32> {
    response
        .principal
        .as_ref()
        .map(|principal| principal.roles.clone())
        .unwrap_or_default()
}

fn principal(agency: &str, kind: PrincipalKind, name: &str) -> PrincipalId {
    PrincipalId::new(
        AgencyId::parse(agency).expect("agency"),
        kind,
        PrincipalName::parse(name).expect("name"),
    )
}

/// Waits for `stream` to end with `code`; `whose` names the stream in the failure.
async fn stream_ends_with(
    stream: &mut tonic::Streaming<v1::SubscribeResponse>,
    code: Code,
    whose: &str,
) -> anyhow::Result<()> {
    let ended = tokio::time::timeout(STREAM_END, stream.message())
        .await
        .map_err(|_| anyhow::anyhow!("{whose} stream stayed open"))?;
    let status = ended.expect_err("the stream ended without an error");
    assert_eq!(status.code(), code, "{whose} stream: {status:?}");
    Ok(())
}

fn operator_request<T>(message: T) -> Request<T> {
    Request::new(message)
}

async fn persons_need_a_token_for_their_roles(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let officer = hub.client("UA-CERT", "officer").await?;
    // With its token (the client fetches it itself) the officer holds its roles.
    let mut indicators = officer.indicators();
    indicators
        .publish(publish(fraud_method("Фішинг з токеном")))
        .await?;
    let with_token = officer
        .directory()
        .who_am_i(v1::WhoAmIRequest {})
        .await?
        .into_inner();
    assert_eq!(roles(&with_token), [v1::Role::Officer as i32]);
    // On the certificate alone the same person holds no role and may not publish.
    let bare = DirectoryServiceClient::new(officer.channel())
        .who_am_i(v1::WhoAmIRequest {})
        .await?
        .into_inner();
    assert!(roles(&bare).is_empty(), "{bare:?}");
    let denied = IndicatorServiceClient::new(officer.channel())
        .publish(publish(fraud_method("Без токена")))
        .await
        .expect_err("a person published on the certificate alone");
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    // A system keeps its system role on the certificate alone: feeds need no token.
    let feed = hub.client("UA-CERT", "feed").await?;
    IndicatorServiceClient::new(feed.channel())
        .publish(publish(fraud_method("Feed without a token")))
        .await?;
    hub.stop().await
}

async fn forged_and_misused_tokens_are_refused(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let ukraine = hub.client("UA-CERT", "officer").await?;
    let genuine = issue_token(&ukraine).await?;
    assert!(who_am_i_with(ukraine.channel(), &genuine).await.is_ok());
    let certificate_sha256 = who_am_i_with(ukraine.channel(), &genuine)
        .await?
        .certificate_sha256;
    let me = principal("UA-CERT", PrincipalKind::Person, "officer");
    let hub_key_pkcs8 = std::fs::read(&hub.pki().token_key)?;
    let hub_authority = TokenAuthority::new(
        "liaison.example",
        TokenKey::from_pkcs8(&hub_key_pkcs8)?,
        Vec::new(),
        Duration::from_secs(900),
    );
    let jwks: serde_json::Value = serde_json::from_str(
        &DirectoryServiceClient::new(ukraine.channel())
            .get_token_keys(v1::GetTokenKeysRequest {})
            .await?
            .into_inner()
            .jwks_json,
    )?;
    let kid = jwks["keys"][0]["kid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let public_key = URL_SAFE_NO_PAD.decode(jwks["keys"][0]["x"].as_str().unwrap_or_default())?;
    assert_eq!(public_key.len(), 32, "{jwks}");

    let now_seconds =
        Timestamp::from_system_time(std::time::SystemTime::now()).as_micros() / 1_000_000;
    let claims = |audience: &str| {
        serde_json::json!({
            "iss": "spiffe://liaison.example/directory", "aud": audience,
            "sub": me.to_uri("liaison.example"), "agency": "UA-CERT",
            "roles": ["officer", "operator"], "iat": now_seconds, "nbf": now_seconds,
            "exp": now_seconds + 600, "jti": "forged",
            "cnf": {"x5t#S256": liaison_auth::token::certificate_thumbprint(&certificate_sha256)}
        })
    };
    let encode = |header: &serde_json::Value, claims: &serde_json::Value| {
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    };
    let ed25519 = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&hub_key_pkcs8)
        .map_err(|_| anyhow::anyhow!("token key"))?;
    let sign_with_hub_key = |input: String| {
        let signature = ed25519.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    };
    let eddsa_header = serde_json::json!({"alg": "EdDSA", "typ": "JWT", "kid": kid});

    // Sanity: the same construction with the right audience is accepted, so each refusal
    // below is for the one thing changed.
    let well_formed = sign_with_hub_key(encode(
        &eddsa_header,
        &claims("spiffe://liaison.example/hub"),
    ));
    let accepted = who_am_i_with(ukraine.channel(), &well_formed).await?;
    assert_eq!(
        roles(&accepted),
        [v1::Role::Officer as i32],
        "a token never grants a role the directory does not"
    );

    let unsigned = format!(
        "{}.",
        encode(
            &serde_json::json!({"alg": "none", "typ": "JWT"}),
            &claims("spiffe://liaison.example/hub")
        )
    );
    let hs256_input = encode(
        &serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": kid}),
        &claims("spiffe://liaison.example/hub"),
    );
    let mac = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &public_key),
        hs256_input.as_bytes(),
    );
    let hs256 = format!("{hs256_input}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()));
    let stranger = TokenAuthority::new(
        "liaison.example",
        TokenKey::from_pkcs8(&TokenKey::generate_pkcs8()?)?,
        Vec::new(),
        Duration::from_secs(900),
    );
    let (wrong_key, _) = stranger.issue(
        &me,
        &[Role::Officer],
        &certificate_sha256,
        Timestamp::from_system_time(std::time::SystemTime::now()),
    )?;
    let an_hour_ago = Timestamp::from_micros(
        Timestamp::from_system_time(std::time::SystemTime::now()).as_micros() - 3_600_000_000,
    );
    let (expired, _) =
        hub_authority.issue(&me, &[Role::Officer], &certificate_sha256, an_hour_ago)?;
    let wrong_audience = sign_with_hub_key(encode(
        &eddsa_header,
        &claims("spiffe://liaison.example/elsewhere"),
    ));

    let cases = [
        ("alg: none", unsigned, "algorithm"),
        ("HS256 keyed with the public key", hs256, "algorithm"),
        (
            "signed by another key",
            wrong_key,
            "not signed by a key of this hub",
        ),
        ("expired", expired, "expired"),
        ("wrong audience", wrong_audience, "audience"),
        ("not a JWT", "garbage".to_owned(), "malformed"),
    ];
    for (case, token, expected) in cases {
        let refused = who_am_i_with(ukraine.channel(), &token)
            .await
            .expect_err(case);
        assert_eq!(refused.code(), Code::Unauthenticated, "{case}: {refused:?}");
        assert!(
            refused.message().contains(expected),
            "{case}: {}",
            refused.message()
        );
    }

    // Ukraine's token presented over Hungary's certificate.
    let hungary = hub.client("HU-NNI", "officer").await?;
    let stolen = who_am_i_with(hungary.channel(), &genuine)
        .await
        .expect_err("a token was accepted over another agency's certificate");
    assert_eq!(stolen.code(), Code::Unauthenticated);
    assert!(
        stolen.message().contains("another client certificate"),
        "{stolen:?}"
    );
    hub.stop().await
}

async fn token_keys_rotate_with_an_overlap(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let old_key = hub.pki().token_key.clone();
    let old_token = issue_token(&hub.client("UA-CERT", "officer").await?).await?;

    let new_key = hub.data_dir().join("token-signing.next.key");
    std::fs::write(&new_key, TokenKey::generate_pkcs8()?)?;
    let hub = hub
        .restart_with(|config| {
            config.access.token_key = new_key.clone();
            config.access.previous_token_keys = vec![old_key.clone()];
        })
        .await?;
    let officer = hub.client("UA-CERT", "officer").await?;
    let during = who_am_i_with(officer.channel(), &old_token).await?;
    assert!(
        !roles(&during).is_empty(),
        "the overlap accepts the old key's tokens"
    );
    let new_token = issue_token(&officer).await?;
    let kid = |token: &str| -> anyhow::Result<String> {
        let header: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap_or_default())?,
        )?;
        Ok(header["kid"].as_str().unwrap_or_default().to_owned())
    };
    assert_ne!(
        kid(&old_token)?,
        kid(&new_token)?,
        "new tokens use the new key"
    );
    let jwks = DirectoryServiceClient::new(officer.channel())
        .get_token_keys(v1::GetTokenKeysRequest {})
        .await?
        .into_inner()
        .jwks_json;
    assert!(
        jwks.contains(&kid(&old_token)?) && jwks.contains(&kid(&new_token)?),
        "{jwks}"
    );

    let hub = hub
        .restart_with(|config| config.access.previous_token_keys.clear())
        .await?;
    let officer = hub.client("UA-CERT", "officer").await?;
    let after = who_am_i_with(officer.channel(), &old_token)
        .await
        .expect_err("the retired key's token was accepted after the overlap");
    assert_eq!(after.code(), Code::Unauthenticated);
    who_am_i_with(officer.channel(), &new_token).await?;
    hub.stop().await
}

async fn operator_registers_agencies_certificates_roles_and_groups(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut operator = hub.client("INT-HUB", "operator").await?.directory();
    let registered = operator
        .register_agency(operator_request(v1::RegisterAgencyRequest {
            request_id: "register-lv-vp".into(),
            agency: Some(v1::Agency {
                id: "LV-VP".into(),
                name: "State Police of Latvia".into(),
                native_name: Some(v1::LocalizedText {
                    text: "Valsts policija — Kibernoziegumu apkarošanas pārvalde".into(),
                    language: "lv".into(),
                }),
                kind: v1::AgencyKind::Police as i32,
                state: Some(v1::StateInfo {
                    code: "LV".into(),
                    ..v1::StateInfo::default()
                }),
                status: 0,
            }),
        }))
        .await;
    // LV is not a state of the example federation: the operator is told which field.
    let refused = registered.expect_err("an unknown state was accepted");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("agency.state.code"),
        "{refused:?}"
    );

    let agency = operator
        .register_agency(operator_request(v1::RegisterAgencyRequest {
            request_id: "register-int-test".into(),
            agency: Some(v1::Agency {
                id: "INT-CYBERPOL".into(),
                name: "Test body".into(),
                kind: v1::AgencyKind::International as i32,
                ..v1::Agency::default()
            }),
        }))
        .await?
        .into_inner()
        .agency
        .unwrap_or_default();
    assert_eq!(agency.status, v1::AgencyStatus::Active as i32);
    let again = operator
        .register_agency(operator_request(v1::RegisterAgencyRequest {
            request_id: "register-int-test-2".into(),
            agency: Some(v1::Agency {
                id: "INT-CYBERPOL".into(),
                name: "Test body".into(),
                kind: v1::AgencyKind::International as i32,
                ..v1::Agency::default()
            }),
        }))
        .await
        .expect_err("registered twice");
    assert_eq!(again.code(), Code::AlreadyExists);

    // A certificate for a new person of the new agency, with the officer role.
    let person = principal("INT-CYBERPOL", PrincipalKind::Person, "analyst");
    let issued = hub
        .ca()?
        .issue_client(&person, "liaison.example", Validity::days(30))?;
    let response = operator
        .register_certificate(operator_request(v1::RegisterCertificateRequest {
            request_id: "cert-analyst".into(),
            certificate_pem: issued.cert_pem.clone(),
            roles: vec![v1::Role::Officer as i32],
        }))
        .await?
        .into_inner();
    assert_eq!(response.certificate_sha256.len(), 64);
    let analyst = Client::connect(&hub.client_config_with(&issued)?).await?;
    let me = analyst
        .directory()
        .who_am_i(v1::WhoAmIRequest {})
        .await?
        .into_inner();
    assert_eq!(roles(&me), [v1::Role::Officer as i32]);

    // Roles replaced: the new token carries the new set.
    operator
        .assign_roles(operator_request(v1::AssignRolesRequest {
            request_id: "roles-analyst".into(),
            principal: Some(v1::PrincipalRef {
                agency_id: "INT-CYBERPOL".into(),
                kind: v1::PrincipalKind::Person as i32,
                name: "analyst".into(),
            }),
            roles: vec![v1::Role::Officer as i32, v1::Role::Auditor as i32],
        }))
        .await?;
    let analyst = Client::connect(&hub.client_config_with(&issued)?).await?;
    let me = analyst
        .directory()
        .who_am_i(v1::WhoAmIRequest {})
        .await?
        .into_inner();
    assert_eq!(
        roles(&me),
        [v1::Role::Officer as i32, v1::Role::Auditor as i32]
    );

    // Sharing groups: created with a server id (a retry names the same group), visible to
    // members only.
    let create = v1::CreateSharingGroupRequest {
        request_id: format!("group-{}", unique()),
        sharing_group: Some(v1::SharingGroup {
            id: String::new(),
            name: "Danube fraud working group".into(),
            member_agency_ids: vec!["RS-MUP".into(), "HU-NNI".into()],
        }),
    };
    let group = operator
        .create_sharing_group(operator_request(create.clone()))
        .await?
        .into_inner()
        .sharing_group
        .unwrap_or_default();
    assert!(group.id.starts_with("grp_"), "{group:?}");
    let retried = operator
        .create_sharing_group(operator_request(create))
        .await?
        .into_inner()
        .sharing_group
        .unwrap_or_default();
    assert_eq!(retried.id, group.id);
    let updated = operator
        .update_sharing_group(operator_request(v1::UpdateSharingGroupRequest {
            request_id: "group-update".into(),
            sharing_group: Some(v1::SharingGroup {
                id: group.id.clone(),
                name: "Danube and Sava fraud working group".into(),
                member_agency_ids: vec!["RS-MUP".into(), "HU-NNI".into(), "BA-MSB".into()],
            }),
        }))
        .await?
        .into_inner()
        .sharing_group
        .unwrap_or_default();
    assert_eq!(updated.member_agency_ids, ["BA-MSB", "HU-NNI", "RS-MUP"]);
    let mut serbia = hub.client("RS-MUP", "officer").await?.directory();
    let seen = serbia
        .get_sharing_group(v1::GetSharingGroupRequest {
            sharing_group_id: group.id.clone(),
        })
        .await?
        .into_inner();
    assert_eq!(
        seen.sharing_group.map(|g| g.name).as_deref(),
        Some("Danube and Sava fraud working group")
    );
    let mut ukraine = hub.client("UA-CERT", "officer").await?.directory();
    let hidden = ukraine
        .get_sharing_group(v1::GetSharingGroupRequest {
            sharing_group_id: group.id.clone(),
        })
        .await
        .expect_err("a non-member saw the group");
    assert_eq!(hidden.code(), Code::NotFound);
    let listed = ukraine
        .list_sharing_groups(v1::ListSharingGroupsRequest::default())
        .await?
        .into_inner();
    assert!(listed.sharing_groups.iter().all(|g| g.id != group.id));

    // Every operator change is in the audit log, written with the change.
    let records = hub.store().audit_records(0, 10_000).await?;
    for method in [
        "RegisterAgency",
        "RegisterCertificate",
        "AssignRoles",
        "CreateSharingGroup",
        "UpdateSharingGroup",
    ] {
        assert!(
            records.iter().any(
                |row| row.record.contains(&format!("DirectoryService/{method}\""))
                    && row.record.contains("\"outcome\":0")
            ),
            "no record of {method}"
        );
    }
    hub.stop().await
}

async fn suspension_cuts_off_calls_and_open_streams(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let feed = hub.client("UA-CERT", "feed").await?;
    let mut stream = feed
        .indicators()
        .subscribe(purposeful(subscribe_after(0)))
        .await?
        .into_inner();
    let mut operator = hub.client("INT-HUB", "operator").await?.directory();
    let suspended = operator
        .suspend_agency(operator_request(v1::SuspendAgencyRequest {
            request_id: "suspend-ua".into(),
            agency_id: "UA-CERT".into(),
            reason: "Compromised integration server (incident 2026-11-25)".into(),
        }))
        .await?
        .into_inner()
        .agency
        .unwrap_or_default();
    assert_eq!(suspended.status, v1::AgencyStatus::Suspended as i32);

    stream_ends_with(
        &mut stream,
        Code::PermissionDenied,
        "the suspended agency's",
    )
    .await?;

    let refused = feed
        .indicators()
        .publish(publish(fraud_method("While suspended")))
        .await
        .expect_err("a suspended agency published");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let hub_itself = operator
        .suspend_agency(operator_request(v1::SuspendAgencyRequest {
            request_id: "suspend-hub".into(),
            agency_id: "INT-HUB".into(),
            reason: "mistake".into(),
        }))
        .await
        .expect_err("the hub suspended itself");
    assert_eq!(hub_itself.code(), Code::FailedPrecondition);

    operator
        .reinstate_agency(operator_request(v1::ReinstateAgencyRequest {
            request_id: "reinstate-ua".into(),
            agency_id: "UA-CERT".into(),
            reason: "Server rebuilt and re-keyed".into(),
        }))
        .await?;
    feed.indicators()
        .publish(publish(fraud_method("After reinstatement")))
        .await?;
    hub.stop().await
}

async fn revoked_certificate_is_refused_at_the_handshake_and_its_stream_ends(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let feed = hub.client("UA-CERT", "feed").await?;
    let fingerprint = feed
        .directory()
        .who_am_i(v1::WhoAmIRequest {})
        .await?
        .into_inner()
        .certificate_sha256;
    let mut stream = feed
        .indicators()
        .subscribe(purposeful(subscribe_after(0)))
        .await?
        .into_inner();
    let mut operator = hub.client("INT-HUB", "operator").await?.directory();
    operator
        .revoke_certificate(operator_request(v1::RevokeCertificateRequest {
            request_id: "revoke-ua-feed".into(),
            certificate_sha256: fingerprint.to_uppercase(),
            reason: "Key found on a compromised host".into(),
        }))
        .await?;

    stream_ends_with(
        &mut stream,
        Code::Unauthenticated,
        "the revoked certificate's",
    )
    .await?;
    // Calls on the connection opened before the revocation are refused...
    let refused = feed
        .directory()
        .who_am_i(v1::WhoAmIRequest {})
        .await
        .expect_err("a revoked certificate was served");
    assert_eq!(refused.code(), Code::Unauthenticated);
    // ...and a new connection fails at the handshake.
    let fresh = Client::connect(&hub.client_config("UA-CERT", "feed")?).await;
    let failure = match fresh {
        Err(error) => error.to_string(),
        Ok(client) => {
            let status = client
                .directory()
                .who_am_i(v1::WhoAmIRequest {})
                .await
                .expect_err("a revoked certificate completed a handshake and was served");
            let (kind, text) = liaison_client::explain_status(hub.endpoint(), &status);
            assert_eq!(kind, FailureKind::CertificateRefused, "{text}");
            text
        }
    };
    assert!(
        failure.contains("refused") || failure.contains("closed"),
        "{failure}"
    );
    // Other principals of the agency are unaffected.
    hub.client("UA-CERT", "officer")
        .await?
        .directory()
        .who_am_i(v1::WhoAmIRequest {})
        .await?;
    hub.stop().await
}

async fn a_changed_crl_applies_without_a_restart(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let feed = hub.client("HU-NNI", "feed").await?;
    let mut stream = feed
        .indicators()
        .subscribe(purposeful(subscribe_after(0)))
        .await?
        .into_inner();
    let revoked_pem = std::fs::read_to_string(hub.pki().principal("HU-NNI", "feed").0)?;
    let crl = hub.ca()?.crl(&[&revoked_pem], 2)?;
    std::fs::write(&hub.pki().crl, crl)?;

    stream_ends_with(
        &mut stream,
        Code::Unauthenticated,
        "a certificate in the new CRL's",
    )
    .await?;
    let outcome = async {
        Client::connect(&hub.client_config("HU-NNI", "feed")?)
            .await?
            .directory()
            .who_am_i(v1::WhoAmIRequest {})
            .await?;
        anyhow::Ok(())
    }
    .await;
    assert!(
        outcome.is_err(),
        "a certificate in the CRL completed a call"
    );
    // A broken CRL file is ignored: the last good one stays in force.
    std::fs::write(
        &hub.pki().crl,
        "-----BEGIN X509 CRL-----\nnot base64\n-----END X509 CRL-----\n",
    )?;
    // Wall-clock on purpose: nothing must happen, so wait past three reloads (200 ms).
    tokio::time::sleep(Duration::from_millis(600)).await;
    let still_refused = async {
        Client::connect(&hub.client_config("HU-NNI", "feed")?)
            .await?
            .directory()
            .who_am_i(v1::WhoAmIRequest {})
            .await?;
        anyhow::Ok(())
    }
    .await;
    assert!(
        still_refused.is_err(),
        "a broken CRL file lifted the revocation"
    );
    hub.client("HU-NNI", "officer")
        .await?
        .directory()
        .who_am_i(v1::WhoAmIRequest {})
        .await?;
    hub.stop().await
}

async fn operator_requests_are_validated_field_by_field(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut operator = hub.client("INT-HUB", "operator").await?.directory();
    let status = operator
        .register_certificate(operator_request(v1::RegisterCertificateRequest {
            request_id: String::new(),
            certificate_pem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
                .into(),
            roles: vec![99],
        }))
        .await
        .expect_err("accepted");
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields = bad_fields(&status);
    for field in ["request_id", "certificate_pem", "roles[0]"] {
        assert!(
            fields.iter().any(|f| f == field),
            "{field} not named: {fields:?}"
        );
    }
    // A certificate from another CA cannot be registered.
    let rogue = liaison_pki::CertificateAuthority::generate("rogue")?.issue_client(
        &principal("UA-CERT", PrincipalKind::Person, "mole"),
        "liaison.example",
        Validity::days(1),
    )?;
    let status = operator
        .register_certificate(operator_request(v1::RegisterCertificateRequest {
            request_id: "rogue".into(),
            certificate_pem: rogue.cert_pem,
            roles: vec![v1::Role::Officer as i32],
        }))
        .await
        .expect_err("a foreign CA's certificate was registered");
    assert_eq!(bad_fields(&status), ["certificate_pem"]);
    // Hub roles for a member's principal, the system role for a person.
    let status = operator
        .assign_roles(operator_request(v1::AssignRolesRequest {
            request_id: "roles".into(),
            principal: Some(v1::PrincipalRef {
                agency_id: "VN-BCA".into(),
                kind: v1::PrincipalKind::Person as i32,
                name: "officer".into(),
            }),
            roles: vec![v1::Role::Operator as i32, v1::Role::System as i32],
        }))
        .await
        .expect_err("accepted");
    assert_eq!(bad_fields(&status), ["roles[0]", "roles[1]"]);
    let status = operator
        .revoke_certificate(operator_request(v1::RevokeCertificateRequest {
            request_id: "r".into(),
            certificate_sha256: "not-hex".into(),
            reason: String::new(),
        }))
        .await
        .expect_err("accepted");
    assert_eq!(bad_fields(&status), ["certificate_sha256", "reason"]);
    // Members may not call the operator's RPCs at all.
    let mut officer = hub.client("VN-BCA", "officer").await?.directory();
    let denied = officer
        .suspend_agency(v1::SuspendAgencyRequest {
            request_id: "coup".into(),
            agency_id: "UA-CERT".into(),
            reason: "Thử nghiệm quyền truy cập".into(),
        })
        .await
        .expect_err("a member suspended an agency");
    assert_eq!(denied.code(), Code::PermissionDenied);
    hub.stop().await
}

fn bad_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|bad| {
            bad.field_violations
                .into_iter()
                .map(|violation| violation.field)
                .collect()
        })
        .unwrap_or_default()
}

async fn the_client_refreshes_its_token_before_it_expires(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let hub = hub
        .restart_with(|config| config.access.token_lifetime = Duration::from_secs(2))
        .await?;
    let officer = hub.client("SI-POLICIJA", "officer").await?;
    let mut directory = officer.directory();
    directory.who_am_i(v1::WhoAmIRequest {}).await?;
    // Past three quarters of the lifetime the next call fetches a new token first
    // (wall-clock on purpose: the token's lifetime is what is tested).
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let me = directory.who_am_i(v1::WhoAmIRequest {}).await?.into_inner();
    assert!(
        !roles(&me).is_empty(),
        "the call after the refresh lost its roles"
    );
    // Wait for the log to grow, not for time to pass.
    let mut audit_size = hub.store().watch_audit_size();
    let issued = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let rows = hub.store().audit_records(0, 10_000).await?;
            let count = rows
                .iter()
                .filter(|row| {
                    row.record.contains("DirectoryService/IssueToken\"")
                        && row.record.contains("SI-POLICIJA")
                        && row.record.contains("\"outcome\":0")
                })
                .count();
            if count >= 2 {
                return anyhow::Ok(count);
            }
            audit_size.changed().await?;
        }
    })
    .await
    .map_err(|_| anyhow::anyhow!("the client did not fetch a second token"))??;
    assert_eq!(issued, 2, "one token, then exactly one refresh");
    hub.stop().await
}
