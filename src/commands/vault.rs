//! `tprov vault`: ansible-vault's actions on files and strings, writing what
//! ansible-vault writes (so either tool reads the other's files). Files are replaced
//! atomically: a crash leaves the old file or the new one, never a torn one.

use crate::cli::{EncryptId, VaultAction, VaultCmd};
use crate::error::Error;
use crate::output::Printer;
use crate::vault::{self, Secret};
use std::io::{IsTerminal, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub(crate) fn run(cmd: &VaultCmd, printer: &Printer) -> Result<u8, Error> {
    let tty = std::io::stdout().is_terminal();
    let done = |what: &str| {
        if tty {
            printer.err(&format!("{what} successful\n"));
        }
    };
    match &cmd.action {
        VaultAction::Encrypt { files, output, id } => {
            check_output(files.len(), output.as_ref())?;
            let (secret, id) = encrypting(id)?;
            for f in inputs(files) {
                let plain = read(&f)?;
                let text = vault::encrypt(&plain, secret, Some(&id)).map_err(fail)?;
                write(text.as_bytes(), output.as_deref().unwrap_or(&f), 0o600)?;
            }
            done("Encryption");
        }
        VaultAction::Decrypt { files, output } => {
            check_output(files.len(), output.as_ref())?;
            let secrets = opening()?;
            for f in inputs(files) {
                let text = read(&f)?;
                let plain = vault::decrypt_with(&text, secrets)
                    .map_err(|e| fail(format!("{e} for {}", f.display())))?
                    .0;
                write(&plain, output.as_deref().unwrap_or(&f), 0o600)?;
            }
            done("Decryption");
        }
        VaultAction::View { files } => {
            let secrets = opening()?;
            let mut out = std::io::stdout().lock();
            for f in files {
                let plain = vault::decrypt_with(&read(f)?, secrets)
                    .map_err(|e| fail(format!("{e} for {}", f.display())))?
                    .0;
                out.write_all(&plain)
                    .map_err(|e| Error::Internal(format!("cannot write to stdout: {e}")))?;
            }
        }
        VaultAction::Edit { files } => {
            let secrets = opening()?;
            for f in files {
                let text = read(f)?;
                let (plain, used) = vault::decrypt_with(&text, secrets)
                    .map_err(|e| fail(format!("{e} for {}", f.display())))?;
                let secret = secrets.iter().find(|s| s.id == used).unwrap_or(&secrets[0]);
                let id = vault::vault_id_of(&text);
                edit(f, Some(&plain), secret, id.as_deref())?;
            }
        }
        VaultAction::Create {
            file,
            id,
            skip_tty_check,
        } => {
            if !tty && !skip_tty_check {
                return Err(Error::Usage("not a tty, editor cannot be opened".into()));
            }
            if file.is_file() {
                return Err(fail(format!(
                    "{} exists, please use 'edit' instead",
                    file.display()
                )));
            }
            let (secret, id) = encrypting(id)?;
            if let Some(dir) = file
                .parent()
                .filter(|d| !d.as_os_str().is_empty() && !d.exists())
            {
                printer.warn(&format!("{} does not exist, creating...", dir.display()));
                std::fs::create_dir_all(dir)
                    .map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
            }
            edit(file, None, secret, Some(&id))?;
        }
        VaultAction::EncryptString {
            strings,
            names,
            stdin_name,
            prompt,
            show_input,
            output,
            id,
        } => {
            let from_stdin = strings.iter().any(|s| s == "-")
                || stdin_name.is_some()
                || (strings.is_empty() && !prompt);
            if *prompt && from_stdin {
                return Err(Error::Usage(
                    "The --prompt option is not supported if also reading input from stdin".into(),
                ));
            }
            let (secret, id) = encrypting(id)?;
            let mut items: Vec<(Vec<u8>, &str, Option<String>)> = Vec::new();
            if *prompt {
                let name = ask_line("Variable name (enter for no name): ")?;
                let text = if *show_input {
                    ask_line("String to encrypt:")?
                } else {
                    rpassword::prompt_password("String to encrypt (hidden): ")
                        .map_err(|e| Error::Usage(format!("cannot read the string: {e}")))?
                };
                if text.is_empty() {
                    return Err(Error::Usage(
                        "The plaintext provided from the prompt was empty, not encrypting".into(),
                    ));
                }
                items.push((
                    text.into_bytes(),
                    "the interactive prompt",
                    (!name.is_empty()).then_some(name),
                ));
            }
            if from_stdin {
                let mut buf = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut buf)
                    .map_err(|e| fail(format!("cannot read stdin: {e}")))?;
                if buf.is_empty() {
                    return Err(Error::Usage("stdin was empty, not encrypting".into()));
                }
                items.push((buf, "stdin", stdin_name.clone()));
            }
            let args: Vec<&String> = strings.iter().filter(|s| *s != "-").collect();
            if !names.is_empty() && args.len() > names.len() {
                printer.err("The number of --name options do not match the number of args.\n");
                printer.err(&format!(
                    "The last named variable will be \"{}\". The rest will not have names.\n",
                    names[names.len() - 1]
                ));
            }
            for (i, s) in args.into_iter().enumerate() {
                if s.is_empty() {
                    return Err(Error::Usage(
                        "The plaintext provided from the command line args was empty, not encrypting"
                            .into(),
                    ));
                }
                items.push((
                    s.clone().into_bytes(),
                    "the command line args",
                    names.get(i).cloned(),
                ));
            }
            let many = items.len() > 1;
            let mut out = Vec::new();
            for (i, (plain, from, name)) in items.iter().enumerate() {
                let text = vault::encrypt(plain, secret, Some(&id)).map_err(fail)?;
                if many {
                    printer.err(&match name {
                        Some(n) => format!(
                            "# The encrypted version of variable (\"{n}\", the string #{} from {from}).\n",
                            i + 1
                        ),
                        None => format!(
                            "# The encrypted version of the string #{} from {from}.)\n",
                            i + 1
                        ),
                    });
                }
                out.push(yaml_block(&text, name.as_deref()));
            }
            out.push(String::new());
            let data = out.join("\n");
            match output {
                Some(p) if p.as_os_str() != "-" => write(data.as_bytes(), p, 0o600)?,
                _ => printer.out(&data),
            }
            done("Encryption");
        }
        VaultAction::Rekey {
            files,
            new_vault_id,
            new_vault_password_file,
            id,
        } => {
            let secrets = opening()?;
            let sources = vault::Sources {
                vault_ids: new_vault_id.iter().cloned().collect(),
                password_files: new_vault_password_file.iter().cloned().collect(),
                ask: false,
            };
            let mut new = vault::load(&sources, &mut |w| printer.warn(&w))?;
            if new.is_empty() {
                new.push(Secret::new("default", new_password()?));
            }
            let encrypt_id = id.resolved();
            let secret = vault::encrypt_secret(&new, encrypt_id.as_deref()).map_err(fail)?;
            for f in files {
                let meta = std::fs::metadata(f).map_err(|e| {
                    fail(format!("Unable to read source file ({}): {e}", f.display()))
                })?;
                let (plain, _) = vault::decrypt_with(&read(f)?, secrets)
                    .map_err(|e| fail(format!("{e} for {}", f.display())))?;
                let text = vault::encrypt(&plain, secret, Some(&secret.id)).map_err(fail)?;
                write(text.as_bytes(), f, meta.permissions().mode() & 0o7777)?;
                let _ = std::os::unix::fs::chown(f, Some(meta.uid()), Some(meta.gid()));
            }
            printer.err("Rekey successful\n");
        }
    }
    Ok(0)
}

