//! A plugin author's path from nothing to a running plugin, outside this
//! repository: `weft new` makes a crate in a temporary directory, the
//! crate's own unit tests pass, `weft plugin build` builds it to wasm and
//! native with the same toolchain logic as `cargo xtask plugins`, and a real
//! node loads both builds and answers `weft ctl call`.
//!
//! The crates build in `target/authoring-test` (dev profile), so only the
//! first run pays for compiling the SDK's dependencies.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use weft_tests::node::{NodeSpec, TestNode, weft};

fn shared_target_dir() -> PathBuf {
    weft_tests::plugin_dir().join("../authoring-test")
}

fn generate(kind: &str, name: &str, root: &Path) -> PathBuf {
    let dir = root.join(name);
    let (code, out, err) = weft(&["new", kind, name, "--path", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "weft new {kind} {name}: {out}{err}");
    dir
}

fn build(dir: &Path) -> (PathBuf, PathBuf) {
    let target = shared_target_dir();
    let (code, out, err) =
        weft(&["plugin", "build", dir.to_str().unwrap(), "--profile", "dev", "--target-dir", target.to_str().unwrap()]);
    assert_eq!(code, 0, "weft plugin build {}: {out}{err}", dir.display());
    let artifact = |prefix: &str| -> PathBuf {
        let line = out.lines().find_map(|l| l.strip_prefix(prefix)).unwrap_or_else(|| panic!("{prefix}? {out}"));
        PathBuf::from(line.trim())
    };
    (artifact("wasm "), artifact("native "))
}

fn cargo_test(dir: &Path) -> String {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", shared_target_dir())
        .args(["test", "--quiet"])
        .output()
        .expect("run cargo test");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "cargo test in {}:\n{text}", dir.display());
    text
}

fn call(node: &TestNode, plugin: &str, command: &str) -> String {
    let (code, json, err) = node.ctl(&["call", plugin, command]);
    assert_eq!(code, 0, "call {plugin} {command}: {json} {err}\n--- log ---\n{}", node.log());
    json["result"]["body"].as_str().unwrap_or_default().to_string()
}

