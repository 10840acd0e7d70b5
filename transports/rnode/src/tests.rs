//! The driver driven through real encoded calls ([`DriverHarness`]) against
//! a scripted RNode that answers what the driver writes.

use super::*;
use std::collections::BTreeMap;
use weft_kiss::encode as kiss;
use weft_plugin_api::actions::{CommandReply, RadioInfo};
use weft_plugin_api::testing::driver::*;
use weft_plugin_api::testing::{DriverHarness, TestHost};
use weft_plugin_api::{Action, Event, FailureKind};

type Harness = DriverHarness<RNode>;

/// A scripted RNode: answers detect queries and echoes settings as a real
/// one does, with knobs for the failure cases.
struct FakeRNode {
    firmware: [u8; 2],
    answers_detect: bool,
    /// The chip's maximum power: TXPOWER is clamped to it.
    max_power: u8,
    /// What READY queries are answered with.
    ready: u8,
    /// Settings it does not echo.
    silent: Vec<u8>,
}

impl Default for FakeRNode {
    fn default() -> Self {
        FakeRNode { firmware: [1, 74], answers_detect: true, max_power: 22, ready: 1, silent: Vec::new() }
    }
}

impl FakeRNode {
    fn answer(&self, written: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for f in weft_kiss::Decoder::new(600).push(written) {
            if self.silent.contains(&f.cmd) {
                continue;
            }
            match f.cmd {
                0x08 if self.answers_detect => out.extend(kiss(0x08, &[0x46])),
                0x50 if self.answers_detect => out.extend(kiss(0x50, &self.firmware)),
                0x48 if self.answers_detect => out.extend(kiss(0x48, &[0x80])),
                0x49 if self.answers_detect => out.extend(kiss(0x49, &[0x81])),
                0x03 => out.extend(kiss(0x03, &[f.payload[0].min(self.max_power)])),
                0x01 | 0x02 | 0x04 | 0x05 | 0x06 | 0x0B | 0x0C => out.extend(kiss(f.cmd, &f.payload)),
                0x0F => out.extend(kiss(0x0F, &[self.ready])),
                _ => {}
            }
        }
        out
    }
}

/// A config value: a number (integral ones encode as integers) or a boolean.
#[derive(Debug, Clone, Copy)]
enum V {
    N(f64),
    B(bool),
}
use V::{B, N};

impl serde::Serialize for V {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            N(x) if x.fract() == 0.0 => s.serialize_i64(x as i64),
            N(x) => s.serialize_f64(x),
            B(b) => s.serialize_bool(b),
        }
    }
}

fn config(pairs: &[(&str, V)]) -> BTreeMap<String, V> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn start(pairs: &[(&str, V)]) -> Harness {
    Harness::init(TestHost::default(), &config(pairs), None).expect("init").0
}

fn command(h: &mut Harness, name: &str) -> CommandReply {
    let actions = h.event(Event::Command(Command { id: 1, name: name.into(), args: String::new() })).unwrap();
    actions
        .into_iter()
        .find_map(|a| match a {
            Action::CommandReply(r) => Some(r),
            _ => None,
        })
        .expect("a command reply")
}

fn written_frames(actions: &[Action]) -> Vec<(u8, Vec<u8>)> {
    weft_kiss::Decoder::new(600).push(&serial_written(actions)).into_iter().map(|f| (f.cmd, f.payload)).collect()
}

fn radio(actions: &[Action]) -> Option<RadioInfo> {
    actions.iter().find_map(|a| match a {
        Action::RadioInfo(i) => Some(*i),
        _ => None,
    })
}

/// The id and delay of the last timer of `kind` armed in `actions`.
fn timer_of(actions: &[Action], kind: u8) -> Option<(u64, u64)> {
    actions.iter().rev().find_map(|a| match a {
        Action::SetTimer(t) if timer::split(t.id).0 == kind => Some((t.id, t.after_ms)),
        _ => None,
    })
}

/// Feeds the modem's answer to what `actions` wrote.
fn exchange(h: &mut Harness, modem: &FakeRNode, actions: &[Action]) -> Vec<Action> {
    serial_in(h, &modem.answer(&serial_written(actions)))
}

