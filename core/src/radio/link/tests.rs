//! Behaviour of a radio link between two ends carried by hand.

use super::super::test_support::{done, info, received, transmits};
use super::*;
use crate::time::{Micros, UnixMillis};
use weft_plugin_api::actions::LinkState;

const MS: u64 = 1_000;
/// The Unix time at the links' clock origin.
const WALL: UnixMillis = UnixMillis::from_unix_ms(1_800_000_000_000);

fn identity(n: u8) -> NodeIdentity {
    NodeIdentity::from_secret([n; 32])
}

fn address(n: u8) -> Address {
    identity(n).address()
}

/// A link whose driver reported `mtu` and came up.
fn up(own: u8, mtu: u16, settings: RadioSettings) -> (RadioLink, Vec<RadioOutput>) {
    let mut link = RadioLink::new(&identity(own), WALL, settings, u64::from(own));
    let mut out = Vec::new();
    let actions =
        vec![Action::RadioInfo(info(mtu)), Action::LinkState(LinkState { up: true, detail: "configured".into() })];
    link.driver_actions(actions, Micros::ZERO, &mut out);
    // The first hello waits a random moment, at most this long.
    link.poll(Micros::from_us(HELLO_STARTUP_JITTER_US), &mut out);
    (link, out)
}

/// Carries every frame `from` transmits to `to` (dropping those `lose`
/// picks) and acknowledges it, until nothing moves; returns what `to`
/// produced for the router.
fn carry(
    from: &mut RadioLink,
    from_out: &mut Vec<RadioOutput>,
    to: &mut RadioLink,
    now: Micros,
    mut lose: impl FnMut(usize) -> bool,
) -> Vec<RadioOutput> {
    let mut delivered = Vec::new();
    let mut n = 0;
    loop {
        let sent = transmits(from_out);
        if sent.is_empty() {
            break;
        }
        for t in sent {
            if !lose(n) {
                to.driver_actions(vec![received(t.frame)], now, &mut delivered);
            }
            n += 1;
            from.driver_actions(vec![done(t.id, true)], now, from_out);
        }
    }
    delivered
}

fn packets(out: &[RadioOutput]) -> Vec<Vec<u8>> {
    out.iter()
        .filter_map(|o| if let RadioOutput::Packet { packet, .. } = o { Some(packet.clone()) } else { None })
        .collect()
}

/// The number `link` gave the neighbour of node `n`.
fn number_of(link: &RadioLink, n: u8) -> u32 {
    link.neighbours().into_iter().find(|(_, a)| *a == address(n)).map(|(number, _)| number).expect("a neighbour")
}

/// `a` sends `packet` to its neighbour `n`.
fn send_to(a: &mut RadioLink, n: u8, packet: &[u8], now: Micros, out: &mut Vec<RadioOutput>) {
    let dest = RadioDest::Neighbour(number_of(a, n));
    a.send_packet(dest, packet, now, out).expect("queued");
}

/// Two links that heard each other's hellos.
fn pair(mtu: u16, settings: RadioSettings) -> (RadioLink, RadioLink) {
    let (mut a, mut a_out) = up(1, mtu, settings.clone());
    let (mut b, mut b_out) = up(2, mtu, settings);
    let mut ups = 0;
    // Hellos and their answers, until the air is quiet.
    for _ in 0..4 {
        let at_b = carry(&mut a, &mut a_out, &mut b, Micros::ZERO, |_| false);
        let at_a = carry(&mut b, &mut b_out, &mut a, Micros::ZERO, |_| false);
        ups += at_a.iter().chain(&at_b).filter(|o| matches!(o, RadioOutput::NeighbourUp { .. })).count();
        b_out.extend(at_b);
        a_out.extend(at_a);
    }
    assert_eq!(ups, 2, "each side announces its neighbour once");
    assert!(transmits(&mut a_out).is_empty() && transmits(&mut b_out).is_empty());
    (a, b)
}

fn data_packet(len: usize) -> Vec<u8> {
    // First byte 0x40: version 1, kind Data: a routed packet, not link control.
    let mut p = vec![0x40];
    p.extend((1..len).map(|i| (i * 7 % 251) as u8));
    p
}

#[test]
fn hellos_make_the_two_ends_neighbours() {
    let (a, b) = pair(255, RadioSettings::default());
    assert_eq!(a.neighbours(), vec![(1, address(2))]);
    assert_eq!(b.neighbours(), vec![(1, address(1))]);
    assert_eq!(a.counters.hellos_forged + a.counters.unverified + a.counters.hellos_replayed, 0);
}

#[test]
fn a_two_kilobyte_packet_crosses_255_byte_frames_intact() {
    let (mut a, mut b) = pair(255, RadioSettings::default());
    let packet = data_packet(2048);
    let mut out = Vec::new();
    send_to(&mut a, 2, &packet, Micros::from_us(MS), &mut out);
    let mut frames = 0;
    let delivered = carry(&mut a, &mut out, &mut b, Micros::from_us(MS), |_| {
        frames += 1;
        false
    });
    assert_eq!(frames, 9, "2048 bytes in frames of 239 payload bytes (255 - 13 link - 3 fragment)");
    assert_eq!(packets(&delivered), vec![packet]);
}

#[test]
fn a_lost_fragment_loses_the_packet_and_is_counted_never_delivered_corrupt() {
    let settings = RadioSettings { reassembly_timeout_us: 5_000 * MS, ..RadioSettings::default() };
    let (mut a, mut b) = pair(255, settings);
    let mut out = Vec::new();
    send_to(&mut a, 2, &data_packet(2048), Micros::from_us(MS), &mut out);
    let delivered = carry(&mut a, &mut out, &mut b, Micros::from_us(MS), |n| n == 4);
    assert!(packets(&delivered).is_empty());
    let mut later = Vec::new();
    b.poll(Micros::from_us(MS + 5_001 * MS), &mut later);
    assert!(packets(&later).is_empty());
    assert_eq!(b.status(Micros::from_us(MS + 5_001 * MS)).reassembly.timed_out, 1);
    // The next packet is unaffected.
    let packet = data_packet(600);
    send_to(&mut a, 2, &packet, Micros::from_us(6_000 * MS), &mut out);
    let delivered = carry(&mut a, &mut out, &mut b, Micros::from_us(6_000 * MS), |_| false);
    assert_eq!(packets(&delivered), vec![packet]);
}

