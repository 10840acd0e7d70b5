//! The driver against the emulated RAK3172 (`weft-modem-sim`), which
//! follows RAK's documented RUI3 firmware: busy on a send while receiving
//! (except in mode 65533), busy on setters while receiving, a reboot on
//! `AT+NWM=`, the bandwidth printed as an index. Both run in-process, sans-IO,
//! on a virtual clock; frames "on air" are collected, not carried.
//!
//! These are the tests of issue 22's driver findings: each failed against the
//! driver as it was (checked): it sent `AT+PSEND` in mode 65534 (busy every
//! time), configured without leaving receive (busy after a node restart),
//! and refused the bandwidth index `0` as "bandwidth_hz 0".

use super::*;
use std::collections::{BTreeMap, VecDeque};
use weft_modem_sim::Output;
use weft_modem_sim::rak3172::{BandwidthForm, FirmwareVersion, Rak3172, Rak3172Config, Rui3Behaviour, RxMode};
use weft_plugin_api::testing::driver::{link_states, port_opened, serial_in, timer_fired, transmit, transmit_dones};
use weft_plugin_api::testing::{DriverHarness, TestHost};
use weft_plugin_api::{Action, Event};

type Harness = DriverHarness<AtModem>;

/// The driver and the emulated modem on one serial line and one clock.
struct Bench {
    driver: Harness,
    modem: Rak3172,
    now_us: u64,
    /// The driver's timers: id -> due, µs.
    timers: BTreeMap<u64, u64>,
    /// When the frame on air ends, µs.
    on_air_until: Option<u64>,
    /// Frames the modem put on air.
    sent: Vec<Vec<u8>>,
    /// Every action the driver took.
    log: Vec<Action>,
}

fn behaviour(version: FirmwareVersion, bandwidth: BandwidthForm) -> Rui3Behaviour {
    Rui3Behaviour { version, bandwidth, lenient: false }
}

fn driver() -> Harness {
    let config = std::collections::BTreeMap::<String, bool>::new();
    Harness::init(TestHost::default(), &config, None).expect("init").0
}

impl Bench {
    /// A booted modem following `firmware`, and a driver told the port is open.
    fn new(firmware: Rui3Behaviour) -> Bench {
        let mut modem = Rak3172::new(Rak3172Config { firmware, ..Rak3172Config::default() });
        let mut boot = Output::default();
        modem.boot(&mut boot);
        let mut bench = Bench {
            driver: driver(),
            modem,
            now_us: 0,
            timers: BTreeMap::new(),
            on_air_until: None,
            sent: Vec::new(),
            log: Vec::new(),
        };
        let opened = port_opened(&mut bench.driver);
        bench.run(opened);
        bench
    }

    /// A new driver instance on the same modem, as after a node restart.
    fn restart_driver(&mut self) {
        self.driver = driver();
        self.timers.clear();
        self.log.clear();
        let opened = port_opened(&mut self.driver);
        self.run(opened);
    }

    /// Carries the driver's actions to the modem and the modem's answers
    /// back, until both are quiet.
    fn run(&mut self, first: Vec<Action>) {
        let mut work = VecDeque::from(first);
        let mut handled = 0;
        while let Some(action) = work.pop_front() {
            handled += 1;
            assert!(
                handled < 10_000,
                "the driver and the modem never settle: {:?}",
                self.commands().iter().rev().take(8).collect::<Vec<_>>()
            );
            match &action {
                Action::SerialWrite(write) => {
                    let mut out = Output::default();
                    self.modem.serial_in(&write.bytes, self.now_us, &mut out);
                    if let Some((params, frame)) = out.transmit.take() {
                        self.on_air_until = Some(self.now_us + params.time_on_air_us(frame.len()));
                        self.sent.push(frame);
                    }
                    if out.rebooted {
                        self.on_air_until = None;
                    }
                    if !out.serial.is_empty() {
                        work.extend(serial_in(&mut self.driver, &out.serial));
                    }
                }
                Action::SetTimer(t) => {
                    self.timers.insert(t.id, self.now_us + t.after_ms * 1000);
                }
                Action::CancelTimer(t) => {
                    self.timers.remove(&t.id);
                }
                _ => {}
            }
            self.log.push(action);
        }
    }

    /// Advances the clock to the next timer or the end of the frame on air,
    /// and handles it; false when nothing is due before `limit_us`.
    fn step(&mut self, limit_us: u64) -> bool {
        let timer = self.timers.iter().min_by_key(|(_, due)| **due).map(|(id, due)| (*id, *due));
        let next = [timer.map(|t| t.1), self.on_air_until].into_iter().flatten().min();
        let Some(at) = next.filter(|&at| at <= limit_us) else { return false };
        self.now_us = self.now_us.max(at);
        if self.on_air_until.is_some_and(|end| end <= self.now_us) {
            self.on_air_until = None;
            let mut out = Output::default();
            self.modem.tx_done(&mut out);
            let actions = serial_in(&mut self.driver, &out.serial);
            self.run(actions);
        } else if let Some((id, _)) = timer {
            self.timers.remove(&id);
            let actions = timer_fired(&mut self.driver, id);
            self.run(actions);
        }
        true
    }

    /// Runs for `us` of virtual time.
    fn advance(&mut self, us: u64) {
        let limit = self.now_us + us;
        while self.step(limit) {}
        self.now_us = limit;
    }

    fn up(&self) -> Option<(bool, String)> {
        link_states(&self.log).pop()
    }

    fn send(&mut self, id: u64, frame: &[u8]) {
        let actions = transmit(&mut self.driver, id, frame);
        self.run(actions);
    }

    fn commands(&self) -> Vec<String> {
        let bytes = weft_plugin_api::testing::driver::serial_written(&self.log);
        String::from_utf8_lossy(&bytes).split("\r\n").filter(|l| !l.is_empty()).map(String::from).collect()
    }
}

