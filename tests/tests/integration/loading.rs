//! Loading mechanics: the compiled-module cache and native unique copies.

use weft_host::plugin::{Binding, Grants, Limits, PluginRuntime, RuntimeOptions};
use weft_plugin_api::{Action, Event, InitArgs, Message, Permission};
use weft_tests::plugin;

#[test]
fn the_same_build_loaded_again_by_one_runtime_is_not_compiled_again() {
    // No disk cache at all: only the runtime's memory can spare the compile.
    let dir = tempfile::tempdir().unwrap();
    let options = RuntimeOptions { module_cache: None, native_copies: dir.path().join("native") };
    let runtime = PluginRuntime::new(options).unwrap();
    let grants = Grants::permissions([Permission::Send]);
    let echo = plugin("echo", Binding::Wasm);
    assert!(!runtime.load(&echo, &grants, Limits::default()).unwrap().from_module_cache(), "first load compiles");
    let again = runtime.load(&echo, &grants, Limits::default()).unwrap();
    assert!(again.from_module_cache(), "second load reuses the compiled module");
    // A different build is compiled, and the first is still remembered.
    let counter = plugin("counter", Binding::Wasm);
    let counter_grants = Grants::permissions([Permission::Send, Permission::Storage]);
    assert!(!runtime.load(&counter, &counter_grants, Limits::default()).unwrap().from_module_cache());
    assert!(runtime.load(&echo, &grants, Limits::default()).unwrap().from_module_cache());
    // The reused module still makes working instances.
    let services = weft_tests::TestRuntime::new().services;
    let mut instance = again.instantiate(&services).unwrap();
    instance.init(&InitArgs::default()).unwrap();
    let event = Message { id: 1, from: None, port: 7, payload: b"hi".to_vec(), reply_to: None, sealed: false };
    let dispatch = instance.handle(&Event::Message(event)).unwrap();
    assert!(matches!(&dispatch.actions[..], [Action::Reply(r)] if r.payload == b"hi"));
}

#[test]
fn wasm_modules_are_compiled_once_then_loaded_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let echo = plugin("echo", Binding::Wasm);
    let first = PluginRuntime::new(RuntimeOptions::under(dir.path())).unwrap();
    assert!(
        !first.load(&echo, &Grants::permissions([Permission::Send]), Limits::default()).unwrap().from_module_cache()
    );
    let cache_dir = first.wasm().cache().unwrap().dir().to_path_buf();
    let artifacts: Vec<_> = std::fs::read_dir(&cache_dir).unwrap().collect();
    assert_eq!(artifacts.len(), 1, "one artifact in {}", cache_dir.display());
    assert!(cache_dir.file_name().unwrap().to_str().unwrap().starts_with("wasmtime-48."), "{}", cache_dir.display());

    let second = PluginRuntime::new(RuntimeOptions::under(dir.path())).unwrap();
    let loaded = second.load(&echo, &Grants::permissions([Permission::Send]), Limits::default()).unwrap();
    assert!(loaded.from_module_cache());

    // A corrupted artifact is not trusted: the module is recompiled and works.
    let artifact = artifacts[0].as_ref().unwrap().path();
    std::fs::write(&artifact, b"garbage").unwrap();
    let third = PluginRuntime::new(RuntimeOptions::under(dir.path())).unwrap();
    let loaded = third.load(&echo, &Grants::permissions([Permission::Send]), Limits::default()).unwrap();
    assert!(!loaded.from_module_cache());
    let services = weft_tests::TestRuntime::new().services;
    let mut instance = loaded.instantiate(&services).unwrap();
    instance.init(&InitArgs::default()).unwrap();
    let reply = instance
        .handle(&Event::Message(Message {
            id: 3,
            from: None,
            port: 7,
            payload: b"ok".to_vec(),
            reply_to: None,
            sealed: false,
        }))
        .unwrap();
    assert!(matches!(&reply.actions[..], [Action::Reply(r)] if r.payload == b"ok"));
}

#[test]
fn a_native_library_rebuilt_at_the_same_path_loads_as_new_code() {
    let rt = weft_tests::TestRuntime::new();
    let path = rt.dir.path().join(format!("plugin.{}", std::env::consts::DLL_EXTENSION));
    std::fs::copy(plugin("echo", Binding::Native), &path).unwrap();
    let first = rt.runtime.load(&path, &Grants::all(), Limits::default()).unwrap();
    assert_eq!(first.info().manifest.name, "echo");
    // "Rebuild": new code at the same path. dlopen of the same path would
    // return the old mapping; the unique copy makes it load the new one.
    std::fs::copy(plugin("counter", Binding::Native), &path).unwrap();
    let second = rt.runtime.load(&path, &Grants::all(), Limits::default()).unwrap();
    assert_eq!(second.info().manifest.name, "counter");
    // The old library stays mapped and usable.
    let mut echo = first.instantiate(&rt.services).unwrap();
    echo.init(&InitArgs::default()).unwrap();
    // Copies are removed once mapped.
    let leftovers = std::fs::read_dir(rt.dir.path().join("native")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(leftovers, 0);
}
