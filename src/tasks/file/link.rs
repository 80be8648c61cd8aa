//! `file`'s links: `state: link` and `hard`, swapped atomically.

use super::{apply, attr_script};
use crate::tasks::attrs::Attrs;
use crate::tasks::remote::{Kind, Stat, parent, stat};
use crate::tasks::{Cx, Diff, Outcome, TaskError, fail};
use crate::transport::sh_quote;
use crate::value::Value;

pub(super) async fn link(
    cx: &mut Cx<'_>,
    path: &str,
    st: &Stat,
    attrs: &Attrs,
    src: Option<&str>,
    hard: bool,
    force: bool,
) -> Result<Outcome, TaskError> {
    // Without `src`, an existing symlink keeps its target (Ansible reads it back) and
    // only its attributes change.
    let src = match (src, &st.link_target) {
        (Some(s), _) => s,
        (None, Some(t)) if !hard && st.kind == Kind::Link => t.as_str(),
        (None, _) => {
            return Err(fail(if hard {
                "src is required for creating new hardlinks"
            } else {
                "src is required for creating new symlinks"
            }));
        }
    };
    if hard {
        let want = stat(cx, src, true, false).await?;
        if !want.exists {
            return Ok(Outcome {
                failed: true,
                msg: Some("src does not exist".into()),
                ..Outcome::default()
            }
            .with("dest", Value::str(path))
            .with("src", Value::str(src)));
        }
        if st.exists
            && st.kind == Kind::File
            && want.exists
            && want.uid == st.uid
            && want.size == st.size
            && st.link_target.is_none()
        {
            let same = cx
                .probe
                .exec(
                    &format!("[ {} -ef {} ]", sh_quote(src), sh_quote(path)),
                    cx.read_become(),
                )
                .await?;
            if same.ok() {
                return Ok(Outcome::changed(false));
            }
        }
        let mut out = Outcome::changed(true);
        out.diffs.push(Diff::attrs(
            path,
            &[("state", Value::str(st.state()))],
            &[("state", Value::str("hard"))],
        ));
        apply(
            cx,
            &format!("ln -f -- {} {}", sh_quote(src), sh_quote(path)),
        )
        .await?;
        return Ok(out);
    }
    let mut out = Outcome::default();
    if st.exists && st.kind == Kind::Link && st.link_target.as_deref() == Some(src) {
        let (before, after, script) = attr_script(path, st, attrs, false)?;
        if !script.is_empty() {
            out.changed = true;
            out.diffs.push(Diff::attrs(path, &before, &after));
            apply(cx, &script).await?;
        }
        return Ok(out);
    }
    if st.exists && st.kind != Kind::Link && !force {
        return Err(fail(format!(
            "refusing to convert from {} to symlink for {path}",
            st.state()
        )));
    }
    // Even forced, a directory with anything in it is never replaced by a link.
    if st.exists && st.kind == Kind::Dir {
        let empty = cx
            .probe
            .exec(
                &format!("[ -z \"$(ls -A -- {})\" ]", sh_quote(path)),
                cx.read_become(),
            )
            .await?;
        if !empty.ok() {
            return Err(fail(format!(
                "the directory {path} is not empty, refusing to convert it"
            )));
        }
    }
    if !force {
        // Like Ansible: the target must exist (relative targets from the link's dir),
        // or exist once earlier tasks have run (check mode).
        let abs = if src.starts_with('/') {
            src.to_string()
        } else {
            format!("{}/{src}", parent(path))
        };
        let predicted =
            cx.check() && (cx.sim.dirs.contains(&abs) || cx.sim.files.contains_key(&abs));
        if !predicted && !stat(cx, &abs, true, false).await?.exists {
            return Err(fail(format!(
                "src file does not exist, use 'force=yes' if you really want to create the link: {abs}"
            )));
        }
    }
    out.changed = true;
    let before = match &st.link_target {
        Some(t) => vec![("src", Value::str(t.clone()))],
        None => vec![("state", Value::str(st.state()))],
    };
    // Ansible names the target only when a link changes target.
    let after = if st.link_target.is_some() {
        vec![("src", Value::str(src))]
    } else {
        vec![("state", Value::str("link"))]
    };
    out.diffs.push(Diff::attrs(path, &before, &after));
    // A new link beside the old one, renamed over it: never a moment without a link.
    let (tmp, stale) = match &cx.writer {
        Some(w) => w.temp_beside(path),
        None => (crate::transport::temp_beside(path, None), String::new()),
    };
    let fresh = Stat {
        exists: true,
        kind: Kind::Link,
        owner: "?".into(),
        group: "?".into(),
        uid: u32::MAX,
        gid: u32::MAX,
        ..Stat::absent(path)
    };
    let (_, _, attrs_cmd) = attr_script(&tmp, &fresh, attrs, false)?;
    let mut script = format!("ln -s -- {} {t}", sh_quote(src), t = sh_quote(&tmp));
    if !attrs_cmd.is_empty() {
        script.push_str(&format!(" && {attrs_cmd}"));
    }
    if st.exists && st.kind == Kind::Dir {
        script = format!("rmdir -- {} && {script}", sh_quote(path));
    }
    let Some(w) = &cx.writer else {
        return Ok(out);
    };
    // The temp link goes when anything fails before the rename; dead runs' ones after.
    let script = format!(
        "trap 'rm -f -- {t}' EXIT; {script} && mv -Tf -- {t} {p} && {{ trap - EXIT; {stale}; }}",
        t = sh_quote(&tmp),
        p = sh_quote(path)
    );
    super::super::remote::change(w, &script).await?;
    Ok(out)
}
