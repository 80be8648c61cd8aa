//! Where and how to connect to a host: Ansible's connection vars (`ansible_host`,
//! `ansible_port`, `ansible_user`, `ansible_ssh_private_key_file`,
//! `ansible_ssh_common_args`, `ansible_connection`), then `~/.ssh/config`, then the
//! project settings, then OpenSSH's defaults.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrictHostKeys {
    /// Refuse unknown and changed keys (OpenSSH `yes`; the default).
    Yes,
    /// Record unknown keys, refuse changed ones (OpenSSH `accept-new`).
    AcceptNew,
    /// Accept anything (OpenSSH `no`): only for throwaway hosts.
    No,
}

#[derive(Debug, Clone)]
pub struct Target {
    /// The inventory name.
    pub name: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub identity_files: Vec<PathBuf>,
    pub known_hosts: Vec<PathBuf>,
    pub strict: StrictHostKeys,
    pub connect_timeout: Duration,
    /// OpenSSH's `ServerAliveInterval` and `ServerAliveCountMax`: a host that answers
    /// no keepalive for interval x count is unreachable (10 s x 3 unless set).
    pub alive_interval: Duration,
    pub alive_count_max: usize,
    /// `ansible_connection=local`: run on the controller itself.
    pub local: bool,
    /// OpenSSH `ProxyJump`: `[user@]host[:port]` hops, comma-separated, first hop first.
    pub proxy_jump: Option<String>,
}

impl Target {
    pub fn new(name: &str) -> Target {
        let home = std::env::var("HOME").map_or_else(|_| PathBuf::from("/root"), PathBuf::from);
        Target {
            name: name.to_string(),
            host: name.to_string(),
            port: 22,
            user: std::env::var("USER").unwrap_or_else(|_| "root".into()),
            identity_files: ["id_ed25519", "id_ecdsa", "id_rsa"]
                .iter()
                .map(|f| home.join(".ssh").join(f))
                .collect(),
            known_hosts: vec![
                home.join(".ssh/known_hosts"),
                PathBuf::from("/etc/ssh/ssh_known_hosts"),
            ],
            strict: StrictHostKeys::Yes,
            connect_timeout: Duration::from_secs(10),
            alive_interval: Duration::from_secs(10),
            alive_count_max: 3,
            local: false,
            proxy_jump: None,
        }
    }

    /// The `ProxyJump` hops as targets, first hop first. Each takes this target's key
    /// files, known_hosts and host key policy, then its own `~/.ssh/config` block
    /// (except `ProxyJump`: the chain is the one given), then the user and port written
    /// in the hop.
    pub fn jump_targets(&self) -> Vec<Target> {
        let Some(spec) = self.proxy_jump.as_deref() else {
            return Vec::new();
        };
        if spec.eq_ignore_ascii_case("none") {
            return Vec::new();
        }
        let config = std::env::var("HOME")
            .map_or_else(|_| PathBuf::from("/root"), PathBuf::from)
            .join(".ssh/config");
        spec.split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(|hop| {
                let hop = hop.strip_prefix("ssh://").unwrap_or(hop);
                let (user, hostport) = match hop.rsplit_once('@') {
                    Some((u, h)) => (Some(u), h),
                    None => (None, hop),
                };
                let (host, port) = split_host_port(hostport);
                let mut t = Target {
                    name: host.to_string(),
                    host: host.to_string(),
                    proxy_jump: None,
                    ..self.clone()
                };
                t.port = 22;
                t.user = Target::new(host).user;
                for (k, v) in super::ssh_config::options_for(&config, host) {
                    if k != "proxyjump" {
                        t.apply_option(&k, &v);
                    }
                }
                if let Some(u) = user {
                    t.user = u.to_string();
                }
                if let Some(p) = port {
                    t.port = p;
                }
                t
            })
            .collect()
    }

    /// Applies OpenSSH `-o Key=Value` options found in `ansible_ssh_common_args` /
    /// `ansible_ssh_extra_args` (UserKnownHostsFile, StrictHostKeyChecking, Port, User,
    /// IdentityFile, ConnectTimeout).
    pub fn apply_ssh_args(&mut self, args: &str) {
        let words = crate::inventory::split_words(args);
        let mut i = 0;
        while i < words.len() {
            let w = &words[i];
            let opt = if w == "-o" {
                i += 1;
                words.get(i).cloned()
            } else {
                w.strip_prefix("-o").map(str::to_string)
            };
            if let Some(opt) = opt {
                let (k, v) = opt
                    .split_once('=')
                    .or_else(|| opt.split_once(' '))
                    .unwrap_or((&opt, ""));
                self.apply_option(k.trim(), v.trim());
            } else if w == "-p" {
                i += 1;
                if let Some(p) = words.get(i).and_then(|p| p.parse().ok()) {
                    self.port = p;
                }
            } else if w == "-i" {
                i += 1;
                if let Some(f) = words.get(i) {
                    self.identity_files.insert(0, PathBuf::from(f));
                }
            }
            i += 1;
        }
    }

    pub fn apply_option(&mut self, key: &str, value: &str) {
        match key.to_lowercase().as_str() {
            "userknownhostsfile" => {
                self.known_hosts = value.split_whitespace().map(expand_tilde).collect();
            }
            "stricthostkeychecking" => {
                self.strict = match value.to_lowercase().as_str() {
                    "no" | "off" => StrictHostKeys::No,
                    "accept-new" => StrictHostKeys::AcceptNew,
                    _ => StrictHostKeys::Yes,
                }
            }
            "port" => {
                if let Ok(p) = value.parse() {
                    self.port = p;
                }
            }
            "user" => self.user = value.to_string(),
            "identityfile" => self.identity_files.insert(0, expand_tilde(value)),
            "hostname" => self.host = value.to_string(),
            "proxyjump" => self.proxy_jump = Some(value.to_string()),
            "connecttimeout" => {
                if let Ok(s) = value.parse() {
                    self.connect_timeout = Duration::from_secs(s);
                }
            }
            // 0 turns keepalives off in OpenSSH; a run must still end, so it keeps ours.
            "serveraliveinterval" => {
                if let Ok(s) = value.parse::<u64>()
                    && s > 0
                {
                    self.alive_interval = Duration::from_secs(s);
                }
            }
            "serveralivecountmax" => {
                if let Ok(n) = value.parse::<usize>()
                    && n > 0
                {
                    self.alive_count_max = n;
                }
            }
            _ => {}
        }
    }
}

/// `host`, `host:port`, `[v6]:port`.
fn split_host_port(s: &str) -> (&str, Option<u16>) {
    if let Some(rest) = s.strip_prefix('[')
        && let Some((h, tail)) = rest.split_once(']')
    {
        return (h, tail.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, p.parse().ok()),
        _ => (s, None),
    }
}

pub fn expand_tilde(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(p),
    }
}
