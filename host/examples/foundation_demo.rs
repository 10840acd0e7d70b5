//! The foundation demo: loads the example plugins as wasm and as native,
//! talks to them, hands state from one instance to the next, and shows a
//! hostile plugin being contained. Run with `cargo xtask demo`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use weft_core::crypto::NodeIdentity;
use weft_host::kv::MemoryKv;
use weft_host::plugin::{Binding, Grants, HostServices, Limits, PluginInstance, PluginRuntime, RuntimeOptions};
use weft_plugin_api::*;

fn path(name: &str, binding: Binding) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/plugins");
    match binding {
        Binding::Wasm => dir.join(format!("wasm/{name}.wasm")),
        Binding::Native => dir.join(format!("native/{name}.{}", std::env::consts::DLL_EXTENSION)),
    }
}

fn say(instance: &mut PluginInstance, port: u16, text: &str) -> String {
    let event = Event::Message(Message {
        id: 1,
        from: None,
        port,
        payload: text.as_bytes().to_vec(),
        reply_to: None,
        sealed: false,
    });
    match instance.handle(&event) {
        Ok(d) => match d.actions.first() {
            Some(Action::Reply(r)) => format!("reply {:?}", String::from_utf8_lossy(&r.payload)),
            other => format!("{other:?}"),
        },
        Err(e) => format!("error: {e}"),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let runtime = PluginRuntime::new(RuntimeOptions::under(dir.path()))?;
    let identity = NodeIdentity::generate();
    println!("node address {}", identity.address());
    let services = Arc::new(HostServices::new(identity, Arc::new(MemoryKv::default())));
    let start = |name: &str,
                 binding: Binding,
                 grants: Grants,
                 state: Option<Vec<u8>>|
     -> Result<PluginInstance, Box<dyn std::error::Error>> {
        let loaded = runtime.load(&path(name, binding), &grants, Limits::default())?;
        let mut instance = loaded.instantiate(&services)?;
        instance.init(&InitArgs { config: Vec::new(), state })?;
        println!("loaded {name} v{} as {} (ABI {})", instance.manifest().version, binding, instance.manifest().abi);
        Ok(instance)
    };

    println!("\n1. the same echo source, two bindings");
    for binding in [Binding::Wasm, Binding::Native] {
        let mut echo = start("echo", binding, Grants::permissions([Permission::Send]), None)?;
        println!("   echo[{binding}] <- \"hello mesh\" -> {}", say(&mut echo, 7, "hello mesh"));
    }

    println!("\n2. state handoff: counter (wasm) hands its total to a native successor");
    let mut counter = start("counter", Binding::Wasm, Grants::permissions([Permission::Storage]), None)?;
    for _ in 0..3 {
        println!("   counter[wasm] <- message -> {}", say(&mut counter, 8, ""));
    }
    let stopped = counter.shutdown(ShutdownReason::Swap, Duration::from_secs(1))?;
    println!("   on_shutdown(swap) returned a {}-byte state blob", stopped.state.len());
    let mut successor =
        start("counter", Binding::Native, Grants::permissions([Permission::Storage]), Some(stopped.state))?;
    println!("   counter[native] <- message -> {}", say(&mut successor, 8, ""));

    println!("\n3. a hostile wasm plugin loops forever; the deadline stops it, echo carries on");
    let mut hostile = start("hostile", Binding::Wasm, Grants::default(), None)?;
    let mut echo = start("echo", Binding::Wasm, Grants::default(), None)?;
    println!("   hostile <- \"loop\" -> {}", say(&mut hostile, 9, "loop"));
    println!("   echo    <- \"still here?\" -> {}", say(&mut echo, 7, "still here?"));

    println!("\n4. a plugin built for ABI 2.0 is refused before any of its code runs");
    match runtime.load(&path("hostile-abi-next-major", Binding::Wasm), &Grants::default(), Limits::default()) {
        Ok(_) => println!("   unexpectedly loaded"),
        Err(e) => println!("   {e}"),
    }
    println!("\nInspect any plugin: cargo run -p weft-host -- plugin inspect target/plugins/wasm/counter.wasm");
    Ok(())
}
