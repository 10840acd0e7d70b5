//! The emulated RAK3172 command by command.

use super::*;

fn booted(format: RxFormat) -> Rak3172 {
    booted_with(Rak3172Config { rx_format: format, ..Rak3172Config::default() })
}

fn booted_with(config: Rak3172Config) -> Rak3172 {
    let mut r = Rak3172::new(config);
    r.boot(&mut Output::default());
    r
}

fn release(version: FirmwareVersion, bandwidth: BandwidthForm) -> Rak3172 {
    booted_with(Rak3172Config {
        firmware: Rui3Behaviour { version, bandwidth, lenient: false },
        ..Rak3172Config::default()
    })
}

const BOOT: &str = "RAKwireless RAK3172-E Example\r\nCurrent Work Mode: LoRa P2P.\r\n";

fn send(r: &mut Rak3172, text: &str) -> (String, Output) {
    let mut out = Output::default();
    r.serial_in(text.as_bytes(), 0, &mut out);
    (String::from_utf8(out.serial.clone()).expect("ASCII replies"), out)
}

#[test]
fn boot_banner_and_flash_survives_a_reboot() {
    let mut r = Rak3172::new(Rak3172Config::default());
    let mut out = Output::default();
    r.boot(&mut out);
    assert_eq!(out.serial, b"RAKwireless RAK3172-E Example\r\nCurrent Work Mode: LoRa P2P.\r\n");
    send(&mut r, "AT+P2P=869525000:9:250:1:12:20\r\n");
    send(&mut r, "AT+PRECV=65534\r\n");
    assert_eq!(r.rx_mode(), RxMode::Continuous);
    let (text, out) = send(&mut r, "ATZ\r\n");
    assert!(out.rebooted);
    assert_eq!(text, "RAKwireless RAK3172-E Example\r\nCurrent Work Mode: LoRa P2P.\r\n");
    assert_eq!(r.rx_mode(), RxMode::Off, "receive mode is off after boot");
    assert_eq!(send(&mut r, "AT+P2P=?\r\n").0, "AT+P2P=869525000:9:1:1:12:20\r\nOK\r\n");
    let (text, out) = send(&mut r, "AT+NWM=1\r\n");
    assert!(out.rebooted, "AT+NWM restarts the module");
    assert!(text.starts_with("OK\r\n") && text.ends_with("Current Work Mode: LoRaWAN.\r\n"), "{text}");
}

