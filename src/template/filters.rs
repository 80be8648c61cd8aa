//! Ansible's filters (`plugins/filter/core.py`, `mathstuff.py`, `urls.py`) where their
//! meaning differs from minijinja's built-ins or minijinja lacks them.

use super::convert::{from_mj, py_str, to_mj};
use crate::value::pyjson::{JsonStyle, dumps};
use crate::value::{Map, Value};
use base64::Engine as _;
use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Environment, Error, ErrorKind, Value as MjValue};

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

fn ours(v: &MjValue) -> Result<Value, Error> {
    from_mj(v)
}

/// `string % value`: Python's printf-style formatting.
fn string_rem(lhs: &MjValue, rhs: &MjValue) -> Result<MjValue, Error> {
    let fmt = lhs.as_str().unwrap_or_default();
    super::pyformat::percent(fmt, &ours(rhs)?)
        .map(MjValue::from)
        .map_err(err)
}

/// `format`: Jinja's `soft_str(value) % (kwargs or args)`.
fn format(v: MjValue, args: minijinja::value::Rest<MjValue>, k: Kwargs) -> Result<String, Error> {
    use super::pyformat::{Args, format};
    let fmt = py_str(&v)?;
    let names: Vec<String> = k.args().map(str::to_string).collect();
    let out = if names.is_empty() {
        let values = args.iter().map(ours).collect::<Result<Vec<_>, _>>()?;
        format(&fmt, &Args::Positional(values.iter().collect()))
    } else {
        if !args.is_empty() {
            return Err(err(
                "can't handle positional and keyword arguments at the same time",
            ));
        }
        let mut map = crate::value::Map::default();
        for n in names {
            map.insert(n.clone(), ours(&k.get::<MjValue>(&n)?)?);
        }
        format(&fmt, &Args::Mapping(&map))
    };
    out.map_err(err)
}

