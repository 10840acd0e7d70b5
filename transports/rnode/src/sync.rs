//! Getting in sync with the modem: detect, configure, validate, and again
//! after a reboot.
//!
//! Owns: the sync state machine ([`Phase`]), the detect retries, what the
//! modem reported about itself (firmware, platform, the settings it echoed:
//! [`Applied`]) and the validation of those echoes against the config. It
//! writes its own frames and arms its own timers; link changes come back as
//! [`Change`] for the driver to report (the driver also fails an outstanding
//! transmit whenever the link goes down).
//!
//! ```text
//! AwaitingPort/PortClosed --open--> Detecting --DETECT_RESP + FW_VERSION--> Configuring --all echoes ok--> Up
//!       Detecting --no answer after detect_attempts--> Failed
//!       Configuring --echo mismatch / ERROR init radio / old firmware--> Failed
//!       any open phase --RESET F8 (device booted)--> Detecting (immediately)
//! ```
//! After a hot swap the modem is already detected and configured: the new
//! instance sends the detect burst and the configuration together and comes
//! up as soon as the echoes validate, with no waiting in between.

use crate::config::Config;
use crate::protocol::{self, DETECT_BURST, ERROR_INIT_RADIO, Firmware, Incoming, MIN_FIRMWARE, RADIO_ON, RESET_BOOTED};
use crate::timer;
use serde::{Deserialize, Serialize};
use weft_plugin_api::actions::RadioInfo;
use weft_plugin_api::{DriverCtx, LogLevel};

/// How long the echoes of a configuration may take.
pub const CONFIGURE_TIMEOUT_MS: u64 = 1_000;
/// Configuration rounds that time out in a row before giving up.
pub const MAX_CONFIGURE_ROUNDS: u32 = 3;
/// Largest difference between configured and echoed frequency, Hz.
pub const FREQUENCY_TOLERANCE_HZ: u32 = 100;

/// Where the driver stands with the modem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// A fresh instance, not told yet that the port is open.
    AwaitingPort,
    /// The port is closed.
    PortClosed,
    /// Sending detect bursts until the modem answers.
    Detecting {
        /// Bursts sent this round.
        bursts: u32,
        /// DETECT_RESP arrived.
        answered: bool,
        /// FW_VERSION arrived.
        firmware_seen: bool,
    },
    /// Settings sent; collecting their echoes.
    Configuring,
    /// Configured and validated: transmitting.
    Up,
    /// Cannot transmit until the modem reboots, the port reopens or an
    /// operator asks for `resync`.
    Failed,
}

/// A change of the link to report.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// The link is up with these radio parameters.
    Up {
        /// What the modem applied.
        info: RadioInfo,
        /// For operators.
        detail: String,
    },
    /// The radio parameters changed while up (the modem reported its preamble).
    Radio(RadioInfo),
    /// The link is down, and why.
    Down(String),
}

/// The settings the modem echoed, as it applied them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Applied {
    /// Centre frequency, Hz.
    pub frequency_hz: Option<u32>,
    /// Bandwidth, Hz.
    pub bandwidth_hz: Option<u32>,
    /// Transmit power, dBm.
    pub tx_power_dbm: Option<u8>,
    /// Spreading factor.
    pub spreading_factor: Option<u8>,
    /// Coding rate denominator.
    pub coding_rate: Option<u8>,
    /// Radio state (1 = on).
    pub radio_state: Option<u8>,
    /// Short-term airtime limit, percent x 100.
    pub st_alock: Option<u16>,
    /// Long-term airtime limit, percent x 100.
    pub lt_alock: Option<u16>,
}

impl Applied {
    /// The required settings that have not been echoed, by config key.
    pub fn missing(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        let checks = [
            (self.frequency_hz.is_none(), "frequency_hz"),
            (self.bandwidth_hz.is_none(), "bandwidth_hz"),
            (self.tx_power_dbm.is_none(), "tx_power_dbm"),
            (self.spreading_factor.is_none(), "spreading_factor"),
            (self.coding_rate.is_none(), "coding_rate"),
            (self.radio_state.is_none(), "radio_state"),
        ];
        for (absent, key) in checks {
            if absent {
                missing.push(key);
            }
        }
        missing
    }
}

/// The sync state machine.
#[derive(Debug)]
pub struct Sync {
    phase: Phase,
    /// Bumped on every new round; timers of older rounds are ignored.
    epoch: u64,
    /// Configuration rounds that timed out in a row.
    configure_timeouts: u32,
    /// Firmware version, once reported.
    pub firmware: Option<Firmware>,
    /// Platform byte, once reported.
    pub platform: Option<u8>,
    /// MCU byte, once reported.
    pub mcu: Option<u8>,
    /// What the modem echoed in the current round.
    pub applied: Applied,
    /// Preamble the modem reported using (STAT_PHYPRM), symbols.
    pub modem_preamble: Option<u16>,
    /// The radio parameters last reported up.
    info: Option<RadioInfo>,
}

