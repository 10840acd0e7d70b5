//! Which plugin: the id the node core and the runtime share for a loaded
//! service plugin.
//!
//! Owns: [`PluginId`], the plugin's slot in the runtime's plugin list. A
//! slot an unloaded plugin freed may go to a plugin loaded later; the core
//! forgets a plugin's ports and replies when it is detached, so nothing
//! meant for the old one reaches the new.

use std::fmt;

/// A loaded service plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PluginId(usize);

impl PluginId {
    /// The plugin in slot `index` of the runtime's list.
    pub const fn from_index(index: usize) -> Self {
        PluginId(index)
    }

    /// Its slot in the runtime's list.
    pub const fn index(self) -> usize {
        self.0
    }
}

impl fmt::Display for PluginId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "plugin#{}", self.0)
    }
}
