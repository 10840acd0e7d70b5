//! `weft ctl`: talk to a running node over its admin socket.
//!
//! Exit codes: 0 success; 1 the node or plugin answered with an error;
//! 2 the node could not be reached.

use crate::admin::client;
use crate::config;
use crate::control::{
    CallOutcome, Lifecycle, PeerRow, PluginRow, Query, Request, Response, SendManyOutcome, SendOutcome, Status,
    TraceReport, Traffic,
};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use weft_core::routing::RouteRow;

/// Where the node listens.
pub fn socket_path(socket: Option<PathBuf>, config_file: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(socket) = socket {
        return Ok(socket);
    }
    if let Some(file) = config_file {
        return config::load(file).map(|c| c.admin_socket).map_err(|e| e.to_string());
    }
    if let Some(env) = std::env::var_os("WEFT_ADMIN_SOCKET") {
        return Ok(PathBuf::from(env));
    }
    Err("say which node: --config FILE or --socket PATH (or set WEFT_ADMIN_SOCKET)".into())
}

/// Sends `request` and prints the answer as text or JSON.
pub fn run(socket: &Path, request: Request, json: bool) -> ExitCode {
    // A little longer than the node's own limit, so its answer (even "no
    // answer within ...") arrives before the client gives up.
    let wait = request.timeout() + Duration::from_secs(1);
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return fail(2, &format!("cannot start the async runtime: {e}")),
    };
    let response = match runtime.block_on(client::request(socket, &request, wait)) {
        Ok(r) => r,
        Err(e) => return fail(2, &e.to_string()),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&response).unwrap_or_default());
        return if succeeded(&request, &response) { ExitCode::SUCCESS } else { ExitCode::from(1) };
    }
    match render(&request, &response) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(1, &e),
    }
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("weft: error: {message}");
    ExitCode::from(code)
}

/// Whether `--json` exits 0: the request succeeded, a plugin command said
/// ok, and a `send_many` sent everything.
fn succeeded(request: &Request, response: &Response) -> bool {
    let result = response.result.as_ref();
    let field = |name: &str| result.and_then(|r| r.get(name));
    let complete = match request {
        Request::Traffic(Traffic::Call { .. }) | Request::Traffic(Traffic::LinkCall { .. }) => {
            field("ok").and_then(|v| v.as_bool()).unwrap_or(true)
        }
        Request::Traffic(Traffic::SendMany { .. }) => field("stopped").is_none_or(|v| v.is_null()),
        _ => true,
    };
    response.ok && complete
}

