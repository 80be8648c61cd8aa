//! Logging in: identity files, the agent, passwords.

use super::super::TransportError;
use super::super::target::Target;
use super::{Verifier, unreachable};
use russh::client::Handle;
use russh::keys::PrivateKeyWithHashAlg;
use std::sync::Arc;

/// The RSA signature hash the server prefers (None for other keys, or when it says not).
async fn rsa_hash(handle: &Handle<Verifier>) -> Option<russh::keys::HashAlg> {
    handle
        .best_supported_rsa_hash()
        .await
        .ok()
        .flatten()
        .flatten()
}

pub(super) async fn authenticate(
    handle: &mut Handle<Verifier>,
    target: &Target,
) -> Result<(), TransportError> {
    let mut tried = Vec::new();
    let mut last_err = None;
    for file in &target.identity_files {
        if !file.exists() {
            continue;
        }
        let key = match russh::keys::load_secret_key(file, None) {
            Ok(k) => k,
            Err(russh::keys::Error::KeyIsEncrypted) => {
                if let Some(p) = passphrase(file) {
                    match russh::keys::load_secret_key(file, Some(&p)) {
                        Ok(k) => k,
                        Err(e) => {
                            last_err = Some(format!("{}: {e}", file.display()));
                            continue;
                        }
                    }
                } else {
                    last_err = Some(format!(
                        "{} is encrypted and no passphrase was given (TPROV_KEY_PASSPHRASE)",
                        file.display()
                    ));
                    continue;
                }
            }
            Err(e) => {
                last_err = Some(format!("{}: {e}", file.display()));
                continue;
            }
        };
        tried.push(file.display().to_string());
        let hash = rsa_hash(handle).await;
        match handle
            .authenticate_publickey(
                &target.user,
                PrivateKeyWithHashAlg::new(Arc::new(key), hash),
            )
            .await
        {
            Ok(r) if r.success() => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(unreachable(target, e)),
        }
    }
    if let Ok(mut agent) = russh::keys::agent::client::AgentClient::connect_env().await
        && let Ok(ids) = agent.request_identities().await
    {
        for id in ids {
            let russh::keys::agent::AgentIdentity::PublicKey { key, comment } = id else {
                continue;
            };
            tried.push(format!("agent key {comment}"));
            let hash = rsa_hash(handle).await;
            if let Ok(r) = handle
                .authenticate_publickey_with(&target.user, key, hash, &mut agent)
                .await
                && r.success()
            {
                return Ok(());
            }
        }
    }
    let detail = match (tried.is_empty(), last_err) {
        (true, Some(e)) => e,
        (true, None) => "no private key found (set ansible_ssh_private_key_file, private_key_file, or run an ssh-agent)".into(),
        (false, _) => format!("the server refused {}", tried.join(", ")),
    };
    Err(TransportError::Auth(format!(
        "{}@{}:{}: {detail}",
        target.user, target.host, target.port
    )))
}

fn passphrase(file: &std::path::Path) -> Option<String> {
    if let Ok(p) = std::env::var("TPROV_KEY_PASSPHRASE") {
        return Some(p);
    }
    rpassword::prompt_password(format!("Passphrase for {}: ", file.display())).ok()
}
