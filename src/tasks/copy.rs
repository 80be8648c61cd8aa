//! `copy` and `template`: put content at a path, compared by SHA-1 first so unchanged
//! files cost one small round trip; written atomically (temp file, fsync, rename) with
//! owner and mode set before the rename.

use super::attrs::{Attrs, changes};
use super::remote::{Kind, Stat, read, sha1_hex, stat};
use super::{Cx, Diff, Outcome, Spec, TaskError, Trait, Writer, args, fail};
use crate::transport::sh_quote;
use crate::value::{Map, Value};
use std::path::Path;

mod dir;
mod remote_src;

use dir::copy_dir;

pub(super) const COPY_SPEC: Spec = Spec {
    name: "copy",
    file_common: true,
    traits: &[Trait::ActionPlugin],
    args: &[
        "src",
        "content",
        "dest",
        "backup",
        "force",
        "validate",
        "follow",
        "remote_src",
        "directory_mode",
        "decrypt",
        "checksum",
        "local_follow",
    ],
    // The action plugin says what is missing, in its own words (run_copy).
    required: &[],
};

pub(super) const TEMPLATE_SPEC: Spec = Spec {
    name: "template",
    file_common: true,
    traits: &[Trait::ActionPlugin],
    args: &[
        "src",
        "dest",
        "backup",
        "force",
        "validate",
        "follow",
        "newline_sequence",
        "trim_blocks",
        "lstrip_blocks",
        "block_start_string",
        "block_end_string",
        "variable_start_string",
        "variable_end_string",
        "comment_start_string",
        "comment_end_string",
        "output_encoding",
    ],
    required: &["src", "dest"],
};

/// Files above this size are not diffed (Ansible's MAX_FILE_SIZE_FOR_DIFF).
const MAX_DIFF_SIZE: usize = 104_448;

pub(super) async fn run_copy(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    // The action plugin's checks, in its order.
    let src = args::str_opt(a, &["src"]).filter(|s| !s.is_empty());
    let content = a.get("content").filter(|c| !matches!(c, Value::Null));
    let dest = args::str_opt(a, &["dest"]).filter(|s| !s.is_empty());
    let dest = match (&src, content, dest) {
        (None, None, _) => return Err(fail("src (or content) is required")),
        (_, _, None) => return Err(fail("dest is required")),
        (Some(_), Some(_), _) => return Err(fail("src and content are mutually exclusive")),
        (None, Some(_), Some(d)) if d.ends_with('/') => {
            return Err(fail("can not use content with a dir as dest"));
        }
        (_, _, Some(d)) => d,
    };
    let mut preserved: Option<Map> = None;
    let (data, src_name) = match (content, src) {
        (Some(c), None) => {
            let text = match c {
                Value::Map(_) | Value::List(_) => {
                    crate::value::pyjson::dumps(c, &crate::value::pyjson::JsonStyle::compact())
                        .map_err(fail)?
                }
                other => other.py_str(),
            };
            (text.into_bytes(), None)
        }
        (None, Some(src)) => {
            if args::bool_opt(a, &["remote_src"])?.unwrap_or(false) {
                return remote_src::run(a, cx, &src, &dest).await;
            }
            let path = cx.find_file("files", &src)?;
            if path.is_dir() {
                return copy_dir(a, cx, &src, &path, &dest).await;
            }
            let data = read_src(a, &path)?;
            if args::str_opt(a, &["mode"]).as_deref() == Some("preserve") {
                // Ansible's action plugin sends the controller file's mode.
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&path).map_or(0o644, |m| m.permissions().mode());
                let mut with_mode = a.clone();
                with_mode.insert("mode".into(), Value::str(format!("0{:03o}", mode & 0o7777)));
                preserved = Some(with_mode);
            }
            (data, Some(path.display().to_string()))
        }
        _ => return Err(fail("src (or content) is required")),
    };
    let dest = match &src_name {
        Some(s) if dest.ends_with('/') => {
            ensure_dir(a, cx, dest.trim_end_matches('/')).await?;
            format!("{dest}{}", s.rsplit('/').next().unwrap_or_default())
        }
        _ => dest,
    };
    // A file copied onto an existing directory goes into it, as Ansible's copy does.
    let base = src_name
        .as_ref()
        .map(|s| s.rsplit('/').next().unwrap_or_default().to_string());
    // With `mode: preserve` the diff and result name the controller file.
    let header = preserved.as_ref().and(src_name.clone());
    put(
        preserved.as_ref().unwrap_or(a),
        cx,
        &dest,
        data,
        header,
        Some(base.as_deref().unwrap_or("")),
    )
    .await
}

