//! Ansible's `groupby` (Jinja's, returning `(grouper, list)` tuples): items sorted and
//! grouped by an attribute; each group is a tuple that prints as Python prints one and
//! has the attributes `grouper` and `list`.

use super::convert::py_repr;
use minijinja::value::{Kwargs, Object, ObjectRepr};
use minijinja::{Error, ErrorKind, State, Value as MjValue};
use std::sync::Arc;

/// One group: Jinja's `_GroupTuple(grouper, list)`.
#[derive(Debug)]
pub(crate) struct GroupTuple {
    grouper: MjValue,
    list: MjValue,
}

impl GroupTuple {
    /// Python's `str()` (and `repr()`) of the tuple.
    pub(crate) fn py_text(&self) -> Result<String, Error> {
        Ok(format!(
            "({}, {})",
            py_repr(&self.grouper)?,
            py_repr(&self.list)?
        ))
    }
}

impl Object for GroupTuple {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        match (key.as_str(), key.as_i64()) {
            (Some("grouper"), _) | (_, Some(0 | -2)) => Some(self.grouper.clone()),
            (Some("list"), _) | (_, Some(1 | -1)) => Some(self.list.clone()),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Seq(2)
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result
    where
        Self: Sized + 'static,
    {
        f.write_str(&self.py_text().map_err(|_| std::fmt::Error)?)
    }
}

/// `attribute` of `item`: dotted names and integer indexes, as Jinja's attrgetter.
fn attr(item: &MjValue, attribute: &MjValue) -> Result<MjValue, Error> {
    if let Some(i) = attribute.as_i64() {
        return item.get_item(&MjValue::from(i));
    }
    let path = attribute.as_str().unwrap_or_default();
    let mut v = item.clone();
    for part in path.split('.') {
        v = match part.parse::<i64>() {
            Ok(i) => v.get_item(&MjValue::from(i))?,
            Err(_) => v.get_attr(part)?,
        };
    }
    Ok(v)
}

fn sort_key(v: &MjValue, case_sensitive: bool) -> MjValue {
    match v.as_str() {
        Some(s) if !case_sensitive => MjValue::from(s.to_lowercase()),
        _ => v.clone(),
    }
}

pub(super) fn groupby(
    _state: &State,
    value: MjValue,
    attribute: MjValue,
    kwargs: Kwargs,
) -> Result<MjValue, Error> {
    let default: Option<MjValue> = kwargs.get("default")?;
    let case_sensitive = kwargs
        .get::<Option<bool>>("case_sensitive")?
        .unwrap_or(false);
    kwargs.assert_all_used()?;
    let mut keyed = Vec::new();
    for item in value.try_iter()? {
        let mut k = attr(&item, &attribute)?;
        if k.is_undefined() {
            match &default {
                Some(d) => k = d.clone(),
                None => {
                    return Err(Error::new(
                        ErrorKind::UndefinedError,
                        format!("object has no element {attribute}"),
                    ));
                }
            }
        }
        keyed.push((sort_key(&k, case_sensitive), k, item));
    }
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<MjValue> = Vec::new();
    let mut i = 0;
    while i < keyed.len() {
        let mut j = i;
        let mut items = Vec::new();
        while j < keyed.len() && keyed[j].0 == keyed[i].0 {
            items.push(keyed[j].2.clone());
            j += 1;
        }
        out.push(MjValue::from_object(GroupTuple {
            grouper: keyed[i].1.clone(),
            list: MjValue::from(items),
        }));
        i = j;
    }
    Ok(MjValue::from(out))
}
