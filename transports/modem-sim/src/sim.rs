//! The running simulation: threads, the clock and the glue between PTYs,
//! firmware state machines and the medium.
//!
//! Owns: one thread per device (polls its PTY master every 20 ms at most,
//! feeds host bytes to the firmware, drops half frames after 100 ms of
//! serial silence, clears a stale exclusive-open flag after a host closes
//! the port, flushes output the PTY could not take at once), one clock
//! thread (wakes at the next airtime end or firmware timer), the mapping of
//! real time to simulated radio time (`time_scale`), plug/unplug/reboot and
//! the per-device counters.
//!
//! All state sits behind one mutex (the private `World`); each thread takes it,
//! brings the medium and firmware timers up to the current simulated time,
//! then applies its input. Writes to the PTYs never block: what does not
//! fit waits in a per-device buffer (capped; the excess is dropped and
//! counted, as a USB serial bridge drops data nobody reads).

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use weft_plugin_api::radio::LoraParams;

use crate::medium::{AirStats, Event, LinkQuality, Medium, NodeId};
use crate::pty::Pty;
use crate::rak3172::{Rak3172, Rak3172Config};
use crate::rnode::{RNode, RNodeConfig};
use crate::{DeviceSpec, Output, Protocol};

/// How long a device thread waits on its PTY per round.
const POLL: Duration = Duration::from_millis(20);
/// Serial silence after which a half-received frame is dropped.
const SERIAL_IDLE: Duration = Duration::from_millis(100);
/// The longest the clock thread sleeps without looking at the stop flag.
const MAX_SLEEP: Duration = Duration::from_millis(50);
/// Output to a host that is not reading is dropped beyond this many bytes.
const MAX_PENDING: usize = 256 * 1024;
/// Host input taken per round.
const MAX_READ: usize = 64 * 1024;
/// Bound on medium events and firmware timers handled per catch-up.
const MAX_STEPS: usize = 100_000;
/// Frames each device's radio heard that [`Sim::heard`] keeps (the newest).
pub const HEARD_KEPT: usize = 4096;

/// Settings of the whole simulation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimConfig {
    /// How much faster than real radio time the simulation runs (every
    /// airtime wait is divided by it); must be finite and positive.
    pub time_scale: f64,
    /// Seed of every pseudo-random choice (link loss, CSMA slots, on-air
    /// sequence numbers).
    pub seed: u64,
}

impl Default for SimConfig {
    /// Real time, seed 1.
    fn default() -> Self {
        SimConfig { time_scale: 1.0, seed: 1 }
    }
}

/// Counters of one device (snapshot).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceStats {
    /// Whether the device is plugged in.
    pub plugged: bool,
    /// Boots so far (creation, reboots, replugs).
    pub boots: u64,
    /// What happened on air at this device.
    pub air: AirStats,
    /// Bytes received from the host.
    pub serial_bytes_in: u64,
    /// Bytes delivered to the host (written to the PTY).
    pub serial_bytes_out: u64,
    /// Malformed host input (bad KISS frames, unknown commands, error
    /// replies to AT lines).
    pub serial_errors: u64,
    /// Output bytes dropped (unplugged, or a host not reading).
    pub serial_dropped: u64,
}

impl std::fmt::Display for DeviceStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "plugged={} boots={} sent={} ({} B, {} us airtime) received={} ({} B) collisions={} losses={} \
             missed_tx={} aborted={} serial_in={} B serial_out={} B serial_errors={} serial_dropped={} B",
            self.plugged,
            self.boots,
            self.air.frames_sent,
            self.air.bytes_sent,
            self.air.airtime_us,
            self.air.frames_received,
            self.air.bytes_received,
            self.air.collisions,
            self.air.losses,
            self.air.missed_while_transmitting,
            self.air.aborted,
            self.serial_bytes_in,
            self.serial_bytes_out,
            self.serial_errors,
            self.serial_dropped
        )
    }
}

/// Real time to simulated radio time.
#[derive(Debug)]
struct Clock {
    start: Instant,
    scale: f64,
}

impl Clock {
    fn now_us(&self) -> u64 {
        (self.start.elapsed().as_secs_f64() * 1e6 * self.scale) as u64
    }

    fn real(&self, sim_us: u64) -> Duration {
        Duration::from_secs_f64(sim_us as f64 / 1e6 / self.scale)
    }
}

#[derive(Debug)]
enum Firmware {
    RNode(RNode),
    Rak(Rak3172),
}