/// A destination ending in `/` that does not exist is made, with `directory_mode`, as
/// Ansible's copy makes it.
async fn ensure_dir(a: &Map, cx: &mut Cx<'_>, dir: &str) -> Result<(), TaskError> {
    if stat(cx, dir, true, false).await?.exists {
        return Ok(());
    }
    let mut dir_args = Map::default();
    dir_args.insert("path".into(), Value::str(dir));
    dir_args.insert("state".into(), Value::str("directory"));
    if let Some(m) = a.get("directory_mode") {
        dir_args.insert("mode".into(), m.clone());
    }
    super::file::run(&dir_args, cx).await?;
    Ok(())
}

fn read_src(a: &Map, path: &Path) -> Result<Vec<u8>, TaskError> {
    let data =
        std::fs::read(path).map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
    if !args::bool_opt(a, &["decrypt"])?.unwrap_or(true) {
        return Ok(data);
    }
    crate::vault::file_contents(path, data).map_err(fail)
}

pub(super) async fn run_template(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let src = args::str_req(a, &["src"], "template")?;
    let dest = args::str_req(a, &["dest"], "template")?;
    let path = cx.find_file("templates", &src)?;
    // The task's own `ansible_managed` (task or play vars) wins over the default one.
    let frame = crate::template::native_frame(
        crate::template::file_vars(&path, &src)
            .into_iter()
            .filter(|(k, _)| k != "ansible_managed" || !cx.scope.contains(k))
            .chain([("template_destpath".to_string(), Value::str(dest.clone()))]),
    );
    let scope = cx.scope.with_frame(frame);
    let mut options = crate::template::FileOptions::default();
    for (key, slot) in [
        ("block_start_string", &mut options.block_start),
        ("block_end_string", &mut options.block_end),
        ("variable_start_string", &mut options.variable_start),
        ("variable_end_string", &mut options.variable_end),
        ("comment_start_string", &mut options.comment_start),
        ("comment_end_string", &mut options.comment_end),
    ] {
        if let Some(v) = args::str_opt(a, &[key]) {
            *slot = v;
        }
    }
    if let Some(t) = args::bool_opt(a, &["trim_blocks"])? {
        options.trim_blocks = t;
    }
    if let Some(l) = args::bool_opt(a, &["lstrip_blocks"])? {
        options.lstrip_blocks = l;
    }
    match args::str_opt(a, &["newline_sequence"]).as_deref() {
        None | Some("\\n" | "\n") => {}
        Some("\\r\\n" | "\r\n") => options.newline = "\r\n".into(),
        Some("\\r" | "\r") => options.newline = "\r".into(),
        Some(other) => {
            return Err(fail(format!(
                "newline_sequence must be one of \\n, \\r, \\r\\n, got {other:?}"
            )));
        }
    }
    let text = crate::template::engine()
        .render_file_with(&path, &scope, &options)
        .map_err(|e| {
            fail(format!(
                "template error while templating {}: {e}",
                path.display()
            ))
        })?;
    let header = path.display().to_string();
    let data = match args::str_opt(a, &["output_encoding"]).filter(|e| !e.is_empty()) {
        Some(enc) if !matches!(enc.to_lowercase().as_str(), "utf-8" | "utf8") => {
            crate::template::encode_text(&text, &enc)
                .map_err(|e| fail(format!("output_encoding {enc}: {e}")))?
        }
        _ => text.into_bytes(),
    };
    // A directory as dest gets the file under the template's own name, as copy does.
    let base = path.file_name().map(|n| n.to_string_lossy().into_owned());
    // `mode: preserve`: the template file's own mode, as the action plugin sends it.
    let preserved = (args::str_opt(a, &["mode"]).as_deref() == Some("preserve")).then(|| {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).map_or(0o644, |m| m.permissions().mode());
        let mut with_mode = a.clone();
        with_mode.insert("mode".into(), Value::str(format!("0{:03o}", mode & 0o7777)));
        with_mode
    });
    put(
        preserved.as_ref().unwrap_or(a),
        cx,
        &dest,
        data,
        Some(header),
        base.as_deref(),
    )
    .await
}

