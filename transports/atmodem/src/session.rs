//! Talking to the modem one command at a time: the command queue, reply
//! matching, timeouts, busy retries, and the configuration sequence.
//!
//! Owns: [`Session`], its [`Phase`], the command in flight and the queue
//! behind it, and what the modem reported for `AT+P2P=?`. It writes its own
//! commands and arms its own timers; what the driver must report comes back
//! as [`Effect`]s, in order.
//!
//! ```text
//! open -> AT -> AT+PRECV=0 -> AT+VER=? -> AT+NWM=?
//!      -> [LoRaWAN: AT+NWM=0, wait for the reboot, start over]
//!      -> AT+P2P=<settings, bandwidth in kHz> [AT_PARAM_ERROR: again with the bandwidth as an index]
//!      -> AT+P2P=? (validate) -> AT+PRECV=65533 (3.4.0 on) or 65534 -> Up
//! Up, 65533: AT+PSEND=<hex> -> OK -> +EVT:TXP2P DONE -> transmit done
//! Up, 65534: AT+PRECV=0 -> AT+PSEND=<hex> -> OK -> +EVT:TXP2P DONE -> transmit done -> AT+PRECV=65534
//!   (releases before 4.0.2 never say TXP2P DONE: the send counts as done its airtime after the OK;
//!    a release that did not name itself: whichever comes first)
//! AT_BUSY_ERROR: the same command again after BUSY_RETRY_MS (at most MAX_BUSY_RETRIES times)
//! no answer within command_timeout_ms: link down, start the sequence again
//!   (after MAX_ROUNDS failed rounds in a row: give up until reboot, reopen or `resync`)
//! boot banner: link down "modem rebooted; reconfiguring", start the sequence again
//! ```
//!
//! Documented RUI3 refuses a send while receiving (except in 65533) and
//! every setter while receiving (4.0.6 on), so receive is always left with
//! `AT+PRECV=0` before configuring, and before each send in 65534.
//!
//! Replies carry nothing to say which command they answer. A reply that
//! cannot belong to the command in flight (an `OK` to `AT+P2P=?` before the
//! settings line, anything while a send waits for TXP2P DONE) is counted as
//! stray and ignored, so a late reply to an earlier command (or to the
//! predecessor's, after a hot swap) does not shift every later one.

use crate::at::{BandwidthField, Cmd, Line, P2p, ReceiveMode, Release};
use crate::config::Config;
use crate::timer;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use weft_plugin_api::DriverCtx;
use weft_plugin_api::actions::RadioInfo;

/// Wait before sending a command again after AT_BUSY_ERROR, ms.
pub const BUSY_RETRY_MS: u64 = 50;
/// Retries after AT_BUSY_ERROR before the command counts as failed.
pub const MAX_BUSY_RETRIES: u32 = 5;
/// Configuration rounds that may fail in a row (timeouts, modem busy)
/// before the driver gives up.
pub const MAX_ROUNDS: u32 = 3;
/// After a send's airtime, how long until a release that does not report
/// the end of a send counts it as done, ms.
pub const TX_SETTLE_MS: u64 = 100;

/// Where the driver stands with the modem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// A fresh instance, not told yet that the port is open.
    AwaitingPort,
    /// The port is closed.
    PortClosed,
    /// Running the configuration sequence.
    Configuring,
    /// Configured, validated and receiving: transmitting.
    Up,
    /// Cannot transmit until the modem reboots, the port reopens or an
    /// operator asks for `resync`.
    Failed,
}

/// Something for the driver to report.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// The link is up.
    Up {
        /// What the modem applied.
        info: RadioInfo,
        /// For operators.
        detail: String,
    },
    /// The link is down, and why.
    Down(String),
    /// A transmit finished.
    Done {
        /// The host's transmit id.
        id: u64,
        /// Whether it went out.
        ok: bool,
    },
}