impl Firmware {
    fn boot(&mut self, out: &mut Output) {
        match self {
            Firmware::RNode(f) => f.boot(out),
            Firmware::Rak(f) => f.boot(out),
        }
    }

    fn serial_in(&mut self, bytes: &[u8], now: u64, out: &mut Output) {
        match self {
            Firmware::RNode(f) => f.serial_in(bytes, out),
            Firmware::Rak(f) => f.serial_in(bytes, now, out),
        }
    }

    fn serial_idle(&mut self) {
        match self {
            Firmware::RNode(f) => f.serial_idle(),
            // The AT firmware keeps a partial line.
            Firmware::Rak(_) => {}
        }
    }

    fn poll(&mut self, now: u64, busy_until: Option<u64>, out: &mut Output) {
        match self {
            Firmware::RNode(f) => f.poll(now, busy_until, out),
            Firmware::Rak(f) => f.poll(now, out),
        }
    }

    fn next_wakeup(&self) -> Option<u64> {
        match self {
            Firmware::RNode(f) => f.next_wakeup(),
            Firmware::Rak(f) => f.next_wakeup(),
        }
    }

    fn tx_done(&mut self, out: &mut Output) {
        match self {
            Firmware::RNode(f) => f.tx_done(out),
            Firmware::Rak(f) => f.tx_done(out),
        }
    }

    fn air_rx(&mut self, frame: &[u8], rssi_dbm: i16, snr_db: f32, out: &mut Output) {
        match self {
            Firmware::RNode(f) => f.air_rx(frame, rssi_dbm, snr_db, out),
            Firmware::Rak(f) => f.air_rx(frame, rssi_dbm, snr_db, out),
        }
    }

    fn receiving(&self) -> Option<LoraParams> {
        match self {
            Firmware::RNode(f) => f.receiving(),
            Firmware::Rak(f) => f.receiving(),
        }
    }

    fn serial_errors(&self) -> u64 {
        match self {
            Firmware::RNode(f) => f.serial_errors(),
            Firmware::Rak(f) => f.serial_errors(),
        }
    }
}

#[derive(Debug)]
struct Device {
    spec: DeviceSpec,
    node: NodeId,
    firmware: Firmware,
    pty: Option<Arc<Pty>>,
    pending: Vec<u8>,
    boots: u64,
    serial_bytes_in: u64,
    serial_bytes_out: u64,
    serial_dropped: u64,
    /// The newest frames that reached this device's radio, oldest first.
    heard: std::collections::VecDeque<Vec<u8>>,
}

impl Device {
    fn send(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.pty.is_none() || self.pending.len() + bytes.len() > MAX_PENDING {
            self.serial_dropped += bytes.len() as u64;
            return;
        }
        self.pending.extend_from_slice(bytes);
        self.flush();
    }

    fn flush(&mut self) {
        let Some(pty) = &self.pty else {
            self.serial_dropped += self.pending.len() as u64;
            self.pending.clear();
            return;
        };
        while !self.pending.is_empty() {
            match pty.write(&self.pending) {
                Ok(0) => break,
                Ok(n) => {
                    self.serial_bytes_out += n as u64;
                    self.pending.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.serial_dropped += self.pending.len() as u64;
                    self.pending.clear();
                }
            }
        }
    }
}

/// Everything behind the lock.
#[derive(Debug)]
struct World {
    medium: Medium,
    devices: Vec<Device>,
    /// Simulated time of the last catch-up, microseconds.
    time: u64,
}

impl World {
    fn now(&mut self, clock: &Clock) -> u64 {
        self.time = self.time.max(clock.now_us());
        self.time
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.devices.iter().position(|d| d.spec.name == name)
    }

    /// Handles every medium event and firmware timer due by `now`, in time
    /// order.
    fn advance(&mut self, now: u64) {
        for _ in 0..MAX_STEPS {
            let medium_at = self.medium.next_deadline();
            let device_at = self
                .devices
                .iter()
                .enumerate()
                .filter(|(_, d)| d.pty.is_some())
                .filter_map(|(i, d)| d.firmware.next_wakeup().map(|t| (t, i)))
                .min();
            match (medium_at, device_at) {
                (Some(m), d) if d.is_none_or(|(t, _)| m <= t) => {
                    let Some((at, events)) = self.medium.pop_due(now) else { break };
                    for event in events {
                        self.handle(event, at);
                    }
                }
                (_, Some((at, i))) if at <= now => self.settle(i, at, Output::default()),
                _ => break,
            }
        }
    }

