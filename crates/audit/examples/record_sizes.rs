//! Prints the audit bytes of representative records: the stored record (what the
//! database keeps), the leaf (the committed form an export carries and the tree hashes),
//! and, for comparison, the version-1 encoding the log used before leaves committed to
//! salted hashes (the stored record without its seed and anonymity marks).
//!
//! Run with `cargo run -p liaison-audit --example record_sizes`.

use liaison_audit::{Access, Actor, AuditRecord, ObjectAccess, Sealed};

fn call(method: &str, objects: usize) -> AuditRecord {
    AuditRecord {
        time_us: 1_796_600_000_000_000,
        actor: Actor {
            agency: Some("UA-CERT".into()),
            kind: Some("person".into()),
            name: Some("officer".into()),
            certificate_sha256: Some("ab".repeat(32)),
            token_id: Some("01kbz8d0q4x7m3c9r2t6v5w1ya".into()),
            roles: vec!["officer".into()],
        },
        method: method.into(),
        objects: (0..objects)
            .map(|index| ObjectAccess {
                id: format!("ind_01kbz8d0q4x7m3c9r2t6v{index:05}"),
                access: Access::Deliver,
                owner_agency: Some("RS-MUP".into()),
                anonymous: index % 4 == 0,
            })
            .collect(),
        outcome: 0,
        deny_reason: None,
        justification: Some("Справа № 42/2026".into()),
        client_address: Some("192.0.2.17:50322".into()),
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
    }
}

/// The version-1 encoding of the same record: the stored form without the seed and the
/// anonymity marks (the fields were otherwise the same).
fn version_1(stored: &str) -> String {
    let without_seed = match (stored.find(",\"seed\":\""), stored.find(",\"time_us\"")) {
        (Some(start), Some(end)) => format!("{}{}", &stored[..start], &stored[end..]),
        _ => stored.to_owned(),
    };
    without_seed
        .replace("\"v\":2", "\"v\":1")
        .replace(",\"anonymous\":true", "")
}

fn main() {
    println!(
        "{:<44} {:>8} {:>10} {:>10} {:>10}",
        "record", "objects", "v1 bytes", "stored", "leaf"
    );
    for (name, method, objects) in [
        (
            "unary read (GetIndicator)",
            "/liaison.v1.IndicatorService/GetIndicator",
            1,
        ),
        (
            "unary write (Publish)",
            "/liaison.v1.IndicatorService/Publish",
            1,
        ),
        (
            "refused call, no object",
            "/liaison.v1.DirectoryService/WhoAmI",
            0,
        ),
        (
            "stream page of 10 (Subscribe)",
            "/liaison.v1.IndicatorService/Subscribe",
            10,
        ),
        (
            "stream page of 100 (Subscribe)",
            "/liaison.v1.IndicatorService/Subscribe",
            100,
        ),
        (
            "one record of a list page (500 objects)",
            "/liaison.v1.IndicatorService/ListIndicators",
            500,
        ),
    ] {
        let stored = call(method, objects).seal();
        let text = String::from_utf8_lossy(&stored).into_owned();
        let leaf = Sealed::parse(&stored).leaf_data();
        println!(
            "{name:<44} {objects:>8} {:>10} {:>10} {:>10}",
            version_1(&text).len(),
            stored.len(),
            leaf.len()
        );
    }
}