/// Session counters (carried across hot swaps).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Stats {
    /// AT_BUSY_ERROR answers retried.
    pub busy_retries: u64,
    /// Commands not answered in time.
    pub timeouts: u64,
    /// Replies with no command to answer.
    pub stray_replies: u64,
    /// AT_ERROR, AT_PARAM_ERROR and the like, answering a command.
    pub error_replies: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// Written; waiting for the reply.
    Sent,
    /// AT_BUSY_ERROR came back; waiting to send it again.
    RetryWait,
    /// A send was accepted (OK); waiting for TXP2P DONE.
    AwaitingTxDone,
    /// Nothing written (the reboot after `AT+NWM=0`): waiting for a banner.
    AwaitingReboot,
}

#[derive(Debug, Clone)]
struct InFlight {
    cmd: Cmd,
    /// Number of the write, for timer ids.
    seq: u64,
    busy_retries: u32,
    slot: Slot,
}

/// The command session with the modem.
#[derive(Debug)]
pub struct Session {
    config: Config,
    phase: Phase,
    queue: VecDeque<Cmd>,
    in_flight: Option<InFlight>,
    seq: u64,
    /// Configuration rounds failed in a row.
    failed_rounds: u32,
    /// The settings line received for the `AT+P2P=?` in flight.
    reported: Option<P2p>,
    /// The version line received for the `AT+VER=?` in flight.
    version_line: Option<Option<Release>>,
    /// The work mode line received for the `AT+NWM=?` in flight.
    mode_line: Option<u8>,
    /// Replies since the configuration (re)started.
    answered_in_round: u32,
    /// The release the modem named, once it did.
    pub release: Option<Release>,
    /// How receive is kept (chosen from the release).
    pub receive_mode: ReceiveMode,
    /// The settings the modem last reported.
    pub applied: Option<P2p>,
    /// Counters.
    pub stats: Stats,
}

impl Session {
    /// A session for `config`, waiting for the port.
    pub fn new(config: Config) -> Self {
        Session {
            config,
            phase: Phase::AwaitingPort,
            queue: VecDeque::new(),
            in_flight: None,
            seq: 0,
            failed_rounds: 0,
            reported: None,
            version_line: None,
            mode_line: None,
            answered_in_round: 0,
            release: None,
            receive_mode: ReceiveMode::LeaveToSend,
            applied: None,
            stats: Stats::default(),
        }
    }

    /// Whether a send ends with `+EVT:TXP2P DONE`: `Some(true)` for releases
    /// that say it, `Some(false)` for those that never do, `None` when the
    /// modem did not name a release (or named one that says it unreliably).
    pub fn tx_done_reported(&self) -> Option<bool> {
        match self.release {
            Some(r) if r.reports_tx_done() => Some(true),
            Some(r) if r.never_reports_tx_done() => Some(false),
            _ => None,
        }
    }

