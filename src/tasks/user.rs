//! `user`.

use super::remote::stat;
use super::{Cx, Diff, Outcome, Spec, TaskError, args, fail};
use crate::transport::sh_quote;
use crate::value::{Map, Value};

mod ssh_key;

use ssh_key::ssh_key;

pub(super) const SPEC: Spec = Spec {
    name: "user",
    file_common: false,
    traits: &[],
    args: &[
        "name",
        "user",
        "state",
        "uid",
        "group",
        "groups",
        "append",
        "shell",
        "home",
        "create_home",
        "createhome",
        "move_home",
        "system",
        "comment",
        "password",
        "update_password",
        "remove",
        "force",
        "generate_ssh_key",
        "ssh_key_bits",
        "ssh_key_type",
        "ssh_key_file",
        "ssh_key_comment",
        "ssh_key_passphrase",
        "expires",
        "password_lock",
        "non_unique",
        "skeleton",
        "local",
        "umask",
        "seuser",
        "hidden",
        "login_class",
        "profile",
        "authorization",
        "role",
        "password_expire_max",
        "password_expire_min",
        "password_expire_warn",
        "password_expire_account_disable",
        "uid_min",
        "uid_max",
    ],
    required: &["name|user"],
};

/// `getent passwd` and the user's groups.
#[derive(Debug, Clone)]
pub(super) struct Account {
    uid: String,
    gid: String,
    group: String,
    comment: String,
    pub(super) home: String,
    shell: String,
    groups: Vec<String>,
    expire_days: i64,
    password: Option<String>,
    /// The shadow entry's inactive days (empty: none).
    inactive: Option<String>,
}

/// `expires` (seconds since the epoch, Ansible's float) as useradd's `-e` date; a
/// negative value clears it.
fn expire_date(secs: f64) -> String {
    if secs < 0.0 {
        return String::new();
    }
    chrono::DateTime::from_timestamp(secs.floor() as i64, 0)
        .map_or_else(String::new, |t| t.format("%Y-%m-%d").to_string())
}

pub(super) async fn account(cx: &Cx<'_>, name: &str) -> Result<Option<Account>, TaskError> {
    if cx.check() && cx.sim.users.contains(name) {
        return Ok(None);
    }
    let q = sh_quote(name);
    let script = format!(
        "e=$(getent passwd {q}) || {{ echo absent; exit 0; }}; echo \"$e\"; echo \"$(getent group \"$(echo \"$e\" | cut -d: -f4)\" | cut -d: -f1)\"; echo \"$(id -Gn {q} 2>/dev/null)\"; if s=$(getent shadow {q} 2>/dev/null); then echo \"$s\" | cut -d: -f8; echo \"$s\" | cut -d: -f2; echo \"$s\" | cut -d: -f7; else echo none; fi"
    );
    let out = cx.probe.exec(&script, cx.read_become()).await?;
    let text = out.stdout_str();
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("absent");
    if first == "absent" {
        return Ok(None);
    }
    let f: Vec<&str> = first.split(':').collect();
    if f.len() < 7 {
        return Err(fail(format!("unexpected passwd entry for {name}")));
    }
    let group = lines.next().unwrap_or_default().to_string();
    let groups: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .filter(|g| *g != group)
        .map(str::to_string)
        .collect();
    // The shadow entry's expiry in days since the epoch, as Ansible reads it: -1 when
    // the field is empty, 0 when there is no entry (or it cannot be read).
    let expire_days = match lines.next().map(str::trim) {
        Some("none") | None => 0,
        Some("") => -1,
        Some(d) => d.parse::<i64>().unwrap_or(0),
    };
    // The shadow entry's password field (a crypt hash, `!` first when locked).
    let password = lines.next().map(str::to_string);
    let inactive = lines.next().map(|l| l.trim().to_string());
    Ok(Some(Account {
        uid: f[2].into(),
        gid: f[3].into(),
        group,
        comment: f[4].into(),
        home: f[5].into(),
        shell: f[6].into(),
        groups,
        expire_days,
        password,
        inactive,
    }))
}

