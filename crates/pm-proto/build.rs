//! Generates the Rust types of the pm protocol from `proto/` at the workspace root.
//!
//! protox parses the `.proto` files in pure Rust, so building pm needs no `protoc` on the machine;
//! prost-build then turns the descriptors into code in `OUT_DIR`.

use std::error::Error;

/// The include root: the files import each other as `pm/v1/...`, so this is the directory that
/// contains `pm/`, and every client generator must use the same root.
const PROTO_ROOT: &str = "../../proto";

const PROTO_FILES: [&str; 3] = [
    "pm/v1/entities.proto",
    "pm/v1/commands.proto",
    "pm/v1/envelope.proto",
];

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed={PROTO_ROOT}");
    for file in PROTO_FILES {
        println!("cargo:rerun-if-changed={PROTO_ROOT}/{file}");
    }
    let fds = protox::compile(PROTO_FILES, [PROTO_ROOT])?;
    prost_build::Config::new().compile_fds(fds)?;
    Ok(())
}