/// A driver with the link up against `modem`; returns the link-up actions.
fn up_with(pairs: &[(&str, V)], modem: &FakeRNode) -> (Harness, Vec<Action>) {
    let mut h = start(pairs);
    let opened = port_opened(&mut h);
    let configuring = exchange(&mut h, modem, &opened);
    let actions = exchange(&mut h, modem, &configuring);
    assert_eq!(link_states(&actions).last().map(|l| l.0), Some(true), "link up: {actions:?}");
    (h, actions)
}

fn up() -> Harness {
    up_with(&[], &FakeRNode::default()).0
}

fn status(h: &mut Harness) -> String {
    let reply = command(h, "status");
    assert!(reply.ok);
    reply.body
}

#[test]
fn detect_burst_is_retried_until_the_modem_answers() {
    let mut h = start(&[("detect_retry_ms", N(200.0))]);
    let opened = port_opened(&mut h);
    assert_eq!(serial_written(&opened), protocol::DETECT_BURST, "the exact burst from the reference");
    let (id, after) = timer_of(&opened, timer::DETECT).expect("a retry timer");
    assert_eq!(after, 200);
    // The board reset on open and missed the first burst: it is sent again.
    let retry = timer_fired(&mut h, id);
    assert_eq!(serial_written(&retry), protocol::DETECT_BURST);
    // The second one is answered: configuration starts at once.
    let configuring = exchange(&mut h, &FakeRNode::default(), &retry);
    assert_eq!(written_frames(&configuring)[0].0, protocol::cmd::FREQUENCY);
    // The retry timer of the finished detect round does nothing any more.
    let (stale, _) = timer_of(&retry, timer::DETECT).unwrap();
    assert!(serial_written(&timer_fired(&mut h, stale)).is_empty());
}

#[test]
fn a_silent_port_gives_up_after_detect_attempts() {
    let mut h = start(&[("detect_attempts", N(3.0))]);
    let mut actions = port_opened(&mut h);
    let mut bursts = 1;
    loop {
        let (id, _) = timer_of(&actions, timer::DETECT).expect("retry armed");
        actions = timer_fired(&mut h, id);
        if let Some((false, detail)) = link_states(&actions).pop() {
            assert!(detail.contains("no RNode answered on the port"), "{detail}");
            break;
        }
        bursts += 1;
    }
    assert_eq!(bursts, 3);
    assert!(serial_written(&actions).is_empty());
    assert!(status(&mut h).contains("\"state\":\"failed\""));
}

#[test]
fn a_reboot_announced_while_detecting_is_answered_with_a_burst_at_once() {
    let mut h = start(&[]);
    port_opened(&mut h);
    let actions = serial_in(&mut h, &[0xC0, 0x55, 0xF8, 0xC0]);
    assert_eq!(serial_written(&actions), protocol::DETECT_BURST);
    assert!(link_states(&actions).is_empty(), "the link was down already");
}

#[test]
fn old_firmware_is_refused_naming_both_versions() {
    let modem = FakeRNode { firmware: [1, 40], ..FakeRNode::default() };
    let mut h = start(&[]);
    let opened = port_opened(&mut h);
    let actions = exchange(&mut h, &modem, &opened);
    let (up, detail) = link_states(&actions).pop().expect("link state");
    assert!(!up);
    assert!(detail.contains("1.40") && detail.contains("1.52"), "{detail}");
    assert!(serial_written(&actions).is_empty(), "nothing configured");
    assert_eq!(transmit_dones(&transmit(&mut h, 1, b"x")), vec![(1, false)]);
}

