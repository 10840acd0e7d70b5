//! `atmodem`: the Weft driver for AT-command LoRa P2P modems (RAK3172 with
//! RUI3 firmware).
//!
//! The host owns the serial port and hands this driver the bytes; the driver
//! configures the modem for P2P, checks what it applied, then carries frames
//! both ways as hex. With `rnode_compatible` (the default) it also speaks
//! RNode's on-air framing, so it shares a channel with RNodes. Everything
//! byte-level follows lora-radio.md §2.
//!
//! Modules, one concept each:
//! - [`config`]: the config keys, defaults and validation (`table` reads the raw table);
//! - [`at`]: command texts, the `AT+P2P` settings format, hex, reading one line;
//! - [`mod@line`]: splitting the byte stream into lines;
//! - [`session`]: one command at a time, timeouts, busy retries, the configuration sequence;
//! - [`compat`]: RNode's on-air header and split packets;
//! - [`handoff`]: the state blob for a successor after a hot swap;
//! - [`status`]: counters and the `status` command's JSON;
//! - [`timer`]: timer ids (kind + command number);
//! - this file: the [`Driver`] implementation gluing them together.

#![warn(missing_docs)]

pub mod at;
pub mod compat;
pub mod config;
pub mod handoff;
pub mod line;
pub mod session;
pub mod status;
pub mod timer;

use at::Line;
use compat::{Joiner, Unwrapped};
use config::Config;
use handoff::Handoff;
use line::LineReader;
use session::{Effect, Session};
use status::Counters;
use weft_plugin_api::driver_prelude::*;

/// The AT modem driver.
pub struct AtModem {
    config: Config,
    session: Session,
    lines: LineReader,
    joiner: Joiner,
    /// RSSI and SNR from an older firmware's `+EVT:RXP2P, RSSI .., SNR ..`
    /// line, for the payload line that follows it.
    pending_meta: Option<(Option<i16>, Option<f32>)>,
    counters: Counters,
    /// The modem's boot banner, once seen.
    banner: Option<String>,
    /// The last link state reported, for `status`.
    detail: String,
}

impl Driver for AtModem {
    const MANIFEST: ManifestDef = ManifestDef {
        name: "atmodem",
        version: env!("CARGO_PKG_VERSION"),
        description: "AT-command LoRa P2P modems (RAK3172, RUI3 firmware), optionally RNode-compatible on air",
        ports: &[],
        permissions: &[Permission::Serial],
        commands: &[
            CommandDef { name: "status", help: "state, applied radio settings and counters as JSON" },
            CommandDef { name: "resync", help: "configure the modem again" },
        ],
    };

    fn init(ctx: &mut DriverCtx<'_>, init: InitArgs) -> Result<Self, String> {
        let config = Config::from_cbor(&init.config).map_err(|e| e.to_string())?;
        let mut driver = AtModem {
            config,
            session: Session::new(config),
            lines: LineReader::default(),
            joiner: Joiner::default(),
            pending_meta: None,
            counters: Counters::default(),
            banner: None,
            detail: "waiting for the serial port".into(),
        };
        match Handoff::decode(init.state.as_deref()) {
            Ok(None) => {}
            Ok(Some(handoff)) => driver.resume(ctx, handoff),
            Err(why) => ctx.log(LogLevel::Warn, format!("ignoring the state handed over ({why}); starting fresh")),
        }
        Ok(driver)
    }

    fn on_serial(&mut self, ctx: &mut DriverCtx<'_>, bytes: &[u8]) {
        let mut effects = Vec::new();
        if !self.session.port_open() {
            // Bytes mean the port is open, whether or not we were told.
            self.session.port_opened(ctx, &mut effects);
        }
        for line in self.lines.push(bytes) {
            self.on_line(ctx, &line, &mut effects);
        }
        self.apply(ctx, effects);
    }

    fn on_transmit(&mut self, ctx: &mut DriverCtx<'_>, id: u64, frame: Vec<u8>) {
        let refuse = if !self.session.is_up() {
            Some(format!("the link is down ({})", self.detail))
        } else if let Some(other) = self.session.transmitting() {
            Some(format!("transmit {other} is still outstanding"))
        } else if frame.is_empty() || frame.len() > usize::from(self.config.mtu()) {
            self.counters.tx_rejected += 1;
            Some(format!("{} bytes (1..={})", frame.len(), self.config.mtu()))
        } else {
            None
        };
        if let Some(why) = refuse {
            ctx.log(LogLevel::Warn, format!("transmit {id} refused: {why}"));
            return self.apply(ctx, vec![Effect::Done { id, ok: false }]);
        }
        let on_air = if self.config.rnode_compatible {
            let header = compat::header(ctx.random_u64());
            compat::wrap(header, &frame)
        } else {
            frame
        };
        let airtime_ms = self.config.radio.time_on_air_us(on_air.len()).div_ceil(1_000);
        self.session.transmit(ctx, id, weft_plugin_api::hex::encode_upper(&on_air), airtime_ms);
    }

