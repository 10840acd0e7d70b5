//! One wasm plugin instance: its store, memory cap and per-call deadline.

use crate::plugin::binding::BindingInstance;
use crate::plugin::error::{Fault, InstantiateError};
use crate::plugin::host_services::InstanceHostCalls;
use crate::plugin::instance::Limits;
use std::time::Duration;
use wasmtime::{Engine, InstancePre, Memory, ResourceLimiter, Store, Trap, TypedFunc};

use super::epoch::EPOCH_TICK;

/// Per-store data: the instance's host view, the pending host-call reply
/// and the memory limiter.
pub struct StoreData {
    pub(super) host: InstanceHostCalls,
    pub(super) pending_reply: Vec<u8>,
    memory_cap: usize,
    memory_refused: bool,
}

impl ResourceLimiter for StoreData {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_cap {
            self.memory_refused = true;
            // Trap rather than return -1 from memory.grow: a plugin that hits
            // its cap is broken, and the operator must see why.
            return Err(wasmtime::Error::msg(format!("memory cap of {} bytes exceeded", self.memory_cap)));
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// A live wasm instance.
pub struct WasmInstance {
    store: Store<StoreData>,
    memory: Memory,
    alloc: TypedFunc<u32, u32>,
    call: TypedFunc<u32, u64>,
    /// The SDK's `weft_panic_message`, when the module exports it.
    panic_message: Option<TypedFunc<(), u64>>,
}

/// Longest panic text read back from a guest, in bytes.
const PANIC_TEXT_MAX: usize = 1024;

/// Time a guest gets to hand over its panic text after a trap.
const PANIC_TEXT_DEADLINE: Duration = Duration::from_millis(10);

impl WasmInstance {
    pub(super) fn new(
        engine: &Engine,
        pre: &InstancePre<StoreData>,
        host: InstanceHostCalls,
        limits: Limits,
    ) -> Result<Self, InstantiateError> {
        let data =
            StoreData { host, pending_reply: Vec::new(), memory_cap: limits.memory_bytes, memory_refused: false };
        let mut store = Store::new(engine, data);
        store.limiter(|d| d as &mut dyn ResourceLimiter);
        store.set_epoch_deadline(ticks(limits.init_deadline));
        let wasm = |e: wasmtime::Error| InstantiateError::Wasm(format!("{e:#}"));
        let instance = pre.instantiate(&mut store).map_err(wasm)?;
        let memory = instance.get_memory(&mut store, "memory").ok_or(InstantiateError::NoMemory)?;
        let alloc = instance.get_typed_func(&mut store, "weft_alloc").map_err(wasm)?;
        let call = instance.get_typed_func(&mut store, "weft_call").map_err(wasm)?;
        let panic_message = instance.get_typed_func(&mut store, "weft_panic_message").ok();
        Ok(Self { store, memory, alloc, call, panic_message })
    }

    fn classify(&mut self, error: wasmtime::Error, deadline: Duration) -> Fault {
        if self.store.data().memory_refused {
            return Fault::OutOfMemory { limit: self.store.data().memory_cap };
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => Fault::Deadline(deadline.as_millis() as u64),
            Some(trap) => match self.panic_text() {
                Some(text) => Fault::Panic(format!("plugin panicked: {text}")),
                None => Fault::Trap(trap.to_string()),
            },
            None => Fault::Trap(format!("{error:#}")),
        }
    }

    /// After a trap: the text of the guest panic that caused it, if the
    /// guest's SDK kept one (a panic aborts on wasm; the hook ran first).
    /// The guest is untrusted: a short deadline, a bounded read, lossy UTF-8.
    fn panic_text(&mut self) -> Option<String> {
        let export = self.panic_message.clone()?;
        self.store.set_epoch_deadline(ticks(PANIC_TEXT_DEADLINE));
        let packed = export.call(&mut self.store, ()).ok()?;
        let (ptr, len) = ((packed >> 32) as usize, (packed & 0xffff_ffff) as usize);
        let bytes = self.memory.data(&self.store).get(ptr..ptr.checked_add(len.min(PANIC_TEXT_MAX))?)?;
        (!bytes.is_empty()).then(|| String::from_utf8_lossy(bytes).into_owned())
    }
}

/// The host's page size on the targets we run on (x86-64, aarch64 with 4 KiB
/// pages); touching more often than needed on larger pages is harmless.
const PAGE: usize = 4096;

fn ticks(deadline: Duration) -> u64 {
    (deadline.as_nanos().div_ceil(EPOCH_TICK.as_nanos()) as u64).max(1) + 1
}

impl BindingInstance for WasmInstance {
    fn call(&mut self, input: &[u8], deadline: Duration) -> Result<&[u8], Fault> {
        self.store.set_epoch_deadline(ticks(deadline));
        let len = u32::try_from(input.len()).map_err(|_| Fault::BadOutput("call larger than 4 GiB".into()))?;
        let ptr = match self.alloc.call(&mut self.store, len) {
            Ok(p) => p,
            Err(e) => return Err(self.classify(e, deadline)),
        };
        self.memory
            .write(&mut self.store, ptr as usize, input)
            .map_err(|_| Fault::BadOutput(format!("weft_alloc returned {ptr:#x}, outside linear memory")))?;
        let packed = match self.call.call(&mut self.store, len) {
            Ok(p) => p,
            Err(e) => return Err(self.classify(e, deadline)),
        };
        let (ptr, len) = ((packed >> 32) as usize, (packed & 0xffff_ffff) as usize);
        let data = self.memory.data(&self.store);
        data.get(ptr..ptr + len)
            .ok_or_else(|| Fault::BadOutput(format!("outcome at {ptr:#x}+{len} lies outside linear memory")))
    }

    fn memory_bytes(&self) -> Option<usize> {
        Some(self.memory.data_size(&self.store))
    }

    fn prefault(&mut self, bytes: usize, deadline: Duration) -> Result<(), Fault> {
        self.store.set_epoch_deadline(ticks(deadline));
        let len = u32::try_from(bytes).map_err(|_| Fault::BadOutput("pre-fault larger than 4 GiB".into()))?;
        let ptr = match self.alloc.call(&mut self.store, len) {
            Ok(p) => p as usize,
            Err(e) => return Err(self.classify(e, deadline)),
        };
        let region = self
            .memory
            .data_mut(&mut self.store)
            .get_mut(ptr..ptr.saturating_add(bytes))
            .ok_or_else(|| Fault::BadOutput(format!("weft_alloc returned {ptr:#x}, outside linear memory")))?;
        // A write fault gives each page its own frame now (a read would map
        // the shared zero page and fault again on the guest's first write).
        // One write per host page the region touches, from its first byte
        // and then at each page boundary (linear memory starts on a host page
        // boundary, so guest offsets align as host addresses do).
        let first_boundary = (PAGE - ptr % PAGE) % PAGE;
        if let Some(first) = region.first_mut() {
            *first = 0;
        }
        for offset in (first_boundary..region.len()).step_by(PAGE) {
            region[offset] = 0;
        }
        self.store.set_epoch_deadline(ticks(deadline));
        match self.alloc.call(&mut self.store, 0) {
            Ok(_) => Ok(()),
            Err(e) => Err(self.classify(e, deadline)),
        }
    }
}
