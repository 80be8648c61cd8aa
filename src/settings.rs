//! Project settings: `tprov.toml`, or the supported keys of an existing `ansible.cfg`,
//! merged under the command line. Paths in a config file are relative to its directory.

use crate::error::Error;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConfig {
    /// Default inventory sources.
    #[serde(default)]
    pub inventory: Vec<PathBuf>,
    pub forks: Option<usize>,
    pub remote_user: Option<String>,
    pub private_key_file: Option<PathBuf>,
    pub known_hosts: Option<PathBuf>,
    pub host_key_checking: Option<bool>,
    pub timeout: Option<u64>,
    /// Ansible's `vault_password_file`.
    pub vault_password_file: Option<PathBuf>,
    /// Ansible's `vault_identity_list`: `label@source` entries.
    #[serde(default)]
    pub vault_identity_list: Vec<String>,
    /// Ansible's fact cache: `fact_caching` (memory or jsonfile), its
    /// `fact_caching_connection` directory, `fact_caching_prefix`, `fact_caching_timeout`.
    pub fact_caching: Option<String>,
    pub fact_caching_connection: Option<PathBuf>,
    pub fact_caching_prefix: Option<String>,
    pub fact_caching_timeout: Option<u64>,
}

#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub inventory: Vec<PathBuf>,
    pub forks: usize,
    pub remote_user: Option<String>,
    pub private_key_file: Option<PathBuf>,
    pub known_hosts: Option<PathBuf>,
    pub host_key_checking: bool,
    pub timeout: u64,
    pub vault_password_file: Option<PathBuf>,
    pub vault_identity_list: Vec<String>,
    pub fact_caching: Option<String>,
    pub fact_caching_connection: Option<PathBuf>,
    pub fact_caching_prefix: Option<String>,
    pub fact_caching_timeout: Option<u64>,
}

/// An `ANSIBLE_*` variable when set and not empty.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Settings {
    /// Reads the project config from the current directory (or `TPROV_CONFIG`).
    pub(crate) fn load() -> Result<Settings, Error> {
        let cwd = std::env::current_dir()
            .map_err(|e| Error::Internal(format!("cannot read the current directory: {e}")))?;
        let cfg = find_config(&cwd)?;
        Ok(Settings {
            inventory: cfg.inventory,
            forks: cfg.forks.unwrap_or(50),
            remote_user: cfg.remote_user,
            private_key_file: cfg.private_key_file,
            known_hosts: cfg.known_hosts,
            host_key_checking: cfg.host_key_checking.unwrap_or(true),
            timeout: cfg.timeout.unwrap_or(10),
            vault_password_file: std::env::var_os("ANSIBLE_VAULT_PASSWORD_FILE")
                .map(PathBuf::from)
                .or(cfg.vault_password_file),
            vault_identity_list: match std::env::var("ANSIBLE_VAULT_IDENTITY_LIST") {
                Ok(list) => comma_list(&list),
                Err(_) => cfg.vault_identity_list,
            },
            fact_caching: env("ANSIBLE_CACHE_PLUGIN").or(cfg.fact_caching),
            fact_caching_connection: env("ANSIBLE_CACHE_PLUGIN_CONNECTION")
                .map(|p| cwd.join(expand_home(&p)))
                .or(cfg.fact_caching_connection),
            fact_caching_prefix: env("ANSIBLE_CACHE_PLUGIN_PREFIX").or(cfg.fact_caching_prefix),
            fact_caching_timeout: env("ANSIBLE_CACHE_PLUGIN_TIMEOUT")
                .and_then(|t| t.parse().ok())
                .or(cfg.fact_caching_timeout),
        })
    }

    /// Where this run's vault passwords come from: the config's identities before the
    /// command line's, the command line's password files before the config's (Ansible's
    /// order).
    pub(crate) fn vault_sources(&self, cli: &crate::cli::VaultArgs) -> crate::vault::Sources {
        let mut vault_ids = self.vault_identity_list.clone();
        vault_ids.extend(cli.vault_ids.iter().cloned());
        let mut password_files = cli.password_files.clone();
        password_files.extend(self.vault_password_file.iter().cloned());
        crate::vault::Sources {
            vault_ids,
            password_files,
            ask: cli.ask_vault_pass,
        }
    }

    /// The inventory sources: the command line's, else the config's.
    pub(crate) fn inventory_sources(&self, cli: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
        if !cli.is_empty() {
            return Ok(cli.to_vec());
        }
        if !self.inventory.is_empty() {
            return Ok(self.inventory.clone());
        }
        Err(Error::Usage("no inventory given: pass -i INVENTORY, or set `inventory` in tprov.toml or ansible.cfg".into()))
    }
}

