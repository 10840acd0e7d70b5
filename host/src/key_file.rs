//! The node key file: where a [`NodeIdentity`] lives on disk.
//!
//! Owns: the file format (a comment with the address, then the 32-byte
//! Ed25519 secret seed as 64 hex digits), creating it with mode 0600 and
//! refusing to overwrite, and reading it back with errors that name the file.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use weft_core::crypto::NodeIdentity;

/// A key file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file exists and `force` was not given.
    #[error("{0}: already exists; pass --force to replace it (the node's address would change)")]
    Exists(PathBuf),
    /// An I/O error on the file.
    #[error("{path}: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// Others may read or write the file: the key may be known to them.
    #[error(
        "{path}: mode {mode:o} lets others read or change the node's secret key; run `chmod 600 {path}` (and consider the key exposed)"
    )]
    NotPrivate {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file is not a Weft key file.
    #[error("{path}: not a Weft key file: {reason}")]
    Malformed {
        /// The key file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
}

const HEADER: &str = "# Weft node key: Ed25519 secret seed. Keep this file private.";

/// Creates a new random identity and writes it to `path` (mode 0600).
/// Refuses to replace an existing file unless `force` is set.
pub fn create(path: &Path, force: bool) -> Result<NodeIdentity, KeyFileError> {
    let identity = NodeIdentity::generate();
    write(path, &identity, force)?;
    Ok(identity)
}

/// Writes `identity` to `path` with mode 0600.
pub fn write(path: &Path, identity: &NodeIdentity, force: bool) -> Result<(), KeyFileError> {
    let io = |source| KeyFileError::Io { path: path.to_path_buf(), source };
    if path.exists() && !force {
        return Err(KeyFileError::Exists(path.to_path_buf()));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let mut options = OpenOptions::new();
    options.write(true).mode(0o600);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => KeyFileError::Exists(path.to_path_buf()),
        _ => io(e),
    })?;
    // A replaced file keeps its old mode; make sure it is private.
    file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    let text = format!("{HEADER}\n# address: {}\n{}\n", identity.address(), hex(&identity.secret_seed()));
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

/// Reads the identity stored in `path`. Like ssh, refuses a key file that
/// anyone but its owner may read or write.
pub fn read(path: &Path) -> Result<NodeIdentity, KeyFileError> {
    let io = |source| KeyFileError::Io { path: path.to_path_buf(), source };
    let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
    if crate::files::readable_by_others(mode) {
        return Err(KeyFileError::NotPrivate { path: path.to_path_buf(), mode });
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    let malformed = |reason: &str| KeyFileError::Malformed { path: path.to_path_buf(), reason: reason.to_string() };
    let mut seeds = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'));
    let seed = seeds.next().ok_or_else(|| malformed("no key line (expected 64 hexadecimal digits)"))?;
    if seeds.next().is_some() {
        return Err(malformed("more than one key line"));
    }
    let bytes = unhex::<32>(seed).ok_or_else(|| malformed("the key line is not 64 hexadecimal digits"))?;
    Ok(NodeIdentity::from_secret(bytes))
}

use weft_plugin_api::hex::{decode_array as unhex, encode_lower as hex};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_read_round_trip_with_private_mode_and_no_silent_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/node.key");
        let created = create(&path, false).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(read(&path).unwrap().address(), created.address());
        assert!(matches!(create(&path, false), Err(KeyFileError::Exists(_))));
        let replaced = create(&path, true).unwrap();
        assert_ne!(replaced.address(), created.address());
        assert_eq!(read(&path).unwrap().address(), replaced.address());
    }

    /// Finding 3 of issue 18: the key file's mode was not checked on read.
    #[test]
    fn a_key_file_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        create(&path, false).unwrap();
        for mode in [0o640, 0o604, 0o660, 0o666] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let Err(err) = read(&path) else { panic!("mode {mode:o} accepted") };
            assert!(matches!(err, KeyFileError::NotPrivate { .. }), "{mode:o}: {err}");
            assert!(err.to_string().contains("chmod 600"), "{err}");
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert!(read(&path).is_ok(), "owner read-only is fine");
    }

    #[test]
    fn malformed_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.key");
        std::fs::write(&path, "# comment only\n").unwrap();
        make_private(&path);
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("bad.key") && err.contains("no key line"), "{err}");
        std::fs::write(&path, "zz\n").unwrap();
        make_private(&path);
        assert!(read(&path).unwrap_err().to_string().contains("64 hexadecimal"));
        assert!(read(&dir.path().join("missing.key")).unwrap_err().to_string().contains("missing.key"));
    }

    fn make_private(path: &Path) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}
