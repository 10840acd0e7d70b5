//! Helpers the radio link's tests share: the radio a driver reports, the
//! transmits a link asked for, a driver's answers.

use super::link::RadioOutput;
use weft_plugin_api::actions::{FrameReceived, RadioInfo, TransmitDone};
use weft_plugin_api::radio::LoraParams;
use weft_plugin_api::{Action, Event, TransmitRequest};

/// What a driver reports for the default LoRa settings and `mtu`.
pub fn info(mtu: u16) -> RadioInfo {
    super::link::info_of(&LoraParams::default(), mtu)
}

/// Takes the transmit requests out of `out`, in order.
pub fn transmits(out: &mut Vec<RadioOutput>) -> Vec<TransmitRequest> {
    let mut found = Vec::new();
    out.retain(|o| match o {
        RadioOutput::Driver(Event::Transmit(t)) => {
            found.push(t.clone());
            false
        }
        _ => true,
    });
    found
}

/// The driver heard `frame`.
pub fn received(frame: Vec<u8>) -> Action {
    Action::FrameReceived(FrameReceived { frame, rssi_dbm: Some(-60), snr_db: Some(9.5) })
}

/// The driver finished transmit `id`.
pub fn done(id: u64, ok: bool) -> Action {
    Action::TransmitDone(TransmitDone { id, ok })
}