fn comma_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect()
}

fn find_config(cwd: &Path) -> Result<FileConfig, Error> {
    if let Ok(p) = std::env::var("TPROV_CONFIG") {
        let p = PathBuf::from(p);
        return read_toml(&p);
    }
    let toml_path = cwd.join("tprov.toml");
    if toml_path.is_file() {
        return read_toml(&toml_path);
    }
    let ansible =
        std::env::var("ANSIBLE_CONFIG").map_or_else(|_| cwd.join("ansible.cfg"), PathBuf::from);
    if ansible.is_file() {
        return read_ansible_cfg(&ansible);
    }
    Ok(FileConfig::default())
}

/// `~/x` under the home directory, as Ansible's path options are expanded.
fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(p),
    }
}

fn relative_to(file: &Path, p: PathBuf) -> PathBuf {
    if p.is_absolute() {
        p
    } else {
        file.parent().unwrap_or(Path::new(".")).join(p)
    }
}

fn read_toml(path: &Path) -> Result<FileConfig, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Usage(format!("cannot read {}: {e}", path.display())))?;
    let mut cfg: FileConfig = toml::from_str(&text).map_err(|e| {
        let (line, col) = e.span().map_or((0, 0), |s| {
            let before = &text[..s.start.min(text.len())];
            (
                before.matches('\n').count() + 1,
                before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1,
            )
        });
        Error::User(vec![crate::source::Diagnostic::error(
            crate::source::Origin::new(
                &std::sync::Arc::from(path),
                crate::source::Pos::new(line, col),
            ),
            e.message().to_string(),
        )])
    })?;
    cfg.inventory = cfg
        .inventory
        .into_iter()
        .map(|p| relative_to(path, p))
        .collect();
    cfg.private_key_file = cfg.private_key_file.map(|p| relative_to(path, p));
    cfg.known_hosts = cfg.known_hosts.map(|p| relative_to(path, p));
    cfg.vault_password_file = cfg.vault_password_file.map(|p| relative_to(path, p));
    cfg.fact_caching_connection = cfg.fact_caching_connection.map(|p| relative_to(path, p));
    Ok(cfg)
}

/// The `[defaults]` keys of ansible.cfg that tprov honours.
fn read_ansible_cfg(path: &Path) -> Result<FileConfig, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Usage(format!("cannot read {}: {e}", path.display())))?;
    let mut cfg = FileConfig::default();
    let mut section = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.trim().to_string();
            continue;
        }
        let Some((k, v)) = line.split_once(['=', ':']) else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        match (section.as_str(), k) {
            ("defaults", "inventory") => {
                cfg.inventory = v
                    .split(',')
                    .map(|p| relative_to(path, PathBuf::from(p.trim())))
                    .collect();
            }
            ("defaults", "forks") => cfg.forks = v.parse().ok(),
            ("defaults", "remote_user") => cfg.remote_user = Some(v.to_string()),
            ("defaults", "private_key_file") => {
                cfg.private_key_file = Some(relative_to(path, PathBuf::from(v)));
            }
            ("defaults", "host_key_checking") => {
                cfg.host_key_checking = Some(matches!(
                    v.to_lowercase().as_str(),
                    "true" | "yes" | "1" | "on"
                ));
            }
            ("defaults", "timeout") => cfg.timeout = v.parse().ok(),
            ("defaults", "vault_password_file") => {
                cfg.vault_password_file = Some(relative_to(path, PathBuf::from(v)));
            }
            ("defaults", "vault_identity_list") => cfg.vault_identity_list = comma_list(v),
            ("defaults", "fact_caching") => cfg.fact_caching = Some(v.to_string()),
            ("defaults", "fact_caching_connection") => {
                cfg.fact_caching_connection = Some(relative_to(path, expand_home(v)));
            }
            ("defaults", "fact_caching_prefix") => cfg.fact_caching_prefix = Some(v.to_string()),
            ("defaults", "fact_caching_timeout") => cfg.fact_caching_timeout = v.parse().ok(),
            _ => {}
        }
    }
    Ok(cfg)
}
