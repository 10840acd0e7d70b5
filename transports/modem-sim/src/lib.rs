//! Virtual LoRa modems on real Linux pseudo-terminals, joined by a simulated
//! radio medium.
//!
//! A [`Sim`] gives every device a PTY whose slave path (optionally behind a
//! stable symlink) a Weft host opens exactly like a USB modem. Behind the PTY
//! runs a faithful emulation of the modem's firmware:
//!
//! * [`rnode`]: the RNode KISS protocol (detect, configure with echoed and
//!   clamped settings, TX queue with CSMA, on-air header byte, split packets
//!   up to 508 bytes);
//! * [`rak3172`]: the RAK3172 RUI3 AT command set in LoRa P2P mode.
//!
//! Frames the firmware puts on air go through the [`medium`]: airtime from
//! [`LoraParams::time_on_air_us`](weft_plugin_api::radio::LoraParams::time_on_air_us),
//! who hears whom (matching parameters, half-duplex, per-link loss) and
//! collisions. Firmware and medium are sans-IO state machines driven with
//! explicit time in microseconds; [`sim`] owns the threads, the clock
//! (`time_scale`) and the PTYs ([`pty`]).
//!
//! ```no_run
//! use weft_modem_sim::{DeviceSpec, Sim, SimConfig};
//! let sim = Sim::start(
//!     SimConfig::default(),
//!     vec![DeviceSpec::rnode("a", std::path::PathBuf::from("/tmp/modem-a")), DeviceSpec::rak3172("b", None)],
//! )?;
//! println!("{:?}", sim.path("b"));
//! sim.stop();
//! # Ok::<(), std::io::Error>(())
//! ```

#![warn(missing_docs)]

use std::path::PathBuf;

use weft_plugin_api::radio::LoraParams;

pub mod medium;
pub mod pty;
pub mod rak3172;
pub mod rnode;
pub mod sim;

pub use medium::{AirStats, LinkQuality};
pub use sim::{DeviceStats, Sim, SimConfig};

/// Which firmware a virtual device runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// RNode firmware (KISS framing over serial).
    RNode,
    /// RAK3172 with RUI3 firmware (AT commands, LoRa P2P).
    Rak3172,
}

impl Protocol {
    /// The name used on the command line (`rnode`, `rak3172`).
    pub fn name(self) -> &'static str {
        match self {
            Protocol::RNode => "rnode",
            Protocol::Rak3172 => "rak3172",
        }
    }
}

/// How a RAK3172 reports received frames (firmware versions differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RxFormat {
    /// `+EVT:RXP2P:<rssi>:<snr>:<HEX>` (current RUI3).
    #[default]
    New,
    /// `+EVT:RXP2P, RSSI <rssi>, SNR <snr>` then `+EVT:<HEX>` (older RUI3).
    Old,
}

/// One virtual device to create.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceSpec {
    /// Unique name, used by every [`Sim`] method.
    pub name: String,
    /// The firmware it runs.
    pub protocol: Protocol,
    /// A stable symlink to create, pointing at the PTY slave (`/dev/pts/N`).
    /// Re-pointed on [`Sim::replug`]; removed on unplug and when the sim stops.
    pub link: Option<PathBuf>,
    /// The radio's maximum transmit power, dBm (RNode: requested powers are
    /// clamped to it; RAK3172: `AT+P2P` above it is a parameter error).
    pub max_power_dbm: i8,
    /// How a RAK3172 reports received frames (ignored by RNodes).
    pub rx_format: RxFormat,
    /// A RAK3172's release, bandwidth form and leniency (ignored by RNodes).
    pub rak: rak3172::Rui3Behaviour,
    /// RNode TX queue capacity, packets (including the one on air).
    pub tx_queue: usize,
}

impl DeviceSpec {
    /// An RNode (17 dBm maximum, TX queue of 4 packets).
    pub fn rnode(name: impl Into<String>, link: impl Into<Option<PathBuf>>) -> DeviceSpec {
        DeviceSpec {
            name: name.into(),
            protocol: Protocol::RNode,
            link: link.into(),
            max_power_dbm: rnode::DEFAULT_MAX_POWER_DBM,
            rx_format: RxFormat::New,
            rak: rak3172::Rui3Behaviour::default(),
            tx_queue: rnode::DEFAULT_TX_QUEUE,
        }
    }

    /// A RAK3172 (22 dBm maximum, new RX event format, a current release
    /// with its documented strictness: see [`rak3172`]).
    pub fn rak3172(name: impl Into<String>, link: impl Into<Option<PathBuf>>) -> DeviceSpec {
        DeviceSpec {
            name: name.into(),
            protocol: Protocol::Rak3172,
            link: link.into(),
            max_power_dbm: rak3172::MAX_POWER_DBM,
            rx_format: RxFormat::New,
            rak: rak3172::Rui3Behaviour::default(),
            tx_queue: 1,
        }
    }
}

/// What a firmware state machine asks of the world after one input.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Output {
    /// Bytes for the host, in order.
    pub serial: Vec<u8>,
    /// A frame to start transmitting now, with the radio settings to use.
    pub transmit: Option<(LoraParams, Vec<u8>)>,
    /// The firmware rebooted (its radio stopped: abandon anything on air).
    pub rebooted: bool,
}

impl Output {
    /// Whether nothing was asked.
    pub fn is_empty(&self) -> bool {
        self.serial.is_empty() && self.transmit.is_none() && !self.rebooted
    }
}
