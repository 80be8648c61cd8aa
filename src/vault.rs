//! Ansible Vault: the `$ANSIBLE_VAULT;1.1;AES256` and `1.2` (with a vault id) formats,
//! read and written as ansible-vault does (`parsing/vault/__init__.py`), and the secrets
//! of this run (`--vault-id`, `--vault-password-file`, `--ask-vault-pass`, ansible.cfg).
//!
//! The secrets are read once, before any file is parsed, and kept for the process, as
//! Ansible's `VaultSecretsContext` does: YAML loading deep in the playbook reader needs
//! them and has no other way in.

mod aes256;
mod secrets;

use std::sync::{Mutex, OnceLock};

pub(crate) use secrets::{Sources, load};

pub(crate) const HEADER: &str = "$ANSIBLE_VAULT";

/// One vault password with the vault id it is known by (`default` unless given).
pub(crate) struct Secret {
    pub(crate) id: String,
    bytes: Vec<u8>,
}

impl Secret {
    pub(crate) fn new(id: impl Into<String>, bytes: Vec<u8>) -> Secret {
        Secret {
            id: id.into(),
            bytes,
        }
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({}, ********)", self.id)
    }
}

/// Why vault data could not be read: Ansible's message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct VaultError(pub(crate) String);

impl std::fmt::Display for VaultError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err(msg: impl Into<String>) -> VaultError {
    VaultError(msg.into())
}

static SECRETS: OnceLock<Vec<Secret>> = OnceLock::new();

/// Makes `secrets` this run's vault secrets; later calls keep the first set.
pub(crate) fn install(secrets: Vec<Secret>) {
    let _ = SECRETS.set(secrets);
}

/// This run's vault secrets (none unless a command line gave some).
pub(crate) fn secrets() -> &'static [Secret] {
    SECRETS.get().map_or(&[], Vec::as_slice)
}

/// Decrypted `!vault` values of this run, plaintext to vault text: templates carry a
/// vaulted string as a marked plain string, and this gives it back its vault text (and
/// tells the output which strings are secrets).
static OPENED: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

/// Records that `plain` came out of `ciphertext`.
pub(crate) fn remember(plain: &str, ciphertext: &str) {
    let mut opened = OPENED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !opened.iter().any(|(p, _)| p == plain) {
        opened.push((plain.to_string(), ciphertext.to_string()));
    }
}

/// The vault text a decrypted value came from.
pub(crate) fn ciphertext_of(plain: &str) -> Option<String> {
    let opened = OPENED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    opened
        .iter()
        .find(|(p, _)| p == plain)
        .map(|(_, c)| c.clone())
}

/// Vault data starts with the header and is pure ASCII (`is_encrypted`).
pub(crate) fn is_encrypted(data: &[u8]) -> bool {
    data.starts_with(HEADER.as_bytes()) && data.is_ascii()
}

/// The header of a vault text and its hex payload with the line breaks taken out.
struct Envelope<'a> {
    cipher: &'a str,
    vault_id: Option<&'a str>,
    payload: Vec<u8>,
}

fn parse_envelope(text: &[u8]) -> Result<Envelope<'_>, VaultError> {
    let format = || err("Vault envelope format error.");
    let text = std::str::from_utf8(text).map_err(|_| format())?;
    let mut lines = text.lines();
    let header = lines.next().ok_or_else(format)?;
    let parts: Vec<&str> = header.trim().split(';').collect();
    if parts.len() < 3 {
        return Err(format());
    }
    let payload = lines
        .flat_map(|l| l.trim_end_matches('\r').bytes())
        .collect();
    Ok(Envelope {
        cipher: parts[2].trim(),
        vault_id: parts.get(3).map(|s| s.trim()),
        payload,
    })
}

/// The vault id a vault text names in its header (format 1.2), if any.
pub(crate) fn vault_id_of(text: &[u8]) -> Option<String> {
    parse_envelope(text)
        .ok()
        .and_then(|e| e.vault_id.map(str::to_string))
}

/// Decrypts vault text with this run's secrets.
pub(crate) fn decrypt(text: &[u8]) -> Result<Vec<u8>, VaultError> {
    decrypt_with(text, secrets()).map(|(plain, _)| plain)
}

/// Decrypts vault text with `secrets`, trying each in order as Ansible does (with
/// `ANSIBLE_VAULT_ID_MATCH`, only those whose id is the one in the header); returns the
/// plaintext and the id of the secret that opened it.
pub(crate) fn decrypt_with<'s>(
    text: &[u8],
    secrets: &'s [Secret],
) -> Result<(Vec<u8>, &'s str), VaultError> {
    if !is_encrypted(text) {
        return Err(err("Input is not vault encrypted data."));
    }
    let env = parse_envelope(text)?;
    if env.cipher != "AES256" {
        return Err(err(format!("Cipher '{}' could not be found.", env.cipher)));
    }
    if secrets.is_empty() {
        return Err(err("Attempting to decrypt but no vault secrets found."));
    }
    let parts = aes256::parse(&env.payload)?;
    let must_match = std::env::var("ANSIBLE_VAULT_ID_MATCH")
        .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "yes" | "true" | "on"));
    for secret in secrets {
        if must_match && Some(secret.id.as_str()) != env.vault_id {
            continue;
        }
        if let Some(plain) =
            aes256::decrypt(&secret.bytes, &parts.salt, &parts.mac, &parts.ciphertext)
        {
            return Ok((plain, &secret.id));
        }
    }
    Err(err(
        "Decryption failed (no vault secrets were found that could decrypt).",
    ))
}