#[test]
fn a_failed_transmit_is_sent_again_first_and_order_holds() {
    let (mut a, mut b) = pair(255, RadioSettings::default());
    let mut out = Vec::new();
    let (one, two) = (data_packet(100), data_packet(120));
    send_to(&mut a, 2, &one, Micros::from_us(MS), &mut out);
    send_to(&mut a, 2, &two, Micros::from_us(MS), &mut out);
    let first = transmits(&mut out);
    assert_eq!(first.len(), 1, "one transmit outstanding at a time");
    a.driver_actions(vec![done(first[0].id, false)], Micros::from_us(MS), &mut out);
    assert!(transmits(&mut out).is_empty(), "a failed transmit is retried after a pause, not at once");
    let retry_at = MS + TX_RETRY_FIRST_US;
    a.poll(Micros::from_us(retry_at), &mut out);
    let delivered = carry(&mut a, &mut out, &mut b, Micros::from_us(retry_at), |_| false);
    assert_eq!(packets(&delivered), vec![one, two]);
    assert_eq!(a.counters.tx_failed, 1);
}

#[test]
fn an_hour_of_full_load_stays_within_the_duty_cycle_and_loses_nothing() {
    // 1 % of an hour is 36 s of airtime; offer far more than that.
    let settings =
        RadioSettings { queue_limit_bytes: 4 << 20, duty_cycle_percent: Some(1.0), ..RadioSettings::default() };
    let (mut a, mut b) = pair(255, settings);
    let budget = HOUR_US / 100;
    let mut now = MS;
    let mut out = Vec::new();
    let mut sent_log: Vec<(u64, u64)> = Vec::new(); // (start, airtime)
    let mut offered = 0;
    let mut delivered = 0;
    // Two simulated hours in 100 ms steps, a 200-byte packet offered every step.
    while now < 2 * HOUR_US {
        if a.send_packet(RadioDest::Neighbour(1), &data_packet(200), Micros::from_us(now), &mut out).is_ok() {
            offered += 1;
        }
        a.poll(Micros::from_us(now), &mut out);
        for t in transmits(&mut out) {
            // Hellos share the ledger: log every frame at its own airtime.
            sent_log.push((now, LoraParams::default().time_on_air_us(t.frame.len())));
            let mut at_b = Vec::new();
            b.driver_actions(vec![received(t.frame)], Micros::from_us(now), &mut at_b);
            delivered += packets(&at_b).len();
            // (Acknowledged at once: the next frame's start is then `now`
            // for the queue and for this log alike.)
            a.driver_actions(vec![done(t.id, true)], Micros::from_us(now), &mut out);
        }
        now += 100 * MS;
    }
    // No one-hour window holds more airtime than the budget.
    for &(start, _) in &sent_log {
        let in_window: u64 = sent_log.iter().filter(|(s, _)| *s >= start && *s < start + HOUR_US).map(|(_, a)| a).sum();
        assert!(in_window <= budget, "window from {start} µs used {in_window} µs of {budget}");
    }
    let used: u64 = sent_log.iter().map(|(_, a)| a).sum();
    assert!(used > budget, "the load used the budget of both hours ({used} µs)");
    // Everything offered was delivered or still waits: nothing dropped.
    let hellos_waiting = (a.counters.hellos_out - b.counters.hellos_in) as usize;
    let waiting = a.status(Micros::from_us(now)).queued_frames - hellos_waiting;
    assert_eq!(offered, delivered + waiting);
    assert!(waiting > 0, "the offered load exceeds what two hours of budget carry");
    assert!(a.status(Micros::from_us(now)).tx.held_for_budget > 0);
}

#[test]
fn a_swap_waits_for_the_outstanding_frame_then_pauses_until_the_new_driver_is_up() {
    let (mut a, mut b) = pair(255, RadioSettings::default());
    let mut out = Vec::new();
    send_to(&mut a, 2, &data_packet(100), Micros::from_us(MS), &mut out);
    send_to(&mut a, 2, &data_packet(110), Micros::from_us(MS), &mut out);
    let outstanding = transmits(&mut out);
    a.begin_swap(Micros::from_us(2 * MS), &mut out);
    assert!(!out.contains(&RadioOutput::SwapReady), "must wait for the outstanding frame");
    a.driver_actions(vec![done(outstanding[0].id, true)], Micros::from_us(3 * MS), &mut out);
    assert!(out.contains(&RadioOutput::SwapReady));
    out.clear();
    a.driver_replaced(false);
    a.poll(Micros::from_us(4 * MS), &mut out);
    assert!(transmits(&mut out).is_empty(), "no frames to a driver that is not up");
    a.driver_actions(
        vec![Action::LinkState(LinkState { up: true, detail: "re-synced".into() })],
        Micros::from_us(9 * MS),
        &mut out,
    );
    assert_eq!(a.status(Micros::from_us(9 * MS)).last_swap_stall_us, Some(6 * MS));
    let delivered = carry(&mut a, &mut out, &mut b, Micros::from_us(9 * MS), |_| false);
    assert_eq!(packets(&delivered), vec![data_packet(110)]);
}

