//! `presence`: who is around, the worked example of a flooding service
//! (docs/writing-a-service.md walks through it).
//!
//! Every `interval_s` the node floods a beacon (its name) to port 72 within
//! `hops`; every node that hears it notes the sender and when. A node not
//! heard for `expiry_s` is dropped. `weft ctl call presence who` lists who
//! is present; the gauge `present` counts them (`/metrics`:
//! `weft_plugin_reported{plugin="presence", metric="present"}`).

use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use weft_plugin_api::prelude::*;

/// The service port.
pub const PORT: u16 = 72;
const BEACON_TIMER: u64 = 1;
const EXPIRY_TIMER: u64 = 2;

/// `[plugins.config]`.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Config {
    name: String,
    interval_s: u64,
    expiry_s: u64,
    hops: u8,
}

impl Default for Config {
    fn default() -> Self {
        Config { name: "a node".into(), interval_s: 60, expiry_s: 180, hops: 4 }
    }
}

/// What a beacon carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Beacon {
    /// The sender's chosen name.
    pub name: String,
}

/// The service: who was heard, and when (ms).
pub struct Presence {
    config: Config,
    heard: BTreeMap<Address, (String, u64)>,
}

impl Service for Presence {
    const MANIFEST: ManifestDef = ManifestDef {
        name: "presence",
        version: env!("CARGO_PKG_VERSION"),
        description: "floods a beacon and lists the nodes heard recently",
        ports: &[PORT],
        permissions: &[Permission::Flood],
        commands: &[
            CommandDef { name: "who", help: "the nodes heard within expiry_s, as JSON" },
            CommandDef { name: "beacon", help: "flood this node's beacon now (as the timer does)" },
        ],
    };

    fn init(ctx: &mut ServiceCtx<'_>, init: InitArgs) -> Result<Self, String> {
        let config: Config = init.config_as().map_err(|e| format!("bad presence config: {e}"))?;
        if config.interval_s == 0 || config.expiry_s <= config.interval_s || config.hops == 0 {
            return Err("presence config: need interval_s >= 1, expiry_s > interval_s and hops >= 1".into());
        }
        // Heard nodes are not handed over: after a swap they are heard again within an interval.
        ctx.set_timer(BEACON_TIMER, 1_000);
        ctx.set_timer(EXPIRY_TIMER, config.expiry_s * 1_000);
        Ok(Presence { config, heard: BTreeMap::new() })
    }

    fn on_message(&mut self, ctx: &mut ServiceCtx<'_>, message: Message) {
        // Floods arrive once per node (duplicates are dropped by the host),
        // never back at their sender, with `from` as the sender wrote it.
        let (Some(from), Ok(beacon)) = (message.from, cbor::from_slice::<Beacon>(&message.payload)) else {
            return ctx.count("undecodable", 1.0);
        };
        self.heard.insert(from, (beacon.name, ctx.now_ms()));
        ctx.gauge("present", self.heard.len() as f64);
    }

    fn on_timer(&mut self, ctx: &mut ServiceCtx<'_>, id: u64) {
        match id {
            BEACON_TIMER => {
                self.beacon(ctx);
                ctx.set_timer(BEACON_TIMER, self.config.interval_s * 1_000);
            }
            EXPIRY_TIMER => {
                let cutoff = ctx.now_ms().saturating_sub(self.config.expiry_s * 1_000);
                self.heard.retain(|_, (_, at)| *at >= cutoff);
                ctx.gauge("present", self.heard.len() as f64);
                ctx.set_timer(EXPIRY_TIMER, self.config.interval_s * 1_000);
            }
            _ => {}
        }
    }

    fn on_command(&mut self, ctx: &mut ServiceCtx<'_>, command: Command) {
        if command.name == "beacon" {
            self.beacon(ctx);
            return ctx.command_reply(command.id, true, "beacon flooded".to_string());
        }
        if command.name != "who" {
            return ctx.command_reply(command.id, false, format!("unknown command {:?}", command.name));
        }
        let now = ctx.now_ms();
        let rows: Vec<_> = (self.heard.iter())
            .map(|(node, (name, at))| json!({ "node": node, "name": name, "seen_s_ago": now.saturating_sub(*at) / 1000 }))
            .collect();
        ctx.command_reply(command.id, true, json!(rows).to_string());
    }
}

impl Presence {
    /// Floods this node's beacon within `hops`.
    fn beacon(&self, ctx: &mut ServiceCtx<'_>) {
        let beacon = Beacon { name: self.config.name.clone() };
        ctx.flood(PORT, cbor::to_vec(&beacon).unwrap_or_default(), self.config.hops);
    }
}

export_service!(Presence);

#[cfg(test)]
mod tests;
