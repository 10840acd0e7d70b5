//! Pre-faulting a new instance's memory before a hot swap's `init`
//! (`PluginInstance::prefault`, docs/ABI.md §6), with the real `sequence`
//! plugin handing over a 1 MiB state. The node does this off its thread
//! for every reload; the swap-pause benchmark (`cargo xtask bench-ops
//! reload`) measures what it buys. Here: the memory is there before
//! `init`, `init` allocates from it instead of growing, the cap is kept,
//! and a guest that misbehaves fails only its own instance.

use std::time::Duration;
use weft_host::plugin::{
    Binding, Fault, Grants, Limits, PREFAULT_HEADROOM, PluginError, PluginInstance, STATE_COPIES, SwapSizes,
};
use weft_plugin_api::internal::*;
use weft_plugin_api::*;
use weft_tests::{TestRuntime, plugin, test_manifest, wat_bytes, write_wat};

const SECOND: Duration = Duration::from_secs(1);

fn with_ballast(bytes: usize) -> Vec<u8> {
    let mut config = std::collections::BTreeMap::new();
    config.insert("ballast_bytes", bytes);
    codec::encode(&config).unwrap()
}

fn sequence(rt: &TestRuntime, binding: Binding, limits: Limits) -> PluginInstance {
    let loaded =
        rt.runtime.load(&plugin("sequence", binding), &Grants::permissions([Permission::Send]), limits).unwrap();
    loaded.instantiate(&rt.services).unwrap()
}

fn numbered(n: u64) -> Event {
    let payload = n.to_string().into_bytes();
    Event::Message(Message { id: n, from: None, port: 9, payload, reply_to: None, sealed: false })
}

/// A running `sequence` with a 1 MiB ballast that has seen some traffic,
/// swapped out: its state and its memory at the peak (after the hook).
fn swapped_out(rt: &TestRuntime, binding: Binding) -> (Vec<u8>, Option<usize>) {
    let mut old = sequence(rt, binding, Limits::default());
    old.init(&InitArgs { config: with_ballast(1 << 20), state: None }).unwrap();
    for n in 1..=3 {
        old.handle(&numbered(n)).unwrap();
    }
    let stopped = old.shutdown(ShutdownReason::Swap, SECOND).unwrap();
    assert!(stopped.state.len() > 1 << 20, "the state carries the 1 MiB ballast");
    (stopped.state, old.memory_bytes())
}

#[test]
fn init_after_prefault_allocates_from_the_prefaulted_pages() {
    let rt = TestRuntime::new();
    let (state, peak) = swapped_out(&rt, Binding::Wasm);
    let peak = peak.expect("a wasm instance knows its memory");

    let mut new = sequence(&rt, Binding::Wasm, Limits::default());
    let fresh = new.memory_bytes().unwrap();
    assert!(fresh + (2 << 20) < peak, "the peak ({peak}) is well above a fresh instance ({fresh})");
    new.prefault(SwapSizes { memory: peak, state: state.len() }).unwrap();
    let prefaulted = new.memory_bytes().unwrap();
    assert!(
        prefaulted + (128 << 10) >= peak && prefaulted <= peak + (256 << 10),
        "pre-faulted to {prefaulted} bytes for a peak of {peak}"
    );

    new.init(&InitArgs { config: with_ballast(1 << 20), state: Some(state.clone()) }).unwrap();
    assert_eq!(
        new.memory_bytes().unwrap(),
        prefaulted,
        "init grew the memory: it did not allocate from the pre-faulted pages (does weft_alloc(0) free the input buffer?)"
    );
    // The state came across intact: handed on again, it is the same bytes.
    let again = new.shutdown(ShutdownReason::Swap, SECOND).unwrap();
    assert_eq!(again.state, state);
}

#[test]
fn prefault_keeps_clear_of_the_memory_cap() {
    let rt = TestRuntime::new();
    let cap = 4 << 20;
    let mut new = sequence(&rt, Binding::Wasm, Limits { memory_bytes: cap, ..Limits::default() });
    new.prefault(SwapSizes { memory: 64 << 20, state: 16 << 20 }).unwrap();
    let memory = new.memory_bytes().unwrap();
    // The guest allocator rounds its growth up (64 KiB pages and its own
    // bookkeeping), so a little over cap - headroom, never near the cap.
    assert!(memory >= cap - PREFAULT_HEADROOM - (256 << 10), "pre-faulted up to the headroom: {memory} bytes");
    assert!(memory + PREFAULT_HEADROOM / 2 <= cap, "{memory} bytes against a cap of {cap}");
    new.init(&InitArgs { config: with_ballast(0), state: None }).unwrap();
    new.handle(&numbered(1)).unwrap();
}

