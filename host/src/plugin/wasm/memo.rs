//! Compiled modules kept in memory by content, for loading the same build again.
//!
//! Owns: [`ModuleMemo`], the last [`MEMO_MODULES`] modules this runtime
//! compiled or read from the disk cache, keyed by the SHA-256 of their
//! `.wasm`. Loading a build that is still here (a plugin reload, a restart
//! after a crash, a swap back to the previous version) skips reading and
//! deserializing the artifact, and keeps the same wasmtime `Module`. That
//! matters more than the load time: the pooling allocator gives a new
//! instance a slot that last held an instance of the *same* `Module` when
//! there is one, with its memory image still mapped and its pages resident,
//! so the swap's new instance does not page-fault in its memory again.
//!
//! Must not: decide whether a module is valid (the runtime checks imports and
//! exports on every load) or outlive the engine it was compiled for (it lives
//! inside the runtime that owns the engine).

use std::collections::VecDeque;
use std::sync::Mutex;
use wasmtime::Module;

/// Modules remembered; older ones are forgotten first (instances and loaded
/// plugins keep their own reference, so forgetting never unloads anything).
pub const MEMO_MODULES: usize = 32;

/// Recently loaded modules by content hash, most recent last.
#[derive(Default)]
pub struct ModuleMemo {
    modules: Mutex<VecDeque<([u8; 32], Module)>>,
}

impl ModuleMemo {
    /// The module compiled from the `.wasm` whose SHA-256 is `digest`, if
    /// it is remembered (it becomes the most recent).
    pub fn get(&self, digest: &[u8; 32]) -> Option<Module> {
        let mut modules = self.modules.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let at = modules.iter().position(|(d, _)| d == digest)?;
        let entry = modules.remove(at)?;
        let module = entry.1.clone();
        modules.push_back(entry);
        Some(module)
    }

    /// Remembers `module` as compiled from the `.wasm` hashing to `digest`.
    pub fn put(&self, digest: [u8; 32], module: &Module) {
        let mut modules = self.modules.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        modules.retain(|(d, _)| *d != digest);
        if modules.len() == MEMO_MODULES {
            modules.pop_front();
        }
        modules.push_back((digest, module.clone()));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.modules.lock().map(|m| m.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::Engine;

    #[test]
    fn remembers_the_most_recent_and_forgets_the_oldest() {
        let engine = Engine::default();
        let module = |n: u8| Module::new(&engine, format!("(module (global i32 (i32.const {n})))")).expect("wat");
        let memo = ModuleMemo::default();
        let first = module(0);
        memo.put([0; 32], &first);
        for n in 1..MEMO_MODULES as u8 {
            memo.put([n; 32], &module(n));
        }
        assert_eq!(memo.len(), MEMO_MODULES);
        // Touching the first makes it the most recent, so the second goes next.
        let again = memo.get(&[0; 32]).expect("remembered");
        assert!(Module::same(&again, &first), "the same compiled module, not a copy");
        memo.put([200; 32], &module(200));
        assert_eq!(memo.len(), MEMO_MODULES);
        assert!(memo.get(&[1; 32]).is_none(), "the least recently used was forgotten");
        assert!(memo.get(&[0; 32]).is_some());
        assert!(memo.get(&[200; 32]).is_some());
    }
}
