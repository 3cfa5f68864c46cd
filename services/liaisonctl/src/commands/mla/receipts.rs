//! `liaisonctl mla receipts`: a request's receipts, each verified against the hub's
//! receipt keys, optionally saved for `verify-receipt`.

use clap::Args;
use liaison_client::Client;
use liaison_proto::v1;
use prost::Message;
use serde_json::{Value, json};

use super::receipt_file;
use crate::{
    failure::{EXIT_CALL_FAILED, Failure},
    output::{self, OutputFormat, print_json, short_name},
};

/// `mla receipts`.
#[derive(Debug, Args)]
pub struct ReceiptsArgs {
    /// The request (`mla_…`).
    pub id: String,
    /// Save every receipt as DIR/rct_….json and the hub's receipt keys as
    /// DIR/receipt-keys.json (the directory is created if needed).
    #[arg(long, value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
}

/// Lists and verifies a request's receipts; fails if any does not verify.
pub async fn receipts(
    client: &Client,
    format: OutputFormat,
    args: ReceiptsArgs,
) -> Result<(), Failure> {
    let id = args.id;
    let mut mla = client.mla();
    let failed = |status: tonic::Status| Failure::from_status(client, &status);
    let keys = mla
        .get_receipt_keys(v1::GetReceiptKeysRequest {})
        .await
        .map_err(failed)?
        .into_inner()
        .keys;
    // Every receipt, page by page: a saved or verified set must not stop at the first page.
    let mut receipts = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = mla
            .list_receipts(v1::ListReceiptsRequest {
                mla_request_id: id.clone(),
                // The hub's default page (100); a request rarely has more.
                page_size: 0,
                page_token,
            })
            .await
            .map_err(failed)?
            .into_inner();
        receipts.extend(page.receipts);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .map_err(|error| Failure::usage(format!("{}: {error}", dir.display())))?;
        receipt_file::save_keys(dir, &keys)?;
        for receipt in &receipts {
            receipt_file::save_receipt(dir, receipt)?;
        }
        eprintln!(
            "saved {} receipt(s) and the hub's receipt keys ({}) in {}",
            receipts.len(),
            receipt_file::KEYS_FILE,
            dir.display()
        );
    }
    let mut rows = Vec::new();
    let mut all_verified = true;
    for receipt in &receipts {
        let verified = receipt_file::verify(receipt, &keys).is_ok();
        all_verified &= verified;
        let statement =
            v1::MlaReceiptStatement::decode(receipt.statement.as_slice()).unwrap_or_default();
        rows.push(vec![
            receipt.id.clone(),
            short_name(
                v1::MlaReceiptKind::try_from(statement.kind)
                    .ok()
                    .map(|k| k.as_str_name()),
                "MLA_RECEIPT_KIND_",
            ),
            output::time(statement.event_time.as_ref()),
            statement
                .actor
                .map(|actor| format!("{}/{}", actor.agency_id, actor.name))
                .unwrap_or_default(),
            if verified {
                "verified".into()
            } else {
                "INVALID".into()
            },
        ]);
    }
    match format {
        OutputFormat::Json => print_json(&Value::Array(
            rows.iter()
                .map(|row| json!({"id": row[0], "kind": row[1], "time": row[2], "actor": row[3], "signature": row[4]}))
                .collect(),
        )),
        OutputFormat::Table => print!("{}", output::table(&["RECEIPT", "KIND", "TIME", "ACTOR", "SIGNATURE"], &rows)),
    }
    if all_verified {
        Ok(())
    } else {
        Err(Failure::new(
            EXIT_CALL_FAILED,
            "a receipt does not verify against the hub's receipt keys",
        ))
    }
}
