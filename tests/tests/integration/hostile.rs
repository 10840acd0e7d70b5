//! Hostile plugins: each fault returns an error, the host survives, and a
//! plugin loaded beside the hostile one keeps answering.

use std::time::{Duration, Instant};
use weft_host::plugin::{Binding, Fault, Grants, Limits, NativeCalls, PluginError, PluginInstance};
use weft_plugin_api::actions::*;
use weft_plugin_api::internal::*;
use weft_plugin_api::*;
use weft_tests::*;

const LIMITS: Limits = Limits {
    call_deadline: Duration::from_millis(200),
    init_deadline: Duration::from_secs(2),
    memory_bytes: 32 << 20,
    max_flood_hops: None,
    native_calls: NativeCalls::Thread,
};

fn start(rt: &TestRuntime, path: &std::path::Path) -> PluginInstance {
    let loaded = rt.runtime.load(path, &Grants::all(), LIMITS).unwrap();
    let mut instance = loaded.instantiate(&rt.services).unwrap();
    instance.init(&InitArgs::default()).unwrap();
    instance
}

fn message(port: u16, payload: &[u8]) -> Event {
    Event::Message(Message { id: 1, from: None, port, payload: payload.to_vec(), reply_to: None, sealed: false })
}

fn assert_echo_alive(echo: &mut PluginInstance) {
    let dispatch = echo.handle(&message(7, b"still here")).unwrap();
    assert_eq!(dispatch.actions, vec![Action::Reply(Reply { message: 1, payload: b"still here".to_vec() })]);
}

fn provoke(hostile: &mut PluginInstance, act: &[u8]) -> (Fault, Duration) {
    let started = Instant::now();
    let err = hostile.handle(&message(9, act)).unwrap_err();
    let elapsed = started.elapsed();
    let fault = match err {
        PluginError::Fault { plugin, fault } => {
            assert_eq!(plugin, "hostile");
            fault
        }
        other => panic!("expected a fault, got {other}"),
    };
    // The instance stays failed; it does not run again.
    assert!(matches!(hostile.handle(&message(9, b"hello")), Err(PluginError::Failed { .. })));
    assert_eq!(hostile.fault(), Some(&fault));
    (fault, elapsed)
}

#[test]
fn wasm_trap_loop_and_oom_fail_only_their_instance() {
    let rt = TestRuntime::new();
    let mut echo = start(&rt, &plugin("echo", Binding::Wasm));
    let hostile = plugin("hostile", Binding::Wasm);

    // The SDK's panic hook keeps the message and where it was raised; the
    // host reads it after the trap (`weft_panic_message`, ABI 1.3).
    let (fault, _) = provoke(&mut start(&rt, &hostile), b"panic");
    match &fault {
        Fault::Panic(text) => assert!(text.contains("asked to panic") && text.contains("src/lib.rs"), "{text}"),
        other => panic!("expected the panic's message, got {other}"),
    }
    assert_echo_alive(&mut echo);

    let (fault, elapsed) = provoke(&mut start(&rt, &hostile), b"loop");
    assert_eq!(fault, Fault::Deadline(200));
    // Bounded, not a benchmark: interrupted near the 200 ms deadline, not hung.
    assert!(elapsed < Duration::from_secs(5), "loop interrupted only after {elapsed:?}");
    assert_echo_alive(&mut echo);

    let mut oom = start(&rt, &hostile);
    let (fault, _) = provoke(&mut oom, b"oom");
    assert_eq!(fault, Fault::OutOfMemory { limit: 32 << 20 });
    assert!(oom.memory_bytes().unwrap() <= 32 << 20);
    assert_echo_alive(&mut echo);
}

#[test]
fn native_panic_is_caught_at_the_boundary() {
    let rt = TestRuntime::new();
    let mut echo = start(&rt, &plugin("echo", Binding::Native));
    let mut hostile = start(&rt, &plugin("hostile", Binding::Native));
    let (fault, _) = provoke(&mut hostile, b"panic");
    match &fault {
        Fault::Panic(text) => assert!(text.contains("asked to panic") && text.contains("src/lib.rs"), "{text}"),
        other => panic!("expected the panic's message, got {other}"),
    }
    assert_echo_alive(&mut echo);
}

