//! Ansible's `mathstuff.py` filters (set operations, `unique`, `rekey_on_member`,
//! permutations, logarithms, human-readable sizes) and `random`/`shuffle`.

use super::data::iterated;
use super::{err, ours};
use crate::template::convert::{py_str, to_mj};
use crate::value::{Map, Value};
use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Environment, Error, Value as MjValue};

/// The math filters.
pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("unique", unique);
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
    env.add_filter(
        "product",
        |a: MjValue, rest: minijinja::value::Rest<MjValue>| -> Result<MjValue, Error> {
            let mut lists: Vec<Vec<MjValue>> = vec![a.try_iter()?.collect()];
            for r in rest.iter() {
                lists.push(r.try_iter()?.collect());
            }
            Ok(MjValue::from(
                crate::template::lookups::product(&lists)
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