fn render(request: &Request, response: &Response) -> Result<String, String> {
    if !response.ok {
        return Err(response.error.clone().unwrap_or_else(|| "the node reported an error".into()));
    }
    let result = response.result.clone().unwrap_or_default();
    let parse_error = |e: serde_json::Error| format!("unexpected answer from the node: {e}");
    match request {
        Request::Query(Query::Status) => Ok(render_status(&serde_json::from_value(result).map_err(parse_error)?)),
        Request::Query(Query::Peers) => {
            Ok(render_peers(&serde_json::from_value::<Vec<PeerRow>>(result).map_err(parse_error)?))
        }
        Request::Traffic(Traffic::Send { .. }) => {
            let outcome: SendOutcome = serde_json::from_value(result).map_err(parse_error)?;
            Ok(match outcome {
                SendOutcome::Sent => "sent\n".to_string(),
                SendOutcome::Delivered => "delivered on this node\n".to_string(),
                SendOutcome::Held => "held: no path yet; it goes out when one appears\n".to_string(),
                SendOutcome::Lost => "lost: nothing can be sealed to the destination's key\n".to_string(),
                SendOutcome::Congested => {
                    "not sent: the session to the destination is congested; send again\n".to_string()
                }
            })
        }
        Request::Traffic(Traffic::SendMany { payloads, .. }) => {
            let outcome: SendManyOutcome = serde_json::from_value(result).map_err(parse_error)?;
            match outcome.stopped {
                None => Ok(format!("accepted {} of {}\n", outcome.accepted, payloads.len())),
                Some(why) => Err(format!("accepted {} of {}, then: {why}", outcome.accepted, payloads.len())),
            }
        }
        Request::Query(Query::Routes) => {
            Ok(render_routes(&serde_json::from_value::<Vec<RouteRow>>(result).map_err(parse_error)?))
        }
        Request::Traffic(Traffic::Trace { .. }) => {
            Ok(render_trace(&serde_json::from_value(result).map_err(parse_error)?))
        }
        Request::Traffic(Traffic::Call { .. }) | Request::Traffic(Traffic::LinkCall { .. }) => {
            let outcome: CallOutcome = serde_json::from_value(result).map_err(parse_error)?;
            if outcome.ok { Ok(format!("{}\n", outcome.body)) } else { Err(outcome.body) }
        }
        Request::Query(Query::Links) => Ok(render_links(&result)),
        Request::Query(Query::Plugins) => {
            Ok(render_plugins(&serde_json::from_value::<Vec<PluginRow>>(result).map_err(parse_error)?))
        }
        Request::Lifecycle(Lifecycle::PluginLoad { .. }) => {
            Ok(format!("loaded {} (ports {})\n", text(&result["plugin"]), result["ports"]))
        }
        Request::Lifecycle(Lifecycle::PluginUnload { name }) => {
            Ok(format!("{name}: shutdown hook ran, state persisted, unloaded\n"))
        }
        Request::Lifecycle(Lifecycle::PluginStop { name }) => {
            Ok(format!("{name}: shutdown hook ran, state persisted, stopped\n"))
        }
        Request::Lifecycle(Lifecycle::PluginReload { .. }) => Ok(format!(
            "reloaded {} {} -> {} ({} bytes of state handed over, paused {} µs)\n",
            text(&result["plugin"]),
            text(&result["from"]),
            text(&result["to"]),
            result["state_bytes"],
            result["pause_us"]
        )),
        Request::Lifecycle(Lifecycle::Drain) => Ok(format!("{}\n", text(&result))),
        Request::Query(Query::Metrics) => Ok(text(&result)),
        Request::Lifecycle(Lifecycle::Reload) => {
            let list = |key: &str| {
                let names: Vec<String> = result[key].as_array().into_iter().flatten().map(text).collect();
                if names.is_empty() { "none".to_string() } else { names.join(", ") }
            };
            let mut out = format!(
                "config reloaded: added {}; removed {}; reloaded {}; {} unchanged\n",
                list("added"),
                list("removed"),
                list("reloaded"),
                result["unchanged"]
            );
            if result["not_applied"].as_array().is_some_and(|a| !a.is_empty()) {
                out.push_str(&format!("changed but applied only at the next start: {}\n", list("not_applied")));
            }
            Ok(out)
        }
        Request::Lifecycle(Lifecycle::SwapDriver { .. }) => Ok(format!(
            "link {}: driver swapped from {} to {} ({} bytes of state handed over)\n",
            text(&result["link"]),
            text(&result["from"]),
            text(&result["to"]),
            result["state_bytes"]
        )),
    }
}

fn text(value: &serde_json::Value) -> String {
    value.as_str().map_or_else(|| value.to_string(), str::to_string)
}

/// Text form of `plugins`.
pub fn render_plugins(rows: &[PluginRow]) -> String {
    if rows.is_empty() {
        return "no plugins loaded\n".into();
    }
    let mut out = format!(
        "{:<12} {:<9} {:<17} {:<10} {:>8} {:>8} {:>9} {:>10}\n",
        "name", "version", "binding", "state", "restarts", "events", "events/s", "memory"
    );
    for p in rows {
        let state = p.state.label();
        let memory = p.memory_bytes.map_or("-".to_string(), |b| format!("{} KiB", b / 1024));
        out.push_str(&format!(
            "{:<12} {:<9} {:<17} {:<10} {:>8} {:>8} {:>9.1} {:>10}\n",
            p.name, p.version, p.binding, state, p.restarts, p.events, p.events_per_s, memory
        ));
        if p.state.detail().is_some() {
            out.push_str(&format!("    {}\n", p.state));
        } else if let Some(fault) = &p.last_fault {
            out.push_str(&format!("    last fault: {fault}\n"));
        }
    }
    out
}

