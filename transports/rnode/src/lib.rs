//! `rnode`: the Weft driver for RNode LoRa modems (KISS over serial).
//!
//! The host owns the serial port and hands this driver the bytes; the driver
//! detects the modem, configures it, checks what it applied, then carries
//! frames both ways. Everything byte-level follows lora-radio.md §1.
//!
//! Modules, one concept each:
//! - [`config`]: the config keys, defaults and validation (`table` reads the raw table);
//! - [`protocol`]: command bytes, frame builders, the meaning of incoming frames;
//! - [`sync`]: detect / configure / validate, and again after a reboot;
//! - [`tx`]: the outstanding transmit and READY flow control;
//! - [`handoff`]: the state blob for a successor after a hot swap;
//! - [`status`]: counters and the `status` command's JSON;
//! - [`timer`]: timer ids (kind + epoch);
//! - this file: the [`Driver`] implementation gluing them together.
//!
//! Copy this crate to start a driver for another KISS-speaking modem.

#![warn(missing_docs)]

pub mod config;
pub mod handoff;
pub mod protocol;
pub mod status;
pub mod sync;
pub mod timer;
pub mod tx;

use config::Config;
use handoff::Handoff;
use protocol::{Incoming, RESET_BOOTED};
use status::{Counters, Garbage};
use sync::{Change, Sync};
use tx::{Done, Transmitter};
use weft_kiss::Decoder;
use weft_plugin_api::driver_prelude::*;

/// Half a frame may sit this long before the decoder drops it.
pub const LINE_IDLE_MS: u64 = 100;

/// The manifest version; the `v2` build (used by the hot-swap tests) says so.
const VERSION: &str =
    if cfg!(feature = "v2") { concat!(env!("CARGO_PKG_VERSION"), "+v2") } else { env!("CARGO_PKG_VERSION") };

/// The RNode driver.
pub struct RNode {
    config: Config,
    sync: Sync,
    tx: Transmitter,
    decoder: Decoder,
    /// RSSI and SNR announced for the next DATA frame.
    rssi: Option<i16>,
    snr: Option<f32>,
    counters: Counters,
    /// The last link state reported, for `status`.
    detail: String,
    idle_timer_armed: bool,
}

impl Driver for RNode {
    const MANIFEST: ManifestDef = ManifestDef {
        name: "rnode",
        version: VERSION,
        description: "RNode LoRa modems (KISS serial protocol, firmware 1.52 or newer)",
        ports: &[],
        permissions: &[Permission::Serial],
        commands: &[
            CommandDef { name: "status", help: "state, firmware, applied radio settings and counters as JSON" },
            CommandDef { name: "resync", help: "detect and configure the modem again" },
        ],
    };

    fn init(ctx: &mut DriverCtx<'_>, init: InitArgs) -> Result<Self, String> {
        let config = Config::from_cbor(&init.config).map_err(|e| e.to_string())?;
        let mut driver = RNode {
            config,
            sync: Sync::default(),
            tx: Transmitter::default(),
            decoder: Decoder::new(usize::from(protocol::MTU)),
            rssi: None,
            snr: None,
            counters: Counters::default(),
            detail: "waiting for the serial port".into(),
            idle_timer_armed: false,
        };
        match Handoff::decode(init.state.as_deref()) {
            Ok(None) => {}
            Ok(Some(handoff)) => driver.resume(ctx, handoff),
            Err(why) => ctx.log(LogLevel::Warn, format!("ignoring the state handed over ({why}); starting fresh")),
        }
        Ok(driver)
    }

    fn on_serial(&mut self, ctx: &mut DriverCtx<'_>, bytes: &[u8]) {
        if !self.sync.port_open() {
            // Bytes mean the port is open, whether or not we were told.
            let change = self.sync.port_opened(ctx, &self.config);
            self.apply(ctx, change);
        }
        for frame in self.decoder.push(bytes) {
            self.on_frame(ctx, protocol::parse(frame));
        }
        self.arm_idle_timer(ctx);
    }

