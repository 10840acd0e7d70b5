//! The node configuration: one TOML file per node.
//!
//! Owns: the file's schema ([`schema`]), reading and validating it into a
//! [`NodeConfig`] whose paths are absolute ([`load`]), and [`ConfigError`],
//! which always names the file, the key path and what was expected. The
//! reference for operators is `docs/configuration.md`.
//!
//! Must not: open sockets, load plugins or start anything; `weft config check`
//! runs exactly this module.

mod error;
mod load;
pub mod schema;

pub use error::ConfigError;
pub use load::{NodeConfig, PeerConfig, PluginConfig, RadioConfig, RestartPolicy, TrustConfig, load, parse};
