//! The driver driven through real encoded calls ([`DriverHarness`]) against
//! a scripted RAK3172 that answers the commands the driver writes.

use super::*;
use std::collections::BTreeMap;
use weft_plugin_api::actions::RadioInfo;
use weft_plugin_api::testing::driver::*;
use weft_plugin_api::testing::{DriverHarness, TestHost};
use weft_plugin_api::{Action, Event};

type Harness = DriverHarness<AtModem>;

/// A scripted RAK3172 in P2P mode.
#[derive(Default)]
struct FakeRak {
    /// What `AT+P2P=?` reports instead of the applied settings.
    report: Option<&'static str>,
    /// Answer `AT+P2P=...` with AT_PARAM_ERROR.
    refuse_settings: bool,
    /// AT_BUSY_ERROR answers still to give to `AT+PSEND`.
    busy: u32,
    /// The settings applied with `AT+P2P=...`.
    applied: String,
    /// Payloads sent (hex).
    sent: Vec<String>,
}

impl FakeRak {
    /// Answers every command line in `written`. `AT+PSEND` gets its OK only:
    /// TXP2P DONE comes when the test says so.
    fn answer(&mut self, written: &[u8]) -> Vec<u8> {
        let mut out = String::new();
        for cmd in String::from_utf8_lossy(written).split("\r\n").filter(|l| !l.is_empty()) {
            let reply = match cmd {
                "AT+P2P=?" => format!("AT+P2P={}\r\nOK", self.report.unwrap_or(&self.applied)),
                _ if cmd.starts_with("AT+P2P=") && self.refuse_settings => "AT_PARAM_ERROR".into(),
                _ if cmd.starts_with("AT+P2P=") => {
                    self.applied = cmd["AT+P2P=".len()..].to_string();
                    "OK".into()
                }
                _ if cmd.starts_with("AT+PSEND=") && self.busy > 0 => {
                    self.busy -= 1;
                    "AT_BUSY_ERROR".into()
                }
                _ if cmd.starts_with("AT+PSEND=") => {
                    self.sent.push(cmd["AT+PSEND=".len()..].to_string());
                    "OK".into()
                }
                "AT+VER=?" => "AT+VER=RUI_4.2.1_RAK3172-E\r\nOK".into(),
                "AT+NWM=?" => "AT+NWM=0\r\nOK".into(),
                "AT" | "AT+NWM=0" | "AT+PRECV=0" | "AT+PRECV=65533" | "AT+PRECV=65534" => "OK".into(),
                _ => "AT_ERROR".into(),
            };
            out.push_str(&reply);
            out.push_str("\r\n");
        }
        out.into_bytes()
    }
}

/// A config value: an integer or a boolean.
#[derive(Debug, Clone, Copy)]
enum V {
    N(i64),
    B(bool),
}
use V::{B, N};