    fn on_transmit(&mut self, ctx: &mut DriverCtx<'_>, id: u64, frame: Vec<u8>) {
        if !self.sync.is_up() {
            ctx.log(LogLevel::Debug, format!("transmit {id} refused: the link is down ({})", self.detail));
            return self.finish(ctx, Done { id, ok: false, unconfirmed: false });
        }
        if let Some(other) = self.tx.outstanding() {
            ctx.log(LogLevel::Warn, format!("transmit {id} refused: transmit {other} is still outstanding"));
            return self.finish(ctx, Done { id, ok: false, unconfirmed: false });
        }
        if frame.is_empty() || frame.len() > usize::from(protocol::MTU) {
            self.counters.tx_rejected += 1;
            ctx.log(LogLevel::Error, format!("transmit {id} refused: {} bytes (1..={})", frame.len(), protocol::MTU));
            return self.finish(ctx, Done { id, ok: false, unconfirmed: false });
        }
        let deadline_ms = self.confirmation_deadline_ms(frame.len());
        if let Some(done) = self.tx.send(ctx, id, &frame, self.config.flow_control, deadline_ms) {
            self.finish(ctx, done);
        }
    }

    fn on_timer(&mut self, ctx: &mut DriverCtx<'_>, id: u64) {
        let (kind, epoch) = timer::split(id);
        match kind {
            timer::DETECT | timer::CONFIGURE => {
                let change = self.sync.on_timer(ctx, &self.config, kind, epoch);
                self.apply(ctx, change);
            }
            timer::READY_POLL | timer::TX_DEADLINE => {
                if let Some(done) = self.tx.on_timer(ctx, kind, epoch) {
                    self.finish(ctx, done);
                }
            }
            timer::LINE_IDLE => {
                self.idle_timer_armed = false;
                if self.decoder.in_frame() {
                    self.decoder.line_idle();
                    ctx.log(LogLevel::Debug, format!("dropped a half frame after {LINE_IDLE_MS} ms of silence"));
                }
            }
            _ => {}
        }
    }

    fn on_serial_status(&mut self, ctx: &mut DriverCtx<'_>, status: SerialStatus) {
        let change = if status.open {
            self.sync.port_opened(ctx, &self.config)
        } else {
            self.decoder.line_idle();
            (self.rssi, self.snr) = (None, None);
            self.sync.port_closed(&status.detail)
        };
        self.apply(ctx, change);
    }

    fn on_command(&mut self, ctx: &mut DriverCtx<'_>, command: Command) {
        match command.name.as_str() {
            "status" => {
                let json = self.status_json();
                ctx.command_reply(command.id, true, json);
            }
            "resync" => match self.sync.restart(ctx, &self.config, "resync requested by the operator") {
                Some(change) => {
                    self.apply(ctx, Some(change));
                    ctx.command_reply(command.id, true, "detecting the RNode again");
                }
                None => ctx.command_reply(command.id, false, "the serial port is not open"),
            },
            other => ctx.command_reply(command.id, false, format!("unknown command {other:?} (status, resync)")),
        }
    }

    fn on_shutdown(&mut self, ctx: &mut DriverCtx<'_>, _shutdown: ShutdownArgs) -> Vec<u8> {
        if let Some(done) = self.tx.hand_over(ctx) {
            self.finish(ctx, done);
        }
        let mut counters = self.counters.clone();
        counters.garbage = self.garbage();
        Handoff {
            driver: handoff::DRIVER.into(),
            format: handoff::FORMAT,
            port_open: self.sync.port_open(),
            detected: self.sync.detected(),
            up: self.sync.is_up(),
            firmware: self.sync.firmware,
            platform: self.sync.platform,
            mcu: self.sync.mcu,
            applied: self.sync.applied,
            counters,
        }
        .encode()
    }
}

