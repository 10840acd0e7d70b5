//! Helpers shared by the fuzz targets and the seed generator.
//!
//! Stateful targets (a radio link, a driver, a streaming deframer) read
//! their input as a script of steps: `op u8 | len u8 | len bytes`. The
//! same layout is written by [`Script`] in `examples/seeds.rs`, so a seed is
//! a real session, replayed. A truncated last step gets the bytes there are.
//! [`DriverSession`] drives a driver plugin the way a host does, checking
//! what it answers.

use serde::Serialize;
use std::collections::BTreeSet;
use weft_plugin_api::testing::{DriverHarness, TestHost};
use weft_plugin_api::{
    Action, Command, Driver, Event, SerialRx, SerialStatus, ShutdownReason, TimerFired, TransmitRequest,
};

/// Reads a script of `op | len | bytes` steps.
pub struct Steps<'a> {
    rest: &'a [u8],
}

impl<'a> Steps<'a> {
    /// Steps from the fuzzer's input.
    pub fn new(data: &'a [u8]) -> Self {
        Self { rest: data }
    }
}

impl<'a> Iterator for Steps<'a> {
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<(u8, &'a [u8])> {
        let (&op, rest) = self.rest.split_first()?;
        let (&len, rest) = rest.split_first().unwrap_or((&0, &[]));
        let (bytes, rest) = rest.split_at(usize::from(len).min(rest.len()));
        self.rest = rest;
        Some((op, bytes))
    }
}

/// Writes a script of steps (for seeds).
#[derive(Default)]
pub struct Script(pub Vec<u8>);

impl Script {
    /// Appends one step; `bytes` longer than 255 are split into several
    /// steps with the same op.
    pub fn step(&mut self, op: u8, bytes: &[u8]) -> &mut Self {
        if bytes.is_empty() {
            self.0.extend_from_slice(&[op, 0]);
        }
        for chunk in bytes.chunks(255) {
            self.0.push(op);
            self.0.push(chunk.len() as u8);
            self.0.extend_from_slice(chunk);
        }
        self
    }
}

/// A little-endian number from the first bytes of `bytes` (missing bytes are 0).
pub fn number(bytes: &[u8]) -> u64 {
    bytes.iter().take(8).rev().fold(0, |n, &b| n << 8 | u64::from(b))
}

/// A driver plugin in a [`DriverHarness`], with what a host keeps track of:
/// the timers it armed, what it wrote to the port last, the transmits asked
/// for and reported. Every call must succeed (a driver never fails an
/// event), every transmit is reported done at most once and only if it was
/// asked for, and frames it receives are 1..=`max_frame` bytes.
pub struct DriverSession<T: Driver> {
    harness: DriverHarness<T>,
    /// Armed timers, oldest first.
    pub timers: Vec<u64>,
    /// What the driver wrote to the port in answer to the last event.
    pub written: Vec<u8>,
    /// Frames received from the air so far.
    pub frames_in: u64,
    requested: BTreeSet<u64>,
    reported: BTreeSet<u64>,
    next_id: u64,
    max_frame: usize,
}

impl<T: Driver> DriverSession<T> {
    /// Initialises the driver with `config` and a handed-over `state`;
    /// `None` if the driver refused to start (a bad state blob must not
    /// make it refuse: it starts fresh).
    pub fn start(config: &impl Serialize, state: Option<Vec<u8>>, max_frame: usize) -> Option<Self> {
        let (harness, actions) = DriverHarness::<T>::init(TestHost::default(), config, state).ok()?;
        let mut session = DriverSession {
            harness,
            timers: Vec::new(),
            written: Vec::new(),
            frames_in: 0,
            requested: BTreeSet::new(),
            reported: BTreeSet::new(),
            next_id: 1,
            max_frame,
        };
        session.absorb(actions);
        Some(session)
    }

    /// Delivers `event`, which must not fail, and takes in the actions.
    pub fn event(&mut self, event: Event) {
        let what = event.kind_name();
        let actions = self.harness.event(event).unwrap_or_else(|f| panic!("the driver failed {what}: {f:?}"));
        self.absorb(actions);
    }

    fn absorb(&mut self, actions: Vec<Action>) {
        self.written.clear();
        for action in actions {
            match action {
                Action::SerialWrite(w) => self.written.extend_from_slice(&w.bytes),
                Action::SetTimer(t) => {
                    self.timers.retain(|&id| id != t.id);
                    self.timers.push(t.id);
                }
                Action::CancelTimer(t) => self.timers.retain(|&id| id != t.id),
                Action::TransmitDone(done) => {
                    assert!(self.requested.contains(&done.id), "transmit {} reported but never asked for", done.id);
                    assert!(self.reported.insert(done.id), "transmit {} reported twice", done.id);
                }
                Action::FrameReceived(f) => {
                    assert!(
                        (1..=self.max_frame).contains(&f.frame.len()),
                        "a received frame of {} bytes",
                        f.frame.len()
                    );
                    self.frames_in += 1;
                }
                _ => {}
            }
        }
    }

    /// Bytes from the serial port.
    pub fn serial(&mut self, bytes: &[u8]) {
        self.event(Event::SerialRx(SerialRx { bytes: bytes.to_vec() }));
    }

    /// The port opened or closed.
    pub fn port(&mut self, open: bool) {
        self.event(Event::SerialStatus(SerialStatus { open, detail: "/dev/ttyFUZZ".into() }));
    }

    /// Fires armed timer number `pick` (modulo how many are armed), if any.
    pub fn fire_timer(&mut self, pick: u64) {
        if self.timers.is_empty() {
            return;
        }
        let id = self.timers.remove((pick % self.timers.len() as u64) as usize);
        self.event(Event::Timer(TimerFired { id }));
    }

    /// Asks for `frame` to be sent.
    pub fn transmit(&mut self, frame: &[u8]) {
        let id = self.next_id;
        self.next_id += 1;
        self.requested.insert(id);
        self.event(Event::Transmit(TransmitRequest { id, frame: frame.to_vec() }));
    }

    /// An operator command.
    pub fn command(&mut self, name: &str, args: &str) {
        self.event(Event::Command(Command { id: 1, name: name.into(), args: args.into() }));
    }

    /// Hot swap: shuts this instance down and starts a new one from its
    /// state blob, as the host does.
    pub fn swap(&mut self, config: &impl Serialize) {
        let (state, actions) =
            self.harness.shutdown(ShutdownReason::Swap).unwrap_or_else(|f| panic!("shutdown failed: {f:?}"));
        self.absorb(actions);
        let (harness, actions) = DriverHarness::<T>::init(TestHost::default(), config, Some(state))
            .unwrap_or_else(|f| panic!("the successor refused its predecessor's state: {f:?}"));
        // Timers armed by the old instance may still fire into the new one.
        self.harness = harness;
        self.absorb(actions);
    }
}