#[test]
fn a_swap_whose_old_driver_never_answers_requeues_the_frame() {
    let settings = RadioSettings { swap_wait_us: 100 * MS, ..RadioSettings::default() };
    let (mut a, _) = pair(255, settings);
    let mut out = Vec::new();
    send_to(&mut a, 2, &data_packet(100), Micros::from_us(MS), &mut out);
    assert_eq!(transmits(&mut out).len(), 1);
    a.begin_swap(Micros::from_us(2 * MS), &mut out);
    a.poll(Micros::from_us(102 * MS), &mut out);
    assert!(out.contains(&RadioOutput::SwapReady));
    assert_eq!(a.status(Micros::from_us(102 * MS)).queued_frames, 1, "the frame waits for the new driver");
}

#[test]
fn only_the_configured_peer_becomes_the_neighbour() {
    let settings = RadioSettings { peer: Some(Address([9; 16])), ..RadioSettings::default() };
    let (mut a, _) = up(1, 255, settings);
    let hello = super::super::frame::hello(&identity(2), false, 1_800_000_000, &Default::default());
    let mut out = Vec::new();
    a.driver_actions(vec![received(hello)], Micros::from_us(MS), &mut out);
    assert!(a.neighbours().is_empty());
    assert_eq!(a.counters.foreign, 1);
}

#[test]
fn the_driver_timers_fire_in_order() {
    let (mut a, _) = up(1, 255, RadioSettings::default());
    let mut out = Vec::new();
    let timers = vec![
        Action::SetTimer(weft_plugin_api::actions::SetTimer { id: 2, after_ms: 20 }),
        Action::SetTimer(weft_plugin_api::actions::SetTimer { id: 1, after_ms: 10 }),
    ];
    a.driver_actions(timers, Micros::ZERO, &mut out);
    out.clear();
    a.poll(Micros::from_us(30 * MS), &mut out);
    let fired: Vec<u64> = out
        .iter()
        .filter_map(|o| if let RadioOutput::Driver(Event::Timer(t)) = o { Some(t.id) } else { None })
        .collect();
    assert_eq!(fired, vec![1, 2]);
}

#[test]
fn a_driver_that_faults_mid_transmit_loses_nothing_once_its_restart_reports_up() {
    let (mut a, mut b) = pair(255, RadioSettings::default());
    let mut out = Vec::new();
    let (one, two) = (data_packet(100), data_packet(120));
    send_to(&mut a, 2, &one, Micros::from_us(MS), &mut out);
    send_to(&mut a, 2, &two, Micros::from_us(MS), &mut out);
    assert_eq!(transmits(&mut out).len(), 1, "the first frame went to the driver");
    a.driver_actions(
        vec![Action::SetTimer(weft_plugin_api::actions::SetTimer { id: 9, after_ms: 5 })],
        Micros::from_us(MS),
        &mut out,
    );
    // The driver faults before it answers: the frame is queued again, the
    // dead instance's timer is forgotten, nothing goes out until it is back.
    a.driver_lost("trap", Micros::from_us(2 * MS), &mut out);
    assert!(!a.driver_up());
    a.poll(Micros::from_us(100 * MS), &mut out);
    assert!(transmits(&mut out).is_empty(), "nothing is handed to a driver that is down");
    assert!(!out.iter().any(|o| matches!(o, RadioOutput::Driver(Event::Timer(_)))), "the old timer never fires");
    // The restarted driver reports up: both frames go out, in order.
    a.driver_actions(
        vec![Action::LinkState(LinkState { up: true, detail: "restarted".into() })],
        Micros::from_us(200 * MS),
        &mut out,
    );
    let delivered = carry(&mut a, &mut out, &mut b, Micros::from_us(200 * MS), |_| false);
    assert_eq!(packets(&delivered), vec![one, two]);
    assert_eq!(a.counters.tx_failed, 1, "the frame that may have gone out is counted");
}

#[test]
fn a_transmit_the_runtime_did_not_hand_over_is_sent_at_the_next_poll() {
    let (mut a, mut b) = pair(255, RadioSettings::default());
    let mut out = Vec::new();
    let one = data_packet(100);
    send_to(&mut a, 2, &one, Micros::from_us(MS), &mut out);
    let skipped = transmits(&mut out);
    assert_eq!(skipped.len(), 1);
    a.transmit_not_taken(skipped[0].id, Micros::from_us(MS));
    assert_eq!(a.next_deadline(), Some(Micros::from_us(MS)), "due again at once");
    a.poll(Micros::from_us(MS), &mut out);
    let delivered = carry(&mut a, &mut out, &mut b, Micros::from_us(MS), |_| false);
    assert_eq!(packets(&delivered), vec![one]);
    assert_eq!(a.counters.tx_failed, 0, "it never reached the radio");
}

/// Links on one channel where everyone hears everyone: every frame one
/// transmits reaches all the others (and is acknowledged), until the air
/// is quiet. Returns what each produced for the router, and the number of
/// frames that went on the air.
fn air(links: &mut [RadioLink], outs: &mut [Vec<RadioOutput>], now: Micros) -> (Vec<Vec<RadioOutput>>, usize) {
    let mut produced: Vec<Vec<RadioOutput>> = vec![Vec::new(); links.len()];
    let mut on_air = 0;
    for _ in 0..64 {
        let mut moved = false;
        for i in 0..links.len() {
            for t in transmits(&mut outs[i]) {
                moved = true;
                on_air += 1;
                for j in (0..links.len()).filter(|&j| j != i) {
                    let mut heard = Vec::new();
                    links[j].driver_actions(vec![received(t.frame.clone())], now, &mut heard);
                    produced[j].extend(heard.iter().filter(|o| !matches!(o, RadioOutput::Driver(_))).cloned());
                    outs[j].extend(heard);
                }
                let mut more = Vec::new();
                links[i].driver_actions(vec![done(t.id, true)], now, &mut more);
                outs[i].extend(more);
            }
        }
        for (link, out) in links.iter_mut().zip(outs.iter_mut()) {
            link.poll(now, out);
        }
        if !moved && outs.iter().all(|o| !o.iter().any(|x| matches!(x, RadioOutput::Driver(Event::Transmit(_))))) {
            break;
        }
    }
    (produced, on_air)
}

