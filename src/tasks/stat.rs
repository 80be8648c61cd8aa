//! `stat`: a path's state, as Ansible's `stat` result keys.

use super::remote::{Kind, stat};
use super::{Cx, Outcome, Spec, TaskError, args};
use crate::transport::sh_quote;
use crate::value::{Map, Value};

pub(super) const SPEC: Spec = Spec {
    name: "stat",
    file_common: false,
    traits: &[],
    args: &[
        "path",
        "dest",
        "name",
        "follow",
        "get_checksum",
        "checksum_algorithm",
        "get_mime",
        "get_attributes",
        "get_md5",
    ],
    required: &["path|dest|name"],
};

pub(super) async fn run(a: &Map, cx: &mut Cx<'_>) -> Result<Outcome, TaskError> {
    let path = args::str_req(a, &["path", "dest", "name"], "stat")?;
    let follow = args::bool_opt(a, &["follow"])?.unwrap_or(false);
    let checksum = args::bool_opt(a, &["get_checksum"])?.unwrap_or(true);
    let mime = args::bool_opt(a, &["get_mime"])?.unwrap_or(true);
    let attributes = args::bool_opt(a, &["get_attributes"])?.unwrap_or(true);
    let algorithm = args::str_opt(a, &["checksum_algorithm"]).unwrap_or_else(|| "sha1".into());
    let sum = match algorithm.as_str() {
        "md5" | "sha1" | "sha224" | "sha256" | "sha384" | "sha512" => format!("{algorithm}sum"),
        other => {
            return Err(super::fail(format!(
                "value of checksum_algorithm must be one of: md5, sha1, sha224, sha256, sha384, sha512, got: {other}"
            )));
        }
    };
    // What an earlier task would have written, in check mode.
    if cx.check() && (cx.sim.files.contains_key(&path) || cx.sim.dirs.contains(&path)) {
        return Ok(Outcome::default().with(
            "stat",
            Value::Map(predicted(cx, &path, follow, checksum).await?),
        ));
    }
    let script = format!(
        "p={p}; if [ ! -e \"$p\" ] && [ ! -L \"$p\" ]; then echo absent; exit 0; fi; \
         stat {l} -c '%f|%a|%U|%G|%u|%g|%s|%.9X|%.9Y|%.9Z|%i|%d|%h|%b|%o|%t|%T' -- \"$p\" || exit 1; \
         a=''; [ -r \"$p\" ] && a=${{a}}r; [ -w \"$p\" ] && a=${{a}}w; [ -x \"$p\" ] && a=${{a}}x; echo \"access=$a\"; \
         if [ -L \"$p\" ]; then printf 'target=%s\\nsource=%s\\n' \"$(readlink -- \"$p\")\" \"$(readlink -m -- \"$p\")\"; fi; \
         {sum_cmd} {mime_cmd} {attr_cmd}",
        p = sh_quote(&path),
        l = if follow { "-L" } else { "" },
        sum_cmd = if checksum {
            format!(
                "if {nolink}[ -f \"$p\" ] && [ -r \"$p\" ]; then printf 'sum=%s\\n' \"$({sum} < \"$p\" | cut -d' ' -f1)\"; fi;",
                nolink = if follow { "" } else { "[ ! -L \"$p\" ] && " }
            )
        } else {
            String::new()
        },
        mime_cmd = if mime {
            "if command -v file >/dev/null; then printf 'mime=%s\\ncharset=%s\\n' \"$(file -b --mime-type -- \"$p\" 2>/dev/null)\" \"$(file -b --mime-encoding -- \"$p\" 2>/dev/null)\"; fi;"
        } else {
            ""
        },
        attr_cmd = if attributes {
            "if command -v lsattr >/dev/null; then printf 'attr=%s\\n' \"$(lsattr -vd -- \"$p\" 2>/dev/null)\"; fi;"
        } else {
            ""
        },
    );
    let out = super::remote::query(cx, &script, &format!("stat {path}")).await?;
    Ok(Outcome::default().with(
        "stat",
        Value::Map(parse(&path, &out.stdout_str(), mime, attributes)),
    ))
}

/// The keys of a path an earlier task would write (check mode), from the predicted state.
async fn predicted(
    cx: &Cx<'_>,
    path: &str,
    follow: bool,
    checksum: bool,
) -> Result<Map, TaskError> {
    let st = stat(cx, path, follow, checksum).await?;
    let mut m = Map::default();
    m.insert("exists".into(), Value::Bool(st.exists));
    m.insert("path".into(), Value::str(path));
    m.insert("mode".into(), Value::str(format!("{:04o}", st.mode)));
    m.insert("isdir".into(), Value::Bool(st.kind == Kind::Dir));
    m.insert("isreg".into(), Value::Bool(st.kind == Kind::File));
    m.insert("islnk".into(), Value::Bool(st.kind == Kind::Link));
    m.insert("pw_name".into(), Value::str(st.owner.clone()));
    m.insert("gr_name".into(), Value::str(st.group.clone()));
    m.insert("size".into(), Value::Int(st.size as i64));
    if let Some(s) = &st.sha1 {
        m.insert("checksum".into(), Value::str(s.clone()));
    }
    Ok(m)
}

