//! Files the node writes are private: the data directory is 0700, every file
//! in it 0600, and the process umask is tightened around creating a file
//! whose first moment must not be readable by others (a socket, a database).
//!
//! Owns: [`PrivateUmask`], [`private_dir`] and [`make_private`]. Must not:
//! decide what goes where (the store, the admin server and the key file do).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// While alive, new files and sockets of this process are created without
/// group or other bits (umask 077); the old umask is restored on drop.
/// The umask is process-wide: hold it only around one creation.
pub struct PrivateUmask {
    old: libc::mode_t,
}

impl PrivateUmask {
    /// Sets umask 077.
    pub fn set() -> Self {
        // SAFETY: umask only swaps the process's file-mode creation mask; it
        // cannot fail and touches no memory.
        let old = unsafe { libc::umask(0o077) };
        PrivateUmask { old }
    }
}

impl Drop for PrivateUmask {
    fn drop(&mut self) {
        // SAFETY: as in `set`: restores the mask saved there.
        unsafe { libc::umask(self.old) };
    }
}

/// Creates `dir` (and its parents) if needed and makes it 0700.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    {
        let _private = PrivateUmask::set();
        std::fs::create_dir_all(dir)?;
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Makes an existing file 0600 (one created before this rule, or with a
/// looser umask).
pub fn make_private(file: &Path) -> std::io::Result<()> {
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))
}

/// Whether `mode` lets anyone but the owner read or write.
pub fn readable_by_others(mode: u32) -> bool {
    mode & 0o077 != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_dir_and_files_created_under_the_umask_are_owner_only() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data/inner");
        private_dir(&dir).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        let file = dir.join("f");
        {
            let _private = PrivateUmask::set();
            std::fs::write(&file, b"x").unwrap();
        }
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(readable_by_others(0o644) && readable_by_others(0o602) && !readable_by_others(0o600));
    }
}
