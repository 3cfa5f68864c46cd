//! Generates the Rust code of the v1 API from `proto/liaison/v1/*.proto` with protox, a
//! pure-Rust protobuf compiler, so a fresh machine needs no `protoc`. Also writes the
//! encoded file descriptor set that the gRPC reflection service serves, and the method
//! paths of every RPC as constants (`methods.rs`, included as `liaison_proto::methods`).

use std::{env, fs, path::PathBuf};

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("../../proto");
    let api_dir = proto_root.join("liaison/v1");
    println!("cargo:rerun-if-changed={}", api_dir.display());

    let mut files: Vec<PathBuf> = fs::read_dir(&api_dir)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|path| path.extension().is_some_and(|ext| ext == "proto"));
    files.sort();
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }

    let descriptors = protox::compile(&files, [&proto_root])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("liaison_v1_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    fs::write(out_dir.join("methods.rs"), method_constants(&descriptors))?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}

/// `pub const SERVICE_METHOD: &str = "package.Service/Method";` for every RPC, plus the
/// lists of all of them and of the server-streaming ones.
fn method_constants(descriptors: &prost_types::FileDescriptorSet) -> String {
    let mut constants = String::new();
    let mut all = Vec::new();
    let mut streaming = Vec::new();
    for file in &descriptors.file {
        let package = file.package();
        for service in &file.service {
            let service_name = service.name();
            let prefix = upper_snake(service_name.trim_end_matches("Service"));
            for method in &service.method {
                let name = format!("{prefix}_{}", upper_snake(method.name()));
                let path = format!("{package}.{service_name}/{}", method.name());
                constants.push_str(&format!(
                    "/// `{path}`.\npub const {name}: &str = \"{path}\";\n"
                ));
                if method.server_streaming() {
                    streaming.push(name.clone());
                }
                all.push(name);
            }
        }
    }
    constants.push_str(&format!(
        "/// Every method of the API.\npub const ALL: &[&str] = &[{}];\n",
        all.join(", ")
    ));
    constants.push_str(&format!(
        "/// The server-streaming methods of the API.\npub const SERVER_STREAMING: &[&str] = &[{}];\n",
        streaming.join(", ")
    ));
    constants
}

/// `WhoAmI` → `WHO_AM_I`, `ExportStix` → `EXPORT_STIX`.
fn upper_snake(camel: &str) -> String {
    let chars: Vec<char> = camel.chars().collect();
    let mut out = String::new();
    for (index, c) in chars.iter().enumerate() {
        let after_lower = index > 0 && chars[index - 1].is_lowercase();
        let ends_acronym = index > 0
            && chars[index - 1].is_uppercase()
            && chars.get(index + 1).is_some_and(|next| next.is_lowercase());
        if c.is_uppercase() && (after_lower || ends_acronym) {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}
