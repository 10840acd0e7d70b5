//! The simulator end to end over real PTYs, driven the way a host drives a
//! USB modem: open the path (O_NOCTTY, TIOCEXCL like the `serialport`
//! crate), write commands, read replies with bounded waits.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use weft_kiss::{Decoder, Frame, encode};
use weft_modem_sim::{DeviceSpec, Sim, SimConfig};
use weft_plugin_api::hex::encode_upper as encode_hex;

const WAIT: Duration = Duration::from_secs(5);

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("weft-modem-sim-{test}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Opens a port the way `serialport` does (non-blocking, no controlling
/// tty, exclusive).
fn open(path: &Path) -> std::io::Result<File> {
    let file =
        fs::OpenOptions::new().read(true).write(true).custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK).open(path)?;
    // SAFETY: ioctl without argument on an open descriptor.
    if unsafe { libc::ioctl(file.as_raw_fd(), libc::TIOCEXCL) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(file)
}

/// Reads into `buf` until `done(buf)` or the timeout; returns whether done.
fn read_until(file: &mut File, buf: &mut Vec<u8>, timeout: Duration, done: impl Fn(&[u8]) -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done(buf) {
            return true;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let mut fd = libc::pollfd { fd: file.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut fd, 1, left.as_millis().min(20) as libc::c_int) };
        let mut chunk = [0u8; 4096];
        match file.read(&mut chunk) {
            Ok(0) => return done(buf),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return done(buf),
        }
    }
}

/// A KISS host on one port.
struct Kiss {
    file: File,
    decoder: Decoder,
    frames: Vec<Frame>,
}

impl Kiss {
    fn new(file: File) -> Kiss {
        Kiss { file, decoder: Decoder::new(2048), frames: Vec::new() }
    }

    fn send(&mut self, cmd: u8, payload: &[u8]) {
        self.file.write_all(&encode(cmd, payload)).expect("write");
    }

    /// Waits for a frame matching `want`; returns the frames up to it.
    fn wait_for(&mut self, want: impl Fn(&Frame) -> bool) -> Vec<Frame> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(i) = self.frames.iter().position(&want) {
                return self.frames.drain(..=i).collect();
            }
            let mut bytes = Vec::new();
            read_until(&mut self.file, &mut bytes, Duration::from_millis(20), |b| !b.is_empty());
            self.frames.extend(self.decoder.push(&bytes));
            assert!(Instant::now() < deadline, "timed out; frames so far: {:02X?}", self.frames);
        }
    }

    /// Sends a setting and waits for its echo.
    fn set(&mut self, cmd: u8, payload: &[u8]) -> Vec<u8> {
        self.send(cmd, payload);
        self.wait_for(|f| f.cmd == cmd).pop().map(|f| f.payload).unwrap_or_default()
    }

    fn configure(&mut self, bandwidth: u32) {
        assert_eq!(self.set(0x01, &868_100_000u32.to_be_bytes()), 868_100_000u32.to_be_bytes());
        assert_eq!(self.set(0x02, &bandwidth.to_be_bytes()), bandwidth.to_be_bytes());
        assert_eq!(self.set(0x03, &[14]), [14]);
        assert_eq!(self.set(0x04, &[7]), [7]);
        assert_eq!(self.set(0x05, &[5]), [5]);
        assert_eq!(self.set(0x06, &[1]), [1], "radio on");
    }
}

/// An AT host on one port.
struct At {
    file: File,
    text: Vec<u8>,
}

impl At {
    /// Waits for a whole line that starts with `prefix`; returns it and drops
    /// everything before it.
    fn wait_line(&mut self, prefix: &str) -> String {
        let find = |text: &[u8]| {
            let text = String::from_utf8_lossy(text);
            let mut at = 0;
            for line in text.split_inclusive("\r\n") {
                at += line.len();
                if line.ends_with("\r\n") && line.starts_with(prefix) {
                    return Some((line.trim_end().to_string(), at));
                }
            }
            None
        };
        let found = read_until(&mut self.file, &mut self.text, WAIT, |t| find(t).is_some());
        assert!(found, "no {prefix:?} line; got {:?}", String::from_utf8_lossy(&self.text));
        let Some((line, end)) = find(&self.text) else { unreachable!("found above") };
        self.text.drain(..end);
        line
    }

