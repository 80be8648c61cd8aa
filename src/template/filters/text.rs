//! Ansible's and Jinja's text filters: escaping, wrapping, quoting, base64 and the
//! encodings, hashes, uuids, `comment`, `truncate`, `center`, dates and times.

use super::numbers::py_float;
use super::{err, ours};
use crate::template::convert::{py_str, to_mj};
use crate::value::Value;
use base64::Engine as _;
use minijinja::value::Kwargs;
use minijinja::{Environment, Error, Value as MjValue};

/// The text filters.
pub(super) fn register(env: &mut Environment<'static>) {
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
    env.add_filter("quote", |s: MjValue| -> Result<String, Error> {
        let s = if s.is_none() {
            String::new()
        } else {
            py_str(&s)?
        };
        Ok(crate::python::shlex::quote(&s))
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
            Ok(to_mj(&crate::template::file_vars::local_datetime(
                t.and_utc(),
            )))
        },
    );
}

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

/// Python's `strftime`: chrono's, with `%f` as Python's six-digit microseconds; an
/// unknown directive is an error, never a panic.
pub(super) fn py_strftime<Tz: chrono::TimeZone>(
    t: &chrono::DateTime<Tz>,
    fmt: &str,
) -> Result<String, Error>
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
