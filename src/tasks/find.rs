//! `find`: files by name, age, size, mode and content, as Ansible's find module selects
//! them. One round trip lists the tree with every entry's stat (GNU find); the filters
//! run here, in Ansible's order (os.walk's: a directory's files, then its directories);
//! a second round trip only when `contains` or `get_checksum` must read the files.

use super::attrs::Mode;
use super::remote::query;
use super::{Cx, Outcome, Spec, TaskError, args, fail};
use crate::transport::sh_quote;
use crate::value::{Map, Value};

pub(super) const SPEC: Spec = Spec {
    name: "find",
    file_common: false,
    traits: &[],
    args: &[
        "paths",
        "name",
        "path",
        "patterns",
        "pattern",
        "excludes",
        "exclude",
        "contains",
        "read_whole_file",
        "file_type",
        "age",
        "age_stamp",
        "size",
        "recurse",
        "hidden",
        "follow",
        "get_checksum",
        "checksum_algorithm",
        "checksum",
        "checksum_algo",
        "use_regex",
        "depth",
        "mode",
        "exact_mode",
        "encoding",
        "limit",
    ],
    required: &["paths|name|path"],
};

/// One entry of the listing.
struct Entry {
    path: String,
    parent: String,
    name: String,
    kind: char,
    /// For a link, what it points to (`d` for a directory).
    target_kind: char,
    mode: u32,
    uid: i64,
    gid: i64,
    user: String,
    group: String,
    size: i64,
    inode: i64,
    dev: i64,
    nlink: i64,
    atime: f64,
    mtime: f64,
    ctime: f64,
    depth: usize,
}

/// Python's fnmatch (case-sensitive, as on POSIX): `*`, `?`, `[seq]`, `[!seq]`.
fn fnmatch(pattern: &str) -> Result<regex::Regex, TaskError> {
    let mut re = String::from("^(?s:");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '[' => match chars[i + 1..].iter().position(|c| *c == ']') {
                // `[]...]`: a leading `]` is part of the set.
                Some(_) => {
                    let mut j = i + 1;
                    let mut class = String::from("[");
                    if chars.get(j) == Some(&'!') {
                        class.push('^');
                        j += 1;
                    }
                    if chars.get(j) == Some(&']') {
                        class.push_str("\\]");
                        j += 1;
                    }
                    while j < chars.len() && chars[j] != ']' {
                        if chars[j] == '\\' || chars[j] == '[' {
                            class.push('\\');
                        }
                        class.push(chars[j]);
                        j += 1;
                    }
                    if j >= chars.len() {
                        re.push_str("\\[");
                    } else {
                        class.push(']');
                        re.push_str(&class);
                        i = j;
                    }
                }
                None => re.push_str("\\["),
            },
            c => re.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    re.push_str(")$");
    regex::Regex::new(&re).map_err(|e| fail(format!("bad pattern {pattern:?}: {e}")))
}

/// A number with Ansible's unit suffixes (`-2d`, `10m`...).
fn with_unit(v: &str, units: &[(char, i64)], what: &str) -> Result<i64, TaskError> {
    let v = v.to_lowercase();
    let (num, mult) = match v.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => match units.iter().find(|(u, _)| *u == c) {
            Some((_, m)) => (&v[..v.len() - 1], *m),
            None => return Err(fail(format!("failed to process {what}"))),
        },
        _ => (v.as_str(), 1),
    };
    num.parse::<i64>()
        .map(|n| n * mult)
        .map_err(|_| fail(format!("failed to process {what}")))
}