pub(super) fn register(env: &mut Environment<'static>) {
    minijinja::value::set_string_rem(string_rem);
    env.add_filter("format", format);
    env.add_filter("groupby", super::groupby::groupby);
    env.add_filter("default", default);
    env.add_filter("subelements", super::subelements::subelements);
    env.add_filter("password_hash", super::password_hash::password_hash);
    // The files a glob matches on the controller (`os.path.isfile` ones, as Ansible's).
    env.add_filter("fileglob", |pattern: String| -> Vec<String> {
        let (dir, base) = match pattern.rsplit_once('/') {
            Some((d, b)) => (if d.is_empty() { "/" } else { d }, b),
            None => (".", pattern.as_str()),
        };
        super::lookups::glob_files(std::path::Path::new(dir), base)
            .into_iter()
            .map(|f| {
                f.strip_prefix("./")
                    .map_or_else(|| f.clone(), str::to_string)
            })
            .collect()
    });
    env.add_filter("d", default);
    env.add_filter(
        "filesizeformat",
        |v: MjValue, binary: Option<bool>| -> Result<String, Error> {
            Ok(minijinja_contrib::filters::filesizeformat(
                float_of(&v)?,
                binary,
            ))
        },
    );
    // Python's abs(): bools are ints.
    env.add_filter("abs", |v: MjValue| -> Result<MjValue, Error> {
        match ours(&v)? {
            Value::Bool(b) => Ok(MjValue::from(i64::from(b))),
            Value::Int(i) => Ok(MjValue::from(i128::from(i.unsigned_abs()))),
            Value::BigInt(i) => Ok(MjValue::from(i.unsigned_abs() as i128)),
            Value::Float(f) => Ok(MjValue::from(f.abs())),
            other => Err(err(format!(
                "bad operand type for abs(): '{}'",
                other.type_name()
            ))),
        }
    });
    env.add_filter("striptags", minijinja_contrib::filters::striptags);
    env.add_filter(
        "wordwrap",
        |v: MjValue,
         width: Option<usize>,
         break_long: Option<bool>,
         wrapstring: Option<String>,
         k: Kwargs|
         -> Result<MjValue, Error> {
            // Jinja's positional order, passed on as the keywords contrib's filter takes.
            let positional = [
                width.map(MjValue::from),
                break_long.map(MjValue::from),
                wrapstring.map(MjValue::from),
                None,
            ];
            let names = [
                "width",
                "break_long_words",
                "wrapstring",
                "break_on_hyphens",
            ];
            let mut kw: Vec<(&str, MjValue)> = Vec::new();
            for (name, pos) in names.into_iter().zip(positional) {
                if let Some(x) = pos.or(k.get::<Option<MjValue>>(name)?) {
                    kw.push((name, x));
                }
            }
            k.assert_all_used()?;
            let s = MjValue::from(py_str(&v)?);
            minijinja_contrib::filters::wordwrap(&s, Kwargs::from_iter(kw))
        },
    );
    // markupsafe's entities (`&#39;`, `&#34;`), not minijinja's (`&#x27;`).
    for name in ["escape", "e"] {
        env.add_filter(name, |v: MjValue| -> Result<MjValue, Error> {
            if v.is_safe() && v.as_str().is_some() {
                return Ok(v);
            }
            Ok(MjValue::from_safe_string(html_escape(&py_str(&v)?)))
        });
    }
    env.add_filter("forceescape", |v: MjValue| -> Result<MjValue, Error> {
        Ok(MjValue::from_safe_string(html_escape(&py_str(&v)?)))
    });
    // Ansible's lazy containers are no dicts or lists to `pprint.pformat`: it prints
    // their repr, on one line and unsorted.
    env.add_filter("pprint", |v: MjValue| -> Result<String, Error> {
        Ok(ours(&v)?.py_repr())
    });
    env.add_test("callable", |_v: MjValue| false);
    env.add_filter("bool", to_bool);
    env.add_filter("string", |v: MjValue| -> Result<String, Error> {
        // Python's str(): a tuple stays one.
        if v.is_tuple()
            || v.downcast_object_ref::<super::groupby::GroupTuple>()
                .is_some()
        {
            return super::convert::py_repr(&v);
        }
        py_str(&v)
    });
    env.add_filter("to_json", to_json);
    env.add_filter("to_nice_json", to_nice_json);
    env.add_filter("from_json", from_json);
    env.add_filter(
        "to_yaml",
        |v: MjValue, k: Kwargs| -> Result<String, Error> {
            let opts = yaml_options(&k, crate::yaml::emit::DumpOptions::to_yaml())?;
            Ok(crate::yaml::emit::dump(&ours(&v)?, &opts))
        },
    );
    env.add_filter(
        "to_nice_yaml",
        |v: MjValue, k: Kwargs| -> Result<String, Error> {
            let opts = yaml_options(&k, crate::yaml::emit::DumpOptions::to_nice_yaml())?;
            Ok(crate::yaml::emit::dump(&ours(&v)?, &opts))
        },
    );
    env.add_filter("combine", combine);
    env.add_filter("dict2items", dict2items);
    env.add_filter("items2dict", items2dict);
    env.add_filter(
        "ternary",
        // Called with undefined branches (only the chosen one is used), not with an
        // undefined condition: that fails where its truth is tested, as in Ansible.
        |v: MjValue, t: MjValue, f: MjValue, n: Option<MjValue>| -> Result<MjValue, Error> {
            if v.is_undefined() {
                return Ok(v);
            }
            Ok(match n {
                Some(n) if v.is_none() && !n.is_none() => n,
                _ if v.is_true() => t,
                _ => f,
            })
        },
    );
    env.add_filter(
        "mandatory",
        |state: &minijinja::State, v: MjValue, msg: Option<String>| -> Result<MjValue, Error> {
            if v.is_undefined() {
                return Err(err(msg.unwrap_or_else(|| {
                    let name = state
                        .lookup(super::scope::LAST_MISSING)
                        .and_then(|n| n.as_str().map(|n| format!("{} ", Value::str(n).py_repr())))
                        .unwrap_or_default();
                    format!("Mandatory variable {name}not defined.")
                })));
            }
            Ok(v)
        },
    );
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("regex_search", regex_search);
    env.add_filter("regex_findall", regex_findall);
    env.add_filter(
        "regex_escape",
        |s: MjValue, re_type: Option<String>, k: Kwargs| -> Result<String, Error> {
            let re_type = match re_type {
                Some(t) => t,
                None => k
                    .get::<Option<String>>("re_type")?
                    .unwrap_or_else(|| "python".into()),
            };
            k.assert_all_used()?;
            let text = py_str(&s)?;
            match re_type.as_str() {
                "python" => Ok(python_re_escape(&text)),
                // The BRE specials `].[^$*\`, each escaped.
                "posix_basic" => Ok(text
                    .chars()
                    .flat_map(|c| {
                        let special = "].[^$*\\".contains(c);
                        special.then_some('\\').into_iter().chain([c])
                    })
                    .collect()),
                "posix_extended" => Err(err(format!("Regex type ({re_type}) not yet implemented"))),
                _ => Err(err(format!("Invalid regex type ({re_type})"))),
            }
        },
    );
    env.add_filter("quote", |s: MjValue| -> Result<String, Error> {
        let s = if s.is_none() {
            String::new()
        } else {
            py_str(&s)?
        };
        Ok(shell_quote(&s))
    });
    env.add_filter(
        "b64encode",
        |s: MjValue, k: Kwargs| -> Result<String, Error> {
            let (encoding, urlsafe) = b64_options(&k)?;
            let bytes = encode_text(&py_str(&s)?, &encoding)?;
            Ok(if urlsafe {
                base64::engine::general_purpose::URL_SAFE.encode(bytes)
            } else {
                base64::engine::general_purpose::STANDARD.encode(bytes)
            })
        },
    );
    env.add_filter(
        "b64decode",
        |s: MjValue, k: Kwargs| -> Result<String, Error> {
            let (encoding, urlsafe) = b64_options(&k)?;
            let text = py_str(&s)?;
            let bytes = if urlsafe {
                base64::engine::general_purpose::URL_SAFE.decode(text.trim())
            } else {
                base64::engine::general_purpose::STANDARD.decode(text.trim())
            }
            .map_err(|e| err(format!("b64decode: {e}")))?;
            decode_text(&bytes, &encoding)
        },
    );
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
    env.add_filter(
        "hash",
        |s: MjValue, alg: Option<String>| -> Result<String, Error> {
            hash(&py_str(&s)?, alg.as_deref().unwrap_or("sha1"))
        },
    );
    env.add_filter("checksum", |s: MjValue| -> Result<String, Error> {
        hash(&py_str(&s)?, "sha1")
    });
    env.add_filter("sha1", |s: MjValue| -> Result<String, Error> {
        hash(&py_str(&s)?, "sha1")
    });
    env.add_filter("md5", |s: MjValue| -> Result<String, Error> {
        hash(&py_str(&s)?, "md5")
    });
    env.add_filter("flatten", flatten);
    env.add_filter("unique", unique);
    // Ansible's test-only `ansible._protomatter.finalize`: values are always final here.
    env.add_filter(
        "ansible._protomatter.finalize",
        |v: MjValue| -> Result<MjValue, Error> { Ok(to_mj(&ours(&v)?)) },
    );
    env.add_filter("rekey_on_member", rekey_on_member);
    env.add_filter(
        "union",
        |a: MjValue, b: MjValue| -> Result<MjValue, Error> { set_op(&a, &b, "union") },
    );
    env.add_filter(
        "intersect",
        |a: MjValue, b: MjValue| -> Result<MjValue, Error> { set_op(&a, &b, "intersect") },
    );
    env.add_filter(
        "difference",
        |a: MjValue, b: MjValue| -> Result<MjValue, Error> { set_op(&a, &b, "difference") },
    );
    env.add_filter(
        "symmetric_difference",
        |a: MjValue, b: MjValue| -> Result<MjValue, Error> {
            set_op(&a, &b, "symmetric_difference")
        },
    );
    env.add_filter("type_debug", |v: MjValue| -> Result<String, Error> {
        if v.is_tuple() {
            return Ok("tuple".into());
        }
        Ok(ours(&v)?.type_name().to_string())
    });
    env.add_filter(
        "comment",
        |v: MjValue, style: Option<String>, k: Kwargs| -> Result<String, Error> {
            let style = match style {
                Some(s) => s,
                None => k
                    .get::<Option<String>>("style")?
                    .unwrap_or_else(|| "plain".into()),
            };
            comment(&py_str(&v)?, &style, &k)
        },
    );
    env.add_filter(
        "split",
        |v: MjValue, sep: Option<String>, maxsplit: Option<i64>| -> Result<MjValue, Error> {
            let s = py_str(&v)?;
            let max = maxsplit.filter(|m| *m >= 0).map(|m| m as usize);
            let parts: Vec<MjValue> = match sep.as_deref() {
                None => {
                    let words: Vec<&str> = s.split_whitespace().collect();
                    match max {
                        Some(m) if words.len() > m + 1 => {
                            let mut out: Vec<MjValue> = Vec::new();
                            let mut rest = s.trim_start();
                            for _ in 0..m {
                                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                                out.push(MjValue::from(&rest[..end]));
                                rest = rest[end..].trim_start();
                            }
                            out.push(MjValue::from(rest));
                            out
                        }
                        _ => words.into_iter().map(MjValue::from).collect(),
                    }
                }
                Some("") => return Err(err("empty separator")),
                Some(sep) => match max {
                    Some(m) => s.splitn(m + 1, sep).map(MjValue::from).collect(),
                    None => s.split(sep).map(MjValue::from).collect(),
                },
            };
            Ok(MjValue::from(parts))
        },
    );
    env.add_filter("to_uuid", to_uuid);
    env.add_filter(
        "urlsplit",
        |v: String, part: Option<String>| -> Result<MjValue, Error> {
            urlsplit(&v, part.as_deref())
        },
    );
    env.add_filter("int", to_int);
    env.add_filter("float", to_float);
    env.add_filter("truncate", truncate);
    env.add_filter(
        "center",
        |s: MjValue, width: Option<usize>| -> Result<String, Error> {
            Ok(center(&py_str(&s)?, width.unwrap_or(80)))
        },
    );
    env.add_filter("wordcount", |s: MjValue| -> Result<usize, Error> {
        static WORD: std::sync::LazyLock<Option<regex::Regex>> =
            std::sync::LazyLock::new(|| regex::Regex::new(r"\w+").ok());
        let text = py_str(&s)?;
        Ok(WORD.as_ref().map_or(0, |re| re.find_iter(&text).count()))
    });
    env.add_filter("urlencode", urlencode);
    // Text is parsed; anything else (None included) comes back as it is.
    env.add_filter("from_yaml", |s: MjValue| -> Result<MjValue, Error> {
        let Some(text) = s.as_str() else {
            return Ok(s);
        };
        let loaded = crate::yaml::parse(
            text,
            &std::sync::Arc::from(std::path::Path::new("<from_yaml>")),
        )
        .map_err(|d| err(format!("from_yaml: {}", d.message)))?;
        let node = loaded
            .single()
            .map_err(|d| err(format!("from_yaml: {}", d.message)))?;
        Ok(node.map_or(MjValue::from(()), |n| to_mj(&n.to_value())))
    });
    env.add_filter("from_yaml_all", |s: MjValue| -> Result<MjValue, Error> {
        if s.is_none() {
            return Ok(MjValue::from(Vec::<MjValue>::new()));
        }
        let Some(text) = s.as_str() else {
            return Ok(s);
        };
        let loaded = crate::yaml::parse(
            text,
            &std::sync::Arc::from(std::path::Path::new("<from_yaml_all>")),
        )
        .map_err(|d| err(format!("from_yaml_all: {}", d.message)))?;
        Ok(MjValue::from(
            loaded
                .docs
                .iter()
                .map(|n| to_mj(&n.to_value()))
                .collect::<Vec<_>>(),
        ))
    });
    env.add_filter(
        "product",
        |a: MjValue, rest: minijinja::value::Rest<MjValue>| -> Result<MjValue, Error> {
            let mut lists: Vec<Vec<MjValue>> = vec![a.try_iter()?.collect()];
            for r in rest.iter() {
                lists.push(r.try_iter()?.collect());
            }
            Ok(MjValue::from(
                super::lookups::product(&lists)
                    .into_iter()
                    .map(MjValue::from)
                    .collect::<Vec<_>>(),
            ))
        },
    );
    env.add_filter(
        "permutations",
        |a: MjValue, r: Option<usize>| -> Result<MjValue, Error> {
            let items: Vec<MjValue> = a.try_iter()?.collect();
            let r = r.unwrap_or(items.len());
            let mut out = Vec::new();
            permutations(
                &items,
                r,
                &mut Vec::new(),
                &mut vec![false; items.len()],
                &mut out,
            );
            Ok(MjValue::from(out))
        },
    );
    env.add_filter(
        "combinations",
        |a: MjValue, r: usize| -> Result<MjValue, Error> {
            let items: Vec<MjValue> = a.try_iter()?.collect();
            let mut out = Vec::new();
            combinations(&items, r, 0, &mut Vec::new(), &mut out);
            Ok(MjValue::from(out))
        },
    );
    env.add_filter(
        "log",
        |x: MjValue, base: Option<MjValue>| -> Result<f64, Error> {
            let x = number(&x, "log")?;
            let base = base.map(|b| number(&b, "log")).transpose()?;
            if x <= 0.0 || base.is_some_and(|b| b <= 0.0 || b == 1.0) {
                return Err(err("math domain error"));
            }
            Ok(match base {
                None => x.ln(),
                Some(10.0) => x.log10(),
                Some(b) => x.ln() / b.ln(),
            })
        },
    );
    env.add_filter("pow", |x: MjValue, y: MjValue| -> Result<f64, Error> {
        let (x, y) = (number(&x, "pow")?, number(&y, "pow")?);
        let r = x.powf(y);
        if r.is_nan() {
            return Err(err("math domain error"));
        }
        Ok(r)
    });
    env.add_filter(
        "root",
        |x: MjValue, base: Option<MjValue>| -> Result<f64, Error> {
            let x = number(&x, "root")?;
            let base = base.map(|b| number(&b, "root")).transpose()?;
            let r = match base {
                None | Some(2.0) => x.sqrt(),
                Some(b) => x.powf(1.0 / b),
            };
            // Python's ValueError (a negative root) is reported as the type error is.
            if r.is_nan() {
                return Err(err("root() can only be used on numbers"));
            }
            Ok(r)
        },
    );
    env.add_filter("human_readable", human_readable);
    env.add_filter("human_to_bytes", human_to_bytes);
    env.add_filter(
        "extract",
        |item: MjValue, container: MjValue, morekeys: Option<MjValue>| -> Result<MjValue, Error> {
            // A missing key gives undefined, which `default` can still replace.
            let mut v = container.get_item(&item).unwrap_or(MjValue::UNDEFINED);
            if let Some(keys) = morekeys {
                let keys: Vec<MjValue> = if matches!(keys.kind(), ValueKind::Seq) {
                    keys.try_iter()?.collect()
                } else {
                    vec![keys]
                };
                for k in keys {
                    v = v.get_item(&k).unwrap_or(MjValue::UNDEFINED);
                }
            }
            Ok(v)
        },
    );
    env.add_filter("realpath", |p: String| -> String {
        std::fs::canonicalize(&p).map_or_else(|_| normpath(&p), |c| c.display().to_string())
    });
    env.add_filter("relpath", |p: String, start: Option<String>| -> String {
        relpath(
            &normpath(&p),
            &normpath(&start.unwrap_or_else(|| ".".into())),
        )
    });
    env.add_filter(
        "strftime",
        |fmt: String,
         second: Option<MjValue>,
         utc: Option<bool>,
         k: Kwargs|
         -> Result<String, Error> {
            use chrono::TimeZone;
            let utc = match utc {
                Some(u) => Some(u),
                None => k.get::<Option<bool>>("utc")?,
            };
            let second = match second {
                Some(s) => Some(s),
                None => k.get::<Option<MjValue>>("second")?,
            };
            k.assert_all_used()?;
            let secs = match second.filter(|s| !s.is_none()) {
                Some(s) => {
                    let text = py_str(&s)?;
                    py_float(text.trim())
                        .ok_or_else(|| err(format!("Invalid value for epoch value ({text})")))?
                }
                None => std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64()),
            };
            let whole = secs.trunc() as i64;
            let nanos = (secs.fract() * 1e9) as u32;
            let text = if utc.unwrap_or(false) {
                chrono::Utc
                    .timestamp_opt(whole, nanos)
                    .single()
                    .map(|t| py_strftime(&t, &fmt))
            } else {
                chrono::Local
                    .timestamp_opt(whole, nanos)
                    .single()
                    .map(|t| py_strftime(&t, &fmt))
            };
            text.ok_or_else(|| err(format!("strftime: {secs} is out of range")))?
        },
    );
    // Python's datetime.strptime: a datetime object.
    env.add_filter(
        "to_datetime",
        |text: String, format: Option<String>| -> Result<MjValue, Error> {
            let format = format.unwrap_or_else(|| "%Y-%m-%d %H:%M:%S".into());
            // Python's %f is up to six digits of microseconds.
            let chrono_format = format.replace("%f", "%6f");
            let t = chrono::NaiveDateTime::parse_from_str(&text, &chrono_format)
                .or_else(|_| {
                    chrono::NaiveDate::parse_from_str(&text, &chrono_format)
                        .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default())
                })
                .map_err(|_| {
                    err(format!(
                        "time data {} does not match format {}",
                        Value::str(text.clone()).py_repr(),
                        Value::str(format.clone()).py_repr()
                    ))
                })?;
            Ok(to_mj(&super::file_vars::local_datetime(t.and_utc())))
        },
    );
    env.add_function("lookup", lookup);
    // Jinja's globals minijinja lacks.
    env.add_function("joiner", minijinja_contrib::globals::joiner);
    env.add_function("cycler", minijinja_contrib::globals::cycler);
    // Ansible's `undef(hint)`: an undefined value (a role default that must be overridden).
    env.add_function(
        "undef",
        |state: &minijinja::State, hint: Option<String>| -> MjValue {
            let hint = hint
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "Mandatory variable has not been overridden".into());
            let _ = state.lookup(&format!("{}{hint}", super::scope::UNDEF_HINT));
            MjValue::UNDEFINED
        },
    );
    // `now(utc=False, fmt=None)`: a naive datetime, or its strftime text.
    env.add_function("now", |k: Kwargs| -> Result<MjValue, Error> {
        let utc: Option<bool> = k.get("utc")?;
        let fmt: Option<String> = k.get("fmt")?;
        k.assert_all_used()?;
        let now = chrono::Utc::now();
        Ok(
            match (fmt.filter(|f| !f.is_empty()), utc.unwrap_or(false)) {
                (Some(f), true) => MjValue::from(py_strftime(&now, &f)?),
                (Some(f), false) => {
                    MjValue::from(py_strftime(&now.with_timezone(&chrono::Local), &f)?)
                }
                (None, true) => to_mj(&super::file_vars::local_datetime(now)),
                (None, false) => to_mj(&super::file_vars::local_datetime(
                    now.with_timezone(&chrono::Local),
                )),
            },
        )
    });
    env.add_function("query", query);
    env.add_function("q", query);
    // `with_<lookup>` loops: the lookup's values for the loop's terms.
    env.add_function(
        "__tprov_with",
        |state: &minijinja::State, name: String, terms: MjValue| -> Result<MjValue, Error> {
            let terms: Vec<MjValue> = if matches!(terms.kind(), ValueKind::Seq) {
                terms.try_iter()?.collect()
            } else {
                vec![terms]
            };
            let k = std::iter::empty::<(&str, MjValue)>().collect::<Kwargs>();
            Ok(MjValue::from(super::lookups::values(
                state, &name, &terms, &k,
            )?))
        },
    );
    env.add_filter("random", random);
    env.add_filter(
        "shuffle",
        |v: MjValue, k: Kwargs| -> Result<MjValue, Error> {
            let seed: Option<MjValue> = k.get("seed")?;
            k.assert_all_used()?;
            // Ansible's shuffle hands back what it cannot iterate, unchanged.
            let Ok(iter) = v.try_iter() else {
                return Ok(v);
            };
            let mut items: Vec<MjValue> = iter.collect();
            let mut rng = Rng::new(seed.as_ref());
            for i in (1..items.len()).rev() {
                items.swap(i, rng.below(i as u64 + 1) as usize);
            }
            Ok(MjValue::from(items))
        },
    );
    env.add_function(
        "dict",
        |pos: minijinja::value::Rest<MjValue>, k: Kwargs| -> Result<MjValue, Error> {
            let mut out: Vec<(String, MjValue)> = Vec::new();
            if let Some(src) = pos.first() {
                if matches!(src.kind(), ValueKind::Map) {
                    for key in src.try_iter()? {
                        out.push((py_str(&key)?, src.get_item(&key)?));
                    }
                } else {
                    for pair in src.try_iter()? {
                        let items: Vec<MjValue> = pair.try_iter()?.collect();
                        let [key, val] = <[MjValue; 2]>::try_from(items).map_err(|_| {
                            err("dictionary update sequence element has length other than 2")
                        })?;
                        out.push((py_str(&key)?, val));
                    }
                }
            }
            for key in k.args() {
                out.push((key.to_string(), k.get::<MjValue>(key)?));
            }
            Ok(crate::template::mj_map(out))
        },
    );
}