#[test]
fn each_command_and_its_replies() {
    let mut r = booted(RxFormat::New);
    let cases = [
        ("AT\r\n", "OK\r\n"),
        ("at\r\n", "OK\r\n"),
        ("AT\n", "OK\r\n"),
        ("AT\r", "OK\r\n"),
        ("\r\n\r\n", ""),
        ("AT+NWM=?\r\n", "AT+NWM=0\r\nOK\r\n"),
        ("AT+VER=?\r\n", "AT+VER=RUI_4.2.1_RAK3172-E\r\nOK\r\n"),
        ("AT+NWM=2\r\n", "AT_PARAM_ERROR\r\n"),
        ("AT+P2P=?\r\n", "AT+P2P=868100000:7:0:0:8:14\r\nOK\r\n"),
        ("AT+P2P=868300000:12:500:3:65535:22\r\n", "OK\r\n"),
        ("AT+P2P=?\r\n", "AT+P2P=868300000:12:2:3:65535:22\r\nOK\r\n"),
        ("AT+P2P=868300000:12:1:3:65535:22\r\n", "OK\r\n"),
        ("AT+P2P=868100000:7:125:0:8:14\r\n", "OK\r\n"),
        ("AT+P2P=868100000:13:125:0:8:14\r\n", "AT_PARAM_ERROR\r\n"),
        ("AT+P2P=868100000:4:125:0:8:14\r\n", "AT_PARAM_ERROR\r\n"),
        ("AT+P2P=868100000:7:100:0:8:14\r\n", "AT_PARAM_ERROR\r\n"),
        ("AT+P2P=868100000:7:125:4:8:14\r\n", "AT_PARAM_ERROR\r\n"),
        ("AT+P2P=868100000:7:125:0:4:14\r\n", "AT_PARAM_ERROR\r\n"),
        ("AT+P2P=868100000:7:125:0:65536:14\r\n", "AT_PARAM_ERROR\r\n"),
        ("AT+P2P=868100000:7:125:0:8:23\r\n", "AT_PARAM_ERROR\r\n"),
        ("AT+P2P=868100000:7:125:0:8:4\r\n", "AT_PARAM_ERROR\r\n"),
        ("AT+P2P=868100000:7:125:0:8\r\n", "AT_PARAM_ERROR\r\n"),
        ("AT+P2P=868100000:7:125:0:8:14:1\r\n", "AT_PARAM_ERROR\r\n"),
        ("AT+P2P=8681OOOOO:7:125:0:8:14\r\n", "AT_PARAM_ERROR\r\n"),
        ("AT+P2P=2400000000:7:125:0:8:14\r\n", "AT_PARAM_ERROR\r\n"),
        ("AT+P2P=\r\n", "AT_PARAM_ERROR\r\n"),
        ("AT+PRECV=65534\r\n", "OK\r\n"),
        ("AT+PRECV=?\r\n", "AT+PRECV=65534\r\nOK\r\n"),
        ("AT+PRECV=0\r\n", "OK\r\n"),
        ("AT+PRECV=65533\r\n", "OK\r\n"),
        ("AT+PRECV=?\r\n", "AT+PRECV=65533\r\nOK\r\n"),
        ("AT+PRECV=0\r\n", "OK\r\n"),
        ("AT+PRECV=65536\r\n", "AT_PARAM_ERROR\r\n"),
        ("AT+PRECV=-1\r\n", "AT_PARAM_ERROR\r\n"),
        ("AT+PRECV=abc\r\n", "AT_PARAM_ERROR\r\n"),
        ("AT+PSEND=\r\n", "AT_PARAM_ERROR\r\n"),
        ("AT+PSEND=ABC\r\n", "AT_PARAM_ERROR\r\n"),
        ("AT+PSEND=GG\r\n", "AT_PARAM_ERROR\r\n"),
        ("AT+FOO=1\r\n", "AT_ERROR\r\n"),
        ("AT+P2P\r\n", "AT_ERROR\r\n"),
        ("hello\r\n", "AT_ERROR\r\n"),
    ];
    for (input, expected) in cases {
        assert_eq!(send(&mut r, input).0, expected, "{input:?}");
    }
    let too_long = format!("AT+PSEND={}\r\n", "00".repeat(256));
    assert_eq!(send(&mut r, &too_long).0, "AT_PARAM_ERROR\r\n");
    assert_eq!(r.serial_errors(), 24);

    // LoRaWAN mode: P2P commands refused.
    assert_eq!(
        send(&mut r, "AT+NWM=1\r\n").0,
        "OK\r\nRAKwireless RAK3172-E Example\r\nCurrent Work Mode: LoRaWAN.\r\n"
    );
    assert_eq!(send(&mut r, "AT+NWM=?\r\n").0, "AT+NWM=1\r\nOK\r\n");
    for command in ["AT+P2P=?", "AT+P2P=868100000:7:125:0:8:14", "AT+PRECV=65534", "AT+PSEND=00"] {
        assert_eq!(send(&mut r, &format!("{command}\r\n")).0, "AT_ERROR\r\n", "{command}");
    }
    assert_eq!(r.receiving(), None);
    assert_eq!(send(&mut r, "AT+NWM=0\r\n").0, format!("OK\r\n{BOOT}"));
    assert_eq!(send(&mut r, "AT+PSEND=00\r\n").0, "OK\r\n");
}

#[test]
fn psend_transmits_as_is_and_is_busy_until_done() {
    let mut r = booted(RxFormat::New);
    let (text, out) = send(&mut r, "AT+PSEND=00c0ffEE\r\n");
    assert_eq!(text, "OK\r\n");
    let (params, frame) = out.transmit.expect("on air");
    assert_eq!(frame, [0x00, 0xC0, 0xFF, 0xEE]);
    assert_eq!(params, LoraParams::default());
    assert!(r.transmitting());
    assert_eq!(send(&mut r, "AT+PSEND=01\r\n").0, "AT_BUSY_ERROR\r\n");
    assert_eq!(send(&mut r, "AT+P2P=868100000:7:125:0:8:14\r\n").0, format!("{RX_ON_SETTER}\r\nAT_BUSY_ERROR\r\n"));
    assert_eq!(send(&mut r, "AT+PRECV=65534\r\n").0, "AT_BUSY_ERROR\r\n");
    assert_eq!(send(&mut r, "AT\r\n").0, "OK\r\n");
    let mut out = Output::default();
    r.tx_done(&mut out);
    assert_eq!(out.serial, b"+EVT:TXP2P DONE\r\n");
    assert_eq!(r.rx_mode(), RxMode::Off, "a send outside 65533 leaves the radio in standby");
    let max = format!("AT+PSEND={}\r\n", "AB".repeat(255));
    let (text, out) = send(&mut r, &max);
    assert_eq!(text, "OK\r\n");
    assert_eq!(out.transmit.map(|(_, f)| f.len()), Some(255));
}