pub(super) async fn run(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let name = args::str_req(a, &["name", "user"], "user")?;
    let state = args::str_opt(a, &["state"]).unwrap_or_else(|| "present".into());
    let current = account(cx, &name).await?;
    let mut out = Outcome::default();
    out.result.insert("name".into(), Value::str(name.clone()));
    out.result.insert("state".into(), Value::str(state.clone()));
    let q = sh_quote(&name);
    if state == "absent" {
        if current.is_some() || cx.sim.users.contains(&name) {
            out.changed = true;
            let remove = args::bool_opt(a, &["remove"])?.unwrap_or(false);
            let force = args::bool_opt(a, &["force"])?.unwrap_or(false);
            out.diffs.push(Diff::attrs(
                &name,
                &[("state", Value::str("present"))],
                &[("state", Value::str("absent"))],
            ));
            if let Some(w) = &cx.writer {
                super::remote::change(
                    w,
                    &format!(
                        "userdel {}{}{q}",
                        if remove { "-r " } else { "" },
                        if force { "-f " } else { "" }
                    ),
                )
                .await?;
            } else {
                cx.sim.users.remove(&name);
            }
        }
        return Ok(out);
    }
    if state != "present" {
        return Err(fail(format!(
            "value of state must be one of: absent, present, got: {state}"
        )));
    }
    let shell = args::str_opt(a, &["shell"]);
    let home = args::str_opt(a, &["home"]);
    let comment = args::str_opt(a, &["comment"]);
    let uid = args::str_opt(a, &["uid"]);
    let group = args::str_opt(a, &["group"]);
    let groups = args::list_opt(a, &["groups"]);
    let append = args::bool_opt(a, &["append"])?.unwrap_or(false);
    let create_home = args::bool_opt(a, &["create_home", "createhome"])?.unwrap_or(true);
    let system = args::bool_opt(a, &["system"])?.unwrap_or(false);
    let password = args::str_opt(a, &["password"]);
    let lock = args::bool_opt(a, &["password_lock"])?;
    let inactive = args::str_opt(a, &["password_expire_account_disable"]);
    if args::bool_opt(a, &["local"])?.unwrap_or(false) {
        for key in ["umask", "uid_min", "uid_max"] {
            if a.get(key).is_some_and(|v| *v != Value::Null) {
                return Err(fail(format!("'{key}' can not be used with 'local'")));
            }
        }
    }
    let non_unique = args::bool_opt(a, &["non_unique"])?.unwrap_or(false);
    let expires = match args::str_opt(a, &["expires"]) {
        Some(e) => Some(e.parse::<f64>().map_err(|_| {
            fail(format!(
                "argument 'expires' is of type str and we were unable to convert to float: {e}"
            ))
        })?),
        None => None,
    };
    let mut warnings = Vec::new();
    if password.as_deref().is_some_and(not_hashed) {
        warnings.push(Value::str("The input password appears not to have been hashed. The 'password' argument must be encrypted for this module to work properly."));
    }
    if groups.is_none() && append {
        warnings.push(Value::str("'append' is set, but no 'groups' are specified. Use 'groups' for appending new groups.This will change to an error in Ansible 2.14."));
    }
    if !warnings.is_empty() {
        out.result.insert("warnings".into(), Value::List(warnings));
    }
    match current {
        None => {
            let mut cmd = vec!["useradd".to_string()];
            if let Some(u) = &uid {
                cmd.push(format!("-u {}", sh_quote(u)));
                if non_unique {
                    cmd.push("-o".into());
                }
            }
            if let Some(g) = &group {
                cmd.push(format!("-g {}", sh_quote(g)));
            }
            if let Some(gs) = groups.as_ref().filter(|g| !g.is_empty()) {
                cmd.push(format!("-G {}", sh_quote(&gs.join(","))));
            }
            if let Some(s) = &shell {
                cmd.push(format!("-s {}", sh_quote(s)));
            }
            if let Some(h) = &home {
                cmd.push(format!("-d {}", sh_quote(h)));
            }
            if let Some(c) = &comment {
                cmd.push(format!("-c {}", sh_quote(c)));
            }
            if let Some(p) = &password {
                let p = if lock == Some(true) {
                    format!("!{p}")
                } else {
                    p.clone()
                };
                cmd.push(format!("-p {}", sh_quote(&p)));
            }
            if system {
                cmd.push("-r".into());
            }
            if let Some(e) = expires {
                cmd.push(format!("-e {}", sh_quote(&expire_date(e))));
            }
            if let Some(d) = &inactive {
                cmd.push(format!("-f {}", sh_quote(d)));
            }
            for (key, def) in [("uid_min", "UID_MIN"), ("uid_max", "UID_MAX")] {
                if let Some(v) = args::str_opt(a, &[key]) {
                    cmd.push(format!("-K {}", sh_quote(&format!("{def}={v}"))));
                }
            }
            if create_home {
                cmd.push("-m".into());
                if let Some(k) = args::str_opt(a, &["skeleton"]) {
                    cmd.push(format!("-k {}", sh_quote(&k)));
                }
                if let Some(m) = args::str_opt(a, &["umask"]) {
                    cmd.push(format!("-K {}", sh_quote(&format!("UMASK={m}"))));
                }
            } else {
                cmd.push("-M".into());
            }
            cmd.push(q.clone());
            out.changed = true;
            let home_dir = home.clone().unwrap_or_else(|| format!("/home/{name}"));
            let mut after = vec![
                ("state", Value::str("present")),
                ("home", Value::str(home_dir.clone())),
            ];
            if let Some(s) = &shell {
                after.push(("shell", Value::str(s.clone())));
            }
            out.diffs.push(Diff::attrs(
                &name,
                &[("state", Value::str("absent"))],
                &after,
            ));
            out.result
                .insert("home".into(), Value::str(home_dir.clone()));
            out.result
                .insert("create_home".into(), Value::Bool(create_home));
            out.result.insert("system".into(), Value::Bool(system));
            if let Some(w) = &cx.writer {
                super::remote::change(w, &cmd.join(" ")).await?;
            } else {
                cx.sim.users.insert(name.clone());
                cx.sim.groups.insert(group.unwrap_or(name.clone()));
                if create_home {
                    // The new home gets /etc/skel's files: later tasks (a line in
                    // .bashrc) must see them, or check mode would fail where the run won't.
                    for (rel, content) in skel(cx).await? {
                        cx.sim.files.insert(format!("{home_dir}/{rel}"), content);
                    }
                    cx.sim.dirs.insert(home_dir);
                }
            }
        }
        Some(acc) => {
            let mut mods = Vec::new();
            let (mut before, mut after) = (Vec::new(), Vec::new());
            if let Some(s) = shell.as_ref().filter(|s| **s != acc.shell) {
                mods.push(format!("-s {}", sh_quote(s)));
                before.push(("shell", Value::str(acc.shell.clone())));
                after.push(("shell", Value::str(s.clone())));
            }
            if let Some(h) = home.as_ref().filter(|h| **h != acc.home) {
                let mv = args::bool_opt(a, &["move_home"])?.unwrap_or(false);
                mods.push(format!("-d {}{}", sh_quote(h), if mv { " -m" } else { "" }));
                before.push(("home", Value::str(acc.home.clone())));
                after.push(("home", Value::str(h.clone())));
            }
            if let Some(c) = comment.as_ref().filter(|c| **c != acc.comment) {
                mods.push(format!("-c {}", sh_quote(c)));
                before.push(("comment", Value::str(acc.comment.clone())));
                after.push(("comment", Value::str(c.clone())));
            }
            if let Some(u) = uid.as_ref().filter(|u| **u != acc.uid) {
                mods.push(format!("-u {}", sh_quote(u)));
                if non_unique {
                    mods.push("-o".into());
                }
                before.push(("uid", Value::str(acc.uid.clone())));
                after.push(("uid", Value::str(u.clone())));
            }
            if let Some(g) = group
                .as_ref()
                .filter(|g| **g != acc.group && **g != acc.gid)
            {
                mods.push(format!("-g {}", sh_quote(g)));
                before.push(("group", Value::str(acc.group.clone())));
                after.push(("group", Value::str(g.clone())));
            }
            if let Some(e) = expires {
                // Compared by date, as Ansible does; a negative value clears the expiry.
                let have = expire_date(acc.expire_days as f64 * 86_400.0);
                let want = expire_date(e);
                let differs = if e < 0.0 {
                    acc.expire_days >= 0
                } else {
                    acc.expire_days < 0 || have != want
                };
                if differs {
                    mods.push(format!("-e {}", sh_quote(&want)));
                    before.push(("expires", Value::str(have)));
                    after.push(("expires", Value::str(want)));
                }
            }
            // Unlike Ansible's usermod call (always `-f`), only when the entry differs.
            if let Some(d) = inactive
                .as_ref()
                .filter(|d| acc.inactive.as_deref().unwrap_or_default() != d.as_str())
            {
                mods.push(format!("-f {}", sh_quote(d)));
                before.push((
                    "password_expire_account_disable",
                    Value::str(acc.inactive.clone().unwrap_or_default()),
                ));
                after.push(("password_expire_account_disable", Value::str(d.clone())));
            }
            if let Some(gs) = &groups {
                let want: Vec<String> = if append {
                    let mut w = acc.groups.clone();
                    w.extend(gs.iter().filter(|g| !acc.groups.contains(g)).cloned());
                    w
                } else {
                    gs.clone()
                };
                let mut sorted_want = want.clone();
                sorted_want.sort();
                let mut have = acc.groups.clone();
                have.sort();
                if sorted_want != have {
                    mods.push(format!("-G {}", sh_quote(&want.join(","))));
                    before.push(("groups", Value::str(acc.groups.join(","))));
                    after.push(("groups", Value::str(want.join(","))));
                }
            }
            // Lock or unlock, and the password (update_password: always), as Ansible's
            // modify_user_usermod decides them from the shadow entry.
            let have = acc.password.clone().unwrap_or_default();
            let mut lock_flag = match lock {
                Some(true) if !have.starts_with('!') => Some("-L"),
                Some(false) if have.starts_with('!') => Some("-U"),
                _ => None,
            };
            let on_create = args::str_opt(a, &["update_password"]).as_deref() == Some("on_create");
            if let Some(p) = password
                .as_ref()
                .filter(|p| !on_create && have.trim_start_matches('!') != p.trim_start_matches('!'))
            {
                lock_flag = None;
                let p = if lock == Some(true) {
                    format!("!{p}")
                } else {
                    p.clone()
                };
                mods.push(format!("-p {}", sh_quote(&p)));
                before.push(("password", Value::str("********")));
                after.push(("password", Value::str("********")));
            }
            if let Some(f) = lock_flag {
                mods.push(f.to_string());
                let locked = |l: bool| Value::Bool(l);
                before.push(("password_lock", locked(f == "-U")));
                after.push(("password_lock", locked(f == "-L")));
            }
            out.result.insert("append".into(), Value::Bool(append));
            out.result.insert(
                "move_home".into(),
                Value::Bool(args::bool_opt(a, &["move_home"])?.unwrap_or(false)),
            );
            account_keys(&mut out, &acc);
            if !mods.is_empty() {
                out.changed = true;
                out.diffs.push(Diff::attrs(&name, &before, &after));
                if let Some(w) = &cx.writer {
                    super::remote::change(w, &format!("usermod {} {q}", mods.join(" "))).await?;
                }
            }
            // A missing home is created when asked for (Ansible does the same).
            if create_home {
                let h = stat(cx, &acc.home, true, false).await?;
                if !h.exists {
                    out.changed = true;
                    out.diffs.push(Diff::attrs(
                        &acc.home,
                        &[("state", Value::str("absent"))],
                        &[("state", Value::str("directory"))],
                    ));
                    if let Some(w) = &cx.writer {
                        // The mode Ansible's create_homedir gives: login.defs' HOME_MODE,
                        // else 0777 less its UMASK (the last before HOME_MODE), else 0755.
                        let script = format!(
                            "mkdir -p {h} && cp -rT /etc/skel {h} && chown -R {q}: {h} && \
                             m=$(awk '/^HOME_MODE[ \t]+[0-9]+$/ {{ print $2; exit }} /^UMASK[ \t]+[0-9]+$/ {{ u = $2 }} END {{ }}' /etc/login.defs 2>/dev/null); \
                             if [ -z \"$m\" ]; then u=$(awk '/^HOME_MODE[ \t]+[0-9]+$/ {{ exit }} /^UMASK[ \t]+[0-9]+$/ {{ u = $2 }} END {{ print u }}' /etc/login.defs 2>/dev/null); \
                               if [ -n \"$u\" ]; then m=$(printf '%o' $(( 0777 & ~0$u ))); else m=755; fi; fi; \
                             chmod \"$m\" {h}",
                            h = sh_quote(&acc.home)
                        );
                        super::remote::change(w, &script).await?;
                    }
                }
            }
        }
    }
    // Password ageing (chage), compared with the shadow entry as Ansible does.
    if state != "absent" {
        password_ageing(a, cx, &name, &mut out).await?;
        if args::bool_opt(a, &["generate_ssh_key"])?.unwrap_or(false) {
            ssh_key(a, cx, &name, &mut out).await?;
        }
    }
    // The account as the task left it, as Ansible's result reports it.
    if out.changed
        && cx.writer.is_some()
        && let Some(acc) = account(cx, &name).await?
    {
        account_keys(&mut out, &acc);
    }
    if password.is_some() {
        out.result
            .insert("password".into(), Value::str("NOT_LOGGING_PASSWORD"));
    }
    if let Some(gs) = &groups {
        out.result.insert("groups".into(), Value::str(gs.join(",")));
    }
    Ok(out)
}

