//! State handoff, timers and storage with the stateful `counter` plugin,
//! across every pair of bindings.

use std::time::Duration;
use weft_host::kv::KvStore;
use weft_host::plugin::{Binding, Dispatch, Grants, Limits, PluginInstance};
use weft_plugin_api::actions::*;
use weft_plugin_api::*;
use weft_tests::{TestRuntime, plugin};

fn grants() -> Grants {
    Grants::permissions([Permission::Storage])
}

fn start(rt: &TestRuntime, binding: Binding, state: Option<Vec<u8>>) -> (PluginInstance, Dispatch) {
    let loaded = rt.runtime.load(&plugin("counter", binding), &grants(), Limits::default()).unwrap();
    let mut counter = loaded.instantiate(&rt.services).unwrap();
    let dispatch = counter.init(&InitArgs { config: Vec::new(), state }).unwrap();
    (counter, dispatch)
}

/// Commits `Store` actions the way the node runtime does.
fn commit(rt: &TestRuntime, dispatch: &Dispatch) {
    let writes: Vec<_> = dispatch
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Store(s) => Some((s.key.clone(), s.value.clone())),
            _ => None,
        })
        .collect();
    rt.kv.commit("counter", &writes).unwrap();
}

fn message(counter: &mut PluginInstance, id: u64) -> String {
    let dispatch = counter
        .handle(&Event::Message(Message { id, from: None, port: 8, payload: vec![], reply_to: None, sealed: false }))
        .unwrap();
    match &dispatch.actions[..] {
        [Action::Reply(r)] => String::from_utf8(r.payload.clone()).unwrap(),
        other => panic!("unexpected actions {other:?}"),
    }
}

#[test]
fn shutdown_blob_restores_the_next_instance_across_bindings() {
    for (old, new) in [
        (Binding::Wasm, Binding::Wasm),
        (Binding::Native, Binding::Native),
        (Binding::Wasm, Binding::Native),
        (Binding::Native, Binding::Wasm),
    ] {
        let rt = TestRuntime::new();
        let (mut first, init) = start(&rt, old, None);
        assert_eq!(init.actions, vec![Action::SetTimer(SetTimer { id: 1, after_ms: 1000 })]);
        for id in 1..=5 {
            assert_eq!(message(&mut first, id), id.to_string());
        }
        let stopped = first.shutdown(ShutdownReason::Swap, Duration::from_secs(1)).unwrap();
        assert!(!stopped.state.is_empty(), "{old}->{new}: empty state blob");
        let (mut second, _) = start(&rt, new, Some(stopped.state));
        assert_eq!(message(&mut second, 6), "6", "{old} -> {new}");
    }
}

#[test]
fn timer_flushes_to_storage_and_cold_start_reads_it_back() {
    for binding in weft_tests::BINDINGS {
        let rt = TestRuntime::new();
        let (mut first, _) = start(&rt, binding, None);
        for id in 1..=3 {
            message(&mut first, id);
        }
        let flush = first.handle(&Event::Timer(TimerFired { id: 1 })).unwrap();
        assert_eq!(
            flush.actions,
            vec![
                Action::Store(Store { key: b"total".to_vec(), value: Some(3u64.to_be_bytes().to_vec()) }),
                Action::SetTimer(SetTimer { id: 1, after_ms: 1000 }),
            ]
        );
        commit(&rt, &flush);
        // A crash (no shutdown, no blob): the new instance reads storage via kv_get.
        drop(first);
        let (mut second, _) = start(&rt, binding, None);
        assert_eq!(message(&mut second, 9), "4", "{binding}");
    }
}

#[test]
fn bad_config_refuses_to_start_with_the_plugins_message() {
    #[derive(serde::Serialize)]
    struct Wrong {
        flush_every: u64,
    }
    for binding in weft_tests::BINDINGS {
        let rt = TestRuntime::new();
        let loaded = rt.runtime.load(&plugin("counter", binding), &grants(), Limits::default()).unwrap();
        let mut counter = loaded.instantiate(&rt.services).unwrap();
        let mut config = Vec::new();
        ciborium::into_writer(&Wrong { flush_every: 5 }, &mut config).unwrap();
        let err = counter.init(&InitArgs { config, state: None }).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("counter") && text.contains("flush_every"), "{binding}: {text}");
    }
}

#[test]
fn commands_reach_the_plugin() {
    for binding in weft_tests::BINDINGS {
        let rt = TestRuntime::new();
        let (mut counter, _) = start(&rt, binding, None);
        message(&mut counter, 1);
        let dispatch =
            counter.handle(&Event::Command(Command { id: 4, name: "get".into(), args: String::new() })).unwrap();
        assert_eq!(
            dispatch.actions,
            vec![Action::CommandReply(CommandReply { id: 4, ok: true, body: "{\"total\":1}".into() })]
        );
    }
}
