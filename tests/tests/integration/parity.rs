//! The same `echo` source loaded as wasm and as native behaves identically.

use weft_host::plugin::{Binding, Grants, Limits};
use weft_plugin_api::actions::*;
use weft_plugin_api::*;
use weft_tests::{TestRuntime, plugin};

fn events() -> Vec<Event> {
    let mut events = Vec::new();
    for (i, size) in [0usize, 1, 100, 300, 5_000, 70_000].into_iter().enumerate() {
        let payload: Vec<u8> = (0..size).map(|b| (b * 7 + i) as u8).collect();
        let from = if i % 2 == 0 { Some(Address([i as u8; 16])) } else { None };
        events.push(Event::Message(Message {
            id: i as u64 + 1,
            from,
            port: 7,
            payload,
            reply_to: None,
            sealed: false,
        }));
    }
    events.push(Event::Timer(TimerFired { id: 3 }));
    events.push(Event::PeerUp(PeerChange { peer: Address([5; 16]) }));
    events.push(Event::Command(Command { id: 77, name: "nonexistent".into(), args: String::new() }));
    events.push(Event::Unknown(999));
    events.push(Event::SerialRx(SerialRx { bytes: vec![1, 2, 3] }));
    events
}

fn run(binding: Binding) -> Vec<String> {
    let rt = TestRuntime::new();
    let loaded =
        rt.runtime.load(&plugin("echo", binding), &Grants::permissions([Permission::Send]), Limits::default()).unwrap();
    assert_eq!(loaded.info().binding, binding);
    let mut echo = loaded.instantiate(&rt.services).unwrap();
    let mut transcript = vec![format!("{:?}", echo.init(&InitArgs::default()))];
    for event in events() {
        transcript.push(format!("{:?}", echo.handle(&event)));
    }
    transcript.push(format!("{:?}", echo.shutdown(ShutdownReason::Stop, std::time::Duration::from_secs(1))));
    transcript.push(format!("{:?}", echo.handle(&Event::Timer(TimerFired { id: 1 }))));
    transcript
}

#[test]
fn echo_behaves_identically_as_wasm_and_native() {
    let wasm = run(Binding::Wasm);
    let native = run(Binding::Native);
    assert_eq!(wasm, native);
}

#[test]
fn echo_replies_with_each_payload() {
    for binding in weft_tests::BINDINGS {
        let rt = TestRuntime::new();
        let loaded = rt
            .runtime
            .load(&plugin("echo", binding), &Grants::permissions([Permission::Send]), Limits::default())
            .unwrap();
        let mut echo = loaded.instantiate(&rt.services).unwrap();
        echo.init(&InitArgs::default()).unwrap();
        for event in events() {
            let dispatch = echo.handle(&event).unwrap();
            assert!(dispatch.refused.is_empty(), "{binding}: {:?}", dispatch.refused);
            match event {
                Event::Message(m) => {
                    assert_eq!(dispatch.actions, vec![Action::Reply(Reply { message: m.id, payload: m.payload })]);
                }
                Event::Command(c) => {
                    assert!(matches!(&dispatch.actions[..], [Action::CommandReply(r)] if r.id == c.id && !r.ok));
                }
                _ => assert!(dispatch.actions.is_empty(), "{binding}: {event:?} -> {:?}", dispatch.actions),
            }
        }
    }
}
