//! The node's radio links: each a serial port, a driver plugin and the
//! sans-IO [`RadioLink`] between them.
//!
//! Owns: starting the configured radio links (driver loaded and
//! initialised, serial port opened), executing one link output at a time
//! ([`RadioHost::step`]: a driver call, a serial write) for the actor's
//! work queue, which runs them with everything else under one step limit,
//! when a driver swap happens (once
//! the old driver has nothing outstanding), and the rows of `weft ctl
//! links`. Each driver runs under a [`Supervisor`], as services do: a
//! driver that faults restarts with a growing delay, and swaps hand over
//! state and roll back the same way. What the router must hear
//! (packets, neighbours) comes out as [`RadioNote`]s for the actor.
//!
//! Must not: route, or touch QUIC links; the actor glues radio links to the
//! node core exactly like QUIC links, by link id.

use super::release::Releaser;
use super::supervisor::{Handled, Prepared, Supervisor, driver_spec};
use crate::config::{NodeConfig, RadioConfig};
use crate::control::{RadioRow, SwapReport};
use crate::plugin::{HostServices, PluginInstance, PluginRuntime, SwapSizes};
use crate::serial::{SerialEvent, SerialPortTask};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use weft_core::crypto::NodeIdentity;
use weft_core::radio::link::{RadioDest, RadioLink, RadioOutput};
use weft_core::routing::LinkId;
use weft_core::time::{Micros, Millis, UnixMillis};
use weft_plugin_api::actions::CommandReply;
use weft_plugin_api::{Action, Address, Event, PluginKind, ShutdownReason};

/// Deadline of a driver's shutdown hook during a swap.
const SWAP_HOOK_DEADLINE: Duration = Duration::from_millis(200);

/// One output of radio link `index`, waiting in the actor's work queue.
#[derive(Debug)]
pub struct RadioWork {
    /// The link's index.
    pub index: usize,
    /// What the link asked for.
    pub output: RadioOutput,
}

impl RadioWork {
    /// Whether running it calls the driver.
    pub fn is_driver_call(&self) -> bool {
        matches!(self.output, RadioOutput::Driver(_))
    }
}

/// Outputs of link `index` as work items.
fn work(index: usize, outputs: Vec<RadioOutput>) -> Vec<RadioWork> {
    outputs.into_iter().map(|output| RadioWork { index, output }).collect()
}

/// What the actor must act on.
#[derive(Debug, Clone, PartialEq)]
pub enum RadioNote {
    /// A packet for the router.
    Packet {
        /// The radio link.
        link: LinkId,
        /// The packet.
        packet: Vec<u8>,
    },
    /// A neighbour is heard on the link.
    NeighbourUp {
        /// The radio link.
        link: LinkId,
        /// The neighbour.
        neighbour: Address,
        /// Routing cost.
        cost: u32,
        /// Nominal bit rate.
        bandwidth_bps: u64,
    },
    /// The neighbour is gone.
    NeighbourDown {
        /// The radio link.
        link: LinkId,
    },
    /// A driver answered an operator command.
    CommandReply {
        /// The radio link's index.
        index: usize,
        /// The answer.
        reply: CommandReply,
    },
    /// A driver faulted (it restarts after its backoff): commands it was
    /// asked will not be answered.
    DriverFaulted {
        /// The radio link's index.
        index: usize,
        /// The fault.
        fault: String,
    },
    /// A driver swap finished (or was rolled back).
    SwapFinished {
        /// The radio link's index.
        index: usize,
        /// What happened.
        result: Result<SwapReport, String>,
    },
}

/// A radio link could not start.
#[derive(Debug, thiserror::Error)]
#[error("{file}: key `radios[{index}]`: {message}")]
pub struct RadioStartError {
    /// Config file.
    pub file: String,
    /// Index in `[[radios]]`.
    pub index: usize,
    /// Why.
    pub message: String,
}

/// Who the node is and what its clock read at its origin: what a radio
/// link signs hellos with.
#[derive(Clone, Copy)]
struct NodeClock<'a> {
    identity: &'a NodeIdentity,
    wall_start: UnixMillis,
}

/// A driver plugin loaded and instantiated (not yet initialised), ready
/// to take over a link.
pub struct Driver(Prepared);

struct PendingSwap {
    driver: Driver,
}

