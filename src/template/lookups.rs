//! Lookups (`lookup()`, `query()`, and the `with_<name>` loops built on them): the ones
//! playbooks like the fleet's use, run on the controller as Ansible runs them.

use super::convert::py_str;
use crate::value::Value;
use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Error, ErrorKind, Value as MjValue};
use std::path::{Path, PathBuf};

/// The lookups tprov has (short names; `ansible.builtin.` prefixes are accepted).
pub(crate) const NAMES: &[&str] = &[
    "env",
    "file",
    "template",
    "unvault",
    "vars",
    "items",
    "list",
    "pipe",
    "lines",
    "fileglob",
    "first_found",
    "sequence",
    "dict",
    "nested",
    "together",
    "subelements",
    "indexed_items",
    "random_choice",
];

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// The playbook's directory (relative lookups start there), else the current one.
fn base_dir(state: &minijinja::State) -> PathBuf {
    state
        .lookup("playbook_dir")
        .and_then(|v| v.as_str().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// A controller file for `rel`: itself when absolute, else under `files/` and then
/// directly in each directory of the task's `ansible_search_path` (its role's, its
/// file's), then the playbook's (Ansible's path_dwim_relative_stack).
fn find(state: &minijinja::State, rel: &str) -> Option<PathBuf> {
    let p = Path::new(rel);
    if p.is_absolute() {
        return p.exists().then(|| p.to_path_buf());
    }
    let dirs = search_dirs(state);
    let under_files = rel.split('/').next() == Some("files");
    dirs.iter()
        .flat_map(|d| {
            let first = (!under_files).then(|| d.join("files").join(p));
            first.into_iter().chain([d.join(p)])
        })
        .find(|c| c.exists())
}

/// The task's `ansible_search_path` (its role's directory, its file's), then the
/// playbook's directory.
fn search_dirs(state: &minijinja::State) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = state
        .lookup("ansible_search_path")
        .and_then(|v| v.try_iter().ok().map(Iterator::collect::<Vec<_>>))
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(PathBuf::from))
        .collect();
    dirs.push(base_dir(state));
    dirs
}

/// A controller file for `rel` under `sub` (`templates/`) of each search directory,
/// then directly in it (Ansible's find_file_in_search_path).
fn find_under(state: &minijinja::State, sub: &str, rel: &str) -> Option<PathBuf> {
    let p = Path::new(rel);
    if p.is_absolute() {
        return p.is_file().then(|| p.to_path_buf());
    }
    search_dirs(state)
        .iter()
        .flat_map(|d| [d.join(sub).join(p), d.join(p)])
        .find(|c| c.is_file())
}