    fn handle(&mut self, event: Event, at: u64) {
        let mut out = Output::default();
        let i = match event {
            Event::TxDone { node } => {
                let Some(i) = self.devices.iter().position(|d| d.node == node) else { return };
                self.devices[i].firmware.tx_done(&mut out);
                i
            }
            Event::Received { node, frame, rssi_dbm, snr_db, .. } => {
                let Some(i) = self.devices.iter().position(|d| d.node == node) else { return };
                self.devices[i].firmware.air_rx(&frame, rssi_dbm, snr_db, &mut out);
                let heard = &mut self.devices[i].heard;
                if heard.len() == HEARD_KEPT {
                    heard.pop_front();
                }
                heard.push_back(frame);
                i
            }
        };
        self.settle(i, at, out);
    }

    /// Applies a firmware's output, then lets it start queued work (CSMA)
    /// until it has nothing more to do.
    fn settle(&mut self, i: usize, at: u64, mut out: Output) {
        for _ in 0..8 {
            self.apply(i, at, out);
            let busy = self.medium.busy_until(self.devices[i].node, at);
            let mut next = Output::default();
            self.devices[i].firmware.poll(at, busy, &mut next);
            if next.is_empty() {
                break;
            }
            out = next;
        }
    }

    fn apply(&mut self, i: usize, at: u64, out: Output) {
        let device = &mut self.devices[i];
        let node = device.node;
        if out.rebooted {
            device.boots += 1;
            self.medium.cancel_transmission(node);
        }
        device.send(&out.serial);
        self.medium.set_receiving(node, device.firmware.receiving());
        if let Some((params, frame)) = out.transmit {
            self.medium.transmit(node, params, frame, at);
        }
    }

    fn boot(&mut self, i: usize, at: u64) {
        let mut out = Output::default();
        self.devices[i].firmware.boot(&mut out);
        self.settle(i, at, out);
    }

    fn serial_in(&mut self, i: usize, bytes: &[u8], at: u64) {
        let mut out = Output::default();
        let device = &mut self.devices[i];
        device.serial_bytes_in += bytes.len() as u64;
        device.firmware.serial_in(bytes, at, &mut out);
        self.settle(i, at, out);
    }

    /// The earliest time something is due.
    fn next_deadline(&self) -> Option<u64> {
        let timers = self.devices.iter().filter(|d| d.pty.is_some()).filter_map(|d| d.firmware.next_wakeup());
        self.medium.next_deadline().into_iter().chain(timers).min()
    }

    fn stats(&self, i: usize) -> DeviceStats {
        let d = &self.devices[i];
        DeviceStats {
            plugged: d.pty.is_some(),
            boots: d.boots,
            air: self.medium.stats(d.node),
            serial_bytes_in: d.serial_bytes_in,
            serial_bytes_out: d.serial_bytes_out,
            serial_errors: d.firmware.serial_errors(),
            serial_dropped: d.serial_dropped,
        }
    }
}

