//! Conversions between our `Value` and minijinja's, and Python's `str()` of a value for
//! template output (`True`, `None`, `[1, 'a']`), which Ansible's Jinja prints.

use crate::value::{Map, Timestamp, Value, float_repr};
use minijinja::value::ValueKind;
use minijinja::value::{Object, ObjectRepr};
use minijinja::{Error, ErrorKind, Value as MjValue};
use std::sync::Arc;

pub(crate) fn to_mj(v: &Value) -> MjValue {
    match v {
        Value::Null => MjValue::from(()),
        Value::Bool(b) => MjValue::from(*b),
        Value::Int(i) => MjValue::from(*i),
        Value::BigInt(i) => MjValue::from(*i),
        Value::Float(f) => MjValue::from(*f),
        Value::Str(s) | Value::Unsafe(s) => MjValue::from(s.as_str()),
        Value::Time(t) => MjValue::from_object(PyTime((**t).clone())),
        // A vaulted string is a "safe" string in templates: Ansible renders with no
        // autoescaping, so the mark changes nothing but lets `vault_encrypted` see it.
        Value::Vault(v) => match &v.plain {
            Ok(p) => MjValue::from_safe_string(p.clone()),
            Err(e) => MjValue::from_object(Undecryptable {
                ciphertext: v.ciphertext.clone(),
                error: e.clone(),
            }),
        },
        Value::List(items) => MjValue::from(items.iter().map(to_mj).collect::<Vec<_>>()),
        Value::Map(m) => mj_map(m.iter().map(|(k, v)| (k.clone(), to_mj(v)))),
    }
}

/// An ordered map value.
pub(crate) fn mj_map(entries: impl IntoIterator<Item = (String, MjValue)>) -> MjValue {
    let map: indexmap::IndexMap<MjValue, MjValue> = entries
        .into_iter()
        .map(|(k, v)| (MjValue::from(k), v))
        .collect();
    MjValue::from_object(map)
}

const MAX_DEPTH: usize = 500;

/// Converts back to our model; undefined values are errors (Ansible 2.19 is strict).
pub(crate) fn from_mj(v: &MjValue) -> Result<Value, Error> {
    from_mj_depth(v, 0, false)
}

/// `from_mj`, leaving out the undefined elements of lists and maps (what Ansible's
/// first_found does with its terms under `with_`).
pub(crate) fn from_mj_omitting_undefined(v: &MjValue) -> Result<Value, Error> {
    from_mj_depth(v, 0, true)
}

fn from_mj_depth(v: &MjValue, depth: usize, omit: bool) -> Result<Value, Error> {
    if depth > MAX_DEPTH {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "value nested too deeply",
        ));
    }
    Ok(match v.kind() {
        ValueKind::Undefined => return Err(Error::from(ErrorKind::UndefinedError)),
        ValueKind::None => Value::Null,
        ValueKind::Bool => Value::Bool(v.is_true()),
        ValueKind::Number => {
            if v.is_integer() {
                match (v.as_i64(), i128::try_from(v.clone())) {
                    (Some(i), _) => Value::Int(i),
                    (None, Ok(i)) => Value::BigInt(i),
                    _ => Value::Float(f64::try_from(v.clone()).unwrap_or(f64::NAN)),
                }
            } else {
                Value::Float(f64::try_from(v.clone()).unwrap_or(f64::NAN))
            }
        }
        ValueKind::String => {
            let s = v.as_str().unwrap_or_default().to_string();
            match v
                .is_safe()
                .then(|| crate::vault::ciphertext_of(&s))
                .flatten()
            {
                Some(ciphertext) => Value::Vault(Box::new(crate::value::Vaulted {
                    ciphertext,
                    plain: Ok(s),
                })),
                None => Value::Str(s),
            }
        }
        ValueKind::Bytes => {
            Value::Str(String::from_utf8_lossy(v.as_bytes().unwrap_or_default()).into_owned())
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let mut items = Vec::new();
            for item in v.try_iter()? {
                if omit && item.is_undefined() {
                    continue;
                }
                items.push(from_mj_depth(&item, depth + 1, omit)?);
            }
            Value::List(items)
        }
        ValueKind::Map => {
            let mut map = Map::default();
            for key in v.try_iter()? {
                let item = v.get_item(&key)?;
                if omit && item.is_undefined() {
                    continue;
                }
                let k = match key.as_str() {
                    Some(s) => s.to_string(),
                    None => py_str(&key)?,
                };
                map.insert(k, from_mj_depth(&item, depth + 1, omit)?);
            }
            Value::Map(map)
        }
        ValueKind::Invalid => {
            // Surfaces the error the invalid value carries.
            v.try_iter()?;
            return Err(Error::new(ErrorKind::InvalidOperation, "invalid value"));
        }
        _ => match v.downcast_object_ref::<PyTime>() {
            Some(t) => Value::Time(Box::new(t.0.clone())),
            None if let Some(u) = v.downcast_object_ref::<Undecryptable>() => {
                return Err(u.error());
            }
            None => Value::Str(v.to_string()),
        },
    })
}