    fn on_timer(&mut self, ctx: &mut DriverCtx<'_>, id: u64) {
        let (kind, seq) = timer::split(id);
        let mut effects = Vec::new();
        self.session.on_timer(ctx, kind, seq, &mut effects);
        self.apply(ctx, effects);
    }

    fn on_serial_status(&mut self, ctx: &mut DriverCtx<'_>, status: SerialStatus) {
        let mut effects = Vec::new();
        if status.open {
            self.session.port_opened(ctx, &mut effects);
        } else {
            self.lines.reset();
            self.joiner.reset();
            self.pending_meta = None;
            self.session.port_closed(&status.detail, &mut effects);
        }
        self.apply(ctx, effects);
    }

    fn on_command(&mut self, ctx: &mut DriverCtx<'_>, command: Command) {
        match command.name.as_str() {
            "status" => {
                let json = self.status_json();
                ctx.command_reply(command.id, true, json);
            }
            "resync" => {
                let mut effects = Vec::new();
                if self.session.restart(ctx, "resync requested by the operator".into(), &mut effects) {
                    self.apply(ctx, effects);
                    ctx.command_reply(command.id, true, "configuring the modem again");
                } else {
                    ctx.command_reply(command.id, false, "the serial port is not open");
                }
            }
            other => ctx.command_reply(command.id, false, format!("unknown command {other:?} (status, resync)")),
        }
    }

    fn on_shutdown(&mut self, ctx: &mut DriverCtx<'_>, _shutdown: ShutdownArgs) -> Vec<u8> {
        let (port_open, up) = (self.session.port_open(), self.session.is_up());
        let mut effects = Vec::new();
        self.session.hand_over(&mut effects);
        self.apply(ctx, effects);
        Handoff {
            driver: handoff::DRIVER.into(),
            format: handoff::FORMAT,
            port_open,
            up,
            applied: self.session.applied,
            banner: self.banner.clone(),
            counters: self.counters(),
        }
        .encode()
    }
}

impl AtModem {
    /// Continues where the predecessor stopped: with the port open, the
    /// configuration sequence starts at once.
    fn resume(&mut self, ctx: &mut DriverCtx<'_>, handoff: Handoff) {
        let c = handoff.counters;
        self.session.stats = c.session;
        self.lines.overlong = c.overlong_lines;
        (self.joiner.joined, self.joiner.dropped_halves) = (c.joined, c.dropped_halves);
        self.counters = c;
        self.banner = handoff.banner;
        self.session.applied = handoff.applied;
        if handoff.port_open {
            ctx.log(LogLevel::Info, "taking over the modem; re-syncing");
            let mut effects = Vec::new();
            self.session.port_opened(ctx, &mut effects);
            self.apply(ctx, effects);
        }
    }

    fn on_line(&mut self, ctx: &mut DriverCtx<'_>, text: &str, effects: &mut Vec<Effect>) {
        let line = at::classify(text);
        let meta = self.pending_meta.take();
        match line {
            Line::Received { rssi, snr, hex } => self.deliver(ctx, hex, rssi, snr),
            Line::ReceivedMeta { rssi, snr } => self.pending_meta = Some((rssi, snr)),
            Line::Event(hex) => match meta {
                Some((rssi, snr)) => self.deliver(ctx, hex, rssi, snr),
                None => self.unrecognised(ctx, text),
            },
            Line::Banner => {
                if text.contains("RAKwireless") {
                    self.banner = Some(text.to_string());
                }
                // What was received before the reboot is gone.
                self.joiner.reset();
                if self.session.on_banner(ctx, effects) {
                    self.counters.resets += 1;
                    ctx.count("modem_resets", 1.0);
                }
            }
            Line::Other => self.unrecognised(ctx, text),
            // The firmware's reason for the AT_BUSY_ERROR that follows.
            Line::Notice => {}
            Line::Ok
            | Line::Busy
            | Line::Error(_)
            | Line::Settings(_)
            | Line::Version(_)
            | Line::WorkMode(_)
            | Line::TxDone => self.session.on_line(ctx, &line, effects),
        }
    }

    fn unrecognised(&mut self, ctx: &mut DriverCtx<'_>, text: &str) {
        self.counters.unrecognised_lines += 1;
        let shown: String = text.chars().take(80).collect();
        ctx.log(LogLevel::Debug, format!("ignored line from the modem: {shown:?}"));
    }

