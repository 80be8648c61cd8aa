//! The only place that writes to the terminal. Everything else returns data or sends
//! events; this keeps each host's and task's block whole and lets tests capture output.

mod progress;

pub(crate) use progress::Progress;

use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Color {
    Never,
    Always,
}

#[derive(Debug, Clone)]
pub(crate) struct Printer {
    pub color: Color,
    pub quiet: bool,
}

impl Printer {
    pub(crate) fn new(color: Color, quiet: bool) -> Printer {
        Printer { color, quiet }
    }

    /// Writes a whole block to stdout in one go.
    #[allow(clippy::print_stdout)]
    pub(crate) fn out(&self, text: &str) {
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        let _ = lock.write_all(text.as_bytes());
        let _ = lock.flush();
    }

    /// Writes a whole block to stderr in one go.
    pub(crate) fn err(&self, text: &str) {
        let stderr = std::io::stderr();
        let mut lock = stderr.lock();
        let _ = lock.write_all(text.as_bytes());
        let _ = lock.flush();
    }

    /// A located warning: `file:line:col: warning: ...`.
    pub(crate) fn diagnostic(&self, d: &crate::source::Diagnostic) {
        if !self.quiet {
            self.err(&format!("{d}\n"));
        }
    }

    pub(crate) fn warn(&self, text: &str) {
        if !self.quiet {
            self.err(&format!("{}{text}\n", self.paint("[WARNING]: ", "35")));
        }
    }

    pub(crate) fn deprecate(&self, text: &str) {
        if !self.quiet {
            self.err(&format!(
                "{}{text}\n",
                self.paint("[DEPRECATION WARNING]: ", "35")
            ));
        }
    }

    pub(crate) fn paint(&self, text: &str, code: &str) -> String {
        match self.color {
            Color::Always => format!("\x1b[{code}m{text}\x1b[0m"),
            Color::Never => text.to_string(),
        }
    }
}
