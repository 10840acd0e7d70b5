//! The shared wasm engine and compiled modules.
//!
//! Owns: one wasmtime [`Engine`] per host with epoch interruption enabled,
//! the thread that advances the epoch, compiling modules through the cache,
//! and checking a module's imports and exports against the ABI before any
//! instance exists ([`WasmModule`] holds the resulting `InstancePre`).

use super::cache::{CacheOutcome, ModuleCache, digest};
use super::epoch::{EPOCH_TICK, Ticks};
use super::imports;
use super::instance::{StoreData, WasmInstance};
use super::memo::ModuleMemo;
use crate::plugin::error::{InstantiateError, ModuleError};
use crate::plugin::host_services::InstanceHostCalls;
use crate::plugin::instance::Limits;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use wasmtime::{
    Config, Engine, ExternType, InstanceAllocationStrategy, InstancePre, Linker, Module, PoolingAllocationConfig,
    ValType,
};

/// Wasm instances one engine holds at once (plugins, drivers, and the new
/// instances of swaps in progress).
pub const POOL_INSTANCES: u32 = 128;
/// Largest linear memory any instance may grow to (per-plugin caps are
/// lower and enforced by each store's limiter).
const MAX_MEMORY: usize = 1 << 30;
/// Bytes of each pool slot's memory kept resident between instances.
const KEEP_RESIDENT: usize = 8 << 20;

/// Free slots that may stay warm before a new module's instance reuses the
/// least recently used of them instead of a never-used (cold) slot. A swap
/// to a new build then lands on resident pages instead of faulting in fresh
/// ones (wasmtime's default of 100 would have every new build start cold).
const WARM_SLOTS: u32 = 4;

struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The wasm side of the plugin runtime: one engine for all wasm plugins.
pub struct WasmRuntime {
    engine: Engine,
    linker: Linker<StoreData>,
    cache: Option<ModuleCache>,
    memo: ModuleMemo,
    ticks: Ticks,
    _ticker: EpochTicker,
}

/// A compiled, ABI-checked module, ready to instantiate many times.
pub struct WasmModule {
    pre: InstancePre<StoreData>,
    engine: Engine,
    /// Whether the compiled code came from the cache.
    pub cache: CacheOutcome,
}

