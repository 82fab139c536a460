//! Compiles `proto/` with protox (pure Rust) and generates prost + tonic code.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "aerie/changes/internal/v1/changes.proto",
    "aerie/tenant/v1/tenant.proto",
    "aerie/auth/v1/auth.proto",
    "aerie/flow/v1/flow.proto",
    "aerie/execution/v1/execution.proto",
    "aerie/transfer/internal/v1/transfer.proto",
    "aerie/tenant/internal/v1/tenant_internal.proto",
    "aerie/auth/internal/v1/auth_internal.proto",
    "aerie/flow/internal/v1/flow_internal.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed={}", root.join("aerie").display());
    println!("cargo:rerun-if-changed={}", root.join("google").display());

    let fds = protox::compile(PROTOS, [&root])?;
    std::fs::write(
        out.join("aerie_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