impl serde::Serialize for V {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            N(n) => s.serialize_i64(n),
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

fn status(h: &mut Harness) -> String {
    let actions = h.event(Event::Command(Command { id: 1, name: "status".into(), args: String::new() })).unwrap();
    actions
        .into_iter()
        .find_map(|a| match a {
            Action::CommandReply(r) if r.ok => Some(r.body),
            _ => None,
        })
        .expect("a status reply")
}

/// The command lines written.
fn commands(actions: &[Action]) -> Vec<String> {
    let bytes = serial_written(actions);
    assert!(bytes.is_empty() || bytes.ends_with(b"\r\n"), "commands end with CR LF");
    String::from_utf8(bytes).unwrap().split("\r\n").filter(|l| !l.is_empty()).map(String::from).collect()
}

fn timer_of(actions: &[Action], kind: u8) -> Option<(u64, u64)> {
    actions.iter().rev().find_map(|a| match a {
        Action::SetTimer(t) if timer::split(t.id).0 == kind => Some((t.id, t.after_ms)),
        _ => None,
    })
}

/// Answers what the driver writes until it writes nothing more; returns
/// every action and every command seen.
fn converse(h: &mut Harness, modem: &mut FakeRak, first: Vec<Action>) -> (Vec<Action>, Vec<String>) {
    let (mut all, mut cmds) = (Vec::new(), Vec::new());
    let mut actions = first;
    for _ in 0..20 {
        let bytes = serial_written(&actions);
        cmds.extend(commands(&actions));
        all.extend(actions);
        if bytes.is_empty() {
            break;
        }
        let answer = modem.answer(&bytes);
        actions = serial_in(h, &answer);
    }
    (all, cmds)
}

fn up_with(pairs: &[(&str, V)]) -> (Harness, FakeRak) {
    let mut modem = FakeRak::default();
    let mut h = start(pairs);
    let opened = port_opened(&mut h);
    let (actions, _) = converse(&mut h, &mut modem, opened);
    assert_eq!(link_states(&actions).last().map(|l| l.0), Some(true), "{actions:?}");
    (h, modem)
}

#[test]
fn configures_in_order_validates_the_report_and_comes_up() {
    let mut modem = FakeRak::default();
    let mut h = start(&[("spreading_factor", N(9)), ("coding_rate", N(6)), ("bandwidth_hz", N(250_000))]);
    let opened = port_opened(&mut h);
    let (actions, cmds) = converse(&mut h, &mut modem, opened);
    assert_eq!(
        cmds,
        ["AT", "AT+PRECV=0", "AT+VER=?", "AT+NWM=?", "AT+P2P=868100000:9:250:1:8:14", "AT+P2P=?", "AT+PRECV=65533"]
    );
    let info = actions
        .iter()
        .find_map(|a| match a {
            Action::RadioInfo(i) => Some(*i),
            _ => None,
        })
        .expect("radio info");
    assert_eq!(
        info,
        RadioInfo {
            mtu: 254,
            frequency_hz: 868_100_000,
            bandwidth_hz: 250_000,
            spreading_factor: 9,
            coding_rate: 6,
            preamble_symbols: 8,
            tx_power_dbm: 14
        }
    );
    let (up, detail) = link_states(&actions).pop().unwrap();
    assert!(up && detail.contains("SF9") && detail.contains("RNode-compatible"), "{detail}");
    assert!(status(&mut h).contains("\"state\":\"up\""));

    let (mut plain, _) = up_with(&[("rnode_compatible", B(false))]);
    assert!(status(&mut plain).contains("\"mtu\":255"));
}

#[test]
fn a_reported_setting_that_differs_keeps_the_link_down_naming_it() {
    let mut modem = FakeRak { report: Some("868100000:8:125:0:8:14"), ..FakeRak::default() };
    let mut h = start(&[]);
    let opened = port_opened(&mut h);
    let (actions, cmds) = converse(&mut h, &mut modem, opened);
    assert!(!cmds.iter().any(|c| c.starts_with("AT+PRECV=6553")), "not put into receive: {cmds:?}");
    let (up, detail) = link_states(&actions).pop().unwrap();
    assert!(!up && detail.contains("spreading_factor 8, configured 7"), "{detail}");
    assert_eq!(transmit_dones(&transmit(&mut h, 1, b"x")), vec![(1, false)]);
    assert!(status(&mut h).contains("\"state\":\"failed\""));
}

#[test]
fn refused_settings_name_the_p2p_settings() {
    let mut modem = FakeRak { refuse_settings: true, ..FakeRak::default() };
    let mut h = start(&[("tx_power_dbm", N(30))]);
    let opened = port_opened(&mut h);
    let (actions, _) = converse(&mut h, &mut modem, opened);
    let (up, detail) = link_states(&actions).pop().unwrap();
    assert!(!up && detail.contains("AT_PARAM_ERROR") && detail.contains("tx_power_dbm 30"), "{detail}");
    // Refused in kHz, then as an index (some 3.5 releases): two error replies.
    assert!(status(&mut h).contains("\"error_replies\":2"));
}

#[test]
fn psend_carries_uppercase_hex_and_completes_on_txp2p_done() {
    let (mut h, mut modem) = up_with(&[("rnode_compatible", B(false))]);
    let actions = transmit(&mut h, 5, &[0xDE, 0xAD, 0x01]);
    assert_eq!(commands(&actions), ["AT+PSEND=DEAD01"]);
    let ok = serial_in(&mut h, &modem.answer(&serial_written(&actions)));
    assert!(transmit_dones(&ok).is_empty(), "OK only means accepted");
    let (_, wait) = timer_of(&ok, timer::COMMAND).expect("waits for DONE");
    assert!(wait > 1_000, "airtime on top of the command timeout");
    assert_eq!(transmit_dones(&serial_in(&mut h, b"+EVT:TXP2P DONE\r\n")), vec![(5, true)]);
    // A second DONE belongs to nothing.
    assert!(transmit_dones(&serial_in(&mut h, b"+EVT:TXP2P DONE\r\n")).is_empty());
    assert!(status(&mut h).contains("\"frames_tx\":1"));
}

#[test]
fn busy_is_retried_after_50_ms_and_gives_up_eventually() {
    let (mut h, mut modem) = up_with(&[]);
    modem.busy = 1;
    let actions = transmit(&mut h, 6, b"hi");
    let busy = serial_in(&mut h, &modem.answer(&serial_written(&actions)));
    assert!(transmit_dones(&busy).is_empty() && serial_written(&busy).is_empty());
    let (retry, after) = timer_of(&busy, timer::BUSY_RETRY).expect("retry timer");
    assert_eq!(after, session::BUSY_RETRY_MS);
    let again = timer_fired(&mut h, retry);
    assert_eq!(commands(&again), commands(&actions), "the same command again");
    serial_in(&mut h, &modem.answer(&serial_written(&again)));
    assert_eq!(transmit_dones(&serial_in(&mut h, b"+EVT:TXP2P DONE\r\n")), vec![(6, true)]);

    // Busy every time: failed (not sent), the link stays up.
    transmit(&mut h, 7, b"hi");
    for _ in 0..session::MAX_BUSY_RETRIES {
        let busy = serial_in(&mut h, b"AT_BUSY_ERROR\r\n");
        let actions = timer_fired(&mut h, timer_of(&busy, timer::BUSY_RETRY).unwrap().0);
        assert_eq!(commands(&actions).len(), 1);
    }
    let last = serial_in(&mut h, b"AT_BUSY_ERROR\r\n");
    assert_eq!(transmit_dones(&last), vec![(7, false)]);
    assert!(link_states(&last).is_empty());
    assert!(status(&mut h).contains(&format!("\"busy_retries\":{}", 1 + session::MAX_BUSY_RETRIES)));
}

#[test]
fn a_send_that_never_completes_fails_and_resyncs() {
    let (mut h, _) = up_with(&[]);
    let actions = transmit(&mut h, 8, b"x");
    let (deadline, _) = timer_of(&actions, timer::COMMAND).unwrap();
    let timeout = timer_fired(&mut h, deadline);
    assert_eq!(transmit_dones(&timeout), vec![(8, false)]);
    let (up, detail) = link_states(&timeout).pop().unwrap();
    assert!(!up && detail.contains("AT+PSEND") && detail.contains("re-syncing"), "{detail}");
    assert_eq!(commands(&timeout), ["AT"]);
    // A stale timer of the finished command does nothing.
    assert!(timer_fired(&mut h, deadline).is_empty());
}

#[test]
fn a_silent_modem_is_given_up_after_a_few_rounds() {
    let mut h = start(&[]);
    let mut actions = port_opened(&mut h);
    let mut last = None;
    for _ in 0..session::MAX_ROUNDS {
        let (id, after) = timer_of(&actions, timer::COMMAND).expect("timeout armed");
        assert_eq!(after, 1_000);
        actions = timer_fired(&mut h, id);
        last = link_states(&actions).pop();
    }
    let (up, detail) = last.unwrap();
    assert!(!up && detail.contains("did not answer AT within 1000 ms") && detail.contains("gave up"), "{detail}");
    assert!(serial_written(&actions).is_empty());
}

#[test]
fn both_receive_formats_are_delivered_and_bad_hex_is_counted() {
    let (mut h, _) = up_with(&[("rnode_compatible", B(false))]);
    let new = frames_received(&serial_in(&mut h, b"+EVT:RXP2P:-37:11:48656C6C6F\r\n"));
    assert_eq!(new.len(), 1);
    assert_eq!((new[0].frame.as_slice(), new[0].rssi_dbm, new[0].snr_db), (&b"Hello"[..], Some(-37), Some(11.0)));
    // Older firmware, split across chunks, bare LF line ends.
    assert!(frames_received(&serial_in(&mut h, b"+EVT:RXP2P, RSSI -90, SNR -7\n+EVT:4142")).is_empty());
    let old = frames_received(&serial_in(&mut h, b"43\n"));
    assert_eq!((old[0].frame.as_slice(), old[0].rssi_dbm, old[0].snr_db), (&b"ABC"[..], Some(-90), Some(-7.0)));
    // Bad hex is dropped and counted; a payload line without its RSSI line is not a packet.
    assert!(frames_received(&serial_in(&mut h, b"+EVT:RXP2P:-37:11:48656C6C6\r\n+EVT:RXP2P:-1:2:XYZW\r\n")).is_empty());
    assert!(frames_received(&serial_in(&mut h, b"+EVT:4142\r\n")).is_empty());
    let json = status(&mut h);
    assert!(json.contains("\"bad_hex\":2") && json.contains("\"frames_rx\":2"), "{json}");
}

#[test]
fn rnode_compatible_mode_adds_and_strips_the_header_and_joins_halves() {
    let (mut h, mut modem) = up_with(&[]);
    let actions = transmit(&mut h, 9, &[0xAA, 0xBB]);
    let hex = commands(&actions)[0].trim_start_matches("AT+PSEND=").to_string();
    assert_eq!(hex.len(), 6, "one header byte added: {hex}");
    let header = u8::from_str_radix(&hex[..2], 16).unwrap();
    assert_eq!(header & 0x0F, 0, "random nibble, split flag clear");
    assert_eq!(&hex[2..], "AABB");
    serial_in(&mut h, &modem.answer(&serial_written(&actions)));
    serial_in(&mut h, b"+EVT:TXP2P DONE\r\n");
    let refused = transmit(&mut h, 10, &[0; 255]);
    assert_eq!(transmit_dones(&refused), vec![(10, false)], "MTU 254 with the header");

    // A whole packet: header stripped.
    let got = frames_received(&serial_in(&mut h, b"+EVT:RXP2P:-50:5:30AABB\r\n"));
    assert_eq!(got[0].frame, vec![0xAA, 0xBB]);
    // A split packet: 254 bytes then the rest, same header with the split flag.
    let first = format!("+EVT:RXP2P:-50:5:51{}\r\n", "01".repeat(254));
    assert!(frames_received(&serial_in(&mut h, first.as_bytes())).is_empty(), "the first half is held");
    let joined = frames_received(&serial_in(&mut h, b"+EVT:RXP2P:-51:4:510203\r\n"));
    assert_eq!(joined.len(), 1);
    assert_eq!(joined[0].frame.len(), 256);
    assert_eq!(&joined[0].frame[253..], &[1, 2, 3]);
    // A lone half is never delivered; a new header replaces it.
    assert!(frames_received(&serial_in(&mut h, b"+EVT:RXP2P:-50:5:710A\r\n")).is_empty());
    assert!(frames_received(&serial_in(&mut h, b"+EVT:RXP2P:-50:5:910B\r\n")).is_empty());
    assert_eq!(frames_received(&serial_in(&mut h, b"+EVT:RXP2P:-50:5:910C\r\n"))[0].frame, vec![0x0B, 0x0C]);
    let json = status(&mut h);
    assert!(json.contains("\"joined\":2") && json.contains("\"dropped_halves\":1"), "{json}");
}

#[test]
fn the_boot_banner_fails_the_outstanding_send_and_reconfigures() {
    let (mut h, mut modem) = up_with(&[]);
    transmit(&mut h, 11, b"in flight");
    let banner =
        serial_in(&mut h, b"RAKwireless RAK3172-E Example\r\n------------------\r\nCurrent Work Mode: LoRa P2P.\r\n");
    assert_eq!(link_states(&banner), vec![(false, "modem rebooted; reconfiguring".to_string())]);
    assert_eq!(transmit_dones(&banner), vec![(11, false)]);
    assert_eq!(commands(&banner), ["AT"], "the banner's second line does not restart again");
    let (actions, cmds) = converse(&mut h, &mut modem, banner);
    assert_eq!(cmds.last().map(String::as_str), Some("AT+PRECV=65533"), "receive mode is off after boot");
    assert_eq!(link_states(&actions).pop().map(|l| l.0), Some(true));
    let json = status(&mut h);
    assert!(json.contains("\"resets\":1") && json.contains("RAK3172-E"), "{json}");
}

#[test]
fn closing_the_port_fails_the_send_and_reopening_configures_again() {
    let (mut h, mut modem) = up_with(&[]);
    transmit(&mut h, 12, b"x");
    let closed = h.event(Event::SerialStatus(SerialStatus { open: false, detail: "unplugged".into() })).unwrap();
    assert_eq!(transmit_dones(&closed), vec![(12, false)]);
    assert!(link_states(&closed).pop().is_some_and(|(up, d)| !up && d.contains("unplugged")));
    assert_eq!(transmit_dones(&transmit(&mut h, 13, b"x")), vec![(13, false)]);
    let opened = port_opened(&mut h);
    let (actions, _) = converse(&mut h, &mut modem, opened);
    assert_eq!(link_states(&actions).pop().map(|l| l.0), Some(true));
}

#[test]
fn a_successor_configures_at_once_and_survives_a_late_reply() {
    let (mut h, mut modem) = up_with(&[]);
    serial_in(&mut h, b"+EVT:RXP2P:-50:5:30AA\r\n");
    let (blob, _) = h.shutdown(ShutdownReason::Swap).unwrap();
    let (mut next, init) = Harness::init(TestHost::default(), &config(&[]), Some(blob)).unwrap();
    assert_eq!(commands(&init), ["AT"], "no waiting for an open notice");
    // The predecessor's last command is answered late: it lines up with our AT.
    let mut cmds = Vec::new();
    let mut actions = serial_in(&mut next, b"OK\r\n");
    cmds.extend(commands(&actions));
    // Our own AT's OK now meets AT+NWM=0...
    actions = serial_in(&mut next, &modem.answer(b"AT\r\n"));
    cmds.extend(commands(&actions));
    let (rest, more) = converse(&mut next, &mut modem, actions);
    cmds.extend(more);
    assert!(cmds.contains(&"AT+P2P=?".to_string()), "{cmds:?}");
    assert_eq!(link_states(&rest).pop().map(|l| l.0), Some(true), "{cmds:?}");
    let json = status(&mut next);
    assert!(json.contains("\"frames_rx\":1"), "{json}");

    for garbage in [b"nonsense".to_vec(), vec![0xA0], Vec::new()] {
        let (_, actions) = Harness::init(TestHost::default(), &config(&[]), Some(garbage)).unwrap();
        assert!(serial_written(&actions).is_empty(), "fresh start waits for the port");
    }
}

#[test]
fn an_ok_before_the_settings_line_is_not_taken_for_the_query() {
    let mut h = start(&[]);
    port_opened(&mut h);
    serial_in(&mut h, b"OK\r\nOK\r\n"); // AT, PRECV=0
    // A version query and a work mode query take their OK only after their line.
    assert!(commands(&serial_in(&mut h, b"OK\r\n")).is_empty(), "an OK alone does not answer AT+VER=?");
    serial_in(&mut h, b"AT+VER=RUI_4.2.1_RAK3172-E\r\nOK\r\n");
    assert!(commands(&serial_in(&mut h, b"OK\r\n")).is_empty(), "an OK alone does not answer AT+NWM=?");
    serial_in(&mut h, b"AT+NWM=0\r\nOK\r\n");
    let actions = serial_in(&mut h, b"OK\r\n"); // P2P=...
    assert_eq!(commands(&actions), ["AT+P2P=?"]);
    assert!(commands(&serial_in(&mut h, b"OK\r\n")).is_empty(), "a stray OK: still waiting for the settings");
    let actions = serial_in(&mut h, b"AT+P2P=868100000:7:125:0:8:14\r\nOK\r\n");
    assert_eq!(commands(&actions), ["AT+PRECV=65533"]);
    assert!(status(&mut h).contains("\"stray_replies\":3"));
}

#[test]
fn bad_config_is_refused_naming_the_key() {
    for (pairs, key) in [
        (vec![("bandwidth_hz", N(62_500))], "bandwidth_hz"),
        (vec![("rnode_compatible", N(1))], "rnode_compatible"),
        (vec![("spreading_factor", N(13))], "spreading_factor"),
        (vec![("port", N(1))], "port"),
    ] {
        let err = Harness::init(TestHost::default(), &config(&pairs), None).err().expect("refused");
        assert!(err.message.contains(key), "{}", err.message);
    }
}

#[test]
fn line_noise_never_panics_and_is_counted() {
    let (mut h, _) = up_with(&[("rnode_compatible", B(true))]);
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let pieces: [&[u8]; 14] = [
        b"OK",
        b"AT_BUSY_ERROR",
        b"AT_PARAM_ERROR",
        b"+EVT:RXP2P:",
        b"+EVT:RXP2P, RSSI ",
        b"+EVT:TXP2P DONE",
        b"+EVT:",
        b"AT+P2P=",
        b"868100000:7:125:0:8:14",
        b":",
        b"\r\n",
        b"\n",
        b"-37",
        b"31FF",
    ];
    for _ in 0..2_000 {
        let mut chunk = Vec::new();
        for _ in 0..(next() % 8) {
            if next() % 3 == 0 {
                chunk.extend((0..next() % 40).map(|_| (next() >> 24) as u8));
            } else {
                chunk.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
            }
        }
        serial_in(&mut h, &chunk);
        match next() % 40 {
            0 => {
                transmit(&mut h, next(), b"x");
            }
            1 => {
                timer_fired(&mut h, next() % 4096);
            }
            _ => {}
        }
    }
    serial_in(&mut h, &vec![b'Z'; 5_000]);
    serial_in(&mut h, b"\r\n");
    let json = status(&mut h);
    assert!(!json.contains("\"overlong_lines\":0") && !json.contains("\"unrecognised_lines\":0"), "{json}");
}

#[test]
fn the_manifest_declares_status_and_no_ports() {
    let m = AtModem::MANIFEST;
    assert_eq!((m.name, m.version), ("atmodem", env!("CARGO_PKG_VERSION")));
    assert!(m.ports.is_empty() && m.permissions == [Permission::Serial], "a driver asks for its serial port only");
    assert!(m.commands.iter().any(|c| c.name == "status"));
}