struct RadioSlot {
    name: String,
    /// The radio's index, as the router's link ids name it.
    radio: u32,
    /// The operator's routing cost for the link; `None`: its airtime.
    cost: Option<u32>,
    device: PathBuf,
    link: RadioLink,
    driver: Supervisor,
    pending: Option<PendingSwap>,
    serial: SerialPortTask,
    /// What the driver reported with `ctx.count` / `ctx.gauge` (kept across
    /// driver swaps: the link's story goes on).
    metrics: crate::plugin::metrics::PluginMetrics,
}

impl RadioSlot {
    /// A new driver instance (restarted or swapped in) learns that the
    /// serial port is already open, as the first one did when it opened.
    fn tell_driver_the_port_is_open(&mut self, why: &str, out: &mut Vec<RadioOutput>) {
        if self.link.serial_open() {
            self.link.serial_status(true, format!("{} open ({why})", self.device.display()), out);
        }
    }
}

/// All radio links of a node.
pub struct RadioHost {
    slots: Vec<RadioSlot>,
    services: Arc<HostServices>,
    /// Drops retired driver instances off the node's thread.
    retired: Releaser<PluginInstance>,
}

/// Loads, verifies and instantiates the driver in `file` with the link's
/// settings `config_cbor` (readied for `sizes`, those of the driver it will
/// replace). Compiling a wasm module can take hundreds of milliseconds, so
/// the node runs this off its actor (a blocking task) and hands the result
/// to [`RadioHost::begin_swap`]. A driver may write to its link's serial
/// port and nothing else.
pub fn load_driver(
    runtime: &PluginRuntime,
    services: &Arc<HostServices>,
    trust: &crate::config::TrustConfig,
    file: PathBuf,
    config_cbor: Vec<u8>,
    sizes: SwapSizes,
) -> Result<Driver, String> {
    let spec = driver_spec(file, config_cbor);
    super::supervisor::prepare(runtime, services, trust, PluginKind::Driver, spec, sizes).map(Driver)
}

impl RadioHost {
    /// Starts every `[[radios]]` link of `config`: driver loaded and
    /// initialised, serial port opening in the background. The drivers'
    /// first outputs come back for the work queue.
    pub fn start(
        config: &NodeConfig,
        runtime: &PluginRuntime,
        services: &Arc<HostServices>,
        identity: &NodeIdentity,
        wall_start: UnixMillis,
        serial_events: &mpsc::Sender<(usize, SerialEvent)>,
        retired: Releaser<PluginInstance>,
    ) -> Result<(Self, Vec<RadioWork>), RadioStartError> {
        let own = NodeClock { identity, wall_start };
        let mut host = Self { slots: Vec::new(), services: services.clone(), retired };
        let mut pending = Vec::new();
        for (index, radio) in config.radios.iter().enumerate() {
            let error = |message| RadioStartError { file: config.file.display().to_string(), index, message };
            let (slot, init) =
                host.start_one(index, radio, runtime, &config.trust, own, serial_events).map_err(error)?;
            host.slots.push(slot);
            let mut out = Vec::new();
            host.slots[index].link.driver_actions(init, Micros::ZERO, &mut out);
            pending.extend(work(index, out));
        }
        Ok((host, pending))
    }

    /// Loads and starts link `index`'s driver, then its serial port; the
    /// driver's `init` actions come back with the slot.
    fn start_one(
        &mut self,
        index: usize,
        radio: &RadioConfig,
        runtime: &PluginRuntime,
        trust: &crate::config::TrustConfig,
        own: NodeClock<'_>,
        serial_events: &mpsc::Sender<(usize, SerialEvent)>,
    ) -> Result<(RadioSlot, Vec<Action>), String> {
        let config = radio.driver_config_cbor.clone();
        let Driver(prepared) =
            load_driver(runtime, &self.services, trust, radio.driver.clone(), config, SwapSizes::default())?;
        let label = prepared.label();
        let (driver, init) = Supervisor::start(prepared, None, Millis::ZERO, self.retired.clone())
            .map_err(|e| format!("driver {}: {e}", radio.driver.display()))?;
        let serial = SerialPortTask::spawn(index, radio.device.clone(), radio.baud, serial_events.clone())
            .map_err(|e| format!("cannot start the serial threads: {e}"))?;
        tracing::info!(link = %radio.name, device = %radio.device.display(), driver = %label, "radio link starting");
        let slot = RadioSlot {
            name: radio.name.clone(),
            radio: u32::try_from(index).unwrap_or(u32::MAX),
            cost: radio.cost,
            device: radio.device.clone(),
            link: RadioLink::new(own.identity, own.wall_start, radio.settings.clone(), rand::random()),
            driver,
            pending: None,
            serial,
            metrics: Default::default(),
        };
        Ok((slot, init))
    }

