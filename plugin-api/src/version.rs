//! ABI version numbers and the compatibility rule between a host and a plugin.
//!
//! Owns: [`AbiVersion`], the version this crate implements ([`ABI_VERSION`]) and
//! [`AbiVersion::check_plugin`]. Must not know anything about loading plugins.

use core::fmt;
use serde::{Deserialize, Serialize};

/// A ServiceRouter ABI version: `major.minor`.
///
/// A major bump breaks compatibility; a minor bump only adds events, actions
/// or host calls and never changes existing ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AbiVersion {
    /// Breaking-change counter.
    pub major: u16,
    /// Additive-change counter within one major.
    pub minor: u16,
}

/// The ABI version implemented by this build of `weft-plugin-api`.
///
/// A plugin records it in its manifest at compile time; the host compares the
/// plugin's version with its own using [`AbiVersion::check_plugin`].
pub const ABI_VERSION: AbiVersion = AbiVersion { major: 1, minor: 4 };

/// Since 1.2 a wasm guest frees its input buffer on `weft_alloc(0)`. The host
/// relies on that to pre-fault a new instance's memory before a hot swap's
/// `init`, and does so only for plugins of this minor or later: an older
/// guest keeps what was pre-faulted as its input buffer, so its memory would
/// grow with every reload (docs/ABI.md §6).
pub const ALLOC_ZERO_RELEASES_SINCE: AbiVersion = AbiVersion { major: 1, minor: 2 };

/// Why a plugin's ABI version cannot be served by a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbiMismatch {
    /// The majors differ: the contract itself is different.
    Major,
    /// Same major, but the plugin was built against a newer minor than the host
    /// offers, so it may use events, actions or host calls the host lacks.
    NewerMinor,
}

impl AbiVersion {
    /// Creates a version.
    pub const fn new(major: u16, minor: u16) -> Self {
        Self { major, minor }
    }

    /// Checks whether a host implementing `self` can run a plugin built against
    /// `plugin`: same major, and plugin minor <= host minor.
    pub fn check_plugin(self, plugin: AbiVersion) -> Result<(), AbiMismatch> {
        if plugin.major != self.major {
            Err(AbiMismatch::Major)
        } else if plugin.minor > self.minor {
            Err(AbiMismatch::NewerMinor)
        } else {
            Ok(())
        }
    }
}

impl AbiVersion {
    /// Whether a plugin built against `self` has what came with `since`:
    /// same major, and a minor at least `since`'s. The host asks this before
    /// relying on anything added in a later minor (docs/ABI.md §9).
    pub fn includes(self, since: AbiVersion) -> bool {
        self.major == since.major && self.minor >= since.minor
    }
}

impl fmt::Display for AbiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_major_older_or_equal_minor_is_accepted() {
        let host = AbiVersion::new(1, 3);
        assert_eq!(host.check_plugin(AbiVersion::new(1, 0)), Ok(()));
        assert_eq!(host.check_plugin(AbiVersion::new(1, 3)), Ok(()));
    }

    #[test]
    fn newer_minor_and_other_major_are_refused() {
        let host = AbiVersion::new(1, 3);
        assert_eq!(host.check_plugin(AbiVersion::new(1, 4)), Err(AbiMismatch::NewerMinor));
        assert_eq!(host.check_plugin(AbiVersion::new(2, 0)), Err(AbiMismatch::Major));
        assert_eq!(host.check_plugin(AbiVersion::new(0, 9)), Err(AbiMismatch::Major));
    }

    #[test]
    fn includes_what_came_with_its_own_or_an_earlier_minor_of_its_major() {
        let since = AbiVersion::new(1, 2);
        assert!(AbiVersion::new(1, 2).includes(since));
        assert!(AbiVersion::new(1, 5).includes(since));
        assert!(!AbiVersion::new(1, 1).includes(since));
        assert!(!AbiVersion::new(2, 3).includes(since));
    }

    #[test]
    fn displays_as_major_dot_minor() {
        assert_eq!(AbiVersion::new(1, 12).to_string(), "1.12");
    }
}
