//! The `weft` import module: the host functions a wasm plugin may call.
//!
//! Owns: the linker with `now_ms`, `random`, `host_call` and `host_take`, and
//! the bounds checks on every pointer a guest passes in. A guest passing a bad
//! pointer traps its own instance; nothing else is affected.

use super::instance::StoreData;
use wasmtime::{Caller, Engine, Extern, Linker, Memory};

/// Import module name.
pub const MODULE: &str = "weft";

fn memory(caller: &mut Caller<'_, StoreData>) -> wasmtime::Result<Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(m)) => Ok(m),
        _ => Err(wasmtime::Error::msg("plugin exports no memory")),
    }
}

/// Builds the linker every wasm plugin is instantiated with.
pub fn linker(engine: &Engine) -> wasmtime::Result<Linker<StoreData>> {
    let mut linker = Linker::new(engine);
    linker.func_wrap(MODULE, "now_ms", |caller: Caller<'_, StoreData>| -> u64 { caller.data().host.now_ms() })?;
    linker.func_wrap(
        MODULE,
        "random",
        |mut caller: Caller<'_, StoreData>, ptr: u32, len: u32| -> wasmtime::Result<()> {
            let mem = memory(&mut caller)?;
            let (data, store) = mem.data_and_store_mut(&mut caller);
            let dst = data
                .get_mut(ptr as usize..ptr as usize + len as usize)
                .ok_or_else(|| wasmtime::Error::msg("random: buffer outside linear memory"))?;
            store.host.fill_random(dst);
            Ok(())
        },
    )?;
    linker.func_wrap(
        MODULE,
        "host_call",
        |mut caller: Caller<'_, StoreData>, ptr: u32, len: u32| -> wasmtime::Result<u32> {
            let mem = memory(&mut caller)?;
            let (data, store) = mem.data_and_store_mut(&mut caller);
            let request = data
                .get(ptr as usize..ptr as usize + len as usize)
                .ok_or_else(|| wasmtime::Error::msg("host_call: request outside linear memory"))?;
            let mut reply = std::mem::take(&mut store.pending_reply);
            store.host.answer_encoded(request, &mut reply);
            let n = reply.len() as u32;
            store.pending_reply = reply;
            Ok(n)
        },
    )?;
    linker.func_wrap(MODULE, "host_take", |mut caller: Caller<'_, StoreData>, ptr: u32| -> wasmtime::Result<()> {
        let mem = memory(&mut caller)?;
        let (data, store) = mem.data_and_store_mut(&mut caller);
        let reply = &store.pending_reply;
        let dst = data
            .get_mut(ptr as usize..ptr as usize + reply.len())
            .ok_or_else(|| wasmtime::Error::msg("host_take: buffer outside linear memory"))?;
        dst.copy_from_slice(reply);
        store.pending_reply.clear();
        Ok(())
    })?;
    Ok(linker)
}