impl RNode {
    /// Continues where the predecessor stopped.
    fn resume(&mut self, ctx: &mut DriverCtx<'_>, handoff: Handoff) {
        self.counters = handoff.counters;
        self.sync.firmware = handoff.firmware;
        self.sync.platform = handoff.platform;
        self.sync.mcu = handoff.mcu;
        if !handoff.port_open {
            return; // wait for the host to open it
        }
        if handoff.detected && handoff.firmware.is_some() {
            ctx.log(LogLevel::Info, "taking over a configured RNode; re-syncing");
            self.sync.resume_configured(ctx, &self.config);
        } else {
            let change = self.sync.port_opened(ctx, &self.config);
            self.apply(ctx, change);
        }
    }

    fn on_frame(&mut self, ctx: &mut DriverCtx<'_>, frame: Incoming) {
        match frame {
            Incoming::Data(packet) if packet.is_empty() => self.counters.garbage.empty_data += 1,
            Incoming::Data(packet) => {
                self.counters.frames_rx += 1;
                ctx.count("frames_rx", 1.0);
                ctx.frame_received(packet, self.rssi.take(), self.snr.take());
            }
            Incoming::Rssi(rssi) => self.rssi = Some(rssi),
            Incoming::Snr(snr) => self.snr = Some(snr),
            Incoming::Ready(value) => {
                if let Some(done) = self.tx.on_ready(ctx, value) {
                    self.finish(ctx, done);
                }
            }
            Incoming::Malformed(cmd) => {
                self.counters.garbage.malformed += 1;
                ctx.log(LogLevel::Debug, format!("frame {cmd:#04x} with a payload of the wrong length dropped"));
            }
            Incoming::Ignored(_) => self.counters.ignored_frames += 1,
            other => {
                if let Incoming::Error(code) = other {
                    self.modem_error(ctx, code);
                }
                if other == Incoming::Reset(RESET_BOOTED) {
                    self.counters.resets += 1;
                    ctx.count("modem_resets", 1.0);
                }
                let change = self.sync.on_frame(ctx, &self.config, &other);
                self.apply(ctx, change);
            }
        }
    }

    fn modem_error(&mut self, ctx: &mut DriverCtx<'_>, code: u8) {
        let name = protocol::error_name(code);
        *self.counters.errors.entry(name.to_string()).or_default() += 1;
        ctx.count(format!("modem_error_{name}"), 1.0);
        ctx.log(LogLevel::Warn, format!("the RNode reported ERROR {code:#04x} ({name})"));
        if let Some(done) = self.tx.on_error(ctx, code) {
            self.finish(ctx, done);
        }
    }

    /// Reports a link change; a link going down fails the outstanding transmit.
    fn apply(&mut self, ctx: &mut DriverCtx<'_>, change: Option<Change>) {
        match change {
            None => {}
            Some(Change::Up { info, detail }) => {
                ctx.radio_info(info);
                ctx.link_state(true, detail.clone());
                ctx.gauge("link_up", 1.0);
                ctx.log(LogLevel::Info, format!("link up: {detail}"));
                self.detail = detail;
            }
            Some(Change::Radio(info)) => ctx.radio_info(info),
            Some(Change::Down(detail)) => {
                ctx.link_state(false, detail.clone());
                ctx.gauge("link_up", 0.0);
                ctx.log(LogLevel::Warn, format!("link down: {detail}"));
                self.detail = detail;
                if let Some(done) = self.tx.fail(ctx) {
                    self.finish(ctx, done);
                }
            }
        }
    }

    fn finish(&mut self, ctx: &mut DriverCtx<'_>, done: Done) {
        ctx.transmit_done(done.id, done.ok);
        if done.ok {
            self.counters.frames_tx += 1;
            ctx.count("frames_tx", 1.0);
        } else {
            self.counters.tx_failed += 1;
            ctx.count("tx_failed", 1.0);
        }
        if done.unconfirmed {
            self.counters.tx_unconfirmed += 1;
            ctx.log(LogLevel::Warn, format!("transmit {} reported sent without the modem's READY", done.id));
        }
    }