#[test]
fn configuration_is_validated_from_the_echoes_before_the_link_comes_up() {
    let modem = FakeRNode::default();
    let mut h = start(&[("spreading_factor", N(9.0)), ("tx_power_dbm", N(17.0)), ("st_alock_percent", N(12.5))]);
    let opened = port_opened(&mut h);
    let configuring = exchange(&mut h, &modem, &opened);
    let cmds: Vec<u8> = written_frames(&configuring).iter().map(|f| f.0).collect();
    assert_eq!(cmds, vec![0x01, 0x02, 0x03, 0x04, 0x05, 0x0B, 0x06], "reference order");
    assert_eq!(written_frames(&configuring)[5].1, vec![0x04, 0xE2], "12.5 % as u16 1250");
    // Half the echoes: not up yet.
    let echoes = modem.answer(&serial_written(&configuring));
    let half = echoes.len() / 2;
    assert!(link_states(&serial_in(&mut h, &echoes[..half])).is_empty());
    let actions = serial_in(&mut h, &echoes[half..]);
    let info = radio(&actions).expect("radio info");
    assert_eq!(
        info,
        RadioInfo {
            mtu: 508,
            frequency_hz: 868_100_000,
            bandwidth_hz: 125_000,
            spreading_factor: 9,
            coding_rate: 5,
            preamble_symbols: 8,
            tx_power_dbm: 17
        }
    );
    let (up, detail) = link_states(&actions).pop().unwrap();
    assert!(up && detail.contains("1.74") && detail.contains("SF9"), "{detail}");
    let radio_at = actions.iter().position(|a| matches!(a, Action::RadioInfo(_))).unwrap();
    let link_at = actions.iter().position(|a| matches!(a, Action::LinkState(_))).unwrap();
    assert!(radio_at < link_at, "radio info before link up");
    let json = status(&mut h);
    assert!(json.contains("\"state\":\"up\"") && json.contains("\"firmware\":\"1.74\""), "{json}");
    assert!(json.contains("\"st_alock_percent\":12.5"), "{json}");
}

#[test]
fn an_echo_that_differs_keeps_the_link_down_and_names_the_setting() {
    let modem = FakeRNode { max_power: 17, ..FakeRNode::default() };
    let mut h = start(&[("tx_power_dbm", N(20.0))]);
    let opened = port_opened(&mut h);
    let configuring = exchange(&mut h, &modem, &opened);
    let actions = exchange(&mut h, &modem, &configuring);
    assert_eq!(radio(&actions), None);
    let (up, detail) = link_states(&actions).pop().unwrap();
    assert!(!up);
    assert!(detail.contains("tx_power_dbm 17, configured 20"), "{detail}");
    let refused = transmit(&mut h, 5, b"hello");
    assert_eq!(transmit_dones(&refused), vec![(5, false)]);
    assert!(serial_written(&refused).is_empty(), "nothing transmitted");
}

#[test]
fn a_setting_that_never_echoes_is_named_when_the_deadline_passes() {
    let modem = FakeRNode { silent: vec![protocol::cmd::RADIO_STATE], ..FakeRNode::default() };
    let mut h = start(&[]);
    let opened = port_opened(&mut h);
    let configuring = exchange(&mut h, &modem, &opened);
    let (id, after) = timer_of(&configuring, timer::CONFIGURE).expect("deadline");
    assert_eq!(after, sync::CONFIGURE_TIMEOUT_MS);
    assert!(link_states(&exchange(&mut h, &modem, &configuring)).is_empty());
    let actions = timer_fired(&mut h, id);
    let (up, detail) = link_states(&actions).pop().unwrap();
    assert!(!up && detail.contains("radio_state") && !detail.contains("frequency_hz"), "{detail}");
    assert_eq!(serial_written(&actions), protocol::DETECT_BURST, "tries again from detection");
}

#[test]
fn error_init_radio_while_configuring_takes_the_link_down() {
    let mut h = start(&[]);
    let opened = port_opened(&mut h);
    exchange(&mut h, &FakeRNode::default(), &opened);
    let actions = serial_in(&mut h, &kiss(0x90, &[0x01]));
    let (up, detail) = link_states(&actions).pop().unwrap();
    assert!(!up && detail.contains("ERROR 0x01") && detail.contains("init_radio"), "{detail}");
    assert!(status(&mut h).contains("\"init_radio\":1"));
}

