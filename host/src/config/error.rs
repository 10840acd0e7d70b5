//! [`ConfigError`]: one line naming the file, the key and what was expected.

use std::fmt;
use std::path::PathBuf;

/// A configuration problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// Line and column (1-based), when known.
    pub position: Option<(usize, usize)>,
    /// Dotted key path, e.g. `plugins[1].file` (empty for the whole file).
    pub key: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl ConfigError {
    /// An error about `key` in `file`.
    pub fn at(file: impl Into<PathBuf>, key: impl Into<String>, message: impl Into<String>) -> Self {
        Self { file: file.into(), position: None, key: key.into(), message: message.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, column)) = self.position {
            write!(f, ":{line}:{column}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": key `{}`", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}
