//! The authorization matrix: every RPC of every service, called as each kind of principal
//! of a party agency, of a third agency and of the hub, against the table kept beside this
//! file (`authorization_matrix.txt`). An RPC without a row, or a row naming no RPC, fails.
//!
//! Calls go through the real client (mutual TLS and a token fetched by the client), with
//! raw protobuf bytes so that one loop covers every method: an empty request, or one
//! naming a fixture object where the decision depends on the object.

use std::collections::BTreeMap;

use bytes::{Buf, BufMut};
use liaison_client::Client;
use liaison_core::{AgencyId, PrincipalId, PrincipalKind, PrincipalName};
use liaison_pki::Validity;
use liaison_proto::v1;
use liaison_testkit::{Backend, TestHub, both};
use prost::Message;
use tonic::{
    Code, Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
};

use crate::support::{fraud_method, named, publish, purposeful};

both!(every_rpc_allows_and_denies_as_the_matrix_says);

const MATRIX: &str = include_str!("authorization_matrix.txt");
const COLUMNS: [&str; 8] = ["PS", "PO", "PA", "TS", "TO", "TA", "OA", "OP"];
const FIXTURE_GROUP: &str = "eu-ukraine-cyber-dialogue";

/// Passes protobuf bytes through unchanged.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        Ok(Some(bytes.to_vec()))
    }
}

/// Every method of the Liaison services: `Service/Method`, client- and server-streaming.
fn methods() -> anyhow::Result<Vec<(String, bool, bool)>> {
    let set = prost_types::FileDescriptorSet::decode(liaison_proto::FILE_DESCRIPTOR_SET)?;
    let mut methods = Vec::new();
    for file in set.file {
        if file.package() != "liaison.v1" {
            continue;
        }
        for service in &file.service {
            for method in &service.method {
                methods.push((
                    format!("{}/{}", service.name(), method.name()),
                    method.client_streaming(),
                    method.server_streaming(),
                ));
            }
        }
    }
    Ok(methods)
}

fn expected_table() -> anyhow::Result<BTreeMap<String, Vec<bool>>> {
    let mut table = BTreeMap::new();
    for line in MATRIX.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let method = fields.next().unwrap_or_default().to_owned();
        let cells: Vec<bool> = fields.map(|cell| cell == "A").collect();
        anyhow::ensure!(
            cells.len() == COLUMNS.len(),
            "row {method}: {} cells, expected {}",
            cells.len(),
            COLUMNS.len()
        );
        anyhow::ensure!(
            table.insert(method.clone(), cells).is_none(),
            "two rows for {method}"
        );
    }
    Ok(table)
}

/// Allowed past access control, or denied.
async fn attempt(
    client: &Client,
    method: &str,
    client_streaming: bool,
    server_streaming: bool,
    body: Vec<u8>,
) -> anyhow::Result<bool> {
    let mut grpc = tonic::client::Grpc::new(client.authorized_channel());
    grpc.ready().await?;
    let path = http::uri::PathAndQuery::try_from(format!("/liaison.v1.{method}"))?;
    let request = purposeful(body);
    let outcome = match (client_streaming, server_streaming) {
        (false, false) => grpc.unary(request, path, RawCodec).await.map(|_| ()),
        (false, true) => grpc
            .server_streaming(request, path, RawCodec)
            .await
            .map(|_| ()),
        (true, false) => grpc
            .client_streaming(
                request.map(|_| tokio_stream::empty::<Vec<u8>>()),
                path,
                RawCodec,
            )
            .await
            .map(|_| ()),
        (true, true) => grpc
            .streaming(
                request.map(|_| tokio_stream::empty::<Vec<u8>>()),
                path,
                RawCodec,
            )
            .await
            .map(|_| ()),
    };
    Ok(match outcome {
        Ok(()) => true,
        Err(status) => match status.code() {
            Code::PermissionDenied | Code::Unauthenticated => false,
            // Only requests naming an existing fixture can be hidden.
            Code::NotFound => !names_fixture(method),
            _ => true,
        },
    })
}

fn names_fixture(method: &str) -> bool {
    matches!(
        method,
        "IndicatorService/GetIndicator"
            | "IndicatorService/ExportStix"
            | "DirectoryService/GetSharingGroup"
            | "CbmService/GetCommunicationCheckReport"
    )
}

