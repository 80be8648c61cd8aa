//! How tprov touches a host: one connection per host for a whole run (SSH with russh,
//! or local), commands on channels of it, escalate with sudo.
//!
//! Everything that changes a host goes through `exec` (a shell command, optional
//! stdin) or `write_file` (temp file in the destination directory, fsync, then rename,
//! so a dropped connection never leaves a torn file).

mod known_hosts;
pub mod local;
mod ssh;
pub mod ssh_config;
mod sudo;
pub mod target;

use std::fmt;
use std::time::Duration;

pub use known_hosts::{Verdict, fingerprint};
pub use sudo::Become;
pub use target::{StrictHostKeys, Target};

/// A connection to the controller itself.
pub fn local_connection() -> local::LocalConnection {
    local::LocalConnection::new()
}

/// What a command did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// The exit status; `None` when the command was killed by a signal.
    pub status: Option<u32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    pub fn ok(&self) -> bool {
        self.status == Some(0)
    }

    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// The exit status as Ansible's `rc` (-1 when killed).
    pub fn rc(&self) -> i64 {
        self.status.map_or(-1, i64::from)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// The host could not be reached, or the connection dropped.
    Unreachable(String),
    /// The host answered but refused our credentials.
    Auth(String),
    /// The host key is unknown, changed or revoked.
    HostKey(String),
    /// sudo refused (wrong or missing password, not allowed).
    Become(String),
    /// A command or the connection took too long.
    Timeout(String),
    /// Anything else on this host.
    Failed(String),
}

impl TransportError {
    /// Unreachable in Ansible's sense (the recap's `unreachable=`).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            TransportError::Unreachable(_)
                | TransportError::Auth(_)
                | TransportError::HostKey(_)
                | TransportError::Timeout(_)
        )
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::Unreachable(m) => write!(f, "unreachable: {m}"),
            TransportError::Auth(m) => write!(f, "authentication failed: {m}"),
            TransportError::HostKey(m) => write!(f, "host key verification failed: {m}"),
            TransportError::Become(m) => write!(f, "become failed: {m}"),
            TransportError::Timeout(m) => write!(f, "timed out: {m}"),
            TransportError::Failed(m) => f.write_str(m),
        }
    }
}

/// An open connection to one host.
pub enum Connection {
    Ssh(Box<ssh::SshConnection>),
    Local(local::LocalConnection),
}

impl Connection {
    pub async fn open(target: &Target) -> Result<Connection, TransportError> {
        if target.local {
            return Ok(Connection::Local(local::LocalConnection::new()));
        }
        let timeout = target.connect_timeout;
        match tokio::time::timeout(timeout, ssh::SshConnection::open(target)).await {
            Ok(r) => r.map(|c| Connection::Ssh(Box::new(c))),
            Err(_) => Err(TransportError::Timeout(format!(
                "connecting to {}:{} took more than {}s",
                target.host,
                target.port,
                timeout.as_secs()
            ))),
        }
    }

    /// Takes the host's run lock (issue 12): `flock` on `/run/lock/tprov-NAME.lock`, held
    /// by a process on the host for as long as this connection lives, so it is released
    /// when the run ends or the connection drops (a dead run leaves no stale lock).
    /// Waits up to `wait` for another run's lock, then fails naming its holder.
    pub async fn lock(
        &self,
        name: &str,
        holder: &str,
        wait: Duration,
    ) -> Result<(), TransportError> {
        let script = lock_script(name, holder, wait);
        let out = match self {
            Connection::Ssh(c) => c.hold(&script, LOCKED).await?,
            Connection::Local(c) => c.hold(&script, LOCKED).await?,
        };
        let text = String::from_utf8_lossy(&out.stdout);
        if text.contains(LOCKED) {
            if text.contains(FLOCKED) {
                let _ = self.lock_cell().set(lock_tag(name));
            }
            return Ok(());
        }
        if let Some(rest) = text.split("TPROV-BUSY\n").nth(1) {
            let who = rest.trim();
            return Err(TransportError::Failed(format!(
                "another tprov run holds this host ({}) and did not release it within {}s; it is released when that run ends",
                if who.is_empty() {
                    "holder unknown"
                } else {
                    who
                },
                wait.as_secs()
            )));
        }
        Err(TransportError::Failed(format!(
            "cannot take the host's run lock: {}",
            out.stderr_str().trim()
        )))
    }

    fn lock_cell(&self) -> &std::sync::OnceLock<String> {
        match self {
            Connection::Ssh(c) => &c.lock_tag,
            Connection::Local(c) => &c.lock_tag,
        }
    }

    /// A temp name beside `dest` for a write through this connection: tagged with the
    /// run lock it holds, so a later holder of that lock knows the file for debris.
    pub fn temp_beside(&self, dest: &str) -> String {
        temp_beside(dest, self.lock_cell().get().map(String::as_str))
    }

