//! The admin listener: liveness, readiness that follows the database, and the hub's
//! meters in Prometheus text — over plain HTTP, serving no agency's data.

use liaison_proto::v1;
use liaison_telemetry::{Export, LogFormat};
use liaison_testkit::{Backend, TestHub, both};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::eventually;

both!(the_admin_port_answers_health_readiness_and_metrics);

/// One HTTP/1.1 request; the status code and body.
async fn get(hub: &TestHub, method: &str, path: &str) -> anyhow::Result<(u16, String)> {
    let address = hub
        .admin_addr()
        .ok_or_else(|| anyhow::anyhow!("no admin port"))?;
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    stream
        .write_all(
            format!("{method} {path} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no status line: {response:?}"))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

async fn the_admin_port_answers_health_readiness_and_metrics(
    backend: Backend,
) -> anyhow::Result<()> {
    let telemetry =
        liaison_telemetry::init_with(LogFormat::Text, "warn", Export::off().with_prometheus(true));
    let hub = TestHub::builder(backend)
        .configure(|config| config.admin_listen = Some("127.0.0.1:0".parse().expect("address")))
        .start()
        .await?;
    assert_eq!(get(&hub, "GET", "/healthz").await?.0, 200);
    assert_eq!(get(&hub, "GET", "/readyz").await?, (200, "ready\n".into()));
    assert_eq!(get(&hub, "GET", "/nothing").await?.0, 404);
    assert_eq!(get(&hub, "POST", "/healthz").await?.0, 405);

    // A call shows in the metrics, by method and code, with no principal or agency.
    hub.client("UA-CERT", "feed")
        .await?
        .directory()
        .who_am_i(v1::WhoAmIRequest {})
        .await?;
    let metrics = eventually("the call did not reach /metrics", || async {
        telemetry.flush();
        let (status, body) = get(&hub, "GET", "/metrics").await?;
        anyhow::ensure!(status == 200, "status {status}");
        anyhow::ensure!(
            body.lines()
                .any(|line| line.starts_with("liaison_rpc_calls_total{")
                    && line.contains("rpc_method=\"liaison.v1.DirectoryService/WhoAmI\"")
                    && line.contains("rpc_grpc_status_code=\"0\"")),
            "not yet:\n{body}"
        );
        Ok(body)
    })
    .await?;
    assert!(
        metrics.contains("# TYPE liaison_rpc_duration_seconds histogram"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("UA-CERT"),
        "an agency in the metrics:\n{metrics}"
    );

    // The database gone: not ready, and says why; alive all the same.
    hub.store().close().await;
    let (status, body) = get(&hub, "GET", "/readyz").await?;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("database"), "{body}");
    assert_eq!(get(&hub, "GET", "/healthz").await?.0, 200);
    telemetry.shutdown();
    Ok(())
}