/// Sends `count` frames one after the other, each when the last is done;
/// returns the outcomes.
fn send_frames(bench: &mut Bench, count: u64) -> Vec<(u64, bool)> {
    let mut dones = Vec::new();
    for id in 1..=count {
        bench.log.clear();
        bench.send(id, &[id as u8; 40]);
        for _ in 0..1_000 {
            if !transmit_dones(&bench.log).is_empty() {
                break;
            }
            bench.advance(10_000);
        }
        dones.extend(transmit_dones(&bench.log));
        // Let a re-arm of receive finish before the next send.
        bench.advance(50_000);
    }
    dones
}

/// Finding 1: against documented RUI3 every frame goes on air, in every
/// kind of release: 65533 where it exists (4.2.1 says TXP2P DONE; 3.4.11
/// does not, so the airtime decides), leaving receive for each send where it
/// does not (3.2.0).
#[test]
fn frames_go_on_air_against_documented_rui3_releases() {
    for (version, bandwidth, receive) in [
        (FirmwareVersion::CURRENT, BandwidthForm::Index, "AT+PRECV=65533"),
        (FirmwareVersion::new(3, 4, 11), BandwidthForm::Khz, "AT+PRECV=65533"),
        (FirmwareVersion::new(3, 2, 0), BandwidthForm::Khz, "AT+PRECV=65534"),
    ] {
        let mut bench = Bench::new(behaviour(version, bandwidth));
        assert_eq!(bench.up().map(|u| u.0), Some(true), "{version:?}: {:?}", bench.commands());
        assert!(bench.commands().contains(&receive.to_string()), "{version:?}: {:?}", bench.commands());
        let dones = send_frames(&mut bench, 5);
        assert_eq!(dones, (1..=5).map(|id| (id, true)).collect::<Vec<_>>(), "{version:?}");
        assert_eq!(bench.sent.len(), 5, "{version:?}: every frame on air");
        assert_eq!(bench.modem.serial_errors(), 0, "{version:?}: no busy or error replies");
        assert!(bench.modem.receiving().is_some(), "{version:?}: receiving again after the sends");
        let status = status_of(&mut bench.driver);
        assert!(status.contains("\"busy_retries\":0") && status.contains("\"tx_failed\":0"), "{status}");
        let release = format!("\"release\":\"{}.{}.{}\"", version.major, version.minor, version.patch);
        assert!(status.contains(&release) && status.contains(&receive["AT+PRECV=".len()..]), "{status}");
    }
}

/// Finding 2: a node restarted while its modem stays powered and receiving
/// comes back up (documented RUI3 refuses `AT+NWM` and `AT+P2P` while
/// receiving; the driver leaves receive first).
#[test]
fn a_node_restarted_while_its_modem_receives_comes_back_up() {
    let mut bench = Bench::new(Rui3Behaviour::default());
    assert_eq!(bench.up().map(|u| u.0), Some(true));
    assert_eq!(bench.modem.rx_mode(), RxMode::ContinuousTx);
    bench.restart_driver();
    let (up, detail) = bench.up().expect("a link state");
    assert!(up, "{detail}: {:?}", bench.commands());
    assert_eq!(bench.commands()[..2], ["AT", "AT+PRECV=0"]);
    assert_eq!(bench.modem.serial_errors(), 0);
    assert_eq!(send_frames(&mut bench, 1), [(1, true)]);

    // Also mid-send: the modem still transmitting when the node comes back.
    bench.log.clear();
    bench.send(2, b"interrupted");
    bench.restart_driver();
    assert_eq!(bench.up().map(|u| u.0), Some(true), "{:?}", bench.commands());
}

/// Finding 3: newer releases print the bandwidth as an index (`0` for
/// 125 kHz); some 3.5 releases also take it only as an index.
#[test]
fn the_bandwidth_is_accepted_as_an_index_or_in_khz() {
    for (bandwidth, version) in [
        (BandwidthForm::Index, FirmwareVersion::CURRENT),
        (BandwidthForm::IndexOnly, FirmwareVersion::new(3, 5, 3)),
        (BandwidthForm::Khz, FirmwareVersion::new(3, 4, 11)),
    ] {
        let bench = Bench::new(behaviour(version, bandwidth));
        let (up, detail) = bench.up().expect("a link state");
        assert!(up, "{bandwidth:?}: {detail}");
        assert!(detail.contains("125 kHz"), "{detail}");
    }
}

/// A modem left in LoRaWAN mode is switched to P2P; the reboot that
/// follows `AT+NWM=0` is not taken for a crash.
#[test]
fn a_modem_in_lorawan_mode_is_switched_and_its_reboot_expected() {
    let mut bench = Bench::new(Rui3Behaviour::default());
    let mut out = Output::default();
    bench.modem.serial_in(b"AT+PRECV=0\r\nAT+NWM=1\r\n", 0, &mut out);
    assert_eq!(bench.modem.receiving(), None);
    bench.restart_driver();
    bench.advance(5_000_000);
    assert_eq!(bench.up().map(|u| u.0), Some(true), "{:?}", bench.commands());
    assert!(bench.commands().contains(&"AT+NWM=0".to_string()));
    let status = status_of(&mut bench.driver);
    assert!(status.contains("\"resets\":0"), "an asked-for reboot is not a reset: {status}");
}

fn status_of(h: &mut Harness) -> String {
    let command = Command { id: 1, name: "status".into(), args: String::new() };
    h.event(Event::Command(command))
        .unwrap()
        .into_iter()
        .find_map(|a| match a {
            Action::CommandReply(r) if r.ok => Some(r.body),
            _ => None,
        })
        .expect("a status reply")
}
