//! WhoAmI and the agency list.

use std::collections::BTreeSet;

use liaison_proto::v1;
use liaison_testkit::{Backend, TestHub};
use rustls_pki_types::{CertificateDer, pem::PemObject};
use sha2::{Digest, Sha256};

use liaison_testkit::both;

both!(
    who_am_i_names_the_certificate_principal,
    agencies_list_pages_through_the_federation
);

async fn who_am_i_names_the_certificate_principal(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    for (agency, name, kind, role) in [
        (
            "UA-CERT",
            "feed",
            v1::PrincipalKind::System,
            v1::Role::System,
        ),
        (
            "VN-BCA",
            "officer",
            v1::PrincipalKind::Person,
            v1::Role::Officer,
        ),
        (
            "INT-HUB",
            "operator",
            v1::PrincipalKind::Person,
            v1::Role::Operator,
        ),
    ] {
        let client = hub.client(agency, name).await?;
        let answer = client
            .directory()
            .who_am_i(v1::WhoAmIRequest {})
            .await?
            .into_inner();
        let principal = answer
            .principal
            .clone()
            .and_then(|p| p.r#ref)
            .expect("principal");
        assert_eq!(principal.agency_id, agency);
        assert_eq!(principal.name, name);
        assert_eq!(principal.kind, kind as i32);
        assert!(
            answer.principal.unwrap().roles.contains(&(role as i32)),
            "{agency}/{name} lacks {role:?}"
        );
        assert_eq!(answer.agency.as_ref().map(|a| a.id.as_str()), Some(agency));

        let (cert_path, _) = hub.pki().principal(agency, name);
        let der = CertificateDer::from_pem_file(cert_path)?;
        assert_eq!(
            answer.certificate_sha256,
            hex::encode(Sha256::digest(der.as_ref()))
        );
    }
    let vn = hub
        .client("VN-BCA", "feed")
        .await?
        .directory()
        .who_am_i(v1::WhoAmIRequest {})
        .await?
        .into_inner();
    let state = vn
        .agency
        .and_then(|agency| agency.state)
        .expect("Viet Nam's state");
    assert!(
        !state.budapest_convention_party,
        "example federation: Viet Nam is not a Party"
    );
    hub.stop().await
}

async fn agencies_list_pages_through_the_federation(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut directory = hub.client("RS-MUP", "officer").await?.directory();
    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = directory
            .list_agencies(v1::ListAgenciesRequest {
                page_size: 5,
                page_token,
            })
            .await?
            .into_inner();
        assert!(page.agencies.len() <= 5);
        seen.extend(page.agencies.into_iter().map(|agency| agency.id));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(seen.len(), 22, "{seen:?}");
    assert_eq!(unique.len(), seen.len(), "an agency was listed twice");
    assert!(
        seen.windows(2).all(|pair| pair[0] < pair[1]),
        "not in id order"
    );

    let serbia = directory
        .get_agency(v1::GetAgencyRequest {
            agency_id: "RS-MUP".into(),
        })
        .await?
        .into_inner()
        .agency
        .expect("agency");
    assert_eq!(
        serbia.native_name.map(|text| text.text).as_deref(),
        Some("Министарство унутрашњих послова Републике Србије")
    );
    let missing = directory
        .get_agency(v1::GetAgencyRequest {
            agency_id: "XX-NONE".into(),
        })
        .await
        .expect_err("unknown agency");
    assert_eq!(missing.code(), tonic::Code::NotFound);
    let malformed = directory
        .get_agency(v1::GetAgencyRequest {
            agency_id: "../etc".into(),
        })
        .await
        .expect_err("malformed id");
    assert_eq!(malformed.code(), tonic::Code::InvalidArgument);
    hub.stop().await
}
