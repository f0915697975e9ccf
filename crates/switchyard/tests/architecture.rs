//! The functional core stays pure: the four pure crates never depend, even transitively, on the
//! runtime, HTTP or database crates (STYLE.md). Reads `cargo metadata`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

const PURE: &[&str] = &[
    "sy-api",
    "sy-config",
    "sy-routing",
    "sy-providers",
    "sy-dialects",
];
const IO: &[&str] = &["tokio", "reqwest", "axum", "hyper", "sqlx", "redis", "mio"];

#[test]
fn pure_crates_have_no_io_dependencies() {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--manifest-path",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml"),
        ])
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let name_of: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap_or(""),
                p["name"].as_str().unwrap_or(""),
            )
        })
        .collect();
    // normal (non-dev) dependency edges of the resolved graph
    let mut deps: HashMap<&str, Vec<&str>> = HashMap::new();
    for node in meta["resolve"]["nodes"].as_array().expect("resolve nodes") {
        let id = node["id"].as_str().unwrap_or("");
        let list = node["deps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|k| k["kind"].is_null())
            })
            .filter_map(|d| d["pkg"].as_str())
            .collect();
        deps.insert(id, list);
    }
    for pure in PURE {
        let root = name_of
            .iter()
            .find(|(_, n)| *n == pure)
            .map(|(id, _)| *id)
            .expect("pure crate in metadata");
        let mut seen = BTreeSet::new();
        let mut stack = vec![root];
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            stack.extend(deps.get(id).into_iter().flatten().copied());
        }
        let bad: Vec<&str> = seen
            .iter()
            .map(|id| name_of[id])
            .filter(|n| IO.contains(n))
            .collect();
        assert!(bad.is_empty(), "{pure} depends on IO crates {bad:?}");
    }
}