/// Encrypts `plain` with `secret` into vault text: format 1.1, or 1.2 naming `vault_id`
/// when it is not `default`; 80-column lines and a final newline, as ansible-vault
/// writes. The salt is random unless `ANSIBLE_VAULT_ENCRYPT_SALT` sets it.
pub(crate) fn encrypt(
    plain: &[u8],
    secret: &Secret,
    vault_id: Option<&str>,
) -> Result<String, VaultError> {
    let salt = match std::env::var("ANSIBLE_VAULT_ENCRYPT_SALT") {
        Ok(s) if !s.is_empty() => s.into_bytes(),
        _ => {
            let mut salt = vec![0u8; 32];
            getrandom::fill(&mut salt)
                .map_err(|e| err(format!("cannot get random bytes for a salt: {e}")))?;
            salt
        }
    };
    encrypt_with_salt(plain, secret, vault_id, &salt)
}

/// [`encrypt`] with a given salt (the `vault` filter's `salt`).
pub(crate) fn encrypt_with_salt(
    plain: &[u8],
    secret: &Secret,
    vault_id: Option<&str>,
    salt: &[u8],
) -> Result<String, VaultError> {
    if is_encrypted(plain) {
        return Err(err("input is already encrypted"));
    }
    if salt.is_empty() {
        return Err(err("Empty or invalid salt passed to encrypt()"));
    }
    let payload = aes256::encrypt(&secret.bytes, salt, plain);
    let mut out = String::from(HEADER);
    match vault_id {
        Some(id) if id != "default" => {
            out.push_str(";1.2;AES256;");
            out.push_str(id);
        }
        _ => out.push_str(";1.1;AES256"),
    }
    for chunk in payload.as_bytes().chunks(80) {
        out.push('\n');
        out.push_str(&String::from_utf8_lossy(chunk));
    }
    out.push('\n');
    Ok(out)
}

/// The secret `ansible-vault encrypt` uses: the one with `encrypt_id`, else the first.
pub(crate) fn encrypt_secret<'s>(
    secrets: &'s [Secret],
    encrypt_id: Option<&str>,
) -> Result<&'s Secret, VaultError> {
    match encrypt_id {
        Some(id) => secrets.iter().find(|s| s.id == id).ok_or_else(|| {
            let known: Vec<String> = secrets.iter().map(|s| format!("'{}'", s.id)).collect();
            err(format!(
                "Did not find a match for --encrypt-vault-id={id} in the known vault-ids [{}]",
                known.join(", ")
            ))
        }),
        None => secrets
            .first()
            .ok_or_else(|| err("A vault password must be specified to encrypt data")),
    }
}

/// A file's bytes as a module sees them: decrypted when the file is vault data.
pub(crate) fn file_contents(path: &std::path::Path, bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    if !is_encrypted(&bytes[..bytes.len().min(HEADER.len())]) {
        return Ok(bytes);
    }
    if secrets().is_empty() {
        return Err(format!(
            "A vault password or secret must be specified to decrypt {}",
            path.display()
        ));
    }
    decrypt(&bytes).map_err(|e| format!("{e} (in {})", path.display()))
}

/// A text file as templates and lookups read it: decrypted when it is vault data.
pub(crate) fn read_text(path: &std::path::Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let bytes = file_contents(path, bytes)?;
    String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8 text", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(p: &str) -> Secret {
        Secret::new("default", p.as_bytes().to_vec())
    }

    #[test]
    fn what_it_encrypts_it_decrypts_and_a_wrong_password_does_not() {
        let s = secret("hunter2");
        for plain in ["", "x", "exactly sixteen!", "a longer text\nwith lines\n"] {
            let text = encrypt(plain.as_bytes(), &s, None).unwrap();
            assert!(text.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"));
            assert!(text.lines().skip(1).all(|l| l.len() <= 80));
            let (back, id) = decrypt_with(text.as_bytes(), std::slice::from_ref(&s)).unwrap();
            assert_eq!((back.as_slice(), id), (plain.as_bytes(), "default"));
            let wrong = decrypt_with(text.as_bytes(), &[secret("hunter3")]).unwrap_err();
            assert!(wrong.0.starts_with("Decryption failed"));
        }
    }

    #[test]
    fn reads_what_ansible_vault_wrote() {
        // `ansible-vault encrypt_string` 2.19 with the password `test-vault-password`
        // (test_core's vaulted_value).
        let text = "$ANSIBLE_VAULT;1.1;AES256
35323961353038346165643738646465376139363061353835303739663538343266303232326635
3365353662646236356665323135633630656238316530640a663362363763633436373439663031
33663433383037396438656464636433653837376361313638366362333037323961316364363363
3835616438623261650a636164376534376661393134326662326362323131373964313961623365
3833";
        let plain = decrypt_with(text.as_bytes(), &[secret("test-vault-password")])
            .unwrap()
            .0;
        assert_eq!(String::from_utf8(plain).unwrap(), "foo bar");
    }

    #[test]
    fn a_vault_id_makes_format_1_2() {
        let s = Secret::new("prod", b"pw".to_vec());
        let text = encrypt(b"v", &s, Some("prod")).unwrap();
        assert!(text.starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"));
        assert_eq!(vault_id_of(text.as_bytes()).as_deref(), Some("prod"));
    }

    #[test]
    fn bad_envelopes_are_errors_not_panics() {
        let s = [secret("pw")];
        for bad in [
            "$ANSIBLE_VAULT",
            "$ANSIBLE_VAULT;1.1;AES256",
            "$ANSIBLE_VAULT;1.1;AES256\nzz",
            "$ANSIBLE_VAULT;1.1;AES256\n6162",
            "$ANSIBLE_VAULT;1.1;AES128\n6162",
        ] {
            assert!(decrypt_with(bad.as_bytes(), &s).is_err(), "{bad}");
        }
    }
}