/// Finding 1 of issue 22, on the emulator's side: RUI3 refuses a send while
/// receiving (`service_lora_p2p_send`), except in mode 65533, which returns
/// to receive after the send.
#[test]
fn a_send_while_receiving_is_busy_except_in_mode_65533() {
    let mut r = booted(RxFormat::New);
    for mode in ["65534", "65535", "3000"] {
        assert_eq!(send(&mut r, &format!("AT+PRECV={mode}\r\n")).0, "OK\r\n");
        assert_eq!(send(&mut r, "AT+PSEND=AA\r\n").0, "AT_BUSY_ERROR\r\n", "receive mode {mode}");
        assert_eq!(send(&mut r, "AT+PRECV=0\r\n").0, "OK\r\n");
    }
    send(&mut r, "AT+PRECV=65533\r\n");
    let (text, out) = send(&mut r, "AT+PSEND=AA\r\n");
    assert_eq!((text.as_str(), out.transmit.is_some()), ("OK\r\n", true));
    r.tx_done(&mut Output::default());
    assert_eq!(r.rx_mode(), RxMode::ContinuousTx, "back to receiving after the send");
    assert!(r.receiving().is_some());

    // Before 3.4.0, 65533 is only a long receive window.
    let mut old = release(FirmwareVersion::new(3, 2, 0), BandwidthForm::Khz);
    send(&mut old, "AT+PRECV=65533\r\n");
    assert!(matches!(old.rx_mode(), RxMode::Until(_)));
    assert_eq!(send(&mut old, "AT+PSEND=AA\r\n").0, "AT_BUSY_ERROR\r\n");

    // Lenient: the emulator's old behaviour, for tests that ask for it.
    let mut lenient = booted_with(Rak3172Config {
        firmware: Rui3Behaviour { lenient: true, ..Rui3Behaviour::default() },
        ..Rak3172Config::default()
    });
    send(&mut lenient, "AT+PRECV=65534\r\n");
    assert_eq!(send(&mut lenient, "AT+PSEND=AA\r\n").0, "OK\r\n");
    assert_eq!(send(&mut lenient, "AT+NWM=0\r\n").0, "AT_BUSY_ERROR\r\n", "busy while on air");
    lenient.tx_done(&mut Output::default());
    assert_eq!(lenient.rx_mode(), RxMode::Continuous);
    assert_eq!(send(&mut lenient, "AT+NWM=0\r\n").0, "OK\r\n", "no reboot, no refusal while receiving");
}

/// Finding 2 of issue 22, on the emulator's side: from 4.0.6 every setter
/// is refused while receiving, and a second continuous receive too; only
/// `AT+PRECV=0` gets the radio out.
#[test]
fn setters_are_busy_while_receiving_until_precv_0() {
    let mut r = booted(RxFormat::New);
    send(&mut r, "AT+PRECV=65534\r\n");
    let busy = format!("{RX_ON_SETTER}\r\nAT_BUSY_ERROR\r\n");
    assert_eq!(send(&mut r, "AT+NWM=0\r\n").0, busy);
    assert_eq!(send(&mut r, "AT+P2P=868100000:7:125:0:8:14\r\n").0, busy);
    assert_eq!(send(&mut r, "AT+P2P=868100000:7:125:0:8:99\r\n").0, "AT_PARAM_ERROR\r\n", "parameters first");
    assert_eq!(send(&mut r, "AT+PRECV=65533\r\n").0, format!("{RX_ON_ALREADY}\r\nAT_BUSY_ERROR\r\n"));
    assert_eq!(send(&mut r, "AT+P2P=?\r\n").0, "AT+P2P=868100000:7:0:0:8:14\r\nOK\r\n", "queries work");
    assert_eq!(send(&mut r, "AT+PRECV=0\r\n").0, "OK\r\n");
    assert_eq!(send(&mut r, "AT+P2P=868100000:7:125:0:8:14\r\n").0, "OK\r\n");

    // 3.4.x accepted setters while receiving; only a transmission blocked them.
    let mut mid = release(FirmwareVersion::new(3, 4, 11), BandwidthForm::Khz);
    send(&mut mid, "AT+PRECV=65534\r\n");
    assert_eq!(send(&mut mid, "AT+P2P=868100000:7:125:0:8:14\r\n").0, "OK\r\n");
    assert_eq!(send(&mut mid, "AT+P2P=?\r\n").0, "AT+P2P=868100000:7:125:0:8:14\r\nOK\r\n");
}

