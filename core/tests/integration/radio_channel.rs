//! The router over a shared radio channel (issue 20): every neighbour heard
//! on one radio is a link of its own, but a flood for all of them goes on
//! the air once, and a flood heard on the channel is passed on over it only
//! if someone else on it may not have it.

use weft_core::crypto::NodeIdentity;
use weft_core::routing::{LinkId, LinkParams, Router, RouterConfig, RouterOutput};
use weft_core::time::{Millis, UnixMillis};
use weft_plugin_api::Address;

fn router() -> Router {
    Router::new(
        NodeIdentity::from_secret([1; 32]),
        RouterConfig::default(),
        UnixMillis::from_unix_ms(1_800_000_000_000),
        1,
        Default::default(),
    )
}

fn params(n: u8) -> LinkParams {
    LinkParams { neighbour: Address([n; 16]), cost: 10, bandwidth_bps: 21_875 }
}

fn transmits(router: &mut Router) -> Vec<LinkId> {
    let mut out = Vec::new();
    router.drain_into(&mut out);
    out.into_iter()
        .filter_map(|o| match o {
            RouterOutput::Transmit { link, .. } => Some(link),
            _ => None,
        })
        .collect()
}

fn radio(neighbour: u32) -> LinkId {
    LinkId::Radio { radio: 0, neighbour }
}

#[test]
fn a_flood_goes_on_a_radio_channel_once_whatever_the_number_of_neighbours() {
    let mut r = router();
    let now = Millis::from_ms(1);
    for n in 1..=4 {
        r.link_up(radio(n), params(n as u8 + 1), now);
    }
    r.link_up(LinkId::Quic(7), params(9), now);
    transmits(&mut r);
    r.flood(300, b"to everyone", 8, true, now);
    let mut sent = transmits(&mut r);
    sent.sort();
    assert_eq!(sent, vec![LinkId::Quic(7), LinkId::RadioChannel(0)]);
}

#[test]
fn a_flood_heard_on_the_channel_goes_on_over_it_only_when_someone_else_is_there() {
    let mut r = router();
    let now = Millis::from_ms(1);
    r.link_up(radio(1), params(2), now);
    transmits(&mut r);
    // Another node's flood, heard from neighbour 1, the only one on the channel.
    let mut sender = Router::new(
        NodeIdentity::from_secret([5; 32]),
        RouterConfig::default(),
        UnixMillis::from_unix_ms(1_800_000_000_000),
        5,
        Default::default(),
    );
    sender.link_up(LinkId::Quic(1), params(1), now);
    transmits(&mut sender);
    let flood = |sender: &mut Router| {
        sender.flood(300, b"hello mesh", 8, true, now);
        let mut out = Vec::new();
        sender.drain_into(&mut out);
        out.into_iter()
            .find_map(|o| match o {
                RouterOutput::Transmit { packet, .. } => Some(packet),
                _ => None,
            })
            .expect("a flood packet")
    };
    r.receive(radio(1), flood(&mut sender), now);
    assert_eq!(transmits(&mut r), Vec::<LinkId>::new(), "nobody else on the channel");
    // With a second neighbour on the channel, it is rebroadcast there once.
    r.link_up(radio(2), params(3), now);
    transmits(&mut r);
    r.receive(radio(1), flood(&mut sender), now);
    assert_eq!(transmits(&mut r), vec![LinkId::RadioChannel(0)]);
}

#[test]
fn announces_go_on_a_channel_once_under_the_channels_budget() {
    let mut r = router();
    let now = Millis::from_ms(1);
    for n in 1..=5 {
        r.link_up(radio(n), params(n as u8 + 1), now);
    }
    // Each neighbour got this node's announce when it came up (unicast).
    let greeted = transmits(&mut r);
    assert_eq!(greeted.len(), 5);
    assert!(greeted.iter().all(|l| matches!(l, LinkId::Radio { .. })));
    // The periodic announce goes on the air once for all five.
    r.poll(Millis::from_ms(RouterConfig::default().announce_interval_ms + 10));
    let periodic = transmits(&mut r);
    assert_eq!(periodic, vec![LinkId::RadioChannel(0)]);
    // When the last neighbour goes, the channel goes with it.
    for n in 1..=5 {
        r.link_down(radio(n));
    }
    r.flood(300, b"anyone?", 8, true, now);
    assert!(transmits(&mut r).is_empty());
}