/// A small seeded generator (splitmix64): `seed=` gives the same order on every run,
/// though not Python's `random` sequence; without a seed, the clock seeds it.
struct Rng(u64);

impl Rng {
    fn new(seed: Option<&MjValue>) -> Rng {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        match seed {
            Some(s) => s.to_string().hash(&mut h),
            None => std::time::SystemTime::now().hash(&mut h),
        }
        Rng(h.finish())
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// Ansible's `random`: an item of a list, or a number of `range(start, end, step)`.
fn b64_options(k: &Kwargs) -> Result<(String, bool), Error> {
    let encoding = k
        .get::<Option<String>>("encoding")?
        .unwrap_or_else(|| "utf-8".into());
    let urlsafe = k.get::<Option<bool>>("urlsafe")?.unwrap_or(false);
    k.assert_all_used()?;
    Ok((encoding.to_lowercase().replace('_', "-"), urlsafe))
}

/// Windows-1252's bytes 0x80..0x9F (None: undefined there, as Python's cp1252).
const CP1252_HIGH: [Option<char>; 32] = [
    Some('\u{20ac}'),
    None,
    Some('\u{201a}'),
    Some('\u{192}'),
    Some('\u{201e}'),
    Some('\u{2026}'),
    Some('\u{2020}'),
    Some('\u{2021}'),
    Some('\u{2c6}'),
    Some('\u{2030}'),
    Some('\u{160}'),
    Some('\u{2039}'),
    Some('\u{152}'),
    None,
    Some('\u{17d}'),
    None,
    None,
    Some('\u{2018}'),
    Some('\u{2019}'),
    Some('\u{201c}'),
    Some('\u{201d}'),
    Some('\u{2022}'),
    Some('\u{2013}'),
    Some('\u{2014}'),
    Some('\u{2dc}'),
    Some('\u{2122}'),
    Some('\u{161}'),
    Some('\u{203a}'),
    Some('\u{153}'),
    None,
    Some('\u{17e}'),
    Some('\u{178}'),
];

/// Python's `str.encode(encoding)` for the common encodings (the name as Python's
/// codec lookup normalises it).
pub(crate) fn encode_text(s: &str, encoding: &str) -> Result<Vec<u8>, Error> {
    let encoding = encoding.to_lowercase().replace('_', "-");
    let encoding = encoding.as_str();
    if matches!(encoding, "cp1252" | "windows-1252") {
        return s
            .chars()
            .map(|c| match u32::from(c) {
                n @ (0..=0x7f | 0xa0..=0xff) => u8::try_from(n).ok(),
                _ => CP1252_HIGH
                    .iter()
                    .position(|h| *h == Some(c))
                    .and_then(|i| u8::try_from(0x80 + i).ok()),
            })
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| err("'charmap' codec can't encode the text"));
    }
    let units = |le: bool| -> Vec<u8> {
        s.encode_utf16()
            .flat_map(|u| if le { u.to_le_bytes() } else { u.to_be_bytes() })
            .collect()
    };
    Ok(match encoding {
        "utf-8" | "utf8" => s.as_bytes().to_vec(),
        "utf-16-le" | "utf-16le" => units(true),
        "utf-16-be" | "utf-16be" => units(false),
        "utf-16" | "utf16" => [0xff, 0xfe].into_iter().chain(units(true)).collect(),
        "latin-1" | "latin1" | "iso-8859-1" | "ascii" => {
            let max = if encoding == "ascii" { 0x7f } else { 0xff };
            s.chars()
                .map(|c| {
                    u8::try_from(u32::from(c))
                        .ok()
                        .filter(|b| u32::from(*b) <= max)
                })
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(|| err(format!("'{encoding}' codec can't encode the text")))?
        }
        other => return Err(err(format!("unknown encoding: {other}"))),
    })
}

/// Python's `bytes.decode(encoding, errors='surrogate_or_strict')`, the common ones.
fn decode_text(b: &[u8], encoding: &str) -> Result<String, Error> {
    let units = |le: bool, b: &[u8]| -> Vec<u16> {
        b.chunks(2)
            .map(|c| {
                let pair = [c[0], c.get(1).copied().unwrap_or(0)];
                if le {
                    u16::from_le_bytes(pair)
                } else {
                    u16::from_be_bytes(pair)
                }
            })
            .collect()
    };
    Ok(match encoding {
        "utf-8" | "utf8" => String::from_utf8_lossy(b).into_owned(),
        "utf-16-le" | "utf-16le" => String::from_utf16_lossy(&units(true, b)),
        "utf-16-be" | "utf-16be" => String::from_utf16_lossy(&units(false, b)),
        "utf-16" | "utf16" => match b {
            [0xfe, 0xff, rest @ ..] => String::from_utf16_lossy(&units(false, rest)),
            [0xff, 0xfe, rest @ ..] => String::from_utf16_lossy(&units(true, rest)),
            _ => String::from_utf16_lossy(&units(true, b)),
        },
        "latin-1" | "latin1" | "iso-8859-1" | "ascii" => b.iter().map(|&c| char::from(c)).collect(),
        other => return Err(err(format!("unknown encoding: {other}"))),
    })
}

/// Python's `uuid.uuid5(namespace, name)` (Ansible's namespace by default).
fn to_uuid(v: MjValue, namespace: Option<MjValue>, k: Kwargs) -> Result<String, Error> {
    use sha1::Digest;
    let namespace = match namespace {
        Some(n) => Some(n),
        None => k.get::<Option<MjValue>>("namespace")?,
    };
    k.assert_all_used()?;
    let ns = match &namespace {
        None => "361E6D51-FAEC-444A-9079-341386DA8E2E".to_string(),
        Some(n) => match n.as_str() {
            Some(s) => s.to_string(),
            None => {
                return Err(err(format!(
                    "Invalid value '{}' for 'namespace': '{}' object has no attribute 'replace'",
                    py_str(n)?,
                    ours(n)?.type_name()
                )));
            }
        },
    };
    let hex: String = ns
        .trim_start_matches("urn:")
        .trim_start_matches("uuid:")
        .trim_matches(['{', '}'])
        .chars()
        .filter(|c| *c != '-')
        .collect();
    let bytes = hex::decode(&hex)
        .ok()
        .filter(|b| b.len() == 16)
        .ok_or_else(|| {
            err(format!(
                "Invalid value '{ns}' for 'namespace': badly formed hexadecimal UUID string"
            ))
        })?;
    let mut h = sha1::Sha1::new();
    h.update(&bytes);
    h.update(py_str(&v)?.as_bytes());
    let mut d: Vec<u8> = h.finalize()[..16].to_vec();
    d[6] = (d[6] & 0x0f) | 0x50;
    d[8] = (d[8] & 0x3f) | 0x80;
    let x = hex::encode(d);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    ))
}

