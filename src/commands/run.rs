//! `tprov run`: one command on every selected host, in parallel, like `ansible -a`.

use super::{become_args, extra_vars, load_inventory, runtime, select_hosts, vars_query};
use crate::cli::RunCmd;
use crate::connect::{become_for, target};
use crate::context::Fleet;
use crate::error::{Error, exit};
use crate::output::Printer;
use crate::settings::Settings;
use crate::transport::{Connection, ExecOutput, TransportError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

enum Outcome {
    Done(ExecOutput),
    Failed(String),
    Unreachable(String),
}

pub(crate) fn run(cmd: &RunCmd, settings: &Settings, printer: &Printer) -> Result<u8, Error> {
    let inv = load_inventory(&cmd.inv, settings, printer)?;
    let pattern = cmd.inv.group.clone().unwrap_or_else(|| "all".into());
    let hosts = select_hosts(&inv, &pattern, cmd.inv.limit.as_deref(), printer)?;
    let q = vars_query(&inv, &cmd.inv);
    let fleet = Fleet::new(Arc::new(inv), q, extra_vars(&cmd.inv)?);
    let escalate = become_args(&cmd.connect)?;
    let mut settings = settings.clone();
    if let Some(t) = cmd.connect.timeout {
        settings.timeout = t;
    }
    let command = cmd.command.join(" ");
    // As a service user, the command sees that user's login environment (nvm's node and
    // pm2, which the fleet's users get from ~/.bashrc), as seed 000's `bash -ilc` does.
    let login = cmd.connect.become_user.is_some() && !cmd.no_login;
    let command = if login {
        format!("exec bash -ilc {}", crate::transport::sh_quote(&command))
    } else {
        command
    };
    let forks = cmd.connect.forks.unwrap_or(settings.forks).max(1);
    let command_timeout = cmd.command_timeout.map(Duration::from_secs);
    let rt = runtime()?;
    let (mut failed, mut unreachable) = (false, false);
    rt.block_on(async {
        let sem = Arc::new(Semaphore::new(forks));
        let mut set = tokio::task::JoinSet::new();
        for h in hosts {
            let name = fleet.inventory.host(h).name.clone();
            let prepared = target(&fleet, h, &settings)
                .and_then(|t| become_for(&fleet, h, &escalate).map(|b| (t, b)));
            let (sem, command) = (sem.clone(), command.clone());
            set.spawn(async move {
                let Ok(_permit) = sem.acquire_owned().await else {
                    return (name, Outcome::Failed("cancelled".into()));
                };
                let (t, b) = match prepared {
                    Ok(x) => x,
                    Err(e) => return (name, Outcome::Failed(e)),
                };
                let conn = match Connection::open(&t).await {
                    Ok(c) => c,
                    Err(e) => return (name, Outcome::Unreachable(e.to_string())),
                };
                let result = conn.exec(&command, None, b.as_ref(), command_timeout).await;
                conn.close().await;
                let outcome = match result {
                    Ok(out) => Outcome::Done(out),
                    Err(e @ (TransportError::Unreachable(_) | TransportError::Timeout(_))) => {
                        Outcome::Unreachable(e.to_string())
                    }
                    Err(e) => Outcome::Failed(e.to_string()),
                };
                (name, outcome)
            });
        }
        while let Some(joined) = set.join_next().await {
            let Ok((name, outcome)) = joined else {
                continue;
            };
            let block = match outcome {
                Outcome::Done(out) => {
                    let status = if out.ok() {
                        printer.paint("CHANGED", "33")
                    } else {
                        printer.paint("FAILED", "31")
                    };
                    failed |= !out.ok();
                    let mut text = format!(
                        "{name} | {status} | rc={} >>\n{}",
                        out.rc(),
                        out.stdout_str()
                    );
                    let stderr = out.stderr_str();
                    let stderr = if login {
                        without_job_control_notes(&stderr)
                    } else {
                        &stderr
                    };
                    text.push_str(stderr);
                    if !text.ends_with('\n') {
                        text.push('\n');
                    }
                    text
                }
                Outcome::Failed(msg) => {
                    failed = true;
                    format!("{name} | {} => {msg}\n", printer.paint("FAILED!", "31"))
                }
                Outcome::Unreachable(msg) => {
                    unreachable = true;
                    format!(
                        "{name} | {} => {msg}\n",
                        printer.paint("UNREACHABLE!", "31")
                    )
                }
            };
            printer.out(&block);
        }
    });
    Ok(if unreachable {
        exit::UNREACHABLE
    } else if failed {
        exit::HOST_FAILED
    } else {
        exit::OK
    })
}

/// bash started interactive without a terminal says so on its first two stderr lines;
/// they are noise here (no job control is wanted), so they go.
fn without_job_control_notes(stderr: &str) -> &str {
    let mut rest = stderr;
    for prefix in [
        "bash: cannot set terminal process group",
        "bash: no job control in this shell",
    ] {
        if rest.starts_with(prefix) {
            rest = rest.find('\n').map_or("", |i| &rest[i + 1..]);
        }
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::without_job_control_notes;

    #[test]
    fn job_control_notes_go_and_nothing_else() {
        let err = "bash: cannot set terminal process group (-1): Inappropriate ioctl for device\nbash: no job control in this shell\nreal error\n";
        assert_eq!(without_job_control_notes(err), "real error\n");
        assert_eq!(without_job_control_notes("real error\n"), "real error\n");
        assert_eq!(
            without_job_control_notes("x\nbash: no job control in this shell\n"),
            "x\nbash: no job control in this shell\n"
        );
    }
}
