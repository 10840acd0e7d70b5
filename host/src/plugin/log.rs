//! A plugin's log lines in the node's log, for services and drivers alike.
//!
//! Owns: mapping the ABI's [`LogLevel`] to `tracing` levels, and the fields
//! a line carries (`plugin`, and `link` for a radio driver). Must not:
//! filter or rate-limit (the gate counts actions; the subscriber filters).

use weft_plugin_api::LogLevel;

/// Logs `message` from plugin `plugin` (serving radio link `link`, for a
/// driver) at `level`.
pub fn emit(plugin: &str, link: Option<&str>, level: LogLevel, message: &str) {
    match level {
        LogLevel::Error => tracing::error!(plugin, link, "{message}"),
        LogLevel::Warn => tracing::warn!(plugin, link, "{message}"),
        LogLevel::Info => tracing::info!(plugin, link, "{message}"),
        LogLevel::Debug => tracing::debug!(plugin, link, "{message}"),
        LogLevel::Trace => tracing::trace!(plugin, link, "{message}"),
    }
}
