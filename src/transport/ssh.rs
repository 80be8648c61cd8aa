//! SSH with russh: one connection per host, many channels on it.

use super::sudo::{Become, Markers, command_line, failure};
use super::target::Target;
use super::{ExecOutput, TransportError};
use russh::client::{self, Handle};
use russh::{Channel, ChannelMsg, Disconnect};
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;

mod auth;
mod verify;

use auth::authenticate;
use verify::Verifier;

pub struct SshConnection {
    /// What opening it has to tell the user (see `Connection::take_notes`).
    notes: std::sync::Mutex<Vec<String>>,
    /// Channels kept open for the connection's life (the run lock's).
    held: tokio::sync::Mutex<Vec<Channel<client::Msg>>>,
    /// The tag of the run lock this connection holds (see `Connection::lock`).
    pub(super) lock_tag: std::sync::OnceLock<String>,
    handle: Handle<Verifier>,
    /// The `ProxyJump` connections this one runs through, first hop first.
    jumps: Vec<Handle<Verifier>>,
    user: String,
    host: String,
    sftp: tokio::sync::Mutex<Option<russh_sftp::client::SftpSession>>,
    /// Persistent shells, by the user they run as ("" for the login user).
    shells: tokio::sync::Mutex<Vec<(String, Channel<client::Msg>)>>,
}

/// Why the persistent shell could not run a command.
enum ShellError {
    /// The host is gone (or refused become): the caller must not retry.
    Transport(TransportError),
    /// The shell is not usable; a fresh channel may still work.
    Unusable,
}