/// The neighbours of one radio, a line each.
fn render_neighbours(neighbours: &serde_json::Value, out: &mut String) {
    let Some(list) = neighbours.as_array().filter(|l| !l.is_empty()) else {
        out.push_str("  neighbours none heard yet\n");
        return;
    };
    let up = list.iter().filter(|n| n["up"].as_bool() == Some(true)).count();
    out.push_str(&format!("  neighbours {up} up of {} heard\n", list.len()));
    for n in list {
        let signal = match (n["rssi_dbm"].as_i64(), n["snr_db"].as_f64()) {
            (Some(rssi), Some(snr)) => format!("{rssi} dBm, SNR {snr:.1} dB"),
            (Some(rssi), None) => format!("{rssi} dBm"),
            _ => "no signal report".into(),
        };
        out.push_str(&format!(
            "    #{} {} {}: {signal}, heard {:.1} s ago, {} frames in, {} out\n",
            n["number"],
            text(&n["address"]),
            if n["up"].as_bool() == Some(true) { "up" } else { "quiet" },
            n["last_heard_ms_ago"].as_f64().unwrap_or(0.0) / 1e3,
            n["frames_in"],
            n["frames_out"],
        ));
    }
}

/// Text form of `links` (rendered from JSON: the rows are the node's).
pub fn render_links(rows: &serde_json::Value) -> String {
    let Some(rows) = rows.as_array().filter(|r| !r.is_empty()) else { return "no radio links\n".into() };
    let mut out = String::new();
    for r in rows {
        let state = r["health"].as_str().unwrap_or("down");
        out.push_str(&format!(
            "{} on {}: {state} ({})\n",
            text(&r["name"]),
            text(&r["device"]),
            text(&r["driver_detail"])
        ));
        if state == "degraded" {
            out.push_str(&format!("  DEGRADED  {}\n", text(&r["health_detail"])));
        }
        out.push_str(&format!("  driver    {}\n", text(&r["driver"])));
        if let Some(failure) = r["driver_failure"].as_str() {
            out.push_str(&format!("  FAILED    {failure}\n"));
        }
        render_neighbours(&r["neighbours"], &mut out);
        let radio = &r["radio"];
        if radio.is_object() {
            out.push_str(&format!(
                "  radio     {:.3} MHz, {} kHz, SF{}, CR 4/{}, {} dBm, MTU {} B\n",
                radio["frequency_hz"].as_f64().unwrap_or(0.0) / 1e6,
                radio["bandwidth_hz"].as_u64().unwrap_or(0) / 1000,
                radio["spreading_factor"],
                radio["coding_rate"],
                radio["tx_power_dbm"],
                radio["mtu"]
            ));
        }
        let (used, budget) = (r["used_us"].as_f64().unwrap_or(0.0), r["budget_us"].as_f64().unwrap_or(1.0));
        out.push_str(&format!(
            "  airtime   {:.1} s used in the last hour of {:.1} s allowed ({:.2} %), sub-band {}\n",
            used / 1e6,
            budget / 1e6,
            100.0 * used / budget.max(1.0),
            r["band"].as_str().unwrap_or("none")
        ));
        let (tx, c) = (&r["tx"], &r["counters"]);
        out.push_str(&format!(
            "  frames    {} out, {} in; {} queued ({} B); {} held for budget; {} failed and requeued\n",
            c["frames_out"],
            c["frames_in"],
            r["queued_frames"],
            r["queued_bytes"],
            tx["held_for_budget"],
            c["tx_failed"]
        ));
        out.push_str(&format!(
            "  packets   {} out, {} in, {} refused; reassembly {} done, {} timed out\n",
            c["packets_out"],
            c["packets_in"],
            c["packets_refused"],
            r["reassembly"]["completed"],
            r["reassembly"]["timed_out"]
        ));
        let stall = r["last_swap_stall_us"].as_u64().map_or("none yet".to_string(), |us| format!("{us} µs"));
        out.push_str(&format!(
            "  swaps     {} done, {} rolled back; last stall (old driver stopped -> new one up) {stall}\n",
            c["swaps"], c["swaps_rolled_back"]
        ));
    }
    out
}

