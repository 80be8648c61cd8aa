//! The global functions: `lookup`, `query`/`q`, the `with_<lookup>` loops, `undef`,
//! `now`, `dict`, and Jinja's `joiner` and `cycler`.

use super::err;
use super::text::py_strftime;
use crate::template::convert::{py_str, to_mj};
use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Environment, Error, ErrorKind, Value as MjValue};

/// The global functions.
pub(super) fn register(env: &mut Environment<'static>) {
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
            let _ = state.lookup(&format!("{}{hint}", crate::template::scope::UNDEF_HINT));
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
                (None, true) => to_mj(&crate::template::file_vars::local_datetime(now)),
                (None, false) => to_mj(&crate::template::file_vars::local_datetime(
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
            Ok(MjValue::from(crate::template::lookups::values(
                state, &name, &terms, &k,
            )?))
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
    match crate::template::lookups::values(state, name, terms, k) {
        Ok(v) => Ok(Some(v)),
        // (`warn` also prints a warning in Ansible; templates have no warning channel.)
        Err(e) if mode != "strict" && e.kind() != ErrorKind::UndefinedError => Ok(None),
        Err(e) => Err(e),
    }
}
