//! The `weft` command line.
//!
//! Owns: argument parsing (clap) and turning results into text or JSON and an
//! exit code. Each subcommand lives in its own file and only calls into the
//! library; no runtime logic lives here.

mod config_check;
mod ctl;
mod keygen;
mod new;
mod plugin_inspect;
mod run;
mod sim;

use crate::control::{Lifecycle, Query, Request, Traffic};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Weft: a mesh router whose services and radio drivers are plugins.
#[derive(Debug, Parser)]
#[command(name = "weft", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a node key (Ed25519) and print the node's address.
    Keygen {
        /// Where to write the key (created with mode 0600).
        #[arg(long)]
        out: PathBuf,
        /// Replace an existing key file (the node's address changes).
        #[arg(long)]
        force: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Work with node configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Run a node.
    Run {
        /// The node's config file.
        #[arg(long)]
        config: PathBuf,
        /// Log line format on stderr.
        #[arg(long, value_enum, default_value = "text")]
        log_format: run::LogFormat,
    },
    /// Control a running node through its admin socket.
    Ctl {
        /// The node's config file (its `admin.socket` is used). Given before
        /// the command (`weft ctl --config node.toml status`): after it,
        /// `--config` belongs to the command (`plugin load FILE --config JSON`).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The admin socket path (instead of --config).
        #[arg(long, global = true)]
        socket: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: CtlCommand,
    },
    /// Work with plugin files.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Create a plugin crate of its own: `weft new service NAME` or
    /// `weft new driver NAME`; it builds to wasm and native from one source.
    New {
        /// What kind of plugin.
        #[arg(value_enum)]
        kind: new::Kind,
        /// The plugin's (and crate's) name: lowercase letters, digits, `-`, `_`.
        name: String,
        /// Where to create it (default: ./NAME); must not exist or be empty.
        #[arg(long)]
        path: Option<PathBuf>,
        /// The weft-plugin-api directory to depend on (default: the source
        /// tree this `weft` was built from, or WEFT_PLUGIN_API).
        #[arg(long)]
        api: Option<PathBuf>,
    },
    /// Simulate a mesh of router cores in one process (virtual time) and
    /// report convergence, announce traffic and speed.
    Sim(sim::SimArgs),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate a config file without starting the node.
    Check {
        /// The config file.
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum CtlCommand {
    /// Address, uptime, links and plugins.
    Status,
    /// Neighbours: links, round-trip times, counters, reflexive address, dial errors.
    Peers,
    /// The routing table: every reachable node, its next hop and distance.
    Routes,
    /// Show the path to a node hop by hop (asks the mesh for a path if none is known).
    Trace {
        /// The node's address.
        to: String,
        /// How long to wait, in milliseconds.
        #[arg(long, default_value_t = 10_000)]
        timeout_ms: u64,
    },
    /// Send a text message to a service port on any node (as the node, not a
    /// plugin). Several texts are sent in order in one request.
    Send {
        /// Destination node address.
        to: String,
        /// Destination service port.
        port: u16,
        /// Payload text; give several to send several messages.
        #[arg(required = true, num_args = 1..)]
        texts: Vec<String>,
    },
    /// Invoke a plugin command, e.g. `call echo ping '{"to": "ADDRESS", "text": "hi"}'`;
    /// `@FILE` passes the contents of FILE as the arguments.
    Call {
        /// Plugin name.
        plugin: String,
        /// Command name (see `weft ctl status`).
        command: String,
        /// Arguments as JSON.
        args: Option<String>,
        /// How long to wait for the plugin's answer, in milliseconds.
        #[arg(long, default_value_t = 10_000)]
        timeout_ms: u64,
    },
    /// Radio links: driver, modem state, neighbour, airtime and duty-cycle budget.
    Links,
    /// Loaded plugins: version, binding (native is trusted code), state, restarts, events/s, memory.
    Plugins,
    /// Load, unload, reload (hot swap with state handoff) or stop a plugin.
    #[command(subcommand)]
    Plugin(PluginCtl),
    /// Stop the node gracefully: plugins' shutdown hooks run, state is persisted, links close.
    Drain,
    /// Re-read the config file and apply the plugin changes (as SIGHUP does).
    Reload,
    /// Print the Prometheus metrics (what `[metrics] listen` serves at /metrics).
    Metrics,
    /// Act on one radio link.
    #[command(subcommand)]
    Link(LinkCommand),
}

#[derive(Debug, Subcommand)]
enum PluginCtl {
    /// Load a plugin file into the running node.
    Load {
        /// The plugin file (.wasm, or .so: trusted native code).
        file: PathBuf,
        /// Its config as JSON (what `[plugins.config]` would hold).
        #[arg(long)]
        config: Option<String>,
        /// The instance name on this node (default: the manifest's name).
        #[arg(long)]
        name: Option<String>,
        /// A permission to grant (repeat for several): send, flood, storage, ...
        #[arg(long = "permission")]
        permissions: Vec<String>,
    },
    /// Run a plugin's shutdown hook, persist its state and remove it.
    Unload {
        /// Plugin name.
        name: String,
    },
    /// Hot-swap a plugin to a new build (default: its file again), handing over its state.
    Reload {
        /// Plugin name.
        name: String,
        /// The new plugin file.
        file: Option<PathBuf>,
    },
    /// Run a plugin's shutdown hook and persist its state; it stays listed, stopped.
    Stop {
        /// Plugin name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum LinkCommand {
    /// Replace a radio link's driver while the node runs: the serial port
    /// and queued frames stay; a driver that fails to start is rolled back.
    SwapDriver {
        /// Radio link name (see `weft ctl links`).
        link: String,
        /// The new driver plugin file.
        file: PathBuf,
    },
    /// Invoke a command of the link's driver, e.g. `status`.
    Call {
        /// Radio link name.
        link: String,
        /// Command name.
        command: String,
        /// Arguments as JSON.
        args: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Build a plugin crate (one made by `weft new`, say) to wasm and native,
    /// installing a wasm toolchain if one is missing (as `cargo xtask plugins`
    /// does); the artifacts go to DIR/target/weft/.
    Build {
        /// The crate's directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Cargo's target directory (default: DIR/target).
        #[arg(long)]
        target_dir: Option<PathBuf>,
        /// Where to put the two artifacts (default: DIR/target/weft).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Cargo profile (`dev` builds faster, runs slower).
        #[arg(long, default_value = "release")]
        profile: String,
    },
    /// Sign a plugin file: writes `<PLUGIN>.sig` (detached Ed25519 signature)
    /// and prints the publisher key to list under `[trust] publishers`.
    Sign {
        /// The publisher's key file (made by `weft keygen`).
        #[arg(long)]
        key: PathBuf,
        /// The plugin file.
        plugin: PathBuf,
    },
    /// Show a plugin's manifest, binding, ABI version and permissions
    /// (wasm plugins are not run; native plugins are loaded, as trusted code).
    Inspect {
        /// The plugin file (.wasm, or .so/.dylib/.dll).
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Load a native library to read its manifest (runs its code).
        #[arg(long)]
        trust: bool,
    },
}

/// Parses the process arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen { out, force, json } => keygen::run(&out, force, json),
        Command::Config(ConfigCommand::Check { file, json }) => config_check::run(&file, json),
        Command::Run { config, log_format } => run::run(&config, log_format),
        Command::Ctl { config, socket, json, command } => {
            let socket = match ctl::socket_path(socket, config.as_deref()) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("weft: error: {e}");
                    return ExitCode::from(2);
                }
            };
            let request: Request = match command {
                CtlCommand::Status => Query::Status.into(),
                CtlCommand::Peers => Query::Peers.into(),
                CtlCommand::Send { to, port, mut texts } => match to.parse() {
                    Ok(to) if texts.len() == 1 => Traffic::Send { to, port, payload: texts.remove(0) }.into(),
                    Ok(to) => Traffic::SendMany { to, port, payloads: texts }.into(),
                    Err(e) => {
                        eprintln!("weft: error: {to:?}: {e}");
                        return ExitCode::from(2);
                    }
                },
                CtlCommand::Routes => Query::Routes.into(),
                CtlCommand::Trace { to, timeout_ms } => match to.parse() {
                    Ok(to) => Traffic::Trace { to, timeout_ms: Some(timeout_ms) }.into(),
                    Err(e) => {
                        eprintln!("weft: error: {to:?}: {e}");
                        return ExitCode::from(2);
                    }
                },
                CtlCommand::Call { plugin, command, args, timeout_ms } => match arguments(args) {
                    Ok(args) => Traffic::Call { plugin, command, args, timeout_ms: Some(timeout_ms) }.into(),
                    Err(e) => {
                        eprintln!("weft: error: {e}");
                        return ExitCode::from(2);
                    }
                },
                CtlCommand::Links => Query::Links.into(),
                CtlCommand::Plugins => Query::Plugins.into(),
                CtlCommand::Plugin(PluginCtl::Load { file, config, name, permissions }) => {
                    let file = std::path::absolute(&file).unwrap_or(file);
                    Lifecycle::PluginLoad {
                        file: file.display().to_string(),
                        name,
                        config: config.unwrap_or_default(),
                        permissions,
                    }
                    .into()
                }
                CtlCommand::Plugin(PluginCtl::Unload { name }) => Lifecycle::PluginUnload { name }.into(),
                CtlCommand::Plugin(PluginCtl::Reload { name, file }) => Lifecycle::PluginReload {
                    name,
                    file: file.map(|f| std::path::absolute(&f).unwrap_or(f).display().to_string()),
                }
                .into(),
                CtlCommand::Plugin(PluginCtl::Stop { name }) => Lifecycle::PluginStop { name }.into(),
                CtlCommand::Drain => Lifecycle::Drain.into(),
                CtlCommand::Reload => Lifecycle::Reload.into(),
                CtlCommand::Metrics => Query::Metrics.into(),
                CtlCommand::Link(LinkCommand::SwapDriver { link, file }) => {
                    // The node resolves relative paths against its own directory; send an absolute one.
                    let file = std::path::absolute(&file).unwrap_or(file);
                    Lifecycle::SwapDriver { link, file: file.display().to_string() }.into()
                }
                CtlCommand::Link(LinkCommand::Call { link, command, args }) => match arguments(args) {
                    Ok(args) => Traffic::LinkCall { link, command, args }.into(),
                    Err(e) => {
                        eprintln!("weft: error: {e}");
                        return ExitCode::from(2);
                    }
                },
            };
            return ctl::run(&socket, request, json);
        }
        Command::New { kind, name, path, api } => new::run(kind, &name, path.as_deref(), api.as_deref()),
        Command::Plugin(PluginCommand::Build { dir, target_dir, out, profile }) => {
            new::build(&dir, target_dir.as_deref(), out.as_deref(), &profile)
        }
        Command::Plugin(PluginCommand::Inspect { file, json, trust }) => plugin_inspect::run(&file, json, trust),
        Command::Plugin(PluginCommand::Sign { key, plugin }) => sign_plugin(&key, &plugin),
        Command::Sim(args) => sim::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("weft: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `weft plugin sign --key FILE PLUGIN`.
fn sign_plugin(key: &std::path::Path, plugin: &std::path::Path) -> Result<(), String> {
    let identity = crate::key_file::read(key).map_err(|e| e.to_string())?;
    let path = crate::plugin::signature::sign_file(&identity, plugin).map_err(|e| e.to_string())?;
    println!("signed {} -> {}", plugin.display(), path.display());
    println!("publisher {}", weft_plugin_api::hex::encode_lower(identity.public_key().as_bytes()));
    Ok(())
}

/// A command's arguments: as given, or the contents of FILE for `@FILE`.
fn arguments(args: Option<String>) -> Result<String, String> {
    match args {
        Some(text) => match text.strip_prefix('@') {
            Some(file) => std::fs::read_to_string(file).map_err(|e| format!("arguments from {file}: {e}")),
            None => Ok(text),
        },
        None => Ok(String::new()),
    }
}