pub(super) async fn run(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let paths = args::list_opt(a, &["paths", "name", "path"])
        .ok_or_else(|| fail("missing required arguments: paths"))?;
    let use_regex = args::bool_opt(a, &["use_regex"])?.unwrap_or(false);
    let mut patterns = args::list_opt(a, &["patterns", "pattern"]).unwrap_or_default();
    if patterns.is_empty() {
        patterns.push(if use_regex { ".*" } else { "*" }.to_string());
    }
    let excludes = args::list_opt(a, &["excludes", "exclude"]).unwrap_or_default();
    let compile = |p: &String| {
        if use_regex {
            // re.match: anchored at the start only.
            regex::Regex::new(&format!("^(?:{p})"))
                .map_err(|e| fail(format!("bad regular expression {p:?}: {e}")))
        } else {
            fnmatch(p)
        }
    };
    let patterns = patterns
        .iter()
        .map(compile)
        .collect::<Result<Vec<_>, _>>()?;
    let excludes = excludes
        .iter()
        .map(compile)
        .collect::<Result<Vec<_>, _>>()?;
    let file_type = args::str_opt(a, &["file_type"]).unwrap_or_else(|| "file".into());
    if !["any", "directory", "file", "link"].contains(&file_type.as_str()) {
        return Err(fail(format!(
            "value of file_type must be one of: any, directory, file, link, got: {file_type}"
        )));
    }
    let age = args::str_opt(a, &["age"])
        .map(|v| {
            with_unit(
                &v,
                &[
                    ('s', 1),
                    ('m', 60),
                    ('h', 3600),
                    ('d', 86400),
                    ('w', 604_800),
                ],
                "age",
            )
        })
        .transpose()?;
    let age_stamp = args::str_opt(a, &["age_stamp"]).unwrap_or_else(|| "mtime".into());
    let size = args::str_opt(a, &["size"])
        .map(|v| {
            with_unit(
                &v,
                &[
                    ('b', 1),
                    ('k', 1 << 10),
                    ('m', 1 << 20),
                    ('g', 1 << 30),
                    ('t', 1 << 40),
                ],
                "size",
            )
        })
        .transpose()?;
    let recurse = args::bool_opt(a, &["recurse"])?.unwrap_or(false);
    let hidden = args::bool_opt(a, &["hidden"])?.unwrap_or(false);
    let follow = args::bool_opt(a, &["follow"])?.unwrap_or(false);
    let get_checksum = args::bool_opt(a, &["get_checksum"])?.unwrap_or(false);
    let algorithm = args::str_opt(a, &["checksum_algorithm", "checksum", "checksum_algo"])
        .unwrap_or_else(|| "sha1".into());
    if !["md5", "sha1", "sha224", "sha256", "sha384", "sha512"].contains(&algorithm.as_str()) {
        return Err(fail(format!(
            "value of checksum_algorithm must be one of: md5, sha1, sha224, sha256, sha384, sha512, got: {algorithm}"
        )));
    }
    let depth = match args::str_opt(a, &["depth"]) {
        Some(d) => Some(
            d.parse::<usize>()
                .map_err(|_| fail(format!("depth {d:?} is not an int")))?,
        ),
        None => None,
    };
    let mode = match a.get("mode") {
        None | Some(Value::Null) => None,
        Some(Value::Str(s)) => Mode::parse(&Value::Str(s.clone()))?,
        Some(other) => {
            return Err(fail(format!(
                "argument 'mode' is not a string and conversion is not allowed, value is of type {}",
                other.type_name()
            )));
        }
    };
    let exact_mode = args::bool_opt(a, &["exact_mode"])?.unwrap_or(true);
    let limit = match args::str_opt(a, &["limit"]) {
        Some(l) => {
            let n: i64 = l
                .parse()
                .map_err(|_| fail(format!("limit {l:?} is not an int")))?;
            if n <= 0 {
                return Err(fail(format!(
                    "limit cannot be {n} (use None for unlimited)"
                )));
            }
            Some(n as usize)
        }
        None => None,
    };
    let contains = args::str_opt(a, &["contains"]);
    let whole = args::bool_opt(a, &["read_whole_file"])?.unwrap_or(false);

    // Entries one level past `depth` are counted as examined, as os.walk lists them.
    let maxdepth = match (recurse, depth) {
        (false, _) => Some(1),
        (true, Some(d)) => Some(d + 1),
        (true, None) => None,
    };
    let mut script = String::from("now=$(date +%s.%N); printf '%s\\0' \"$now\"; ");
    for p in &paths {
        script.push_str(&format!(
            "if [ -d {q} ]; then printf 'D\\0'; find {l} {q} -mindepth 1 {md} -printf '%p\\0%h\\0%f\\0%y\\0%Y\\0%m\\0%U\\0%G\\0%u\\0%g\\0%s\\0%i\\0%D\\0%n\\0%A@\\0%T@\\0%C@\\0%d\\0' 2>/dev/null; printf 'E\\0'; else printf 'N\\0'; fi; ",
            q = sh_quote(p),
            l = if follow { "-L" } else { "" },
            md = maxdepth.map_or(String::new(), |d| format!("-maxdepth {d}")),
        ));
    }
    let out = query(cx, &script, "list the paths").await?;
    let mut fields = out
        .stdout
        .split(|b| *b == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned());
    let now: f64 = fields.next().and_then(|n| n.parse().ok()).unwrap_or(0.0);
    let mut files: Vec<Value> = Vec::new();
    let mut skipped = Map::default();
    let mut warnings = Vec::new();
    let mut examined = 0usize;
    let mut msg = "All paths examined";
    'paths: for npath in &paths {
        if let Some("D") = fields.next().as_deref() {
        } else {
            let why = format!("'{npath}' is not a directory");
            warnings.push(Value::str(format!(
                "Skipped '{npath}' path due to this access issue: {why}\n"
            )));
            skipped.insert(npath.clone(), Value::str(why));
            continue;
        }
        let mut entries = Vec::new();
        while let Some(first) = fields.next() {
            if first == "E" {
                break;
            }
            let rest: Vec<String> = fields.by_ref().take(17).collect();
            if rest.len() < 17 {
                break;
            }
            let int = |s: &str| s.parse::<i64>().unwrap_or(0);
            let float = |s: &str| s.parse::<f64>().unwrap_or(0.0);
            entries.push(Entry {
                path: first,
                parent: rest[0].clone(),
                name: rest[1].clone(),
                kind: rest[2].chars().next().unwrap_or('f'),
                target_kind: rest[3].chars().next().unwrap_or('f'),
                mode: u32::from_str_radix(&rest[4], 8).unwrap_or(0),
                uid: int(&rest[5]),
                gid: int(&rest[6]),
                user: rest[7].clone(),
                group: rest[8].clone(),
                size: int(&rest[9]),
                inode: int(&rest[10]),
                dev: int(&rest[11]),
                nlink: int(&rest[12]),
                atime: float(&rest[13]),
                mtime: float(&rest[14]),
                ctime: float(&rest[15]),
                depth: rest[16].parse().unwrap_or(1),
            });
        }
        // os.walk's order: each directory's files, then its subdirectories, then down.
        let mut order = Vec::new();
        walk_order(&entries, npath.trim_end_matches('/'), recurse, &mut order);
        for i in order {
            let e = &entries[i];
            examined += 1;
            if depth.is_some_and(|d| e.depth > d) {
                continue;
            }
            if e.name.starts_with('.') && !hidden {
                continue;
            }
            let named = patterns.iter().any(|p| p.is_match(&e.name))
                && !excludes.iter().any(|x| x.is_match(&e.name));
            let aged = age.is_none_or(|age| {
                let stamp = match age_stamp.as_str() {
                    "atime" => e.atime,
                    "ctime" => e.ctime,
                    _ => e.mtime,
                };
                let old = now - stamp;
                if age >= 0 {
                    old >= age as f64
                } else {
                    old <= (-age) as f64
                }
            });
            let sized = size.is_none_or(|s| if s >= 0 { e.size >= s } else { e.size <= -s });
            let moded = match &mode {
                None => true,
                Some(m) => {
                    let want = m.resolve(0, false)?;
                    if exact_mode {
                        e.mode & 0o7777 == want
                    } else {
                        e.mode & want != 0
                    }
                }
            };
            let wanted = named
                && aged
                && moded
                && match file_type.as_str() {
                    "any" => e.kind != 'f' || sized,
                    "directory" => e.kind == 'd',
                    "link" => e.kind == 'l',
                    _ => e.kind == 'f' && sized,
                };
            if wanted {
                files.push(Value::Map(statinfo(e)));
            }
            if limit == Some(files.len()) {
                msg = "Limit of matches reached";
                break 'paths;
            }
        }
    }
    // `contains` and checksums read the chosen regular files, in one more round trip.
    let regular = |m: &Map| matches!(m.get("isreg"), Some(Value::Bool(true)));
    let filter_content = contains.is_some() && file_type == "file";
    if filter_content || get_checksum {
        let mut script = String::new();
        for f in &files {
            let Value::Map(m) = f else { continue };
            let p = sh_quote(&m.get("path").map(Value::py_str).unwrap_or_default());
            if !regular(m) {
                script.push_str("printf 'x\\0-\\0'; ");
                continue;
            }
            match contains.as_ref().filter(|_| filter_content) {
                Some(c) => script.push_str(&format!(
                    "if grep -q{z}P -- {re} {p} 2>/dev/null; then printf 'y\\0'; else printf 'n\\0'; fi; ",
                    z = if whole { "z" } else { "" },
                    re = sh_quote(&if whole { c.clone() } else { format!("^(?:{c})") }),
                )),
                None => script.push_str("printf 'y\\0'; "),
            }
            if get_checksum {
                script.push_str(&format!(
                    "printf '%s\\0' \"$({algorithm}sum < {p} 2>/dev/null | cut -d' ' -f1)\"; "
                ));
            } else {
                script.push_str("printf -- '-\\0'; ");
            }
        }
        let out = query(cx, &script, "read the files").await?;
        let mut answers = out
            .stdout
            .split(|b| *b == 0)
            .map(|f| String::from_utf8_lossy(f).into_owned());
        let mut kept = Vec::new();
        for f in files {
            let (keep, sum) = (
                answers.next().unwrap_or_default(),
                answers.next().unwrap_or_default(),
            );
            let Value::Map(mut m) = f else { continue };
            if keep == "n" {
                continue;
            }
            if get_checksum && keep == "y" {
                m.insert("checksum".into(), Value::str(sum));
            }
            kept.push(Value::Map(m));
        }
        files = kept;
    }
    let mut o = Outcome {
        msg: Some(
            if warnings.is_empty() {
                msg
            } else {
                "Not all paths examined, check warnings for details"
            }
            .to_string(),
        ),
        ..Outcome::default()
    };
    o.result
        .insert("matched".into(), Value::Int(files.len() as i64));
    o.result.insert("files".into(), Value::List(files));
    o.result
        .insert("examined".into(), Value::Int(examined as i64));
    o.result.insert("skipped_paths".into(), Value::Map(skipped));
    if !warnings.is_empty() {
        o.result.insert("warnings".into(), Value::List(warnings));
    }
    Ok(o)
}

