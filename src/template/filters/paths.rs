//! Ansible's path filters (`os.path`'s `basename`, `dirname`, `normpath`, `relpath`...)
//! and `fileglob`.

use super::{err, ours};
use crate::template::convert::py_str;
use minijinja::value::ValueKind;
use minijinja::{Environment, Error, Value as MjValue};

/// The path filters.
pub(super) fn register(env: &mut Environment<'static>) {
    // The files a glob matches on the controller (`os.path.isfile` ones, as Ansible's).
    env.add_filter("fileglob", |pattern: String| -> Vec<String> {
        let (dir, base) = match pattern.rsplit_once('/') {
            Some((d, b)) => (if d.is_empty() { "/" } else { d }, b),
            None => (".", pattern.as_str()),
        };
        crate::template::lookups::glob_files(std::path::Path::new(dir), base)
            .into_iter()
            .map(|f| {
                f.strip_prefix("./")
                    .map_or_else(|| f.clone(), str::to_string)
            })
            .collect()
    });
    env.add_filter("basename", |s: String| -> String {
        s.rsplit('/').next().unwrap_or_default().to_string()
    });
    env.add_filter("dirname", |s: String| -> String {
        // Python's os.path.dirname.
        match s.rfind('/') {
            Some(i) => {
                let head = &s[..=i];
                if head.chars().all(|c| c == '/') {
                    head.to_string()
                } else {
                    head.trim_end_matches('/').to_string()
                }
            }
            None => String::new(),
        }
    });
    env.add_filter("splitext", |s: String| -> MjValue {
        let base_start = s.rfind('/').map_or(0, |i| i + 1);
        let name = &s[base_start..];
        let dot = name
            .trim_start_matches('.')
            .rfind('.')
            .map(|i| i + (name.len() - name.trim_start_matches('.').len()));
        match dot {
            Some(i) => MjValue::from(vec![
                MjValue::from(&s[..base_start + i]),
                MjValue::from(&s[base_start + i..]),
            ]),
            None => MjValue::from(vec![MjValue::from(s.as_str()), MjValue::from("")]),
        }
    });
    env.add_filter("path_join", |v: MjValue| -> Result<String, Error> {
        if let Some(s) = v.as_str() {
            return Ok(s.to_string());
        }
        if !matches!(v.kind(), ValueKind::Seq | ValueKind::Iterable) {
            return Err(err(format!(
                "|path_join expects string or sequence, got <class '{}'> instead.",
                ours(&v)?.type_name()
            )));
        }
        let mut out = String::new();
        for part in v.try_iter()? {
            let p = py_str(&part)?;
            if p.starts_with('/') || out.is_empty() {
                out = p;
            } else {
                if !out.ends_with('/') {
                    out.push('/');
                }
                out.push_str(&p);
            }
        }
        Ok(out)
    });
    env.add_filter("expanduser", |s: String| -> String {
        match (s.strip_prefix('~'), std::env::var("HOME")) {
            (Some(rest), Ok(home)) if rest.is_empty() || rest.starts_with('/') => {
                format!("{home}{rest}")
            }
            _ => s,
        }
    });
    env.add_filter("realpath", |p: String| -> String {
        std::fs::canonicalize(&p).map_or_else(|_| normpath(&p), |c| c.display().to_string())
    });
    env.add_filter("relpath", |p: String, start: Option<String>| -> String {
        relpath(
            &normpath(&p),
            &normpath(&start.unwrap_or_else(|| ".".into())),
        )
    });
}

/// Python's `os.path.normpath` for absolute or relative paths.
fn normpath(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|l| *l != "..") => {
                parts.pop();
            }
            ".." if abs => {}
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (abs, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Python's `os.path.relpath` on normalised absolute paths.
fn relpath(p: &str, start: &str) -> String {
    let cwd = crate::source::cwd().map_or_else(|| "/".into(), |c| c.display().to_string());
    let absolute = |x: &str| {
        if x.starts_with('/') {
            x.to_string()
        } else {
            normpath(&format!("{cwd}/{x}"))
        }
    };
    let (p, start) = (absolute(p), absolute(start));
    let a: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
    let b: Vec<&str> = start.split('/').filter(|s| !s.is_empty()).collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out: Vec<&str> = vec![".."; b.len() - common];
    out.extend(&a[common..]);
    if out.is_empty() {
        ".".into()
    } else {
        out.join("/")
    }
}