impl WasmRuntime {
    /// Creates the engine; compiled modules are cached under `cache_root` if given.
    pub fn new(cache_root: Option<&Path>) -> wasmtime::Result<Self> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.cranelift_opt_level(wasmtime::OptLevel::Speed);
        // Reserve the whole 4 GiB a 32-bit memory can address (plus guard
        // pages): with that, Cranelift drops the bounds check on every guest
        // load and store, which made dispatch ~13 % faster than with a 1 GiB
        // reservation. It is address space, not memory: resident memory is
        // what the instance touches, and the per-plugin cap (store limits)
        // still bounds growth. 47 bits of address space hold ~30,000 such
        // reservations.
        config.memory_reservation(4 << 30);
        config.memory_guard_size(32 << 20);
        // Instances come from a pool of slots whose memories stay mapped
        // and keep their first pages resident between uses (zeroed with a
        // memset instead of being unmapped): a new instance of a plugin,
        // which is what a hot swap or a restart creates, reuses a warm slot
        // instead of page-faulting in every page it touches. The pool bounds
        // how many wasm instances an engine can hold at once.
        let mut pool = PoolingAllocationConfig::default();
        pool.total_core_instances(POOL_INSTANCES)
            .total_memories(POOL_INSTANCES)
            .total_tables(POOL_INSTANCES)
            .max_memory_size(MAX_MEMORY)
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .max_unused_warm_slots(WARM_SLOTS)
            .table_keep_resident(64 << 10);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config)?;
        let linker = imports::linker(&engine)?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticker_engine = engine.weak();
        let ticker_stop = stop.clone();
        let ticks: Ticks = Arc::new(AtomicU64::new(0));
        let ticker_ticks = ticks.clone();
        let thread = std::thread::Builder::new()
            .name("weft-wasm-epoch".into())
            .spawn(move || {
                while !ticker_stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match ticker_engine.upgrade() {
                        Some(engine) => {
                            engine.increment_epoch();
                            ticker_ticks.fetch_add(1, Ordering::Relaxed);
                        }
                        None => break,
                    }
                }
            })
            .map_err(wasmtime::Error::from)?;
        let cache = cache_root.map(|root| ModuleCache::new(root, &engine));
        Ok(Self {
            engine,
            linker,
            cache,
            memo: ModuleMemo::default(),
            ticks,
            _ticker: EpochTicker { stop, thread: Some(thread) },
        })
    }

    /// The coarse clock advanced with the epoch.
    pub fn ticks(&self) -> &Ticks {
        &self.ticks
    }

    /// The module cache, if enabled.
    pub fn cache(&self) -> Option<&ModuleCache> {
        self.cache.as_ref()
    }

    /// Compiles (or loads from cache) and checks `wasm` against the ABI.
    /// The loader adds the file name to errors.
    pub fn prepare(&self, wasm: &[u8]) -> Result<WasmModule, ModuleError> {
        let digest = digest(wasm);
        let (module, cache) = match (self.memo.get(&digest), &self.cache) {
            (Some(module), _) => (module, CacheOutcome::InMemory),
            (None, Some(c)) => {
                c.load_or_compile(&self.engine, wasm, &digest).map_err(|e| ModuleError::Invalid(format!("{e:#}")))?
            }
            (None, None) => (
                Module::new(&self.engine, wasm).map_err(|e| ModuleError::Invalid(format!("{e:#}")))?,
                CacheOutcome::CompiledUncached,
            ),
        };
        // Only modules that compiled are remembered (a memo hit is already
        // the most recent); the checks below run on every load, so a
        // remembered module is checked like a new one.
        if cache != CacheOutcome::InMemory {
            self.memo.put(digest, &module);
        }
        check_imports(&module)?;
        check_exports(&module)?;
        let pre = self.linker.instantiate_pre(&module).map_err(|e| ModuleError::Link(format!("{e:#}")))?;
        Ok(WasmModule { pre, engine: self.engine.clone(), cache })
    }
}

fn check_imports(module: &Module) -> Result<(), ModuleError> {
    for import in module.imports() {
        let known = import.module() == imports::MODULE
            && matches!(import.name(), "now_ms" | "random" | "host_call" | "host_take");
        if !known {
            return Err(ModuleError::UnknownImport {
                module: import.module().to_string(),
                name: import.name().to_string(),
                abi: weft_plugin_api::ABI_VERSION,
            });
        }
    }
    Ok(())
}

fn check_exports(module: &Module) -> Result<(), ModuleError> {
    let func = |name: &'static str, params: &[ValType], results: &[ValType]| -> Result<(), ModuleError> {
        match module.get_export(name) {
            Some(ExternType::Func(f))
                if f.params().map(|p| p.to_string()).eq(params.iter().map(|p| p.to_string()))
                    && f.results().map(|r| r.to_string()).eq(results.iter().map(|r| r.to_string())) =>
            {
                Ok(())
            }
            Some(_) => Err(ModuleError::ExportType(name)),
            None => Err(ModuleError::MissingExport(name)),
        }
    };
    func("weft_alloc", &[ValType::I32], &[ValType::I32])?;
    func("weft_call", &[ValType::I32], &[ValType::I64])?;
    match module.get_export("memory") {
        Some(ExternType::Memory(_)) => Ok(()),
        _ => Err(ModuleError::MissingExport("memory")),
    }
}

impl WasmModule {
    /// Creates a new instance with its own store, memory cap and host view.
    pub fn instantiate(&self, host: InstanceHostCalls, limits: Limits) -> Result<WasmInstance, InstantiateError> {
        WasmInstance::new(&self.engine, &self.pre, host, limits)
    }
}
