//! Where vault passwords come from, in Ansible's order (`CLI.setup_vault_secrets`): the
//! configured identity list, then `--vault-id`, then each `--vault-password-file` and the
//! configured password file as `default@FILE`, then `--ask-vault-pass`. A source is a
//! file (its content, stripped), an executable (its stdout; a `*-client` script is given
//! `--vault-id ID`), or `prompt`. A source that fails is a warning while another one
//! works, as in Ansible.

use super::{Secret, decrypt_with, is_encrypted};
use crate::error::Error;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The vault options of a command line and its config.
#[derive(Debug, Default, Clone)]
pub(crate) struct Sources {
    /// `label@source` or `source` (ansible.cfg's `vault_identity_list` first).
    pub(crate) vault_ids: Vec<String>,
    pub(crate) password_files: Vec<PathBuf>,
    pub(crate) ask: bool,
}

const DEFAULT_ID: &str = "default";

fn default_id() -> String {
    std::env::var("ANSIBLE_VAULT_IDENTITY").unwrap_or_else(|_| DEFAULT_ID.into())
}

/// Reads every secret the sources name; warnings go to `warn`.
pub(crate) fn load(src: &Sources, warn: &mut dyn FnMut(String)) -> Result<Vec<Secret>, Error> {
    let default = default_id();
    let mut slugs = src.vault_ids.clone();
    slugs.extend(
        src.password_files
            .iter()
            .map(|f| format!("{default}@{}", f.display())),
    );
    if src.ask {
        slugs.push(format!("{default}@prompt_ask_vault_pass"));
    }
    let mut secrets: Vec<Secret> = Vec::new();
    let mut last_error = None;
    for slug in slugs {
        let (name, source) = match slug.split_once('@') {
            Some((n, s)) => (Some(n.to_string()), s.to_string()),
            None => (None, slug.clone()),
        };
        if source == "prompt" || source == "prompt_ask_vault_pass" {
            let id = name.clone().unwrap_or_else(|| default.clone());
            let prompt = if source == "prompt" {
                format!("Vault password ({id}): ")
            } else {
                "Vault password: ".into()
            };
            let bytes = ask(&prompt, &id)?;
            secrets.push(Secret::new(id, bytes));
            continue;
        }
        let label = name.clone().unwrap_or_else(|| "None".into());
        match from_file(Path::new(&source), name.as_deref(), &secrets) {
            Ok(bytes) => secrets.push(Secret::new(name.unwrap_or_else(|| default.clone()), bytes)),
            Err(e) => {
                warn(format!("Error getting vault password file ({label}): {e}"));
                last_error = Some(e);
            }
        }
    }
    if secrets.is_empty()
        && let Some(e) = last_error
    {
        return Err(Error::Refused(e));
    }
    Ok(secrets)
}

fn ask(prompt: &str, id: &str) -> Result<Vec<u8>, Error> {
    let pass = rpassword::prompt_password(prompt)
        .map_err(|_| Error::Usage(format!("EOFError (ctrl-d) on prompt for ({id})")))?;
    let pass = pass.trim();
    if pass.is_empty() {
        return Err(Error::Usage("Invalid vault password was provided".into()));
    }
    Ok(pass.as_bytes().to_vec())
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// A password from a file, or from the stdout of an executable one.
fn from_file(path: &Path, id: Option<&str>, known: &[Secret]) -> Result<Vec<u8>, String> {
    let abs = absolute(path);
    let meta = std::fs::metadata(&abs)
        .map_err(|_| format!("The vault password file {} was not found", abs.display()))?;
    if meta.is_dir() {
        return Err(format!(
            "The vault password file provided '{}' can not be a directory",
            abs.display()
        ));
    }
    if meta.permissions().mode() & 0o111 != 0 {
        return from_script(&abs, path, id);
    }
    let raw = std::fs::read(&abs)
        .map_err(|_| format!("Could not read vault password file '{}'.", abs.display()))?;
    let mut pass = raw.trim_ascii().to_vec();
    if is_encrypted(&pass) {
        pass = decrypt_with(&pass, known).map_err(|e| e.0)?.0;
    }
    let pass = trim_newlines(&pass);
    if pass.is_empty() {
        return Err(format!(
            "Invalid vault password was provided from file ({})",
            abs.display()
        ));
    }
    Ok(pass.to_vec())
}

fn trim_newlines(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !matches!(c, b'\r' | b'\n'))
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !matches!(c, b'\r' | b'\n'))
        .map_or(start, |i| i + 1);
    &b[start..end]
}