/// Makes `dest` hold `data` with the asked attributes; then the result carries the
/// file's state as Ansible's does (`state`, `mode`, `owner`, `uid`...).
async fn put(
    a: &Map,
    cx: &mut Cx<'_>,
    dest: &str,
    data: Vec<u8>,
    after_header: Option<String>,
    into_dir: Option<&str>,
) -> Result<Outcome, TaskError> {
    // `follow: yes` writes through a link to its target, keeping the link.
    let real;
    let dest = if args::bool_opt(a, &["follow"])?.unwrap_or(false) {
        let script = format!(
            "p={}; if [ -L \"$p\" ]; then readlink -f -- \"$p\"; fi",
            sh_quote(dest)
        );
        let out = super::remote::query(cx, &script, "resolve the link").await?;
        real = out.stdout_str().trim_end_matches('\n').to_string();
        if real.is_empty() { dest } else { real.as_str() }
    } else {
        dest
    };
    let st = stat(cx, dest, true, true).await?;
    let (dest, st) = match into_dir {
        Some(base) if st.exists && st.kind == Kind::Dir => {
            if base.is_empty() {
                return Err(fail("can not use content with a dir as dest"));
            }
            let inner = format!("{}/{base}", dest.trim_end_matches('/'));
            let st = stat(cx, &inner, true, true).await?;
            (inner, st)
        }
        _ => (dest.to_string(), st),
    };
    let before = st.clone();
    // Ansible's result names the uploaded source when it wrote the file.
    let src = after_header.clone().unwrap_or_else(|| dest.clone());
    let mut out = put_file(a, cx, &dest, st, data, after_header).await?;
    if out.changed && before.sha1 != out.result.get("checksum").map(Value::py_str) {
        out.result.entry("src".into()).or_insert(Value::str(src));
    }
    if !out.failed {
        let unchanged = (!out.changed).then_some(&before);
        let mut keys = super::remote::final_keys(cx, &dest, "file", true, unchanged).await?;
        if let Some(Value::Str(md5)) = out.result.get("md5sum") {
            keys.insert("md5sum".into(), Value::Str(md5.clone()));
        }
        for (k, v) in keys {
            out.result.entry(k).or_insert(v);
        }
    }
    Ok(out)
}

