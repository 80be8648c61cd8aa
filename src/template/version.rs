//! The `version` test (`version_compare`), with Ansible's version types: `loose`
//! (distutils' LooseVersion, the default), `strict`, `semver` and `pep440`.

use super::convert::py_str;
use minijinja::value::Kwargs;
use minijinja::{Error, ErrorKind, Value as MjValue};
use std::cmp::Ordering;

fn error(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// `value is version(other, operator='eq', strict=None, version_type=None)`.
pub(super) fn test(
    v: MjValue,
    other: MjValue,
    op: Option<MjValue>,
    strict: Option<MjValue>,
    k: Kwargs,
) -> Result<bool, Error> {
    let op = match op {
        Some(o) => py_str(&o)?,
        None => k
            .get::<Option<String>>("operator")?
            .unwrap_or_else(|| "eq".into()),
    };
    let strict = match strict {
        Some(s) => Some(s.is_true()),
        None => k
            .get::<Option<MjValue>>("strict")?
            .filter(|s| !s.is_none())
            .map(|s| s.is_true()),
    };
    let vtype: Option<String> = k.get("version_type")?;
    k.assert_all_used()?;
    if strict.is_some() && vtype.is_some() {
        return Err(error("Cannot specify both 'strict' and 'version_type'"));
    }
    let (a, b) = (py_str(&v)?, py_str(&other)?);
    if !v.is_true() {
        return Err(error("Input version value cannot be empty"));
    }
    if !other.is_true() {
        return Err(error(
            "Version parameter to compare against cannot be empty",
        ));
    }
    let kind = match (strict, vtype.as_deref()) {
        (Some(true), _) => "strict",
        (_, Some(t)) => match t {
            "loose" | "strict" | "semver" | "semantic" | "pep440" => t,
            other => {
                return Err(error(format!(
                    "Invalid version type ({other}). Must be one of 'loose', 'strict', 'semver', 'semantic', 'pep440'"
                )));
            }
        },
        _ => "loose",
    };
    let want: &[Ordering] = match op.as_str() {
        "==" | "=" | "eq" => &[Ordering::Equal],
        "<" | "lt" => &[Ordering::Less],
        "<=" | "le" => &[Ordering::Less, Ordering::Equal],
        ">" | "gt" => &[Ordering::Greater],
        ">=" | "ge" => &[Ordering::Greater, Ordering::Equal],
        "!=" | "<>" | "ne" => &[Ordering::Less, Ordering::Greater],
        other => {
            return Err(error(format!(
                "Invalid operator type ({other}). Must be one of '==', '=', 'eq', '<', 'lt', '<=', 'le', '>', 'gt', '>=', 'ge', '!=', '<>', 'ne'"
            )));
        }
    };
    let ord =
        compare(kind, &a, &b).map_err(|e| error(format!("Version comparison failed: {e}")))?;
    Ok(want.contains(&ord))
}

fn compare(kind: &str, a: &str, b: &str) -> Result<Ordering, String> {
    match kind {
        "strict" => Ok(strict(a)?.cmp(&strict(b)?)),
        "semver" | "semantic" => Ok(semver(a)?.cmp(&semver(b)?)),
        "pep440" => Ok(pep440(a)?.cmp(&pep440(b)?)),
        _ => loose_cmp(&loose(a), &loose(b)),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Num(u64),
    Text(String),
}

/// LooseVersion: runs of digits (numbers), runs of letters, other characters alone;
/// dots dropped.
fn loose(s: &str) -> Vec<Part> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_ascii_digit() {
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            out.push(Part::Num(text.parse().unwrap_or(u64::MAX)));
            continue;
        }
        if c.is_ascii_lowercase() || c.is_ascii_uppercase() {
            while i < chars.len() && chars[i].is_ascii_alphabetic() {
                i += 1;
            }
            out.push(Part::Text(chars[start..i].iter().collect()));
            continue;
        }
        i += 1;
        if c != '.' {
            out.push(Part::Text(c.to_string()));
        }
    }
    out
}

/// Python 3's list comparison of LooseVersion parts: an int and a str do not compare.
fn loose_cmp(a: &[Part], b: &[Part]) -> Result<Ordering, String> {
    for (x, y) in a.iter().zip(b) {
        let o = match (x, y) {
            (Part::Num(m), Part::Num(n)) => m.cmp(n),
            (Part::Text(s), Part::Text(t)) => s.cmp(t),
            (Part::Num(_), Part::Text(_)) => {
                return Err("'<' not supported between instances of 'int' and 'str'".into());
            }
            (Part::Text(_), Part::Num(_)) => {
                return Err("'<' not supported between instances of 'str' and 'int'".into());
            }
        };
        if o != Ordering::Equal {
            return Ok(o);
        }
    }
    Ok(a.len().cmp(&b.len()))
}

/// StrictVersion: `N.N[.N][{a|b}N]`; a pre-release sorts before the release.
fn strict(s: &str) -> Result<(u64, u64, u64, (u8, u64)), String> {
    let bad = || format!("invalid version number '{s}'");
    let (nums, pre) = match s.find(['a', 'b']) {
        Some(i) => (&s[..i], Some(&s[i..])),
        None => (s, None),
    };
    let parts: Vec<&str> = nums.split('.').collect();
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    let n = |i: usize| {
        parts
            .get(i)
            .map_or(Ok(0), |p| p.parse::<u64>().map_err(|_| bad()))
    };
    let pre = match pre {
        None => (2, 0),
        Some(p) => {
            let (tag, num) = p.split_at(1);
            if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            (u8::from(tag == "b"), num.parse().map_err(|_| bad())?)
        }
    };
    Ok((n(0)?, n(1)?, n(2)?, pre))
}