#[test]
fn flow_control_confirms_with_ready_and_polls_while_the_queue_is_full() {
    let mut h = up();
    let actions = transmit(&mut h, 7, &[0xC0, 0x01, 0xDB]);
    assert_eq!(serial_written(&actions), [0xC0, 0x00, 0xDB, 0xDC, 0x01, 0xDB, 0xDD, 0xC0, 0xC0, 0x0F, 0x00, 0xC0]);
    assert!(transmit_dones(&actions).is_empty(), "waits for READY");
    // Queue full: poll again shortly.
    let actions = serial_in(&mut h, &kiss(0x0F, &[0x00]));
    assert!(transmit_dones(&actions).is_empty());
    let (poll, after) = timer_of(&actions, timer::READY_POLL).expect("poll timer");
    assert_eq!(after, tx::READY_POLL_MS);
    assert_eq!(serial_written(&timer_fired(&mut h, poll)), [0xC0, 0x0F, 0x00, 0xC0]);
    let actions = serial_in(&mut h, &kiss(0x0F, &[0x01]));
    assert_eq!(transmit_dones(&actions), vec![(7, true)]);
    assert!(status(&mut h).contains("\"frames_tx\":1"));
}

#[test]
fn an_error_before_ready_fails_the_frame_and_its_late_ready_confirms_nothing() {
    let mut h = up();
    transmit(&mut h, 8, b"first");
    let actions = serial_in(&mut h, &kiss(0x90, &[0x04]));
    assert_eq!(transmit_dones(&actions), vec![(8, false)], "queue full: the host sends it again");
    transmit(&mut h, 9, b"second");
    // The answer to frame 8's query arrives late: it is not frame 9's.
    assert!(transmit_dones(&serial_in(&mut h, &kiss(0x0F, &[0x01]))).is_empty());
    assert_eq!(transmit_dones(&serial_in(&mut h, &kiss(0x0F, &[0x01]))), vec![(9, true)]);
    // TX failed fails the frame too.
    transmit(&mut h, 10, b"third");
    assert_eq!(transmit_dones(&serial_in(&mut h, &kiss(0x90, &[0x02]))), vec![(10, false)]);
    let json = status(&mut h);
    assert!(json.contains("\"queue_full\":1") && json.contains("\"tx_failed\":2"), "{json}");
}

#[test]
fn an_unanswered_ready_query_is_answered_by_the_deadline() {
    let mut h = up();
    let actions = transmit(&mut h, 3, b"x");
    let (deadline, after) = timer_of(&actions, timer::TX_DEADLINE).unwrap();
    assert!(after >= 2_000);
    assert_eq!(transmit_dones(&timer_fired(&mut h, deadline)), vec![(3, true)], "it was handed to the modem");
    assert!(status(&mut h).contains("\"tx_unconfirmed\":1"));
}

#[test]
fn without_flow_control_a_frame_is_done_once_written() {
    let (mut h, _) = up_with(&[("flow_control", B(false))], &FakeRNode::default());
    let actions = transmit(&mut h, 4, b"abc");
    assert_eq!(serial_written(&actions), kiss(0x00, b"abc"));
    assert_eq!(transmit_dones(&actions), vec![(4, true)]);
}

#[test]
fn received_frames_carry_the_rssi_and_snr_sent_before_them() {
    let mut h = up();
    let mut wire = kiss(0x23, &[100]);
    wire.extend(kiss(0x24, &[0xF6]));
    wire.extend(kiss(0x00, &[1, 0xC0, 2]));
    wire.extend(kiss(0x00, b"no stats"));
    // Byte by byte: chunking does not matter.
    let mut frames = Vec::new();
    for b in wire {
        frames.extend(frames_received(&serial_in(&mut h, &[b])));
    }
    assert_eq!(frames.len(), 2);
    assert_eq!(
        (frames[0].frame.clone(), frames[0].rssi_dbm, frames[0].snr_db),
        (vec![1, 0xC0, 2], Some(-57), Some(-2.5))
    );
    assert_eq!((frames[1].rssi_dbm, frames[1].snr_db), (None, None), "stats are used once");
    assert!(status(&mut h).contains("\"frames_rx\":2"));
}

