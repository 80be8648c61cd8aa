//! `urlsplit` (Ansible's `urlsplit.py`) and Jinja's `urlencode`.

use super::err;
use crate::template::convert::{py_str, to_mj};
use crate::value::{Map, Value};
use minijinja::value::ValueKind;
use minijinja::{Environment, Error, Value as MjValue};

/// The URL filters.
pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter(
        "urlsplit",
        |v: String, part: Option<String>| -> Result<MjValue, Error> {
            urlsplit(&v, part.as_deref())
        },
    );
    env.add_filter("urlencode", urlencode);
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
