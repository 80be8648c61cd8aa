//! `authorized_key`.

use super::remote::read;
use super::user::account;
use super::{Cx, Diff, Outcome, Spec, TaskError, args, fail};
use crate::transport::sh_quote;
use crate::value::{Map, Value};

pub(super) const AUTHORIZED_KEY_SPEC: Spec = Spec {
    name: "authorized_key",
    file_common: false,
    traits: &[],
    args: &[
        "user",
        "key",
        "state",
        "path",
        "manage_dir",
        "exclusive",
        "key_options",
        "comment",
        "follow",
        "validate_certs",
    ],
    required: &["user", "key"],
};

pub(super) async fn run_authorized_key(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let user = args::str_req(a, &["user"], "authorized_key")?;
    let key = args::str_req(a, &["key"], "authorized_key")?;
    let state = args::str_opt(a, &["state"]).unwrap_or_else(|| "present".into());
    let exclusive = args::bool_opt(a, &["exclusive"])?.unwrap_or(false);
    let manage_dir = args::bool_opt(a, &["manage_dir"])?.unwrap_or(true);
    let options = args::str_opt(a, &["key_options"]);
    let acc = account(cx, &user).await?;
    let home = match (&acc, cx.check() && cx.sim.users.contains(&user)) {
        (Some(acc), _) => acc.home.clone(),
        (None, true) => format!("/home/{user}"),
        (None, false) => return Err(fail(format!("Failed to lookup user {user}"))),
    };
    let path =
        args::str_opt(a, &["path"]).unwrap_or_else(|| format!("{home}/.ssh/authorized_keys"));
    let before = read(cx, &path).await?.unwrap_or_default();
    let before_text = String::from_utf8_lossy(&before).into_owned();
    let blob = |l: &str| -> Option<String> {
        let parts: Vec<&str> = l.split_whitespace().collect();
        parts
            .iter()
            .position(|p| p.starts_with("ssh-") || p.starts_with("ecdsa-") || p.starts_with("sk-"))
            .and_then(|i| parts.get(i + 1))
            .map(std::string::ToString::to_string)
    };
    let wanted: Vec<String> = key
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match &options {
            Some(o) => format!("{o} {l}"),
            None => l.to_string(),
        })
        .collect();
    let wanted_blobs: Vec<String> = wanted.iter().filter_map(|l| blob(l)).collect();
    let mut lines: Vec<String> = before_text.lines().map(str::to_string).collect();
    if state == "absent" {
        lines.retain(|l| blob(l).is_none_or(|b| !wanted_blobs.contains(&b)));
    } else {
        if exclusive {
            lines.retain(|l| blob(l).is_some_and(|b| wanted_blobs.contains(&b)));
        }
        for w in &wanted {
            let b = blob(w);
            match lines.iter().position(|l| blob(l) == b) {
                Some(i) => lines[i].clone_from(w),
                None => lines.push(w.clone()),
            }
        }
    }
    let mut after = lines.join("\n");
    if !after.is_empty() {
        after.push('\n');
    }
    let mut out = Outcome::default();
    out.result.insert("user".into(), Value::str(user.clone()));
    out.result.insert("key".into(), Value::str(key.clone()));
    if after.as_bytes() == before.as_slice() {
        return Ok(out);
    }
    out.changed = true;
    out.diffs.push(Diff {
        before_header: Some(path.clone()),
        after_header: Some(path.clone()),
        before: before_text,
        after: after.clone(),
    });
    let Some(w) = &cx.writer else {
        return Ok(out);
    };
    let dir = super::remote::parent(&path).to_string();
    let q = sh_quote(&user);
    if manage_dir {
        super::remote::change(
            w,
            &format!(
                "mkdir -p {d} && chown {q}: {d} && chmod 0700 {d}",
                d = sh_quote(&dir)
            ),
        )
        .await?;
    }
    let finish = format!("chown {q}: \"$T\" && chmod 0600 \"$T\"");
    w.write_file(&path, after.as_bytes(), &finish, true).await?;
    Ok(out)
}
