//! `user`'s `generate_ssh_key`.

use super::account;
use crate::tasks::{Cx, Outcome, TaskError, args};
use crate::transport::sh_quote;
use crate::value::{Map, Value};

/// `generate_ssh_key`: ssh-keygen run once for a key the user lacks (or again with
/// `force`), owned by the user; the result gives the key's file, fingerprint and
/// public half, as Ansible's module does.
pub(super) async fn ssh_key(
    a: &Map,
    cx: &Cx<'_>,
    name: &str,
    out: &mut Outcome,
) -> Result<(), TaskError> {
    let kind = args::str_opt(a, &["ssh_key_type"]).unwrap_or_else(|| "rsa".into());
    let file = args::str_opt(a, &["ssh_key_file"]).unwrap_or_else(|| format!(".ssh/id_{kind}"));
    let acc = account(cx, name).await?;
    let home = acc
        .as_ref()
        .map_or_else(|| format!("/home/{name}"), |a| a.home.clone());
    let path = if file.starts_with('/') {
        file
    } else {
        format!("{}/{file}", home.trim_end_matches('/'))
    };
    let force = args::bool_opt(a, &["force"])?.unwrap_or(false);
    let f = sh_quote(&path);
    let probe = format!(
        "f={f}; if [ -e \"$f\" ]; then echo key; elif [ -e \"$f.pub\" ]; then echo pub; else echo none; fi"
    );
    let found = crate::tasks::remote::query(cx, &probe, "look for the ssh key").await?;
    let found = found.stdout_str().trim().to_string();
    let mut warnings = Vec::new();
    let generate = match found.as_str() {
        "key" if !force => {
            warnings.push(format!(
                "Found existing ssh key private file \"{path}\", no force, so skipping ssh-keygen generation"
            ));
            false
        }
        "pub" if !force => {
            warnings.push(format!(
                "Found existing ssh key public file \"{path}.pub\", no force, so skipping ssh-keygen generation"
            ));
            false
        }
        other => {
            if other == "key" {
                warnings.push(format!(
                    "Overwriting existing ssh key private file \"{path}\""
                ));
            }
            true
        }
    };
    if generate {
        out.changed = true;
        if let (Some(w), Some(acc)) = (&cx.writer, &acc) {
            let bits = args::str_opt(a, &["ssh_key_bits"])
                .filter(|b| b.parse::<i64>().is_ok_and(|n| n > 0))
                .map(|b| format!("-b {} ", sh_quote(&b)))
                .unwrap_or_default();
            // The host's own name, as the module's socket.gethostname() gives it.
            let comment = args::str_opt(a, &["ssh_key_comment"]).map_or_else(
                || "\"ansible-generated on $(hostname)\"".to_string(),
                |c| sh_quote(&c),
            );
            let pass = args::str_opt(a, &["ssh_key_passphrase"]).unwrap_or_default();
            let owner = format!("{}:{}", acc.uid, acc.gid);
            let script = format!(
                "f={f}; d=$(dirname \"$f\"); if [ ! -d \"$d\" ]; then mkdir -m 0700 \"$d\" && chown {owner} \"$d\" || exit 1; fi; \
                 rm -f \"$f.pub\"; echo y | ssh-keygen -q -t {t} {bits}-C {c} -f \"$f\" -N {p} >/dev/null && chown {owner} \"$f\" \"$f.pub\"",
                t = sh_quote(&kind),
                c = comment,
                p = sh_quote(&pass),
            );
            crate::tasks::remote::change(w, &script).await?;
        }
    }
    if cx.writer.is_some() || !generate {
        let script = format!("ssh-keygen -l -f {f} 2>&1; echo '\x1e'; cat -- {f}.pub 2>/dev/null");
        let o = crate::tasks::remote::query(cx, &script, "read the ssh key").await?;
        let text = o.stdout_str();
        let (fp, public) = text.split_once('\x1e').unwrap_or((text.as_str(), ""));
        out.result
            .insert("ssh_fingerprint".into(), Value::str(fp.trim()));
        out.result
            .insert("ssh_public_key".into(), Value::str(public.trim()));
    }
    out.result.insert("ssh_key_file".into(), Value::str(path));
    if !warnings.is_empty() {
        out.result.insert(
            "warnings".into(),
            Value::List(warnings.into_iter().map(Value::Str).collect()),
        );
    }
    Ok(())
}
