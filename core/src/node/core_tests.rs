//! The node core between two routers carried by hand: sends, replies,
//! floods, refusals, peer events, timers and storage.

use super::*;
use crate::crypto::NodeIdentity;
use crate::routing::RouterConfig;
use crate::time::UnixMillis;
use weft_plugin_api::actions::{Flood, Reply, Send, SetTimer, Store};

const P0: PluginId = PluginId::from_index(0);
const P1: PluginId = PluginId::from_index(1);
const P2: PluginId = PluginId::from_index(2);
const L1: LinkId = LinkId::Quic(1);
const L2: LinkId = LinkId::Quic(2);

fn router(seed: u8) -> Router {
    let memo = Default::default();
    Router::new(
        NodeIdentity::from_secret([seed; 32]),
        RouterConfig::default(),
        UnixMillis::from_unix_ms(1_000),
        seed as u64,
        memo,
    )
}

fn core(seed: u8) -> NodeCore {
    let mut core = NodeCore::new(router(seed));
    core.attach(P0, &[7]).unwrap();
    core.attach(P1, &[8]).unwrap();
    core
}

fn params(neighbour: Address) -> LinkParams {
    LinkParams { neighbour, cost: 1, bandwidth_bps: 100_000_000 }
}

fn transmits(outputs: &[Output]) -> Vec<(LinkId, Vec<u8>)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Transmit { link, packet, .. } => Some((*link, packet.clone())),
            _ => None,
        })
        .collect()
}

fn messages(outputs: &[Output]) -> Vec<(PluginId, Message)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Deliver { plugin, event: Event::Message(m) } => Some((*plugin, m.clone())),
            _ => None,
        })
        .collect()
}

/// Two cores joined by link 1 (on a) / link 2 (on b), announces exchanged.
fn pair() -> (NodeCore, NodeCore) {
    let (mut a, mut b) = (core(1), core(2));
    let (addr_a, addr_b) = (a.router.address(), b.router.address());
    let from_a = transmits(&a.link_up(LinkId::Quic(1), params(addr_b), Millis::ZERO));
    let from_b = transmits(&b.link_up(LinkId::Quic(2), params(addr_a), Millis::ZERO));
    for (_, packet) in from_a {
        b.packet_received(LinkId::Quic(2), packet, Millis::ZERO);
    }
    for (_, packet) in from_b {
        a.packet_received(LinkId::Quic(1), packet, Millis::ZERO);
    }
    (a, b)
}

/// Carries packets between `a` (link 1) and `b` (link 2), starting with
/// `out` (what `a` produced), until both are quiet; the messages each
/// delivered, in order.
fn carry(a: &mut NodeCore, b: &mut NodeCore, out: Vec<Output>) -> [Vec<(PluginId, Message)>; 2] {
    let mut got = [messages(&out), Vec::new()];
    let mut to_b = transmits(&out);
    for _ in 0..10 {
        let mut to_a = Vec::new();
        for (_, packet) in to_b.drain(..) {
            let out = b.packet_received(LinkId::Quic(2), packet, Millis::ZERO);
            got[1].extend(messages(&out));
            to_a.extend(transmits(&out));
        }
        for (_, packet) in to_a {
            let out = a.packet_received(LinkId::Quic(1), packet, Millis::ZERO);
            got[0].extend(messages(&out));
            to_b.extend(transmits(&out));
        }
        if to_b.is_empty() {
            break;
        }
    }
    got
}

#[test]
fn a_request_is_delivered_and_the_reply_goes_back_with_the_senders_tag() {
    let (mut a, mut b) = pair();
    let to = b.router.address();
    let send = Action::Send(Send { to, port: 7, payload: b"hi".to_vec(), sealed: false, tag: 42, anonymous: false });
    let out = a.actions(P0, vec![send], Millis::ZERO);
    let [_, at_b] = carry(&mut a, &mut b, out);
    let [(P0, message)] = &at_b[..] else { panic!("{at_b:?}") };
    assert_eq!((message.from, message.port, message.reply_to), (Some(a.router.address()), 7, None));
    assert!(message.sealed, "sealed by default, in a session");
    let out =
        b.actions(P0, vec![Action::Reply(Reply { message: message.id, payload: b"back".to_vec() })], Millis::ZERO);
    let [(L2, packet)] = &transmits(&out)[..] else { panic!("{out:?}") };
    let out = a.packet_received(LinkId::Quic(1), packet.clone(), Millis::ZERO);
    let [(P0, answer)] = &messages(&out)[..] else { panic!("{out:?}") };
    assert_eq!((answer.reply_to, answer.payload.as_slice()), (Some(42), &b"back"[..]));
}

#[test]
fn a_sender_that_is_not_verified_is_not_named_to_the_plugin() {
    let (mut a, mut b) = pair();
    let claimed = Address([5; 16]);
    let inner = crate::routing::wire::Inner { source: Some(claimed), tag: 0, reply_to: None, payload: b"x" };
    let body = crate::routing::wire::Body::Data {
        destination: b.router.address(),
        port: 7,
        flags: inner.flags(),
        inner: &inner.encode(),
    };
    let packet = crate::routing::wire::Packet { hops: crate::routing::wire::Hops::fresh(4), body }.encode();
    let out = b.packet_received(LinkId::Quic(2), packet, Millis::ZERO);
    let [(P0, message)] = &messages(&out)[..] else { panic!("{out:?}") };
    assert_eq!((message.from, message.sealed), (None, false), "a claimed source is not passed on");
    let _ = &mut a;
}