impl Default for Sync {
    fn default() -> Self {
        Sync {
            phase: Phase::AwaitingPort,
            epoch: 0,
            configure_timeouts: 0,
            firmware: None,
            platform: None,
            mcu: None,
            applied: Applied::default(),
            modem_preamble: None,
            info: None,
        }
    }
}

impl Sync {
    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The phase's name, as `status` reports it.
    pub fn phase_name(&self) -> &'static str {
        match self.phase {
            Phase::AwaitingPort => "awaiting_port",
            Phase::PortClosed => "port_closed",
            Phase::Detecting { .. } => "detecting",
            Phase::Configuring => "configuring",
            Phase::Up => "up",
            Phase::Failed => "failed",
        }
    }

    /// Whether frames may be transmitted.
    pub fn is_up(&self) -> bool {
        self.phase == Phase::Up
    }

    /// Whether the port is known to be open.
    pub fn port_open(&self) -> bool {
        !matches!(self.phase, Phase::AwaitingPort | Phase::PortClosed)
    }

    /// Whether the modem was detected and configured (what a successor may
    /// assume after a hot swap).
    pub fn detected(&self) -> bool {
        self.firmware.is_some() && matches!(self.phase, Phase::Configuring | Phase::Up)
    }

    /// The port opened (or bytes arrived, which means the same).
    pub fn port_opened(&mut self, ctx: &mut DriverCtx<'_>, config: &Config) -> Option<Change> {
        match self.phase {
            Phase::AwaitingPort | Phase::PortClosed | Phase::Failed => {
                self.configure_timeouts = 0;
                self.start_detect(ctx, config);
                Some(Change::Down("serial port open; waiting for the RNode to answer".into()))
            }
            // Already syncing or up: a repeated notice changes nothing (a
            // device that really went away and came back announces its
            // reboot with a RESET frame).
            Phase::Detecting { .. } | Phase::Configuring | Phase::Up => None,
        }
    }

    /// The port closed.
    pub fn port_closed(&mut self, detail: &str) -> Option<Change> {
        if self.phase == Phase::PortClosed {
            return None;
        }
        self.epoch += 1;
        self.phase = Phase::PortClosed;
        self.applied = Applied::default();
        Some(Change::Down(if detail.is_empty() {
            "serial port closed".to_string()
        } else {
            format!("serial port closed: {detail}")
        }))
    }

    /// After a hot swap, with the port open and the modem configured by the
    /// predecessor: one detect burst and the configuration at once.
    pub fn resume_configured(&mut self, ctx: &mut DriverCtx<'_>, config: &Config) {
        let mut bytes = DETECT_BURST.to_vec();
        bytes.extend_from_slice(&protocol::configure(config));
        self.begin_configuring(ctx, bytes);
    }

    /// Starts over from detection (the operator's `resync`). `None` when the
    /// port is not open.
    pub fn restart(&mut self, ctx: &mut DriverCtx<'_>, config: &Config, why: &str) -> Option<Change> {
        if !self.port_open() {
            return None;
        }
        self.configure_timeouts = 0;
        self.start_detect(ctx, config);
        Some(Change::Down(why.to_string()))
    }

    /// Handles a frame from the modem.
    pub fn on_frame(&mut self, ctx: &mut DriverCtx<'_>, config: &Config, frame: &Incoming) -> Option<Change> {
        match *frame {
            Incoming::Detect(true) => {
                if let Phase::Detecting { answered, .. } = &mut self.phase {
                    *answered = true;
                }
                self.detect_progress(ctx, config)
            }
            Incoming::Firmware(firmware) => {
                self.firmware = Some(firmware);
                match &mut self.phase {
                    Phase::Detecting { firmware_seen, .. } => {
                        *firmware_seen = true;
                        self.detect_progress(ctx, config)
                    }
                    Phase::Configuring | Phase::Up if firmware < MIN_FIRMWARE => self.fail(too_old(firmware)),
                    _ => None,
                }
            }
            Incoming::Platform(p) => {
                self.platform = Some(p);
                None
            }
            Incoming::Mcu(m) => {
                self.mcu = Some(m);
                None
            }
            Incoming::Frequency(v) => self.echo(ctx, config, |a| a.frequency_hz = Some(v)),
            Incoming::Bandwidth(v) => self.echo(ctx, config, |a| a.bandwidth_hz = Some(v)),
            Incoming::TxPower(v) => self.echo(ctx, config, |a| a.tx_power_dbm = Some(v)),
            Incoming::SpreadingFactor(v) => self.echo(ctx, config, |a| a.spreading_factor = Some(v)),
            Incoming::CodingRate(v) => self.echo(ctx, config, |a| a.coding_rate = Some(v)),
            Incoming::RadioState(v) => self.echo(ctx, config, |a| a.radio_state = Some(v)),
            Incoming::StAlock(v) => self.echo(ctx, config, |a| a.st_alock = Some(v)),
            Incoming::LtAlock(v) => self.echo(ctx, config, |a| a.lt_alock = Some(v)),
            Incoming::Preamble(symbols) => {
                self.modem_preamble = Some(symbols);
                match &mut self.info {
                    Some(info) if self.phase == Phase::Up && info.preamble_symbols != symbols => {
                        info.preamble_symbols = symbols;
                        Some(Change::Radio(*info))
                    }
                    _ => None,
                }
            }
            Incoming::Reset(RESET_BOOTED) => self.rebooted(ctx, config),
            Incoming::Error(ERROR_INIT_RADIO) if self.phase == Phase::Configuring => self.fail(format!(
                "the RNode reported ERROR 0x01 ({}) while configuring: refusing to bring the link up",
                protocol::error_name(ERROR_INIT_RADIO)
            )),
            _ => None,
        }
    }

    /// Handles one of the sync timers.
    pub fn on_timer(&mut self, ctx: &mut DriverCtx<'_>, config: &Config, kind: u8, epoch: u64) -> Option<Change> {
        if epoch != self.epoch {
            return None; // armed in an earlier round
        }
        match (kind, &mut self.phase) {
            (timer::DETECT, Phase::Detecting { bursts, answered, .. }) => {
                if *bursts < config.detect_attempts {
                    *bursts += 1;
                    ctx.serial_write(DETECT_BURST.to_vec());
                    ctx.set_timer(timer::id(timer::DETECT, self.epoch), config.detect_retry_ms);
                    return None;
                }
                let why = if *answered {
                    format!(
                        "the RNode answered DETECT but never reported its firmware version ({bursts} detect bursts)"
                    )
                } else {
                    format!(
                        "no RNode answered on the port ({bursts} detect bursts, {} ms apart)",
                        config.detect_retry_ms
                    )
                };
                self.fail(why)
            }
            (timer::CONFIGURE, Phase::Configuring) => {
                let missing = self.applied.missing().join(", ");
                self.configure_timeouts += 1;
                if self.configure_timeouts >= MAX_CONFIGURE_ROUNDS {
                    return self.fail(format!(
                        "the RNode never echoed {missing} (gave up after {} configuration attempts)",
                        self.configure_timeouts
                    ));
                }
                self.start_detect(ctx, config);
                Some(Change::Down(format!(
                    "the RNode never echoed {missing} within {CONFIGURE_TIMEOUT_MS} ms; detecting it again"
                )))
            }
            _ => None,
        }
    }

    fn start_detect(&mut self, ctx: &mut DriverCtx<'_>, config: &Config) {
        self.epoch += 1;
        self.phase = Phase::Detecting { bursts: 1, answered: false, firmware_seen: false };
        ctx.serial_write(DETECT_BURST.to_vec());
        ctx.set_timer(timer::id(timer::DETECT, self.epoch), config.detect_retry_ms);
    }

    fn detect_progress(&mut self, ctx: &mut DriverCtx<'_>, config: &Config) -> Option<Change> {
        let Phase::Detecting { answered: true, firmware_seen: true, .. } = self.phase else { return None };
        let firmware = self.firmware?;
        if firmware < MIN_FIRMWARE {
            return self.fail(too_old(firmware));
        }
        ctx.log(LogLevel::Info, format!("RNode detected, firmware {firmware}; configuring"));
        self.begin_configuring(ctx, protocol::configure(config));
        None
    }

    fn begin_configuring(&mut self, ctx: &mut DriverCtx<'_>, bytes: Vec<u8>) {
        self.epoch += 1;
        self.phase = Phase::Configuring;
        self.applied = Applied::default();
        ctx.serial_write(bytes);
        ctx.set_timer(timer::id(timer::CONFIGURE, self.epoch), CONFIGURE_TIMEOUT_MS);
    }

    /// Records an echo; validates once every required setting has echoed.
    fn echo(&mut self, ctx: &mut DriverCtx<'_>, config: &Config, record: impl FnOnce(&mut Applied)) -> Option<Change> {
        record(&mut self.applied);
        if self.phase != Phase::Configuring || !self.applied.missing().is_empty() {
            return None;
        }
        ctx.cancel_timer(timer::id(timer::CONFIGURE, self.epoch));
        match self.validate(ctx, config) {
            Ok(info) => {
                self.phase = Phase::Up;
                self.configure_timeouts = 0;
                self.info = Some(info);
                Some(Change::Up { info, detail: self.up_detail(&info) })
            }
            Err(why) => self.fail(why),
        }
    }

    /// Compares the echoes with the config; `Err` names every mismatch.
    fn validate(&self, ctx: &mut DriverCtx<'_>, config: &Config) -> Result<RadioInfo, String> {
        let (a, want) = (&self.applied, &config.radio);
        let (Some(frequency), Some(bandwidth), Some(power), Some(sf), Some(cr), Some(state)) =
            (a.frequency_hz, a.bandwidth_hz, a.tx_power_dbm, a.spreading_factor, a.coding_rate, a.radio_state)
        else {
            return Err(format!("the RNode did not echo {}", a.missing().join(", ")));
        };
        let mut wrong = Vec::new();
        if frequency.abs_diff(want.frequency_hz) > FREQUENCY_TOLERANCE_HZ {
            wrong.push(format!(
                "frequency_hz {frequency}, configured {} (tolerance {FREQUENCY_TOLERANCE_HZ} Hz)",
                want.frequency_hz
            ));
        }
        if bandwidth != want.bandwidth_hz {
            wrong.push(format!("bandwidth_hz {bandwidth}, configured {}", want.bandwidth_hz));
        }
        if i16::from(power) != i16::from(want.tx_power_dbm) {
            wrong.push(format!("tx_power_dbm {power}, configured {}", want.tx_power_dbm));
        }
        if sf != want.spreading_factor {
            wrong.push(format!("spreading_factor {sf}, configured {}", want.spreading_factor));
        }
        if cr != want.coding_rate {
            wrong.push(format!("coding_rate {cr}, configured {}", want.coding_rate));
        }
        if state != RADIO_ON {
            wrong.push(format!("radio_state {state:#04x}, configured 0x01 (on)"));
        }
        for (key, configured, echoed) in
            [("st_alock_percent", config.st_alock, a.st_alock), ("lt_alock_percent", config.lt_alock, a.lt_alock)]
        {
            match (configured, echoed) {
                (Some(c), Some(e)) if c != e => {
                    wrong.push(format!("{key} {}, configured {}", percent(e), percent(c)));
                }
                (Some(_), None) => {
                    ctx.log(LogLevel::Warn, format!("the RNode did not echo {key}; its airtime limit is unconfirmed"))
                }
                _ => {}
            }
        }
        if !wrong.is_empty() {
            return Err(format!("modem applied {}: refusing to bring the link up", wrong.join("; ")));
        }
        Ok(RadioInfo {
            mtu: protocol::MTU,
            frequency_hz: frequency,
            bandwidth_hz: bandwidth,
            spreading_factor: sf,
            coding_rate: cr,
            preamble_symbols: self.modem_preamble.unwrap_or(want.preamble_symbols),
            tx_power_dbm: want.tx_power_dbm,
        })
    }

    fn up_detail(&self, info: &RadioInfo) -> String {
        let firmware = self.firmware.map_or_else(|| "unknown".to_string(), |f| f.to_string());
        format!(
            "RNode firmware {firmware}: {:.3} MHz, {} kHz, SF{}, CR 4/{}, {} dBm",
            f64::from(info.frequency_hz) / 1e6,
            f64::from(info.bandwidth_hz) / 1e3,
            info.spreading_factor,
            info.coding_rate,
            info.tx_power_dbm
        )
    }

    fn rebooted(&mut self, ctx: &mut DriverCtx<'_>, config: &Config) -> Option<Change> {
        match self.phase {
            // Nothing to undo (the driver treats bytes as "port open" first).
            Phase::AwaitingPort | Phase::PortClosed => None,
            // It just booted, so it is listening now: ask at once.
            Phase::Detecting { .. } => {
                self.start_detect(ctx, config);
                None
            }
            Phase::Configuring | Phase::Up | Phase::Failed => {
                self.configure_timeouts = 0;
                self.start_detect(ctx, config);
                Some(Change::Down("modem rebooted; reconfiguring".into()))
            }
        }
    }

    fn fail(&mut self, why: String) -> Option<Change> {
        self.epoch += 1;
        self.phase = Phase::Failed;
        Some(Change::Down(why))
    }
}

fn too_old(firmware: Firmware) -> String {
    format!("RNode firmware {firmware} is too old: this driver needs {MIN_FIRMWARE} or newer")
}

/// Percent x 100 as percent text.
fn percent(x100: u16) -> String {
    format!("{}", f64::from(x100) / 100.0)
}
