//! Plugins the host must refuse, each with an error naming the file and what
//! is wrong.

use weft_host::plugin::{Binding, Grants, Limits, LoadError};
use weft_plugin_api::Permission;
use weft_plugin_api::internal::codec;
use weft_tests::*;

fn load_err(rt: &TestRuntime, path: &std::path::Path, grants: &Grants) -> (LoadError, String) {
    match rt.runtime.load(path, grants, Limits::default()) {
        Ok(_) => panic!("{} loaded but must be refused", path.display()),
        Err(e) => {
            let text = e.to_string();
            assert!(text.contains(&path.display().to_string()), "error does not name the file: {text}");
            (e, text)
        }
    }
}

#[test]
fn other_abi_versions_are_refused_naming_both_versions() {
    let rt = TestRuntime::new();
    let host = weft_plugin_api::ABI_VERSION;
    let host_text = format!("ABI {}.{}", host.major, host.minor);
    let cases = [
        ("hostile-abi-next-major", [format!("ABI {}.0", host.major + 1), host_text.clone(), "major".into()]),
        ("hostile-abi-next-minor", [format!("ABI {}.{}", host.major, host.minor + 1), host_text, "newer host".into()]),
    ];
    for (name, needles) in cases {
        for binding in BINDINGS {
            let (e, text) = load_err(&rt, &plugin(name, binding), &Grants::all());
            assert!(matches!(e, LoadError::AbiMismatch { .. }), "{text}");
            assert!(needles.iter().all(|n| text.contains(n.as_str())), "{binding}: {text}");
        }
    }
}

#[test]
fn files_that_are_not_plugins_are_refused() {
    let rt = TestRuntime::new();
    let dir = rt.dir.path();

    let text_file = dir.join("notes.wasm");
    std::fs::write(&text_file, "this is not wasm").unwrap();
    let (e, text) = load_err(&rt, &text_file, &Grants::all());
    assert!(matches!(e, LoadError::NotWasm { .. }) && text.contains("magic"), "{text}");

    let echo = std::fs::read(plugin("echo", Binding::Wasm)).unwrap();
    let truncated = dir.join("truncated.wasm");
    std::fs::write(&truncated, &echo[..echo.len() / 2]).unwrap();
    let (e, text) = load_err(&rt, &truncated, &Grants::all());
    assert!(matches!(e, LoadError::NotWasm { .. }), "{text}");

    let fake_lib = dir.join("fake.so");
    std::fs::write(&fake_lib, "not an ELF file").unwrap();
    let (e, text) = load_err(&rt, &fake_lib, &Grants::all());
    assert!(matches!(e, LoadError::Native { .. }), "{text}");

    let other = dir.join("plugin.txt");
    std::fs::write(&other, "x").unwrap();
    let (e, _) = load_err(&rt, &other, &Grants::all());
    assert!(matches!(e, LoadError::UnknownFileType { .. }));

    let missing = dir.join("missing.wasm");
    let (e, _) = load_err(&rt, &missing, &Grants::all());
    assert!(matches!(e, LoadError::Io { .. }));
}

#[test]
fn missing_or_garbled_manifest_sections_are_refused() {
    let rt = TestRuntime::new();
    let dir = rt.dir.path();
    let outcome = codec::encode(&weft_plugin_api::internal::Outcome::default()).unwrap();

    let none = write_wat(dir, "no-manifest", &wat_plugin_returning(None, &outcome, 0));
    let (e, text) = load_err(&rt, &none, &Grants::all());
    assert!(matches!(e, LoadError::BadManifest { .. }) && text.contains("no `weft.manifest`"), "{text}");

    let garbled = write_wat(dir, "garbled", &wat_plugin_returning(Some(&[0xff, 0x13, 0x00]), &outcome, 0));
    let (e, text) = load_err(&rt, &garbled, &Grants::all());
    assert!(matches!(e, LoadError::BadManifest { .. }) && text.contains("garbled"), "{text}");

    // Right version, wrong shape: kind is a number.
    #[derive(serde::Serialize)]
    struct Odd {
        name: &'static str,
        abi: weft_plugin_api::AbiVersion,
        version: &'static str,
        kind: u32,
    }
    let odd = codec::encode(&Odd { name: "odd", abi: weft_plugin_api::ABI_VERSION, version: "1", kind: 3 }).unwrap();
    let odd_path = write_wat(dir, "odd", &wat_plugin_returning(Some(&odd), &outcome, 0));
    let (e, text) = load_err(&rt, &odd_path, &Grants::all());
    assert!(matches!(e, LoadError::BadManifest { .. }), "{text}");
}

