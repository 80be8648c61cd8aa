//! What a module may do to a host, as two capabilities. A [`Probe`] reads (stat, read,
//! hash, query commands); a [`Writer`] changes the host (files written, commands that
//! change state such as useradd, pm2, service, git). Modules never see the connection
//! itself: its field is private to this module. A run in check mode builds no writer,
//! so in `--check` a write cannot be expressed, only skipped (see docs/modules.md).

use crate::transport::{Become, Connection, ExecOutput, TransportError};

/// Read-only access to the host.
#[derive(Clone, Copy)]
pub(crate) struct Probe<'a> {
    conn: &'a Connection,
}

impl<'a> Probe<'a> {
    pub(crate) fn new(conn: &'a Connection) -> Probe<'a> {
        Probe { conn }
    }

    /// Runs a command that only reads the host, as `escalate` (or the login user).
    pub(crate) async fn exec(
        &self,
        script: &str,
        escalate: Option<&Become>,
    ) -> Result<ExecOutput, TransportError> {
        self.conn.exec(script, None, escalate, None).await
    }

    /// Runs a custom module (a `library/` file) in check mode, feeding it `stdin`: as in
    /// Ansible, the module is told `_ansible_check_mode` and decides what it may do; no
    /// module of tprov's own runs through here.
    pub(crate) async fn exec_custom_module(
        &self,
        script: &str,
        stdin: &[u8],
        escalate: Option<&Become>,
    ) -> Result<ExecOutput, TransportError> {
        self.conn.exec(script, Some(stdin), escalate, None).await
    }

    /// The user commands run as before they escalate.
    pub(crate) fn login_user(&self) -> &str {
        self.conn.login_user()
    }
}

/// Write access to the host, for one task: exists only outside check mode.
pub(crate) struct Writer<'a> {
    conn: &'a Connection,
    escalate: Option<Become>,
}

impl<'a> Writer<'a> {
    /// Only the runner makes writers, and never in check mode.
    pub(crate) fn new(conn: &'a Connection, escalate: Option<Become>) -> Writer<'a> {
        Writer { conn, escalate }
    }

    /// Runs a command that changes the host, as the task's become user.
    pub(crate) async fn exec(&self, script: &str) -> Result<ExecOutput, TransportError> {
        self.conn
            .exec(script, None, self.escalate.as_ref(), None)
            .await
    }

    /// Runs a changing command as the task's become user, feeding it `stdin`.
    pub(crate) async fn exec_with_stdin(
        &self,
        script: &str,
        stdin: Option<&[u8]>,
    ) -> Result<ExecOutput, TransportError> {
        self.conn
            .exec(script, stdin, self.escalate.as_ref(), None)
            .await
    }

    /// A temp name beside `dest`, tagged with the host's run lock (see
    /// `Connection::temp_beside`), and the command removing dead runs' ones after a write.
    pub(crate) fn temp_beside(&self, dest: &str) -> (String, String) {
        (self.conn.temp_beside(dest), self.conn.stale_cleanup(dest))
    }

    /// Writes a file atomically (temp beside it, fsync, rename); `finish` sets owner and
    /// mode on `$TMP` before the rename. As the task's become user, or the login user
    /// when `as_login`.
    pub(crate) async fn write_file(
        &self,
        dest: &str,
        data: &[u8],
        finish: &str,
        as_login: bool,
    ) -> Result<(), TransportError> {
        let escalate = if as_login {
            None
        } else {
            self.escalate.as_ref()
        };
        self.conn.write_file(dest, data, finish, escalate).await
    }
}