/// Three links on one channel that heard each other's hellos.
fn three() -> Vec<RadioLink> {
    let mut links = Vec::new();
    let mut outs = Vec::new();
    for n in 1..=3 {
        let (link, out) = up(n, 255, RadioSettings::default());
        links.push(link);
        outs.push(out);
    }
    // Startup hellos ask for answers (which wait up to the jitter), then
    // confirms go both ways.
    for step in 0..60 {
        air(&mut links, &mut outs, Micros::from_us(HELLO_STARTUP_JITTER_US + step * 500 * MS));
    }
    links
}

#[test]
fn one_radio_serves_every_node_in_range_and_a_broadcast_goes_on_the_air_once() {
    let mut links = three();
    for (i, link) in links.iter().enumerate() {
        let others: Vec<Address> = (1..=3u8).filter(|&n| n != i as u8 + 1).map(address).collect();
        let mut heard: Vec<Address> = link.neighbours().into_iter().map(|(_, a)| a).collect();
        heard.sort();
        let mut want = others.clone();
        want.sort();
        assert_eq!(heard, want, "node {} hears both others", i + 1);
    }
    let now = Micros::from_us(60_000 * MS);
    let mut outs = vec![Vec::new(), Vec::new(), Vec::new()];
    let flood = data_packet(150);
    links[0].send_packet(RadioDest::Everyone, &flood, now, &mut outs[0]).expect("queued");
    let (produced, on_air) = air(&mut links, &mut outs, now);
    assert_eq!(on_air, 1, "one broadcast frame for both neighbours");
    assert_eq!(packets(&produced[1]), vec![flood.clone()]);
    assert_eq!(packets(&produced[2]), vec![flood]);
    // A unicast reaches its addressee only; the third node overhears it.
    let unicast = data_packet(90);
    let overheard_before = links[1].counters.overheard;
    let to_c = number_of(&links[0], 3);
    links[0].send_packet(RadioDest::Neighbour(to_c), &unicast, now, &mut outs[0]).expect("queued");
    let (produced, _) = air(&mut links, &mut outs, now);
    assert_eq!(packets(&produced[2]), vec![unicast]);
    assert!(packets(&produced[1]).is_empty());
    assert_eq!(links[1].counters.overheard - overheard_before, 1);
    // Each delivery names the neighbour it came from.
    let from = produced[2].iter().find_map(|o| match o {
        RadioOutput::Packet { neighbour, .. } => Some(*neighbour),
        _ => None,
    });
    assert_eq!(from, Some(number_of(&links[2], 1)));
}

#[test]
fn a_spoofed_or_replayed_hello_is_not_adopted() {
    let (mut a, _) = up(1, 255, RadioSettings::default());
    let now = Micros::from_us(10_000 * MS);
    let mut out = Vec::new();
    // A hello claiming node 2's key, signed by someone else.
    let mut forged = super::super::frame::hello(&identity(9), false, 1_800_000_010, &Default::default());
    forged[2..34].copy_from_slice(&identity(2).public_key().to_bytes());
    a.driver_actions(vec![received(forged)], now, &mut out);
    assert!(a.neighbours().is_empty());
    assert_eq!(a.counters.hellos_forged, 1);
    // A genuine hello of node 2 recorded long ago and played back now.
    let old = super::super::frame::hello(&identity(2), false, 1_800_000_000 - 3600, &Default::default());
    a.driver_actions(vec![received(old)], now, &mut out);
    assert!(a.neighbours().is_empty());
    assert_eq!(a.counters.hellos_skewed, 1);
    // A fresh one is taken; playing it back again is a replay.
    let heard = |a: &mut RadioLink| -> Vec<Address> { a.status(now).neighbours.iter().map(|n| n.address).collect() };
    assert!(heard(&mut a).is_empty());
    let fresh = super::super::frame::hello(&identity(2), false, 1_800_000_010, &Default::default());
    a.driver_actions(vec![received(fresh.clone())], now, &mut out);
    assert_eq!(heard(&mut a), vec![address(2)], "adopted (usable once it confirms)");
    a.driver_actions(vec![received(fresh)], now, &mut out);
    assert_eq!(a.counters.hellos_replayed, 1);
    // Our own hello heard back is not a neighbour either.
    let own = super::super::frame::hello(&identity(1), false, 1_800_000_011, &Default::default());
    a.driver_actions(vec![received(own)], now, &mut out);
    assert_eq!(heard(&mut a), vec![address(2)]);
}

#[test]
fn frames_from_anyone_but_a_verified_neighbour_are_ignored_and_counted() {
    let (mut a, mut b) = pair(255, RadioSettings::default());
    let now = Micros::from_us(10_000 * MS);
    let packet = data_packet(80);
    let (short_a, short_b) = (ShortId::of(&address(1)), ShortId::of(&address(2)));
    let mut out = Vec::new();
    // A stranger (node 7, no hello) sends to a, broadcasts, or claims to be
    // b with a tag it cannot make.
    let stranger_key = super::super::frame::link_key(&identity(7), &identity(1).public_key()).unwrap();
    let from_stranger = super::super::frame::unicast(short_a, ShortId::of(&address(7)), &packet, &stranger_key);
    let as_b = super::super::frame::unicast(short_a, short_b, &packet, &stranger_key);
    let broadcast = super::super::frame::broadcast(ShortId::of(&address(7)), &packet);
    for frame in [from_stranger, as_b, broadcast] {
        a.driver_actions(vec![received(frame)], now, &mut out);
    }
    assert!(packets(&out).is_empty(), "nothing reached the router");
    assert_eq!((a.counters.unverified, a.counters.bad_tag), (2, 1));
    // b's own frames still arrive.
    let mut b_out = Vec::new();
    send_to(&mut b, 1, &packet, now, &mut b_out);
    let delivered = carry(&mut b, &mut b_out, &mut a, now, |_| false);
    assert_eq!(packets(&delivered), vec![packet]);
}