    /// The phase's name, as `status` reports it.
    pub fn phase_name(&self) -> &'static str {
        match self.phase {
            Phase::AwaitingPort => "awaiting_port",
            Phase::PortClosed => "port_closed",
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

    /// The transmit queued or in flight, if any.
    pub fn transmitting(&self) -> Option<u64> {
        let in_flight = self.in_flight.iter().map(|f| &f.cmd);
        in_flight.chain(self.queue.iter()).find_map(|cmd| match cmd {
            Cmd::Send { id, .. } => Some(*id),
            _ => None,
        })
    }

    /// The port opened (or bytes arrived, which means the same).
    pub fn port_opened(&mut self, ctx: &mut DriverCtx<'_>, out: &mut Vec<Effect>) {
        if matches!(self.phase, Phase::AwaitingPort | Phase::PortClosed | Phase::Failed) {
            self.failed_rounds = 0;
            out.push(Effect::Down("serial port open; configuring the modem".into()));
            self.start(ctx);
        }
    }

    /// The port closed: nothing is in flight any more.
    pub fn port_closed(&mut self, detail: &str, out: &mut Vec<Effect>) {
        if self.phase == Phase::PortClosed {
            return;
        }
        self.phase = Phase::PortClosed;
        out.push(Effect::Down(if detail.is_empty() {
            "serial port closed".to_string()
        } else {
            format!("serial port closed: {detail}")
        }));
        self.drop_commands(out);
    }

    /// Starts the configuration over (`why` is reported as the link going
    /// down). Nothing happens while the port is not open.
    pub fn restart(&mut self, ctx: &mut DriverCtx<'_>, why: String, out: &mut Vec<Effect>) -> bool {
        if !self.port_open() {
            return false;
        }
        self.failed_rounds = 0;
        self.resync(ctx, why, out);
        true
    }

    /// A boot banner line. Returns whether it counts as a reboot (the
    /// banner's second line, right after the first restarted the sequence,
    /// does not).
    pub fn on_banner(&mut self, ctx: &mut DriverCtx<'_>, out: &mut Vec<Effect>) -> bool {
        let just_restarted = self.phase == Phase::Configuring
            && self.answered_in_round == 0
            && matches!(&self.in_flight, Some(f) if f.cmd == Cmd::Attention && f.slot == Slot::Sent);
        if just_restarted || !self.port_open() {
            return false;
        }
        if matches!(&self.in_flight, Some(f) if f.cmd == Cmd::AwaitReboot) {
            // The reboot `AT+NWM=0` asked for: configure the P2P modem.
            self.start(ctx);
            return false;
        }
        self.restart(ctx, "modem rebooted; reconfiguring".into(), out)
    }

    /// Queues a transmit of `hex` (the caller checked the link is up and
    /// nothing else is being sent).
    pub fn transmit(&mut self, ctx: &mut DriverCtx<'_>, id: u64, hex: String, airtime_ms: u64) {
        let send = Cmd::Send { id, hex, airtime_ms };
        match self.receive_mode {
            ReceiveMode::WithSend => self.queue.push_back(send),
            ReceiveMode::LeaveToSend => {
                let rearm = Cmd::Receive(ReceiveMode::LeaveToSend);
                // Receive not re-armed yet since the last send: the modem is
                // in standby, so skip both the re-arm and leaving it again.
                if self.queue.back() == Some(&rearm) {
                    self.queue.pop_back();
                } else {
                    self.queue.push_back(Cmd::StopReceive);
                }
                self.queue.extend([send, rearm]);
            }
        }
        self.pump(ctx);
    }

    /// A reply or event line (received packets are the driver's business).
    pub fn on_line(&mut self, ctx: &mut DriverCtx<'_>, line: &Line<'_>, out: &mut Vec<Effect>) {
        if matches!(line, Line::Ok | Line::Busy | Line::Error(_)) {
            self.answered_in_round = self.answered_in_round.saturating_add(1);
        }
        let in_flight = self.in_flight.as_ref().map(|f| &f.cmd);
        match line {
            Line::Ok => self.on_ok(ctx, out),
            Line::Busy => self.on_busy(ctx, out),
            Line::Error(error) => self.on_error(ctx, error, out),
            // A settings line while no query is in flight: the modem echoed
            // our own AT+P2P=... (ATE on); ignored below.
            Line::Settings(p2p) if in_flight == Some(&Cmd::QueryP2p) => self.reported = Some(*p2p),
            Line::Version(release) if in_flight == Some(&Cmd::QueryVersion) => self.version_line = Some(*release),
            Line::WorkMode(mode) if in_flight == Some(&Cmd::QueryMode) => self.mode_line = Some(*mode),
            Line::TxDone => match &self.in_flight {
                Some(InFlight { cmd: Cmd::Send { id, .. }, slot: Slot::Sent | Slot::AwaitingTxDone, .. }) => {
                    out.push(Effect::Done { id: *id, ok: true });
                    self.next(ctx);
                }
                _ => self.stats.stray_replies += 1,
            },
            _ => {}
        }
    }

    /// A command or retry timer fired.
    pub fn on_timer(&mut self, ctx: &mut DriverCtx<'_>, kind: u8, seq: u64, out: &mut Vec<Effect>) {
        let Some(f) = &self.in_flight else { return };
        if f.seq != seq {
            return; // armed for an earlier command
        }
        match (kind, f.slot) {
            (timer::BUSY_RETRY, Slot::RetryWait) => self.write_in_flight(ctx),
            // No reboot came after AT+NWM=0: carry on with the settings.
            (timer::COMMAND, Slot::AwaitingReboot) => self.next(ctx),
            // A release that does not report the end of a send: its airtime is over.
            (timer::COMMAND, Slot::AwaitingTxDone) if self.tx_done_reported() != Some(true) => {
                if let Cmd::Send { id, .. } = f.cmd {
                    out.push(Effect::Done { id, ok: true });
                }
                self.next(ctx);
            }
            (timer::COMMAND, Slot::Sent | Slot::AwaitingTxDone) => {
                self.stats.timeouts += 1;
                let why = match (&f.cmd, f.slot) {
                    (Cmd::Send { .. }, Slot::AwaitingTxDone) => format!(
                        "the modem accepted AT+PSEND but reported no TXP2P DONE within {} ms",
                        done_timeout_ms(&self.config, &f.cmd)
                    ),
                    (Cmd::QueryP2p, _) => format!(
                        "the modem did not report its P2P settings (AT+P2P=?) within {} ms",
                        self.config.command_timeout_ms
                    ),
                    (cmd, _) => {
                        format!("the modem did not answer {} within {} ms", cmd.label(), self.config.command_timeout_ms)
                    }
                };
                self.round_failed(ctx, why, out);
            }
            _ => {}
        }
    }

    /// The instance is being replaced. A send already written is reported
    /// sent (the modem has it and the successor cannot learn the outcome; a
    /// frame that may go out is never reported failed); one still queued is
    /// reported failed.
    pub fn hand_over(&mut self, out: &mut Vec<Effect>) {
        if let Some(InFlight { cmd: Cmd::Send { id, .. }, .. }) = self.in_flight.take() {
            out.push(Effect::Done { id, ok: true });
        }
        self.drop_commands(out);
    }

    fn start(&mut self, ctx: &mut DriverCtx<'_>) {
        self.phase = Phase::Configuring;
        self.reported = None;
        self.version_line = None;
        self.mode_line = None;
        self.answered_in_round = 0;
        // Leave receive first: documented RUI3 refuses setters while receiving,
        // and a modem that stayed powered across a node restart still is.
        self.queue = VecDeque::from([Cmd::Attention, Cmd::StopReceive, Cmd::QueryVersion, Cmd::QueryMode]);
        self.in_flight = None;
        self.pump(ctx);
    }

    /// The rest of the configuration once the modem is known to be in P2P
    /// mode (or was just asked to switch to it).
    fn queue_settings(&mut self) {
        self.receive_mode = match self.release {
            Some(r) if r.receives_while_sending() => ReceiveMode::WithSend,
            _ => ReceiveMode::LeaveToSend,
        };
        self.queue.extend([
            Cmd::SetP2p(self.config.p2p, BandwidthField::Khz),
            Cmd::QueryP2p,
            Cmd::Receive(self.receive_mode),
        ]);
    }

    /// Link down with `why`, fail what was being sent, configure again.
    fn resync(&mut self, ctx: &mut DriverCtx<'_>, why: String, out: &mut Vec<Effect>) {
        out.push(Effect::Down(why));
        self.drop_commands(out);
        self.start(ctx);
    }

    /// A configuration round (or a send) failed: try again, up to a limit.
    fn round_failed(&mut self, ctx: &mut DriverCtx<'_>, why: String, out: &mut Vec<Effect>) {
        self.failed_rounds += 1;
        if self.failed_rounds >= MAX_ROUNDS {
            let rounds = self.failed_rounds;
            self.fail(format!("{why} (gave up after {rounds} attempts)"), out);
        } else {
            self.resync(ctx, format!("{why}; re-syncing"), out);
        }
    }

    fn fail(&mut self, why: String, out: &mut Vec<Effect>) {
        self.phase = Phase::Failed;
        out.push(Effect::Down(why));
        self.drop_commands(out);
    }

    /// Forgets every command; a send among them is reported failed.
    fn drop_commands(&mut self, out: &mut Vec<Effect>) {
        let in_flight = self.in_flight.take().map(|f| f.cmd);
        for cmd in in_flight.into_iter().chain(self.queue.drain(..)) {
            if let Cmd::Send { id, .. } = cmd {
                out.push(Effect::Done { id, ok: false });
            }
        }
    }

    fn pump(&mut self, ctx: &mut DriverCtx<'_>) {
        if self.in_flight.is_some() {
            return;
        }
        if let Some(cmd) = self.queue.pop_front() {
            self.in_flight = Some(InFlight { cmd, seq: 0, busy_retries: 0, slot: Slot::Sent });
            self.write_in_flight(ctx);
        }
    }

    fn write_in_flight(&mut self, ctx: &mut DriverCtx<'_>) {
        let Some(f) = &mut self.in_flight else { return };
        self.seq += 1;
        f.seq = self.seq;
        let text = f.cmd.text();
        if text.is_empty() {
            f.slot = Slot::AwaitingReboot;
        } else {
            f.slot = Slot::Sent;
            ctx.serial_write(format!("{text}\r\n").into_bytes());
        }
        ctx.set_timer(timer::id(timer::COMMAND, f.seq), self.config.command_timeout_ms);
    }

    /// The command in flight is finished: on to the next.
    fn next(&mut self, ctx: &mut DriverCtx<'_>) {
        if let Some(f) = self.in_flight.take() {
            ctx.cancel_timer(timer::id(timer::COMMAND, f.seq));
        }
        self.pump(ctx);
    }

    fn on_ok(&mut self, ctx: &mut DriverCtx<'_>, out: &mut Vec<Effect>) {
        let tx_done_reported = self.tx_done_reported() == Some(true);
        let Some(f) = &mut self.in_flight else { return self.stats.stray_replies += 1 };
        if f.slot != Slot::Sent {
            return self.stats.stray_replies += 1;
        }
        match &f.cmd {
            Cmd::Send { airtime_ms, .. } => {
                f.slot = Slot::AwaitingTxDone;
                let wait = if tx_done_reported {
                    done_timeout_ms(&self.config, &f.cmd)
                } else {
                    airtime_ms.saturating_add(TX_SETTLE_MS)
                };
                ctx.set_timer(timer::id(timer::COMMAND, f.seq), wait);
            }
            Cmd::QueryVersion => match self.version_line.take() {
                // The version comes before the OK; an OK without it is a
                // late reply to something else.
                None => self.stats.stray_replies += 1,
                Some(release) => {
                    self.release = release;
                    self.next(ctx);
                }
            },
            Cmd::QueryMode => match self.mode_line.take() {
                None => self.stats.stray_replies += 1,
                Some(mode) => {
                    self.in_flight = None;
                    if mode != 0 {
                        self.queue.extend([Cmd::P2pMode, Cmd::AwaitReboot]);
                    }
                    self.queue_settings();
                    self.next(ctx);
                }
            },
            // The settings line comes before the OK; an OK without it is a
            // late reply to something else.
            Cmd::QueryP2p if self.reported.is_none() => self.stats.stray_replies += 1,
            Cmd::QueryP2p => {
                let reported = self.reported.take().unwrap_or(self.config.p2p);
                self.applied = Some(reported);
                let wrong = reported.mismatches(&self.config.p2p);
                if wrong.is_empty() {
                    self.next(ctx);
                } else {
                    self.fail(format!("modem applied {}: refusing to bring the link up", wrong.join("; ")), out);
                }
            }
            Cmd::Receive(_) => {
                self.next(ctx);
                if self.phase == Phase::Configuring {
                    self.phase = Phase::Up;
                    self.failed_rounds = 0;
                    let p2p = self.applied.unwrap_or(self.config.p2p);
                    let info = p2p.radio_info(self.config.mtu());
                    out.push(Effect::Up { info, detail: self.up_detail(&info) });
                }
            }
            Cmd::Attention | Cmd::StopReceive | Cmd::P2pMode | Cmd::SetP2p(..) => self.next(ctx),
            Cmd::AwaitReboot => self.stats.stray_replies += 1,
        }
    }

    fn on_busy(&mut self, ctx: &mut DriverCtx<'_>, out: &mut Vec<Effect>) {
        let Some(f) = &mut self.in_flight else { return self.stats.stray_replies += 1 };
        if f.slot != Slot::Sent {
            return self.stats.stray_replies += 1;
        }
        if f.busy_retries < MAX_BUSY_RETRIES {
            f.busy_retries += 1;
            f.slot = Slot::RetryWait;
            self.stats.busy_retries += 1;
            ctx.set_timer(timer::id(timer::BUSY_RETRY, f.seq), BUSY_RETRY_MS);
            return;
        }
        let why = format!("the modem stayed busy (AT_BUSY_ERROR) for {}", f.cmd.label());
        if let Cmd::Send { id, .. } = f.cmd {
            out.push(Effect::Done { id, ok: false });
            self.next(ctx);
        } else {
            self.round_failed(ctx, why, out);
        }
    }

    fn on_error(&mut self, ctx: &mut DriverCtx<'_>, error: &str, out: &mut Vec<Effect>) {
        let Some(f) = &self.in_flight else { return self.stats.stray_replies += 1 };
        if f.slot != Slot::Sent {
            return self.stats.stray_replies += 1;
        }
        self.stats.error_replies += 1;
        match &f.cmd {
            Cmd::Send { id, .. } => {
                out.push(Effect::Done { id: *id, ok: false });
                self.next(ctx);
            }
            // Not receiving (or LoRaWAN mode, which has no P2P receive):
            // nothing to stop. A release that cannot name itself: assume
            // nothing of it.
            Cmd::StopReceive | Cmd::QueryVersion => self.next(ctx),
            // No answer to the question: ask for P2P mode outright.
            Cmd::QueryMode => {
                self.in_flight = None;
                self.queue.extend([Cmd::P2pMode, Cmd::AwaitReboot]);
                self.queue_settings();
                self.pump(ctx);
            }
            // Releases 3.5.0b to 3.5.5 take the bandwidth only as an index.
            Cmd::SetP2p(p2p, BandwidthField::Khz) => {
                let again = Cmd::SetP2p(*p2p, BandwidthField::Index);
                self.in_flight = None;
                self.queue.push_front(again);
                self.pump(ctx);
            }
            Cmd::SetP2p(p2p, BandwidthField::Index) => {
                let why = format!(
                    "the modem refused the P2P settings (frequency_hz {}, spreading_factor {}, bandwidth_hz {}, \
                     coding_rate {}, preamble_symbols {}, tx_power_dbm {}): AT+P2P={} answered {error}",
                    p2p.frequency_hz,
                    p2p.spreading_factor,
                    u32::from(p2p.bandwidth_khz) * 1000,
                    p2p.coding_rate(),
                    p2p.preamble_symbols,
                    p2p.tx_power_dbm,
                    f.cmd.text().trim_start_matches("AT+P2P=")
                );
                self.fail(why, out);
            }
            cmd => {
                let why = format!("the modem answered {error} to {}", cmd.label());
                self.fail(why, out);
            }
        }
    }

    fn up_detail(&self, info: &RadioInfo) -> String {
        let release = self.release.map_or("an unnamed release".to_string(), |r| format!("RUI {}.{}.{}", r.0, r.1, r.2));
        let receive = match self.receive_mode {
            ReceiveMode::WithSend => "receive 65533",
            ReceiveMode::LeaveToSend => "receive 65534, left for each send",
        };
        format!(
            "RAK3172 LoRa P2P ({release}, {receive}): {:.3} MHz, {} kHz, SF{}, CR 4/{}, {} dBm, preamble {}{}",
            f64::from(info.frequency_hz) / 1e6,
            f64::from(info.bandwidth_hz) / 1e3,
            info.spreading_factor,
            info.coding_rate,
            info.tx_power_dbm,
            info.preamble_symbols,
            if self.config.rnode_compatible { " (RNode-compatible framing)" } else { "" }
        )
    }
}

/// Time from `AT+PSEND`'s OK to TXP2P DONE, at most: the frame's airtime
/// plus the usual command timeout.
fn done_timeout_ms(config: &Config, cmd: &Cmd) -> u64 {
    match cmd {
        Cmd::Send { airtime_ms, .. } => config.command_timeout_ms + airtime_ms,
        _ => config.command_timeout_ms,
    }
}