/// Ansible's test of a `password:` that looks like clear text rather than a crypt hash.
fn not_hashed(p: &str) -> bool {
    if p.is_empty() || ["*", "!", "*************"].contains(&p) {
        return false;
    }
    if p.contains([':', '*', '!']) || !p.contains('$') {
        return true;
    }
    let fields: Vec<&str> = p.split('$').collect();
    if fields.len() < 3 {
        return false;
    }
    let last = fields[fields.len() - 1];
    let want = match fields[1] {
        "1" => Some(22),
        "5" | "y" => Some(43),
        "6" => Some(86),
        _ => None,
    };
    last.chars()
        .any(|c| !(c.is_ascii_alphanumeric() || "./=".contains(c)))
        || want.is_some_and(|n| last.len() != n)
}

/// Ansible's keys about an existing account: uid, group (the gid), comment, home, shell.
fn account_keys(out: &mut Outcome, acc: &Account) {
    let int = |s: &str| s.parse().map_or(Value::str(s), Value::Int);
    out.result.insert("uid".into(), int(&acc.uid));
    out.result.insert("group".into(), int(&acc.gid));
    out.result
        .insert("comment".into(), Value::str(acc.comment.clone()));
    out.result
        .insert("home".into(), Value::str(acc.home.clone()));
    out.result
        .insert("shell".into(), Value::str(acc.shell.clone()));
}