#[derive(Debug)]
struct Shared {
    world: Mutex<World>,
    wake: Condvar,
    stop: AtomicBool,
    clock: Clock,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running simulation: virtual modems on PTYs sharing one radio medium.
/// Stopped by [`Sim::stop`] or when dropped (threads joined, PTYs closed,
/// symlinks removed).
#[derive(Debug)]
pub struct Sim {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

impl Sim {
    /// Creates every device (PTY, symlink, firmware), boots them and starts
    /// the threads.
    pub fn start(config: SimConfig, devices: Vec<DeviceSpec>) -> io::Result<Sim> {
        if !(config.time_scale.is_finite() && config.time_scale > 0.0) {
            return Err(invalid(format!("time_scale must be finite and positive, not {}", config.time_scale)));
        }
        for (i, spec) in devices.iter().enumerate() {
            if spec.name.is_empty() {
                return Err(invalid(format!("device {} has an empty name", i + 1)));
            }
            if devices[..i].iter().any(|d| d.name == spec.name) {
                return Err(invalid(format!("device name {:?} is used twice", spec.name)));
            }
            if spec.link.is_some() && devices[..i].iter().any(|d| d.link == spec.link) {
                return Err(invalid(format!("device {:?}: its link path is used by another device", spec.name)));
            }
            if spec.protocol == Protocol::RNode && spec.tx_queue == 0 {
                return Err(invalid(format!("device {:?}: tx_queue must be at least 1", spec.name)));
            }
        }
        let mut world = World { medium: Medium::new(config.seed), devices: Vec::new(), time: 0 };
        for (i, spec) in devices.into_iter().enumerate() {
            let node = world.medium.add_node();
            let seed = config.seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let firmware = match spec.protocol {
                Protocol::RNode => Firmware::RNode(RNode::new(
                    RNodeConfig { max_power_dbm: spec.max_power_dbm, tx_queue: spec.tx_queue },
                    seed,
                )),
                Protocol::Rak3172 => Firmware::Rak(Rak3172::new(Rak3172Config {
                    rx_format: spec.rx_format,
                    max_power_dbm: spec.max_power_dbm,
                    firmware: spec.rak,
                })),
            };
            let pty = Pty::open(spec.link.as_deref())
                .map_err(|e| io::Error::new(e.kind(), format!("device {:?}: cannot create its PTY: {e}", spec.name)))?;
            world.devices.push(Device {
                spec,
                node,
                firmware,
                pty: Some(Arc::new(pty)),
                pending: Vec::new(),
                boots: 0,
                serial_bytes_in: 0,
                serial_bytes_out: 0,
                serial_dropped: 0,
                heard: std::collections::VecDeque::new(),
            });
            world.boot(i, 0);
        }
        let count = world.devices.len();
        let names: Vec<String> = world.devices.iter().map(|d| d.spec.name.clone()).collect();
        let shared = Arc::new(Shared {
            world: Mutex::new(world),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
            clock: Clock { start: Instant::now(), scale: config.time_scale },
        });
        let mut sim = Sim { shared, threads: Vec::with_capacity(count + 1) };
        let shared = Arc::clone(&sim.shared);
        sim.threads
            .push(std::thread::Builder::new().name("modem-sim-clock".into()).spawn(move || clock_thread(&shared))?);
        for (i, name) in names.into_iter().enumerate() {
            let shared = Arc::clone(&sim.shared);
            let thread = std::thread::Builder::new()
                .name(format!("modem-sim-{name}"))
                .spawn(move || device_thread(&shared, i))?;
            sim.threads.push(thread);
        }
        Ok(sim)
    }

    /// The path a host opens: the symlink if the device has one (even while
    /// unplugged), else `/dev/pts/N` (`None` while unplugged or for an
    /// unknown device).
    pub fn path(&self, device: &str) -> Option<PathBuf> {
        let world = self.shared.lock();
        let d = &world.devices[world.index(device)?];
        d.spec.link.clone().or_else(|| d.pty.as_ref().map(|p| p.slave_path().to_path_buf()))
    }

    /// Sets the quality of the path from `from` to `to` (one direction).
    /// Returns false if either device is unknown.
    pub fn set_link(&self, from: &str, to: &str, quality: LinkQuality) -> bool {
        let mut world = self.shared.lock();
        let (Some(a), Some(b)) = (world.index(from), world.index(to)) else { return false };
        let (a, b) = (world.devices[a].node, world.devices[b].node);
        world.medium.set_link(a, b, quality);
        true
    }

    /// Resets the device as its firmware would: it stops its radio and sends
    /// its boot output. False if unknown or unplugged.
    pub fn reboot(&self, device: &str) -> bool {
        let mut world = self.shared.lock();
        let Some(i) = world.index(device) else { return false };
        if world.devices[i].pty.is_none() {
            return false;
        }
        let now = world.now(&self.shared.clock);
        world.advance(now);
        world.boot(i, now);
        drop(world);
        self.shared.wake.notify_all();
        true
    }

    /// Pulls the device's USB plug: its PTY closes (the host's reads fail,
    /// opens fail), the symlink is removed and its radio goes silent. False
    /// if unknown or already unplugged. Returns once the PTY is closed.
    pub fn unplug(&self, device: &str) -> bool {
        let pty = {
            let mut world = self.shared.lock();
            let Some(i) = world.index(device) else { return false };
            let now = world.now(&self.shared.clock);
            world.advance(now);
            let Some(pty) = world.devices[i].pty.take() else { return false };
            let node = world.devices[i].node;
            world.medium.set_powered(node, false);
            let d = &mut world.devices[i];
            d.serial_dropped += d.pending.len() as u64;
            d.pending.clear();
            pty
        };
        self.shared.wake.notify_all();
        // The device thread lets go of its handle within one poll round.
        let deadline = Instant::now() + Duration::from_secs(2);
        while Arc::strong_count(&pty) > 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(pty);
        true
    }

