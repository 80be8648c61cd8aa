//! Ansible's Jinja tests (`plugins/test/core.py`) that minijinja lacks.

use super::convert::py_str;
use minijinja::value::Kwargs;
use minijinja::{Environment, Error, ErrorKind, Value as MjValue};

fn result_flag(v: &MjValue, key: &str) -> Result<bool, Error> {
    if v.kind() != minijinja::value::ValueKind::Map {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("The '{key}' test expects a dictionary"),
        ));
    }
    Ok(v.get_attr(key).is_ok_and(|x| x.is_true()))
}

/// Ansible's `changed`: the result's `changed`, else whether any of its loop
/// `results` changed.
fn changed(v: MjValue) -> Result<bool, Error> {
    let flag = result_flag(&v, "changed")?;
    if v.get_attr("changed").is_ok_and(|c| !c.is_undefined()) {
        return Ok(flag);
    }
    let Ok(results) = v.get_attr("results") else {
        return Ok(false);
    };
    if results.kind() != minijinja::value::ValueKind::Seq
        || !results
            .get_item_by_index(0)
            .is_ok_and(|r| r.kind() == minijinja::value::ValueKind::Map)
    {
        return Ok(false);
    }
    Ok(results
        .try_iter()?
        .any(|r| r.get_attr("changed").is_ok_and(|c| c.is_true())))
}

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_test("changed", changed);
    env.add_test("change", changed);
    env.add_test("failed", |v: MjValue| result_flag(&v, "failed"));
    env.add_test("failure", |v: MjValue| result_flag(&v, "failed"));
    env.add_test("skipped", |v: MjValue| result_flag(&v, "skipped"));
    env.add_test("skip", |v: MjValue| result_flag(&v, "skipped"));
    env.add_test("succeeded", |v: MjValue| {
        result_flag(&v, "failed").map(|f| !f)
    });
    env.add_test("success", |v: MjValue| {
        result_flag(&v, "failed").map(|f| !f)
    });
    env.add_test("successful", |v: MjValue| {
        result_flag(&v, "failed").map(|f| !f)
    });
    env.add_test("finished", |v: MjValue| {
        result_flag(&v, "finished")
            .map(|f| f || v.get_attr("finished").is_ok_and(|x| x.is_undefined()))
    });
    env.add_test("truthy", |v: MjValue, convert: Option<bool>, k: Kwargs| {
        truthy(&v, convert, &k)
    });
    // Jinja's `str(value).islower()` / `.isupper()`: any value, at least one cased letter.
    env.add_test("lower", |v: MjValue| -> Result<bool, Error> {
        let s = super::convert::py_str(&v)?;
        Ok(s.chars().any(char::is_lowercase) && !s.chars().any(char::is_uppercase))
    });
    env.add_test("upper", |v: MjValue| -> Result<bool, Error> {
        let s = super::convert::py_str(&v)?;
        Ok(s.chars().any(char::is_uppercase) && !s.chars().any(char::is_lowercase))
    });
    // Python's any()/all() over an iterable; Jinja's `sequence`: has a length and items
    // (strings and dicts too).
    env.add_test("any", |v: MjValue| -> Result<bool, Error> {
        Ok(v.try_iter()?.any(|x| x.is_true()))
    });
    env.add_test("all", |v: MjValue| -> Result<bool, Error> {
        Ok(v.try_iter()?.all(|x| x.is_true()))
    });
    env.add_test("sequence", |v: MjValue| {
        matches!(
            v.kind(),
            minijinja::value::ValueKind::Seq
                | minijinja::value::ValueKind::Map
                | minijinja::value::ValueKind::String
                | minijinja::value::ValueKind::Bytes
        )
    });
    env.add_test("falsy", |v: MjValue, convert: Option<bool>, k: Kwargs| {
        truthy(&v, convert, &k).map(|t| !t)
    });
    env.add_test("match", |v: MjValue, pat: String, k: Kwargs| {
        regex_test(&v, &pat, &k, true)
    });
    env.add_test("search", |v: MjValue, pat: String, k: Kwargs| {
        regex_test(&v, &pat, &k, false)
    });
    env.add_test("regex", |v: MjValue, pat: String, k: Kwargs| {
        let match_type: Option<String> = k.get("match_type")?;
        regex_test(&v, &pat, &k, match_type.as_deref() == Some("match"))
    });
    env.add_test("version", super::version::test);
    env.add_test("version_compare", super::version::test);
    env.add_test("abs", |v: String| v.starts_with('/'));
    env.add_test("exists", |v: String| std::path::Path::new(&v).exists());
    env.add_test("file", |v: String| std::path::Path::new(&v).is_file());
    env.add_test("directory", |v: String| std::path::Path::new(&v).is_dir());
    env.add_test("link", |v: String| std::path::Path::new(&v).is_symlink());
    // os.path.lexists: true for a dangling link too.
    env.add_test("link_exists", |v: String| {
        std::fs::symlink_metadata(&v).is_ok()
    });
    for name in ["subset", "issubset"] {
        env.add_test(name, |a: MjValue, b: MjValue| subset(&a, &b));
    }
    for name in ["superset", "issuperset"] {
        env.add_test(name, |a: MjValue, b: MjValue| subset(&b, &a));
    }
    // Python's `b in a`: a substring for strings, a key for dicts, an item otherwise.
    env.add_test(
        "contains",
        |a: MjValue, b: MjValue| -> Result<bool, Error> {
            if let (Some(hay), Some(needle)) = (a.as_str(), b.as_str()) {
                return Ok(hay.contains(needle));
            }
            Ok(a.try_iter()?.any(|x| x == b))
        },
    );
    // Ansible's other names for the same tests (`is_dir`, `issubset`...), and the rest of
    // its files, mathstuff and core tests.
    env.add_test("is_abs", |v: String| v.starts_with('/'));
    env.add_test("is_file", |v: String| std::path::Path::new(&v).is_file());
    env.add_test("is_dir", |v: String| std::path::Path::new(&v).is_dir());
    env.add_test("is_link", |v: String| std::path::Path::new(&v).is_symlink());
    env.add_test("mount", |v: String| is_mount(&v));
    env.add_test("is_mount", |v: String| is_mount(&v));
    env.add_test("same_file", |a: String, b: String| same_file(&a, &b));
    env.add_test("is_same_file", |a: String, b: String| same_file(&a, &b));
    env.add_test("nan", |v: MjValue| is_nan(&v));
    env.add_test("isnan", |v: MjValue| is_nan(&v));
    env.add_test("started", |v: MjValue| {
        result_flag(&v, "started")
            .map(|f| f || v.get_attr("started").is_ok_and(|x| x.is_undefined()))
    });
    env.add_test("unreachable", |v: MjValue| result_flag(&v, "unreachable"));
    env.add_test("reachable", |v: MjValue| {
        result_flag(&v, "unreachable").map(|f| !f)
    });
    env.add_test("timedout", |v: MjValue| -> Result<bool, Error> {
        result_flag(&v, "timedout")?;
        Ok(v.get_attr("timedout")
            .is_ok_and(|t| t.get_attr("period").is_ok_and(|p| p.is_true())))
    });
    env.add_test("vault_encrypted", |v: MjValue| {
        (v.is_safe() && v.as_str().and_then(crate::vault::ciphertext_of).is_some())
            || v.downcast_object_ref::<super::convert::Undecryptable>()
                .is_some()
    });
    env.add_test("vaulted_file", |v: String| {
        std::fs::read(&v).is_ok_and(|b| crate::vault::is_encrypted(&b))
    });
}