#[test]
fn a_neighbour_that_goes_quiet_goes_down_and_a_fresh_hello_brings_it_back() {
    let settings = RadioSettings { neighbour_timeout_us: 1_000 * MS, ..RadioSettings::default() };
    let (mut a, mut b) = pair(255, settings);
    let mut out = Vec::new();
    a.poll(Micros::from_us(1_001 * MS), &mut out);
    assert!(out.contains(&RadioOutput::NeighbourDown { neighbour: 1, address: address(2) }));
    assert!(a.neighbours().is_empty());
    assert!(a.send_packet(RadioDest::Neighbour(1), &data_packet(50), Micros::from_us(1_001 * MS), &mut out).is_err());
    // b's next hello (its clock moved on) brings it back under its number.
    let mut b_out = Vec::new();
    let t = Micros::from_us(2_000 * MS);
    b.queue_hello(false, t, &mut b_out);
    let mut at_a = carry(&mut b, &mut b_out, &mut a, t, |_| false);
    // a confirms (asking for one back); b answers; a may use b again.
    let at_b = carry(&mut a, &mut at_a, &mut b, t, |_| false);
    b_out.extend(at_b);
    let at_a = carry(&mut b, &mut b_out, &mut a, t, |_| false);
    assert!(at_a.iter().any(|o| matches!(o, RadioOutput::NeighbourUp { neighbour: 1, .. })));
    assert_eq!(a.neighbours(), vec![(1, address(2))]);
}

#[test]
fn a_neighbour_heard_one_way_only_is_never_used() {
    let (mut a, mut a_out) = up(1, 255, RadioSettings::default());
    let (mut b, mut b_out) = up(2, 255, RadioSettings::default());
    let mut ups = 0;
    for step in 0..60u64 {
        let now = Micros::from_us(HELLO_STARTUP_JITTER_US + step * 500 * MS);
        a.poll(now, &mut a_out);
        b.poll(now, &mut b_out);
        // b's frames reach a; a's never reach b (they are acknowledged and lost).
        let at_a = carry(&mut b, &mut b_out, &mut a, now, |_| false);
        ups += at_a.iter().filter(|o| matches!(o, RadioOutput::NeighbourUp { .. })).count();
        a_out.extend(at_a);
        carry(&mut a, &mut a_out, &mut b, now, |_| true);
    }
    assert_eq!(ups, 0, "a heard b, but b never showed it hears a");
    assert!(a.neighbours().is_empty());
    let row = &a.status(Micros::from_us(30_000 * MS)).neighbours[0];
    assert!(row.unconfirmed && !row.up, "{row:?}");
    assert!(a.counters.confirms_out >= 3, "a kept offering its confirm");
}

/// A flood packet (kind 1) with hop count `hops`.
fn flood_packet(hops: u8) -> Vec<u8> {
    let mut p = vec![0x48, hops, 8];
    p.extend((0..60).map(|i| (i * 13 % 251) as u8));
    p
}

/// Who hears whom, and how well: `None` out of range, else the SNR.
type Air<'a> = &'a dyn Fn(usize, usize) -> Option<f32>;

/// Moves time on from `from` to `to` in steps of `step`, polling every
/// link; each frame one transmits reaches the links `air` says hear it,
/// at the SNR it gives. Returns the broadcast frames that went on the air
/// and what each link produced for the router.
fn air_over_time(
    links: &mut [RadioLink],
    outs: &mut [Vec<RadioOutput>],
    (from, to, step): (Micros, Micros, u64),
    air: Air<'_>,
) -> (usize, Vec<Vec<RadioOutput>>) {
    let mut broadcasts = 0;
    let mut produced: Vec<Vec<RadioOutput>> = vec![Vec::new(); links.len()];
    let mut now = from;
    while now <= to {
        for (link, out) in links.iter_mut().zip(outs.iter_mut()) {
            link.poll(now, out);
        }
        for i in 0..links.len() {
            for t in transmits(&mut outs[i]) {
                broadcasts += usize::from(t.frame.first() == Some(&super::super::frame::BROADCAST));
                for j in (0..links.len()).filter(|&j| j != i) {
                    let Some(snr) = air(i, j) else { continue };
                    let heard = Action::FrameReceived(weft_plugin_api::actions::FrameReceived {
                        frame: t.frame.clone(),
                        rssi_dbm: Some(-100),
                        snr_db: Some(snr),
                    });
                    let mut got = Vec::new();
                    links[j].driver_actions(vec![heard], now, &mut got);
                    produced[j].extend(got.iter().filter(|o| !matches!(o, RadioOutput::Driver(_))).cloned());
                    outs[j].extend(got);
                }
                let mut more = Vec::new();
                links[i].driver_actions(vec![done(t.id, true)], now, &mut more);
                outs[i].extend(more);
            }
        }
        now = now.after_us(step);
    }
    (broadcasts, produced)
}

