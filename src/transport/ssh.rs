//! SSH with russh: one connection per host, many channels on it.

use super::known_hosts::{self, Verdict};
use super::sudo::{Become, Markers, command_line, failure};
use super::target::{StrictHostKeys, Target};
use super::{ExecOutput, TransportError};
use russh::client::{self, Handle};
use russh::keys::{PrivateKeyWithHashAlg, PublicKey};
use russh::{Channel, ChannelMsg, Disconnect};
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;

/// Verifies the server's key and remembers why it refused one.
struct Verifier {
    target: Arc<Target>,
    problem: Arc<Mutex<Option<TransportError>>>,
    /// What the user should hear about the connection (a key added to known_hosts).
    notes: Arc<Mutex<Vec<String>>>,
}

impl client::Handler for Verifier {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let key: &PublicKey = match key {
            russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } => key,
            russh::keys::PublicKeyOrCertificate::Certificate(_) => {
                self.refuse(
                    "host certificates are not supported; list the host key in known_hosts".into(),
                );
                return Ok(false);
            }
        };
        let t = &self.target;
        // Whatever StrictHostKeyChecking says, a changed or revoked key is refused:
        // `no` and `accept-new` only ever add keys of hosts not known yet.
        let name = known_hosts::host_key_name(&t.host, t.port);
        let fp = known_hosts::fingerprint(key);
        match known_hosts::check(&t.known_hosts, &t.host, t.port, key) {
            Verdict::Known => Ok(true),
            Verdict::Changed { file, line } => {
                self.refuse(format!(
                    "the host key of {name} has CHANGED (now {} {fp}); the recorded one is at {}:{line}. This may be an attack; remove that line only if you know why the key changed",
                    key.algorithm(),
                    file.display()
                ));
                Ok(false)
            }
            Verdict::Revoked { file, line } => {
                self.refuse(format!(
                    "the host key of {name} ({fp}) is revoked in {}:{line}",
                    file.display()
                ));
                Ok(false)
            }
            Verdict::Unknown if t.strict != StrictHostKeys::Yes => {
                let file = t
                    .known_hosts
                    .first()
                    .cloned()
                    .unwrap_or_else(|| std::path::PathBuf::from("known_hosts"));
                if let Err(e) = known_hosts::learn(&file, &t.host, t.port, key) {
                    if t.strict == StrictHostKeys::AcceptNew {
                        self.refuse(format!(
                            "cannot record the key of {name} in {}: {e}",
                            file.display()
                        ));
                        return Ok(false);
                    }
                    // `no` connects even when the key cannot be kept, as OpenSSH does.
                    self.note(format!(
                        "{name} is not a known host; its {} key {fp} was accepted (StrictHostKeyChecking=no) but could not be recorded in {}: {e}",
                        key.algorithm(),
                        file.display()
                    ));
                    return Ok(true);
                }
                self.note(format!(
                    "Permanently added '{name}' ({}) to the list of known hosts ({}).",
                    key.algorithm(),
                    file.display()
                ));
                Ok(true)
            }
            Verdict::Unknown => {
                let files: Vec<String> = t
                    .known_hosts
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect();
                self.refuse(format!(
                    "{name} is not a known host: its {} key is {fp}. If that is right, add it to {} (e.g. `ssh-keyscan -p {} {} >> {}`), or connect once with StrictHostKeyChecking=accept-new",
                    key.algorithm(),
                    files.join(" or "),
                    t.port,
                    t.host,
                    files.first().map_or("~/.ssh/known_hosts", String::as_str)
                ));
                Ok(false)
            }
        }
    }
}

impl Verifier {
    fn note(&self, msg: String) {
        if let Ok(mut n) = self.notes.lock() {
            n.push(msg);
        }
    }

    fn refuse(&self, msg: String) {
        if let Ok(mut p) = self.problem.lock() {
            *p = Some(TransportError::HostKey(msg));
        }
    }
}

pub struct SshConnection {
    /// What opening it has to tell the user (see `Connection::take_notes`).
    notes: std::sync::Mutex<Vec<String>>,
    /// Channels kept open for the connection's life (the run lock's).
    held: tokio::sync::Mutex<Vec<Channel<client::Msg>>>,
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

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
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