/// Indexes of `entries` in os.walk's top-down order from `root`.
fn walk_order(entries: &[Entry], root: &str, recurse: bool, out: &mut Vec<usize>) {
    let here: Vec<usize> = (0..entries.len())
        .filter(|i| entries[*i].parent.trim_end_matches('/') == root)
        .collect();
    let is_dir = |e: &Entry| e.kind == 'd' || (e.kind == 'l' && e.target_kind == 'd');
    let (dirs, files): (Vec<usize>, Vec<usize>) =
        here.into_iter().partition(|i| is_dir(&entries[*i]));
    out.extend(&files);
    out.extend(&dirs);
    if recurse {
        for d in dirs {
            if entries[d].kind == 'd' {
                walk_order(entries, entries[d].path.trim_end_matches('/'), recurse, out);
            }
        }
    }
}

/// Ansible's `statinfo` keys for one entry, after `path`.
fn statinfo(e: &Entry) -> Map {
    let mut m = Map::default();
    let bit = |b: u32| Value::Bool(e.mode & b != 0);
    m.insert("path".into(), Value::str(e.path.clone()));
    m.insert(
        "mode".into(),
        Value::str(format!("{:04o}", e.mode & 0o7777)),
    );
    for (k, c) in [
        ("isdir", 'd'),
        ("ischr", 'c'),
        ("isblk", 'b'),
        ("isreg", 'f'),
        ("isfifo", 'p'),
        ("islnk", 'l'),
        ("issock", 's'),
    ] {
        m.insert(k.into(), Value::Bool(e.kind == c));
    }
    m.insert("uid".into(), Value::Int(e.uid));
    m.insert("gid".into(), Value::Int(e.gid));
    m.insert("size".into(), Value::Int(e.size));
    m.insert("inode".into(), Value::Int(e.inode));
    m.insert("dev".into(), Value::Int(e.dev));
    m.insert("nlink".into(), Value::Int(e.nlink));
    m.insert("atime".into(), Value::Float(e.atime));
    m.insert("mtime".into(), Value::Float(e.mtime));
    m.insert("ctime".into(), Value::Float(e.ctime));
    // find prints the number when the name is unknown; Ansible gives "".
    let known = |s: &str| {
        if s.chars().all(|c| c.is_ascii_digit()) {
            String::new()
        } else {
            s.to_string()
        }
    };
    m.insert("gr_name".into(), Value::str(known(&e.group)));
    m.insert("pw_name".into(), Value::str(known(&e.user)));
    for (k, b) in super::remote::PERMISSION_BITS {
        m.insert((*k).into(), bit(*b));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::fnmatch;

    #[test]
    fn fnmatch_is_pythons() {
        let m = |p: &str, s: &str| fnmatch(p).unwrap().is_match(s);
        assert!(m("*.txt", "a.txt"));
        assert!(m("*.txt", ".hidden.txt"));
        assert!(!m("*.txt", "a.txt.bak"));
        assert!(m("f?o", "foo"));
        assert!(m("[!a]b", "cb"));
        assert!(!m("[!a]b", "ab"));
        assert!(m("[]]x", "]x"));
        assert!(m("a[", "a["));
        assert!(m("a.b", "a.b") && !m("a.b", "axb"));
    }
}
