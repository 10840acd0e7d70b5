//! The `weft` command line.
//!
//! Owns: argument parsing (clap) and turning results into text or JSON and an
//! exit code. Each subcommand lives in its own file and only calls into the
//! library; no runtime logic lives here.

mod plugin_inspect;

use clap::{Parser, Subcommand};
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
    /// Work with plugin files.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Show a plugin's manifest, binding, ABI version and permissions
    /// (wasm plugins are not run; native plugins are loaded, as trusted code).
    Inspect {
        /// The plugin file (.wasm, or .so/.dylib/.dll).
        file: std::path::PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Parses the process arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Plugin(PluginCommand::Inspect { file, json }) => plugin_inspect::run(&file, json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("weft: error: {message}");
            ExitCode::FAILURE
        }
    }
}
