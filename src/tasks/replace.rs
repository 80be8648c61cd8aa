//! `replace`: every match of a regular expression in a file replaced (Python's
//! `re.subn` with MULTILINE), optionally only between `after` and `before`; the file is
//! written (atomically, validated) only when its text changes.

use super::lineinfile::{finish, load};
use super::{Cx, Outcome, Spec, TaskError, args, fail};
use crate::value::{Map, Value};

pub(super) const SPEC: Spec = Spec {
    name: "replace",
    file_common: true,
    traits: &[],
    args: &[
        "path", "dest", "destfile", "name", "regexp", "replace", "after", "before", "backup",
        "validate", "encoding",
    ],
    required: &["path|dest|destfile|name", "regexp"],
};

fn compile(p: &str, dot_all: bool, multi_line: bool) -> Result<regex::Regex, TaskError> {
    regex::RegexBuilder::new(p)
        .dot_matches_new_line(dot_all)
        .multi_line(multi_line)
        .build()
        .map_err(|e| fail(format!("invalid regular expression {p:?}: {e}")))
}

pub(super) async fn run(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let path = args::str_req(a, &["path", "dest", "destfile", "name"], "replace")?;
    let regexp = args::str_req(a, &["regexp"], "replace")?;
    let replace = args::str_opt(a, &["replace"]).unwrap_or_default();
    if let Some(e) = crate::template::python_replacement_error(&replace) {
        return Err(fail(format!("Unable to process replace due to error: {e}")));
    }
    let (after, before) = (args::str_opt(a, &["after"]), args::str_opt(a, &["before"]));
    let t = match load(cx, &path, false).await {
        Ok(t) => t,
        Err(_) if cx.check() && cx.sim.files.contains_key(&path) => {
            return Ok(Outcome::changed(true));
        }
        Err(TaskError::Failed(m)) if m.ends_with("is a directory !") => {
            return Err(fail(m));
        }
        Err(_) => return Err(fail(format!("Path {path} does not exist !"))),
    };
    let contents = String::from_utf8_lossy(&t.before).into_owned();
    // The section to work on, as Ansible finds it: after..before (non-greedy), DOTALL.
    let section_pattern = match (&after, &before) {
        (Some(a), Some(b)) => Some(format!("{a}(?P<subsection>.*?){b}")),
        (Some(a), None) => Some(format!("{a}(?P<subsection>.*)")),
        (None, Some(b)) => Some(format!("(?P<subsection>.*){b}")),
        (None, None) => None,
    };
    let (start, end) = match &section_pattern {
        Some(p) => {
            if let Some(c) = compile(p, true, false)?.captures(&contents) {
                match c.name("subsection") {
                    Some(m) => (m.start(), m.end()),
                    None => (0, contents.len()),
                }
            } else {
                let out = Outcome {
                    msg: Some(format!(
                        "Pattern for before/after params did not match the given file: {p}"
                    )),
                    ..Default::default()
                };
                return Ok(out.with("path", Value::str(path)));
            }
        }
        None => (0, contents.len()),
    };
    let section = &contents[start..end];
    let re = compile(&regexp, false, true)?;
    let count = re.find_iter(section).count();
    let replaced = re
        .replace_all(
            section,
            crate::template::python_replacement(&replace).as_str(),
        )
        .into_owned();
    let (after_text, msg) = if count > 0 && replaced != section {
        (
            format!("{}{replaced}{}", &contents[..start], &contents[end..]),
            format!("{count} replacements made"),
        )
    } else {
        (contents.clone(), String::new())
    };
    // `backup:` is made by `finish`, as for lineinfile and blockinfile.
    let mut out = finish(cx, a, t, after_text.into_bytes(), msg).await?;
    // Ansible's replace names the file itself in the diff headers.
    for d in &mut out.diffs {
        if d.before_header.as_deref() == Some(&format!("{path} (content)")) {
            d.before_header = Some(path.clone());
            d.after_header = Some(path.clone());
        }
    }
    Ok(out)
}
