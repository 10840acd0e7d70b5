//! The serial port of one radio link: the only I/O in the radio module.
//!
//! Owns: opening the port by path and baud rate (serialport crate, raw 8N1,
//! exclusive), a reader thread that forwards bytes and open/close changes
//! to the node, a writer thread that writes what the driver asks, and
//! re-opening the port after the device disappeared (USB unplugged, modem
//! power-cycled) until it is back. Must not: interpret the bytes (that is
//! the driver plugin's job) or hold anything the node needs to survive a
//! driver swap; the port stays open across swaps because it lives here.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc as std_mpsc};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a read waits before checking whether to stop.
const READ_POLL: Duration = Duration::from_millis(50);
/// Pause between attempts to open a missing port.
const REOPEN_EVERY: Duration = Duration::from_millis(250);

/// What the serial threads report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SerialEvent {
    /// The port is open.
    Opened,
    /// The port closed or could not be opened; why.
    Closed(String),
    /// Bytes read, in order.
    Bytes(Vec<u8>),
}

/// A running serial port; dropping it stops its threads (within ~50 ms).
pub struct SerialPortTask {
    writes: std_mpsc::Sender<Vec<u8>>,
    stop: Arc<AtomicBool>,
    path: PathBuf,
}

impl SerialPortTask {
    /// Opens `path` at `baud` (and keeps trying while it is missing);
    /// events go to `events` tagged with `link`.
    pub fn spawn(
        link: usize,
        path: PathBuf,
        baud: u32,
        events: mpsc::Sender<(usize, SerialEvent)>,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let port: Arc<Mutex<Option<serialport::TTYPort>>> = Arc::new(Mutex::new(None));
        let (writes, queued) = std_mpsc::channel::<Vec<u8>>();
        let name = format!("weft-serial-{link}");
        {
            let (stop, port, path) = (stop.clone(), port.clone(), path.clone());
            std::thread::Builder::new()
                .name(format!("{name}-read"))
                .spawn(move || read_loop(link, path, baud, port, events, stop))?;
        }
        {
            let stop = stop.clone();
            std::thread::Builder::new().name(format!("{name}-write")).spawn(move || write_loop(port, queued, stop))?;
        }
        Ok(Self { writes, stop, path })
    }

    /// Queues bytes for the port. Bytes written while the port is closed are
    /// dropped: the driver hears of the closing and re-syncs on re-opening.
    pub fn write(&self, bytes: Vec<u8>) {
        let _ = self.writes.send(bytes);
    }

    /// The device path.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl Drop for SerialPortTask {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn read_loop(
    link: usize,
    path: PathBuf,
    baud: u32,
    shared: Arc<Mutex<Option<serialport::TTYPort>>>,
    events: mpsc::Sender<(usize, SerialEvent)>,
    stop: Arc<AtomicBool>,
) {
    let send = |event| events.blocking_send((link, event)).is_ok();
    let mut reported_missing = false;
    let mut buf = vec![0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        let opened = serialport::new(path.to_string_lossy(), baud).timeout(READ_POLL).open_native();
        let mut port = match opened {
            Ok(port) => port,
            Err(e) => {
                if !reported_missing {
                    reported_missing = true;
                    if !send(SerialEvent::Closed(format!("cannot open {}: {e}", path.display()))) {
                        return;
                    }
                }
                sleep_unless_stopped(REOPEN_EVERY, &stop);
                continue;
            }
        };
        reported_missing = false;
        match port.try_clone_native() {
            Ok(writer) => set(&shared, Some(writer)),
            Err(e) => {
                let _ =
                    send(SerialEvent::Closed(format!("{}: cannot share the port for writing: {e}", path.display())));
                sleep_unless_stopped(REOPEN_EVERY, &stop);
                continue;
            }
        }
        if !send(SerialEvent::Opened) {
            return;
        }
        let why = loop {
            if stop.load(Ordering::Relaxed) {
                break None;
            }
            match std::io::Read::read(&mut port, &mut buf) {
                Ok(0) => break Some(format!("{}: the device hung up", path.display())),
                Ok(n) => {
                    if !send(SerialEvent::Bytes(buf[..n].to_vec())) {
                        break None;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break Some(format!("{}: {e}", path.display())),
            }
        };
        set(&shared, None);
        match why {
            Some(why) => {
                if !send(SerialEvent::Closed(why)) {
                    return;
                }
                reported_missing = true;
                sleep_unless_stopped(REOPEN_EVERY, &stop);
            }
            None => return,
        }
    }
}

fn write_loop(
    shared: Arc<Mutex<Option<serialport::TTYPort>>>,
    queued: std_mpsc::Receiver<Vec<u8>>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        let bytes = match queued.recv_timeout(READ_POLL) {
            Ok(bytes) => bytes,
            Err(std_mpsc::RecvTimeoutError::Timeout) => continue,
            Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
        };
        let Ok(mut guard) = shared.lock() else { return };
        if let Some(port) = guard.as_mut()
            && let Err(e) = std::io::Write::write_all(port, &bytes)
        {
            tracing::debug!("serial write failed: {e}");
        }
    }
}

fn set(shared: &Mutex<Option<serialport::TTYPort>>, port: Option<serialport::TTYPort>) {
    if let Ok(mut guard) = shared.lock() {
        *guard = port;
    }
}

fn sleep_unless_stopped(total: Duration, stop: &AtomicBool) {
    let step = Duration::from_millis(25);
    let mut slept = Duration::ZERO;
    while slept < total && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(step);
        slept += step;
    }
}