/// Nodes `1..=count` on one channel, hearing each other where `air` says
/// (at 8 dB); hellos every 10 s, so after 40 s every hello names the
/// sender's neighbours. Node 1 floods; every node that hears it directly
/// relays it as the router would. Returns the broadcast frames on air
/// (node 1's own included), and the links.
fn flood_over(count: u8, flood_suppress_copies: u32, hears: &dyn Fn(usize, usize) -> bool) -> (usize, Vec<RadioLink>) {
    let air = move |from: usize, to: usize| hears(from.min(to), from.max(to)).then_some(8.0);
    let (mut links, mut outs, t0) = met(count, flood_suppress_copies, &air);
    links[0].send_packet(RadioDest::Everyone, &flood_packet(0), t0, &mut outs[0]).expect("queued");
    let heard = (t0, t0.after_us(50 * MS), MS);
    let (mut broadcasts, produced) = air_over_time(&mut links, &mut outs, heard, &air);
    let t1 = t0.after_us(50 * MS);
    for i in (1..usize::from(count)).filter(|&i| air(0, i).is_some()) {
        assert_eq!(packets(&produced[i]), vec![flood_packet(0)], "node {} hears the flood", i + 1);
        links[i].send_packet(RadioDest::Everyone, &flood_packet(1), t1, &mut outs[i]).expect("taken");
    }
    broadcasts += air_over_time(&mut links, &mut outs, (t1, t1.after_us(10_000 * MS), MS), &air).0;
    (broadcasts, links)
}

/// Nodes `1..=count` on one channel as `air` says, after 40 s of hellos
/// every 10 s (every hello then names its sender's neighbours); returns
/// the links, their outputs and the time.
fn met(count: u8, flood_suppress_copies: u32, air: Air<'_>) -> (Vec<RadioLink>, Vec<Vec<RadioOutput>>, Micros) {
    let settings = RadioSettings { hello_interval_us: 10_000 * MS, flood_suppress_copies, ..RadioSettings::default() };
    let (mut links, mut outs): (Vec<_>, Vec<_>) = (1..=count).map(|n| up(n, 255, settings.clone())).unzip();
    let start = Micros::from_us(HELLO_STARTUP_JITTER_US);
    let setup = (start, start.after_us(40_000 * MS), 10 * MS);
    air_over_time(&mut links, &mut outs, setup, air);
    for (i, link) in links.iter().enumerate() {
        let want = (0..usize::from(count)).filter(|&j| j != i && air(i, j).is_some()).count();
        assert_eq!(link.neighbours().len(), want, "node {} knows its neighbours", i + 1);
    }
    (links, outs, start.after_us(40_000 * MS))
}

/// A relay that waited its moment but then had to queue (the radio was
/// busy with another frame) is taken back when its turn comes if by then
/// every neighbour has the flood: in the diamond, 3's relay is queued
/// behind its own transmit, 2 relays meanwhile, and 3 never sends its copy.
/// The diamond without its diagonal (1 - 2, 1 - 3, 2 - 3, 2 - 4, 3 - 4).
fn diamond(a: usize, b: usize) -> Option<f32> {
    ((a.min(b), a.max(b)) != (0, 3)).then_some(8.0)
}

/// The diamond after 1's flood, with 3 busy: a frame of its own is with
/// the driver and not done (returned), and 3 holds its relay of the
/// flood. Returns the links, their outputs, the time and 3's transmit.
fn relay_behind_a_busy_radio() -> (Vec<RadioLink>, Vec<Vec<RadioOutput>>, Micros, TransmitRequest) {
    let (mut links, mut outs, t0) = met(4, 1, &diamond);
    links[0].send_packet(RadioDest::Everyone, &flood_packet(0), t0, &mut outs[0]).expect("queued");
    air_over_time(&mut links, &mut outs, (t0, t0.after_us(50 * MS), MS), &diamond);
    let t1 = t0.after_us(50 * MS);
    let mut own = flood_packet(0);
    own[3] ^= 0xff;
    links[2].send_packet(RadioDest::Everyone, &own, t1, &mut outs[2]).expect("queued");
    let busy = transmits(&mut outs[2]);
    assert_eq!(busy.len(), 1, "3's own frame went to the driver");
    links[2].send_packet(RadioDest::Everyone, &flood_packet(1), t1, &mut outs[2]).expect("taken");
    let busy = busy.into_iter().next().expect("one transmit");
    (links, outs, t1, busy)
}

#[test]
fn a_queued_relay_is_withdrawn_when_its_turn_comes_and_every_neighbour_has_the_flood() {
    let air = diamond;
    let (mut links, mut outs, t1, busy) = relay_behind_a_busy_radio();
    // 2 gets its relay long after 3's moment (at most 24 slots) has come.
    let t2 = t1.after_us(3_000 * MS);
    air_over_time(&mut links, &mut outs, (t1, t2, MS), &air);
    assert_eq!(links[2].counters.relays_sent, 1, "3's relay was queued at its moment: 4 still lacked the flood");
    links[1].send_packet(RadioDest::Everyone, &flood_packet(1), t2, &mut outs[1]).expect("taken");
    let t3 = t2.after_us(3_000 * MS);
    air_over_time(&mut links, &mut outs, (t2, t3, MS), &air);
    assert_eq!(links[1].counters.relays_sent, 1, "2 relays: it has not heard 3's");
    // 3's own frame is done: its relay's turn, and 4 has the flood from 2.
    let mut after = Vec::new();
    links[2].driver_actions(vec![done(busy.id, true)], t3, &mut after);
    let sent = transmits(&mut after);
    assert!(sent.is_empty(), "nothing more from 3: {sent:?}");
    assert_eq!(links[2].counters.relays_withdrawn, 1);
    assert!(links[2].queue.is_empty());
}