    /// How long a frame may wait for READY: the modem may first have to send
    /// what it already queued. Two seconds plus three times the frame's own
    /// airtime (two LoRa frames when the modem splits it).
    fn confirmation_deadline_ms(&self, len: usize) -> u64 {
        let radio = &self.config.radio;
        let airtime_us = if len > 254 {
            radio.time_on_air_us(255) + radio.time_on_air_us(len - 254 + 1)
        } else {
            radio.time_on_air_us(len + 1)
        };
        2_000 + 3 * airtime_us.div_ceil(1_000)
    }

    /// Arms the idle timer while half a frame is buffered.
    fn arm_idle_timer(&mut self, ctx: &mut DriverCtx<'_>) {
        let id = timer::id(timer::LINE_IDLE, 0);
        if self.decoder.in_frame() {
            ctx.set_timer(id, LINE_IDLE_MS);
            self.idle_timer_armed = true;
        } else if self.idle_timer_armed {
            ctx.cancel_timer(id);
            self.idle_timer_armed = false;
        }
    }

    /// The handed-over garbage counts plus this instance's decoder's.
    fn garbage(&self) -> Garbage {
        let d = self.decoder.counters;
        self.counters.garbage.plus(Garbage {
            oversize: d.oversize,
            bad_escape: d.bad_escape,
            abandoned: d.abandoned,
            noise_bytes: d.noise_bytes,
            ..Garbage::default()
        })
    }

    fn status_json(&self) -> String {
        let r = &self.config.radio;
        let percent = |x: Option<u16>| x.map(|v| f64::from(v) / 100.0);
        let (a, c, g) = (&self.sync.applied, &self.counters, self.garbage());
        serde_json::json!({
            "driver": "rnode",
            "version": VERSION,
            "state": self.sync.phase_name(),
            "detail": self.detail,
            "firmware": self.sync.firmware.map(|f| f.to_string()),
            "platform": self.sync.platform,
            "mcu": self.sync.mcu,
            "flow_control": self.config.flow_control,
            "configured": {
                "frequency_hz": r.frequency_hz,
                "bandwidth_hz": r.bandwidth_hz,
                "spreading_factor": r.spreading_factor,
                "coding_rate": r.coding_rate,
                "tx_power_dbm": r.tx_power_dbm,
                "preamble_symbols": r.preamble_symbols,
                "st_alock_percent": percent(self.config.st_alock),
                "lt_alock_percent": percent(self.config.lt_alock),
            },
            "applied": {
                "frequency_hz": a.frequency_hz,
                "bandwidth_hz": a.bandwidth_hz,
                "spreading_factor": a.spreading_factor,
                "coding_rate": a.coding_rate,
                "tx_power_dbm": a.tx_power_dbm,
                "radio_state": a.radio_state,
                "st_alock_percent": percent(a.st_alock),
                "lt_alock_percent": percent(a.lt_alock),
                "preamble_symbols": self.sync.modem_preamble,
            },
            "transmit_outstanding": self.tx.outstanding(),
            "counters": {
                "frames_tx": c.frames_tx,
                "frames_rx": c.frames_rx,
                "tx_failed": c.tx_failed,
                "tx_unconfirmed": c.tx_unconfirmed,
                "tx_rejected": c.tx_rejected,
                "resets": c.resets,
                "errors_total": c.errors.values().sum::<u64>(),
                "errors": c.errors,
                "garbage": {
                    "total": g.total(),
                    "oversize": g.oversize,
                    "bad_escape": g.bad_escape,
                    "abandoned": g.abandoned,
                    "noise_bytes": g.noise_bytes,
                    "malformed": g.malformed,
                    "empty_data": g.empty_data,
                },
                "ignored_frames": c.ignored_frames,
            },
        })
        .to_string()
    }
}

export_driver!(RNode);

#[cfg(test)]
mod tests;
