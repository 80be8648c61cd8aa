//! The `vault` and `unvault` filters (Ansible's `filter/encryption.py`): encrypt a
//! string with a given secret, and decrypt vault text (or a `!vault` value no secret
//! of the run opens) with one.

use super::convert::Undecryptable;
use crate::vault::{Secret, decrypt_with, encrypt, is_encrypted};
use minijinja::value::Kwargs;
use minijinja::{Environment, Error, ErrorKind, Value as MjValue};

fn error(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

fn text_arg(v: &MjValue, what: &str) -> Result<String, Error> {
    v.as_str().map(str::to_string).ok_or_else(|| {
        let kind = super::convert::from_mj(v).map_or("object", |v| v.type_name());
        error(format!("{what}, instead we got <class '{kind}'>."))
    })
}

fn vault_id(kwargs: &Kwargs) -> Result<String, Error> {
    let id: Option<String> = kwargs.get("vault_id")?;
    let old: Option<String> = kwargs.get("vaultid")?;
    Ok(id.or(old).unwrap_or_else(|| "filter_default".into()))
}

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter(
        "vault",
        |data: MjValue, secret: MjValue, kwargs: Kwargs| -> Result<String, Error> {
            let secret = text_arg(&secret, "Secret passed is required to be a string")?;
            let data = text_arg(&data, "Can only vault strings")?;
            let salt: Option<String> = kwargs.get("salt")?;
            let _: Option<bool> = kwargs.get("wrap_object")?;
            let id = vault_id(&kwargs)?;
            kwargs.assert_all_used()?;
            let secret = Secret::new(id.clone(), secret.into_bytes());
            let out = match salt {
                Some(salt) => crate::vault::encrypt_with_salt(
                    data.as_bytes(),
                    &secret,
                    Some(&id),
                    salt.as_bytes(),
                ),
                None => encrypt(data.as_bytes(), &secret, Some(&id)),
            };
            out.map_err(|_| error("Unable to encrypt."))
        },
    );
    env.add_filter(
        "unvault",
        |vault: MjValue, secret: MjValue, kwargs: Kwargs| -> Result<String, Error> {
            let secret = text_arg(&secret, "Secret passed is required to be as string")?;
            let id = vault_id(&kwargs)?;
            kwargs.assert_all_used()?;
            let text = if let Some(u) = vault.downcast_object_ref::<Undecryptable>() {
                u.ciphertext.clone()
            } else {
                let text = text_arg(&vault, "Vault should be in the form of a string")?;
                crate::vault::ciphertext_of(&text).unwrap_or(text)
            };
            if !is_encrypted(text.as_bytes()) {
                return Ok(text);
            }
            let secrets = [Secret::new(id, secret.into_bytes())];
            let plain = decrypt_with(text.as_bytes(), &secrets)
                .map_err(|_| error("Unable to decrypt."))?
                .0;
            String::from_utf8(plain).map_err(|_| error("Unable to decrypt."))
        },
    );
}