/// The files `useradd -m` would copy from /etc/skel, with their contents.
async fn skel(cx: &Cx<'_>) -> Result<Vec<(String, Vec<u8>)>, TaskError> {
    use base64::Engine as _;
    let script = "cd /etc/skel 2>/dev/null && find . -maxdepth 1 -type f | while read -r f; do printf '%s ' \"${f#./}\"; base64 -w0 < \"$f\"; echo; done";
    let out = cx.probe.exec(script, None).await?;
    let mut files = Vec::new();
    for line in out.stdout_str().lines() {
        if let Some((name, b64)) = line.split_once(' ')
            && let Ok(data) = base64::engine::general_purpose::STANDARD.decode(b64.trim())
        {
            files.push((name.to_string(), data));
        }
    }
    Ok(files)
}

/// `password_expire_min`, `_max`, `_warn`: `chage` for those that differ from the
/// shadow entry (a user check mode would create has none: each is a change).
async fn password_ageing(
    a: &Map,
    cx: &Cx<'_>,
    name: &str,
    out: &mut Outcome,
) -> Result<(), TaskError> {
    let wanted: Vec<(&str, usize, i64)> = [
        ("password_expire_min", 3, "-m"),
        ("password_expire_max", 4, "-M"),
        ("password_expire_warn", 5, "-W"),
    ]
    .into_iter()
    .filter_map(|(key, field, flag)| {
        let v = args::str_opt(a, &[key])?;
        let n = v.trim().parse::<i64>().ok()?;
        Some((flag, field, n))
    })
    .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let entry = cx
        .probe
        .exec(
            &format!("getent shadow {}", sh_quote(name)),
            cx.read_become(),
        )
        .await?;
    let line = entry.stdout_str();
    let fields: Vec<&str> = line.trim_end().split(':').collect();
    let flags: Vec<String> = wanted
        .iter()
        .filter(|(_, field, n)| fields.get(*field).and_then(|f| f.parse::<i64>().ok()) != Some(*n))
        .map(|(flag, _, n)| format!("{flag} {n}"))
        .collect();
    if flags.is_empty() {
        return Ok(());
    }
    out.changed = true;
    if let Some(w) = &cx.writer {
        super::remote::change(w, &format!("chage {} {}", flags.join(" "), sh_quote(name))).await?;
    }
    Ok(())
}
