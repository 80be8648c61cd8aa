//! Ansible's filters (`plugins/filter/core.py`, `mathstuff.py`, `urls.py`) where their
//! meaning differs from minijinja's built-ins or minijinja lacks them. The core ones
//! (`default`, `ternary`, `mandatory`, `bool`, `string`...) are here, the others in a
//! module per family.

mod data;
mod functions;
mod math;
mod numbers;
mod paths;
mod regex;
mod text;
mod urls;

use super::convert::{from_mj, py_str, to_mj};
use crate::value::Value;
use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Environment, Error, ErrorKind, Value as MjValue};

pub(crate) use self::regex::py_replacement;
pub(crate) use data::{json_to_value, merge_hash};
pub(crate) use text::encode_text;

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

fn ours(v: &MjValue) -> Result<Value, Error> {
    from_mj(v)
}

/// `string % value`: Python's printf-style formatting.
fn string_rem(lhs: &MjValue, rhs: &MjValue) -> Result<MjValue, Error> {
    let fmt = lhs.as_str().unwrap_or_default();
    crate::python::printf::percent(fmt, &ours(rhs)?)
        .map(MjValue::from)
        .map_err(err)
}

/// `format`: Jinja's `soft_str(value) % (kwargs or args)`.
fn format(v: MjValue, args: minijinja::value::Rest<MjValue>, k: Kwargs) -> Result<String, Error> {
    use crate::python::printf::{Args, format};
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
    env.add_filter("d", default);
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
    // Ansible's test-only `ansible._protomatter.finalize`: values are always final here.
    env.add_filter(
        "ansible._protomatter.finalize",
        |v: MjValue| -> Result<MjValue, Error> { Ok(to_mj(&ours(&v)?)) },
    );
    env.add_filter("type_debug", |v: MjValue| -> Result<String, Error> {
        if v.is_tuple() {
            return Ok("tuple".into());
        }
        Ok(ours(&v)?.type_name().to_string())
    });
    text::register(env);
    numbers::register(env);
    math::register(env);
    data::register(env);
    regex::register(env);
    paths::register(env);
    urls::register(env);
    functions::register(env);
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