async fn put_file(
    a: &Map,
    cx: &mut Cx<'_>,
    dest: &str,
    st: Stat,
    data: Vec<u8>,
    after_header: Option<String>,
) -> Result<Outcome, TaskError> {
    let attrs = Attrs::from_args(a)?;
    let force = args::bool_opt(a, &["force"])?.unwrap_or(true);
    let backup = args::bool_opt(a, &["backup"])?.unwrap_or(false);
    let validate = args::str_opt(a, &["validate"]);
    let dest = dest.to_string();
    if st.exists && st.kind == Kind::Dir {
        return Err(fail(format!("{dest} is a directory")));
    }
    let checksum = sha1_hex(&data);
    let mut out = Outcome::default();
    out.result.insert("dest".into(), Value::str(dest.clone()));
    out.result
        .insert("checksum".into(), Value::str(checksum.clone()));
    {
        use md5::Digest;
        let md5: String = md5::Md5::digest(&data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        out.result.insert("md5sum".into(), Value::str(md5));
    }
    out.result
        .insert("size".into(), Value::Int(data.len() as i64));
    if st.exists && !force {
        return Ok(out);
    }
    let content_changed = !st.exists || st.sha1.as_deref() != Some(checksum.as_str());
    if !content_changed {
        // Only attributes, if anything.
        let c = changes(&st, &attrs, &dest, true)?;
        if c.changed() {
            out.changed = true;
            out.diffs.push(Diff::attrs(&dest, &c.before, &c.after));
            if let Some(w) = &cx.writer {
                super::remote::change(w, &c.commands.join(" && ")).await?;
            } else if let Some(content) = cx.sim.files.get(&dest).cloned() {
                cx.sim.wrote(&dest, content, &attrs, Some(&st));
            }
        }
        return Ok(out);
    }
    if !cx.sim.dirs.contains(super::remote::parent(&dest)) {
        let dir = stat(cx, super::remote::parent(&dest), true, false).await?;
        if !dir.exists {
            return Err(fail(format!(
                "Destination directory {} does not exist",
                super::remote::parent(&dest)
            )));
        }
    }
    out.changed = true;
    if cx.diff {
        let before = if st.exists {
            if st.size as usize > MAX_DIFF_SIZE {
                None
            } else {
                read(cx, &dest).await?
            }
        } else {
            Some(Vec::new())
        };
        let binary = |d: &[u8]| d.contains(&0);
        match before {
            Some(b) if !binary(&b) && !binary(&data) && data.len() <= MAX_DIFF_SIZE => {
                out.diffs.push(Diff {
                    // A new file has no "before" path, as in Ansible's diff.
                    before_header: st.exists.then(|| dest.clone()),
                    after_header: Some(after_header.unwrap_or_else(|| dest.clone())),
                    before: String::from_utf8_lossy(&b).into_owned(),
                    after: String::from_utf8_lossy(&data).into_owned(),
                });
            }
            _ => out.msg = Some(
                "diff skipped: destination file appears to be binary or larger than 104448 bytes"
                    .into(),
            ),
        }
    }
    let Some(w) = &cx.writer else {
        cx.sim.wrote(&dest, data, &attrs, Some(&st));
        return Ok(out);
    };
    if backup && st.exists {
        let stamp = "$(date +%Y-%m-%d@%H:%M:%S~)";
        let script = format!(
            "b={}.$$.{stamp}; cp -p -- {} \"$b\" && echo \"$b\"",
            sh_quote(&dest),
            sh_quote(&dest)
        );
        let o = super::remote::change(w, &script).await?;
        out.result.insert(
            "backup_file".into(),
            Value::str(o.stdout_str().trim().to_string()),
        );
    }
    write(cx, w, &dest, &data, &attrs, &st, validate.as_deref()).await?;
    Ok(out)
}

/// Writes `data` to `dest` atomically. The new file gets the asked attributes, else the
/// old file's, else mode 0644; `validate` (with `%s`) runs on it before the rename.
pub(super) async fn write(
    cx: &Cx<'_>,
    w: &Writer<'_>,
    dest: &str,
    data: &[u8],
    attrs: &Attrs,
    st: &Stat,
    validate: Option<&str>,
) -> Result<(), TaskError> {
    let placeholder = "__TPROV_TMP__";
    let fresh = Stat {
        exists: false,
        mode: 0o600,
        ..Stat::absent(placeholder)
    };
    let mut finish: Vec<String> = Vec::new();
    if attrs.mode.is_none() {
        finish.push(if st.exists {
            format!("chmod --reference={} \"$T\"", sh_quote(dest))
        } else {
            "chmod 0644 \"$T\"".into()
        });
    }
    if st.exists
        && attrs.owner.is_none()
        && cx.probe.login_user() == "root"
        && cx.escalate.as_ref().is_none_or(|b| b.user == "root")
    {
        finish.push(format!("chown --reference={} \"$T\"", sh_quote(dest)));
    }
    let c = changes(&fresh, attrs, placeholder, true)?;
    finish.extend(
        c.commands
            .iter()
            .map(|cmd| cmd.replace(placeholder, "\"$T\"")),
    );
    if let Some(v) = validate {
        if !v.contains("%s") {
            return Err(fail(format!("validate must contain %s: {v}")));
        }
        finish.push(format!(
            "{} >&2 || {{ echo 'failed to validate' >&2; exit 1; }}",
            v.replace("%s", "\"$T\"")
        ));
    }
    let finish = if finish.is_empty() {
        ":".to_string()
    } else {
        finish.join(" && ")
    };
    w.write_file(dest, data, &finish, false)
        .await
        .map_err(|e| match e {
            crate::transport::TransportError::Failed(m) if m.contains("failed to validate") => {
                fail(format!("failed to validate: {m}"))
            }
            other => other.into(),
        })
}