/// `*-client` scripts (the name before its extension ends so) get `--vault-id ID`.
fn is_client(path: &Path) -> bool {
    path.file_stem()
        .and_then(|s| s.to_str())
        .is_some_and(|s| s.ends_with("-client"))
}

fn from_script(abs: &Path, given: &Path, id: Option<&str>) -> Result<Vec<u8>, String> {
    let client = is_client(given);
    let mut cmd = std::process::Command::new(abs);
    if client && let Some(id) = id {
        cmd.args(["--vault-id", id]);
    }
    // A plain script's stderr stays the terminal's, so it can prompt.
    cmd.stdin(std::process::Stdio::inherit());
    if client {
        cmd.stderr(std::process::Stdio::piped());
    }
    let out = cmd.output().map_err(|e| {
        format!(
            "Problem running vault password {}script {} ({e}). If this is not a script, remove the executable bit from the file.",
            if client { "client " } else { "" },
            abs.display()
        )
    })?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let rc = out.status.code().unwrap_or(-1);
    if client && rc == 2 {
        return Err(format!(
            "Vault password client script {} did not find a secret for vault-id={}: {stderr}",
            abs.display(),
            id.unwrap_or("None")
        ));
    }
    if rc != 0 {
        return Err(if client {
            format!(
                "Vault password client script {} returned non-zero ({rc}) when getting secret for vault-id={}: {stderr}",
                abs.display(),
                id.unwrap_or("None")
            )
        } else {
            format!(
                "Vault password script {} returned non-zero ({rc}): None",
                abs.display()
            )
        });
    }
    let pass = trim_newlines(&out.stdout);
    if pass.is_empty() {
        return Err(format!(
            "Invalid vault password was provided from script ({})",
            abs.display()
        ));
    }
    Ok(pass.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_quiet(src: &Sources) -> (Result<Vec<Secret>, Error>, Vec<String>) {
        let mut warnings = Vec::new();
        let r = load(src, &mut |w| warnings.push(w));
        (r, warnings)
    }

    #[test]
    fn files_scripts_and_client_scripts_give_passwords_with_their_ids() {
        let dir = std::env::temp_dir().join(format!("tprov-vault-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pass");
        std::fs::write(&file, "  secret-one \r\n").unwrap();
        let script = dir.join("pass.sh");
        std::fs::write(&script, "#!/bin/sh\necho secret-two\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let client = dir.join("vault-client.sh");
        std::fs::write(
            &client,
            "#!/bin/sh\n[ \"$1\" = --vault-id ] && echo \"for-$2\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&client, std::fs::Permissions::from_mode(0o755)).unwrap();
        let src = Sources {
            vault_ids: vec![
                format!("dev@{}", script.display()),
                format!("prod@{}", client.display()),
                format!("gone@{}", dir.join("missing").display()),
            ],
            password_files: vec![file.clone()],
            ask: false,
        };
        let (r, warnings) = load_quiet(&src);
        let got: Vec<(String, Vec<u8>)> = r.unwrap().into_iter().map(|s| (s.id, s.bytes)).collect();
        assert_eq!(
            got,
            vec![
                ("dev".into(), b"secret-two".to_vec()),
                ("prod".into(), b"for-prod".to_vec()),
                ("default".into(), b"secret-one".to_vec()),
            ]
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0]
                .starts_with("Error getting vault password file (gone): The vault password file")
        );
        let only_missing = Sources {
            password_files: vec![dir.join("missing")],
            ..Sources::default()
        };
        assert!(load_quiet(&only_missing).0.is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
