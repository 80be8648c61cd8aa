//! Become with sudo: the command line, and the prompt dance when a password is needed.
//! The password only ever travels on the channel's stdin, after sudo asked for it: it
//! is never on a command line, in a log or in an error.

use std::fmt;

#[derive(Clone)]
pub struct Become {
    pub user: String,
    pub password: Option<String>,
}

impl fmt::Debug for Become {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Become")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "********"))
            .finish()
    }
}

/// The markers one become invocation uses.
pub struct Markers {
    pub prompt: String,
    pub success: String,
}

impl Markers {
    pub fn new() -> Markers {
        let id = super::rand_u64();
        Markers {
            prompt: format!("[tprov-become-{id:016x}] password:"),
            success: format!("BECOME-SUCCESS-{id:016x}"),
        }
    }
}

/// The full remote command line for `command` run as `escalate` (or as the login user).
pub(super) fn command_line(command: &str, escalate: Option<&Become>, markers: &Markers) -> String {
    let sh = format!("/bin/sh -c {}", super::sh_quote(command));
    match escalate {
        None => sh,
        Some(b) => {
            // Start in the target user's home: the login user's cwd may be unreadable to
            // it (a daemon started from there fails with EACCES).
            let inner = format!(
                "cd \"$HOME\" 2>/dev/null || cd /; echo {}; {command}",
                markers.success
            );
            let inner = format!("/bin/sh -c {}", super::sh_quote(&inner));
            match &b.password {
                Some(_) => format!(
                    "sudo -H -S -p {} -u {} -- {inner}",
                    super::sh_quote(&markers.prompt),
                    super::sh_quote(&b.user)
                ),
                None => format!("sudo -H -S -n -u {} -- {inner}", super::sh_quote(&b.user)),
            }
        }
    }
}

/// Interprets sudo's stderr when become did not succeed.
pub(super) fn failure(stderr: &str, user: &str) -> String {
    if stderr.contains("a password is required") || stderr.contains("a terminal is required") {
        format!(
            "sudo to {user} needs a password: run with -K / --ask-become-pass, or set ansible_become_password"
        )
    } else if stderr.contains("incorrect password") || stderr.contains("Sorry, try again") {
        format!("incorrect sudo password for becoming {user}")
    } else if stderr.contains("is not in the sudoers file") || stderr.contains("is not allowed") {
        format!(
            "not allowed to sudo to {user}: {}",
            stderr
                .lines()
                .find(|l| l.contains("sudoers") || l.contains("allowed"))
                .unwrap_or_default()
                .trim()
        )
    } else if stderr.contains("unknown user") {
        format!("sudo: unknown user {user}")
    } else {
        format!("sudo to {user} failed: {}", stderr.trim())
    }
}