/// Python's `str()` of a template value.
pub(crate) fn py_str(v: &MjValue) -> Result<String, Error> {
    Ok(match v.kind() {
        ValueKind::String => v.as_str().unwrap_or_default().to_string(),
        // Only the silent undefined of an `if` without `else` gets here (strict ones
        // fail before any filter runs): Jinja prints it empty.
        ValueKind::Undefined => String::new(),
        ValueKind::None => "None".into(),
        ValueKind::Bool => if v.is_true() { "True" } else { "False" }.into(),
        ValueKind::Number if !v.is_integer() => {
            float_repr(f64::try_from(v.clone()).unwrap_or(f64::NAN))
        }
        ValueKind::Number => v.to_string(),
        // Ansible's finalizing turns tuples into lists: `{{ (1, 2) }}` prints `[1, 2]`.
        _ => from_mj(v)?.py_str(),
    })
}

/// Python's `repr()` of a template value, tuples as tuples (what `string` and `~` give).
pub(crate) fn py_repr(v: &MjValue) -> Result<String, Error> {
    if let Some(t) = v.downcast_object_ref::<super::groupby::GroupTuple>() {
        return t.py_text();
    }
    if v.is_tuple() {
        let items = v
            .try_iter()?
            .map(|i| py_repr(&i))
            .collect::<Result<Vec<_>, _>>()?;
        let one = if items.len() == 1 { "," } else { "" };
        return Ok(format!("({}{one})", items.join(", ")));
    }
    if v.kind() == ValueKind::String {
        return Ok(crate::value::str_repr(v.as_str().unwrap_or_default()));
    }
    Ok(from_mj(v)?.py_repr())
}

/// A `!vault` value no secret of this run opens: any use of it is an error, as with
/// Ansible's `VaultExceptionMarker`.
#[derive(Debug)]
pub(crate) struct Undecryptable {
    pub(crate) ciphertext: String,
    error: String,
}

impl Undecryptable {
    pub(crate) fn error(&self) -> Error {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("Attempt to use undecryptable variable: {}", self.error),
        )
    }
}

impl Object for Undecryptable {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn render(self: &Arc<Self>, _f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result
    where
        Self: Sized + 'static,
    {
        Err(std::fmt::Error)
    }
}

/// A YAML timestamp in templates: prints as Python's `str()`, has `datetime`'s
/// attributes (`year`, `hour`...) and the methods `isoformat()` and `strftime(fmt)`.
#[derive(Debug)]
pub(super) struct PyTime(pub Timestamp);

impl Object for PyTime {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        self.0.attribute(key.as_str()?).map(MjValue::from)
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result
    where
        Self: Sized + 'static,
    {
        f.write_str(&self.0.py_str())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut minijinja::State<'_, '_>,
        method: &str,
        args: &[MjValue],
    ) -> Result<MjValue, Error> {
        match (method, args) {
            ("isoformat", []) => Ok(MjValue::from(self.0.isoformat())),
            ("strftime", [fmt]) => {
                let fmt = fmt.as_str().ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidOperation,
                        "strftime() argument must be str",
                    )
                })?;
                let t = self
                    .0
                    .to_chrono()
                    .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "date out of range"))?;
                let mut out = String::new();
                std::fmt::Write::write_fmt(&mut out, format_args!("{}", t.format(fmt))).map_err(
                    |_| Error::new(ErrorKind::InvalidOperation, "invalid strftime format"),
                )?;
                Ok(MjValue::from(out))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!(
                    "'{}' object has no attribute '{method}'",
                    self.0.type_name()
                ),
            )),
        }
    }
}
