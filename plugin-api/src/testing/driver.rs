//! Driving a driver plugin in unit tests: the events a host sends it and
//! the actions it answers with, one helper each.
//!
//! Owns: event helpers for a [`DriverHarness`] (serial bytes in, port
//! opened and closed, a transmit request, a timer firing), which panic
//! with the plugin's failure if the driver fails the call, and readers that
//! pick one kind of action out of a batch.

use super::DriverHarness;
use crate::actions::FrameReceived;
use crate::guest::{AsDriver, GuestPlugin};
use crate::{Action, Event, SerialRx, SerialStatus, TimerFired, TransmitRequest};

fn deliver<T>(h: &mut DriverHarness<T>, event: Event, what: &str) -> Vec<Action>
where
    AsDriver<T>: GuestPlugin,
{
    h.event(event).unwrap_or_else(|failure| panic!("{what}: the driver failed: {failure:?}"))
}

/// Bytes arriving from the serial port.
pub fn serial_in<T>(h: &mut DriverHarness<T>, bytes: &[u8]) -> Vec<Action>
where
    AsDriver<T>: GuestPlugin,
{
    deliver(h, Event::SerialRx(SerialRx { bytes: bytes.to_vec() }), "serial input")
}

/// The port opened.
pub fn port_opened<T>(h: &mut DriverHarness<T>) -> Vec<Action>
where
    AsDriver<T>: GuestPlugin,
{
    deliver(h, Event::SerialStatus(SerialStatus { open: true, detail: "/dev/ttyUSB0".into() }), "port opened")
}

/// The port closed (the device vanished).
pub fn port_closed<T>(h: &mut DriverHarness<T>) -> Vec<Action>
where
    AsDriver<T>: GuestPlugin,
{
    deliver(h, Event::SerialStatus(SerialStatus { open: false, detail: "device vanished".into() }), "port closed")
}

/// The host asks for `frame` to be sent, as transmission `id`.
pub fn transmit<T>(h: &mut DriverHarness<T>, id: u64, frame: &[u8]) -> Vec<Action>
where
    AsDriver<T>: GuestPlugin,
{
    deliver(h, Event::Transmit(TransmitRequest { id, frame: frame.to_vec() }), "transmit")
}

/// Timer `id` fired.
pub fn timer_fired<T>(h: &mut DriverHarness<T>, id: u64) -> Vec<Action>
where
    AsDriver<T>: GuestPlugin,
{
    deliver(h, Event::Timer(TimerFired { id }), "timer")
}

/// What the driver wrote to the port, concatenated.
pub fn serial_written(actions: &[Action]) -> Vec<u8> {
    actions
        .iter()
        .flat_map(|a| match a {
            Action::SerialWrite(w) => w.bytes.as_slice(),
            _ => &[],
        })
        .copied()
        .collect()
}

/// The link states reported: `(up, detail)`.
pub fn link_states(actions: &[Action]) -> Vec<(bool, String)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::LinkState(l) => Some((l.up, l.detail.clone())),
            _ => None,
        })
        .collect()
}

/// The transmissions reported done: `(id, ok)`.
pub fn transmit_dones(actions: &[Action]) -> Vec<(u64, bool)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::TransmitDone(d) => Some((d.id, d.ok)),
            _ => None,
        })
        .collect()
}

/// The frames handed to the host.
pub fn frames_received(actions: &[Action]) -> Vec<FrameReceived> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::FrameReceived(f) => Some(f.clone()),
            _ => None,
        })
        .collect()
}