/// Finding 1 of issue 18: a plugin named `weft:state` with `storage` read
/// and overwrote every plugin's persisted state (and `weft:routing` the
/// router's announces). Names with `:` (the host's namespaces), path-like or
/// empty names are refused at load, before any code is compiled.
#[test]
fn a_plugin_may_not_take_a_host_namespace_as_its_name() {
    let rt = TestRuntime::new();
    let outcome = codec::encode(&weft_plugin_api::internal::Outcome::default()).unwrap();
    for name in ["weft:state", "weft:routing", "../echo", "", "Echo", "-x"] {
        let manifest = codec::encode(&test_manifest(name)).unwrap();
        let file = format!("named-{}", name.len());
        let path = write_wat(rt.dir.path(), &file, &wat_plugin_returning(Some(&manifest), &outcome, 0));
        let (e, text) = load_err(&rt, &path, &Grants::all());
        assert!(matches!(e, LoadError::BadManifest { .. }) && text.contains("plugin name"), "{name:?}: {text}");
    }
}

#[test]
fn modules_that_do_not_fit_the_abi_are_refused() {
    let rt = TestRuntime::new();
    let manifest = codec::encode(&test_manifest("importer")).unwrap();
    let wat = format!(
        r#"(module
  (@custom "weft.manifest" "{}")
  (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "weft_alloc") (param i32) (result i32) (i32.const 0))
  (func (export "weft_call") (param i32) (result i64) (i64.const 0)))"#,
        wat_bytes(&manifest)
    );
    let path = write_wat(rt.dir.path(), "importer", &wat);
    let (e, text) = load_err(&rt, &path, &Grants::all());
    assert!(matches!(e, LoadError::Incompatible { .. }) && text.contains("fd_write"), "{text}");

    let wat = format!(r#"(module (@custom "weft.manifest" "{}") (memory (export "memory") 1))"#, wat_bytes(&manifest));
    let path = write_wat(rt.dir.path(), "no-exports", &wat);
    let (_, text) = load_err(&rt, &path, &Grants::all());
    assert!(text.contains("missing export `weft_alloc`"), "{text}");
}

#[test]
fn permissions_and_ports_not_granted_are_refused() {
    let rt = TestRuntime::new();
    for binding in BINDINGS {
        let counter = plugin("counter", binding);
        let (e, text) = load_err(&rt, &counter, &Grants::permissions([Permission::Send]));
        assert!(matches!(e, LoadError::NotGranted { .. }), "{text}");
        assert!(text.contains("counter") && text.contains("storage"), "{text}");

        let echo = plugin("echo", binding);
        let only_port_1 = Grants { permissions: [Permission::Send].into(), ports: Some([1].into()) };
        let (_, text) = load_err(&rt, &echo, &only_port_1);
        assert!(text.contains("service ports") && text.contains('7'), "{text}");

        rt.runtime.load(&counter, &Grants::permissions([Permission::Storage]), Limits::default()).unwrap();
    }
}

