//! Hostile plugins: each fault returns an error, the host survives, and a
//! plugin loaded beside the hostile one keeps answering.

use std::time::{Duration, Instant};
use weft_host::plugin::{Binding, Fault, Grants, Limits, PluginError, PluginInstance};
use weft_plugin_api::*;
use weft_tests::*;

const LIMITS: Limits = Limits {
    call_deadline: Duration::from_millis(200),
    init_deadline: Duration::from_secs(2),
    memory_bytes: 32 << 20,
    max_flood_hops: None,
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

    let (fault, _) = provoke(&mut start(&rt, &hostile), b"panic");
    assert!(matches!(fault, Fault::Trap(_)), "{fault}");
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
    assert_eq!(fault, Fault::Panic("plugin panicked: asked to panic".into()));
    assert_echo_alive(&mut echo);
}

#[test]
fn a_native_call_past_its_deadline_finishes_and_is_counted_as_an_overrun() {
    let rt = TestRuntime::new();
    let mut hostile = start(&rt, &plugin("hostile", Binding::Native));
    hostile.handle(&message(9, b"quick")).unwrap();
    assert_eq!(hostile.deadline_overruns(), 0, "a quick call is no overrun");
    // 300 ms of work against a 200 ms deadline: native code cannot be
    // interrupted, so the call completes and the overrun is counted.
    let dispatch = hostile.handle(&message(9, b"slow")).unwrap();
    assert_eq!(dispatch.actions, vec![Action::Reply(Reply { message: 1, payload: b"slow done".to_vec() })]);
    assert_eq!(hostile.deadline_overruns(), 1);
    assert!(hostile.is_running());
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