    /// A received payload in hex: decoded, unwrapped, delivered.
    fn deliver(&mut self, ctx: &mut DriverCtx<'_>, hex: &str, rssi: Option<i16>, snr: Option<f32>) {
        let Some(bytes) = weft_plugin_api::hex::decode(hex) else {
            self.counters.bad_hex += 1;
            ctx.log(LogLevel::Debug, "dropped a received packet: its payload is not hex");
            return;
        };
        let packet = if self.config.rnode_compatible {
            match self.joiner.push(&bytes) {
                Unwrapped::Packet(packet) => packet,
                Unwrapped::Held => return,
                Unwrapped::Empty => return self.counters.empty_frames += 1,
            }
        } else if bytes.is_empty() {
            return self.counters.empty_frames += 1;
        } else {
            bytes
        };
        self.counters.frames_rx += 1;
        ctx.count("frames_rx", 1.0);
        ctx.frame_received(packet, rssi, snr);
    }

    /// Reports what the session decided, in order.
    fn apply(&mut self, ctx: &mut DriverCtx<'_>, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Up { info, detail } => {
                    ctx.radio_info(info);
                    ctx.link_state(true, detail.clone());
                    ctx.gauge("link_up", 1.0);
                    ctx.log(LogLevel::Info, format!("link up: {detail}"));
                    self.detail = detail;
                }
                Effect::Down(detail) => {
                    ctx.link_state(false, detail.clone());
                    ctx.gauge("link_up", 0.0);
                    ctx.log(LogLevel::Warn, format!("link down: {detail}"));
                    self.detail = detail;
                }
                Effect::Done { id, ok } => {
                    ctx.transmit_done(id, ok);
                    if ok {
                        self.counters.frames_tx += 1;
                        ctx.count("frames_tx", 1.0);
                    } else {
                        self.counters.tx_failed += 1;
                        ctx.count("tx_failed", 1.0);
                    }
                }
            }
        }
    }

    /// All counters, gathered.
    fn counters(&self) -> Counters {
        Counters {
            session: self.session.stats,
            overlong_lines: self.lines.overlong,
            joined: self.joiner.joined,
            dropped_halves: self.joiner.dropped_halves,
            ..self.counters.clone()
        }
    }

    fn status_json(&self) -> String {
        let settings = |p: &at::P2p| {
            serde_json::json!({
                "frequency_hz": p.frequency_hz,
                "bandwidth_hz": u32::from(p.bandwidth_khz) * 1000,
                "spreading_factor": p.spreading_factor,
                "coding_rate": p.coding_rate(),
                "preamble_symbols": p.preamble_symbols,
                "tx_power_dbm": p.tx_power_dbm,
            })
        };
        let c = self.counters();
        serde_json::json!({
            "driver": "atmodem",
            "version": env!("CARGO_PKG_VERSION"),
            "state": self.session.phase_name(),
            "detail": self.detail,
            "firmware": self.banner,
            "release": self.session.release.map(|r| format!("{}.{}.{}", r.0, r.1, r.2)),
            "receive_mode": match self.session.receive_mode {
                at::ReceiveMode::WithSend => "65533 (sends without leaving receive)",
                at::ReceiveMode::LeaveToSend => "65534 (left for each send)",
            },
            "rnode_compatible": self.config.rnode_compatible,
            "mtu": self.config.mtu(),
            "configured": settings(&self.config.p2p),
            "applied": self.session.applied.as_ref().map(settings),
            "transmit_outstanding": self.session.transmitting(),
            "counters": {
                "frames_tx": c.frames_tx,
                "frames_rx": c.frames_rx,
                "tx_failed": c.tx_failed,
                "tx_rejected": c.tx_rejected,
                "resets": c.resets,
                "busy_retries": c.session.busy_retries,
                "timeouts": c.session.timeouts,
                "errors": c.session.error_replies + c.session.timeouts,
                "error_replies": c.session.error_replies,
                "stray_replies": c.session.stray_replies,
                "garbage": c.overlong_lines + c.unrecognised_lines + c.bad_hex + c.empty_frames,
                "overlong_lines": c.overlong_lines,
                "unrecognised_lines": c.unrecognised_lines,
                "bad_hex": c.bad_hex,
                "empty_frames": c.empty_frames,
                "joined": c.joined,
                "dropped_halves": c.dropped_halves,
            },
        })
        .to_string()
    }
}

export_driver!(AtModem);

#[cfg(test)]
mod emulator_tests;
#[cfg(test)]
mod tests;