/// Runs `cmd` with `sh -c` on the controller; its stdout, or an error naming the status.
fn shell(cmd: &str) -> Result<String, Error> {
    let out = std::process::Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map_err(|e| err(format!("lookup pipe: cannot run sh: {e}")))?;
    if !out.status.success() {
        return Err(err(format!(
            "lookup_plugin.pipe({cmd}) returned {}",
            out.status.code().unwrap_or(-1)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A shell-style pattern (`*`, `?`, `[...]`) as an anchored regex.
/// The files in `dir` whose names match the glob `base`, in the directory's own order
/// as Python's glob gives them (both read it with readdir).
pub(super) fn glob_files(dir: &Path, base: &str) -> Vec<String> {
    let Some(re) = glob_regex(base) else {
        return Vec::new();
    };
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| re.is_match(&n.to_string_lossy()))
                })
                .map(|p| p.display().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn glob_regex(pattern: &str) -> Option<regex::Regex> {
    let mut re = String::from("^");
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '[' => {
                let mut class = String::from("[");
                if chars.peek() == Some(&'!') {
                    chars.next();
                    class.push('^');
                }
                for d in chars.by_ref() {
                    if d == ']' {
                        break;
                    }
                    if d == '\\' {
                        class.push('\\');
                    }
                    class.push(d);
                }
                class.push(']');
                re.push_str(&class);
            }
            other => re.push_str(&regex::escape(&other.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).ok()
}

/// `sequence`: `start=1 end=5 stride=1 format=%d`, or the shortcut `[start-]end[/stride][:format]`.
fn sequence(term: &str) -> Result<Vec<MjValue>, Error> {
    let (mut start, mut end, mut stride, mut count, mut format) =
        (1i64, None::<i64>, 1i64, None::<i64>, "%d".to_string());
    // An option that is no integer, in Ansible's config wording.
    let num = |key: &str, s: &str| -> Result<i64, Error> {
        let s = s.trim();
        let v = if let Some(h) = s.strip_prefix("0x") {
            i64::from_str_radix(h, 16)
        } else if let Some(o) = s
            .strip_prefix("0o")
            .or_else(|| s.strip_prefix('0').filter(|r| !r.is_empty()))
        {
            i64::from_str_radix(o, 8)
        } else {
            s.parse()
        };
        v.map_err(|_| {
            err(format!(
                "Config '{key}' for 'sequence' lookup plugin from 'direct' has an invalid value."
            ))
        })
    };
    if term.contains('=') {
        for part in term.split_whitespace() {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| err(format!("can't parse arg {part:?} in sequence")))?;
            match k {
                "start" => start = num("start", v)?,
                "end" => end = Some(num("end", v)?),
                "stride" => stride = num("stride", v)?,
                "count" => count = Some(num("count", v)?),
                "format" => format = v.to_string(),
                other => {
                    return Err(err(format!(
                        "unrecognized arguments to with_sequence: {other}"
                    )));
                }
            }
        }
    } else {
        let (body, fmt) = match term.split_once(':') {
            Some((b, f)) => (b, Some(f)),
            None => (term, None),
        };
        let (range, st) = match body.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (body, None),
        };
        match range.split_once('-') {
            Some((a, b)) => {
                start = num("start", a)?;
                end = Some(num("end", b)?);
            }
            None => end = Some(num("end", range)?),
        }
        if let Some(s) = st {
            stride = num("stride", s)?;
        }
        if let Some(f) = fmt {
            format = f.to_string();
        }
    }
    if let Some(c) = count {
        if end.is_some() {
            return Err(err("can't specify both count and end in with_sequence"));
        }
        if c == 0 {
            return Ok(Vec::new());
        }
        // Ansible's own arithmetic (`- 1`, whatever the stride).
        end = Some(start + c * stride - 1);
    }
    let end = end.ok_or_else(|| err("must specify count or end in with_sequence"))?;
    if stride > 0 && end < start {
        return Err(err("to count backwards make stride negative"));
    }
    if stride < 0 && end > start {
        return Err(err("to count forward don't make stride negative"));
    }
    if stride == 0 {
        return Ok(Vec::new());
    }
    if format.matches('%').count() != 1 {
        return Err(err(format!("bad formatting string: {format}")));
    }
    let mut out = Vec::new();
    let mut i = start;
    while (stride > 0 && i <= end) || (stride < 0 && i >= end) {
        out.push(MjValue::from(printf_int(&format, i)));
        i += stride;
        if out.len() > 1_000_000 {
            return Err(err("with_sequence: more than a million items"));
        }
    }
    Ok(out)
}

/// Python's `format % i` for the integer conversions sequence formats use.
fn printf_int(format: &str, i: i64) -> String {
    let Some(pos) = format.find('%') else {
        return format.to_string();
    };
    let rest = &format[pos + 1..];
    let spec_end = rest
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    let (flags, conv) = (
        &rest[..spec_end],
        rest[spec_end..].chars().next().unwrap_or('d'),
    );
    let zero = flags.starts_with('0');
    let width: usize = flags.trim_start_matches('0').parse().unwrap_or(0);
    let body = match conv {
        'x' => format!("{i:x}"),
        'X' => format!("{i:X}"),
        'o' => format!("{i:o}"),
        _ => i.to_string(),
    };
    let padded = if zero {
        format!("{body:0>width$}")
    } else {
        format!("{body:>width$}")
    };
    let tail = &rest[(spec_end + conv.len_utf8()).min(rest.len())..];
    format!("{}{padded}{tail}", &format[..pos])
}

fn list_of(v: &MjValue) -> Result<Vec<MjValue>, Error> {
    if matches!(v.kind(), ValueKind::Seq) {
        Ok(v.try_iter()?.collect())
    } else {
        Ok(vec![v.clone()])
    }
}

/// first_found's options: given as keywords, and replaced by each term that is a
/// mapping (Ansible's `set_options(direct=term)`; the last one's `skip` counts).
struct FirstFound {
    files: Vec<String>,
    paths: Vec<String>,
    skip: bool,
}

impl FirstFound {
    fn from_kwargs(k: &Kwargs) -> Result<FirstFound, Error> {
        Ok(FirstFound {
            files: option_list(k.get::<Option<MjValue>>("files")?.as_ref(), ",;")?,
            paths: option_list(k.get::<Option<MjValue>>("paths")?.as_ref(), ",:;")?,
            skip: k.get::<Option<bool>>("skip")?.unwrap_or(false),
        })
    }

    fn from_map(term: &MjValue) -> Result<FirstFound, Error> {
        let get = |key: &str| -> Result<Option<MjValue>, Error> {
            Ok(term
                .get_attr(key)
                .ok()
                .filter(|v| !v.is_undefined() && !v.is_none()))
        };
        Ok(FirstFound {
            files: option_list(get("files")?.as_ref(), ",;")?,
            paths: option_list(get("paths")?.as_ref(), ",:;")?,
            skip: get("skip")?.is_some_and(|v| v.is_true()),
        })
    }

    /// The paths to try, in order (the plugin's `_process_terms`).
    fn search(&mut self, terms: &[MjValue]) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        for term in terms {
            let files = match term.kind() {
                ValueKind::Map => {
                    *self = FirstFound::from_map(term)?;
                    self.files.clone()
                }
                ValueKind::String => vec![py_str(term)?],
                ValueKind::Seq | ValueKind::Iterable => {
                    let inner: Vec<MjValue> = term.try_iter()?.collect();
                    out.extend(self.search(&inner)?);
                    continue;
                }
                _ => {
                    return Err(err(format!(
                        "Invalid term supplied. A string, dict or list is required, not '{}').",
                        super::convert::from_mj(term)
                            .map_or_else(|_| "object".to_string(), |v| v.type_name().to_string())
                    )));
                }
            };
            if self.paths.is_empty() {
                out.extend(files);
            } else {
                for p in &self.paths {
                    // os.path.join: an absolute name stands alone.
                    out.extend(files.iter().map(|f| {
                        if f.starts_with('/') {
                            f.clone()
                        } else {
                            format!("{p}/{f}")
                        }
                    }));
                }
            }
        }
        Ok(out)
    }
}

/// A list option of first_found: a string or each string of a list, split on `seps`
/// (the plugin's deprecated "magic" splitting).
fn option_list(v: Option<&MjValue>, seps: &str) -> Result<Vec<String>, Error> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for item in list_of(v)? {
        if item.is_undefined() {
            continue;
        }
        out.extend(
            py_str(&item)?
                .split(|c| seps.contains(c))
                .map(str::to_string),
        );
    }
    Ok(out)
}

/// The lists a `nested`/`together` lookup combines: its terms, or the one list of lists.
fn lists_of(terms: &[MjValue]) -> Result<Vec<Vec<MjValue>>, Error> {
    match terms {
        [one] if matches!(one.kind(), ValueKind::Seq) => {
            one.try_iter()?.map(|l| list_of(&l)).collect()
        }
        many => many.iter().map(list_of).collect(),
    }
}

/// Every combination taking one item of each list, in order (Python's
/// `itertools.product`).
pub(super) fn product(lists: &[Vec<MjValue>]) -> Vec<Vec<MjValue>> {
    let mut acc: Vec<Vec<MjValue>> = vec![Vec::new()];
    for l in lists {
        acc = acc
            .iter()
            .flat_map(|p| {
                l.iter().map(move |x| {
                    let mut n = p.clone();
                    n.push(x.clone());
                    n
                })
            })
            .collect();
    }
    acc
}

/// The values of lookup `name` for `terms`. A failure of the plugin is worded as
/// Ansible words it: "The lookup plugin 'NAME' failed: why".
pub(super) fn values(
    state: &minijinja::State,
    name: &str,
    terms: &[MjValue],
    k: &Kwargs,
) -> Result<Vec<MjValue>, Error> {
    let short = name.strip_prefix("ansible.builtin.").unwrap_or(name);
    if !NAMES.contains(&short) {
        return Err(err(format!(
            "The lookup plugin '{name}' was not found: tprov does not have it ({} it has)",
            NAMES.join(", ")
        )));
    }
    plugin(state, short, terms, k).map_err(|e| match e.kind() {
        ErrorKind::InvalidOperation => {
            let why = e.detail().unwrap_or("unknown error");
            err(format!("The lookup plugin '{name}' failed: {why}"))
        }
        _ => e,
    })
}

fn plugin(
    state: &minijinja::State,
    name: &str,
    terms: &[MjValue],
    k: &Kwargs,
) -> Result<Vec<MjValue>, Error> {
    let mut out = Vec::new();
    match name {
        "env" => {
            let default: Option<MjValue> = k.get("default")?;
            for t in terms {
                let key = py_str(t)?;
                out.push(match std::env::var(&key) {
                    Ok(v) => MjValue::from(v),
                    Err(_) => default.clone().unwrap_or_else(|| MjValue::from("")),
                });
            }
        }
        "file" => {
            let rstrip: bool = k.get::<Option<bool>>("rstrip")?.unwrap_or(true);
            let lstrip: bool = k.get::<Option<bool>>("lstrip")?.unwrap_or(false);
            for t in terms {
                let rel = py_str(t)?;
                let found = find(state, &rel).filter(|p| p.is_file()).ok_or_else(|| {
                    err(format!(
                        "Unable to access the file '{rel}': File not found. Use -vvvvv to see paths searched."
                    ))
                })?;
                let mut text = crate::vault::read_text(&found)
                    .map_err(|e| err(format!("lookup file {rel}: {e}")))?;
                if rstrip {
                    text.truncate(text.trim_end().len());
                }
                if lstrip {
                    text = text.trim_start().to_string();
                }
                out.push(MjValue::from(text));
            }
        }
        "template" => {
            let mut options = super::FileOptions::default();
            for (key, slot) in [
                ("variable_start_string", &mut options.variable_start),
                ("variable_end_string", &mut options.variable_end),
                ("comment_start_string", &mut options.comment_start),
                ("comment_end_string", &mut options.comment_end),
            ] {
                if let Some(v) = k.get::<Option<String>>(key)? {
                    *slot = v;
                }
            }
            if let Some(t) = k.get::<Option<bool>>("trim_blocks")? {
                options.trim_blocks = t;
            }
            let extra: Option<MjValue> = k.get("template_vars")?;
            let _: Option<MjValue> = k.get("convert_data")?;
            let _: Option<MjValue> = k.get("jinja2_native")?;
            let root = state
                .lookup(super::scope::ROOT)
                .ok_or_else(|| err("the template lookup has no variables to render with"))?;
            let Some(root) = root.downcast_object_ref::<super::scope::Root>() else {
                return Err(err("the template lookup has no variables to render with"));
            };
            for t in terms {
                let rel = py_str(t)?;
                let found = find_under(state, "templates", &rel).ok_or_else(|| {
                    err(format!(
                        "the template file {rel} could not be found for the lookup"
                    ))
                })?;
                let mut vars: Vec<(String, crate::value::Value)> = super::file_vars(&found, &rel);
                if let Some(e) = &extra
                    && let crate::value::Value::Map(m) = super::convert::from_mj(e)?
                {
                    vars.extend(m);
                }
                let scope = root.0.with_frame(super::native_frame(vars));
                let text = super::engine()
                    .render_file_with(&found, &scope, &options)
                    .map_err(|e| err(e.message))?;
                // Jinja's native rendering: text that is a Python literal is its value.
                let trimmed = text.trim();
                let value = if trimmed.starts_with(['{', '[']) {
                    match crate::inventory::parse_value(trimmed) {
                        v @ (crate::value::Value::Map(_) | crate::value::Value::List(_)) => {
                            super::convert::to_mj(&v)
                        }
                        _ => MjValue::from(text),
                    }
                } else {
                    MjValue::from(text)
                };
                out.push(value);
            }
        }
        "unvault" => {
            for t in terms {
                let rel = py_str(t)?;
                let found = find(state, &rel)
                    .filter(|p| p.is_file())
                    .ok_or_else(|| err(format!("Unable to find file matching \"{rel}\" ")))?;
                let text = crate::vault::read_text(&found).map_err(err)?;
                out.push(MjValue::from(text));
            }
        }
        "vars" => {
            let default: Option<MjValue> = k.get("default")?;
            for t in terms {
                let Some(key) = t.as_str().map(str::to_string) else {
                    return Err(err(format!(
                        "Variable name must be 'str' not '{}'",
                        super::convert::from_mj(t).map_or("unknown", |v| v.type_name())
                    )));
                };
                match state
                    .lookup(&key)
                    .filter(|v| !v.is_undefined())
                    .or_else(|| default.clone())
                {
                    Some(v) => out.push(v),
                    None => return Err(err(format!("No variable named '{key}' was found"))),
                }
            }
        }
        "items" | "list" => {
            for t in terms {
                match t.kind() {
                    ValueKind::Seq if name == "items" => out.extend(t.try_iter()?),
                    _ => out.push(t.clone()),
                }
            }
        }
        "pipe" => {
            for t in terms {
                out.push(MjValue::from(shell(&py_str(t)?)?.trim_end().to_string()));
            }
        }
        "lines" => {
            for t in terms {
                out.extend(shell(&py_str(t)?)?.lines().map(MjValue::from));
            }
        }
        "fileglob" => {
            for t in terms {
                let pat = py_str(t)?;
                let (dir, base) = match pat.rsplit_once('/') {
                    Some((d, b)) => (if d.is_empty() { "/" } else { d }, b),
                    None => (".", pat.as_str()),
                };
                let Some(dir) = find(state, dir).filter(|d| d.is_dir()) else {
                    continue;
                };
                out.extend(glob_files(&dir, base).into_iter().map(MjValue::from));
            }
        }
        "first_found" => {
            let mut opts = FirstFound::from_kwargs(k)?;
            let search = if terms.is_empty() {
                let files: Vec<MjValue> = opts
                    .files
                    .iter()
                    .map(|f| MjValue::from(f.as_str()))
                    .collect();
                opts.search(&files)?
            } else {
                opts.search(terms)?
            };
            match search.iter().find_map(|c| find(state, c)) {
                Some(p) => out.push(MjValue::from(p.display().to_string())),
                None if opts.skip => {}
                None => {
                    return Err(err("No file was found when using first_found."));
                }
            }
        }
        "sequence" => {
            // Keyword arguments are options too, under what each term says; with
            // keywords only, one empty term (Ansible's).
            let mut given = Vec::new();
            for key in ["start", "end", "stride", "count", "format"] {
                if let Some(v) = k.get::<Option<MjValue>>(key)? {
                    given.push(format!("{key}={}", py_str(&v)?));
                }
            }
            let empty = [MjValue::from("")];
            let terms = if terms.is_empty() && !given.is_empty() {
                &empty[..]
            } else {
                terms
            };
            for t in terms {
                let term = py_str(t)?;
                let text = if given.is_empty() {
                    term
                } else {
                    format!("{} {term}", given.join(" "))
                };
                out.extend(sequence(text.trim())?);
            }
        }
        "dict" => {
            for t in terms {
                if !matches!(t.kind(), ValueKind::Map) {
                    return Err(err("with_dict expects a dict"));
                }
                for key in t.try_iter()? {
                    let val = t.get_item(&key)?;
                    out.push(super::mj_map([
                        ("key".to_string(), key.clone()),
                        ("value".to_string(), val),
                    ]));
                }
            }
        }
        "nested" => {
            let lists = lists_of(terms)?;
            if lists.is_empty() {
                return Err(err(
                    "with_nested requires at least one element in the nested list",
                ));
            }
            out.extend(product(&lists).into_iter().map(MjValue::from));
        }
        "together" => {
            let lists = lists_of(terms)?;
            if lists.is_empty() {
                return Err(err(
                    "with_together requires at least one element in each list",
                ));
            }
            let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
            for i in 0..longest {
                out.push(MjValue::from(
                    lists
                        .iter()
                        .map(|l| l.get(i).cloned().unwrap_or(MjValue::from(())))
                        .collect::<Vec<_>>(),
                ));
            }
        }
        "subelements" => {
            let (list, key, flags) = match terms {
                [one] if matches!(one.kind(), ValueKind::Seq) => {
                    let inner: Vec<MjValue> = one.try_iter()?.collect();
                    (
                        inner.first().cloned().unwrap_or_default(),
                        inner.get(1).cloned().unwrap_or_default(),
                        inner.get(2).cloned(),
                    )
                }
                [l, key, rest @ ..] if rest.len() <= 1 => {
                    (l.clone(), key.clone(), rest.first().cloned())
                }
                _ => {
                    return Err(err(
                        "subelements lookup expects a list of two or three items, ",
                    ));
                }
            };
            if !matches!(list.kind(), ValueKind::Seq | ValueKind::Map)
                || !matches!(key.kind(), ValueKind::String)
            {
                return Err(err(
                    "subelements lookup expects a list of two or three items, first a dict or a list, second a string pointing to the subkey",
                ));
            }
            let key = py_str(&key)?;
            if let Some(f) = &flags
                && !matches!(f.kind(), ValueKind::Map)
            {
                return Err(err(
                    "subelements lookup expects a list of two or three items, the optional third item must be a dict with flags ('skip_missing',)",
                ));
            }
            let skip_missing = flags
                .and_then(|f| f.get_attr("skip_missing").ok())
                .is_some_and(|v| v.is_true());
            let items: Vec<Value> = match super::convert::from_mj(&list)? {
                // A registered result that was skipped whole gives nothing.
                Value::Map(m) if m.get("skipped").is_some_and(Value::is_truthy) => Vec::new(),
                Value::Map(m) => m.into_values().collect(),
                Value::List(l) => l,
                _ => Vec::new(),
            };
            let parts: Vec<&str> = key.split('.').collect();
            for item in items {
                let Value::Map(mut item) = item else {
                    return Err(err(format!(
                        "subelements lookup expects a dictionary, got '{}'",
                        item.py_str()
                    )));
                };
                if item.get("skipped").is_some_and(Value::is_truthy) {
                    continue;
                }
                // Ansible's walk, its quirks kept (a missing key with skip_missing goes on
                // to the next one); the list is then taken out of the item.
                let mut path: Vec<&str> = Vec::new();
                let mut found = None;
                {
                    let mut sub = &item;
                    for (i, part) in parts.iter().enumerate() {
                        let Some(v) = sub.get(*part) else {
                            if skip_missing {
                                continue;
                            }
                            return Err(err(format!(
                                "could not find '{part}' key in iterated item '{}'",
                                Value::Map(sub.clone()).py_str()
                            )));
                        };
                        if i + 1 < parts.len() {
                            match v {
                                Value::Map(m) => {
                                    sub = m;
                                    path.push(part);
                                }
                                _ if skip_missing => {}
                                other => {
                                    return Err(err(format!(
                                        "the key {part} should point to a dictionary, got '{}'",
                                        other.py_str()
                                    )));
                                }
                            }
                        } else if let Value::List(_) = v {
                            found = Some(*part);
                        } else {
                            return Err(err(format!(
                                "the key {part} should point to a list, got '{}'",
                                v.py_str()
                            )));
                        }
                    }
                }
                let sublist = found
                    .and_then(|last| take_list(&mut item, &path, last))
                    .unwrap_or_default();
                let first = super::convert::to_mj(&Value::Map(item));
                for s in sublist {
                    out.push(MjValue::from(vec![
                        first.clone(),
                        super::convert::to_mj(&s),
                    ]));
                }
            }
        }
        "indexed_items" => {
            let items: Vec<MjValue> = match terms {
                [one] if matches!(one.kind(), ValueKind::Seq) => one.try_iter()?.collect(),
                many => many.to_vec(),
            };
            for (i, x) in items.into_iter().enumerate() {
                out.push(MjValue::from(vec![MjValue::from(i as i64), x]));
            }
        }
        "random_choice" => {
            if let Some(first) = terms.first() {
                out.push(first.clone());
            }
        }
        other => {
            return Err(err(format!("The lookup plugin '{other}' was not found.")));
        }
    }
    Ok(out)
}

/// Removes and returns the list at `path` then `last` in `m`.
fn take_list(m: &mut crate::value::Map, path: &[&str], last: &str) -> Option<Vec<Value>> {
    match path.split_first() {
        None => match m.shift_remove(last) {
            Some(Value::List(l)) => Some(l),
            _ => None,
        },
        Some((p, rest)) => match m.get_mut(*p) {
            Some(Value::Map(n)) => take_list(n, rest, last),
            _ => None,
        },
    }
}