/// Adds a command channel's message to `out`; true once the command has ended (its exit
/// status or signal, or the channel closed).
fn record(out: &mut ExecOutput, msg: ChannelMsg) -> bool {
    match msg {
        ChannelMsg::Data { data } => out.stdout.extend_from_slice(&data),
        ChannelMsg::ExtendedData { data, .. } => out.stderr.extend_from_slice(&data),
        ChannelMsg::ExitStatus { exit_status } => {
            out.status = Some(exit_status);
            return true;
        }
        ChannelMsg::ExitSignal { .. } => {
            out.status = None;
            return true;
        }
        ChannelMsg::Close => return true,
        _ => {}
    }
    false
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// Appends `data` to `buf` and looks for `needle` only where the new bytes could
/// complete it, so reading a large output stays linear (a 50 MB file read in 32 KB
/// messages would otherwise rescan the whole buffer 1,600 times).
fn push_find(buf: &mut Vec<u8>, data: &[u8], needle: &[u8]) -> Option<usize> {
    let from = buf.len().saturating_sub(needle.len().saturating_sub(1));
    buf.extend_from_slice(data);
    find(&buf[from..], needle).map(|i| from + i)
}

fn unreachable(target: &Target, e: impl std::fmt::Display) -> TransportError {
    TransportError::Unreachable(format!("{}:{}: {e}", target.host, target.port))
}

impl SshConnection {
    /// Connects (through `ProxyJump` hosts when the target names some: each hop is
    /// reached over a `direct-tcpip` channel of the one before, with its own host key
    /// check and login) and authenticates.
    pub async fn open(target: &Target) -> Result<SshConnection, TransportError> {
        let config = Arc::new(client::Config {
            keepalive_interval: Some(target.alive_interval),
            keepalive_max: target.alive_count_max,
            nodelay: true,
            ..Default::default()
        });
        let hops = target.jump_targets();
        let mut handles: Vec<Handle<Verifier>> = Vec::new();
        let notes = Arc::new(Mutex::new(Vec::new()));
        for t in hops.iter().chain(std::iter::once(target)) {
            let problem = Arc::new(Mutex::new(None));
            let verifier = Verifier {
                target: Arc::new(t.clone()),
                problem: problem.clone(),
                notes: notes.clone(),
            };
            let connected = match handles.last() {
                None => client::connect(config.clone(), (t.host.as_str(), t.port), verifier).await,
                Some(jump) => {
                    let channel = jump
                        .channel_open_direct_tcpip(
                            t.host.clone(),
                            u32::from(t.port),
                            "127.0.0.1",
                            0,
                        )
                        .await
                        .map_err(|e| {
                            unreachable(t, format!("the jump host cannot reach it: {e}"))
                        })?;
                    client::connect_stream(config.clone(), channel.into_stream(), verifier).await
                }
            };
            let mut handle = match connected {
                Ok(h) => h,
                Err(e) => {
                    if let Some(p) = problem.lock().ok().and_then(|mut p| p.take()) {
                        return Err(p);
                    }
                    return Err(unreachable(t, e));
                }
            };
            authenticate(&mut handle, t).await?;
            handles.push(handle);
        }
        let Some(handle) = handles.pop() else {
            return Err(unreachable(target, "no connection"));
        };
        let notes = notes
            .lock()
            .map(|mut n| std::mem::take(&mut *n))
            .unwrap_or_default();
        Ok(SshConnection {
            notes: std::sync::Mutex::new(notes),
            held: tokio::sync::Mutex::new(Vec::new()),
            lock_tag: std::sync::OnceLock::new(),
            handle,
            jumps: handles,
            user: target.user.clone(),
            host: target.host.clone(),
            sftp: tokio::sync::Mutex::new(None),
            shells: tokio::sync::Mutex::new(Vec::new()),
        })
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn take_notes(&self) -> Vec<String> {
        self.notes
            .lock()
            .map(|mut n| std::mem::take(&mut *n))
            .unwrap_or_default()
    }

    fn dropped(&self, e: impl std::fmt::Display) -> TransportError {
        TransportError::Unreachable(format!("{}: connection lost: {e}", self.host))
    }

    /// Resolves once the connection is gone (its keepalives unanswered, the host's end
    /// closed): a write waiting for the peer's window is never woken otherwise.
    async fn closed(&self) {
        while !self.handle.is_closed() {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }

    /// `op`, or UNREACHABLE as soon as the connection is gone, whatever `op` waits for.
    async fn while_alive<T>(
        &self,
        op: impl std::future::Future<Output = Result<T, TransportError>>,
    ) -> Result<T, TransportError> {
        tokio::select! {
            r = op => r,
            () = self.closed() => Err(self.dropped("the host stopped answering")),
        }
    }

    /// Runs a command. Without stdin it goes through the host's persistent shell for
    /// that user (one `sh`, and one sudo, per user per connection); with stdin, or if
    /// that shell cannot be used, on a fresh channel.
    pub async fn exec(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
        escalate: Option<&Become>,
    ) -> Result<ExecOutput, TransportError> {
        self.while_alive(self.exec_inner(command, stdin, escalate))
            .await
    }

    async fn exec_inner(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
        escalate: Option<&Become>,
    ) -> Result<ExecOutput, TransportError> {
        if stdin.is_none() {
            match self.shell_exec(command, escalate).await {
                Ok(out) => return Ok(out),
                Err(ShellError::Transport(e)) => return Err(e),
                Err(ShellError::Unusable) => {}
            }
        }
        self.channel_exec(command, stdin, escalate).await
    }

    /// Opens a session channel running `line`; with become, waits for sudo's success
    /// marker (answering its prompt once). Returns the channel and what it printed.
    async fn open_channel(
        &self,
        line: &str,
        escalate: Option<&Become>,
        markers: &Markers,
    ) -> Result<(Channel<client::Msg>, ExecOutput, bool), TransportError> {
        let mut channel = self
            .handle
            .channel_open_session()
            .await
            .map_err(|e| self.dropped(e))?;
        channel
            .exec(true, line.as_bytes())
            .await
            .map_err(|e| self.dropped(e))?;
        let mut out = ExecOutput::default();
        let mut closed = false;
        if let Some(b) = escalate {
            // Until sudo reports success, watch for its prompt (send the password once)
            // and for failure; only then may the command's stdin flow.
            let mut prompts = 0;
            loop {
                let Some(msg) = channel.wait().await else {
                    closed = true;
                    break;
                };
                match msg {
                    ChannelMsg::Data { data } => out.stdout.extend_from_slice(&data),
                    ChannelMsg::ExtendedData { data, .. } => out.stderr.extend_from_slice(&data),
                    ChannelMsg::ExitStatus { exit_status } => out.status = Some(exit_status),
                    _ => {}
                }
                if String::from_utf8_lossy(&out.stdout).contains(&markers.success) {
                    break;
                }
                let seen = String::from_utf8_lossy(&out.stderr)
                    .matches(&markers.prompt)
                    .count();
                if seen > prompts {
                    prompts = seen;
                    if let (Some(pw), 1) = (&b.password, prompts) {
                        channel
                            .data(format!("{pw}\n").as_bytes())
                            .await
                            .map_err(|e| self.dropped(e))?;
                    } else {
                        let _ = channel.close().await;
                        return Err(TransportError::Become(failure(
                            "Sorry, try again.",
                            &b.user,
                        )));
                    }
                }
                if out.status.is_some() {
                    // sudo exited: OpenSSH may send the exit status before the last of
                    // its stderr (the reason it failed), so read until the channel closes.
                    while let Some(msg) = channel.wait().await {
                        match msg {
                            ChannelMsg::Data { data } => out.stdout.extend_from_slice(&data),
                            ChannelMsg::ExtendedData { data, .. } => {
                                out.stderr.extend_from_slice(&data);
                            }
                            _ => {}
                        }
                    }
                    closed = true;
                    break;
                }
            }
            if !String::from_utf8_lossy(&out.stdout).contains(&markers.success) {
                if self.handle.is_closed() {
                    return Err(self.dropped("while becoming another user"));
                }
                return Err(TransportError::Become(failure(
                    &String::from_utf8_lossy(&out.stderr).replace(&markers.prompt, ""),
                    &b.user,
                )));
            }
        }
        Ok((channel, out, closed))
    }

    async fn channel_exec(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
        escalate: Option<&Become>,
    ) -> Result<ExecOutput, TransportError> {
        let markers = Markers::new();
        let line = command_line(command, escalate, &markers);
        let (mut channel, mut out, closed) = self.open_channel(&line, escalate, &markers).await?;
        if !closed {
            // Stdin is fed while the channel is read: a command that ends before taking
            // all of it (a full disk) closes the channel, and a write waiting for its
            // window would wait for ever.
            let mut ended = false;
            if let Some(data) = stdin {
                let mut w = channel.make_writer();
                let feed = async move {
                    w.write_all(data).await?;
                    w.flush().await
                };
                tokio::pin!(feed);
                loop {
                    tokio::select! {
                        r = &mut feed => {
                            r.map_err(|e| self.dropped(e))?;
                            break;
                        }
                        msg = channel.wait() => {
                            if msg.is_none_or(|m| record(&mut out, m)) {
                                ended = true;
                                break;
                            }
                        }
                    }
                }
            }
            if !ended {
                channel.eof().await.map_err(|e| self.dropped(e))?;
            }
            // Read until the channel closes: data may follow the exit status, until
            // none has come for a while (a process the command left in the background
            // keeps the channel open, and is not waited for).
            loop {
                let msg = if out.status.is_some() {
                    match tokio::time::timeout(super::local::AFTER_EXIT, channel.wait()).await {
                        Ok(m) => m,
                        Err(_) => break,
                    }
                } else {
                    channel.wait().await
                };
                let Some(msg) = msg else { break };
                record(&mut out, msg);
            }
        }
        if out.status.is_none() && self.handle.is_closed() {
            return Err(self.dropped("the channel closed without an exit status"));
        }
        if escalate.is_some() {
            super::local::strip_marker(&mut out, &markers);
        }
        Ok(out)
    }

    /// Runs `command` on a channel kept open as long as the connection (the run lock):
    /// what it printed up to `marker`, or all of it when it ended first.
    pub async fn hold(&self, command: &str, marker: &str) -> Result<ExecOutput, TransportError> {
        self.while_alive(self.hold_inner(command, marker)).await
    }

    async fn hold_inner(&self, command: &str, marker: &str) -> Result<ExecOutput, TransportError> {
        let mut channel = self
            .handle
            .channel_open_session()
            .await
            .map_err(|e| self.dropped(e))?;
        channel
            .exec(true, command.as_bytes())
            .await
            .map_err(|e| self.dropped(e))?;
        let mut out = ExecOutput::default();
        while let Some(msg) = channel.wait().await {
            match msg {
                ChannelMsg::Data { data }
                    if push_find(&mut out.stdout, &data, marker.as_bytes()).is_some() =>
                {
                    self.held.lock().await.push(channel);
                    return Ok(out);
                }
                ChannelMsg::ExtendedData { data, .. } => out.stderr.extend_from_slice(&data),
                ChannelMsg::ExitStatus { exit_status } => out.status = Some(exit_status),
                _ => {}
            }
        }
        if out.status.is_none() && self.handle.is_closed() {
            return Err(self.dropped("the channel closed without an exit status"));
        }
        Ok(out)
    }

    /// Runs a command in the persistent `sh` of `escalate`'s user, starting it if needed.
    /// The shell is taken out of the pool while in use: a command cut short (timeout)
    /// drops it instead of leaving it half-read.
    async fn shell_exec(
        &self,
        command: &str,
        escalate: Option<&Become>,
    ) -> Result<ExecOutput, ShellError> {
        let key = escalate.map_or_else(String::new, |b| b.user.clone());
        let pooled = {
            let mut shells = self.shells.lock().await;
            shells
                .iter()
                .position(|(k, _)| *k == key)
                .map(|i| shells.swap_remove(i).1)
        };
        let mut channel = if let Some(c) = pooled {
            c
        } else {
            let markers = Markers::new();
            let line = command_line("exec /bin/sh", escalate, &markers);
            let (channel, _, closed) = self
                .open_channel(&line, escalate, &markers)
                .await
                .map_err(ShellError::Transport)?;
            if closed {
                return Err(ShellError::Unusable);
            }
            channel
        };
        let m = format!("__TPROV_END_{:016x}", super::rand_u64());
        let script = format!(
            "/bin/sh -c {} </dev/null; printf '\\n{m} %d\\n' \"$?\"; printf '\\n{m}\\n' >&2\n",
            super::sh_quote(command)
        );
        channel
            .data(script.as_bytes())
            .await
            .map_err(|e| ShellError::Transport(self.dropped(e)))?;
        let (out_end, err_end) = (format!("\n{m} "), format!("\n{m}\n"));
        let mut out = ExecOutput::default();
        let (mut status, mut err_done) = (None, false);
        // Where stdout's end marker starts, once seen (its status line may come later).
        let mut found: Option<usize> = None;
        while status.is_none() || !err_done {
            match channel.wait().await {
                Some(ChannelMsg::Data { data }) => {
                    let at = if found.is_some() {
                        out.stdout.extend_from_slice(&data);
                        found
                    } else {
                        push_find(&mut out.stdout, &data, out_end.as_bytes())
                    };
                    if let Some(i) = at {
                        found = Some(i);
                        let tail = &out.stdout[i + out_end.len()..];
                        if let Some(nl) = tail.iter().position(|b| *b == b'\n') {
                            status = std::str::from_utf8(&tail[..nl])
                                .ok()
                                .and_then(|s| s.parse::<u32>().ok());
                            out.stdout.truncate(i);
                        }
                    }
                }
                Some(ChannelMsg::ExtendedData { data, .. }) => {
                    if let Some(i) = push_find(&mut out.stderr, &data, err_end.as_bytes()) {
                        out.stderr.truncate(i);
                        err_done = true;
                    }
                }
                Some(
                    ChannelMsg::Eof
                    | ChannelMsg::Close
                    | ChannelMsg::ExitStatus { .. }
                    | ChannelMsg::ExitSignal { .. },
                )
                | None => {
                    if self.handle.is_closed() {
                        return Err(ShellError::Transport(
                            self.dropped("the shell's channel closed"),
                        ));
                    }
                    return Err(ShellError::Unusable);
                }
                Some(_) => {}
            }
        }
        out.status = status;
        self.shells.lock().await.push((key, channel));
        Ok(out)
    }

    async fn sftp(
        &self,
    ) -> Result<tokio::sync::MutexGuard<'_, Option<russh_sftp::client::SftpSession>>, TransportError>
    {
        let mut guard = self.sftp.lock().await;
        if guard.is_none() {
            let channel = self
                .handle
                .channel_open_session()
                .await
                .map_err(|e| self.dropped(e))?;
            channel
                .request_subsystem(true, "sftp")
                .await
                .map_err(|e| self.dropped(e))?;
            let session = russh_sftp::client::SftpSession::new(channel.into_stream())
                .await
                .map_err(|e| TransportError::Failed(format!("sftp: {e}")))?;
            *guard = Some(session);
        }
        Ok(guard)
    }

    /// Uploads `data` to `tmp` (fsync'd), then runs `finish` and renames it to `dest`.
    pub async fn write_via_sftp(
        &self,
        dest: &str,
        tmp: &str,
        data: &[u8],
        finish: &str,
        stale: &str,
    ) -> Result<(), TransportError> {
        let uploaded = self.while_alive(self.upload(dest, tmp, data)).await;
        if let Err(e) = uploaded {
            // No partial temp file stays behind (a full disk stays full otherwise).
            if !self.handle.is_closed()
                && let Ok(guard) = self.sftp().await
                && let Some(sftp) = guard.as_ref()
            {
                let _ = sftp.remove_file(tmp).await;
            }
            return Err(self.failure_in_words(dest, tmp, data.len(), e).await);
        }
        let script = format!(
            "set -e; T={tmp}; trap 'rm -f \"$T\"' EXIT; {finish}; mv -f \"$T\" {dest}; trap - EXIT; {stale}",
            tmp = super::sh_quote(tmp),
            dest = super::sh_quote(dest),
            finish = if finish.is_empty() { ":" } else { finish },
        );
        let out = self.exec(&script, None, None).await?;
        super::written(dest, &out)
    }

    /// The bytes into `tmp` over SFTP, synced.
    async fn upload(&self, dest: &str, tmp: &str, data: &[u8]) -> Result<(), TransportError> {
        {
            let guard = self.sftp().await?;
            let sftp = guard
                .as_ref()
                .ok_or_else(|| TransportError::Failed("sftp session missing".into()))?;
            let sftp_err = |e: russh_sftp::client::error::Error| self.sftp_failure(dest, e);
            let mut file = sftp
                .open_with_flags_and_attributes(
                    tmp,
                    russh_sftp::protocol::OpenFlags::CREATE
                        | russh_sftp::protocol::OpenFlags::TRUNCATE
                        | russh_sftp::protocol::OpenFlags::WRITE
                        | russh_sftp::protocol::OpenFlags::EXCLUDE,
                    russh_sftp::protocol::FileAttributes {
                        permissions: Some(0o600),
                        ..Default::default()
                    },
                )
                .await
                .map_err(sftp_err)?;
            file.write_all(data)
                .await
                .map_err(|e| self.sftp_failure(dest, e))?;
            file.sync_all().await.map_err(sftp_err)?;
            file.shutdown()
                .await
                .map_err(|e| self.sftp_failure(dest, e))?;
        }
        Ok(())
    }

    /// SFTP's status for a failed write is a bare `Failure` (the protocol carries no
    /// errno): when the connection is alive, the same write by the shell names the cause
    /// ("Read-only file system", "No space left on device", "Permission denied").
    async fn failure_in_words(
        &self,
        dest: &str,
        tmp: &str,
        len: usize,
        e: TransportError,
    ) -> TransportError {
        if self.handle.is_closed() || !matches!(e, TransportError::Failed(_)) {
            return e;
        }
        let dir = match tmp.rfind('/') {
            Some(0) => "/",
            Some(i) => &tmp[..i],
            None => ".",
        };
        let probe = format!(
            "f=$(mktemp -p {dir} .tprov-probe-XXXXXX.tmp 2>&1) || {{ printf '%s\\n' \"$f\"; exit 0; }}; head -c {len} /dev/zero 2>&1 >\"$f\" | head -n 1; rm -f \"$f\"",
            dir = super::sh_quote(dir),
            len = len.clamp(1, 256 << 20),
        );
        let Ok(out) = self.exec(&probe, None, None).await else {
            return e;
        };
        let text = String::from_utf8_lossy(&out.stdout);
        match text.lines().next().and_then(|l| l.rsplit(": ").next()) {
            Some(cause) if !cause.trim().is_empty() => {
                TransportError::Failed(format!("cannot write {dest}: {}", cause.trim()))
            }
            _ => e,
        }
    }

    /// An SFTP error is a lost connection when the session is gone.
    fn sftp_failure(&self, dest: &str, e: impl std::fmt::Display) -> TransportError {
        if self.handle.is_closed() {
            self.dropped(format!("while uploading {dest}: {e}"))
        } else {
            TransportError::Failed(format!("sftp upload of {dest}: {e}"))
        }
    }

    /// Says goodbye to the host (and the jumps), not waiting long for one that is gone.
    pub async fn close(self) {
        let bye = async {
            let _ = self
                .handle
                .disconnect(Disconnect::ByApplication, "", "en")
                .await;
            for jump in self.jumps.iter().rev() {
                let _ = jump.disconnect(Disconnect::ByApplication, "", "en").await;
            }
        };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), bye).await;
    }
}

#[cfg(test)]
mod tests {
    use super::push_find;

    #[test]
    fn a_marker_split_across_messages_is_found_where_it_starts() {
        let mut buf = Vec::new();
        let mut at = None;
        for chunk in [&b"out"[..], b"put\n__EN", b"D 0\n"] {
            at = at.or(push_find(&mut buf, chunk, b"\n__END "));
        }
        assert_eq!(at, Some(6));
        assert_eq!(buf, b"output\n__END 0\n");
        let mut buf = Vec::new();
        assert_eq!(push_find(&mut buf, b"", b"xy"), None);
        assert_eq!(push_find(&mut buf, b"x", b"xy"), None);
        assert_eq!(push_find(&mut buf, b"y", b"xy"), Some(0));
    }
}