/// A relay queued behind a transmit the radio never finishes (a modem that
/// went quiet for minutes) is withdrawn, not sent, when the radio comes
/// back: the mesh has forgotten the flood and would take it for a new one.
#[test]
fn a_relay_that_waited_a_minute_for_the_radio_is_withdrawn_not_sent() {
    let (mut links, _outs, t1, stuck) = relay_behind_a_busy_radio();
    let mut out = Vec::new();
    let mut now = t1;
    while now < t1.after_us(RELAY_STALE_US + 5_000 * MS) {
        links[2].poll(now, &mut out);
        now = now.after_us(100 * MS);
    }
    assert_eq!(links[2].counters.relays_sent, 1, "queued at its moment: 4 lacked the flood");
    // The radio answers at last; whatever 3 sends now is carried and done.
    links[2].driver_actions(vec![done(stuck.id, true)], now, &mut out);
    let mut sent = Vec::new();
    for _ in 0..10 {
        let batch = transmits(&mut out);
        if batch.is_empty() {
            break;
        }
        for t in batch {
            links[2].driver_actions(vec![done(t.id, true)], now, &mut out);
            sent.push(t.frame);
        }
    }
    assert!(
        !sent.iter().any(|f| f.ends_with(&flood_packet(1))),
        "the stale relay went out: {:?} {sent:?}",
        links[2].counters
    );
    assert_eq!((links[2].counters.relays_stale, links[2].counters.relays_withdrawn), (1, 0));
    assert!(links[2].queue.is_empty());
}

/// A diamond: 1 floods; 2 and 3 hear 1 and each other; 4 hears only 2 and
/// 3. With `diagonal` 4 hears 1 as well (then everyone has the flood from
/// 1 alone).
fn flood_in_a_diamond(flood_suppress_copies: u32, diagonal: bool) -> (usize, Vec<RadioLink>) {
    flood_over(4, flood_suppress_copies, &|a, b| diagonal || (a, b) != (0, 3))
}

#[test]
fn managed_flooding_relays_where_a_neighbour_lacks_the_flood_and_only_once() {
    let (on_air, links) = flood_in_a_diamond(1, false);
    assert_eq!(on_air, 2, "the flood and one relay, for node 4");
    let relays = [&links[1], &links[2]].map(|l| (l.counters.relays_sent, l.counters.relays_suppressed));
    assert!(
        relays == [(1, 0), (0, 1)] || relays == [(0, 1), (1, 0)],
        "one of 2 and 3 relays; the other hears it and knows from its hello that 4 has it: {relays:?}"
    );
    assert_eq!(links[2].relays.waiting(), 0);
}

/// 1 floods; 2 and 3 hear 1 and each other. One of them (`wide`) also
/// hears 4 and 5, which lack the flood; the other hears 4 only. The wide
/// one has half its neighbours to cover, the other a third: the wide one
/// goes first, and the other hears from its relay (and its hello) that 4
/// has it. Both ways round, so the random part of the wait cannot pass
/// the test by itself.
#[test]
fn the_relay_with_most_neighbours_to_cover_goes_first_and_covers_the_others() {
    for wide in [1usize, 2] {
        let narrow = 3 - wide;
        let hears = move |a: usize, b: usize| {
            matches!((a, b), (0, 1) | (0, 2) | (1, 2)) || (a.min(b) == wide && b >= 3) || (a, b) == (narrow, 3)
        };
        let (on_air, links) = flood_over(5, 1, &hears);
        assert_eq!(on_air, 2, "the flood and one relay, which covers 4 and 5");
        let counts = |i: usize| (links[i].counters.relays_sent, links[i].counters.relays_suppressed);
        assert_eq!(counts(wide), (1, 0), "node {} relays", wide + 1);
        assert_eq!(counts(narrow), (0, 1), "node {} stays quiet", narrow + 1);
    }
}

/// X and S are neighbours of this node; S sent a copy of a flood. S's
/// filter names Y, whose filter bits are X's (they differ only in the
/// short id's last byte): it seems to name X too. X
/// does not hear S, so X is not covered; once each names the other, it is.
#[test]
fn a_neighbour_is_covered_by_a_sender_only_if_each_names_the_other() {
    use super::super::frame::{NeighbourFilter, ShortId};
    let (me, x, s) = (ShortId(0x0101_0100), ShortId(0x0a0b_0c00), ShortId(0x2122_2300));
    let y = ShortId(x.0 ^ 0x0000_00ff);
    let filter = |ids: &[ShortId]| ids.iter().copied().collect::<NeighbourFilter>();
    assert!(filter(&[me, y]).contains(x), "the false positive this test is about");
    let (x_alone, s_hears_y) = ((x, filter(&[me])), (s, filter(&[me, y])));
    assert_eq!(uncovered(&[x_alone, s_hears_y], &[s]), (1, 2), "X lacks the flood: relay");
    let (x_hears_s, s_hears_x) = ((x, filter(&[me, s])), (s, filter(&[me, x])));
    assert_eq!(uncovered(&[x_hears_s, s_hears_x], &[s]), (0, 2), "covered both ways");
    assert_eq!(uncovered(&[x_hears_s, s_hears_y], &[s]), (0, 2), "X hears S, S's filter seems to name X");
    assert_eq!(uncovered(&[x_alone, s_hears_x], &[s]), (1, 2), "S hears X, X does not hear S");
    assert_eq!(uncovered(&[x_alone, s_hears_y], &[x]), (1, 2), "X sent a copy; S did not");
}

#[test]
fn a_relay_waits_longer_the_more_of_its_neighbours_have_the_flood() {
    assert_eq!(cover_slots(4, 4), 0.0, "nobody has it: at once");
    assert_eq!(cover_slots(0, 4), COVER_SLOTS, "everyone has it: the whole window");
    assert!((cover_slots(2, 4) - COVER_SLOTS / 4.0).abs() < 1e-9, "half covered: a quarter of the window");
    assert!(cover_slots(1, 3) > cover_slots(2, 4));
    assert_eq!(cover_slots(0, 0), COVER_SLOTS, "no neighbours: nothing to gain");
    assert_eq!(cover_slots(9, 4), 0.0, "clamped");
}

#[test]
fn a_flood_every_neighbour_heard_from_its_source_is_not_relayed() {
    let (on_air, links) = flood_in_a_diamond(1, true);
    assert_eq!(on_air, 1, "1's hello names everyone: nobody relays");
    assert_eq!(links[1].counters.relays_suppressed + links[2].counters.relays_suppressed, 2);
}