/// Text form of `status`.
pub fn render_status(s: &Status) -> String {
    let mut out = format!(
        "node     {} ({})\nuptime   {}s\nlisten   {}\nlinks    {} up, {} static peers configured\n",
        s.name, s.address, s.uptime_s, s.listen, s.links_up, s.peers_configured
    );
    out.push_str(&format!(
        "messages {} delivered, {} for unbound ports\nrouting  {} reachable nodes, {} forwarded, {} held for later\nplugins  {}\n",
        s.counters.delivered,
        s.counters.no_service,
        s.routes,
        s.routing.forwarded,
        s.held,
        s.plugins.len()
    ));
    for p in &s.plugins {
        let ports: Vec<String> = p.ports.iter().map(u16::to_string).collect();
        out.push_str(&format!(
            "  {:<12} {:<8} {:<17} ports {:<8} events {:<8} {}\n",
            p.name,
            p.version,
            p.binding,
            ports.join(","),
            p.events,
            p.state
        ));
        for c in &p.commands {
            out.push_str(&format!("      command {:<10} {}\n", c.name, c.help));
        }
    }
    out
}

/// Text form of `routes`.
pub fn render_routes(rows: &[RouteRow]) -> String {
    if rows.is_empty() {
        return "no routes\n".into();
    }
    let mut out =
        format!("{:<32}  {:>4}  {:<32}  {:>4}  {:>9}\n", "destination", "hops", "next hop", "cost", "expires");
    for r in rows {
        out.push_str(&format!(
            "{}  {:>4}  {}  {:>4}  {:>8}s\n",
            r.destination, r.hops, r.next_hop, r.cost, r.expires_in_s
        ));
    }
    out
}

/// Text form of `trace`, like `rnpath`: the route, then every hop.
pub fn render_trace(t: &TraceReport) -> String {
    let mut out = match &t.route {
        Some(r) => format!("path to {}: {} hop(s) via {}\n", t.destination, r.hops, r.next_hop),
        None => format!("path to {}\n", t.destination),
    };
    out.push_str("  0  this node\n");
    for (i, node) in t.path.iter().enumerate() {
        let role = if i + 1 == t.path.len() { "destination" } else { "relay" };
        out.push_str(&format!("{:>3}  {node}  {role}\n", i + 1));
    }
    out.push_str(&format!("round trip {:.2} ms\n", t.rtt_us as f64 / 1000.0));
    out
}

/// Text form of `peers`.
pub fn render_peers(rows: &[PeerRow]) -> String {
    if rows.is_empty() {
        return "no neighbours\n".into();
    }
    let mut out = String::new();
    for r in rows {
        out.push_str(&format!("{}  {}", r.node, r.state));
        if let Some(remote) = &r.remote {
            out.push_str(&format!("  {remote}"));
        }
        if let Some(direction) = r.direction {
            out.push_str(&format!(
                "  {}",
                serde_json::to_value(direction).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
            ));
        }
        if let Some(up) = r.up_s {
            out.push_str(&format!("  up {up}s"));
        }
        if let Some(rtt) = r.rtt_us {
            out.push_str(&format!("  rtt {:.2} ms", rtt as f64 / 1000.0));
        }
        if let Some(seen) = &r.seen_as {
            out.push_str(&format!("  sees us as {seen}"));
        }
        out.push('\n');
        if let Some(c) = &r.counters {
            out.push_str(&format!(
                "    frames in {} out {}  bytes in {} out {}  dropped: oversize {} undecodable {} congested {}\n",
                c.frames_in,
                c.frames_out,
                c.bytes_in,
                c.bytes_out,
                c.dropped_oversize,
                c.dropped_undecodable,
                c.dropped_congested
            ));
        }
        if let Some(e) = &r.last_error {
            out.push_str(&format!("    last error ({} failures): {e}\n", r.failures));
        }
    }
    out
}