/// lsattr's letters, as Ansible names them.
const ATTRIBUTES: &[(char, &str)] = &[
    ('A', "noatime"),
    ('a', "append"),
    ('c', "compressed"),
    ('C', "nocow"),
    ('d', "nodump"),
    ('D', "dirsync"),
    ('e', "extents"),
    ('E', "encrypted"),
    ('h', "blocksize"),
    ('i', "immutable"),
    ('I', "indexed"),
    ('j', "journalled"),
    ('N', "inline"),
    ('s', "zero"),
    ('S', "synchronous"),
    ('t', "notail"),
    ('T', "blockroot"),
    ('u', "undelete"),
    ('X', "compressedraw"),
    ('Z', "compresseddirty"),
];

/// Ansible's stat result from the script's lines.
fn parse(path: &str, out: &str, mime: bool, attributes: bool) -> Map {
    let mut m = Map::default();
    let mut lines = out.lines();
    let first = lines.next().unwrap_or_default();
    let f: Vec<&str> = first.split('|').collect();
    if first == "absent" || f.len() != 17 {
        m.insert("exists".into(), Value::Bool(false));
        return m;
    }
    let raw = u32::from_str_radix(f[0], 16).unwrap_or(0);
    let fmt = raw & 0o170_000;
    let int = |s: &str| Value::Int(s.parse::<i64>().unwrap_or(0));
    let float = |s: &str| Value::Float(s.parse::<f64>().unwrap_or(0.0));
    let bit = |b: u32| Value::Bool(raw & b != 0);
    m.insert("exists".into(), Value::Bool(true));
    m.insert("path".into(), Value::str(path));
    m.insert("mode".into(), Value::str(format!("{:04o}", raw & 0o7777)));
    m.insert("isdir".into(), Value::Bool(fmt == 0o040_000));
    m.insert("ischr".into(), Value::Bool(fmt == 0o020_000));
    m.insert("isblk".into(), Value::Bool(fmt == 0o060_000));
    m.insert("isreg".into(), Value::Bool(fmt == 0o100_000));
    m.insert("isfifo".into(), Value::Bool(fmt == 0o010_000));
    m.insert("islnk".into(), Value::Bool(fmt == 0o120_000));
    m.insert("issock".into(), Value::Bool(fmt == 0o140_000));
    m.insert("uid".into(), int(f[4]));
    m.insert("gid".into(), int(f[5]));
    m.insert("size".into(), int(f[6]));
    m.insert("inode".into(), int(f[10]));
    m.insert("dev".into(), int(f[11]));
    m.insert("nlink".into(), int(f[12]));
    m.insert("atime".into(), float(f[7]));
    m.insert("mtime".into(), float(f[8]));
    m.insert("ctime".into(), float(f[9]));
    for (k, b) in super::remote::PERMISSION_BITS {
        m.insert((*k).into(), bit(*b));
    }
    m.insert("blocks".into(), int(f[13]));
    m.insert("block_size".into(), int(f[14]));
    let major = u64::from_str_radix(f[15], 16).unwrap_or(0);
    let minor = u64::from_str_radix(f[16], 16).unwrap_or(0);
    let rdev = (minor & 0xff)
        | ((major & 0xfff) << 8)
        | ((minor & !0xff) << 12)
        | ((major & !0xfff) << 32);
    m.insert("device_type".into(), Value::Int(rdev as i64));
    let (mut access, mut rest) = (String::new(), Map::default());
    for l in lines {
        let Some((k, v)) = l.split_once('=') else {
            continue;
        };
        match k {
            "access" => access = v.to_string(),
            "target" => {
                rest.insert("lnk_target".into(), Value::str(v));
            }
            "source" => {
                rest.insert("lnk_source".into(), Value::str(v));
            }
            "sum" => {
                rest.insert("checksum".into(), Value::str(v));
            }
            "mime" => {
                rest.insert(
                    "mimetype".into(),
                    Value::str(if v.is_empty() { "unknown" } else { v }),
                );
            }
            "charset" => {
                rest.insert(
                    "charset".into(),
                    Value::str(if v.is_empty() { "unknown" } else { v }),
                );
            }
            "attr" => {
                let mut words = v.split_whitespace();
                let version = words.next().unwrap_or_default();
                let flags: String = words
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .filter(|c| *c != '-')
                    .collect();
                rest.insert(
                    "version".into(),
                    if version.is_empty() {
                        Value::Null
                    } else {
                        Value::str(version)
                    },
                );
                rest.insert("attr_flags".into(), Value::str(flags.clone()));
                rest.insert(
                    "attributes".into(),
                    Value::List(
                        flags
                            .chars()
                            .filter_map(|c| ATTRIBUTES.iter().find(|(l, _)| *l == c))
                            .map(|(_, n)| Value::str(*n))
                            .collect(),
                    ),
                );
            }
            _ => {}
        }
    }
    m.insert("readable".into(), Value::Bool(access.contains('r')));
    m.insert("writeable".into(), Value::Bool(access.contains('w')));
    m.insert("executable".into(), Value::Bool(access.contains('x')));
    m.insert("pw_name".into(), Value::str(f[2]));
    m.insert("gr_name".into(), Value::str(f[3]));
    if mime && !rest.contains_key("mimetype") {
        m.insert("mimetype".into(), Value::str("unknown"));
        m.insert("charset".into(), Value::str("unknown"));
    }
    if attributes && !rest.contains_key("attributes") {
        m.insert("attributes".into(), Value::List(Vec::new()));
        m.insert("attr_flags".into(), Value::str(""));
        m.insert("version".into(), Value::Null);
    }
    for (k, v) in rest {
        m.insert(k, v);
    }
    m
}