#[test]
fn a_reboot_mid_traffic_fails_the_outstanding_frame_and_reconfigures() {
    let modem = FakeRNode::default();
    let mut h = up();
    transmit(&mut h, 11, b"in flight");
    let actions = serial_in(&mut h, &[0xC0, 0x55, 0xF8, 0xC0]);
    assert_eq!(link_states(&actions), vec![(false, "modem rebooted; reconfiguring".to_string())]);
    assert_eq!(transmit_dones(&actions), vec![(11, false)]);
    assert_eq!(serial_written(&actions), protocol::DETECT_BURST);
    let link_at = actions.iter().position(|a| matches!(a, Action::LinkState(_))).unwrap();
    let done_at = actions.iter().position(|a| matches!(a, Action::TransmitDone(_))).unwrap();
    assert!(link_at < done_at, "down first, so the host does not resend into a dead link");
    assert_eq!(transmit_dones(&transmit(&mut h, 12, b"x")), vec![(12, false)], "no transmit while re-syncing");
    let configuring = exchange(&mut h, &modem, &actions);
    let back = exchange(&mut h, &modem, &configuring);
    assert_eq!(link_states(&back).pop().map(|l| l.0), Some(true));
    assert!(status(&mut h).contains("\"resets\":1"));
}

#[test]
fn closing_the_port_fails_the_outstanding_frame_and_reopening_syncs_afresh() {
    let modem = FakeRNode::default();
    let mut h = up();
    transmit(&mut h, 21, b"x");
    let actions = port_closed(&mut h);
    let (up, detail) = link_states(&actions).pop().unwrap();
    assert!(!up && detail.contains("serial port closed") && detail.contains("device vanished"), "{detail}");
    assert_eq!(transmit_dones(&actions), vec![(21, false)]);
    assert!(serial_written(&actions).is_empty());
    assert_eq!(transmit_dones(&transmit(&mut h, 22, b"y")), vec![(22, false)]);
    let opened = port_opened(&mut h);
    assert_eq!(serial_written(&opened), protocol::DETECT_BURST);
    let configuring = exchange(&mut h, &modem, &opened);
    assert_eq!(link_states(&exchange(&mut h, &modem, &configuring)).pop().map(|l| l.0), Some(true));
    // A repeated "open" while up changes nothing.
    assert!(port_opened(&mut h).is_empty());
}

#[test]
fn a_successor_resyncs_from_the_state_blob_without_detect_waits() {
    let modem = FakeRNode::default();
    let mut h = up();
    serial_in(&mut h, &kiss(0x00, b"counted"));
    serial_in(&mut h, &[0xC0, 0x00, 0xDB, 0x00, 0xC0]); // a broken escape, counted
    let (blob, _) = h.shutdown(ShutdownReason::Swap).unwrap();

    let (mut next, init_actions) = Harness::init(TestHost::default(), &config(&[]), Some(blob)).unwrap();
    // One detect burst and the configuration, written during init itself.
    let mut expected = protocol::DETECT_BURST.to_vec();
    expected.extend(protocol::configure(&Config::default()));
    assert_eq!(serial_written(&init_actions), expected);
    assert!(timer_of(&init_actions, timer::DETECT).is_none(), "no detect round to wait for");
    // The link is up in the very call that brings the echoes.
    let actions = exchange(&mut next, &modem, &init_actions);
    assert_eq!(link_states(&actions).pop().map(|l| l.0), Some(true));
    assert_eq!(radio(&actions).map(|i| i.mtu), Some(508));
    let json = status(&mut next);
    assert!(json.contains("\"frames_rx\":1") && json.contains("\"bad_escape\":1"), "{json}");
    assert!(json.contains("\"firmware\":\"1.74\""), "{json}");
}

#[test]
fn a_successor_of_a_closed_port_waits_and_bad_state_means_a_fresh_start() {
    let mut h = up();
    port_closed(&mut h);
    let (blob, _) = h.shutdown(ShutdownReason::Swap).unwrap();
    let (_, actions) = Harness::init(TestHost::default(), &config(&[]), Some(blob)).unwrap();
    assert!(serial_written(&actions).is_empty());

    for garbage in [vec![], vec![0xFF, 0x13, 0x00], b"not cbor at all".to_vec(), vec![0xA0]] {
        let (mut h, actions) = Harness::init(TestHost::default(), &config(&[]), Some(garbage)).unwrap();
        assert!(serial_written(&actions).is_empty(), "fresh: waits for the port");
        assert_eq!(serial_written(&port_opened(&mut h)), protocol::DETECT_BURST);
    }
}