impl EncryptId {
    /// `--encrypt-vault-id`, else Ansible's `ANSIBLE_VAULT_ENCRYPT_IDENTITY`.
    fn resolved(&self) -> Option<String> {
        self.encrypt_vault_id
            .clone()
            .or_else(|| std::env::var("ANSIBLE_VAULT_ENCRYPT_IDENTITY").ok())
    }
}

fn fail(e: impl std::fmt::Display) -> Error {
    Error::Refused(e.to_string())
}

fn check_output(inputs: usize, output: Option<&PathBuf>) -> Result<(), Error> {
    if output.is_some() && inputs > 1 {
        return Err(Error::Usage(
            "At most one input file may be used with the --output option".into(),
        ));
    }
    Ok(())
}

/// The files to act on; none means stdin (`-`).
fn inputs(files: &[PathBuf]) -> Vec<PathBuf> {
    if files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        files.to_vec()
    }
}

fn read(f: &Path) -> Result<Vec<u8>, Error> {
    let mut buf = Vec::new();
    let r = if f.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut buf).map(|_| ())
    } else {
        std::fs::read(f).map(|b| buf = b)
    };
    r.map_err(|e| fail(format!("Unable to read source file ({}): {e}", f.display())))?;
    Ok(buf)
}

/// Writes `data` to `f` (stdout for `-`) through a temporary file beside it, renamed
/// over it.
fn write(data: &[u8], f: &Path, mode: u32) -> Result<(), Error> {
    if f.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        return out
            .write_all(data)
            .and_then(|()| out.flush())
            .map_err(|e| Error::Internal(format!("cannot write to stdout: {e}")));
    }
    let real = std::fs::canonicalize(f).unwrap_or_else(|_| f.to_path_buf());
    let dir = match real.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = real
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tprov-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(data)?;
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        file.sync_all()?;
        std::fs::rename(&tmp, &real)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(format!("Destination '{}' not writable: {e}", dir.display()))
    })
}