/// Runs `act` on `instance` on a thread of its own and waits at most 10 s:
/// a caller that hangs is the defect under test, so it must fail the test
/// instead of hanging it.
fn provoke_bounded(mut instance: PluginInstance, act: &'static [u8]) -> (PluginInstance, Fault, Duration) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (fault, elapsed) = provoke(&mut instance, act);
        let _ = tx.send((instance, fault, elapsed));
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap_or_else(|_| {
        panic!("the call {:?} did not come back within 10 s: the caller hung", String::from_utf8_lossy(act))
    })
}

#[test]
fn a_native_call_past_its_deadline_is_abandoned_and_the_instance_failed() {
    let rt = TestRuntime::new();
    let hostile = start(&rt, &plugin("hostile", Binding::Native));
    // 300 ms of work against a 200 ms deadline: the caller stops waiting at
    // the deadline; the work finishes on its own thread, unseen.
    let (_, fault, elapsed) = provoke_bounded(hostile, b"slow");
    assert_eq!(fault, Fault::Abandoned(200));
    assert!(elapsed < Duration::from_secs(5), "abandoned only after {elapsed:?}");
}

#[test]
fn a_native_plugin_run_inline_by_the_operators_choice_finishes_a_slow_call() {
    // `native_calls = "inline"`: the operator trades the guard for ~0.6 µs a
    // call; a slow call then holds the caller until it returns.
    let rt = TestRuntime::new();
    let limits = Limits { native_calls: NativeCalls::Inline, ..LIMITS };
    let loaded = rt.runtime.load(&plugin("hostile", Binding::Native), &Grants::all(), limits).unwrap();
    let mut hostile = loaded.instantiate(&rt.services).unwrap();
    hostile.init(&InitArgs::default()).unwrap();
    let started = Instant::now();
    let dispatch = hostile.handle(&message(9, b"slow")).unwrap();
    assert_eq!(dispatch.actions, vec![Action::Reply(Reply { message: 1, payload: b"slow done".to_vec() })]);
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "it ran on this thread to the end: {:?}",
        started.elapsed()
    );
    let dispatch = hostile.handle(&message(9, b"again")).unwrap();
    assert_eq!(dispatch.actions, vec![Action::Reply(Reply { message: 1, payload: b"again".to_vec() })]);
}

#[test]
fn a_native_call_that_never_returns_is_abandoned_and_the_node_carries_on() {
    let rt = TestRuntime::new();
    let mut echo = start(&rt, &plugin("echo", Binding::Native));
    let path = plugin("hostile", Binding::Native);
    let loaded = rt.runtime.load(&path, &Grants::all(), LIMITS).unwrap();
    let hung = |loaded: &weft_host::plugin::LoadedPlugin| {
        let mut instance = loaded.instantiate(&rt.services).unwrap();
        instance.init(&InitArgs::default()).unwrap();
        let (_, fault, _) = provoke_bounded(instance, b"hang");
        assert_eq!(fault, Fault::Abandoned(200));
    };
    hung(&loaded);
    assert_echo_alive(&mut echo);
    // A new instance of the same library runs (its call thread is new)...
    let mut again = loaded.instantiate(&rt.services).unwrap();
    again.init(&InitArgs::default()).unwrap();
    assert_eq!(again.handle(&message(9, b"hi")).unwrap().actions.len(), 1);
    drop(again);
    // ...until too many of its calls are stuck: each holds a thread the node
    // cannot take back, so no more instances are made until they return.
    hung(&loaded);
    let refused =
        loaded.instantiate(&rt.services).err().expect("a third instance is refused while two calls are stuck");
    let text = refused.to_string();
    assert!(text.contains("2 calls") && text.contains("never returned"), "{text}");
    assert_echo_alive(&mut echo);
}

#[test]
fn a_wasm_call_past_its_deadline_is_interrupted() {
    let rt = TestRuntime::new();
    let mut hostile = start(&rt, &plugin("hostile", Binding::Wasm));
    // A deadline fault (not a reply) means the work was cut short.
    let (fault, _) = provoke(&mut hostile, b"slow");
    assert_eq!(fault, Fault::Deadline(200));
}