async fn every_rpc_allows_and_denies_as_the_matrix_says(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    // Principals holding one role each, registered by the operator.
    let operator = hub.client("INT-HUB", "operator").await?;
    let ca = hub.ca()?;
    let mut single_role = BTreeMap::new();
    for (agency, name, role) in [
        ("UA-CERT", "matrix-officer", v1::Role::Officer),
        ("UA-CERT", "matrix-auditor", v1::Role::Auditor),
        ("HU-NNI", "matrix-officer", v1::Role::Officer),
        ("HU-NNI", "matrix-auditor", v1::Role::Auditor),
    ] {
        let principal = PrincipalId::new(
            AgencyId::parse(agency)?,
            PrincipalKind::Person,
            PrincipalName::parse(name)?,
        );
        let issued = ca.issue_client(&principal, "liaison.example", Validity::days(1))?;
        operator
            .directory()
            .register_certificate(v1::RegisterCertificateRequest {
                request_id: format!("matrix-{agency}-{name}"),
                certificate_pem: issued.cert_pem.clone(),
                roles: vec![role as i32],
            })
            .await?;
        single_role.insert(
            format!("{agency}/{name}"),
            Client::connect(&hub.client_config_with(&issued)?).await?,
        );
    }
    let mut take = |key: &str| {
        single_role
            .remove(key)
            .ok_or_else(|| anyhow::anyhow!("no client {key}"))
    };
    let principals = [
        hub.client("UA-CERT", "feed").await?,
        take("UA-CERT/matrix-officer")?,
        take("UA-CERT/matrix-auditor")?,
        hub.client("HU-NNI", "feed").await?,
        take("HU-NNI/matrix-officer")?,
        take("HU-NNI/matrix-auditor")?,
        hub.client("INT-HUB", "auditor").await?,
        operator,
    ];

    // The fixture indicator: RS-MUP's, TLP:AMBER, for UA-CERT by name.
    let mut amber = fraud_method("Лажни позиви у име банке");
    amber.tlp = v1::Tlp::Amber as i32;
    amber.scope = Some(named(&["UA-CERT"]));
    let fixture = hub
        .client("RS-MUP", "officer")
        .await?
        .indicators()
        .publish(publish(amber))
        .await?
        .into_inner()
        .indicator
        .unwrap_or_default()
        .id;
    // The fixture check: the operator's, of UA-CERT only.
    let check = principals[7]
        .cbm()
        .start_communication_check(v1::StartCommunicationCheckRequest {
            request_id: "matrix-check".into(),
            scope: Some(named(&["UA-CERT"])),
            response_window: Some(prost_types::Duration {
                seconds: 3_600,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await?
        .into_inner()
        .communication_check
        .unwrap_or_default()
        .id;
    let body = |method: &str| -> Vec<u8> {
        match method {
            "IndicatorService/GetIndicator" => v1::GetIndicatorRequest {
                indicator_id: fixture.clone(),
            }
            .encode_to_vec(),
            "IndicatorService/ExportStix" => v1::ExportStixRequest {
                indicator_id: fixture.clone(),
            }
            .encode_to_vec(),
            "DirectoryService/GetSharingGroup" => v1::GetSharingGroupRequest {
                sharing_group_id: FIXTURE_GROUP.to_owned(),
            }
            .encode_to_vec(),
            "CbmService/GetCommunicationCheckReport" => v1::GetCommunicationCheckReportRequest {
                check_id: check.clone(),
            }
            .encode_to_vec(),
            // The party agency's results, asked for by name.
            "CbmService/ListCommunicationCheckResults" => {
                v1::ListCommunicationCheckResultsRequest {
                    agency_id: "UA-CERT".into(),
                    ..Default::default()
                }
                .encode_to_vec()
            }
            _ => Vec::new(),
        }
    };

    let expected = expected_table()?;
    let methods = methods()?;
    let mut problems = Vec::new();
    let mut actual_rows = Vec::new();
    for (method, client_streaming, server_streaming) in &methods {
        let mut actual = Vec::new();
        for client in &principals {
            actual.push(
                attempt(
                    client,
                    method,
                    *client_streaming,
                    *server_streaming,
                    body(method),
                )
                .await?,
            );
        }
        let cells: Vec<&str> = actual.iter().map(|a| if *a { "A" } else { "D" }).collect();
        actual_rows.push(format!("{method:<40} {}", cells.join("  ")));
        match expected.get(method) {
            None => problems.push(format!("{method}: no row in authorization_matrix.txt")),
            Some(row) if *row != actual => {
                let differences: Vec<String> = COLUMNS
                    .iter()
                    .zip(row.iter().zip(&actual))
                    .filter(|(_, (want, got))| want != got)
                    .map(|(column, (want, _))| {
                        format!(
                            "{column} expected {}",
                            if *want { "allowed" } else { "denied" }
                        )
                    })
                    .collect();
                problems.push(format!("{method}: {}", differences.join(", ")));
            }
            Some(_) => {}
        }
    }
    for method in expected.keys() {
        if !methods.iter().any(|(name, _, _)| name == method) {
            problems.push(format!("{method}: a row for a method that does not exist"));
        }
    }
    assert!(
        problems.is_empty(),
        "the authorization matrix differs:\n{}\n\nactual:\n{}",
        problems.join("\n"),
        actual_rows.join("\n")
    );
    assert!(methods.len() >= 80, "only {} methods found", methods.len());
    hub.stop().await
}
