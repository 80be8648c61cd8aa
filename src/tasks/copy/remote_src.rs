//! `copy` with `remote_src: true`: the source is on the host. A file is read and put
//! like any other (atomic write, attributes, diff, backup), taking the source's mode
//! when the task names none, as Ansible's copy does; a directory is merged into the
//! destination by one script on the host (new entries copied, differing files
//! rewritten, owner and group applied recursively), which in check mode only reports.

use super::super::remote::{Kind, query, read, stat};
use super::super::{Cx, Outcome, TaskError, args, fail};
use crate::transport::sh_quote;
use crate::value::{Map, Value};

pub(super) async fn run(
    a: &Map,
    cx: &mut Cx<'_>,
    src: &str,
    dest: &str,
) -> Result<Outcome, TaskError> {
    let mut src = src.to_string();
    let dest = dest.to_string();
    super::super::remote::expand_paths(cx, &mut [&mut src]).await?;
    let st = stat(cx, &src, true, true).await?;
    if !st.exists {
        return Err(fail(format!("Source {src} not found")));
    }
    match st.kind {
        Kind::Dir => return dir(a, cx, &src, &dest).await,
        Kind::File => {}
        _ => {
            return Err(fail(format!(
                "Cannot copy invalid source '{src}': not a file"
            )));
        }
    }
    let mut a = a.clone();
    if args::str_opt(&a, &["mode"]).as_deref() == Some("preserve") {
        a.insert("mode".into(), Value::str(format!("0{:03o}", st.mode)));
    }
    let base = src.rsplit('/').next().unwrap_or_default().to_string();
    let mut dest = dest;
    if dest.ends_with('/') {
        // Ansible makes the missing directories, then copies into the last one.
        let dir = dest.trim_end_matches('/').to_string();
        super::ensure_dir(&a, cx, &dir).await?;
        dest = format!("{dir}/{base}");
    }
    let target = stat(cx, &dest, true, true).await?;
    let into = if target.exists && target.kind == Kind::Dir {
        format!("{}/{base}", dest.trim_end_matches('/'))
    } else {
        dest.clone()
    };
    // A new or rewritten file gets the source's mode unless the task names one.
    if !a.contains_key("mode") {
        let now = if into == dest {
            target
        } else {
            stat(cx, &into, true, true).await?
        };
        if !now.exists || now.sha1 != st.sha1 {
            a.insert("mode".into(), Value::str(format!("0{:03o}", st.mode)));
        }
    }
    let data = read(cx, &src)
        .await?
        .ok_or_else(|| fail(format!("Source {src} not found")))?;
    let mut out = super::put(&a, cx, &dest, data, Some(src.clone()), Some(&base)).await?;
    out.result.insert("src".into(), Value::str(src));
    Ok(out)
}

/// A source directory merged into the destination: `src` without a trailing slash lands
/// as `dest/NAME`, with one its contents go into `dest`.
async fn dir(a: &Map, cx: &mut Cx<'_>, src: &str, dest: &str) -> Result<Outcome, TaskError> {
    let root = if src.ends_with('/') {
        dest.trim_end_matches('/').to_string()
    } else {
        let name = src.rsplit('/').next().unwrap_or_default();
        format!("{}/{name}", dest.trim_end_matches('/'))
    };
    let src = src.trim_end_matches('/');
    let owner = args::str_opt(a, &["owner"]);
    let group = args::str_opt(a, &["group"]);
    let follow = args::bool_opt(a, &["local_follow"])?.unwrap_or(false);
    let script = merge_script(src, &root, owner.as_deref(), group.as_deref(), follow);
    let out = match &cx.writer {
        Some(w) => super::super::remote::change(w, &format!("DRY=0; {script}")).await?,
        None => query(cx, &format!("DRY=1; {script}"), "compare the directories").await?,
    };
    let mut o = Outcome::changed(out.stdout_str().lines().any(|l| l == "C"));
    // The file attributes of the task apply to the destination itself, as Ansible's do.
    let mut top = Map::default();
    for k in ["mode", "owner", "group"] {
        if let Some(v) = a.get(k) {
            top.insert(k.into(), v.clone());
        }
    }
    if !top.is_empty() && (cx.writer.is_some() || !o.changed) {
        top.insert("path".into(), Value::str(dest.trim_end_matches('/')));
        let f = super::super::file::run(&top, cx).await?;
        o.changed |= f.changed;
    }
    o.result.insert("dest".into(), Value::str(dest));
    o.result.insert("src".into(), Value::str(src));
    o.result.insert("checksum".into(), Value::Null);
    o.result.insert("md5sum".into(), Value::Null);
    Ok(o)
}

/// The host-side merge. Prints `C` for every change it makes (or, with `DRY=1`, would
/// make). Symlinks are copied as links unless `local_follow`.
fn merge_script(
    src: &str,
    root: &str,
    owner: Option<&str>,
    group: Option<&str>,
    follow: bool,
) -> String {
    let cp = if follow { "cp -L" } else { "cp -P" };
    let own = match (owner, group) {
        (None, None) => String::new(),
        (o, g) => {
            let spec = format!(
                "{}{}",
                o.unwrap_or(""),
                g.map(|g| format!(":{g}")).unwrap_or_default()
            );
            let test = [
                o.map(|o| format!("! -user {}", sh_quote(o))),
                g.map(|g| format!("! -group {}", sh_quote(g))),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" -o ");
            format!(
                "if [ -n \"$(find \"$D\" \\( {test} \\) -print 2>/dev/null | head -n 1)\" ]; then echo C; \
                 [ \"$DRY\" = 1 ] || chown -hR {} -- \"$D\" || exit 1; fi; ",
                sh_quote(&spec)
            )
        }
    };
    format!(
        "S={s}; D={d}; \
         if [ ! -e \"$D\" ]; then echo C; \
           if [ \"$DRY\" != 1 ]; then mkdir -p -- \"$(dirname -- \"$D\")\" && {cp}R --preserve=mode,timestamps -- \"$S\" \"$D\" || exit 1; fi; \
         else case \"$D\" in /*) ;; *) D=\"$PWD/$D\" ;; esac; cd -- \"$S\" || exit 1; \
           find . -mindepth 1 | while IFS= read -r p; do t=\"$D/${{p#./}}\"; \
             if [ -L \"$p\" ] && [ {keep} = 1 ]; then \
               if [ -L \"$t\" ] && [ \"$(readlink -- \"$p\")\" = \"$(readlink -- \"$t\")\" ]; then continue; fi; \
               echo C; [ \"$DRY\" = 1 ] || {{ rm -f -- \"$t\" && ln -s -- \"$(readlink -- \"$p\")\" \"$t\"; }} || exit 1; \
             elif [ -d \"$p\" ]; then \
               if [ -d \"$t\" ]; then continue; fi; \
               echo C; [ \"$DRY\" = 1 ] || {{ mkdir -- \"$t\" && chmod --reference=\"$p\" -- \"$t\"; }} || exit 1; \
             else \
               if [ -f \"$t\" ] && cmp -s -- \"$p\" \"$t\"; then continue; fi; \
               echo C; [ \"$DRY\" = 1 ] || {{ rm -f -- \"$t\" && {cp} -- \"$p\" \"$t\" && chmod --reference=\"$p\" -- \"$t\"; }} || exit 1; \
             fi; \
           done || exit 1; \
         fi; {own}",
        s = sh_quote(src),
        d = sh_quote(root),
        keep = i32::from(!follow),
    )
}
