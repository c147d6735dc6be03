//! The dependency direction is the architecture: core ← proto/db/auth ← ws ← server.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Which workspace crates each crate may depend on (normal and build dependencies).
fn allowed() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    BTreeMap::from([
        ("pm-core", BTreeSet::new()),
        ("pm-proto", BTreeSet::from(["pm-core"])),
        ("pm-db", BTreeSet::from(["pm-core"])),
        ("pm-auth", BTreeSet::from(["pm-core"])),
        (
            "pm-ws",
            BTreeSet::from(["pm-core", "pm-proto", "pm-db", "pm-auth"]),
        ),
        (
            "pm-server",
            BTreeSet::from(["pm-core", "pm-proto", "pm-db", "pm-auth", "pm-ws"]),
        ),
        // Tooling on top of everything: the load generator speaks the protocol and can run the
        // server embedded. Nothing may depend on it.
        (
            "pm-bench",
            BTreeSet::from([
                "pm-core",
                "pm-proto",
                "pm-db",
                "pm-auth",
                "pm-ws",
                "pm-server",
            ]),
        ),
    ])
}

/// Crates that would pull IO, a runtime or a wire format into the pure domain.
const FORBIDDEN_IN_CORE: &[&str] = &[
    "tokio",
    "sqlx",
    "axum",
    "prost",
    "hyper",
    "tokio-tungstenite",
    "serde_json",
];

#[test]
fn every_crate_depends_only_in_the_intended_direction() {
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
        ])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let allowed = allowed();
    let packages = metadata["packages"].as_array().unwrap();
    let names: BTreeSet<&str> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        allowed.keys().copied().collect(),
        "the workspace has exactly the known crates"
    );
    for package in packages {
        let name = package["name"].as_str().unwrap();
        for dep in package["dependencies"].as_array().unwrap() {
            let dep_name = dep["name"].as_str().unwrap();
            let dev_only = dep["kind"].as_str() == Some("dev");
            if names.contains(dep_name) && !dev_only {
                assert!(
                    allowed[name].contains(dep_name),
                    "{name} must not depend on {dep_name}"
                );
            }
            if name == "pm-core" && !dev_only {
                assert!(
                    !FORBIDDEN_IN_CORE.contains(&dep_name),
                    "pm-core must not depend on {dep_name}"
                );
            }
        }
    }
}

/// The HTTP surfaces are adapters over the shared read path (`pm_ws::query`) and the command
/// service: neither reaches into storage, so their reads cannot drift from `/ws`'s again.
#[test]
fn the_rest_and_mcp_adapters_never_query_storage_themselves() {
    let src = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for name in ["rest", "mcp"] {
        files.push(src.join(format!("{name}.rs")));
        dirs.push(src.join(name));
    }
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for forbidden in ["pm_db", "sqlx"] {
            assert!(
                !text.contains(forbidden),
                "{} uses {forbidden}: read through pm_ws::query instead",
                file.display()
            );
        }
    }
}