#[test]
fn unknown_actions_are_refused_with_an_error_event_and_never_loop() {
    for binding in BINDINGS {
        let rt = TestRuntime::new();
        let mut hostile = start(&rt, &plugin("hostile", binding));
        let dispatch = hostile.handle(&message(9, b"unknown")).unwrap();
        // The reply in the same batch still runs.
        assert_eq!(dispatch.actions, vec![Action::Reply(Reply { message: 1, payload: b"sent unknown".to_vec() })]);
        // 200 refused and reported; 201 (sent while handling the report) refused, not re-reported.
        let tags: Vec<u32> = dispatch.refused.iter().map(|r| r.action).collect();
        assert_eq!(tags, vec![200, 201], "{binding}");
        let listed =
            hostile.handle(&Event::Command(Command { id: 2, name: "refused".into(), args: String::new() })).unwrap();
        match &listed.actions[..] {
            [Action::CommandReply(reply)] => {
                assert!(reply.body.contains("200: unknown action tag 200"), "{binding}: {}", reply.body);
                assert!(!reply.body.contains("201"), "{binding}: refusal was re-delivered: {}", reply.body);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn garbage_outcomes_fail_the_instance_not_the_host() {
    let rt = TestRuntime::new();
    let mut echo = start(&rt, &plugin("echo", Binding::Wasm));
    let manifest = codec::encode(&test_manifest("garbage")).unwrap();
    let cases: [(&str, Vec<u8>, u64); 3] = [
        ("cbor-garbage", vec![0xff, 0xfe, 0x13, 0x37], 0),
        ("wrong-shape", codec::encode(&vec![1u32, 2, 3]).unwrap(), 0),
        ("out-of-bounds", vec![0xa0], 1 << 20),
    ];
    for (name, output, offset) in cases {
        let path = write_wat(rt.dir.path(), name, &wat_plugin_returning(Some(&manifest), &output, offset));
        let loaded = rt.runtime.load(&path, &Grants::all(), LIMITS).unwrap();
        let mut garbage = loaded.instantiate(&rt.services).unwrap();
        match garbage.init(&InitArgs::default()) {
            Err(PluginError::Fault { fault: Fault::BadOutput(_), .. }) => {}
            other => panic!("{name}: expected a bad-output fault, got {other:?}"),
        }
        assert!(matches!(garbage.handle(&message(99, b"x")), Err(PluginError::Failed { .. })), "{name}");
        assert_echo_alive(&mut echo);
    }
}

#[test]
fn actions_outside_the_plugins_kind_or_permissions_are_refused() {
    // The hostile plugin holds no permissions: a Send must be refused, and the
    // plugin told, while its reply goes through.
    let rt = TestRuntime::new();
    let manifest = codec::encode(&test_manifest("sender")).unwrap();
    let outcome = Outcome {
        actions: vec![
            Action::Send(Send {
                to: Address([1; 16]),
                port: 1,
                payload: vec![],
                sealed: false,
                tag: 0,
                anonymous: false,
            }),
            Action::SerialWrite(SerialWrite { bytes: vec![1] }),
            Action::Log(Log { level: LogLevel::Info, message: "hi".into() }),
        ],
        ..Outcome::default()
    };
    let path = write_wat(
        rt.dir.path(),
        "sender",
        &wat_plugin_returning(Some(&manifest), &codec::encode(&outcome).unwrap(), 0),
    );
    let loaded = rt.runtime.load(&path, &Grants::all(), LIMITS).unwrap();
    let mut sender = loaded.instantiate(&rt.services).unwrap();
    let dispatch = sender.init(&InitArgs::default()).unwrap();
    // This module returns the same batch to every call: the log from init,
    // then one log per refusal round (two refusals), all allowed.
    assert_eq!(dispatch.actions.len(), 3, "{:?}", dispatch.actions);
    assert!(dispatch.actions.iter().all(|a| matches!(a, Action::Log(_))));
    // The refusal rounds' own refusals are recorded but not re-delivered.
    assert_eq!(dispatch.refused.len(), 2 + 2 * 2);
    let reasons: Vec<&str> = dispatch.refused.iter().map(|r| r.reason.as_str()).collect();
    assert!(reasons[0].contains("permission `send`"), "{reasons:?}");
    assert!(reasons[1].contains("driver action"), "{reasons:?}");
}
