//! `weft plugin inspect` on real plugin builds (run `cargo xtask plugins` first).

use std::path::PathBuf;
use std::process::Command;

fn plugin(rel: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/plugins").join(rel);
    assert!(path.exists(), "{} is not built; run `cargo xtask plugins`", path.display());
    path
}

fn weft(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_weft")).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn inspect_shows_manifest_for_both_bindings() {
    let wasm = plugin("wasm/counter.wasm");
    let (ok, text, err) = weft(&["plugin", "inspect", wasm.to_str().unwrap()]);
    assert!(ok, "{err}");
    let abi = weft_plugin_api::ABI_VERSION;
    let abi_line = format!("abi          {}.{}", abi.major, abi.minor);
    for needle in [
        "name         counter",
        "kind         service",
        "binding      wasm (sandboxed)",
        abi_line.as_str(),
        "permissions  storage",
        "ports        8",
        "get (print the total as JSON)",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    let native = plugin(&format!("native/echo.{}", std::env::consts::DLL_EXTENSION));
    // Finding 4 of issue 18: inspect dlopened a native library without a
    // word, running its constructors. It refuses unless told to trust it.
    let (ok, _, err) = weft(&["plugin", "inspect", native.to_str().unwrap(), "--json"]);
    assert!(!ok && err.contains("--trust") && err.contains("runs its code"), "{err}");
    let (ok, json, err) = weft(&["plugin", "inspect", native.to_str().unwrap(), "--json", "--trust"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["name"], "echo");
    assert_eq!(v["binding"], "native");
    assert_eq!(v["trusted"], true);
    assert_eq!(v["ports"], serde_json::json!([7]));
    assert!(v["size"].as_u64().unwrap() > 0);
}

#[test]
fn inspect_explains_refusals_and_exits_nonzero() {
    let future = plugin("wasm/hostile-abi-next-major.wasm");
    let (ok, _, err) = weft(&["plugin", "inspect", future.to_str().unwrap()]);
    assert!(!ok);
    let abi = weft_plugin_api::ABI_VERSION;
    let (next, host) = (format!("ABI {}.0", abi.major + 1), format!("ABI {}.{}", abi.major, abi.minor));
    assert!(err.contains(&next) && err.contains(&host), "{err}");
    let (ok, _, err) = weft(&["plugin", "inspect", "/nonexistent/x.wasm"]);
    assert!(!ok && err.contains("/nonexistent/x.wasm"), "{err}");
}