#[test]
fn a_service_made_by_weft_new_outside_the_repository_builds_both_ways_and_answers_a_node() {
    let outside = tempfile::tempdir().unwrap();
    assert!(!outside.path().starts_with(env!("CARGO_MANIFEST_DIR").trim_end_matches("/tests")));
    let dir = generate("service", "greeter", outside.path());
    let tests = cargo_test(&dir);
    assert!(tests.contains("1 passed"), "the template's unit test ran:\n{tests}");
    let (wasm, native) = build(&dir);
    assert!(wasm.starts_with(&dir) && native.starts_with(&dir), "artifacts in the crate: {wasm:?} {native:?}");

    let root = tempfile::tempdir().unwrap();
    let mut node = TestNode::new(root.path(), "author");
    let spec = NodeSpec {
        extra: format!(
            "\n[[plugins]]\nfile = \"{}\"\npermissions = [\"storage\"]\n\n[plugins.config]\ngreeting = \"hi\"\n",
            wasm.display()
        ),
        ..NodeSpec::default()
    };
    node.start(&spec);
    assert_eq!(call(&node, "greeter", "hello"), "hi from greeter");
    let binding = |node: &TestNode| {
        let plugins = node.ctl(&["plugins"]).1;
        let rows = plugins["result"].as_array().cloned().unwrap_or_default();
        rows.iter().find(|r| r["name"] == "greeter").map(|r| r["binding"].clone()).unwrap_or(Value::Null)
    };
    assert_eq!(binding(&node), "wasm");

    // A message to its port is answered; the answer is not answered again.
    let port = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
    let port = port.lines().find_map(|l| l.strip_prefix("pub const PORT: u16 = ")).unwrap().trim_end_matches(';');
    let (code, json, err) = node.ctl(&["send", &node.address, port, "world"]);
    assert_eq!(code, 0, "{json} {err}");
    node.wait_until("the greeter answered once", Duration::from_secs(10), |n| {
        call(n, "greeter", "stats") == "{\"answered\": 1}"
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(call(&node, "greeter", "stats"), "{\"answered\": 1}", "no endless exchange of answers");

    // The native build of the same source takes over, with the state.
    let (code, json, err) = node.ctl(&["plugin", "reload", "greeter", native.to_str().unwrap()]);
    assert_eq!(code, 0, "reload to the native build: {json} {err}");
    assert_eq!(binding(&node), "native (trusted)");
    assert_eq!(call(&node, "greeter", "hello"), "hi from greeter");
    assert_eq!(call(&node, "greeter", "stats"), "{\"answered\": 1}", "the count was handed over");
    assert_eq!(node.stop(), Some(0));
}

#[test]
fn a_driver_made_by_weft_new_passes_its_tests_and_builds_to_a_driver_plugin() {
    let outside = tempfile::tempdir().unwrap();
    let dir = generate("driver", "my-modem", outside.path());
    let tests = cargo_test(&dir);
    assert!(tests.contains("1 passed"), "the template's unit test ran:\n{tests}");
    let (wasm, _native) = build(&dir);
    let (code, out, err) = weft(&["plugin", "inspect", "--json", wasm.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let manifest: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (manifest["name"].as_str(), manifest["kind"].as_str()),
        (Some("my-modem"), Some("driver")),
        "{manifest}"
    );
}

/// The two worked examples of docs/writing-a-service.md, on real nodes.
#[test]
fn the_worked_examples_run_on_a_mesh_notes_verified_by_key_and_presence_by_flood() {
    let root = tempfile::tempdir().unwrap();
    let (mut a, mut b, mut c) =
        (TestNode::new(root.path(), "a"), TestNode::new(root.path(), "b"), TestNode::new(root.path(), "c"));
    let with = |spec: NodeSpec, name: &str| NodeSpec {
        plugins: vec![
            ("notes", weft_host::plugin::Binding::Wasm, &["send", "storage", "sign"]),
            ("presence", weft_host::plugin::Binding::Wasm, &["flood"]),
        ],
        extra: format!("\n[plugins.config]\nname = \"{name}\"\ninterval_s = 1\nexpiry_s = 5\n"),
        ..spec
    };
    c.start(&with(NodeSpec::default(), "c"));
    b.start(&with(NodeSpec::default().peer(&c), "b"));
    a.start(&with(NodeSpec::default().peer(&b), "a"));
    a.linked_with(&b, Duration::from_secs(30));
    b.linked_with(&c, Duration::from_secs(30));

    // Presence: each node hears the other two (c two hops away from a).
    let heard = |n: &TestNode| -> Vec<String> {
        let body = call(n, "presence", "who");
        let rows: Vec<Value> = serde_json::from_str(&body).unwrap_or_default();
        let mut names: Vec<String> = rows.iter().filter_map(|r| r["name"].as_str().map(String::from)).collect();
        names.sort();
        names
    };
    a.wait_until("a hears b and c", Duration::from_secs(20), |n| heard(n) == ["b", "c"]);
    c.wait_until("c hears a and b", Duration::from_secs(20), |n| heard(n) == ["a", "b"]);

    // Notes: posted on c, read by a across b, verified with c's announced key.
    let (code, json, err) = c.ctl(&["call", "notes", "post", "{\"text\": \"market on friday\"}"]);
    assert_eq!(code, 0, "{json} {err}");
    let mut answer = String::new();
    a.wait_until("a read c's notes", Duration::from_secs(20), |n| {
        let (code, json, _) = n.ctl(&["call", "notes", "read", &format!("{{\"from\": \"{}\"}}", c.address)]);
        answer = json["result"]["body"].as_str().unwrap_or_default().to_string();
        code == 0
    });
    assert_eq!(answer, "{\"kept\": 1, \"refused\": 0}");
    let listed = call(&a, "notes", "list");
    assert!(listed.contains("market on friday") && listed.contains(&c.address), "{listed}");
}