/// Jinja's `default(value, default_value='', boolean=False)`, keywords included.
fn default(
    v: MjValue,
    other: Option<MjValue>,
    boolean: Option<bool>,
    k: Kwargs,
) -> Result<MjValue, Error> {
    let other = match other {
        Some(o) => o,
        None => k
            .get::<Option<MjValue>>("default_value")?
            .unwrap_or_else(|| MjValue::from("")),
    };
    let boolean = match boolean {
        Some(b) => b,
        None => k.get::<Option<bool>>("boolean")?.unwrap_or(false),
    };
    k.assert_all_used()?;
    Ok(if v.is_undefined() || (boolean && !v.is_true()) {
        other
    } else {
        v
    })
}

fn random(v: MjValue, pos: minijinja::value::Rest<MjValue>, k: Kwargs) -> Result<MjValue, Error> {
    let seed: Option<MjValue> = k.get("seed")?;
    let arg = |i: usize, name: &str| -> Result<Option<i64>, Error> {
        match pos.get(i).cloned().or(k.get::<Option<MjValue>>(name)?) {
            Some(x) => Ok(Some(i64::try_from(x)?)),
            None => Ok(None),
        }
    };
    let (start, step) = (arg(0, "start")?, arg(1, "step")?);
    k.assert_all_used()?;
    let mut rng = Rng::new(seed.as_ref());
    if !v.is_integer() {
        if !matches!(
            v.kind(),
            ValueKind::Seq | ValueKind::Map | ValueKind::String | ValueKind::Iterable
        ) {
            return Err(err("random can only be used on sequences and integers"));
        }
        if start.is_some_and(|s| s != 0) || step.is_some_and(|s| s != 0) {
            return Err(err("start and step can only be used with integer values"));
        }
    }
    let (start, step) = (
        start.filter(|s| *s != 0).unwrap_or(0),
        step.filter(|s| *s != 0).unwrap_or(1),
    );
    if v.is_integer() {
        let end = i64::try_from(v)?;
        if step <= 0 || end <= start {
            return Err(err("empty range for random"));
        }
        let count = ((end - start + step - 1) / step) as u64;
        return Ok(MjValue::from(start + rng.below(count) as i64 * step));
    }
    let items: Vec<MjValue> = v.try_iter()?.collect();
    if items.is_empty() {
        return Err(err("Cannot choose from an empty sequence"));
    }
    Ok(items[rng.below(items.len() as u64) as usize].clone())
}

fn permutations(
    items: &[MjValue],
    r: usize,
    cur: &mut Vec<MjValue>,
    used: &mut [bool],
    out: &mut Vec<MjValue>,
) {
    if cur.len() == r {
        out.push(MjValue::from(cur.clone()));
        return;
    }
    for i in 0..items.len() {
        if !used[i] {
            used[i] = true;
            cur.push(items[i].clone());
            permutations(items, r, cur, used, out);
            cur.pop();
            used[i] = false;
        }
    }
}

fn combinations(
    items: &[MjValue],
    r: usize,
    start: usize,
    cur: &mut Vec<MjValue>,
    out: &mut Vec<MjValue>,
) {
    if cur.len() == r {
        out.push(MjValue::from(cur.clone()));
        return;
    }
    for i in start..items.len() {
        cur.push(items[i].clone());
        combinations(items, r, i + 1, cur, out);
        cur.pop();
    }
}

const SIZE_UNITS: [&str; 9] = ["", "K", "M", "G", "T", "P", "E", "Z", "Y"];

/// Ansible's `human_readable`: `1.00 KB`, or bits (`Mb`) with `isbits`.
fn human_readable(
    size: MjValue,
    pos: minijinja::value::Rest<MjValue>,
    k: Kwargs,
) -> Result<String, Error> {
    // Python compares the size with numbers: anything else is its TypeError.
    let size =
        number(&size, "human_readable").map_err(|_| err("human_readable() failed on bad input"))?;
    let isbits = pos
        .first()
        .cloned()
        .or(k.get::<Option<MjValue>>("isbits")?)
        .map(|b| b.is_true());
    let unit = match pos.get(1).cloned().or(k.get::<Option<MjValue>>("unit")?) {
        Some(u) if !u.is_none() => Some(py_str(&u)?),
        _ => None,
    };
    k.assert_all_used()?;
    let bits = isbits.unwrap_or(false);
    let suffix = if bits { "b" } else { "B" };
    let base = if bits { "bits" } else { "Bytes" };
    let want = unit.map(|u| {
        u.chars()
            .next()
            .map(|c| c.to_ascii_uppercase().to_string())
            .unwrap_or_default()
    });
    let mut chosen = 0;
    for (i, u) in SIZE_UNITS.iter().enumerate().rev() {
        let limit = 2f64.powi(10 * i as i32);
        if want.as_deref() == Some(*u) || want.is_none() && size.abs() >= limit {
            chosen = i;
            break;
        }
    }
    let value = size / 2f64.powi(10 * chosen as i32);
    Ok(if chosen == 0 {
        format!("{value:.2} {base}")
    } else {
        format!("{value:.2} {}{suffix}", SIZE_UNITS[chosen])
    })
}

