//! The beacon timer floods, beacons heard are listed, and silent nodes expire.

use super::*;
use weft_plugin_api::actions::{CommandReply, Flood, Metric};
use weft_plugin_api::testing::{ServiceHarness, TestHost};
use weft_plugin_api::{Action, Event, MetricKind, TimerFired};

fn start(config: serde_json::Value) -> ServiceHarness<Presence> {
    ServiceHarness::init(TestHost::default(), &config, None).unwrap().0
}

fn beacon_from(h: &mut ServiceHarness<Presence>, id: u64, from: Option<Address>, name: &str) -> Vec<Action> {
    let payload = cbor::to_vec(&Beacon { name: name.into() }).unwrap();
    h.event(Event::Message(Message { id, from, port: PORT, payload, reply_to: None, sealed: false })).unwrap()
}

fn who(h: &mut ServiceHarness<Presence>) -> serde_json::Value {
    let actions = h.event(Event::Command(Command { id: 5, name: "who".into(), args: String::new() })).unwrap();
    let [Action::CommandReply(CommandReply { ok: true, body, .. })] = &actions[..] else { panic!("{actions:?}") };
    serde_json::from_str(body).unwrap()
}

fn present(actions: &[Action]) -> Option<f64> {
    actions.iter().find_map(|a| match a {
        Action::Metric(Metric { name, kind: MetricKind::Gauge, value }) if name == "present" => Some(*value),
        _ => None,
    })
}

#[test]
fn beacons_are_flooded_on_the_timer_and_heard_ones_listed_until_they_expire() {
    let mut h = start(serde_json::json!({ "name": "kitchen", "interval_s": 10, "expiry_s": 30, "hops": 2 }));
    let fired = h.event(Event::Timer(TimerFired { id: BEACON_TIMER })).unwrap();
    let beacon = cbor::to_vec(&Beacon { name: "kitchen".into() }).unwrap();
    assert!(
        fired.contains(&Action::Flood(Flood { port: PORT, payload: beacon, hops: 2, anonymous: false })),
        "{fired:?}"
    );

    let (x, y) = (Address([7; 16]), Address([8; 16]));
    assert_eq!(present(&beacon_from(&mut h, 1, Some(x), "hall")), Some(1.0));
    h.host.now_ms += 20_000;
    assert_eq!(present(&beacon_from(&mut h, 2, Some(y), "porch")), Some(2.0));
    let listed = who(&mut h);
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
    assert!(
        listed
            .to_string()
            .contains("\"name\":\"hall\",\"node\":\"07070707070707070707070707070707\",\"seen_s_ago\":20"),
        "{listed}"
    );

    // 15 s later x was last heard 35 s ago (> 30): it expires, y stays.
    h.host.now_ms += 15_000;
    let expired = h.event(Event::Timer(TimerFired { id: EXPIRY_TIMER })).unwrap();
    assert_eq!(present(&expired), Some(1.0));
    assert_eq!(who(&mut h)[0]["name"], "porch");
}

#[test]
fn anonymous_or_garbled_beacons_are_counted_not_listed_and_bad_configs_refused() {
    let mut h = start(serde_json::json!({}));
    assert!(
        beacon_from(&mut h, 1, None, "ghost").iter().any(|a| matches!(a, Action::Metric(m) if m.name == "undecodable"))
    );
    assert_eq!(who(&mut h), serde_json::json!([]));
    for bad in [serde_json::json!({ "interval_s": 0 }), serde_json::json!({ "expiry_s": 10, "interval_s": 10 })] {
        assert!(ServiceHarness::<Presence>::init(TestHost::default(), &bad, None).is_err(), "{bad}");
    }
}
