//! Running on the controller itself (`ansible_connection=local`).

use super::sudo::{Become, Markers, command_line, failure};
use super::{ExecOutput, TransportError};
use tokio::io::AsyncWriteExt;

pub struct LocalConnection {
    user: String,
    /// Processes kept running as long as the connection (the run lock's).
    held: tokio::sync::Mutex<Vec<tokio::process::Child>>,
    /// The tag of the run lock this connection holds (see `Connection::lock`).
    pub(super) lock_tag: std::sync::OnceLock<String>,
}

impl Default for LocalConnection {
    fn default() -> Self {
        Self::new()
    }
}

/// How long output may still come once the command has exited: a process it left in
/// the background holds the pipes, and is not waited for (as Ansible's run_command).
pub(super) const AFTER_EXIT: std::time::Duration = std::time::Duration::from_secs(1);

/// The exit status and output of `child`, reading both pipes as they fill.
async fn collect(mut child: tokio::process::Child) -> Result<ExecOutput, TransportError> {
    use tokio::io::AsyncReadExt;
    let io = |e: std::io::Error| TransportError::Failed(e.to_string());
    let mut out = ExecOutput::default();
    let (mut so, mut se) = (child.stdout.take(), child.stderr.take());
    let (mut b1, mut b2) = (vec![0u8; 8192], vec![0u8; 8192]);
    let mut exited = false;
    loop {
        if so.is_none() && se.is_none() && exited {
            break;
        }
        let idle = tokio::time::sleep(if exited {
            AFTER_EXIT
        } else {
            std::time::Duration::MAX / 4
        });
        tokio::select! {
            n = async { so.as_mut()?.read(&mut b1).await.ok() }, if so.is_some() => match n {
                Some(n) if n > 0 => out.stdout.extend_from_slice(&b1[..n]),
                _ => so = None,
            },
            n = async { se.as_mut()?.read(&mut b2).await.ok() }, if se.is_some() => match n {
                Some(n) if n > 0 => out.stderr.extend_from_slice(&b2[..n]),
                _ => se = None,
            },
            st = child.wait(), if !exited => {
                exited = true;
                out.status = st.map_err(io)?.code().and_then(|c| u32::try_from(c).ok());
            }
            () = idle => break,
        }
    }
    if !exited {
        out.status = child
            .wait()
            .await
            .map_err(io)?
            .code()
            .and_then(|c| u32::try_from(c).ok());
    }
    Ok(out)
}

impl LocalConnection {
    pub fn new() -> LocalConnection {
        let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        LocalConnection {
            user,
            held: tokio::sync::Mutex::new(Vec::new()),
            lock_tag: std::sync::OnceLock::new(),
        }
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    /// Runs `command` in a process kept running as long as the connection (its stdin
    /// stays open): what it printed up to `marker`, or all of it when it ended first.
    pub async fn hold(&self, command: &str, marker: &str) -> Result<ExecOutput, TransportError> {
        use tokio::io::AsyncReadExt;
        let mut child = tokio::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(command)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| TransportError::Failed(format!("cannot run /bin/sh: {e}")))?;
        let mut out = ExecOutput::default();
        if let Some(mut stdout) = child.stdout.take() {
            let mut buf = [0u8; 4096];
            loop {
                let n = stdout
                    .read(&mut buf)
                    .await
                    .map_err(|e| TransportError::Failed(e.to_string()))?;
                if n == 0 {
                    break;
                }
                out.stdout.extend_from_slice(&buf[..n]);
                if String::from_utf8_lossy(&out.stdout).contains(marker) {
                    self.held.lock().await.push(child);
                    return Ok(out);
                }
            }
        }
        out.status = child
            .wait()
            .await
            .ok()
            .and_then(|s| s.code())
            .and_then(|c| u32::try_from(c).ok());
        Ok(out)
    }

    pub async fn exec(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
        escalate: Option<&Become>,
    ) -> Result<ExecOutput, TransportError> {
        let markers = Markers::new();
        let line = command_line(command, escalate, &markers);
        let mut child = tokio::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&line)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| TransportError::Failed(format!("cannot run a local shell: {e}")))?;
        if let Some(mut input) = child.stdin.take() {
            if let Some(b) = escalate.filter(|b| b.password.is_some()) {
                let _ = input
                    .write_all(
                        format!("{}\n", b.password.as_deref().unwrap_or_default()).as_bytes(),
                    )
                    .await;
            }
            if let Some(data) = stdin {
                input
                    .write_all(data)
                    .await
                    .map_err(|e| TransportError::Failed(format!("writing stdin: {e}")))?;
            }
        }
        let mut result = collect(child).await?;
        if let Some(b) = escalate
            && !strip_marker(&mut result, &markers)
        {
            return Err(TransportError::Become(failure(
                &result.stderr_str(),
                &b.user,
            )));
        }
        Ok(result)
    }
}

/// Removes the escalate success line; false when it never came (sudo failed).
pub fn strip_marker(out: &mut ExecOutput, markers: &Markers) -> bool {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let Some(i) = text.find(&markers.success) else {
        return false;
    };
    let after = i + markers.success.len();
    let after = if text[after..].starts_with('\n') {
        after + 1
    } else {
        after
    };
    out.stdout = out.stdout[after..].to_vec();
    let prompt = markers.prompt.as_str();
    let stderr = String::from_utf8_lossy(&out.stderr).replace(prompt, "");
    out.stderr = stderr.into_bytes();
    true
}