/// `AT+PRECV=0` ends a transmission too: no TXP2P DONE follows.
#[test]
fn precv_0_aborts_a_transmission_silently() {
    let mut r = booted(RxFormat::New);
    send(&mut r, "AT+PSEND=AA\r\n");
    assert_eq!(send(&mut r, "AT+PRECV=0\r\n").0, "OK\r\n");
    let mut out = Output::default();
    r.tx_done(&mut out);
    assert!(out.serial.is_empty());
    // Releases before 4.0.2 never report the end of a send.
    let mut old = release(FirmwareVersion::new(3, 4, 11), BandwidthForm::Khz);
    send(&mut old, "AT+PSEND=AA\r\n");
    let mut out = Output::default();
    old.tx_done(&mut out);
    assert!(out.serial.is_empty() && !old.transmitting());
}

#[test]
fn received_frames_in_both_formats_only_while_receiving() {
    let mut r = booted(RxFormat::New);
    let mut out = Output::default();
    r.air_rx(&[1, 2], -60, 9.5, &mut out);
    assert!(out.serial.is_empty(), "not receiving yet");
    send(&mut r, "AT+PRECV=65534\r\n");
    r.air_rx(&[0x00, 0xAB, 0x0F], -37, 11.0, &mut out);
    r.air_rx(&[0xFF], -120, -7.25, &mut out);
    assert_eq!(String::from_utf8_lossy(&out.serial), "+EVT:RXP2P:-37:11:00AB0F\r\n+EVT:RXP2P:-120:-7:FF\r\n");

    let mut r = booted(RxFormat::Old);
    send(&mut r, "AT+PRECV=65535\r\n");
    let mut out = Output::default();
    r.air_rx(&[0xDE, 0xAD], -37, 11.0, &mut out);
    r.air_rx(&[0xBE, 0xEF], -37, 11.0, &mut out);
    assert_eq!(String::from_utf8_lossy(&out.serial), "+EVT:RXP2P, RSSI -37, SNR 11\r\n+EVT:DEAD\r\n");
    assert_eq!(r.rx_mode(), RxMode::Off, "65535 receives one frame");
}

#[test]
fn a_timed_receive_window_closes() {
    let mut r = booted(RxFormat::New);
    let mut out = Output::default();
    r.serial_in(b"AT+PRECV=3000\r\n", 1_000, &mut out);
    assert_eq!(r.next_wakeup(), Some(3_001_000));
    assert!(r.receiving().is_some());
    r.poll(3_000_999, &mut out);
    assert!(r.receiving().is_some());
    let mut out = Output::default();
    r.poll(3_001_000, &mut out);
    assert_eq!(out.serial, b"+EVT:RXP2P RECEIVE TIMEOUT\r\n");
    assert_eq!(r.receiving(), None);
    assert_eq!(r.next_wakeup(), None);
}

#[test]
fn overlong_and_garbage_lines_are_refused_and_the_next_line_works() {
    let mut r = booted(RxFormat::New);
    let long = format!("AT+PSEND={}\r\n", "0".repeat(MAX_LINE));
    assert_eq!(send(&mut r, &long).0, "AT_ERROR\r\n");
    assert_eq!(send(&mut r, "AT\r\n").0, "OK\r\n");
    // Exactly 600 characters is still a line (and a valid-length PSEND is not).
    let exact = format!("AT+PSEND={}", "0".repeat(MAX_LINE - 9));
    assert_eq!(exact.len(), MAX_LINE);
    assert_eq!(send(&mut r, &format!("{exact}\r\n")).0, "AT_PARAM_ERROR\r\n");
    assert_eq!(send(&mut r, "\u{0}\u{7f}AT\r\n").0, "AT_ERROR\r\n");
    let (text, _) = send(&mut r, "\u{ff}");
    assert!(text.is_empty());
    let mut out = Output::default();
    r.serial_in(&[0xFF, 0xFE, b'\n'], 0, &mut out);
    assert_eq!(out.serial, b"AT_ERROR\r\n", "not UTF-8");
    let mut seed = weft_plugin_api::internal::rng::SplitMix64::new(5);
    for _ in 0..300 {
        let bytes: Vec<u8> = (0..seed.below(900))
            .map(|_| match seed.below(8) {
                0 => b'\r',
                1 => b'\n',
                2 => b'=',
                3 => b':',
                _ => seed.next_u64() as u8,
            })
            .collect();
        let mut out = Output::default();
        r.serial_in(&bytes, 0, &mut out);
        r.tx_done(&mut out);
        r.air_rx(&bytes, -1, 0.0, &mut out);
    }
    assert!(send(&mut r, "\r\nAT\r\n").0.ends_with("OK\r\n"));
}