    /// The shell command removing what dead runs left beside `dest` (see
    /// [`stale_temps_cleanup`]), knowing the lock this connection holds.
    pub fn stale_cleanup(&self, dest: &str) -> String {
        stale_temps_cleanup(dest, self.lock_cell().get().map(String::as_str))
    }

    /// What opening the connection has to tell the user, once (a host key it added to
    /// known_hosts).
    pub fn take_notes(&self) -> Vec<String> {
        match self {
            Connection::Ssh(c) => c.take_notes(),
            Connection::Local(_) => Vec::new(),
        }
    }

    /// The user commands run as before escalate.
    pub fn login_user(&self) -> &str {
        match self {
            Connection::Ssh(c) => c.user(),
            Connection::Local(c) => c.user(),
        }
    }

    /// Runs `command` with `/bin/sh -c` (as `escalate` when given), feeding `stdin`.
    pub async fn exec(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
        escalate: Option<&Become>,
        timeout: Option<Duration>,
    ) -> Result<ExecOutput, TransportError> {
        let escalate = escalate.filter(|b| b.user != self.login_user());
        let run = async {
            match self {
                Connection::Ssh(c) => c.exec(command, stdin, escalate).await,
                Connection::Local(c) => c.exec(command, stdin, escalate).await,
            }
        };
        match timeout {
            Some(t) => tokio::time::timeout(t, run).await.unwrap_or_else(|_| {
                Err(TransportError::Timeout(format!(
                    "command took more than {}s",
                    t.as_secs()
                )))
            }),
            None => run.await,
        }
    }

    /// Writes `data` to `dest` atomically: a temp file beside it, fsync, then rename;
    /// `finish` (run with escalate, before the rename) sets owner and mode on `$TMP`.
    pub async fn write_file(
        &self,
        dest: &str,
        data: &[u8],
        finish: &str,
        escalate: Option<&Become>,
    ) -> Result<(), TransportError> {
        let escalate = escalate.filter(|b| b.user != self.login_user());
        let tmp = self.temp_beside(dest);
        let stale = self.stale_cleanup(dest);
        let script = format!(
            "set -e; T={tmp}; trap 'rm -f \"$T\"' EXIT; umask 077; cat > \"$T\"; n=$(wc -c < \"$T\"); [ \"$n\" -eq {len} ] || {{ echo \"only $n of {len} bytes arrived (the connection ended early): nothing written\" >&2; exit 1; }}; {finish}; sync \"$T\" 2>/dev/null || true; mv -f \"$T\" {dest}; trap - EXIT; {stale}",
            tmp = sh_quote(&tmp),
            dest = sh_quote(dest),
            finish = if finish.is_empty() { ":" } else { finish },
            len = data.len(),
        );
        // Over SFTP when we log in as the file's writer; through stdin otherwise.
        if let (Connection::Ssh(c), None) = (self, escalate) {
            return c.write_via_sftp(dest, &tmp, data, finish, &stale).await;
        }
        let out = self.exec(&script, Some(data), escalate, None).await?;
        written(dest, &out)
    }

    pub async fn close(self) {
        if let Connection::Ssh(c) = self {
            c.close().await;
        }
    }
}

/// What the lock script prints once it may go on.
const LOCKED: &str = "TPROV-LOCKED\n";
/// What it prints before [`LOCKED`] when it holds the lock itself (not when the host
/// has no `flock` or no lock file it can open).
const FLOCKED: &str = "TPROV-FLOCK ";

/// The tag of inventory host `name`'s lock in temp names: stable across runs and
/// controllers (FNV-1a of the name), so whoever holds that lock next recognises them.
fn lock_tag(name: &str) -> String {
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{:08x}", h >> 32)
}

/// Opens the lock file of inventory host `name` (one per name, so two inventory names of
/// one machine in the same run cannot wait on each other; any user may lock it: /run/lock is world-writable and a file
/// opened read-only can be locked), waits for the lock, records the holder in it, says
/// so, then sleeps on stdin until the connection closes. Without `flock` on the host,
/// or a lock file it can open, it goes on unlocked (the lock is a guard, not a gate).
fn lock_script(name: &str, holder: &str, wait: Duration) -> String {
    const SCRIPT: &str = r#"L=/run/lock/tprov-NAME.lock; [ -d /run/lock ] || L=/tmp/tprov-NAME.lock
command -v flock >/dev/null 2>&1 || { printf 'TPROV-LOCKED\n'; exec cat >/dev/null; }
if [ -w "$L" ] || { [ ! -e "$L" ] && [ -w "${L%/*}" ]; }; then exec 9>>"$L"
elif [ -r "$L" ]; then exec 9<"$L"
else printf 'TPROV-LOCKED\n'; exec cat >/dev/null
fi
if ! flock -w SECS 9; then printf 'TPROV-BUSY\n'; cat "$L"; exit 3; fi
{ printf '%s\n' HOLDER > "$L"; } 2>/dev/null
printf 'TPROV-FLOCK TPROV-LOCKED\n'
exec cat >/dev/null"#;
    SCRIPT
        .replace(
            "NAME",
            &name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect::<String>(),
        )
        .replace("SECS", &wait.as_secs().max(1).to_string())
        .replace("HOLDER", &sh_quote(holder))
}