/// Python's `bool(value)`, after Ansible's `boolean()` with `convert_bool`.
fn truthy(v: &MjValue, convert: Option<bool>, k: &Kwargs) -> Result<bool, Error> {
    let convert = match convert {
        Some(c) => c,
        None => k.get::<Option<bool>>("convert_bool")?.unwrap_or(false),
    };
    k.assert_all_used()?;
    if convert {
        let text = match v.kind() {
            minijinja::value::ValueKind::String => v.as_str().map(str::to_lowercase),
            minijinja::value::ValueKind::Number | minijinja::value::ValueKind::Bool => {
                Some(py_str(v)?.to_lowercase())
            }
            _ => None,
        };
        match text.as_deref() {
            Some("y" | "yes" | "on" | "1" | "true" | "t" | "1.0") => return Ok(true),
            Some("n" | "no" | "off" | "0" | "false" | "f" | "0.0") => return Ok(false),
            _ => {}
        }
    }
    Ok(v.is_true())
}

/// Every item of `a` is in `b` (mathstuff's `issubset`).
fn subset(a: &MjValue, b: &MjValue) -> Result<bool, Error> {
    let b: Vec<MjValue> = b.try_iter()?.collect();
    Ok(a.try_iter()?.all(|x| b.contains(&x)))
}

fn is_nan(v: &MjValue) -> bool {
    f64::try_from(v.clone()).is_ok_and(f64::is_nan)
}

/// Python's `os.path.ismount`: a directory on another device than its parent, or `/`.
fn is_mount(path: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    let p = std::path::Path::new(path);
    let Ok(m) = std::fs::symlink_metadata(p) else {
        return false;
    };
    if !m.is_dir() {
        return false;
    }
    let Ok(parent) = std::fs::metadata(p.join("..")) else {
        return false;
    };
    m.dev() != parent.dev() || m.ino() == parent.ino()
}

/// Python's `os.path.samefile`.
fn same_file(a: &str, b: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

fn regex_test(v: &MjValue, pat: &str, k: &Kwargs, anchored: bool) -> Result<bool, Error> {
    let ignorecase: bool = k.get::<Option<bool>>("ignorecase")?.unwrap_or(false);
    let multiline: bool = k.get::<Option<bool>>("multiline")?.unwrap_or(false);
    let pattern = if anchored {
        format!("^(?:{pat})")
    } else {
        pat.to_string()
    };
    let re = regex::RegexBuilder::new(&pattern)
        .case_insensitive(ignorecase)
        .multi_line(multiline)
        .build()
        .map_err(|e| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("invalid regular expression {pat:?}: {e}"),
            )
        })?;
    Ok(re.is_match(&py_str(v)?))
}