/// The secret (and its id) to encrypt with: `--encrypt-vault-id`'s, else the only one
/// given, else one asked for.
fn encrypting(id: &EncryptId) -> Result<(&'static Secret, String), Error> {
    static ASKED: std::sync::OnceLock<Vec<Secret>> = std::sync::OnceLock::new();
    let mut secrets = vault::secrets();
    if secrets.is_empty() {
        let pass = new_password()?;
        secrets = ASKED.get_or_init(|| vec![Secret::new("default", pass)]);
    }
    let encrypt_id = id.resolved();
    if secrets.len() > 1 && encrypt_id.is_none() {
        let ids: Vec<&str> = secrets.iter().map(|s| s.id.as_str()).collect();
        return Err(Error::Usage(format!(
            "The vault-ids {} are available to encrypt. Specify the vault-id to encrypt with --encrypt-vault-id",
            ids.join(",")
        )));
    }
    let secret = vault::encrypt_secret(secrets, encrypt_id.as_deref()).map_err(fail)?;
    Ok((secret, secret.id.clone()))
}

/// The secrets to decrypt with: the command line's, else one asked for.
fn opening() -> Result<&'static [Secret], Error> {
    static ASKED: std::sync::OnceLock<Vec<Secret>> = std::sync::OnceLock::new();
    let secrets = vault::secrets();
    if !secrets.is_empty() {
        return Ok(secrets);
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(
            "A vault password is required to use Ansible's Vault".into(),
        ));
    }
    let pass = rpassword::prompt_password("Vault password: ")
        .map_err(|_| Error::Usage("EOFError (ctrl-d) on prompt for (default)".into()))?;
    let pass = pass.trim().as_bytes().to_vec();
    if pass.is_empty() {
        return Err(Error::Usage("Invalid vault password was provided".into()));
    }
    Ok(ASKED.get_or_init(|| vec![Secret::new("default", pass)]))
}

fn new_password() -> Result<Vec<u8>, Error> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(
            "A vault password is required to use Ansible's Vault".into(),
        ));
    }
    let ask = |p: &str| {
        rpassword::prompt_password(p)
            .map(|s| s.trim().to_string())
            .map_err(|_| Error::Usage("EOFError (ctrl-d) on prompt for (default)".into()))
    };
    let first = ask("New Vault password: ")?;
    if first.is_empty() {
        return Err(Error::Usage("Invalid vault password was provided".into()));
    }
    if ask("Confirm New Vault password: ")? != first {
        return Err(Error::Usage("Passwords do not match".into()));
    }
    Ok(first.into_bytes())
}

fn ask_line(prompt: &str) -> Result<String, Error> {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(prompt.as_bytes()).and_then(|()| err.flush());
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| Error::Usage(format!("cannot read the answer: {e}")))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// `name: !vault |` and the vault text indented by 10, as ansible-vault prints it.
fn yaml_block(text: &str, name: Option<&str>) -> String {
    let mut out = match name {
        Some(n) => format!("{n}: !vault |"),
        None => "!vault |".to_string(),
    };
    for line in text.lines() {
        out.push('\n');
        out.push_str("          ");
        out.push_str(line);
    }
    out
}

/// Opens the plaintext (none for a new file) in $EDITOR in a private temporary file,
/// and saves it encrypted when it changed (or is new).
fn edit(file: &Path, plain: Option<&[u8]>, secret: &Secret, id: Option<&str>) -> Result<(), Error> {
    let ext = file
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let tmp = std::env::temp_dir().join(format!("tprov-vault-{}{ext}", std::process::id()));
    let shred = |p: &Path| {
        if let Ok(m) = std::fs::metadata(p) {
            let _ = std::fs::write(p, vec![0u8; usize::try_from(m.len()).unwrap_or(0)]);
        }
        let _ = std::fs::remove_file(p);
    };
    let made = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(plain.unwrap_or_default()));
    if let Err(e) = made {
        shred(&tmp);
        return Err(fail(format!("cannot make a temporary file: {e}")));
    }
    let editor = std::env::var("EDITOR").unwrap_or_else(|_| "vi".into());
    let mut words: Vec<String> = editor.split_whitespace().map(String::from).collect();
    if words.is_empty() {
        words.push("vi".into());
    }
    let status = std::process::Command::new(&words[0])
        .args(&words[1..])
        .arg(&tmp)
        .status();
    if let Err(e) = status {
        shred(&tmp);
        return Err(fail(format!(
            "Unable to execute the command \"{editor} {}\": {e}",
            tmp.display()
        )));
    }
    let edited = std::fs::read(&tmp);
    shred(&tmp);
    let edited = edited.map_err(|e| fail(format!("cannot read the edited file: {e}")))?;
    if plain.is_some_and(|p| p == edited.as_slice()) {
        return Ok(());
    }
    let text = vault::encrypt(&edited, secret, id).map_err(fail)?;
    let mode = std::fs::metadata(file).map_or(0o600, |m| m.permissions().mode() & 0o7777);
    write(text.as_bytes(), file, mode)
}