    /// Runs a command. Without stdin it goes through the host's persistent shell for
    /// that user (one `sh`, and one sudo, per user per connection); with stdin, or if
    /// that shell cannot be used, on a fresh channel.
    pub async fn exec(
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
            if let Some(data) = stdin {
                let mut w = channel.make_writer();
                w.write_all(data).await.map_err(|e| self.dropped(e))?;
                w.flush().await.map_err(|e| self.dropped(e))?;
            }
            channel.eof().await.map_err(|e| self.dropped(e))?;
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
                match msg {
                    ChannelMsg::Data { data } => out.stdout.extend_from_slice(&data),
                    ChannelMsg::ExtendedData { data, .. } => out.stderr.extend_from_slice(&data),
                    ChannelMsg::ExitStatus { exit_status } => out.status = Some(exit_status),
                    ChannelMsg::ExitSignal { .. } => out.status = None,
                    _ => {}
                }
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
                ChannelMsg::Data { data } => out.stdout.extend_from_slice(&data),
                ChannelMsg::ExtendedData { data, .. } => out.stderr.extend_from_slice(&data),
                ChannelMsg::ExitStatus { exit_status } => out.status = Some(exit_status),
                _ => {}
            }
            if find(&out.stdout, marker.as_bytes()).is_some() {
                self.held.lock().await.push(channel);
                return Ok(out);
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
        while status.is_none() || !err_done {
            match channel.wait().await {
                Some(ChannelMsg::Data { data }) => {
                    out.stdout.extend_from_slice(&data);
                    if let Some(i) = find(&out.stdout, out_end.as_bytes()) {
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
                    out.stderr.extend_from_slice(&data);
                    if let Some(i) = find(&out.stderr, err_end.as_bytes()) {
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
    ) -> Result<(), TransportError> {
        let uploaded = self.upload(dest, tmp, data).await;
        if let Err(e) = uploaded {
            // No partial temp file stays behind (a full disk stays full otherwise).
            if !self.handle.is_closed()
                && let Ok(guard) = self.sftp().await
                && let Some(sftp) = guard.as_ref()
            {
                let _ = sftp.remove_file(tmp).await;
            }
            return Err(e);
        }
        let script = format!(
            "set -e; T={tmp}; trap 'rm -f \"$T\"' EXIT; {finish}; mv -f \"$T\" {dest}; trap - EXIT; {stale}",
            tmp = super::sh_quote(tmp),
            dest = super::sh_quote(dest),
            finish = if finish.is_empty() { ":" } else { finish },
            stale = super::stale_temps_cleanup(dest),
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

    /// An SFTP error is a lost connection when the session is gone.
    fn sftp_failure(&self, dest: &str, e: impl std::fmt::Display) -> TransportError {
        if self.handle.is_closed() {
            self.dropped(format!("while uploading {dest}: {e}"))
        } else {
            TransportError::Failed(format!("sftp upload of {dest}: {e}"))
        }
    }

    pub async fn close(self) {
        let _ = self
            .handle
            .disconnect(Disconnect::ByApplication, "", "en")
            .await;
        for jump in self.jumps.iter().rev() {
            let _ = jump.disconnect(Disconnect::ByApplication, "", "en").await;
        }
    }
}

/// The RSA signature hash the server prefers (None for other keys, or when it says not).
async fn rsa_hash(handle: &Handle<Verifier>) -> Option<russh::keys::HashAlg> {
    handle
        .best_supported_rsa_hash()
        .await
        .ok()
        .flatten()
        .flatten()
}

async fn authenticate(
    handle: &mut Handle<Verifier>,
    target: &Target,
) -> Result<(), TransportError> {
    let mut tried = Vec::new();
    let mut last_err = None;
    for file in &target.identity_files {
        if !file.exists() {
            continue;
        }
        let key = match russh::keys::load_secret_key(file, None) {
            Ok(k) => k,
            Err(russh::keys::Error::KeyIsEncrypted) => {
                if let Some(p) = passphrase(file) {
                    match russh::keys::load_secret_key(file, Some(&p)) {
                        Ok(k) => k,
                        Err(e) => {
                            last_err = Some(format!("{}: {e}", file.display()));
                            continue;
                        }
                    }
                } else {
                    last_err = Some(format!(
                        "{} is encrypted and no passphrase was given (TPROV_KEY_PASSPHRASE)",
                        file.display()
                    ));
                    continue;
                }
            }
            Err(e) => {
                last_err = Some(format!("{}: {e}", file.display()));
                continue;
            }
        };
        tried.push(file.display().to_string());
        let hash = rsa_hash(handle).await;
        match handle
            .authenticate_publickey(
                &target.user,
                PrivateKeyWithHashAlg::new(Arc::new(key), hash),
            )
            .await
        {
            Ok(r) if r.success() => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(unreachable(target, e)),
        }
    }
    if let Ok(mut agent) = russh::keys::agent::client::AgentClient::connect_env().await
        && let Ok(ids) = agent.request_identities().await
    {
        for id in ids {
            let russh::keys::agent::AgentIdentity::PublicKey { key, comment } = id else {
                continue;
            };
            tried.push(format!("agent key {comment}"));
            let hash = rsa_hash(handle).await;
            if let Ok(r) = handle
                .authenticate_publickey_with(&target.user, key, hash, &mut agent)
                .await
                && r.success()
            {
                return Ok(());
            }
        }
    }
    let detail = match (tried.is_empty(), last_err) {
        (true, Some(e)) => e,
        (true, None) => "no private key found (set ansible_ssh_private_key_file, private_key_file, or run an ssh-agent)".into(),
        (false, _) => format!("the server refused {}", tried.join(", ")),
    };
    Err(TransportError::Auth(format!(
        "{}@{}:{}: {detail}",
        target.user, target.host, target.port
    )))
}

fn passphrase(file: &std::path::Path) -> Option<String> {
    if let Ok(p) = std::env::var("TPROV_KEY_PASSPHRASE") {
        return Some(p);
    }
    rpassword::prompt_password(format!("Passphrase for {}: ", file.display())).ok()
}
