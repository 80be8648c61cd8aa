//! Where things come from: file positions carried by parsed data and by errors.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A position in a source file: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub(crate) struct Pos {
    pub line: u32,
    pub col: u32,
}

impl Pos {
    pub(crate) fn new(line: usize, col: usize) -> Pos {
        Pos {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            col: u32::try_from(col).unwrap_or(u32::MAX),
        }
    }
}

/// A file and a position in it; `Display` gives `file:line:col`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Origin {
    pub file: Arc<Path>,
    pub pos: Pos,
}

impl Origin {
    pub(crate) fn new(file: &Arc<Path>, pos: Pos) -> Origin {
        Origin {
            file: file.clone(),
            pos,
        }
    }

    /// An origin naming a whole file (no line known).
    pub(crate) fn file(path: impl Into<PathBuf>) -> Origin {
        Origin {
            file: Arc::from(path.into().as_path()),
            pos: Pos::default(),
        }
    }
}

/// The process's working directory, read once (tprov never changes it).
pub(crate) fn cwd() -> Option<&'static Path> {
    static CWD: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    CWD.get_or_init(|| std::env::current_dir().ok()).as_deref()
}

impl Origin {
    /// The file, relative to the current directory when it lies below it.
    pub(crate) fn display_path(&self) -> String {
        let rel = cwd().and_then(|c| self.file.strip_prefix(c).ok());
        rel.unwrap_or(&self.file).display().to_string()
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pos.line == 0 {
            write!(f, "{}", self.display_path())
        } else {
            write!(
                f,
                "{}:{}:{}",
                self.display_path(),
                self.pos.line,
                self.pos.col
            )
        }
    }
}

/// A problem found in the input, with where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Diagnostic {
    pub origin: Origin,
    pub message: String,
    pub severity: Severity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Severity {
    Warning,
    Error,
}

impl Diagnostic {
    pub(crate) fn error(origin: Origin, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            origin,
            message: message.into(),
            severity: Severity::Error,
        }
    }

    pub(crate) fn warning(origin: Origin, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            origin,
            message: message.into(),
            severity: Severity::Warning,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{}: {level}: {}", self.origin, self.message)
    }
}
