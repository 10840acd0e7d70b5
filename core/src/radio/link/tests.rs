//! Behaviour of a radio link between two ends carried by hand.

use super::super::test_support::{done, info, received, transmits};
use super::*;
use crate::time::Micros;
use weft_plugin_api::actions::LinkState;

const MS: u64 = 1_000;

/// A link whose driver reported `mtu` and came up.
fn up(own: u8, mtu: u16, settings: RadioSettings) -> (RadioLink, Vec<RadioOutput>) {
    let mut link = RadioLink::new(Address([own; 16]), settings, u64::from(own));
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
    out.iter().filter_map(|o| if let RadioOutput::Packet(p) = o { Some(p.clone()) } else { None }).collect()
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
    assert_eq!(a.neighbour(), Some(Address([2; 16])));
    assert_eq!(b.neighbour(), Some(Address([1; 16])));
}

#[test]
fn a_two_kilobyte_packet_crosses_255_byte_frames_intact() {
    let (mut a, mut b) = pair(255, RadioSettings::default());
    let packet = data_packet(2048);
    let mut out = Vec::new();
    a.send_packet(&packet, Micros::from_us(MS), &mut out).expect("queued");
    let mut frames = 0;
    let delivered = carry(&mut a, &mut out, &mut b, Micros::from_us(MS), |_| {
        frames += 1;
        false
    });
    assert_eq!(frames, 9, "2048 bytes in frames of 252 payload bytes");
    assert_eq!(packets(&delivered), vec![packet]);
}

#[test]
fn a_lost_fragment_loses_the_packet_and_is_counted_never_delivered_corrupt() {
    let settings = RadioSettings { reassembly_timeout_us: 5_000 * MS, ..RadioSettings::default() };
    let (mut a, mut b) = pair(255, settings);
    let mut out = Vec::new();
    a.send_packet(&data_packet(2048), Micros::from_us(MS), &mut out).expect("queued");
    let delivered = carry(&mut a, &mut out, &mut b, Micros::from_us(MS), |n| n == 4);
    assert!(packets(&delivered).is_empty());
    let mut later = Vec::new();
    b.poll(Micros::from_us(MS + 5_001 * MS), &mut later);
    assert!(packets(&later).is_empty());
    assert_eq!(b.status(Micros::from_us(MS + 5_001 * MS)).reassembly.timed_out, 1);
    // The next packet is unaffected.
    let packet = data_packet(600);
    a.send_packet(&packet, Micros::from_us(6_000 * MS), &mut out).expect("queued");
    let delivered = carry(&mut a, &mut out, &mut b, Micros::from_us(6_000 * MS), |_| false);
    assert_eq!(packets(&delivered), vec![packet]);
}

#[test]
fn a_failed_transmit_is_sent_again_first_and_order_holds() {
    let (mut a, mut b) = pair(255, RadioSettings::default());
    let mut out = Vec::new();
    let (one, two) = (data_packet(100), data_packet(120));
    a.send_packet(&one, Micros::from_us(MS), &mut out).expect("queued");
    a.send_packet(&two, Micros::from_us(MS), &mut out).expect("queued");
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
        if a.send_packet(&data_packet(200), Micros::from_us(now), &mut out).is_ok() {
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
    a.send_packet(&data_packet(100), Micros::from_us(MS), &mut out).expect("queued");
    a.send_packet(&data_packet(110), Micros::from_us(MS), &mut out).expect("queued");
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
    a.send_packet(&data_packet(100), Micros::from_us(MS), &mut out).expect("queued");
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
    let mut hello = vec![HELLO, 0];
    hello.extend_from_slice(&[2; 16]);
    let mut out = Vec::new();
    a.driver_actions(vec![received(hello)], Micros::from_us(MS), &mut out);
    assert_eq!(a.neighbour(), None);
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
    a.send_packet(&one, Micros::from_us(MS), &mut out).expect("queued");
    a.send_packet(&two, Micros::from_us(MS), &mut out).expect("queued");
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
    a.send_packet(&one, Micros::from_us(MS), &mut out).expect("queued");
    let skipped = transmits(&mut out);
    assert_eq!(skipped.len(), 1);
    a.transmit_not_taken(skipped[0].id, Micros::from_us(MS));
    assert_eq!(a.next_deadline(), Some(Micros::from_us(MS)), "due again at once");
    a.poll(Micros::from_us(MS), &mut out);
    let delivered = carry(&mut a, &mut out, &mut b, Micros::from_us(MS), |_| false);
    assert_eq!(packets(&delivered), vec![one]);
    assert_eq!(a.counters.tx_failed, 0, "it never reached the radio");
}
