//! A run is a stream of events; reporters turn them into text or JSON lines.

use crate::tasks::Diff;
use crate::value::Map;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Ok,
    Changed,
    Skipped,
    Failed,
    /// Failed, but `ignore_errors` let the host carry on.
    Ignored,
    Unreachable,
    /// Unreachable, but `ignore_unreachable` let the host carry on.
    UnreachableIgnored,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Stats {
    pub ok: u32,
    pub changed: u32,
    pub unreachable: u32,
    pub failed: u32,
    pub skipped: u32,
    pub rescued: u32,
    pub ignored: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AsyncState {
    Ok,
    Failed,
    /// Looked at, not finished yet.
    Poll,
}

#[derive(Debug, Clone)]
pub(crate) enum Event {
    PlayStart {
        name: String,
        check: bool,
    },
    TaskStart {
        name: String,
        handler: bool,
    },
    /// One host's (or one loop item's) result.
    Result {
        host: String,
        status: Status,
        item: Option<String>,
        /// What Ansible would show after `=>` (shown for debug, failures, and -v).
        result: Map,
        show: bool,
        diffs: Vec<Diff>,
        /// The module that produced it (debug results are shown differently).
        action: String,
    },
    /// A file `include_tasks` brings in, for these hosts (and loop item).
    Included {
        path: String,
        hosts: Vec<String>,
        item: Option<String>,
    },
    Retry {
        host: String,
        task: String,
        left: i64,
    },
    Warning(String),
    /// An error that ends the whole run (`[ERROR]: ...`, no recap), as Ansible's
    /// strategy raises for a notification no handler answers.
    Fatal(String),
    /// What a meta task did (`META: ending play for web1`), shown from -vv.
    Meta(String),
    /// `[DEPRECATION WARNING]: ...` (a module result's `deprecations`).
    Deprecation(String),
    /// An async job's progress line: `ASYNC OK`, `ASYNC FAILED`, `ASYNC POLL`.
    Async {
        host: String,
        jid: String,
        state: AsyncState,
    },
    /// ansible-playbook's `...ignoring` after a loop whose failed items were ignored.
    Ignoring,
    Recap {
        stats: Vec<(String, Stats)>,
    },
}