/// Finding 2 of issue 18: the signature was checked on one read of the file
/// and the plugin loaded from another, so a writer could swap the file in
/// between. Here a thread swaps the file between the signed `counter` and
/// `echo` (atomic renames) while the node's loader loads it again and again:
/// a load either finds the signed bytes and loads `counter`, or finds `echo`
/// and refuses it as tampered; `echo` never loads.
#[test]
fn a_plugin_file_swapped_after_its_signature_check_is_not_what_runs() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let rt = TestRuntime::new();
    let dir = rt.dir.path();
    let signed = std::fs::read(plugin("counter", Binding::Wasm)).unwrap();
    let swapped_in = std::fs::read(plugin("echo", Binding::Wasm)).unwrap();
    let publisher = weft_core::crypto::NodeIdentity::from_secret([7; 32]);
    let path = dir.join("swapped.wasm");
    std::fs::write(&path, &signed).unwrap();
    weft_host::plugin::signature::sign_file(&publisher, &path).unwrap();
    let trust =
        weft_host::config::TrustConfig { require_signed: true, publishers: vec![*publisher.public_key().as_bytes()] };
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, path, dir) = (stop.clone(), path.clone(), dir.to_path_buf());
        std::thread::spawn(move || {
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) && round < 1_000_000 {
                let bytes = if round.is_multiple_of(2) { &swapped_in } else { &signed };
                let tmp = dir.join(format!("next-{round}.wasm"));
                std::fs::write(&tmp, bytes).unwrap();
                std::fs::rename(&tmp, &path).unwrap();
                round += 1;
            }
            round
        })
    };
    let (mut loaded, mut refused) = (0, 0);
    for _ in 0..200 {
        match rt.runtime.load_checked(&path, &trust, &Grants::all(), Limits::default()) {
            Ok(plugin) => {
                assert_eq!(plugin.info().manifest.name, "counter", "unsigned bytes were loaded");
                loaded += 1;
            }
            Err(LoadError::Signature(why)) => {
                use weft_host::plugin::signature::{Refusal, SignatureError};
                assert!(matches!(why, SignatureError::Refused { why: Refusal::Tampered, .. }), "{why}");
                refused += 1;
            }
            Err(other) => panic!("{other}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    assert!(swaps > 10, "the file was swapped {swaps} times");
    assert!(loaded > 0 && refused > 0, "loaded {loaded}, refused {refused}");
}

/// Finding 2 of issue 18: compiled artifacts (native code) were loaded from
/// the module cache whoever wrote them. An artifact others may write is not
/// executed: it is ignored, logged and rebuilt (here: `echo`'s compiled code
/// planted under `counter`'s key).
#[test]
fn a_cache_artifact_others_could_have_written_is_not_executed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let options = || weft_host::plugin::RuntimeOptions {
        module_cache: Some(dir.path().join("cache")),
        native_copies: dir.path().join("native"),
    };
    let (counter, echo) = (plugin("counter", Binding::Wasm), plugin("echo", Binding::Wasm));
    {
        let runtime = weft_host::plugin::PluginRuntime::new(options()).unwrap();
        runtime.load(&counter, &Grants::all(), Limits::default()).unwrap();
        runtime.load(&echo, &Grants::all(), Limits::default()).unwrap();
    }
    let engine_dir = std::fs::read_dir(dir.path().join("cache")).unwrap().next().unwrap().unwrap().path();
    assert_eq!(std::fs::metadata(&engine_dir).unwrap().permissions().mode() & 0o777, 0o700, "private cache");
    let artifact_of = |wasm: &std::path::Path| {
        let digest = weft_host::plugin::wasm::module_digest(&std::fs::read(wasm).unwrap());
        engine_dir.join(format!("{}.cwasm", weft_plugin_api::hex::encode_lower(&digest)))
    };
    let (target, planted) = (artifact_of(&counter), artifact_of(&echo));
    assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o600, "private artifact");
    // A fresh runtime, as after a restart, meets the untrusted artifact.
    std::fs::copy(&planted, &target).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o666)).unwrap();
    let runtime = weft_host::plugin::PluginRuntime::new(options()).unwrap();
    let loaded = runtime.load(&counter, &Grants::all(), Limits::default()).unwrap();
    assert!(!loaded.from_module_cache(), "the planted artifact was executed");
    assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o600, "rebuilt, private");
    // The node's own, private artifact is used again.
    let runtime = weft_host::plugin::PluginRuntime::new(options()).unwrap();
    assert!(runtime.load(&counter, &Grants::all(), Limits::default()).unwrap().from_module_cache());
}