#[derive(Debug, PartialEq, Eq)]
struct Semver {
    core: (u64, u64, u64),
    pre: Vec<Ident>,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Ident {
    Num(u64),
    Text(String),
}

impl Ord for Semver {
    fn cmp(&self, o: &Self) -> Ordering {
        self.core
            .cmp(&o.core)
            .then_with(|| match (self.pre.is_empty(), o.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&o.pre),
            })
    }
}

impl PartialOrd for Semver {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

fn semver(s: &str) -> Result<Semver, String> {
    let bad = || format!("invalid semantic version '{s}'");
    let no_build = s.split_once('+').map_or(s, |(v, _)| v);
    let (core, pre) = match no_build.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (no_build, None),
    };
    let nums: Vec<&str> = core.split('.').collect();
    let num = |p: &str| {
        if p.is_empty()
            || !p.bytes().all(|b| b.is_ascii_digit())
            || (p.len() > 1 && p.starts_with('0'))
        {
            Err(bad())
        } else {
            p.parse::<u64>().map_err(|_| bad())
        }
    };
    let [a, b, c] = nums.as_slice() else {
        return Err(bad());
    };
    let pre = match pre {
        None => Vec::new(),
        Some(p) => p
            .split('.')
            .map(|id| {
                if id.is_empty() {
                    Err(bad())
                } else if id.bytes().all(|b| b.is_ascii_digit()) {
                    id.parse().map(Ident::Num).map_err(|_| bad())
                } else {
                    Ok(Ident::Text(id.to_string()))
                }
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(Semver {
        core: (num(a)?, num(b)?, num(c)?),
        pre,
    })
}

/// PEP 440, the common forms: `[N!]N(.N)*[{a|b|rc}N][.postN][.devN]`, compared as
/// packaging does (a dev release first, then pre-releases, the release, post-releases).
/// A PEP 440 version's sort key: epoch, release, then pre, post and dev keys.
type Pep440Key = (u64, Vec<u64>, (i8, u64), (i8, u64), (i8, u64));

fn pep440(s: &str) -> Result<Pep440Key, String> {
    let bad = || format!("Invalid version: '{s}'");
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_prefix('v').unwrap_or(&t);
    let (epoch, rest) = match t.split_once('!') {
        Some((e, r)) => (e.parse().map_err(|_| bad())?, r),
        None => (0, t),
    };
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (rel, mut tail) = rest.split_at(end);
    let rel = rel.trim_end_matches('.');
    let mut release: Vec<u64> = rel
        .split('.')
        .map(|p| p.parse::<u64>().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    while release.len() > 1 && release.last() == Some(&0) {
        release.pop();
    }
    let take = |tail: &mut &str, tags: &[&str]| -> Result<Option<(usize, u64)>, String> {
        let t = tail.trim_start_matches(['.', '-', '_']);
        for (i, tag) in tags.iter().enumerate() {
            if let Some(after) = t.strip_prefix(tag) {
                let after = after.trim_start_matches(['.', '-', '_']);
                let n_end = after
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(after.len());
                let n = if n_end == 0 {
                    0
                } else {
                    after[..n_end].parse().map_err(|_| bad())?
                };
                *tail = &after[n_end..];
                return Ok(Some((i, n)));
            }
        }
        Ok(None)
    };
    let pre = take(
        &mut tail,
        &["alpha", "beta", "rc", "a", "b", "c", "preview", "pre"],
    )?
    .map(|(i, n)| {
        (
            match i {
                0 | 3 => 0,
                1 | 4 => 1,
                _ => 2,
            },
            n,
        )
    });
    let post = take(&mut tail, &["post", "rev", "r"])?.map(|(_, n)| n);
    let dev = take(&mut tail, &["dev"])?.map(|(_, n)| n);
    if !tail.is_empty() && !tail.starts_with('+') {
        return Err(bad());
    }
    // packaging's sort key: no pre-release but a dev one sorts before any pre-release.
    let pre_key = match (pre, post, dev) {
        (None, None, Some(_)) => (-1, 0),
        (None, _, _) => (3, 0),
        (Some((k, n)), _, _) => (k, n),
    };
    let post_key = post.map_or((-1, 0), |n| (0, n));
    let dev_key = dev.map_or((1, 0), |n| (0, n));
    Ok((epoch, release, pre_key, post_key, dev_key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_types_compare_as_python_does() {
        assert_eq!(compare("loose", "1.10", "1.9"), Ok(Ordering::Greater));
        assert_eq!(compare("loose", "1.0", "1.0.0"), Ok(Ordering::Less));
        assert!(compare("loose", "1.a", "1.1").is_err());
        assert_eq!(compare("strict", "1.0", "1.0.0"), Ok(Ordering::Equal));
        assert_eq!(compare("strict", "1.0a1", "1.0"), Ok(Ordering::Less));
        assert!(compare("strict", "1", "1.0").is_err());
        assert_eq!(compare("semver", "1.2.3", "2.0.0"), Ok(Ordering::Less));
        assert_eq!(compare("semver", "1.0.0-rc.1", "1.0.0"), Ok(Ordering::Less));
        assert_eq!(
            compare("semver", "1.0.0-alpha.2", "1.0.0-alpha.10"),
            Ok(Ordering::Less)
        );
        assert!(compare("semver", "nope", "nopenope").is_err());
        assert_eq!(compare("pep440", "2.14.0rc1", "2.14.0"), Ok(Ordering::Less));
        assert_eq!(compare("pep440", "1.0.dev1", "1.0a1"), Ok(Ordering::Less));
        assert_eq!(compare("pep440", "1.0.post1", "1.0"), Ok(Ordering::Greater));
        assert_eq!(compare("pep440", "1.0", "1.0.0"), Ok(Ordering::Equal));
    }
}