    fn command(&mut self, line: &str) -> String {
        self.file.write_all(format!("{line}\r\n").as_bytes()).expect("write");
        let reply = self.wait_line("");
        assert!(reply != line, "echo is off");
        reply
    }
}

#[test]
fn an_rnode_and_a_rak3172_talk_over_real_ptys() {
    let dir = temp_dir("talk");
    let config = SimConfig { time_scale: 10.0, seed: 5 };
    let devices = vec![
        DeviceSpec::rnode("rn", dir.join("rn")),
        DeviceSpec::rak3172("rak", dir.join("rak")),
        DeviceSpec::rnode("rn2", None),
    ];
    let sim = Sim::start(config, devices).expect("sim starts");
    assert_eq!(sim.path("rn"), Some(dir.join("rn")));
    let rn2_path = sim.path("rn2").expect("pts path");
    assert!(rn2_path.starts_with("/dev/pts"), "{rn2_path:?}");
    assert_eq!(sim.path("nobody"), None);

    // RNode: boot frame waiting, detect burst, configuration.
    let mut rn = Kiss::new(open(&dir.join("rn")).expect("open rn"));
    assert_eq!(rn.wait_for(|f| f.cmd == 0x55), vec![Frame { cmd: 0x55, payload: vec![0xF8] }]);
    rn.file.write_all(&[0xC0, 0x08, 0x73, 0xC0, 0x50, 0x00, 0xC0, 0x48, 0x00, 0xC0, 0x49, 0x00, 0xC0]).expect("w");
    let answers = rn.wait_for(|f| f.cmd == 0x49);
    let answers: Vec<(u8, Vec<u8>)> = answers.into_iter().map(|f| (f.cmd, f.payload)).collect();
    assert_eq!(answers, vec![(0x08, vec![0x46]), (0x50, vec![1, 0x4A]), (0x48, vec![0x80]), (0x49, vec![0x81])]);
    rn.configure(500_000);

    // RAK3172: banner waiting, P2P on the same parameters, continuous RX.
    let mut rak = At { file: open(&dir.join("rak")).expect("open rak"), text: Vec::new() };
    assert_eq!(rak.wait_line("RAK"), "RAKwireless RAK3172-E Example");
    assert_eq!(rak.wait_line("Current"), "Current Work Mode: LoRa P2P.");
    assert_eq!(rak.command("AT+NWM=?"), "AT+NWM=0");
    assert_eq!(rak.wait_line("OK"), "OK");
    assert_eq!(rak.command("AT+P2P=868100000:7:500:0:8:14"), "OK");
    assert_eq!(rak.command("AT+PRECV=65533"), "OK");

    // RNode -> RAK: the RAK sees the raw on-air frame, header byte first.
    let packet = b"hello from the rnode";
    rn.send(0x00, packet);
    let event = rak.wait_line("+EVT:RXP2P:");
    let fields: Vec<&str> = event.split(':').collect();
    assert_eq!(fields.len(), 5, "{event}");
    assert_eq!(fields[2..4], ["-60", "10"], "{event}");
    let hex = fields[4];
    assert_eq!(hex.len(), 2 * (1 + packet.len()), "{event}");
    let header = u8::from_str_radix(&hex[..2], 16).expect("hex header");
    assert_eq!(header & 0x0F, 0, "not split");
    assert_eq!(&hex[2..], encode_hex(packet));

    // RAK -> RNode: the RNode strips the first byte as its header.
    let data = b"hi from the rak";
    assert_eq!(rak.command(&format!("AT+PSEND=00{}", encode_hex(data))), "OK");
    assert_eq!(rak.wait_line("+EVT:TXP2P"), "+EVT:TXP2P DONE");
    let frames = rn.wait_for(|f| f.cmd == 0x00);
    let n = frames.len();
    assert!(n >= 3, "{frames:?}");
    assert_eq!(frames[n - 3], Frame { cmd: 0x23, payload: vec![97] }, "RSSI -60 + 157");
    assert_eq!(frames[n - 2], Frame { cmd: 0x24, payload: vec![38] }, "SNR 9.5 x 4");
    assert_eq!(frames[n - 1].payload, data);

    // RNode -> RNode: a 400-byte packet goes as two frames and arrives whole.
    let mut rn2 = Kiss::new(open(&rn2_path).expect("open rn2"));
    rn2.wait_for(|f| f.cmd == 0x55);
    rn2.configure(500_000);
    let big: Vec<u8> = (0..400u32).map(|i| (i * 31 % 251) as u8).collect();
    rn.send(0x00, &big);
    let got = rn2.wait_for(|f| f.cmd == 0x00);
    assert_eq!(got.last().map(|f| f.payload.clone()), Some(big.clone()));
    // The RAK hears the two halves as two raw frames, same split header.
    let first = rak.wait_line("+EVT:RXP2P:");
    let second = rak.wait_line("+EVT:RXP2P:");
    let first_hex = first.rsplit(':').next().unwrap_or_default();
    let second_hex = second.rsplit(':').next().unwrap_or_default();
    assert_eq!(first_hex.len(), 2 * 255);
    assert_eq!(second_hex.len(), 2 * (1 + 400 - 254));
    assert_eq!(first_hex[..2], second_hex[..2]);
    assert_eq!(u8::from_str_radix(&first_hex[..2], 16).map(|h| h & 1), Ok(1));

    // READY and the counters.
    rn.send(0x0F, &[0]);
    assert_eq!(rn.wait_for(|f| f.cmd == 0x0F).pop().map(|f| f.payload), Some(vec![1]));
    rn.send(0x22, &[0]);
    assert_eq!(rn.wait_for(|f| f.cmd == 0x22).pop().map(|f| f.payload), Some(vec![0, 0, 0, 2]));
    let rn_stats = sim.stats("rn").expect("stats");
    assert_eq!(rn_stats.air.frames_sent, 3);
    assert_eq!(rn_stats.air.frames_received, 1);
    assert_eq!(rn_stats.boots, 1);
    assert!(rn_stats.air.airtime_us > 0);
    let rak_stats = sim.stats("rak").expect("stats");
    assert_eq!((rak_stats.air.frames_sent, rak_stats.air.frames_received), (1, 3));
    // rn2's radio was still off during the first packet: only the halves.
    assert_eq!(sim.stats("rn2").map(|s| s.air.frames_received), Some(2));
    assert_eq!(sim.stats("rn2").map(|s| s.air.bytes_received), Some(2 + 400));

    sim.stop();
    assert!(fs::symlink_metadata(dir.join("rn")).is_err(), "links removed on stop");
    assert!(fs::symlink_metadata(dir.join("rak")).is_err());
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn unplug_replug_and_reboot() {
    let dir = temp_dir("plug");
    let link = dir.join("modem");
    let sim = Sim::start(
        SimConfig::default(),
        vec![DeviceSpec::rnode("rn", link.clone()), DeviceSpec::rak3172("rak", dir.join("rak"))],
    )
    .expect("sim");
    let mut host = open(&link).expect("open");
    let mut bytes = Vec::new();
    assert!(read_until(&mut host, &mut bytes, WAIT, |b| b.ends_with(&[0xC0, 0x55, 0xF8, 0xC0])));

    assert!(sim.unplug("rn"));
    assert!(!sim.unplug("rn"), "already unplugged");
    assert!(fs::symlink_metadata(&link).is_err(), "the link is gone");
    assert!(open(&link).is_err());
    let mut buf = [0u8; 16];
    match host.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("read {n} bytes from an unplugged modem"),
        Err(e) => assert_ne!(e.kind(), std::io::ErrorKind::WouldBlock, "{e}"),
    }
    assert_eq!(sim.stats("rn").map(|s| s.plugged), Some(false));
    assert!(!sim.reboot("rn"), "cannot reboot an unplugged device");
    assert_eq!(sim.path("rn"), Some(link.clone()), "the stable path stays known");
    drop(host);

    assert!(sim.replug("rn"));
    assert!(!sim.replug("rn"), "already plugged");
    let mut host = open(&link).expect("reopen after replug");
    let mut bytes = Vec::new();
    assert!(read_until(&mut host, &mut bytes, WAIT, |b| b == [0xC0, 0x55, 0xF8, 0xC0]), "boot: {bytes:02X?}");

    // A half frame is dropped after 100 ms of silence.
    host.write_all(&[0xC0, 0x08]).expect("w");
    std::thread::sleep(Duration::from_millis(250));
    host.write_all(&[0x73, 0xC0, 0x08, 0x73, 0xC0]).expect("w");
    let mut bytes = Vec::new();
    read_until(&mut host, &mut bytes, Duration::from_millis(400), |_| false);
    assert_eq!(bytes, [0xC0, 0x08, 0x46, 0xC0], "one detect answer: the first half was dropped");

    assert!(sim.reboot("rn"));
    let mut bytes = Vec::new();
    assert!(read_until(&mut host, &mut bytes, WAIT, |b| b == [0xC0, 0x55, 0xF8, 0xC0]));
    assert_eq!(sim.stats("rn").map(|s| s.boots), Some(3));

    // The RAK reboots with its banner.
    let mut rak = open(&dir.join("rak")).expect("open rak");
    let banner = "RAKwireless RAK3172-E Example\r\nCurrent Work Mode: LoRa P2P.\r\n";
    let mut text = Vec::new();
    assert!(read_until(&mut rak, &mut text, WAIT, |t| t == banner.as_bytes()));
    assert!(sim.reboot("rak"));
    let mut text = Vec::new();
    assert!(read_until(&mut rak, &mut text, WAIT, |t| t == banner.as_bytes()));

    assert!(!sim.unplug("nobody"));
    assert_eq!(sim.stats("nobody"), None);
    drop(sim);
    assert!(fs::symlink_metadata(&link).is_err(), "links removed on drop");
    let _ = fs::remove_dir_all(&dir);
}

