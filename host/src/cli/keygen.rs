//! `weft keygen --out FILE [--force]`: create a node key.

use crate::key_file;
use std::path::Path;

/// Creates the key and prints the node's address.
pub fn run(out: &Path, force: bool, json: bool) -> Result<(), String> {
    let identity = key_file::create(out, force).map_err(|e| e.to_string())?;
    if json {
        println!("{}", serde_json::json!({ "file": out, "address": identity.address().to_string() }));
    } else {
        println!("wrote {} (mode 0600)", out.display());
        println!("address {}", identity.address());
    }
    Ok(())
}