#[test]
fn the_shutdown_of_a_waiting_transmit_reports_it_sent() {
    let mut h = up();
    transmit(&mut h, 30, b"x");
    let (_, actions) = h.shutdown(ShutdownReason::Swap).unwrap();
    assert_eq!(transmit_dones(&actions), vec![(30, true)], "the modem has it; never false for a frame that may go out");
}

#[test]
fn garbage_never_panics_and_is_counted() {
    let mut h = up();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for _ in 0..300 {
        let len = (next() % 300) as usize;
        let chunk: Vec<u8> = (0..len)
            .map(|_| match next() % 6 {
                0 => 0xC0,
                1 => 0xDB,
                _ => (next() >> 32) as u8,
            })
            .collect();
        serial_in(&mut h, &chunk);
        if next() % 10 == 0 {
            timer_fired(&mut h, timer::id(timer::LINE_IDLE, 0));
        }
        if next() % 20 == 0 {
            // Transmits keep being answered whatever the noise did.
            let actions = transmit(&mut h, next(), b"x");
            assert!(transmit_dones(&actions).len() <= 1);
        }
    }
    // An oversize frame and a broken escape, then a good frame still decodes.
    let mut wire = kiss(0x00, &[0x55; 600]);
    wire.extend([0xC0, 0x00, 0xDB, 0x41, 0xC0]);
    serial_in(&mut h, &wire);
    timer_fired(&mut h, timer::id(timer::LINE_IDLE, 0));
    let mut good = vec![0xC0];
    good.extend(kiss(0x00, b"still here"));
    let frames = frames_received(&serial_in(&mut h, &good));
    assert_eq!(frames.last().map(|f| f.frame.as_slice()), Some(&b"still here"[..]));
    let json = status(&mut h);
    let parsed: serde_json::Value = serde_json::from_str(&json).expect("status is JSON");
    assert!(parsed["counters"]["garbage"]["total"].as_u64().unwrap_or(0) > 0, "{json}");
    assert!(!json.contains("\"oversize\":0") && !json.contains("\"bad_escape\":0"), "{json}");
}

#[test]
fn a_half_frame_is_dropped_after_the_line_goes_quiet() {
    let mut h = up();
    let actions = serial_in(&mut h, &[0xC0, 0x00, 1, 2, 3]);
    let (id, after) = timer_of(&actions, timer::LINE_IDLE).expect("idle timer armed");
    assert_eq!(after, LINE_IDLE_MS);
    timer_fired(&mut h, id);
    // The rest of that frame arrives much later: it is not glued to the first half.
    let frames = frames_received(&serial_in(&mut h, &[4, 5, 0xC0, 0x00, 9, 0xC0]));
    assert_eq!(frames.iter().map(|f| f.frame.clone()).collect::<Vec<_>>(), vec![vec![9]]);
    assert!(status(&mut h).contains("\"abandoned\":1"));
}

#[test]
fn bad_config_is_refused_naming_the_key() {
    for (pairs, key) in [
        (vec![("spreading_factor", N(4.0))], "spreading_factor"),
        (vec![("detect_retry_ms", N(0.0))], "detect_retry_ms"),
        (vec![("bogus", N(1.0))], "bogus"),
    ] {
        let err = Harness::init(TestHost::default(), &config(&pairs), None).err().expect("refused");
        assert_eq!(err.kind, FailureKind::InitRefused);
        assert!(err.message.contains(key), "{}", err.message);
    }
}

#[test]
fn resync_and_the_manifest() {
    let mut h = start(&[]);
    assert!(!command(&mut h, "resync").ok, "port not open");
    let mut h2 = up();
    let reply = command(&mut h2, "resync");
    assert!(reply.ok);
    assert!(!command(&mut h, "bogus").ok);
    assert_eq!(RNode::MANIFEST.name, "rnode");
    #[cfg(not(feature = "v2"))]
    assert_eq!(RNode::MANIFEST.version, env!("CARGO_PKG_VERSION"));
    #[cfg(feature = "v2")]
    assert!(RNode::MANIFEST.version.ends_with("+v2"));
    assert!(RNode::MANIFEST.ports.is_empty() && RNode::MANIFEST.permissions == [Permission::Serial]);
}
