//! `fetch`: a file from the host to the controller, as Ansible's fetch action does
//! (plugins/action/fetch.py): under `dest/HOST/PATH`, or at `dest` itself with `flat`,
//! written only when its SHA-1 differs, checked after the copy, skipped in check mode.

use super::remote::{Kind, read, sha1_hex, stat};
use super::{Cx, Outcome, Spec, TaskError, Trait, args, fail};
use crate::value::{Map, Value};
use std::path::{Component, Path, PathBuf};

pub(super) const SPEC: Spec = Spec {
    name: "fetch",
    file_common: false,
    traits: &[Trait::Controller],
    args: &[
        "src",
        "dest",
        "flat",
        "fail_on_missing",
        "validate_checksum",
    ],
    required: &[],
};

/// Python's `os.path.normpath` for an absolute or relative path.
fn normpath(p: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for c in Path::new(p).components() {
        match c {
            Component::ParentDir if out.last().is_some_and(|l| l != "..") => {
                out.pop();
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            other => out.push(other.as_os_str().to_string_lossy().into_owned()),
        }
    }
    let body = out.join("/");
    if p.starts_with('/') {
        format!("/{body}")
    } else if body.is_empty() {
        ".".into()
    } else {
        body
    }
}

fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    md5::Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The loader's path_dwim: `~` expanded, a relative path under the playbook's directory.
fn dwim(cx: &Cx<'_>, dest: &str) -> String {
    let dest = match (dest.strip_prefix('~'), std::env::var("HOME")) {
        (Some(rest), Ok(home)) if rest.is_empty() || rest.starts_with('/') => {
            format!("{home}{rest}")
        }
        _ => dest.to_string(),
    };
    if dest.starts_with('/') {
        dest
    } else {
        cx.play_dir.join(&dest).display().to_string()
    }
}

pub(super) async fn run(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    if cx.check() {
        return Ok(Outcome {
            skipped: true,
            msg: Some("check mode not (yet) supported for this module".into()),
            ..Outcome::default()
        });
    }
    let (Some(src), Some(dest)) = (args::str_opt(a, &["src"]), args::str_opt(a, &["dest"])) else {
        return Err(fail("src and dest are required"));
    };
    let flat = args::bool_opt(a, &["flat"])?.unwrap_or(false);
    let fail_on_missing = args::bool_opt(a, &["fail_on_missing"])?.unwrap_or(true);
    let validate = args::bool_opt(a, &["validate_checksum"])?.unwrap_or(true);
    let mut out = Outcome::default();
    // Ansible's quirk kept: with fail_on_missing the task fails saying "ignored".
    let missing = |mut out: Outcome| {
        if !fail_on_missing {
            out.result.insert("file".into(), Value::str(src.clone()));
        }
        out.msg = Some("the remote file does not exist, not transferring, ignored".into());
        out.failed = fail_on_missing;
        Ok(out)
    };
    // Ansible stats first unless it becomes another user (then it reads at once).
    let st = if cx.escalate.is_none() {
        let st = stat(cx, &src, true, true).await?;
        if st.exists && st.kind == Kind::Dir {
            let mut o =
                Outcome::failure("remote file is a directory, fetch cannot work on directories");
            if !fail_on_missing {
                o.failed = false;
                o.msg = Some(
                    "remote file is a directory, fetch cannot work on directories, not transferring, ignored"
                        .into(),
                );
            }
            return Ok(o);
        }
        Some(st)
    } else {
        None
    };
    // The host's checksum when its stat has one: an unchanged file is never transferred.
    let mut data = None;
    let known = st
        .as_ref()
        .filter(|s| s.exists)
        .and_then(|s| s.sha1.clone());
    let remote = if let Some(sum) = known {
        sum
    } else {
        let Some(d) = read(cx, &src).await? else {
            return missing(out);
        };
        let sum = sha1_hex(&d);
        data = Some(d);
        sum
    };
    let dest = if flat {
        let is_dir = |p: &str| Path::new(p).is_dir();
        let mut d = dest.clone();
        if is_dir(&d) && !d.ends_with('/') {
            return Err(fail(
                "dest is an existing directory, use a trailing slash if you want to fetch src into that directory",
            ));
        }
        if d.ends_with('/') {
            let base = src.rsplit('/').next().unwrap_or(&src);
            d = format!("{d}{base}");
            if is_dir(&d) {
                return Err(fail(format!(
                    "calculated dest '{d}' is an existing directory, use another path that does not point to an existing directory"
                )));
            }
        }
        if d.starts_with('/') { d } else { dwim(cx, &d) }
    } else {
        format!("{}/{}/{}", dwim(cx, &dest), cx.host, src)
    };
    let dest = normpath(&dest);
    let local = std::fs::read(&dest).ok();
    let local_sum = local.as_deref().map(sha1_hex);
    if local_sum.as_deref() == Some(remote.as_str()) {
        out.result.insert(
            "md5sum".into(),
            Value::str(md5_hex(local.as_deref().unwrap_or_default())),
        );
        out.result.insert("file".into(), Value::str(src));
        out.result.insert("dest".into(), Value::str(dest));
        out.result.insert("checksum".into(), Value::str(remote));
        return Ok(out);
    }
    let data = if let Some(d) = data {
        d
    } else if let Some(d) = read(cx, &src).await? {
        d
    } else {
        return missing(out);
    };
    if let Some(parent) = PathBuf::from(&dest).parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| fail(format!("Failed to fetch the file: {e}")))?;
    }
    std::fs::write(&dest, &data).map_err(|_| fail("Failed to fetch the file."))?;
    let written = std::fs::read(&dest).unwrap_or_default();
    let new_sum = sha1_hex(&written);
    out.result
        .insert("md5sum".into(), Value::str(md5_hex(&written)));
    out.result.insert("dest".into(), Value::str(dest));
    out.result.insert("remote_md5sum".into(), Value::Null);
    out.result
        .insert("checksum".into(), Value::str(new_sum.clone()));
    out.result
        .insert("remote_checksum".into(), Value::str(remote.clone()));
    if validate && new_sum != remote {
        out.failed = true;
        out.msg = Some("checksum mismatch".into());
        out.result.insert("file".into(), Value::str(src));
    } else {
        out.changed = true;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::normpath;

    #[test]
    fn normalises_as_python() {
        assert_eq!(normpath("/a/b//c/./d/../e"), "/a/b/c/e");
        assert_eq!(normpath("out/h1//etc/x"), "out/h1/etc/x");
        assert_eq!(normpath("a/.."), ".");
    }
}