/// Ansible's `human_to_bytes`: `1K`, `2 MB`, `10Mb` (with `isbits`).
fn human_to_bytes(
    v: MjValue,
    pos: minijinja::value::Rest<MjValue>,
    k: Kwargs,
) -> Result<i64, Error> {
    let default_unit = match pos
        .first()
        .cloned()
        .or(k.get::<Option<MjValue>>("default_unit")?)
    {
        Some(u) if !u.is_none() => Some(py_str(&u)?),
        _ => None,
    };
    let isbits = pos
        .get(1)
        .cloned()
        .or(k.get::<Option<MjValue>>("isbits")?)
        .map(|b| b.is_true());
    k.assert_all_used()?;
    let text = py_str(&v)?;
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = (t[..split].trim(), t[split..].trim());
    let number: f64 = num.parse().map_err(|_| {
        err(format!(
            "human_to_bytes() can't interpret following string: {text}"
        ))
    })?;
    let unit = if unit.is_empty() {
        default_unit.unwrap_or_default()
    } else {
        unit.to_string()
    };
    let bits = isbits.unwrap_or(false);
    let mut chars = unit.chars();
    let prefix = chars.next().map(|c| c.to_ascii_uppercase());
    let rest: String = chars.collect();
    let power = match prefix {
        None => 0,
        Some('B') if rest.is_empty() && !bits => 0,
        Some(p) => SIZE_UNITS
            .iter()
            .position(|u| u.starts_with(p) && !u.is_empty())
            .ok_or_else(|| err(format!("human_to_bytes() failed to convert {text}")))?,
    };
    if power > 0 {
        let expect = if bits { "b" } else { "B" };
        if !(rest.is_empty() || rest == expect || rest == format!("i{expect}")) {
            return Err(err(format!(
                "human_to_bytes() failed to convert {text}. Value is not a valid string ({})",
                if bits { "expect bits" } else { "expect bytes" }
            )));
        }
    }
    Ok((number * 2f64.powi(10 * power as i32)).round() as i64)
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

/// Python's `int(s, base)` on a string: surrounding whitespace, a sign, the base's
/// prefix, underscores between digits.
fn py_int(s: &str, base: u32) -> Option<i64> {
    let t = s.trim();
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let lower = t.to_ascii_lowercase();
    let (base, digits) = match (base, lower.get(..2)) {
        (16 | 0, Some("0x")) => (16, &t[2..]),
        (8 | 0, Some("0o")) => (8, &t[2..]),
        (2 | 0, Some("0b")) => (2, &t[2..]),
        (0, _)
            if t.len() > 1 && t.starts_with('0') && t.trim_start_matches(['0', '_']).is_empty() =>
        {
            (10, t)
        }
        (0, _) if t.len() > 1 && t.starts_with('0') => return None,
        (0, _) => (10, t),
        (b, _) => (b, t),
    };
    let digits = digits
        .strip_prefix('_')
        .filter(|_| t.len() != digits.len())
        .unwrap_or(digits);
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let v = i64::from_str_radix(&digits.replace('_', ""), base).ok()?;
    Some(if neg { -v } else { v })
}

/// Python's `float(s)`: whitespace, underscores between digits, inf and nan.
fn py_float(s: &str) -> Option<f64> {
    let t = s.trim();
    let b = t.as_bytes();
    for (i, c) in b.iter().enumerate() {
        if *c == b'_'
            && !(i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            return None;
        }
    }
    let t = t.replace('_', "");
    let word = t.trim_start_matches(['+', '-']).to_ascii_lowercase();
    if !["inf", "infinity", "nan"].contains(&word.as_str())
        && !t
            .bytes()
            .all(|c| c.is_ascii_digit() || b"+-.eE".contains(&c))
    {
        return None;
    }
    t.parse().ok()
}

/// Jinja's `int`: `int(value, base)`, else `int(float(value))`, else the default.
fn to_int(v: MjValue, default: Option<MjValue>, k: Kwargs) -> Result<MjValue, Error> {
    let base: Option<u32> = k.get("base")?;
    let default = match (default, k.get::<Option<MjValue>>("default")?) {
        (Some(d), _) | (None, Some(d)) => d,
        _ => MjValue::from(0),
    };
    k.assert_all_used()?;
    let from_float = |f: f64| -> Result<MjValue, Error> {
        if f.is_finite() {
            Ok(MjValue::from(f.trunc() as i64))
        } else if f.is_nan() {
            Err(err("cannot convert float NaN to integer"))
        } else {
            Err(err("cannot convert float infinity to integer"))
        }
    };
    match v.kind() {
        ValueKind::Bool => Ok(MjValue::from(i64::from(v.is_true()))),
        ValueKind::Number if v.is_integer() => Ok(v),
        ValueKind::Number => from_float(f64::try_from(v).unwrap_or(0.0)),
        ValueKind::String => {
            let s = v.as_str().unwrap_or_default();
            if let Some(i) = py_int(s, base.unwrap_or(10)) {
                return Ok(MjValue::from(i));
            }
            match py_float(s) {
                Some(f) if f.is_nan() => Ok(default),
                Some(f) => from_float(f),
                None => Ok(default),
            }
        }
        _ => Ok(default),
    }
}

/// Jinja's `float`: `float(value)`, else the default (0.0).
fn to_float(v: MjValue, default: Option<MjValue>) -> MjValue {
    let default = default.unwrap_or_else(|| MjValue::from(0.0));
    match v.kind() {
        ValueKind::Bool => MjValue::from(if v.is_true() { 1.0 } else { 0.0 }),
        ValueKind::Number => MjValue::from(f64::try_from(v).unwrap_or(0.0)),
        ValueKind::String => {
            py_float(v.as_str().unwrap_or_default()).map_or(default, MjValue::from)
        }
        _ => default,
    }
}

/// Jinja's `truncate(length=255, killwords=False, end='...', leeway=5)`.
fn truncate(s: MjValue, pos: minijinja::value::Rest<MjValue>, k: Kwargs) -> Result<String, Error> {
    let s = py_str(&s)?;
    let arg = |i: usize, name: &str| -> Result<Option<MjValue>, Error> {
        Ok(pos.get(i).cloned().or(k.get::<Option<MjValue>>(name)?))
    };
    let int = |v: Option<MjValue>| {
        v.and_then(|v| i64::try_from(v).ok())
            .map(|n| n.max(0) as usize)
    };
    let length = int(arg(0, "length")?).unwrap_or(255);
    let killwords = arg(1, "killwords")?.is_some_and(|v| v.is_true());
    let end = match arg(2, "end")? {
        Some(v) => py_str(&v)?,
        None => "...".into(),
    };
    let leeway = int(arg(3, "leeway")?);
    k.assert_all_used()?;
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= length + leeway.unwrap_or(5) {
        return Ok(s);
    }
    if length < end.chars().count() {
        return Err(err(format!(
            "expected length >= {}, got {length}",
            end.chars().count()
        )));
    }
    let head: String = chars[..length - end.chars().count()].iter().collect();
    if killwords {
        return Ok(head + &end);
    }
    let head = match head.rsplit_once(' ') {
        Some((before, _)) => before.to_string(),
        None => head,
    };
    Ok(head + &end)
}

/// Python's `str.center`.
fn center(s: &str, width: usize) -> String {
    let len = s.chars().count();
    if width <= len {
        return s.to_string();
    }
    let pad = width - len;
    let left = pad / 2 + (pad & width & 1);
    format!("{}{s}{}", " ".repeat(left), " ".repeat(pad - left))
}

/// Jinja's `urlencode`: a string quoted with `/` kept; a mapping or a list of pairs as
/// a query string.
fn urlencode(v: MjValue) -> Result<String, Error> {
    fn quote(s: &str, safe: &[u8], plus: bool) -> String {
        let mut out = String::new();
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || b"_.-~".contains(&b) || safe.contains(&b) {
                out.push(b as char);
            } else if b == b' ' && plus {
                out.push('+');
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }
    match v.kind() {
        ValueKind::String => Ok(quote(v.as_str().unwrap_or_default(), b"/", false)),
        ValueKind::Map => {
            let mut parts = Vec::new();
            for k in v.try_iter()? {
                let val = v.get_item(&k)?;
                parts.push(format!(
                    "{}={}",
                    quote(&py_str(&k)?, b"", true),
                    quote(&py_str(&val)?, b"", true)
                ));
            }
            Ok(parts.join("&"))
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let mut parts = Vec::new();
            for pair in v.try_iter()? {
                let k = pair.get_item_by_index(0)?;
                let val = pair.get_item_by_index(1)?;
                parts.push(format!(
                    "{}={}",
                    quote(&py_str(&k)?, b"", true),
                    quote(&py_str(&val)?, b"", true)
                ));
            }
            Ok(parts.join("&"))
        }
        _ => Ok(quote(&py_str(&v)?, b"/", false)),
    }
}

/// `lookup(name, terms...)`: one value, or the values joined with commas.
fn lookup(
    state: &minijinja::State,
    name: String,
    terms: minijinja::value::Rest<MjValue>,
    k: Kwargs,
) -> Result<MjValue, Error> {
    let wantlist: bool = k.get::<Option<bool>>("wantlist")?.unwrap_or(false);
    let Some(values) = lookup_values(state, &name, &terms, &k)? else {
        return Ok(MjValue::from(()));
    };
    k.assert_all_used()?;
    if wantlist {
        return Ok(MjValue::from(values));
    }
    if values.len() == 1 {
        return Ok(values.into_iter().next().unwrap_or_default());
    }
    if values.iter().all(|v| v.kind() == ValueKind::String) {
        let parts: Vec<String> = values
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect();
        return Ok(MjValue::from(parts.join(",")));
    }
    Ok(MjValue::from(values))
}

/// `query(name, terms...)`: always a list.
fn query(
    state: &minijinja::State,
    name: String,
    terms: minijinja::value::Rest<MjValue>,
    k: Kwargs,
) -> Result<MjValue, Error> {
    let values = lookup_values(state, &name, &terms, &k)?.unwrap_or_default();
    k.assert_all_used()?;
    Ok(MjValue::from(values))
}

/// A lookup's values, with its `errors=` option: `strict` (the default) fails, `warn`
/// and `ignore` turn a failure of the lookup into None, as Ansible's `_invoke_lookup`
/// does (an undefined variable still fails).
fn lookup_values(
    state: &minijinja::State,
    name: &str,
    terms: &[MjValue],
    k: &Kwargs,
) -> Result<Option<Vec<MjValue>>, Error> {
    let errors: Option<String> = k.get("errors")?;
    let mode = errors.as_deref().unwrap_or("strict");
    if !["strict", "warn", "ignore"].contains(&mode) {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "Invalid setting for 'errors' ('strict', 'warn' or 'ignore')",
        ));
    }
    match super::lookups::values(state, name, terms, k) {
        Ok(v) => Ok(Some(v)),
        // (`warn` also prints a warning in Ansible; templates have no warning channel.)
        Err(e) if mode != "strict" && e.kind() != ErrorKind::UndefinedError => Ok(None),
        Err(e) => Err(e),
    }
}