/// A write script's outcome: its failure names the destination and says why.
pub fn written(dest: &str, out: &ExecOutput) -> Result<(), TransportError> {
    if out.ok() {
        Ok(())
    } else {
        Err(TransportError::Failed(format!(
            "writing {dest} failed: {}",
            out.stderr_str().trim()
        )))
    }
}

/// A shell command removing temp files (and links) of earlier writes to `dest` that a
/// killed run or a dropped connection left beside it, tprov's own names only: those
/// tagged with the run lock this write holds (`held`), whose writer is dead since its
/// lock was free; any other once untouched for over two minutes (a live upload keeps its
/// file's mtime fresh). Never fails the write.
pub fn stale_temps_cleanup(dest: &str, held: Option<&str>) -> String {
    let (dir, name) = match dest.rfind('/') {
        Some(0) => ("/", &dest[1..]),
        Some(i) => (&dest[..i], &dest[i + 1..]),
        None => (".", dest),
    };
    let name = name.replace(['*', '?', '[', ']'], "?");
    let any = sh_quote(&format!(".{name}.tprov-*.tmp"));
    let dead = match held {
        Some(tag) => format!(
            "-name {} -o ",
            sh_quote(&format!(".{name}.tprov-{tag}-*.tmp"))
        ),
        None => String::new(),
    };
    format!(
        "find {} -maxdepth 1 \\( -type f -o -type l \\) -name {any} \\( {dead}-mmin +2 \\) -delete 2>/dev/null || true",
        sh_quote(dir),
    )
}

/// A temp name in the destination's directory, so the final rename stays on one
/// filesystem (and so is atomic).
pub fn temp_beside(dest: &str, tag: Option<&str>) -> String {
    let (dir, name) = match dest.rfind('/') {
        Some(i) => (&dest[..=i], &dest[i + 1..]),
        None => ("", dest),
    };
    let n: u64 = rand_u64();
    match tag {
        Some(tag) => format!("{dir}.{name}.tprov-{tag}-{n:016x}.tmp"),
        None => format!("{dir}.{name}.tprov-{n:016x}.tmp"),
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// Quotes for `/bin/sh` (Python's `shlex.quote`).
pub(crate) use crate::python::shlex::quote as sh_quote;

#[cfg(test)]
mod tests {
    use super::{lock_tag, stale_temps_cleanup, temp_beside};

    /// The next holder of a host's lock removes what a dead holder left at once; other
    /// temp files (another inventory name's run, no lock) only once stale by mtime.
    #[test]
    fn a_lock_holder_removes_its_dead_predecessors_temps_at_once() {
        let dir = std::env::temp_dir().join(format!("tprov-temps-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let dest = format!("{}/conf", dir.display());
        let tag = lock_tag("sandbox3");
        assert_eq!(tag, lock_tag("sandbox3"), "stable across calls");
        assert_ne!(tag, lock_tag("sandbox4"));
        let dead = temp_beside(&dest, Some(&tag));
        let other = temp_beside(&dest, Some(&lock_tag("sandbox4")));
        let untagged = temp_beside(&dest, None);
        let old_link = temp_beside(&dest, None);
        for f in [&dead, &other, &untagged] {
            std::fs::write(f, "x").expect("temp");
        }
        std::os::unix::fs::symlink("/nowhere", &old_link).expect("link");
        let aged = std::process::Command::new("touch")
            .args(["-h", "-d", "-5 minutes", &old_link])
            .status()
            .expect("touch");
        assert!(aged.success());
        let run = |held: Option<&str>| {
            let ok = std::process::Command::new("sh")
                .args(["-c", &stale_temps_cleanup(&dest, held)])
                .status()
                .expect("sh");
            assert!(ok.success());
        };
        let exists = |p: &String| std::fs::symlink_metadata(p).is_ok();
        run(None);
        assert!(!exists(&old_link), "an aged temp link stays");
        assert!(exists(&dead) && exists(&other) && exists(&untagged));
        run(Some(&tag));
        assert!(!exists(&dead), "the dead holder's temp stays");
        assert!(
            exists(&other) && exists(&untagged),
            "a fresh foreign temp went"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