#[test]
fn prefault_grows_no_native_memory_and_leaves_a_running_instance_alone() {
    let rt = TestRuntime::new();
    let (state, peak) = swapped_out(&rt, Binding::Native);
    assert_eq!(peak, None, "native instances share the node's heap");
    let mut new = sequence(&rt, Binding::Native, Limits::default());
    new.prefault(SwapSizes { memory: 32 << 20, state: state.len() }).unwrap();
    new.init(&InitArgs { config: with_ballast(1 << 20), state: Some(state.clone()) }).unwrap();
    assert_eq!(new.shutdown(ShutdownReason::Swap, SECOND).unwrap().state, state);

    let mut running = sequence(&rt, Binding::Wasm, Limits::default());
    running.init(&InitArgs { config: with_ballast(0), state: None }).unwrap();
    let before = running.memory_bytes();
    running.prefault(SwapSizes { memory: 32 << 20, state: 1 << 20 }).unwrap();
    assert_eq!(running.memory_bytes(), before, "a running instance is left alone");
}

/// A module of ABI `abi` with `weft_alloc` as given and a `weft_call` that
/// is never reached.
fn wat_with_alloc(abi: AbiVersion, alloc_body: &str) -> String {
    let manifest = codec::encode(&Manifest { abi, ..test_manifest("bad-alloc") }).unwrap();
    format!(
        r#"(module
  (@custom "weft.manifest" "{}")
  (memory (export "memory") 1)
  (func (export "weft_alloc") (param i32) (result i32) {alloc_body})
  (func (export "weft_call") (param i32) (result i64) (i64.const 0)))"#,
        wat_bytes(&manifest)
    )
}

#[test]
fn a_guest_that_misbehaves_in_prefault_fails_only_itself() {
    let rt = TestRuntime::new();
    let limits = Limits { init_deadline: Duration::from_millis(200), ..Limits::default() };
    let cases =
        [("out-of-bounds", "(i32.const -65536)"), ("spins", "(loop (br 0)) (i32.const 0)"), ("traps", "unreachable")];
    for (name, body) in cases {
        let path = write_wat(rt.dir.path(), name, &wat_with_alloc(ABI_VERSION, body));
        let loaded = rt.runtime.load(&path, &Grants::all(), limits).unwrap();
        let mut bad = loaded.instantiate(&rt.services).unwrap();
        let fault = match bad.prefault(SwapSizes { memory: 8 << 20, state: 1 << 20 }) {
            Err(PluginError::Fault { fault, .. }) => fault,
            other => panic!("{name}: expected a fault, got {other:?}"),
        };
        match (name, &fault) {
            ("out-of-bounds", Fault::BadOutput(_)) | ("spins", Fault::Deadline(_)) | ("traps", Fault::Trap(_)) => {}
            _ => panic!("{name}: unexpected fault {fault:?}"),
        }
        assert!(matches!(bad.init(&InitArgs::default()), Err(PluginError::Failed { .. })), "{name}: stays failed");
    }
    // The runtime is fine: a real plugin still loads and runs.
    let mut good = sequence(&rt, Binding::Wasm, Limits::default());
    good.prefault(SwapSizes { memory: 4 << 20, state: 1 << 20 }).unwrap();
    good.init(&InitArgs { config: with_ballast(0), state: None }).unwrap();
}

#[test]
fn guest_memory_is_pre_faulted_only_for_guests_that_give_it_back() {
    // Before ABI 1.2 a guest kept what `weft_alloc(n)` reserved as its input
    // buffer whatever came next, so pre-faulting would add to its memory at
    // every reload. Such a guest is never asked: its `weft_alloc` traps if
    // called, and prefault still succeeds.
    let rt = TestRuntime::new();
    let older = AbiVersion::new(ALLOC_ZERO_RELEASES_SINCE.major, ALLOC_ZERO_RELEASES_SINCE.minor - 1);
    let path = write_wat(rt.dir.path(), "older", &wat_with_alloc(older, "unreachable"));
    let loaded = rt.runtime.load(&path, &Grants::all(), Limits::default()).unwrap();
    let mut instance = loaded.instantiate(&rt.services).unwrap();
    let before = instance.memory_bytes();
    instance.prefault(SwapSizes { memory: 16 << 20, state: 1 << 20 }).unwrap();
    assert_eq!(instance.memory_bytes(), before, "an ABI {older} guest's memory is left alone");
    assert!(instance.fault().is_none());
}

#[test]
fn pre_faulted_memory_is_bounded_by_the_state_not_the_old_high_water_mark() {
    // An old instance that once spiked to 60 MiB but hands over 256 KiB:
    // the new one gets room for a few copies of the state, not the spike.
    let rt = TestRuntime::new();
    let mut new = sequence(&rt, Binding::Wasm, Limits::default());
    let fresh = new.memory_bytes().unwrap();
    let state = 256 << 10;
    new.prefault(SwapSizes { memory: 60 << 20, state }).unwrap();
    let grown = new.memory_bytes().unwrap() - fresh;
    assert!(grown <= STATE_COPIES * state, "grew {grown} bytes for a {state}-byte state");
    assert!(grown + (64 << 10) >= STATE_COPIES * state, "grew only {grown} bytes for a {state}-byte state");
}
