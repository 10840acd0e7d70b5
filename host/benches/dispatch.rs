//! Plugin dispatch and instantiation benchmarks.
//!
//! Run with `cargo xtask bench` (builds the plugins first). Compares, in one
//! run: a bare wasmtime call copying 100 bytes in and out (the floor), the
//! echo plugin called directly as a Rust value, through the native binding
//! (on the instance's own thread, the default, and inline on the caller's)
//! and through the wasm binding; then instantiation from a compiled module.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use weft_core::crypto::NodeIdentity;
use weft_host::kv::MemoryKv;
use weft_host::plugin::{Binding, Grants, HostServices, Limits, NativeCalls, PluginRuntime, RuntimeOptions};
use weft_plugin_api::testing::TestHost;
use weft_plugin_api::{Event, InitArgs, Message, Permission, Service, ServiceCtx};
use weft_plugin_echo::Echo;

fn plugin(binding: Binding) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/plugins");
    let path = match binding {
        Binding::Wasm => dir.join("wasm/echo.wasm"),
        Binding::Native => dir.join(format!("native/echo.{}", std::env::consts::DLL_EXTENSION)),
    };
    assert!(path.exists(), "{} missing: run `cargo xtask bench`", path.display());
    path
}

fn message() -> Message {
    Message { id: 1, from: None, port: 7, payload: vec![0xab; 100], reply_to: None, sealed: false }
}

fn bench_dispatch(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let runtime = PluginRuntime::new(RuntimeOptions::under(dir.path())).unwrap();
    let services = Arc::new(HostServices::new(NodeIdentity::from_secret([1; 32]), Arc::new(MemoryKv::default())));
    let event = Event::Message(message());
    let mut group = c.benchmark_group("dispatch_100B_message_to_reply");

    group.bench_function("bare_wasmtime_call_copy_100B_in_and_out", |b| {
        let engine = wasmtime::Engine::default();
        let module = wasmtime::Module::new(
            &engine,
            r#"(module (memory (export "memory") 1)
                 (func (export "f") (param i32) (result i32)
                   (memory.copy (i32.const 4096) (i32.const 0) (local.get 0)) (i32.const 4096)))"#,
        )
        .unwrap();
        let mut store = wasmtime::Store::new(&engine, ());
        let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
        let memory = instance.get_memory(&mut store, "memory").unwrap();
        let f = instance.get_typed_func::<u32, u32>(&mut store, "f").unwrap();
        let input = [0xabu8; 100];
        let mut output = [0u8; 100];
        b.iter(|| {
            memory.write(&mut store, 0, black_box(&input)).unwrap();
            let at = f.call(&mut store, 100).unwrap();
            memory.read(&store, at as usize, &mut output).unwrap();
            black_box(&output);
        })
    });

    group.bench_function("direct_rust_call", |b| {
        let mut host = TestHost::default();
        let mut echo = {
            let mut ctx = ServiceCtx::new(&mut host);
            Echo::init(&mut ctx, InitArgs::default()).unwrap()
        };
        b.iter(|| {
            let mut ctx = ServiceCtx::new(&mut host);
            echo.on_message(&mut ctx, black_box(message()));
            black_box(ctx.take_actions())
        })
    });

    let runs = [
        ("native", Binding::Native, NativeCalls::Thread),
        ("native_inline", Binding::Native, NativeCalls::Inline),
        ("wasm", Binding::Wasm, NativeCalls::default()),
    ];
    for (name, binding, native_calls) in runs {
        let limits = Limits { native_calls, ..Limits::default() };
        let loaded = runtime.load(&plugin(binding), &Grants::permissions([Permission::Send]), limits).unwrap();
        let mut echo = loaded.instantiate(&services).unwrap();
        echo.init(&InitArgs::default()).unwrap();
        group.bench_function(name, |b| b.iter(|| black_box(echo.handle(black_box(&event)).unwrap())));
    }
    group.finish();
}

fn bench_instantiate(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let services = Arc::new(HostServices::new(NodeIdentity::from_secret([1; 32]), Arc::new(MemoryKv::default())));
    // Warm the on-disk cache, then load through a fresh runtime so the module
    // really comes from the cache.
    PluginRuntime::new(RuntimeOptions::under(dir.path()))
        .unwrap()
        .load(&plugin(Binding::Wasm), &Grants::permissions([Permission::Send]), Limits::default())
        .unwrap();
    let runtime = PluginRuntime::new(RuntimeOptions::under(dir.path())).unwrap();
    let mut group = c.benchmark_group("instantiate_echo_wasm");

    group.bench_function("load_same_file_again", |b| {
        b.iter(|| {
            black_box(
                runtime
                    .load(&plugin(Binding::Wasm), &Grants::permissions([Permission::Send]), Limits::default())
                    .unwrap(),
            )
        })
    });

    let loaded =
        runtime.load(&plugin(Binding::Wasm), &Grants::permissions([Permission::Send]), Limits::default()).unwrap();
    group.bench_function("instantiate_from_cached_module", |b| {
        b.iter(|| black_box(loaded.instantiate(&services).unwrap()))
    });
    group.bench_function("instantiate_and_init", |b| {
        b.iter(|| {
            let mut instance = loaded.instantiate(&services).unwrap();
            instance.init(&InitArgs::default()).unwrap();
            black_box(instance)
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(50)
}

criterion_group! { name = benches; config = config(); targets = bench_dispatch, bench_instantiate }
criterion_main!(benches);