#[test]
fn naive_flooding_relays_every_copy_at_once() {
    let (on_air, links) = flood_in_a_diamond(0, false);
    assert_eq!(on_air, 3, "the flood and both relays");
    assert_eq!(links[1].counters.relays_suppressed + links[2].counters.relays_suppressed, 0);
}

#[test]
fn a_relay_of_a_flood_not_heard_on_this_channel_and_an_own_flood_go_at_once() {
    let (mut a, _) = pair(255, RadioSettings::default());
    let now = Micros::from_us(10_000 * MS);
    let mut out = Vec::new();
    // Came in over another link (QUIC): nobody on this channel has it yet.
    a.send_packet(RadioDest::Everyone, &flood_packet(3), now, &mut out).expect("queued");
    assert_eq!(transmits(&mut out).len(), 1);
    a.driver_actions(vec![done(a.next_tx_id - 1, true)], now, &mut out);
    a.send_packet(RadioDest::Everyone, &flood_packet(0), now, &mut out).expect("queued");
    assert_eq!(transmits(&mut out).len(), 1);
    assert_eq!(a.relays.waiting(), 0);
}

/// A session message (routed kind 6) for node `to`, `sealed` bytes long.
fn session_packet(to: u8, counter: u64, sealed: usize) -> Vec<u8> {
    use crate::routing::wire::{Body, Hops, Packet};
    let sealed: Vec<u8> = (0..sealed).map(|i| (i * 13 % 251) as u8).collect();
    let body = Body::Session { destination: address(to), index: 0x0102_0304, counter, sealed: &sealed };
    Packet { hops: Hops { count: 2, limit: 9 }, body }.encode()
}

/// The routed packet as its destination gets it from a compact frame: one
/// hop travelled, no further to go, every other byte as sent.
fn as_last_hop(mut packet: Vec<u8>) -> Vec<u8> {
    packet[1..3].copy_from_slice(&[1, 1]);
    packet
}

#[test]
fn a_session_message_on_its_last_hop_goes_as_a_compact_frame_and_arrives_whole() {
    use super::super::frame::{SESSION, SESSION_HEADER, UNICAST, UNICAST_OVERHEAD};
    let (mut a, mut b) = pair(255, RadioSettings::default());
    let now = Micros::from_us(10_000 * MS);
    // 100 bytes of payload sealed: flags, port, payload and the 16-byte tag.
    let packet = session_packet(2, 5, 1 + 1 + 100 + 16);
    let mut out = Vec::new();
    send_to(&mut a, 2, &packet, now, &mut out);
    let sent = transmits(&mut out);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].frame[0], SESSION, "a counter below 2^24 takes three bytes");
    assert_eq!(sent[0].frame.len(), SESSION_HEADER + 3 + 118, "34 bytes beyond the payload before the modem's");
    assert_eq!(packet.len() + UNICAST_OVERHEAD - sent[0].frame.len(), 26, "26 bytes fewer than a general unicast");
    let mut delivered = Vec::new();
    b.driver_actions(vec![received(sent[0].frame.clone())], now, &mut delivered);
    a.driver_actions(vec![done(sent[0].id, true)], now, &mut out);
    assert_eq!(packets(&delivered), vec![as_last_hop(packet.clone())]);
    assert!(matches!(delivered.last(), Some(RadioOutput::Packet { neighbour: 1, .. })));
    assert_eq!((a.counters.last_hop_out, b.counters.last_hop_in), (1, 1));

    // A session message for a node beyond b, through b: a general unicast,
    // tagged, arriving byte for byte.
    let onward = session_packet(3, 6, 118);
    send_to(&mut a, 2, &onward, now, &mut out);
    let sent = transmits(&mut out);
    assert_eq!(sent[0].frame[0], UNICAST);
    let mut delivered = Vec::new();
    b.driver_actions(vec![received(sent[0].frame.clone())], now, &mut delivered);
    a.driver_actions(vec![done(sent[0].id, true)], now, &mut out);
    assert_eq!(packets(&delivered), vec![onward]);

    // Too big for one compact frame: fragments of general unicasts, whole.
    let big = session_packet(2, 7, 400);
    send_to(&mut a, 2, &big, now, &mut out);
    let delivered = carry(&mut a, &mut out, &mut b, now, |_| false);
    assert_eq!(packets(&delivered), vec![big]);
    assert_eq!((a.counters.last_hop_out, b.counters.last_hop_in), (1, 1));
}

#[test]
fn compact_frames_for_others_or_from_strangers_never_reach_the_router() {
    use super::super::frame::session;
    let (mut a, _b) = pair(255, RadioSettings::default());
    let now = Micros::from_us(10_000 * MS);
    let (short_a, short_b, short_c) = (ShortId::of(&address(1)), ShortId::of(&address(2)), ShortId::of(&address(7)));
    let sealed = [9u8; 40];
    let mut out = Vec::new();
    let for_someone_else = session(short_c, short_b, 1, 1, &sealed).unwrap();
    let from_a_stranger = session(short_a, short_c, 1, 1, &sealed).unwrap();
    for frame in [for_someone_else, from_a_stranger] {
        a.driver_actions(vec![received(frame)], now, &mut out);
    }
    assert!(packets(&out).is_empty(), "nothing reached the router");
    assert_eq!((a.counters.overheard, a.counters.unverified, a.counters.last_hop_in), (1, 1, 0));
    // Claiming to be b is possible (nothing on the frame proves the sender):
    // it reaches the router as b's, where the session cannot open it.
    let as_b = session(short_a, short_b, 1, 1, &sealed).unwrap();
    a.driver_actions(vec![received(as_b)], now, &mut out);
    assert_eq!(packets(&out).len(), 1);
}