    /// The index of the radio of router link `link`, if it is a radio's
    /// (one neighbour on it, or its whole channel).
    pub fn index_of(&self, link: LinkId) -> Option<usize> {
        let index = usize::try_from(link.channel()?).ok()?;
        (index < self.slots.len()).then_some(index)
    }

    /// The index of the link named `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.slots.iter().position(|s| s.name == name)
    }

    /// Names of the links, for error messages.
    pub fn names(&self) -> Vec<String> {
        self.slots.iter().map(|s| s.name.clone()).collect()
    }

    /// The router hands a packet to radio link `link` (one neighbour, or
    /// everyone in range); what the link does about it comes back as work.
    pub fn send(&mut self, link: LinkId, packet: &[u8], now: Micros) -> Result<Vec<RadioWork>, String> {
        let index = self.index_of(link).ok_or("no such radio link")?;
        let dest = RadioDest::of_link(link);
        let mut out = Vec::new();
        self.slots[index].link.send_packet(dest, packet, now, &mut out).map_err(|e| e.to_string())?;
        Ok(work(index, out))
    }

    /// The serial threads of link `index` reported something.
    pub fn serial_event(&mut self, index: usize, event: SerialEvent) -> Vec<RadioWork> {
        let Some(slot) = self.slots.get_mut(index) else { return Vec::new() };
        let mut out = Vec::new();
        match event {
            SerialEvent::Bytes(bytes) => slot.link.serial_rx(bytes, &mut out),
            SerialEvent::Opened => {
                tracing::info!(link = %slot.name, device = %slot.device.display(), "serial port open");
                slot.link.serial_status(true, format!("{} open", slot.device.display()), &mut out);
            }
            SerialEvent::Closed(why) => {
                tracing::warn!(link = %slot.name, "serial port closed: {why}");
                slot.link.serial_status(false, why, &mut out);
            }
        }
        work(index, out)
    }

    /// Work due at `now` on every link: the link's timers, and restarts
    /// of drivers that faulted.
    pub fn poll(&mut self, now: Micros) -> Vec<RadioWork> {
        let services = self.services.clone();
        let mut pending = Vec::new();
        for (index, slot) in self.slots.iter_mut().enumerate() {
            let mut out = Vec::new();
            if let Some(init) = slot.driver.restart_if_due(&services, now.to_millis()) {
                tracing::info!(link = %slot.name, driver = %slot.driver.label(), "driver restarted");
                slot.link.driver_actions(init, now, &mut out);
                slot.tell_driver_the_port_is_open("driver restarted", &mut out);
            }
            if slot.link.next_deadline().is_some_and(|t| t <= now) {
                slot.link.poll(now, &mut out);
            }
            pending.extend(work(index, out));
        }
        pending
    }

    /// The earliest time [`RadioHost::poll`] has work.
    pub fn next_deadline(&self) -> Option<Micros> {
        let links = self.slots.iter().filter_map(|s| s.link.next_deadline());
        let restarts = self.slots.iter().filter_map(|s| s.driver.restart_due().map(Millis::to_micros));
        links.chain(restarts).min()
    }

    /// Delivers an operator command to link `index`'s driver.
    pub fn command(&mut self, index: usize, command: weft_plugin_api::Command) -> Vec<RadioWork> {
        work(index, vec![RadioOutput::Driver(Event::Command(command))])
    }

    /// Replaces the settings link `index` hands its next driver's `init`.
    pub fn set_driver_config(&mut self, index: usize, cbor: Vec<u8>) {
        if let Some(slot) = self.slots.get_mut(index) {
            slot.driver.set_config(cbor);
        }
    }

    /// Host services for loading drivers off the actor.
    pub fn services(&self) -> &Arc<HostServices> {
        &self.services
    }

    /// What a driver swap on link `index` needs to load off the actor: the
    /// link's driver settings and the sizes to ready the new driver for.
    pub fn swap_inputs(&self, index: usize) -> Option<(Vec<u8>, SwapSizes)> {
        let slot = self.slots.get(index)?;
        Some((slot.driver.spec().config_cbor.clone(), slot.driver.swap_sizes()))
    }

    /// Starts swapping link `index`'s driver for `loaded` (the outcome of
    /// [`load_driver`]; an error there leaves everything as it was). The
    /// swap itself happens once the old driver has nothing outstanding, and
    /// ends with [`RadioNote::SwapFinished`].
    pub fn begin_swap(
        &mut self,
        index: usize,
        loaded: Result<Driver, String>,
        now: Micros,
    ) -> Result<Vec<RadioWork>, String> {
        let slot = self.slots.get_mut(index).ok_or("no such radio link")?;
        if slot.pending.is_some() {
            return Err(format!("link `{}` is already swapping its driver", slot.name));
        }
        let driver = loaded.map_err(|e| format!("{e}; link `{}` continues on {}", slot.name, slot.driver.label()))?;
        tracing::info!(link = %slot.name, from = %slot.driver.label(), to = %driver.0.label(), "driver swap starting");
        slot.pending = Some(PendingSwap { driver });
        let mut out = Vec::new();
        slot.link.begin_swap(now, &mut out);
        Ok(work(index, out))
    }

    /// A driver call that will not be made (the input's call budget is
    /// spent): a transmit goes back to the link's queue, to be handed out
    /// again at the link's next poll; anything else is dropped.
    pub fn skip(&mut self, item: RadioWork, now: Micros) {
        if let (Some(slot), RadioOutput::Driver(Event::Transmit(request))) =
            (self.slots.get_mut(item.index), item.output)
        {
            slot.link.transmit_not_taken(request.id, now);
        }
    }

    /// Executes one output of a link: a driver call or a serial write
    /// happens here, and what it causes joins `more` (for the same work
    /// queue); what the node must hear comes back as a note.
    pub fn step(&mut self, work_item: RadioWork, now: Micros, more: &mut Vec<RadioWork>) -> Option<RadioNote> {
        let RadioWork { index, output } = work_item;
        let slot = self.slots.get_mut(index)?;
        let mut out = Vec::new();
        let note = match output {
            RadioOutput::Driver(event) => {
                match slot.driver.handle(&event, || now.to_millis()) {
                    Handled::Ran(dispatch) => {
                        slot.link.driver_actions(dispatch.actions, now, &mut out);
                        None
                    }
                    // No instance to take it until the driver restarts (or
                    // is swapped): the link is down and sends nothing new.
                    Handled::Restarting | Handled::Stopped => match event {
                        // A transmit handed out just before the fault goes
                        // back to the queue instead of waiting forever.
                        Event::Transmit(_) => {
                            let why = slot.driver.last_fault().unwrap_or("not running").to_string();
                            slot.link.driver_lost(&why, now, &mut out);
                            None
                        }
                        // An operator's command is answered at once.
                        Event::Command(command) => {
                            let body = format!("the driver is not running ({})", slot.driver.state());
                            Some(RadioNote::CommandReply {
                                index,
                                reply: CommandReply { id: command.id, ok: false, body },
                            })
                        }
                        // Anything else (serial bytes, timers, status) was
                        // for the instance that is gone.
                        _ => None,
                    },
                    Handled::Faulted => {
                        let fault = slot.driver.last_fault().unwrap_or_default().to_string();
                        tracing::error!(link = %slot.name, driver = %slot.driver.label(), "driver failed: {fault}");
                        slot.link.driver_lost(&fault, now, &mut out);
                        Some(RadioNote::DriverFaulted { index, fault })
                    }
                }
            }
            RadioOutput::Serial(bytes) => {
                slot.serial.write(bytes);
                None
            }
            RadioOutput::Packet { neighbour, packet } => {
                Some(RadioNote::Packet { link: LinkId::Radio { radio: slot.radio, neighbour }, packet })
            }
            RadioOutput::NeighbourUp { neighbour, address, bandwidth_bps, airtime_cost } => {
                let cost = slot.cost.unwrap_or(airtime_cost);
                tracing::info!(link = %slot.name, number = neighbour, neighbour = %address, cost, "radio neighbour verified");
                let link = LinkId::Radio { radio: slot.radio, neighbour };
                Some(RadioNote::NeighbourUp { link, neighbour: address, cost, bandwidth_bps })
            }
            RadioOutput::NeighbourDown { neighbour, address } => {
                tracing::info!(link = %slot.name, number = neighbour, neighbour = %address, "radio neighbour gone quiet");
                Some(RadioNote::NeighbourDown { link: LinkId::Radio { radio: slot.radio, neighbour } })
            }
            RadioOutput::Log(level, message) => {
                let driver = slot.driver.instance().manifest().name.as_str();
                crate::plugin::log::emit(driver, Some(&slot.name), level, &message);
                None
            }
            RadioOutput::Metric(metric) => {
                if let Err(why) = slot.metrics.record(&metric) {
                    tracing::debug!(link = %slot.name, "driver metric refused: {why}");
                }
                None
            }
            RadioOutput::CommandReply(reply) => Some(RadioNote::CommandReply { index, reply }),
            RadioOutput::SwapReady => {
                let result = self.swap_now(index, now, &mut out);
                Some(RadioNote::SwapFinished { index, result })
            }
        };
        more.extend(work(index, out));
        note
    }

    /// The old driver has nothing outstanding: the supervisor hands its
    /// state to the new one (or, if the new one fails, starts the old code
    /// again with the same state).
    fn swap_now(&mut self, index: usize, now: Micros, out: &mut Vec<RadioOutput>) -> Result<SwapReport, String> {
        let services = self.services.clone();
        let slot = &mut self.slots[index];
        let Some(pending) = slot.pending.take() else { return Err("no swap was pending".into()) };
        let Driver(mut prepared) = pending.driver;
        let file = prepared.spec().file.clone();
        // The link's current settings (a config reload may have changed them).
        prepared.set_config(slot.driver.spec().config_cbor.clone());
        let mut actions = Vec::new();
        let swapped = slot.driver.swap(prepared, SWAP_HOOK_DEADLINE, &services, &mut actions);
        let result = match swapped {
            Ok(swapped) => {
                let report = SwapReport {
                    link: slot.name.clone(),
                    from: swapped.from,
                    to: swapped.to,
                    state_bytes: swapped.state_bytes,
                };
                tracing::info!(link = %slot.name, from = %report.from, to = %report.to, "driver swapped");
                slot.link.driver_replaced(false);
                Ok(report)
            }
            Err(refused) => {
                slot.link.driver_replaced(true);
                let why = format!("new driver {}: {}", file.display(), refused.why);
                if refused.rolled_back {
                    tracing::warn!(link = %slot.name, "driver swap rolled back: {why}");
                }
                Err(why)
            }
        };
        slot.link.driver_actions(actions, now, out);
        slot.tell_driver_the_port_is_open("driver swapped", out);
        result
    }

    /// Rows for `weft ctl links`.
    pub fn rows(&mut self, now: Micros) -> Vec<RadioRow> {
        self.slots
            .iter_mut()
            .map(|slot| RadioRow {
                name: slot.name.clone(),
                device: slot.device.display().to_string(),
                driver: slot.driver.label(),
                driver_file: slot.driver.file().display().to_string(),
                driver_failure: match slot.driver.state() {
                    crate::control::PluginState::Running => None,
                    _ => slot.driver.last_fault().map(String::from),
                },
                driver_restarts: slot.driver.restarts(),
                status: slot.link.status(now),
                driver_metrics: slot.metrics.clone(),
            })
            .collect()
    }

    /// Runs every driver's shutdown hook (the node is stopping) and writes
    /// their last serial bytes.
    pub fn shutdown_all(&mut self, deadline: Duration) {
        for slot in &mut self.slots {
            match slot.driver.stop(ShutdownReason::Node, deadline) {
                Ok((_, actions)) => {
                    for action in actions {
                        if let Action::SerialWrite(write) = action {
                            slot.serial.write(write.bytes);
                        }
                    }
                }
                Err(e) => tracing::warn!(link = %slot.name, "driver shutdown hook failed: {e}"),
            }
        }
    }
}
