//! Signed plugins: detached Ed25519 signatures next to the plugin file.
//!
//! Owns: writing `<plugin>.sig` ([`sign_file`]) and checking a plugin file
//! against the node's trusted publishers ([`check_bytes`], on the very
//! bytes that are then loaded). The signed message is
//! a fixed context, which no TLS handshake or plugin-requested signature can
//! start with, followed by the SHA-256 of the file, so a key used for both a
//! node and publishing cannot be tricked into signing one as the other.
//!
//! File format (text, one field per line):
//!
//! ```text
//! weft-plugin-signature v1
//! publisher <Ed25519 public key, 64 hex digits>
//! sha256 <digest of the plugin file, 64 hex digits>
//! signature <Ed25519 signature, 128 hex digits>
//! ```

use crate::config::TrustConfig;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use weft_core::crypto::NodeIdentity;
use weft_plugin_api::hex::{decode_array as unhex, encode_lower as hex};

const HEADER: &str = "weft-plugin-signature v1";
/// Prefix of every signed message (never the start of a TLS 1.3 signed
/// message, which begins with 64 spaces, nor of a plugin's own signatures).
const CONTEXT: &[u8] = b"weft plugin file v1\0";

/// Where the signature of `plugin` lives.
pub fn signature_path(plugin: &Path) -> PathBuf {
    let mut name = plugin.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

fn message(digest: &[u8; 32]) -> Vec<u8> {
    let mut m = CONTEXT.to_vec();
    m.extend_from_slice(digest);
    m
}

fn digest_of(plugin: &Path) -> Result<[u8; 32], String> {
    let bytes = std::fs::read(plugin).map_err(|e| format!("{}: {e}", plugin.display()))?;
    Ok(Sha256::digest(&bytes).into())
}

/// Signs `plugin` with `key`, writing `<plugin>.sig`; returns its path.
pub fn sign_file(key: &NodeIdentity, plugin: &Path) -> Result<PathBuf, String> {
    let digest = digest_of(plugin)?;
    let signature = key.sign(&message(&digest));
    let text = format!(
        "{HEADER}\npublisher {}\nsha256 {}\nsignature {}\n",
        hex(key.public_key().as_bytes()),
        hex(&digest),
        hex(&signature.to_bytes())
    );
    let path = signature_path(plugin);
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// Accepts `bytes`, read from `plugin`, under `trust`: always when
/// signatures are not required, otherwise only with a valid signature by a
/// trusted publisher over these bytes. The error says which of unsigned,
/// tampered or untrusted it is.
pub fn check_bytes(trust: &TrustConfig, plugin: &Path, bytes: &[u8]) -> Result<(), String> {
    if !trust.require_signed {
        return Ok(());
    }
    let sig_path = signature_path(plugin);
    let refuse = |why: String| Err(format!("{}: refused, signatures are required: {why}", plugin.display()));
    let text = match std::fs::read_to_string(&sig_path) {
        Ok(text) => text,
        Err(e) => return refuse(format!("unsigned (no readable {}: {e})", sig_path.display())),
    };
    let mut lines = text.lines();
    let mut field = |name: &str| lines.next().and_then(|l| l.strip_prefix(name)).map(str::trim);
    let parsed = (field(HEADER), field("publisher "), field("sha256 "), field("signature "));
    let (Some(""), Some(publisher), Some(_), Some(signature)) = parsed else {
        return refuse(format!("{} is not a weft plugin signature", sig_path.display()));
    };
    let (Some(publisher), Some(signature)) = (unhex::<32>(publisher), unhex::<64>(signature)) else {
        return refuse(format!("{} has a malformed key or signature", sig_path.display()));
    };
    if !trust.publishers.contains(&publisher) {
        return refuse(format!("signed by {}, which is not a trusted publisher", hex(&publisher)));
    }
    let digest: [u8; 32] = Sha256::digest(bytes).into();
    if !weft_core::crypto::verify(&publisher, &message(&digest), &signature) {
        return refuse("tampered: the signature does not match the file".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file at `plugin`, read and checked.
    fn check(trust: &TrustConfig, plugin: &Path) -> Result<(), String> {
        check_bytes(trust, plugin, &std::fs::read(plugin).map_err(|e| e.to_string())?)
    }

    fn trusting(key: &NodeIdentity) -> TrustConfig {
        TrustConfig { require_signed: true, publishers: vec![*key.public_key().as_bytes()] }
    }

    #[test]
    fn signed_unsigned_tampered_and_untrusted() {
        let dir = tempfile::tempdir().expect("dir");
        let plugin = dir.path().join("p.wasm");
        std::fs::write(&plugin, b"\0asm plugin bytes").expect("write");
        let publisher = NodeIdentity::generate();
        let trust = trusting(&publisher);

        let unsigned = check(&trust, &plugin).unwrap_err();
        assert!(unsigned.contains("unsigned"), "{unsigned}");

        sign_file(&publisher, &plugin).expect("sign");
        check(&trust, &plugin).expect("signed by a trusted publisher");
        assert!(check(&TrustConfig::default(), &plugin).is_ok(), "not required: accepted");

        let stranger = trusting(&NodeIdentity::generate());
        assert!(check(&stranger, &plugin).unwrap_err().contains("not a trusted publisher"));

        std::fs::write(&plugin, b"\0asm plugin bytes, changed").expect("write");
        let tampered = check(&trust, &plugin).unwrap_err();
        assert!(tampered.contains("tampered"), "{tampered}");

        std::fs::write(signature_path(&plugin), "garbage\n").expect("write");
        assert!(check(&trust, &plugin).unwrap_err().contains("not a weft plugin signature"));
    }
}
