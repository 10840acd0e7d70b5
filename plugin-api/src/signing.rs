//! What the host signs when a plugin asks it to sign: part of the contract,
//! so a plugin (or a test host) can build and check the same bytes.
//!
//! Owns: [`PLUGIN_SIGNING_CONTEXT`] and [`plugin_signing_input`]. The node
//! key signs these bytes (`Ctx::sign`); `Ctx::verify` checks them.

/// Prefix of every message a plugin signs through the host. The node key also
/// signs TLS handshakes; a TLS 1.3 signed message starts with 64 spaces, so a
/// plugin-signed message can never be one (and the reverse), which keeps a
/// plugin with `sign` from impersonating its node to other nodes.
pub const PLUGIN_SIGNING_CONTEXT: &[u8] = b"weft plugin signature v2\0";

/// What the node key signs for plugin `plugin`: the context, the plugin's
/// name and a NUL, then the message. The name separates plugins' domains: a
/// signature one plugin obtains verifies only in a plugin of the same name
/// (on any node), so a plugin granted `sign` cannot forge another's signed
/// objects (FAPP announces, say). Plugin names never contain NUL.
pub fn plugin_signing_input(plugin: &str, message: &[u8]) -> Vec<u8> {
    let mut input = Vec::with_capacity(PLUGIN_SIGNING_CONTEXT.len() + plugin.len() + 1 + message.len());
    input.extend_from_slice(PLUGIN_SIGNING_CONTEXT);
    input.extend_from_slice(plugin.as_bytes());
    input.push(0);
    input.extend_from_slice(message);
    input
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_input_is_context_name_nul_message() {
        assert_eq!(plugin_signing_input("fapp", b"m"), b"weft plugin signature v2\0fapp\0m".to_vec());
    }
}