#[test]
fn sealed_sends_arrive_sealed_and_anonymous_ones_cannot_be_answered_by_address() {
    let (mut a, mut b) = pair();
    let to = b.router.address();
    let send = Action::Send(Send { to, port: 7, payload: b"secret".to_vec(), sealed: true, tag: 0, anonymous: true });
    let out = a.actions(P0, vec![send], Millis::ZERO);
    let [(_, packet)] = &transmits(&out)[..] else { panic!("{out:?}") };
    assert!(!packet.windows(6).any(|w| w == b"secret"), "sealed on the wire");
    let out = b.packet_received(LinkId::Quic(2), packet.clone(), Millis::ZERO);
    let [(P0, message)] = &messages(&out)[..] else { panic!("{out:?}") };
    assert_eq!((message.from, message.sealed, message.payload.as_slice()), (None, true, &b"secret"[..]));
    let out = b.actions(P0, vec![Action::Reply(Reply { message: message.id, payload: vec![] })], Millis::ZERO);
    let [Output::Refuse { refused, .. }] = &out[..] else { panic!("{out:?}") };
    assert!(refused.reason.contains("anonymous"), "{}", refused.reason);
}

#[test]
fn an_unknown_destination_is_held_and_unknown_ports_and_stale_replies_are_counted() {
    let (mut a, mut b) = pair();
    let nobody = Address([9; 16]);
    let send = Action::Send(Send { to: nobody, port: 7, payload: vec![1], sealed: false, tag: 0, anonymous: false });
    let out = a.actions(P0, vec![send], Millis::ZERO);
    assert!(out.iter().any(|o| matches!(o, Output::Hold(HoldChange::Put(_)))), "{out:?}");
    assert_eq!(transmits(&out).len(), 1, "a path request goes out");
    assert_eq!(a.router.held(), 1);
    let send = Action::Send(Send {
        to: b.router.address(),
        port: 99,
        payload: vec![],
        sealed: false,
        tag: 0,
        anonymous: false,
    });
    let out = a.actions(P0, vec![send], Millis::ZERO);
    carry(&mut a, &mut b, out);
    assert_eq!(b.counters().no_service, 1);
    let out = b.actions(P1, vec![Action::Reply(Reply { message: 12345, payload: vec![] })], Millis::ZERO);
    assert!(matches!(&out[..], [Output::Refuse { plugin: P1, .. }]));
}

#[test]
fn floods_reach_neighbours_and_replies_follow_them_back() {
    let (mut a, mut b) = pair();
    let flood = Action::Flood(Flood { port: 8, payload: b"q".to_vec(), hops: 3, anonymous: true });
    let out = a.actions(P1, vec![flood], Millis::ZERO);
    let [(L1, packet)] = &transmits(&out)[..] else { panic!("{out:?}") };
    let out = b.packet_received(LinkId::Quic(2), packet.clone(), Millis::ZERO);
    let [(P1, message)] = &messages(&out)[..] else { panic!("{out:?}") };
    assert_eq!(message.from, None, "anonymous flood");
    let out = b.actions(P1, vec![Action::Reply(Reply { message: message.id, payload: b"r".to_vec() })], Millis::ZERO);
    let [(L2, packet)] = &transmits(&out)[..] else { panic!("{out:?}") };
    let out = a.packet_received(LinkId::Quic(1), packet.clone(), Millis::ZERO);
    let [(P1, answer)] = &messages(&out)[..] else { panic!("{out:?}") };
    assert_eq!(answer.payload, b"r");
}

#[test]
fn peers_ports_timers_and_storage() {
    let mut core = core(1);
    assert!(core.attach(P2, &[7]).is_err(), "port 7 is taken");
    let b = Address([2; 16]);
    let ups = core.link_up(LinkId::Quic(5), params(b), Millis::ZERO);
    assert_eq!(ups.iter().filter(|o| matches!(o, Output::Deliver { .. })).count(), 2);
    let again = core.link_up(LinkId::Quic(6), params(b), Millis::ZERO);
    assert!(!again.iter().any(|o| matches!(o, Output::Deliver { .. })), "no duplicate peer event");
    assert!(core.link_down(LinkId::Quic(5)).is_empty(), "still up over link 6");
    assert_eq!(core.link_down(LinkId::Quic(6)).len(), 2);
    let out = core.actions(
        P1,
        vec![
            Action::SetTimer(SetTimer { id: 5, after_ms: 100 }),
            Action::Store(Store { key: b"k".to_vec(), value: Some(b"v".to_vec()) }),
        ],
        Millis::from_ms(1_000),
    );
    assert!(
        matches!(&out[..], [Output::Store { plugin: P1, writes, on_refusal }] if writes.len() == 1 && on_refusal.index == 1)
    );
    assert!(core.next_deadline().is_some_and(|d| d <= Millis::from_ms(1_100)));
    let fired = core.poll(Millis::from_ms(1_100));
    assert!(fired.contains(&Output::Deliver { plugin: P1, event: Event::Timer(TimerFired { id: 5 }) }));
}
