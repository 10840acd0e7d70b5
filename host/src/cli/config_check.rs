//! `weft config check FILE`: validate a config without starting anything.
//!
//! It runs the same checks `weft run` makes before it creates anything
//! ([`crate::node::preflight`]), so what it calls valid starts, and what it
//! refuses, `weft run` refuses with the same message.

use crate::config;
use std::path::Path;

/// Validates the file; prints a summary.
pub fn run(file: &Path, json: bool) -> Result<(), String> {
    let config = config::load(file).map_err(|e| e.to_string())?;
    let address = crate::node::preflight::preflight(&config).map_err(|e| e.to_string())?.address();
    if json {
        let plugins: Vec<String> = config.plugins.iter().map(|p| p.file.display().to_string()).collect();
        println!(
            "{}",
            serde_json::json!({
                "file": file, "valid": true, "name": config.name, "address": address.to_string(),
                "listen": config.quic.listen.to_string(), "peers": config.peers.len(), "plugins": plugins,
                "admin_socket": config.admin_socket,
            })
        );
    } else {
        println!("{}: valid", file.display());
        println!("  node     {} ({address})", config.name);
        println!("  listen   {}", config.quic.listen);
        println!("  peers    {}", config.peers.len());
        println!("  plugins  {}", config.plugins.len());
        println!("  admin    {}", config.admin_socket.display());
    }
    Ok(())
}