/// Ansible's `bool`: strings and ints by name, anything else by equality with 1.
fn to_bool(v: MjValue) -> Result<bool, Error> {
    let key = match v.kind() {
        ValueKind::Bool => return Ok(v.is_true()),
        ValueKind::String => v.as_str().unwrap_or_default().to_lowercase(),
        ValueKind::Number if v.is_integer() => v.to_string(),
        ValueKind::Number => return Ok(f64::try_from(v.clone()).unwrap_or(0.0) == 1.0),
        ValueKind::Undefined => return Err(Error::from(ErrorKind::UndefinedError)),
        _ => return Ok(false),
    };
    Ok(matches!(key.as_str(), "yes" | "on" | "true" | "1"))
}

fn json_filter(v: &MjValue, style: &JsonStyle) -> Result<String, Error> {
    dumps(&ours(v)?, style).map_err(err)
}

fn to_json(v: MjValue, k: Kwargs) -> Result<String, Error> {
    let mut style = JsonStyle::compact();
    if let Some(indent) = k.get::<Option<usize>>("indent")? {
        style.indent = Some(indent);
        style.item_sep = ",".into();
    }
    if let Some(s) = k.get::<Option<bool>>("sort_keys")? {
        style.sort_keys = s;
    }
    if let Some(a) = k.get::<Option<bool>>("ensure_ascii")? {
        style.ensure_ascii = a;
    }
    k.assert_all_used()?;
    json_filter(&v, &style)
}

fn to_nice_json(v: MjValue, k: Kwargs) -> Result<String, Error> {
    let mut style = JsonStyle::pretty(k.get::<Option<usize>>("indent")?.unwrap_or(4));
    if let Some(s) = k.get::<Option<bool>>("sort_keys")? {
        style.sort_keys = s;
    }
    if let Some(a) = k.get::<Option<bool>>("ensure_ascii")? {
        style.ensure_ascii = a;
    }
    json_filter(&v, &style)
}

fn from_json(s: String) -> Result<MjValue, Error> {
    let parsed: serde_json::Value =
        serde_json::from_str(&s).map_err(|e| err(format!("from_json: {e}")))?;
    Ok(to_mj(&json_to_value(&parsed)))
}

pub(crate) fn json_to_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map_or_else(|| Value::Float(n.as_f64().unwrap_or(f64::NAN)), Value::Int),
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(a) => Value::List(a.iter().map(json_to_value).collect()),
        serde_json::Value::Object(o) => Value::Map(
            o.iter()
                .map(|(k, v)| (k.clone(), json_to_value(v)))
                .collect(),
        ),
    }
}

/// Ansible's `merge_hash`: dicts merge only when `recursive`, lists by `list_merge`
/// at every level it reaches.
pub(crate) fn merge_hash(a: &mut Map, b: &Map, recursive: bool, list_merge: &str) {
    for (k, v) in b {
        match (a.get_mut(k), v) {
            (Some(Value::Map(am)), Value::Map(bm)) if recursive => {
                merge_hash(am, bm, recursive, list_merge);
            }
            (Some(Value::List(al)), Value::List(bl)) if list_merge != "replace" => {
                let merged = match list_merge {
                    "keep" => al.clone(),
                    "append" => al.iter().chain(bl).cloned().collect(),
                    "prepend" => bl.iter().chain(al.iter()).cloned().collect(),
                    "append_rp" => al
                        .iter()
                        .filter(|x| !bl.contains(x))
                        .chain(bl)
                        .cloned()
                        .collect(),
                    "prepend_rp" => bl
                        .iter()
                        .cloned()
                        .chain(al.iter().filter(|x| !bl.contains(x)).cloned())
                        .collect(),
                    _ => bl.clone(),
                };
                *al = merged;
            }
            _ => {
                a.insert(k.clone(), v.clone());
            }
        }
    }
}

fn combine(
    first: MjValue,
    rest: minijinja::value::Rest<MjValue>,
    k: Kwargs,
) -> Result<MjValue, Error> {
    let recursive: bool = k.get::<Option<bool>>("recursive")?.unwrap_or(false);
    let list_merge: String = k
        .get::<Option<String>>("list_merge")?
        .unwrap_or_else(|| "replace".into());
    if k.assert_all_used().is_err() {
        return Err(err(
            "'recursive' and 'list_merge' are the only valid keyword arguments",
        ));
    }
    // Ansible's flatten(terms, levels=1): lists opened one level, None dropped.
    let mut dicts = Vec::new();
    for term in std::iter::once(first).chain(rest.iter().cloned()) {
        match ours(&term)? {
            Value::List(items) => dicts.extend(items.into_iter().filter(|v| *v != Value::Null)),
            Value::Null => {}
            other => dicts.push(other),
        }
    }
    if dicts.len() <= 1 {
        return Ok(to_mj(&dicts.pop().unwrap_or(Value::Map(Map::default()))));
    }
    let mut out = Map::default();
    let mut prev = "dict";
    for d in dicts {
        let Value::Map(m) = d else {
            return Err(err(format!(
                "failed to combine variables, expected dicts but got a '{prev}' and a '{}'.",
                d.type_name()
            )));
        };
        merge_hash(&mut out, &m, recursive, &list_merge);
        prev = "dict";
    }
    Ok(to_mj(&Value::Map(out)))
}

fn dict2items(v: MjValue, k: Kwargs) -> Result<MjValue, Error> {
    let key_name: String = k
        .get::<Option<String>>("key_name")?
        .unwrap_or_else(|| "key".into());
    let value_name: String = k
        .get::<Option<String>>("value_name")?
        .unwrap_or_else(|| "value".into());
    let Value::Map(m) = ours(&v)? else {
        return Err(err(format!(
            "dict2items requires a dictionary, got {} instead.",
            ours(&v)?.type_name()
        )));
    };
    let items = m
        .into_iter()
        .map(|(key, value)| {
            let mut item = Map::default();
            item.insert(key_name.clone(), Value::Str(key));
            item.insert(value_name.clone(), value);
            Value::Map(item)
        })
        .collect();
    Ok(to_mj(&Value::List(items)))
}

fn items2dict(v: MjValue, k: Kwargs) -> Result<MjValue, Error> {
    let key_name: String = k
        .get::<Option<String>>("key_name")?
        .unwrap_or_else(|| "key".into());
    let value_name: String = k
        .get::<Option<String>>("value_name")?
        .unwrap_or_else(|| "value".into());
    let Value::List(items) = ours(&v)? else {
        return Err(err("items2dict requires a list"));
    };
    let mut out = Map::default();
    for item in items {
        let m = item
            .as_map()
            .ok_or_else(|| err("items2dict requires a list of dictionaries"))?;
        let (Some(key), Some(value)) = (m.get(&key_name), m.get(&value_name)) else {
            return Err(err(format!(
                "items2dict requires each dictionary in the list to contain the keys '{key_name}' and '{value_name}'"
            )));
        };
        out.insert(key.py_str(), value.clone());
    }
    Ok(to_mj(&Value::Map(out)))
}

/// Python `re` syntax to the regex crate's, for the common subset.
fn py_regex(pattern: &str, ignorecase: bool, multiline: bool) -> Result<regex::Regex, Error> {
    let mut b = regex::RegexBuilder::new(pattern);
    b.case_insensitive(ignorecase).multi_line(multiline);
    b.build()
        .map_err(|e| err(format!("invalid regular expression {pattern:?}: {e}")))
}

