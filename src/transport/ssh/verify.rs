//! The server's host key, checked against known_hosts.

use super::super::TransportError;
use super::super::known_hosts::{self, Verdict};
use super::super::target::{StrictHostKeys, Target};
use russh::client;
use russh::keys::PublicKey;
use std::sync::{Arc, Mutex};

/// Verifies the server's key and remembers why it refused one.
pub(super) struct Verifier {
    pub(super) target: Arc<Target>,
    pub(super) problem: Arc<Mutex<Option<TransportError>>>,
    /// What the user should hear about the connection (a key added to known_hosts).
    pub(super) notes: Arc<Mutex<Vec<String>>>,
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
