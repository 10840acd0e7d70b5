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

/// Why a plugin could not be signed, or its signature was refused.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// Signatures are required and the plugin's bytes are not accepted.
    #[error("{plugin}: refused, signatures are required: {why}")]
    Refused {
        /// The plugin file.
        plugin: PathBuf,
        /// Which of unsigned, malformed, untrusted or tampered.
        why: Refusal,
    },
}

/// Why a required signature was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// No readable `<plugin>.sig`.
    #[error("unsigned (no readable {path}: {source})")]
    Unsigned {
        /// Where the signature was looked for.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// The signature file does not have the expected lines.
    #[error("{0} is not a weft plugin signature")]
    NotASignature(PathBuf),
    /// The key or signature is not valid hex of the right length.
    #[error("{0} has a malformed key or signature")]
    Malformed(PathBuf),
    /// Signed by a key the node does not trust.
    #[error("signed by {0}, which is not a trusted publisher")]
    Untrusted(String),
    /// The signature does not verify over these bytes.
    #[error("tampered: the signature does not match the file")]
    Tampered,
}

fn digest_of(plugin: &Path) -> Result<[u8; 32], SignatureError> {
    let bytes = std::fs::read(plugin).map_err(|source| SignatureError::Io { path: plugin.to_path_buf(), source })?;
    Ok(Sha256::digest(&bytes).into())
}

/// Signs `plugin` with `key`, writing `<plugin>.sig`; returns its path.
pub fn sign_file(key: &NodeIdentity, plugin: &Path) -> Result<PathBuf, SignatureError> {
    let digest = digest_of(plugin)?;
    let signature = key.sign(&message(&digest));
    let text = format!(
        "{HEADER}\npublisher {}\nsha256 {}\nsignature {}\n",
        hex(key.public_key().as_bytes()),
        hex(&digest),
        hex(&signature.to_bytes())
    );
    let path = signature_path(plugin);
    std::fs::write(&path, text).map_err(|source| SignatureError::Io { path: path.clone(), source })?;
    Ok(path)
}

/// Accepts `bytes`, read from `plugin`, under `trust`: always when
/// signatures are not required, otherwise only with a valid signature by a
/// trusted publisher over these bytes. The error says which of unsigned,
/// tampered or untrusted it is.
pub fn check_bytes(trust: &TrustConfig, plugin: &Path, bytes: &[u8]) -> Result<(), SignatureError> {
    if !trust.require_signed {
        return Ok(());
    }
    let sig_path = signature_path(plugin);
    let refuse = |why: Refusal| Err(SignatureError::Refused { plugin: plugin.to_path_buf(), why });
    let text = match std::fs::read_to_string(&sig_path) {
        Ok(text) => text,
        Err(source) => return refuse(Refusal::Unsigned { path: sig_path, source }),
    };
    let mut lines = text.lines();
    let mut field = |name: &str| lines.next().and_then(|l| l.strip_prefix(name)).map(str::trim);
    let parsed = (field(HEADER), field("publisher "), field("sha256 "), field("signature "));
    let (Some(""), Some(publisher), Some(_), Some(signature)) = parsed else {
        return refuse(Refusal::NotASignature(sig_path));
    };
    let (Some(publisher), Some(signature)) = (unhex::<32>(publisher), unhex::<64>(signature)) else {
        return refuse(Refusal::Malformed(sig_path));
    };
    if !trust.publishers.contains(&publisher) {
        return refuse(Refusal::Untrusted(hex(&publisher)));
    }
    let digest: [u8; 32] = Sha256::digest(bytes).into();
    if !weft_core::crypto::verify(&publisher, &message(&digest), &signature) {
        return refuse(Refusal::Tampered);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file at `plugin`, read and checked.
    fn check(trust: &TrustConfig, plugin: &Path) -> Result<(), String> {
        check_bytes(trust, plugin, &std::fs::read(plugin).map_err(|e| e.to_string())?).map_err(|e| e.to_string())
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