/// Python replacement strings (`\1`, `\g<name>`) to the regex crate's (`${1}`).
pub(crate) fn py_replacement(rep: &str) -> String {
    let mut out = String::new();
    let mut chars = rep.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    let mut n = String::new();
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        n.push(d);
                        chars.next();
                    }
                    out.push_str(&format!("${{{n}}}"));
                }
                Some('g') => {
                    chars.next();
                    if chars.peek() == Some(&'<') {
                        chars.next();
                        let name: String = chars.by_ref().take_while(|c| *c != '>').collect();
                        out.push_str(&format!("${{{name}}}"));
                    } else {
                        out.push_str("\\g");
                    }
                }
                Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('t') => {
                    chars.next();
                    out.push('\t');
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

fn regex_replace(
    v: MjValue,
    pattern: Option<String>,
    replacement: Option<String>,
    k: Kwargs,
) -> Result<String, Error> {
    let value = if v.is_none() {
        String::new()
    } else {
        py_str(&v)?
    };
    let ignorecase = k.get::<Option<bool>>("ignorecase")?.unwrap_or(false);
    let multiline = k.get::<Option<bool>>("multiline")?.unwrap_or(false);
    let count = k.get::<Option<usize>>("count")?.unwrap_or(0);
    let mandatory = k.get::<Option<usize>>("mandatory_count")?.unwrap_or(0);
    k.assert_all_used()?;
    let pattern = pattern.unwrap_or_default();
    let re = py_regex(&pattern, ignorecase, multiline)?;
    let rep = py_replacement(&replacement.unwrap_or_default());
    if mandatory > 0 {
        let found = re.find_iter(&value).count();
        let subs = if count > 0 { found.min(count) } else { found };
        if subs != mandatory {
            // Ansible's message gives `count` where it means the matches.
            return Err(err(format!(
                "'{pattern}' should match {mandatory} times, but matches {count} times in '{value}'"
            )));
        }
    }
    Ok(re.replacen(&value, count, rep.as_str()).into_owned())
}

fn regex_search(
    v: MjValue,
    pattern: String,
    groups: minijinja::value::Rest<String>,
    k: Kwargs,
) -> Result<MjValue, Error> {
    let value = py_str(&v)?;
    // Group arguments as Ansible reads them (a prefix match): `\\g<name>` or `\\N`.
    enum Group {
        Name(String),
        Index(usize),
    }
    let mut wanted = Vec::new();
    for g in groups.iter() {
        if let Some(rest) = g.strip_prefix("\\g") {
            let name = rest
                .strip_prefix('<')
                .and_then(|r| r.split_once('>'))
                .map(|(n, _)| n)
                .filter(|n| !n.is_empty() && !n.contains(char::is_whitespace))
                .ok_or_else(|| err(format!("regex_search: bad group argument {g:?}")))?;
            wanted.push(Group::Name(name.to_string()));
        } else if let Some(rest) = g.strip_prefix('\\') {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let n = digits
                .parse::<usize>()
                .map_err(|_| err(format!("regex_search: bad group argument {g:?}")))?;
            wanted.push(Group::Index(n));
        } else {
            return Err(err("Unknown argument"));
        }
    }
    let re = py_regex(
        &pattern,
        k.get::<Option<bool>>("ignorecase")?.unwrap_or(false),
        k.get::<Option<bool>>("multiline")?.unwrap_or(false),
    )?;
    let Some(c) = re.captures(&value) else {
        return Ok(MjValue::from(()));
    };
    if wanted.is_empty() {
        return Ok(MjValue::from(c.get(0).map_or("", |m| m.as_str())));
    }
    let mut out = Vec::new();
    for g in &wanted {
        let m = match g {
            Group::Name(name) => c.name(name),
            Group::Index(n) => c.get(*n),
        };
        out.push(m.map_or(MjValue::from(()), |m| MjValue::from(m.as_str())));
    }
    Ok(MjValue::from(out))
}

fn regex_findall(v: MjValue, pattern: String, k: Kwargs) -> Result<MjValue, Error> {
    let value = py_str(&v)?;
    let re = py_regex(
        &pattern,
        k.get::<Option<bool>>("ignorecase")?.unwrap_or(false),
        k.get::<Option<bool>>("multiline")?.unwrap_or(false),
    )?;
    let groups = re.captures_len() - 1;
    let out: Vec<MjValue> = re
        .captures_iter(&value)
        .map(|c| match groups {
            0 => MjValue::from(c.get(0).map_or("", |m| m.as_str())),
            1 => MjValue::from(c.get(1).map_or("", |m| m.as_str())),
            _ => MjValue::from(
                (1..=groups)
                    .map(|i| MjValue::from(c.get(i).map_or("", |m| m.as_str())))
                    .collect::<Vec<_>>(),
            ),
        })
        .collect();
    Ok(MjValue::from(out))
}

/// Python's `re.escape`: escapes every special character.
fn python_re_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "()[]{}?*+-|^$\\.&~# \t\n\r\u{b}\u{c}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Python's `shlex.quote`.
pub(super) fn shell_quote(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

fn hash(s: &str, alg: &str) -> Result<String, Error> {
    use sha2::Digest;
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    Ok(match alg {
        "sha1" => hex(&sha1::Sha1::digest(s.as_bytes())),
        "md5" => hex(&md5::Md5::digest(s.as_bytes())),
        "sha256" => hex(&sha2::Sha256::digest(s.as_bytes())),
        "sha512" => hex(&sha2::Sha512::digest(s.as_bytes())),
        other => return Err(err(format!("unsupported hash type {other}"))),
    })
}

fn flatten(v: MjValue, levels: Option<i64>, k: Kwargs) -> Result<MjValue, Error> {
    let skip_nulls = k.get::<Option<bool>>("skip_nulls")?.unwrap_or(true);
    let levels = levels.or(k.get::<Option<i64>>("levels")?);
    fn go(items: &[Value], levels: Option<i64>, skip_nulls: bool, out: &mut Vec<Value>) {
        for item in items {
            if skip_nulls
                && (matches!(item, Value::Null) || matches!(item.as_str(), Some("None" | "null")))
            {
                continue;
            }
            match item {
                Value::List(inner) if levels.is_none_or(|l| l >= 1) => {
                    go(inner, levels.map(|l| l - 1), skip_nulls, out);
                }
                other => out.push(other.clone()),
            }
        }
    }
    let Some(items) = iterated(ours(&v)?) else {
        return Err(err("flatten expects a list"));
    };
    let mut out = Vec::new();
    go(&items, levels, skip_nulls, &mut out);
    Ok(to_mj(&Value::List(out)))
}

fn set_op(a: &MjValue, b: &MjValue, op: &str) -> Result<MjValue, Error> {
    let (Some(a), Some(b)) = (iterated(ours(a)?), iterated(ours(b)?)) else {
        return Err(err(format!("{op} expects lists")));
    };
    let mut out: Vec<Value> = Vec::new();
    let mut push = |v: &Value| {
        if !out.contains(v) {
            out.push(v.clone());
        }
    };
    match op {
        "union" => a.iter().chain(&b).for_each(&mut push),
        "intersect" => a.iter().filter(|x| b.contains(x)).for_each(&mut push),
        "difference" => a.iter().filter(|x| !b.contains(x)).for_each(&mut push),
        _ => a
            .iter()
            .filter(|x| !b.contains(x))
            .chain(b.iter().filter(|x| !a.contains(x)))
            .for_each(&mut push),
    }
    Ok(to_mj(&Value::List(out)))
}

/// Ansible's `comment` filter, its parameters and their defaults as core.py has them.
fn comment(text: &str, style: &str, k: &Kwargs) -> Result<String, Error> {
    let (beginning, decoration, end) = match style {
        "plain" => ("", "# ", ""),
        "erlang" => ("", "% ", ""),
        "c" => ("", "// ", ""),
        "cblock" => ("/*", " * ", " */"),
        "xml" => ("<!--", " - ", "-->"),
        other => {
            return Err(err(format!(
                "Invalid style {}.",
                Value::str(other).py_repr()
            )));
        }
    };
    let text_kw = |name: &str, default: &str| -> Result<String, Error> {
        Ok(match k.get::<Option<MjValue>>(name)? {
            Some(v) => py_str(&v)?,
            None => default.to_string(),
        })
    };
    let count_kw = |name: &str| -> Result<usize, Error> {
        Ok(match k.get::<Option<MjValue>>(name)? {
            Some(v) => py_str(&v)?
                .trim()
                .parse()
                .map_err(|_| err(format!("{name} must be an int")))?,
            None => 1,
        })
    };
    let decoration = text_kw("decoration", decoration)?;
    let newline = text_kw("newline", "\n")?;
    let beginning = text_kw("beginning", beginning)?;
    let prefix = text_kw("prefix", decoration.trim_end())?;
    let postfix = text_kw("postfix", decoration.trim_end())?;
    let end = text_kw("end", end)?;
    let (prefix_count, postfix_count) = (count_kw("prefix_count")?, count_kw("postfix_count")?);
    k.assert_all_used()?;
    let mut out = String::new();
    if !beginning.is_empty() {
        out.push_str(&beginning);
        out.push_str(&newline);
    }
    if !prefix.is_empty() {
        let one = if prefix == newline {
            newline.clone()
        } else {
            format!("{prefix}{newline}")
        };
        out.push_str(&one.repeat(prefix_count));
    }
    let body = format!(
        "{decoration}{}",
        text.replace(&newline, &format!("{newline}{decoration}"))
    )
    .replace(
        &format!("{decoration}{newline}"),
        &format!("{}{newline}", decoration.trim_end()),
    );
    out.push_str(&body);
    for _ in 0..postfix_count {
        out.push_str(&newline);
        out.push_str(&postfix);
    }
    if !end.is_empty() {
        out.push_str(&newline);
        out.push_str(&end);
    }
    Ok(out)
}

fn urlsplit(url: &str, part: Option<&str>) -> Result<MjValue, Error> {
    let (scheme, rest) = url.split_once("://").map_or(("", url), |(s, r)| (s, r));
    let (netloc, path_q) = rest
        .find('/')
        .map_or((rest, ""), |i| (&rest[..i], &rest[i..]));
    let (path_q, fragment) = path_q.split_once('#').unwrap_or((path_q, ""));
    let (path, query) = path_q.split_once('?').unwrap_or((path_q, ""));
    let (userinfo, hostport) = netloc
        .rsplit_once('@')
        .map_or(("", netloc), |(u, h)| (u, h));
    let (hostname, port) = hostport
        .rsplit_once(':')
        .map_or((hostport, ""), |(h, p)| (h, p));
    let (username, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let mut m = Map::default();
    m.insert("fragment".into(), Value::str(fragment));
    m.insert("hostname".into(), Value::str(hostname.to_lowercase()));
    m.insert("netloc".into(), Value::str(netloc));
    m.insert(
        "password".into(),
        if password.is_empty() {
            Value::Null
        } else {
            Value::str(password)
        },
    );
    m.insert("path".into(), Value::str(path));
    m.insert(
        "port".into(),
        port.parse::<i64>().map_or(Value::Null, Value::Int),
    );
    m.insert("query".into(), Value::str(query));
    m.insert("scheme".into(), Value::str(scheme));
    m.insert(
        "username".into(),
        if username.is_empty() {
            Value::Null
        } else {
            Value::str(username)
        },
    );
    match part {
        None => Ok(to_mj(&Value::Map(m))),
        Some(p) => m
            .get(p)
            .map(to_mj)
            .ok_or_else(|| err(format!("unknown URL component: {p}"))),
    }
}

/// The `yaml.dump` keywords `to_yaml` and `to_nice_yaml` accept.
fn yaml_options(
    k: &Kwargs,
    mut o: crate::yaml::emit::DumpOptions,
) -> Result<crate::yaml::emit::DumpOptions, Error> {
    if let Some(i) = k.get::<Option<usize>>("indent")? {
        o.indent = i;
    }
    if let Some(w) = k.get::<Option<i64>>("width")? {
        o.width = w;
    }
    if let Some(f) = k.get::<Option<MjValue>>("default_flow_style")? {
        o.flow = if f.is_none() { None } else { Some(f.is_true()) };
    }
    if let Some(s) = k.get::<Option<bool>>("sort_keys")? {
        o.sort_keys = s;
    }
    if let Some(s) = k.get::<Option<bool>>("explicit_start")? {
        o.explicit_start = s;
    }
    if let Some(s) = k.get::<Option<bool>>("explicit_end")? {
        o.explicit_end = s;
    }
    // Always on in Ansible's filters; accepted, changes nothing.
    let _ = k.get::<Option<MjValue>>("allow_unicode");
    k.assert_all_used()?;
    Ok(o)
}

/// Jinja's `escape` of a string: `& < > " '` as entities.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What iterating a value gives in Python: a list's items, a string's characters, a
/// dict's keys; None for what cannot be iterated.
fn iterated(v: Value) -> Option<Vec<Value>> {
    match v {
        Value::List(items) => Some(items),
        Value::Str(s) | Value::Unsafe(s) => Some(s.chars().map(|c| Value::Str(c.into())).collect()),
        Value::Map(m) => Some(m.into_keys().map(Value::Str).collect()),
        _ => None,
    }
}

/// Python's `float(value)` for a filter's input: numbers, bools, numeric strings.
fn float_of(v: &MjValue) -> Result<f64, Error> {
    match ours(v)? {
        Value::Bool(b) => Ok(f64::from(u8::from(b))),
        Value::Int(i) => Ok(i as f64),
        Value::BigInt(i) => Ok(i as f64),
        Value::Float(f) => Ok(f),
        Value::Str(s) | Value::Unsafe(s) => {
            py_float(&s).ok_or_else(|| err(format!("could not convert string to float: {s:?}")))
        }
        other => Err(err(format!(
            "float() argument must be a string or a real number, not '{}'",
            other.type_name()
        ))),
    }
}

/// A math filter's number (Python's int, float or bool), or its TypeError as Ansible
/// words it: `log() can only be used on numbers`.
fn number(v: &MjValue, filter: &str) -> Result<f64, Error> {
    match ours(v)? {
        Value::Bool(b) => Ok(f64::from(u8::from(b))),
        Value::Int(i) => Ok(i as f64),
        Value::BigInt(i) => Ok(i as f64),
        Value::Float(f) => Ok(f),
        _ => Err(err(format!("{filter}() can only be used on numbers"))),
    }
}

/// Ansible's `unique`: Jinja's (case-insensitive unless `case_sensitive`, optionally by
/// `attribute`), falling back to Ansible's equality-based one when an item cannot be
/// hashed (a list or a mapping) and neither option was given.
fn unique(v: MjValue, k: Kwargs) -> Result<MjValue, Error> {
    let case_sensitive: Option<bool> = k.get("case_sensitive")?;
    let attribute: Option<String> = k.get("attribute")?;
    k.assert_all_used()?;
    let items: Vec<Value> = match ours(&v)? {
        Value::List(l) => l,
        Value::Map(m) => m.keys().map(|k| Value::str(k.clone())).collect(),
        Value::Str(s) => s.chars().map(|c| Value::str(c.to_string())).collect(),
        other => {
            return Err(err(format!(
                "'{}' object is not iterable",
                other.type_name()
            )));
        }
    };
    let key = |x: &Value| -> Option<Value> {
        let mut x = x.clone();
        if let Some(attr) = &attribute {
            for part in attr.split('.') {
                x = match &x {
                    Value::Map(m) => m.get(part).cloned().unwrap_or(Value::Null),
                    Value::List(l) => part
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| l.get(i).cloned())
                        .unwrap_or(Value::Null),
                    _ => Value::Null,
                };
            }
        }
        match x {
            Value::List(_) | Value::Map(_) => None,
            Value::Str(s) if case_sensitive != Some(true) => Some(Value::str(s.to_lowercase())),
            other => Some(other),
        }
    };
    let keys: Option<Vec<Value>> = items.iter().map(key).collect();
    let mut out: Vec<Value> = Vec::new();
    match keys {
        Some(keys) => {
            let mut seen: Vec<&Value> = Vec::new();
            for (item, key) in items.iter().zip(&keys) {
                if !seen.contains(&key) {
                    seen.push(key);
                    out.push(item.clone());
                }
            }
        }
        None if case_sensitive == Some(false) || attribute.is_some() => {
            return Err(err(
                "Jinja2's unique filter failed and we cannot fall back to Ansible's version as it does not support the parameters supplied.",
            ));
        }
        None => {
            for item in items {
                if !out.contains(&item) {
                    out.push(item);
                }
            }
        }
    }
    Ok(to_mj(&Value::List(out)))
}

/// `rekey_on_member`: a dict of the dicts in `data` (a list, or a dict's values) keyed by
/// each one's `key`; a repeated key is an error unless `duplicates='overwrite'`.
fn rekey_on_member(data: MjValue, key: MjValue, k: Kwargs) -> Result<MjValue, Error> {
    let duplicates: Option<String> = k.get("duplicates")?;
    k.assert_all_used()?;
    let duplicates = duplicates.unwrap_or_else(|| "error".into());
    if duplicates != "error" && duplicates != "overwrite" {
        return Err(err(format!(
            "duplicates parameter to rekey_on_member has unknown value {}",
            Value::str(duplicates).py_repr()
        )));
    }
    let items: Vec<Value> = match ours(&data)? {
        Value::Map(m) => m.into_values().collect(),
        Value::List(l) => l,
        _ => return Err(err("Type is not a valid list, set, or dict")),
    };
    let key = ours(&key)?;
    let name = key.py_str();
    let mut out = Map::default();
    for item in items {
        let Value::Map(m) = &item else {
            return Err(err("List item is not a valid dict"));
        };
        let Some(elem) = m.get(&name) else {
            return Err(err(format!("Key {} was not found.", key.py_repr())));
        };
        let slot = elem.py_str();
        if out.contains_key(&slot) && duplicates == "error" {
            return Err(err(format!(
                "Key {} is not unique, cannot convert to dict.",
                elem.py_repr()
            )));
        }
        out.insert(slot, item);
    }
    Ok(to_mj(&Value::Map(out)))
}

/// Python's `strftime`: chrono's, with `%f` as Python's six-digit microseconds; an
/// unknown directive is an error, never a panic.
fn py_strftime<Tz: chrono::TimeZone>(t: &chrono::DateTime<Tz>, fmt: &str) -> Result<String, Error>
where
    Tz::Offset: std::fmt::Display,
{
    use std::fmt::Write as _;
    let mut spec = String::with_capacity(fmt.len());
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        spec.push(c);
        if c == '%' {
            match chars.next() {
                Some('f') => spec.push_str("6f"),
                Some(d) => spec.push(d),
                None => {}
            }
        }
    }
    let mut out = String::new();
    write!(out, "{}", t.format(&spec))
        .map_err(|_| err(format!("strftime: invalid format string {fmt:?}")))?;
    Ok(out)
}
