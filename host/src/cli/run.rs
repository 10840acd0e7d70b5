//! `weft run --config FILE [--log-format text|json]`: run a node until
//! SIGINT, SIGTERM or `weft ctl drain`; SIGHUP reloads the config.

use crate::config;
use crate::control::Lifecycle;
use crate::node;
use std::path::Path;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (fields, plugin and link names as keys).
    Json,
}

/// Starts the node and stops it cleanly on a signal.
pub fn run(file: &Path, log_format: LogFormat) -> Result<(), String> {
    init_logging(log_format);
    let config = config::load(file).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut node = node::start(config).await.map_err(|e| e.to_string())?;
        let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
        let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
        let mut hup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: reloading the config");
                    match node.handle.request(Lifecycle::Reload).await {
                        Ok(answer) => tracing::info!("config reload: {}", serde_json::to_value(&answer).unwrap_or_default()),
                        Err(error) => tracing::error!("config reload failed: {error}"),
                    }
                }
                _ = node.finished() => {
                    tracing::info!("drained");
                    return Ok(());
                }
            }
        }
        tracing::info!("stopping");
        node.stop().await;
        Ok(())
    })
}

/// Logs to stderr; `WEFT_LOG` sets the filter (default `info`).
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WEFT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).try_init(),
        LogFormat::Json => builder.json().with_current_span(false).flatten_event(true).try_init(),
    };
}
