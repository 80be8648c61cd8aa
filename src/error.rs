//! Top-level errors and the exit codes they map to (ansible-playbook's codes).

use crate::source::Diagnostic;
use std::fmt;

#[derive(Debug)]
pub(crate) enum Error {
    /// Bad input (files, flags): nothing was touched.
    User(Vec<Diagnostic>),
    /// A plain message about bad usage.
    Usage(String),
    /// Something went wrong that is not the input's fault.
    Internal(String),
    /// A step of a multi-step command failed on a host (exit 2, as a failed host).
    Failed(String),
    /// A command could not do what was asked (exit 1), e.g. a wrong vault password.
    Refused(String),
}

/// Exit codes, as ansible-playbook uses them.
pub(crate) mod exit {
    pub(crate) const OK: u8 = 0;
    pub(crate) const ERROR: u8 = 1;
    pub(crate) const HOST_FAILED: u8 = 2;
    pub(crate) const UNREACHABLE: u8 = 4;
    pub(crate) const PARSE: u8 = 4;
    pub(crate) const BAD_OPTIONS: u8 = 5;
    pub(crate) const INTERRUPTED: u8 = 99;
}

impl Error {
    pub(crate) fn code(&self) -> u8 {
        match self {
            Error::User(_) => exit::PARSE,
            Error::Usage(_) => exit::BAD_OPTIONS,
            Error::Internal(_) => exit::ERROR,
            Error::Failed(_) => exit::HOST_FAILED,
            Error::Refused(_) => exit::ERROR,
        }
    }
}

impl From<Diagnostic> for Error {
    fn from(d: Diagnostic) -> Self {
        Error::User(vec![d])
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::User(diags) => {
                for (i, d) in diags.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{d}")?;
                }
                Ok(())
            }
            Error::Usage(m) => write!(f, "error: {m}"),
            Error::Internal(m) => write!(f, "internal error: {m}"),
            Error::Failed(m) | Error::Refused(m) => write!(f, "error: {m}"),
        }
    }
}

impl std::error::Error for Error {}