/// A host that sets TIOCEXCL and exits without clearing it must not lock the
/// port for the next one. Root ignores the flag, so the reopen is also tried
/// as an unprivileged user when this runs as root and `setpriv` exists.
#[test]
fn a_port_can_be_reopened_after_a_host_left_it_exclusive() {
    let sim = Sim::start(SimConfig::default(), vec![DeviceSpec::rnode("rn", None)]).expect("sim");
    let path = sim.path("rn").expect("path");
    for _ in 0..3 {
        let host = open(&path).expect("open");
        drop(host);
    }
    // Let the device thread see those closes before the next host opens (a
    // close handled while a new host opens could clear that host's flag).
    std::thread::sleep(Duration::from_millis(100));
    let host = open(&path).expect("open");
    // SAFETY: getuid has no preconditions.
    let root = unsafe { libc::getuid() } == 0;
    let setpriv = Path::new("/usr/bin/setpriv").exists();
    if !(root && setpriv) {
        eprintln!("skipping the unprivileged reopen (needs root and setpriv)");
        return;
    }
    fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o666)).expect("chmod");
    let try_open = || {
        std::process::Command::new("/usr/bin/setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c"])
            .arg(format!("exec 3<>{}", path.display()))
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    assert!(!try_open(), "while the host holds it, the port is exclusive");
    drop(host);
    let deadline = Instant::now() + Duration::from_secs(2);
    while !try_open() {
        assert!(Instant::now() < deadline, "the port stayed exclusive after the host closed it");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn airtime_is_real_time_divided_by_time_scale() {
    let sim = Sim::start(SimConfig { time_scale: 2.0, seed: 1 }, vec![DeviceSpec::rak3172("rak", None)]).expect("sim");
    let mut rak = At { file: open(&sim.path("rak").expect("path")).expect("open"), text: Vec::new() };
    rak.wait_line("Current Work Mode");
    // 50 bytes at SF7/125 kHz: 97.5 ms on air, 48.8 ms at time scale 2.
    let airtime = weft_plugin_api::radio::LoraParams::default().time_on_air_us(50);
    assert_eq!(airtime / 100, 975);
    let sent = Instant::now();
    assert_eq!(rak.command(&format!("AT+PSEND={}", "5A".repeat(50))), "OK");
    assert_eq!(rak.wait_line("+EVT:TXP2P"), "+EVT:TXP2P DONE");
    let took = sent.elapsed();
    assert!(took >= Duration::from_micros(airtime / 2), "done after {took:?}");
    assert!(took < Duration::from_millis(500), "done after {took:?}");
    assert_eq!(sim.stats("rak").map(|s| s.air.airtime_us), Some(airtime));
}
