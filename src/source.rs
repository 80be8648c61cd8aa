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

    /// `Origin: /abs/file:line:col`, a blank line, and the source around the position
    /// with a caret under it, as Ansible 2.19 shows where a message comes from.
    pub(crate) fn ansible_context(&self) -> String {
        let file = std::path::absolute(&self.file).unwrap_or_else(|_| self.file.to_path_buf());
        let mut out = format!(
            "Origin: {}:{}:{}",
            file.display(),
            self.pos.line,
            self.pos.col
        );
        if let Some(lines) = self.annotated_source() {
            out.push_str("\n\n");
            out.push_str(&lines.join("\n"));
        }
        out
    }

    /// Up to two lines before the position's line and the line itself, numbered, with
    /// `^ column N` under the column (Ansible's SourceContext.from_origin).
    fn annotated_source(&self) -> Option<Vec<String>> {
        const CONTEXT: usize = 2;
        const WIDTH: usize = 120;
        let target = self.pos.line as usize;
        if target == 0 {
            return None;
        }
        let text = std::fs::read_to_string(&self.file).ok()?;
        if text.starts_with("$ANSIBLE_VAULT;") {
            return None;
        }
        let start = target.saturating_sub(1 + CONTEXT);
        let lines: Vec<&str> = text
            .split_inclusive('\n')
            .skip(start)
            .take(target - start)
            .collect();
        if lines.len() != target - start {
            return None;
        }
        let label = target.to_string().len();
        let max_len = WIDTH - label - 1;
        let mut usable = max_len;
        let mut out = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let mut line = line.trim_end_matches('\n').replace('\t', " ");
            if line.chars().count() > max_len {
                line = line.chars().take(max_len - 3).collect::<String>() + "...";
                usable = max_len - 3;
            }
            let sep = if line.is_empty() { "" } else { " " };
            out.push(format!("{:>label$}{sep}{line}", start + i + 1));
        }
        let col = self.pos.col as usize;
        if col >= 1 && col <= usable {
            let word = format!("column {col}");
            let marker = if col - 1 + 2 + word.len() > max_len {
                format!(
                    "{}{word} ^",
                    " ".repeat((col - 1).saturating_sub(word.len() + 1))
                )
            } else {
                format!("{}^ {word}", " ".repeat(col - 1))
            };
            out.push(format!("{} {marker}", " ".repeat(label)));
        }
        Some(out)
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