    /// Plugs the device back in: a fresh PTY (the symlink, if any, points at
    /// it) and the device boots. False if unknown, already plugged, or the
    /// PTY could not be created.
    pub fn replug(&self, device: &str) -> bool {
        let mut world = self.shared.lock();
        let Some(i) = world.index(device) else { return false };
        if world.devices[i].pty.is_some() {
            return false;
        }
        let Ok(pty) = Pty::open(world.devices[i].spec.link.as_deref()) else { return false };
        let now = world.now(&self.shared.clock);
        world.advance(now);
        world.devices[i].pty = Some(Arc::new(pty));
        let node = world.devices[i].node;
        world.medium.set_powered(node, true);
        world.boot(i, now);
        drop(world);
        self.shared.wake.notify_all();
        true
    }

    /// Puts `frame` on the air from `device`'s antenna now, with `params`,
    /// bypassing its firmware: a rogue transmitter on the channel (tests of
    /// what a node does with frames it did not expect). `frame` is the
    /// on-air bytes (an RNode receiver strips its 1-byte header). False if
    /// the device is unknown.
    pub fn transmit_raw(&self, device: &str, params: LoraParams, frame: Vec<u8>) -> bool {
        let mut world = self.shared.lock();
        let Some(i) = world.index(device) else { return false };
        let now = world.now(&self.shared.clock);
        world.advance(now);
        let node = world.devices[i].node;
        world.medium.transmit(node, params, frame, now);
        drop(world);
        self.shared.wake.notify_all();
        true
    }

    /// The newest frames (at most [`HEARD_KEPT`]) that reached `device`'s
    /// radio, as they were on the air, oldest first: what an eavesdropper
    /// there, or the node behind the device, received. `None` if unknown.
    pub fn heard(&self, device: &str) -> Option<Vec<Vec<u8>>> {
        let world = self.shared.lock();
        Some(world.devices[world.index(device)?].heard.iter().cloned().collect())
    }

    /// The device's counters; `None` if unknown.
    pub fn stats(&self, device: &str) -> Option<DeviceStats> {
        let world = self.shared.lock();
        Some(world.stats(world.index(device)?))
    }

    /// The device names, in creation order.
    pub fn devices(&self) -> Vec<String> {
        self.shared.lock().devices.iter().map(|d| d.spec.name.clone()).collect()
    }

    /// Stops every thread, closes every PTY and removes the symlinks.
    pub fn stop(self) {
        drop(self);
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.wake.notify_all();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        let ptys: Vec<Arc<Pty>> = self.shared.lock().devices.iter_mut().filter_map(|d| d.pty.take()).collect();
        drop(ptys);
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn clock_thread(shared: &Shared) {
    let mut world = shared.lock();
    while !shared.stop.load(Ordering::Acquire) {
        let now = world.now(&shared.clock);
        world.advance(now);
        let sleep =
            world.next_deadline().map_or(MAX_SLEEP, |t| shared.clock.real(t.saturating_sub(now))).min(MAX_SLEEP);
        world = shared.wake.wait_timeout(world, sleep).unwrap_or_else(PoisonError::into_inner).0;
    }
}

fn device_thread(shared: &Shared, index: usize) {
    let mut buf = vec![0u8; 4096];
    let mut last_input: Option<Instant> = None;
    while !shared.stop.load(Ordering::Acquire) {
        let (pty, want_write) = {
            let world = shared.lock();
            let d = &world.devices[index];
            (d.pty.clone(), !d.pending.is_empty())
        };
        let Some(pty) = pty else {
            last_input = None;
            std::thread::sleep(POLL);
            continue;
        };
        let ready = match pty.wait(POLL, want_write) {
            Ok(ready) => ready,
            Err(_) => {
                std::thread::sleep(POLL);
                continue;
            }
        };
        if ready.host_closed {
            // The host is gone: a TIOCEXCL it left behind would lock out the
            // next (non-root) host.
            let _ = pty.release_exclusive();
        }
        let mut input = Vec::new();
        if ready.readable {
            while input.len() < MAX_READ {
                match pty.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => input.extend_from_slice(&buf[..n]),
                }
            }
        }
        let mut world = shared.lock();
        if !world.devices[index].pty.as_ref().is_some_and(|p| Arc::ptr_eq(p, &pty)) {
            // Unplugged or replugged meanwhile: these bytes went to a dead port.
            continue;
        }
        drop(pty);
        let now = world.now(&shared.clock);
        world.advance(now);
        let mut changed = false;
        if !input.is_empty() {
            world.serial_in(index, &input, now);
            last_input = Some(Instant::now());
            changed = true;
        } else if last_input.is_some_and(|t| t.elapsed() >= SERIAL_IDLE) {
            world.devices[index].firmware.serial_idle();
            last_input = None;
        }
        if ready.writable {
            world.devices[index].flush();
        }
        drop(world);
        if changed {
            shared.wake.notify_all();
        }
    }
}
